//! The pluggable primary policy: what a checkpoint directory loads into.
//!
//! The server asks a [`Loader`] for a [`PrimaryPolicy`] at start, on `POST /v1/reload` and
//! on SIGHUP. [`load_primary`] is the default loader: it loads a checkpoint folder with
//! `powermix_agent::checkpoint::load_checkpoint` and says why when it cannot (the server then
//! answers with the expert fallback).

use powermix_agent::SharedPolicy;
use powermix_agent::rules::ExpertParams;
use powermix_env::OBS_DIM;
use powermix_env::config::SiteConfig;
use powermix_env::obs::is_price_feature;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Observation statistics of the training data, for the out-of-distribution check: a
/// feature more than `z_limit` standard deviations from its training mean makes the server
/// fall back (`out_of_distribution`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingStats {
    /// Mean of each observation feature ([`OBS_DIM`] values, `OBS_NAMES` order).
    pub mean: Vec<f64>,
    /// Standard deviation of each feature (values <= 0 skip the feature).
    pub std: Vec<f64>,
    /// Largest accepted |z| of any feature.
    pub z_limit: f64,
}

impl TrainingStats {
    /// Checks the layout: [`OBS_DIM`] finite means and standard deviations, a positive limit.
    pub fn validate(&self) -> Result<(), String> {
        if self.mean.len() != OBS_DIM || self.std.len() != OBS_DIM {
            return Err(format!(
                "training stats have {} means and {} standard deviations, expected {OBS_DIM}",
                self.mean.len(),
                self.std.len()
            ));
        }
        let finite = self.mean.iter().chain(&self.std).all(|x| x.is_finite());
        if !(finite && self.z_limit.is_finite() && self.z_limit > 0.0) {
            return Err("training stats must be finite with a positive z limit".into());
        }
        Ok(())
    }

    /// The first feature outside the limit: (index, z). Price features
    /// ([`powermix_env::obs::is_price_feature`]) are not checked: every price the market
    /// publishes is valid, however far from the training mean.
    pub fn outlier(&self, obs: &[f32]) -> Option<(usize, f64)> {
        for (i, &x) in obs.iter().enumerate().take(self.mean.len()) {
            let (m, s) = (self.mean[i], self.std[i]);
            if s > 0.0 && !is_price_feature(i) {
                let z = (x as f64 - m) / s;
                if !z.is_finite() || z.abs() > self.z_limit {
                    return Some((i, z));
                }
            }
        }
        None
    }
}

/// A loaded primary policy.
pub struct PrimaryPolicy {
    /// The policy (shared by every request; decides from `&self`).
    pub policy: Box<dyn SharedPolicy>,
    /// Identifies the model in answers, metrics and the audit log (e.g. run name + hash).
    pub model_id: String,
    /// Training observation statistics, when the checkpoint has them (the
    /// out-of-distribution check is off without them, and `/readyz` says so).
    pub stats: Option<TrainingStats>,
    /// The rules that decide in an emergency for this policy: a residual's base rules
    /// (`meta.json`'s `base_policy`), which its backtest applies in an emergency too. None:
    /// the server's fallback rules (`--expert`).
    pub emergency_rules: Option<ExpertParams>,
    /// The planner whose day-ahead offer the answers carry at the gate
    /// (`meta.json`'s `day_ahead_head`; the decider runs it), if any.
    pub day_ahead_head: Option<String>,
}

impl fmt::Debug for PrimaryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimaryPolicy")
            .field("policy", &self.policy.name())
            .field("model_id", &self.model_id)
            .field("stats", &self.stats.is_some())
            .field("emergency_rules", &self.emergency_rules.is_some())
            .field("day_ahead_head", &self.day_ahead_head)
            .finish()
    }
}

/// Why no policy was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// There is no checkpoint at the directory (reason `no_checkpoint`).
    NoCheckpoint,
    /// Something is there but does not load or validate (reason `checkpoint_damaged`).
    Damaged,
}

/// A failed load: the kind and a message naming the file and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// No checkpoint, or a damaged one.
    pub kind: LoadErrorKind,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// Loads a checkpoint directory for a site: the pluggable part of the server.
pub type Loader = Arc<dyn Fn(&Path, &SiteConfig) -> Result<PrimaryPolicy, LoadError> + Send + Sync>;

/// Largest |z| of any observation feature, against the checkpoint's training statistics,
/// before the server treats a snapshot as out of distribution. Price features are heavy
/// tailed (a spike to the cap is tens of standard deviations of a calm year), so the limit
/// is wide: it catches broken inputs and regimes never seen in training, not every spike.
pub const Z_LIMIT: f64 = 50.0;

/// The default loader: a directory without `meta.json` is `no_checkpoint`; otherwise
/// [`powermix_agent::checkpoint::load_checkpoint`] (layout, hash and shape checks included), with
/// the site config of the server, and the checkpoint's normalisation statistics as
/// [`TrainingStats`] (an ensemble's first member's: members share the training data). Any
/// load or layout error is `checkpoint_damaged` with its message.
pub fn load_primary(dir: &Path, cfg: &SiteConfig) -> Result<PrimaryPolicy, LoadError> {
    let meta = dir.join("meta.json");
    if !meta.is_file() {
        let what = if dir.is_dir() {
            "has no meta.json"
        } else {
            "does not exist"
        };
        return Err(LoadError {
            kind: LoadErrorKind::NoCheckpoint,
            message: format!("no checkpoint: {} {what}", dir.display()),
        });
    }
    let loaded = powermix_agent::checkpoint::load_checkpoint(dir).map_err(|e| LoadError {
        kind: LoadErrorKind::Damaged,
        message: e.to_string(),
    })?;
    if let Some(planner) = loaded.planner() {
        // The planner's dispatch plans (two LPs a day) would run on the request path; the
        // server hosts only the MPC's offer (`day_ahead_head`, one LP a day at the gate).
        return Err(LoadError {
            kind: LoadErrorKind::Damaged,
            message: format!(
                "{}: the policy corrects the planner {planner:?}, which this server cannot run \
                 (score it with `evaluate --checkpoint`)",
                dir.display()
            ),
        });
    }
    let n = loaded.normalizer();
    // An untrained normaliser (count 0: mean 0, variance 1) holds no statistics of any data:
    // checking raw features against it as z-scores would flag ordinary inputs, so the
    // check is off for such a checkpoint (`/readyz` says so).
    let stats = (n.count > 0.0).then(|| TrainingStats {
        mean: n.mean.clone(),
        std: n
            .var
            .iter()
            .map(|&v| {
                // Constant in training (e.g. the emergency flag, ECRS before June 2023): the
                // network sees 0 whatever the value (`ObsNormalizer::normalize`), so it is
                // not checked.
                if v <= powermix_agent::net::CONSTANT_VAR {
                    0.0
                } else {
                    v.sqrt()
                }
            })
            .collect(),
        z_limit: Z_LIMIT,
    });
    let model_id = loaded.model_id().to_string();
    let day_ahead_head = loaded.day_ahead_head().map(str::to_string);
    let emergency_rules = loaded.meta.base_policy.clone();
    Ok(PrimaryPolicy {
        policy: Box::new(loaded.with_site_config(cfg)),
        model_id,
        stats,
        emergency_rules,
        day_ahead_head,
    })
}
