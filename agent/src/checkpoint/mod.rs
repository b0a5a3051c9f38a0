//! Checkpoints: a folder with the model, optional extra records (the optimiser), and
//! `meta.json`; saved atomically, loaded with every layout check; [`LoadedPolicy`](crate::policy::LoadedPolicy) (in `policy.rs`) acts.
//!
//! ```text
//! DIR/
//!   model.bpk       burn record (burnpack) of the ActorCritic; its FNV-1a hash is the model id
//!   optimizer.bpk   optional: any extra record the trainer saves (see `save_checkpoint`)
//!   meta.json       CheckpointMeta: names, dims, normaliser, site config, data, seed, ...
//! ```
//!
//! Saving writes everything into `DIR.tmp-<pid>` beside `DIR`, fsyncs each file and the
//! folder, then swaps: `DIR -> DIR.old-<pid>`, `DIR.tmp-<pid> -> DIR`, removes the old one.
//! A process killed at any moment leaves a loadable checkpoint: either `DIR` is complete, or
//! (killed between the two renames) `DIR` is missing and [`load_checkpoint`] takes the
//! complete `DIR.tmp-*` or `DIR.old-*` beside it. Partial temp folders are ignored.

//!
//! One module per job: [`format`](mod@format) (names, layout, errors), [`hash`] (FNV-1a), [`files`]
//! (atomic writes, bounded reads, provenance), [`save`], [`read`] (`meta.json` and the
//! model, checked) and [`load`] (a folder into a policy). This facade re-exports them.

pub mod files;
pub mod format;
pub mod hash;
pub mod load;
pub mod read;
pub mod save;

pub use files::{command_line, read_extra};
pub use format::*;
pub use hash::{fnv1a64, hash_file, hash_hex};
pub use load::load_checkpoint;
pub use read::{LEGACY_ACTION_DIM, fourcp_forecast_id, load_model, read_meta, rt_forecast_id};
pub use save::{model_bytes, save_checkpoint, save_ensemble};
