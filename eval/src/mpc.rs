//! The day-ahead MPC policy (stub until the LP lands).
use powermix_agent::Policy;
use powermix_env::{Action, SiteConfig, Snapshot};

/// Day-ahead MPC (stub).
pub struct DayAheadMpc;

impl DayAheadMpc {
    /// A planner for the site (stub).
    pub fn new(_cfg: &SiteConfig) -> DayAheadMpc {
        DayAheadMpc
    }
}

impl Policy for DayAheadMpc {
    fn name(&self) -> &str {
        "day-ahead-mpc"
    }
    fn act(&mut self, _: &Snapshot<'_>) -> Action {
        Action::ALL_ON
    }
}
