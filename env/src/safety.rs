//! The safety projection: turns any [`Action`] into a feasible [`Dispatch`].
//!
//! Used by every policy, in the env, in evaluation and in serving. Rules, in order:
//! 1. fractions are clamped to [0, 1] (NaN to 0);
//! 2. firm inference stays on unless firm load shed curtails it (`load_shed_curtail_inference`,
//!    or the whole site under SB 6);
//! 3. training moves in whole steps, by at most its ramp, and holds after stepping up;
//! 4. each tranche moves by at most the miner ramp and never above its capacity less the MW
//!    the site reports unavailable;
//! 5. firm load shed (an EEA3 notice ordering it) stops the miners (when configured) and caps
//!    training (never raising it); it overrides ramps and holds; other EEA levels curtail
//!    nothing here: the reserves they deploy drop in settlement;
//! 6. running miners cover the reserve awards in force (raised if needed, most efficient
//!    first, within ramps and availability): a price spike cannot be dodged with miners
//!    that carry an award. Under firm load shed the awarded MW stay scheduled: the
//!    emergency deploys them, so settlement drops them;
//! 7. the site stays within the import limit: it sheds uncommitted miners (least efficient
//!    first), then training down to its hold, then committed miners, then training, then
//!    inference.
//!
//! Awards the miners still cannot cover (unavailable miners, a tight import limit) are a
//! shortfall, paid back in settlement.

use crate::config::{SiteConfig, TRANCHES};
use crate::emergency::Emergency;
use crate::site::{Action, Dispatch, SiteState, clamp01};

/// What the projection needs to know about the interval besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectionContext {
    /// The emergency notice a decision for the interval knows (the env's snapshot, or the
    /// request's `emergency`).
    pub emergency: Emergency,
}

/// Constants of the projection derived once from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Projector {
    inference_mw: f64,
    step_mw: f64,
    steps: u32,
    ramp_steps: u32,
    shed_steps: u32,
    capacity: [f64; TRANCHES],
    miner_ramp: f64,
    /// Tranche indices from most to least efficient.
    by_efficiency: [usize; TRANCHES],
    import_limit: f64,
    balance_of_plant: f64,
    shed_mining: bool,
    shed_inference: bool,
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
        let e = &cfg.emergency;
        Projector {
            inference_mw: cfg.ai.inference_mw,
            step_mw,
            steps,
            ramp_steps: ramp_steps.min(steps),
            shed_steps: if e.sb6_subject {
                0
            } else {
                ((e.load_shed_max_training_fraction * steps as f64) + EPS).floor() as u32
            },
            capacity,
            miner_ramp: cfg.mining.max_ramp_mw_per_interval,
            by_efficiency,
            import_limit: cfg.grid.import_limit_mw,
            balance_of_plant: cfg.plant.balance_of_plant_mw,
            shed_mining: e.load_shed_curtail_mining || e.sb6_subject,
            shed_inference: e.load_shed_curtail_inference || e.sb6_subject,
        }
    }

    /// Projects `action` from `state` onto the feasible set (see the module doc).
    #[inline]
    pub fn project(&self, action: &Action, state: &SiteState, ctx: ProjectionContext) -> Dispatch {
        let shed = ctx.emergency.load_shed;
        let inference = if shed && self.shed_inference {
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
        if shed {
            // Load shed only ever lowers load.
            train = train.min(self.shed_steps).min(prev_steps);
            train_lo = train_lo.min(train);
        }

        // Tranches, within their ramp and what is available.
        let mut m = [0.0; TRANCHES];
        let mut lo = [0.0; TRANCHES];
        let mut hi = [0.0; TRANCHES];
        let curtail = shed && self.shed_mining;
        for i in 0..TRANCHES {
            let unavailable = finite_nonneg(state.unavailable_mw[i]);
            let cap = (self.capacity[i] - unavailable).max(0.0);
            let prev = state.tranche_mw[i].max(0.0).min(self.capacity[i]);
            lo[i] = (prev - self.miner_ramp).max(0.0).min(cap);
            hi[i] = (prev + self.miner_ramp).min(cap);
            m[i] = (clamp01(action.tranche[i]) * self.capacity[i])
                .max(lo[i])
                .min(hi[i]);
            if curtail {
                m[i] = 0.0;
                lo[i] = 0.0;
            }
        }

        // Awards in force, covered by running miners.
        let award_mw = state.award_mw.map(finite_nonneg);
        let committed: f64 = award_mw.iter().sum();
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
            // Committed miners before training's hold: an award not provided is a
            // shortfall paid in money; the hold protects the AI jobs.
            excess = self.shed_miners(&mut m, &[0.0; TRANCHES], 0.0, excess);
        }
        if excess > EPS {
            excess = self.shed_training(&mut train, 0, excess);
        }
        let inference = if excess > EPS {
            (inference - excess).max(0.0)
        } else {
            inference
        };

        Dispatch {
            inference_mw: inference,
            training_mw: train as f64 * self.step_mw,
            tranche_mw: m,
            award_mw,
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

/// A finite value floored at 0; NaN and infinities give 0 (a damaged state value).
#[inline]
fn finite_nonneg(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
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

    const CALM: ProjectionContext = ProjectionContext {
        emergency: Emergency::NONE,
    };
    const SHED: ProjectionContext = ProjectionContext {
        emergency: Emergency {
            level: 3,
            load_shed: true,
        },
    };

    #[test]
    fn all_on_from_initial_state_is_full_site() {
        let c = cfg();
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), CALM);
        assert_eq!(d.inference_mw, 10.0);
        assert_eq!(d.training_mw, 20.0);
        assert_eq!(d.tranche_mw, [30.0, 20.0, 15.0]);
        assert_eq!(d.site_load_mw(&c), 100.0);
        assert_eq!(d.award_mw, [0.0; 3]);
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
        let d = p.project(&a, &s, CALM);
        assert_eq!(d.training_mw, 10.0);
        let s1 = s.after(&d, &c);
        let off = Action {
            training: 0.0,
            ..Action::ALL_ON
        };
        // Held for training_min_on_intervals (2) intervals, then free to step down.
        let d1 = p.project(&off, &s1, CALM);
        assert_eq!(d1.training_mw, 10.0);
        let s2 = s1.after(&d1, &c);
        let d2 = p.project(&off, &s2, CALM);
        assert_eq!(d2.training_mw, 10.0);
        let s3 = s2.after(&d2, &c);
        assert_eq!(p.project(&off, &s3, CALM).training_mw, 0.0);
    }

    #[test]
    fn awards_keep_miners_running_through_a_price_spike() {
        let c = cfg();
        let p = Projector::new(&c);
        let s = SiteState {
            award_mw: [25.0, 10.0, 0.0],
            ..SiteState::initial(&c)
        };
        let stop = Action {
            tranche: [0.0; 3],
            ..Action::ALL_ON
        };
        let d = p.project(&stop, &s, CALM);
        // 35 MW covered by the most efficient tranche first.
        assert_eq!(d.tranche_mw, [30.0, 5.0, 0.0]);
        assert_eq!(d.award_mw, [25.0, 10.0, 0.0]);
        // No award: the miners may stop.
        let d = p.project(&stop, &SiteState::initial(&c), CALM);
        assert_eq!(d.tranche_mw, [0.0; 3]);
    }

    #[test]
    fn unavailable_miners_cannot_cover_awards() {
        let c = cfg();
        let p = Projector::new(&c);
        let s = SiteState {
            award_mw: [40.0, 0.0, 0.0],
            unavailable_mw: [30.0, 0.0, 5.0],
            ..SiteState::initial(&c)
        };
        let d = p.project(&Action::ALL_ON, &s, CALM);
        // Tranche 0 is out entirely, tranche 2 has 10 MW left.
        assert_eq!(d.tranche_mw, [0.0, 20.0, 10.0]);
        assert!(d.miner_mw() < d.awarded_mw());
    }

    #[test]
    fn load_shed_stops_miners_and_training_keeps_inference() {
        let c = cfg();
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), SHED);
        assert_eq!(d.tranche_mw, [0.0; 3]);
        assert_eq!(d.training_mw, 0.0);
        assert_eq!(d.inference_mw, 10.0);
        // Awarded miners stay scheduled (the emergency deploys them in settlement).
        let s = SiteState {
            award_mw: [12.0, 0.0, 0.0],
            ..SiteState::initial(&c)
        };
        let d = p.project(&Action::ALL_ON, &s, SHED);
        assert_eq!(d.miner_mw(), 12.0);
        // EEA2 without load shed curtails nothing.
        let eea2 = ProjectionContext {
            emergency: Emergency {
                level: 2,
                load_shed: false,
            },
        };
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), eea2);
        assert_eq!(d.site_load_mw(&c), 100.0);
    }

    #[test]
    fn sb6_disconnects_the_whole_site_only_where_configured() {
        let mut c = cfg();
        c.emergency.load_shed_curtail_mining = false;
        let d = Projector::new(&c).project(&Action::ALL_ON, &SiteState::initial(&c), SHED);
        assert_eq!(d.miner_mw(), 65.0);
        c.emergency.sb6_subject = true;
        let d = Projector::new(&c).project(&Action::ALL_ON, &SiteState::initial(&c), SHED);
        assert_eq!(
            (d.inference_mw, d.training_mw, d.miner_mw()),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn import_limit_sheds_least_efficient_miners_first() {
        let mut c = cfg();
        c.grid.import_limit_mw = 80.0;
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), CALM);
        assert_eq!(d.site_load_mw(&c), 80.0);
        assert_eq!(d.tranche_mw, [30.0, 15.0, 0.0]);
        assert_eq!(d.training_mw, 20.0);
        // Tighter: all miners gone, training stepped down to fit.
        c.grid.import_limit_mw = 27.0;
        let p = Projector::new(&c);
        let d = p.project(&Action::ALL_ON, &SiteState::initial(&c), CALM);
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
            ..Action::ALL_ON
        };
        let s = SiteState {
            award_mw: [f64::NAN, -4.0, f64::INFINITY],
            ..SiteState::initial(&c)
        };
        let d = p.project(&a, &s, CALM);
        assert_eq!(d.tranche_mw, [30.0, 0.0, 0.0]);
        assert_eq!(d.training_mw, 20.0);
        assert_eq!(d.award_mw, [0.0; 3]);
    }

    fn arb_config() -> impl Strategy<Value = SiteConfig> {
        (
            15.0f64..120.0,
            1.0f64..70.0,
            1u32..6,
            1.0f64..25.0,
            0u32..4,
            any::<bool>(),
            0.0f64..1.0,
            any::<bool>(),
        )
            .prop_map(
                |(limit, miner_ramp, steps, train_ramp, hold, curtail_inf, shed_train, sb6)| {
                    let mut c = SiteConfig::default_site();
                    c.grid.import_limit_mw = limit;
                    c.mining.max_ramp_mw_per_interval = miner_ramp;
                    c.ai.training_steps = steps;
                    c.ai.training_max_ramp_mw_per_interval = train_ramp;
                    c.ai.training_min_on_intervals = hold;
                    c.emergency.load_shed_curtail_inference = curtail_inf;
                    c.emergency.load_shed_max_training_fraction = shed_train;
                    c.emergency.sb6_subject = sb6;
                    c
                },
            )
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        (proptest::array::uniform4(-0.5f64..1.5)).prop_map(|v| Action {
            tranche: [v[0], v[1], v[2]],
            training: v[3],
            ..Action::ALL_ON
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any sequence of actions, awards, outages and emergencies, from the initial state,
        /// projected step by step: every dispatch satisfies every constraint.
        #[test]
        fn projected_dispatch_is_always_feasible(
            c in arb_config(),
            steps in proptest::collection::vec(
                (arb_action(), 0u8..4, proptest::array::uniform3(0.0f64..40.0), proptest::array::uniform3(0.0f64..20.0)),
                1..40,
            ),
        ) {
            let p = Projector::new(&c);
            let step_mw = c.ai.training_mw / c.ai.training_steps as f64;
            let mut s = SiteState::initial(&c);
            // The initial state may exceed a small import limit: project it once.
            s = s.after(&p.project(&Action::ALL_ON, &s, CALM), &c);
            for (a, level, award, unavailable) in &steps {
                let shed = *level == 3;
                let ctx = ProjectionContext { emergency: Emergency { level: *level, load_shed: shed } };
                s.award_mw = *award;
                s.unavailable_mw = *unavailable;
                let d = p.project(a, &s, ctx);
                let tol = 1e-6;
                // Import limit.
                prop_assert!(d.site_load_mw(&c) <= c.grid.import_limit_mw + tol);
                // Inference firm unless load shed curtails it.
                if !(shed && (c.emergency.load_shed_curtail_inference || c.emergency.sb6_subject)) {
                    prop_assert_eq!(d.inference_mw, c.ai.inference_mw);
                }
                // Bounds, availability and training steps.
                for (i, t) in c.mining.tranches.iter().enumerate() {
                    prop_assert!(d.tranche_mw[i] >= 0.0);
                    prop_assert!(d.tranche_mw[i] <= (t.capacity_mw - unavailable[i]).max(0.0) + tol);
                }
                let st = d.training_mw / step_mw;
                prop_assert!((st - st.round()).abs() < 1e-9 && d.training_mw <= c.ai.training_mw + tol);
                prop_assert_eq!(d.award_mw, *award);
                // Awards covered whenever the miners can reach them and the import limit
                // leaves room.
                let reach: f64 = (0..3)
                    .map(|i| (s.tranche_mw[i] + c.mining.max_ramp_mw_per_interval)
                        .min(c.mining.tranches[i].capacity_mw - unavailable[i]).max(0.0))
                    .sum();
                // Room beside what runs besides the miners (training is shed before awarded
                // miners only down to its hold).
                let room = c.grid.import_limit_mw - c.plant.balance_of_plant_mw - d.inference_mw - d.training_mw;
                let awarded: f64 = award.iter().sum();
                if awarded <= reach.min(room) - tol {
                    prop_assert!(d.miner_mw() >= awarded - tol, "awards {} not covered by {}", awarded, d.miner_mw());
                }
                // Ramps and holds outside load shed.
                if !shed {
                    for i in 0..3 {
                        let ceiling = (c.mining.tranches[i].capacity_mw - unavailable[i]).max(0.0);
                        // Down-ramps give way to the import limit (inference comes first).
                        let binding = d.site_load_mw(&c) >= c.grid.import_limit_mw - tol;
                        if s.tranche_mw[i] <= ceiling && !(binding && d.tranche_mw[i] < s.tranche_mw[i]) {
                            prop_assert!((d.tranche_mw[i] - s.tranche_mw[i]).abs() <= c.mining.max_ramp_mw_per_interval + tol,
                                "tranche {} moved {} -> {}", i, s.tranche_mw[i], d.tranche_mw[i]);
                        }
                    }
                    if d.site_load_mw(&c) < c.grid.import_limit_mw - tol || d.training_mw > s.training_mw {
                        prop_assert!((d.training_mw - s.training_mw).abs() <= c.ai.training_max_ramp_mw_per_interval.max(step_mw) + tol);
                    }
                    if s.training_hold > 0 {
                        prop_assert!(d.training_mw >= s.training_mw - tol);
                    }
                } else if c.emergency.load_shed_curtail_mining || c.emergency.sb6_subject {
                    prop_assert!(d.miner_mw() <= awarded + tol);
                    prop_assert!(d.training_mw <= s.training_mw + tol);
                }
                s = s.after(&d, &c);
            }
        }
    }
}
