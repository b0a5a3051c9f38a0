//! powermix-training: PPO on burn for the powermix site, and the `train` binary.
//!
//! Read in this order:
//! - [`ppo`]: the algorithm top to bottom (collect, GAE, optimise, the loss), with its
//!   sequential path when `threads = 1`;
//! - [`buffer`]: rollout storage, GAE, reward scaling (plain Rust, unit-tested by hand);
//! - `rollout` (sampling and stepping a part of the envs, with the base rules or planner
//!   and the day-ahead head beside the network) and `loss` (the PPO loss);
//! - `parallel`: the threading (env parts, gradient shards);
//! - `spec`: what a run is ([`run::RunSpec`]) and what its checkpoints record;
//! - [`resume`]: what a checkpoint holds to continue a run exactly;
//! - [`run`]: a whole run ([`run::train`]): validation, checkpoints, metrics;
//! - [`config`]: hyperparameters (`configs/train.toml`); [`error`]: what can go wrong.

#![warn(missing_docs)]
// Step-major buffers read clearest with index loops over envs.
#![allow(clippy::needless_range_loop)]

pub mod buffer;
pub mod config;
pub(crate) mod ercot;
pub mod error;
pub(crate) mod loss;
pub(crate) mod parallel;
pub mod ppo;
pub mod resume;
pub(crate) mod rollout;
pub mod run;
pub(crate) mod spec;

pub use error::TrainError;
