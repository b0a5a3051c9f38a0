//! The day-ahead MPC policy (stub).
