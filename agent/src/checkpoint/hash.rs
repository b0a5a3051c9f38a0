//! The one FNV-1a hash of the workspace: model ids, data hashes, policy ids and the
//! server's config hashes.

use crate::checkpoint::format::CheckpointError;
use std::fs;
use std::path::Path;

/// 64-bit FNV-1a of `bytes`. Stable across versions and machines (no dependency).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// [`fnv1a64`] as 16 lowercase hex digits: the model id of a model file's bytes.
pub fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

/// [`hash_hex`] of a file's bytes (for [`DataInfo::hash`](crate::checkpoint::hash)).
pub fn hash_file(path: &Path) -> Result<String, CheckpointError> {
    let bytes = fs::read(path).map_err(|e| CheckpointError::io(path, e))?;
    Ok(hash_hex(&bytes))
}
