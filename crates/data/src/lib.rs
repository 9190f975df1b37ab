//! Datasets for kindling: an IDX reader, the MNIST dataset and a
//! `DataLoader` that turns it into shuffled, normalised mini-batches.
//!
//! The pieces stack up from bytes to batches:
//!
//! - [`idx`] reads IDX files (gzip-compressed or raw) and checks every byte
//!   of their header against the data that is really there;
//! - [`mnist`] loads the four MNIST files, verifies their SHA-256 checksums
//!   and pairs images with labels;
//! - [`loader`] cuts a split into batches of `[B, 1, 28, 28]` tensors, with a
//!   seeded shuffle that can resume exactly in the middle of an epoch.
//!
//! Every failure is a [`DataError`] naming the file and what was wrong with
//! it; no input file, however corrupt, makes this crate panic.
//!
//! ```no_run
//! use kindling::data::{DataLoader, Mnist};
//!
//! let mnist = Mnist::load(Mnist::default_dir())?;
//! let loader = DataLoader::new(&mnist.train, 64).shuffle(42).drop_last(true);
//! for batch in loader.epoch(0) {
//!     assert_eq!(batch.images.shape(), &[64, 1, 28, 28]);
//!     assert_eq!(batch.labels.len(), 64);
//! }
//! # Ok::<(), kindling::data::DataError>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod idx;
pub mod loader;
pub mod mnist;

pub use error::DataError;
pub use loader::{Batch, Batches, DataLoader};
pub use mnist::{Mnist, MnistSplit};

/// Entry points for the fuzz target in `fuzz/`: the IDX reader on bytes already in
/// memory, with no file system involved. Not part of the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::idx::{self, IdxArray};
    use crate::DataError;

    const PATH: &str = "<fuzz input>";

    /// What [`idx::read_idx`] returns for a file holding `bytes` (gzip or raw).
    ///
    /// ```
    /// assert!(kindling::data::fuzzing::read_idx(b"\x00\x00\x08\x01\x00\x00\x00\x00", 1).is_ok());
    /// assert!(kindling::data::fuzzing::read_idx(b"garbage", 1).is_err());
    /// ```
    pub fn read_idx(bytes: &[u8], ndims: u8) -> Result<IdxArray, DataError> {
        let path = Path::new(PATH);
        let content = idx::decode(path, bytes.to_vec())?;
        idx::parse(path, content, ndims)
    }

    /// What [`idx::read_labels`] returns for a file holding `bytes`.
    ///
    /// ```
    /// let labels = b"\x00\x00\x08\x01\x00\x00\x00\x01\x0a";
    /// assert!(kindling::data::fuzzing::read_labels(labels).is_err()); // 10 is no digit
    /// ```
    pub fn read_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
        let labels = read_idx(bytes, 1)?.data;
        idx::check_labels(Path::new(PATH), &labels)?;
        Ok(labels)
    }
}
