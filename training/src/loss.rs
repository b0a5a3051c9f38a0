//! The PPO loss: clipped surrogate, value loss and entropy bonus over a minibatch (or a
//! shard of one), and its gradients. One function for the single-threaded update and the
//! sharded one (`parallel`).

use crate::config::TrainConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::net::{
    ActorCritic, gaussian_entropy, gaussian_log_prob, gaussian_log_prob_masked,
};
use powermix_env::{ACTION_DIM, OBS_DIM};
use std::ops::Range;

/// Rows of a minibatch (or of one of its shards), advantages already normalised over the
/// whole minibatch.
pub struct LossInput {
    pub(crate) obs: Vec<f32>,
    pub(crate) act: Vec<f32>,
    /// Which action values count in the log-probability (None: all).
    pub(crate) mask: Option<Vec<f32>>,
    pub(crate) old_logp: Vec<f32>,
    pub(crate) adv: Vec<f32>,
    pub(crate) ret: Vec<f32>,
    /// The hindsight labels' corrections and weights of the miner tranches
    /// (`rollout::LABELLED` per row), with `hindsight_coef > 0`.
    pub(crate) hindsight: Option<(Vec<f32>, Vec<f32>)>,
}

impl LossInput {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.adv.len()
    }

    /// A copy of rows `r`.
    pub fn rows_range(&self, r: Range<usize>) -> LossInput {
        let wide = |w: usize| r.start * w..r.end * w;
        LossInput {
            obs: self.obs[wide(OBS_DIM)].to_vec(),
            act: self.act[wide(ACTION_DIM)].to_vec(),
            mask: self.mask.as_ref().map(|m| m[wide(ACTION_DIM)].to_vec()),
            old_logp: self.old_logp[r.clone()].to_vec(),
            adv: self.adv[r.clone()].to_vec(),
            ret: self.ret[r.clone()].to_vec(),
            hindsight: self.hindsight.as_ref().map(|(t, w)| {
                let k = crate::rollout::LABELLED;
                (
                    t[r.start * k..r.end * k].to_vec(),
                    w[r.start * k..r.end * k].to_vec(),
                )
            }),
        }
    }
}

/// The gradients of a loss over some rows, and its diagnostics.
pub struct LossOutput {
    /// Rows the loss was the mean over.
    pub rows: usize,
    /// Gradients of the mean loss.
    pub grads: GradientsParams,
    pub(crate) policy_loss: f64,
    pub(crate) value_loss: f64,
    pub(crate) entropy: f64,
    pub(crate) approx_kl: f64,
    pub(crate) hindsight_loss: f64,
    pub(crate) clip_fraction: f64,
}

/// The PPO loss over `p`'s rows and its gradients:
/// clipped surrogate + `vf_coef` x value loss - `ent_coef` x entropy.
pub fn loss_and_gradients(
    model: &ActorCritic,
    cfg: &TrainConfig,
    device: &Device,
    p: LossInput,
) -> LossOutput {
    let m = p.adv.len();
    let t2 = |v: Vec<f32>, cols: usize| -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(v, [m, cols]), device)
    };
    let obs = t2(p.obs, OBS_DIM);
    let act = t2(p.act, ACTION_DIM);
    let old_logp = t2(p.old_logp, 1);
    let adv_t = t2(p.adv, 1);
    let ret = t2(p.ret, 1);

    let (mean, log_std, value) = model.forward(obs);
    // Residual L2: the network's output pulled toward 0 (its base), so that where the
    // samples change nothing (an action clamped at a bound) it does not drift.
    let residual_l2 = mean
        .clone()
        .powi_scalar(2)
        .mean()
        .mul_scalar(cfg.residual_l2);
    // Hindsight labels: the tranche corrections pulled toward the labels', each weighted by
    // what a wrong one costs (the weights' sum normalises it). Absolute, not squared: the
    // payoff of a tranche is linear in its MW, so the best action given the observation is
    // on when the expected margin is positive, the weighted median of the on/off labels,
    // which an absolute loss gives; a squared one gives their weighted mean, a fraction that
    // gives up part of the margin either way.
    let k = crate::rollout::LABELLED;
    let hindsight = p.hindsight.map(|(target, weight)| {
        let total: f32 = weight.iter().sum();
        let mean_k = mean.clone().slice([0..m, 0..k]);
        let d = mean_k - t2(target, k);
        d.abs().mul(t2(weight, k)).sum().div_scalar(total.max(1e-6))
    });
    let hindsight_value = hindsight
        .as_ref()
        .map_or(0.0, |h| scalar(h.clone().detach()));
    let logp = match p.mask {
        Some(mask) => gaussian_log_prob_masked(mean, log_std.clone(), act, t2(mask, ACTION_DIM)),
        None => gaussian_log_prob(mean, log_std.clone(), act),
    };
    let log_ratio = logp - old_logp;
    let ratio = log_ratio.clone().exp();
    // Clipped surrogate.
    let surr1 = ratio.clone() * adv_t.clone();
    let surr2 = ratio.clamp(1.0 - cfg.clip, 1.0 + cfg.clip) * adv_t;
    let policy_loss = surr1.min_pair(surr2).mean().neg();
    // Value loss.
    let value_loss = (value - ret).powi_scalar(2).mean().mul_scalar(0.5);
    // Entropy bonus.
    let entropy = gaussian_entropy(log_std);
    let mut loss = policy_loss.clone() + value_loss.clone().mul_scalar(cfg.vf_coef)
        - entropy.clone().mul_scalar(cfg.ent_coef)
        + residual_l2;
    if let Some(h) = hindsight {
        loss = loss + h.mul_scalar(cfg.hindsight_coef);
    }
    let grads = GradientsParams::from_grads(loss.backward(), model);

    let lr_vals: Vec<f32> = tensor_values(log_ratio.detach());
    let kl = lr_vals
        .iter()
        .map(|&x| ((x as f64).exp() - 1.0) - x as f64)
        .sum::<f64>()
        / m as f64;
    let clipped = lr_vals
        .iter()
        .filter(|&&x| ((x as f64).exp() - 1.0).abs() > cfg.clip)
        .count();
    LossOutput {
        rows: m,
        grads,
        policy_loss: scalar(policy_loss.detach()),
        value_loss: scalar(value_loss.detach()),
        entropy: scalar(entropy.detach().reshape([1, 1]).mean()),
        approx_kl: kl,
        hindsight_loss: hindsight_value,
        clip_fraction: clipped as f64 / m as f64,
    }
}

/// Advantage normalisation over a minibatch: zero mean, unit std.
pub(crate) fn normalize_advantages(a: &[f32]) -> Vec<f32> {
    let m = a.len();
    let mean_a = a.iter().map(|&x| x as f64).sum::<f64>() / m as f64;
    let std_a = (a.iter().map(|&x| (x as f64 - mean_a).powi(2)).sum::<f64>() / m as f64).sqrt();
    a.iter()
        .map(|&x| ((x as f64 - mean_a) / (std_a + 1e-8)) as f32)
        .collect()
}

/// A tensor's values as f32 (empty if they cannot be read).
pub(crate) fn tensor_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

/// A one-value tensor as f64 (NaN if it cannot be read).
pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    tensor_values(t).first().copied().unwrap_or(f32::NAN) as f64
}
