//! Saving and loading a model's weights in the native format: [`save`], [`load`], and
//! [`load_into`], which loads straight into a model and reports an architecture mismatch
//! key by key.

use std::path::Path;

use kindling_nn::{Module, StateDict};

use crate::atomic::write_atomic;
use crate::format::{self, Kind};
use crate::CheckpointError;

/// Saves a state dict to `path` in kindling's native format, atomically: a crash or a
/// kill during the save leaves the previous file at `path` intact.
///
/// # Errors
/// [`CheckpointError::Io`] when the directory does not exist, is not writable, the disk
/// is full, or `path` is a directory.
///
/// ```
/// use kindling::checkpoint::save;
/// use kindling::nn::{BatchNorm1d, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-save-{}.kdl", std::process::id()));
/// save(&BatchNorm1d::new(4).state_dict(), &path).unwrap();
/// assert!(std::fs::metadata(&path).unwrap().len() > 64);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save(sd: &StateDict, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    write_atomic(path, |file| format::write(file, Kind::Model, sd, &[]))
}

/// Loads a state dict saved by [`save`] (or the model part of a [`save_training`]
/// checkpoint). The whole file is checked (magic, version, length, SHA-256 checksum,
/// metadata) before any tensor is built: a damaged file gives an `Err`, never a panic and
/// never a partial result.
///
/// [`save_training`]: crate::save_training
///
/// # Errors
/// [`CheckpointError::Io`], [`Truncated`](CheckpointError::Truncated),
/// [`BadChecksum`](CheckpointError::BadChecksum), [`BadMagic`](CheckpointError::BadMagic),
/// [`UnsupportedVersion`](CheckpointError::UnsupportedVersion) or
/// [`Corrupt`](CheckpointError::Corrupt), each naming the file and the problem.
///
/// ```
/// use kindling::checkpoint::{load, save, CheckpointError};
/// use kindling::nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-load-{}.kdl", std::process::id()));
/// save(&Linear::new(2, 2).state_dict(), &path).unwrap();
/// assert_eq!(load(&path).unwrap().keys(), vec!["weight", "bias"]);
///
/// std::fs::write(&path, b"not a checkpoint").unwrap();
/// assert!(matches!(load(&path), Err(CheckpointError::BadMagic { .. })));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<StateDict, CheckpointError> {
    let path = path.as_ref();
    let bytes = format::read(path)?;
    decode_model(&bytes, path)
}

pub(crate) fn decode_model(bytes: &[u8], path: &Path) -> Result<StateDict, CheckpointError> {
    // A training checkpoint holds a model too; its training state is checked by the
    // checksum like everything else but not decoded here.
    Ok(format::decode(bytes, path)?.tensors)
}

/// Loads the checkpoint at `path` into `module`, strictly: every key of the model must be
/// in the file with the same shape, and the file may hold no other key. On any error the
/// module is unchanged.
///
/// # Errors
/// Everything [`load`] returns, and [`CheckpointError::Mismatch`] for a checkpoint of
/// another architecture, listing the missing keys, the unexpected keys and every shape
/// mismatch with both shapes.
///
/// ```
/// use kindling::checkpoint::{load_into, save, CheckpointError};
/// use kindling::nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-into-{}.kdl", std::process::id()));
/// save(&Linear::new(4, 3).state_dict(), &path).unwrap();
///
/// let mut same = Linear::new(4, 3);
/// load_into(&mut same, &path).unwrap();
///
/// let mut other = Linear::new(2, 3);
/// let err = load_into(&mut other, &path).unwrap_err();
/// assert!(matches!(err, CheckpointError::Mismatch { .. }));
/// assert!(err.to_string().contains("shape mismatch for weight: the model has [3, 2], the checkpoint has [3, 4]"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_into(module: &mut dyn Module, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let sd = load(path)?;
    load_checked(module, &sd, Some(path))
}

/// `module.load_state_dict(sd)` with the error converted; strict loading changes nothing
/// when it fails, so neither does this.
pub(crate) fn load_checked(
    module: &mut dyn Module,
    sd: &StateDict,
    path: Option<&Path>,
) -> Result<(), CheckpointError> {
    module
        .load_state_dict(sd)
        .map_err(|e| CheckpointError::Mismatch {
            path: path.map(Path::to_path_buf),
            report: e.report,
        })
}
