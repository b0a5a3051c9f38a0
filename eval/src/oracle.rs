//! The perfect-foresight oracle: the dispatch LP ([`crate::lp`]) over a whole period with
//! every price, 4CP weight, emergency and reserve deployment known, and [`Scheduled`], the
//! policy that replays its schedule through the env so that its money is counted by the same
//! settlement code as every other policy's.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use powermix_env::{Market, SiteConfig, data::synth};
//! let market = Arc::new(Market::new(synth::synthetic_year(2024, 7), SiteConfig::default_site()));
//! let (start, end, seed) = (0, market.len(), 1);
//! let plan = powermix_eval::oracle::oracle_plan(&market, start, end, seed)?;
//! let mut replay = powermix_eval::oracle::Scheduled::from_plan("oracle", &market, start, plan);
//! let score = powermix_eval::backtest(&market, start, end, &mut replay, seed)
//!     .map_err(|e| powermix_eval::EvalError(e.0))?;
//! # Ok::<(), powermix_eval::EvalError>(())
//! ```

use crate::EvalError;
use crate::lp::{Plan, PlanInterval, solve_plan};
use powermix_agent::Policy;
use powermix_env::time::INTERVAL_MS;
use powermix_env::{Action, Market, SiteState, Snapshot};
use std::sync::Arc;

/// The facts of intervals `[start, end)` of `market` as the oracle sees them: real-time and
/// reserve prices, settled hashprice, 4CP weights, emergencies, and the deployments an env
/// seeded with `seed` draws over that window.
pub fn oracle_intervals(
    market: &Market,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Vec<PlanInterval>, EvalError> {
    if start >= end || end > market.len() {
        return Err(EvalError(format!(
            "oracle: window [{start}, {end}) is empty or outside the {} intervals of data",
            market.len()
        )));
    }
    let d = &market.data;
    let draws = market.deployment_draws(start, end, seed);
    Ok((start..end)
        .zip(draws)
        .map(|(t, deployed)| PlanInterval {
            interval_start_ms: d.interval_start_ms[t],
            rt_price: d.rt_price[t],
            reserve_price: [d.as_rrs[t], d.as_ecrs[t], d.as_nspin[t]],
            hashprice: d.hashprice[t],
            four_cp_weight: market.four_cp_weight[t],
            deployed,
            emergency: market.emergency[t],
        })
        .collect())
}

/// The perfect-foresight plan over intervals `[start, end)` of `market`, for an env seeded
/// with `seed` (its reserve deployments are planned for), from the state an episode starts
/// in ([`SiteState::initial`]).
///
/// Errors: a window outside the data, or an LP that does not solve (the error says why).
pub fn oracle_plan(
    market: &Market,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Plan, EvalError> {
    let intervals = oracle_intervals(market, start, end, seed)?;
    solve_plan(&market.cfg, &SiteState::initial(&market.cfg), &intervals)
        .map_err(|e| EvalError(format!("oracle: {e}")))
}

/// The oracle as a policy for the harness: the plan of [`oracle_plan`] over `[start, end)`
/// with deployment seed `seed`, replayed by a [`Scheduled`] named `oracle`. Backtest it on
/// the same window and seed, or its deployments will not be the ones it planned for.
pub fn oracle_policy(
    market: &Arc<Market>,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Box<dyn Policy>, EvalError> {
    let plan = oracle_plan(market, start, end, seed)?;
    Ok(Box::new(Scheduled::from_plan(
        "oracle", market, start, plan,
    )))
}

/// Replays a fixed schedule: the action of the interval starting at
/// `start_ms + k x 15 min` is `actions[k]`; outside the schedule, [`Action::ALL_ON`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Name in reports.
    pub name: String,
    /// Start of the schedule's first interval, UTC milliseconds.
    pub start_ms: i64,
    /// One action per interval.
    pub actions: Vec<Action>,
}

impl Scheduled {
    /// The replay of `plan`, made for intervals starting at index `start` of `market`.
    pub fn from_plan(name: &str, market: &Market, start: usize, plan: Plan) -> Scheduled {
        Scheduled {
            name: name.to_string(),
            start_ms: market
                .data
                .interval_start_ms
                .get(start)
                .copied()
                .unwrap_or(0),
            actions: plan.actions,
        }
    }
}

impl Policy for Scheduled {
    fn name(&self) -> &str {
        &self.name
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        let offset = snap.interval_start_ms - self.start_ms;
        if offset < 0 {
            return Action::ALL_ON;
        }
        usize::try_from(offset / INTERVAL_MS)
            .ok()
            .and_then(|k| self.actions.get(k))
            .copied()
            .unwrap_or(Action::ALL_ON)
    }
}
