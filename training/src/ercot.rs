//! The ERCOT env as PPO sees it ([`ErcotEnv`]): the envs, one part per thread, and every
//! ERCOT-specific part of a rollout beside the network, so that `ppo.rs` is PPO alone:
//!
//! - the **base policy** a residual corrects (the expert rules; the rules alone in an
//!   emergency);
//! - the **planners**, one per env: the day-ahead MPC as the base (`base_policy =
//!   "day-ahead-mpc"`) or the day-ahead head (`head_in_rollouts`), whose offers the env
//!   settles at the gate;
//! - the **gate mask** (`mask_inert_actions`): which action values the env reads;
//! - the **reward baseline**: always-on's profit in the same interval;
//! - the **forked base rollouts** (`advantage = "same_input"`) and the **hindsight labels**
//!   (`hindsight_coef`).
//!
//! Its state and construction are here; its step, beside the network's sampling, is
//! [`crate::rollout::run_part`] (on each thread's part, [`crate::parallel`]).

use crate::config::TrainConfig;
use crate::parallel;
use crate::rollout::{EnvPlanner, NetSampler, Part, SameInput, Sampler, run_part};
use powermix_agent::rules::{Expert, ExpertParams};
use powermix_env::Market;
use powermix_env::env::{EnvError, VecEnv, Window};
use powermix_env::rng::Rng;
use powermix_plan::mpc::{DayAheadHead, DayAheadMpc};
use std::sync::Arc;

/// Where training episodes come from: a market and its training window `[start, end)`
/// (market intervals). A run may have several (`train --also-train`): env `e` of `n_envs`
/// runs on source `e % sources`, so each source gets an equal share of the rollouts.
#[derive(Debug, Clone)]
pub struct TrainSource {
    /// Data and site.
    pub market: Arc<Market>,
    /// First interval of the training window.
    pub start: usize,
    /// End (exclusive) of the training window.
    pub end: usize,
}

/// Always-on's profit in every interval of `market` (index = market interval), replayed
/// through the same env and settlement. Always-on offers no reserves, so deployments never
/// touch it, and its state (everything running) never depends on what a policy does: the
/// sequence is a function of the market alone. Subtracting it from the reward therefore adds
/// the same constant to every policy's return from a given interval and leaves the best policy
/// unchanged, while removing the flat AI revenue and the always-on energy bill from the
/// signal, the bulk of the reward's variance.
pub fn always_on_baseline(market: &Arc<Market>) -> Result<Vec<f32>, EnvError> {
    let mut policy = powermix_agent::AlwaysOn;
    let score = powermix_eval::backtest(market, 0, market.len(), &mut policy, 0)?;
    let mut out = vec![0.0f32; market.len()];
    for (k, p) in score.trace.profit.iter().enumerate() {
        out[score.trace.start + k] = *p as f32;
    }
    Ok(out)
}

/// The envs of a run and the ERCOT parts of its rollouts (module doc).
pub struct ErcotEnv {
    /// The envs, one part per thread (env streams numbered across the parts).
    pub(crate) venvs: Vec<VecEnv>,
    /// One planner per env (empty without a planner base or a head in the rollouts).
    /// Planner state is not in `trainer.json`: a resumed run starts each afresh.
    pub(crate) planners: Vec<EnvPlanner>,
    /// The rules a residual policy corrects, and their parameters (stored in checkpoints).
    base: Option<Expert>,
    base_params: Option<ExpertParams>,
    /// Always-on profit per market interval of each source (empty: no baseline).
    baselines: Vec<Vec<f32>>,
    /// The source each env runs on.
    env_source: Vec<usize>,
    mask: bool,
    same_input: Option<SameInput>,
    hindsight_cap: Option<f64>,
}

impl ErcotEnv {
    /// The envs of `cfg` on `sources` (env `e` on source `e % sources.len()`, stream `e`
    /// of `seed`), with their base, planners and baselines. Every source must have the
    /// first one's site config: one policy acts in all of them.
    pub fn new(cfg: &TrainConfig, sources: &[TrainSource], seed: u64) -> Result<Self, EnvError> {
        let Some(first) = sources.first() else {
            return Err(EnvError(
                "training needs at least one source of data".into(),
            ));
        };
        let market: &Arc<Market> = &first.market;
        if let Some(i) = sources.iter().position(|s| s.market.cfg != market.cfg) {
            return Err(EnvError(format!(
                "training source {i}: its site config differs from the first source's (one policy acts in all of them)"
            )));
        }
        let base_params = (cfg.base_policy != "none")
            .then(|| (cfg.expert.clone()).unwrap_or_else(ExpertParams::default_params));
        let base = base_params.clone().map(|p| Expert::new(&market.cfg, p));
        let planners = if cfg.base_policy == "day-ahead-mpc" {
            vec![EnvPlanner::Base(Box::new(DayAheadMpc::new(&market.cfg))); cfg.n_envs]
        } else if cfg.head_in_rollouts {
            let head = DayAheadHead::named(&cfg.day_ahead_head, &market.cfg)
                .unwrap_or_else(|| DayAheadHead::new(&market.cfg));
            vec![EnvPlanner::Head(Box::new(head)); cfg.n_envs]
        } else {
            Vec::new()
        };
        let windows: Vec<(Arc<Market>, Window)> = sources
            .iter()
            .map(|s| {
                let window = Window::Random {
                    start: s.start,
                    end: s.end,
                    len: cfg.episode_days * 96,
                };
                (s.market.clone(), window)
            })
            .collect();
        let baselines = if cfg.reward_baseline {
            sources
                .iter()
                .map(|s| always_on_baseline(&s.market))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let env_source: Vec<usize> = (0..cfg.n_envs).map(|e| e % sources.len()).collect();
        let venvs = parallel::split_envs(&windows, &env_source, cfg.threads, seed)?;
        Ok(ErcotEnv {
            venvs,
            planners,
            base,
            base_params,
            baselines,
            env_source,
            mask: cfg.mask_inert_actions,
            same_input: (cfg.advantage == "same_input").then_some(SameInput {
                horizon: cfg.same_input_horizon,
                gamma: cfg.gamma,
            }),
            hindsight_cap: (cfg.hindsight_coef > 0.0).then_some(cfg.hindsight_weight_cap),
        })
    }

    /// Whether the network corrects a base (its output starts at 0, not at always-on).
    pub fn has_base(&self) -> bool {
        self.base.is_some()
    }

    /// The expert parameters a residual policy corrects (None: no base policy); with a
    /// planner base, the rules that act alone in emergencies.
    pub fn base_params(&self) -> Option<ExpertParams> {
        self.base_params.clone()
    }

    /// Whether the base is a planner (`base_policy = "day-ahead-mpc"`).
    pub fn planner_base(&self) -> bool {
        matches!(self.planners.first(), Some(EnvPlanner::Base(_)))
    }

    /// `steps` steps of every env with the network `net`'s sampled actions (`env_rngs`: one
    /// sampling stream per env); one [`Part`] per thread, in env order.
    pub(crate) fn rollout(
        &mut self,
        net: NetSampler<'_>,
        env_rngs: &mut [Rng],
        steps: usize,
    ) -> Vec<Part> {
        let sampler = Sampler {
            net,
            base: self.base.as_ref(),
            mask: self.mask,
            same_input: self.same_input,
            hindsight_cap: self.hindsight_cap,
        };
        // Each env's always-on baseline: its source's.
        let baselines: Vec<&[f32]> = self
            .env_source
            .iter()
            .map(|&s| self.baselines.get(s).map_or(&[][..], Vec::as_slice))
            .collect();
        match self.venvs.as_mut_slice() {
            // Sequential path.
            [venv] => vec![run_part(
                &sampler,
                venv,
                env_rngs,
                &mut self.planners,
                steps,
                &baselines,
            )],
            venvs => parallel::collect_parts(
                &sampler,
                venvs,
                env_rngs,
                &mut self.planners,
                steps,
                &baselines,
            ),
        }
    }
}
