//! PPO, read top to bottom in the order of CleanRL's `ppo_continuous_action.py`:
//! [`Trainer::new`] (envs, network, Adam), then each update of [`Trainer::step`]:
//! 1. **collect** ([`Trainer::collect`]): `n_steps` steps of `n_envs` envs with actions
//!    sampled from the current policy;
//! 2. **GAE** ([`gae`]): advantages and returns;
//! 3. **optimise** (`Trainer::optimise`): `epochs` passes of shuffled minibatches, each a
//!    gradient step on
//! 4. **the loss** (`loss::loss_and_gradients`): clipped surrogate + value loss - entropy bonus.
//!
//! With `threads = 1` everything runs on the calling thread (the sequential path); with
//! more, the rollout and the gradients are split across threads by `parallel`,
//! which gives the same rollout to the bit and the same update up to float rounding.
//! What a checkpoint must hold to resume a run is in [`crate::resume`].
//!
//! The env is `ErcotEnv` (`ercot.rs`): the envs and every ERCOT-specific part of a
//! rollout beside the network (the base policy a residual corrects, the planners and the
//! day-ahead head, the gate mask, the reward baseline, the forked base rollouts and the
//! hindsight labels). This file sees only what a rollout returns.
//!
//! Each PPO detail is named where it happens:
//! - **running observation normalisation** ([`ObsNormalizer`], frozen during a rollout,
//!   updated with its observations afterwards, stored with the checkpoint);
//! - **Gaussian policy** over the 11 action values (`ACTION_DIM`), sampled unbounded; the env's safety
//!   projection clamps to [0, 1]; log-probabilities are of the unclamped sample (see
//!   `powermix_agent::net`);
//! - **the env's parts** (residual base, planners, head, reward baseline
//!   [`always_on_baseline`], forks, labels): `ErcotEnv`;
//! - **advantages**: GAE, or with `advantage = "same_input"` the forks' differences (the
//!   critic still learns the GAE returns);
//! - **auxiliary losses**: `residual_l2`, the hindsight labels' (`loss.rs`);
//! - **reward scaling** by the running std of the discounted return ([`RewardScaler`]);
//! - **bootstrap values** ([`bootstrap_values`], the one place they are set): V(next obs)
//!   inside an episode, V(final obs) on truncation (the window ended, the future goes on),
//!   0 on termination (end of data);
//! - **advantage normalisation** per minibatch;
//! - **clipped surrogate**, **value loss**, **entropy bonus**;
//! - **global gradient-norm clipping** over all parameters together ([`clip_global_norm`]);
//! - **learning-rate annealing**, linear to 0.

use crate::buffer::{RewardScaler, Rollout, gae};
use crate::config::TrainConfig;
use crate::ercot::ErcotEnv;
pub use crate::ercot::{TrainSource, always_on_baseline};
use crate::error::TrainError;
use crate::loss::{LossInput, LossOutput, loss_and_gradients, normalize_advantages, tensor_values};
use crate::parallel;
use crate::rollout::{LABELLED, NetSampler};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::net::{ActorCritic, ActorCriticConfig, FastActor, ObsNormalizer};
use powermix_agent::rules::ExpertParams;
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Market, OBS_DIM};
use rand::seq::SliceRandom;
use std::sync::Arc;

/// What one update measured: one row of `metrics.csv`, its fields the columns in order.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct UpdateStats {
    /// Update index (1-based).
    pub update: usize,
    /// Env steps so far.
    pub env_steps: u64,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Mean clipped-surrogate policy loss.
    pub policy_loss: f64,
    /// Mean value loss.
    pub value_loss: f64,
    /// Policy entropy.
    pub entropy: f64,
    /// Mean approximate KL(old || new).
    pub approx_kl: f64,
    /// Share of samples whose ratio was clipped.
    pub clip_fraction: f64,
    /// Gradient norm before clipping (mean over minibatches).
    pub grad_norm: f64,
    /// 1 - Var(returns - values) / Var(returns).
    pub explained_variance: f64,
    /// `advantage = "same_input"`: how much of the forked returns' variance the same-input
    /// base explains, 1 - Var(action return - base return) / Var(action return) (the
    /// critic's `explained_variance` is the same measure for its baseline).
    pub same_input_explained_variance: Option<f64>,
    /// `hindsight_coef > 0`: the mean weighted squared distance of the network's tranche
    /// corrections to the hindsight labels' (before the coefficient).
    pub hindsight_loss: Option<f64>,
    /// Mean return ($) of the episodes finished during the rollout, if any.
    pub episode_profit: Option<f64>,
    /// Mean policy std.
    pub action_std: f64,
    /// Wall time of the rollout (s).
    pub rollout_seconds: f64,
    /// Wall time of the gradient updates (s).
    pub optimise_seconds: f64,
    /// Env steps per second of the run so far, rollouts and updates (set by the run loop).
    pub env_steps_per_sec: f64,
    /// Validation profit ($) when this update was validated (set by the run loop).
    pub val_profit: Option<f64>,
    /// Validation value captured when this update was validated (set by the run loop).
    pub val_value_captured: Option<f64>,
}

/// The trainer's state: model, optimiser, statistics and envs.
pub struct Trainer {
    /// Hyperparameters.
    pub cfg: TrainConfig,
    /// The network, on the autodiff device.
    pub model: ActorCritic,
    /// Adam.
    pub optim: ModuleOptimizer,
    /// Observation statistics.
    pub normalizer: ObsNormalizer,
    /// Reward scaling.
    pub scaler: RewardScaler,
    /// Updates done.
    pub update: usize,
    /// Env steps done.
    pub env_steps: u64,
    /// The ERCOT env: the envs and everything ERCOT-specific beside the network.
    pub(crate) env: ErcotEnv,
    device: Device,
    /// Minibatch shuffling stream.
    pub(crate) rng: Rng,
    /// One action-sampling stream per env.
    pub(crate) env_rngs: Vec<Rng>,
}

impl Trainer {
    /// A fresh trainer on `market`'s training window `[start, end)`.
    pub fn new(
        cfg: TrainConfig,
        market: Arc<Market>,
        start: usize,
        end: usize,
        seed: u64,
    ) -> Result<Trainer, TrainError> {
        Trainer::with_sources(cfg, &[TrainSource { market, start, end }], seed)
    }

    /// A fresh trainer whose envs run on several sources (env `e` on source `e %
    /// sources.len()`; with one source, the same trainer as [`Trainer::new`]). Every source
    /// must have the first one's site config: one policy acts in all of them. A config that
    /// [`TrainConfig::validate`] refuses is refused here too (the error names the field and
    /// value), so a config built in code cannot reach a division by a zero count.
    pub fn with_sources(
        cfg: TrainConfig,
        sources: &[TrainSource],
        seed: u64,
    ) -> Result<Trainer, TrainError> {
        cfg.validate()?;
        let env = ErcotEnv::new(&cfg, sources, seed)?;
        let device = Device::flex().autodiff();
        let net = ActorCriticConfig {
            obs_dim: OBS_DIM,
            act_dim: ACTION_DIM,
            hidden: cfg.hidden.clone(),
            init_log_std: cfg.init_log_std,
        };
        // Residual policies start at the rules (zero correction), others at always-on.
        let start = if env.has_base() {
            [0.0; ACTION_DIM]
        } else {
            INITIAL_ACTION
        };
        let model = start_from(net.init_seeded(seed, &device), start, &device);
        Ok(Trainer {
            normalizer: ObsNormalizer::new(OBS_DIM, cfg.obs_clip),
            scaler: RewardScaler::new(cfg.n_envs),
            update: 0,
            env_steps: 0,
            model,
            optim: adam(),
            env,
            device,
            rng: Rng::stream(seed, 0x7070),
            env_rngs: (0..cfg.n_envs)
                .map(|e| Rng::stream(seed, 0x7071 + e as u64))
                .collect(),
            cfg,
        })
    }

    /// Learning rate of the next update (linear annealing to 0 when configured).
    pub fn learning_rate(&self) -> f64 {
        if self.cfg.anneal_learning_rate {
            let frac = 1.0 - self.update as f64 / self.cfg.updates() as f64;
            self.cfg.learning_rate * frac.max(0.0)
        } else {
            self.cfg.learning_rate
        }
    }

    /// One PPO update: collect, GAE, optimise.
    pub fn step(&mut self) -> UpdateStats {
        let lr = self.learning_rate();
        // 1. Collect.
        let clock = std::time::Instant::now();
        let (rollout, episode_profit) = self.collect();
        let rollout_seconds = clock.elapsed().as_secs_f64();
        // 2. GAE.
        let (adv, returns) = gae(
            rollout.n_envs,
            &rollout.rewards,
            &rollout.values,
            &rollout.next_values,
            &rollout.episode_end,
            self.cfg.gamma,
            self.cfg.gae_lambda,
        );
        // With forked base rollouts, the actor learns from the same-input advantages; the
        // critic still learns the GAE returns.
        let same_input = !rollout.same_input_action.is_empty();
        let adv = if same_input {
            rollout
                .same_input_action
                .iter()
                .zip(&rollout.same_input_base)
                .map(|(a, b)| a - b)
                .collect()
        } else {
            adv
        };
        // 3. Optimise.
        let clock = std::time::Instant::now();
        let mut stats = self.optimise(&rollout, &adv, &returns, lr);
        stats.optimise_seconds = clock.elapsed().as_secs_f64();
        stats.rollout_seconds = rollout_seconds;
        self.update += 1;
        stats.update = self.update;
        stats.env_steps = self.env_steps;
        stats.learning_rate = lr;
        stats.episode_profit = episode_profit;
        stats.explained_variance = explained_variance(&rollout.values, &returns);
        stats.same_input_explained_variance = same_input
            .then(|| explained_variance(&rollout.same_input_base, &rollout.same_input_action));
        stats
    }

    /// Step 1, collect: `n_steps` steps of every env with actions sampled from the current
    /// policy; returns the rollout and the mean return of the episodes that finished.
    ///
    /// Observations are normalised with the statistics frozen at the start of the rollout;
    /// the statistics are then updated with every raw observation of the rollout, step by
    /// step in env order, so the result does not depend on how the envs are split.
    pub fn collect(&mut self) -> (Rollout, Option<f64>) {
        let (n, t_max) = (self.cfg.n_envs, self.cfg.n_steps);
        let actor = FastActor::from_model(&self.model).expect("finite weights");
        let critic = critic_of(&self.model);
        let log_std: Vec<f32> = tensor_values(self.model.log_std.val());
        let std: Vec<f64> = log_std.iter().map(|&l| (l as f64).exp()).collect();
        let net = NetSampler {
            actor: &actor,
            critic: &critic,
            normalizer: &self.normalizer,
            std: &std,
            log_std: &log_std.iter().map(|&l| l as f64).collect::<Vec<_>>(),
            log_std_sum: log_std.iter().map(|&l| l as f64).sum(),
        };
        let parts = self.env.rollout(net, &mut self.env_rngs, t_max);
        self.env_steps += (n * t_max) as u64;

        // Merge the parts step-major: row t * n + e is env e at step t.
        let mut r = Rollout {
            n_envs: n,
            ..Rollout::default()
        };
        let mut raw_rewards = Vec::with_capacity(n * t_max);
        let mut truncated = Vec::with_capacity(n * t_max);
        let mut final_values = Vec::with_capacity(n * t_max);
        let mut raw_obs = Vec::with_capacity(n * OBS_DIM);
        for t in 0..t_max {
            raw_obs.clear();
            for p in &parts {
                let (m, rows) = (p.n, t * p.n..(t + 1) * p.n);
                let wide = |w: usize| t * m * w..(t + 1) * m * w;
                r.obs.extend_from_slice(&p.obs[wide(OBS_DIM)]);
                r.actions.extend_from_slice(&p.actions[wide(ACTION_DIM)]);
                if !p.masks.is_empty() {
                    r.masks.extend_from_slice(&p.masks[wide(ACTION_DIM)]);
                }
                r.log_probs.extend_from_slice(&p.log_probs[rows.clone()]);
                r.values.extend_from_slice(&p.values[rows.clone()]);
                r.episode_end.extend_from_slice(&p.ended[rows.clone()]);
                truncated.extend_from_slice(&p.truncated[rows.clone()]);
                final_values.extend_from_slice(&p.final_values[rows.clone()]);
                if !p.hs_target.is_empty() {
                    let w = LABELLED;
                    r.hindsight_target
                        .extend_from_slice(&p.hs_target[t * m * w..(t + 1) * m * w]);
                    r.hindsight_weight
                        .extend_from_slice(&p.hs_weight[t * m * w..(t + 1) * m * w]);
                }
                if !p.si_action.is_empty() {
                    r.same_input_action
                        .extend_from_slice(&p.si_action[rows.clone()]);
                    r.same_input_base
                        .extend_from_slice(&p.si_base[rows.clone()]);
                }
                raw_rewards.extend_from_slice(&p.rewards[rows]);
                raw_obs.extend_from_slice(&p.raw_obs[wide(OBS_DIM)]);
            }
            // Running observation normalisation (used from the next rollout on).
            self.normalizer.update(&raw_obs);
        }
        // Reward scaling, step by step.
        let mut scaled = vec![0.0f32; n];
        for t in 0..t_max {
            let rows = t * n..(t + 1) * n;
            self.scaler.scale(
                &raw_rewards[rows.clone()],
                &r.episode_end[rows],
                self.cfg.gamma,
                self.cfg.reward_clip,
                &mut scaled,
            );
            r.rewards.extend_from_slice(&scaled);
        }
        let last: Vec<f32> = parts.iter().flat_map(|p| p.last_values.clone()).collect();
        r.next_values = bootstrap_values(
            n,
            &r.values,
            &r.episode_end,
            &truncated,
            &final_values,
            &last,
        );
        let finished: Vec<f64> = parts.iter().flat_map(|p| p.finished.clone()).collect();
        let profit =
            (!finished.is_empty()).then(|| finished.iter().sum::<f64>() / finished.len() as f64);
        (r, profit)
    }

    /// Step 3, optimise: `epochs` passes over the rollout in shuffled minibatches, one clipped
    /// gradient step per minibatch.
    fn optimise(&mut self, r: &Rollout, adv: &[f32], returns: &[f32], lr: f64) -> UpdateStats {
        let total = r.values.len();
        let mb = self.cfg.minibatch;
        let mut idx: Vec<usize> = (0..total).collect();
        let mut s = UpdateStats::default();
        let mut batches = 0.0;
        let mut hindsight_loss = 0.0;
        for _ in 0..self.cfg.epochs {
            idx.shuffle(&mut self.rng);
            for chunk in idx.chunks(mb) {
                if chunk.len() < 2 {
                    continue;
                }
                let m = chunk.len();
                let input = LossInput {
                    obs: gather_rows(&r.obs, chunk, OBS_DIM),
                    act: gather_rows(&r.actions, chunk, ACTION_DIM),
                    mask: (!r.masks.is_empty()).then(|| gather_rows(&r.masks, chunk, ACTION_DIM)),
                    old_logp: gather_rows(&r.log_probs, chunk, 1),
                    adv: normalize_advantages(&gather_rows(adv, chunk, 1)),
                    ret: gather_rows(returns, chunk, 1),
                    hindsight: (!r.hindsight_target.is_empty()).then(|| {
                        (
                            gather_rows(&r.hindsight_target, chunk, LABELLED),
                            gather_rows(&r.hindsight_weight, chunk, LABELLED),
                        )
                    }),
                };
                // Gradient shards: one per thread, at least 2 rows each.
                let shards = self.cfg.threads.clamp(1, m / 2);
                let (mut grads, outs) = if shards == 1 {
                    // Sequential path.
                    let mut out = loss_and_gradients(&self.model, &self.cfg, &self.device, input);
                    (
                        std::mem::replace(&mut out.grads, GradientsParams::new()),
                        vec![out],
                    )
                } else {
                    parallel::sharded_gradients(&self.model, &self.cfg, &self.device, input, shards)
                };
                // Global gradient-norm clipping, then Adam.
                let norm = clip_global_norm(&self.model, &mut grads, self.cfg.max_grad_norm);
                self.model = self.optim.step(lr, self.model.clone(), grads);

                // Diagnostics (no gradients), weighted by shard size.
                let w = |f: &dyn Fn(&LossOutput) -> f64| -> f64 {
                    outs.iter().map(|o| f(o) * o.rows as f64).sum::<f64>() / m as f64
                };
                s.policy_loss += w(&|o| o.policy_loss);
                s.value_loss += w(&|o| o.value_loss);
                s.entropy += w(&|o| o.entropy);
                s.approx_kl += w(&|o| o.approx_kl);
                hindsight_loss += w(&|o| o.hindsight_loss);
                s.clip_fraction += w(&|o| o.clip_fraction);
                s.grad_norm += norm;
                batches += 1.0;
            }
        }
        if batches > 0.0 {
            s.policy_loss /= batches;
            s.value_loss /= batches;
            s.entropy /= batches;
            s.approx_kl /= batches;
            s.hindsight_loss = (!r.hindsight_target.is_empty()).then(|| hindsight_loss / batches);
            s.clip_fraction /= batches;
            s.grad_norm /= batches;
        }
        let ls: Vec<f32> = tensor_values(self.model.log_std.val());
        s.action_std = ls.iter().map(|&l| (l as f64).exp()).sum::<f64>() / ls.len() as f64;
        s
    }

    /// The expert parameters a residual policy corrects (None: no base policy); with a
    /// planner base, the rules that act alone in emergencies.
    pub fn base_params(&self) -> Option<ExpertParams> {
        self.env.base_params()
    }

    /// The planner a residual policy corrects (`base_policy = "day-ahead-mpc"`), if any.
    pub fn base_planner(&self) -> Option<&str> {
        self.env
            .planner_base()
            .then_some(self.cfg.base_policy.as_str())
    }

    /// The training (autodiff) device.
    pub fn device(&self) -> Device {
        self.device.clone()
    }
}

/// Adam as PPO uses it (epsilon 1e-5).
pub(crate) fn adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(1e-5).init()
}

/// The value of the state after each step of a step-major rollout of `n` envs, the one
/// place bootstrap values are set: 0 on termination (end of data: no future),
/// V(final obs) on truncation (the window ended but the future goes on), otherwise the
/// value of the env's next observation (the next step's value, or `last[e]` after the last
/// step).
pub fn bootstrap_values(
    n: usize,
    values: &[f32],
    ended: &[bool],
    truncated: &[bool],
    final_values: &[f32],
    last: &[f32],
) -> Vec<f32> {
    let rows = values.len();
    (0..rows)
        .map(|i| {
            if truncated[i] {
                final_values[i]
            } else if ended[i] {
                0.0
            } else if i + n < rows {
                values[i + n]
            } else {
                last[i % n]
            }
        })
        .collect()
}

/// Scales every gradient by min(1, max_norm / ||g||), with ||g|| the L2 norm over all
/// parameters together (not per tensor, as burn's own clipping does). Returns ||g||.
pub fn clip_global_norm(model: &ActorCritic, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    struct SumSq<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl ModuleVisitor for SumSq<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(p.id) {
                self.sum += tensor_values(g.powi_scalar(2).sum())
                    .first()
                    .copied()
                    .unwrap_or(0.0) as f64;
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(p.id) {
                self.grads.register(p.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut s = SumSq { grads, sum: 0.0 };
    model.visit(&mut s);
    let norm = s.sum.sqrt();
    if norm > max_norm && norm > 0.0 {
        let mut sc = Scale {
            grads,
            factor: max_norm / norm,
        };
        model.visit(&mut sc);
    }
    norm
}

// ---------------------------------------------------------------------------------------
// Set-up and helpers.

/// The actor's initial output bias without a base policy: the always-on action (tranches and training at 1,
/// day-ahead offers at 0). With the output weights near 0, the first deterministic policy is
/// the always-on baseline rather than "everything off", and exploration starts around it.
pub const INITIAL_ACTION: [f32; ACTION_DIM] =
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];

/// Sets the actor's output bias to `bias` (keeping the parameter id, so model bytes stay
/// reproducible).
fn start_from(mut model: ActorCritic, value: [f32; ACTION_DIM], device: &Device) -> ActorCritic {
    if let Some(last) = model.actor.last_mut()
        && let Some(bias) = last.bias.take()
    {
        let t = Tensor::<1>::from_data(TensorData::new(value.to_vec(), [ACTION_DIM]), device);
        last.bias = Some(Param::initialized(bias.id, t).set_require_grad(true));
    }
    model
}

/// The critic as a plain-Rust network (the same code path as the serving actor).
fn critic_of(model: &ActorCritic) -> FastActor {
    let as_actor = ActorCritic {
        actor: model.critic.clone(),
        critic: Vec::new(),
        log_std: model.log_std.clone(),
    };
    FastActor::from_model(&as_actor).expect("finite critic weights")
}

/// Rows `rows` of a row-major `src` with `w` values per row, in that order.
fn gather_rows(src: &[f32], rows: &[usize], w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * w);
    for &i in rows {
        out.extend_from_slice(&src[i * w..(i + 1) * w]);
    }
    out
}

/// 1 - Var(returns - values) / Var(returns).
pub fn explained_variance(values: &[f32], returns: &[f32]) -> f64 {
    let n = values.len().max(1) as f64;
    let var = |x: &dyn Fn(usize) -> f64| {
        let m = (0..values.len()).map(x).sum::<f64>() / n;
        (0..values.len()).map(|i| (x(i) - m).powi(2)).sum::<f64>() / n
    };
    let vr = var(&|i| returns[i] as f64);
    if vr <= 0.0 {
        return 0.0;
    }
    1.0 - var(&|i| returns[i] as f64 - values[i] as f64) / vr
}
