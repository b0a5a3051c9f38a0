//! powermix-eval: backtests every policy through the same [`Env`], so that every dollar is
//! counted by the same settlement code, and scores them side by side.

#![warn(missing_docs)]

pub mod attribution;
pub mod cli;
pub mod harness;
pub mod panel;
pub mod report;

use powermix_agent::{LoadedPolicy, Policy};
use powermix_env::SiteConfig;
use powermix_env::env::{Env, EnvError, Window};
use powermix_env::market::is_da_gate_local;
use powermix_env::{DayAheadOffer, Dispatch, Ledger, Market, SiteState};
use powermix_plan::mpc;
use serde::Serialize;
use std::sync::Arc;

/// An evaluation problem (unknown policy, period outside the data, LP failure), said
/// plainly.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl From<powermix_plan::PlanError> for EvalError {
    fn from(e: powermix_plan::PlanError) -> EvalError {
        EvalError(e.0)
    }
}

/// The result of one policy over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Policy name.
    pub policy: String,
    /// Total profit ($).
    pub profit_usd: f64,
    /// Each ledger line summed over the period ($).
    pub ledger: Ledger,
    /// Energy the site drew (MWh).
    pub energy_mwh: f64,
    /// Profit per MWh drawn ($/MWh).
    pub profit_per_mwh: f64,
    /// AI energy served (inference + training) over AI capacity, 0 to 1.
    pub ai_uptime: f64,
    /// Site load in the 4CP intervals, peak-weighted (MW summed over the peaks).
    pub four_cp_load_mw: f64,
    /// Intervals settled.
    pub intervals: usize,
    /// What happened in each interval (for charts), not serialised.
    #[serde(skip)]
    pub trace: Trace,
}

/// Per-interval record of a backtest, one entry per settled interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// Index of the first interval in the market data.
    pub start: usize,
    /// Profit of each interval ($).
    pub profit: Vec<f64>,
    /// AI inference load (MW).
    pub inference_mw: Vec<f32>,
    /// AI training load (MW).
    pub training_mw: Vec<f32>,
    /// Miner load per tranche after deployments (MW).
    pub tranche_mw: Vec<[f32; 3]>,
    /// Reserve awards in force, all products (MW).
    pub awarded_mw: Vec<f32>,
    /// Site load after deployments (MW).
    pub site_load_mw: Vec<f32>,
    /// The site's state each decision was taken in (what a live request carries).
    pub states: Vec<SiteState>,
    /// The projected dispatch of each interval, exactly as settled.
    pub dispatch: Vec<Dispatch>,
    /// The day-ahead offer made at each gate, as the env took it (the policy's hour-by-hour
    /// offer, else the flat offer of its action's values), by position in the trace.
    pub offers: Vec<(usize, DayAheadOffer)>,
}

/// Runs `policy` over intervals `[start, end)` of `market`, deployments seeded by `seed`.
pub fn backtest(
    market: &Arc<Market>,
    start: usize,
    end: usize,
    policy: &mut dyn Policy,
    seed: u64,
) -> Result<Score, EnvError> {
    let mut env = Env::new(market.clone(), Window::Whole { start, end }, seed)?;
    let mut obs = vec![0.0; powermix_env::OBS_DIM];
    env.reset_into(Some(seed), &mut obs);
    let cfg = &market.cfg;
    let ai_cap = cfg.ai.inference_mw + cfg.ai.training_mw;
    let mut ledger = Ledger::default();
    let (mut energy, mut ai, mut cp) = (0.0, 0.0, 0.0);
    let mut trace = Trace {
        start,
        ..Trace::default()
    };
    let four_cp_weight = market.hindsight().four_cp_weight;
    loop {
        trace.states.push(*env.state());
        let snap = market.snapshot(env.index(), env.state());
        let (action, offer) = powermix_agent::decide(policy, &snap);
        if is_da_gate_local(&snap.local) {
            let taken = DayAheadOffer::taken(offer.as_ref(), &action, cfg).into_owned();
            trace.offers.push((trace.profit.len(), taken));
        }
        let (reward, info, terminated, truncated) =
            env.step_with_offer(&action, offer.as_ref(), &mut obs);
        let s = &info.settlement;
        ledger.add(&s.ledger);
        energy += s.site_load_mw * powermix_env::time::INTERVAL_HOURS;
        ai += info.dispatch.inference_mw + info.dispatch.training_mw;
        cp += s.site_load_mw * four_cp_weight[info.index];
        trace.profit.push(reward);
        trace.inference_mw.push(info.dispatch.inference_mw as f32);
        trace.training_mw.push(info.dispatch.training_mw as f32);
        trace.tranche_mw.push(s.tranche_mw.map(|x| x as f32));
        trace.awarded_mw.push(info.dispatch.awarded_mw() as f32);
        trace.site_load_mw.push(s.site_load_mw as f32);
        trace.dispatch.push(info.dispatch);
        if terminated || truncated {
            break;
        }
    }
    let n = trace.profit.len();
    let profit = ledger.total();
    Ok(Score {
        policy: policy.name().to_string(),
        profit_usd: profit,
        ledger,
        energy_mwh: energy,
        profit_per_mwh: if energy > 0.0 { profit / energy } else { 0.0 },
        ai_uptime: if ai_cap > 0.0 {
            ai / (ai_cap * n as f64)
        } else {
            1.0
        },
        four_cp_load_mw: cp,
        intervals: n,
        trace,
    })
}

/// A table of scores, one row per policy, ledger lines as columns (in $ thousands).
pub fn format_table(scores: &[Score]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let w = policy_column_width(scores.iter().map(|s| s.policy.as_str()));
    let _ = write!(out, "{:<w$} {:>12}", "policy", "profit_k$");
    for name in powermix_env::LEDGER_LINES {
        let _ = write!(out, " {:>10}", abbreviate(name));
    }
    let _ = writeln!(out, " {:>8} {:>7} {:>8}", "$/MWh", "ai_up", "4cp_MW");
    for s in scores {
        let _ = write!(out, "{:<w$} {:>12.1}", s.policy, s.profit_usd / 1e3);
        for (_, v) in s.ledger.named() {
            // Solver dust (a few cents) prints as 0.0, not -0.0.
            let k = if (v / 1e3).abs() < 0.05 { 0.0 } else { v / 1e3 };
            let _ = write!(out, " {k:>10.1}");
        }
        let _ = writeln!(
            out,
            " {:>8.2} {:>7.3} {:>8.1}",
            s.profit_per_mwh, s.ai_uptime, s.four_cp_load_mw
        );
    }
    out
}

/// Width of a table's policy column: its longest name, at least 12 (so `day-ahead-mpc` and
/// `mpc-perfect-forecast` do not push their rows out of line).
pub fn policy_column_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max(12)
}

fn abbreviate(line: &str) -> &str {
    match line {
        "training_restart_loss" => "restart",
        "inference_penalty" => "inf_pen",
        "reserve_revenue" => "res_rev",
        "reserve_shortfall" => "res_short",
        "four_cp_charge" => "four_cp",
        "mining_revenue" => "mining",
        "power_credits" => "credits",
        "ai_revenue" => "ai_rev",
        "energy_cost" => "energy",
        other => other,
    }
}

/// The policy a loaded checkpoint stands for, on site `cfg`: the checkpoint itself, or for a
/// residual of a planner ([`LoadedPolicy::planner`]) the planner with the network's
/// correction ([`mpc::MpcResidual`]), or for a checkpoint with a day-ahead head the network
/// with the head it names, the MPC's offer at any price or priced ([`mpc::WithHead`],
/// [`mpc::DayAheadHead::named`]). Backtests, validation and `evaluate` build trained
/// policies with this.
pub fn planned_policy(loaded: LoadedPolicy, cfg: &SiteConfig) -> Box<dyn Policy + Send> {
    match (loaded.planner(), loaded.day_ahead_head()) {
        (Some(_), _) => Box::new(mpc::MpcResidual::new(loaded, cfg)),
        (None, Some(h)) => {
            // The checkpoint's load checked the name against `HEADS`.
            let head =
                mpc::DayAheadHead::named(h, cfg).unwrap_or_else(|| mpc::DayAheadHead::new(cfg));
            Box::new(mpc::WithHead::of(
                Box::new(loaded.with_site_config(cfg)),
                head,
            ))
        }
        (None, None) => Box::new(loaded.with_site_config(cfg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(policy: &str, profit_usd: f64) -> Score {
        Score {
            policy: policy.into(),
            profit_usd,
            ledger: Ledger::default(),
            energy_mwh: 0.0,
            profit_per_mwh: 0.0,
            ai_uptime: 1.0,
            four_cp_load_mw: 0.0,
            intervals: 0,
            trace: Trace::default(),
        }
    }

    /// Long policy names widen the name column instead of shifting their row.
    #[test]
    fn table_columns_stay_aligned_with_long_policy_names() {
        let t = format_table(&[
            score("always-on", 373_402_900.0),
            score("mpc-perfect-forecast", 394_923_800.0),
        ]);
        // Where the profit column ends on each line: header, then the two rows.
        let ends: Vec<Option<usize>> = t
            .lines()
            .zip(["profit_k$", "373402.9", "394923.8"])
            .map(|(l, cell)| l.find(cell).map(|i| i + cell.len()))
            .collect();
        assert!(ends[0].is_some(), "{t}");
        assert_eq!(ends, vec![ends[0]; 3], "{t}");
    }
}
