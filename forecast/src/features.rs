//! Inputs of the forecasts, computed only from what a decision for interval t may see:
//! [`Market::snapshot`] at t and at the decisions one and two hours earlier (all published
//! by t), and the calendar of t. Nothing else of the market is read, so the env's
//! information rules hold here too (tested by perturbing every unpublished value).

use crate::History;
pub use powermix_env::learned::{
    PRICE_SCALE, asinh_scaled, da_hours_of, price_feature_names, price_features_of,
};
use powermix_env::obs::Snapshot;
use powermix_env::time::LocalTime;
pub use powermix_env::time::days_in_month;
use powermix_env::{Market, SiteState};

/// Intervals per hour.
pub const HOUR: usize = 4;

/// Hours of the day with their own 4CP indicator (the rest share the bias).
pub const FOURCP_HOURS: std::ops::RangeInclusive<u8> = 12..=20;

/// Names of the 4CP features, in order.
pub fn fourcp_feature_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "load_ratio",
        "load_margin_gw",
        "load_rise_1h_gw",
        "load_rise_2h_gw",
        "new_max",
        "mtd_peak_80gw",
        "weekend",
        "days_left_frac",
        "day_of_month_frac",
        "da_present",
        "da_now_asinh",
        "da_max_today_asinh",
        "rt_last_asinh",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(FOURCP_HOURS.map(|h| format!("hour_{h}")));
    v.extend([6, 7, 8, 9].map(|m| format!("month_{m}")));
    v
}

/// Names of the 4CP features with the simulated ERCOT load forecast: the
/// [`fourcp_feature_names`] and four more.
pub fn fourcp_lf_feature_names() -> Vec<String> {
    let mut v = fourcp_feature_names();
    v.extend(
        [
            "lf_hour_ratio",
            "lf_hour_margin_gw",
            "lf_today_max_ratio",
            "lf_hour_is_today_max",
        ]
        .map(String::from),
    );
    v
}

/// [`fourcp_features`] and the load forecast's: this hour's forecast over the month-to-date
/// peak; its margin (GW) over the higher of that peak and the highest forecast of the
/// month's other hours within the forecast's horizon; the highest forecast of the rest of
/// today over the peak; whether this hour holds today's highest forecast. The forecast is
/// the one issued at the top of the decision's hour (`LoadForecaster::forecast_mw`): it
/// reads future loads with ERCOT's error, by design, and nothing else unpublished.
pub fn fourcp_lf_features(h: &History, t: usize) -> Vec<f32> {
    let mut v = fourcp_features(h, t);
    let m = &h.market;
    let s = snap(m, t);
    let peak = s.system_load_mtd_peak_mw.max(1.0);
    let f = |u: usize| {
        h.load_forecast
            .forecast_mw(s.as_of_ms, m.interval_start_ms(u))
    };
    let this = f(t).unwrap_or(s.system_load_mw);
    let key = s.local.month_key();
    let (_, day_end) = m.day_range(t);
    let mut other_max = f64::NEG_INFINITY;
    let mut today_max = this;
    let mut u = t + HOUR;
    while u < m.len() && m.local[u].month_key() == key {
        let Some(x) = f(u) else { break };
        other_max = other_max.max(x);
        if u < day_end {
            today_max = today_max.max(x);
        }
        u += HOUR;
    }
    v.extend([
        (this / peak) as f32,
        ((this - peak.max(other_max)) / 1000.0) as f32,
        (today_max / peak) as f32,
        if this >= today_max { 1.0 } else { 0.0 },
    ]);
    v
}

/// Whole days left in the month after the local day of `l`.
pub fn days_left(l: &LocalTime) -> u8 {
    days_in_month(l.year, l.month) - l.day
}

fn weekend(l: &LocalTime) -> f32 {
    if l.is_weekday() { 0.0 } else { 1.0 }
}

fn snap(m: &Market, t: usize) -> Snapshot<'_> {
    m.snapshot(t, &SiteState::initial(&m.cfg))
}

/// The 4CP features of a decision for interval `t` ([`fourcp_feature_names`] order).
pub fn fourcp_features(h: &History, t: usize) -> Vec<f32> {
    let m = &h.market;
    let s = snap(m, t);
    let load_1h = snap(m, t.saturating_sub(HOUR)).system_load_mw;
    let load_2h = snap(m, t.saturating_sub(2 * HOUR)).system_load_mw;
    let present = &h.da_present;
    fourcp_features_of(&s, load_1h, load_2h, &|i| present[t + i])
}

/// The 4CP features of a decision from its snapshot `s`, the published loads of the
/// decisions one and two hours earlier, and which of the snapshot's day-ahead prices are
/// real prices (`da_real(i)` for `s.da_prices[i]`; a live snapshot's all are). The one
/// rule behind [`fourcp_features`] and the live forecaster ([`crate::live`]).
pub fn fourcp_features_of(
    s: &Snapshot<'_>,
    load_1h: f64,
    load_2h: f64,
    da_real: &dyn Fn(usize) -> bool,
) -> Vec<f32> {
    let l = s.local;
    let load = s.system_load_mw;
    let peak = s.system_load_mtd_peak_mw.max(1.0);
    // The rest of today's day-ahead prices (published the day before, from 2021).
    let day_left = (96 - powermix_env::time::interval_of_local_day(s.interval_start_ms)).max(1);
    let da: Vec<(usize, f64)> = s
        .da_prices
        .iter()
        .enumerate()
        .filter(|&(i, _)| i < day_left && da_real(i))
        .map(|(i, &p)| (i, p))
        .collect();
    let da_now = da.first().filter(|(i, _)| *i == 0).map(|x| x.1);
    let da_max = da.iter().map(|x| x.1).fold(f64::NAN, f64::max);
    let rt_last = s.rt_history.last().copied().unwrap_or(0.0);
    let mut v = vec![
        (load / peak) as f32,
        ((load - peak) / 1000.0) as f32,
        ((load - load_1h) / 1000.0) as f32,
        ((load - load_2h) / 1000.0) as f32,
        if load >= peak { 1.0 } else { 0.0 },
        (peak / 80_000.0) as f32,
        weekend(&l),
        days_left(&l) as f32 / 31.0,
        l.day as f32 / 31.0,
        if da_now.is_some() { 1.0 } else { 0.0 },
        da_now.map(|p| asinh_scaled(p, 50.0)).unwrap_or(0.0),
        if da_max.is_finite() {
            asinh_scaled(da_max, 50.0)
        } else {
            0.0
        },
        asinh_scaled(rt_last, 50.0),
    ];
    v.extend(FOURCP_HOURS.map(|hr| if l.hour == hr { 1.0 } else { 0.0 }));
    v.extend([6u8, 7, 8, 9].map(|mo| if l.month == mo { 1.0 } else { 0.0 }));
    v
}

/// The mean day-ahead price of each of the next four hours from t, when all its intervals
/// are published and present.
pub fn da_hours(h: &History, t: usize) -> [Option<f64>; 4] {
    let s = snap(&h.market, t);
    let present = &h.da_present;
    da_hours_of(&s, &|i| present[t + i])
}

/// The price features of a decision for interval `t` ([`price_feature_names`] order).
pub fn price_features(h: &History, t: usize) -> Vec<f32> {
    let s = snap(&h.market, t);
    let present = &h.da_present;
    price_features_of(&s, &|i| present[t + i])
}
