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
//! use kindling_data::{DataLoader, Mnist};
//!
//! let mnist = Mnist::load(Mnist::default_dir())?;
//! let loader = DataLoader::new(&mnist.train, 64).shuffle(42).drop_last(true);
//! for batch in loader.epoch(0) {
//!     assert_eq!(batch.images.shape(), &[64, 1, 28, 28]);
//!     assert_eq!(batch.labels.len(), 64);
//! }
//! # Ok::<(), kindling_data::DataError>(())
//! ```

pub mod error;
pub mod idx;
pub mod loader;
pub mod mnist;

pub use error::DataError;
pub use loader::{Batch, Batches, DataLoader};
pub use mnist::{Mnist, MnistSplit};
