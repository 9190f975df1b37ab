//! Atomic file replacement: write a temporary file in the target's directory, flush it to
//! the disk (`fsync`), rename it over the target, and flush the directory.
//!
//! Why each step: writing the target in place would leave a half-written file if the
//! process dies mid-save, destroying the previous checkpoint too. A rename within one
//! directory (one file system) is atomic on POSIX systems: anyone opening the path sees
//! either the old file or the new one, never a mix. The `fsync` before the rename makes
//! sure the new file's bytes are on the disk before its name points at them (otherwise a
//! power cut can leave the new name on an empty file); the `fsync` of the directory
//! makes the rename itself durable.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::CheckpointError;

/// Makes temporary names unique within the process (the pid makes them unique across
/// processes), so two saves from two threads never share a temporary file.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with the bytes `write` produces, atomically. On any error the
/// temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    let Some(file_name) = path.file_name() else {
        return Err(CheckpointError::io(
            path,
            "write",
            io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
        ));
    };
    if path.is_dir() {
        // The rename would fail anyway; this says why in plain words.
        return Err(CheckpointError::io(
            path,
            "write",
            io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A hidden name next to the target: same directory, hence same file system, which
    // the atomic rename needs.
    let mut tmp_name = OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);

    let written = (|| {
        // `create_new`: never follow or clobber something already at the temporary name.
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        write(&mut file)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::io(path, "write", e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::io(path, "rename into place", e));
    }
    sync_dir(&dir);
    Ok(())
}

/// Flushes the directory entry of the rename. Only POSIX systems can open a directory for
/// this; where it fails (other systems, some network file systems) the rename is still
/// atomic, only its durability across a power cut is left to the OS, so errors are ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
