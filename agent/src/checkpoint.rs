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
    /// Validation period, `START..END`.
    pub val_period: String,
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
    };
    let json = serde_json::to_string_pretty(&meta).map_err(|e| {
        CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            &dir.join(META_FILE),
            e.to_string(),
        )
    })?;

    let pid = std::process::id();
    let tmp = sibling(dir, "tmp", pid)?;
    let old = sibling(dir, "old", pid)?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    write_synced(&tmp.join(MODEL_FILE), &bytes)?;
    for (name, data) in extras {
        write_synced(&tmp.join(name), data)?;
    }
    // meta.json last: a folder with a meta.json has everything it names.
    write_synced(&tmp.join(META_FILE), json.as_bytes())?;
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
    sync_dir(&parent)?;
    Ok(meta)
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

/// Reads and checks `DIR/meta.json`: JSON and fields, known format version, observation and
/// action names/order/dims equal to this build's, normaliser and site config valid.
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
    if meta.act_dim != ACTION_DIM {
        return Err(incompatible(format!(
            "act_dim is {} in the checkpoint, {ACTION_DIM} in this build",
            meta.act_dim
        )));
    }
    if let Some(m) = names_diff("obs_names", &meta.obs_names, &OBS_NAMES) {
        return Err(incompatible(m));
    }
    if let Some(m) = names_diff("action_names", &meta.action_names, &ACTION_NAMES) {
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
    LoadedPolicy::from_parts(meta, model, dir.to_path_buf())
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
