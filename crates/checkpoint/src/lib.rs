//! # kindling-checkpoint
//!
//! Saving and loading what training produces: a model's [`StateDict`], and everything a
//! run needs to resume exactly ([`TrainingCheckpoint`]: weights, optimizer moments, LR
//! schedule, epoch and step counters, the global random generator).
//!
//! Two file formats:
//! - kindling's **native** format ([`save`], [`load`], [`save_training`], [`load_training`]):
//!   a fixed 64-byte header with a magic number, a format version and a SHA-256 checksum,
//!   then a JSON description of the tensors, then the raw little-endian `f32` data (and,
//!   for training checkpoints, the optimizer state encoded with postcard). Loading checks
//!   everything before building anything, so it never panics and never half-loads.
//! - **safetensors** ([`save_safetensors`], [`load_safetensors`]), with PyTorch's key names
//!   and layouts, so `model.load_state_dict(safetensors.torch.load_file(path))` works in
//!   PyTorch for the same architecture, and back.
//!
//! Every save is atomic: it writes a temporary file next to the target, flushes it to disk
//! and renames it over the target, so a crash mid-save leaves the previous file intact.
//!
//! Where to find things: the native container in `format.rs`, the atomic write in
//! `atomic.rs`, the header-first bounded read in `read.rs`, the error type in `error.rs`, model save/load in `native.rs`, training
//! checkpoints in `training.rs` (and format version 1's training state, converted on load,
//! in `v1.rs`), safetensors in `safetensors_io.rs`, and the guess at what a foreign file is
//! (for error messages) in `sniff.rs`. `docs/checkpoints.md` is the
//! chapter that explains the choices.
//!
//! ```
//! use kindling::checkpoint::{load, save};
//! use kindling::nn::{Linear, Module};
//! let dir = std::env::temp_dir().join(format!("kindling-doc-lib-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.kdl");
//!
//! let model = Linear::new(3, 2);
//! save(&model.state_dict(), &path).unwrap();
//!
//! let mut fresh = Linear::new(3, 2);
//! fresh.load_state_dict(&load(&path).unwrap()).unwrap();
//! assert_eq!(fresh.weight().to_vec(), model.weight().to_vec());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

#![warn(missing_docs)]

mod atomic;
mod error;
mod format;
mod native;
mod read;
mod safetensors_io;
mod sniff;
mod training;
mod v1;

pub use error::CheckpointError;
pub use format::{FORMAT_VERSION, HEADER_LEN, MAGIC};
pub use native::{load, load_into, save};
pub use safetensors_io::{load_safetensors, load_safetensors_into, save_safetensors};
pub use training::{load_training, save_training, TrainingCheckpoint};

// Re-exported so that users of this crate name the same types the signatures use.
pub use kindling_nn::{LoadReport, StateDict};

/// The version of kindling that writes checkpoints, recorded in every native file so an
/// error about a file from another version can say which one wrote it.
///
/// ```
/// assert_eq!(kindling::checkpoint::KINDLING_VERSION, env!("CARGO_PKG_VERSION"));
/// ```
pub const KINDLING_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Entry points for the fuzz target in `fuzz/` and for the corruption tests: the decoders
/// on bytes already in memory, with no file system involved. Not part of the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::{CheckpointError, StateDict, TrainingCheckpoint};

    const PATH: &str = "<fuzz input>";

    /// Decodes `bytes` as [`crate::load`] would decode a file holding them.
    ///
    /// ```
    /// assert!(kindling::checkpoint::fuzzing::decode_model(b"garbage").is_err());
    /// ```
    pub fn decode_model(bytes: &[u8]) -> Result<StateDict, CheckpointError> {
        crate::native::decode_model(bytes, Path::new(PATH))
    }

    /// Decodes `bytes` as [`crate::load_training`] would decode a file holding them.
    ///
    /// ```
    /// assert!(kindling::checkpoint::fuzzing::decode_training(b"").is_err());
    /// ```
    pub fn decode_training(bytes: &[u8]) -> Result<TrainingCheckpoint, CheckpointError> {
        crate::training::decode_training(bytes, Path::new(PATH))
    }

    /// Decodes `bytes` as [`crate::load_safetensors`] would decode a file holding them.
    ///
    /// ```
    /// assert!(kindling::checkpoint::fuzzing::decode_safetensors(&[0; 8]).is_err());
    /// ```
    pub fn decode_safetensors(bytes: &[u8]) -> Result<StateDict, CheckpointError> {
        crate::safetensors_io::decode(bytes, Path::new(PATH))
    }

    /// Writes `ckpt` as [`crate::save_training`] does but without checking its values
    /// first, so that tests can make the crafted files a loader must refuse.
    ///
    /// ```
    /// use kindling::checkpoint::{fuzzing, TrainingCheckpoint};
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::Sgd;
    /// let model = Linear::new(1, 1);
    /// let ckpt = TrainingCheckpoint::capture(&model, &Sgd::new(model.parameters(), 0.1), 0, 0);
    /// let path = std::env::temp_dir().join(format!("kindling-doc-wtu-{}.kdl", std::process::id()));
    /// fuzzing::write_training_unchecked(&ckpt, &path).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write_training_unchecked(
        ckpt: &TrainingCheckpoint,
        path: impl AsRef<Path>,
    ) -> Result<(), CheckpointError> {
        crate::training::write_training(ckpt, path.as_ref())
    }

    /// Overwrites the checksum field of a native file (if it is long enough to have one)
    /// with the checksum of its contents, so that a fuzzer's mutations get past the
    /// checksum and reach the parser behind it: a random mutation almost never survives
    /// SHA-256, which would leave the metadata and payload parsers untested.
    ///
    /// ```
    /// let mut bytes = vec![0u8; 100];
    /// kindling::checkpoint::fuzzing::fix_checksum(&mut bytes);
    /// assert_ne!(&bytes[32..64], &[0u8; 32]);
    /// ```
    pub fn fix_checksum(bytes: &mut [u8]) {
        crate::format::fix_checksum(bytes)
    }
}
