//! The perfect-foresight oracle (stub until the LP lands).
use crate::EvalError;
use powermix_agent::Policy;
use powermix_env::Market;
use std::sync::Arc;

/// The oracle as a replayable policy over `[start, end)` (stub).
pub fn oracle_policy(
    market: &Arc<Market>,
    start: usize,
    end: usize,
    seed: u64,
) -> Result<Box<dyn Policy>, EvalError> {
    let _ = (market, start, end, seed);
    Ok(Box::new(powermix_agent::AlwaysOn))
}
