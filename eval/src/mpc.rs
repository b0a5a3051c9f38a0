//! The day-ahead MPC: each local operating day, the dispatch LP ([`crate::lp`]) over the rest
//! of the day with day-ahead prices as the forecast of real-time prices, then the plan is
//! executed interval by interval.
//!
//! Live-capable: [`DayAheadMpc`] is a [`Policy`] and sees only the [`Snapshot`] passed to
//! `act`, so it uses nothing a live decision could not see. Its plan is made at the first
//! call of each local day (at midnight in a backtest) from that snapshot:
//! - real-time price forecast: the published day-ahead price of each interval
//!   (`snap.da_prices`; before 13:30 the window ends with the current day, which covers the
//!   whole day at midnight);
//! - reserve prices: the published windows (`snap.reserve_price_windows`);
//! - hashprice: `snap.hashprice` (last complete day) for every interval;
//! - no reserve deployments expected; an emergency only in the first interval, when the
//!   snapshot says so;
//! - 4CP: an expected weight ([`MpcParams`]): in a configured 4CP month, one peak's weight
//!   spread over the weekday peak-window intervals of the month (1 / weekdays per day), and
//!   within the day shaped by the day-ahead price (the system peak coincides with the
//!   highest prices); 0 elsewhere;
//! - initial state: `snap.state`.
//!
//! When the plan does not cover an interval of the day (a 25-hour day is longer than the
//! published window), it plans again from that interval. When the LP fails, the MPC answers
//! with the expert rules for the rest of the day and keeps the reason
//! ([`DayAheadMpc::last_error`]).
//!
//! The plan is state of the policy: a live server answers like the backtest when it sees the
//! day's first snapshot, as the backtest does.

use crate::lp::{PlanInterval, solve_plan};
use powermix_agent::{Expert, ExpertParams, Policy};
use powermix_env::config::{RESERVES, SiteConfig};
use powermix_env::time::{INTERVAL_MS, LocalTime, local_time};
use powermix_env::{Action, Snapshot};

/// Parameters of the MPC's 4CP expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct MpcParams {
    /// First local hour of the 4CP window.
    pub four_cp_start_hour: u8,
    /// Local hour the 4CP window ends (exclusive).
    pub four_cp_end_hour: u8,
    /// Shape each day's expected weight by the day-ahead price (true), or spread it evenly
    /// over the window (false).
    pub four_cp_shape_by_price: bool,
}

impl Default for MpcParams {
    /// 15:00 to 18:00 local (DESIGN.md: weekday afternoons, 3 to 6 pm), shaped by price.
    fn default() -> MpcParams {
        MpcParams {
            four_cp_start_hour: 15,
            four_cp_end_hour: 18,
            four_cp_shape_by_price: true,
        }
    }
}

/// A day's plan: actions for the intervals from `start_ms` on.
#[derive(Debug, Clone, PartialEq)]
struct DayPlan {
    start_ms: i64,
    actions: Vec<Action>,
}

/// The day-ahead MPC policy (name `day-ahead-mpc`); see the module doc.
#[derive(Debug, Clone)]
pub struct DayAheadMpc {
    cfg: SiteConfig,
    params: MpcParams,
    fallback: Expert,
    day: Option<i32>,
    plan: Option<DayPlan>,
    failed_today: bool,
    last_error: Option<String>,
    solves: usize,
    failures: usize,
}

impl DayAheadMpc {
    /// The MPC for a site, with the default 4CP expectation and the shipped expert rules as
    /// the fallback.
    pub fn new(cfg: &SiteConfig) -> DayAheadMpc {
        DayAheadMpc::with_params(cfg, MpcParams::default(), ExpertParams::default_params())
    }

    /// The MPC with explicit 4CP parameters and fallback expert parameters.
    pub fn with_params(cfg: &SiteConfig, params: MpcParams, expert: ExpertParams) -> DayAheadMpc {
        DayAheadMpc {
            cfg: cfg.clone(),
            params,
            fallback: Expert::new(cfg, expert),
            day: None,
            plan: None,
            failed_today: false,
            last_error: None,
            solves: 0,
            failures: 0,
        }
    }

    /// Why the last failed plan failed (the LP's error), if any plan failed.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Plans solved so far.
    pub fn solves(&self) -> usize {
        self.solves
    }

    /// Plans that failed so far (each day's rest was answered by the expert rules).
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Expected 4CP weight of an interval starting at local time `l`, whose day-ahead price
    /// is `da` and whose day's peak-window prices sum to `window_da` over `window_len`
    /// intervals.
    fn expected_four_cp(&self, l: &LocalTime, da: f64, window_da: f64, window_len: usize) -> f64 {
        let p = &self.params;
        let in_window = self.cfg.four_cp.months.contains(&l.month)
            && l.is_weekday()
            && (p.four_cp_start_hour..p.four_cp_end_hour).contains(&l.hour);
        if !in_window || window_len == 0 {
            return 0.0;
        }
        let day_weight = 1.0 / weekdays_in_month(l) as f64;
        if p.four_cp_shape_by_price && window_da > 0.0 {
            day_weight * da.max(0.0) / window_da
        } else {
            day_weight / window_len as f64
        }
    }

    /// Plans from the interval of `snap` to the end of its local day.
    fn replan(&mut self, snap: &Snapshot<'_>) {
        let day = snap.local.day_number;
        self.day = Some(day);
        self.plan = None;
        self.failed_today = false;
        let published = snap
            .reserve_price_windows
            .iter()
            .map(|w| w.len())
            .fold(snap.da_prices.len(), usize::min);
        // Intervals of the day from this one on, as far as prices are published.
        let mut locals = Vec::with_capacity(100);
        for k in 0..published {
            let l = local_time(snap.interval_start_ms + k as i64 * INTERVAL_MS);
            if l.day_number != day {
                break;
            }
            locals.push(l);
        }
        if locals.is_empty() {
            self.fail(format!(
                "day-ahead-mpc: no day-ahead prices published at {} ms",
                snap.interval_start_ms
            ));
            return;
        }
        let in_window = |l: &LocalTime| {
            (self.params.four_cp_start_hour..self.params.four_cp_end_hour).contains(&l.hour)
        };
        let (window_da, window_len) = locals
            .iter()
            .enumerate()
            .filter(|(_, l)| in_window(l))
            .fold((0.0, 0), |(s, n), (k, _)| {
                (s + snap.da_prices[k].max(0.0), n + 1)
            });
        let intervals: Vec<PlanInterval> = locals
            .iter()
            .enumerate()
            .map(|(k, l)| PlanInterval {
                interval_start_ms: snap.interval_start_ms + k as i64 * INTERVAL_MS,
                rt_price: snap.da_prices[k],
                reserve_price: std::array::from_fn(|p| snap.reserve_price_windows[p][k]),
                hashprice: snap.hashprice,
                four_cp_weight: self.expected_four_cp(l, snap.da_prices[k], window_da, window_len),
                deployed: [false; RESERVES],
                emergency: k == 0 && snap.emergency,
            })
            .collect();
        self.solves += 1;
        match solve_plan(&self.cfg, &snap.state, &intervals) {
            Ok(plan) => {
                self.plan = Some(DayPlan {
                    start_ms: snap.interval_start_ms,
                    actions: plan.actions,
                })
            }
            Err(e) => self.fail(format!("day-ahead-mpc: {e}")),
        }
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.failed_today = true;
        self.last_error = Some(why);
    }

    /// The planned action for the interval starting at `ms`, if the plan covers it.
    fn planned(&self, ms: i64) -> Option<Action> {
        let plan = self.plan.as_ref()?;
        let offset = ms - plan.start_ms;
        if offset < 0 {
            return None;
        }
        usize::try_from(offset / INTERVAL_MS)
            .ok()
            .and_then(|k| plan.actions.get(k))
            .copied()
    }
}

impl Policy for DayAheadMpc {
    fn name(&self) -> &str {
        "day-ahead-mpc"
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        let new_day = self.day != Some(snap.local.day_number);
        if new_day || (!self.failed_today && self.planned(snap.interval_start_ms).is_none()) {
            self.replan(snap);
        }
        match self.planned(snap.interval_start_ms) {
            Some(a) => a,
            None => self.fallback.act(snap),
        }
    }
}

/// Monday-to-Friday days in the local month of `l`.
fn weekdays_in_month(l: &LocalTime) -> u32 {
    let leap = (l.year % 4 == 0 && l.year % 100 != 0) || l.year % 400 == 0;
    let days = match l.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if leap => 29,
        _ => 28,
    };
    (1..=days)
        .filter(|&d| {
            let weekday = (l.weekday as i32 + d - l.day as i32).rem_euclid(7);
            weekday < 5
        })
        .count()
        .max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_of_july_2024() {
        // 2024-07-15 is a Monday; July 2024 has 23 weekdays.
        let l = local_time(1_721_077_200_000);
        assert_eq!((l.month, l.day, l.weekday), (7, 15, 0));
        assert_eq!(weekdays_in_month(&l), 23);
        // February 2024 (leap): 21 weekdays.
        let feb = local_time(1_708_000_000_000);
        assert_eq!(feb.month, 2);
        assert_eq!(weekdays_in_month(&feb), 21);
    }
}
