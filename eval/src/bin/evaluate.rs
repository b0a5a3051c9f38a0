//! `evaluate`: backtests policies on a period and prints their ledgers side by side.
//!
//! ```text
//! cargo run --release --bin evaluate -- [--data FILE] [--period 2024-01-01..2025-01-01]
//!     [--policies always-on,threshold,expert] [--site configs/site.toml]
//!     [--expert configs/expert.toml] [--seed 7] [--json OUT]
//! ```
//! With no `--data` it runs on the embedded synthetic year (2024, seed 7).

use powermix_agent::rules::{ExpertParams, rule_policy};
use powermix_env::data::{load_market_data, synth};
use powermix_env::time::{format_utc, parse_period};
use powermix_env::{Market, SiteConfig};
use powermix_eval::{backtest, format_table};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: evaluate [--data FILE] [--period START..END] [--policies a,b,...]
                [--site FILE] [--expert FILE] [--seed N] [--json OUT]
  --data      market data parquet (default: the embedded synthetic year 2024)
  --period    US/Central dates, end exclusive (default: all of the data)
  --policies  comma-separated: always-on, threshold, expert (default: all)
  --site      site config TOML (default: the embedded configs/site.toml)
  --expert    expert rule parameters TOML (default: the embedded configs/expert.toml)
  --seed      seed of reserve deployment draws (default 7)
  --json      also write the scores as JSON to this file";

struct Args {
    data: Option<PathBuf>,
    period: Option<String>,
    policies: Vec<String>,
    site: Option<PathBuf>,
    expert: Option<PathBuf>,
    seed: u64,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: None,
        period: None,
        policies: vec!["always-on".into(), "threshold".into(), "expert".into()],
        site: None,
        expert: None,
        seed: 7,
        json: None,
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
            "--period" => a.period = Some(value()?),
            "--policies" => {
                a.policies = value()?.split(',').map(|s| s.trim().to_string()).collect()
            }
            "--site" => a.site = Some(value()?.into()),
            "--expert" => a.expert = Some(value()?.into()),
            "--seed" => {
                let v = value()?;
                a.seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v}: not a whole number"))?;
            }
            "--json" => a.json = Some(value()?.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cfg = match &args.site {
        Some(p) => SiteConfig::load(p).map_err(|e| e.to_string())?,
        None => SiteConfig::default_site(),
    };
    let expert = match &args.expert {
        Some(p) => ExpertParams::load(p).map_err(|e| e.to_string())?,
        None => ExpertParams::default_params(),
    };
    let data = match &args.data {
        Some(p) => {
            let (d, report) = load_market_data(p, &cfg.data_fill).map_err(|e| e.to_string())?;
            eprintln!(
                "{}: {} intervals; {}",
                p.display(),
                d.len(),
                report.summary()
            );
            d
        }
        None => synth::synthetic_year(2024, 7),
    };
    let market = Arc::new(Market::new(data, cfg.clone()));
    let (start, end) = match &args.period {
        Some(p) => {
            let (s, e) = parse_period(p)?;
            let (i, j) = (market.data.index_at(s), market.data.index_at(e));
            let first = market.data.interval_start_ms[0];
            let last = *market.data.interval_start_ms.last().unwrap_or(&first);
            if s < first || e > last + powermix_env::time::INTERVAL_MS || i >= j {
                return Err(format!(
                    "period {p} is outside the data, which covers {} to {}",
                    format_utc(first),
                    format_utc(last + powermix_env::time::INTERVAL_MS)
                ));
            }
            (i, j)
        }
        None => (0, market.len()),
    };
    let mut scores = Vec::new();
    for name in &args.policies {
        let mut policy = rule_policy(name, &cfg, &expert).ok_or_else(|| {
            format!("unknown policy `{name}`; known: always-on, threshold, expert")
        })?;
        scores.push(
            backtest(&market, start, end, policy.as_mut(), args.seed).map_err(|e| e.to_string())?,
        );
    }
    println!(
        "{} {} to {} ({} intervals), ledger in $ thousands",
        market.data.settlement_point,
        format_utc(market.data.interval_start_ms[start]),
        format_utc(market.data.interval_start_ms[end - 1] + powermix_env::time::INTERVAL_MS),
        end - start
    );
    print!("{}", format_table(&scores));
    if let Some(path) = &args.json {
        let v = serde_json::json!({
            "period": args.period.clone().unwrap_or_else(|| "all".into()),
            "settlement_point": market.data.settlement_point,
            "results": scores,
        });
        let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
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
