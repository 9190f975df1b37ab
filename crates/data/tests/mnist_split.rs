//! `MnistSplit::from_files` and `Mnist::load` on small hand-made files:
//! pairing images with labels, and the checksum rule for files that carry a
//! standard MNIST name.

mod common;

use common::{gzip, images_file, labels_file, TempDir};
use kindling_data::{DataError, Mnist, MnistSplit};

#[test]
fn pairs_images_with_labels() {
    let dir = TempDir::new("pairs");
    let images = dir.write("my-images.gz", &gzip(&images_file(3, 2, 5)));
    let labels = dir.write("my-labels", &labels_file(&[4, 0, 9]));
    let split = MnistSplit::from_files(&images, &labels).unwrap();
    assert_eq!(split.len(), 3);
    assert!(!split.is_empty());
    assert_eq!((split.rows, split.cols), (2, 5));
    assert_eq!(split.labels, vec![4, 0, 9]);
    assert_eq!(split.images.len(), 30);
    assert_eq!(split.image(2), &[20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
}

#[test]
fn counts_that_disagree() {
    let dir = TempDir::new("counts");
    let images = dir.write("images", &images_file(3, 2, 2));
    let labels = dir.write("labels", &labels_file(&[1, 2]));
    let err = MnistSplit::from_files(&images, &labels).unwrap_err();
    match &err {
        DataError::CountMismatch {
            images_path,
            labels_path,
            images: 3,
            labels: 2,
        } => {
            assert_eq!(images_path, &images);
            assert_eq!(labels_path, &labels);
        }
        other => panic!("expected CountMismatch(3, 2), got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("3 images") && text.contains("2 labels"),
        "{text}"
    );
}

#[test]
fn label_errors_come_through_from_files() {
    let dir = TempDir::new("split-label");
    let images = dir.write("images", &images_file(2, 2, 2));
    let labels = dir.write("labels", &labels_file(&[1, 10]));
    let err = MnistSplit::from_files(&images, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                value: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_standard_name_on_other_data_is_a_checksum_mismatch() {
    let dir = TempDir::new("impostor");
    // Valid IDX files, but not MNIST's: the standard names demand the real data.
    let images = dir.write("t10k-images-idx3-ubyte.gz", &gzip(&images_file(2, 28, 28)));
    let labels = dir.write("labels", &labels_file(&[1, 2]));
    match MnistSplit::from_files(&images, &labels) {
        Err(DataError::ChecksumMismatch {
            path,
            expected,
            found,
        }) => {
            assert_eq!(path, images);
            // The .gz file is compared with the published .gz checksum.
            assert_eq!(
                expected,
                "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"
            );
            assert_eq!(found.len(), 64);
            assert_ne!(found, expected);
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }

    // The raw name is checked against the checksum of the decompressed file.
    let images = dir.write("images", &images_file(2, 28, 28));
    let labels = dir.write("t10k-labels-idx1-ubyte", &labels_file(&[1, 2]));
    match MnistSplit::from_files(&images, &labels) {
        Err(DataError::ChecksumMismatch { path, expected, .. }) => {
            assert_eq!(path, labels);
            assert_eq!(
                expected,
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            );
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
}

#[test]
fn load_reports_the_missing_gz_file() {
    let dir = TempDir::new("load-missing");
    let err = Mnist::load(dir.path()).unwrap_err();
    match &err {
        DataError::MissingFile { path } => {
            assert_eq!(path.parent(), Some(dir.path()));
            assert!(path.to_string_lossy().ends_with("-ubyte.gz"), "{path:?}");
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
}

#[test]
fn load_checks_every_file_it_finds() {
    let dir = TempDir::new("load-impostors");
    dir.write("train-images-idx3-ubyte.gz", &gzip(&images_file(2, 28, 28)));
    dir.write("train-labels-idx1-ubyte.gz", &gzip(&labels_file(&[1, 2])));
    dir.write("t10k-images-idx3-ubyte.gz", &gzip(&images_file(1, 28, 28)));
    dir.write("t10k-labels-idx1-ubyte.gz", &gzip(&labels_file(&[3])));
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
}
