//! The learned forecasts that observations carry: the real-time price quantiles and the
//! 4CP chance of each remaining afternoon hour. Their inputs, the plain forward pass, and
//! the shipped models themselves, embedded in the build.
//!
//! `powermix-forecast` fits the model (`forecast fit`, docs/forecasts.md) and keeps its
//! file format; this module holds what an observation needs from it, so that the env, the
//! trainer, the server and the Python env all observe the same forecast with the same code
//! (`forecast` re-exports [`price_features_of`] and [`dense_forward`]: one rule each).
//!
//! The shipped models are `checkpoints/forecast/rt_price.json` (quantiles 10/50/90 % of the
//! mean real-time price of each of the next four hours) and
//! `checkpoints/forecast/fourcp_hours.json` (the chance that each local hour 12-20 of today
//! holds the month's 4CP interval, and that today does), each from a snapshot alone (no
//! state: the load's rise comes from the snapshot's loads of one and two hours earlier).
//! Their ids (the FNV-1a of each file, `powermix_agent::checkpoint::hash_hex`) are written
//! in a checkpoint's `meta.json`, which a build with another model refuses.

use crate::snapshot::Snapshot;
use crate::time::LocalTime;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Price scale of the forecast's price inputs and outputs ($/MWh): `asinh(p / scale)`.
pub const PRICE_SCALE: f64 = 20.0;

/// Horizons of the real-time forecast (hours).
pub const RT_HORIZONS: usize = 4;

/// Intervals per hour.
const HOUR: usize = 4;

/// The shipped real-time quantile model's file, as `forecast fit` wrote it.
pub const SHIPPED_RT_MODEL_JSON: &str = include_str!("../../checkpoints/forecast/rt_price.json");

/// The shipped per-hour 4CP model's file, as `forecast fit` wrote it.
pub const SHIPPED_FOURCP_HOURS_JSON: &str =
    include_str!("../../checkpoints/forecast/fourcp_hours.json");

/// Hours of the day with their own 4CP indicator and chance (local hours, inclusive).
pub const FOURCP_HOURS: std::ops::RangeInclusive<u8> = 12..=20;

/// Number of hours in [`FOURCP_HOURS`].
pub const FOURCP_N_HOURS: usize = (*FOURCP_HOURS.end() - *FOURCP_HOURS.start() + 1) as usize;

/// Scaled price: `asinh(p / scale)` (linear near 0, logarithmic in spikes, sign kept).
pub fn asinh_scaled(p: f64, scale: f64) -> f32 {
    (p / scale).asinh() as f32
}

/// Names of the real-time forecast's inputs, in order.
pub fn price_feature_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "rt_last_asinh",
        "rt_mean_1h_asinh",
        "rt_mean_4h_asinh",
        "rt_max_4h_asinh",
        "rt_mean_24h_asinh",
        "da_present",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend((1..=RT_HORIZONS).map(|k| format!("da_h{k}_asinh")));
    v.extend(
        [
            "hour_sin",
            "hour_cos",
            "weekend",
            "month_sin",
            "month_cos",
            "load_ratio",
            "load_80gw",
        ]
        .map(String::from),
    );
    v
}

fn weekend(l: &LocalTime) -> f32 {
    if l.is_weekday() { 0.0 } else { 1.0 }
}

/// The mean day-ahead price of each of the next four hours of a snapshot, when all its
/// intervals are published and real (`da_real(i)` for `s.da_prices[i]`).
pub fn da_hours_of(s: &Snapshot<'_>, da_real: &dyn Fn(usize) -> bool) -> [Option<f64>; 4] {
    std::array::from_fn(|k| {
        let r = k * HOUR..(k + 1) * HOUR;
        if s.da_prices.len() < r.end || !r.clone().all(da_real) {
            return None;
        }
        Some(s.da_prices[r].iter().sum::<f64>() / HOUR as f64)
    })
}

/// The real-time forecast's inputs for a decision from its snapshot ([`price_feature_names`]
/// order), `da_real(i)` saying whether `s.da_prices[i]` is a real price (a live snapshot's
/// all are; a history filled before 2021 is not).
pub fn price_features_of(s: &Snapshot<'_>, da_real: &dyn Fn(usize) -> bool) -> Vec<f32> {
    let l = s.local;
    let rt = s.rt_history;
    let tail_mean = |n: usize| -> f64 {
        let k = rt.len().min(n);
        if k == 0 {
            0.0
        } else {
            rt[rt.len() - k..].iter().sum::<f64>() / k as f64
        }
    };
    let tail_max = |n: usize| -> f64 {
        let k = rt.len().min(n);
        rt[rt.len() - k..]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let last = rt.last().copied().unwrap_or(0.0);
    let da = da_hours_of(s, da_real);
    let all_da = da.iter().all(|d| d.is_some());
    let sc = |p: f64| asinh_scaled(p, PRICE_SCALE);
    let mut v = vec![
        sc(last),
        sc(tail_mean(4)),
        sc(tail_mean(16)),
        sc(if rt.is_empty() { 0.0 } else { tail_max(16) }),
        sc(tail_mean(96)),
        if all_da { 1.0 } else { 0.0 },
    ];
    // A missing hour's day-ahead price is replaced by the last real-time price.
    v.extend(da.iter().map(|d| sc(d.unwrap_or(last))));
    let hour = (l.hour as f64 + l.minute as f64 / 60.0) / 24.0 * std::f64::consts::TAU;
    let month = (l.month as f64 - 1.0) / 12.0 * std::f64::consts::TAU;
    let peak = s.system_load_mtd_peak_mw.max(1.0);
    v.extend([
        hour.sin() as f32,
        hour.cos() as f32,
        weekend(&l),
        month.sin() as f32,
        month.cos() as f32,
        (s.system_load_mw / peak) as f32,
        (s.system_load_mw / 80_000.0) as f32,
    ]);
    v
}

/// Whole days left in the month after the local day of `l`.
pub fn days_left(l: &LocalTime) -> u8 {
    crate::time::days_in_month(l.year, l.month) - l.day
}

/// Names of the 4CP forecasts' inputs, in order.
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

/// The 4CP forecasts' inputs for a decision from its snapshot `s` ([`fourcp_feature_names`]
/// order), the load's rise read from the snapshot's loads of one and two hours earlier, and
/// `da_real(i)` saying whether `s.da_prices[i]` is a real price (a live snapshot's all
/// are). The one rule behind the fit's rows, the live forecaster and the observation.
pub fn fourcp_features_of(s: &Snapshot<'_>, da_real: &dyn Fn(usize) -> bool) -> Vec<f32> {
    let l = s.local;
    let load = s.system_load_mw;
    let peak = s.system_load_mtd_peak_mw.max(1.0);
    // The rest of today's day-ahead prices (published the day before, from 2021).
    let day_left = (96 - crate::time::interval_of_local_day(s.interval_start_ms)).max(1);
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
        ((load - s.system_load_1h_ago_mw) / 1000.0) as f32,
        ((load - s.system_load_2h_ago_mw) / 1000.0) as f32,
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

/// A model output (logit) as a probability; 0 where it is not finite (the one reading of a
/// logit, for the fit's scores, the live forecasts and the observation).
pub fn logit_chance(v: f32) -> f64 {
    let p = 1.0 / (1.0 + (-(v as f64)).exp());
    if p.is_finite() { p } else { 0.0 }
}

/// The per-hour 4CP model's chances for a decision in local hour `hour` from its outputs
/// `z` (a logit per hour of [`FOURCP_HOURS`], then the day's): each hour's chance, 0 for
/// the hours already begun before the decision's own, and the day's. Outputs missing read 0.
pub fn fourcp_hour_chances(z: &[f32], hour: u8) -> ([f64; FOURCP_N_HOURS], f64) {
    let at = |i: usize| z.get(i).map_or(0.0, |&v| logit_chance(v));
    let hours = std::array::from_fn(|i| {
        if *FOURCP_HOURS.start() + i as u8 >= hour {
            at(i)
        } else {
            0.0
        }
    });
    (hours, at(FOURCP_N_HOURS))
}

/// The chance of local hour `hour` among the per-hour chances `hours` (one per hour of
/// [`FOURCP_HOURS`]); 0 outside those hours.
pub fn fourcp_chance_at(hours: &[f64; FOURCP_N_HOURS], hour: u8) -> f64 {
    if FOURCP_HOURS.contains(&hour) {
        hours[(hour - FOURCP_HOURS.start()) as usize]
    } else {
        0.0
    }
}

/// One dense layer, `y = x W + b` with `W` row-major `[d_in, d_out]` (burn's layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseLayer {
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Weights, `d_in * d_out`.
    pub weight: Vec<f32>,
    /// Biases, `d_out`.
    pub bias: Vec<f32>,
}

/// The forward pass of a forecast model: `(x - mean) / std`, the layers with tanh after
/// every one but the last, then `offset` added. The one implementation of it (the forecast
/// crate's `ModelFile::forward` calls it).
pub fn dense_forward(
    norm_mean: &[f32],
    norm_std: &[f32],
    layers: &[DenseLayer],
    offset: &[f32],
    x: &[f32],
) -> Vec<f32> {
    let mut h: Vec<f32> = x
        .iter()
        .zip(norm_mean)
        .zip(norm_std)
        .map(|((x, m), s)| (x - m) / s)
        .collect();
    let last = layers.len().saturating_sub(1);
    for (l, layer) in layers.iter().enumerate() {
        let mut y = layer.bias.clone();
        for (i, xi) in h.iter().enumerate() {
            let row = &layer.weight[i * layer.d_out..(i + 1) * layer.d_out];
            for (yj, w) in y.iter_mut().zip(row) {
                *yj += xi * w;
            }
        }
        if l < last {
            y.iter_mut().for_each(|v| *v = v.tanh());
        }
        h = y;
    }
    h.iter_mut().zip(offset).for_each(|(v, o)| *v += o);
    h
}

/// A forecast model file's network as observations use it (the other fields of the file,
/// its split and scores, are the forecast crate's).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct DenseModel {
    feature_names: Vec<String>,
    output_names: Vec<String>,
    norm_mean: Vec<f32>,
    norm_std: Vec<f32>,
    layers: Vec<DenseLayer>,
    output_offset: Vec<f32>,
}

impl DenseModel {
    /// Parses and checks a model file's text: the inputs are `inputs`, `outputs` outputs,
    /// the shapes chain, every number finite.
    fn parse(text: &str, inputs: &[String], outputs: usize) -> Result<DenseModel, String> {
        let m: DenseModel = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if m.feature_names != inputs {
            return Err("feature_names are not this build's inputs of the model".into());
        }
        if m.output_names.len() != outputs || m.output_offset.len() != outputs {
            return Err(format!("expected {outputs} outputs"));
        }
        let d = m.feature_names.len();
        if m.norm_mean.len() != d || m.norm_std.len() != d || m.norm_std.iter().any(|&s| s <= 0.0) {
            return Err("normaliser shape or std <= 0".into());
        }
        let mut width = d;
        for (i, l) in m.layers.iter().enumerate() {
            if l.d_in != width || l.weight.len() != l.d_in * l.d_out || l.bias.len() != l.d_out {
                return Err(format!("layer {i}: shapes do not chain"));
            }
            width = l.d_out;
        }
        if width != outputs {
            return Err(format!(
                "last layer has {width} outputs, expected {outputs}"
            ));
        }
        let finite = m
            .norm_mean
            .iter()
            .chain(&m.norm_std)
            .chain(&m.output_offset)
            .chain(m.layers.iter().flat_map(|l| l.weight.iter().chain(&l.bias)))
            .all(|x| x.is_finite());
        if !finite {
            return Err("a weight is not finite".into());
        }
        Ok(m)
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        dense_forward(
            &self.norm_mean,
            &self.norm_std,
            &self.layers,
            &self.output_offset,
            x,
        )
    }
}

/// The real-time quantile model as observations use it.
#[derive(Debug, Clone, PartialEq)]
pub struct RtForecast(DenseModel);

impl RtForecast {
    /// Parses and checks a model file's text: the inputs are [`price_feature_names`], the
    /// outputs the 12 quantiles, the shapes chain, every number finite.
    pub fn parse(text: &str) -> Result<RtForecast, String> {
        DenseModel::parse(text, &price_feature_names(), RT_HORIZONS * 3).map(RtForecast)
    }

    /// The shipped model ([`SHIPPED_RT_MODEL_JSON`]), parsed once.
    pub fn shipped() -> &'static RtForecast {
        static SHIPPED: OnceLock<RtForecast> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            RtForecast::parse(SHIPPED_RT_MODEL_JSON).expect("the shipped rt_price.json is valid")
        })
    }

    /// Quantiles 10/50/90 % ($/MWh, sorted, finite) of the mean real-time price of each of
    /// the next four hours from `s`, every day-ahead price taken as real.
    pub fn quantiles(&self, s: &Snapshot<'_>) -> [[f64; 3]; RT_HORIZONS] {
        price_quantiles(&self.0.forward(&price_features_of(s, &|_| true)))
    }
}

/// The per-hour 4CP model as observations use it.
#[derive(Debug, Clone, PartialEq)]
pub struct FourCpForecast(DenseModel);

impl FourCpForecast {
    /// Parses and checks a model file's text: the inputs are [`fourcp_feature_names`], the
    /// outputs a logit per hour of [`FOURCP_HOURS`] and the day's, the shapes chain, every
    /// number finite.
    pub fn parse(text: &str) -> Result<FourCpForecast, String> {
        DenseModel::parse(text, &fourcp_feature_names(), FOURCP_N_HOURS + 1).map(FourCpForecast)
    }

    /// The shipped model ([`SHIPPED_FOURCP_HOURS_JSON`]), parsed once.
    pub fn shipped() -> &'static FourCpForecast {
        static SHIPPED: OnceLock<FourCpForecast> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            FourCpForecast::parse(SHIPPED_FOURCP_HOURS_JSON)
                .expect("the shipped fourcp_hours.json is valid")
        })
    }

    /// The chance of each hour of [`FOURCP_HOURS`] of `s`'s day (0 for the hours already
    /// begun) and of the day, every day-ahead price taken as real
    /// ([`fourcp_hour_chances`]).
    pub fn chances(&self, s: &Snapshot<'_>) -> ([f64; FOURCP_N_HOURS], f64) {
        fourcp_hour_chances(
            &self.0.forward(&fourcp_features_of(s, &|_| true)),
            s.local.hour,
        )
    }
}

/// The quantiles (10/50/90 %, $/MWh) of each horizon from the model's 12 outputs on the
/// asinh scale: sorted (crossing quantiles are swapped), finite (an output is clamped to
/// +-10, about $220,000, and a NaN reads 0). Outputs missing read 0.
pub fn price_quantiles(z: &[f32]) -> [[f64; 3]; RT_HORIZONS] {
    std::array::from_fn(|k| {
        let mut q: [f64; 3] = std::array::from_fn(|j| {
            let v = z.get(k * 3 + j).map_or(0.0, |&v| v as f64);
            let v = if v.is_finite() {
                v.clamp(-10.0, 10.0)
            } else {
                0.0
            };
            PRICE_SCALE * v.sinh()
        });
        q.sort_by(f64::total_cmp);
        q
    })
}
