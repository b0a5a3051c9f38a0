//! The dispatch linear program shared by the oracle and the day-ahead MPC (stub).
