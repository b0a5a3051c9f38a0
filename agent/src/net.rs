//! The policy network: an actor-critic MLP on burn, its observation normaliser, and a
//! plain-Rust copy of the actor for fast serving.
//!
//! # burn 0.22 in one paragraph
//!
//! burn 0.22 has no backend type parameter: a [`Tensor`] lives on a runtime [`Device`], and
//! the same [`ActorCritic`] runs on `Device::flex()` (the CPU inference backend, no autodiff)
//! or on `Device::flex().autodiff()` (training). Move a module between them with
//! [`Module::fork`] / [`Module::valid`]; records ([`Module::into_record`]) are backend-free.
//!
//! # How the Gaussian policy is bounded
//!
//! The actor outputs the mean `mu(obs)` of a diagonal Gaussian over the [`ACTION_DIM`] action
//! values ([`ACTION_NAMES`] order); the standard deviation `exp(log_std)` is a learnable
//! parameter that does not depend on the observation. This is the choice PPO uses:
//! - exploration samples `a ~ N(mu, exp(log_std))` **unbounded**, and the env (the same
//!   safety projection as in serving) clamps each value to [0, 1];
//! - the log-probability and the entropy are those of the **unclamped** sample `a`
//!   ([`gaussian_log_prob`], [`gaussian_entropy`]); the rollout buffer stores `a` itself, not
//!   the clamped value, so the PPO ratio is exact for the policy that was sampled;
//! - the deterministic action (evaluation and serving) is `mu` clamped to [0, 1]
//!   ([`ActorCritic::deterministic_action`], [`FastActor`], [`clamp_action`]).
//!
//! Gradients do not flow through the clamp (it happens in the env), so a mean that drifts
//! far outside [0, 1] is only pulled back by the advantage signal of its samples; the
//! initial output layer is scaled by 0.01 so means start near 0.

use burn::module::{Module, Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, ACTION_NAMES, OBS_DIM};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// `0.5 * ln(2 pi)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Shape of an [`ActorCritic`] and its initial exploration noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorCriticConfig {
    /// Observation features (input width), [`OBS_DIM`] for this build.
    pub obs_dim: usize,
    /// Action values (actor output width), [`ACTION_DIM`] for this build.
    pub act_dim: usize,
    /// Hidden layer widths, the same for actor and critic (tanh after each).
    pub hidden: Vec<usize>,
    /// Initial value of every `log_std` entry (std = exp of it).
    pub init_log_std: f64,
}

impl Default for ActorCriticConfig {
    /// [`OBS_DIM`] inputs, [`ACTION_DIM`] outputs, hidden 64, 64, `init_log_std` -0.5
    /// (std 0.61 on actions in [0, 1]).
    fn default() -> Self {
        ActorCriticConfig {
            obs_dim: OBS_DIM,
            act_dim: ACTION_DIM,
            hidden: vec![64, 64],
            init_log_std: -0.5,
        }
    }
}

impl ActorCriticConfig {
    /// A fresh network on `device`, initialised with seed 0 (see [`Self::init_seeded`]).
    pub fn init(&self, device: &Device) -> ActorCritic {
        self.init_seeded(0, device)
    }

    /// A fresh network on `device` from `seed`, independent of burn's global RNG: the same
    /// seed gives the same weights and the same model bytes on every machine.
    ///
    /// Orthogonal weights (gain sqrt(2) on hidden layers, 0.01 on the actor's output layer,
    /// 1 on the critic's), zero biases, `log_std = init_log_std`. Parameter ids are fixed
    /// (1, 2, ... in field order), so records are byte-reproducible.
    pub fn init_seeded(&self, seed: u64, device: &Device) -> ActorCritic {
        let mut rng = Rng::stream(seed, 0x0ac7_0c21);
        let mut next_id = 1u64;
        let actor = self.mlp(self.act_dim, 0.01, &mut rng, &mut next_id, device);
        let critic = self.mlp(1, 1.0, &mut rng, &mut next_id, device);
        let log_std = Tensor::<1>::from_data(
            TensorData::new(vec![self.init_log_std as f32; self.act_dim], [self.act_dim]),
            device,
        );
        ActorCritic {
            actor,
            critic,
            log_std: param(next_id, log_std),
        }
    }

    fn mlp(
        &self,
        out_dim: usize,
        out_gain: f64,
        rng: &mut Rng,
        next_id: &mut u64,
        device: &Device,
    ) -> Vec<Linear> {
        let mut widths = vec![self.obs_dim];
        widths.extend(&self.hidden);
        widths.push(out_dim);
        let layers = widths.len() - 1;
        (0..layers)
            .map(|l| {
                let (d_in, d_out) = (widths[l], widths[l + 1]);
                let gain = if l + 1 == layers {
                    out_gain
                } else {
                    std::f64::consts::SQRT_2
                };
                let w = orthogonal(d_in, d_out, gain, rng);
                let weight = Tensor::<2>::from_data(TensorData::new(w, [d_in, d_out]), device);
                let bias =
                    Tensor::<1>::from_data(TensorData::new(vec![0.0f32; d_out], [d_out]), device);
                let layer = Linear {
                    weight: param(*next_id, weight),
                    bias: Some(param(*next_id + 1, bias)),
                };
                *next_id += 2;
                layer
            })
            .collect()
    }
}

fn param<const D: usize>(id: u64, t: Tensor<D>) -> Param<Tensor<D>> {
    Param::initialized(ParamId::from(id), t).set_require_grad(true)
}

/// A `d_in x d_out` matrix (row-major, burn's `Linear` layout `[d_in, d_out]`) with
/// orthonormal rows or columns (whichever are fewer), times `gain`. Modified Gram-Schmidt
/// on Gaussian draws.
fn orthogonal(d_in: usize, d_out: usize, gain: f64, rng: &mut Rng) -> Vec<f32> {
    // `k` orthonormal vectors of length `n`.
    let (n, k) = (d_in.max(d_out), d_in.min(d_out));
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(k);
    while q.len() < k {
        let mut v: Vec<f64> = (0..n)
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        for u in &q {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(u) {
                *a -= d * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            v.iter_mut().for_each(|a| *a /= norm);
            q.push(v);
        }
    }
    let mut w = vec![0.0f32; d_in * d_out];
    for i in 0..d_in {
        for j in 0..d_out {
            // Columns orthonormal when d_in >= d_out, rows otherwise.
            let x = if d_in >= d_out { q[j][i] } else { q[i][j] };
            w[i * d_out + j] = (gain * x) as f32;
        }
    }
    w
}

/// Actor-critic MLP: separate actor and critic networks (tanh hidden layers), and a
/// state-independent `log_std` of the Gaussian policy. Build it with [`ActorCriticConfig`].
#[derive(Module, Debug)]
pub struct ActorCritic {
    /// Actor layers: hidden layers (tanh after each) then a linear layer to the action means.
    pub actor: Vec<Linear>,
    /// Critic layers: hidden layers (tanh after each) then a linear layer to one value.
    pub critic: Vec<Linear>,
    /// Log standard deviation of each action value, `[act_dim]`.
    pub log_std: Param<Tensor<1>>,
}

fn mlp_forward(layers: &[Linear], x: Tensor<2>) -> Tensor<2> {
    let last = layers.len().saturating_sub(1);
    layers.iter().enumerate().fold(x, |x, (l, layer)| {
        let y = layer.forward(x);
        if l < last { y.tanh() } else { y }
    })
}

impl ActorCritic {
    /// `(mean [batch, act_dim], log_std [act_dim], value [batch, 1])` of a batch of
    /// normalised observations `[batch, obs_dim]`.
    pub fn forward(&self, obs: Tensor<2>) -> (Tensor<2>, Tensor<1>, Tensor<2>) {
        let mean = mlp_forward(&self.actor, obs.clone());
        let value = mlp_forward(&self.critic, obs);
        (mean, self.log_std.val(), value)
    }

    /// The actor's means `[batch, act_dim]` (unbounded).
    pub fn mean(&self, obs: Tensor<2>) -> Tensor<2> {
        mlp_forward(&self.actor, obs)
    }

    /// The critic's values `[batch, 1]`.
    pub fn value(&self, obs: Tensor<2>) -> Tensor<2> {
        mlp_forward(&self.critic, obs)
    }

    /// The deterministic action for evaluation and serving: the mean clamped to [0, 1].
    pub fn deterministic_action(&self, obs: Tensor<2>) -> Tensor<2> {
        self.mean(obs).clamp(0.0, 1.0)
    }

    /// The shape of this network (its `init_log_std` is the current mean of `log_std`).
    pub fn config(&self) -> ActorCriticConfig {
        let [obs_dim, _] = self.actor[0].weight.shape().dims();
        let act_dim = self.log_std.shape().dims::<1>()[0];
        let hidden = self.actor[..self.actor.len() - 1]
            .iter()
            .map(|l| l.weight.shape().dims::<2>()[1])
            .collect();
        let ls: Vec<f32> = self
            .log_std
            .val()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap_or_default();
        ActorCriticConfig {
            obs_dim,
            act_dim,
            hidden,
            init_log_std: ls.iter().map(|&x| x as f64).sum::<f64>() / ls.len().max(1) as f64,
        }
    }
}

/// Log-density of the diagonal Gaussian `N(mean, exp(log_std))` at `action` (the unclamped
/// sample), summed over the action values: `[batch, 1]`.
pub fn gaussian_log_prob(mean: Tensor<2>, log_std: Tensor<1>, action: Tensor<2>) -> Tensor<2> {
    let [batch, act_dim] = mean.dims();
    let log_std = log_std.unsqueeze::<2>().expand([batch, act_dim]);
    let z = (action - mean) * log_std.clone().neg().exp();
    (z.powi_scalar(2).mul_scalar(-0.5) - log_std)
        .sum_dim(1)
        .sub_scalar(HALF_LN_2PI * act_dim as f64)
}

/// [`gaussian_log_prob`] over the action values whose `mask` is 1 only (`[batch, act_dim]`
/// of 0 and 1): a value the env never read (a day-ahead value outside the gate) is not part
/// of the action taken, so it is not part of its probability either. `[batch, 1]`.
pub fn gaussian_log_prob_masked(
    mean: Tensor<2>,
    log_std: Tensor<1>,
    action: Tensor<2>,
    mask: Tensor<2>,
) -> Tensor<2> {
    let [batch, act_dim] = mean.dims();
    let log_std = log_std.unsqueeze::<2>().expand([batch, act_dim]);
    let z = (action - mean) * log_std.clone().neg().exp();
    ((z.powi_scalar(2).mul_scalar(-0.5) - log_std).sub_scalar(HALF_LN_2PI) * mask).sum_dim(1)
}

/// Entropy of the diagonal Gaussian with `log_std` (independent of the mean): `[1]`.
pub fn gaussian_entropy(log_std: Tensor<1>) -> Tensor<1> {
    let act_dim = log_std.dims()[0];
    log_std
        .sum()
        .add_scalar((0.5 + HALF_LN_2PI) * act_dim as f64)
}

/// Clamps raw actor outputs to [0, 1], in [`ACTION_NAMES`] order; a non-finite value becomes
/// 0 (check [`outputs_finite`] first where that matters).
pub fn clamp_action(raw: &[f32; ACTION_DIM]) -> [f32; ACTION_DIM] {
    raw.map(|x| {
        if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        }
    })
}

/// Clamps the finite raw actor outputs to [0, 1] and keeps non-finite ones as they are (NaN
/// stays NaN, infinities stay infinite), so that a caller that must not act on them can
/// see them: the server's path ([`crate::SharedPolicy`]).
pub fn clamp_finite_action(raw: &[f32; ACTION_DIM]) -> [f32; ACTION_DIM] {
    raw.map(|x| if x.is_finite() { x.clamp(0.0, 1.0) } else { x })
}

/// Whether every raw actor output is finite.
pub fn outputs_finite(raw: &[f32]) -> bool {
    raw.iter().all(|x| x.is_finite())
}

/// The first non-finite raw output as `(index, name, value)`, for error messages.
pub fn first_nonfinite_output(raw: &[f32; ACTION_DIM]) -> Option<(usize, &'static str, f32)> {
    raw.iter()
        .position(|x| !x.is_finite())
        .map(|i| (i, ACTION_NAMES[i], raw[i]))
}

/// One dense layer of the [`FastActor`], burn's layout: `w[i * d_out + j]`.
#[derive(Debug, Clone, PartialEq)]
struct Dense {
    d_in: usize,
    d_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

/// A network or normaliser that cannot be used: the message names the parameter or field
/// and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

/// Checkpoint errors carry the message as text.
impl From<NetError> for String {
    fn from(e: NetError) -> String {
        e.0
    }
}

/// Widths up to this run on the stack in [`FastActor::forward`].
const STACK_WIDTH: usize = 256;

/// The actor in plain Rust (f32 weights copied out of an [`ActorCritic`]): one decision in
/// about a microsecond, no allocation, `&self` (shareable between threads). Equal to burn's
/// forward pass within 1e-5 (tested); serving and validation use this path.
#[derive(Debug, Clone, PartialEq)]
pub struct FastActor {
    layers: Vec<Dense>,
}

impl FastActor {
    /// Copies the actor's weights; the error names a parameter with a wrong shape or a
    /// non-finite value.
    pub fn from_model(model: &ActorCritic) -> Result<FastActor, NetError> {
        FastActor::copy_weights(model).map_err(NetError)
    }

    fn copy_weights(model: &ActorCritic) -> Result<FastActor, String> {
        if model.actor.is_empty() {
            return Err("the actor has no layers".into());
        }
        let mut layers = Vec::with_capacity(model.actor.len());
        let mut width = None;
        for (l, layer) in model.actor.iter().enumerate() {
            let [d_in, d_out] = layer.weight.shape().dims();
            if let Some(prev) = width
                && prev != d_in
            {
                return Err(format!(
                    "actor.{l}.weight takes {d_in} inputs, the layer before gives {prev}"
                ));
            }
            width = Some(d_out);
            let w = f32_values(&format!("actor.{l}.weight"), layer.weight.val().into_data())?;
            let b = match &layer.bias {
                Some(b) => f32_values(&format!("actor.{l}.bias"), b.val().into_data())?,
                None => vec![0.0; d_out],
            };
            if w.len() != d_in * d_out || b.len() != d_out {
                return Err(format!(
                    "actor.{l}: bias has {} values for {d_out} outputs",
                    b.len()
                ));
            }
            layers.push(Dense { d_in, d_out, w, b });
        }
        Ok(FastActor { layers })
    }

    /// Input width.
    pub fn obs_dim(&self) -> usize {
        self.layers[0].d_in
    }

    /// Output width.
    pub fn act_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].d_out
    }

    /// The actor's means (unclamped) for one normalised observation. `obs.len()` must be
    /// [`Self::obs_dim`] and `out.len()` [`Self::act_dim`] (panics otherwise: a caller bug).
    pub fn forward(&self, obs: &[f32], out: &mut [f32]) {
        assert_eq!(obs.len(), self.obs_dim(), "FastActor::forward input width");
        assert_eq!(out.len(), self.act_dim(), "FastActor::forward output width");
        let max_w = self.layers.iter().map(|l| l.d_out).max().unwrap_or(0);
        if max_w <= STACK_WIDTH {
            let mut a = [0.0f32; STACK_WIDTH];
            let mut b = [0.0f32; STACK_WIDTH];
            self.run(obs, out, &mut a, &mut b);
        } else {
            let mut a = vec![0.0f32; max_w];
            let mut b = vec![0.0f32; max_w];
            self.run(obs, out, &mut a, &mut b);
        }
    }

    fn run(&self, obs: &[f32], out: &mut [f32], a: &mut [f32], b: &mut [f32]) {
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (input, output): (&[f32], &mut [f32]) = match (l == 0, l % 2 == 0) {
                (true, _) => (obs, &mut a[..layer.d_out]),
                (false, true) => (&b[..layer.d_in], &mut a[..layer.d_out]),
                (false, false) => (&a[..layer.d_in], &mut b[..layer.d_out]),
            };
            output.copy_from_slice(&layer.b);
            // y += x[i] * W[i, :], row by row: independent lanes over the outputs vectorise.
            for (x, row) in input.iter().zip(layer.w.chunks_exact(layer.d_out)) {
                for (y, w) in output.iter_mut().zip(row) {
                    *y += x * w;
                }
            }
            if l < last {
                output.iter_mut().for_each(|y| *y = y.tanh());
            } else {
                out.copy_from_slice(output);
            }
        }
    }
}

fn f32_values(name: &str, data: TensorData) -> Result<Vec<f32>, String> {
    let v: Vec<f32> = data
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| format!("{name}: cannot read values: {e:?}"))?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("{name}[{i}] = {} is not finite", v[i]));
    }
    Ok(v)
}

/// Running mean and variance of each observation feature, merged batch by batch (Chan et
/// al.'s parallel update, in f64), and the normalisation `clip((x - mean) / sqrt(var + 1e-8))`.
/// Stored in the checkpoint's `meta.json`; training and serving normalise with the same
/// function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsNormalizer {
    /// Observations seen (0 before the first update).
    pub count: f64,
    /// Mean per feature.
    pub mean: Vec<f64>,
    /// Population variance per feature.
    pub var: Vec<f64>,
    /// Normalised values are clipped to [-clip, clip].
    pub clip: f32,
}

/// Added to the variance before the square root (keeps constant features finite).
pub const NORM_EPS: f64 = 1e-8;

/// A feature whose variance is at most this was constant in the data the statistics come
/// from (a market product that did not exist yet, such as ECRS before June 2023): it
/// normalises to 0, what the network saw, instead of the value's distance from that
/// constant divided by `sqrt(NORM_EPS)`, which the clip would turn into +-clip, an input the
/// network never had.
pub const CONSTANT_VAR: f64 = 1e-12;

impl ObsNormalizer {
    /// No statistics yet: mean 0, variance 1 (normalising is the identity, then the clip).
    pub fn new(dim: usize, clip: f32) -> ObsNormalizer {
        ObsNormalizer {
            count: 0.0,
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            clip,
        }
    }

    /// Feature count.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Merges a batch of observations, `batch.len() / dim` rows of [`Self::dim`] values
    /// (a `VecEnv` buffer). Rows with a non-finite value are skipped; returns how many rows
    /// were merged.
    pub fn update(&mut self, batch: &[f32]) -> usize {
        let dim = self.dim();
        if dim == 0 {
            return 0;
        }
        let rows: Vec<&[f32]> = batch
            .chunks_exact(dim)
            .filter(|r| r.iter().all(|x| x.is_finite()))
            .collect();
        if rows.is_empty() {
            return 0;
        }
        let n = rows.len() as f64;
        let mut mean = vec![0.0f64; dim];
        for r in &rows {
            for (m, &x) in mean.iter_mut().zip(r.iter()) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; dim];
        for r in &rows {
            for ((v, &x), m) in var.iter_mut().zip(r.iter()).zip(&mean) {
                let d = x as f64 - m;
                *v += d * d;
            }
        }
        var.iter_mut().for_each(|v| *v /= n);
        self.merge(&ObsNormalizer {
            count: n,
            mean,
            var,
            clip: self.clip,
        });
        rows.len()
    }

    /// Merges the statistics of `other` (same dimension) into these.
    pub fn merge(&mut self, other: &ObsNormalizer) {
        assert_eq!(self.dim(), other.dim(), "ObsNormalizer::merge dimensions");
        if other.count <= 0.0 {
            return;
        }
        if self.count <= 0.0 {
            self.count = other.count;
            self.mean.clone_from(&other.mean);
            self.var.clone_from(&other.var);
            return;
        }
        let total = self.count + other.count;
        for i in 0..self.dim() {
            let delta = other.mean[i] - self.mean[i];
            let m2 = self.var[i] * self.count
                + other.var[i] * other.count
                + delta * delta * self.count * other.count / total;
            self.mean[i] += delta * other.count / total;
            self.var[i] = m2 / total;
        }
        self.count = total;
    }

    /// Normalises one observation into `out` (same length as `obs`, [`Self::dim`]).
    #[inline]
    pub fn normalize(&self, obs: &[f32], out: &mut [f32]) {
        assert_eq!(
            obs.len(),
            self.dim(),
            "ObsNormalizer::normalize input width"
        );
        assert_eq!(
            out.len(),
            self.dim(),
            "ObsNormalizer::normalize output width"
        );
        let c = self.clip;
        for i in 0..obs.len() {
            let z = if self.var[i] <= CONSTANT_VAR {
                0.0
            } else {
                ((obs[i] as f64 - self.mean[i]) / (self.var[i] + NORM_EPS).sqrt()) as f32
            };
            out[i] = z.clamp(-c, c);
        }
    }

    /// Normalises a batch of rows (a `VecEnv` buffer) into `out` (same length).
    pub fn normalize_batch(&self, obs: &[f32], out: &mut [f32]) {
        assert_eq!(
            obs.len(),
            out.len(),
            "ObsNormalizer::normalize_batch lengths"
        );
        let dim = self.dim();
        for (o, r) in out.chunks_exact_mut(dim).zip(obs.chunks_exact(dim)) {
            self.normalize(r, o);
        }
    }

    /// Checks the statistics: `dim` features, finite means, finite non-negative variances, a
    /// positive finite clip, a finite non-negative count. The error names the field.
    pub fn validate(&self, dim: usize) -> Result<(), NetError> {
        self.check(dim).map_err(NetError)
    }

    fn check(&self, dim: usize) -> Result<(), String> {
        if self.mean.len() != dim || self.var.len() != dim {
            return Err(format!(
                "normalizer has {} means and {} variances, expected {dim}",
                self.mean.len(),
                self.var.len()
            ));
        }
        if !(self.count.is_finite() && self.count >= 0.0) {
            return Err(format!("normalizer.count = {} must be >= 0", self.count));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(format!("normalizer.clip = {} must be > 0", self.clip));
        }
        if let Some(i) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(format!(
                "normalizer.mean[{i}] = {} is not finite",
                self.mean[i]
            ));
        }
        if let Some(i) = self.var.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(format!(
                "normalizer.var[{i}] = {} must be finite and >= 0",
                self.var[i]
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn random_obs(rng: &mut Rng, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|_| (rng.sample::<f64, _>(StandardNormal) * 2.0) as f32)
            .collect()
    }

    #[test]
    fn shapes_and_config() {
        let cfg = ActorCriticConfig::default();
        let m = cfg.init_seeded(3, &device());
        let obs = Tensor::<2>::from_data(
            TensorData::new(random_obs(&mut Rng::new(1), 5, OBS_DIM), [5, OBS_DIM]),
            &device(),
        );
        let (mean, log_std, value) = m.forward(obs.clone());
        assert_eq!(mean.dims(), [5, ACTION_DIM]);
        assert_eq!(log_std.dims(), [ACTION_DIM]);
        assert_eq!(value.dims(), [5, 1]);
        let a: Vec<f32> = m
            .deterministic_action(obs)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(a.iter().all(|x| (0.0..=1.0).contains(x)));
        let back = m.config();
        assert_eq!(back.hidden, vec![64, 64]);
        assert_eq!((back.obs_dim, back.act_dim), (OBS_DIM, ACTION_DIM));
        assert!((back.init_log_std + 0.5).abs() < 1e-6);
    }

    #[test]
    fn init_is_orthogonal_and_seeded() {
        let mut rng = Rng::new(9);
        let w = orthogonal(42, 64, 1.0, &mut rng);
        // Rows orthonormal (42 rows of 64).
        for i in 0..42 {
            for k in 0..42 {
                let d: f32 = (0..64).map(|j| w[i * 64 + j] * w[k * 64 + j]).sum();
                let want = if i == k { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-4, "{i},{k}: {d}");
            }
        }
        let cfg = ActorCriticConfig::default();
        let a = FastActor::from_model(&cfg.init_seeded(5, &device())).unwrap();
        let b = FastActor::from_model(&cfg.init_seeded(5, &device())).unwrap();
        let c = FastActor::from_model(&cfg.init_seeded(6, &device())).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fast_actor_matches_burn() {
        let cfg = ActorCriticConfig {
            hidden: vec![64, 32, 16],
            ..ActorCriticConfig::default()
        };
        let m = cfg.init_seeded(11, &device());
        // Move the means away from ~0 so the comparison is not trivial.
        let m = ActorCritic {
            actor: m
                .actor
                .into_iter()
                .map(|l| Linear {
                    weight: l.weight.map(|w| w.mul_scalar(3.0)),
                    bias: l.bias.map(|b| b.map(|b| b.add_scalar(0.3))),
                })
                .collect(),
            ..m
        };
        let fast = FastActor::from_model(&m).unwrap();
        let n = 64;
        let obs = random_obs(&mut Rng::new(2), n, OBS_DIM);
        let t = Tensor::<2>::from_data(TensorData::new(obs.clone(), [n, OBS_DIM]), &device());
        let burn_out: Vec<f32> = m.mean(t).into_data().try_to_vec().unwrap();
        let mut out = [0.0f32; ACTION_DIM];
        let mut spread = 0.0f32;
        for r in 0..n {
            fast.forward(&obs[r * OBS_DIM..(r + 1) * OBS_DIM], &mut out);
            for j in 0..ACTION_DIM {
                let b = burn_out[r * ACTION_DIM + j];
                assert!(
                    (out[j] - b).abs() <= 1e-5,
                    "row {r} out {j}: {} vs {b}",
                    out[j]
                );
                spread = spread.max(b.abs());
            }
        }
        assert!(spread > 0.1, "outputs too small to compare: {spread}");
    }

    #[test]
    fn gaussian_formulas() {
        let d = device();
        let mean = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2]), &d);
        let log_std = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 0.5f32.ln()], [2]), &d);
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.5], [1, 2]), &d);
        let lp: Vec<f32> = gaussian_log_prob(mean, log_std.clone(), a)
            .into_data()
            .try_to_vec()
            .unwrap();
        // N(0,1) at 1 and N(1, 0.5) at 1.5 (z = 1).
        let want = 2.0 * (-0.5 - HALF_LN_2PI) - 0.5f64.ln();
        assert!((lp[0] as f64 - want).abs() < 1e-5, "{lp:?} vs {want}");
        // Masked: all ones is the same; masking the second value leaves the first's term.
        let mean = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2]), &d);
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.5], [1, 2]), &d);
        let masked = |m: [f32; 2]| -> f32 {
            let m = Tensor::<2>::from_data(TensorData::new(m.to_vec(), [1, 2]), &d);
            gaussian_log_prob_masked(mean.clone(), log_std.clone(), a.clone(), m)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[0]
        };
        assert!((masked([1.0, 1.0]) as f64 - want).abs() < 1e-5);
        assert!((masked([1.0, 0.0]) as f64 - (-0.5 - HALF_LN_2PI)).abs() < 1e-5);
        assert_eq!(masked([0.0, 0.0]), 0.0);
        let h: Vec<f32> = gaussian_entropy(log_std).into_data().try_to_vec().unwrap();
        let want = 2.0 * (0.5 + HALF_LN_2PI) + 0.5f64.ln();
        assert!((h[0] as f64 - want).abs() < 1e-5);
    }

    #[test]
    fn normalizer_merges_like_one_pass() {
        let dim = 3;
        let mut rng = Rng::new(4);
        let data: Vec<f32> = (0..300 * dim)
            .map(|i| {
                (rng.sample::<f64, _>(StandardNormal) * (1 + i % dim) as f64 + i as f64 % 7.0)
                    as f32
            })
            .collect();
        let mut one = ObsNormalizer::new(dim, 10.0);
        assert_eq!(one.update(&data), 300);
        let mut parts = ObsNormalizer::new(dim, 10.0);
        for chunk in data.chunks(37 * dim) {
            parts.update(chunk);
        }
        assert_eq!(parts.count, 300.0);
        for i in 0..dim {
            assert!((one.mean[i] - parts.mean[i]).abs() < 1e-9);
            assert!((one.var[i] - parts.var[i]).abs() < 1e-9);
        }
        // Non-finite rows are skipped.
        let mut bad = data[..2 * dim].to_vec();
        bad[1] = f32::NAN;
        assert_eq!(parts.update(&bad), 1);
        let mut out = [0.0f32; 3];
        one.normalize(&[1e9, -1e9, one.mean[2] as f32], &mut out);
        assert_eq!(out[0], 10.0);
        assert_eq!(out[1], -10.0);
        assert!(out[2].abs() < 1e-3);
        assert!(one.validate(3).is_ok());
        assert!(one.validate(4).unwrap_err().0.contains("expected 4"));
        let mut neg = one.clone();
        neg.var[2] = -1.0;
        assert!(neg.validate(3).unwrap_err().0.contains("var[2]"));
    }

    /// A feature that was constant in the statistics' data (ECRS prices and awards in
    /// years before June 2023) normalises to 0 whatever its value, as in training; the
    /// others as before, clip included.
    #[test]
    fn a_feature_constant_in_training_normalises_to_zero() {
        let rows: Vec<f32> = (0..50).flat_map(|i| [i as f32, 0.0, 2.5]).collect();
        let mut n = ObsNormalizer::new(3, 10.0);
        n.update(&rows);
        assert_eq!(n.var[1], 0.0);
        let mut out = [9.0f32; 3];
        n.normalize(&[24.5, 0.0, 2.5], &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0], "at the training values");
        n.normalize(&[1e9, 35.0, -40.0], &mut out);
        assert_eq!(out, [10.0, 0.0, 0.0], "a new ECRS price is not +10");
        // A feature that varied, however little above the threshold, still scales.
        let mut m = n.clone();
        m.var[1] = 1e-6;
        m.normalize(&[24.5, 0.001, 2.5], &mut out);
        assert!((out[1] - 0.995).abs() < 1e-3, "{out:?}");
    }
}
