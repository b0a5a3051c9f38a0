//! The 4CP forecast: for a decision at the start of each local hour of a 4CP month, the
//! probability that this hour holds the month's 4CP interval and that this local day does.
//! Labels come from history (`Market::hindsight().four_cp_weight`: the month's peak hour of
//! system load). Baselines: "alert on every new month-to-date maximum" in the afternoon and
//! the expert's `likely_peak` rule.
//!
//! Three variants ([`Variant`]): the hour-and-day model (`fourcp`), the same with the
//! simulated ERCOT load forecast (`fourcp_lf`), and the per-hour model (`fourcp_hours`): from
//! the same inputs as `fourcp`, the chance that each remaining hour of today's
//! [`FOURCP_HOURS`] holds the month's 4CP interval, and that today does. The per-hour model
//! is what a planner needs to weigh each hour of the rest of the day; its chance for the
//! decision's own hour is scored beside the others'.

use crate::History;
use crate::features::{
    FOURCP_HOURS, HOUR, fourcp_feature_names, fourcp_features, fourcp_lf_feature_names,
    fourcp_lf_features,
};
use crate::model::ModelFile;
#[cfg(feature = "fit")]
use crate::model::{FORMAT_VERSION, Split};
#[cfg(feature = "fit")]
use crate::train::{FitConfig, Loss, Table, base_rate_logits, fit, normaliser};
use powermix_agent::{Expert, ExpertParams};
use powermix_env::SiteState;
#[cfg(feature = "fit")]
use std::collections::BTreeMap;

/// Model kind in the file.
pub const KIND: &str = "fourcp";
/// Model kind of the variant with the simulated ERCOT load forecast.
pub const KIND_LF: &str = "fourcp_lf";
/// Model kind of the per-hour variant.
pub const KIND_HOURS: &str = "fourcp_hours";

/// Hours of the day the per-hour model answers for ([`FOURCP_HOURS`]).
pub const N_HOURS: usize = powermix_env::learned::FOURCP_N_HOURS;

/// The three 4CP models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fourcp`: the chance of the decision's hour and of its day.
    HourDay,
    /// `fourcp_lf`: the same with the simulated ERCOT load forecast's features.
    LoadForecast,
    /// `fourcp_hours`: the chance of each remaining hour of today's [`FOURCP_HOURS`], and
    /// of the day, from `fourcp`'s features.
    PerHour,
}

impl Variant {
    /// Every variant, in the order `fit` writes them.
    pub const ALL: [Variant; 3] = [Variant::HourDay, Variant::LoadForecast, Variant::PerHour];

    /// The model kind (and file stem).
    pub fn kind(self) -> &'static str {
        match self {
            Variant::HourDay => KIND,
            Variant::LoadForecast => KIND_LF,
            Variant::PerHour => KIND_HOURS,
        }
    }
    /// The variant of a model kind.
    pub fn of_kind(kind: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.kind() == kind)
    }
    /// Its feature names.
    pub fn feature_names(self) -> Vec<String> {
        match self {
            Variant::LoadForecast => fourcp_lf_feature_names(),
            _ => fourcp_feature_names(),
        }
    }
    /// Its output names.
    pub fn output_names(self) -> Vec<String> {
        match self {
            Variant::PerHour => hours_output_names(),
            _ => output_names(),
        }
    }
    fn x(self, r: &Row) -> &[f32] {
        match self {
            Variant::LoadForecast => &r.x_lf,
            _ => &r.x,
        }
    }
}

/// Outputs: logits of the hour and of the day holding the peak.
pub fn output_names() -> Vec<String> {
    vec!["p_hour_logit".into(), "p_day_logit".into()]
}
/// Outputs of the per-hour model: a logit for each hour of [`FOURCP_HOURS`] of today, then
/// the day's.
pub fn hours_output_names() -> Vec<String> {
    let mut v: Vec<String> = FOURCP_HOURS.map(|h| format!("p_h{h}_logit")).collect();
    v.push("p_day_logit".into());
    v
}

/// The per-hour model's answer for one decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourChances {
    /// Probability that hour `FOURCP_HOURS.start() + i` of today holds the month's 4CP
    /// interval; 0 for the hours already begun before the decision's own.
    pub hours: [f64; N_HOURS],
    /// Probability that today holds it.
    pub day: f64,
}

impl HourChances {
    /// The chances of a decision in local hour `hour` from the model's outputs `z`.
    pub fn from_logits(z: &[f32], hour: u8) -> HourChances {
        let (hours, day) = powermix_env::learned::fourcp_hour_chances(z, hour);
        HourChances { hours, day }
    }
    /// The chance of local hour `hour` (0 outside [`FOURCP_HOURS`]).
    pub fn at(&self, hour: u8) -> f64 {
        powermix_env::learned::fourcp_chance_at(&self.hours, hour)
    }
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
    /// Local hour of the decision.
    pub hour: u8,
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
    /// Which hour of today's [`FOURCP_HOURS`] holds it.
    pub peak_at: [bool; N_HOURS],
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
        let mut peak_at = [false; N_HOURS];
        for (l, &wu) in m.local[ds..de].iter().zip(&w[ds..de]) {
            let hr = l.hour;
            if wu > 0.0 && FOURCP_HOURS.contains(&hr) {
                peak_at[(hr - FOURCP_HOURS.start()) as usize] = true;
            }
        }
        out.push(Row {
            t,
            year: l.year,
            hour: l.hour,
            month_key: l.month_key(),
            x: fourcp_features(h, t),
            x_lf: fourcp_lf_features(h, t),
            peak_hour: w[t..(t + HOUR).min(m.len())].iter().any(|&x| x > 0.0),
            peak_day: w[ds..de].iter().any(|&x| x > 0.0),
            peak_at,
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

/// The model's probabilities of each row's hour and day (the per-hour model's chance of
/// the decision's own hour, 0 outside [`FOURCP_HOURS`]).
pub fn predict(m: &ModelFile, rows: &[Row]) -> Vec<(f64, f64)> {
    let v = Variant::of_kind(&m.kind).unwrap_or(Variant::HourDay);
    rows.iter()
        .map(|r| {
            let z = m.forward(v.x(r));
            if v == Variant::PerHour {
                let c = HourChances::from_logits(&z, r.hour);
                (c.at(r.hour), c.day)
            } else {
                (sigmoid(z[0] as f64), sigmoid(z[1] as f64))
            }
        })
        .collect()
}

/// The per-hour model's chances of each row.
pub fn predict_hours(m: &ModelFile, rows: &[Row]) -> Vec<HourChances> {
    rows.iter()
        .map(|r| HourChances::from_logits(&m.forward(&r.x), r.hour))
        .collect()
}

/// Mean log loss (nats) of the per-hour chances over every (decision, hour of today not
/// yet begun) pair: the score of a forecast of the rest of the day, and `(pairs, peak pairs)`.
pub fn logloss_rest_of_day(rows: &[Row], p: &[HourChances]) -> (f64, usize, usize) {
    let (mut sum, mut n, mut pos) = (0.0, 0usize, 0usize);
    for (r, c) in rows.iter().zip(p) {
        for (i, &y) in r.peak_at.iter().enumerate() {
            if *FOURCP_HOURS.start() + (i as u8) < r.hour {
                continue;
            }
            let q = c.hours[i].clamp(1e-6, 1.0 - 1e-6);
            sum += if y { -q.ln() } else { -(1.0 - q).ln() };
            n += 1;
            pos += y as usize;
        }
    }
    (sum / n.max(1) as f64, n, pos)
}

/// The per-hour baseline: each hour's frequency of holding the peak among the fitting
/// rows that asked for it (hour not begun), by the decision's hour (Laplace-smoothed), the
/// day's by the same; the chances a forecaster with no inputs but the clock would give.
pub fn hour_climatology(fit_rows: &[Row]) -> impl Fn(&Row) -> HourChances {
    let mut pos = [[0.5f64; N_HOURS]; 24];
    let mut n = [[1.0f64; N_HOURS]; 24];
    let mut day = [(0.5f64, 1.0f64); 24];
    for r in fit_rows {
        let d = r.hour as usize % 24;
        for (i, &y) in r.peak_at.iter().enumerate() {
            pos[d][i] += y as u8 as f64;
            n[d][i] += 1.0;
        }
        day[d].0 += r.peak_day as u8 as f64;
        day[d].1 += 1.0;
    }
    move |r: &Row| {
        let d = r.hour as usize % 24;
        let mut hours = [0.0; N_HOURS];
        for (i, p) in hours.iter_mut().enumerate() {
            if *FOURCP_HOURS.start() + i as u8 >= r.hour {
                *p = pos[d][i] / n[d][i];
            }
        }
        HourChances {
            hours,
            day: day[d].0 / day[d].1,
        }
    }
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

/// The fitting table of `v`: per row its labels, a peak weighted `w_hour` (a peak day
/// `w_day`); the per-hour model's hours begun before the decision's weigh 0 (not asked).
#[cfg(feature = "fit")]
fn table(rows: &[Row], w_hour: f32, w_day: f32, v: Variant) -> Table {
    let k = v.output_names().len();
    let mut t = Table::new(v.x(&rows[0]).len(), k);
    let day_w = |r: &Row| if r.peak_day { w_day } else { 1.0 };
    let (mut y, mut w) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for r in rows {
        y.clear();
        w.clear();
        if v == Variant::PerHour {
            for (i, &p) in r.peak_at.iter().enumerate() {
                y.push(p as u8 as f32);
                let asked = *FOURCP_HOURS.start() + i as u8 >= r.hour;
                w.push(match (asked, p) {
                    (false, _) => 0.0,
                    (true, true) => w_hour,
                    (true, false) => 1.0,
                });
            }
        } else {
            y.push(r.peak_hour as u8 as f32);
            w.push(if r.peak_hour { w_hour } else { 1.0 });
        }
        y.push(r.peak_day as u8 as f32);
        w.push(day_w(r));
        t.push(v.x(r), &y, &w);
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

/// The candidates tried: logistic regression and a 16-unit MLP (the per-hour model also a
/// 4-unit one), each unweighted and with peak hours weighted 30 (prior-corrected at
/// inference by `-ln w`).
pub fn candidates(variant: Variant) -> Vec<Candidate> {
    let mut v = Vec::new();
    let widths: &[usize] = if variant == Variant::PerHour {
        &[0, 4, 16]
    } else {
        &[0, 16]
    };
    for hidden in widths
        .iter()
        .map(|&w| if w == 0 { vec![] } else { vec![w] })
    {
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
/// Fits every candidate of variant `v` on `fit_rows`, selects the step and the candidate by
/// the summed hour and day log loss on `select_rows` (the per-hour model, whose hours are
/// what a planner reads: its log loss over the rest of each day's hours,
/// [`logloss_rest_of_day`]); returns the
/// chosen model and a line per candidate.
pub fn fit_and_select(
    v: Variant,
    fit_rows: &[Row],
    select_rows: &[Row],
    split: Split,
    steps: usize,
    command: &str,
) -> (ModelFile, Vec<String>) {
    let mut log = Vec::new();
    let mut best: Option<(ModelFile, f64)> = None;
    for (i, c) in candidates(v).iter().enumerate() {
        let w_day = c.pos_weight.sqrt();
        let t = table(fit_rows, c.pos_weight, w_day, v);
        let kind = v.kind();
        let (mean, std) = normaliser(&t);
        let mut offset = vec![-c.pos_weight.ln(); t.k - 1];
        offset.push(-w_day.ln());
        let template = ModelFile {
            format_version: FORMAT_VERSION,
            kind: kind.into(),
            split: split.clone(),
            feature_names: v.feature_names(),
            output_names: v.output_names(),
            norm_mean: mean,
            norm_std: std,
            layers: vec![],
            output_offset: offset,
            selection: BTreeMap::new(),
            command: command.into(),
        };
        let cfg = FitConfig {
            hidden: c.hidden.clone(),
            steps,
            lr: 0.01,
            eval_every: 25,
            seed: 7 + i as u64,
            // The per-hour model starts at each hour's base rate (a third round,
            // 2026-12-07); the two older models keep their first fit's start.
            init_bias: (v == Variant::PerHour).then(|| base_rate_logits(&t)),
        };
        let (mut m, step, loss) = fit(&template, &t, &Loss::Logistic, &cfg, |m| {
            let s = score(select_rows, &predict(m, select_rows), &[]);
            if v == Variant::PerHour {
                logloss_rest_of_day(select_rows, &predict_hours(m, select_rows)).0
            } else {
                s.logloss_hour + s.logloss_day
            }
        });
        log.push(format!(
            "{kind}: hidden {:?} pos_weight {} -> best step {step}, selection log loss ({}) {loss:.5}",
            c.hidden,
            c.pos_weight,
            if v == Variant::PerHour {
                "rest of day"
            } else {
                "hour + day"
            }
        ));
        m.selection = BTreeMap::from([
            ("steps".into(), step as f64),
            (
                "hidden".into(),
                c.hidden.first().copied().unwrap_or(0) as f64,
            ),
            ("pos_weight_hour".into(), c.pos_weight as f64),
            ("pos_weight_day".into(), w_day as f64),
            (
                if v == Variant::PerHour {
                    "select_logloss_rest_of_day".into()
                } else {
                    "select_logloss_hour_plus_day".into()
                },
                loss,
            ),
        ]);
        if best.as_ref().is_none_or(|b| loss < b.1) {
            best = Some((m, loss));
        }
    }
    (best.expect("at least one candidate").0, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chances_of_hours_begun_are_zero_and_hours_outside_the_window_read_zero() {
        let z: Vec<f32> = (0..=N_HOURS).map(|i| i as f32 - 4.0).collect();
        let c = HourChances::from_logits(&z, 15);
        for (i, &p) in c.hours.iter().enumerate() {
            let hour = 12 + i as u8;
            if hour < 15 {
                assert_eq!(p, 0.0, "hour {hour}");
            } else {
                assert_eq!(p, sigmoid(i as f64 - 4.0), "hour {hour}");
            }
        }
        assert_eq!(c.day, sigmoid(N_HOURS as f64 - 4.0));
        assert_eq!(c.at(17), c.hours[5]);
        assert_eq!(c.at(11), 0.0);
        assert_eq!(c.at(21), 0.0);
        // A morning decision is asked every hour of the window.
        assert!(
            HourChances::from_logits(&z, 8)
                .hours
                .iter()
                .all(|&p| p > 0.0)
        );
    }

    fn row(hour: u8, peak: Option<u8>) -> Row {
        let mut peak_at = [false; N_HOURS];
        if let Some(p) = peak {
            peak_at[(p - 12) as usize] = true;
        }
        Row {
            t: 0,
            year: 2023,
            hour,
            month_key: 0,
            x: vec![],
            x_lf: vec![],
            peak_hour: peak == Some(hour),
            peak_day: peak.is_some(),
            peak_at,
            new_max: false,
            expert: false,
        }
    }

    #[test]
    fn rest_of_day_log_loss_by_hand() {
        // A decision at 19:00 is asked hours 19 and 20; the peak is at 20.
        let rows = [row(19, Some(20))];
        let mut hours = [0.0; N_HOURS];
        hours[7] = 0.25;
        hours[8] = 0.5;
        let (ll, n, pos) = logloss_rest_of_day(&rows, &[HourChances { hours, day: 0.5 }]);
        assert_eq!((n, pos), (2, 1));
        let want = (-(0.75f64).ln() - (0.5f64).ln()) / 2.0;
        assert!((ll - want).abs() < 1e-12, "{ll} {want}");
    }

    #[test]
    fn the_clock_baseline_is_each_hours_smoothed_frequency() {
        // Two 13:00 decisions, one on a day whose 17:00 held the peak.
        let fit = [row(13, Some(17)), row(13, None)];
        let clim = hour_climatology(&fit);
        let c = clim(&row(13, None));
        assert_eq!(c.at(12), 0.0);
        assert_eq!(c.at(17), (0.5 + 1.0) / (1.0 + 2.0));
        assert_eq!(c.at(16), 0.5 / 3.0);
        assert_eq!(c.day, (0.5 + 1.0) / 3.0);
        // An hour of the day with no fitting rows reads the prior.
        assert_eq!(clim(&row(9, None)).at(17), 0.5);
    }
}
