//! Saving a checkpoint, or an ensemble of checkpoints, atomically.

use crate::checkpoint::files::{
    check_extra_name, commit_folder, read_limited, sync_dir, write_synced,
};
use crate::checkpoint::format::*;
use crate::checkpoint::hash::hash_hex;
use crate::checkpoint::load::load_exact;
use crate::checkpoint::read::check_member;
use crate::net::ActorCritic;
use burn::module::Module;
use powermix_env::{ACTION_NAMES, OBS_NAMES};
use std::fs;
use std::path::{Path, PathBuf};

/// The burnpack bytes of a model's record. Deterministic: the same weights and parameter ids
/// give the same bytes (models from [`ActorCriticConfig::init_seeded`](crate::net::ActorCriticConfig::init_seeded) have fixed ids; a
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

/// Saves `model` with `info` as the checkpoint folder `dir`, atomically (see the module
/// docs), and returns the metadata written.
///
/// `extras` are further files written into the same folder in the same atomic step, as
/// `(file name, bytes)`: this is the hook for the optimiser, e.g.
/// `(OPTIMIZER_FILE, &optimizer.into_bytes()?)` with burn-optim's
/// `OptimizerAdaptor::into_bytes` (or any `ModuleRecord::into_bytes`). Read them back with
/// [`read_extra`](crate::checkpoint::read_extra). Names are plain file names other than `model.bpk` and `meta.json`.
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
        obs_names: OBS_NAMES[..cfg.obs_dim.min(OBS_NAMES.len())]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        action_names: ACTION_NAMES.iter().map(|s| s.to_string()).collect(),
        obs_dim: cfg.obs_dim,
        rt_forecast_id: (cfg.obs_dim > powermix_env::obs::LEGACY_OBS_DIM)
            .then(crate::checkpoint::read::rt_forecast_id),
        fourcp_forecast_id: (cfg.obs_dim > powermix_env::obs::DESK_V1_OBS_DIM)
            .then(crate::checkpoint::read::fourcp_forecast_id),
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
pub(crate) fn meta_json(meta: &CheckpointMeta, dir: &Path) -> Result<String, CheckpointError> {
    serde_json::to_string_pretty(meta).map_err(|e| {
        CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            &dir.join(META_FILE),
            e.to_string(),
        )
    })
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
        && !crate::policy::HEADS.contains(&h)
    {
        return Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            format!(
                "day_ahead_head {h:?} is not a head of this build ({})",
                crate::policy::HEADS.join(", ")
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
