//! Real-time price quantiles: for a decision at the start of each local hour, quantiles
//! 10/50/90 % of the mean real-time price of each of the next four hours (hour k covers
//! intervals t + 4(k-1) .. t + 4k), and of that price minus the hour's day-ahead price
//! where the day-ahead price is published. Fitted by pinball loss on `asinh(y / 20)`
//! (quantiles commute with a monotone map), crossing quantiles sorted at prediction.
//! Baselines: persistence (the last published real-time price) and day-ahead as the
//! forecast, as points and with the fitting years' error quantiles added.

use crate::History;
use crate::features::{HOUR, da_hours, price_features};
#[cfg(feature = "fit")]
use crate::features::{PRICE_SCALE, asinh_scaled, price_feature_names};
use crate::model::ModelFile;
#[cfg(feature = "fit")]
use crate::model::{FORMAT_VERSION, Split};
#[cfg(feature = "fit")]
use crate::train::{FitConfig, Loss, Table, fit, normaliser};
use powermix_env::SiteState;
#[cfg(feature = "fit")]
use std::collections::BTreeMap;

/// Quantile levels.
pub const TAUS: [f64; 3] = [0.1, 0.5, 0.9];
/// Horizons (hours).
pub const HORIZONS: usize = 4;

/// What is forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The real-time price.
    Price,
    /// Real time minus day-ahead (rows with the four hours' day-ahead prices published).
    Spread,
}

impl Target {
    /// Model kind in the file.
    pub fn kind(self) -> &'static str {
        match self {
            Target::Price => "rt_price",
            Target::Spread => "rt_spread",
        }
    }
}

/// Output names: `h{k}_q{10,50,90}`.
pub fn output_names() -> Vec<String> {
    (1..=HORIZONS)
        .flat_map(|k| TAUS.map(|q| format!("h{k}_q{}", (q * 100.0).round() as u32)))
        .collect()
}

/// One hourly decision.
#[derive(Debug, Clone)]
pub struct Row {
    /// Interval index.
    pub t: usize,
    /// Features.
    pub x: Vec<f32>,
    /// Realised mean real-time price of each next hour.
    pub rt: [f64; HORIZONS],
    /// Published day-ahead price of each next hour (all four, or none).
    pub da: Option<[f64; HORIZONS]>,
    /// Last published real-time price.
    pub last: f64,
}

impl Row {
    /// The target of `target` for horizon `k` (None: undefined on this row).
    pub fn y(&self, target: Target, k: usize) -> Option<f64> {
        match target {
            Target::Price => Some(self.rt[k]),
            Target::Spread => self.da.map(|d| self.rt[k] - d[k]),
        }
    }
}

/// Hourly decisions of `h` in local `years` with four whole hours after them.
pub fn rows(h: &History, years: std::ops::RangeInclusive<i32>) -> Vec<Row> {
    let m = &h.market;
    let d = m.hindsight().data;
    let state = SiteState::initial(&m.cfg);
    let mut out = Vec::new();
    for t in 0..m.len().saturating_sub(HORIZONS * HOUR) {
        let l = m.local[t];
        if l.minute != 0 || !years.contains(&l.year) {
            continue;
        }
        let da = da_hours(h, t);
        let s = m.snapshot(t, &state);
        out.push(Row {
            t,
            x: price_features(h, t),
            rt: std::array::from_fn(|k| {
                d.rt_price[t + k * HOUR..t + (k + 1) * HOUR]
                    .iter()
                    .sum::<f64>()
                    / HOUR as f64
            }),
            da: if da.iter().all(|x| x.is_some()) {
                Some(da.map(|x| x.unwrap_or(0.0)))
            } else {
                None
            },
            last: s.rt_history.last().copied().unwrap_or(0.0),
        });
    }
    out
}

/// Quantile forecasts of one row: `[horizon][quantile]`, $/MWh.
pub type Quantiles = [[f64; 3]; HORIZONS];

/// The model's quantiles of each row (sorted per horizon).
pub fn predict(m: &ModelFile, rows: &[Row]) -> Vec<Quantiles> {
    rows.iter()
        .map(|r| powermix_env::learned::price_quantiles(&m.forward(&r.x)))
        .collect()
}

/// A point forecast of each row and horizon, for a baseline.
pub type Point = dyn Fn(&Row, usize) -> Option<f64>;

/// Persistence: the last published real-time price (the spread: that minus day-ahead).
pub fn persistence(target: Target) -> Box<Point> {
    Box::new(move |r: &Row, k: usize| match target {
        Target::Price => Some(r.last),
        Target::Spread => r.da.map(|d| r.last - d[k]),
    })
}

/// Day-ahead as the forecast (the spread: 0).
pub fn day_ahead(target: Target) -> Box<Point> {
    Box::new(move |r: &Row, k: usize| match target {
        Target::Price => r.da.map(|d| d[k]),
        Target::Spread => r.da.map(|_| 0.0),
    })
}

/// The pinball (quantile) loss of quantile `q` at level `tau` for the outcome `y`: the
/// loss every quantile forecast here is fitted (`train::Loss::Pinball`) and scored by.
pub fn pinball(tau: f64, y: f64, q: f64) -> f64 {
    let e = y - q;
    if e >= 0.0 { tau * e } else { (tau - 1.0) * e }
}

/// The [`TAUS`] quantiles of a sample by nearest rank (the baselines' error quantiles);
/// None for an empty sample.
pub fn sample_quantiles(mut e: Vec<f64>) -> Option<[f64; 3]> {
    if e.is_empty() {
        return None;
    }
    e.sort_by(f64::total_cmp);
    Some(TAUS.map(|q| e[((e.len() - 1) as f64 * q).round() as usize]))
}

/// A point baseline as quantiles: the point itself for every quantile, or (with
/// `fit_rows`) plus the fitting rows' error quantiles per horizon.
pub fn baseline_quantiles(
    point: &Point,
    target: Target,
    fit_rows: Option<&[Row]>,
    rows: &[Row],
) -> Vec<Option<Quantiles>> {
    let shift: [[f64; 3]; HORIZONS] = match fit_rows {
        None => [[0.0; 3]; HORIZONS],
        Some(fr) => std::array::from_fn(|k| {
            let e: Vec<f64> = fr
                .iter()
                .filter_map(|r| Some(r.y(target, k)? - point(r, k)?))
                .collect();
            sample_quantiles(e).unwrap_or([0.0; 3])
        }),
    };
    rows.iter()
        .map(|r| {
            let p: Option<Vec<f64>> = (0..HORIZONS).map(|k| point(r, k)).collect();
            p.map(|p| std::array::from_fn(|k| std::array::from_fn(|j| p[k] + shift[k][j])))
        })
        .collect()
}

/// Pinball loss and coverage per quantile, averaged over horizons and the rows where both
/// target and forecast exist.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// Rows scored.
    pub rows: usize,
    /// Mean pinball loss at 10/50/90 % ($/MWh).
    pub pinball: [f64; 3],
    /// Share of targets at or below each quantile.
    pub coverage: [f64; 3],
    /// Mean pinball of the median per horizon.
    pub pinball50_by_horizon: [f64; HORIZONS],
}

/// Scores forecasts `q` of `rows` on `target`.
pub fn score(rows: &[Row], q: &[Option<Quantiles>], target: Target) -> Scores {
    let mut s = Scores::default();
    let mut n = 0usize;
    for (r, q) in rows.iter().zip(q) {
        let Some(q) = q else { continue };
        let ys: Option<Vec<f64>> = (0..HORIZONS).map(|k| r.y(target, k)).collect();
        let Some(ys) = ys else { continue };
        n += 1;
        for k in 0..HORIZONS {
            for j in 0..3 {
                let l = pinball(TAUS[j], ys[k], q[k][j]);
                s.pinball[j] += l;
                if j == 1 {
                    s.pinball50_by_horizon[k] += l;
                }
                if ys[k] <= q[k][j] {
                    s.coverage[j] += 1.0;
                }
            }
        }
    }
    s.rows = n;
    let nn = (n * HORIZONS).max(1) as f64;
    s.pinball
        .iter_mut()
        .chain(s.coverage.iter_mut())
        .for_each(|v| *v /= nn);
    s.pinball50_by_horizon
        .iter_mut()
        .for_each(|v| *v /= n.max(1) as f64);
    s
}

#[cfg(feature = "fit")]
fn table(rows: &[Row], target: Target) -> Table {
    let mut t = Table::new(rows[0].x.len(), HORIZONS * 3);
    for r in rows {
        let Some(ys) = (0..HORIZONS)
            .map(|k| r.y(target, k))
            .collect::<Option<Vec<f64>>>()
        else {
            continue;
        };
        let y: Vec<f32> = ys
            .iter()
            .flat_map(|&y| [asinh_scaled(y, PRICE_SCALE); 3])
            .collect();
        t.push(&r.x, &y, &[1.0; HORIZONS * 3]);
    }
    t
}

#[cfg(feature = "fit")]
/// Fits a linear model and a 32-unit MLP on `fit_rows`, selects the step and the candidate
/// by the mean pinball loss ($/MWh, the three quantiles) on `select_rows`.
pub fn fit_and_select(
    target: Target,
    fit_rows: &[Row],
    select_rows: &[Row],
    split: Split,
    steps: usize,
    command: &str,
) -> (ModelFile, Vec<String>) {
    let t = table(fit_rows, target);
    let (mean, std) = normaliser(&t);
    let mut log = Vec::new();
    let mut best: Option<(ModelFile, f64)> = None;
    let taus: Vec<f32> = (0..HORIZONS).flat_map(|_| TAUS.map(|x| x as f32)).collect();
    for (i, hidden) in [vec![], vec![32]].into_iter().enumerate() {
        let template = ModelFile {
            format_version: FORMAT_VERSION,
            kind: target.kind().into(),
            split: split.clone(),
            feature_names: price_feature_names(),
            output_names: output_names(),
            norm_mean: mean.clone(),
            norm_std: std.clone(),
            layers: vec![],
            output_offset: vec![0.0; HORIZONS * 3],
            selection: BTreeMap::new(),
            command: command.into(),
        };
        let cfg = FitConfig {
            hidden: hidden.clone(),
            steps,
            lr: 0.02,
            eval_every: 25,
            seed: 11 + i as u64,
            init_bias: None,
        };
        let (mut m, step, loss) = fit(&template, &t, &Loss::Pinball(taus.clone()), &cfg, |m| {
            let q: Vec<Option<Quantiles>> = predict(m, select_rows).into_iter().map(Some).collect();
            let s = score(select_rows, &q, target);
            s.pinball.iter().sum::<f64>() / 3.0
        });
        log.push(format!(
            "{}: hidden {hidden:?} -> best step {step}, selection mean pinball {loss:.4} $/MWh ({} fitting rows)",
            target.kind(),
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
