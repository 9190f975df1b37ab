//! Atomic file replacement: write a temporary file in the target's directory, flush it to
//! the disk (`fsync`), rename it over the target, and flush the directory. The target is
//! the file a symbolic link leads to, and the new file keeps the old one's permissions.
//!
//! Why each step: writing the target in place would leave a half-written file if the
//! process dies mid-save, destroying the previous checkpoint too. A rename within one
//! directory (one file system) is atomic on POSIX systems: anyone opening the path sees
//! either the old file or the new one, never a mix. The `fsync` before the rename makes
//! sure the new file's bytes are on the disk before its name points at them (otherwise a
//! power cut can leave the new name on an empty file); the `fsync` of the directory
//! makes the rename itself durable.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::CheckpointError;

/// How many temporary names a save tries. Each has 64 random bits, so a second try is
/// already a sign that something else is creating files with these names.
const ATTEMPTS: usize = 16;

/// Replaces `path` with the bytes `write` produces, atomically. On any error the
/// temporary file this call created is removed and `path` is untouched.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    write_atomic_with(path, random_suffix, write)
}

/// [`write_atomic`] with the temporary names' suffixes drawn from `suffix`.
fn write_atomic_with(
    path: &Path,
    suffix: impl FnMut() -> String,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    // Errors name the path the caller gave; the work is done on the file it leads to.
    let shown = path;
    let target = resolve_links(path).map_err(|e| CheckpointError::io(shown, "write", e))?;
    let path = target.as_path();
    let Some(file_name) = path.file_name() else {
        return Err(CheckpointError::io(
            shown,
            "write",
            io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
        ));
    };
    if path.is_dir() {
        // The rename would fail anyway; this says why in plain words.
        return Err(CheckpointError::io(
            shown,
            "write",
            io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The file being replaced, if any: the new one gets its permissions.
    let old = fs::metadata(path).ok().filter(|m| m.is_file());
    let (tmp, mut file) = create_temp(&dir, file_name, old.as_ref(), suffix)
        .map_err(|e| CheckpointError::io(shown, "write", e))?;

    // From here on the temporary file is this call's own: remove it on any error.
    let written = keep_permissions(&file, old.as_ref())
        .and_then(|()| write(&mut file))
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::io(shown, "write", e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::io(shown, "rename into place", e));
    }
    sync_dir(&dir);
    Ok(())
}

/// The most symbolic links followed from one path, as Linux's limit (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The file a save replaces: `path` itself, or, when `path` is a symbolic link, the file
/// at the end of the chain of links (which need not exist yet). Saving writes through the
/// link, as `open` would, instead of renaming a new file over the link itself: a
/// `last.kdl -> runs/epoch-7.kdl` link stays a link, and the file it names is replaced.
/// The temporary file then goes beside that file, in its directory, which is where the
/// atomic rename needs it.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                // A relative target is relative to the link's directory; `join` keeps an
                // absolute one as it is.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links in a chain (a loop?)"
    )))
}

/// Creates a new temporary file next to the target: a hidden name in the same directory,
/// hence on the same file system, which the atomic rename needs. `create_new` never
/// follows or reuses what is already there: a name that is taken belongs to another
/// writer, and the next suffix is tried.
fn create_temp(
    dir: &Path,
    file_name: &OsStr,
    old: Option<&fs::Metadata>,
    mut suffix: impl FnMut() -> String,
) -> io::Result<(PathBuf, File)> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(old) = old {
        // Created no more open than the file it replaces (the umask may narrow it
        // further; `keep_permissions` then sets the exact mode): a 0600 checkpoint's
        // bytes are never readable by others, not even while they are being written.
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(old.permissions().mode() & 0o777);
    }
    #[cfg(not(unix))]
    let _ = old;
    let mut taken = None;
    for _ in 0..ATTEMPTS {
        let mut name = OsString::from(".");
        name.push(file_name);
        name.push(format!(".{}.tmp", suffix()));
        let tmp = dir.join(name);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(taken.unwrap_or_else(|| io::Error::other("no temporary name to try")))
}

/// Gives the new file the mode of the one it replaces (unix), as editing the file in place
/// would have kept it: re-saving a 0600 checkpoint must not make it world-readable.
/// Elsewhere, and for a new file, the system's default stands.
fn keep_permissions(file: &File, old: Option<&fs::Metadata>) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(old) = old {
        use std::os::unix::fs::PermissionsExt;
        let mode = old.permissions().mode() & 0o7777;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, old);
    Ok(())
}

/// A fresh suffix for a temporary name: 64 bits from the operating system's random
/// source. Not from kindling's global generator: a save must not shift the random stream
/// that `manual_seed` fixes. Where the OS has no random source to offer, the clock and a
/// counter stand in; `create_new` and the retries keep even a collision harmless.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => format!("{:016x}", u64::from_le_bytes(bytes)),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            format!("{nanos:x}-{n:x}")
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kindling-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Suffixes "a", "b", "c", ... in turn.
    fn letters() -> impl FnMut() -> String {
        let mut next = b'a';
        move || {
            let s = (next as char).to_string();
            next += 1;
            s
        }
    }

    #[test]
    fn a_taken_name_is_skipped_and_left_alone() {
        let dir = scratch("taken");
        let target = dir.join("m.kdl");
        fs::write(dir.join(".m.kdl.a.tmp"), b"theirs").unwrap();
        write_atomic_with(&target, letters(), |f| io::Write::write_all(f, b"ours")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"ours");
        assert_eq!(fs::read(dir.join(".m.kdl.a.tmp")).unwrap(), b"theirs");
        assert!(!dir.join(".m.kdl.b.tmp").exists(), "renamed into place");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn when_every_name_is_taken_the_save_fails_and_removes_nothing() {
        let dir = scratch("all-taken");
        let target = dir.join("m.kdl");
        let mut always_a = || "a".to_string();
        fs::write(dir.join(".m.kdl.a.tmp"), b"theirs").unwrap();
        let err = write_atomic_with(&target, &mut always_a, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("File exists"), "{err}");
        assert_eq!(fs::read(dir.join(".m.kdl.a.tmp")).unwrap(), b"theirs");
        assert!(!target.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_removes_its_own_temporary_file_only() {
        let dir = scratch("failed");
        let target = dir.join("m.kdl");
        fs::write(&target, b"old").unwrap();
        fs::write(dir.join(".m.kdl.a.tmp"), b"theirs").unwrap();
        let err = write_atomic_with(&target, letters(), |f| {
            io::Write::write_all(f, b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read(dir.join(".m.kdl.a.tmp")).unwrap(), b"theirs");
        assert!(!dir.join(".m.kdl.b.tmp").exists(), "ours was removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn suffixes_are_random() {
        let a = random_suffix();
        assert_eq!(a.len(), 16);
        assert_ne!(a, random_suffix());
    }
}
