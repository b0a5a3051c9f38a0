//! powermix-plan: the dispatch LP ([`lp`], on clarabel) and the planners built on it: the
//! perfect-foresight oracle ([`oracle`]) and the day-ahead MPC ([`mpc`]), with its
//! day-ahead head ([`mpc::DayAheadHead`]). Its own crate so that both the evaluation
//! harness and the server can run a planner; `eval` re-exports the three modules.

#![warn(missing_docs)]

pub mod lp;
pub mod mpc;
pub mod oracle;

/// A planning problem (bad inputs, a window outside the data, an LP failure), said plainly.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);
