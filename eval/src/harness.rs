//! The evaluation harness: every policy on the same period, the same env and the same
//! settlement, scored against always-on and the perfect-foresight oracle, overall and per
//! regime of weeks.
//!
//! Value captured = (profit - profit of always-on) / (profit of oracle - profit of
//! always-on). Regimes are sets of whole local weeks from the period's start (the last one
//! may be shorter): calm weeks (no interval above $1,000), scarcity weeks (any above),
//! 4CP weeks (any day in a 4CP month) and emergency weeks (an ERCOT EEA notice of
//! `configs/emergencies.toml` in force in the week: 2021 Winter Storm Uri, 6 Sep 2023).
//! Every policy, always-on and the oracle are run afresh on each week, so a week's value
//! captured uses that week's oracle.

use crate::{EvalError, Score, backtest};
use powermix_agent::Policy;
use powermix_agent::rules::{ExpertParams, rule_policy};
use powermix_env::{Ledger, Market};
use powermix_plan::mpc;
use powermix_plan::oracle::oracle_policy;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Policy names the harness knows (`ppo` and `ppo-base`, the checkpoint with its network
/// off, need a checkpoint; `mpc-perfect-forecast` is
/// the day-ahead MPC planning on the facts over each horizon, for `--attribution`).
pub const KNOWN_POLICIES: [&str; 16] = [
    "always-on",
    "threshold",
    "expert",
    "day-ahead-mpc",
    "oracle",
    "ppo",
    "mpc-perfect-forecast",
    "mpc-load-forecast",
    "ppo-base",
    "forecast-mpc",
    "forecast-mpc-no-rt",
    "forecast-mpc-no-4cp",
    "forecast-mpc-unpriced-offer",
    "forecast-mpc-gate-models",
    "forecast-mpc-day-4cp",
    "ppo-priced-head",
];

/// The parts of a `forecast-mpc` policy name (the planner, its ablations and the gate
/// candidates, [`mpc::ForecastParts::VARIANTS`]).
pub fn forecast_parts(name: &str) -> Option<mpc::ForecastParts> {
    mpc::ForecastParts::VARIANTS
        .into_iter()
        .find(|p| p.name() == name)
}

/// Real-time price above which a week counts as a scarcity week ($/MWh).
pub const SCARCITY_PRICE: f64 = 1000.0;

/// How policies are built for a window.
pub struct PolicyFactory<'a> {
    /// The market and site.
    pub market: &'a Arc<Market>,
    /// Parameters of the expert rules.
    pub expert: &'a ExpertParams,
    /// Seed of the deployment draws (the oracle plans with the same draws) and of the
    /// simulated load forecast's errors (`mpc-load-forecast`).
    pub seed: u64,
    /// Checkpoint folder of the `ppo` policy (or a run folder holding `best/`).
    pub checkpoint: Option<&'a std::path::Path>,
    /// Forecast model folder of `forecast-mpc` (written by `forecast fit`).
    pub forecasts: Option<&'a std::path::Path>,
}

/// The checkpoint folder inside `dir`: `dir` itself when it holds `meta.json`, else
/// `dir/best` (a training run folder).
pub fn checkpoint_dir(dir: &std::path::Path) -> std::path::PathBuf {
    if dir.join("meta.json").exists() || !dir.join("best").join("meta.json").exists() {
        dir.to_path_buf()
    } else {
        dir.join("best")
    }
}

impl PolicyFactory<'_> {
    /// A fresh policy `name` for intervals `[start, end)`.
    pub fn make(&self, name: &str, start: usize, end: usize) -> Result<Box<dyn Policy>, EvalError> {
        let cfg = &self.market.cfg;
        if let Some(p) = rule_policy(name, cfg, self.expert) {
            return Ok(p);
        }
        match name {
            "day-ahead-mpc" => Ok(Box::new(mpc::DayAheadMpc::new(cfg))),
            "oracle" => Ok(oracle_policy(self.market, start, end, self.seed)?),
            mpc::LOAD_FORECAST_NAME => {
                Ok(Box::new(mpc::DayAheadMpc::with_load_forecast(
                    self.market,
                    powermix_env::forecast::LoadForecastModel {
                        // The forecast's error draws follow the backtest's seed, like the
                        // deployments: a seed sweep varies both.
                        seed: powermix_env::forecast::LoadForecastModel::ERCOT
                            .seed
                            .wrapping_add(self.seed),
                        ..powermix_env::forecast::LoadForecastModel::ERCOT
                    },
                    mpc::LOAD_FORECAST_RULE,
                )?))
            }
            _ if forecast_parts(name).is_some() => {
                let parts = forecast_parts(name).unwrap_or(mpc::ForecastParts::SHIPPED);
                let dir = self.forecasts.ok_or_else(|| {
                    EvalError(format!(
                        "policy `{name}` needs --forecasts DIR (models written by `forecast fit`)"
                    ))
                })?;
                let live = powermix_forecast::live::LiveForecasts::load(dir)
                    .map_err(|e| EvalError(e.to_string()))?;
                if parts.four_cp && parts.four_cp_by_hour && !live.has_hours() {
                    return Err(EvalError(format!(
                        "policy `{name}` needs {} in {} (written by `forecast fit`)",
                        powermix_forecast::live::FOURCP_HOURS_FILE,
                        dir.display()
                    )));
                }
                let gate = powermix_forecast::gate::GateForecast::load(dir)
                    .map_err(|e| EvalError(e.to_string()))?;
                Ok(Box::new(mpc::DayAheadMpc::with_forecasts(
                    cfg, live, gate, parts,
                )))
            }
            mpc::PERFECT_FORECAST_NAME => Ok(Box::new(mpc::DayAheadMpc::with_perfect_forecast(
                self.market,
                start,
                end,
                self.seed,
            )?)),
            "ppo" | "ppo-base" => {
                let dir = self.checkpoint.ok_or_else(|| {
                    EvalError(format!(
                        "policy `{name}` needs --checkpoint DIR (a trained policy)"
                    ))
                })?;
                let mut p = powermix_agent::load_checkpoint(&checkpoint_dir(dir))
                    .map_err(|e| EvalError(format!("checkpoint: {e}")))?;
                if name == "ppo-base" {
                    // The checkpoint's base: its rules or planner and its head, the network
                    // off: what the network's contribution is measured against.
                    p = p.with_network_off();
                }
                Ok(crate::planned_policy(p, cfg))
            }
            "ppo-priced-head" => {
                // The checkpoint with its head's offer priced at the option value of
                // curtailment (the gate model of --forecasts): an evaluation candidate.
                let dir = self.checkpoint.ok_or_else(|| {
                    EvalError(format!(
                        "policy `{name}` needs --checkpoint DIR (a trained policy)"
                    ))
                })?;
                let models = self.forecasts.ok_or_else(|| {
                    EvalError(format!(
                        "policy `{name}` needs --forecasts DIR (its gate model, rt_gate.json)"
                    ))
                })?;
                let p = powermix_agent::load_checkpoint(&checkpoint_dir(dir))
                    .map_err(|e| EvalError(format!("checkpoint: {e}")))?;
                if p.day_ahead_head().is_none() || p.planner().is_some() {
                    return Err(EvalError(format!(
                        "policy `{name}`: the checkpoint in {} has no day-ahead head to price",
                        dir.display()
                    )));
                }
                let gate = powermix_forecast::gate::GateForecast::load(models)
                    .map_err(|e| EvalError(e.to_string()))?;
                Ok(Box::new(mpc::WithHead::of(
                    Box::new(p.with_site_config(cfg)),
                    mpc::DayAheadHead::with_priced_offer(cfg, gate),
                )))
            }
            _ => Err(EvalError(format!(
                "unknown policy `{name}`; known: {}",
                KNOWN_POLICIES.join(", ")
            ))),
        }
    }

    /// Backtests a fresh policy `name` on `[start, end)`.
    pub fn run(&self, name: &str, start: usize, end: usize) -> Result<Score, EvalError> {
        let mut p = self.make(name, start, end)?;
        let mut score = backtest(self.market, start, end, p.as_mut(), self.seed)
            .map_err(|e| EvalError(e.to_string()))?;
        score.policy = name.to_string();
        Ok(score)
    }
}

/// Scores of one policy in one regime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegimeScore {
    /// Weeks in the regime.
    pub weeks: usize,
    /// The policy's profit over those weeks ($).
    pub profit_usd: f64,
    /// Always-on's profit over the same weeks ($).
    pub always_on_usd: f64,
    /// The oracle's profit over the same weeks ($).
    pub oracle_usd: f64,
    /// (profit - always-on) / (oracle - always-on); None when the oracle gains nothing.
    pub value_captured: Option<f64>,
}

/// One policy's result over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyResult {
    /// Policy name.
    pub policy: String,
    /// Total profit ($).
    pub profit_usd: f64,
    /// (profit - always-on) / (oracle - always-on); None when the oracle gains nothing.
    pub value_captured: Option<f64>,
    /// Each ledger line ($).
    pub ledger: Ledger,
    /// Energy drawn (MWh).
    pub energy_mwh: f64,
    /// Profit per MWh drawn ($/MWh).
    pub profit_per_mwh: f64,
    /// Share of AI capacity served.
    pub ai_uptime: f64,
    /// Site load in the 4CP intervals, peak-weighted (MW summed over the peaks).
    pub four_cp_load_mw: f64,
    /// Reserve capacity revenue ($).
    pub reserve_revenue_usd: f64,
    /// Awarded reserve MW not provided: clearing price plus replacement cost ($, negative).
    pub reserve_shortfall_usd: f64,
    /// Scores per regime of weeks.
    pub regimes: BTreeMap<String, RegimeScore>,
    /// The full-period backtest (trace for charts).
    #[serde(skip)]
    pub score: Score,
}

/// Everything the harness found for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The period as asked (or "all").
    pub period: String,
    /// Settlement point of the data.
    pub settlement_point: String,
    /// First interval index.
    pub start: usize,
    /// Exclusive end index.
    pub end: usize,
    /// One entry per requested policy, in the order asked.
    pub results: Vec<PolicyResult>,
    /// Policies (or weeks) where a policy beat the oracle: always a bug.
    pub oracle_breaches: Vec<String>,
}

/// A week of the period: `[start, end)` and its regime names.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// First interval.
    pub start: usize,
    /// Exclusive end.
    pub end: usize,
    /// Regimes it belongs to.
    pub regimes: Vec<String>,
}

/// Splits `[start, end)` into local weeks and classifies them.
pub fn weeks(market: &Market, start: usize, end: usize) -> Vec<Week> {
    let mut out = Vec::new();
    if start >= end {
        return out;
    }
    let first_day = market.local[start].day_number;
    let mut s = start;
    while s < end {
        let week_no = (market.local[s].day_number - first_day) / 7;
        let mut e = s;
        while e < end && (market.local[e].day_number - first_day) / 7 == week_no {
            e += 1;
        }
        let scarce = market.hindsight().data.rt_price[s..e]
            .iter()
            .any(|&p| p > SCARCITY_PRICE);
        let mut regimes = vec![
            if scarce {
                "scarcity_weeks"
            } else {
                "calm_weeks"
            }
            .to_string(),
        ];
        if (s..e).any(|t| market.cfg.four_cp.months.contains(&market.local[t].month)) {
            regimes.push("four_cp_weeks".into());
        }
        if market.hindsight().in_force[s..e].iter().any(|x| x.active()) {
            regimes.push("emergency_weeks".into());
        }
        out.push(Week {
            start: s,
            end: e,
            regimes,
        });
        s = e;
    }
    out
}

fn value_captured(profit: f64, always_on: f64, oracle: f64) -> Option<f64> {
    let headroom = oracle - always_on;
    (headroom.abs() > 1e-6).then(|| (profit - always_on) / headroom)
}

/// The oracle check, with the LP's tolerance: clarabel solves to about 1e-8 relative, which
/// is a few dollars on a year; calm weeks can tie the oracle to the dollar.
fn beats(profit: f64, oracle: f64) -> bool {
    profit > oracle + 1.0f64.max(oracle.abs() * 2e-8)
}

/// What to evaluate.
#[derive(Clone, Copy)]
pub struct EvalRequest<'a> {
    /// Market and site.
    pub market: &'a Arc<Market>,
    /// First interval.
    pub start: usize,
    /// Exclusive end.
    pub end: usize,
    /// Policy names, in report order.
    pub policies: &'a [String],
    /// Expert rule parameters.
    pub expert: &'a ExpertParams,
    /// Seed of the deployment draws.
    pub seed: u64,
    /// The period's label in reports.
    pub period: &'a str,
    /// Also score every week, for the regimes.
    pub by_week: bool,
    /// Checkpoint of the `ppo` policy.
    pub checkpoint: Option<&'a std::path::Path>,
    /// Forecast model folder of `forecast-mpc` (written by `forecast fit`).
    pub forecasts: Option<&'a std::path::Path>,
}

/// Evaluates the request's policies; with `by_week`, also per regime.
pub fn evaluate(req: EvalRequest<'_>) -> Result<Evaluation, EvalError> {
    let EvalRequest {
        market,
        start,
        end,
        policies,
        expert,
        seed,
        period,
        by_week,
        checkpoint,
        forecasts,
    } = req;
    for p in policies {
        if !KNOWN_POLICIES.contains(&p.as_str()) {
            return Err(EvalError(format!(
                "unknown policy `{p}`; known: {}",
                KNOWN_POLICIES.join(", ")
            )));
        }
    }
    let f = PolicyFactory {
        market,
        expert,
        seed,
        checkpoint,
        forecasts,
    };
    let mut cache: BTreeMap<String, Score> = BTreeMap::new();
    for name in ["always-on", "oracle"]
        .iter()
        .map(|s| s.to_string())
        .chain(policies.iter().cloned())
    {
        if let std::collections::btree_map::Entry::Vacant(e) = cache.entry(name) {
            let score = f.run(e.key(), start, end)?;
            e.insert(score);
        }
    }
    let always_on = cache["always-on"].profit_usd;
    let oracle = cache["oracle"].profit_usd;
    let mut breaches = Vec::new();
    for (name, s) in &cache {
        if name != "oracle" && beats(s.profit_usd, oracle) {
            breaches.push(format!(
                "{name} made ${:.0} over the period, more than the oracle's ${oracle:.0}",
                s.profit_usd
            ));
        }
    }

    // Per week.
    let mut regime_sums: BTreeMap<String, BTreeMap<String, RegimeScore>> = BTreeMap::new();
    if by_week {
        for w in weeks(market, start, end) {
            let a = f.run("always-on", w.start, w.end)?.profit_usd;
            let o = f.run("oracle", w.start, w.end)?.profit_usd;
            for name in policies {
                let p = match name.as_str() {
                    "always-on" => a,
                    "oracle" => o,
                    _ => f.run(name, w.start, w.end)?.profit_usd,
                };
                if name != "oracle" && beats(p, o) {
                    breaches.push(format!(
                        "{name} made ${p:.0} in the week from interval {}, more than the oracle's ${o:.0}",
                        w.start
                    ));
                }
                for r in &w.regimes {
                    let e = regime_sums
                        .entry(name.clone())
                        .or_default()
                        .entry(r.clone())
                        .or_insert(RegimeScore {
                            weeks: 0,
                            profit_usd: 0.0,
                            always_on_usd: 0.0,
                            oracle_usd: 0.0,
                            value_captured: None,
                        });
                    e.weeks += 1;
                    e.profit_usd += p;
                    e.always_on_usd += a;
                    e.oracle_usd += o;
                }
            }
        }
    }

    let results = policies
        .iter()
        .map(|name| {
            let s = cache[name].clone();
            let regimes = regime_sums
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .map(|(r, mut score)| {
                    score.value_captured =
                        value_captured(score.profit_usd, score.always_on_usd, score.oracle_usd);
                    (r, score)
                })
                .collect();
            PolicyResult {
                policy: name.clone(),
                profit_usd: s.profit_usd,
                value_captured: value_captured(s.profit_usd, always_on, oracle),
                ledger: s.ledger,
                energy_mwh: s.energy_mwh,
                profit_per_mwh: s.profit_per_mwh,
                ai_uptime: s.ai_uptime,
                four_cp_load_mw: s.four_cp_load_mw,
                reserve_revenue_usd: s.ledger.reserve_revenue,
                reserve_shortfall_usd: s.ledger.reserve_shortfall,
                regimes,
                score: s,
            }
        })
        .collect();
    Ok(Evaluation {
        period: period.to_string(),
        settlement_point: market.settlement_point().to_string(),
        start,
        end,
        results,
        oracle_breaches: breaches,
    })
}

/// The results as a text table (money in $ thousands), then one line per regime.
pub fn format_evaluation(ev: &Evaluation) -> String {
    use std::fmt::Write;
    let scores: Vec<Score> = ev.results.iter().map(|r| r.score.clone()).collect();
    let mut out = crate::format_table(&scores);
    let _ = writeln!(
        out,
        "\nvalue captured = (profit - always-on) / (oracle - always-on)"
    );
    let regimes: Vec<String> = {
        let mut v: Vec<String> = ev
            .results
            .iter()
            .flat_map(|r| r.regimes.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let w = crate::policy_column_width(ev.results.iter().map(|r| r.policy.as_str()));
    let _ = write!(out, "{:<w$} {:>9}", "policy", "overall");
    for r in &regimes {
        let _ = write!(out, " {:>22}", r);
    }
    let _ = writeln!(out);
    let fmt_vc = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
    for r in &ev.results {
        let _ = write!(out, "{:<w$} {:>9}", r.policy, fmt_vc(r.value_captured));
        for name in &regimes {
            let cell = r
                .regimes
                .get(name)
                .map(|s| format!("{} ({}w)", fmt_vc(s.value_captured), s.weeks))
                .unwrap_or_else(|| "-".into());
            let _ = write!(out, " {cell:>22}");
        }
        let _ = writeln!(out);
    }
    out
}
