//! Synthetic ERCOT-style generator (stub).
