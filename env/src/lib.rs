//! powermix-env: the ERCOT market data, the site model with its settlement, the safety
//! projection, observation features and the gym-like [`env::Env`] / [`env::VecEnv`].
//!
//! No ML framework here: everything is plain Rust on f64 money and f32 observations.

#![warn(missing_docs)]
// Fixed-size per-tranche and per-product arrays read clearest with index loops.
#![allow(clippy::needless_range_loop)]

pub mod config;
pub mod data;
pub mod emergency;
pub mod env;
pub mod forecast;
pub mod learned;
pub mod market;
pub mod obs;
pub mod price;
pub mod rng;
pub mod safety;
pub mod settlement;
pub mod site;
pub mod snapshot;
pub mod time;

pub use config::SiteConfig;
pub use emergency::{Emergency, EmergencyCalendar};
pub use env::{Env, StepInfo, StepResult, VecEnv, Window};
pub use market::{DayAwards, Market};
pub use obs::{OBS_DIM, OBS_NAMES, Observer, Snapshot, SnapshotBuf};
pub use settlement::{LEDGER_LINES, Ledger};
pub use site::{ACTION_DIM, ACTION_NAMES, Action, DayAheadOffer, Dispatch, HourOffer, SiteState};
