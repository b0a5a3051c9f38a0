//! PPO, read top to bottom: rollout, advantages, clipped updates, validation.
//!
//! Each PPO detail is named where it happens:
//! - **batched rollouts** through [`VecEnv`] (`n_envs` envs, `n_steps` steps per update);
//! - **running observation normalisation** ([`ObsNormalizer`], updated on every rollout
//!   batch, stored with the checkpoint);
//! - **Gaussian policy** over the 7 action values, sampled unbounded; the env's safety
//!   projection clamps to [0, 1]; log-probabilities are of the unclamped sample (see
//!   `powermix_agent::net`);
//! - **reward scaling** by the running std of the discounted return ([`RewardScaler`]);
//! - **GAE** that bootstraps on truncation (window end: V(final obs)) but not on
//!   termination (end of data: 0) ([`gae`]);
//! - **advantage normalisation** per minibatch;
//! - **clipped surrogate**, **value loss**, **entropy bonus**;
//! - **global gradient-norm clipping** over all parameters together ([`clip_global_norm`]);
//! - **learning-rate annealing**, linear to 0;
//! - **validation** of the deterministic policy through the evaluation harness' backtest.

use crate::buffer::{RewardScaler, Rollout, gae};
use crate::config::TrainConfig;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::net::{
    ActorCritic, ActorCriticConfig, FastActor, ObsNormalizer, gaussian_entropy, gaussian_log_prob,
};
use powermix_env::env::{EnvError, VecEnv, Window};
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Market, OBS_DIM};
use std::sync::Arc;

/// `0.5 * ln(2 pi)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// What one update measured.
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
    /// Mean return ($) of the episodes finished during the rollout, if any.
    pub episode_profit: Option<f64>,
    /// Mean policy std.
    pub action_std: f64,
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
    venv: VecEnv,
    device: Device,
    rng: Rng,
}

impl Trainer {
    /// A fresh trainer on `market`'s training window `[start, end)`.
    pub fn new(
        cfg: TrainConfig,
        market: Arc<Market>,
        start: usize,
        end: usize,
        seed: u64,
    ) -> Result<Trainer, EnvError> {
        let window = Window::Random {
            start,
            end,
            len: cfg.episode_days * 96,
        };
        let venv = VecEnv::new(market, window, cfg.n_envs, seed)?;
        let device = Device::flex().autodiff();
        let net = ActorCriticConfig {
            obs_dim: OBS_DIM,
            act_dim: ACTION_DIM,
            hidden: cfg.hidden.clone(),
            init_log_std: cfg.init_log_std,
        };
        let model = start_from_always_on(net.init_seeded(seed, &device), &device);
        let optim = AdamConfig::new().with_epsilon(1e-5).init();
        Ok(Trainer {
            normalizer: ObsNormalizer::new(OBS_DIM, cfg.obs_clip),
            scaler: RewardScaler::new(cfg.n_envs),
            update: 0,
            env_steps: 0,
            model,
            optim,
            venv,
            device,
            rng: Rng::stream(seed, 0x7070),
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

    /// One PPO update: a rollout, then `epochs` passes of minibatch gradient steps.
    pub fn step(&mut self) -> UpdateStats {
        let lr = self.learning_rate();
        let (rollout, episode_profit) = self.collect();
        let (adv, returns) = gae(
            rollout.n_envs,
            &rollout.rewards,
            &rollout.values,
            &rollout.next_values,
            &rollout.episode_end,
            self.cfg.gamma,
            self.cfg.gae_lambda,
        );
        let mut stats = self.optimise(&rollout, &adv, &returns, lr);
        self.update += 1;
        stats.update = self.update;
        stats.env_steps = self.env_steps;
        stats.learning_rate = lr;
        stats.episode_profit = episode_profit;
        stats.explained_variance = explained_variance(&rollout.values, &returns);
        stats
    }

    /// Rollout: `n_steps` steps of every env with actions sampled from the current policy.
    fn collect(&mut self) -> (Rollout, Option<f64>) {
        let (n, t_max) = (self.cfg.n_envs, self.cfg.n_steps);
        let actor = FastActor::from_model(&self.model).expect("finite weights");
        let critic = critic_of(&self.model);
        let log_std: Vec<f32> = tensor_values(self.model.log_std.val());
        let std: Vec<f64> = log_std.iter().map(|&l| (l as f64).exp()).collect();
        let log_std_sum: f64 = log_std.iter().map(|&l| l as f64).sum();
        let mut r = Rollout {
            n_envs: n,
            ..Rollout::default()
        };
        let mut obs_n = vec![0.0f32; n * OBS_DIM];
        let mut acts = vec![0.0f32; n * ACTION_DIM];
        let mut mean = [0.0f32; ACTION_DIM];
        let mut v = [0.0f32; 1];
        let mut scaled = vec![0.0f32; n];
        let mut ended = vec![false; n];
        let mut finished = Vec::new();
        for _ in 0..t_max {
            // Running observation normalisation: update with the raw batch, then normalise.
            self.normalizer.update(self.venv.obs());
            for e in 0..n {
                let o = &mut obs_n[e * OBS_DIM..(e + 1) * OBS_DIM];
                self.normalizer
                    .normalize(&self.venv.obs()[e * OBS_DIM..(e + 1) * OBS_DIM], o);
                actor.forward(o, &mut mean);
                critic.forward(o, &mut v);
                // Gaussian sample, unbounded; its log-probability.
                let mut logp = -log_std_sum - HALF_LN_2PI * ACTION_DIM as f64;
                for k in 0..ACTION_DIM {
                    let z = self.rng.normal();
                    acts[e * ACTION_DIM + k] = (mean[k] as f64 + std[k] * z) as f32;
                    logp -= 0.5 * z * z;
                }
                r.log_probs.push(logp as f32);
                r.values.push(v[0]);
            }
            r.obs.extend_from_slice(&obs_n);
            r.actions.extend_from_slice(&acts);
            self.venv.step(&acts).expect("sampled actions are finite");
            self.env_steps += n as u64;
            for e in 0..n {
                ended[e] = self.venv.terminated()[e] || self.venv.truncated()[e];
            }
            // Reward scaling.
            self.scaler.scale(
                self.venv.rewards(),
                &ended,
                self.cfg.gamma,
                self.cfg.reward_clip,
                &mut scaled,
            );
            r.rewards.extend_from_slice(&scaled);
            r.episode_end.extend_from_slice(&ended);
            // Bootstrap values: truncation -> V(final obs); termination -> 0; else filled
            // from the next step's value below.
            for e in 0..n {
                let nv = if self.venv.truncated()[e] {
                    let mut o = [0.0f32; OBS_DIM];
                    self.normalizer.normalize(
                        &self.venv.final_obs()[e * OBS_DIM..(e + 1) * OBS_DIM],
                        &mut o,
                    );
                    critic.forward(&o, &mut v);
                    v[0]
                } else {
                    0.0
                };
                r.next_values.push(nv);
            }
            finished.extend(self.venv.take_finished_returns());
        }
        // Next values of non-final steps: the value of the following step's observation.
        let steps = r.steps();
        for t in 0..steps {
            for e in 0..n {
                let i = t * n + e;
                if !r.episode_end[i] {
                    r.next_values[i] = if t + 1 < steps {
                        r.values[i + n]
                    } else {
                        let mut o = [0.0f32; OBS_DIM];
                        self.normalizer
                            .normalize(&self.venv.obs()[e * OBS_DIM..(e + 1) * OBS_DIM], &mut o);
                        critic.forward(&o, &mut v);
                        v[0]
                    };
                }
            }
        }
        let profit =
            (!finished.is_empty()).then(|| finished.iter().sum::<f64>() / finished.len() as f64);
        (r, profit)
    }

    /// The clipped-surrogate updates over the rollout.
    fn optimise(&mut self, r: &Rollout, adv: &[f32], returns: &[f32], lr: f64) -> UpdateStats {
        let total = r.values.len();
        let mb = self.cfg.minibatch;
        let mut idx: Vec<usize> = (0..total).collect();
        let mut s = UpdateStats::default();
        let mut batches = 0.0;
        for _ in 0..self.cfg.epochs {
            shuffle(&mut idx, &mut self.rng);
            for chunk in idx.chunks(mb) {
                if chunk.len() < 2 {
                    continue;
                }
                let m = chunk.len();
                let gather = |src: &[f32], w: usize| -> Vec<f32> {
                    let mut out = Vec::with_capacity(m * w);
                    for &i in chunk {
                        out.extend_from_slice(&src[i * w..(i + 1) * w]);
                    }
                    out
                };
                // Advantage normalisation (per minibatch).
                let a = gather(adv, 1);
                let mean_a = a.iter().map(|&x| x as f64).sum::<f64>() / m as f64;
                let std_a =
                    (a.iter().map(|&x| (x as f64 - mean_a).powi(2)).sum::<f64>() / m as f64).sqrt();
                let a: Vec<f32> = a
                    .iter()
                    .map(|&x| ((x as f64 - mean_a) / (std_a + 1e-8)) as f32)
                    .collect();
                let obs = self.tensor2(gather(&r.obs, OBS_DIM), m, OBS_DIM);
                let act = self.tensor2(gather(&r.actions, ACTION_DIM), m, ACTION_DIM);
                let old_logp = self.tensor2(gather(&r.log_probs, 1), m, 1);
                let adv_t = self.tensor2(a, m, 1);
                let ret = self.tensor2(gather(returns, 1), m, 1);

                let (mean, log_std, value) = self.model.forward(obs);
                let logp = gaussian_log_prob(mean, log_std.clone(), act);
                let log_ratio = logp - old_logp;
                let ratio = log_ratio.clone().exp();
                // Clipped surrogate.
                let surr1 = ratio.clone() * adv_t.clone();
                let surr2 = ratio
                    .clone()
                    .clamp(1.0 - self.cfg.clip, 1.0 + self.cfg.clip)
                    * adv_t;
                let policy_loss = surr1.min_pair(surr2).mean().neg();
                // Value loss.
                let value_loss = (value - ret).powi_scalar(2).mean().mul_scalar(0.5);
                // Entropy bonus.
                let entropy = gaussian_entropy(log_std);
                let loss = policy_loss.clone() + value_loss.clone().mul_scalar(self.cfg.vf_coef)
                    - entropy.clone().mul_scalar(self.cfg.ent_coef);

                let grads = loss.backward();
                let mut grads = GradientsParams::from_grads(grads, &self.model);
                // Global gradient-norm clipping.
                let norm = clip_global_norm(&self.model, &mut grads, self.cfg.max_grad_norm);
                self.model = self.optim.step(lr, self.model.clone(), grads);

                // Diagnostics (no gradients).
                let lr_vals: Vec<f32> = tensor_values(log_ratio.detach());
                let kl = lr_vals
                    .iter()
                    .map(|&x| ((x as f64).exp() - 1.0) - x as f64)
                    .sum::<f64>()
                    / m as f64;
                let clipped = lr_vals
                    .iter()
                    .filter(|&&x| ((x as f64).exp() - 1.0).abs() > self.cfg.clip)
                    .count();
                s.policy_loss += scalar(policy_loss.detach());
                s.value_loss += scalar(value_loss.detach());
                s.entropy += scalar(entropy.detach().reshape([1, 1]).mean());
                s.approx_kl += kl;
                s.clip_fraction += clipped as f64 / m as f64;
                s.grad_norm += norm;
                batches += 1.0;
            }
        }
        if batches > 0.0 {
            s.policy_loss /= batches;
            s.value_loss /= batches;
            s.entropy /= batches;
            s.approx_kl /= batches;
            s.clip_fraction /= batches;
            s.grad_norm /= batches;
        }
        let ls: Vec<f32> = tensor_values(self.model.log_std.val());
        s.action_std = ls.iter().map(|&l| (l as f64).exp()).sum::<f64>() / ls.len() as f64;
        s
    }

    fn tensor2(&self, v: Vec<f32>, rows: usize, cols: usize) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(v, [rows, cols]), &self.device)
    }
}

/// The actor's initial output bias: the always-on action (tranches and training at 1,
/// reserve offers at 0). With the output weights near 0, the first deterministic policy is
/// the always-on baseline rather than "everything off", and exploration starts around it.
pub const INITIAL_ACTION: [f32; ACTION_DIM] = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];

/// Sets the actor's output bias to [`INITIAL_ACTION`] (keeping the parameter id, so model
/// bytes stay reproducible).
fn start_from_always_on(mut model: ActorCritic, device: &Device) -> ActorCritic {
    if let Some(last) = model.actor.last_mut()
        && let Some(bias) = last.bias.take()
    {
        let t = Tensor::<1>::from_data(
            TensorData::new(INITIAL_ACTION.to_vec(), [ACTION_DIM]),
            device,
        );
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

fn tensor_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

fn scalar(t: Tensor<1>) -> f64 {
    tensor_values(t).first().copied().unwrap_or(f32::NAN) as f64
}

fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
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

/// The optimiser state as bytes (burn's record format), for the checkpoint's
/// `optimizer.bpk`.
pub fn optimizer_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>, String> {
    optim
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| format!("cannot serialise the optimiser: {e}"))
}

/// Restores the optimiser state saved by [`optimizer_bytes`].
pub fn load_optimizer(t: &mut Trainer, bytes: &[u8]) -> Result<(), String> {
    let fresh = AdamConfig::new().with_epsilon(1e-5).init();
    t.optim = fresh
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| format!("optimizer.bpk: {e}"))?;
    Ok(())
}

impl Trainer {
    /// The training (autodiff) device.
    pub fn device(&self) -> Device {
        self.device.clone()
    }
}
