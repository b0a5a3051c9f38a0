//! The safety projection: turns any [`Action`] into a feasible [`Dispatch`].
//!
//! Used by every policy, in the env, in evaluation and in serving. Rules, in order:
//! 1. fractions are clamped to [0, 1];
//! 2. firm inference stays on unless an emergency rule curtails it;
//! 3. training moves in whole steps, by at most its ramp, and holds after stepping up;
//! 4. each tranche moves by at most the miner ramp;
//! 5. an emergency stops the miners (when configured) and caps training (never raising
//!    it); it overrides ramps and holds;
//! 6. within an hour, running miners cover the hour's reserve offers (raised if needed);
//! 7. the site stays within the import limit: it sheds uncommitted miners (least efficient
//!    first), then training, then committed miners, then inference;
//! 8. at the hour's first interval new offers are made, never more than the running miner
//!    load times `max_offer_fraction`; in an emergency no new offers are made.

use crate::config::{RESERVES, SiteConfig, TRANCHES};
use crate::site::{Action, Dispatch, SiteState};

/// What the projection needs to know about the interval besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectionContext {
    /// An emergency (EEA) is in force.
    pub emergency: bool,
    /// First interval of an hour: reserve offers are made now.
    pub hour_start: bool,
}

/// Constants of the projection derived once from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Projector {
    inference_mw: f64,
    step_mw: f64,
    steps: u32,
    ramp_steps: u32,
    emergency_steps: u32,
    capacity: [f64; TRANCHES],
    miner_ramp: f64,
    /// Tranche indices from most to least efficient.
    by_efficiency: [usize; TRANCHES],
    import_limit: f64,
    balance_of_plant: f64,
    max_offer_fraction: f64,
    offer_enabled: [bool; RESERVES],
    curtail_mining: bool,
    curtail_inference: bool,
}

/// Tolerance for MW comparisons.
const EPS: f64 = 1e-9;

impl Projector {
    /// Derives the projection constants from a validated config.
    pub fn new(cfg: &SiteConfig) -> Projector {
        let steps = cfg.ai.training_steps.max(1);
        let step_mw = cfg.ai.training_mw / steps as f64;
        let ramp_steps = if step_mw > 0.0 {
            ((cfg.ai.training_max_ramp_mw_per_interval / step_mw) + EPS).floor() as u32
        } else {
            steps
        };
        let mut capacity = [0.0; TRANCHES];
        for (c, t) in capacity.iter_mut().zip(&cfg.mining.tranches) {
            *c = t.capacity_mw;
        }
        let mut by_efficiency = [0, 1, 2];
        by_efficiency.sort_by(|&a, &b| {
            cfg.mining.tranches[a]
                .efficiency_j_per_th
                .total_cmp(&cfg.mining.tranches[b].efficiency_j_per_th)
        });
        let products = cfg.reserves.products();
        Projector {
            inference_mw: cfg.ai.inference_mw,
            step_mw,
            steps,
            ramp_steps: ramp_steps.min(steps),
            emergency_steps: ((cfg.emergency.max_training_fraction * steps as f64) + EPS).floor()
                as u32,
            capacity,
            miner_ramp: cfg.mining.max_ramp_mw_per_interval,
            by_efficiency,
            import_limit: cfg.grid.import_limit_mw,
            balance_of_plant: cfg.plant.balance_of_plant_mw,
            max_offer_fraction: cfg.reserves.max_offer_fraction,
            offer_enabled: [
                products[0].enabled,
                products[1].enabled,
                products[2].enabled,
            ],
            curtail_mining: cfg.emergency.curtail_mining,
            curtail_inference: cfg.emergency.curtail_inference,
        }
    }

    /// Projects `action` from `state` onto the feasible set (see the module doc).
    #[inline]
    pub fn project(&self, action: &Action, state: &SiteState, ctx: ProjectionContext) -> Dispatch {
        let em = ctx.emergency;
        let inference = if em && self.curtail_inference {
            0.0
        } else {
            self.inference_mw
        };

        // Training, in whole steps.
        let prev_steps = if self.step_mw > 0.0 {
            round_nonneg(state.training_mw / self.step_mw).min(self.steps)
        } else {
            0
        };
        let want = round_nonneg(clamp01(action.training) * self.steps as f64);
        let mut train_lo = prev_steps.saturating_sub(self.ramp_steps);
        if state.training_hold > 0 {
            train_lo = prev_steps;
        }
        let train_hi = (prev_steps + self.ramp_steps).min(self.steps);
        let mut train = want.max(train_lo).min(train_hi);
        if em {
            // An emergency only ever lowers load.
            train = train.min(self.emergency_steps).min(prev_steps);
            train_lo = train_lo.min(train);
        }

        // Tranches, within their ramp.
        let mut m = [0.0; TRANCHES];
        let mut lo = [0.0; TRANCHES];
        let mut hi = [0.0; TRANCHES];
        for i in 0..TRANCHES {
            let cap = self.capacity[i];
            let prev = state.tranche_mw[i].max(0.0).min(cap);
            lo[i] = (prev - self.miner_ramp).max(0.0);
            hi[i] = (prev + self.miner_ramp).min(cap);
            m[i] = (clamp01(action.tranche[i]) * cap).max(lo[i]).min(hi[i]);
            if em && self.curtail_mining {
                m[i] = 0.0;
                lo[i] = 0.0;
            }
        }

        // Offers of the hour in force: the held ones, covered by running miners.
        let held: [f64; RESERVES] = if ctx.hour_start {
            [0.0; RESERVES]
        } else {
            state
                .offer_mw
                .map(|o| if o.is_finite() { o.max(0.0) } else { 0.0 })
        };
        let committed: f64 = held.iter().sum();
        let mut short = committed - m.iter().sum::<f64>();
        for &i in &self.by_efficiency {
            if short <= EPS {
                break;
            }
            let raise = (hi[i] - m[i]).max(0.0).min(short);
            m[i] += raise;
            short -= raise;
        }

        // Import limit: shed in order of least harm.
        let mut excess =
            self.balance_of_plant + inference + train as f64 * self.step_mw + m.iter().sum::<f64>()
                - self.import_limit;
        if excess > EPS {
            // Uncommitted miners, least efficient first, down to their ramp floor.
            excess = self.shed_miners(&mut m, &lo, committed, excess);
        }
        if excess > EPS {
            excess = self.shed_training(&mut train, train_lo, excess);
        }
        if excess > EPS {
            excess = self.shed_miners(&mut m, &[0.0; TRANCHES], committed, excess);
        }
        if excess > EPS {
            excess = self.shed_training(&mut train, 0, excess);
        }
        if excess > EPS {
            excess = self.shed_miners(&mut m, &[0.0; TRANCHES], 0.0, excess);
        }
        let inference = if excess > EPS {
            (inference - excess).max(0.0)
        } else {
            inference
        };

        // New offers at the hour's first interval.
        let offer_mw = if ctx.hour_start {
            let available = if em {
                0.0
            } else {
                m.iter().sum::<f64>() * self.max_offer_fraction
            };
            let mut o = [0.0; RESERVES];
            for p in 0..RESERVES {
                if self.offer_enabled[p] {
                    o[p] = clamp01(action.offer[p]) * available;
                }
            }
            let total: f64 = o.iter().sum();
            if total > available && total > 0.0 {
                let scale = available / total;
                o.iter_mut().for_each(|x| *x *= scale);
            }
            o
        } else {
            held
        };

        Dispatch {
            inference_mw: inference,
            training_mw: train as f64 * self.step_mw,
            tranche_mw: m,
            offer_mw,
        }
    }

    /// Lowers miners (least efficient first) to no less than `floor` each and no less than
    /// `keep` in total; returns the excess left.
    fn shed_miners(
        &self,
        m: &mut [f64; TRANCHES],
        floor: &[f64; TRANCHES],
        keep: f64,
        mut excess: f64,
    ) -> f64 {
        for &i in self.by_efficiency.iter().rev() {
            if excess <= EPS {
                break;
            }
            let total: f64 = m.iter().sum();
            let cut = (m[i] - floor[i])
                .max(0.0)
                .min((total - keep).max(0.0))
                .min(excess);
            m[i] -= cut;
            excess -= cut;
        }
        excess
    }

    /// Lowers training by whole steps to no less than `floor` steps; returns the excess left.
    fn shed_training(&self, train: &mut u32, floor: u32, excess: f64) -> f64 {
        if self.step_mw <= 0.0 || *train <= floor {
            return excess;
        }
        let need = ((excess - EPS) / self.step_mw).ceil().max(0.0) as u32;
        let cut = need.min(*train - floor);
        *train -= cut;
        excess - cut as f64 * self.step_mw
    }
}

/// [0, 1] clamp with NaN to 0, branch-free on the usual path (no assertion like f64::clamp).
#[inline]
#[allow(clippy::manual_clamp)]
fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.max(0.0).min(1.0) }
}

/// Rounds a value to the nearest whole number of steps (halves up); negatives and NaN give
/// 0. Integer conversion instead of f64::round, which is a library call on baseline x86-64.
#[inline]
fn round_nonneg(x: f64) -> u32 {
    if x > 0.0 { (x + 0.5) as u32 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> SiteConfig {
        SiteConfig::default_site()
    }

    const HOUR: ProjectionContext = ProjectionContext {
        emergency: false,
        hour_start: true,
    };
    const MID: ProjectionContext = ProjectionContext {
        emergency: false,
        hour_start: false,
    };

    #[test]
    fn all_on_from_initial_state_is_full_site() {
        let c = cfg();
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), HOUR);
        assert_eq!(d.inference_mw, 10.0);
        assert_eq!(d.training_mw, 20.0);
        assert_eq!(d.tranche_mw, [30.0, 20.0, 15.0]);
        assert_eq!(d.site_load_mw(&c), 100.0);
        assert_eq!(d.offer_mw, [0.0; 3]);
    }

    #[test]
    fn training_rounds_to_steps_and_holds_after_step_up() {
        let c = cfg();
        let p = Projector::new(&c);
        let s = SiteState {
            training_mw: 0.0,
            ..SiteState::initial(&c)
        };
        let a = Action {
            training: 0.4,
            ..Action::ALL_ON
        };
        // 0.4 x 4 steps = 1.6 -> 2 steps of 5 MW.
        let d = p.project(&a, &s, MID);
        assert_eq!(d.training_mw, 10.0);
        let s1 = s.after(&d, &c);
        let off = Action {
            training: 0.0,
            ..Action::ALL_ON
        };
        // Held for training_min_on_intervals (2) intervals, then free to step down.
        let d1 = p.project(&off, &s1, MID);
        assert_eq!(d1.training_mw, 10.0);
        let s2 = s1.after(&d1, &c);
        let d2 = p.project(&off, &s2, MID);
        assert_eq!(d2.training_mw, 10.0);
        let s3 = s2.after(&d2, &c);
        assert_eq!(p.project(&off, &s3, MID).training_mw, 0.0);
    }

    #[test]
    fn offers_made_at_hour_start_from_running_miners_and_scaled() {
        let c = cfg();
        let p = Projector::new(&c);
        let a = Action {
            tranche: [1.0, 0.5, 0.0],
            training: 1.0,
            offer: [0.8, 0.4, 0.0],
        };
        let d = p.project(&a, &SiteState::initial(&c), HOUR);
        assert_eq!(d.miner_mw(), 40.0);
        // 0.8 + 0.4 = 1.2 of 40 MW -> scaled to 40 MW in the same 2:1 ratio.
        assert!((d.offer_mw[0] - 80.0 / 3.0).abs() < 1e-9);
        assert!((d.offer_mw[1] - 40.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn held_offers_keep_miners_running_within_the_hour() {
        let c = cfg();
        let p = Projector::new(&c);
        let s = SiteState {
            offer_mw: [25.0, 10.0, 0.0],
            ..SiteState::initial(&c)
        };
        let d = p.project(
            &Action {
                tranche: [0.0; 3],
                ..Action::ALL_ON
            },
            &s,
            MID,
        );
        // 35 MW covered by the most efficient tranche first.
        assert_eq!(d.tranche_mw, [30.0, 5.0, 0.0]);
        assert_eq!(d.offer_mw, [25.0, 10.0, 0.0]);
        // At the next hour's start the offers lapse and the miners may stop.
        let d = p.project(
            &Action {
                tranche: [0.0; 3],
                ..Action::ALL_ON
            },
            &s,
            HOUR,
        );
        assert_eq!(d.tranche_mw, [0.0; 3]);
        assert_eq!(d.offer_mw, [0.0; 3]);
    }

    #[test]
    fn emergency_stops_miners_and_training_keeps_inference() {
        let c = cfg();
        let p = Projector::new(&c);
        let ctx = ProjectionContext {
            emergency: true,
            hour_start: true,
        };
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), ctx);
        assert_eq!(d.tranche_mw, [0.0; 3]);
        assert_eq!(d.training_mw, 0.0);
        assert_eq!(d.inference_mw, 10.0);
        // Mid-hour, held offers keep exactly the committed miners running (to be dropped by
        // the deployment that an emergency implies).
        let s = SiteState {
            offer_mw: [12.0, 0.0, 0.0],
            ..SiteState::initial(&c)
        };
        let ctx = ProjectionContext {
            emergency: true,
            hour_start: false,
        };
        let d = p.project(&Action::ALL_ON, &s, ctx);
        assert_eq!(d.miner_mw(), 12.0);
    }

    #[test]
    fn import_limit_sheds_least_efficient_miners_first() {
        let mut c = cfg();
        c.grid.import_limit_mw = 80.0;
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), HOUR);
        assert_eq!(d.site_load_mw(&c), 80.0);
        assert_eq!(d.tranche_mw, [30.0, 15.0, 0.0]);
        assert_eq!(d.training_mw, 20.0);
        // Tighter: all miners gone, training stepped down to fit.
        c.grid.import_limit_mw = 27.0;
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), HOUR);
        assert_eq!(d.miner_mw(), 0.0);
        assert_eq!(d.training_mw, 10.0);
        assert_eq!(d.inference_mw, 10.0);
    }

    #[test]
    fn out_of_range_fractions_are_clamped() {
        let c = cfg();
        let p = Projector::new(&c);
        let a = Action {
            tranche: [7.0, -3.0, f64::NAN],
            training: 9.0,
            offer: [-1.0, 2.0, 0.0],
        };
        let d = p.project(&a, &SiteState::initial(&c), HOUR);
        assert_eq!(d.tranche_mw, [30.0, 0.0, 0.0]);
        assert_eq!(d.training_mw, 20.0);
        assert_eq!(d.offer_mw, [0.0, 30.0, 0.0]);
    }

    fn arb_config() -> impl Strategy<Value = SiteConfig> {
        (
            15.0f64..120.0,
            1.0f64..70.0,
            1u32..6,
            1.0f64..25.0,
            0u32..4,
            0.2f64..1.0,
            any::<bool>(),
            0.0f64..1.0,
        )
            .prop_map(
                |(
                    limit,
                    miner_ramp,
                    steps,
                    train_ramp,
                    hold,
                    offer_frac,
                    curtail_inf,
                    em_train,
                )| {
                    let mut c = SiteConfig::default_site();
                    c.grid.import_limit_mw = limit;
                    c.mining.max_ramp_mw_per_interval = miner_ramp;
                    c.ai.training_steps = steps;
                    c.ai.training_max_ramp_mw_per_interval = train_ramp;
                    c.ai.training_min_on_intervals = hold;
                    c.reserves.max_offer_fraction = offer_frac;
                    c.emergency.curtail_inference = curtail_inf;
                    c.emergency.max_training_fraction = em_train;
                    c
                },
            )
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        (proptest::array::uniform7(-0.5f64..1.5)).prop_map(|v| Action {
            tranche: [v[0], v[1], v[2]],
            training: v[3],
            offer: [v[4], v[5], v[6]],
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any sequence of actions and emergencies, from the initial state, projected step by
        /// step: every dispatch satisfies every constraint.
        #[test]
        fn projected_dispatch_is_always_feasible(
            c in arb_config(),
            steps in proptest::collection::vec((arb_action(), any::<bool>(), 0u8..10), 1..40),
        ) {
            let p = Projector::new(&c);
            let step_mw = c.ai.training_mw / c.ai.training_steps as f64;
            let mut s = SiteState::initial(&c);
            // The initial state may exceed a small import limit: project it once.
            s = s.after(&p.project(&Action::ALL_ON, &s, HOUR), &c);
            for (k, (a, em_draw, _)) in steps.iter().enumerate() {
                let emergency = *em_draw && k % 3 == 0;
                let ctx = ProjectionContext { emergency, hour_start: k % 4 == 0 };
                let d = p.project(a, &s, ctx);
                let tol = 1e-6;
                // Import limit.
                prop_assert!(d.site_load_mw(&c) <= c.grid.import_limit_mw + tol);
                // Inference firm unless the emergency rule says otherwise.
                if !(emergency && c.emergency.curtail_inference) {
                    prop_assert_eq!(d.inference_mw, c.ai.inference_mw);
                }
                // Bounds and training steps.
                for (i, t) in c.mining.tranches.iter().enumerate() {
                    prop_assert!(d.tranche_mw[i] >= 0.0 && d.tranche_mw[i] <= t.capacity_mw + tol);
                }
                let st = d.training_mw / step_mw;
                prop_assert!((st - st.round()).abs() < 1e-9 && d.training_mw <= c.ai.training_mw + tol);
                // Offers covered by running miners, and within the offer share when made.
                prop_assert!(d.offered_mw() <= d.miner_mw() + tol);
                if ctx.hour_start {
                    prop_assert!(d.offered_mw() <= d.miner_mw() * c.reserves.max_offer_fraction + tol);
                }
                prop_assert!(d.offer_mw.iter().all(|&o| o >= 0.0));
                // Ramps and holds outside emergencies.
                if !emergency {
                    for i in 0..3 {
                        prop_assert!((d.tranche_mw[i] - s.tranche_mw[i]).abs() <= c.mining.max_ramp_mw_per_interval + tol,
                            "tranche {} moved {} -> {}", i, s.tranche_mw[i], d.tranche_mw[i]);
                    }
                    prop_assert!((d.training_mw - s.training_mw).abs() <= c.ai.training_max_ramp_mw_per_interval.max(step_mw) + tol);
                    if s.training_hold > 0 {
                        prop_assert!(d.training_mw >= s.training_mw - tol);
                    }
                } else if c.emergency.curtail_mining {
                    prop_assert!(d.miner_mw() <= s.offer_mw.iter().sum::<f64>() * (!ctx.hour_start) as u8 as f64 + tol);
                }
                s = s.after(&d, &c);
            }
        }
    }
}
