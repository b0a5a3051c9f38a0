//! Yearly statistics (stub).
