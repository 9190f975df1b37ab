//! `CheckpointError`: everything that can go wrong saving or loading a checkpoint, one
//! variant per kind of problem, each naming the file and what exactly was wrong.
//!
//! The variants are distinct because the remedies are: a missing file (Io) is a typo, a
//! truncated one is an interrupted copy, a bad checksum is damaged storage, a bad magic
//! number is the wrong kind of file, a newer version needs a newer kindling, and a
//! mismatch means the checkpoint belongs to another architecture.

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

use kindling_nn::LoadReport;
use kindling_optim::OptimError;

/// Why a checkpoint could not be saved, loaded or restored. Nothing was changed: a failed
/// save leaves the previous file in place, a failed load or restore leaves the model and
/// optimizer as they were.
///
/// ```
/// use kindling::checkpoint::{load, CheckpointError};
/// let err = load("/no/such/dir/model.kdl").unwrap_err();
/// assert!(matches!(err, CheckpointError::Io { .. }));
/// assert!(err.to_string().starts_with("cannot read checkpoint /no/such/dir/model.kdl: "));
/// ```
// The messages: each variant's `#[error]` below; the ones that depend on a field's value
// are built by the functions after the impl block.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The operating system refused: no such file, a directory, no permission, disk full.
    #[error("{}", io_message(.path, .action, .source))]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"`, `"write"`, `"rename into place"`, ...
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file ends before its header says it should: an interrupted copy or download.
    #[error("{}", truncated_message(.path, .expected, .found))]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The size the format or the header requires, in bytes.
        expected: u64,
        /// The file's actual size, in bytes.
        found: u64,
    },
    /// The SHA-256 checksum stored in the header does not match the file's contents: the
    /// bytes were damaged after they were written.
    #[error(
        "checkpoint {} is damaged: its SHA-256 checksum does not match its contents \
         (stored {}..., computed {}...); the bytes changed after they were written \
         (bad storage or a faulty copy)",
        .path.display(),
        short(.stored),
        short(.computed)
    )]
    BadChecksum {
        /// The file.
        path: PathBuf,
        /// The checksum the header holds, in hex.
        stored: String,
        /// The checksum of the contents, in hex.
        computed: String,
    },
    /// The file does not start the way the expected format starts.
    #[error("{}", bad_magic_message(.path, .expected, .looks_like))]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The format that was expected: `"a kindling checkpoint"` or `"a safetensors file"`.
        expected: &'static str,
        /// A guess at what the file is instead, when its first bytes tell.
        looks_like: Option<&'static str>,
    },
    /// The file was written in a newer format version than this kindling reads.
    #[error("{}", unsupported_version_message(.path, .found, .supported, .written_by))]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The file's format version.
        found: u32,
        /// The newest format version this kindling reads.
        supported: u32,
        /// The kindling version that wrote the file, when it could be read.
        written_by: Option<String>,
    },
    /// The structure is inconsistent: lengths that do not add up, malformed metadata,
    /// duplicate keys, an undecodable training state.
    #[error("checkpoint {} is corrupt: {detail}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        detail: String,
    },
    /// A native checkpoint of the other kind: model weights only where a training
    /// checkpoint was expected.
    #[error("{} holds {found}, but {expected} was expected", .path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A safetensors tensor whose element type kindling cannot hold as `f32`.
    #[error(
        "{}: tensor {key:?} has dtype {dtype}; kindling reads F32, F64 and I64 \
         (converting them to f32)",
        .path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// Its dtype, as safetensors names it (`"BF16"`, `"U8"`, ...).
        dtype: String,
    },
    /// A key the target format cannot hold, found before anything was written.
    #[error("cannot save {}: the key {key:?} {reason}", .path.display())]
    InvalidKey {
        /// The file that was to be written.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why the format cannot hold it, and what to do.
        reason: &'static str,
    },
    /// The checkpoint's keys or shapes do not fit the model (another architecture).
    #[error("{}", mismatch_message(.path, .report))]
    Mismatch {
        /// The file, or `None` for a checkpoint already in memory.
        path: Option<PathBuf>,
        /// Every missing key, unexpected key and shape mismatch (with both shapes).
        report: LoadReport,
    },
    /// The optimizer or scheduler state does not fit the optimizer or scheduler it is
    /// restored into (another optimizer, other parameter shapes).
    #[error(
        "the {part} state in {} does not fit this {part} (nothing was restored): {source}",
        which(.path)
    )]
    Optimizer {
        /// The file, or `None` for a checkpoint already in memory.
        path: Option<PathBuf>,
        /// `"optimizer"` or `"scheduler"`.
        part: &'static str,
        /// The optimizer crate's error.
        source: OptimError,
    },
    /// A training checkpoint whose structure is sound but whose values a run cannot go on
    /// from: an all-zero random generator state, a counter at the end of its range.
    /// Refused by `save_training`, `load_training` and `restore`.
    #[error("{} cannot be resumed: {detail}", which(.path))]
    BadState {
        /// The file, or `None` for a checkpoint in memory.
        path: Option<PathBuf>,
        /// Which value, and why the run cannot continue from it.
        detail: String,
    },
    /// A part the restore needs is not in the checkpoint (a scheduler state, when the
    /// checkpoint was captured without one).
    #[error(
        "{} holds no {part} state (it was captured without one), so there is no \
         {part} to restore",
        which(.path)
    )]
    MissingPart {
        /// The file, or `None` for a checkpoint already in memory.
        path: Option<PathBuf>,
        /// The missing part: `"scheduler"`.
        part: &'static str,
    },
}

impl CheckpointError {
    /// The file the error is about (`None` for a restore from a checkpoint in memory).
    ///
    /// ```
    /// let err = kindling::checkpoint::load("missing.kdl").unwrap_err();
    /// assert_eq!(err.path(), Some(std::path::Path::new("missing.kdl")));
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            CheckpointError::Io { path, .. }
            | CheckpointError::Truncated { path, .. }
            | CheckpointError::BadChecksum { path, .. }
            | CheckpointError::BadMagic { path, .. }
            | CheckpointError::UnsupportedVersion { path, .. }
            | CheckpointError::Corrupt { path, .. }
            | CheckpointError::WrongKind { path, .. }
            | CheckpointError::UnsupportedDtype { path, .. }
            | CheckpointError::InvalidKey { path, .. } => Some(path),
            CheckpointError::Mismatch { path, .. }
            | CheckpointError::BadState { path, .. }
            | CheckpointError::Optimizer { path, .. }
            | CheckpointError::MissingPart { path, .. } => path.as_deref(),
        }
    }

    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        CheckpointError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// A `Corrupt` error. The detail often quotes the file (through `{:?}`, or inside a
    /// parser's message), so it passes through [`printable`] here, once for all.
    pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> Self {
        CheckpointError::Corrupt {
            path: path.to_path_buf(),
            detail: printable(&detail.into()),
        }
    }

    pub(crate) fn truncated(path: &Path, expected: u64, found: u64) -> Self {
        CheckpointError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        }
    }
}

/// `s` with every character a terminal could act on (control characters such as ESC and
/// BEL, and invisible ones such as a right-to-left override) escaped as `escape_debug`
/// writes them, and everything else, quotes and backslashes included, left as it is: for
/// messages that quote a file's strings, or a parser's message that may.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let escaped = c.escape_debug();
        if escaped.len() == 1 || matches!(c, '"' | '\'' | '\\') {
            out.push(c);
        } else {
            out.extend(escaped);
        }
    }
    out
}

/// The first 16 hex digits: enough to tell two checksums apart in a message.
fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

fn which(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("checkpoint {}", p.display()),
        None => "the checkpoint".to_string(),
    }
}

fn io_message(path: &Path, action: &str, source: &io::Error) -> String {
    let mut m = format!("cannot {action} checkpoint {}: {source}", path.display());
    if source.kind() == io::ErrorKind::IsADirectory {
        m.push_str(" (the path names a directory; give the file's path)");
    }
    m
}

fn truncated_message(path: &Path, expected: &u64, found: &u64) -> String {
    if *found == 0 {
        format!(
            "checkpoint {} is empty (0 bytes): nothing was written to it, or it was cut off \
             before its first byte",
            path.display()
        )
    } else {
        format!(
            "checkpoint {} is truncated: it has {found} bytes but needs {expected} (an \
             interrupted copy or download?)",
            path.display()
        )
    }
}

fn bad_magic_message(path: &Path, expected: &str, looks_like: &Option<&str>) -> String {
    match looks_like {
        Some(what) => format!("{} is not {expected}; it looks like {what}", path.display()),
        None => format!(
            "{} is not {expected} (its first bytes match no format kindling knows)",
            path.display()
        ),
    }
}

fn unsupported_version_message(
    path: &Path,
    found: &u32,
    supported: &u32,
    written_by: &Option<String>,
) -> String {
    let mut m = format!("checkpoint {} uses format version {found}", path.display());
    if let Some(v) = written_by {
        // From the file's metadata.
        let _ = write!(m, " (written by kindling {})", v.escape_debug());
    }
    let _ = write!(
        m,
        ", but this is kindling {}, which reads format version {supported} and older: \
         upgrade kindling to load it",
        crate::KINDLING_VERSION
    );
    m
}

/// The keys, escaped (the checkpoint's come from the file), separated by commas.
fn keys(keys: &[String]) -> String {
    let escaped: Vec<String> = keys.iter().map(|k| k.escape_debug().to_string()).collect();
    escaped.join(", ")
}

fn mismatch_message(path: &Option<PathBuf>, report: &LoadReport) -> String {
    let mut m = format!(
        "{} does not fit this model (nothing was loaded)",
        which(path)
    );
    if !report.missing.is_empty() {
        let _ = write!(
            m,
            "; missing keys (in the model, not in the checkpoint): {}",
            keys(&report.missing)
        );
    }
    if !report.unexpected.is_empty() {
        let _ = write!(
            m,
            "; unexpected keys (in the checkpoint, not in the model): {}",
            keys(&report.unexpected)
        );
    }
    for mm in &report.mismatched {
        let _ = write!(
            m,
            "; shape mismatch for {}: the model has {:?}, the checkpoint has {:?}",
            mm.key.escape_debug(),
            mm.expected,
            mm.found
        );
    }
    m
}
