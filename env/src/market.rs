//! A [`Market`]: market data joined with the site config and everything derived from them
//! once (US/Central calendar, emergencies, 4CP peaks, what is visible when), so that a step
//! of the env is only lookups.
//!
//! The visibility rules of DESIGN.md live here, each in one function:
//! - real-time prices: intervals before t;
//! - system load: hours that ended before t's hour began ([`Market::load_seen`]);
//! - hashprice: the last complete UTC day;
//! - day-ahead energy and reserve prices of local day D: published at 13:30 local on D-1.

use crate::config::{RESERVES, SiteConfig};
use crate::data::MarketData;
use crate::obs::{DA_HORIZON, MARKET_FEATURES, Observer, RT_HISTORY, Snapshot};
use crate::safety::{ProjectionContext, Projector};
use crate::settlement::{IntervalMarket, Settler};
use crate::site::SiteState;
use crate::time::{INTERVAL_MS, INTERVALS_PER_HOUR, LocalTime, local_time};

/// Minute of the local day at which day-ahead prices for the next operating day are
/// published (13:30 US/Central). Decisions for intervals starting at or after it see them.
pub const DA_PUBLISH_MINUTE: u32 = 13 * 60 + 30;

/// Intervals in one UTC day.
const INTERVALS_PER_DAY: i64 = 96;

/// Market data, site config and the per-interval facts derived from them.
#[derive(Debug, Clone)]
pub struct Market {
    /// The site.
    pub cfg: SiteConfig,
    /// The complete market data.
    pub data: MarketData,
    /// US/Central calendar of each interval start.
    pub local: Vec<LocalTime>,
    /// Emergency (EEA) in force at each interval, from information visible at its start.
    pub emergency: Vec<bool>,
    /// Share of a 4CP peak billed on each interval (hidden from policies).
    pub four_cp_weight: Vec<f64>,
    /// Last published system load at each interval's start (MW).
    pub load_seen: Vec<f64>,
    /// Highest published system load of the local month so far (MW).
    pub load_mtd_peak: Vec<f64>,
    /// Hashprice of the last complete UTC day at each interval's start.
    pub hashprice_seen: Vec<f64>,
    /// Exclusive end of the day-ahead prices published at each interval's start.
    pub da_visible_end: Vec<usize>,
    /// What a step reads of each interval, packed together so that a step touches one or
    /// two cache lines of it (hidden from policies: it holds the interval's own price).
    pub facts: Vec<IntervalFacts>,
    /// Market features of each interval ([`Observer::observe_market`] of its snapshot),
    /// `len() x MARKET_FEATURES`, computed once: they do not depend on the site state.
    pub market_features: Vec<f32>,
    /// The observation builder of this site.
    pub observer: Observer,
    /// The safety projection of this site.
    pub projector: Projector,
    /// The settlement of this site.
    pub settler: Settler,
}

impl Market {
    /// Derives everything from complete data and a validated config.
    pub fn new(data: MarketData, cfg: SiteConfig) -> Market {
        let n = data.len();
        let local: Vec<LocalTime> = data
            .interval_start_ms
            .iter()
            .map(|&t| local_time(t))
            .collect();
        let em_days = cfg.emergency_day_ranges();
        let emergency: Vec<bool> = (0..n)
            .map(|t| {
                let by_day = em_days
                    .iter()
                    .any(|&(s, e)| (s..e).contains(&local[t].day_number));
                let by_price = t > 0
                    && data.rt_price[t - 1]
                        >= cfg.emergency.price_fraction_of_cap * cfg.price_cap(local[t].year);
                by_day || by_price
            })
            .collect();
        let four_cp_weight = four_cp_weights(&data, &local, &cfg.four_cp.months);
        let (load_seen, load_mtd_peak) =
            published_load(&data, &local, cfg.data_fill.system_load_mw);
        let hashprice_seen = (0..n)
            .map(|t| {
                let day_start = data.interval_start_ms[t]
                    .div_euclid(INTERVAL_MS * INTERVALS_PER_DAY)
                    * INTERVAL_MS
                    * INTERVALS_PER_DAY;
                let k = data.index_at(day_start);
                if k == 0 {
                    cfg.data_fill.hashprice_usd_per_ph_day
                } else {
                    data.hashprice[k - 1]
                }
            })
            .collect();
        let da_visible_end = day_ahead_visible_end(&local);
        let facts = (0..n)
            .map(|t| IntervalFacts {
                rt_price: data.rt_price[t],
                reserve_price: [data.as_rrs[t], data.as_ecrs[t], data.as_nspin[t]],
                hashprice: data.hashprice[t],
                four_cp_weight: four_cp_weight[t],
                deploy_probability: deploy_probability(&cfg, data.rt_price[t], emergency[t]),
                interval_start_ms: data.interval_start_ms[t],
                ctx: ProjectionContext {
                    emergency: emergency[t],
                    hour_start: data.interval_start_ms[t].div_euclid(INTERVAL_MS)
                        % INTERVALS_PER_HOUR as i64
                        == 0,
                },
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
            local,
            emergency,
            four_cp_weight,
            load_seen,
            load_mtd_peak,
            hashprice_seen,
            da_visible_end,
        };
        let state = SiteState::initial(&m.cfg);
        let mut features = vec![0.0; n * MARKET_FEATURES];
        for (t, out) in features.chunks_exact_mut(MARKET_FEATURES).enumerate() {
            m.observer.observe_market(&m.snapshot(t, &state), out);
        }
        m.market_features = features;
        m
    }

    /// The full observation of interval `t` with the site in `state`: the cached market
    /// features plus the state features, the same bits as
    /// `observer.observe(&snapshot(t, state))`.
    #[inline]
    pub fn observe_into(&self, t: usize, state: &SiteState, out: &mut [f32]) {
        out[..MARKET_FEATURES]
            .copy_from_slice(&self.market_features[t * MARKET_FEATURES..(t + 1) * MARKET_FEATURES]);
        self.observer.observe_state(
            state,
            self.facts[t].interval_start_ms,
            &mut out[MARKET_FEATURES..],
        );
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no intervals.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// True when interval `t` is the first of an hour (reserve offers are made).
    #[inline]
    pub fn hour_start(&self, t: usize) -> bool {
        self.facts[t].ctx.hour_start
    }

    /// What a decision for interval `t` may see, with the site in `state`.
    #[inline]
    pub fn snapshot(&self, t: usize, state: &SiteState) -> Snapshot<'_> {
        let d = &self.data;
        let published = t..self.da_visible_end[t].min(t + DA_HORIZON);
        Snapshot {
            interval_start_ms: d.interval_start_ms[t],
            local: self.local[t],
            rt_history: &d.rt_price[t.saturating_sub(RT_HISTORY)..t],
            da_prices: &d.da_price[published.clone()],
            reserve_prices: [d.as_rrs[t], d.as_ecrs[t], d.as_nspin[t]],
            reserve_price_windows: [
                &d.as_rrs[published.clone()],
                &d.as_ecrs[published.clone()],
                &d.as_nspin[published],
            ],
            hashprice: self.hashprice_seen[t],
            system_load_mw: self.load_seen[t],
            system_load_mtd_peak_mw: self.load_mtd_peak[t],
            emergency: self.emergency[t],
            state: *state,
        }
    }

    /// The projection context of interval `t`.
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

    /// The reserve deployments an env seeded with `seed` draws over a whole window
    /// `[start, end)`: three uniform draws per interval, independent of the actions. The
    /// perfect-foresight oracle plans with them; [`crate::env::Env::step_into`] draws the same.
    pub fn deployment_draws(&self, start: usize, end: usize, seed: u64) -> Vec<[bool; RESERVES]> {
        let mut rng = crate::rng::Rng::new(seed);
        (start..end.min(self.len()))
            .map(|t| self.draw_deployments(t, &mut rng))
            .collect()
    }

    /// Draws the deployments of interval `t` from `rng` (always three draws).
    #[inline]
    pub fn draw_deployments(&self, t: usize, rng: &mut crate::rng::Rng) -> [bool; RESERVES] {
        let p = self.facts[t].deploy_probability;
        let mut deployed = [false; RESERVES];
        for (d, prob) in deployed.iter_mut().zip(p) {
            *d = rng.uniform() < prob;
        }
        deployed
    }
}

/// The facts of one interval a step reads, packed in one struct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalFacts {
    /// Real-time price ($/MWh).
    pub rt_price: f64,
    /// Reserve prices of the hour, RRS, ECRS, Non-Spin ($/MW per hour).
    pub reserve_price: [f64; RESERVES],
    /// Hashprice of the interval ($/PH/day).
    pub hashprice: f64,
    /// Share of a 4CP peak billed on the interval.
    pub four_cp_weight: f64,
    /// Deployment probability per reserve product.
    pub deploy_probability: [f64; RESERVES],
    /// Interval start, UTC milliseconds.
    pub interval_start_ms: i64,
    /// Emergency and hour-start flags for the projection.
    pub ctx: ProjectionContext,
}

/// Probability that each reserve product is deployed in an interval with real-time price
/// `rt` (1 in an emergency: ERCOT deploys reserves before it sheds load).
fn deploy_probability(cfg: &SiteConfig, rt: f64, emergency: bool) -> [f64; RESERVES] {
    if emergency {
        return [1.0; RESERVES];
    }
    let r = &cfg.reserves;
    let scarce = rt >= r.scarcity_price_usd_per_mwh;
    r.products().map(|p| {
        if scarce {
            p.deploy_probability_scarcity
        } else {
            p.deploy_probability
        }
    })
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

/// Last published hourly load and the local month's highest published load so far, at each
/// interval's start. The load of an hour is published when the hour ends, so the interval
/// `t` sees the hour that ended at the start of `t`'s hour.
fn published_load(data: &MarketData, local: &[LocalTime], default: f64) -> (Vec<f64>, Vec<f64>) {
    let n = data.len();
    let mut seen = vec![default; n];
    let mut peak = vec![default; n];
    let mut month_peak: Option<(i32, f64)> = None;
    for t in 0..n {
        let hour_start_ms = data.interval_start_ms[t].div_euclid(INTERVAL_MS * 4) * INTERVAL_MS * 4;
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

/// For each interval, the exclusive end of published day-ahead prices: the end of its
/// local day, or of the next local day once 13:30 local has passed.
fn day_ahead_visible_end(local: &[LocalTime]) -> Vec<usize> {
    let n = local.len();
    let mut day_end = vec![n; n];
    let mut end = n;
    for t in (0..n).rev() {
        if t + 1 < n && local[t + 1].day_number != local[t].day_number {
            end = t + 1;
        }
        day_end[t] = end;
    }
    (0..n)
        .map(|t| {
            if local[t].minute_of_day() >= DA_PUBLISH_MINUTE {
                let e = day_end[t];
                if e < n { day_end[e] } else { n }
            } else {
                day_end[t]
            }
        })
        .collect()
}
