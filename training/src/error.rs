//! The errors of a training run, each naming the file or setting concerned.

use powermix_agent::checkpoint::CheckpointError;
use powermix_env::config::ConfigError;
use powermix_env::env::EnvError;
use powermix_eval::EvalError;
use std::path::PathBuf;

/// What stopped a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The env refused the window or an action.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A validation backtest or the reference policies failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A checkpoint could not be saved or loaded.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A bad hyperparameter.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or folder of the run could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// metrics.csv could not be written.
    #[error("{}: {reason}", path.display())]
    Metrics {
        /// The metrics file.
        path: PathBuf,
        /// The CSV error.
        reason: csv::Error,
    },
    /// A saved trainer state does not fit this run (`--resume`).
    #[error("{}: {message}", path.display())]
    Resume {
        /// The file holding the state.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// The run was given no validation window.
    #[error("no validation window: a run validates on at least one")]
    NoValidation,
    /// burn could not serialise or restore the optimiser state.
    #[error("optimizer.bpk: {0}")]
    Optimizer(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reason_is_in_the_message_once() {
        let e = TrainError::Io {
            path: PathBuf::from("runs/x"),
            reason: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(e.to_string(), "runs/x: denied");
        // Not a source as well: `error: {e:#}` would print it twice.
        assert!(std::error::Error::source(&e).is_none());
    }
}
