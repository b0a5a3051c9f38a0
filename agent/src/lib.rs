//! powermix-agent: the policies that decide a site's dispatch.
//!
//! Every policy maps a [`Snapshot`] (what is visible at decision time) to an [`Action`];
//! the env or the server then applies the shared safety projection. Rule-based policies
//! live in [`rules`]; they are the baselines of the evaluation and the server's fallback.
//! The learned policy is the actor-critic network of [`net`] (burn), saved and loaded as a
//! checkpoint folder by [`checkpoint`]; a loaded checkpoint is a [`LoadedPolicy`].
//! The inference server that serves these policies is the `powermix-serve` crate.

#![warn(missing_docs)]

pub mod checkpoint;
pub mod net;
pub mod policy;
pub mod rules;

use powermix_env::{Action, DayAheadOffer, Snapshot};

/// A dispatch policy.
pub trait Policy {
    /// The policy's name in reports.
    fn name(&self) -> &str;
    /// The action for the interval described by `snap`. At a day-ahead gate
    /// (`powermix_env::market::is_da_gate_local(&snap.local)`), its day-ahead values are
    /// also the reserve offer for the next operating day, unless [`Policy::day_ahead`] gives
    /// an hour-by-hour offer.
    fn act(&mut self, snap: &Snapshot<'_>) -> Action;
    /// At a day-ahead gate, called after [`Policy::act`] with the same snapshot and its
    /// action: an hour-by-hour offer for the next operating day, or None for the flat offer
    /// of the action's day-ahead values (the default).
    fn day_ahead(&mut self, _snap: &Snapshot<'_>, _action: &Action) -> Option<DayAheadOffer> {
        None
    }
}

/// One decision: the action and, at a day-ahead gate, the policy's hour-by-hour offer if
/// it makes one. Backtests and the server both decide through this function.
pub fn decide(policy: &mut dyn Policy, snap: &Snapshot<'_>) -> (Action, Option<DayAheadOffer>) {
    let action = policy.act(snap);
    let offer = at_gate(snap, || policy.day_ahead(snap, &action));
    (action, offer)
}

/// The gate rule of a decision, for [`decide`] and [`decide_shared`]: `offer()` is asked
/// only at a day-ahead gate.
fn at_gate(
    snap: &Snapshot<'_>,
    offer: impl FnOnce() -> Option<DayAheadOffer>,
) -> Option<DayAheadOffer> {
    if powermix_env::time::is_da_gate_local(&snap.local) {
        offer()
    } else {
        None
    }
}

/// A policy shared between threads without a lock: the server's inference path.
///
/// It decides from `&self`, given the snapshot and its observation, which the caller builds
/// once (with `Observer::new` of the site config the policy was loaded for) and also uses
/// for its own checks. A non-finite action value is returned as it is, never repaired, so
/// that the caller can fall back (the server answers with the expert, reason
/// `non_finite_output`); finite values are within the action bounds.
pub trait SharedPolicy: Send + Sync {
    /// The policy's name in reports.
    fn name(&self) -> &str;
    /// The action for `snap`, whose observation ([`powermix_env::OBS_NAMES`] order) is `obs`.
    fn act_observed(&self, snap: &Snapshot<'_>, obs: &[f32]) -> Action;
    /// At a day-ahead gate, called after [`SharedPolicy::act_observed`]: an hour-by-hour
    /// offer for the next operating day, or None for the flat offer of the action's
    /// day-ahead values (the default), as [`Policy::day_ahead`].
    fn day_ahead(&self, _snap: &Snapshot<'_>, _action: &Action) -> Option<DayAheadOffer> {
        None
    }
}

/// [`decide`] for a [`SharedPolicy`]: the action for `snap` (observation `obs`) and, at a
/// day-ahead gate, the policy's hour-by-hour offer if it makes one.
pub fn decide_shared(
    policy: &dyn SharedPolicy,
    snap: &Snapshot<'_>,
    obs: &[f32],
) -> (Action, Option<DayAheadOffer>) {
    let action = policy.act_observed(snap, obs);
    let offer = at_gate(snap, || policy.day_ahead(snap, &action));
    (action, offer)
}

pub use checkpoint::{
    CheckpointError, CheckpointErrorKind, CheckpointInfo, CheckpointMeta, DataInfo, EnsembleSpec,
    load_checkpoint, read_meta, save_checkpoint, save_ensemble,
};
pub use net::{
    ActorCritic, ActorCriticConfig, FastActor, ObsNormalizer, clamp_finite_action, outputs_finite,
};
pub use policy::{LoadedPolicy, residual_action};
pub use rules::{AlwaysOn, Expert, ExpertParams, Threshold, rule_policy};
