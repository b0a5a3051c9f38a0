//! The fit: a small MLP (or, with no hidden layer, a linear model) trained full-batch with
//! Adam on burn's CPU backend with autodiff, by weighted logistic loss (4CP) or pinball loss
//! (quantiles). Every `eval_every` steps the weights are copied out into a [`ModelFile`] and
//! scored by the caller on the selection year; the best step's weights are kept.

use crate::model::{Layer, ModelFile};
use burn::module::{Module, Param, ParamId};
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};

/// Rows of features and targets, row-major.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Features, `rows * d`.
    pub x: Vec<f32>,
    /// Targets, `rows * k` (labels in {0, 1}, or the transformed price).
    pub y: Vec<f32>,
    /// Weight of each target, `rows * k` (0 where the target is missing).
    pub w: Vec<f32>,
    /// Feature count.
    pub d: usize,
    /// Output count.
    pub k: usize,
}

impl Table {
    /// An empty table of `d` features and `k` outputs.
    pub fn new(d: usize, k: usize) -> Table {
        Table {
            d,
            k,
            ..Table::default()
        }
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.x.len() / self.d.max(1)
    }
    /// Appends a row.
    pub fn push(&mut self, x: &[f32], y: &[f32], w: &[f32]) {
        debug_assert_eq!((x.len(), y.len(), w.len()), (self.d, self.k, self.k));
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
        self.w.extend_from_slice(w);
    }
}

/// The loss of the fit.
#[derive(Debug, Clone)]
pub enum Loss {
    /// Logistic loss on logits, weighted by the table's weights.
    Logistic,
    /// Pinball loss of each output at its quantile level.
    Pinball(Vec<f32>),
}

/// Shape and schedule of a fit.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Hidden widths (tanh); empty: linear.
    pub hidden: Vec<usize>,
    /// Adam steps (full batch).
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// Selection every this many steps.
    pub eval_every: usize,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Initial bias of the output layer (one per output), else 0: a logistic fit of rare
    /// labels starts at their base rate instead of at one half.
    pub init_bias: Option<Vec<f32>>,
}

/// Per output of a logistic table, the log-odds of its weighted label rate: the bias that
/// makes a fit start at the base rate ([`FitConfig::init_bias`]).
pub fn base_rate_logits(t: &Table) -> Vec<f32> {
    let (mut pos, mut neg) = (vec![0.5f64; t.k], vec![0.5f64; t.k]);
    for (y, w) in t.y.chunks_exact(t.k).zip(t.w.chunks_exact(t.k)) {
        for j in 0..t.k {
            pos[j] += (w[j] * y[j]) as f64;
            neg[j] += (w[j] * (1.0 - y[j])) as f64;
        }
    }
    pos.iter()
        .zip(&neg)
        .map(|(p, n)| (p / n).ln() as f32)
        .collect()
}

#[derive(Module, Debug)]
struct Net {
    layers: Vec<Linear>,
}

impl Net {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |x, (l, layer)| {
            let y = layer.forward(x);
            if l < last { y.tanh() } else { y }
        })
    }
}

/// splitmix64: the seeded initial weights (no global RNG).
fn next_uniform(s: &mut u64) -> f64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v, shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

/// Per-feature mean and standard deviation of a table (std floored at 1e-3 relative, so a
/// constant feature normalises to 0).
pub fn normaliser(t: &Table) -> (Vec<f32>, Vec<f32>) {
    let n = t.rows().max(1) as f64;
    let mut mean = vec![0.0f64; t.d];
    let mut sq = vec![0.0f64; t.d];
    for row in t.x.chunks_exact(t.d) {
        for (j, &v) in row.iter().enumerate() {
            mean[j] += v as f64;
            sq[j] += (v as f64) * (v as f64);
        }
    }
    let m: Vec<f32> = mean.iter().map(|s| (s / n) as f32).collect();
    let s: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(q, s)| {
            let var = (q / n - (s / n) * (s / n)).max(0.0);
            (var.sqrt().max(1e-3)) as f32
        })
        .collect();
    (m, s)
}

/// Fits `template` (its names, normaliser and offsets are kept; its layers are replaced)
/// on `train`, calls `select` on the model every `eval_every` steps (lower is better) and
/// returns the best model with its step and score.
pub fn fit(
    template: &ModelFile,
    train: &Table,
    loss: &Loss,
    cfg: &FitConfig,
    mut select: impl FnMut(&ModelFile) -> f64,
) -> (ModelFile, usize, f64) {
    let device = Device::flex().autodiff();
    let n = train.rows();
    let (d, k) = (train.d, train.k);
    let mut seed = cfg.seed ^ 0x005e_edf0_ca57;
    let mut widths = vec![d];
    widths.extend(&cfg.hidden);
    widths.push(k);
    let mut next_id = 1u64;
    let layers: Vec<Linear> = widths
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (di, dout) = (w[0], w[1]);
            let last = l + 2 == widths.len();
            let lim = (6.0 / (di + dout) as f64).sqrt() * if last { 0.1 } else { 1.0 };
            let wv: Vec<f32> = (0..di * dout)
                .map(|_| ((2.0 * next_uniform(&mut seed) - 1.0) * lim) as f32)
                .collect();
            let weight = tensor2(wv, [di, dout], &device);
            let b0 = match &cfg.init_bias {
                Some(b) if last && b.len() == dout => b.clone(),
                _ => vec![0.0f32; dout],
            };
            let bias = Tensor::<1>::from_data(TensorData::new(b0, [dout]), &device);
            let layer = Linear {
                weight: Param::initialized(ParamId::from(next_id), weight).set_require_grad(true),
                bias: Some(
                    Param::initialized(ParamId::from(next_id + 1), bias).set_require_grad(true),
                ),
            };
            next_id += 2;
            layer
        })
        .collect();
    let mut net = Net { layers };
    let xn: Vec<f32> = train
        .x
        .chunks_exact(d)
        .flat_map(|row| {
            row.iter()
                .zip(&template.norm_mean)
                .zip(&template.norm_std)
                .map(|((x, m), s)| (x - m) / s)
                .collect::<Vec<_>>()
        })
        .collect();
    let x = tensor2(xn, [n, d], &device);
    let y = tensor2(train.y.clone(), [n, k], &device);
    let w = tensor2(train.w.clone(), [n, k], &device);
    let w_sum = train.w.iter().map(|&v| v as f64).sum::<f64>().max(1e-9);
    let tau = match loss {
        Loss::Pinball(taus) => Some(tensor2(
            (0..n).flat_map(|_| taus.clone()).collect(),
            [n, k],
            &device,
        )),
        Loss::Logistic => None,
    };
    let mut optim = AdamConfig::new().init();
    let mut best = (template.clone(), 0usize, f64::INFINITY);
    for step in 1..=cfg.steps {
        // The output offset (a prior correction) applies at inference only.
        let z = net.forward(x.clone());
        let per = match &tau {
            None => softplus(z.clone(), 1.0) - y.clone() * z,
            Some(tau) => {
                let r = y.clone() - z;
                r.clone() * tau.clone() + r.neg().clamp_min(0.0)
            }
        };
        let l = (per * w.clone()).sum().div_scalar(w_sum);
        let grads = GradientsParams::from_grads(l.backward(), &net);
        net = optim.step(cfg.lr, net, grads);
        if step % cfg.eval_every == 0 || step == cfg.steps {
            let mut m = template.clone();
            m.layers = net
                .layers
                .iter()
                .map(|lin| {
                    let [di, dout] = lin.weight.val().dims();
                    Layer {
                        d_in: di,
                        d_out: dout,
                        weight: values(lin.weight.val()),
                        bias: lin
                            .bias
                            .as_ref()
                            .map(|b| values(b.val()))
                            .unwrap_or(vec![0.0; dout]),
                    }
                })
                .collect();
            let score = select(&m);
            if score < best.2 {
                best = (m, step, score);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_rate_logits_are_the_smoothed_weighted_log_odds() {
        let mut t = Table::new(1, 2);
        // Output 0: one positive of weight 3 and two negatives; output 1: its second row
        // not asked (weight 0).
        t.push(&[0.0], &[1.0, 1.0], &[3.0, 1.0]);
        t.push(&[0.0], &[0.0, 0.0], &[1.0, 0.0]);
        t.push(&[0.0], &[0.0, 0.0], &[1.0, 1.0]);
        let b = base_rate_logits(&t);
        assert!((b[0] as f64 - (3.5f64 / 2.5).ln()).abs() < 1e-6, "{b:?}");
        assert!((b[1] as f64 - (1.5f64 / 1.5).ln()).abs() < 1e-6, "{b:?}");
    }
}
