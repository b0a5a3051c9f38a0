//! Forecasts made at the day-ahead gate (10:00 US/Central on D-1) for every local hour of
//! the operating day D (the local day that starts at the next local midnight; 23, 24 or 25
//! hours): quantiles 10/50/90 % of the hour's mean real-time price (`rt_gate`), and of each
//! reserve product's clearing price (RRS, ECRS, Non-Spin; `reserve_gate`).
//!
//! The inputs come from one [`Snapshot`] of D-1 taken before the day-ahead results of D are
//! published (13:30): the gate's own, or the one before it (09:45). Only values of D-1's
//! local day and the published real-time history are read, so a planner in another crate
//! computes the same inputs live ([`gate_features`], [`reserve_gate_features`],
//! [`GateForecast::predict`]). One row per (gate, hour of D) for prices and per (gate,
//! hour of D, product) for reserves: the reserve model is shared by the three products
//! (ECRS has no price before June 2023, so a model per product could not learn it from
//! 2018-2022), and each row carries its own product's published prices of today, which
//! hold the level of the market that day.
//!
//! Fitted by pinball loss on `asinh(y / scale)` like [`crate::price`]; crossing quantiles
//! are sorted at prediction, reserve prices clamped at 0.

use crate::History;
use crate::features::{PRICE_SCALE, asinh_scaled};
#[cfg(feature = "fit")]
use crate::model::{FORMAT_VERSION, Split};
use crate::model::{ModelError, ModelFile};
use crate::price::{TAUS, pinball, sample_quantiles};
#[cfg(feature = "fit")]
use crate::train::{FitConfig, Loss, Table, fit, normaliser};
use powermix_env::SiteState;
use powermix_env::config::RESERVES;
use powermix_env::obs::Snapshot;
use powermix_env::time::{INTERVAL_MS, INTERVALS_PER_HOUR, interval_of_local_day, local_time};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Model kind (and file stem) of the real-time price quantiles at the gate.
pub const KIND_RT: &str = "rt_gate";
/// Model kind (and file stem) of the reserve price quantiles at the gate.
pub const KIND_RESERVE: &str = "reserve_gate";
/// Price scale of the reserve features and targets ($/MW per hour).
pub const RESERVE_SCALE: f64 = 10.0;
/// Reserve product names, in the market's order.
pub const PRODUCTS: [&str; RESERVES] = ["RRS", "ECRS", "Non-Spin"];

const HOUR_MS: i64 = 3_600_000;
/// Largest argument of `sinh` at prediction (a price of about $220,000): a model output far
/// outside the fitted range stays finite.
const Z_MAX: f64 = 10.0;

/// The operating day D of a snapshot: the local day after the snapshot's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatingDay {
    /// UTC milliseconds of D's local midnight.
    pub start_ms: i64,
    /// Hours of D: 24, or 23 / 25 on the days daylight saving time starts / ends.
    pub hours: usize,
    /// D as days since 1970-01-01 (`LocalTime::day_number`).
    pub day_number: i32,
}

impl OperatingDay {
    /// The local clock hour (0-23) of hour `k` of D (on a 25-hour day 1 comes twice, on a
    /// 23-hour day 2 is skipped).
    pub fn clock_hour(&self, k: usize) -> u8 {
        local_time(self.start_ms + k as i64 * HOUR_MS).hour
    }
}

/// The next local midnight after `day_start_ms` (a local midnight), found among the instants
/// 23, 24 and 25 hours later.
fn next_midnight(day_start_ms: i64) -> Option<i64> {
    let day = local_time(day_start_ms).day_number;
    [24, 23, 25]
        .map(|h| day_start_ms + h * HOUR_MS)
        .into_iter()
        .find(|&ms| {
            let l = local_time(ms);
            l.day_number == day + 1 && l.hour == 0 && l.minute == 0
        })
}

/// The operating day D of a snapshot taken on D-1: starts at the next local midnight.
/// None only for an instant outside the calendar.
pub fn operating_day(snap: &Snapshot<'_>) -> Option<OperatingDay> {
    let today =
        snap.interval_start_ms - interval_of_local_day(snap.interval_start_ms) as i64 * INTERVAL_MS;
    let start_ms = next_midnight(today)?;
    let end_ms = next_midnight(start_ms)?;
    Some(OperatingDay {
        start_ms,
        hours: ((end_ms - start_ms) / HOUR_MS) as usize,
        day_number: local_time(start_ms).day_number,
    })
}

/// Mean of finite values, or None.
#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    sum: f64,
    n: usize,
    max: f64,
}

impl Mean {
    fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.max = if self.n == 0 { x } else { self.max.max(x) };
            self.sum += x;
            self.n += 1;
        }
    }
    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
    fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }
}

/// What a snapshot of D-1 shows, summed up by local clock hour: computed once, then every
/// hour's features are read from it.
#[derive(Debug, Clone)]
struct GateView {
    day: OperatingDay,
    /// Published real-time prices by local clock hour (the last 24 h).
    rt_hour: [Mean; 24],
    rt_all: Mean,
    rt_last: f64,
    /// Today's published day-ahead prices by clock hour (only when real).
    da_hour: [Mean; 24],
    da_all: Mean,
    /// Today's published reserve prices by product and clock hour.
    res_hour: [[Mean; 24]; RESERVES],
    res_all: [Mean; RESERVES],
    res_now: [f64; RESERVES],
    weekend: f32,
    month: u8,
    load_ratio: f32,
    load_80gw: f32,
}

fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() { x } else { fallback }
}

impl GateView {
    fn of(snap: &Snapshot<'_>, da_real: bool) -> Option<GateView> {
        let day = operating_day(snap)?;
        let mut rt_hour = [Mean::default(); 24];
        let mut rt_all = Mean::default();
        let rt = snap.rt_history;
        let n = rt.len().min(96);
        let rt = &rt[rt.len() - n..];
        // Element i of the history is the interval that ends (n - i - 1) intervals before
        // the information cutoff.
        for (i, &p) in rt.iter().enumerate() {
            let start = snap.as_of_ms - (n - i) as i64 * INTERVAL_MS;
            rt_hour[local_time(start).hour as usize].add(p);
            rt_all.add(p);
        }
        let rt_last = rt
            .iter()
            .rev()
            .copied()
            .find(|x| x.is_finite())
            .unwrap_or(0.0);
        // Today's published day-ahead and reserve prices (never D's, even when a later
        // snapshot shows them).
        let today = snap.local.day_number;
        let mut da_hour = [Mean::default(); 24];
        let mut da_all = Mean::default();
        let mut res_hour = [[Mean::default(); 24]; RESERVES];
        let mut res_all = [Mean::default(); RESERVES];
        let len = snap.da_prices.len().max(
            snap.reserve_price_windows
                .iter()
                .map(|w| w.len())
                .max()
                .unwrap_or(0),
        );
        for i in 0..len {
            let l = local_time(snap.interval_start_ms + i as i64 * INTERVAL_MS);
            if l.day_number != today {
                break;
            }
            let h = l.hour as usize;
            if da_real && let Some(&p) = snap.da_prices.get(i) {
                da_hour[h].add(p);
                da_all.add(p);
            }
            for (p, w) in snap.reserve_price_windows.iter().enumerate() {
                if let Some(&x) = w.get(i) {
                    res_hour[p][h].add(x);
                    res_all[p].add(x);
                }
            }
        }
        let res_now = std::array::from_fn(|p| {
            finite_or(snap.reserve_prices[p], res_all[p].get().unwrap_or_default())
        });
        let d = local_time(day.start_ms);
        let peak = finite_or(snap.system_load_mtd_peak_mw, 1.0).max(1.0);
        let load = finite_or(snap.system_load_mw, peak);
        Some(GateView {
            day,
            rt_hour,
            rt_all,
            rt_last,
            da_hour,
            da_all,
            res_hour,
            res_all,
            res_now,
            weekend: if d.is_weekday() { 0.0 } else { 1.0 },
            month: d.month,
            load_ratio: (load / peak) as f32,
            load_80gw: (load / 80_000.0) as f32,
        })
    }

    fn rt_at(&self, c: usize) -> f64 {
        self.rt_hour[c]
            .get()
            .or(self.rt_all.get())
            .unwrap_or(self.rt_last)
    }

    fn rt_mean(&self) -> f64 {
        self.rt_all.get().unwrap_or(self.rt_last)
    }

    /// Today's published reserve price of product `p` at clock hour `c`; for an hour before
    /// the snapshot (or not published) the current hour's.
    fn res_at(&self, p: usize, c: usize) -> (bool, f64) {
        match self.res_hour[p][c].get() {
            Some(x) => (true, x),
            None => (false, self.res_now[p]),
        }
    }

    fn calendar(&self, c: usize) -> [f32; 7] {
        let hour = (c as f64 + 0.5) / 24.0 * std::f64::consts::TAU;
        let month = (self.month as f64 - 1.0) / 12.0 * std::f64::consts::TAU;
        [
            hour.sin() as f32,
            hour.cos() as f32,
            (2.0 * hour).sin() as f32,
            (2.0 * hour).cos() as f32,
            self.weekend,
            month.sin() as f32,
            month.cos() as f32,
        ]
    }

    fn rt_features(&self, k: usize) -> Vec<f32> {
        let c = self.day.clock_hour(k) as usize;
        let sc = |p: f64| asinh_scaled(p, PRICE_SCALE);
        let rt_at = self.rt_at(c);
        let rt_mean = self.rt_mean();
        let rt_max = self.rt_all.max().unwrap_or(self.rt_last);
        let da_at = self.da_hour[c].get();
        let mut v = vec![
            sc(rt_at),
            sc(rt_mean),
            sc(rt_max),
            sc(self.rt_last),
            if da_at.is_some() { 1.0 } else { 0.0 },
            sc(da_at.unwrap_or(rt_at)),
            if self.da_all.n > 0 { 1.0 } else { 0.0 },
            sc(self.da_all.get().unwrap_or(rt_mean)),
            sc(self.da_all.max().unwrap_or(rt_max)),
        ];
        v.extend(self.calendar(c));
        v.extend([self.load_ratio, self.load_80gw]);
        v
    }

    fn reserve_features(&self, p: usize, k: usize) -> Vec<f32> {
        let c = self.day.clock_hour(k) as usize;
        let sr = |x: f64| asinh_scaled(x, RESERVE_SCALE);
        let sc = |x: f64| asinh_scaled(x, PRICE_SCALE);
        let (present, at) = self.res_at(p, c);
        let rt_max = self.rt_all.max().unwrap_or(self.rt_last);
        let mut v = vec![
            if present { 1.0 } else { 0.0 },
            sr(at),
            sr(self.res_now[p]),
            sr(self.res_all[p].get().unwrap_or(self.res_now[p])),
            sr(self.res_all[p].max().unwrap_or(self.res_now[p])),
            sc(self.rt_at(c)),
            sc(self.rt_mean()),
            sc(rt_max),
            if self.da_all.n > 0 { 1.0 } else { 0.0 },
            sc(self.da_all.max().unwrap_or(rt_max)),
        ];
        v.extend(self.calendar(c));
        v.extend([self.load_ratio, self.load_80gw]);
        v
    }
}

const CALENDAR_NAMES: [&str; 9] = [
    "hour_sin",
    "hour_cos",
    "hour2_sin",
    "hour2_cos",
    "weekend_d",
    "month_sin",
    "month_cos",
    "load_ratio",
    "load_80gw",
];

/// Names of the real-time gate features, in order.
pub fn gate_feature_names() -> Vec<String> {
    [
        "rt_at_hour_asinh",
        "rt_mean_24h_asinh",
        "rt_max_24h_asinh",
        "rt_last_asinh",
        "da_at_hour_present",
        "da_at_hour_asinh",
        "da_today_present",
        "da_mean_today_asinh",
        "da_max_today_asinh",
    ]
    .into_iter()
    .chain(CALENDAR_NAMES)
    .map(String::from)
    .collect()
}

/// Names of the reserve gate features, in order.
pub fn reserve_gate_feature_names() -> Vec<String> {
    [
        "res_at_hour_present",
        "res_at_hour_asinh",
        "res_now_asinh",
        "res_mean_today_asinh",
        "res_max_today_asinh",
        "rt_at_hour_asinh",
        "rt_mean_24h_asinh",
        "rt_max_24h_asinh",
        "da_today_present",
        "da_max_today_asinh",
    ]
    .into_iter()
    .chain(CALENDAR_NAMES)
    .map(String::from)
    .collect()
}

/// Output names of both gate models: `q10`, `q50`, `q90`.
pub fn gate_output_names() -> Vec<String> {
    TAUS.iter()
        .map(|q| format!("q{}", (q * 100.0).round() as u32))
        .collect()
}

/// The real-time features ([`gate_feature_names`] order) of hour `hour_of_d` of the
/// operating day D, from a snapshot of D-1 taken before D's day-ahead results are
/// published (the gate's, 10:00, or the one before it). `da_real`: the snapshot's
/// day-ahead prices are published prices (false where the data fills them with a
/// constant, before 2021). `hours_in_d`: D's hours ([`operating_day`]); `hour_of_d` is
/// clamped below it. Non-finite inputs are treated as missing.
///
/// - the mean published real-time price of the same local clock hour in the last 24 h,
///   the mean and maximum of those 24 h, the last published price;
/// - today's day-ahead price at that clock hour where published (from the gate on) with a
///   flag, else the real-time value of the hour; the mean and maximum of today's published
///   day-ahead prices with a flag, else the real-time mean and maximum;
/// - D's calendar (clock hour sin/cos, twice, weekend, month sin/cos) and the published
///   load over its month-to-date peak and in units of 80 GW.
///
/// Prices are `asinh(p / 20)`. An empty vector only when the snapshot's instant is outside
/// the calendar.
pub fn gate_features(
    snap: &Snapshot<'_>,
    da_real: bool,
    hour_of_d: usize,
    hours_in_d: usize,
) -> Vec<f32> {
    GateView::of(snap, da_real)
        .map(|v| v.rt_features(hour_of_d.min(hours_in_d.max(1) - 1)))
        .unwrap_or_default()
}

/// The reserve features ([`reserve_gate_feature_names`] order) of product `product` (0
/// RRS, 1 ECRS, 2 Non-Spin; clamped) in hour `hour_of_d` of D, from the same snapshot as
/// [`gate_features`]:
///
/// - the product's published price of today at that clock hour with a flag (from the gate
///   on; before it, the current hour's price), the current hour's price, the mean and
///   maximum of today's published prices (`asinh(p / 10)`);
/// - the real-time price of that clock hour in the last 24 h, the 24 h mean and maximum,
///   and the maximum of today's day-ahead prices with a flag (`asinh(p / 20)`);
/// - D's calendar and the load, as in [`gate_features`].
pub fn reserve_gate_features(
    snap: &Snapshot<'_>,
    da_real: bool,
    product: usize,
    hour_of_d: usize,
    hours_in_d: usize,
) -> Vec<f32> {
    GateView::of(snap, da_real)
        .map(|v| {
            v.reserve_features(
                product.min(RESERVES - 1),
                hour_of_d.min(hours_in_d.max(1) - 1),
            )
        })
        .unwrap_or_default()
}

/// Quantiles (10/50/90 %) of one target, $/MWh or $/MW per hour.
pub type Q3 = [f64; 3];

/// Sorted, finite quantiles from the model's outputs on the asinh scale.
fn quantiles(z: &[f32], scale: f64, floor: Option<f64>) -> Q3 {
    let mut q: Q3 = std::array::from_fn(|j| {
        let z = z.get(j).map(|&v| v as f64).unwrap_or(0.0);
        let z = if z.is_finite() {
            z.clamp(-Z_MAX, Z_MAX)
        } else {
            0.0
        };
        let p = scale * z.sinh();
        floor.map_or(p, |f| p.max(f))
    });
    q.sort_by(f64::total_cmp);
    q
}

/// The gate forecasts of one operating day.
#[derive(Debug, Clone, PartialEq)]
pub struct GateForecastOut {
    /// The operating day D.
    pub day: OperatingDay,
    /// Per hour of D: quantiles 10/50/90 % of the hour's mean real-time price ($/MWh).
    pub rt: Vec<Q3>,
    /// Per hour of D and product (RRS, ECRS, Non-Spin): quantiles 10/50/90 % of the
    /// clearing price ($/MW per hour, at least 0).
    pub reserve: Vec<[Q3; RESERVES]>,
}

/// The two gate models, loaded and checked.
#[derive(Debug, Clone)]
pub struct GateForecast {
    /// The real-time model (`rt_gate.json`).
    pub rt: ModelFile,
    /// Its model id.
    pub rt_id: String,
    /// The reserve model (`reserve_gate.json`).
    pub reserve: ModelFile,
    /// Its model id.
    pub reserve_id: String,
}

/// The shipped gate models (`checkpoints/forecast/rt_gate.json` and `reserve_gate.json`),
/// embedded in the build for the priced day-ahead head, which a server runs: a model
/// embedded cannot be missing at serve time.
pub const SHIPPED_RT_GATE_JSON: &str = include_str!("../../checkpoints/forecast/rt_gate.json");
/// See [`SHIPPED_RT_GATE_JSON`].
pub const SHIPPED_RESERVE_GATE_JSON: &str =
    include_str!("../../checkpoints/forecast/reserve_gate.json");

impl GateForecast {
    /// The shipped gate models, embedded in the build ([`SHIPPED_RT_GATE_JSON`]), parsed
    /// and checked once (a test checks that they parse, and that they equal the files).
    pub fn shipped() -> &'static GateForecast {
        static SHIPPED: std::sync::OnceLock<GateForecast> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(|| {
            GateForecast::parse(SHIPPED_RT_GATE_JSON, SHIPPED_RESERVE_GATE_JSON)
                .expect("the shipped gate models are valid")
        })
    }

    /// The gate models from the texts of `rt_gate.json` and `reserve_gate.json`, checked
    /// as [`GateForecast::load`] checks the files.
    pub fn parse(rt_json: &str, reserve_json: &str) -> Result<GateForecast, ModelError> {
        GateForecast::read(|kind, features, outputs| {
            let text = if kind == KIND_RT {
                rt_json
            } else {
                reserve_json
            };
            let origin = PathBuf::from(format!("embedded {kind}.json"));
            ModelFile::parse(text.as_bytes(), &origin, kind, features, outputs)
        })
    }

    /// Loads `dir/rt_gate.json` and `dir/reserve_gate.json` (written by `forecast fit`),
    /// each checked against this build's kinds, feature and output names.
    pub fn load(dir: &Path) -> Result<GateForecast, ModelError> {
        GateForecast::read(|kind, features, outputs| {
            ModelFile::load(&dir.join(format!("{kind}.json")), kind, features, outputs)
        })
    }

    /// The two models, each read by `one(kind, feature names, output names)`.
    fn read(
        one: impl Fn(&str, &[String], &[String]) -> Result<(ModelFile, String), ModelError>,
    ) -> Result<GateForecast, ModelError> {
        let (rt, rt_id) = one(KIND_RT, &gate_feature_names(), &gate_output_names())?;
        let (reserve, reserve_id) = one(
            KIND_RESERVE,
            &reserve_gate_feature_names(),
            &gate_output_names(),
        )?;
        Ok(GateForecast {
            rt,
            rt_id,
            reserve,
            reserve_id,
        })
    }

    /// The forecasts for every hour of the operating day after `snap`'s local day, from a
    /// snapshot taken before D's day-ahead results are published (see [`gate_features`];
    /// live, `da_real` is true). Quantiles are sorted and finite; reserve prices at least 0.
    /// None only when the snapshot's instant is outside the calendar.
    pub fn predict(&self, snap: &Snapshot<'_>, da_real: bool) -> Option<GateForecastOut> {
        let v = GateView::of(snap, da_real)?;
        let hours = v.day.hours;
        Some(GateForecastOut {
            day: v.day,
            rt: (0..hours)
                .map(|k| quantiles(&self.rt.forward(&v.rt_features(k)), PRICE_SCALE, None))
                .collect(),
            reserve: (0..hours)
                .map(|k| {
                    std::array::from_fn(|p| {
                        quantiles(
                            &self.reserve.forward(&v.reserve_features(p, k)),
                            RESERVE_SCALE,
                            Some(0.0),
                        )
                    })
                })
                .collect(),
        })
    }
}

/// Whether the day-ahead prices a snapshot of `t` shows are the file's own (not filled).
pub fn da_real_at(h: &History, t: usize, snap: &Snapshot<'_>) -> bool {
    let n = snap.da_prices.len();
    n > 0
        && h.da_present[t..(t + n).min(h.da_present.len())]
            .iter()
            .all(|&p| p)
}

/// One hour of D forecast at a gate, for the real-time model.
#[derive(Debug, Clone)]
pub struct RtRow {
    /// The gate interval.
    pub t: usize,
    /// Hour of D (0-based).
    pub hour: usize,
    /// Its local clock hour.
    pub clock_hour: u8,
    /// Features ([`gate_feature_names`]).
    pub x: Vec<f32>,
    /// Realised mean real-time price of the hour.
    pub y: f64,
    /// Today's published day-ahead price at the clock hour (real ones only).
    pub da_today: Option<f64>,
    /// The last published real-time price.
    pub rt_last: f64,
    /// The mean published real-time price at the clock hour in the last 24 h.
    pub rt_at_hour: f64,
}

/// One hour of D and one product forecast at a gate, for the reserve model.
#[derive(Debug, Clone)]
pub struct ReserveRow {
    /// The gate interval.
    pub t: usize,
    /// Hour of D (0-based).
    pub hour: usize,
    /// Its local clock hour.
    pub clock_hour: u8,
    /// D's local month.
    pub month: u8,
    /// Product (0 RRS, 1 ECRS, 2 Non-Spin).
    pub product: usize,
    /// Features ([`reserve_gate_feature_names`]).
    pub x: Vec<f32>,
    /// Realised clearing price of the hour.
    pub y: f64,
    /// Persistence: today's published price at the clock hour (before the gate, the current
    /// hour's).
    pub today: f64,
}

/// The rows of every gate of `h` whose operating day D is wholly in the data and in local
/// `years`: real-time rows per hour of D, reserve rows per hour of D and product available
/// on D (`SiteConfig::reserve_available`: ECRS from 10 June 2023) whose price the file holds
/// at the gate and in that hour (`History::reserve_present`; the loader fills the others
/// with 0, which is not a price).
pub fn rows(h: &History, years: std::ops::RangeInclusive<i32>) -> (Vec<RtRow>, Vec<ReserveRow>) {
    let m = &h.market;
    let d = m.hindsight().data;
    let state = SiteState::initial(&m.cfg);
    let reserve_cols = [&d.as_rrs, &d.as_ecrs, &d.as_nspin];
    let (mut rt_rows, mut res_rows) = (Vec::new(), Vec::new());
    for t in 0..m.len() {
        if !m.is_da_gate(t) {
            continue;
        }
        let d_start = m.day_range(t).1;
        if d_start >= m.len() || !years.contains(&m.local[d_start].year) {
            continue;
        }
        let s = m.snapshot(t, &state);
        let da_real = da_real_at(h, t, &s);
        let Some(v) = GateView::of(&s, da_real) else {
            continue;
        };
        let (_, d_end) = m.day_range(d_start);
        if m.interval_start_ms(d_start) != v.day.start_ms
            || d_end - d_start != v.day.hours * INTERVALS_PER_HOUR
        {
            continue;
        }
        let available = m.cfg.reserve_available(v.day.day_number);
        for k in 0..v.day.hours {
            let c = v.day.clock_hour(k);
            let r = d_start + k * INTERVALS_PER_HOUR..d_start + (k + 1) * INTERVALS_PER_HOUR;
            rt_rows.push(RtRow {
                t,
                hour: k,
                clock_hour: c,
                x: v.rt_features(k),
                y: d.rt_price[r.clone()].iter().sum::<f64>() / INTERVALS_PER_HOUR as f64,
                da_today: v.da_hour[c as usize].get(),
                rt_last: v.rt_last,
                rt_at_hour: v.rt_at(c as usize),
            });
            // Only prices the file holds: today's at the gate and the label.
            let held =
                |p: usize| available[p] && h.reserve_present[p][t] && h.reserve_present[p][r.start];
            for p in (0..RESERVES).filter(|&p| held(p)) {
                res_rows.push(ReserveRow {
                    t,
                    hour: k,
                    clock_hour: c,
                    month: v.month,
                    product: p,
                    x: v.reserve_features(p, k),
                    y: reserve_cols[p][r.start],
                    today: v.res_at(p, c as usize).1,
                });
            }
        }
    }
    (rt_rows, res_rows)
}

/// The real-time model's quantiles of each row ($/MWh, sorted).
pub fn predict_rt(m: &ModelFile, rows: &[RtRow]) -> Vec<Q3> {
    rows.iter()
        .map(|r| quantiles(&m.forward(&r.x), PRICE_SCALE, None))
        .collect()
}

/// The reserve model's quantiles of each row ($/MW per hour, sorted, at least 0).
pub fn predict_reserve(m: &ModelFile, rows: &[ReserveRow]) -> Vec<Q3> {
    rows.iter()
        .map(|r| quantiles(&m.forward(&r.x), RESERVE_SCALE, Some(0.0)))
        .collect()
}

/// Pinball loss and coverage per quantile over the rows with a forecast.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// Rows scored.
    pub rows: usize,
    /// Mean pinball loss at 10/50/90 % (in the target's unit).
    pub pinball: [f64; 3],
    /// Share of targets at or below each quantile.
    pub coverage: [f64; 3],
    /// Mean realised value.
    pub mean_y: f64,
    /// Mean forecast median.
    pub mean_q50: f64,
}

/// Scores forecasts `q` of targets `y` (rows where `q` is None are left out).
pub fn score(y: &[f64], q: &[Option<Q3>]) -> Scores {
    let mut s = Scores::default();
    for (&y, q) in y.iter().zip(q) {
        let Some(q) = q else { continue };
        s.rows += 1;
        s.mean_y += y;
        s.mean_q50 += q[1];
        for j in 0..3 {
            s.pinball[j] += pinball(TAUS[j], y, q[j]);
            if y <= q[j] {
                s.coverage[j] += 1.0;
            }
        }
    }
    let n = s.rows.max(1) as f64;
    s.pinball
        .iter_mut()
        .chain(s.coverage.iter_mut())
        .chain([&mut s.mean_y, &mut s.mean_q50])
        .for_each(|v| *v /= n);
    s
}

/// A point baseline of the real-time rows as quantiles: the point for every quantile, or
/// (with `fit_rows`) plus the fitting rows' error quantiles of the same clock hour.
pub fn rt_baseline(
    point: fn(&RtRow) -> f64,
    fit_rows: Option<&[RtRow]>,
    rows: &[RtRow],
) -> Vec<Option<Q3>> {
    let shift: Vec<Q3> = (0..24)
        .map(|c| {
            fit_rows
                .and_then(|fr| {
                    sample_quantiles(
                        fr.iter()
                            .filter(|r| r.clock_hour as usize == c)
                            .map(|r| r.y - point(r))
                            .collect(),
                    )
                })
                .unwrap_or([0.0; 3])
        })
        .collect();
    rows.iter()
        .map(|r| {
            let p = point(r);
            Some(shift[r.clock_hour as usize].map(|s| p + s))
        })
        .collect()
}

/// Day-ahead persistence: today's published day-ahead price at the same clock hour, the
/// last published real-time price where there is none.
pub fn rt_da_persistence(r: &RtRow) -> f64 {
    r.da_today.unwrap_or(r.rt_last)
}

/// Real-time persistence: the mean published real-time price at the same clock hour in the
/// last 24 h.
pub fn rt_persistence(r: &RtRow) -> f64 {
    r.rt_at_hour
}

/// Reserve persistence as quantiles: today's published price at the same clock hour, for
/// every quantile, or (with `fit_rows`) plus the fitting rows' error quantiles of the same
/// product (None for a product the fitting rows lack).
pub fn reserve_persistence(
    fit_rows: Option<&[ReserveRow]>,
    rows: &[ReserveRow],
) -> Vec<Option<Q3>> {
    let shift: [Option<Q3>; RESERVES] = std::array::from_fn(|p| match fit_rows {
        None => Some([0.0; 3]),
        Some(fr) => sample_quantiles(
            fr.iter()
                .filter(|r| r.product == p)
                .map(|r| r.y - r.today)
                .collect(),
        ),
    });
    rows.iter()
        .map(|r| shift[r.product].map(|s| s.map(|s| (r.today + s).max(0.0))))
        .collect()
}

/// The fitting rows' prices of the same product, month and clock hour: their mean for
/// every quantile (`quantiles` false) or their 10/50/90 % quantiles. None for a product,
/// month and hour the fitting rows lack (ECRS before June 2023).
pub fn reserve_climatology(
    fit_rows: &[ReserveRow],
    rows: &[ReserveRow],
    quantiles: bool,
) -> Vec<Option<Q3>> {
    let mut by: BTreeMap<(usize, u8, u8), Vec<f64>> = BTreeMap::new();
    for r in fit_rows {
        by.entry((r.product, r.month, r.clock_hour))
            .or_default()
            .push(r.y);
    }
    let q: BTreeMap<_, Q3> = by
        .into_iter()
        .filter_map(|(k, v)| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            if quantiles {
                sample_quantiles(v).map(|q| (k, q))
            } else {
                Some((k, [mean; 3]))
            }
        })
        .collect();
    rows.iter()
        .map(|r| q.get(&(r.product, r.month, r.clock_hour)).copied())
        .collect()
}

/// The candidates: a linear model and a 32-unit MLP (tanh).
pub fn candidates() -> Vec<Vec<usize>> {
    vec![vec![], vec![32]]
}

#[cfg(feature = "fit")]
#[allow(clippy::too_many_arguments)] // the two gate models share this fit
fn fit_quantiles(
    kind: &str,
    names: Vec<String>,
    data: (Vec<&[f32]>, Vec<f64>),
    scale: f64,
    split: Split,
    steps: usize,
    command: &str,
    mut select: impl FnMut(&ModelFile) -> f64,
) -> (ModelFile, Vec<String>) {
    let (xs, ys) = data;
    let mut t = Table::new(names.len(), 3);
    for (x, &y) in xs.iter().zip(&ys) {
        t.push(x, &[asinh_scaled(y, scale); 3], &[1.0; 3]);
    }
    let (mean, std) = normaliser(&t);
    let taus: Vec<f32> = TAUS.map(|x| x as f32).to_vec();
    let mut log = Vec::new();
    let mut best: Option<(ModelFile, f64)> = None;
    for (i, hidden) in candidates().into_iter().enumerate() {
        let template = ModelFile {
            format_version: FORMAT_VERSION,
            kind: kind.into(),
            split: split.clone(),
            feature_names: names.clone(),
            output_names: gate_output_names(),
            norm_mean: mean.clone(),
            norm_std: std.clone(),
            layers: vec![],
            output_offset: vec![0.0; 3],
            selection: BTreeMap::new(),
            command: command.into(),
        };
        let cfg = FitConfig {
            hidden: hidden.clone(),
            steps,
            lr: 0.02,
            eval_every: 25,
            seed: 31 + i as u64,
            init_bias: None,
        };
        let (mut m, step, loss) = fit(
            &template,
            &t,
            &Loss::Pinball(taus.clone()),
            &cfg,
            &mut select,
        );
        log.push(format!(
            "{kind}: hidden {hidden:?} -> best step {step}, selection mean pinball {loss:.4} ({} fitting rows)",
            t.rows()
        ));
        m.selection = BTreeMap::from([
            ("steps".into(), step as f64),
            ("hidden".into(), hidden.first().copied().unwrap_or(0) as f64),
            ("select_mean_pinball".into(), loss),
        ]);
        if best.as_ref().is_none_or(|b| loss < b.1) {
            best = Some((m, loss));
        }
    }
    (best.expect("a candidate").0, log)
}

#[cfg(feature = "fit")]
/// Fits the real-time gate model on `fit_rows` and selects the candidate and step by the
/// mean pinball loss ($/MWh, the three quantiles) on `select_rows`.
pub fn fit_rt(
    fit_rows: &[RtRow],
    select_rows: &[RtRow],
    split: Split,
    steps: usize,
    command: &str,
) -> (ModelFile, Vec<String>) {
    let y: Vec<f64> = select_rows.iter().map(|r| r.y).collect();
    fit_quantiles(
        KIND_RT,
        gate_feature_names(),
        (
            fit_rows.iter().map(|r| r.x.as_slice()).collect(),
            fit_rows.iter().map(|r| r.y).collect(),
        ),
        PRICE_SCALE,
        split,
        steps,
        command,
        |m| {
            let q: Vec<Option<Q3>> = predict_rt(m, select_rows).into_iter().map(Some).collect();
            score(&y, &q).pinball.iter().sum::<f64>() / 3.0
        },
    )
}

#[cfg(feature = "fit")]
/// Fits the reserve gate model on `fit_rows` (all products pooled) and selects the
/// candidate and step by the mean pinball loss ($/MW per hour) on `select_rows`.
pub fn fit_reserve(
    fit_rows: &[ReserveRow],
    select_rows: &[ReserveRow],
    split: Split,
    steps: usize,
    command: &str,
) -> (ModelFile, Vec<String>) {
    let y: Vec<f64> = select_rows.iter().map(|r| r.y).collect();
    fit_quantiles(
        KIND_RESERVE,
        reserve_gate_feature_names(),
        (
            fit_rows.iter().map(|r| r.x.as_slice()).collect(),
            fit_rows.iter().map(|r| r.y).collect(),
        ),
        RESERVE_SCALE,
        split,
        steps,
        command,
        |m| {
            let q: Vec<Option<Q3>> = predict_reserve(m, select_rows)
                .into_iter()
                .map(Some)
                .collect();
            score(&y, &q).pinball.iter().sum::<f64>() / 3.0
        },
    )
}
