//! The day-ahead MPC: the dispatch LP ([`crate::lp`]) with published day-ahead prices as
//! the forecast of real-time prices, solved twice a day, and its plan executed interval by
//! interval.
//!
//! Live-capable: [`DayAheadMpc`] is a [`Policy`] and sees only the [`Snapshot`] passed to
//! `act`, so it uses nothing a live decision could not see. It plans
//! - at the first call of each local day (midnight in a backtest): the rest of the day, with
//!   the day's reserve awards fixed (its own offer for the day, cleared by the env's rule
//!   [`powermix_env::market::clear_offer`] against the day's published clearing prices);
//! - at the day-ahead gate (10:00 on D-1): the rest of today and all of D, with today's awards
//!   fixed and D's awards free. Nothing of D is published at 10:00, so D's energy and reserve
//!   prices are forecast by today's (persistence, hour by hour); D's awards become its
//!   hour-by-hour offer, at any price ([`Policy::day_ahead`]).
//!
//! The forecasts and expectations:
//! - real-time price: the published day-ahead price of each interval;
//! - reserve prices: the published windows (`snap.reserve_price_windows`);
//! - hashprice: `snap.hashprice` (last complete day) for every interval;
//! - no reserve deployments expected; the known emergency only in the first interval;
//! - 4CP: an expected weight ([`MpcParams`]): in a configured 4CP month, one peak's weight
//!   spread over the weekday peak-window intervals of the month (1 / weekdays per day), and
//!   within the day shaped by the day-ahead price (the system peak coincides with the
//!   highest prices); 0 elsewhere;
//! - initial state: `snap.state`.
//!
//! When the plan does not cover an interval (a 25-hour day is longer than the published
//! window), it plans again from that interval. When the LP fails, the MPC answers with the
//! expert rules for the rest of the day and keeps the reason ([`DayAheadMpc::last_error`]).
//!
//! The plan and today's price curve are state of the policy: a live server answers like the
//! backtest when it has seen the day's first snapshot, as the backtest has.
//!
//! [`DayAheadMpc::with_load_forecast`] (name `mpc-load-forecast`) is the same MPC whose 4CP
//! expectation also reads ERCOT's load forecast, simulated with ERCOT's published error
//! ([`powermix_env::forecast`]): each day's weight is the probability that the day's
//! forecast peak (13:00-21:00) beats the month's running peak and a share of last year's
//! peak of the same month, times the chance that a record on day k of an n-day month stands
//! (k / n), times a scale ([`LOAD_FORECAST_RULE`]); the shape within the day stays the
//! price's. In the 4CP months it also plans at the top of each hour from 10:00 to 20:00. It
//! sees only forecasts issued by the snapshot's time, but it reads the simulated forecast
//! from the market, so it is not served yet (a live one would take ERCOT's forecast from
//! the request).
//!
//! [`DayAheadMpc::with_perfect_forecast`] is the same MPC (same replanning schedule, same
//! horizons, same award rule) whose plans use the facts instead of the forecasts: the
//! real-time and reserve prices, hashprice, 4CP weights, emergencies and deployments the
//! oracle plans with ([`crate::oracle::oracle_intervals`]), but only over each plan's
//! horizon. It is not live-capable; `evaluate --attribution` uses it to split a policy's
//! gap to the oracle into forecast error and the rest.

use crate::PlanError;
use crate::lp::{Awards, PlanInterval, solve_plan};
use crate::oracle::{offer_for_awards, oracle_intervals};
use powermix_agent::net::clamp_action;
use powermix_agent::policy::fixed_values;
use powermix_agent::{Expert, ExpertParams, LoadedPolicy, Policy, residual_action};
use powermix_env::config::{RESERVES, SiteConfig};
use powermix_env::forecast::{LoadForecastModel, LoadForecaster};
use powermix_env::market::{clear_offer, is_da_gate_local, is_pre_gate_local};
use powermix_env::time::{
    INTERVAL_MS, INTERVALS_PER_HOUR, LocalTime, interval_of_local_day, local_time,
};
use powermix_env::{ACTION_DIM, Action, DayAheadOffer, Emergency, Market, Snapshot, SnapshotBuf};
use powermix_forecast::gate::GateForecast;
use powermix_forecast::live::{LiveForecasts, three_point_mean};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Parameters of the MPC's 4CP expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct MpcParams {
    /// First local hour of the 4CP window.
    pub four_cp_start_hour: u8,
    /// Local hour the 4CP window ends (exclusive).
    pub four_cp_end_hour: u8,
    /// Shape each day's expected weight by the day-ahead price (true), or spread it evenly
    /// over the window (false).
    pub four_cp_shape_by_price: bool,
}

impl Default for MpcParams {
    /// 15:00 to 18:00 local (DESIGN.md: weekday afternoons, 3 to 6 pm), shaped by price.
    fn default() -> MpcParams {
        MpcParams {
            four_cp_start_hour: 15,
            four_cp_end_hour: 18,
            four_cp_shape_by_price: true,
        }
    }
}

/// A plan: actions for the intervals from `start_ms` on.
#[derive(Debug, Clone, PartialEq)]
struct DayPlan {
    start_ms: i64,
    actions: Vec<Action>,
}

/// Today's published curves, by interval of the local day from midnight (None where the
/// MPC has not seen them).
#[derive(Debug, Clone, PartialEq, Default)]
struct DayCurve {
    day: i32,
    da: Vec<Option<f64>>,
    reserve: Vec<Option<[f64; RESERVES]>>,
}

/// The facts of a backtest window, for the perfect-forecast variant: one
/// [`PlanInterval`] per interval from `start_ms`.
#[derive(Debug, Clone)]
struct Facts {
    start_ms: i64,
    intervals: Vec<PlanInterval>,
}

impl Facts {
    /// The facts of the interval starting at `ms`, if the window holds it.
    fn at(&self, ms: i64) -> Option<&PlanInterval> {
        let k = usize::try_from((ms - self.start_ms).div_euclid(INTERVAL_MS)).ok()?;
        self.intervals.get(k).filter(|f| f.interval_start_ms == ms)
    }
}

/// Name of the perfect-forecast variant in reports.
pub const PERFECT_FORECAST_NAME: &str = "mpc-perfect-forecast";

/// Name of the variant that plans with learned forecasts in reports.
pub const FORECASTS_NAME: &str = "forecast-mpc";

/// Name of the load-forecast variant in reports.
pub const LOAD_FORECAST_NAME: &str = "mpc-load-forecast";

/// The load-forecast variant's day-weight rule (module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadForecastRule {
    /// Scale of every day weight.
    pub scale: f64,
    /// Share of last year's peak of the month that a day's forecast peak must also beat
    /// (0: the month's running peak alone).
    pub last_year_share: f64,
    /// Whether weekend days carry a 4CP expectation too (the day-ahead MPC's has weekdays
    /// only).
    pub weekends: bool,
}

/// The load-forecast variant's rule: a day's 4CP weight is the chance its forecast peak beats
/// both the month's running peak and 0.97 of last year's peak of that month, times
/// day / days-in-month, times 0.5; weekdays only. Chosen on HB_SOUTH and HB_HOUSTON
/// 2019-2021 and 2023 (docs/experiments/2026-11-30-load-forecast.md); it loses on 2024.
pub const LOAD_FORECAST_RULE: LoadForecastRule = LoadForecastRule {
    scale: 0.5,
    last_year_share: 0.97,
    weekends: false,
};

/// Local hours (start, end exclusive) whose forecast gives a day's forecast peak.
const FORECAST_PEAK_HOURS: (u8, u8) = (13, 21);

/// Local hours (start, end exclusive) at whose start the load-forecast variant plans again
/// in the 4CP months.
const FORECAST_REPLAN_HOURS: (u8, u8) = (10, 21);

/// The load-forecast variant's 4CP expectation.
#[derive(Debug, Clone)]
struct ForecastPeaks {
    forecaster: LoadForecaster,
    rule: LoadForecastRule,
}

/// Probability that a normal variable with mean `mean` and standard deviation `sd` is above
/// `threshold` (a step when `sd` is 0).
fn prob_above(mean: f64, sd: f64, threshold: f64) -> f64 {
    if sd > 0.0 {
        0.5 * libm::erfc((threshold - mean) / (sd * std::f64::consts::SQRT_2))
    } else if mean > threshold {
        1.0
    } else {
        0.0
    }
}

/// The priced day-ahead head's name in a checkpoint's `meta.json` (`day_ahead_head`): the
/// MPC's gate plan with each hour's offer priced at the option value of curtailment from
/// the shipped gate models ([`DayAheadHead::named`]).
pub const PRICED_HEAD: &str = "day-ahead-mpc-priced";

/// The day-ahead MPC policy (name `day-ahead-mpc`); see the module doc.
#[derive(Debug, Clone)]
pub struct DayAheadMpc {
    name: &'static str,
    facts: Option<Facts>,
    cfg: SiteConfig,
    params: MpcParams,
    fallback: Expert,
    day: Option<i32>,
    plan: Option<DayPlan>,
    failed_today: bool,
    last_error: Option<String>,
    solves: usize,
    failures: usize,
    curve: DayCurve,
    offers: BTreeMap<i32, DayAheadOffer>,
    pending_offer: Option<DayAheadOffer>,
    peaks: Option<ForecastPeaks>,
    forecasts: Option<LiveForecasts>,
    /// Shared: a head's gate job clones the MPC on the decision path before the gate.
    gate_forecast: Option<Arc<GateForecast>>,
    parts: ForecastParts,
}

/// What `forecast-mpc` does at the day-ahead gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatePart {
    /// The day-ahead MPC's gate plan: D's prices by today's curve, the offer at any price.
    Off,
    /// D's prices by today's curve, less the option value of curtailment on the reserve
    /// prices, and every hour of the offer priced at that hour's option value (computed
    /// from the gate model's real-time quantiles).
    PricedOffer,
    /// D's real time and reserve prices from the gate models, the reserve prices less the
    /// option value, and the offer priced at it.
    Models,
}

/// Which learned forecasts `forecast-mpc` plans with ([`ForecastParts::SHIPPED`]; the
/// others are its ablations and the candidates that lost, to show what each part earns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastParts {
    /// Real time over the next four hours from the quantile model (else day-ahead).
    pub next_hours: bool,
    /// 4CP weights from the peak model (else the day-ahead MPC's expectation).
    pub four_cp: bool,
    /// With `four_cp`: each remaining hour of today weighted by the per-hour model's chance
    /// (`fourcp_hours.json`); else the hour model's chance for this hour and its day's
    /// chance shaped by price over the others (`fourcp.json`, the first round's reading).
    pub four_cp_by_hour: bool,
    /// The gate.
    pub gate: GatePart,
}

impl ForecastParts {
    /// What `forecast-mpc` is: real time of the next hours and each remaining hour's 4CP
    /// chance from the models, the MPC's gate plan with the offer priced at the option
    /// value of curtailment (chosen in docs/experiments/2026-12-07-forecast-mpc.md and
    /// 2026-12-07-hourly-4cp.md).
    pub const SHIPPED: ForecastParts = ForecastParts {
        next_hours: true,
        four_cp: true,
        four_cp_by_hour: true,
        gate: GatePart::PricedOffer,
    };

    /// Every variant the harness names: the shipped one, its ablations (day-ahead for the
    /// next hours, the MPC's 4CP expectation, the offer at any price), the gate candidate
    /// that lost and the earlier 4CP reading (the hour model and its day's chance).
    pub const VARIANTS: [ForecastParts; 6] = [
        ForecastParts::SHIPPED,
        ForecastParts {
            next_hours: false,
            ..ForecastParts::SHIPPED
        },
        ForecastParts {
            four_cp: false,
            ..ForecastParts::SHIPPED
        },
        ForecastParts {
            gate: GatePart::Off,
            ..ForecastParts::SHIPPED
        },
        ForecastParts {
            gate: GatePart::Models,
            ..ForecastParts::SHIPPED
        },
        ForecastParts {
            four_cp_by_hour: false,
            ..ForecastParts::SHIPPED
        },
    ];

    /// The report name: [`FORECASTS_NAME`] for [`ForecastParts::SHIPPED`], else it with
    /// what differs (`-no-rt`, `-no-4cp`, `-unpriced-offer`, `-gate-models`,
    /// `-day-4cp`; `-variant` for a combination the harness does not name).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 6] = [
            FORECASTS_NAME,
            "forecast-mpc-no-rt",
            "forecast-mpc-no-4cp",
            "forecast-mpc-unpriced-offer",
            "forecast-mpc-gate-models",
            "forecast-mpc-day-4cp",
        ];
        ForecastParts::VARIANTS
            .iter()
            .position(|&v| v == self)
            .map_or("forecast-mpc-variant", |i| NAMES[i])
    }
}

impl DayAheadMpc {
    /// The MPC for a site, with the default 4CP expectation and the shipped expert rules as
    /// the fallback.
    pub fn new(cfg: &SiteConfig) -> DayAheadMpc {
        DayAheadMpc::with_params(cfg, MpcParams::default(), ExpertParams::default_params())
    }

    /// The MPC with explicit 4CP parameters and fallback expert parameters.
    pub fn with_params(cfg: &SiteConfig, params: MpcParams, expert: ExpertParams) -> DayAheadMpc {
        DayAheadMpc {
            name: "day-ahead-mpc",
            facts: None,
            cfg: cfg.clone(),
            params,
            fallback: Expert::new(cfg, expert),
            day: None,
            plan: None,
            failed_today: false,
            last_error: None,
            solves: 0,
            failures: 0,
            curve: DayCurve::default(),
            offers: BTreeMap::new(),
            pending_offer: None,
            peaks: None,
            forecasts: None,
            gate_forecast: None,
            parts: ForecastParts::SHIPPED,
        }
    }

    /// The MPC that plans with learned forecasts (name [`FORECASTS_NAME`], or an
    /// ablation's, [`ForecastParts::name`]; module doc): real time over the next four hours
    /// from the quantile model, 4CP from the peak models, a plan at the top of every hour,
    /// and (gate candidates) at the gate D's prices from the gate models and an offer
    /// priced at the option value of curtailment.
    pub fn with_forecasts(
        cfg: &SiteConfig,
        forecasts: LiveForecasts,
        gate: GateForecast,
        parts: ForecastParts,
    ) -> DayAheadMpc {
        let mut mpc = DayAheadMpc::new(cfg);
        mpc.name = parts.name();
        mpc.forecasts = Some(forecasts);
        mpc.gate_forecast = Some(Arc::new(gate));
        mpc.parts = parts;
        mpc
    }

    /// The option value of curtailment of one MW held for reserves in an hour whose real
    /// time is forecast by quantiles `q` ($/MW for the hour): a MW committed to reserves
    /// must keep running whatever real time does, so it gives up
    /// `E[(RT - v)+]` where `v` is the value of the most efficient miner's MWh, of which
    /// a plan on the mean price already counts `(E[RT] - v)+`. The three-point reading of
    /// the quantiles ([`three_point_mean`]'s weights) gives the expectation.
    fn option_gap(&self, q: &[f64; 3], hashprice: f64) -> f64 {
        let v = self
            .cfg
            .break_even_usd_per_mwh(hashprice)
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
        let w = [0.3, 0.4, 0.3];
        let tail: f64 = q.iter().zip(w).map(|(x, w)| w * (x - v).max(0.0)).sum();
        let at_mean = (three_point_mean(q) - v).max(0.0);
        let gap = tail - at_mean;
        if gap.is_finite() { gap.max(0.0) } else { 0.0 }
    }

    /// The forecasts' part of a plan's intervals (today's first `today` of `intervals`,
    /// from `snap` on): the real-time price of the next four hours is the three-point mean
    /// of the model's quantiles; in a 4CP month, each remaining hour of today carries the
    /// per-hour model's chance that it holds the peak (a quarter on each interval), or, with
    /// `four_cp_by_hour` off, the decision's hour the hour model's chance and the rest of
    /// today's peak hours the day's chance less that, shaped by the day-ahead price.
    fn apply_forecasts(&self, snap: &Snapshot<'_>, intervals: &mut [PlanInterval], today: usize) {
        let Some(fc) = &self.forecasts else { return };
        if self.parts.next_hours {
            let q = fc.rt_quantiles(snap);
            for (k, iv) in intervals.iter_mut().enumerate().take(today) {
                if let Some(qk) = q.get(k / INTERVALS_PER_HOUR) {
                    iv.rt_price = three_point_mean(qk);
                }
            }
        }
        if !self.parts.four_cp || !self.cfg.four_cp.months.contains(&snap.local.month) {
            return;
        }
        if self.parts.four_cp_by_hour {
            // Each remaining hour of today by its own chance (0 without the model: the
            // harness refuses the variant then, so a plan never reads this silently).
            let c = fc.peak_chance_by_hour(snap);
            for iv in &mut intervals[..today] {
                let h = local_time(iv.interval_start_ms).hour;
                iv.four_cp_weight = c.map_or(0.0, |c| c.at(h)) / INTERVALS_PER_HOUR as f64;
            }
            return;
        }
        let chance = fc.peak_chance(snap);
        let rest = (chance.day - chance.hour).max(0.0);
        let (h0, h1) = FORECAST_PEAK_HOURS;
        let hour = snap.local.hour;
        let later = |iv: &PlanInterval| {
            let h = local_time(iv.interval_start_ms).hour;
            h != hour && (h0..h1).contains(&h)
        };
        let (sum, n) = intervals[..today]
            .iter()
            .filter(|iv| later(iv))
            .fold((0.0, 0usize), |(s, n), iv| {
                (s + iv.rt_price.max(0.0), n + 1)
            });
        for iv in &mut intervals[..today] {
            let h = local_time(iv.interval_start_ms).hour;
            iv.four_cp_weight = if h == hour {
                chance.hour / INTERVALS_PER_HOUR as f64
            } else if later(iv) {
                if sum > 0.0 {
                    rest * iv.rt_price.max(0.0) / sum
                } else {
                    rest / n as f64
                }
            } else {
                0.0
            };
        }
    }

    /// The MPC with perfect forecasts over each plan's horizon, for a backtest of
    /// `[start, end)` of `market` with deployment seed `seed` (name
    /// [`PERFECT_FORECAST_NAME`]): see the module doc. Not live-capable.
    pub fn with_perfect_forecast(
        market: &Market,
        start: usize,
        end: usize,
        seed: u64,
    ) -> Result<DayAheadMpc, PlanError> {
        let intervals = oracle_intervals(market, start, end, seed)?;
        let mut mpc = DayAheadMpc::new(&market.cfg);
        mpc.name = PERFECT_FORECAST_NAME;
        mpc.facts = Some(Facts {
            start_ms: market.interval_start_ms(start),
            intervals,
        });
        Ok(mpc)
    }

    /// The MPC whose 4CP expectation reads the simulated ERCOT load forecast of `market`'s
    /// data (name [`LOAD_FORECAST_NAME`]; module doc), day weights by `rule`.
    pub fn with_load_forecast(
        market: &Market,
        model: LoadForecastModel,
        rule: LoadForecastRule,
    ) -> Result<DayAheadMpc, PlanError> {
        for (name, x) in [
            ("scale", rule.scale),
            ("last_year_share", rule.last_year_share),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(PlanError(format!(
                    "mpc-load-forecast: {name} = {x} must be a finite number >= 0"
                )));
            }
        }
        let forecaster = LoadForecaster::new(market.hindsight().data, model).map_err(PlanError)?;
        let mut mpc = DayAheadMpc::new(&market.cfg);
        mpc.name = LOAD_FORECAST_NAME;
        mpc.peaks = Some(ForecastPeaks { forecaster, rule });
        Ok(mpc)
    }

    /// Whether the load-forecast variant plans again at `snap`: at the top of each local
    /// hour from 10:00 to 20:00 on the days of the 4CP months, with the newest forecast.
    fn forecast_replan(&self, snap: &Snapshot<'_>) -> bool {
        self.peaks.is_some()
            && self.cfg.four_cp.months.contains(&snap.local.month)
            && (FORECAST_REPLAN_HOURS.0..FORECAST_REPLAN_HOURS.1).contains(&snap.local.hour)
            && snap.local.minute == 0
    }

    /// The 4CP weight of each of `idx` (one local day `l` of the plan) from the load
    /// forecast: the price-shaped weight with the day's share replaced by the forecast's.
    fn forecast_day_weights(
        &self,
        snap: &Snapshot<'_>,
        l: &LocalTime,
        intervals: &mut [PlanInterval],
        idx: &[usize],
    ) {
        let Some(fp) = &self.peaks else { return };
        if !self.cfg.four_cp.months.contains(&l.month) {
            return;
        }
        let (h0, h1) = FORECAST_PEAK_HOURS;
        let mut peak: Option<(f64, f64)> = None;
        for &k in idx {
            let ms = intervals[k].interval_start_ms;
            if !(h0..h1).contains(&local_time(ms).hour) {
                continue;
            }
            if let Some(x) = fp.forecaster.forecast_mw(snap.as_of_ms, ms)
                && peak.is_none_or(|(best, _)| x > best)
            {
                peak = Some((x, fp.forecaster.sd(snap.as_of_ms, ms) * x));
            }
        }
        let Some((forecast, sd)) = peak else { return };
        let running =
            if snap.local.month_key() == l.month_key() && snap.system_load_mtd_peak_mw > 0.0 {
                snap.system_load_mtd_peak_mw
            } else {
                0.0
            };
        let last_year = fp
            .forecaster
            .past_month_peak_mw(l.year - 1, l.month, snap.as_of_ms)
            .unwrap_or(0.0);
        let p = prob_above(
            forecast,
            sd,
            running.max(fp.rule.last_year_share * last_year),
        );
        let stands =
            f64::from(l.day) / f64::from(powermix_env::time::days_in_month(l.year, l.month));
        let share = fp.rule.scale * p * stands * f64::from(weekdays_in_month(l));
        for &k in idx {
            intervals[k].four_cp_weight *= share;
        }
    }

    /// Why the last failed plan failed (the LP's error), if any plan failed.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Plans solved so far.
    pub fn solves(&self) -> usize {
        self.solves
    }

    /// Plans that failed so far (each day's rest was answered by the expert rules).
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Expected 4CP weight of an interval starting at local time `l`, whose day-ahead price
    /// is `da` and whose day's peak-window prices sum to `window_da` over `window_len`
    /// intervals.
    fn expected_four_cp(&self, l: &LocalTime, da: f64, window_da: f64, window_len: usize) -> f64 {
        let p = &self.params;
        let in_window = self.cfg.four_cp.months.contains(&l.month)
            && (l.is_weekday() || self.peaks.as_ref().is_some_and(|fp| fp.rule.weekends))
            && (p.four_cp_start_hour..p.four_cp_end_hour).contains(&l.hour);
        if !in_window || window_len == 0 {
            return 0.0;
        }
        let day_weight = 1.0 / weekdays_in_month(l) as f64;
        if p.four_cp_shape_by_price && window_da > 0.0 {
            day_weight * da.max(0.0) / window_da
        } else {
            day_weight / window_len as f64
        }
    }

    /// Records the published curves of today from `snap` (the first call of a day at
    /// midnight sees the whole day).
    fn record_curve(&mut self, snap: &Snapshot<'_>) {
        let day = snap.local.day_number;
        if self.curve.day != day {
            self.curve = DayCurve {
                day,
                da: vec![None; 100],
                reserve: vec![None; 100],
            };
        }
        let offset = interval_of_local_day(snap.interval_start_ms);
        let n = snap
            .reserve_price_windows
            .iter()
            .map(|w| w.len())
            .fold(snap.da_prices.len(), usize::min);
        for k in 0..n {
            let ms = snap.interval_start_ms + k as i64 * INTERVAL_MS;
            if local_time(ms).day_number != day || offset + k >= 100 {
                break;
            }
            self.curve.da[offset + k] = Some(snap.da_prices[k]);
            self.curve.reserve[offset + k] =
                Some(std::array::from_fn(|p| snap.reserve_price_windows[p][k]));
        }
    }

    /// Today's curve at interval `k` of a day, the nearest seen value where unseen.
    fn curve_at(&self, k: usize) -> Option<(f64, [f64; RESERVES])> {
        let n = self.curve.da.len();
        let k = k.min(n - 1);
        (0..n).find_map(|d| {
            [k.checked_sub(d), Some(k + d)]
                .into_iter()
                .flatten()
                .filter(|&j| j < n)
                .find_map(|j| Some((self.curve.da[j]?, self.curve.reserve[j]?)))
        })
    }

    /// The awards of local day `day` at each interval from `first_ms` on (`n` of them), as
    /// the env clears the MPC's own offer against the published clearing prices `prices`
    /// (one per interval; zeros without an offer).
    fn predicted_awards(
        &self,
        day: i32,
        first_ms: i64,
        prices: &[[f64; RESERVES]],
    ) -> Vec<[f64; RESERVES]> {
        let Some(offer) = self.offers.get(&day) else {
            return vec![[0.0; RESERVES]; prices.len()];
        };
        let offset = interval_of_local_day(first_ms);
        // One price per hour of the day, from the intervals we have.
        let hours = (offset + prices.len()).div_ceil(INTERVALS_PER_HOUR);
        let mut hour_prices = vec![[0.0; RESERVES]; hours];
        for (k, p) in prices.iter().enumerate() {
            hour_prices[(offset + k) / INTERVALS_PER_HOUR] = *p;
        }
        let awards = clear_offer(
            offer,
            &hour_prices,
            self.cfg.reserve_available(day),
            self.cfg.reserves.max_offer_fraction * self.cfg.miner_capacity_mw(),
        );
        (0..prices.len())
            .map(|k| awards[(offset + k) / INTERVALS_PER_HOUR])
            .collect()
    }

    /// Plans from the interval of `snap`: to the end of its local day, or at the day-ahead
    /// gate to the end of the next day as well.
    fn replan(&mut self, snap: &Snapshot<'_>) {
        self.replan_with(snap, is_da_gate_local(&snap.local));
    }

    /// [`DayAheadMpc::replan`], with the gate's plan (to the end of the next day, and an
    /// offer for it) when `gate`, whatever the interval of `snap`.
    fn replan_with(&mut self, snap: &Snapshot<'_>, gate: bool) {
        let day = snap.local.day_number;
        self.day = Some(day);
        self.failed_today = false;
        self.pending_offer = None;
        let published = snap
            .reserve_price_windows
            .iter()
            .map(|w| w.len())
            .fold(snap.da_prices.len(), usize::min);
        // Today's intervals from this one on, as far as prices are published.
        let mut locals = Vec::with_capacity(200);
        let mut da = Vec::with_capacity(200);
        let mut rp = Vec::with_capacity(200);
        for k in 0..published {
            let l = local_time(snap.interval_start_ms + k as i64 * INTERVAL_MS);
            if l.day_number != day {
                break;
            }
            locals.push(l);
            da.push(snap.da_prices[k]);
            rp.push(std::array::from_fn(|p| snap.reserve_price_windows[p][k]));
        }
        if locals.is_empty() {
            self.plan = None;
            self.fail(format!(
                "day-ahead-mpc: no day-ahead prices published at {} ms",
                snap.interval_start_ms
            ));
            return;
        }
        let mut awards: Vec<Awards> = self
            .predicted_awards(day, snap.interval_start_ms, &rp)
            .into_iter()
            .map(Awards::Fixed)
            .collect();
        let today = locals.len();
        // D's forecasts at the gate, when `forecast-mpc` plans with them.
        let gate_out = match &self.gate_forecast {
            Some(g) if gate && self.parts.gate != GatePart::Off => g.predict(snap, true),
            _ => None,
        };
        let mut gaps: Vec<f64> = Vec::new();
        if gate {
            // Tomorrow, forecast by today's curve hour by hour (or by the gate models).
            let available = self.cfg.reserve_available(day + 1);
            let mut k = 0;
            loop {
                let ms = snap.interval_start_ms + (today + k) as i64 * INTERVAL_MS;
                let l = local_time(ms);
                if l.day_number != day + 1 {
                    break;
                }
                let Some((mut d, mut r)) = self.curve_at(interval_of_local_day(ms)) else {
                    break;
                };
                if let Some(out) = &gate_out {
                    let h = usize::try_from(
                        (ms - out.day.start_ms) / (INTERVALS_PER_HOUR as i64 * INTERVAL_MS),
                    )
                    .unwrap_or(usize::MAX);
                    if let (Some(q), Some(rq)) = (out.rt.get(h), out.reserve.get(h)) {
                        let gap = self.option_gap(q, snap.hashprice);
                        if self.parts.gate == GatePart::Models {
                            d = three_point_mean(q);
                            r = rq.map(|q| three_point_mean(&q));
                        }
                        r = r.map(|x| (x - gap).max(0.0));
                        if gaps.len() <= h {
                            gaps.resize(h + 1, 0.0);
                        }
                        gaps[h] = gap;
                    }
                }
                locals.push(l);
                da.push(d);
                rp.push(r);
                awards.push(Awards::Free(available));
                k += 1;
            }
        }
        let mut intervals: Vec<PlanInterval> = Vec::with_capacity(locals.len());
        for d0 in [day, day + 1] {
            let idx: Vec<usize> = (0..locals.len())
                .filter(|&k| locals[k].day_number == d0)
                .collect();
            let in_window = |l: &LocalTime| {
                (self.params.four_cp_start_hour..self.params.four_cp_end_hour).contains(&l.hour)
            };
            let (window_da, window_len) = idx
                .iter()
                .filter(|&&k| in_window(&locals[k]))
                .fold((0.0, 0), |(s, n), &k| (s + da[k].max(0.0), n + 1));
            let first = intervals.len();
            for &k in &idx {
                intervals.push(PlanInterval {
                    interval_start_ms: snap.interval_start_ms + k as i64 * INTERVAL_MS,
                    rt_price: da[k],
                    reserve_price: rp[k],
                    hashprice: snap.hashprice,
                    four_cp_weight: self.expected_four_cp(&locals[k], da[k], window_da, window_len),
                    deployed: [false; RESERVES],
                    emergency: if k == 0 {
                        snap.emergency
                    } else {
                        Emergency::NONE
                    },
                    awards: awards[k],
                });
            }
            if let Some(&k0) = idx.first() {
                let slots: Vec<usize> = (first..intervals.len()).collect();
                self.forecast_day_weights(snap, &locals[k0], &mut intervals, &slots);
            }
        }
        self.apply_forecasts(snap, &mut intervals, today);
        if let Some(facts) = &self.facts {
            // Perfect forecasts over the horizon: the facts, with the MPC's own awards.
            for iv in &mut intervals {
                if let Some(f) = facts.at(iv.interval_start_ms) {
                    *iv = PlanInterval {
                        awards: iv.awards,
                        ..*f
                    };
                }
            }
        }
        self.solves += 1;
        match solve_plan(&self.cfg, &snap.state, &intervals) {
            Ok(plan) => {
                if gate && intervals.len() > today {
                    let mut offer = offer_for_awards(&plan.award_mw[today..]);
                    // Priced at the option value it gives up (forecast-mpc); else any price.
                    for (hour, gap) in offer.hours.iter_mut().zip(&gaps) {
                        hour.min_price = [*gap; RESERVES];
                    }
                    self.offers.insert(day + 1, offer.clone());
                    self.offers.retain(|&d, _| d >= day);
                    self.pending_offer = Some(offer);
                }
                self.plan = Some(DayPlan {
                    start_ms: snap.interval_start_ms,
                    actions: plan.actions,
                });
            }
            Err(e) => {
                self.plan = None;
                self.fail(format!("day-ahead-mpc: {e}"))
            }
        }
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.failed_today = true;
        self.last_error = Some(why);
    }

    /// The planned action for the interval starting at `ms`, if the plan covers it.
    fn planned(&self, ms: i64) -> Option<Action> {
        let plan = self.plan.as_ref()?;
        let offset = ms - plan.start_ms;
        if offset < 0 {
            return None;
        }
        usize::try_from(offset / INTERVAL_MS)
            .ok()
            .and_then(|k| plan.actions.get(k))
            .copied()
    }
}

impl Policy for DayAheadMpc {
    fn name(&self) -> &str {
        self.name
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        let new_day = self.day != Some(snap.local.day_number);
        if new_day {
            self.record_curve(snap);
        }
        let gate = is_da_gate_local(&snap.local);
        if new_day
            || gate
            || self.forecast_replan(snap)
            || (self.forecasts.is_some() && snap.local.minute == 0)
            || (!self.failed_today && self.planned(snap.interval_start_ms).is_none())
        {
            self.replan(snap);
        }
        match self.planned(snap.interval_start_ms) {
            Some(a) => a,
            None => self.fallback.act(snap),
        }
    }

    fn day_ahead(&mut self, _snap: &Snapshot<'_>, _action: &Action) -> Option<DayAheadOffer> {
        self.pending_offer.take()
    }
}

/// The base of a residual policy that corrects the MPC, for one decision: the MPC decides
/// (its plan advances and, at a gate, it makes its hour-by-hour offer); the base action is
/// the MPC's, or in an emergency the rules' (`rules`: the same answer as the server's
/// emergency fallback). Training's rollouts and [`MpcResidual`] both call this.
pub fn planner_base(
    mpc: &mut DayAheadMpc,
    rules: &Expert,
    snap: &Snapshot<'_>,
) -> ([f32; ACTION_DIM], Option<DayAheadOffer>) {
    let (planned, offer) = powermix_agent::decide(mpc, snap);
    let base = if snap.emergency.active() {
        rules.decide(snap)
    } else {
        planned
    };
    (base.to_array(), offer)
}

/// A trained residual policy whose base is the day-ahead MPC (`base_planner =
/// "day-ahead-mpc"` in its `meta.json`): action = the MPC's action + the network's output,
/// clamped to [0, 1]; the MPC's hour-by-hour day-ahead offer; the rules alone in an
/// emergency ([`planner_base`]). Named `ppo:<model_id>` like any checkpoint.
#[derive(Debug, Clone)]
pub struct MpcResidual {
    mpc: DayAheadMpc,
    rules: Expert,
    net: LoadedPolicy,
    pending_offer: Option<DayAheadOffer>,
}

impl MpcResidual {
    /// The policy of a loaded checkpoint for a site `cfg`, with a fresh MPC.
    pub fn new(net: LoadedPolicy, cfg: &SiteConfig) -> MpcResidual {
        let rules = net
            .meta
            .base_policy
            .clone()
            .unwrap_or_else(ExpertParams::default_params);
        MpcResidual {
            mpc: DayAheadMpc::new(cfg),
            rules: Expert::new(cfg, rules),
            net: net.with_site_config(cfg),
            pending_offer: None,
        }
    }
}

impl Policy for MpcResidual {
    fn name(&self) -> &str {
        Policy::name(&self.net)
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        let (base, offer) = planner_base(&mut self.mpc, &self.rules, snap);
        self.pending_offer = offer;
        let raw = self.net.act_raw(&self.net.observe(snap));
        // The rules act only in emergencies under a planner base.
        let values = residual_action(&base, &raw, &fixed_values(None, snap));
        Action::from_values_unchecked(&clamp_action(&values))
    }

    fn day_ahead(&mut self, _snap: &Snapshot<'_>, _action: &Action) -> Option<DayAheadOffer> {
        self.pending_offer.take()
    }
}

/// The day-ahead MPC's hour-by-hour reserve offer, for a policy that decides everything
/// else itself (`day_ahead_head = "day-ahead-mpc"` in a checkpoint's `meta.json`).
///
/// It is the MPC reduced to what its offer needs, so that it costs one LP a day: it records
/// each day's published curves at the day's first snapshot, as the MPC does, and runs the
/// MPC's gate plan (the rest of today and all of D, today's awards fixed from its own
/// earlier offer) once a day. It plans a quarter of an hour early, from the snapshot of the
/// interval before the gate (09:45 local), and answers the gate with that plan's offer, so
/// that a server can run the LP on another thread and answer the gate without waiting for
/// it. Without the interval before (a server started at the gate), it plans from the gate's
/// own snapshot, and then its offer equals the full MPC's to the bit
/// (`head_offers_equal_the_mpcs_when_planned_at_the_gate`).
///
/// It keeps state between decisions, like the MPC: it must see every decision's snapshot
/// in order, from the first interval of a day on (a backtest does; a server does once it
/// has answered the day's first interval).
///
/// In place, [`DayAheadHead::observe`] does everything. A caller that must not run the LP
/// where it decides (the server) takes the steps itself: [`DayAheadHead::step`] gives the
/// LP to run as a [`GateJob`], [`GateJob::run`] runs it anywhere, [`DayAheadHead::finish`]
/// keeps its plan, and [`DayAheadHead::take_offer`] answers the gate.
#[derive(Debug, Clone)]
pub struct DayAheadHead {
    mpc: DayAheadMpc,
    /// The plan for the next gate, made before it.
    ready: Option<GatePlan>,
}

/// The LP of one gate's offer, with everything it reads: run it on any thread.
#[derive(Debug)]
pub struct GateJob {
    mpc: DayAheadMpc,
    snap: SnapshotBuf,
    gate_day: i32,
}

/// A gate's planned offer ([`GateJob::run`]), kept by its head until the gate.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// The MPC that planned it: its offers and counters become the head's at the gate.
    mpc: DayAheadMpc,
    /// Local day number of the gate (the offer is for the day after).
    gate_day: i32,
    /// The offer; None when the LP failed.
    offer: Option<DayAheadOffer>,
}

impl GateJob {
    /// Solves the gate's LP.
    pub fn run(self) -> GatePlan {
        let mut mpc = self.mpc;
        mpc.replan_with(&self.snap.view(), true);
        // Only the offer is wanted; the plan's actions are dropped.
        mpc.plan = None;
        let offer = mpc.pending_offer.take();
        GatePlan {
            mpc,
            gate_day: self.gate_day,
            offer,
        }
    }
}

impl DayAheadHead {
    /// The head for a site.
    pub fn new(cfg: &SiteConfig) -> DayAheadHead {
        DayAheadHead {
            mpc: DayAheadMpc::new(cfg),
            ready: None,
        }
    }

    /// The head whose offer is priced at the option value of curtailment, hour by hour,
    /// from `gate`'s real-time quantiles (the gate plan of `forecast-mpc`: the LP sees the
    /// reserve prices less that value, and each hour's minimum price is it), instead of
    /// offered at any price ([`PRICED_HEAD`] with the shipped gate models; with other
    /// models, the evaluation candidate `ppo-priced-head`).
    pub fn with_priced_offer(cfg: &SiteConfig, gate: GateForecast) -> DayAheadHead {
        let mut head = DayAheadHead::new(cfg);
        head.set_pricing(Some(Arc::new(gate)));
        head
    }

    /// The head a checkpoint names (`day_ahead_head` in `meta.json`, one of
    /// [`powermix_agent::policy::HEADS`]): `day-ahead-mpc` (the offer at any price) or
    /// [`PRICED_HEAD`] (priced with the shipped gate models); None for another name.
    pub fn named(name: &str, cfg: &SiteConfig) -> Option<DayAheadHead> {
        let mut head = DayAheadHead::new(cfg);
        match name {
            "day-ahead-mpc" => {}
            PRICED_HEAD => head.set_priced(true),
            _ => return None,
        }
        Some(head)
    }

    /// Prices the offers of the gates planned from now on with `gate`'s option value of
    /// curtailment, or (None) offers at any price; nothing else of the head changes (a
    /// server sets it for each decision from the checkpoint it serves, so a reload to a
    /// checkpoint with the other head keeps the day's curves).
    pub fn set_pricing(&mut self, gate: Option<Arc<GateForecast>>) {
        self.mpc.parts = ForecastParts {
            next_hours: false,
            four_cp: false,
            four_cp_by_hour: false,
            gate: if gate.is_some() {
                GatePart::PricedOffer
            } else {
                GatePart::Off
            },
        };
        self.mpc.gate_forecast = gate;
    }

    /// Prices the offers of the gates planned from now on with the shipped gate models
    /// ([`PRICED_HEAD`]), or offers at any price; a no-op when it already does.
    pub fn set_priced(&mut self, on: bool) {
        static SHIPPED: std::sync::OnceLock<Arc<GateForecast>> = std::sync::OnceLock::new();
        if on != self.priced() {
            self.set_pricing(
                on.then(|| SHIPPED.get_or_init(|| Arc::new(GateForecast::shipped().clone())))
                    .cloned(),
            );
        }
    }

    /// Whether the head prices its offers.
    pub fn priced(&self) -> bool {
        self.mpc.gate_forecast.is_some() && self.mpc.parts.gate == GatePart::PricedOffer
    }

    /// Sees the snapshot of one decision and plans where it must, in place; at a
    /// day-ahead gate, returns the offer for the next operating day (None when its LP
    /// failed: the decider's own offer stands). The same as [`DayAheadHead::step`], then
    /// [`GateJob::run`] and [`DayAheadHead::finish`] on its job, then
    /// [`DayAheadHead::take_offer`].
    pub fn observe(&mut self, snap: &Snapshot<'_>) -> Option<DayAheadOffer> {
        if let Some(job) = self.step(snap) {
            self.finish(job.run());
        }
        self.take_offer(snap)
    }

    /// Records `snap` and returns the LP it calls for: at the interval before a gate, the
    /// gate's plan from this snapshot; at a gate with no plan ready for it, the plan from
    /// the gate's own snapshot (to be run before [`DayAheadHead::take_offer`]).
    pub fn step(&mut self, snap: &Snapshot<'_>) -> Option<GateJob> {
        self.record(snap);
        let l = &snap.local;
        let late = is_da_gate_local(l) && !self.ready_for(l.day_number);
        (is_pre_gate_local(l) || late).then(|| GateJob {
            mpc: self.mpc.clone(),
            snap: SnapshotBuf::of(snap),
            gate_day: l.day_number,
        })
    }

    /// Whether a plan for the gate of local day `day` is ready.
    pub fn ready_for(&self, day: i32) -> bool {
        self.ready.as_ref().is_some_and(|p| p.gate_day == day)
    }

    /// Keeps a run job's plan until its gate (replacing any earlier one).
    pub fn finish(&mut self, plan: GatePlan) {
        self.ready = Some(plan);
    }

    /// At a gate: the offer of the plan ready for it, which it commits (the offer fixes the
    /// next day's awards in the next gate's plan). None elsewhere, without a plan for this
    /// gate, or when its LP failed. A plan for another day's gate is dropped.
    pub fn take_offer(&mut self, snap: &Snapshot<'_>) -> Option<DayAheadOffer> {
        if !is_da_gate_local(&snap.local) {
            return None;
        }
        let plan = self.ready.take()?;
        if plan.gate_day != snap.local.day_number {
            return None;
        }
        let job = &plan.mpc;
        for (d, o) in &job.offers {
            self.mpc.offers.insert(*d, o.clone());
        }
        if let Some(day) = job.day {
            self.mpc.offers.retain(|&d, _| d >= day);
        }
        self.mpc.solves = self.mpc.solves.max(job.solves);
        if job.failures > self.mpc.failures {
            self.mpc.failures = job.failures;
            self.mpc.last_error = job.last_error.clone();
        }
        plan.offer
    }

    /// Sees the snapshot of one decision without planning: records the day's curves at
    /// its first snapshot (what a server does while its policy makes no offer, so that a
    /// reload to a policy with a head finds the day's curves).
    pub fn record(&mut self, snap: &Snapshot<'_>) {
        let day = snap.local.day_number;
        if self.mpc.day != Some(day) {
            self.mpc.record_curve(snap);
            self.mpc.day = Some(day);
        }
    }

    /// Why the last LP failed, if one has (as of the last gate answered).
    pub fn last_error(&self) -> Option<&str> {
        self.mpc.last_error()
    }

    /// LPs solved for the gates answered so far (one per gate).
    pub fn solves(&self) -> usize {
        self.mpc.solves()
    }
}

/// A policy with the MPC's day-ahead offer ([`DayAheadHead`]): `inner` decides every
/// action; at the gate the head's hour-by-hour offer replaces `inner`'s offer (the flat one
/// of its action's values), unless the head's LP failed. What the server answers for a
/// checkpoint with `day_ahead_head` (`powermix_serve`), in backtests.
pub struct WithHead {
    inner: Box<dyn Policy + Send>,
    head: DayAheadHead,
    offer: Option<DayAheadOffer>,
}

impl WithHead {
    /// `inner` with the day-ahead MPC's offer, for site `cfg`.
    pub fn new(inner: Box<dyn Policy + Send>, cfg: &SiteConfig) -> WithHead {
        WithHead::of(inner, DayAheadHead::new(cfg))
    }

    /// `inner` with `head`'s offer.
    pub fn of(inner: Box<dyn Policy + Send>, head: DayAheadHead) -> WithHead {
        WithHead {
            inner,
            head,
            offer: None,
        }
    }
}

impl Policy for WithHead {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        let action = self.inner.act(snap);
        self.offer = self.head.observe(snap);
        action
    }

    fn day_ahead(&mut self, snap: &Snapshot<'_>, action: &Action) -> Option<DayAheadOffer> {
        let own = self.inner.day_ahead(snap, action);
        self.offer.take().or(own)
    }
}

/// Monday-to-Friday days in the local month of `l`.
fn weekdays_in_month(l: &LocalTime) -> u32 {
    let days = powermix_env::time::days_in_month(l.year, l.month) as i32;
    (1..=days)
        .filter(|&d| {
            let weekday = (l.weekday as i32 + d - l.day as i32).rem_euclid(7);
            weekday < 5
        })
        .count()
        .max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prob_above_by_hand() {
        // At the mean: one half; one sd above the threshold: Phi(1) = 0.841345 (tables);
        // two sd below it: 1 - Phi(2) = 0.022750; sd 0 is a step.
        assert!((prob_above(80e3, 2e3, 80e3) - 0.5).abs() < 1e-12);
        assert!((prob_above(82e3, 2e3, 80e3) - 0.841_345).abs() < 1e-6);
        assert!((prob_above(76e3, 2e3, 80e3) - 0.022_750).abs() < 1e-6);
        assert_eq!(prob_above(80e3, 0.0, 79e3), 1.0);
        assert_eq!(prob_above(80e3, 0.0, 80e3), 0.0);
    }

    /// The interval starting at local `hh:00` on `month`/`day` of `m`'s year.
    fn at(m: &Market, month: u8, day: u8, hour: u8) -> usize {
        (0..m.len())
            .find(|&u| {
                let l = m.local[u];
                (l.month, l.day, l.hour, l.minute) == (month, day, hour, 0)
            })
            .unwrap()
    }

    /// Today's intervals from `t` on, each with 4CP weight 7 (a marker) and real time 30.
    fn today_from(m: &Market, t: usize) -> Vec<PlanInterval> {
        let day = m.local[t].day_number;
        (t..m.len())
            .take_while(|&u| m.local[u].day_number == day)
            .map(|u| PlanInterval {
                interval_start_ms: m.interval_start_ms(u),
                rt_price: 30.0,
                reserve_price: [0.0; RESERVES],
                hashprice: 50.0,
                four_cp_weight: 7.0,
                deployed: [false; RESERVES],
                emergency: Emergency::NONE,
                awards: Awards::Fixed([0.0; RESERVES]),
            })
            .collect()
    }

    #[test]
    fn forecast_mpc_weighs_each_remaining_hour_by_its_own_4cp_chance() {
        use powermix_env::SiteState;
        let m = Market::new(
            powermix_data::synth::synthetic_year(2024, 1),
            SiteConfig::default_site(),
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/forecast");
        let live = LiveForecasts::load(&dir).unwrap();
        let gate = GateForecast::load(&dir).unwrap();
        let parts = ForecastParts {
            next_hours: false,
            ..ForecastParts::SHIPPED
        };
        let mpc = DayAheadMpc::with_forecasts(&m.cfg, live.clone(), gate, parts);
        let state = SiteState::initial(&m.cfg);
        // 13:00 on 10 July (the 4CP months): hours 13-20 carry their chance, a quarter on
        // each interval; the hours before noon and after 20:00 carry none.
        let t = at(&m, 7, 10, 13);
        let snap = m.snapshot(t, &state);
        let chances = live.peak_chance_by_hour(&snap).unwrap();
        let mut ivs = today_from(&m, t);
        let today = ivs.len();
        mpc.apply_forecasts(&snap, &mut ivs, today);
        let mut weighted = 0;
        for iv in &ivs {
            let h = local_time(iv.interval_start_ms).hour;
            let want = if (12..=20).contains(&h) {
                chances.at(h) / 4.0
            } else {
                0.0
            };
            assert_eq!(iv.four_cp_weight, want, "hour {h}");
            assert!(h >= 13);
            weighted += (want > 0.0) as usize;
            // Real time untouched with `next_hours` off.
            assert_eq!(iv.rt_price, 30.0);
        }
        assert_eq!(weighted, 8 * 4, "hours 13-20, four intervals each");
        // Outside the 4CP months the MPC's expectation stands.
        let t = at(&m, 3, 12, 13);
        let snap = m.snapshot(t, &state);
        let mut ivs = today_from(&m, t);
        let today = ivs.len();
        mpc.apply_forecasts(&snap, &mut ivs, today);
        assert!(ivs.iter().all(|iv| iv.four_cp_weight == 7.0));
    }

    #[test]
    fn weekdays_of_july_2024() {
        // 2024-07-15 is a Monday; July 2024 has 23 weekdays.
        let l = local_time(1_721_077_200_000);
        assert_eq!((l.month, l.day, l.weekday), (7, 15, 0));
        assert_eq!(weekdays_in_month(&l), 23);
        // February 2024 (leap): 21 weekdays.
        let feb = local_time(1_708_000_000_000);
        assert_eq!(feb.month, 2);
        assert_eq!(weekdays_in_month(&feb), 21);
    }
}
