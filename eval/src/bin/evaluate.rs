//! `evaluate`: scores policies on a period against always-on and the perfect-foresight
//! oracle, overall and per regime of weeks. `evaluate --help` lists every flag.
//!
//! Exit codes: 0 ok, 2 bad input (clap's message for flags, `error: ...` for files,
//! periods and policies), 3 a policy beat the oracle (a bug).

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use powermix_agent::rules::ExpertParams;
use powermix_data::synth;
use powermix_env::Market;
use powermix_env::time::{INTERVAL_MS, format_utc};
use powermix_eval::attribution::{NEEDED, attribute, format_attribution};
use powermix_eval::cli::{MarketArgs, Period, PolicyName, with_checkpoint_policy};
use powermix_eval::harness::{EvalRequest, Evaluation, evaluate, format_evaluation};
use powermix_eval::panel::{PanelFile, ScorecardRequest, format_scorecard, run_scorecard};
use powermix_eval::report::write_report;
use powermix_wire::request_from_market;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Scores policies on a period: every ledger line, value captured against always-on and the
/// perfect-foresight oracle, per regime of weeks. With no --data: the embedded synthetic
/// year 2024 (seed 7).
/// Seed of the deployment draws when neither `--seed` nor a panel file gives one.
const DEFAULT_SEED: u64 = 7;

#[derive(Parser, Debug)]
#[command(name = "evaluate", version)]
struct Cli {
    #[command(flatten)]
    market: MarketArgs,
    /// Period to score, US/Central dates START..END, end exclusive [default: all of the data]
    #[arg(long, value_name = "START..END")]
    period: Option<Period>,
    /// Policies to score, comma-separated [default: always-on,threshold,expert,day-ahead-mpc,oracle,
    /// plus ppo-base and ppo with --checkpoint]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "A,B,...")]
    policies: Option<Vec<PolicyName>>,
    /// A trained policy (a checkpoint folder, or a run folder with best/); adds the policy
    /// `ppo` to the list, given or default, beside its base `ppo-base` (the same checkpoint
    /// with its network's output at zero)
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Forecast models written by `forecast fit` (the policy forecast-mpc reads them)
    #[arg(long, value_name = "DIR")]
    forecasts: Option<PathBuf>,
    /// Expert rule parameters TOML [default: the embedded configs/expert.toml]
    #[arg(long, value_name = "FILE")]
    expert: Option<PathBuf>,
    /// Seed of the reserve deployment draws and of the simulated load forecast's errors (the
    /// oracle plans with the same draws) [default: 7; with --panel, the panel file's seed,
    /// which a given --seed replaces]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Also write the results as one JSON object to this file
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// Also write report.md and PNG charts into this folder
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Skip the per-week regime scores (faster)
    #[arg(long)]
    no_weeks: bool,
    /// Write every decision of the period as JSONL: {"policy", "request" (the body an
    /// operator would POST for that interval), "dispatch" (what the backtest settled)};
    /// replay the requests through the server's stdin mode to check live equals backtest
    #[arg(long, value_name = "OUT.jsonl")]
    decisions: Option<PathBuf>,
    /// Score a panel file instead of one period: one table with a column per (data file,
    /// period) panel, each policy's mean, mean over the panels --checkpoint never saw, and
    /// worst panel [default FILE: configs/panel.toml]
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        default_missing_value = "configs/panel.toml",
        conflicts_with_all = ["data", "period", "decisions", "report"]
    )]
    panel: Option<PathBuf>,
    /// Split each policy's gap to the oracle, per group of ledger lines (energy, 4CP,
    /// reserves, AI), into forecast error (what perfect forecasts are worth to the
    /// day-ahead MPC at its replanning schedule) and policy error (the rest); adds
    /// day-ahead-mpc, mpc-perfect-forecast and oracle to the policies
    #[arg(long)]
    attribution: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The policies to score: the given or default list, plus `ppo` when a checkpoint is given
/// (never ignored); `ppo` without a checkpoint is a usage error (exit 2).
fn policies(cli: &Cli) -> Vec<String> {
    let listed = cli
        .policies
        .clone()
        .unwrap_or_else(|| PolicyName::DEFAULT.to_vec());
    let (list, added) = with_checkpoint_policy(listed, cli.checkpoint.is_some());
    if added && cli.policies.is_some() {
        eprintln!("note: --checkpoint adds the policy ppo to --policies, beside its base ppo-base");
    }
    if let Some(p) = list
        .iter()
        .find(|p| matches!(p, PolicyName::Ppo | PolicyName::PpoBase))
        .filter(|_| cli.checkpoint.is_none())
    {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("the policy `{p}` needs --checkpoint DIR (a trained policy)"),
            )
            .exit();
    }
    list.iter().map(|p| p.as_str().to_string()).collect()
}

fn run(cli: Cli) -> Result<bool> {
    let mut policies = policies(&cli);
    let expert = match &cli.expert {
        Some(p) => ExpertParams::load(p)?,
        None => ExpertParams::default_params(),
    };
    if let Some(file) = &cli.panel {
        return run_panel(&cli, file, &policies, &expert);
    }
    if cli.attribution {
        for p in NEEDED {
            if !policies.iter().any(|q| q == p) {
                policies.push(p.to_string());
            }
        }
    }
    let loaded = cli
        .market
        .load(|| synth::synthetic_year(2024, 7))
        .context("loading the market")?;
    if let (Some(p), Some(fill)) = (&cli.market.data, &loaded.fill) {
        eprintln!(
            "{}: {} intervals; {}",
            p.display(),
            loaded.market.len(),
            fill.summary()
        );
    }
    let market = Arc::new(loaded.market);
    let (start, end) = match &cli.period {
        Some(p) => p.window(&market)?,
        None => (0, market.len()),
    };
    let label = cli
        .period
        .as_ref()
        .map_or_else(|| "all".to_string(), |p| p.text.clone());
    let ev = evaluate(EvalRequest {
        market: &market,
        start,
        end,
        policies: &policies,
        expert: &expert,
        seed: cli.seed.unwrap_or(DEFAULT_SEED),
        period: &label,
        by_week: !cli.no_weeks,
        checkpoint: cli.checkpoint.as_deref(),
        forecasts: cli.forecasts.as_deref(),
    })?;
    println!(
        "{} {} to {} ({} intervals), money in $ thousands",
        market.settlement_point(),
        format_utc(market.interval_start_ms(start)),
        format_utc(market.interval_start_ms(end - 1) + INTERVAL_MS),
        end - start
    );
    print!("{}", format_evaluation(&ev));
    if cli.attribution {
        println!();
        print!("{}", format_attribution(&attribute(&ev)?));
    }
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&ev)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &cli.decisions {
        write_decisions(path, &market, &ev)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = &cli.report {
        let files = write_report(dir, &market, &ev)
            .with_context(|| format!("writing the report into {}", dir.display()))?;
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

/// `--panel`: every panel of the file, one scorecard table (and the attributions).
fn run_panel(cli: &Cli, file: &Path, policies: &[String], expert: &ExpertParams) -> Result<bool> {
    let mut panels = PanelFile::load(file)?;
    if let Some(seed) = cli.seed {
        panels.seed = seed;
    }
    let site = cli.market.site_config()?;
    let started = std::time::Instant::now();
    let card = run_scorecard(
        ScorecardRequest {
            file: &panels,
            site: &site,
            policies,
            expert,
            checkpoint: cli.checkpoint.as_deref(),
            forecasts: cli.forecasts.as_deref(),
            attribution: cli.attribution,
        },
        |name| eprintln!("[{:>5.0} s] panel {name}", started.elapsed().as_secs_f64()),
    )?;
    println!(
        "scorecard {} ({} panels, deployment seed {})",
        file.display(),
        card.panels.len(),
        card.seed
    );
    print!("{}", format_scorecard(&card));
    for p in &card.panels {
        if let Some(a) = &p.attribution {
            println!("\n{} {}", p.panel.name, p.panel.period);
            print!("{}", format_attribution(a));
        }
    }
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&card)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let breaches: Vec<&String> = card
        .panels
        .iter()
        .flat_map(|p| &p.oracle_breaches)
        .collect();
    if !breaches.is_empty() {
        eprintln!("BUG: a policy beat the perfect-foresight oracle:");
        for b in breaches {
            eprintln!("  {b}");
        }
        return Ok(false);
    }
    Ok(true)
}

/// One JSON line per policy and interval: the request an operator's system would send for
/// it (assembled at the decision's information cutoff) and the dispatch the backtest settled.
fn write_decisions(path: &Path, market: &Market, ev: &Evaluation) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in &ev.results {
        let tr = &r.score.trace;
        let mut offers = tr.offers.iter().peekable();
        for (k, (state, dispatch)) in tr.states.iter().zip(&tr.dispatch).enumerate() {
            let request = request_from_market(market, tr.start + k, state);
            let mut line =
                serde_json::json!({"policy": r.policy, "request": request, "dispatch": dispatch});
            if let Some((_, offer)) = offers.next_if(|(at, _)| *at == k) {
                line["day_ahead_offer"] = serde_json::to_value(offer)?;
            }
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
