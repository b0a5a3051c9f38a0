//! What a decision for one interval may see ([`Snapshot`]), and an owned copy of it
//! ([`SnapshotBuf`]). The env fills it from history
//! ([`crate::market::Market::snapshot`]), the server from a request; observations
//! ([`crate::obs`]) and learned forecasts ([`crate::learned`]) are computed from it alone.

use crate::config::RESERVES;
use crate::emergency::Emergency;
use crate::site::SiteState;
use crate::time::LocalTime;

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
    /// [`RT_HISTORY`](crate::obs::RT_HISTORY) are used; may be empty).
    pub rt_history: &'a [f64],
    /// Published day-ahead prices of this interval and the ones after it (may be empty).
    pub da_prices: &'a [f64],
    /// Day-ahead prices of the intervals of the last real-time prices, oldest first and
    /// aligned at the end with `rt_history` (the last is of interval t - lag); at most
    /// [`DA_PAST`](crate::obs::DA_PAST) are used; may be empty (the spreads read 0).
    pub da_history: &'a [f64],
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
    /// The published system load as the decision one hour earlier (interval t - 4) saw it
    /// (MW); the 4CP forecast reads the load's rise from it. A request without it gives
    /// `system_load_mw` (the rise reads 0).
    pub system_load_1h_ago_mw: f64,
    /// The same, two hours earlier (interval t - 8).
    pub system_load_2h_ago_mw: f64,
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
    da_history: Vec<f64>,
    reserve_prices: [f64; RESERVES],
    reserve_price_windows: [Vec<f64>; RESERVES],
    hashprice: f64,
    system_load_mw: f64,
    system_load_mtd_peak_mw: f64,
    system_load_1h_ago_mw: f64,
    system_load_2h_ago_mw: f64,
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
            da_history: snap.da_history.to_vec(),
            reserve_prices: snap.reserve_prices,
            reserve_price_windows: snap.reserve_price_windows.map(<[f64]>::to_vec),
            hashprice: snap.hashprice,
            system_load_mw: snap.system_load_mw,
            system_load_mtd_peak_mw: snap.system_load_mtd_peak_mw,
            system_load_1h_ago_mw: snap.system_load_1h_ago_mw,
            system_load_2h_ago_mw: snap.system_load_2h_ago_mw,
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
            da_history: &self.da_history,
            reserve_prices: self.reserve_prices,
            reserve_price_windows: [
                &self.reserve_price_windows[0],
                &self.reserve_price_windows[1],
                &self.reserve_price_windows[2],
            ],
            hashprice: self.hashprice,
            system_load_mw: self.system_load_mw,
            system_load_mtd_peak_mw: self.system_load_mtd_peak_mw,
            system_load_1h_ago_mw: self.system_load_1h_ago_mw,
            system_load_2h_ago_mw: self.system_load_2h_ago_mw,
            emergency: self.emergency,
            state: self.state,
        }
    }
}
