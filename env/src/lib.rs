//! powermix-env: the ERCOT market data, the site model with its settlement, the safety
//! projection, observation features and the gym-like [`env::Env`] / [`env::VecEnv`].
//!
//! No ML framework here: everything is plain Rust on f64 money and f32 observations.

pub mod config;
pub mod data;
pub mod rng;
pub mod safety;
pub mod settlement;
pub mod site;
pub mod time;
