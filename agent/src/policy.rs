//! Inference the burn-examples way: a checkpoint loaded by [`load_checkpoint`](crate::checkpoint::load_checkpoint) becomes a
//! [`LoadedPolicy`] that acts. It decides with the plain-Rust actor ([`FastActor`], the same
//! code for serving, validation and evaluation), adds the base (expert) action of a residual
//! policy ([`residual_action`]) and clamps. Action values go through [`Action`]'s own
//! conversions (`to_array`, `from_values_unchecked`), the one place they live.

use crate::Policy;
use crate::checkpoint::format::{
    CheckpointError, CheckpointErrorKind, CheckpointMeta, MAX_ENSEMBLE_MEMBERS, META_FILE,
    MODEL_FILE,
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
    /// see [`load_checkpoint`](crate::checkpoint::load_checkpoint)).
    pub source_dir: PathBuf,
    fast: FastActor,
    observer: Observer,
    base: Option<Expert>,
    name: String,
    /// The other members of an ensemble (empty for a single network).
    members: Vec<LoadedPolicy>,
    /// The policy's id when it is not the network's `model_id`: an ensemble's
    /// ([`LoadedPolicy::with_members`]) or a checkpoint with a day-ahead head's
    /// ([`LoadedPolicy::day_ahead_head`]); None for a single network alone.
    policy_id: Option<String>,
    /// The network's output is taken as zero: the policy is its base alone (same rules,
    /// same head), what the network's contribution is measured against.
    network_off: bool,
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
        if fast.obs_dim() != meta.obs_dim || fast.act_dim() != meta.act_dim {
            return Err(CheckpointError::new(
                CheckpointErrorKind::Incompatible,
                &source_dir.join(MODEL_FILE),
                format!(
                    "actor maps {} features to {} actions, meta.json says {} and {}",
                    fast.obs_dim(),
                    fast.act_dim(),
                    meta.obs_dim,
                    meta.act_dim
                ),
            ));
        }
        meta.normalizer.validate(meta.obs_dim).map_err(|m| {
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
        if let Some(h) = &meta.day_ahead_head {
            let why = if !HEADS.contains(&h.as_str()) {
                Some(format!(
                    "day_ahead_head {h:?} is not a head of this build ({})",
                    HEADS.join(", ")
                ))
            } else if meta.base_planner.is_some() {
                Some(
                    "day_ahead_head with base_planner: a planner's residual already offers the \
                     planner's offer"
                        .to_string(),
                )
            } else {
                None
            };
            if let Some(why) = why {
                return Err(CheckpointError::new(
                    CheckpointErrorKind::Incompatible,
                    &source_dir.join(META_FILE),
                    why,
                ));
            }
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
            members: Vec::new(),
            policy_id: None,
            network_off: false,
        })
    }

    /// This network as the first member of an ensemble with `members` (the loader builds
    /// it from `meta.json`'s `ensemble`). The ensemble decides, value by value, the median
    /// of its members' clamped actions (each member with its own normaliser; all correct
    /// this network's base rules, which the loader checks); its id is the hash of `median:` and the member model ids in order, and
    /// [`LoadedPolicy::model_id`] and the policy's name report it.
    ///
    /// # Panics
    /// With more than [`MAX_ENSEMBLE_MEMBERS`] members in all (the loader refuses such a
    /// folder before it gets here).
    pub fn with_members(mut self, members: Vec<LoadedPolicy>) -> LoadedPolicy {
        assert!(
            members.len() < MAX_ENSEMBLE_MEMBERS,
            "an ensemble has at most {MAX_ENSEMBLE_MEMBERS} members"
        );
        let ids: Vec<&str> = std::iter::once(self.meta.model_id.as_str())
            .chain(members.iter().map(|m| m.meta.model_id.as_str()))
            .collect();
        let id = crate::checkpoint::hash::hash_hex(
            format!(
                "{}:{}",
                crate::checkpoint::format::ENSEMBLE_COMBINE,
                ids.join(",")
            )
            .as_bytes(),
        );
        self.name = format!("ppo:{id}");
        self.policy_id = Some(id);
        self.members = members;
        self
    }

    /// The policy's id. With a day-ahead head ([`CheckpointMeta::day_ahead_head`]) it
    /// becomes the hash of its networks' id, `+head:` and the planner's name: the same
    /// networks with and without the head are different policies. With base rules that use
    /// a rule older files cannot express ([`crate::rules::ExpertParams::has_later_rules`]),
    /// that id is hashed again with `+base:` and the rules' JSON: the same networks on other
    /// rules act otherwise.
    /// Otherwise unchanged (so the ids of checkpoints written before stay).
    pub(crate) fn with_policy_id(mut self) -> LoadedPolicy {
        let mut id = None;
        if let Some(h) = &self.meta.day_ahead_head {
            id = Some(crate::checkpoint::hash::hash_hex(
                format!("{}+head:{h}", self.model_id()).as_bytes(),
            ));
        }
        if let Some(base) = self
            .meta
            .base_policy
            .as_ref()
            .filter(|b| b.has_later_rules())
        {
            let inner = id.as_deref().unwrap_or(self.model_id());
            let rules = serde_json::to_string(base).expect("expert parameters serialise");
            id = Some(crate::checkpoint::hash::hash_hex(
                format!("{inner}+base:{rules}").as_bytes(),
            ));
        }
        if let Some(id) = id {
            self.name = format!("ppo:{id}");
            self.policy_id = Some(id);
        }
        self
    }

    /// The same policy with every network's output taken as zero: its base alone (the
    /// residual's rules, or the planner it corrects, with the same day-ahead head), named
    /// `base:<id>`. For a policy that is not a residual, its action is all zeros.
    pub fn with_network_off(mut self) -> LoadedPolicy {
        self.network_off = true;
        for m in &mut self.members {
            m.network_off = true;
        }
        self.name = format!("base:{}", self.model_id());
        self
    }

    /// Whether the network's output is taken as zero ([`LoadedPolicy::with_network_off`]).
    pub fn network_off(&self) -> bool {
        self.network_off
    }

    /// The planner whose day-ahead offer this policy makes ([`CheckpointMeta::day_ahead_head`]),
    /// if any: [`Policy::act`] here decides the actions, and the caller runs the planner for
    /// the offer.
    pub fn day_ahead_head(&self) -> Option<&str> {
        self.meta.day_ahead_head.as_deref()
    }

    /// Networks deciding: 1, or an ensemble's member count.
    pub fn member_count(&self) -> usize {
        1 + self.members.len()
    }

    /// Builds observations with `cfg` instead of the checkpoint's site config (the server's
    /// `--site`).
    pub fn with_site_config(mut self, cfg: &SiteConfig) -> LoadedPolicy {
        self.observer = Observer::new(cfg);
        self.base = self.meta.base_policy.clone().map(|p| Expert::new(cfg, p));
        self.members = std::mem::take(&mut self.members)
            .into_iter()
            .map(|m| m.with_site_config(cfg))
            .collect();
        self
    }

    /// The planner this policy corrects ([`CheckpointMeta::base_planner`]), if any. Such a
    /// policy acts only with its planner beside it: [`Policy::act`] here would add the
    /// network's correction to the rules instead.
    pub fn planner(&self) -> Option<&str> {
        self.meta.base_planner.as_deref()
    }

    /// The model id: the hash of `model.bpk`, or an ensemble's id
    /// ([`LoadedPolicy::with_members`]).
    pub fn model_id(&self) -> &str {
        self.policy_id.as_deref().unwrap_or(&self.meta.model_id)
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

    /// The actor's raw (unclamped) means for a raw observation (normalised here); for an
    /// ensemble, the first member's (the ensemble's action is
    /// [`LoadedPolicy::act_unclamped`]).
    ///
    /// # Panics
    /// If `obs.len()` is not [`OBS_DIM`] (a caller bug).
    pub fn act_raw(&self, obs: &[f32]) -> [f32; ACTION_DIM] {
        if self.network_off {
            return [0.0; ACTION_DIM];
        }
        // A network from before the desk's features reads the observation's first
        // `obs_dim` features (the layout it was trained on).
        let n = self.fast.obs_dim();
        let mut norm = [0.0f32; OBS_DIM];
        self.meta.normalizer.normalize(&obs[..n], &mut norm[..n]);
        // A checkpoint from before the last action values acts with them at 0.
        let mut out = [0.0f32; ACTION_DIM];
        self.fast
            .forward(&norm[..n], &mut out[..self.fast.act_dim()]);
        out
    }

    /// The actor's means for a snapshot plus the base action of a residual policy, before
    /// clamping.
    pub fn act_unclamped(&self, snap: &Snapshot<'_>) -> [f32; ACTION_DIM] {
        self.act_unclamped_observed(snap, &self.observe(snap))
    }

    /// [`Self::act_unclamped`] for a snapshot whose raw observation `obs` the caller has
    /// already built (with this policy's site config).
    ///
    /// For an ensemble: value by value, the median of the members' clamped actions (so
    /// already in [0, 1]); if a member's output is not finite, that output is returned as
    /// it is, so that the caller falls back as for a single network.
    pub fn act_unclamped_observed(&self, snap: &Snapshot<'_>, obs: &[f32]) -> [f32; ACTION_DIM] {
        let base = self.base.as_ref().map(|_| self.base_action(snap));
        let own = self.member_action(snap, obs, base.as_ref());
        if self.members.is_empty() {
            return own;
        }
        // On the stack: a decision allocates nothing (the loader caps the member count).
        let n = self.member_count();
        let mut outs = [[0.0f32; ACTION_DIM]; MAX_ENSEMBLE_MEMBERS];
        outs[0] = own;
        // Members share the first member's rules (the loader checks), so one base action.
        for (o, m) in outs[1..n].iter_mut().zip(&self.members) {
            *o = m.member_action(snap, obs, base.as_ref());
        }
        if let Some(bad) = outs[..n]
            .iter()
            .find(|o| first_nonfinite_output(o).is_some())
        {
            return *bad;
        }
        for o in &mut outs[..n] {
            *o = clamp_action(o);
        }
        std::array::from_fn(|k| {
            let mut v = [0.0f32; MAX_ENSEMBLE_MEMBERS];
            for (x, o) in v.iter_mut().zip(&outs[..n]) {
                *x = o[k];
            }
            median(&mut v[..n])
        })
    }

    /// One network's action values, unclamped: its raw output, plus `base` (this network's
    /// base action) for a residual policy.
    fn member_action(
        &self,
        snap: &Snapshot<'_>,
        obs: &[f32],
        base: Option<&[f32; ACTION_DIM]>,
    ) -> [f32; ACTION_DIM] {
        let raw = self.act_raw(obs);
        match base {
            Some(b) => residual_action(b, &raw, &self.fixed_values(snap)),
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

    /// The action values this policy's base fixes for a snapshot ([`fixed_values`]).
    pub fn fixed_values(&self, snap: &Snapshot<'_>) -> [bool; ACTION_DIM] {
        fixed_values(self.base.as_ref(), snap)
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

/// The median of finite values (the mean of the two middle ones for an even count); sorts
/// `v`. Panics on an empty slice (an ensemble has at least one member).
fn median(v: &mut [f32]) -> f32 {
    v.sort_unstable_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Planners a residual policy can correct (`base_planner` in `meta.json`): they live in
/// `powermix_eval` (they need the LP solver), which builds the policy
/// (`powermix_eval::planned_policy`).
pub const PLANNERS: &[&str] = &["day-ahead-mpc"];

/// Day-ahead heads a checkpoint can name (`day_ahead_head` in `meta.json`): the day-ahead
/// MPC's offer at any price, and the same priced at the option value of curtailment
/// (`powermix_plan::mpc::DayAheadHead::named` builds them).
pub const HEADS: &[&str] = &["day-ahead-mpc", "day-ahead-mpc-priced"];

/// The action values a residual's base fixes ([`residual_action`]'s `fixed`): the rules'
/// own ([`Expert::fixed_values`]) when they are the base; every value in an emergency
/// otherwise (a planner base, whose rules act only then, or no base).
pub fn fixed_values(rules: Option<&Expert>, snap: &Snapshot<'_>) -> [bool; ACTION_DIM] {
    match rules {
        Some(expert) => expert.fixed_values(snap),
        None => [snap.emergency.active(); ACTION_DIM],
    }
}

/// The action values of a residual policy: the base (expert) action plus the network's
/// output, except for the values the rules fix (`fixed`, from [`Expert::fixed_values`]):
/// every value in an emergency, where the expert's emergency rules act alone (the same
/// answer the server's emergency fallback gives, so backtests equal live decisions there
/// too), and the miners at a likely 4CP interval for rules whose miners leave the price to
/// the network. Training's rollouts use this same function.
pub fn residual_action(
    base: &[f32; ACTION_DIM],
    net: &[f32; ACTION_DIM],
    fixed: &[bool; ACTION_DIM],
) -> [f32; ACTION_DIM] {
    std::array::from_fn(|k| if fixed[k] { base[k] } else { base[k] + net[k] })
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
