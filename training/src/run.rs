//! A training run: data and periods, the PPO loop, periodic validation through the
//! evaluation harness' backtest, checkpoints (best and last) and metrics.
//!
//! Run folder layout: `DIR/best/` (the checkpoint with the best validation profit),
//! `DIR/last/` (the latest, for `--resume`), `DIR/metrics.csv` (one row per update).

use crate::buffer::RewardScaler;
use crate::ppo::{Trainer, UpdateStats};
use powermix_agent::checkpoint::{
    CheckpointInfo, DataInfo, LoadedPolicy, OPTIMIZER_FILE, command_line, read_extra,
    save_checkpoint,
};
use powermix_agent::net::ObsNormalizer;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::PolicyFactory;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File of the trainer's own state inside a checkpoint (for `--resume`).
pub const TRAINER_FILE: &str = "trainer.json";

/// Everything a run needs besides the hyperparameters.
pub struct RunSpec {
    /// Market (data + site).
    pub market: Arc<Market>,
    /// Training window `[start, end)`.
    pub train: (usize, usize),
    /// Validation window `[start, end)`.
    pub val: (usize, usize),
    /// Where the data came from.
    pub data: DataInfo,
    /// Seed.
    pub seed: u64,
    /// Run folder.
    pub out: PathBuf,
}

/// What the trainer carries between runs besides model and optimiser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    /// Updates done.
    pub update: usize,
    /// Env steps done.
    pub env_steps: u64,
    /// Reward scaling statistics.
    pub scaler: RewardScaler,
    /// Best validation profit so far.
    pub best_val_profit: Option<f64>,
    /// Where the rollouts were (filled by [`save`]); absent in older checkpoints, whose
    /// resumed runs restart the envs from the seed.
    #[serde(default)]
    pub rollout: Option<crate::ppo::RolloutProgress>,
}

/// Validation of one policy snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Validation {
    /// Profit on the validation period ($).
    pub profit_usd: f64,
    /// Value captured against always-on and the oracle on the same period.
    pub value_captured: f64,
}

/// Reference profits of the validation period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct References {
    /// Always-on profit.
    pub always_on: f64,
    /// Oracle profit.
    pub oracle: f64,
}

/// Profits of always-on and the oracle on the validation window (oracle: an LP of a year,
/// a few seconds).
pub fn references(spec: &RunSpec) -> Result<References, String> {
    let expert = powermix_agent::ExpertParams::default_params();
    let f = PolicyFactory {
        market: &spec.market,
        expert: &expert,
        seed: spec.seed,
        checkpoint: None,
    };
    let a = f
        .run("always-on", spec.val.0, spec.val.1)
        .map_err(|e| e.to_string())?;
    let o = f
        .run("oracle", spec.val.0, spec.val.1)
        .map_err(|e| e.to_string())?;
    Ok(References {
        always_on: a.profit_usd,
        oracle: o.profit_usd,
    })
}

/// Checkpoint info for the trainer's current state.
pub fn info(t: &Trainer, spec: &RunSpec, validation: serde_json::Value) -> CheckpointInfo {
    CheckpointInfo {
        normalizer: t.normalizer.clone(),
        site_config: spec.market.cfg.clone(),
        data: spec.data.clone(),
        seed: spec.seed,
        hyperparameters: serde_json::to_value(&t.cfg).unwrap_or(serde_json::Value::Null),
        commit: option_env!("POWERMIX_COMMIT").map(str::to_string),
        validation,
        command: command_line(),
        base_policy: t.base_params(),
    }
}

/// Saves the trainer into `dir` atomically (model, optimiser, trainer state, meta).
pub fn save(
    t: &Trainer,
    spec: &RunSpec,
    dir: &Path,
    state: &TrainerState,
    validation: serde_json::Value,
) -> Result<(), String> {
    let optim = crate::ppo::optimizer_bytes(&t.optim)?;
    let state = TrainerState {
        rollout: Some(t.rollout_progress()),
        ..state.clone()
    };
    let trainer = serde_json::to_vec_pretty(&state).map_err(|e| e.to_string())?;
    save_checkpoint(
        dir,
        &t.model,
        &info(t, spec, validation),
        &[(OPTIMIZER_FILE, &optim), (TRAINER_FILE, &trainer)],
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Validates the current model: the deterministic policy (mean clamped to [0, 1]) through
/// the harness' backtest on the validation window, with the serving code path.
pub fn validate(t: &Trainer, spec: &RunSpec, refs: &References) -> Result<Validation, String> {
    let tmp = spec.out.join(".validation");
    save_checkpoint(&tmp, &t.model, &info(t, spec, serde_json::Value::Null), &[])
        .map_err(|e| e.to_string())?;
    let mut policy: LoadedPolicy =
        powermix_agent::load_checkpoint(&tmp).map_err(|e| e.to_string())?;
    let score =
        powermix_eval::backtest(&spec.market, spec.val.0, spec.val.1, &mut policy, spec.seed)
            .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&tmp);
    let head = refs.oracle - refs.always_on;
    Ok(Validation {
        profit_usd: score.profit_usd,
        value_captured: if head.abs() > 1e-6 {
            (score.profit_usd - refs.always_on) / head
        } else {
            0.0
        },
    })
}

/// Appends one metrics row (writing the header first if the file is new).
pub fn append_metrics(
    path: &Path,
    s: &UpdateStats,
    v: Option<&Validation>,
    steps_per_sec: f64,
) -> Result<(), String> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if new {
        writeln!(f, "update,env_steps,learning_rate,policy_loss,value_loss,entropy,approx_kl,clip_fraction,grad_norm,explained_variance,episode_profit,action_std,rollout_seconds,optimise_seconds,env_steps_per_sec,val_profit,val_value_captured").map_err(|e| e.to_string())?;
    }
    let opt = |x: Option<f64>| x.map(|v| format!("{v}")).unwrap_or_default();
    writeln!(
        f,
        "{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.0},{},{}",
        s.update,
        s.env_steps,
        s.learning_rate,
        s.policy_loss,
        s.value_loss,
        s.entropy,
        s.approx_kl,
        s.clip_fraction,
        s.grad_norm,
        s.explained_variance,
        opt(s.episode_profit),
        s.action_std,
        s.rollout_seconds,
        s.optimise_seconds,
        steps_per_sec,
        opt(v.map(|v| v.profit_usd)),
        opt(v.map(|v| v.value_captured))
    )
    .map_err(|e| e.to_string())
}

/// Loads a trainer's state back from a checkpoint folder (`--resume`).
pub fn resume(t: &mut Trainer, dir: &Path) -> Result<TrainerState, String> {
    let meta = powermix_agent::read_meta(dir).map_err(|e| e.to_string())?;
    t.model = powermix_agent::checkpoint::load_model(dir, &meta, &t.device())
        .map_err(|e| e.to_string())?;
    t.normalizer = meta.normalizer.clone();
    let optim = read_extra(dir, OPTIMIZER_FILE).map_err(|e| e.to_string())?;
    crate::ppo::load_optimizer(t, &optim)?;
    let state: TrainerState =
        serde_json::from_slice(&read_extra(dir, TRAINER_FILE).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", dir.join(TRAINER_FILE).display()))?;
    t.update = state.update;
    t.env_steps = state.env_steps;
    t.scaler = state.scaler.clone();
    if let Some(p) = &state.rollout {
        t.restore_rollout(p)
            .map_err(|e| format!("{}: {e}", dir.join(TRAINER_FILE).display()))?;
    }
    Ok(state)
}

/// Unused-import guard for types used only in docs.
#[allow(dead_code)]
fn _types(_: &SiteConfig, _: &ObsNormalizer) {}
