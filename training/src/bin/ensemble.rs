//! `ensemble`: combines trained checkpoints into one checkpoint folder that every consumer
//! (`evaluate --checkpoint`, `serve --checkpoint`, `bench policy`) loads as one policy: value
//! by value, the median of the members' actions. The format is
//! `powermix_agent::checkpoint::save_ensemble`'s. Exit codes: 0 ok, 2 bad input.

use anyhow::{Context, Result};
use clap::Parser;
use powermix_agent::checkpoint::{command_line, save_ensemble};
use powermix_eval::harness::checkpoint_dir;
use std::path::PathBuf;
use std::process::ExitCode;

/// Combines trained checkpoints into one ensemble checkpoint: it acts, value by value, as
/// the median of its members' actions. The first member's network and meta.json are the
/// folder's own (its data split marks the scorecard); the others go to members/<model_id>/.
/// Members must share the site config, the base rules and the data split.
#[derive(Parser, Debug)]
#[command(name = "ensemble", version)]
struct Cli {
    /// Member checkpoint folders, first one first (a run folder means its best/)
    #[arg(required = true, value_name = "MEMBER")]
    members: Vec<PathBuf>,
    /// The ensemble's checkpoint folder (replaced atomically if it exists)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A head (the day-ahead MPC, its offer at any price or priced) whose hour-by-hour
    /// day-ahead offer replaces the networks' flat offer at the gate (the networks still
    /// decide every action); `evaluate` and `serve` run it
    #[arg(long, value_name = "HEAD", value_parser = clap::builder::PossibleValuesParser::new(powermix_agent::policy::HEADS))]
    day_ahead_head: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let members: Vec<PathBuf> = cli.members.iter().map(|d| checkpoint_dir(d)).collect();
    let meta = save_ensemble(
        &cli.out,
        &members,
        &command_line(),
        cli.day_ahead_head.as_deref(),
    )
    .with_context(|| format!("writing the ensemble {}", cli.out.display()))?;
    let loaded = powermix_agent::load_checkpoint(&cli.out)
        .with_context(|| format!("loading the ensemble back from {}", cli.out.display()))?;
    println!(
        "{}: ensemble {} of {} members (median): {}{}{}",
        cli.out.display(),
        loaded.model_id(),
        loaded.member_count(),
        meta.model_id,
        meta.ensemble
            .iter()
            .flat_map(|e| e.members.iter())
            .map(|m| format!(", {}", m.trim_start_matches("members/")))
            .collect::<String>(),
        meta.day_ahead_head
            .as_deref()
            .map(|h| format!("; day-ahead offer by {h}"))
            .unwrap_or_default()
    );
    Ok(())
}
