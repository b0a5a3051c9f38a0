//! Atomic folder writes (temp folder, fsync, swap), bounded reads, and the provenance a
//! checkpoint records (the command line).

use crate::checkpoint::format::{
    CheckpointError, CheckpointErrorKind, MAX_FILE_BYTES, META_FILE, MODEL_FILE,
};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// This process's command line, arguments quoted for a POSIX shell where needed. The
/// program is written by its file name (`train`, not `/home/x/target/release/train`), so
/// the line is the same on every machine and names the binary of `cargo run --bin`.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let program = args.next().map(|p| {
        Path::new(&p)
            .file_name()
            .map_or(p.clone(), |f| f.to_string_lossy().into_owned())
    });
    program
        .into_iter()
        .chain(args)
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn check_extra_name(name: &str) -> Result<(), CheckpointError> {
    let ok = !name.is_empty()
        && name != MODEL_FILE
        && name != META_FILE
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            Path::new(name),
            "extra file names are plain names of letters, digits, '-', '_' and '.', \
             not model.bpk or meta.json",
        ))
    }
}

pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = fs::File::create(path).map_err(|e| CheckpointError::io(path, e))?;
    f.write_all(bytes)
        .map_err(|e| CheckpointError::io(path, e))?;
    f.sync_all().map_err(|e| CheckpointError::io(path, e))
}

pub(crate) fn sync_dir(path: &Path) -> Result<(), CheckpointError> {
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match fs::File::open(path) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            Err(e) if cfg!(unix) => Err(CheckpointError::io(path, e)),
            Err(_) => Ok(()),
        },
        Err(e) if cfg!(unix) => Err(CheckpointError::io(path, e)),
        Err(_) => Ok(()),
    }
}

/// `DIR.<tag>-<pid>` beside `dir`.
pub(crate) fn sibling(dir: &Path, tag: &str, pid: u32) -> Result<PathBuf, CheckpointError> {
    let name = dir.file_name().ok_or_else(|| {
        CheckpointError::new(
            CheckpointErrorKind::InvalidInput,
            dir,
            "a checkpoint folder needs a name",
        )
    })?;
    let mut s = name.to_os_string();
    s.push(format!(".{tag}-{pid}"));
    Ok(dir.with_file_name(s))
}

/// Writes a checkpoint folder atomically: `fill` writes into `DIR.tmp-<pid>`, which then
/// replaces `dir` by two renames (the old folder goes to `DIR.old-<pid>` in between).
pub(crate) fn commit_folder(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), CheckpointError>,
) -> Result<(), CheckpointError> {
    let pid = std::process::id();
    let tmp = sibling(dir, "tmp", pid)?;
    let old = sibling(dir, "old", pid)?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| CheckpointError::io(&tmp, e))?;
    fill(&tmp)?;
    sync_dir(&tmp)?;

    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| CheckpointError::io(&old, e))?;
        }
        fs::rename(dir, &old).map_err(|e| CheckpointError::io(dir, e))?;
        fs::rename(&tmp, dir).map_err(|e| CheckpointError::io(dir, e))?;
        sync_dir(&parent)?;
        fs::remove_dir_all(&old).map_err(|e| CheckpointError::io(&old, e))?;
    } else {
        fs::rename(&tmp, dir).map_err(|e| CheckpointError::io(dir, e))?;
    }
    sync_dir(&parent)
}

pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let len = fs::metadata(path)
        .map_err(|e| CheckpointError::io(path, e))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(CheckpointError::new(
            CheckpointErrorKind::Damaged,
            path,
            format!("{len} bytes, more than the {MAX_FILE_BYTES} a checkpoint file may have"),
        ));
    }
    fs::read(path).map_err(|e| CheckpointError::io(path, e))
}

/// Reads an extra file (e.g. [`OPTIMIZER_FILE`](crate::checkpoint::OPTIMIZER_FILE)) of the checkpoint `dir`.
pub fn read_extra(dir: &Path, name: &str) -> Result<Vec<u8>, CheckpointError> {
    check_extra_name(name)?;
    read_limited(&dir.join(name))
}
