//! PPO hyperparameters (`configs/train.toml`): every key required, unknown keys rejected.

use powermix_agent::rules::ExpertParams;
use powermix_env::config::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped `configs/train.toml`, embedded.
pub const DEFAULT_TRAIN_TOML: &str = include_str!("../../configs/train.toml");

/// Every hyperparameter of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Parallel envs in the rollout.
    pub n_envs: usize,
    /// Steps per env per update.
    pub n_steps: usize,
    /// Episode length in days (random starts inside the training period).
    pub episode_days: usize,
    /// Env steps of the whole run.
    pub total_steps: u64,
    /// Discount per 15-minute interval.
    pub gamma: f64,
    /// GAE lambda.
    pub gae_lambda: f64,
    /// PPO ratio clip.
    pub clip: f64,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Minibatch size.
    pub minibatch: usize,
    /// Value loss weight.
    pub vf_coef: f64,
    /// Entropy bonus weight.
    pub ent_coef: f64,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over the run.
    pub anneal_learning_rate: bool,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Scaled rewards are clipped to +- this.
    pub reward_clip: f64,
    /// Learn from the profit above the always-on policy's profit in the same interval
    /// (see `ppo::always_on_baseline`) instead of the raw profit.
    pub reward_baseline: bool,
    /// `"expert"`: the network learns a correction to the expert rules (residual policy:
    /// action = expert action + network output, starting at the expert: the output layer starts
    /// scaled by 0.01);
    /// `"day-ahead-mpc"`: a correction to the day-ahead MPC (`powermix_plan::mpc`), which
    /// also makes the day-ahead offer, with the expert rules alone in emergencies;
    /// `"none"`: the network's output is the action (starting at always-on).
    pub base_policy: String,
    /// The expert rules that the residual corrects (and that act alone in emergencies under
    /// a planner base): an `[expert]` table with the keys of `configs/expert.toml`, which
    /// `train --expert FILE` fills from a file. Absent: the embedded `configs/expert.toml`.
    /// Written to `meta.json` as the checkpoint's `base_policy` either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert: Option<ExpertParams>,
    /// `"day-ahead-mpc"`: the checkpoint makes the day-ahead MPC's hour-by-hour offer at the
    /// gate instead of the flat offer of its action values (`day_ahead_head` in
    /// `meta.json`): validation, the closing table, `evaluate` and `serve` run it. The
    /// rollouts settle it too only with `head_in_rollouts`. `"none"` (the default when
    /// absent): the network's own offer.
    #[serde(default = "no_head")]
    pub day_ahead_head: String,
    /// With a `day_ahead_head`: the rollouts settle the head's offer as well (each env has
    /// its own head, one LP per env and market day, planned from the 09:45 snapshot as the
    /// server does), so the network learns to dispatch under the awards that it will hold
    /// when served. False (the default when absent): the rollouts settle the network's own
    /// flat offer, and the head's awards are first met at validation. A resumed run starts
    /// each env's head afresh, as it does a planner base.
    #[serde(default)]
    pub head_in_rollouts: bool,
    /// Leave the action values the env did not read out of the log-probabilities (rollout
    /// and loss): the six day-ahead values outside a day-ahead gate, or always when the
    /// planner makes the offer, and every value in an emergency under a residual base
    /// (the rules act alone). Their samples change nothing, so in the PPO ratio (a
    /// product over the values) they add gradient terms with no signal.
    pub mask_inert_actions: bool,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Initial log standard deviation of the Gaussian policy.
    pub init_log_std: f64,
    /// Normalised observations are clipped to +- this.
    pub obs_clip: f32,
    /// Threads for rollouts and gradient computation (results do not depend on timing, but
    /// do depend on this number: keep it fixed to reproduce a run).
    pub threads: usize,
    /// Validate every this many updates (0: only at the end).
    pub validate_every: usize,
    /// Where the advantages come from. `"gae"` (the default when absent): GAE over the
    /// critic's values. `"same_input"`: each step's advantage is the return of its action
    /// followed by the base rules over `same_input_horizon` intervals, minus the return of
    /// the base rules alone from the same state, on the same prices and deployment draws
    /// (two forks of the env per step: Mao et al., ICLR 2019, "Variance Reduction for
    /// Reinforcement Learning in Input-Driven Environments", the input-dependent baseline in
    /// its exact form). Needs `base_policy = "expert"`. The critic still learns the GAE
    /// returns, so its explained variance is reported beside the forks'.
    #[serde(default = "gae")]
    pub advantage: String,
    /// Intervals each fork runs the base rules after the step (`advantage = "same_input"`).
    #[serde(default = "default_same_input_horizon")]
    pub same_input_horizon: usize,
    /// Weight of the mean squared network output in the loss (0, the default when absent:
    /// none). A residual policy's action is clamped to [0, 1], so where its base sits at a
    /// bound, samples beyond it change nothing and the output can drift there unopposed;
    /// this pulls it back to its base.
    #[serde(default)]
    pub residual_l2: f64,
    /// Weight of the hindsight labels' loss beside PPO's (0, the default when absent:
    /// none). Each step labels each miner tranche on or off by what one MW of it earned on
    /// the realised price, hashprice and 4CP weight of the interval, and the network's
    /// correction of the rules is pulled toward the label's, weighted by the margin
    /// (`rollout::hindsight_labels`; Sinclair et al., ICML 2023, one-step form). Needs
    /// `base_policy = "expert"`.
    #[serde(default)]
    pub hindsight_coef: f64,
    /// Cap of a hindsight label's weight ($ per MW and interval; default 25, the margin of
    /// a $100/MWh price error): a 4CP peak interval or a spike to the cap would otherwise
    /// outweigh a year of ordinary intervals.
    #[serde(default = "default_hindsight_weight_cap")]
    pub hindsight_weight_cap: f64,
}

fn default_hindsight_weight_cap() -> f64 {
    25.0
}

fn gae() -> String {
    "gae".to_string()
}

fn default_same_input_horizon() -> usize {
    16
}

fn no_head() -> String {
    "none".to_string()
}

impl TrainConfig {
    /// The shipped hyperparameters.
    pub fn default_config() -> TrainConfig {
        TrainConfig::from_toml_str(DEFAULT_TRAIN_TOML, "configs/train.toml (embedded)")
            .expect("embedded train config is valid")
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<TrainConfig, ConfigError> {
        powermix_env::config::parse_checked(text, origin, TrainConfig::validate)
    }

    /// Reads a config file.
    pub fn load(path: &Path) -> Result<TrainConfig, ConfigError> {
        powermix_env::config::load_with(path, TrainConfig::from_toml_str)
    }

    /// Checks ranges; the error names the field and value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |f: &str, v: String, rule: &str| Err(ConfigError(format!("{f} = {v}: {rule}")));
        if self.n_envs == 0 {
            return bad("n_envs", self.n_envs.to_string(), "must be >= 1");
        }
        if self.n_steps == 0 {
            return bad("n_steps", self.n_steps.to_string(), "must be >= 1");
        }
        if self.episode_days == 0 {
            return bad(
                "episode_days",
                self.episode_days.to_string(),
                "must be >= 1",
            );
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return bad("gamma", self.gamma.to_string(), "must be in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.gae_lambda) {
            return bad(
                "gae_lambda",
                self.gae_lambda.to_string(),
                "must be in [0, 1]",
            );
        }
        if !(self.clip > 0.0 && self.clip < 1.0) {
            return bad("clip", self.clip.to_string(), "must be in (0, 1)");
        }
        if self.hindsight_coef > 0.0 && self.base_policy != "expert" {
            return bad(
                "hindsight_coef",
                self.hindsight_coef.to_string(),
                "needs base_policy = \"expert\" (the labels are corrections of the rules)",
            );
        }
        if !["gae", "same_input"].contains(&self.advantage.as_str()) {
            return bad(
                "advantage",
                format!("{:?}", self.advantage),
                "must be \"gae\" or \"same_input\"",
            );
        }
        if self.advantage == "same_input" && self.base_policy != "expert" {
            return bad(
                "advantage",
                format!("{:?}", self.advantage),
                "needs base_policy = \"expert\" (the forks run the base rules)",
            );
        }
        if !["expert", "day-ahead-mpc", "none"].contains(&self.base_policy.as_str()) {
            return bad(
                "base_policy",
                format!("{:?}", self.base_policy),
                "must be \"expert\", \"day-ahead-mpc\" or \"none\"",
            );
        }
        if let Some(e) = &self.expert {
            if self.base_policy == "none" {
                return bad(
                    "expert",
                    "a table".to_string(),
                    "base_policy = \"none\" corrects no rules",
                );
            }
            e.validate()
                .map_err(|m| ConfigError(format!("expert.{m}")))?;
        }
        if self.day_ahead_head != "none"
            && !powermix_agent::policy::HEADS.contains(&self.day_ahead_head.as_str())
        {
            return bad(
                "day_ahead_head",
                format!("{:?}", self.day_ahead_head),
                "must be \"none\", \"day-ahead-mpc\" or \"day-ahead-mpc-priced\"",
            );
        }
        if self.day_ahead_head != "none" && self.base_policy == "day-ahead-mpc" {
            return bad(
                "day_ahead_head",
                format!("{:?}", self.day_ahead_head),
                "must be \"none\" with base_policy = \"day-ahead-mpc\" (the MPC makes the offer already)",
            );
        }
        if self.head_in_rollouts && self.day_ahead_head == "none" {
            return bad(
                "head_in_rollouts",
                "true".to_string(),
                "needs a day_ahead_head (the head whose offer the rollouts would settle)",
            );
        }
        if self.threads == 0 || self.threads > 64 {
            return bad("threads", self.threads.to_string(), "must be in 1..=64");
        }
        if self.epochs == 0 {
            return bad("epochs", self.epochs.to_string(), "must be >= 1");
        }
        if self.minibatch == 0 || self.minibatch > self.n_envs * self.n_steps {
            return bad(
                "minibatch",
                self.minibatch.to_string(),
                "must be in 1..=n_envs x n_steps",
            );
        }
        for (f, v) in [
            ("vf_coef", self.vf_coef),
            ("ent_coef", self.ent_coef),
            ("max_grad_norm", self.max_grad_norm),
            ("reward_clip", self.reward_clip),
            ("residual_l2", self.residual_l2),
            ("hindsight_coef", self.hindsight_coef),
            ("hindsight_weight_cap", self.hindsight_weight_cap),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(f, v.to_string(), "must be a finite number >= 0");
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be > 0",
            );
        }
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("{:?}", self.hidden),
                "needs at least one layer, none of width 0",
            );
        }
        if !(self.obs_clip.is_finite() && self.obs_clip > 0.0) {
            return bad("obs_clip", self.obs_clip.to_string(), "must be > 0");
        }
        Ok(())
    }

    /// Env steps per update.
    pub fn batch(&self) -> usize {
        self.n_envs * self.n_steps
    }

    /// Updates in the run (at least one).
    pub fn updates(&self) -> usize {
        ((self.total_steps as usize) / self.batch()).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The main job's rules are the expert's (configs/expert.toml, the closing table's
    /// `expert` row) with the miners' price decision left to the network, so that `ppo`
    /// beside `expert` compares the learned price decision with the rule's.
    #[test]
    fn the_main_jobs_rules_are_the_experts_without_their_price_rule() {
        let c = TrainConfig::default_config();
        let rules = c
            .expert
            .clone()
            .expect("configs/train.toml has an [expert] table");
        assert!(!rules.miners_follow_price);
        assert_eq!(
            ExpertParams {
                miners_follow_price: true,
                ..rules
            },
            ExpertParams::default_params()
        );
        assert_eq!(c.advantage, "same_input");
    }

    #[test]
    fn shipped_config_parses_and_bad_values_are_named() {
        let c = TrainConfig::default_config();
        assert!(c.updates() >= 1);
        let t = DEFAULT_TRAIN_TOML.replace("clip = 0.2", "clip = 1.5");
        let e = TrainConfig::from_toml_str(&t, "t.toml").unwrap_err().0;
        assert!(e.contains("clip = 1.5"), "{e}");
        let t = DEFAULT_TRAIN_TOML.replace("threads = 2", "threads = 0");
        let e = TrainConfig::from_toml_str(&t, "t.toml").unwrap_err().0;
        assert!(e.contains("threads = 0"), "{e}");
        let t = DEFAULT_TRAIN_TOML.replace("clip = 0.2", "clip = 0.2\nmomentum = 3");
        assert!(
            TrainConfig::from_toml_str(&t, "t.toml")
                .unwrap_err()
                .0
                .contains("momentum")
        );
    }

    /// The shipped config without the lines of `key` (a config written before it).
    fn shipped_without(key: &str) -> String {
        DEFAULT_TRAIN_TOML
            .lines()
            .filter(|l| !l.starts_with(key))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// `day_ahead_head`: "none" when absent (configs written before it), a planner's name
    /// or nothing else, and never beside the MPC as the base (which offers already).
    #[test]
    fn day_ahead_head_is_checked() {
        let without = shipped_without("day_ahead_head");
        let c = TrainConfig::from_toml_str(&without, "t.toml").unwrap();
        assert_eq!(c.day_ahead_head, "none");
        let with = |v: &str, base: &str| {
            without.replace(
                "base_policy = \"expert\"",
                &format!("base_policy = \"{base}\"\nday_ahead_head = \"{v}\""),
            )
        };
        let c = TrainConfig::from_toml_str(&with("day-ahead-mpc", "expert"), "t.toml").unwrap();
        assert_eq!(c.day_ahead_head, "day-ahead-mpc");
        let c =
            TrainConfig::from_toml_str(&with("day-ahead-mpc-priced", "expert"), "t.toml").unwrap();
        assert_eq!(c.day_ahead_head, "day-ahead-mpc-priced");
        let e = TrainConfig::from_toml_str(&with("oracle", "expert"), "t.toml")
            .unwrap_err()
            .0;
        assert!(e.contains("day_ahead_head = \"oracle\""), "{e}");
        // (GAE advantages: the forks need the rules as the base.)
        let planner_base = with("day-ahead-mpc", "day-ahead-mpc")
            .replace("advantage = \"same_input\"", "advantage = \"gae\"");
        let e = TrainConfig::from_toml_str(&planner_base, "t.toml")
            .unwrap_err()
            .0;
        assert!(e.contains("with base_policy = \"day-ahead-mpc\""), "{e}");
    }

    /// `head_in_rollouts`: false when absent, and only with a head to settle.
    #[test]
    fn head_in_rollouts_needs_a_head() {
        let without = shipped_without("head_in_rollouts");
        let c = TrainConfig::from_toml_str(&without, "t.toml").unwrap();
        assert!(!c.head_in_rollouts);
        // At the top: the file ends in its [expert] table.
        let on = format!("head_in_rollouts = true\n{without}");
        assert!(
            TrainConfig::from_toml_str(&on, "t.toml")
                .unwrap()
                .head_in_rollouts
        );
        let headless = on.replace(
            "day_ahead_head = \"day-ahead-mpc\"",
            "day_ahead_head = \"none\"",
        );
        let e = TrainConfig::from_toml_str(&headless, "t.toml")
            .unwrap_err()
            .0;
        assert!(e.contains("head_in_rollouts = true"), "{e}");
        assert!(e.contains("day_ahead_head"), "{e}");
    }
}
