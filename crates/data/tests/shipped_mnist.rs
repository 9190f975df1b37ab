//! The real MNIST files shipped in `datasets/mnist`: they load, their
//! checksums pass, and their contents are the well-known ones.

mod common;

use std::time::Instant;

use common::{gunzip, gzip_level, shipped_dir, TempDir};
use kindling_data::{DataError, Mnist, MnistSplit};

/// How many of each digit the splits hold (widely published counts).
const TRAIN_DIGITS: [usize; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_DIGITS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

fn digit_counts(split: &MnistSplit) -> [usize; 10] {
    let mut counts = [0; 10];
    for &l in &split.labels {
        counts[l as usize] += 1;
    }
    counts
}

#[test]
fn the_shipped_files_load_and_verify() {
    let start = Instant::now();
    let mnist = Mnist::load(shipped_dir()).unwrap();
    eprintln!("Mnist::load took {:?}", start.elapsed());

    let train = &mnist.train;
    assert_eq!(train.len(), 60_000);
    assert_eq!((train.rows, train.cols), (28, 28));
    assert_eq!(train.images.len(), 60_000 * 28 * 28);
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(digit_counts(train), TRAIN_DIGITS);

    let test = &mnist.test;
    assert_eq!(test.len(), 10_000);
    assert_eq!((test.rows, test.cols), (28, 28));
    assert_eq!(test.images.len(), 10_000 * 28 * 28);
    assert_eq!(&test.labels[..5], &[7, 2, 1, 0, 4]);
    assert_eq!(digit_counts(test), TEST_DIGITS);

    // The first training image (a 5): its border is blank, its middle inked.
    let five = train.image(0);
    assert!(five[..28].iter().all(|&p| p == 0), "top row is background");
    assert_eq!(five.iter().filter(|&&p| p > 0).count(), 166);
    assert_eq!(five[5 * 28 + 12], 3); // row 5: the first faint stroke
    assert_eq!(five.iter().map(|&p| p as u64).sum::<u64>(), 27_525);
}

#[test]
fn default_dir_finds_the_shipped_files() {
    if std::env::var_os("KINDLING_MNIST_DIR").is_some() {
        return; // someone pointed it elsewhere on purpose
    }
    let dir = Mnist::default_dir();
    assert!(dir.join("train-images-idx3-ubyte.gz").is_file(), "{dir:?}");
}

#[test]
fn decompressed_files_verify_too() {
    let dir = TempDir::new("raw-mnist");
    let shipped = shipped_dir();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let gz = std::fs::read(shipped.join(format!("{name}.gz"))).unwrap();
        dir.write(name, &gunzip(&gz));
    }
    let test = MnistSplit::from_files(
        dir.path().join("t10k-images-idx3-ubyte"),
        dir.path().join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.labels[0], 7);
}

#[test]
fn recompressed_files_verify_by_their_content() {
    let dir = TempDir::new("regz-mnist");
    let shipped = std::fs::read(shipped_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    // Fast compression gives different .gz bytes around the same content.
    let regz = gzip_level(&gunzip(&shipped), 1);
    assert_ne!(regz, shipped);
    let labels = dir.write("t10k-labels-idx1-ubyte.gz", &regz);
    let images = shipped_dir().join("t10k-images-idx3-ubyte.gz");
    let test = MnistSplit::from_files(images, labels).unwrap();
    assert_eq!(&test.labels[..5], &[7, 2, 1, 0, 4]);
}

#[test]
fn one_changed_label_fails_the_checksum() {
    let dir = TempDir::new("tampered");
    let shipped = std::fs::read(shipped_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let mut content = gunzip(&shipped);
    content[8] = 1; // the first test label, really a 7
    let raw = dir.write("t10k-labels-idx1-ubyte", &content);
    let gz = dir.write("t10k-labels-idx1-ubyte.gz", &gzip_level(&content, 9));
    let images = shipped_dir().join("t10k-images-idx3-ubyte.gz");
    for labels in [raw, gz] {
        match MnistSplit::from_files(&images, &labels) {
            Err(DataError::ChecksumMismatch { path, found, .. }) => {
                assert_eq!(path, labels);
                assert_eq!(found.len(), 64);
            }
            other => panic!("{labels:?}: expected ChecksumMismatch, got {other:?}"),
        }
    }
}

#[test]
fn a_truncated_copy_of_a_shipped_file_is_reported() {
    let dir = TempDir::new("cut-mnist");
    let shipped = std::fs::read(shipped_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let labels = dir.write("t10k-labels-idx1-ubyte.gz", &shipped[..shipped.len() / 2]);
    let images = shipped_dir().join("t10k-images-idx3-ubyte.gz");
    // Its checksum is wrong too, but "truncated" says more about what happened.
    let err = MnistSplit::from_files(&images, &labels).unwrap_err();
    assert!(
        matches!(err, DataError::Truncated { needed: None, found, .. } if found < 10_008),
        "{err:?}"
    );
}
