//! `CheckpointError`: everything that can go wrong saving or loading a checkpoint, one
//! variant per kind of problem, each naming the file and what exactly was wrong.
//!
//! The variants are distinct because the remedies are: a missing file (Io) is a typo, a
//! truncated one is an interrupted copy, a bad checksum is damaged storage, a bad magic
//! number is the wrong kind of file, a newer version needs a newer kindling, and a
//! mismatch means the checkpoint belongs to another architecture.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use kindling_nn::LoadReport;
use kindling_optim::OptimError;

/// Why a checkpoint could not be saved, loaded or restored. Nothing was changed: a failed
/// save leaves the previous file in place, a failed load or restore leaves the model and
/// optimizer as they were.
///
/// ```
/// use kindling_checkpoint::{load, CheckpointError};
/// let err = load("/no/such/dir/model.kdl").unwrap_err();
/// assert!(matches!(err, CheckpointError::Io { .. }));
/// assert!(err.to_string().starts_with("cannot read checkpoint /no/such/dir/model.kdl: "));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The operating system refused: no such file, a directory, no permission, disk full.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"`, `"write"`, `"rename into place"`, ...
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file ends before its header says it should: an interrupted copy or download.
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
    BadChecksum {
        /// The file.
        path: PathBuf,
        /// The checksum the header holds, in hex.
        stored: String,
        /// The checksum of the contents, in hex.
        computed: String,
    },
    /// The file does not start the way the expected format starts.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The format that was expected: `"a kindling checkpoint"` or `"a safetensors file"`.
        expected: &'static str,
        /// A guess at what the file is instead, when its first bytes tell.
        looks_like: Option<&'static str>,
    },
    /// The file was written in a newer format version than this kindling reads.
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
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        detail: String,
    },
    /// A native checkpoint of the other kind: model weights only where a training
    /// checkpoint was expected.
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A safetensors tensor whose element type kindling cannot hold as `f32`.
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// Its dtype, as safetensors names it (`"BF16"`, `"U8"`, ...).
        dtype: String,
    },
    /// The checkpoint's keys or shapes do not fit the model (another architecture).
    Mismatch {
        /// The file, or `None` for a checkpoint already in memory.
        path: Option<PathBuf>,
        /// Every missing key, unexpected key and shape mismatch (with both shapes).
        report: LoadReport,
    },
    /// The optimizer or scheduler state does not fit the optimizer or scheduler it is
    /// restored into (another optimizer, other parameter shapes).
    Optimizer {
        /// The file, or `None` for a checkpoint already in memory.
        path: Option<PathBuf>,
        /// `"optimizer"` or `"scheduler"`.
        part: &'static str,
        /// The optimizer crate's error.
        source: OptimError,
    },
    /// A part the restore needs is not in the checkpoint (a scheduler state, when the
    /// checkpoint was captured without one).
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
    /// let err = kindling_checkpoint::load("missing.kdl").unwrap_err();
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
            | CheckpointError::UnsupportedDtype { path, .. } => Some(path),
            CheckpointError::Mismatch { path, .. }
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

    pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> Self {
        CheckpointError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.into(),
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

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io {
                path,
                action,
                source,
            } => {
                write!(f, "cannot {action} checkpoint {}: {source}", path.display())?;
                if source.kind() == io::ErrorKind::IsADirectory {
                    write!(f, " (the path names a directory; give the file's path)")?;
                }
                Ok(())
            }
            CheckpointError::Truncated {
                path,
                expected,
                found,
            } => {
                if *found == 0 {
                    write!(
                        f,
                        "checkpoint {} is empty (0 bytes): nothing was written to it, or it \
                         was cut off before its first byte",
                        path.display()
                    )
                } else {
                    write!(
                        f,
                        "checkpoint {} is truncated: it has {found} bytes but needs {expected} \
                         (an interrupted copy or download?)",
                        path.display()
                    )
                }
            }
            CheckpointError::BadChecksum {
                path,
                stored,
                computed,
            } => write!(
                f,
                "checkpoint {} is damaged: its SHA-256 checksum does not match its contents \
                 (stored {}..., computed {}...); the bytes changed after they were written \
                 (bad storage or a faulty copy)",
                path.display(),
                short(stored),
                short(computed)
            ),
            CheckpointError::BadMagic {
                path,
                expected,
                looks_like,
            } => {
                write!(f, "{} is not {expected}", path.display())?;
                match looks_like {
                    Some(what) => write!(f, "; it looks like {what}"),
                    None => write!(f, " (its first bytes match no format kindling knows)"),
                }
            }
            CheckpointError::UnsupportedVersion {
                path,
                found,
                supported,
                written_by,
            } => {
                write!(
                    f,
                    "checkpoint {} uses format version {found}",
                    path.display()
                )?;
                if let Some(v) = written_by {
                    write!(f, " (written by kindling {v})")?;
                }
                write!(
                    f,
                    ", but this is kindling {}, which reads format version {supported} and \
                     older: upgrade kindling to load it",
                    crate::KINDLING_VERSION
                )
            }
            CheckpointError::Corrupt { path, detail } => {
                write!(f, "checkpoint {} is corrupt: {detail}", path.display())
            }
            CheckpointError::WrongKind {
                path,
                found,
                expected,
            } => write!(
                f,
                "{} holds {found}, but {expected} was expected",
                path.display()
            ),
            CheckpointError::UnsupportedDtype { path, key, dtype } => write!(
                f,
                "{}: tensor {key:?} has dtype {dtype}; kindling reads F32, F64 and I64 \
                 (converting them to f32)",
                path.display()
            ),
            CheckpointError::Mismatch { path, report } => {
                write!(
                    f,
                    "{} does not fit this model (nothing was loaded)",
                    which(path)
                )?;
                if !report.missing.is_empty() {
                    write!(
                        f,
                        "; missing keys (in the model, not in the checkpoint): {}",
                        report.missing.join(", ")
                    )?;
                }
                if !report.unexpected.is_empty() {
                    write!(
                        f,
                        "; unexpected keys (in the checkpoint, not in the model): {}",
                        report.unexpected.join(", ")
                    )?;
                }
                for m in &report.mismatched {
                    write!(
                        f,
                        "; shape mismatch for {}: the model has {:?}, the checkpoint has {:?}",
                        m.key, m.expected, m.found
                    )?;
                }
                Ok(())
            }
            CheckpointError::Optimizer { path, part, source } => write!(
                f,
                "the {part} state in {} does not fit this {part} (nothing was restored): \
                 {source}",
                which(path)
            ),
            CheckpointError::MissingPart { path, part } => write!(
                f,
                "{} holds no {part} state (it was captured without one), so there is no \
                 {part} to restore",
                which(path)
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::Optimizer { source, .. } => Some(source),
            _ => None,
        }
    }
}
