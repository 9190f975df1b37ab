//! The MNIST dataset of handwritten digits: loading and verifying it.
//!
//! MNIST is four IDX files: 60000 training images and labels, 10000 test
//! images and labels, each image 28 x 28 grey pixels. [`Mnist::load`] reads
//! all four, checks them against the SHA-256 checksums of the files shipped
//! in the repository's `datasets/mnist`, and pairs images with labels into a
//! [`MnistSplit`] per split.
//!
//! Verifying checksums may look like overkill for a teaching framework, but a
//! half-copied or silently different dataset shows up much later as a model
//! that trains "a bit worse", which is very hard to debug. A checksum turns
//! that into an immediate, precise error.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::idx::{self, IdxArray};
use crate::DataError;

/// One of the four standard MNIST files and its published checksums.
struct KnownFile {
    /// The file name without `.gz`.
    name: &'static str,
    /// SHA-256 of the shipped `.gz` file, exactly as stored.
    gz_sha256: &'static str,
    /// SHA-256 of the decompressed content (the original IDX file).
    raw_sha256: &'static str,
}

const TRAIN_IMAGES: KnownFile = KnownFile {
    name: "train-images-idx3-ubyte",
    gz_sha256: "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    raw_sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
const TRAIN_LABELS: KnownFile = KnownFile {
    name: "train-labels-idx1-ubyte",
    gz_sha256: "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    raw_sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
const TEST_IMAGES: KnownFile = KnownFile {
    name: "t10k-images-idx3-ubyte",
    gz_sha256: "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    raw_sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
const TEST_LABELS: KnownFile = KnownFile {
    name: "t10k-labels-idx1-ubyte",
    gz_sha256: "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    raw_sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

const KNOWN_FILES: [&KnownFile; 4] = [&TRAIN_IMAGES, &TRAIN_LABELS, &TEST_IMAGES, &TEST_LABELS];

/// The environment variable that overrides where [`Mnist::default_dir`]
/// looks for the files.
///
/// ```
/// assert_eq!(kindling::data::mnist::MNIST_DIR_ENV, "KINDLING_MNIST_DIR");
/// ```
pub const MNIST_DIR_ENV: &str = "KINDLING_MNIST_DIR";

/// The whole MNIST dataset: the training split and the test split.
///
/// ```no_run
/// use kindling::data::Mnist;
///
/// let mnist = Mnist::load(Mnist::default_dir())?;
/// assert_eq!(mnist.train.len(), 60_000);
/// assert_eq!(mnist.test.len(), 10_000);
/// # Ok::<(), kindling::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// The 60000 training samples.
    pub train: MnistSplit,
    /// The 10000 test samples.
    pub test: MnistSplit,
}

/// One split of MNIST (or of any IDX image/label pair): images as raw bytes
/// and their labels.
///
/// Image `i` is `images[i * rows * cols .. (i + 1) * rows * cols]`, row by row,
/// each pixel 0 (background) to 255 (ink). The pixels stay bytes here, a
/// quarter of the memory of `f32`; the [`DataLoader`](crate::loader::DataLoader)
/// converts and normalises them one batch at a time.
///
/// ```
/// use kindling::data::MnistSplit;
///
/// // Two 2 x 2 images by hand.
/// let split = MnistSplit { images: vec![0, 255, 0, 255, 9, 9, 9, 9], labels: vec![1, 7], rows: 2, cols: 2 };
/// assert_eq!(split.len(), 2);
/// assert_eq!(split.image(1), &[9, 9, 9, 9]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistSplit {
    /// All pixels, `len() * rows * cols` bytes.
    pub images: Vec<u8>,
    /// One label per image, each a digit 0..=9.
    pub labels: Vec<u8>,
    /// Pixel rows per image (28 for MNIST).
    pub rows: usize,
    /// Pixel columns per image (28 for MNIST).
    pub cols: usize,
}

impl MnistSplit {
    /// Loads a split from an image file and a label file (gzip or raw).
    ///
    /// Files carrying one of the four standard MNIST names (with or without
    /// `.gz`) must be the real MNIST files: their SHA-256 is checked. Files
    /// with any other name are read without a checksum, so rename a dataset
    /// in the same format (Fashion-MNIST, say) before loading it here.
    ///
    /// ```no_run
    /// use kindling::data::MnistSplit;
    ///
    /// let test = MnistSplit::from_files(
    ///     "datasets/mnist/t10k-images-idx3-ubyte.gz",
    ///     "datasets/mnist/t10k-labels-idx1-ubyte.gz",
    /// )?;
    /// assert_eq!((test.len(), test.rows, test.cols), (10_000, 28, 28));
    /// # Ok::<(), kindling::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any [`DataError`] of the IDX reader, [`DataError::ChecksumMismatch`]
    /// for a standard file that is not the published one, and
    /// [`DataError::CountMismatch`] if the two files hold different numbers
    /// of samples.
    pub fn from_files(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
    ) -> Result<MnistSplit, DataError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = read_verified(images_path, 3)?;
        let labels = read_verified(labels_path, 1)?;
        idx::check_labels(labels_path, &labels.data)?;

        let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
        if n != labels.dims[0] {
            return Err(DataError::CountMismatch {
                images_path: images_path.to_path_buf(),
                labels_path: labels_path.to_path_buf(),
                images: n,
                labels: labels.dims[0],
            });
        }
        Ok(MnistSplit {
            images: images.data,
            labels: labels.data,
            rows,
            cols,
        })
    }

    /// The number of samples.
    ///
    /// ```
    /// use kindling::data::MnistSplit;
    ///
    /// let split = MnistSplit { images: vec![0; 3 * 4], labels: vec![0, 1, 2], rows: 2, cols: 2 };
    /// assert_eq!(split.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no samples.
    ///
    /// ```
    /// use kindling::data::MnistSplit;
    ///
    /// let empty = MnistSplit { images: vec![], labels: vec![], rows: 28, cols: 28 };
    /// assert!(empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`, `rows * cols` bytes row by row.
    ///
    /// ```
    /// use kindling::data::MnistSplit;
    ///
    /// let split = MnistSplit { images: vec![1, 2, 3, 4, 5, 6], labels: vec![0, 0, 0], rows: 1, cols: 2 };
    /// assert_eq!(split.image(2), &[5, 6]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.images[i * size..(i + 1) * size]
    }
}

impl Mnist {
    /// Loads and verifies MNIST from the folder `dir`.
    ///
    /// The folder must hold the four standard files, each either gzipped
    /// (`train-images-idx3-ubyte.gz`, as shipped) or raw
    /// (`train-images-idx3-ubyte`); the `.gz` name is tried first. Every file
    /// is checked against its published SHA-256 (see
    /// [`MnistSplit::from_files`]).
    ///
    /// ```no_run
    /// use kindling::data::Mnist;
    ///
    /// let mnist = Mnist::load("datasets/mnist")?;
    /// assert_eq!(mnist.train.labels[0], 5);
    /// # Ok::<(), kindling::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataError::MissingFile`] (naming the `.gz` file) if a file is in
    /// neither form, and any error of [`MnistSplit::from_files`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist, DataError> {
        let dir = dir.as_ref();
        let [train_images, train_labels, test_images, test_labels] =
            KNOWN_FILES.map(|known| find_file(dir, known.name));
        // The two splits are independent, and decompressing the training
        // images is most of the work: load them on two threads.
        let (train, test) = std::thread::scope(|s| {
            let test = s.spawn(|| MnistSplit::from_files(&test_images, &test_labels));
            let train = MnistSplit::from_files(&train_images, &train_labels);
            // A panic cannot come out of the reader; if one did, re-raising
            // it here keeps its message instead of hiding it.
            let test = test
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (train, test)
        });
        Ok(Mnist {
            train: train?,
            test: test?,
        })
    }

    /// Where to look for MNIST when the user did not say.
    ///
    /// In order: the folder named by the `KINDLING_MNIST_DIR` environment
    /// variable if it is set; else the repository's `datasets/mnist`, found
    /// from where this crate was compiled; else `./datasets/mnist` relative
    /// to the current directory (for a binary moved off the machine that
    /// built it).
    ///
    /// ```
    /// use kindling::data::Mnist;
    ///
    /// let dir = Mnist::default_dir();
    /// assert!(dir.ends_with("datasets/mnist") || std::env::var_os("KINDLING_MNIST_DIR").is_some());
    /// ```
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os(MNIST_DIR_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let in_repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
        if in_repo.is_dir() {
            return in_repo;
        }
        PathBuf::from("datasets/mnist")
    }
}

/// `dir/NAME.gz` if it exists, else `dir/NAME` if that exists, else
/// `dir/NAME.gz` (so the "missing file" error names the shipped form).
fn find_file(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if !gz.exists() && raw.exists() {
        raw
    } else {
        gz
    }
}

/// Reads an IDX file, verifying its checksum if it has a standard MNIST name.
fn read_verified(path: &Path, ndims: u8) -> Result<IdxArray, DataError> {
    let file_bytes = idx::read_file(path)?;
    let Some(known) = known_file(path) else {
        return idx::parse(path, idx::decode(path, file_bytes)?, ndims);
    };

    let was_gzip = idx::is_gzip(&file_bytes);
    // Hashing the small .gz is the fast path; the decompressed content is
    // hashed only when that fails (see below) or when the file is raw.
    let file_sha = sha256_hex(&file_bytes);
    let content = idx::decode(path, file_bytes)?;
    let verified = if was_gzip {
        // A file recompressed with other gzip settings has a different .gz
        // checksum but the very same data, so it is accepted too.
        file_sha == known.gz_sha256 || sha256_hex(&content) == known.raw_sha256
    } else {
        file_sha == known.raw_sha256
    };
    if !verified {
        return Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: if was_gzip {
                known.gz_sha256
            } else {
                known.raw_sha256
            }
            .to_string(),
            found: file_sha,
        });
    }
    idx::parse(path, content, ndims)
}

/// The standard MNIST file that `path` is named after, if any.
fn known_file(path: &Path) -> Option<&'static KnownFile> {
    let name = path.file_name()?.to_str()?;
    let name = name.strip_suffix(".gz").unwrap_or(name);
    KNOWN_FILES.into_iter().find(|known| known.name == name)
}

/// SHA-256 of `bytes` as lowercase hex, the form `sha256sum` prints.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
