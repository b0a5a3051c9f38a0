//! Loading a checkpoint folder into a [`LoadedPolicy`], with recovery from a save that was
//! killed between its two renames.

use crate::checkpoint::format::*;
use crate::checkpoint::read::{check_member, load_model, read_meta};
use crate::policy::LoadedPolicy;
use burn::tensor::Device;
use std::fs;
use std::path::{Path, PathBuf};

pub(crate) fn load_exact(dir: &Path) -> Result<LoadedPolicy, CheckpointError> {
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
