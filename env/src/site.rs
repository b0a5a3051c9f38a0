//! The site's decision and state types: the policy's [`Action`], the projected [`Dispatch`]
//! in MW, and the [`SiteState`] carried from one interval to the next.

use crate::config::{RESERVES, SiteConfig, TRANCHES};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of action values: tranche fractions, training fraction, and the day-ahead
/// reserve offer (MW share and minimum price per product, and the share withheld in the
/// peak window).
pub const ACTION_DIM: usize = TRANCHES + 1 + 2 * RESERVES + 1;

/// Action value names, in order.
pub const ACTION_NAMES: [&str; ACTION_DIM] = [
    "mining_tranche_0",
    "mining_tranche_1",
    "mining_tranche_2",
    "ai_training",
    "da_offer_rrs",
    "da_offer_ecrs",
    "da_offer_nspin",
    "da_min_price_rrs",
    "da_min_price_ecrs",
    "da_min_price_nspin",
    "da_peak_withhold",
];

pub use crate::time::DAY_HOURS_MAX;

/// What a policy asks for, every value a fraction in [0, 1]:
/// - `tranche[i]`: share of tranche i's capacity to run;
/// - `training`: share of AI training power (rounded to the configured steps);
/// - `da_offer[p]`, `da_min_price[p]`: the day-ahead reserve offer, read only at the
///   day-ahead gate (the interval starting 10:00 US/Central on D-1, see
///   [`crate::market::Market::is_da_gate`]): in every hour of D, offer `da_offer[p]` x
///   `max_offer_fraction` x miner capacity MW of product p (RRS, ECRS, Non-Spin) at a
///   minimum price of `da_min_price[p]` x `offer_price_scale_usd_per_mw_h`, except that in
///   the hours of `reserves.peak_window_hours` the share `da_peak_withhold` of those MW is
///   held back ([`DayAheadOffer::from_action`]). Planners that shape the offer hour by hour
///   pass a [`DayAheadOffer`] instead.
///
/// Finite values outside [0, 1] are clamped by the safety projection.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Action {
    /// Tranche run fractions.
    pub tranche: [f64; TRANCHES],
    /// AI training fraction.
    pub training: f64,
    /// Day-ahead offer per product, as a share of the offerable miner capacity.
    pub da_offer: [f64; RESERVES],
    /// Day-ahead minimum price per product, as a share of the offer price scale.
    pub da_min_price: [f64; RESERVES],
    /// Share of the day-ahead offer held back in the peak window's hours (0: a flat offer).
    #[serde(default)]
    pub da_peak_withhold: f64,
}

/// A malformed action: wrong length or a non-finite value.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionError(pub String);

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ActionError {}

impl Action {
    /// Everything at full power, no reserve offers.
    pub const ALL_ON: Action = Action {
        tranche: [1.0; TRANCHES],
        training: 1.0,
        da_offer: [0.0; RESERVES],
        da_min_price: [0.0; RESERVES],
        da_peak_withhold: 0.0,
    };

    /// Reads an action in [`ACTION_NAMES`] order; the error names the value at fault.
    pub fn from_slice(values: &[f32]) -> Result<Action, ActionError> {
        if values.len() != ACTION_DIM {
            return Err(ActionError(format!(
                "action has {} values, expected {ACTION_DIM} ({})",
                values.len(),
                ACTION_NAMES.join(", ")
            )));
        }
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(ActionError(format!(
                    "action[{i}] ({}) = {v}: must be a finite number",
                    ACTION_NAMES[i]
                )));
            }
        }
        Ok(Action::from_values_unchecked(values))
    }

    /// Reads [`ACTION_DIM`] values in [`ACTION_NAMES`] order without checking them (the
    /// projection clamps; NaN counts as 0 there). Panics on a shorter slice.
    #[inline]
    pub fn from_values_unchecked(values: &[f32]) -> Action {
        let v = |i: usize| values[i] as f64;
        Action {
            tranche: [v(0), v(1), v(2)],
            training: v(3),
            da_offer: [v(4), v(5), v(6)],
            da_min_price: [v(7), v(8), v(9)],
            da_peak_withhold: v(10),
        }
    }

    /// The action in [`ACTION_NAMES`] order.
    pub fn to_array(&self) -> [f32; ACTION_DIM] {
        [
            self.tranche[0] as f32,
            self.tranche[1] as f32,
            self.tranche[2] as f32,
            self.training as f32,
            self.da_offer[0] as f32,
            self.da_offer[1] as f32,
            self.da_offer[2] as f32,
            self.da_min_price[0] as f32,
            self.da_min_price[1] as f32,
            self.da_min_price[2] as f32,
            self.da_peak_withhold as f32,
        ]
    }
}

/// One hour of a day-ahead reserve offer.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HourOffer {
    /// MW offered per product (RRS, ECRS, Non-Spin).
    pub mw: [f64; RESERVES],
    /// Lowest clearing price accepted per product ($/MW per hour); 0 takes any price.
    pub min_price: [f64; RESERVES],
}

/// The day-ahead reserve offer for operating day D, made at 10:00 US/Central on D-1: one
/// [`HourOffer`] per local hour of D from midnight (23, 24 or 25 of them are read; missing
/// hours offer nothing).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DayAheadOffer {
    /// Offers by local hour of D.
    pub hours: Vec<HourOffer>,
}

impl DayAheadOffer {
    /// The offer the market clears at a gate: the policy's hour-by-hour `offer` if it made
    /// one, else the flat offer of its action `a` ([`DayAheadOffer::from_action`]). The env,
    /// the backtest's trace and the server all take it from here.
    pub fn taken<'a>(
        offer: Option<&'a DayAheadOffer>,
        a: &Action,
        cfg: &SiteConfig,
    ) -> std::borrow::Cow<'a, DayAheadOffer> {
        match offer {
            Some(o) => std::borrow::Cow::Borrowed(o),
            None => std::borrow::Cow::Owned(DayAheadOffer::from_action(a, cfg)),
        }
    }

    /// The offer an action's day-ahead values describe (see [`Action`]): the same MW and
    /// minimum price in every hour of D, except that the share `da_peak_withhold` of the MW
    /// is held back in the hours of `reserves.peak_window_hours` (counted from local
    /// midnight). Values are clamped to [0, 1], NaN to 0.
    pub fn from_action(a: &Action, cfg: &SiteConfig) -> DayAheadOffer {
        let r = &cfg.reserves;
        let offerable = r.max_offer_fraction * cfg.miner_capacity_mw();
        let hour = HourOffer {
            mw: a.da_offer.map(|x| clamp01(x) * offerable),
            min_price: a
                .da_min_price
                .map(|x| clamp01(x) * r.offer_price_scale_usd_per_mw_h),
        };
        let keep = 1.0 - clamp01(a.da_peak_withhold);
        let peak = HourOffer {
            mw: hour.mw.map(|x| x * keep),
            ..hour
        };
        DayAheadOffer {
            hours: (0..DAY_HOURS_MAX)
                .map(|k| if r.in_peak_window(k) { peak } else { hour })
                .collect(),
        }
    }

    /// MW offered in total over the day (all hours and products).
    pub fn total_mw(&self) -> f64 {
        self.hours.iter().flat_map(|h| h.mw).sum()
    }
}

/// [0, 1] clamp with NaN to 0.
#[inline]
#[allow(clippy::manual_clamp)]
pub(crate) fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.max(0.0).min(1.0) }
}

/// A feasible dispatch in MW, the output of the safety projection.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Dispatch {
    /// AI inference load (MW).
    pub inference_mw: f64,
    /// AI training load (MW).
    pub training_mw: f64,
    /// Miner load per tranche before any reserve deployment (MW).
    pub tranche_mw: [f64; TRANCHES],
    /// Reserve MW the site carries this interval per product: its day-ahead awards, which
    /// running miner load must cover. Serialized as `offer_mw` (the MW offered to ERCOT in
    /// the interval), the name `evaluate --decisions` lines carry.
    #[serde(rename = "offer_mw", alias = "award_mw")]
    pub award_mw: [f64; RESERVES],
}

impl Dispatch {
    /// Total miner load before deployments (MW).
    pub fn miner_mw(&self) -> f64 {
        self.tranche_mw.iter().sum()
    }

    /// Total reserve awards in force (MW).
    pub fn awarded_mw(&self) -> f64 {
        self.award_mw.iter().sum()
    }

    /// Site load before deployments, balance of plant included (MW).
    pub fn site_load_mw(&self, cfg: &SiteConfig) -> f64 {
        cfg.plant.balance_of_plant_mw + self.inference_mw + self.training_mw + self.miner_mw()
    }
}

/// What the site carries from one interval into the next.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SiteState {
    /// Miner load per tranche in the last interval (MW).
    pub tranche_mw: [f64; TRANCHES],
    /// AI training load in the last interval (MW).
    pub training_mw: f64,
    /// Intervals training must still hold before it may step down.
    pub training_hold: u32,
    /// Reserve awards in force in the interval decided for, per product (MW): the site
    /// knows its day-ahead awards, so the env sets them before each decision.
    #[serde(default)]
    pub award_mw: [f64; RESERVES],
    /// Miner MW per tranche the site reports unavailable in the interval decided for (0 in
    /// the env; a live site may report outages): they cannot run, and awarded MW they were
    /// to cover become a shortfall.
    #[serde(default)]
    pub unavailable_mw: [f64; TRANCHES],
}

impl SiteState {
    /// The state a fresh episode starts from: everything running, no offers.
    pub fn initial(cfg: &SiteConfig) -> SiteState {
        let mut tranche_mw = [0.0; TRANCHES];
        for (m, t) in tranche_mw.iter_mut().zip(&cfg.mining.tranches) {
            *m = t.capacity_mw;
        }
        SiteState {
            tranche_mw,
            training_mw: cfg.ai.training_mw,
            training_hold: 0,
            award_mw: [0.0; RESERVES],
            unavailable_mw: [0.0; TRANCHES],
        }
    }

    /// The state after running `d` from this state.
    pub fn after(&self, d: &Dispatch, cfg: &SiteConfig) -> SiteState {
        let stepped_up = d.training_mw > self.training_mw + 1e-9;
        SiteState {
            tranche_mw: d.tranche_mw,
            training_mw: d.training_mw,
            training_hold: if stepped_up {
                cfg.ai.training_min_on_intervals
            } else {
                self.training_hold.saturating_sub(1)
            },
            award_mw: d.award_mw,
            unavailable_mw: self.unavailable_mw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_errors_name_the_value() {
        let e = Action::from_slice(&[0.5; 6]).unwrap_err().0;
        assert!(e.contains("6 values, expected 11"), "{e}");
        let mut a = [0.5f32; 11];
        a[3] = f32::NAN;
        let e = Action::from_slice(&a).unwrap_err().0;
        assert!(e.contains("action[3] (ai_training) = NaN"), "{e}");
        a[3] = f32::INFINITY;
        assert!(Action::from_slice(&a).unwrap_err().0.contains("inf"));
    }

    #[test]
    fn action_round_trips() {
        let v = [
            0.0, 0.25, 0.5, 0.75, 1.0, 0.125, 0.375, 0.5, 0.0625, 1.0, 0.875,
        ];
        let a = Action::from_slice(&v).unwrap();
        assert_eq!(a.tranche, [0.0, 0.25, 0.5]);
        assert_eq!(a.training, 0.75);
        assert_eq!(a.da_offer, [1.0, 0.125, 0.375]);
        assert_eq!(a.da_min_price, [0.5, 0.0625, 1.0]);
        assert_eq!(a.da_peak_withhold, 0.875);
        assert_eq!(a.to_array(), v);
    }

    #[test]
    fn flat_offer_from_action_values() {
        // Default site: 65 MW of miners, all offerable; minimum price scale $100/MW-h.
        let cfg = SiteConfig::default_site();
        let a = Action {
            da_offer: [0.5, 2.0, f64::NAN],
            da_min_price: [0.25, -1.0, 0.0],
            ..Action::ALL_ON
        };
        let o = DayAheadOffer::from_action(&a, &cfg);
        assert_eq!(o.hours.len(), DAY_HOURS_MAX);
        for h in &o.hours {
            assert_eq!(h.mw, [32.5, 65.0, 0.0]);
            assert_eq!(h.min_price, [25.0, 0.0, 0.0]);
        }
        assert_eq!(o.total_mw(), 97.5 * 25.0);
    }

    #[test]
    fn peak_withhold_holds_back_the_window_hours_only() {
        // Window [16, 18): hours 16 and 17 from local midnight. Offer 40 MW RRS and 20 MW
        // Non-Spin at $10 and $0; withhold 0.75 leaves 10 and 5 MW in the window.
        let cfg = SiteConfig::default_site();
        assert_eq!(cfg.reserves.peak_window_hours, [16, 18]);
        let a = Action {
            da_offer: [40.0 / 65.0, 0.0, 20.0 / 65.0],
            da_min_price: [0.1, 0.0, 0.0],
            da_peak_withhold: 0.75,
            ..Action::ALL_ON
        };
        let o = DayAheadOffer::from_action(&a, &cfg);
        for (k, h) in o.hours.iter().enumerate() {
            let want = if k == 16 || k == 17 {
                [10.0, 0.0, 5.0]
            } else {
                [40.0, 0.0, 20.0]
            };
            for p in 0..3 {
                assert!(
                    (h.mw[p] - want[p]).abs() < 1e-12,
                    "hour {k} {p}: {:?}",
                    h.mw
                );
            }
            assert_eq!(h.min_price, [10.0, 0.0, 0.0], "hour {k}: the price stays");
        }
        assert!((o.total_mw() - (23.0 * 60.0 + 2.0 * 15.0)).abs() < 1e-9);
        // Out of range and NaN clamp like every other value: > 1 withholds all, NaN none.
        for (w, in_window) in [(2.0, 0.0), (-1.0, 40.0), (f64::NAN, 40.0)] {
            let o = DayAheadOffer::from_action(
                &Action {
                    da_peak_withhold: w,
                    ..a
                },
                &cfg,
            );
            assert!(
                (o.hours[16].mw[0] - in_window).abs() < 1e-12,
                "withhold {w}"
            );
            assert!((o.hours[15].mw[0] - 40.0).abs() < 1e-12);
        }
        // Another window, from the config.
        let mut cfg2 = cfg.clone();
        cfg2.reserves.peak_window_hours = [0, 1];
        let o = DayAheadOffer::from_action(
            &Action {
                da_peak_withhold: 1.0,
                ..a
            },
            &cfg2,
        );
        assert_eq!(o.hours[0].mw, [0.0; 3]);
        assert!((o.hours[1].mw[0] - 40.0).abs() < 1e-12);
    }

    #[test]
    fn hold_counts_down_and_restarts_on_step_up() {
        let cfg = SiteConfig::default_site();
        let s = SiteState {
            training_mw: 10.0,
            ..SiteState::initial(&cfg)
        };
        let up = Dispatch {
            training_mw: 15.0,
            ..Dispatch::default()
        };
        let s1 = s.after(&up, &cfg);
        assert_eq!(s1.training_hold, cfg.ai.training_min_on_intervals);
        let s2 = s1.after(&up, &cfg);
        assert_eq!(s2.training_hold, cfg.ai.training_min_on_intervals - 1);
    }
}
