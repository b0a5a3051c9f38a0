//! The audit log: one JSON line per event (startup, decision, rejection, reload), each
//! with a sequence number and a UTC timestamp, written to the OS before the answer is sent.
//!
//! Every line is one `write` on a file opened for append, so a crashed *process* loses no
//! line it wrote: the kernel holds it. A crashed *machine* can lose what the kernel had not
//! written to disk yet; `--audit-fsync` calls `fdatasync` after every line (slower: a disk
//! round trip per decision).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// An append-only JSONL audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    fsync: bool,
    /// The file and the next sequence number.
    inner: Mutex<(File, u64)>,
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

impl AuditLog {
    /// Opens (creates) `path` for appending; `fsync` syncs every line to disk.
    pub fn open(path: &Path, fsync: bool) -> io::Result<AuditLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            fsync,
            inner: Mutex::new((file, 0)),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `{"seq":N,"ts":"...","kind":"<kind>",<fields>}` as one line, written to the
    /// OS (and synced with `fsync`) before returning. `fields` is the inside of a JSON
    /// object (comma-separated `"key":value` pairs, may be empty). Returns the sequence
    /// number.
    pub fn append(&self, kind: &str, fields: &str) -> io::Result<u64> {
        let ts = now_rfc3339();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let seq = g.1;
        let sep = if fields.is_empty() { "" } else { "," };
        let line = format!(
            "{{\"seq\":{seq},\"ts\":\"{ts}\",\"kind\":{}{sep}{fields}}}\n",
            serde_json::Value::from(kind)
        );
        g.0.write_all(line.as_bytes())?;
        g.0.flush()?;
        if self.fsync {
            g.0.sync_data()?;
        }
        g.1 += 1;
        Ok(seq)
    }
}

/// A small own hash (FNV-1a, 64 bit) as 16 hex digits: identifies a config in the log.
pub fn fnv1a64_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64_hex(b"a"), "af63dc4c8601ec8c");
    }
}
