//! Collecting rollouts: sampling actions for a part of the envs and stepping them, with the
//! ERCOT parts of a rollout beside the network (a residual's base rules or planner, the
//! day-ahead head). `ppo` runs one part on the caller's thread, or
//! `parallel` one part per thread.

use powermix_agent::net::{FastActor, ObsNormalizer};
use powermix_agent::policy::{fixed_values, residual_action};
use powermix_agent::rules::Expert;
use powermix_env::env::{Env, VecEnv};
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, OBS_DIM};
use powermix_env::{Action, DayAheadOffer};
use powermix_plan::mpc::{DayAheadHead, DayAheadMpc, planner_base};
use rand::RngExt;
use rand_distr::StandardNormal;

/// `0.5 * ln(2 pi)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// What plans for one env of the rollouts beside the network.
#[derive(Debug, Clone)]
pub enum EnvPlanner {
    /// The day-ahead MPC as the base (`base_policy = "day-ahead-mpc"`): the action the
    /// network corrects, and the day-ahead offer.
    Base(Box<DayAheadMpc>),
    /// The day-ahead head (`head_in_rollouts`): the day-ahead offer only.
    Head(Box<DayAheadHead>),
}

impl EnvPlanner {
    /// A fresh planner of the same kind, for a new episode on a site `cfg`.
    pub(crate) fn fresh(&self, cfg: &powermix_env::SiteConfig) -> EnvPlanner {
        match self {
            EnvPlanner::Base(_) => EnvPlanner::Base(Box::new(DayAheadMpc::new(cfg))),
            EnvPlanner::Head(h) => {
                let mut head = DayAheadHead::new(cfg);
                head.set_priced(h.priced());
                EnvPlanner::Head(Box::new(head))
            }
        }
    }
}

/// The network as a rollout samples it: the plain-Rust actor and critic, the frozen
/// observation statistics and the Gaussian's spread. PPO's side of a rollout.
#[derive(Clone, Copy)]
pub struct NetSampler<'a> {
    pub(crate) actor: &'a FastActor,
    pub(crate) critic: &'a FastActor,
    pub(crate) normalizer: &'a ObsNormalizer,
    pub(crate) std: &'a [f64],
    pub(crate) log_std: &'a [f64],
    pub(crate) log_std_sum: f64,
}

/// What the rollout needs to act on a part of the envs: the network, and the ERCOT env's
/// parts beside it ([`crate::ercot::ErcotEnv`] builds it).
#[derive(Clone, Copy)]
pub struct Sampler<'a> {
    pub(crate) net: NetSampler<'a>,
    pub(crate) base: Option<&'a Expert>,
    /// `mask_inert_actions`: log-probabilities over the values the env reads only.
    pub(crate) mask: bool,
    /// `advantage = "same_input"`: the forked base rollouts' horizon and discount.
    pub(crate) same_input: Option<SameInput>,
    /// `hindsight_coef > 0`: label each step's miner tranches ([`hindsight_labels`]), with
    /// weights capped at this ($ per MW and interval).
    pub(crate) hindsight_cap: Option<f64>,
}

/// Miner tranches a hindsight label covers (the first action values).
pub(crate) const LABELLED: usize = powermix_env::config::TRANCHES;

/// The hindsight labels of one step (Sinclair et al., ICML 2023, "Hindsight Learning for
/// MDPs with Exogenous Inputs", in its one-step form): for each miner tranche, what running
/// one MW of it in interval `t` earned on the realised inputs, `margin = mining revenue at
/// the interval's hashprice - real-time price x 0.25 h - the 4CP charge on the interval's
/// realised peak weight` (the LP's `margin`, `powermix_plan::lp`), so the label is the
/// tranche on (1) when that is positive, off (0) otherwise. Returned as the correction of
/// the base action `base` the label asks for, and the weight `min(|margin|, cap)` ($/MW):
/// the cost of getting it wrong. The policy learns them from what it observes, so it learns
/// the expectation given its observation, not the realised price (the labels are what no
/// decision can see; only the loss reads them).
pub(crate) fn hindsight_labels(
    env: &Env,
    base: &[f32; ACTION_DIM],
    cap: f64,
) -> ([f32; LABELLED], [f32; LABELLED]) {
    let m = env.market();
    let t = env.index();
    let cfg = &m.cfg;
    let h = powermix_env::time::INTERVAL_HOURS;
    let facts = m.hindsight();
    let price = facts.data.rt_price[t];
    let hashprice = facts.data.hashprice[t];
    let load_cost = price * h + cfg.four_cp_usd_per_mw() * facts.four_cp_weight[t];
    // A MW's mining revenue over the interval is its break-even price times the hours.
    let break_even = cfg.break_even_usd_per_mwh(hashprice);
    let mut target = [0.0f32; LABELLED];
    let mut weight = [0.0f32; LABELLED];
    for i in 0..LABELLED {
        let margin = break_even[i] * h - load_cost;
        let on = if margin > 0.0 { 1.0 } else { 0.0 };
        target[i] = on - base[i];
        weight[i] = if margin.is_finite() {
            margin.abs().min(cap) as f32
        } else {
            0.0
        };
    }
    (target, weight)
}

/// The forked base rollouts of `advantage = "same_input"` (needs the expert as the base).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SameInput {
    /// Intervals each fork runs the base rules after the step.
    pub(crate) horizon: usize,
    /// Discount per interval.
    pub(crate) gamma: f64,
}

/// The base rules' action on `env`'s next interval, as the env receives it (the residual
/// with a zero correction).
fn base_action(expert: &Expert, env: &Env) -> Action {
    let snap = env.market().snapshot(env.index(), env.state());
    let base = expert.decide(&snap).to_array();
    let a = residual_action(&base, &[0.0; ACTION_DIM], &expert.fixed_values(&snap));
    Action::from_values_unchecked(&a)
}

/// The same-input returns of one step (Mao et al., ICLR 2019, an input-dependent baseline
/// in its exact form): forks of `env` before the step, one taking `act` (with the day-ahead
/// `offer`) and one the base rules' action (with the same offer: the head is part of the
/// base), each followed by the base rules for `si.horizon` intervals, on the same prices
/// and the same deployment draws (the env's random stream never depends on the actions).
/// Returns the two discounted returns ($): their difference is what the action alone
/// earned, with the variance of the prices, which both branches see, taken out.
pub(crate) fn same_input_returns(
    env: &Env,
    act: &Action,
    offer: Option<&DayAheadOffer>,
    expert: &Expert,
    si: SameInput,
) -> (f64, f64) {
    let mut obs = [0.0f32; OBS_DIM];
    let mut run = |first: &Action| -> f64 {
        let mut fork = env.clone();
        let (mut ret, mut disc) = (0.0, 1.0);
        let (r, _, term, trunc) = fork.step_with_offer(first, offer, &mut obs);
        ret += r;
        let mut ended = term || trunc;
        for _ in 0..si.horizon {
            if ended {
                break;
            }
            disc *= si.gamma;
            let a = base_action(expert, &fork);
            let (r, _, term, trunc) = fork.step_with_offer(&a, None, &mut obs);
            ret += disc * r;
            ended = term || trunc;
        }
        ret
    };
    let with_action = run(act);
    let base = run(&base_action(expert, env));
    (with_action, base)
}

/// The day-ahead values of an action (`da_offer_*`, `da_min_price_*`): the env reads them
/// only at a day-ahead gate, and never when a planner base or a head makes the offer.
const DAY_AHEAD_VALUES: std::ops::Range<usize> = 4..ACTION_DIM;

impl Sampler<'_> {
    /// For every env of `venv`: normalises the raw observation into `obs`,
    /// samples the network's output from the Gaussian policy (unbounded) into `acts` with
    /// its log-probability, evaluates the critic, and writes what the env receives into
    /// `env_acts`: the sample, plus the base action for a residual policy (the expert's, or
    /// that of the env's MPC in `planners`, whose day-ahead offers go to `offers`, as do
    /// those of the env's head in `planners`). With
    /// `mask`, `masks` receives 1 for each value the env reads and 0 for the others, and the
    /// log-probability sums over the read values only.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        venv: &VecEnv,
        obs: &mut [f32],
        acts: &mut [f32],
        env_acts: &mut [f32],
        logps: &mut [f32],
        values: &mut [f32],
        masks: &mut [f32],
        rngs: &mut [Rng],
        planners: &mut [EnvPlanner],
        offers: &mut [Option<DayAheadOffer>],
        bases: &mut [Option<[f32; ACTION_DIM]>],
    ) {
        let raw = venv.obs();
        bases.fill(None);
        let mut mean = [0.0f32; ACTION_DIM];
        let mut v = [0.0f32; 1];
        for (e, rng) in rngs.iter_mut().enumerate() {
            let o = &mut obs[e * OBS_DIM..(e + 1) * OBS_DIM];
            self.net
                .normalizer
                .normalize(&raw[e * OBS_DIM..(e + 1) * OBS_DIM], o);
            self.net.actor.forward(o, &mut mean);
            self.net.critic.forward(o, &mut v);
            let mut sample = [0.0f32; ACTION_DIM];
            let mut zs = [0.0f64; ACTION_DIM];
            for k in 0..ACTION_DIM {
                zs[k] = rng.sample::<f64, _>(StandardNormal);
                sample[k] = (mean[k] as f64 + self.net.std[k] * zs[k]) as f32;
            }
            acts[e * ACTION_DIM..(e + 1) * ACTION_DIM].copy_from_slice(&sample);
            // The values the rules fix (every one in an emergency): not part of the action
            // taken, so not part of its probability either.
            let mut fixed = [false; ACTION_DIM];
            let planner = planners.get_mut(e);
            let to_env = if self.base.is_some() || planner.is_some() {
                let env = venv.env(e);
                let snap = env.market().snapshot(env.index(), env.state());
                let base = match (self.base, planner) {
                    (Some(expert), Some(EnvPlanner::Base(mpc))) => {
                        let (base, offer) = planner_base(mpc, expert, &snap);
                        offers[e] = offer;
                        Some(base)
                    }
                    (base, Some(EnvPlanner::Head(head))) => {
                        offers[e] = head.observe(&snap);
                        base.map(|expert| expert.decide(&snap).to_array())
                    }
                    (Some(expert), None) => Some(expert.decide(&snap).to_array()),
                    // `Trainer::new` gives a planner base the rules for emergencies.
                    (None, Some(EnvPlanner::Base(_)) | None) => None,
                };
                // The rules alone (an emergency) leave nothing to correct: no label.
                bases[e] = base.filter(|_| !snap.emergency.active());
                match base {
                    Some(base) => {
                        // A planner base's rules act only in emergencies (as `evaluate`'s
                        // `MpcResidual` has them).
                        let rules = self
                            .base
                            .filter(|_| !matches!(planners.get(e), Some(EnvPlanner::Base(_))));
                        fixed = fixed_values(rules, &snap);
                        residual_action(&base, &sample, &fixed)
                    }
                    None => sample,
                }
            } else {
                sample
            };
            let logp = if self.mask {
                let env = venv.env(e);
                // The network's own offer is read at a gate unless a planner base makes
                // the offer or a head made one (a head whose LP failed leaves it to the
                // network).
                let offer_read = env.market().is_da_gate(env.index())
                    && match planners.get(e) {
                        Some(EnvPlanner::Base(_)) => false,
                        Some(EnvPlanner::Head(_)) => offers[e].is_none(),
                        None => true,
                    };
                let mut logp = 0.0;
                for k in 0..ACTION_DIM {
                    let live = !fixed[k] && (offer_read || !DAY_AHEAD_VALUES.contains(&k));
                    masks[e * ACTION_DIM + k] = f32::from(u8::from(live));
                    if live {
                        logp -= self.net.log_std[k] + HALF_LN_2PI + 0.5 * zs[k] * zs[k];
                    }
                }
                logp
            } else {
                // Every value counts (summed in the order the unmasked runs always used).
                zs.iter().fold(
                    -self.net.log_std_sum - HALF_LN_2PI * ACTION_DIM as f64,
                    |lp, z| lp - 0.5 * z * z,
                )
            };
            env_acts[e * ACTION_DIM..(e + 1) * ACTION_DIM].copy_from_slice(&to_env);
            logps[e] = logp as f32;
            values[e] = v[0];
        }
    }

    /// The critic's value of the raw observation `raw`.
    fn value(&self, raw: &[f32]) -> f32 {
        let mut o = [0.0f32; OBS_DIM];
        let mut v = [0.0f32; 1];
        self.net.normalizer.normalize(raw, &mut o);
        self.net.critic.forward(&o, &mut v);
        v[0]
    }
}

/// What a part of the envs recorded over a rollout, step-major over its own envs.
pub struct Part {
    pub(crate) n: usize,
    pub(crate) obs: Vec<f32>,
    pub(crate) raw_obs: Vec<f32>,
    pub(crate) actions: Vec<f32>,
    /// Which action values the env read (empty without `mask_inert_actions`).
    pub(crate) masks: Vec<f32>,
    pub(crate) log_probs: Vec<f32>,
    pub(crate) values: Vec<f32>,
    /// Reward minus the always-on baseline, before scaling.
    pub(crate) rewards: Vec<f32>,
    /// The episode ended at this step (terminated or truncated).
    pub(crate) ended: Vec<bool>,
    /// The episode was truncated at this step (the window ended).
    pub(crate) truncated: Vec<bool>,
    /// V(final obs) where truncated, 0 elsewhere.
    pub(crate) final_values: Vec<f32>,
    /// V(obs) after the last step.
    pub(crate) last_values: Vec<f32>,
    pub(crate) finished: Vec<f64>,
    /// `same_input`: per step, the forked return of the action then the base, and of the
    /// base alone ($; empty otherwise).
    pub(crate) si_action: Vec<f32>,
    pub(crate) si_base: Vec<f32>,
    /// `hindsight_coef > 0`: per step, the label's correction and weight of each miner
    /// tranche ([`LABELLED`] values each; empty otherwise).
    pub(crate) hs_target: Vec<f32>,
    pub(crate) hs_weight: Vec<f32>,
}

/// Steps one part of the envs `steps` times with sampled actions.
pub fn run_part(
    s: &Sampler<'_>,
    venv: &mut VecEnv,
    rngs: &mut [Rng],
    planners: &mut [EnvPlanner],
    steps: usize,
    baselines: &[&[f32]],
) -> Part {
    let n = venv.len();
    let mut p = Part {
        n,
        obs: Vec::with_capacity(steps * n * OBS_DIM),
        raw_obs: Vec::with_capacity(steps * n * OBS_DIM),
        actions: Vec::with_capacity(steps * n * ACTION_DIM),
        masks: Vec::new(),
        log_probs: Vec::with_capacity(steps * n),
        values: Vec::with_capacity(steps * n),
        rewards: Vec::with_capacity(steps * n),
        ended: Vec::with_capacity(steps * n),
        truncated: Vec::with_capacity(steps * n),
        final_values: Vec::with_capacity(steps * n),
        last_values: Vec::with_capacity(n),
        finished: Vec::new(),
        si_action: Vec::new(),
        si_base: Vec::new(),
        hs_target: Vec::new(),
        hs_weight: Vec::new(),
    };
    let mut bases: Vec<Option<[f32; ACTION_DIM]>> = vec![None; n];
    let mut obs = vec![0.0f32; n * OBS_DIM];
    let mut acts = vec![0.0f32; n * ACTION_DIM];
    let mut env_acts = vec![0.0f32; n * ACTION_DIM];
    let mut logps = vec![0.0f32; n];
    let mut vals = vec![0.0f32; n];
    let mut masks = vec![0.0f32; if s.mask { n * ACTION_DIM } else { 0 }];
    let mut at = vec![0usize; n];
    let mut offers: Vec<Option<DayAheadOffer>> = vec![None; planners.len()];
    for _ in 0..steps {
        p.raw_obs.extend_from_slice(venv.obs());
        s.run(
            venv,
            &mut obs,
            &mut acts,
            &mut env_acts,
            &mut logps,
            &mut vals,
            &mut masks,
            rngs,
            planners,
            &mut offers,
            &mut bases,
        );
        if let Some(cap) = s.hindsight_cap {
            for (e, base) in bases.iter().enumerate() {
                let (target, weight) = match base {
                    Some(b) => hindsight_labels(venv.env(e), b, cap),
                    None => ([0.0; LABELLED], [0.0; LABELLED]),
                };
                p.hs_target.extend_from_slice(&target);
                p.hs_weight.extend_from_slice(&weight);
            }
        }
        p.masks.extend_from_slice(&masks);
        p.obs.extend_from_slice(&obs);
        p.actions.extend_from_slice(&acts);
        p.log_probs.extend_from_slice(&logps);
        p.values.extend_from_slice(&vals);
        for (e, i) in at.iter_mut().enumerate() {
            *i = venv.index(e);
        }
        if let (Some(si), Some(expert)) = (s.same_input, s.base) {
            for e in 0..n {
                let a = Action::from_slice(&env_acts[e * ACTION_DIM..(e + 1) * ACTION_DIM])
                    .expect("sampled actions are finite");
                let offer = offers.get(e).and_then(Option::as_ref);
                let (ra, rb) = same_input_returns(venv.env(e), &a, offer, expert, si);
                p.si_action.push(ra as f32);
                p.si_base.push(rb as f32);
            }
        }
        venv.step_with_offers(&env_acts, &offers)
            .expect("sampled actions are finite");
        offers.fill(None);
        for e in 0..n {
            let (term, trunc) = (venv.terminated()[e], venv.truncated()[e]);
            if (term || trunc)
                && let Some(planner) = planners.get_mut(e)
            {
                // A new episode: a fresh planner, as a backtest starts with one.
                *planner = planner.fresh(&venv.env(e).market().cfg);
            }
            p.ended.push(term || trunc);
            p.truncated.push(trunc);
            // Reward baseline: profit above always-on in the same interval.
            p.rewards
                .push(venv.rewards()[e] - baselines[e].get(at[e]).copied().unwrap_or(0.0));
            // The final observation is only there until the next step: value it now.
            p.final_values.push(if trunc {
                s.value(&venv.final_obs()[e * OBS_DIM..(e + 1) * OBS_DIM])
            } else {
                0.0
            });
        }
        p.finished.extend(venv.take_finished_returns());
    }
    for e in 0..n {
        p.last_values
            .push(s.value(&venv.obs()[e * OBS_DIM..(e + 1) * OBS_DIM]));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_agent::rules::ExpertParams;
    use powermix_env::env::Window;
    use powermix_env::{Market, SiteConfig};
    use std::sync::Arc;

    /// An env on a synthetic July at its 14:00 of 10 July, and the expert rules.
    fn july() -> (Env, Expert) {
        let m = Arc::new(Market::new(
            powermix_data::synth::synthetic_year(2024, 3),
            SiteConfig::default_site(),
        ));
        let start = (0..m.len())
            .find(|&t| {
                let l = m.local[t];
                (l.month, l.day, l.hour) == (7, 10, 14)
            })
            .unwrap();
        let mut env = Env::new(
            m.clone(),
            Window::Whole {
                start,
                end: start + 400,
            },
            9,
        )
        .unwrap();
        env.reset(None);
        let expert = Expert::new(&m.cfg, ExpertParams::default_params());
        (env, expert)
    }

    #[test]
    fn the_base_action_forks_into_two_equal_returns_and_another_action_does_not() {
        let (env, expert) = july();
        let si = SameInput {
            horizon: 16,
            gamma: 0.95,
        };
        let base = base_action(&expert, &env);
        let (a, b) = same_input_returns(&env, &base, None, &expert, si);
        assert_eq!(a, b);
        // Every miner off for the interval: a different return, on the same inputs.
        let mut v = base.to_array();
        v[..3].fill(0.0);
        let off = Action::from_values_unchecked(&v);
        let (a, b2) = same_input_returns(&env, &off, None, &expert, si);
        assert_eq!(b, b2, "the base branch does not depend on the action");
        assert_ne!(a, b);
        // The forks leave the env where it was.
        assert_eq!(env.index(), july().0.index());
    }

    #[test]
    fn the_action_fork_earns_what_the_env_earns_for_the_step() {
        let (env, expert) = july();
        let si = SameInput {
            horizon: 0,
            gamma: 0.95,
        };
        let mut v = base_action(&expert, &env).to_array();
        v[3] = 0.5;
        let act = Action::from_values_unchecked(&v);
        let (a, _) = same_input_returns(&env, &act, None, &expert, si);
        let mut real = env.clone();
        let mut obs = [0.0f32; OBS_DIM];
        let (r, _, _, _) = real.step_with_offer(&act, None, &mut obs);
        assert_eq!(a, r);
        // With a horizon, the base's later rewards are added, discounted.
        let si = SameInput {
            horizon: 2,
            gamma: 0.5,
        };
        let (a2, _) = same_input_returns(&env, &act, None, &expert, si);
        let b1 = base_action(&expert, &real);
        let (r1, _, _, _) = real.step_with_offer(&b1, None, &mut obs);
        let b2 = base_action(&expert, &real);
        let (r2, _, _, _) = real.step_with_offer(&b2, None, &mut obs);
        let want = r + 0.5 * r1 + 0.25 * r2;
        assert!(
            (a2 - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{a2} {want}"
        );
    }
}

#[cfg(test)]
mod hindsight_tests {
    use super::*;
    use powermix_env::env::Window;
    use powermix_env::{Market, SiteConfig};
    use std::sync::Arc;

    #[test]
    fn labels_follow_the_realised_margin_by_hand() {
        let mut data = powermix_data::synth::synthetic_year(2024, 3);
        // Interval 500: a price to the cap (every tranche off); 501: a negative price (on).
        data.rt_price[500] = 5000.0;
        data.rt_price[501] = -20.0;
        let m = Arc::new(Market::new(data, SiteConfig::default_site()));
        let cfg = &m.cfg;
        let at = |t: usize| {
            let mut env = Env::new(
                m.clone(),
                Window::Whole {
                    start: t,
                    end: t + 10,
                },
                1,
            )
            .unwrap();
            env.reset(None);
            env
        };
        let base = [1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let (target, weight) = hindsight_labels(&at(500), &base, 25.0);
        // Off is asked of the two running tranches, nothing of the stopped one.
        assert_eq!(target, [-1.0, 0.0, -1.0]);
        // The margin is far beyond the cap: weight 25 each.
        assert_eq!(weight, [25.0; 3]);
        let (target, weight) = hindsight_labels(&at(501), &base, 1e9);
        assert_eq!(target, [0.0, 1.0, 0.0]);
        // By hand: revenue per MW and interval - price x 0.25 h (no 4CP weight in January).
        let hp = m.hindsight().data.hashprice[501];
        assert_eq!(m.hindsight().four_cp_weight[501], 0.0);
        for i in 0..LABELLED {
            let t = &cfg.mining.tranches[i];
            let revenue =
                1e3 / t.efficiency_j_per_th * (1.0 - cfg.mining.pool_fee) * 0.25 / 24.0 * hp;
            let margin = revenue + 20.0 * 0.25;
            assert!(
                (weight[i] as f64 - margin).abs() < 1e-3,
                "{i}: {} {margin}",
                weight[i]
            );
        }
    }
}
