//! powermix-agent: the policies that decide a site's dispatch.
//!
//! Every policy maps a [`Snapshot`] (what is visible at decision time) to an [`Action`];
//! the env or the server then applies the shared safety projection. Rule-based policies
//! live in [`rules`]; they are the baselines of the evaluation and the server's fallback.
//! The learned policy is the actor-critic network of [`net`] (burn), saved and loaded as a
//! checkpoint folder by [`checkpoint`]; a loaded checkpoint is a [`LoadedPolicy`].
//! [`serve`] is the inference server (the `serve` binary).

pub mod checkpoint;
pub mod net;
pub mod rules;
pub mod serve;

use powermix_env::{Action, Snapshot};

/// A dispatch policy.
pub trait Policy {
    /// The policy's name in reports.
    fn name(&self) -> &str;
    /// The action for the interval described by `snap`.
    fn act(&mut self, snap: &Snapshot<'_>) -> Action;
}

pub use checkpoint::{
    CheckpointError, CheckpointErrorKind, CheckpointInfo, CheckpointMeta, DataInfo, LoadedPolicy,
    load_checkpoint, read_meta, save_checkpoint,
};
pub use net::{ActorCritic, ActorCriticConfig, FastActor, ObsNormalizer, outputs_finite};
pub use rules::{AlwaysOn, Expert, ExpertParams, Threshold, rule_policy};
