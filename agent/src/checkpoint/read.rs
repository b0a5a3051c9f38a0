//! Reading a checkpoint's `meta.json` and model with every layout check.

use crate::checkpoint::files::read_limited;
use crate::checkpoint::format::*;
use crate::checkpoint::hash::hash_hex;
use crate::net::{ActorCritic, ActorCriticConfig};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use powermix_env::obs::{DESK_V1_OBS_DIM, LEGACY_OBS_DIM};
use powermix_env::{ACTION_DIM, ACTION_NAMES, OBS_DIM, OBS_NAMES};
use std::path::Path;

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

/// The id of the real-time forecast model this build's observations carry
/// ([`powermix_env::learned::SHIPPED_RT_MODEL_JSON`]), written in `meta.json` as
/// `rt_forecast_id` by every checkpoint whose network reads the desk's features.
pub fn rt_forecast_id() -> String {
    hash_hex(powermix_env::learned::SHIPPED_RT_MODEL_JSON.as_bytes())
}

/// The id of the per-hour 4CP model this build's observations carry
/// ([`powermix_env::learned::SHIPPED_FOURCP_HOURS_JSON`]), written in `meta.json` as
/// `fourcp_forecast_id` by every checkpoint whose network reads the 4CP chances.
pub fn fourcp_forecast_id() -> String {
    hash_hex(powermix_env::learned::SHIPPED_FOURCP_HOURS_JSON.as_bytes())
}

/// Reads and checks `DIR/meta.json`: JSON and fields, known format version, observation and
/// action names/order/dims equal to this build's (or their first
/// [`LEGACY_OBS_DIM`] and [`LEGACY_ACTION_DIM`]), the
/// real-time forecast of the observations this build's ([`rt_forecast_id`]), normaliser and
/// site config valid.
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
    if ![OBS_DIM, DESK_V1_OBS_DIM, LEGACY_OBS_DIM].contains(&meta.obs_dim) {
        return Err(incompatible(format!(
            "obs_dim is {} in the checkpoint, {OBS_DIM} in this build \
             (or {DESK_V1_OBS_DIM}, before the 4CP chances and the hourly day-ahead curve, \
             or {LEGACY_OBS_DIM}, before the desk's features)",
            meta.obs_dim
        )));
    }
    if meta.obs_dim > DESK_V1_OBS_DIM {
        let want = fourcp_forecast_id();
        if meta.fourcp_forecast_id.as_deref() != Some(want.as_str()) {
            return Err(incompatible(format!(
                "fourcp_forecast_id is {:?}: its observations carry the 4CP chances of that \
                 model, and this build's those of {want} \
                 (checkpoints/forecast/fourcp_hours.json); retrain it or use the build it \
                 was trained with",
                meta.fourcp_forecast_id
            )));
        }
    }
    if meta.obs_dim > LEGACY_OBS_DIM {
        let want = rt_forecast_id();
        if meta.rt_forecast_id.as_deref() != Some(want.as_str()) {
            return Err(incompatible(format!(
                "rt_forecast_id is {:?}: its observations carry the real-time forecast of that \
                 model, and this build's observations that of {want} \
                 (checkpoints/forecast/rt_price.json); retrain it or use the build it was \
                 trained with",
                meta.rt_forecast_id
            )));
        }
    }
    if !(LEGACY_ACTION_DIM..=ACTION_DIM).contains(&meta.act_dim) {
        return Err(incompatible(format!(
            "act_dim is {} in the checkpoint, {ACTION_DIM} in this build \
             (or {LEGACY_ACTION_DIM}, before da_peak_withhold)",
            meta.act_dim
        )));
    }
    if let Some(m) = names_diff("obs_names", &meta.obs_names, &OBS_NAMES[..meta.obs_dim]) {
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
        .validate(meta.obs_dim)
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

/// Checks that `member` (loaded from `path`) may sit in the ensemble whose top metadata
/// is `top`: no ensemble or planner of its own, the same site config, base rules and data
/// split.
pub(crate) fn check_member(
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
