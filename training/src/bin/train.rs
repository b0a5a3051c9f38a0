//! `train`: PPO training of the dispatch policy (the loop is `run::train`), then the new
//! policy against the rules on the validation period. `train --help` lists every flag.
//!
//! With no `--data` it trains on the embedded synthetic years 2022-2023 and validates on
//! the synthetic 2024. Exit codes: 0 ok, 2 bad input or a failed run.

use anyhow::{Context, Result};
use clap::Parser;
use powermix_agent::checkpoint::{DataInfo, TrainData, ValData, hash_file};
use powermix_data::synth;
use powermix_env::time::{INTERVAL_MS, covering_period};
use powermix_eval::cli::{MarketArgs, Period, PolicyName};
use powermix_eval::harness::{EvalRequest, evaluate, format_evaluation};
use powermix_training::config::TrainConfig;
use powermix_training::ppo::TrainSource;
use powermix_training::run::{self, RunSpec};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// PPO training of the dispatch policy: best and last checkpoints, metrics.csv, and a
/// closing table of the new policy against the rules and the day-ahead MPC on the
/// validation period. With no --data: embedded synthetic years 2022-2024 (train 2022-2023,
/// validate 2024).
#[derive(Parser, Debug)]
#[command(name = "train", version)]
struct Cli {
    #[command(flatten)]
    market: MarketArgs,
    /// Training period, US/Central dates START..END, end exclusive [default: with --data
    /// 2021-01-01..2024-01-01, synthetic 2022-01-01..2024-01-01]
    #[arg(long, value_name = "A..B")]
    train_period: Option<Period>,
    /// Validation period on --data (best/ is the checkpoint with the best profit on it)
    /// [default: 2024-01-01..2025-01-01]
    #[arg(long, value_name = "C..D", conflicts_with = "val_data")]
    val_period: Option<Period>,
    /// Validate on FILE (over A..B or the whole file) instead of --data; repeatable:
    /// best/ is the update with the highest profit summed over the files, which are run
    /// side by side. The closing table is printed for each
    #[arg(long, value_name = "FILE[:A..B]")]
    val_data: Vec<AlsoTrain>,
    /// More training data: FILE (parquet, same schema), trained on over A..B or, without
    /// it, the whole file; repeatable. Envs are shared out in turn: with one extra file,
    /// half the rollouts run on --data and half on FILE. Validation is not on FILE
    #[arg(long, value_name = "FILE[:A..B]")]
    also_train: Vec<AlsoTrain>,
    /// Run seed (network, envs, sampling, deployment draws of validation)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Total env steps, `_` allowed (6_000_000) [default: total_steps of the config]
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    steps: Option<u64>,
    /// Run folder: best/, last/, metrics.csv
    #[arg(long, value_name = "DIR", default_value = "runs/latest")]
    out: PathBuf,
    /// Continue the run saved in DIR/last (or in the checkpoint DIR)
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Hyperparameters TOML [default: the embedded configs/train.toml]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The rules the residual corrects: an expert parameters file like configs/expert.toml
    /// (written to meta.json's base_policy) [default: the config's expert table, else the
    /// embedded configs/expert.toml]. The closing table's expert row stays the embedded one
    #[arg(long, value_name = "FILE")]
    expert: Option<PathBuf>,
}

/// `--also-train FILE[:A..B]` or `--val-data FILE[:A..B]`: a data file and, optionally,
/// its period.
#[derive(Debug, Clone)]
struct AlsoTrain {
    file: PathBuf,
    period: Option<Period>,
}

impl std::str::FromStr for AlsoTrain {
    type Err = String;

    fn from_str(text: &str) -> Result<AlsoTrain, String> {
        // A period after the last ':' if one parses there; otherwise the whole text is the
        // file (a path may hold ':' itself).
        if let Some((file, period)) = text.rsplit_once(':')
            && period.contains("..")
        {
            let period = period.parse::<Period>().map_err(|e| e.to_string())?;
            return Ok(AlsoTrain {
                file: file.into(),
                period: Some(period),
            });
        }
        Ok(AlsoTrain {
            file: text.into(),
            period: None,
        })
    }
}

/// A whole number of steps, `_` separators allowed.
fn parse_steps(text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut cfg = match &cli.config {
        Some(p) => TrainConfig::load(p)?,
        None => TrainConfig::default_config(),
    };
    if let Some(s) = cli.steps {
        cfg.total_steps = s;
        cfg.validate().context("--steps")?;
    }
    if let Some(p) = &cli.expert {
        cfg.expert = Some(powermix_agent::ExpertParams::load(p)?);
        cfg.validate().context("--expert")?;
    }
    let loaded = cli
        .market
        .load(synth::embedded_years)
        .context("loading the market")?;
    let (file, hash, default_train) = match &cli.market.data {
        Some(p) => {
            if let Some(fill) = &loaded.fill {
                eprintln!(
                    "{}: {} intervals; {}",
                    p.display(),
                    loaded.market.len(),
                    fill.summary()
                );
            }
            (
                p.display().to_string(),
                hash_file(p)?,
                "2021-01-01..2024-01-01",
            )
        }
        None => (
            synth::EMBEDDED_SOURCE.to_string(),
            "synthetic".to_string(),
            "2022-01-01..2024-01-01",
        ),
    };
    let train_period = match cli.train_period {
        Some(p) => p,
        None => default_train.parse()?,
    };
    let market = Arc::new(loaded.market);
    let mut also_train = Vec::new();
    let mut also_info = Vec::new();
    for extra in &cli.also_train {
        let (source, file, hash, period) = load_extra(&cli.market, extra, "--also-train")?;
        also_info.push(TrainData {
            file,
            hash,
            train_period: period,
        });
        also_train.push(source);
    }
    let val_period = match &cli.val_period {
        Some(p) => p.clone(),
        None => "2024-01-01..2025-01-01".parse()?,
    };
    let mut val = Vec::new();
    let mut val_info = Vec::new();
    for extra in &cli.val_data {
        let (source, file, hash, period) = load_extra(&cli.market, extra, "--val-data")?;
        val_info.push(ValData {
            file,
            hash,
            val_period: period,
        });
        val.push(source);
    }
    if val.is_empty() {
        let (start, end) = val_period.window(&market).context("--val-period")?;
        val.push(TrainSource {
            market: market.clone(),
            start,
            end,
        });
    }
    let spec = RunSpec {
        train: train_period.window(&market).context("--train-period")?,
        val,
        data: DataInfo {
            file,
            hash,
            train_period: train_period.text.clone(),
            val_period: if val_info.is_empty() {
                val_period.text.clone()
            } else {
                String::new()
            },
            also_train: also_info,
            val_data: val_info,
        },
        also_train,
        seed: cli.seed,
        out: cli.out.clone(),
        market: market.clone(),
    };
    println!(
        "hyperparameters ({}):",
        cli.config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or("configs/train.toml".into())
    );
    println!("{}", toml::to_string(&cfg).unwrap_or_default());
    let val_text = if spec.data.val_data.is_empty() {
        val_period.to_string()
    } else {
        (spec.data.val_data.iter())
            .map(|v| format!("{}:{}", v.file, v.val_period))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    println!(
        "data {} train {} val {} seed {} out {}",
        spec.data.file,
        train_period,
        val_text,
        cli.seed,
        spec.out.display()
    );

    let summary = run::train(&cfg, &spec, cli.resume.as_deref(), true)?;
    println!(
        "trained {} env steps in {:.0} s; best checkpoint {}",
        summary.env_steps,
        summary.seconds,
        summary.best.display()
    );

    // Closing table: the new policy against the rules and the day-ahead MPC on the validation
    // period.
    let policies: Vec<String> = [
        PolicyName::AlwaysOn,
        PolicyName::Threshold,
        PolicyName::Expert,
        PolicyName::DayAheadMpc,
        PolicyName::PpoBase,
        PolicyName::Ppo,
        PolicyName::Oracle,
    ]
    .iter()
    .map(|p| p.as_str().to_string())
    .collect();
    let expert = powermix_agent::ExpertParams::default_params();
    for (i, w) in spec.val.iter().enumerate() {
        let (label, period) = match spec.data.val_data.get(i) {
            Some(v) => (format!("{} ", v.file), v.val_period.clone()),
            None => (String::new(), val_period.text.clone()),
        };
        let ev = evaluate(EvalRequest {
            market: &w.market,
            start: w.start,
            end: w.end,
            policies: &policies,
            expert: &expert,
            seed: cli.seed,
            period: &period,
            by_week: false,
            checkpoint: Some(&summary.best),
            forecasts: None,
        })?;
        println!("validation {label}{period} (money in $ thousands):");
        print!("{}", format_evaluation(&ev));
    }
    Ok(())
}

/// Loads `--also-train` or `--val-data` FILE[:A..B] (named `flag` in errors) with the
/// same loader as `--data` (and `--site`'s fill rules): its window, file name, hash and
/// period text.
fn load_extra(
    market: &MarketArgs,
    extra: &AlsoTrain,
    flag: &str,
) -> Result<(TrainSource, String, String, String)> {
    let context = || format!("{flag} {}", extra.file.display());
    let extra_args = MarketArgs {
        data: Some(extra.file.clone()),
        site: market.site.clone(),
    };
    // The file is given, so the embedded years are never generated.
    let loaded = extra_args
        .load(synth::embedded_years)
        .with_context(context)?;
    let m = Arc::new(loaded.market);
    if m.is_empty() {
        anyhow::bail!(
            "{flag} {}: the file holds no intervals",
            extra.file.display()
        );
    }
    if let Some(fill) = &loaded.fill {
        eprintln!(
            "{}: {} intervals; {}",
            extra.file.display(),
            m.len(),
            fill.summary()
        );
    }
    let (start, end, text) = match &extra.period {
        Some(p) => {
            let (s, e) = p.window(&m).with_context(context)?;
            (s, e, p.text.clone())
        }
        None => {
            let end = m.interval_start_ms(m.len() - 1) + INTERVAL_MS;
            let text = covering_period(m.interval_start_ms(0), end);
            (0, m.len(), text)
        }
    };
    Ok((
        TrainSource {
            market: m,
            start,
            end,
        },
        extra.file.display().to_string(),
        hash_file(&extra.file)?,
        text,
    ))
}
