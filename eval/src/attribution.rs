//! Gap attribution: where each policy's distance to the oracle comes from, per group of
//! ledger lines, so that work goes where the money is.
//!
//! For a policy p on a period, per group g of ledger lines (energy, 4CP, reserves, AI):
//! - `gap[g] = oracle[g] - p[g]`: what the oracle earns there and p does not;
//! - `forecast[g] = mpc_perfect_forecast[g] - day_ahead_mpc[g]`: what perfect prices,
//!   loads, deployments and emergencies over each plan's horizon are worth to the day-ahead
//!   MPC, with its replanning schedule unchanged ([`powermix_plan::mpc::DayAheadMpc::with_perfect_forecast`]).
//!   It is the same for every policy: the value of knowing the future at that schedule,
//!   which no causal policy can have;
//! - `policy[g] = gap[g] - forecast[g]`: the rest, what better decisions on the same
//!   information could still win. Negative where p beats what the perfect-forecast MPC
//!   loses to the oracle (p gets more of the forecastable value than the MPC).
//!
//! By construction `forecast + policy = gap` in every group, and the groups sum to the
//! policy's whole gap (tested). A group is a sum of [`Ledger`] lines; every line is in
//! exactly one group.

use crate::EvalError;
use crate::harness::Evaluation;
use powermix_env::Ledger;
use powermix_plan::mpc::PERFECT_FORECAST_NAME;
use serde::Serialize;

/// The policies an attribution needs in the evaluation besides the one attributed.
pub const NEEDED: [&str; 3] = ["day-ahead-mpc", PERFECT_FORECAST_NAME, "oracle"];

/// Groups of ledger lines, in report order.
pub const GROUPS: [&str; 4] = ["energy", "four_cp", "reserves", "ai"];

/// A ledger's lines summed into [`GROUPS`]: energy (energy cost, power credits, mining
/// revenue, miner wear: what the miners' power earns or costs), 4CP (the transmission
/// charge), reserves (capacity revenue and shortfall), AI (AI revenue, inference penalty,
/// training restart loss).
pub fn groups(l: &Ledger) -> [f64; 4] {
    [
        l.energy_cost + l.power_credits + l.mining_revenue + l.wear,
        l.four_cp_charge,
        l.reserve_revenue + l.reserve_shortfall,
        l.ai_revenue + l.inference_penalty + l.training_restart_loss,
    ]
}

/// One group's split of a policy's gap ($).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Split {
    /// Oracle minus policy.
    pub gap: f64,
    /// Perfect-forecast MPC minus day-ahead MPC.
    pub forecast: f64,
    /// `gap - forecast`.
    pub policy: f64,
}

/// A policy's gap to the oracle, split per group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// Policy name.
    pub policy: String,
    /// One split per group, [`GROUPS`] order.
    pub groups: Vec<(String, Split)>,
    /// The whole gap, split.
    pub total: Split,
}

/// Splits the gap of every policy of `ev` (but the oracle and the perfect-forecast MPC);
/// an error names a missing [`NEEDED`] policy.
pub fn attribute(ev: &Evaluation) -> Result<Vec<Attribution>, EvalError> {
    let ledger = |name: &str| {
        ev.results
            .iter()
            .find(|r| r.policy == name)
            .map(|r| groups(&r.ledger))
            .ok_or_else(|| {
                EvalError(format!(
                    "attribution needs the policy `{name}` in the evaluation"
                ))
            })
    };
    let oracle = ledger("oracle")?;
    let mpc = ledger("day-ahead-mpc")?;
    let perfect = ledger(PERFECT_FORECAST_NAME)?;
    Ok(ev
        .results
        .iter()
        .filter(|r| r.policy != "oracle" && r.policy != PERFECT_FORECAST_NAME)
        .map(|r| {
            let p = groups(&r.ledger);
            let splits: Vec<Split> = (0..GROUPS.len())
                .map(|g| {
                    let gap = oracle[g] - p[g];
                    let forecast = perfect[g] - mpc[g];
                    Split {
                        gap,
                        forecast,
                        policy: gap - forecast,
                    }
                })
                .collect();
            let total = splits.iter().fold(
                Split {
                    gap: 0.0,
                    forecast: 0.0,
                    policy: 0.0,
                },
                |a, s| Split {
                    gap: a.gap + s.gap,
                    forecast: a.forecast + s.forecast,
                    policy: a.policy + s.policy,
                },
            );
            Attribution {
                policy: r.policy.clone(),
                groups: GROUPS.iter().map(|g| g.to_string()).zip(splits).collect(),
                total,
            }
        })
        .collect())
}

/// The attributions as a table ($ thousands): per policy, gap / forecast / policy error for
/// each group and in total.
pub fn format_attribution(rows: &[Attribution]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = write!(out, "{:<16} {:<9}", "gap ($k)", "part");
    for g in GROUPS {
        let _ = write!(out, " {g:>10}");
    }
    let _ = writeln!(out, " {:>10}", "total");
    for a in rows {
        for (k, part) in ["gap", "forecast", "policy"].iter().enumerate() {
            let pick = |s: &Split| [s.gap, s.forecast, s.policy][k] / 1e3;
            let name = if k == 0 { a.policy.as_str() } else { "" };
            let _ = write!(out, "{name:<16} {part:<9}");
            for (_, s) in &a.groups {
                let _ = write!(out, " {:>10.1}", pick(s));
            }
            let _ = writeln!(out, " {:>10.1}", pick(&a.total));
        }
    }
    let _ = writeln!(
        out,
        "gap = oracle - policy; forecast = mpc-perfect-forecast - day-ahead-mpc (the value of \
         perfect forecasts at the MPC's replanning schedule); policy = gap - forecast"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ledger_line_is_in_exactly_one_group() {
        // Put 10^k in line k: each group sum is then a distinct set of powers of ten, and
        // the groups add up to the ledger's total only if no line is missing or doubled.
        let mut l = Ledger::default();
        let vals: Vec<f64> = (0..10).map(|k| 10f64.powi(k)).collect();
        l.energy_cost = vals[0];
        l.power_credits = vals[1];
        l.ai_revenue = vals[2];
        l.inference_penalty = vals[3];
        l.training_restart_loss = vals[4];
        l.mining_revenue = vals[5];
        l.reserve_revenue = vals[6];
        l.reserve_shortfall = vals[7];
        l.four_cp_charge = vals[8];
        l.wear = vals[9];
        assert_eq!(
            l.lines().iter().sum::<f64>(),
            groups(&l).iter().sum::<f64>()
        );
        assert_eq!(
            groups(&l),
            [1.0 + 10.0 + 1e5 + 1e9, 1e8, 1e6 + 1e7, 1e2 + 1e3 + 1e4]
        );
    }
}
