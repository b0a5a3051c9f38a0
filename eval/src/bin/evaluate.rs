//! `evaluate`: scores policies on a period against always-on and the perfect-foresight
//! oracle, overall and per regime of weeks.
//!
//! ```text
//! cargo run --release --bin evaluate -- [--data FILE] [--period 2024-01-01..2025-01-01]
//!     [--policies always-on,threshold,expert,day-ahead-mpc,oracle] [--site configs/site.toml]
//!     [--expert configs/expert.toml] [--seed 7] [--json OUT] [--report DIR] [--no-weeks]
//!     [--checkpoint DIR] [--decisions OUT.jsonl]
//! ```
//! With no `--data` it runs on the embedded synthetic year (2024, seed 7). Exit codes: 0 ok,
//! 2 bad input, 3 a policy beat the oracle (a bug).

use powermix_agent::rules::ExpertParams;
use powermix_env::data::{load_market_data, synth};
use powermix_env::time::{format_utc, parse_period};
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::{EvalRequest, KNOWN_POLICIES, evaluate, format_evaluation};
use powermix_eval::report::write_report;
use powermix_serve::request::request_from_market;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: evaluate [--data FILE] [--period START..END] [--policies a,b,...]
                [--site FILE] [--expert FILE] [--seed N] [--json OUT] [--report DIR]
                [--no-weeks] [--checkpoint DIR] [--decisions OUT.jsonl]
  --data      market data parquet (default: the embedded synthetic year 2024)
  --period    US/Central dates, end exclusive (default: all of the data)
  --policies  comma-separated, from: always-on, threshold, expert, day-ahead-mpc, oracle, ppo
              (default: all of them; ppo only with --checkpoint)
  --checkpoint DIR  a trained policy (a checkpoint folder, or a run folder with best/):
              adds the policy `ppo` to the default list
  --site      site config TOML (default: the embedded configs/site.toml)
  --expert    expert rule parameters TOML (default: the embedded configs/expert.toml)
  --seed      seed of reserve deployment draws (default 7)
  --json      also write the results as one JSON object to this file
  --report    also write report.md and PNG charts into this folder
  --no-weeks  skip the per-week regime scores (faster)
  --decisions write every decision of the period as JSONL: {\"policy\", \"request\" (the body an
              operator would POST for that interval), \"dispatch\" (what the backtest settled)};
              replay the requests through `serve --stdin` to check live equals backtest";

struct Args {
    data: Option<PathBuf>,
    period: Option<String>,
    policies: Vec<String>,
    site: Option<PathBuf>,
    expert: Option<PathBuf>,
    seed: u64,
    json: Option<PathBuf>,
    report: Option<PathBuf>,
    weeks: bool,
    checkpoint: Option<PathBuf>,
    decisions: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: None,
        period: None,
        policies: KNOWN_POLICIES
            .iter()
            .filter(|p| **p != "ppo")
            .map(|s| s.to_string())
            .collect(),
        site: None,
        expert: None,
        seed: 7,
        json: None,
        report: None,
        weeks: true,
        checkpoint: None,
        decisions: None,
    };
    let mut policies_given = false;
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
                a.policies = value()?.split(',').map(|s| s.trim().to_string()).collect();
                policies_given = true;
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
            "--report" => a.report = Some(value()?.into()),
            "--no-weeks" => a.weeks = false,
            "--checkpoint" => a.checkpoint = Some(value()?.into()),
            "--decisions" => a.decisions = Some(value()?.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    // With a checkpoint and no explicit list, the trained policy joins the default list.
    if a.checkpoint.is_some() && !policies_given {
        let at = a.policies.len() - 1;
        a.policies.insert(at, "ppo".into());
    }
    Ok(a)
}

fn run() -> Result<bool, String> {
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
            let (i, j) = (market.index_at(s), market.index_at(e));
            let first = market.interval_start_ms(0);
            let last = if market.is_empty() {
                first
            } else {
                market.interval_start_ms(market.len() - 1)
            };
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
    let label = args.period.clone().unwrap_or_else(|| "all".into());
    let ev = evaluate(EvalRequest {
        market: &market,
        start,
        end,
        policies: &args.policies,
        expert: &expert,
        seed: args.seed,
        period: &label,
        by_week: args.weeks,
        checkpoint: args.checkpoint.as_deref(),
    })
    .map_err(|e| e.to_string())?;
    println!(
        "{} {} to {} ({} intervals), money in $ thousands",
        market.settlement_point(),
        format_utc(market.interval_start_ms(start)),
        format_utc(market.interval_start_ms(end - 1) + powermix_env::time::INTERVAL_MS),
        end - start
    );
    print!("{}", format_evaluation(&ev));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&ev).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.decisions {
        write_decisions(path, &market, &ev)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = &args.report {
        let files = write_report(dir, &market, &ev).map_err(|e| e.to_string())?;
        eprintln!("wrote {} in {}", files.join(", "), dir.display());
    }
    if !ev.oracle_breaches.is_empty() {
        eprintln!("BUG: a policy beat the perfect-foresight oracle:");
        for b in &ev.oracle_breaches {
            eprintln!("  {b}");
        }
        return Ok(false);
    }
    Ok(true)
}

/// One JSON line per policy and interval: the request an operator's system would send for
/// it (assembled at the decision's information cutoff) and the dispatch the backtest settled.
fn write_decisions(
    path: &std::path::Path,
    market: &Market,
    ev: &powermix_eval::harness::Evaluation,
) -> Result<(), String> {
    use std::io::Write;
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
    for r in &ev.results {
        let tr = &r.score.trace;
        for (k, (state, dispatch)) in tr.states.iter().zip(&tr.dispatch).enumerate() {
            let request = request_from_market(market, tr.start + k, state);
            let line =
                serde_json::json!({"policy": r.policy, "request": request, "dispatch": dispatch});
            serde_json::to_writer(&mut out, &line).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(err)?;
        }
    }
    out.flush().map_err(err)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
