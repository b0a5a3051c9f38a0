//! The audit log: one JSON line per event (startup, decision, rejection, reload), each
//! with a sequence number and a UTC timestamp, written to the OS before the answer is sent.
//!
//! Every line is one `write` on a file opened for append, so a crashed *process* loses no
//! line it wrote: the kernel holds it. A crashed *machine* can lose what the kernel had not
//! written to disk yet; `--audit-fsync` calls `fdatasync` after every line (slower: a disk
//! round trip per decision).

use serde::Serialize;
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

    /// Whether every line is synced to disk.
    pub fn fsync(&self) -> bool {
        self.fsync
    }

    /// Appends `{"seq":N,"ts":"...","kind":"<kind>", ...fields}` as one line, written to the
    /// OS in one `write` (and synced with `fsync`) before returning. `fields` is a struct
    /// (or map) whose fields follow `kind`. Returns the sequence number.
    pub fn append<T: Serialize + ?Sized>(&self, kind: &str, fields: &T) -> io::Result<u64> {
        let ts = now_rfc3339();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let seq = g.1;
        let mut line = serde_json::to_vec(&Line {
            seq,
            ts: &ts,
            kind,
            fields,
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        g.0.write_all(&line)?;
        if self.fsync {
            g.0.sync_data()?;
        }
        g.1 += 1;
        Ok(seq)
    }

    /// Syncs the file to disk (the end of a graceful shutdown).
    pub fn sync(&self) -> io::Result<()> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0.sync_all()
    }
}

/// One audit line: sequence number, time, kind, then the event's own fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize + ?Sized> {
    seq: u64,
    ts: &'a str,
    kind: &'a str,
    #[serde(flatten)]
    fields: &'a T,
}

/// FNV-1a (64 bit) as 16 hex digits: identifies a config in the log. The workspace's one
/// FNV-1a, the checkpoints' (`powermix_agent::checkpoint::hash_hex`).
pub fn fnv1a64_hex(bytes: &[u8]) -> String {
    powermix_agent::checkpoint::hash_hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_serde_structs_with_seq_ts_kind_first() {
        #[derive(Serialize)]
        struct Ev<'a> {
            status: u16,
            note: &'a str,
        }
        let dir = std::env::temp_dir().join(format!("powermix-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.jsonl");
        let _ = std::fs::remove_file(&p);
        let a = AuditLog::open(&p, false).unwrap();
        assert_eq!(
            a.append(
                "x",
                &Ev {
                    status: 7,
                    note: "a\"b\n"
                }
            )
            .unwrap(),
            0
        );
        assert_eq!(
            a.append(
                "y",
                &Ev {
                    status: 8,
                    note: ""
                }
            )
            .unwrap(),
            1
        );
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["seq"], 0);
        assert_eq!(lines[0]["kind"], "x");
        assert_eq!(lines[0]["note"], "a\"b\n");
        assert_eq!(lines[1]["status"], 8);
        assert!(text.starts_with("{\"seq\":0,\"ts\":\""), "{text}");
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64_hex(b"a"), "af63dc4c8601ec8c");
    }
}
