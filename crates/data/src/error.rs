//! [`DataError`], the one error type of this crate.
//!
//! Reading a dataset is where a program first meets the outside world, and the
//! outside world hands it missing, truncated and corrupt files. Every way a file
//! can be wrong has its own variant here, and every variant names the file and
//! says exactly what was wrong with it, so that a failed run tells the reader
//! what to fix instead of panicking with an index out of bounds.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading a dataset.
///
/// Each variant carries the path of the offending file. The [`Display`]
/// text is meant to be shown to a person as is: it names the file, says what
/// was expected and what was found.
///
/// ```
/// use kindling::data::{idx, DataError};
///
/// let err = idx::read_labels("no/such/dir/labels.gz").unwrap_err();
/// assert!(matches!(err, DataError::MissingFile { .. }));
/// // The message names the file and says how to point kindling elsewhere.
/// let text = err.to_string();
/// assert!(text.contains("no/such/dir/labels.gz"));
/// assert!(text.contains("KINDLING_MNIST_DIR"));
/// ```
///
/// [`Display`]: std::fmt::Display
// The messages: each variant's `#[error]`; the two that depend on a field's value are
// built by the functions after the impl block.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error(
        "{}: file not found. Point kindling at the folder that holds the MNIST files with \
         `--data DIR` or the KINDLING_MNIST_DIR environment variable (the repository ships \
         them in datasets/mnist)",
        .path.display()
    )]
    MissingFile {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// The file exists but could not be read (a permission problem, a
    /// directory where a file was expected, a failing disk...).
    #[error("{}: cannot read the file: {source}", .path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// The content (after decompression) is larger than
    /// [`MAX_CONTENT_BYTES`](crate::idx::MAX_CONTENT_BYTES); no MNIST file
    /// comes close, so this is a corrupt file or a gzip bomb.
    #[error(
        "{}: the content is larger than {limit} bytes, far more than any MNIST file; the \
         file is corrupt or not a dataset file",
        .path.display()
    )]
    TooLarge {
        /// The file being read.
        path: PathBuf,
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The file starts like a gzip file (bytes `1f 8b`) but its compressed
    /// stream is damaged: bad header, invalid deflate data or a checksum that
    /// does not match.
    #[error(
        "{}: the file starts like gzip but its compressed data is corrupt ({reason})",
        .path.display()
    )]
    CorruptGzip {
        /// The file being read.
        path: PathBuf,
        /// What the decompressor reported.
        reason: String,
    },
    /// The file ends too early: inside the IDX header, or (for a gzip file)
    /// before the compressed stream's end marker.
    #[error("{}", truncated_message(.path, .needed, .found))]
    Truncated {
        /// The file being read.
        path: PathBuf,
        /// How many bytes were needed, when that is known (it is for the
        /// header; it is not for a cut-off gzip stream).
        needed: Option<usize>,
        /// How many bytes of (decompressed) content the file held.
        found: usize,
    },
    /// The first four bytes are not the IDX magic number that was asked for.
    #[error(
        "{}: not the expected IDX file: the magic number should be {expected:#010x} but is \
         {found:#010x}",
        .path.display()
    )]
    BadMagic {
        /// The file being read.
        path: PathBuf,
        /// The magic number that was expected, e.g. `0x0000_0803` for images.
        expected: u32,
        /// The first four bytes of the content, read big-endian.
        found: u32,
    },
    /// The header's dimensions promise a different number of data bytes than
    /// the file holds (too few: it was cut; too many: trailing bytes).
    #[error("{}", length_mismatch_message(.path, .dims, .expected, .found))]
    LengthMismatch {
        /// The file being read.
        path: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// The product of the dimensions, or `None` if that product does not
        /// even fit in a `usize` (a corrupt header).
        expected: Option<usize>,
        /// How many data bytes follow the header.
        found: usize,
    },
    /// A label file holds a value that is not a digit 0..=9.
    #[error(
        "{}: label {index} is {value}, but MNIST labels are digits 0 to 9",
        .path.display()
    )]
    LabelOutOfRange {
        /// The file being read.
        path: PathBuf,
        /// The position of the first bad label (0-based).
        index: usize,
        /// Its value.
        value: u8,
    },
    /// A file with one of the four standard MNIST names is not the shipped
    /// file: its SHA-256 differs from the published one.
    #[error(
        "{}: not the shipped MNIST file: its SHA-256 should be {expected} but is {found}. \
         Copy the file again from the repository's datasets/mnist",
        .path.display()
    )]
    ChecksumMismatch {
        /// The file being read.
        path: PathBuf,
        /// The published SHA-256, lowercase hex.
        expected: String,
        /// The SHA-256 of the file that was read, lowercase hex.
        found: String,
    },
    /// The image file and the label file of one split hold different numbers
    /// of samples, so images and labels cannot be paired up.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; they must be equal",
        .images_path.display(),
        .labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// How many images the image file holds.
        images: usize,
        /// How many labels the label file holds.
        labels: usize,
    },
}

impl DataError {
    /// The file the error is about (the image file, for
    /// [`CountMismatch`](DataError::CountMismatch)).
    ///
    /// ```
    /// use kindling::data::idx;
    /// use std::path::Path;
    ///
    /// let err = idx::read_images("missing-images.gz").unwrap_err();
    /// assert_eq!(err.path(), Path::new("missing-images.gz"));
    /// ```
    pub fn path(&self) -> &Path {
        match self {
            DataError::MissingFile { path }
            | DataError::Io { path, .. }
            | DataError::TooLarge { path, .. }
            | DataError::CorruptGzip { path, .. }
            | DataError::Truncated { path, .. }
            | DataError::BadMagic { path, .. }
            | DataError::LengthMismatch { path, .. }
            | DataError::LabelOutOfRange { path, .. }
            | DataError::ChecksumMismatch { path, .. } => path,
            DataError::CountMismatch { images_path, .. } => images_path,
        }
    }
}

fn truncated_message(path: &Path, needed: &Option<usize>, found: &usize) -> String {
    match needed {
        Some(needed) => format!(
            "{}: truncated: the IDX header needs {needed} bytes but the content is only \
             {found} bytes long",
            path.display()
        ),
        None => format!(
            "{}: truncated: the gzip stream ends early, after {found} bytes of content (was \
             the copy or download interrupted?)",
            path.display()
        ),
    }
}

fn length_mismatch_message(
    path: &Path,
    dims: &[usize],
    expected: &Option<usize>,
    found: &usize,
) -> String {
    let shape = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" x ");
    match expected {
        Some(expected) => format!(
            "{}: the header says {shape} = {expected} data bytes but {found} bytes follow it",
            path.display()
        ),
        None => format!(
            "{}: the header says {shape} data bytes, a number too large to exist ({found} \
             bytes follow it); the header is corrupt",
            path.display()
        ),
    }
}
