//! The checkpoint format: file names, `meta.json`'s layout ([`CheckpointMeta`]), what a
//! caller supplies ([`CheckpointInfo`]) and the errors of saving and loading.

use crate::net::ObsNormalizer;
use crate::rules::ExpertParams;
use powermix_env::SiteConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The `meta.json` layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The model record's file name.
pub const MODEL_FILE: &str = "model.bpk";
/// The metadata file name.
pub const META_FILE: &str = "meta.json";
/// The file name the trainer should give its optimiser record.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Largest model or extra file read (bytes); a checkpoint of 64-64 MLPs is ~40 kB.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// What went wrong with a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointErrorKind {
    /// A file or the folder does not exist.
    Missing,
    /// An I/O error other than a missing file.
    Io,
    /// A file exists but its content is unreadable: bad JSON, truncated or altered model,
    /// non-finite weights, shapes that do not match the metadata.
    Damaged,
    /// Readable, but made for another layout: format version, observation or action names,
    /// order or dimensions differ from this build.
    Incompatible,
    /// A bad argument to a save (e.g. an extra file name).
    InvalidInput,
}

/// A checkpoint error: the file concerned and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointError {
    /// The kind of failure (the server's fallback reason).
    pub kind: CheckpointErrorKind,
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What is wrong, in words.
    pub message: String,
}

impl CheckpointError {
    pub(crate) fn new(kind: CheckpointErrorKind, path: &Path, message: impl Into<String>) -> Self {
        CheckpointError {
            kind,
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            CheckpointErrorKind::Missing
        } else {
            CheckpointErrorKind::Io
        };
        CheckpointError::new(kind, path, e.to_string())
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for CheckpointError {}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataInfo {
    /// The data file as given on the command line (or a label such as
    /// `embedded:synthetic-2024-seed7`).
    pub file: String,
    /// Hash of the data file's bytes ([`hash_file`](crate::checkpoint::hash_file)), or of the generator's output.
    pub hash: String,
    /// Training period, `START..END` (US/Central dates, end exclusive).
    pub train_period: String,
    /// Validation period on `file`, `START..END`; empty when validation ran on other
    /// files instead (`val_data`).
    pub val_period: String,
    /// More training data beside `file` (`train --also-train`), each with its own period:
    /// its envs take an equal share of the rollouts. Absent (empty) for single-file runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_train: Vec<TrainData>,
    /// Validation files other than `file` (`train --val-data`; `best/` is the update with
    /// the highest profit summed over them). Absent (empty) when validation ran on `file`
    /// over `val_period`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub val_data: Vec<ValData>,
}

/// A validation data file of a run (`train --val-data FILE[:A..B]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValData {
    /// The data file as given on the command line.
    pub file: String,
    /// Hash of its bytes ([`hash_file`](crate::checkpoint::hash_file)).
    pub hash: String,
    /// The period validated on, `START..END` (US/Central dates, end exclusive).
    pub val_period: String,
}

/// A further training data file of a run (`train --also-train FILE[:A..B]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainData {
    /// The data file as given on the command line.
    pub file: String,
    /// Hash of its bytes ([`hash_file`](crate::checkpoint::hash_file)).
    pub hash: String,
    /// The period trained on, `START..END` (US/Central dates, end exclusive).
    pub train_period: String,
}

/// What the caller knows about a checkpoint; [`save_checkpoint`](crate::checkpoint::save_checkpoint) adds the rest (format
/// version, model id, names, dims, hidden sizes, creation time).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    /// Observation statistics the model was trained with.
    pub normalizer: ObsNormalizer,
    /// The site the model was trained for (serving builds observations with it).
    pub site_config: SiteConfig,
    /// Training data.
    pub data: DataInfo,
    /// Training seed.
    pub seed: u64,
    /// Hyperparameters (free JSON object).
    pub hyperparameters: serde_json::Value,
    /// Git commit of the code that trained it, if known.
    pub commit: Option<String>,
    /// Validation scores (free JSON).
    pub validation: serde_json::Value,
    /// The exact command line that trained it ([`command_line`](crate::checkpoint::command_line)).
    pub command: String,
    /// The rule policy the network corrects (a residual policy: action = base action +
    /// network output), or None when the network's output is the action.
    pub base_policy: Option<ExpertParams>,
    /// The planner the network corrects instead of the rules (a name of
    /// [`crate::policy::PLANNERS`]); `base_policy` then holds the emergency rules.
    pub base_planner: Option<String>,
    /// The planner whose day-ahead offer the checkpoint makes ([`CheckpointMeta::day_ahead_head`]).
    pub day_ahead_head: Option<String>,
}

impl CheckpointInfo {
    /// A checkpoint built by hand rather than trained (tests, tools): an untrained
    /// normaliser, no data provenance (`data.file` = `"none"`), no base; the caller sets
    /// what it needs with struct update syntax.
    pub fn untrained(site_config: SiteConfig, seed: u64) -> CheckpointInfo {
        CheckpointInfo {
            normalizer: ObsNormalizer::new(powermix_env::OBS_DIM, 10.0),
            site_config,
            data: DataInfo {
                file: "none".into(),
                hash: "0".into(),
                train_period: "none".into(),
                val_period: "none".into(),
                also_train: Vec::new(),
                val_data: Vec::new(),
            },
            seed,
            hyperparameters: serde_json::json!({}),
            commit: None,
            validation: serde_json::json!({}),
            command: "none".into(),
            base_policy: None,
            base_planner: None,
            day_ahead_head: None,
        }
    }
}

/// The content of `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Hash of `model.bpk`'s bytes (16 hex digits); checked on load.
    pub model_id: String,
    /// Observation feature names in order ([`OBS_NAMES`](powermix_env::OBS_NAMES)).
    pub obs_names: Vec<String>,
    /// Action value names in order ([`ACTION_NAMES`](powermix_env::ACTION_NAMES)).
    pub action_names: Vec<String>,
    /// Observation width: [`OBS_DIM`](powermix_env::OBS_DIM), or
    /// [`DESK_V1_OBS_DIM`](powermix_env::obs::DESK_V1_OBS_DIM) or
    /// [`LEGACY_OBS_DIM`](powermix_env::obs::LEGACY_OBS_DIM) for a network that reads the
    /// observation as it was before the 4CP chances or the desk's features (it reads the
    /// first features).
    pub obs_dim: usize,
    /// The id of the real-time forecast model whose quantiles the observations carry
    /// (`crate::checkpoint::rt_forecast_id` of the build that trained it); absent for a
    /// network of [`LEGACY_OBS_DIM`](powermix_env::obs::LEGACY_OBS_DIM) inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt_forecast_id: Option<String>,
    /// The id of the per-hour 4CP model whose chances the observations carry
    /// (`crate::checkpoint::fourcp_forecast_id` of the build that trained it); absent for a
    /// network of at most [`DESK_V1_OBS_DIM`](powermix_env::obs::DESK_V1_OBS_DIM) inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fourcp_forecast_id: Option<String>,
    /// Action width.
    pub act_dim: usize,
    /// Hidden layer widths of actor and critic.
    pub hidden: Vec<usize>,
    /// Observation statistics.
    pub normalizer: ObsNormalizer,
    /// The full site configuration.
    pub site_config: SiteConfig,
    /// Training data.
    pub data: DataInfo,
    /// Training seed.
    pub seed: u64,
    /// Hyperparameters (free JSON).
    pub hyperparameters: serde_json::Value,
    /// Git commit, or null.
    pub commit: Option<String>,
    /// Validation scores (free JSON).
    pub validation: serde_json::Value,
    /// The command line that trained it.
    pub command: String,
    /// Creation time, RFC 3339 UTC.
    pub created_utc: String,
    /// The expert rules the network corrects (residual policy: action = expert action +
    /// network output, then clamped), or null when the network's output is the action.
    #[serde(default)]
    pub base_policy: Option<ExpertParams>,
    /// The planner the network corrects instead of `base_policy`'s rules (one of
    /// [`crate::policy::PLANNERS`]): action = the planner's action + network output, the
    /// planner's hour-by-hour day-ahead offer, and `base_policy`'s rules alone in an
    /// emergency. Absent for a rules residual. Only a caller that runs the planner
    /// (`powermix_eval::planned_policy`) acts as such a checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_planner: Option<String>,
    /// A planner (one of [`crate::policy::PLANNERS`]) whose hour-by-hour day-ahead offer
    /// replaces the flat offer of the network's action values at the gate; the network
    /// still decides every action. Set by `ensemble --day-ahead-head`; absent otherwise.
    /// Only a caller that runs the planner (`powermix_eval::planned_policy`, the server)
    /// acts as such a checkpoint. It enters the policy's id
    /// ([`crate::LoadedPolicy::model_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_ahead_head: Option<String>,
    /// Present when this checkpoint is an ensemble: its own network is the first member and
    /// [`EnsembleSpec::members`] names the folders of the others ([`save_ensemble`](crate::checkpoint::save_ensemble)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleSpec>,
}

/// The only way members' actions are combined: value by value, the median of the
/// members' clamped actions (the mean of the two middle ones for an even count).
pub const ENSEMBLE_COMBINE: &str = "median";

/// Most members an ensemble may have.
pub const MAX_ENSEMBLE_MEMBERS: usize = 15;

/// An ensemble's part of `meta.json`: the folder's own network is the first member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    /// How member actions are combined ([`ENSEMBLE_COMBINE`]).
    pub combine: String,
    /// The folders of the other members, relative to the checkpoint folder
    /// (`members/<model_id>`); each is a complete checkpoint without an ensemble of its own.
    pub members: Vec<String>,
    /// The command that built the ensemble (each member's `meta.json` holds the command
    /// that trained it).
    pub command: String,
}
