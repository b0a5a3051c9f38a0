//! The load forecaster on a synthetic year: its errors match the stated MAPE per lead, a
//! forecast reads nothing beyond its target and horizon, and past monthly peaks appear only
//! once the month is over. (An integration test: the year comes from `powermix-data`'s
//! generator, which depends on this crate.)
use powermix_data::synth::synthetic_year;
use powermix_env::data::MarketData;
use powermix_env::forecast::{HORIZON_HOURS, LoadForecastModel, LoadForecaster};
use powermix_env::time::local_time;

const HOUR_MS: i64 = 3_600_000;

fn year() -> MarketData {
    synthetic_year(2023, 5)
}

/// Mean absolute relative error of the forecasts at `lead` hours over the data.
fn mape_at(f: &LoadForecaster, data: &MarketData, lead: i64) -> f64 {
    let mut sum = 0.0;
    let mut n = 0;
    for (i, &ms) in data.interval_start_ms.iter().enumerate().step_by(4) {
        let as_of = ms - lead * HOUR_MS;
        if let Some(x) = f.forecast_mw(as_of, ms) {
            sum += (x / data.system_load_mw[i] - 1.0).abs();
            n += 1;
        }
    }
    sum / n as f64
}

#[test]
fn the_error_at_each_lead_is_at_least_the_stated_mape() {
    let data = year();
    let f = LoadForecaster::new(&data, LoadForecastModel::ERCOT).unwrap();
    // About 8,760 target hours per lead; the days' common part leaves about 365
    // independent draws, so the sampling error of the MAPE is a few percent of it.
    for (lead, stated) in [(1, 0.015), (4, 0.020), (12, 0.030), (30, 0.040)] {
        let m = mape_at(&f, &data, lead);
        assert!(
            m > 0.9 * stated && m < 1.15 * stated,
            "lead {lead} h: MAPE {m} against the stated {stated}"
        );
    }
}

#[test]
fn a_forecast_reads_only_its_target_and_nothing_outside_the_horizon() {
    let data = year();
    let f = LoadForecaster::new(&data, LoadForecastModel::ERCOT).unwrap();
    let t = 4000;
    let target = data.interval_start_ms[t];
    let as_of = target - 5 * HOUR_MS + 17 * 60_000;
    let before = f.forecast_mw(as_of, target).unwrap();
    let mut other = data.clone();
    for (i, x) in other.system_load_mw.iter_mut().enumerate() {
        if i != t {
            *x *= 1.5;
        }
    }
    let g = LoadForecaster::new(&other, LoadForecastModel::ERCOT).unwrap();
    assert_eq!(
        g.forecast_mw(as_of, target).unwrap().to_bits(),
        before.to_bits()
    );
    // The same forecast for every as-of within the hour; none for an earlier target or
    // past the horizon.
    assert_eq!(
        f.forecast_mw(as_of - 17 * 60_000 + 59 * 60_000, target),
        Some(before)
    );
    assert_eq!(f.forecast_mw(target + HOUR_MS, target), None);
    assert_eq!(
        f.forecast_mw(target - HORIZON_HOURS * HOUR_MS, target),
        None
    );
    assert!(
        f.forecast_mw(target - (HORIZON_HOURS - 1) * HOUR_MS, target)
            .is_some()
    );
}

#[test]
fn an_older_forecast_knows_nothing_the_newer_one_does_not() {
    // e(30 h) - e(2 h) is the sum of three later increments, independent of e(2 h):
    // their correlation over a year is about 0, and the variances add up.
    let data = year();
    let f = LoadForecaster::new(&data, LoadForecastModel::ERCOT).unwrap();
    let (mut a, mut d) = (Vec::new(), Vec::new());
    for (i, &ms) in data.interval_start_ms.iter().enumerate().step_by(4) {
        let near = f.forecast_mw(ms - 2 * HOUR_MS, ms);
        let far = f.forecast_mw(ms - 30 * HOUR_MS, ms);
        if let (Some(n), Some(x)) = (near, far) {
            let y = data.system_load_mw[i];
            a.push(n / y - 1.0);
            d.push(x / y - n / y);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, md) = (mean(&a), mean(&d));
    let cov = a
        .iter()
        .zip(&d)
        .map(|(x, y)| (x - ma) * (y - md))
        .sum::<f64>()
        / a.len() as f64;
    let va = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() / a.len() as f64;
    let vd = d.iter().map(|y| (y - md).powi(2)).sum::<f64>() / d.len() as f64;
    let corr = cov / (va * vd).sqrt();
    assert!(corr.abs() < 0.12, "correlation {corr}");
    let m = LoadForecastModel::ERCOT;
    let want = m.sd(30.0).powi(2) - m.sd(2.0).powi(2);
    assert!(
        (vd / want - 1.0).abs() < 0.25,
        "variance {vd} against {want}"
    );
}

#[test]
fn bad_models_are_refused_by_name() {
    let mut m = LoadForecastModel::ERCOT;
    m.mape[2] = 0.01;
    let e = m.check().unwrap_err();
    assert!(e.contains("mape[2] = 0.01"), "{e}");
    let mut m = LoadForecastModel::ERCOT;
    m.day_correlation = f64::NAN;
    let e = m.check().unwrap_err();
    assert!(e.contains("day_correlation = NaN"), "{e}");
}

#[test]
fn past_month_peaks_only_once_the_month_is_over() {
    let data = year();
    let f = LoadForecaster::new(&data, LoadForecastModel::ERCOT).unwrap();
    let june_end = data
        .interval_start_ms
        .iter()
        .copied()
        .find(|&ms| local_time(ms).month == 7)
        .unwrap();
    let peak = f.past_month_peak_mw(2023, 6, june_end).unwrap();
    let want = data
        .interval_start_ms
        .iter()
        .zip(&data.system_load_mw)
        .filter(|(ms, _)| local_time(**ms).month == 6)
        .map(|(_, x)| *x)
        .fold(f64::MIN, f64::max);
    assert_eq!(peak, want);
    assert_eq!(f.past_month_peak_mw(2023, 6, june_end - 1), None);
    assert_eq!(f.past_month_peak_mw(2022, 6, june_end), None);
}
