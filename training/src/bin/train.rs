//! `train`: PPO training of the dispatch policy.
//!
//! ```text
//! cargo run --release --bin train -- [--data FILE] [--train-period A..B] [--val-period C..D]
//!     [--seed S] [--steps N] [--out DIR] [--resume DIR] [--config FILE] [--site FILE]
//! ```
//! With no `--data` it trains on the embedded synthetic years 2022-2023 and validates on the
//! synthetic 2024.

use indicatif::{ProgressBar, ProgressStyle};
use powermix_agent::checkpoint::{DataInfo, hash_file};
use powermix_env::data::{MarketData, load_market_data, synth};
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::{EvalRequest, evaluate, format_evaluation};
use powermix_training::config::TrainConfig;
use powermix_training::ppo::Trainer;
use powermix_training::run::{self, RunSpec, TrainerState};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const USAGE: &str =
    "usage: train [--data FILE] [--train-period A..B] [--val-period C..D] [--seed S]
             [--steps N] [--out DIR] [--resume DIR] [--config FILE] [--site FILE]
  --data          market data parquet (default: embedded synthetic 2022-2024)
  --train-period  US/Central dates, end exclusive (default with --data: 2021-01-01..2024-01-01;
                  synthetic: 2022-01-01..2024-01-01)
  --val-period    (default: 2024-01-01..2025-01-01)
  --seed          run seed (default 1)
  --steps         total env steps (default: configs/train.toml)
  --out           run folder (default runs/latest): best/, last/, metrics.csv
  --resume        continue the run saved in DIR/last
  --config        hyperparameters TOML (default: the embedded configs/train.toml)
  --site          site config TOML (default: the embedded configs/site.toml)";

struct Args {
    data: Option<PathBuf>,
    train: Option<String>,
    val: String,
    seed: u64,
    steps: Option<u64>,
    out: PathBuf,
    resume: Option<PathBuf>,
    config: Option<PathBuf>,
    site: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: None,
        train: None,
        val: "2024-01-01..2025-01-01".into(),
        seed: 1,
        steps: None,
        out: "runs/latest".into(),
        resume: None,
        config: None,
        site: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => a.data = Some(value()?.into()),
            "--train-period" => a.train = Some(value()?),
            "--val-period" => a.val = value()?,
            "--seed" => {
                let v = value()?;
                a.seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v}: not a whole number"))?;
            }
            "--steps" => {
                let v = value()?.replace('_', "");
                a.steps = Some(
                    v.parse()
                        .map_err(|_| format!("--steps {v}: not a whole number"))?,
                );
            }
            "--out" => a.out = value()?.into(),
            "--resume" => a.resume = Some(value()?.into()),
            "--config" => a.config = Some(value()?.into()),
            "--site" => a.site = Some(value()?.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// The embedded synthetic data: local years 2022, 2023, 2024 back to back.
fn synthetic() -> MarketData {
    let mut d = synth::synthetic_year(2022, 11);
    for (year, seed) in [(2023, 12), (2024, 13)] {
        let y = synth::synthetic_year(year, seed);
        d.interval_start_ms.extend(y.interval_start_ms);
        d.rt_price.extend(y.rt_price);
        d.da_price.extend(y.da_price);
        d.as_rrs.extend(y.as_rrs);
        d.as_ecrs.extend(y.as_ecrs);
        d.as_nspin.extend(y.as_nspin);
        d.system_load_mw.extend(y.system_load_mw);
        d.hashprice.extend(y.hashprice);
    }
    d
}

fn window(market: &Market, period: &str) -> Result<(usize, usize), String> {
    let (s, e) = parse_period(period)?;
    let (i, j) = (market.index_at(s), market.index_at(e));
    if i >= j
        || s < market.interval_start_ms(0)
        || j > market.len()
        || e > market.interval_start_ms(market.len() - 1) + powermix_env::time::INTERVAL_MS
    {
        return Err(format!("period {period} is outside the data"));
    }
    Ok((i, j))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::load(p).map_err(|e| e.to_string())?,
        None => TrainConfig::default_config(),
    };
    if let Some(s) = args.steps {
        cfg.total_steps = s;
    }
    let site = match &args.site {
        Some(p) => SiteConfig::load(p).map_err(|e| e.to_string())?,
        None => SiteConfig::default_site(),
    };
    let (data, file, hash, default_train) = match &args.data {
        Some(p) => {
            let (d, report) = load_market_data(p, &site.data_fill).map_err(|e| e.to_string())?;
            eprintln!(
                "{}: {} intervals; {}",
                p.display(),
                d.len(),
                report.summary()
            );
            (
                d,
                p.display().to_string(),
                hash_file(p).map_err(|e| e.to_string())?,
                "2021-01-01..2024-01-01",
            )
        }
        None => (
            synthetic(),
            "embedded:synthetic-2022-2024-seeds-11-13".to_string(),
            "synthetic".to_string(),
            "2022-01-01..2024-01-01",
        ),
    };
    let train_period = args
        .train
        .clone()
        .unwrap_or_else(|| default_train.to_string());
    let market = Arc::new(Market::new(data, site));
    let spec = RunSpec {
        train: window(&market, &train_period)?,
        val: window(&market, &args.val)?,
        data: DataInfo {
            file,
            hash,
            train_period: train_period.clone(),
            val_period: args.val.clone(),
        },
        seed: args.seed,
        out: args.out.clone(),
        market: market.clone(),
    };
    std::fs::create_dir_all(&spec.out).map_err(|e| format!("{}: {e}", spec.out.display()))?;
    println!(
        "hyperparameters ({}):",
        args.config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or("configs/train.toml".into())
    );
    println!("{}", toml::to_string(&cfg).unwrap_or_default());
    println!(
        "data {} train {} val {} seed {} out {}",
        spec.data.file,
        train_period,
        args.val,
        args.seed,
        spec.out.display()
    );

    let mut trainer = Trainer::new(
        cfg.clone(),
        market.clone(),
        spec.train.0,
        spec.train.1,
        args.seed,
    )
    .map_err(|e| e.to_string())?;
    let mut state = TrainerState {
        update: 0,
        env_steps: 0,
        scaler: trainer.scaler.clone(),
        best_val_profit: None,
        rollout: None,
    };
    if let Some(dir) = &args.resume {
        let last = if dir.join("last").exists() {
            dir.join("last")
        } else {
            dir.clone()
        };
        state = run::resume(&mut trainer, &last)?;
        println!("resumed {} at update {}", last.display(), state.update);
    }
    let refs = run::references(&spec)?;
    let updates = cfg.updates();
    let bar = ProgressBar::new(updates as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} updates {msg}")
            .map_err(|e| e.to_string())?,
    );
    bar.set_position(trainer.update as u64);
    let started = Instant::now();
    let steps_at_start = trainer.env_steps;
    let mut last_val = None;
    let metrics = spec.out.join("metrics.csv");
    while trainer.update < updates {
        let stats = trainer.step();
        let sps =
            (trainer.env_steps - steps_at_start) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let due = cfg.validate_every > 0 && trainer.update % cfg.validate_every == 0;
        let val = if due || trainer.update == updates {
            Some(run::validate(&trainer, &spec, &refs)?)
        } else {
            None
        };
        run::append_metrics(&metrics, &stats, val.as_ref(), sps)?;
        state.update = trainer.update;
        state.env_steps = trainer.env_steps;
        state.scaler = trainer.scaler.clone();
        if let Some(v) = val {
            last_val = Some(v);
            let json = serde_json::json!({"period": args.val, "profit_usd": v.profit_usd, "value_captured": v.value_captured, "always_on_usd": refs.always_on, "oracle_usd": refs.oracle, "update": trainer.update});
            if state.best_val_profit.is_none_or(|b| v.profit_usd > b) {
                state.best_val_profit = Some(v.profit_usd);
                run::save(
                    &trainer,
                    &spec,
                    &spec.out.join("best"),
                    &state,
                    json.clone(),
                )?;
            }
            run::save(&trainer, &spec, &spec.out.join("last"), &state, json)?;
        }
        bar.set_message(format!(
            "{:.0} steps/s | episode ${} | val {}",
            sps,
            stats
                .episode_profit
                .map(|p| format!("{:.0}k", p / 1e3))
                .unwrap_or("-".into()),
            last_val
                .map(|v| format!("{:.3} of oracle", v.value_captured))
                .unwrap_or("-".into())
        ));
        bar.inc(1);
    }
    bar.finish();
    println!(
        "trained {} env steps in {:.0} s; best checkpoint {}",
        trainer.env_steps,
        started.elapsed().as_secs_f64(),
        spec.out.join("best").display()
    );

    // Closing table: the new policy against the rules on the validation period.
    let policies: Vec<String> = ["always-on", "threshold", "expert", "ppo", "oracle"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expert = powermix_agent::ExpertParams::default_params();
    let best = spec.out.join("best");
    let ev = evaluate(EvalRequest {
        market: &market,
        start: spec.val.0,
        end: spec.val.1,
        policies: &policies,
        expert: &expert,
        seed: args.seed,
        period: &args.val,
        by_week: false,
        checkpoint: Some(&best),
    })
    .map_err(|e| e.to_string())?;
    println!("validation {} (money in $ thousands):", args.val);
    print!("{}", format_evaluation(&ev));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
