//! What a run is ([`RunSpec`]: data, windows, seed, folder) and what its checkpoints record
//! of it ([`info`]); shared by the run loop ([`crate::run`]) and its resumption
//! ([`crate::resume`]).

use crate::ppo::{TrainSource, Trainer};
use powermix_agent::checkpoint::{CheckpointInfo, DataInfo, command_line};
use powermix_env::Market;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything a run needs besides the hyperparameters.
#[derive(Clone)]
pub struct RunSpec {
    /// Market (data + site).
    pub market: Arc<Market>,
    /// Training window `[start, end)`.
    pub train: (usize, usize),
    /// Validation windows, at least one: `best/` is the update with the highest profit
    /// summed over them. `train` gives `--data` over `--val-period`, or each `--val-data`
    /// file (`data.val_data`).
    pub val: Vec<TrainSource>,
    /// More training sources (other data files, each with its window), described in
    /// `data.also_train` in the same order; empty for a single-file run.
    pub also_train: Vec<TrainSource>,
    /// Where the data came from.
    pub data: DataInfo,
    /// Seed.
    pub seed: u64,
    /// Run folder.
    pub out: PathBuf,
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
        base_planner: t.base_planner().map(str::to_string),
        day_ahead_head: (t.cfg.day_ahead_head != "none").then(|| t.cfg.day_ahead_head.clone()),
    }
}
