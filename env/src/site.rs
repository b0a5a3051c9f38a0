//! The site's decision and state types: the policy's [`Action`], the projected [`Dispatch`]
//! in MW, and the [`SiteState`] carried from one interval to the next.

use crate::config::{RESERVES, SiteConfig, TRANCHES};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of action values: tranche fractions, training fraction, reserve offer fractions.
pub const ACTION_DIM: usize = TRANCHES + 1 + RESERVES;

/// Action value names, in order.
pub const ACTION_NAMES: [&str; ACTION_DIM] = [
    "mining_tranche_0",
    "mining_tranche_1",
    "mining_tranche_2",
    "ai_training",
    "offer_rrs",
    "offer_ecrs",
    "offer_nspin",
];

/// What a policy asks for, every value a fraction in [0, 1]:
/// - `tranche[i]`: share of tranche i's capacity to run;
/// - `training`: share of AI training power (rounded to the configured steps);
/// - `offer[p]`: share of running miner load to offer as reserve product p (RRS, ECRS,
///   Non-Spin) for the hour; read only at the first interval of an hour, when offers are made.
///
/// Finite values outside [0, 1] are clamped by the safety projection.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Action {
    /// Tranche run fractions.
    pub tranche: [f64; TRANCHES],
    /// AI training fraction.
    pub training: f64,
    /// Reserve offer fractions.
    pub offer: [f64; RESERVES],
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
        offer: [0.0; RESERVES],
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
        let v = |i: usize| values[i] as f64;
        Ok(Action {
            tranche: [v(0), v(1), v(2)],
            training: v(3),
            offer: [v(4), v(5), v(6)],
        })
    }

    /// The action in [`ACTION_NAMES`] order.
    pub fn to_array(&self) -> [f32; ACTION_DIM] {
        [
            self.tranche[0] as f32,
            self.tranche[1] as f32,
            self.tranche[2] as f32,
            self.training as f32,
            self.offer[0] as f32,
            self.offer[1] as f32,
            self.offer[2] as f32,
        ]
    }
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
    /// Reserve offers in force this interval per product (MW): made at the hour's first
    /// interval, held for the hour.
    pub offer_mw: [f64; RESERVES],
}

impl Dispatch {
    /// Total miner load before deployments (MW).
    pub fn miner_mw(&self) -> f64 {
        self.tranche_mw.iter().sum()
    }

    /// Total reserve offers (MW).
    pub fn offered_mw(&self) -> f64 {
        self.offer_mw.iter().sum()
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
    /// Reserve offers of the current hour per product (MW).
    pub offer_mw: [f64; RESERVES],
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
            offer_mw: [0.0; RESERVES],
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
            offer_mw: d.offer_mw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_errors_name_the_value() {
        let e = Action::from_slice(&[0.5; 6]).unwrap_err().0;
        assert!(e.contains("6 values, expected 7"), "{e}");
        let mut a = [0.5f32; 7];
        a[3] = f32::NAN;
        let e = Action::from_slice(&a).unwrap_err().0;
        assert!(e.contains("action[3] (ai_training) = NaN"), "{e}");
        a[3] = f32::INFINITY;
        assert!(Action::from_slice(&a).unwrap_err().0.contains("inf"));
    }

    #[test]
    fn action_round_trips() {
        let a = Action::from_slice(&[0.0, 0.25, 0.5, 0.75, 1.0, 0.125, 0.375]).unwrap();
        assert_eq!(a.tranche, [0.0, 0.25, 0.5]);
        assert_eq!(a.training, 0.75);
        assert_eq!(a.offer, [1.0, 0.125, 0.375]);
        assert_eq!(a.to_array(), [0.0, 0.25, 0.5, 0.75, 1.0, 0.125, 0.375]);
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
