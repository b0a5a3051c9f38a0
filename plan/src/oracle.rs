//! The perfect-foresight oracle: the dispatch LP ([`crate::lp`]) over a whole period with
//! every price, 4CP weight, emergency and reserve deployment known, and [`Scheduled`], the
//! policy that replays its schedule through the env so that its money is counted by the same
//! settlement code as every other policy's.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use powermix_env::{Market, SiteConfig};
//! # use powermix_data::synth;
//! let market = Arc::new(Market::new(synth::synthetic_year(2024, 7), SiteConfig::default_site()));
//! let (start, end, seed) = (0, market.len(), 1);
//! let plan = powermix_plan::oracle::oracle_plan(&market, start, end, seed)?;
//! // Replayed through the env by `powermix_eval::backtest`, like every other policy.
//! let replay = powermix_plan::oracle::Scheduled::from_plan("oracle", &market, start, plan);
//! # Ok::<(), powermix_plan::PlanError>(())
//! ```

use crate::PlanError;
use crate::lp::{Awards, Plan, PlanInterval, solve_plan};
use powermix_agent::Policy;
use powermix_env::config::RESERVES;
use powermix_env::time::{INTERVAL_MS, INTERVALS_PER_HOUR};
use powermix_env::{Action, DayAheadOffer, HourOffer, Market, SiteState, Snapshot};
use std::sync::Arc;

/// For each interval of `[start, end)`, whether its operating day's reserve awards are the
/// window's to choose: its day-ahead gate (10:00 the day before) lies inside the window, as
/// in an env stepped over it. The first operating day of a window that starts at midnight
/// has no awards.
pub fn free_award_days(market: &Market, start: usize, end: usize) -> Vec<bool> {
    let mut free = vec![false; end - start];
    for g in start..end {
        if market.is_da_gate(g) {
            let (_, ds) = market.day_range(g);
            if ds < market.len() {
                let (_, de) = market.day_range(ds);
                for t in ds.max(start)..de.min(end) {
                    free[t - start] = true;
                }
            }
        }
    }
    free
}

/// The facts of intervals `[start, end)` of `market` as the oracle sees them: real-time and
/// reserve prices, settled hashprice, 4CP weights, the emergencies the decisions know, the
/// deployments an env seeded with `seed` sees over that window, and which days' awards are
/// its to choose ([`free_award_days`]).
pub fn oracle_intervals(
    market: &Market,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Vec<PlanInterval>, PlanError> {
    if start >= end || end > market.len() {
        return Err(PlanError(format!(
            "oracle: window [{start}, {end}) is empty or outside the {} intervals of data",
            market.len()
        )));
    }
    let hs = market.hindsight();
    let d = hs.data;
    let draws = market.deployment_draws(start, end, seed);
    let free = free_award_days(market, start, end);
    Ok((start..end)
        .zip(draws)
        .map(|(t, deployed)| PlanInterval {
            interval_start_ms: d.interval_start_ms[t],
            rt_price: d.rt_price[t],
            reserve_price: [d.as_rrs[t], d.as_ecrs[t], d.as_nspin[t]],
            hashprice: d.hashprice[t],
            four_cp_weight: hs.four_cp_weight[t],
            deployed,
            emergency: market.projection_context(t).emergency,
            awards: if free[t - start] {
                Awards::Free(market.cfg.reserve_available(market.local[t].day_number))
            } else {
                Awards::Fixed([0.0; RESERVES])
            },
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
) -> Result<Plan, PlanError> {
    let intervals = oracle_intervals(market, start, end, seed)?;
    solve_plan(&market.cfg, &SiteState::initial(&market.cfg), &intervals)
        .map_err(|e| PlanError(format!("oracle: {e}")))
}

/// The oracle as a policy for the harness: the plan of [`oracle_plan`] over `[start, end)`
/// with deployment seed `seed`, replayed by a [`Scheduled`] named `oracle`. Backtest it on
/// the same window and seed, or its deployments will not be the ones it planned for.
pub fn oracle_policy(
    market: &Arc<Market>,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Box<dyn Policy>, PlanError> {
    let plan = oracle_plan(market, start, end, seed)?;
    Ok(Box::new(Scheduled::from_plan(
        "oracle", market, start, plan,
    )))
}

/// Replays a fixed schedule: the action of the interval starting at
/// `start_ms + k x 15 min` is `actions[k]`; outside the schedule, [`Action::ALL_ON`]. At a
/// day-ahead gate it offers the schedule's awards of the next operating day, hour by hour,
/// at any price.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Name in reports.
    pub name: String,
    /// Start of the schedule's first interval, UTC milliseconds.
    pub start_ms: i64,
    /// One action per interval.
    pub actions: Vec<Action>,
    /// The awards of each interval (MW per product), as the plan chose them.
    pub award_mw: Vec<[f64; RESERVES]>,
}

impl Scheduled {
    /// The replay of `plan`, made for intervals starting at index `start` of `market`.
    pub fn from_plan(name: &str, market: &Market, start: usize, plan: Plan) -> Scheduled {
        Scheduled {
            name: name.to_string(),
            start_ms: if start < market.len() {
                market.interval_start_ms(start)
            } else {
                0
            },
            actions: plan.actions,
            award_mw: plan.award_mw,
        }
    }

    fn index(&self, ms: i64) -> Option<usize> {
        let offset = ms - self.start_ms;
        if offset < 0 {
            return None;
        }
        usize::try_from(offset / INTERVAL_MS).ok()
    }
}

/// The offer that clears to `awards` (one entry per interval of an operating day from its
/// midnight): each hour's awards, at any price.
pub fn offer_for_awards(awards: &[[f64; RESERVES]]) -> DayAheadOffer {
    DayAheadOffer {
        hours: awards
            .chunks(INTERVALS_PER_HOUR)
            .map(|h| HourOffer {
                mw: h[0],
                min_price: [0.0; RESERVES],
            })
            .collect(),
    }
}

impl Policy for Scheduled {
    fn name(&self) -> &str {
        &self.name
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        self.index(snap.interval_start_ms)
            .and_then(|k| self.actions.get(k))
            .copied()
            .unwrap_or(Action::ALL_ON)
    }

    fn day_ahead(&mut self, snap: &Snapshot<'_>, _: &Action) -> Option<DayAheadOffer> {
        // The operating day starts at the next local midnight: find it in the schedule.
        let k = self.index(snap.interval_start_ms)?;
        let day = snap.local.day_number;
        let mut ds = k;
        while ds < self.actions.len()
            && powermix_env::time::local_time(self.start_ms + ds as i64 * INTERVAL_MS).day_number
                == day
        {
            ds += 1;
        }
        let next = day + 1;
        let mut de = ds;
        while de < self.award_mw.len()
            && powermix_env::time::local_time(self.start_ms + de as i64 * INTERVAL_MS).day_number
                == next
        {
            de += 1;
        }
        Some(offer_for_awards(&self.award_mw[ds.min(de)..de]))
    }
}
