//! Inference the burn-examples way: a checkpoint loaded by [`load_checkpoint`] becomes a
//! [`LoadedPolicy`] that acts. It decides with the plain-Rust actor ([`FastActor`], the same
//! code for serving, validation and evaluation), adds the base (expert) action of a residual
//! policy ([`residual_action`]) and clamps. Action values go through [`Action`]'s own
//! conversions (`to_array`, `from_values_unchecked`), the one place they live.

use crate::Policy;
#[cfg(doc)]
use crate::checkpoint::load_checkpoint;
use crate::checkpoint::{
    CheckpointError, CheckpointErrorKind, CheckpointMeta, META_FILE, MODEL_FILE,
};
use crate::net::{
    ActorCritic, FastActor, ObsNormalizer, clamp_action, clamp_finite_action,
    first_nonfinite_output,
};
use crate::rules::Expert;
use powermix_env::{ACTION_DIM, Action, OBS_DIM, Observer, SiteConfig, Snapshot};
use std::path::PathBuf;

/// A checkpoint loaded for inference: metadata, the burn model on `Device::flex()` (no
/// autodiff), and the plain-Rust actor that decides. Implements [`Policy`] as
/// `ppo:<model_id>`; its action is the actor's mean clamped to [0, 1].
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The checkpoint's metadata.
    pub meta: CheckpointMeta,
    /// The model on the inference device.
    pub model: ActorCritic,
    /// The folder actually loaded (differs from the one asked for only after a recovery,
    /// see [`load_checkpoint`]).
    pub source_dir: PathBuf,
    fast: FastActor,
    observer: Observer,
    base: Option<Expert>,
    name: String,
}

impl LoadedPolicy {
    /// A policy from an in-memory model (training's validation uses this, so it decides with
    /// exactly the code that serving uses). `meta` supplies the normaliser, the site config
    /// and the name.
    pub fn from_parts(
        meta: CheckpointMeta,
        model: ActorCritic,
        source_dir: PathBuf,
    ) -> Result<LoadedPolicy, CheckpointError> {
        let fast = FastActor::from_model(&model).map_err(|m| {
            CheckpointError::new(
                CheckpointErrorKind::Damaged,
                &source_dir.join(MODEL_FILE),
                m,
            )
        })?;
        if fast.obs_dim() != OBS_DIM || fast.act_dim() != ACTION_DIM {
            return Err(CheckpointError::new(
                CheckpointErrorKind::Incompatible,
                &source_dir.join(MODEL_FILE),
                format!(
                    "actor maps {} features to {} actions, this build has {OBS_DIM} and {ACTION_DIM}",
                    fast.obs_dim(),
                    fast.act_dim()
                ),
            ));
        }
        meta.normalizer.validate(OBS_DIM).map_err(|m| {
            CheckpointError::new(CheckpointErrorKind::Damaged, &source_dir.join(META_FILE), m)
        })?;
        if let Some(p) = &meta.base_policy {
            p.validate().map_err(|e| {
                CheckpointError::new(
                    CheckpointErrorKind::Damaged,
                    &source_dir.join(META_FILE),
                    format!("base_policy: {e}"),
                )
            })?;
        }
        if let Some(p) = &meta.base_planner
            && !PLANNERS.contains(&p.as_str())
        {
            return Err(CheckpointError::new(
                CheckpointErrorKind::Incompatible,
                &source_dir.join(META_FILE),
                format!(
                    "base_planner {p:?} is not a planner of this build ({})",
                    PLANNERS.join(", ")
                ),
            ));
        }
        Ok(LoadedPolicy {
            observer: Observer::new(&meta.site_config),
            base: meta
                .base_policy
                .clone()
                .map(|p| Expert::new(&meta.site_config, p)),
            name: format!("ppo:{}", meta.model_id),
            meta,
            model,
            source_dir,
            fast,
        })
    }

    /// Builds observations with `cfg` instead of the checkpoint's site config (the server's
    /// `--site`).
    pub fn with_site_config(mut self, cfg: &SiteConfig) -> LoadedPolicy {
        self.observer = Observer::new(cfg);
        self.base = self.meta.base_policy.clone().map(|p| Expert::new(cfg, p));
        self
    }

    /// The planner this policy corrects ([`CheckpointMeta::base_planner`]), if any. Such a
    /// policy acts only with its planner beside it: [`Policy::act`] here would add the
    /// network's correction to the rules instead.
    pub fn planner(&self) -> Option<&str> {
        self.meta.base_planner.as_deref()
    }

    /// The model id (hash of `model.bpk`).
    pub fn model_id(&self) -> &str {
        &self.meta.model_id
    }

    /// The observation normaliser.
    pub fn normalizer(&self) -> &ObsNormalizer {
        &self.meta.normalizer
    }

    /// The observer that builds this policy's observations.
    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// The raw observation of a snapshot ([`OBS_NAMES`](powermix_env::OBS_NAMES) order, not normalised).
    pub fn observe(&self, snap: &Snapshot<'_>) -> [f32; OBS_DIM] {
        let mut obs = [0.0f32; OBS_DIM];
        self.observer.observe(snap, &mut obs);
        obs
    }

    /// The actor's raw (unclamped) means for a raw observation (normalised here).
    ///
    /// # Panics
    /// If `obs.len()` is not [`OBS_DIM`] (a caller bug).
    pub fn act_raw(&self, obs: &[f32]) -> [f32; ACTION_DIM] {
        let mut norm = [0.0f32; OBS_DIM];
        self.meta.normalizer.normalize(obs, &mut norm);
        let mut out = [0.0f32; ACTION_DIM];
        self.fast.forward(&norm, &mut out);
        out
    }

    /// The actor's means for a snapshot plus the base action of a residual policy, before
    /// clamping.
    pub fn act_unclamped(&self, snap: &Snapshot<'_>) -> [f32; ACTION_DIM] {
        self.act_unclamped_observed(snap, &self.observe(snap))
    }

    /// [`Self::act_unclamped`] for a snapshot whose raw observation `obs` the caller has
    /// already built (with this policy's site config).
    pub fn act_unclamped_observed(&self, snap: &Snapshot<'_>, obs: &[f32]) -> [f32; ACTION_DIM] {
        let raw = self.act_raw(obs);
        match &self.base {
            Some(_) => residual_action(&self.base_action(snap), &raw, snap.emergency.active()),
            None => raw,
        }
    }

    /// The base (rule) action of a residual policy for a snapshot, as action values; zeros
    /// when the network's output is the action.
    pub fn base_action(&self, snap: &Snapshot<'_>) -> [f32; ACTION_DIM] {
        match &self.base {
            Some(expert) => expert.decide(snap).to_array(),
            None => [0.0; ACTION_DIM],
        }
    }
}

impl LoadedPolicy {
    /// The deterministic action for a snapshot, or an error naming the first non-finite
    /// output (the server falls back then): the actor's means, plus the base action for a
    /// residual policy, clamped to [0, 1]. [`Policy::act`] is this with non-finite values
    /// replaced by 0.
    pub fn try_act(&self, snap: &Snapshot<'_>) -> Result<Action, String> {
        let raw = self.act_unclamped(snap);
        match first_nonfinite_output(&raw) {
            Some((i, name, v)) => Err(format!("policy output {i} ({name}) = {v} is not finite")),
            None => Ok(Action::from_values_unchecked(&clamp_action(&raw))),
        }
    }
}

/// Planners a residual policy can correct (`base_planner` in `meta.json`): they live in
/// `powermix_eval` (they need the LP solver), which builds the policy
/// (`powermix_eval::planned_policy`).
pub const PLANNERS: &[&str] = &["day-ahead-mpc"];

/// The action values of a residual policy: the base (expert) action plus the network's
/// output, except in an emergency, where the expert's emergency rules act alone (the same
/// answer the server's emergency fallback gives, so backtests equal live decisions there
/// too). Training's rollouts use this same function.
pub fn residual_action(
    base: &[f32; ACTION_DIM],
    net: &[f32; ACTION_DIM],
    emergency: bool,
) -> [f32; ACTION_DIM] {
    if emergency {
        *base
    } else {
        std::array::from_fn(|k| base[k] + net[k])
    }
}

impl Policy for LoadedPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    /// Observes, normalises, runs the actor, adds the base action of a residual policy and
    /// clamps to [0, 1] (non-finite values become 0).
    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        Action::from_values_unchecked(&clamp_action(&self.act_unclamped(snap)))
    }
}

impl crate::SharedPolicy for LoadedPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    /// Normalises `obs`, runs the actor, adds the base action of a residual policy and
    /// clamps finite values to [0, 1]; a non-finite value stays as it is.
    fn act_observed(&self, snap: &Snapshot<'_>, obs: &[f32]) -> Action {
        Action::from_values_unchecked(&clamp_finite_action(
            &self.act_unclamped_observed(snap, obs),
        ))
    }
}
