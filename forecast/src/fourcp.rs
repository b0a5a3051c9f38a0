//! The 4CP forecast: for a decision at the start of each local hour of a 4CP month, the
//! probability that this hour holds the month's 4CP interval and that this local day does.
//! Labels come from history (`Market::hindsight().four_cp_weight`: the month's peak hour of
//! system load). Baselines: "alert on every new month-to-date maximum" in the afternoon and
//! the expert's `likely_peak` rule.

use crate::History;
use crate::features::{
    HOUR, fourcp_feature_names, fourcp_features, fourcp_lf_feature_names, fourcp_lf_features,
};
use crate::model::ModelFile;
#[cfg(feature = "fit")]
use crate::model::{FORMAT_VERSION, Split};
#[cfg(feature = "fit")]
use crate::train::{FitConfig, Loss, Table, fit, normaliser};
use powermix_agent::{Expert, ExpertParams};
use powermix_env::SiteState;
#[cfg(feature = "fit")]
use std::collections::BTreeMap;

/// Model kind in the file.
pub const KIND: &str = "fourcp";
/// Model kind of the variant with the simulated ERCOT load forecast.
pub const KIND_LF: &str = "fourcp_lf";

/// The kind, and the feature names, of the model with or without the load forecast.
pub fn kind_and_features(with_lf: bool) -> (&'static str, Vec<String>) {
    if with_lf {
        (KIND_LF, fourcp_lf_feature_names())
    } else {
        (KIND, fourcp_feature_names())
    }
}
/// Outputs: logits of the hour and of the day holding the peak.
pub fn output_names() -> Vec<String> {
    vec!["p_hour_logit".into(), "p_day_logit".into()]
}

/// Alert thresholds the economics set: training stops above about 11 %, miners far lower.
pub const THRESHOLDS: [f64; 3] = [0.02, 0.05, 0.11];

/// Local hours (inclusive) of the "new month-to-date maximum" baseline's afternoon window.
pub const NEW_MAX_HOURS: std::ops::RangeInclusive<u8> = 14..=19;

/// One hourly decision of a 4CP month.
#[derive(Debug, Clone)]
pub struct Row {
    /// Interval index (first interval of the local hour).
    pub t: usize,
    /// Local year.
    pub year: i32,
    /// Month key (year * 12 + month).
    pub month_key: i32,
    /// Features ([`fourcp_feature_names`]).
    pub x: Vec<f32>,
    /// Features with the load forecast ([`fourcp_lf_feature_names`]).
    pub x_lf: Vec<f32>,
    /// This hour holds the month's 4CP interval.
    pub peak_hour: bool,
    /// This local day holds it.
    pub peak_day: bool,
    /// Baseline (a): new month-to-date maximum in the afternoon.
    pub new_max: bool,
    /// Baseline (b): the expert's `likely_peak` at its shipped ratio.
    pub expert: bool,
}

/// Every hourly decision of the 4CP months of `h` whose local year is in `years`.
pub fn rows(h: &History, years: std::ops::RangeInclusive<i32>) -> Vec<Row> {
    let m = &h.market;
    let w = m.hindsight().four_cp_weight;
    let months = &m.cfg.four_cp.months;
    let params = ExpertParams::default_params();
    let expert = Expert::new(&m.cfg, params.clone());
    let state = SiteState::initial(&m.cfg);
    let mut out = Vec::new();
    for t in 0..m.len() {
        let l = m.local[t];
        if l.minute != 0 || !years.contains(&l.year) || !months.contains(&l.month) {
            continue;
        }
        let (ds, de) = m.day_range(t);
        let s = m.snapshot(t, &state);
        out.push(Row {
            t,
            year: l.year,
            month_key: l.month_key(),
            x: fourcp_features(h, t),
            x_lf: fourcp_lf_features(h, t),
            peak_hour: w[t..(t + HOUR).min(m.len())].iter().any(|&x| x > 0.0),
            peak_day: w[ds..de].iter().any(|&x| x > 0.0),
            new_max: NEW_MAX_HOURS.contains(&l.hour)
                && s.system_load_mtd_peak_mw > 0.0
                && s.system_load_mw >= s.system_load_mtd_peak_mw,
            expert: expert.likely_peak(&s, params.four_cp_load_ratio),
        });
    }
    out
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Scores of one forecaster on a set of rows.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// Brier score of the hour probability.
    pub brier_hour: f64,
    /// Log loss of the hour probability (nats).
    pub logloss_hour: f64,
    /// Brier score of the day probability.
    pub brier_day: f64,
    /// Log loss of the day probability.
    pub logloss_day: f64,
    /// Per threshold: (threshold, peaks alerted, months, false-alarm hours per summer).
    pub at: Vec<(f64, usize, usize, f64)>,
}

/// Scores probabilities `(p_hour, p_day)` of `rows`; alerts at each of `thresholds` (a
/// binary baseline passes 0.5).
pub fn score(rows: &[Row], p: &[(f64, f64)], thresholds: &[f64]) -> Scores {
    let n = rows.len().max(1) as f64;
    let ll = |p: f64, y: bool| {
        let p = p.clamp(1e-6, 1.0 - 1e-6);
        if y { -p.ln() } else { -(1.0 - p).ln() }
    };
    let b = |p: f64, y: bool| (p - if y { 1.0 } else { 0.0 }).powi(2);
    let mut s = Scores::default();
    for (r, &(ph, pd)) in rows.iter().zip(p) {
        s.brier_hour += b(ph, r.peak_hour) / n;
        s.logloss_hour += ll(ph, r.peak_hour) / n;
        s.brier_day += b(pd, r.peak_day) / n;
        s.logloss_day += ll(pd, r.peak_day) / n;
    }
    let mut months: Vec<i32> = rows.iter().map(|r| r.month_key).collect();
    months.dedup();
    let mut years: Vec<i32> = rows.iter().map(|r| r.year).collect();
    years.dedup();
    for &th in thresholds {
        let caught = rows
            .iter()
            .zip(p)
            .filter(|(r, p)| r.peak_hour && p.0 >= th)
            .map(|(r, _)| r.month_key)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let false_hours = rows
            .iter()
            .zip(p)
            .filter(|(r, p)| !r.peak_hour && p.0 >= th)
            .count();
        s.at.push((
            th,
            caught,
            months.len(),
            false_hours as f64 / years.len().max(1) as f64,
        ));
    }
    s
}

/// The model's probabilities of each row.
pub fn predict(m: &ModelFile, rows: &[Row]) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|r| {
            let z = m.forward(if m.kind == KIND_LF { &r.x_lf } else { &r.x });
            (sigmoid(z[0] as f64), sigmoid(z[1] as f64))
        })
        .collect()
}

/// A binary alert as probabilities: the frequency of a peak hour (day) among the fitting
/// rows with the alert on, and off (so that Brier and log loss are finite and fair).
pub fn calibrated_binary(
    fit_rows: &[Row],
    alert: impl Fn(&Row) -> bool,
) -> impl Fn(&Row) -> (f64, f64) {
    let rate = |on: bool, f: &dyn Fn(&Row) -> bool| {
        let sel: Vec<&Row> = fit_rows.iter().filter(|r| alert(r) == on).collect();
        (sel.iter().filter(|r| f(r)).count() as f64 + 0.5) / (sel.len() as f64 + 1.0)
    };
    let (h_on, h_off) = (rate(true, &|r| r.peak_hour), rate(false, &|r| r.peak_hour));
    let (d_on, d_off) = (rate(true, &|r| r.peak_day), rate(false, &|r| r.peak_day));
    move |r: &Row| {
        if alert(r) {
            (h_on, d_on)
        } else {
            (h_off, d_off)
        }
    }
}

#[cfg(feature = "fit")]
fn table(rows: &[Row], w_hour: f32, w_day: f32, with_lf: bool) -> Table {
    let x = |r: &Row| if with_lf { r.x_lf.clone() } else { r.x.clone() };
    let mut t = Table::new(x(&rows[0]).len(), 2);
    for r in rows {
        let y = [r.peak_hour as u8 as f32, r.peak_day as u8 as f32];
        let w = [
            if r.peak_hour { w_hour } else { 1.0 },
            if r.peak_day { w_day } else { 1.0 },
        ];
        t.push(&x(r), &y, &w);
    }
    t
}

/// One candidate of the selection.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Class weight of a peak hour (a peak day gets its square root).
    pub pos_weight: f32,
}

/// The candidates tried: logistic regression and a 16-unit MLP, each unweighted and with
/// peak hours weighted 30 (prior-corrected at inference by `-ln w`).
pub fn candidates() -> Vec<Candidate> {
    let mut v = Vec::new();
    for hidden in [vec![], vec![16]] {
        for pos_weight in [1.0, 30.0] {
            v.push(Candidate {
                hidden: hidden.clone(),
                pos_weight,
            });
        }
    }
    v
}

#[cfg(feature = "fit")]
/// Fits every candidate on `fit_rows`, selects the step and the candidate by the summed
/// hour and day log loss on `select_rows`; returns the chosen model and a line per
/// candidate.
pub fn fit_and_select(
    with_lf: bool,
    fit_rows: &[Row],
    select_rows: &[Row],
    split: Split,
    steps: usize,
    command: &str,
) -> (ModelFile, Vec<String>) {
    let mut log = Vec::new();
    let mut best: Option<(ModelFile, f64)> = None;
    for (i, c) in candidates().iter().enumerate() {
        let w_day = c.pos_weight.sqrt();
        let t = table(fit_rows, c.pos_weight, w_day, with_lf);
        let (kind, names) = kind_and_features(with_lf);
        let (mean, std) = normaliser(&t);
        let template = ModelFile {
            format_version: FORMAT_VERSION,
            kind: kind.into(),
            split: split.clone(),
            feature_names: names,
            output_names: output_names(),
            norm_mean: mean,
            norm_std: std,
            layers: vec![],
            output_offset: vec![-c.pos_weight.ln(), -w_day.ln()],
            selection: BTreeMap::new(),
            command: command.into(),
        };
        let cfg = FitConfig {
            hidden: c.hidden.clone(),
            steps,
            lr: 0.01,
            eval_every: 25,
            seed: 7 + i as u64,
        };
        let (mut m, step, loss) = fit(&template, &t, &Loss::Logistic, &cfg, |m| {
            let s = score(select_rows, &predict(m, select_rows), &[]);
            s.logloss_hour + s.logloss_day
        });
        log.push(format!(
            "{kind}: hidden {:?} pos_weight {} -> best step {step}, selection log loss (hour + day) {loss:.5}",
            c.hidden, c.pos_weight
        ));
        m.selection = BTreeMap::from([
            ("steps".into(), step as f64),
            (
                "hidden".into(),
                c.hidden.first().copied().unwrap_or(0) as f64,
            ),
            ("pos_weight_hour".into(), c.pos_weight as f64),
            ("pos_weight_day".into(), w_day as f64),
            ("select_logloss_hour_plus_day".into(), loss),
        ]);
        if best.as_ref().is_none_or(|b| loss < b.1) {
            best = Some((m, loss));
        }
    }
    (best.expect("at least one candidate").0, log)
}
