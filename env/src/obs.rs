//! Observation features: one function, [`Observer::observe`], from a plain [`Snapshot`] of
//! what is visible at decision time. The env builds snapshots from its data
//! ([`crate::market::Market::snapshot`]); the live server builds them from a request.
//! Both get the same features, to the bit.

use crate::config::{RESERVES, SiteConfig, TRANCHES};
use crate::emergency::Emergency;
use crate::site::SiteState;
use crate::time::LocalTime;
use crate::time::is_da_gate_local;

/// Real-time prices a snapshot carries (24 hours of intervals).
pub const RT_HISTORY: usize = 96;
/// Day-ahead prices a snapshot carries at most, from the decision interval on (24 hours).
pub const DA_HORIZON: usize = 96;
/// Scale of system load features (MW).
pub const LOAD_SCALE_MW: f64 = 80_000.0;

/// Number of observation features.
pub const OBS_DIM: usize = 43;
/// Features `0..MARKET_FEATURES` depend only on the market snapshot (not on the site state);
/// the env computes them once per interval with [`Observer::observe_market`].
pub const MARKET_FEATURES: usize = 35;

/// Feature names, in order. Prices are in $100/MWh unless the name says `sq` (squashed:
/// x / (|x| + 100) for energy prices, x / (|x| + 50) for reserve prices), which keeps
/// spikes to the cap in a small range. `rt_last` is the latest price a decision knows (of
/// interval t - lag); `emergency` is the EEA level known at decision time over 3;
/// `da_gate` is 1 at the interval whose decision also makes the day-ahead reserve offer;
/// `award_*` are the reserve awards in force as shares of miner capacity.
pub const OBS_NAMES: [&str; OBS_DIM] = [
    "rt_last",
    "rt_last_sq",
    "rt_mean_1h",
    "rt_mean_4h",
    "rt_mean_24h",
    "rt_max_24h_sq",
    "rt_min_24h",
    "rt_std_4h",
    "rt_last_over_cap",
    "da_now",
    "da_mean_next_4h",
    "da_max_published_sq",
    "da_now_minus_rt_last",
    "rrs_price_sq",
    "ecrs_price_sq",
    "nspin_price_sq",
    "hashprice",
    "break_even_0",
    "break_even_1",
    "break_even_2",
    "margin_0",
    "margin_1",
    "margin_2",
    "system_load",
    "load_over_mtd_peak",
    "four_cp_month",
    "weekday",
    "peak_window",
    "hour_sin",
    "hour_cos",
    "season_sin",
    "season_cos",
    "emergency",
    "emergency_load_shed",
    "da_gate",
    "tranche_0_on",
    "tranche_1_on",
    "tranche_2_on",
    "training_on",
    "training_hold",
    "award_rrs",
    "award_ecrs",
    "award_nspin",
];

/// Whether feature `i` ([`OBS_NAMES`] order) is a market price or moves with one (real-time,
/// day-ahead and reserve prices, and the miners' margins over the price). A distribution
/// check leaves these out: every price the market publishes is valid
/// ([`crate::price`]), and a spike far from a calm year's mean is an input the policy
/// must decide on, not a broken one.
pub fn is_price_feature(i: usize) -> bool {
    i < 16 || (20..23).contains(&i)
}

/// Everything a decision for one interval may see. Plain data: the env fills it from
/// history, the server from a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot<'a> {
    /// Start of the interval decided for, UTC milliseconds.
    pub interval_start_ms: i64,
    /// The information cutoff, UTC milliseconds: everything here was published by then
    /// (a request's `snapshot_time_utc`).
    pub as_of_ms: i64,
    /// Its US/Central calendar.
    pub local: LocalTime,
    /// Published real-time prices, oldest first, the last one of interval t - lag (at most
    /// [`RT_HISTORY`] are used; may be empty).
    pub rt_history: &'a [f64],
    /// Published day-ahead prices of this interval and the ones after it (may be empty).
    pub da_prices: &'a [f64],
    /// Reserve prices of the current hour: RRS, ECRS, Non-Spin ($/MW per hour).
    pub reserve_prices: [f64; RESERVES],
    /// Published reserve prices per product from this interval on, aligned with
    /// `da_prices` (same length); planners use them, the features use `reserve_prices`.
    pub reserve_price_windows: [&'a [f64]; RESERVES],
    /// Hashprice of the last complete day ($/PH/day).
    pub hashprice: f64,
    /// Last published hourly system load (MW).
    pub system_load_mw: f64,
    /// Highest published system load of the local month so far (MW).
    pub system_load_mtd_peak_mw: f64,
    /// The emergency notice known at decision time.
    pub emergency: Emergency,
    /// The site's state.
    pub state: SiteState,
}

/// A [`Snapshot`] that owns its data, to keep it or move it to another thread (the
/// server plans a day-ahead offer on one). [`SnapshotBuf::view`] gives back the snapshot
/// it was made from, field for field.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotBuf {
    interval_start_ms: i64,
    as_of_ms: i64,
    local: LocalTime,
    rt_history: Vec<f64>,
    da_prices: Vec<f64>,
    reserve_prices: [f64; RESERVES],
    reserve_price_windows: [Vec<f64>; RESERVES],
    hashprice: f64,
    system_load_mw: f64,
    system_load_mtd_peak_mw: f64,
    emergency: Emergency,
    state: SiteState,
}

impl SnapshotBuf {
    /// Copies `snap`.
    pub fn of(snap: &Snapshot<'_>) -> SnapshotBuf {
        SnapshotBuf {
            interval_start_ms: snap.interval_start_ms,
            as_of_ms: snap.as_of_ms,
            local: snap.local,
            rt_history: snap.rt_history.to_vec(),
            da_prices: snap.da_prices.to_vec(),
            reserve_prices: snap.reserve_prices,
            reserve_price_windows: snap.reserve_price_windows.map(<[f64]>::to_vec),
            hashprice: snap.hashprice,
            system_load_mw: snap.system_load_mw,
            system_load_mtd_peak_mw: snap.system_load_mtd_peak_mw,
            emergency: snap.emergency,
            state: snap.state,
        }
    }

    /// The snapshot, borrowing this copy's data.
    pub fn view(&self) -> Snapshot<'_> {
        Snapshot {
            interval_start_ms: self.interval_start_ms,
            as_of_ms: self.as_of_ms,
            local: self.local,
            rt_history: &self.rt_history,
            da_prices: &self.da_prices,
            reserve_prices: self.reserve_prices,
            reserve_price_windows: [
                &self.reserve_price_windows[0],
                &self.reserve_price_windows[1],
                &self.reserve_price_windows[2],
            ],
            hashprice: self.hashprice,
            system_load_mw: self.system_load_mw,
            system_load_mtd_peak_mw: self.system_load_mtd_peak_mw,
            emergency: self.emergency,
            state: self.state,
        }
    }
}

/// Builds observation vectors for one site.
#[derive(Debug, Clone, PartialEq)]
pub struct Observer {
    fee: f64,
    efficiency: [f64; TRANCHES],
    capacity: [f64; TRANCHES],
    training_mw: f64,
    min_on: f64,
    caps: Vec<(i32, f64)>,
    four_cp_months: Vec<u8>,
    /// sin and cos of the time of day, by minute of the day.
    day_table: Vec<[f32; 2]>,
    /// sin and cos of the season, by day of the year (1 = index 0).
    season_table: Vec<[f32; 2]>,
}

/// Sum, min and max of a slice, in four lanes so that the loop vectorises. The summation
/// order is fixed, so results are the same bits on every call.
struct LaneStats {
    sum: f64,
    min: f64,
    max: f64,
}

#[inline]
fn lane_stats(xs: &[f64]) -> LaneStats {
    let mut sum = [0.0f64; 4];
    let mut min = [f64::INFINITY; 4];
    let mut max = [f64::NEG_INFINITY; 4];
    let chunks = xs.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        let c: &[f64; 4] = c.try_into().expect("chunks of 4");
        for k in 0..4 {
            sum[k] += c[k];
            min[k] = if c[k] < min[k] { c[k] } else { min[k] };
            max[k] = if c[k] > max[k] { c[k] } else { max[k] };
        }
    }
    for (k, &x) in rest.iter().enumerate() {
        sum[k] += x;
        min[k] = if x < min[k] { x } else { min[k] };
        max[k] = if x > max[k] { x } else { max[k] };
    }
    LaneStats {
        sum: (sum[0] + sum[1]) + (sum[2] + sum[3]),
        min: min[0].min(min[1]).min(min[2].min(min[3])),
        max: max[0].max(max[1]).max(max[2].max(max[3])),
    }
}

/// Squashes a price into (-1, 1): x / (|x| + scale). Monotone, cheap, and spikes to the cap
/// stay distinguishable from ordinary prices.
#[inline]
fn squash(x: f64, scale: f64) -> f64 {
    x / (x.abs() + scale)
}

impl Observer {
    /// Observation constants of a validated site config.
    pub fn new(cfg: &SiteConfig) -> Observer {
        let mut efficiency = [1.0; TRANCHES];
        let mut capacity = [0.0; TRANCHES];
        for (i, t) in cfg.mining.tranches.iter().enumerate().take(TRANCHES) {
            efficiency[i] = t.efficiency_j_per_th;
            capacity[i] = t.capacity_mw;
        }
        Observer {
            fee: cfg.mining.pool_fee,
            efficiency,
            capacity,
            training_mw: cfg.ai.training_mw,
            min_on: cfg.ai.training_min_on_intervals.max(1) as f64,
            caps: cfg
                .grid
                .price_caps
                .iter()
                .map(|c| (c.from_year, c.cap_usd_per_mwh))
                .collect(),
            four_cp_months: cfg.four_cp.months.clone(),
            day_table: (0..1440)
                .map(|m| {
                    let a = std::f64::consts::TAU * m as f64 / 1440.0;
                    [a.sin() as f32, a.cos() as f32]
                })
                .collect(),
            season_table: (0..366)
                .map(|d| {
                    let a = std::f64::consts::TAU * d as f64 / 365.25;
                    [a.sin() as f32, a.cos() as f32]
                })
                .collect(),
        }
    }

    fn cap(&self, year: i32) -> f64 {
        let mut cap = self.caps.first().map(|c| c.1).unwrap_or(f64::INFINITY);
        for &(y, c) in &self.caps {
            if y <= year {
                cap = c;
            }
        }
        cap
    }

    /// Writes the [`OBS_NAMES`] features of `s` into `out` (length [`OBS_DIM`]).
    pub fn observe(&self, s: &Snapshot<'_>, out: &mut [f32]) {
        self.observe_market(s, &mut out[..MARKET_FEATURES]);
        self.observe_state(&s.state, &mut out[MARKET_FEATURES..OBS_DIM]);
    }

    /// Writes the market features (`0..MARKET_FEATURES`) of `s` into `out`.
    pub fn observe_market(&self, s: &Snapshot<'_>, out: &mut [f32]) {
        let out: &mut [f32; MARKET_FEATURES] = (&mut out[..MARKET_FEATURES])
            .try_into()
            .expect("MARKET_FEATURES slice");
        let hist = &s.rt_history[s.rt_history.len().saturating_sub(RT_HISTORY)..];
        let da_now = s.da_prices.first().copied();
        // With no history yet (first interval of the data), the day-ahead price stands in.
        let last = hist.last().copied().or(da_now).unwrap_or(0.0);
        let mean_of = |w: &[f64]| {
            if w.is_empty() {
                last
            } else {
                w.iter().sum::<f64>() / w.len() as f64
            }
        };
        let h24 = lane_stats(hist);
        let mean24 = if hist.is_empty() {
            last
        } else {
            h24.sum / hist.len() as f64
        };
        let (max24, min24) = (h24.max.max(last), h24.min.min(last));
        let w4 = &hist[hist.len().saturating_sub(16)..];
        let mean4 = mean_of(w4);
        let mut var4 = 0.0;
        for x in w4 {
            var4 += (x - mean4) * (x - mean4);
        }
        let std4 = if w4.is_empty() {
            0.0
        } else {
            (var4 / w4.len() as f64).sqrt()
        };
        let da_now = da_now.unwrap_or(last);
        let da_mean4 = if s.da_prices.is_empty() {
            da_now
        } else {
            mean_of(&s.da_prices[..s.da_prices.len().min(16)])
        };
        let da_max = lane_stats(s.da_prices).max.max(da_now);
        let cap = self.cap(s.local.year);

        out[0] = (last / 100.0) as f32;
        out[1] = squash(last, 100.0) as f32;
        out[2] = (mean_of(&hist[hist.len().saturating_sub(4)..]) / 100.0) as f32;
        out[3] = (mean4 / 100.0) as f32;
        out[4] = (mean24 / 100.0) as f32;
        out[5] = squash(max24, 100.0) as f32;
        out[6] = (min24 / 100.0) as f32;
        out[7] = (std4 / 100.0) as f32;
        out[8] = (last / cap) as f32;
        out[9] = (da_now / 100.0) as f32;
        out[10] = (da_mean4 / 100.0) as f32;
        out[11] = squash(da_max, 100.0) as f32;
        out[12] = ((da_now - last) / 100.0) as f32;
        for p in 0..RESERVES {
            out[13 + p] = squash(s.reserve_prices[p], 50.0) as f32;
        }
        out[16] = (s.hashprice / 100.0) as f32;
        for i in 0..TRANCHES {
            let be = s.hashprice * (1.0 - self.fee) / (0.024 * self.efficiency[i]);
            out[17 + i] = (be / 100.0) as f32;
            out[20 + i] = ((be - last) / 100.0) as f32;
        }
        out[23] = (s.system_load_mw / LOAD_SCALE_MW) as f32;
        out[24] = if s.system_load_mtd_peak_mw > 0.0 {
            (s.system_load_mw / s.system_load_mtd_peak_mw) as f32
        } else {
            1.0
        };
        let l = &s.local;
        let cp_month = self.four_cp_months.contains(&l.month);
        out[25] = cp_month as u8 as f32;
        out[26] = l.is_weekday() as u8 as f32;
        out[27] = (cp_month && l.is_weekday() && (15..18).contains(&l.hour)) as u8 as f32;
        let day = &self.day_table[(l.minute_of_day() as usize).min(1439)];
        out[28] = day[0];
        out[29] = day[1];
        let season = &self.season_table[(l.ordinal as usize).clamp(1, 366) - 1];
        out[30] = season[0];
        out[31] = season[1];
        out[32] = s.emergency.level as f32 / 3.0;
        out[33] = s.emergency.load_shed as u8 as f32;
        out[34] = is_da_gate_local(l) as u8 as f32;
    }

    /// Writes the site-state features (`MARKET_FEATURES..OBS_DIM`) into `out`, which holds
    /// `OBS_DIM - MARKET_FEATURES` values.
    #[inline]
    pub fn observe_state(&self, st: &SiteState, out: &mut [f32]) {
        const N: usize = OBS_DIM - MARKET_FEATURES;
        let out: &mut [f32; N] = (&mut out[..N]).try_into().expect("state feature slice");
        for i in 0..TRANCHES {
            out[i] = if self.capacity[i] > 0.0 {
                (st.tranche_mw[i] / self.capacity[i]) as f32
            } else {
                0.0
            };
        }
        out[3] = if self.training_mw > 0.0 {
            (st.training_mw / self.training_mw) as f32
        } else {
            0.0
        };
        out[4] = (st.training_hold as f64 / self.min_on) as f32;
        let miner_cap: f64 = self.capacity.iter().sum();
        for p in 0..RESERVES {
            out[5 + p] = if miner_cap > 0.0 {
                (st.award_mw[p] / miner_cap) as f32
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_features_are_the_price_named_ones() {
        for (i, name) in OBS_NAMES.iter().enumerate() {
            let by_name = name.starts_with("rt_")
                || name.starts_with("da_") && *name != "da_gate"
                || name.ends_with("_price_sq")
                || name.starts_with("margin_");
            assert_eq!(is_price_feature(i), by_name, "{name}");
        }
    }
}
