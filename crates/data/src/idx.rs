//! A reader for IDX files, the simple binary format MNIST is published in.
//!
//! An IDX file is a big-endian header followed by raw data:
//!
//! ```text
//! bytes 0..2   0x00 0x00        always zero
//! byte  2      0x08             the data type: 0x08 means unsigned bytes
//! byte  3      N                the number of dimensions
//! then N big-endian u32         the size of each dimension
//! then the data                 product(dims) bytes, row-major
//! ```
//!
//! So MNIST images start with `0x00000803` (three dims: count, rows, cols)
//! and labels with `0x00000801` (one dim: count). Files may be gzip-compressed;
//! that is detected from the content (gzip files start with `1f 8b`), not from
//! the file name.
//!
//! The reader trusts nothing in the file: it reads the whole (decompressed)
//! content first, with a size cap, and only then compares the header against
//! the number of bytes actually present. A corrupt header claiming
//! 4 billion x 4 billion images therefore costs nothing but an error message.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::DataError;

/// The magic number of an IDX file of unsigned bytes with three dimensions:
/// MNIST images (count, rows, cols).
///
/// ```
/// assert_eq!(kindling::data::idx::IMAGES_MAGIC, 0x0000_0803);
/// ```
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

/// The magic number of an IDX file of unsigned bytes with one dimension:
/// MNIST labels (count).
///
/// ```
/// assert_eq!(kindling::data::idx::LABELS_MAGIC, 0x0000_0801);
/// ```
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The largest (decompressed) content the reader accepts, in bytes: 100 MiB.
///
/// The biggest MNIST file, the training images, is about 47 MB. The cap keeps
/// a corrupt or malicious file (a small gzip file can expand to gigabytes)
/// from exhausting memory.
///
/// ```
/// // Comfortably above 60000 images of 28 x 28 bytes.
/// assert!(kindling::data::idx::MAX_CONTENT_BYTES > 60_000 * 28 * 28 + 16);
/// ```
pub const MAX_CONTENT_BYTES: usize = 100 * 1024 * 1024;

/// The IDX data type byte for unsigned bytes, the only type MNIST uses.
const U8_DATA_TYPE: u8 = 0x08;

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An n-dimensional array of bytes read from an IDX file.
///
/// ```no_run
/// use kindling::data::idx;
///
/// let images = idx::read_images("datasets/mnist/t10k-images-idx3-ubyte.gz")?;
/// assert_eq!(images.dims, vec![10_000, 28, 28]);
/// assert_eq!(images.data.len(), 10_000 * 28 * 28);
/// # Ok::<(), kindling::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes with `ndims` dimensions, gzip-compressed
/// or not.
///
/// The expected magic number is `0x0000_08NN` with `NN = ndims`. The data must
/// be exactly as long as the dimensions say: missing and trailing bytes are
/// both errors.
///
/// ```no_run
/// use kindling::data::idx;
///
/// let labels = idx::read_idx("datasets/mnist/t10k-labels-idx1-ubyte.gz", 1)?;
/// assert_eq!(labels.dims, vec![10_000]);
/// # Ok::<(), kindling::data::DataError>(())
/// ```
///
/// # Errors
///
/// [`DataError::MissingFile`] or [`DataError::Io`] if the file cannot be read,
/// [`DataError::TooLarge`] or [`DataError::CorruptGzip`] for bad content,
/// [`DataError::Truncated`] if it ends inside the header or the gzip stream,
/// [`DataError::BadMagic`] and [`DataError::LengthMismatch`] if the header is
/// wrong.
pub fn read_idx(path: impl AsRef<Path>, ndims: u8) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let content = decode(path, read_file(path)?)?;
    parse(path, content, ndims)
}

/// Reads an IDX image file: three dimensions (count, rows, cols), magic
/// [`IMAGES_MAGIC`].
///
/// ```no_run
/// use kindling::data::idx;
///
/// let images = idx::read_images("datasets/mnist/train-images-idx3-ubyte.gz")?;
/// let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
/// assert_eq!((n, rows, cols), (60_000, 28, 28));
/// # Ok::<(), kindling::data::DataError>(())
/// ```
///
/// # Errors
///
/// As for [`read_idx`].
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    read_idx(path, 3)
}

/// Reads an IDX label file: one dimension, magic [`LABELS_MAGIC`], and every
/// label a digit in `0..=9`.
///
/// ```no_run
/// use kindling::data::idx;
///
/// let labels = idx::read_labels("datasets/mnist/train-labels-idx1-ubyte.gz")?;
/// assert_eq!(labels.len(), 60_000);
/// assert_eq!(labels[0], 5); // the first training image is a 5
/// # Ok::<(), kindling::data::DataError>(())
/// ```
///
/// # Errors
///
/// As for [`read_idx`], plus [`DataError::LabelOutOfRange`] for a label
/// above 9.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let labels = read_idx(path, 1)?.data;
    check_labels(path, &labels)?;
    Ok(labels)
}

/// Whether `bytes` start like a gzip stream (`1f 8b`).
///
/// ```
/// use kindling::data::idx::is_gzip;
///
/// assert!(is_gzip(&[0x1f, 0x8b, 0x08, 0x00]));
/// assert!(!is_gzip(&[0x00, 0x00, 0x08, 0x01]));
/// assert!(!is_gzip(&[0x1f])); // too short to tell: treated as raw
/// ```
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads a whole file, refusing anything larger than [`MAX_CONTENT_BYTES`].
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DataError::MissingFile {
            path: path.to_path_buf(),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    let within_cap = read_capped(file, &mut bytes).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !within_cap {
        return Err(too_large(path));
    }
    Ok(bytes)
}

/// Turns the bytes of a file into its content: decompressed if they are
/// gzip, unchanged otherwise.
pub(crate) fn decode(path: &Path, file_bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&file_bytes) {
        return Ok(file_bytes);
    }
    // MultiGzDecoder rather than GzDecoder: a gzip file may legally hold
    // several members back to back (e.g. after `cat a.gz b.gz`).
    let decoder = MultiGzDecoder::new(file_bytes.as_slice());
    let mut content = Vec::new();
    match read_capped(decoder, &mut content) {
        Ok(true) => Ok(content),
        Ok(false) => Err(too_large(path)),
        // flate2 reports a stream that stops before its end marker (or its
        // 8-byte CRC and size trailer) as an unexpected end of file.
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Err(DataError::Truncated {
            path: path.to_path_buf(),
            needed: None,
            found: content.len(),
        }),
        Err(err) => Err(DataError::CorruptGzip {
            path: path.to_path_buf(),
            reason: err.to_string(),
        }),
    }
}

/// Reads `reader` to its end into `out`, but at most [`MAX_CONTENT_BYTES`].
/// Returns `false` if there was more than that.
fn read_capped(reader: impl Read, out: &mut Vec<u8>) -> io::Result<bool> {
    // Asking for one byte more than the cap is how we learn that there *was*
    // more, without ever holding more than cap + 1 bytes.
    let limit = MAX_CONTENT_BYTES as u64 + 1;
    reader.take(limit).read_to_end(out)?;
    Ok(out.len() <= MAX_CONTENT_BYTES)
}

/// The error for content above [`MAX_CONTENT_BYTES`].
fn too_large(path: &Path) -> DataError {
    DataError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_CONTENT_BYTES,
    }
}

/// Checks the header of decompressed IDX `content` and splits off the data.
pub(crate) fn parse(path: &Path, content: Vec<u8>, ndims: u8) -> Result<IdxArray, DataError> {
    let expected_magic = u32::from_be_bytes([0, 0, U8_DATA_TYPE, ndims]);
    let Some(magic) = content.first_chunk::<4>() else {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            needed: Some(4),
            found: content.len(),
        });
    };
    let magic = u32::from_be_bytes(*magic);
    if magic != expected_magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: expected_magic,
            found: magic,
        });
    }

    let header_len = 4 + 4 * usize::from(ndims);
    if content.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            needed: Some(header_len),
            found: content.len(),
        });
    }
    let dims: Vec<usize> = content[4..header_len]
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();

    // checked_mul: a corrupt header can hold dims whose product overflows,
    // and a wrapped-around product could even match the real length.
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let found = content.len() - header_len;
    if expected != Some(found) {
        return Err(DataError::LengthMismatch {
            path: path.to_path_buf(),
            dims,
            expected,
            found,
        });
    }

    // Shift the data to the front of the buffer we already own instead of
    // copying it into a second one: the training images are 47 MB.
    let mut data = content;
    data.drain(..header_len);
    Ok(IdxArray { dims, data })
}

/// Fails on the first label that is not a digit.
pub(crate) fn check_labels(path: &Path, labels: &[u8]) -> Result<(), DataError> {
    match labels.iter().position(|&l| l > 9) {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            value: labels[index],
        }),
        None => Ok(()),
    }
}
