//! The perfect-foresight oracle (stub).
