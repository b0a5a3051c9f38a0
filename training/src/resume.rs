//! What a checkpoint holds to resume a run exactly: besides the model (`model.bpk`) and
//! the normaliser (`meta.json`), the optimiser (`optimizer.bpk`) and the trainer's own state
//! (`trainer.json`: counters, reward scaler, best validation, and where the rollouts are:
//! every env and every random stream). A run saved after k updates and resumed ends with
//! the same model bytes as an uninterrupted one (tested).

use crate::buffer::RewardScaler;
use crate::error::TrainError;
use crate::ppo::{Trainer, adam};
use crate::spec::{RunSpec, info};
use powermix_agent::checkpoint::{OPTIMIZER_FILE, read_extra, save_checkpoint};
use powermix_env::env::{VecEnv, VecEnvProgress};
use powermix_env::rng::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File of the trainer's own state inside a checkpoint (for `--resume`).
pub const TRAINER_FILE: &str = "trainer.json";

/// What the trainer carries between runs besides model and optimiser (`trainer.json`).
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
    pub rollout: Option<RolloutProgress>,
}

impl TrainerState {
    /// The state of a fresh trainer.
    pub fn fresh(t: &Trainer) -> TrainerState {
        TrainerState {
            update: t.update,
            env_steps: t.env_steps,
            scaler: t.scaler.clone(),
            best_val_profit: None,
            rollout: None,
        }
    }
}

/// Where the rollouts are: the envs and every random stream of the trainer. Saved with a
/// checkpoint, it makes a resumed run continue exactly as an uninterrupted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutProgress {
    /// The envs, one entry per thread's part.
    pub venvs: Vec<VecEnvProgress>,
    /// Minibatch shuffling stream.
    pub rng: Rng,
    /// Action-sampling stream of each env.
    pub env_rngs: Vec<Rng>,
}

impl Trainer {
    /// Where the rollouts are (see [`RolloutProgress`]).
    pub fn rollout_progress(&self) -> RolloutProgress {
        RolloutProgress {
            venvs: self.env.venvs.iter().map(VecEnv::progress).collect(),
            rng: self.rng.clone(),
            env_rngs: self.env_rngs.clone(),
        }
    }

    /// Continues the rollouts from `p`; the error says what does not fit this run.
    fn restore_parts(&mut self, p: &RolloutProgress) -> Result<(), String> {
        if p.env_rngs.len() != self.env_rngs.len() {
            return Err(format!(
                "rollout progress has {} env streams, the config has n_envs = {}",
                p.env_rngs.len(),
                self.env_rngs.len()
            ));
        }
        if p.venvs.len() != self.env.venvs.len() {
            return Err(format!(
                "rollout progress has {} env parts, this run has {} (threads)",
                p.venvs.len(),
                self.env.venvs.len()
            ));
        }
        for (v, q) in self.env.venvs.iter_mut().zip(&p.venvs) {
            v.restore(q).map_err(|e| e.to_string())?;
        }
        self.rng = p.rng.clone();
        self.env_rngs.clone_from(&p.env_rngs);
        Ok(())
    }
}

/// Saves the trainer into `dir` atomically (model, optimiser, trainer state, meta).
pub fn save(
    t: &Trainer,
    spec: &RunSpec,
    dir: &Path,
    state: &TrainerState,
    validation: serde_json::Value,
) -> Result<(), TrainError> {
    let optim = t
        .optim
        .into_bytes()
        .map_err(|e| TrainError::Optimizer(format!("cannot serialise the optimiser: {e}")))?
        .to_vec();
    let state = TrainerState {
        rollout: Some(t.rollout_progress()),
        ..state.clone()
    };
    let trainer = serde_json::to_vec_pretty(&state).map_err(|e| TrainError::Resume {
        path: dir.join(TRAINER_FILE),
        message: e.to_string(),
    })?;
    save_checkpoint(
        dir,
        &t.model,
        &info(t, spec, validation),
        &[(OPTIMIZER_FILE, &optim), (TRAINER_FILE, &trainer)],
    )?;
    Ok(())
}

/// Loads a trainer's state back from a checkpoint folder (`--resume`).
pub fn resume(t: &mut Trainer, dir: &Path) -> Result<TrainerState, TrainError> {
    let meta = powermix_agent::read_meta(dir)?;
    if meta.act_dim != powermix_env::ACTION_DIM {
        return Err(TrainError::Resume {
            path: dir.join(powermix_agent::checkpoint::META_FILE),
            message: format!(
                "act_dim is {}: a checkpoint from before the action's last values can be \
                 served and scored, not trained further (this build trains {})",
                meta.act_dim,
                powermix_env::ACTION_DIM
            ),
        });
    }
    if meta.obs_dim != powermix_env::OBS_DIM {
        return Err(TrainError::Resume {
            path: dir.join(powermix_agent::checkpoint::META_FILE),
            message: format!(
                "obs_dim is {}: a checkpoint from before the desk's features can be served \
                 and scored, not trained further (this build trains on {} features)",
                meta.obs_dim,
                powermix_env::OBS_DIM
            ),
        });
    }
    t.model = powermix_agent::checkpoint::load_model(dir, &meta, &t.device())?;
    t.normalizer = meta.normalizer.clone();
    let optim = read_extra(dir, OPTIMIZER_FILE)?;
    t.optim = adam()
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(optim))
        .map_err(|e| TrainError::Optimizer(e.to_string()))?;
    let path = dir.join(TRAINER_FILE);
    let state: TrainerState =
        serde_json::from_slice(&read_extra(dir, TRAINER_FILE)?).map_err(|e| {
            TrainError::Resume {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
    t.update = state.update;
    t.env_steps = state.env_steps;
    t.scaler = state.scaler.clone();
    if let Some(p) = &state.rollout {
        t.restore_parts(p)
            .map_err(|message| TrainError::Resume { path, message })?;
    }
    Ok(state)
}
