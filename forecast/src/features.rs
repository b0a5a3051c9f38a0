//! Inputs of the forecasts, computed only from what a decision for interval t may see:
//! [`Market::snapshot`] at t (which carries the loads the decisions one and two hours
//! earlier saw), and the calendar of t. The 4CP and real-time inputs themselves live in
//! `powermix_env::learned` (observations carry both forecasts) and are re-exported here. Nothing else of the market is read, so the env's
//! information rules hold here too (tested by perturbing every unpublished value).

use crate::History;
pub use powermix_env::learned::{
    FOURCP_HOURS, PRICE_SCALE, asinh_scaled, da_hours_of, days_left, fourcp_feature_names,
    fourcp_features_of, price_feature_names, price_features_of,
};
use powermix_env::obs::Snapshot;
pub use powermix_env::time::days_in_month;
use powermix_env::{Market, SiteState};

/// Intervals per hour.
pub const HOUR: usize = 4;

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

fn snap(m: &Market, t: usize) -> Snapshot<'_> {
    m.snapshot(t, &SiteState::initial(&m.cfg))
}

/// The 4CP features of a decision for interval `t` ([`fourcp_feature_names`] order).
pub fn fourcp_features(h: &History, t: usize) -> Vec<f32> {
    let m = &h.market;
    let s = snap(m, t);
    let present = &h.da_present;
    fourcp_features_of(&s, &|i| present[t + i])
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
