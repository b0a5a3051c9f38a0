//! Checkpoints: a folder with the model, optional extra records (the optimiser), and
//! `meta.json`; saved atomically, loaded with every layout check; [`LoadedPolicy`] (in `policy.rs`) acts.
//!
//! ```text
//! DIR/
//!   model.bpk       burn record (burnpack) of the ActorCritic; its FNV-1a hash is the model id
//!   optimizer.bpk   optional: any extra record the trainer saves (see `save_checkpoint`)
//!   meta.json       CheckpointMeta: names, dims, normaliser, site config, data, seed, ...
//! ```
//!
//! Saving writes everything into `DIR.tmp-<pid>` beside `DIR`, fsyncs each file and the
//! folder, then swaps: `DIR -> DIR.old-<pid>`, `DIR.tmp-<pid> -> DIR`, removes the old one.
//! A process killed at any moment leaves a loadable checkpoint: either `DIR` is complete, or
//! (killed between the two renames) `DIR` is missing and [`load_checkpoint`] takes the
//! complete `DIR.tmp-*` or `DIR.old-*` beside it. Partial temp folders are ignored.

use crate::net::{ActorCritic, ActorCriticConfig, ObsNormalizer};
use crate::policy::LoadedPolicy;
use crate::rules::ExpertParams;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use powermix_env::{ACTION_DIM, ACTION_NAMES, OBS_DIM, OBS_NAMES, SiteConfig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io::Write;
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

    fn io(path: &Path, e: std::io::Error) -> Self {
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
    /// Hash of the data file's bytes ([`hash_file`]), or of the generator's output.
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
    /// Hash of its bytes ([`hash_file`]).
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
    /// Hash of its bytes ([`hash_file`]).
    pub hash: String,
    /// The period trained on, `START..END` (US/Central dates, end exclusive).
    pub train_period: String,
}

/// What the caller knows about a checkpoint; [`save_checkpoint`] adds the rest (format
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
    /// The exact command line that trained it ([`command_line`]).
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

/// The content of `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Hash of `model.bpk`'s bytes (16 hex digits); checked on load.
    pub model_id: String,
    /// Observation feature names in order ([`OBS_NAMES`]).
    pub obs_names: Vec<String>,
    /// Action value names in order ([`ACTION_NAMES`]).
    pub action_names: Vec<String>,
    /// Observation width.
    pub obs_dim: usize,
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
    /// [`EnsembleSpec::members`] names the folders of the others ([`save_ensemble`]).
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

/// 64-bit FNV-1a of `bytes`. Stable across versions and machines (no dependency).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// [`fnv1a64`] as 16 lowercase hex digits: the model id of a model file's bytes.
pub fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

/// [`hash_hex`] of a file's bytes (for [`DataInfo::hash`]).
pub fn hash_file(path: &Path) -> Result<String, CheckpointError> {
    let bytes = fs::read(path).map_err(|e| CheckpointError::io(path, e))?;
    Ok(hash_hex(&bytes))
}

/// This process's command line, arguments quoted for a POSIX shell where needed. The
/// program is written by its file name (`train`, not `/home/x/target/release/train`), so
/// the line is the same on every machine and names the binary of `cargo run --bin`.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let program = args.next().map(|p| {
        Path::new(&p)
            .file_name()
            .map_or(p.clone(), |f| f.to_string_lossy().into_owned())
    });
    program
        .into_iter()
        .chain(args)
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The burnpack bytes of a model's record. Deterministic: the same weights and parameter ids
/// give the same bytes (models from [`ActorCriticConfig::init_seeded`] have fixed ids; a
/// loaded model keeps the ids of its file).
pub fn model_bytes(model: &ActorCritic) -> Result<Vec<u8>, CheckpointError> {
    let bytes = model.clone().into_record().into_bytes().map_err(|e| {
        CheckpointError::new(
            CheckpointErrorKind::Io,
            Path::new(MODEL_FILE),
            format!("cannot serialise the model: {e}"),
        )
    })?;
    Ok(bytes.to_vec())
}

fn check_extra_name(name: &str) -> Result<(), CheckpointError> {
    let ok = !name.is_empty()
        && name != MODEL_FILE
        && name != META_FILE
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            Path::new(name),
            "extra file names are plain names of letters, digits, '-', '_' and '.', \
             not model.bpk or meta.json",
        ))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = fs::File::create(path).map_err(|e| CheckpointError::io(path, e))?;
    f.write_all(bytes)
        .map_err(|e| CheckpointError::io(path, e))?;
    f.sync_all().map_err(|e| CheckpointError::io(path, e))
}

fn sync_dir(path: &Path) -> Result<(), CheckpointError> {
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match fs::File::open(path) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            Err(e) if cfg!(unix) => Err(CheckpointError::io(path, e)),
            Err(_) => Ok(()),
        },
        Err(e) if cfg!(unix) => Err(CheckpointError::io(path, e)),
        Err(_) => Ok(()),
    }
}

/// `DIR.<tag>-<pid>` beside `dir`.
fn sibling(dir: &Path, tag: &str, pid: u32) -> Result<PathBuf, CheckpointError> {
    let name = dir.file_name().ok_or_else(|| {
        CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            "a checkpoint folder needs a name",
        )
    })?;
    let mut s = name.to_os_string();
    s.push(format!(".{tag}-{pid}"));
    Ok(dir.with_file_name(s))
}

/// Saves `model` with `info` as the checkpoint folder `dir`, atomically (see the module
/// docs), and returns the metadata written.
///
/// `extras` are further files written into the same folder in the same atomic step, as
/// `(file name, bytes)`: this is the hook for the optimiser, e.g.
/// `(OPTIMIZER_FILE, &optimizer.into_bytes()?)` with burn-optim's
/// `OptimizerAdaptor::into_bytes` (or any `ModuleRecord::into_bytes`). Read them back with
/// [`read_extra`]. Names are plain file names other than `model.bpk` and `meta.json`.
///
/// The model may live on any device (autodiff or not); its record is device-free.
pub fn save_checkpoint(
    dir: &Path,
    model: &ActorCritic,
    info: &CheckpointInfo,
    extras: &[(&str, &[u8])],
) -> Result<CheckpointMeta, CheckpointError> {
    for (name, _) in extras {
        check_extra_name(name)?;
    }
    let cfg = model.config();
    info.normalizer
        .validate(cfg.obs_dim)
        .map_err(|m| CheckpointError::new(CheckpointErrorKind::InvalidInput, dir, m))?;
    let bytes = model_bytes(model)?;
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model_id: hash_hex(&bytes),
        obs_names: OBS_NAMES.iter().map(|s| s.to_string()).collect(),
        action_names: ACTION_NAMES.iter().map(|s| s.to_string()).collect(),
        obs_dim: cfg.obs_dim,
        act_dim: cfg.act_dim,
        hidden: cfg.hidden,
        normalizer: info.normalizer.clone(),
        site_config: info.site_config.clone(),
        data: info.data.clone(),
        seed: info.seed,
        hyperparameters: info.hyperparameters.clone(),
        commit: info.commit.clone(),
        validation: info.validation.clone(),
        command: info.command.clone(),
        created_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        base_policy: info.base_policy.clone(),
        base_planner: info.base_planner.clone(),
        day_ahead_head: info.day_ahead_head.clone(),
        ensemble: None,
    };
    let json = meta_json(&meta, dir)?;

    commit_folder(dir, |tmp| {
        write_synced(&tmp.join(MODEL_FILE), &bytes)?;
        for (name, data) in extras {
            write_synced(&tmp.join(name), data)?;
        }
        // meta.json last: a folder with a meta.json has everything it names.
        write_synced(&tmp.join(META_FILE), json.as_bytes())
    })?;
    Ok(meta)
}

/// `meta` as the pretty JSON of `dir`'s `meta.json`.
fn meta_json(meta: &CheckpointMeta, dir: &Path) -> Result<String, CheckpointError> {
    serde_json::to_string_pretty(meta).map_err(|e| {
        CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            &dir.join(META_FILE),
            e.to_string(),
        )
    })
}

/// Writes a checkpoint folder atomically: `fill` writes into `DIR.tmp-<pid>`, which then
/// replaces `dir` by two renames (the old folder goes to `DIR.old-<pid>` in between).
fn commit_folder(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), CheckpointError>,
) -> Result<(), CheckpointError> {
    let pid = std::process::id();
    let tmp = sibling(dir, "tmp", pid)?;
    let old = sibling(dir, "old", pid)?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    fill(&tmp)?;
    sync_dir(&tmp)?;

    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| CheckpointError::io(&old, e))?;
        }
        fs::rename(dir, &old).map_err(|e| CheckpointError::io(dir, e))?;
        fs::rename(&tmp, dir).map_err(|e| CheckpointError::io(dir, e))?;
        sync_dir(&parent)?;
        fs::remove_dir_all(&old).map_err(|e| CheckpointError::io(&old, e))?;
    } else {
        fs::rename(&tmp, dir).map_err(|e| CheckpointError::io(dir, e))?;
    }
    sync_dir(&parent)
}

/// Saves an ensemble of the checkpoint folders `members` as the checkpoint folder `dir`,
/// atomically: the first member's `model.bpk` and `meta.json` (with an [`EnsembleSpec`]
/// naming the others) at the top, each other member's two files in `members/<model_id>/`.
/// Every member is loaded and checked first; they must share the observation and action
/// names, the site config and the data split (train and validation periods and data hash),
/// and none may be an ensemble or a planner's residual. `command` is recorded as the
/// ensemble's command. Returns the top `meta.json` written.
pub fn save_ensemble(
    dir: &Path,
    members: &[PathBuf],
    command: &str,
    day_ahead_head: Option<&str>,
) -> Result<CheckpointMeta, CheckpointError> {
    if let Some(h) = day_ahead_head
        && !crate::policy::PLANNERS.contains(&h)
    {
        return Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            format!(
                "day_ahead_head {h:?} is not a planner of this build ({})",
                crate::policy::PLANNERS.join(", ")
            ),
        ));
    }
    if members.is_empty() || members.len() > MAX_ENSEMBLE_MEMBERS {
        return Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            format!(
                "an ensemble has 1 to {MAX_ENSEMBLE_MEMBERS} members, {} given",
                members.len()
            ),
        ));
    }
    let mut metas = Vec::with_capacity(members.len());
    for m in members {
        let p = load_exact(m)?;
        if p.meta.ensemble.is_some() {
            return Err(CheckpointError::new(
                CheckpointErrorKind::InvalidInput,
                m,
                "is an ensemble itself; give its members instead",
            ));
        }
        metas.push(p.meta);
    }
    let mut ids: Vec<&str> = metas.iter().map(|m| m.model_id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            format!("model {} is given twice", w[0]),
        ));
    }
    let mut top = metas[0].clone();
    top.day_ahead_head = day_ahead_head.map(str::to_string);
    top.ensemble = Some(EnsembleSpec {
        combine: ENSEMBLE_COMBINE.to_string(),
        members: metas[1..]
            .iter()
            .map(|m| format!("members/{}", m.model_id))
            .collect(),
        command: command.to_string(),
    });
    for (m, meta) in members.iter().zip(&metas).skip(1) {
        check_member(&top, meta, m)?;
    }
    let top_json = meta_json(&top, dir)?;
    commit_folder(dir, |tmp| {
        for (m, meta) in members.iter().zip(&metas).skip(1) {
            let sub = tmp.join("members").join(&meta.model_id);
            fs::create_dir_all(&sub).map_err(|e| CheckpointError::io(&sub, e))?;
            write_synced(&sub.join(MODEL_FILE), &read_limited(&m.join(MODEL_FILE))?)?;
            write_synced(&sub.join(META_FILE), &read_limited(&m.join(META_FILE))?)?;
            sync_dir(&sub)?;
        }
        write_synced(
            &tmp.join(MODEL_FILE),
            &read_limited(&members[0].join(MODEL_FILE))?,
        )?;
        write_synced(&tmp.join(META_FILE), top_json.as_bytes())
    })?;
    Ok(top)
}

/// Checks that `member` (loaded from `path`) may sit in the ensemble whose top metadata
/// is `top`: no ensemble or planner of its own, the same site config, base rules and data
/// split.
fn check_member(
    top: &CheckpointMeta,
    member: &CheckpointMeta,
    path: &Path,
) -> Result<(), CheckpointError> {
    let bad = |m: String| CheckpointError::new(CheckpointErrorKind::Incompatible, path, m);
    if member.ensemble.is_some() {
        return Err(bad(
            "an ensemble member may not be an ensemble itself".into()
        ));
    }
    // A run trained with a head (the default config) carries it in its best/; it is the
    // ensemble's head that acts, so a member may carry only that one.
    if member.day_ahead_head.is_some() && member.day_ahead_head != top.day_ahead_head {
        return Err(bad(format!(
            "an ensemble member may not have a day-ahead head of its own ({:?}; the \
             ensemble's: {:?}): give it to the ensemble",
            member.day_ahead_head, top.day_ahead_head
        )));
    }
    if top.base_planner.is_some() || member.base_planner.is_some() {
        return Err(bad(
            "a planner's residual cannot be an ensemble member (the planner runs outside \
             the checkpoint)"
                .into(),
        ));
    }
    if member.site_config != top.site_config {
        return Err(bad(
            "site_config differs from the first member's (members observe one site)".into(),
        ));
    }
    if member.act_dim != top.act_dim {
        return Err(bad(format!(
            "act_dim is {}, the first member's {} (members give the same action values)",
            member.act_dim, top.act_dim
        )));
    }
    if member.base_policy != top.base_policy {
        return Err(bad(
            "base_policy differs from the first member's (members correct the same rules, \
             whose action is computed once per decision)"
                .into(),
        ));
    }
    if member.data != top.data {
        return Err(bad(format!(
            "data split differs from the first member's: {:?} against {:?} (members must \
             share the training and selection periods, so that the scorecard's marks hold)",
            member.data, top.data
        )));
    }
    Ok(())
}

fn read_limited(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let len = fs::metadata(path)
        .map_err(|e| CheckpointError::io(path, e))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(CheckpointError::new(
            CheckpointErrorKind::Damaged,
            path,
            format!("{len} bytes, more than the {MAX_FILE_BYTES} a checkpoint file may have"),
        ));
    }
    fs::read(path).map_err(|e| CheckpointError::io(path, e))
}

/// Reads an extra file (e.g. [`OPTIMIZER_FILE`]) of the checkpoint `dir`.
pub fn read_extra(dir: &Path, name: &str) -> Result<Vec<u8>, CheckpointError> {
    check_extra_name(name)?;
    read_limited(&dir.join(name))
}

/// First difference between two name lists, in words.
fn names_diff(what: &str, file: &[String], code: &[&str]) -> Option<String> {
    for (i, (f, c)) in file.iter().zip(code).enumerate() {
        if f != c {
            return Some(format!(
                "{what}[{i}] is '{f}' in the checkpoint but '{c}' in this build \
                 (names and order must match)"
            ));
        }
    }
    if file.len() != code.len() {
        let (n, m) = (file.len(), code.len());
        let extra = if n > m {
            format!("checkpoint has extra '{}'", file[m])
        } else {
            format!("checkpoint lacks '{}'", code[n])
        };
        return Some(format!(
            "{what} has {n} names in the checkpoint, {m} in this build ({extra})"
        ));
    }
    None
}

/// Action values of checkpoints written before `da_peak_withhold` (the last action value)
/// existed. They still load and act: their actor gives the first [`LEGACY_ACTION_DIM`]
/// values and the missing one is 0, a flat day-ahead offer, as they were trained.
pub const LEGACY_ACTION_DIM: usize = 10;

/// Reads and checks `DIR/meta.json`: JSON and fields, known format version, observation and
/// action names/order/dims equal to this build's (or, for actions, its first
/// [`LEGACY_ACTION_DIM`]), normaliser and site config valid.
pub fn read_meta(dir: &Path) -> Result<CheckpointMeta, CheckpointError> {
    use CheckpointErrorKind::*;
    let path = dir.join(META_FILE);
    let bytes = read_limited(&path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CheckpointError::new(Damaged, &path, format!("not valid JSON: {e}")))?;
    match value.get("format_version").map(|v| v.as_u64()) {
        Some(Some(v)) if v == FORMAT_VERSION as u64 => {}
        Some(Some(v)) => {
            return Err(CheckpointError::new(
                Incompatible,
                &path,
                format!("unknown format_version {v} (this build reads {FORMAT_VERSION})"),
            ));
        }
        Some(None) => {
            return Err(CheckpointError::new(
                Damaged,
                &path,
                "format_version is not a whole number",
            ));
        }
        None => return Err(CheckpointError::new(Damaged, &path, "no format_version")),
    }
    let meta: CheckpointMeta = serde_json::from_value(value)
        .map_err(|e| CheckpointError::new(Damaged, &path, format!("bad metadata: {e}")))?;
    let incompatible = |m: String| CheckpointError::new(Incompatible, &path, m);
    if meta.obs_dim != OBS_DIM {
        return Err(incompatible(format!(
            "obs_dim is {} in the checkpoint, {OBS_DIM} in this build",
            meta.obs_dim
        )));
    }
    if !(LEGACY_ACTION_DIM..=ACTION_DIM).contains(&meta.act_dim) {
        return Err(incompatible(format!(
            "act_dim is {} in the checkpoint, {ACTION_DIM} in this build \
             (or {LEGACY_ACTION_DIM}, before da_peak_withhold)",
            meta.act_dim
        )));
    }
    if let Some(m) = names_diff("obs_names", &meta.obs_names, &OBS_NAMES) {
        return Err(incompatible(m));
    }
    let act_names = &ACTION_NAMES[..meta.act_dim.min(ACTION_DIM)];
    if let Some(m) = names_diff("action_names", &meta.action_names, act_names) {
        return Err(incompatible(m));
    }
    if let Some(i) = meta.hidden.iter().position(|&h| h == 0 || h > 4096) {
        return Err(CheckpointError::new(
            Damaged,
            &path,
            format!("hidden[{i}] = {} must be in 1..=4096", meta.hidden[i]),
        ));
    }
    meta.normalizer
        .validate(OBS_DIM)
        .map_err(|m| CheckpointError::new(Damaged, &path, m))?;
    meta.site_config
        .validate()
        .map_err(|e| CheckpointError::new(Damaged, &path, format!("site_config: {e}")))?;
    Ok(meta)
}

/// Loads the model of the checkpoint `dir` described by `meta` onto `device`
/// (`Device::flex()` to serve, `Device::flex().autodiff()` to resume training). Checks the
/// file's hash against `meta.model_id`, the parameter shapes against `meta.hidden`, and that
/// every weight is finite.
pub fn load_model(
    dir: &Path,
    meta: &CheckpointMeta,
    device: &Device,
) -> Result<ActorCritic, CheckpointError> {
    use CheckpointErrorKind::*;
    let path = dir.join(MODEL_FILE);
    let bytes = read_limited(&path)?;
    let id = hash_hex(&bytes);
    if id != meta.model_id {
        return Err(CheckpointError::new(
            Damaged,
            &path,
            format!(
                "content hash {id} does not match model_id {} in meta.json \
                 ({} bytes: truncated, altered or from another checkpoint)",
                meta.model_id,
                bytes.len()
            ),
        ));
    }
    let cfg = ActorCriticConfig {
        obs_dim: meta.obs_dim,
        act_dim: meta.act_dim,
        hidden: meta.hidden.clone(),
        init_log_std: 0.0,
    };
    // burn's record code returns errors for what we know of; the unwind guard keeps a
    // damaged file from ever taking the process down.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| format!("not a readable burn record: {e}"))?;
        cfg.init_seeded(0, device)
            .try_load_record(record)
            .map_err(|e| format!("does not fit hidden {:?} of meta.json: {e}", meta.hidden))
    }));
    let model = match loaded {
        Ok(Ok(m)) => m,
        Ok(Err(m)) => return Err(CheckpointError::new(Damaged, &path, m)),
        Err(_) => {
            return Err(CheckpointError::new(
                Damaged,
                &path,
                "the burn record reader failed on this file",
            ));
        }
    };
    // Shapes and finiteness of everything, not only the actor.
    for (name, layers) in [("actor", &model.actor), ("critic", &model.critic)] {
        for (l, layer) in layers.iter().enumerate() {
            let values: Vec<f32> = layer
                .weight
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .unwrap_or_default();
            if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                return Err(CheckpointError::new(
                    Damaged,
                    &path,
                    format!("{name}.{l}.weight[{i}] = {} is not finite", values[i]),
                ));
            }
        }
    }
    let got = model.config();
    if got.obs_dim != meta.obs_dim || got.act_dim != meta.act_dim || got.hidden != meta.hidden {
        return Err(CheckpointError::new(
            Damaged,
            &path,
            format!(
                "model is {}-{:?}-{}, meta.json says {}-{:?}-{}",
                got.obs_dim, got.hidden, got.act_dim, meta.obs_dim, meta.hidden, meta.act_dim
            ),
        ));
    }
    Ok(model)
}

fn load_exact(dir: &Path) -> Result<LoadedPolicy, CheckpointError> {
    if !dir.is_dir() {
        return Err(CheckpointError::new(
            CheckpointErrorKind::Missing,
            dir,
            "no such checkpoint folder",
        ));
    }
    let meta = read_meta(dir)?;
    let model = load_model(dir, &meta, &Device::flex())?;
    let spec = meta.ensemble.clone();
    let mut policy = LoadedPolicy::from_parts(meta, model, dir.to_path_buf())?;
    if let Some(spec) = spec {
        let meta_path = dir.join(META_FILE);
        let bad =
            |m: String| CheckpointError::new(CheckpointErrorKind::Incompatible, &meta_path, m);
        if spec.combine != ENSEMBLE_COMBINE {
            return Err(bad(format!(
                "ensemble.combine {:?} is not known to this build ({ENSEMBLE_COMBINE:?})",
                spec.combine
            )));
        }
        if spec.members.len() >= MAX_ENSEMBLE_MEMBERS {
            return Err(bad(format!(
                "ensemble.members has {} folders; an ensemble has at most {MAX_ENSEMBLE_MEMBERS} members",
                spec.members.len()
            )));
        }
        let mut members = Vec::with_capacity(spec.members.len());
        for rel in &spec.members {
            let rel_path = Path::new(rel);
            let inside = rel_path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if rel.is_empty() || !inside {
                return Err(bad(format!(
                    "ensemble.members {rel:?} is not a folder below the checkpoint"
                )));
            }
            let sub = dir.join(rel_path);
            let member_meta = read_meta(&sub)?;
            check_member(&policy.meta, &member_meta, &sub)?;
            let model = load_model(&sub, &member_meta, &Device::flex())?;
            members.push(LoadedPolicy::from_parts(member_meta, model, sub)?);
        }
        policy = policy.with_members(members);
    }
    Ok(policy.with_policy_id())
}

/// Complete `DIR.tmp-*` / `DIR.old-*` folders beside `dir`, newest first.
fn recovery_candidates(dir: &Path) -> Vec<PathBuf> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let name = name.to_string_lossy();
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix(&*name)
                .is_some_and(|rest| rest.starts_with(".tmp-") || rest.starts_with(".old-"))
                && e.path().join(META_FILE).is_file()
        })
        .map(|e| {
            let t = fs::metadata(e.path().join(META_FILE))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, e.path())
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, p)| p).collect()
}

/// Loads the checkpoint folder `dir` for inference (model on `Device::flex()`).
///
/// Refuses, naming the file and the problem: a missing folder or file, bad JSON or fields in
/// `meta.json`, an unknown `format_version`, observation or action names/order/dims that
/// differ from this build, a model file whose hash is not `model_id` (truncated, altered),
/// weights that do not fit `hidden` or are not finite. Never panics on damaged input.
///
/// If `dir` itself is missing, a save was killed between its two renames: the newest
/// complete `DIR.tmp-<pid>` or `DIR.old-<pid>` beside it is loaded instead
/// ([`LoadedPolicy::source_dir`] says which). Leftover partial temp folders never matter
/// when `dir` exists.
pub fn load_checkpoint(dir: &Path) -> Result<LoadedPolicy, CheckpointError> {
    match load_exact(dir) {
        Err(e) if e.kind == CheckpointErrorKind::Missing && e.path == dir => {
            for cand in recovery_candidates(dir) {
                if let Ok(p) = load_exact(&cand) {
                    return Ok(p);
                }
            }
            Err(e)
        }
        other => other,
    }
}
