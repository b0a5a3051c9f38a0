//! The threading of PPO, kept out of the algorithm (`ppo.rs`): with `threads = 1` none of
//! this runs and the trainer takes its sequential path.
//!
//! - **Parts**: the envs are split into `threads` parts ([`split_envs`]); each thread steps
//!   its own part through the whole rollout ([`collect_parts`]). Env streams are numbered
//!   across the parts, so the rollout is the same, to the bit, for every thread count.
//! - **Gradient shards**: a minibatch is cut into equal shards by position; each shard's
//!   loss is differentiated on its own thread and the gradients are averaged weighted by
//!   rows ([`sharded_gradients`]): the gradient of the minibatch mean, up to float rounding
//!   (summing in a different order). Shards are fixed by position, so the result does not
//!   depend on thread timing.

use crate::config::TrainConfig;
use crate::loss::{LossInput, LossOutput, loss_and_gradients};
use crate::rollout::{EnvPlanner, Part, Sampler, run_part};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use powermix_agent::net::ActorCritic;
use powermix_env::Market;
use powermix_env::env::{Env, EnvError, VecEnv, Window};
use powermix_env::rng::Rng;
use std::sync::Arc;

/// The envs of a run in `threads` parts of `n_envs.div_ceil(threads)` envs (the last part
/// may be smaller), `n_envs = env_source.len()`. Env `e` runs on `sources[env_source[e]]`
/// (a market and its window) and draws from stream `e` of `seed`, whichever part holds it.
pub fn split_envs(
    sources: &[(Arc<Market>, Window)],
    env_source: &[usize],
    threads: usize,
    seed: u64,
) -> Result<Vec<VecEnv>, EnvError> {
    let n_envs = env_source.len();
    let per = n_envs.div_ceil(threads.clamp(1, n_envs));
    let envs: Vec<Env> = env_source
        .iter()
        .enumerate()
        .map(|(e, &s)| {
            let (market, window) = &sources[s];
            let mut env = Env::new(market.clone(), *window, 0)
                .map_err(|err| EnvError(format!("training source {s}: {}", err.0)))?;
            env.set_rng_stream(seed, e as u64);
            Ok(env)
        })
        .collect::<Result<_, EnvError>>()?;
    Ok(envs
        .chunks(per)
        .map(|part| VecEnv::from_envs(part.to_vec()))
        .collect())
}

/// Steps every part on its own thread (the first part on the calling thread) for `steps`
/// steps; the parts come back in env order.
pub fn collect_parts(
    sampler: &Sampler<'_>,
    venvs: &mut [VecEnv],
    env_rngs: &mut [Rng],
    planners: &mut [EnvPlanner],
    steps: usize,
    baselines: &[&[f32]],
) -> Vec<Part> {
    let per = venvs.first().map_or(env_rngs.len(), VecEnv::len);
    // No planners: an empty slice for every part.
    let mut planner_parts: Vec<&mut [EnvPlanner]> = if planners.is_empty() {
        venvs
            .iter()
            .map(|_| <&mut [EnvPlanner]>::default())
            .collect()
    } else {
        planners.chunks_mut(per).collect()
    };
    std::thread::scope(|scope| {
        let mut jobs = venvs
            .iter_mut()
            .zip(env_rngs.chunks_mut(per))
            .zip(planner_parts.iter_mut())
            .zip(baselines.chunks(per))
            .map(|(((venv, rngs), planners), baselines)| {
                move || run_part(sampler, venv, rngs, planners, steps, baselines)
            });
        let first = jobs.next();
        let handles: Vec<_> = jobs.map(|job| scope.spawn(job)).collect();
        let mut all: Vec<Part> = first.into_iter().map(|mut job| job()).collect();
        all.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("rollout thread")),
        );
        all
    })
}

/// The minibatch `input` cut into `shards` shards by position, each shard's loss and
/// gradients computed on its own thread (the first on the calling thread), and the
/// gradients averaged weighted by rows. Returns the averaged gradients and each shard's
/// output (for the diagnostics).
pub fn sharded_gradients(
    model: &ActorCritic,
    cfg: &TrainConfig,
    device: &Device,
    input: LossInput,
    shards: usize,
) -> (GradientsParams, Vec<LossOutput>) {
    let m = input.rows();
    let per = m.div_ceil(shards.max(1));
    let mut parts: Vec<LossInput> = (0..shards)
        .map(|k| input.rows_range((k * per).min(m)..((k + 1) * per).min(m)))
        .filter(|p| p.rows() > 0)
        .collect();
    let first = parts.remove(0);
    // Each extra shard differentiates its own copy of the parameters (new autodiff leaves,
    // same parameter ids): burn merges graphs that share leaves into one locked graph, which
    // would serialise (and here deadlock) the threads.
    let copies: Vec<ActorCritic> = parts.iter().map(|_| own_leaves(model)).collect();
    let outs: Vec<LossOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .zip(&copies)
            .map(|(p, copy)| scope.spawn(move || loss_and_gradients(copy, cfg, device, p)))
            .collect();
        let mut all = vec![loss_and_gradients(model, cfg, device, first)];
        all.extend(handles.into_iter().map(|h| h.join().expect("shard thread")));
        all
    });
    let grads = average_gradients(model, &outs, m);
    (grads, outs)
}

/// A copy of `model` whose parameters are new autodiff leaves with the same ids and values.
fn own_leaves(model: &ActorCritic) -> ActorCritic {
    struct Leaves;
    impl ModuleMapper for Leaves {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.detach().require_grad())
        }
    }
    model.clone().map(&mut Leaves)
}

/// The minibatch gradient from its shards' gradients: sum of rows/m x shard gradient.
fn average_gradients(model: &ActorCritic, outs: &[LossOutput], m: usize) -> GradientsParams {
    struct Sum<'a> {
        outs: &'a [LossOutput],
        m: f64,
        into: GradientsParams,
    }
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let mut acc: Option<Tensor<D>> = None;
            for o in self.outs {
                if let Some(g) = o.grads.get::<D>(p.id) {
                    let g = g.mul_scalar(o.rows as f64 / self.m);
                    acc = Some(match acc {
                        Some(a) => a + g,
                        None => g,
                    });
                }
            }
            if let Some(g) = acc {
                self.into.register(p.id, g);
            }
        }
    }
    let mut s = Sum {
        outs,
        m: m as f64,
        into: GradientsParams::new(),
    };
    model.visit(&mut s);
    s.into
}
