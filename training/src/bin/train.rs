//! `train`: PPO training of the dispatch policy.
//!
//! ```text
//! cargo run --release --bin train -- [--data FILE] [--train-period A..B] [--val-period C..D]
//!     [--seed S] [--steps N] [--out DIR] [--resume DIR] [--config FILE] [--site FILE]
//! ```
//! With no `--data` it trains on the embedded synthetic years 2022-2023 and validates on the
//! synthetic 2024.

use powermix_agent::checkpoint::{DataInfo, hash_file};
use powermix_env::data::{MarketData, load_market_data, synth};
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::{EvalRequest, evaluate, format_evaluation};
use powermix_training::config::TrainConfig;
use powermix_training::run::{self, RunSpec};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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

    let summary = run::train(&cfg, &spec, args.resume.as_deref(), true).map_err(|e| e.to_string())?;
    println!(
        "trained {} env steps in {:.0} s; best checkpoint {}",
        summary.env_steps,
        summary.seconds,
        summary.best.display()
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
