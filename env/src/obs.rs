//! Observation features: one function, [`Observer::observe`], from a plain [`Snapshot`] of
//! what is visible at decision time. The env builds snapshots from its data
//! ([`crate::market::Market::snapshot`]); the live server builds them from a request.
//! Both get the same features, to the bit.

use crate::config::{RESERVES, SiteConfig, TRANCHES};
use crate::site::SiteState;
pub use crate::snapshot::{Snapshot, SnapshotBuf};
use crate::time::is_da_gate_local;

/// Real-time prices a snapshot carries (24 hours of intervals).
pub const RT_HISTORY: usize = 96;
/// Day-ahead prices a snapshot carries at most, from the decision interval on (24 hours).
pub const DA_HORIZON: usize = 96;
/// Day-ahead prices of past intervals a snapshot carries at most (4 hours, ending with the
/// last real-time price's interval): the spreads of real time over day-ahead.
pub const DA_PAST: usize = 16;
/// Hours of past real-time minus day-ahead spreads the observation carries.
pub const SPREAD_HOURS: usize = DA_PAST / 4;
/// Scale of system load features (MW).
pub const LOAD_SCALE_MW: f64 = 80_000.0;

/// Number of observation features.
pub const OBS_DIM: usize = 96;
/// Features `0..MARKET_FEATURES` depend only on the market snapshot (not on the site state);
/// the env computes them once per interval with [`Observer::observe_market`].
pub const MARKET_FEATURES: usize = 35;
/// The observation before the desk's features were added (2026-12-07): features
/// `0..LEGACY_OBS_DIM` are unchanged, so a checkpoint of that layout reads the first
/// `LEGACY_OBS_DIM` features of this one.
pub const LEGACY_OBS_DIM: usize = 43;
/// The observation with the desk's first features (2026-12-07, before the 4CP chances and
/// the hourly day-ahead curve): a checkpoint of that layout reads the first
/// `DESK_V1_OBS_DIM` features of this one.
pub const DESK_V1_OBS_DIM: usize = 64;
/// Hours of the day-ahead curve the observation carries hour by hour (`da_h1`..): the
/// rest of today and as much of tomorrow as the 24 hours a snapshot carries.
pub const DA_CURVE_HOURS: usize = 24;
/// Features `LEGACY_OBS_DIM..OBS_DIM` (what a desk sees besides: the learned real-time
/// forecast and 4CP chances, the day-ahead curve, the day's reserve prices, the calendar of
/// the month, the past spreads of real time over day-ahead) also
/// depend only on the market snapshot; [`Observer::observe_desk`] writes them and the env
/// computes them once per interval too.
pub const DESK_FEATURES: usize = OBS_DIM - LEGACY_OBS_DIM;

/// Feature names, in order. Prices are in $100/MWh unless the name says `sq` (squashed:
/// x / (|x| + 100) for energy prices, x / (|x| + 50) for reserve prices), which keeps
/// spikes to the cap in a small range. `rt_last` is the latest price a decision knows (of
/// interval t - lag); `emergency` is the EEA level known at decision time over 3;
/// `da_gate` is 1 at the interval whose decision also makes the day-ahead reserve offer;
/// `award_*` are the reserve awards in force as shares of miner capacity. From
/// `rt_fc_h1_q10_sq` on (the desk's features): `rt_fc_hK_qQ_sq` is the shipped learned
/// forecast's quantile Q % of the mean real-time price of hour K from now
/// ([`crate::learned`]); `da_rest_today_mean` the mean published day-ahead price of the rest
/// of the local day; `da_tomorrow_mean` tomorrow's, with `tomorrow_da_published` 1 once it
/// is published (0 and the price 0 before); `*_rest_price_sq` each reserve product's mean
/// published price of the rest of the day; `days_left` the whole days left in the month
/// over 31; `load_margin_gw` the last published load minus the month's peak so far, in
/// 10 GW; `holiday` 1 on a NERC holiday (observed day). From `fourcp_p_hour` on (the desk's
/// second features): the shipped per-hour 4CP model's chance ([`crate::learned`]) that the
/// decision's local hour holds the month's 4CP interval (0 outside hours 12-20), that the
/// next hour does, the highest chance of the hours of today not yet begun, and that today
/// holds it; `da_hK` the mean published day-ahead price of hour K from now ($100/MWh; an
/// hour not published reads the hour before it, the first the last real-time price);
/// `rt_minus_da_hK_sq` the mean real-time price minus the day-ahead price of the K-th
/// hour of published real-time prices back (the intervals t-lag-4K+1..t-lag), squashed,
/// 0 where the snapshot has no day-ahead prices of those intervals.
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
    "rt_fc_h1_q10_sq",
    "rt_fc_h1_q50_sq",
    "rt_fc_h1_q90_sq",
    "rt_fc_h2_q10_sq",
    "rt_fc_h2_q50_sq",
    "rt_fc_h2_q90_sq",
    "rt_fc_h3_q10_sq",
    "rt_fc_h3_q50_sq",
    "rt_fc_h3_q90_sq",
    "rt_fc_h4_q10_sq",
    "rt_fc_h4_q50_sq",
    "rt_fc_h4_q90_sq",
    "da_rest_today_mean",
    "da_tomorrow_mean",
    "tomorrow_da_published",
    "rrs_rest_price_sq",
    "ecrs_rest_price_sq",
    "nspin_rest_price_sq",
    "days_left",
    "load_margin_gw",
    "holiday",
    "fourcp_p_hour",
    "fourcp_p_next_hour",
    "fourcp_p_rest_max",
    "fourcp_p_day",
    "da_h1",
    "da_h2",
    "da_h3",
    "da_h4",
    "da_h5",
    "da_h6",
    "da_h7",
    "da_h8",
    "da_h9",
    "da_h10",
    "da_h11",
    "da_h12",
    "da_h13",
    "da_h14",
    "da_h15",
    "da_h16",
    "da_h17",
    "da_h18",
    "da_h19",
    "da_h20",
    "da_h21",
    "da_h22",
    "da_h23",
    "da_h24",
    "rt_minus_da_h1_sq",
    "rt_minus_da_h2_sq",
    "rt_minus_da_h3_sq",
    "rt_minus_da_h4_sq",
];

/// Whether feature `i` ([`OBS_NAMES`] order) is a market price or moves with one (real-time,
/// day-ahead and reserve prices, and the miners' margins over the price). A distribution
/// check leaves these out: every price the market publishes is valid
/// ([`crate::price`]), and a spike far from a calm year's mean is an input the policy
/// must decide on, not a broken one.
pub fn is_price_feature(i: usize) -> bool {
    i < 16
        || (20..23).contains(&i)
        || (43..57).contains(&i)
        || (58..61).contains(&i)
        || (68..OBS_DIM).contains(&i)
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
        self.observe_state(&s.state, &mut out[MARKET_FEATURES..LEGACY_OBS_DIM]);
        self.observe_desk(s, &mut out[LEGACY_OBS_DIM..OBS_DIM]);
    }

    /// Writes the desk's features (`LEGACY_OBS_DIM..OBS_DIM`) of `s` into `out`, which holds
    /// [`DESK_FEATURES`] values: they depend on the market snapshot only.
    pub fn observe_desk(&self, s: &Snapshot<'_>, out: &mut [f32]) {
        let out: &mut [f32; DESK_FEATURES] = (&mut out[..DESK_FEATURES])
            .try_into()
            .expect("desk feature slice");
        let q = crate::learned::RtForecast::shipped().quantiles(s);
        for (k, hour) in q.iter().enumerate() {
            for (j, x) in hour.iter().enumerate() {
                out[k * 3 + j] = squash(*x, 100.0) as f32;
            }
        }
        // Intervals left in the local day (92, 96 or 100 in a day).
        let l = &s.local;
        let day_end_ms = chrono::NaiveDate::from_ymd_opt(l.year, l.month as u32, l.day as u32)
            .and_then(|d| d.succ_opt())
            .and_then(crate::time::local_midnight_utc_ms)
            .unwrap_or(s.interval_start_ms + 96 * crate::time::INTERVAL_MS);
        let today = usize::try_from((day_end_ms - s.interval_start_ms) / crate::time::INTERVAL_MS)
            .unwrap_or(0)
            .max(1);
        let mean = |xs: &[f64]| -> Option<f64> {
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        let da = s.da_prices;
        let split = today.min(da.len());
        let last = s.rt_history.last().copied().unwrap_or(0.0);
        out[12] = (mean(&da[..split]).unwrap_or(last) / 100.0) as f32;
        let tomorrow = mean(&da[split..]);
        out[13] = (tomorrow.unwrap_or(0.0) / 100.0) as f32;
        out[14] = tomorrow.is_some() as u8 as f32;
        for p in 0..RESERVES {
            let w = s.reserve_price_windows[p];
            let rest = mean(&w[..today.min(w.len())]).unwrap_or(s.reserve_prices[p]);
            out[15 + p] = squash(rest, 50.0) as f32;
        }
        let days = crate::time::days_in_month(l.year, l.month);
        out[18] = days.saturating_sub(l.day) as f32 / 31.0;
        out[19] = if s.system_load_mtd_peak_mw > 0.0 {
            ((s.system_load_mw - s.system_load_mtd_peak_mw) / 10_000.0) as f32
        } else {
            0.0
        };
        out[20] = crate::time::is_nerc_holiday(l) as u8 as f32;
        let (hours, day) = crate::learned::FourCpForecast::shipped().chances(s);
        let chance = |hour: u8| crate::learned::fourcp_chance_at(&hours, hour);
        out[21] = chance(l.hour) as f32;
        out[22] = chance(l.hour + 1) as f32;
        out[23] = hours.iter().copied().fold(0.0, f64::max) as f32;
        out[24] = day as f32;
        // The day-ahead curve hour by hour: an hour from now on the 15-minute grid is 4
        // intervals, whatever the minute of the decision.
        let mut prev = last;
        for k in 0..DA_CURVE_HOURS {
            let hour = &da[(4 * k).min(da.len())..(4 * k + 4).min(da.len())];
            prev = mean(hour).unwrap_or(prev);
            out[25 + k] = (prev / 100.0) as f32;
        }
        // Past spreads, aligned at the end (both end with interval t - lag).
        let n = s.rt_history.len().min(s.da_history.len()).min(DA_PAST);
        let rt = &s.rt_history[s.rt_history.len() - n..];
        let dap = &s.da_history[s.da_history.len() - n..];
        for k in 0..SPREAD_HOURS {
            let r = n.saturating_sub(4 * (k + 1))..n.saturating_sub(4 * k);
            let count = r.len();
            let sum: f64 = r.map(|j| rt[j] - dap[j]).sum();
            let spread = if count == 0 { 0.0 } else { sum / count as f64 };
            out[25 + DA_CURVE_HOURS + k] = squash(spread, 100.0) as f32;
        }
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

    /// Writes the site-state features (`MARKET_FEATURES..LEGACY_OBS_DIM`) into `out`, which
    /// holds `LEGACY_OBS_DIM - MARKET_FEATURES` values.
    #[inline]
    pub fn observe_state(&self, st: &SiteState, out: &mut [f32]) {
        const N: usize = LEGACY_OBS_DIM - MARKET_FEATURES;
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
    use crate::emergency::Emergency;

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

    /// A snapshot at 22:00 local on Thursday 4 July 2024 (8 intervals left in the day),
    /// `da` and `reserve` published from it on.
    fn at_22h<'a>(
        rt: &'a [f64],
        da: &'a [f64],
        reserve: &'a [f64],
        state: SiteState,
    ) -> Snapshot<'a> {
        let ms = crate::time::local_midnight_utc_ms(
            chrono::NaiveDate::from_ymd_opt(2024, 7, 4).unwrap(),
        )
        .unwrap()
            + 22 * 3_600_000;
        Snapshot {
            interval_start_ms: ms,
            as_of_ms: ms - crate::time::INTERVAL_MS,
            local: crate::time::local_time(ms),
            rt_history: rt,
            da_prices: da,
            da_history: &[],
            reserve_prices: [3.0, 4.0, 5.0],
            reserve_price_windows: [reserve, reserve, reserve],
            hashprice: 50.0,
            system_load_mw: 70_000.0,
            system_load_mtd_peak_mw: 75_000.0,
            system_load_1h_ago_mw: 70_000.0,
            system_load_2h_ago_mw: 70_000.0,
            emergency: Emergency::NONE,
            state,
        }
    }

    #[test]
    fn fourcp_chances_and_the_hourly_curve_by_hand() {
        let cfg = SiteConfig::default_site();
        let obs = Observer::new(&cfg);
        let state = SiteState::initial(&cfg);
        let rt = vec![30.0; 96];
        // 6 intervals published: hour 1 at $40, hour 2 half at $80 (then nothing).
        let da = [40.0, 40.0, 40.0, 40.0, 80.0, 80.0];
        let reserve = [1.0; 6];
        let mut s = at_22h(&rt, &da, &reserve, state);
        let mut out = [0.0f32; OBS_DIM];
        obs.observe(&s, &mut out);
        let at = |out: &[f32], name: &str| out[OBS_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at(&out, "da_h1"), 0.4);
        assert_eq!(at(&out, "da_h2"), 0.8);
        // Hours not published read the hour before.
        assert_eq!(at(&out, "da_h8"), 0.8);
        assert_eq!(at(&out, "da_h24"), 0.8);
        // No past day-ahead prices: the spreads read 0.
        assert_eq!(at(&out, "rt_minus_da_h1_sq"), 0.0);
        // Six past day-ahead prices, aligned at the end with the real-time prices ($30):
        // hour 1 back is the last four ($20 under real time), hour 2 back has two ($10).
        let past = [40.0, 40.0, 20.0, 10.0, 10.0, 10.0];
        let mut with_past = at_22h(&rt, &da, &reserve, state);
        with_past.da_history = &past;
        obs.observe(&with_past, &mut out);
        assert_eq!(at(&out, "rt_minus_da_h1_sq"), squash(17.5, 100.0) as f32);
        assert_eq!(at(&out, "rt_minus_da_h2_sq"), squash(-10.0, 100.0) as f32);
        assert_eq!(at(&out, "rt_minus_da_h3_sq"), 0.0);
        // 22:00: after the 4CP hours, every hour's chance is 0; the day's is not.
        let model = crate::learned::FourCpForecast::shipped();
        let (_, day) = model.chances(&s);
        assert_eq!(at(&out, "fourcp_p_hour"), 0.0);
        assert_eq!(at(&out, "fourcp_p_rest_max"), 0.0);
        assert_eq!(at(&out, "fourcp_p_day"), day as f32);
        assert!(day > 0.0);
        // 16:00 the same day, the load at the month's peak and rising: the chances are the
        // model's for hours 16 and 17, and the highest left is at least this hour's.
        s.interval_start_ms -= 6 * 3_600_000;
        s.as_of_ms -= 6 * 3_600_000;
        s.local = crate::time::local_time(s.interval_start_ms);
        assert_eq!(s.local.hour, 16);
        s.system_load_mw = 75_000.0;
        s.system_load_1h_ago_mw = 73_000.0;
        s.system_load_2h_ago_mw = 71_000.0;
        obs.observe(&s, &mut out);
        let (hours, _) = model.chances(&s);
        assert_eq!(at(&out, "fourcp_p_hour"), hours[4] as f32);
        assert_eq!(at(&out, "fourcp_p_next_hour"), hours[5] as f32);
        assert!(at(&out, "fourcp_p_rest_max") >= at(&out, "fourcp_p_hour"));
        assert!(hours[..4].iter().all(|&p| p == 0.0), "hours begun read 0");
        // The load's rise comes from the snapshot's earlier loads.
        let rising = at(&out, "fourcp_p_hour");
        s.system_load_1h_ago_mw = 75_000.0;
        s.system_load_2h_ago_mw = 75_000.0;
        obs.observe(&s, &mut out);
        assert_ne!(at(&out, "fourcp_p_hour"), rising);
    }

    #[test]
    fn desk_features_by_hand() {
        let cfg = SiteConfig::default_site();
        let obs = Observer::new(&cfg);
        let state = SiteState::initial(&cfg);
        let rt = vec![30.0; 96];
        // Today's 8 intervals at $40, tomorrow's 96 at $60 (published: after 13:30).
        let mut da = vec![40.0; 8];
        da.extend(vec![60.0; 96]);
        let reserve: Vec<f64> = (0..104).map(|k| if k < 8 { 10.0 } else { 99.0 }).collect();
        let s = at_22h(&rt, &da, &reserve, state);
        let mut out = [0.0f32; OBS_DIM];
        obs.observe(&s, &mut out);
        let at = |name: &str| out[OBS_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("da_rest_today_mean"), 0.4);
        assert_eq!(at("da_tomorrow_mean"), 0.6);
        assert_eq!(at("tomorrow_da_published"), 1.0);
        assert_eq!(at("rrs_rest_price_sq"), (10.0f64 / 60.0) as f32);
        assert_eq!(at("days_left"), 27.0 / 31.0);
        assert_eq!(at("load_margin_gw"), -0.5);
        assert_eq!(at("holiday"), 1.0);
        // The forecast's quantiles, squashed, in order within each hour.
        let q = crate::learned::RtForecast::shipped().quantiles(&s);
        assert_eq!(at("rt_fc_h2_q50_sq"), squash(q[1][1], 100.0) as f32);
        for k in 0..4 {
            let base = OBS_NAMES
                .iter()
                .position(|n| *n == "rt_fc_h1_q10_sq")
                .unwrap()
                + 3 * k;
            assert!(out[base] <= out[base + 1] && out[base + 1] <= out[base + 2]);
        }
        // Before tomorrow is published: the flag and the price are 0, and the rest of today
        // still reads today's.
        let s = at_22h(&rt, &da[..8], &reserve[..8], state);
        obs.observe(&s, &mut out);
        let at = |name: &str| out[OBS_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("tomorrow_da_published"), 0.0);
        assert_eq!(at("da_tomorrow_mean"), 0.0);
        assert_eq!(at("da_rest_today_mean"), 0.4);
        // Nothing published: the last real-time price and the hour's reserve price stand in.
        let s = at_22h(&rt, &[], &[], state);
        obs.observe(&s, &mut out);
        let at = |name: &str| out[OBS_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("da_rest_today_mean"), 0.3);
        assert_eq!(at("nspin_rest_price_sq"), (5.0f64 / 55.0) as f32);
        // The first features are the legacy observation's, unchanged in place.
        assert_eq!(
            &OBS_NAMES[DESK_V1_OBS_DIM - 3..DESK_V1_OBS_DIM],
            &["days_left", "load_margin_gw", "holiday"]
        );
        assert_eq!(
            &OBS_NAMES[LEGACY_OBS_DIM - 3..LEGACY_OBS_DIM],
            &["award_rrs", "award_ecrs", "award_nspin"]
        );
    }
}
