//! Helpers shared by the integration tests: building small IDX files by hand
//! and a temporary folder that cleans up after itself.
//!
//! Writing the test files from code (rather than shipping fixtures) keeps
//! every test's input visible next to what it asserts.

#![allow(dead_code)] // each test file uses only some of these

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;

/// A fresh folder under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty folder whose name includes `label`, the process id and a
    /// counter, so tests running in parallel never share one.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "kindling-data-test-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` inside the folder and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An IDX file: the 4-byte magic, each dim as a big-endian u32, then `data`.
pub fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// An image file of `n` images of `rows x cols`, pixel `k` of the file
/// being `k % 256`, so every position has a predictable value.
pub fn images_file(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let len = (n * rows * cols) as usize;
    let data: Vec<u8> = (0..len).map(|k| (k % 256) as u8).collect();
    idx_bytes(0x0000_0803, &[n, rows, cols], &data)
}

/// A label file holding `labels`.
pub fn labels_file(labels: &[u8]) -> Vec<u8> {
    idx_bytes(0x0000_0801, &[labels.len() as u32], labels)
}

/// `bytes` gzip-compressed at `level` (0 to 9).
pub fn gzip_level(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// `bytes` gzip-compressed at the best level, like the shipped files.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    gzip_level(bytes, 9)
}

/// The decompressed content of a gzip file.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// The folder holding the shipped MNIST files.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist")
}
