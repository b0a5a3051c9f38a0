//! A [`Market`]: market data joined with the site config, the emergency calendar and
//! everything derived from them once (US/Central calendar, emergencies, 4CP peaks, what is
//! visible when, deployment chances), so that a step of the env is only lookups.
//!
//! [`Market::snapshot`] is the one place that decides what a decision may see. Every
//! visibility rule of DESIGN.md reads one *information cutoff*: a decision for interval t is
//! taken before t starts, while t-1 is still running, so it knows what was published by the
//! end of interval t - lag (`information.rt_price_lag_intervals`, 2 by default):
//! - real-time prices: intervals up to t - lag;
//! - system load: hours that ended by the cutoff;
//! - hashprice: the last UTC day complete by the cutoff;
//! - day-ahead energy and reserve prices of local day D: published at 13:30 local on D-1;
//! - emergency notices: issued by the cutoff and not yet ended.
//!
//! The day-ahead reserve decision for D is taken at the gate, the interval starting 10:00
//! local on D-1 ([`Market::is_da_gate`]), with that interval's snapshot: nothing of D is
//! published then. [`Market::clear_day_ahead`] clears an offer against D's clearing prices.
//!
//! What a policy must not see (the interval's own prices, 4CP peaks, emergencies in force
//! before they are announced, deployments) is private here; the perfect-foresight oracle and
//! the reports read it through [`Market::hindsight`], which no policy calls.

use crate::config::{RESERVES, SiteConfig};
use crate::data::MarketData;
use crate::emergency::{Emergency, EmergencyCalendar};
use crate::obs::{
    DA_HORIZON, DA_PAST, DESK_FEATURES, LEGACY_OBS_DIM, MARKET_FEATURES, OBS_DIM, Observer,
    RT_HISTORY, Snapshot,
};

/// Features a market computes once per interval: the market's and the desk's.
const CACHED_FEATURES: usize = MARKET_FEATURES + DESK_FEATURES;
use crate::rng::Rng;
use crate::safety::{ProjectionContext, Projector};
use crate::settlement::{IntervalMarket, Settler};
use crate::site::{DAY_HOURS_MAX, DayAheadOffer, SiteState};
use crate::time::{INTERVAL_MS, INTERVALS_PER_HOUR, LocalTime, local_midnight_utc_ms, local_time};
use rand::RngExt;
use rand_distr::Geometric;
use serde::{Deserialize, Serialize};

/// Minute of the local day at which day-ahead prices for the next operating day are
/// published (13:30 US/Central). Decisions whose information cutoff is at or after it see
/// them.
pub const DA_PUBLISH_MINUTE: u32 = 13 * 60 + 30;

/// Intervals in one UTC day.
const INTERVALS_PER_DAY: i64 = 96;

// The gate's local time is a calendar rule (`crate::time`); observations need it too.
pub use crate::time::{DA_GATE_MINUTE, is_da_gate_local, is_pre_gate_local};

/// The awards of one operating day, by local hour from midnight.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DayAwards {
    /// Index of the day's first interval in the market data.
    pub day_start: usize,
    /// Local day number (days since 1970-01-01) of the operating day.
    pub day_number: i32,
    /// Awarded MW per product (RRS, ECRS, Non-Spin) for each local hour of the day.
    pub hours: Vec<[f64; RESERVES]>,
}

impl DayAwards {
    /// The awards in force in interval `t` of the market data, if `t` is in this day.
    #[inline]
    pub fn at(&self, t: usize) -> Option<[f64; RESERVES]> {
        let k = t.checked_sub(self.day_start)? / INTERVALS_PER_HOUR;
        self.hours.get(k).copied()
    }

    /// MW-hours awarded over the day, all products.
    pub fn total_mwh(&self) -> f64 {
        self.hours.iter().flatten().sum()
    }
}

/// Deployment events in progress: intervals each product stays deployed, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeployState {
    /// Intervals left per product (0: no event in progress).
    pub left: [u32; RESERVES],
}

/// What the perfect-foresight oracle and the reports may read: the whole market data and
/// the facts hidden from policies. A policy never calls this: it sees
/// [`Market::snapshot`].
#[derive(Debug, Clone, Copy)]
pub struct Hindsight<'a> {
    /// The complete market data (every interval's own prices).
    pub data: &'a MarketData,
    /// Share of a 4CP peak billed on each interval.
    pub four_cp_weight: &'a [f64],
    /// The emergency in force in each interval (before it is announced, too).
    pub in_force: &'a [Emergency],
}

/// Market data, site config and the per-interval facts derived from them.
#[derive(Debug, Clone)]
pub struct Market {
    /// The site.
    pub cfg: SiteConfig,
    /// US/Central calendar of each interval start.
    pub local: Vec<LocalTime>,
    /// The observation builder of this site.
    pub observer: Observer,
    /// The safety projection of this site.
    pub projector: Projector,
    /// The settlement of this site.
    pub settler: Settler,
    data: MarketData,
    calendar: EmergencyCalendar,
    lag: usize,
    in_force: Vec<Emergency>,
    known: Vec<Emergency>,
    four_cp_weight: Vec<f64>,
    load_seen: Vec<f64>,
    load_mtd_peak: Vec<f64>,
    hashprice_seen: Vec<f64>,
    da_visible_end: Vec<usize>,
    day_start: Vec<usize>,
    day_end: Vec<usize>,
    facts: Vec<IntervalFacts>,
    market_features: Vec<f32>,
}

impl Market {
    /// Derives everything from complete data and a validated config, with the shipped
    /// emergency calendar (`configs/emergencies.toml`).
    pub fn new(data: MarketData, cfg: SiteConfig) -> Market {
        Market::with_calendar(data, cfg, EmergencyCalendar::default_calendar())
    }

    /// [`Market::new`] with an explicit emergency calendar.
    pub fn with_calendar(data: MarketData, cfg: SiteConfig, calendar: EmergencyCalendar) -> Market {
        let n = data.len();
        let lag = cfg.information.rt_price_lag_intervals.max(1) as usize;
        let local: Vec<LocalTime> = data
            .interval_start_ms
            .iter()
            .map(|&t| local_time(t))
            .collect();
        let cutoff = |t: usize| data.interval_start_ms[t] - (lag as i64 - 1) * INTERVAL_MS;
        let in_force: Vec<Emergency> = (0..n)
            .map(|t| calendar.in_interval(data.interval_start_ms[t]))
            .collect();
        let known: Vec<Emergency> = (0..n).map(|t| calendar.known_at(cutoff(t))).collect();
        let four_cp_weight = four_cp_weights(&data, &local, &cfg.four_cp.months);
        let (load_seen, load_mtd_peak) =
            published_load(&data, &local, lag, cfg.data_fill.system_load_mw);
        let hashprice_seen = (0..n)
            .map(|t| {
                let c = cutoff(t);
                let day_start =
                    c.div_euclid(INTERVAL_MS * INTERVALS_PER_DAY) * INTERVAL_MS * INTERVALS_PER_DAY;
                let k = data.index_at(day_start);
                if k == 0 {
                    cfg.data_fill.hashprice_usd_per_ph_day
                } else {
                    data.hashprice[k - 1]
                }
            })
            .collect();
        let (day_start, day_end) = local_days(&local);
        let da_visible_end = (0..n)
            .map(|t| data.index_at(day_ahead_published_end_ms(cutoff(t))))
            .collect();
        let products = cfg.reserves.products();
        let available_from = products.map(|p| p.available_from_day());
        let facts = (0..n)
            .map(|t| {
                let scarce = data.rt_price[t] >= cfg.reserves.scarcity_price_usd_per_mwh;
                let ms = data.interval_start_ms[t];
                IntervalFacts {
                    rt_price: data.rt_price[t],
                    reserve_price: [data.as_rrs[t], data.as_ecrs[t], data.as_nspin[t]],
                    hashprice: data.hashprice[t],
                    four_cp_weight: four_cp_weight[t],
                    deploy_start: products.map(|p| {
                        if scarce {
                            p.scarcity_start_probability
                        } else {
                            p.events_per_year / (365.0 * 96.0)
                        }
                    }),
                    eea_deploy: std::array::from_fn(|p| {
                        in_force[t].level >= products[p].eea_deploy_level
                            && local[t].day_number >= available_from[p]
                    }),
                    mean_duration_intervals: products
                        .map(|p| p.mean_duration_minutes / (INTERVAL_MS as f64 / 60_000.0)),
                    interval_start_ms: ms,
                    ctx: ProjectionContext {
                        emergency: known[t],
                    },
                    da_gate: is_da_gate_local(&local[t]),
                }
            })
            .collect();
        let mut m = Market {
            facts,
            market_features: Vec::new(),
            observer: Observer::new(&cfg),
            projector: Projector::new(&cfg),
            settler: Settler::new(&cfg),
            cfg,
            data,
            calendar,
            lag,
            local,
            in_force,
            known,
            four_cp_weight,
            load_seen,
            load_mtd_peak,
            hashprice_seen,
            da_visible_end,
            day_start,
            day_end,
        };
        let state = SiteState::initial(&m.cfg);
        let mut features = vec![0.0; n * CACHED_FEATURES];
        for (t, out) in features.chunks_exact_mut(CACHED_FEATURES).enumerate() {
            let snap = m.snapshot(t, &state);
            let (market, desk) = out.split_at_mut(MARKET_FEATURES);
            m.observer.observe_market(&snap, market);
            m.observer.observe_desk(&snap, desk);
        }
        m.market_features = features;
        m
    }

    /// The full observation of interval `t` with the site in `state`: the cached market
    /// features plus the state features, the same bits as
    /// `observer.observe(&snapshot(t, state))`.
    #[inline]
    pub fn observe_into(&self, t: usize, state: &SiteState, out: &mut [f32]) {
        let cached = &self.market_features[t * CACHED_FEATURES..(t + 1) * CACHED_FEATURES];
        out[..MARKET_FEATURES].copy_from_slice(&cached[..MARKET_FEATURES]);
        self.observer
            .observe_state(state, &mut out[MARKET_FEATURES..LEGACY_OBS_DIM]);
        out[LEGACY_OBS_DIM..OBS_DIM].copy_from_slice(&cached[MARKET_FEATURES..]);
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no intervals.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Start of interval `t`, UTC milliseconds.
    #[inline]
    pub fn interval_start_ms(&self, t: usize) -> i64 {
        self.data.interval_start_ms[t]
    }

    /// Index of the first interval starting at or after `utc_ms`.
    pub fn index_at(&self, utc_ms: i64) -> usize {
        self.data.index_at(utc_ms)
    }

    /// The settlement point the data belongs to.
    pub fn settlement_point(&self) -> &str {
        &self.data.settlement_point
    }

    /// The emergency calendar the market was built with.
    pub fn calendar(&self) -> &EmergencyCalendar {
        &self.calendar
    }

    /// The information cutoff of a decision for interval `t`, UTC milliseconds: the end of
    /// interval t - lag. Everything a snapshot holds was published by then.
    #[inline]
    pub fn cutoff_ms(&self, t: usize) -> i64 {
        self.data.interval_start_ms[t] - (self.lag as i64 - 1) * INTERVAL_MS
    }

    /// Everything, hidden facts included, for the perfect-foresight oracle and reports. A
    /// policy never reads this (see the module doc).
    pub fn hindsight(&self) -> Hindsight<'_> {
        Hindsight {
            data: &self.data,
            four_cp_weight: &self.four_cp_weight,
            in_force: &self.in_force,
        }
    }

    /// True when interval `t` is the day-ahead gate (starts 10:00 local): the decision for
    /// it also makes the reserve offer for the next operating day.
    #[inline]
    pub fn is_da_gate(&self, t: usize) -> bool {
        self.facts[t].da_gate
    }

    /// Index range `[start, end)` of the local day that holds interval `t`.
    #[inline]
    pub fn day_range(&self, t: usize) -> (usize, usize) {
        (self.day_start[t], self.day_end[t])
    }

    /// Clears a day-ahead offer made at gate interval `t` against the clearing prices of the
    /// next operating day D: in each hour of D and for each product, the offered MW are
    /// awarded when the product exists on D, is enabled, and the hour's clearing price is
    /// positive and at least the offer's minimum price. An hour's offers above
    /// `max_offer_fraction` x miner capacity are scaled down first. None when `t` is not a
    /// gate or D is not wholly in the data.
    pub fn clear_day_ahead(&self, t: usize, offer: &DayAheadOffer) -> Option<DayAwards> {
        if !self.is_da_gate(t) {
            return None;
        }
        let d_start = self.day_end[t];
        if d_start >= self.len() {
            return None;
        }
        let d_end = self.day_end[d_start];
        if self.day_start[d_start] != d_start || d_end > self.len() {
            return None;
        }
        let day_number = self.local[d_start].day_number;
        let n_hours = (d_end - d_start)
            .div_ceil(INTERVALS_PER_HOUR)
            .min(DAY_HOURS_MAX);
        let prices: Vec<[f64; RESERVES]> = (0..n_hours)
            .map(|k| self.facts[d_start + k * INTERVALS_PER_HOUR].reserve_price)
            .collect();
        let hours = clear_offer(
            offer,
            &prices,
            self.cfg.reserve_available(day_number),
            self.cfg.reserves.max_offer_fraction * self.cfg.miner_capacity_mw(),
        );
        Some(DayAwards {
            day_start: d_start,
            day_number,
            hours,
        })
    }

    /// What a decision for interval `t` may see, with the site in `state`.
    #[inline]
    pub fn snapshot(&self, t: usize, state: &SiteState) -> Snapshot<'_> {
        let d = &self.data;
        let published = t..self.da_visible_end[t].min(t + DA_HORIZON).max(t);
        let rt_end = (t + 1).saturating_sub(self.lag);
        Snapshot {
            interval_start_ms: d.interval_start_ms[t],
            as_of_ms: self.cutoff_ms(t),
            local: self.local[t],
            rt_history: &d.rt_price[rt_end.saturating_sub(RT_HISTORY)..rt_end],
            da_prices: &d.da_price[published.clone()],
            da_history: &d.da_price[rt_end.saturating_sub(DA_PAST)..rt_end],
            reserve_prices: [d.as_rrs[t], d.as_ecrs[t], d.as_nspin[t]],
            reserve_price_windows: [
                &d.as_rrs[published.clone()],
                &d.as_ecrs[published.clone()],
                &d.as_nspin[published],
            ],
            hashprice: self.hashprice_seen[t],
            system_load_mw: self.load_seen[t],
            system_load_mtd_peak_mw: self.load_mtd_peak[t],
            system_load_1h_ago_mw: self.load_seen[t.saturating_sub(4)],
            system_load_2h_ago_mw: self.load_seen[t.saturating_sub(8)],
            emergency: self.known[t],
            state: *state,
        }
    }

    /// The projection context of interval `t` (what its decision knows of emergencies).
    #[inline]
    pub fn projection_context(&self, t: usize) -> ProjectionContext {
        self.facts[t].ctx
    }

    /// Settlement inputs of interval `t` with the given deployments.
    #[inline]
    pub fn interval_market(&self, t: usize, deployed: [bool; RESERVES]) -> IntervalMarket {
        let f = &self.facts[t];
        IntervalMarket {
            rt_price: f.rt_price,
            reserve_price: f.reserve_price,
            hashprice: f.hashprice,
            four_cp_weight: f.four_cp_weight,
            deployed,
        }
    }

    /// The reserve deployments an env seeded with `seed` sees over a whole window
    /// `[start, end)`, starting with no event in progress (independent of the actions).
    /// The perfect-foresight oracle plans with them; [`crate::env::Env::step_into`] draws
    /// the same.
    pub fn deployment_draws(&self, start: usize, end: usize, seed: u64) -> Vec<[bool; RESERVES]> {
        let mut rng = Rng::new(seed);
        let mut st = DeployState::default();
        (start..end.min(self.len()))
            .map(|t| self.draw_deployments(t, &mut rng, &mut st))
            .collect()
    }

    /// The deployments in force in interval `t`: events in progress (`st`), events that
    /// start now (one uniform draw per product with no event in progress, one more for the
    /// duration of an event that starts), and the products every interval of an EEA deploys.
    #[inline]
    pub fn draw_deployments(
        &self,
        t: usize,
        rng: &mut Rng,
        st: &mut DeployState,
    ) -> [bool; RESERVES] {
        let f = &self.facts[t];
        let mut deployed = [false; RESERVES];
        for p in 0..RESERVES {
            if st.left[p] == 0 && rng.random::<f64>() < f.deploy_start[p] {
                st.left[p] = geometric(rng, f.mean_duration_intervals[p]);
            }
            if st.left[p] > 0 {
                st.left[p] -= 1;
                deployed[p] = true;
            }
            deployed[p] |= f.eea_deploy[p];
        }
        deployed
    }
}

/// The day-ahead clearing rule, hour by hour: offers above `offerable_mw` in total are
/// scaled down; then each product's MW are awarded when the product is `available`, the
/// hour's clearing price (`hour_prices`, one per local hour of the day) is positive, and it
/// reaches the offer's minimum price. The env clears with the real prices
/// ([`Market::clear_day_ahead`]); a planner predicts its awards with published ones.
pub fn clear_offer(
    offer: &DayAheadOffer,
    hour_prices: &[[f64; RESERVES]],
    available: [bool; RESERVES],
    offerable_mw: f64,
) -> Vec<[f64; RESERVES]> {
    hour_prices
        .iter()
        .enumerate()
        .map(|(k, price)| {
            let Some(h) = offer.hours.get(k) else {
                return [0.0; RESERVES];
            };
            let mw = h.mw.map(|x| if x.is_finite() { x.max(0.0) } else { 0.0 });
            let total: f64 = mw.iter().sum();
            let scale = if total > offerable_mw && total > 0.0 {
                offerable_mw / total
            } else {
                1.0
            };
            std::array::from_fn(|p| {
                let min_price = h.min_price[p];
                let clears =
                    available[p] && price[p] > 0.0 && (min_price.is_nan() || price[p] >= min_price);
                if clears { mw[p] * scale } else { 0.0 }
            })
        })
        .collect()
}

/// A duration in whole intervals, geometric on 1, 2, ... with the given mean (at least 1).
fn geometric(rng: &mut Rng, mean: f64) -> u32 {
    // rand_distr's Geometric counts the failures before the first success (0, 1, ...).
    match Geometric::new(1.0 / mean) {
        Ok(g) if mean > 1.0 => rng.sample(g).saturating_add(1).min(1_000_000) as u32,
        _ => 1,
    }
}

/// The facts of one interval a step reads, packed in one struct (hidden from policies: it
/// holds the interval's own prices).
#[derive(Debug, Clone, Copy, PartialEq)]
struct IntervalFacts {
    rt_price: f64,
    reserve_price: [f64; RESERVES],
    hashprice: f64,
    four_cp_weight: f64,
    /// Probability that a deployment event of each product starts in the interval.
    deploy_start: [f64; RESERVES],
    /// Products that an EEA in force deploys for the whole interval.
    eea_deploy: [bool; RESERVES],
    mean_duration_intervals: [f64; RESERVES],
    interval_start_ms: i64,
    ctx: ProjectionContext,
    da_gate: bool,
}

/// 4CP weights: in each configured local month, the intervals tied at the month's highest
/// system load share one peak (1/k each); all others are 0.
fn four_cp_weights(data: &MarketData, local: &[LocalTime], months: &[u8]) -> Vec<f64> {
    let n = data.len();
    let mut w = vec![0.0; n];
    let mut t = 0;
    while t < n {
        let key = local[t].month_key();
        let mut end = t;
        while end < n && local[end].month_key() == key {
            end += 1;
        }
        if months.contains(&local[t].month) {
            let peak = data.system_load_mw[t..end]
                .iter()
                .cloned()
                .fold(f64::MIN, f64::max);
            let k = data.system_load_mw[t..end]
                .iter()
                .filter(|&&x| x == peak)
                .count();
            for (i, x) in data.system_load_mw[t..end].iter().enumerate() {
                if *x == peak {
                    w[t + i] = 1.0 / k as f64;
                }
            }
        }
        t = end;
    }
    w
}

/// Last published hourly load and the local month's highest published load so far, for a
/// decision for each interval. The load of an hour is published when the hour ends, so the
/// decision sees the last hour that ended by its information cutoff (the end of t - lag).
fn published_load(
    data: &MarketData,
    local: &[LocalTime],
    lag: usize,
    default: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = data.len();
    let mut seen = vec![default; n];
    let mut peak = vec![default; n];
    let mut month_peak: Option<(i32, f64)> = None;
    for t in 0..n {
        let cutoff = data.interval_start_ms[t] - (lag as i64 - 1) * INTERVAL_MS;
        let hour_start_ms = cutoff.div_euclid(INTERVAL_MS * 4) * INTERVAL_MS * 4;
        let k = data.index_at(hour_start_ms);
        if k > 0 {
            seen[t] = data.system_load_mw[k - 1];
        }
        let key = local[t].month_key();
        // The published hour counts toward this month's peak when it lies in this month.
        let in_month = k > 0 && local[k - 1].month_key() == key;
        month_peak = match month_peak {
            Some((m, p)) if m == key => Some((m, if in_month { p.max(seen[t]) } else { p })),
            _ => {
                if in_month {
                    Some((key, seen[t]))
                } else {
                    None
                }
            }
        };
        peak[t] = month_peak.map(|(_, p)| p).unwrap_or(seen[t]);
    }
    (seen, peak)
}

/// For each interval, the index range of its local day: (first interval, exclusive end).
fn local_days(local: &[LocalTime]) -> (Vec<usize>, Vec<usize>) {
    let n = local.len();
    let mut start = vec![0; n];
    let mut end = vec![n; n];
    for t in 1..n {
        start[t] = if local[t].day_number == local[t - 1].day_number {
            start[t - 1]
        } else {
            t
        };
    }
    for t in (0..n.saturating_sub(1)).rev() {
        end[t] = if local[t + 1].day_number == local[t].day_number {
            end[t + 1]
        } else {
            t + 1
        };
    }
    (start, end)
}

/// The exclusive end (UTC milliseconds) of the day-ahead prices published by `as_of_ms`:
/// the end of its local day, or of the next local day once 13:30 local has passed. The one
/// rule for the env's snapshots and the server's refusal of unpublished values.
pub fn day_ahead_published_end_ms(as_of_ms: i64) -> i64 {
    let l = local_time(as_of_ms);
    let next_midnight = |date: chrono::NaiveDate| {
        date.succ_opt()
            .and_then(local_midnight_utc_ms)
            .unwrap_or(i64::MAX)
    };
    let today = chrono::NaiveDate::from_ymd_opt(l.year, l.month as u32, l.day as u32)
        .expect("a local calendar date");
    if l.minute_of_day() >= DA_PUBLISH_MINUTE {
        today.succ_opt().map(next_midnight).unwrap_or(i64::MAX)
    } else {
        next_midnight(today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::HourOffer;

    #[test]
    fn clearing_awards_hours_whose_price_reaches_the_minimum() {
        // Two hours; RRS offered 40 MW at $5 minimum, ECRS 30 MW at any price.
        let hour = HourOffer {
            mw: [40.0, 30.0, 0.0],
            min_price: [5.0, 0.0, 0.0],
        };
        let offer = DayAheadOffer {
            hours: vec![hour; 2],
        };
        let prices = [[4.99, 2.0, 1.0], [5.0, 0.0, 1.0]];
        let a = clear_offer(&offer, &prices, [true; RESERVES], 65.0);
        // Hour 0: RRS below its minimum; 70 MW offered > 65 offerable scales ECRS to
        // 30 x 65/70 first. Hour 1: RRS clears (scaled), ECRS has no positive price.
        let s = 65.0 / 70.0;
        assert_eq!(a[0], [0.0, 30.0 * s, 0.0]);
        assert_eq!(a[1], [40.0 * s, 0.0, 0.0]);
        // A product that does not exist yet (ECRS before June 2023) is never awarded.
        let a = clear_offer(&offer, &prices, [true, false, true], 100.0);
        assert_eq!(a[0], [0.0, 0.0, 0.0]);
        assert_eq!(a[1], [40.0, 0.0, 0.0]);
        // Hours beyond the offer offer nothing.
        assert_eq!(
            clear_offer(&offer, &[[9.0; 3]; 3], [true; 3], 100.0)[2],
            [0.0; 3]
        );
    }

    #[test]
    fn geometric_durations_have_the_configured_mean() {
        let mut rng = Rng::new(5);
        let n = 20_000;
        let mean = (0..n)
            .map(|_| geometric(&mut rng, 16.0) as f64)
            .sum::<f64>()
            / n as f64;
        assert!((mean - 16.0).abs() < 0.5, "{mean}");
        assert_eq!(geometric(&mut rng, 1.0), 1);
    }

    #[test]
    fn day_ahead_results_publish_at_half_past_one() {
        // 2024-07-15 13:29 CDT = 18:29 UTC: only today's prices (to midnight CDT = 05:00 UTC
        // on the 16th); at 13:30 tomorrow's too (to 05:00 UTC on the 17th).
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            day_ahead_published_end_ms(at("2024-07-15T18:29:00Z")),
            at("2024-07-16T05:00:00Z")
        );
        assert_eq!(
            day_ahead_published_end_ms(at("2024-07-15T18:30:00Z")),
            at("2024-07-17T05:00:00Z")
        );
        // Across the end of daylight saving time (3 Nov 2024): the 25-hour day ends at
        // 06:00 UTC on the 4th.
        assert_eq!(
            day_ahead_published_end_ms(at("2024-11-02T19:00:00Z")),
            at("2024-11-04T06:00:00Z")
        );
    }
}
