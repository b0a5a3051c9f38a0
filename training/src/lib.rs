//! powermix-training: PPO on burn for the powermix site, and the `train` binary.
//!
//! - [`config`]: hyperparameters (`configs/train.toml`);
//! - [`buffer`]: rollout storage, GAE, reward scaling (plain Rust, unit-tested by hand);
//! - [`ppo`]: the trainer, read top to bottom;
//! - [`run`]: a whole run: data, periods, validation, checkpoints, metrics.

// Step-major buffers read clearest with index loops over envs.
#![allow(clippy::needless_range_loop)]

pub mod buffer;
pub mod config;
pub mod ppo;
pub mod run;
