//! The IDX reader on small hand-made files: what it reads from good files,
//! and which `DataError` each kind of broken file produces. No input may make
//! it panic, so several tests sweep every byte offset of a file.

mod common;

use common::{gzip, idx_bytes, images_file, labels_file, TempDir};
use kindling_data::idx::{self, IdxArray, IMAGES_MAGIC, LABELS_MAGIC, MAX_CONTENT_BYTES};
use kindling_data::DataError;

#[test]
fn reads_a_raw_image_file() {
    let dir = TempDir::new("raw-images");
    let path = dir.write("images.idx", &images_file(2, 3, 4));
    let images = idx::read_images(&path).unwrap();
    assert_eq!(images.dims, vec![2, 3, 4]);
    assert_eq!(images.data, (0..24).collect::<Vec<u8>>());
}

#[test]
fn reads_a_gzip_file_like_the_raw_one() {
    let dir = TempDir::new("gz-images");
    let raw = images_file(3, 28, 28);
    let raw_path = dir.write("images.idx", &raw);
    let gz_path = dir.write("images.idx.gz", &gzip(&raw));
    let from_raw = idx::read_images(&raw_path).unwrap();
    let from_gz = idx::read_images(&gz_path).unwrap();
    assert_eq!(from_gz, from_raw);
    assert_eq!(from_gz.dims, vec![3, 28, 28]);
    // Pixel k of the file is k % 256: check one deep inside the third image.
    assert_eq!(from_gz.data[2 * 784 + 5], ((2 * 784 + 5) % 256) as u8);
}

#[test]
fn gzip_is_detected_from_the_content_not_the_name() {
    let dir = TempDir::new("detect");
    let raw = labels_file(&[3, 1, 4, 1, 5]);
    // A gzip file without .gz, and a raw file with .gz: both must read.
    let gz_named_raw = dir.write("labels.bin", &gzip(&raw));
    let raw_named_gz = dir.write("labels.gz", &raw);
    assert_eq!(idx::read_labels(gz_named_raw).unwrap(), vec![3, 1, 4, 1, 5]);
    assert_eq!(idx::read_labels(raw_named_gz).unwrap(), vec![3, 1, 4, 1, 5]);
}

#[test]
fn read_idx_accepts_any_number_of_dims() {
    let dir = TempDir::new("ndims");
    let path = dir.write("cube", &idx_bytes(0x0000_0804, &[1, 2, 2, 2], &[7; 8]));
    let cube = idx::read_idx(&path, 4).unwrap();
    assert_eq!(
        cube,
        IdxArray {
            dims: vec![1, 2, 2, 2],
            data: vec![7; 8]
        }
    );
}

#[test]
fn an_empty_split_is_fine() {
    let dir = TempDir::new("empty-split");
    let path = dir.write("labels", &labels_file(&[]));
    assert_eq!(idx::read_labels(path).unwrap(), Vec::<u8>::new());
}

#[test]
fn reading_labels_as_images_is_a_bad_magic() {
    let dir = TempDir::new("magic");
    let path = dir.write("labels", &labels_file(&[1, 2, 3]));
    match idx::read_images(&path) {
        Err(DataError::BadMagic {
            path: p,
            expected,
            found,
        }) => {
            assert_eq!(p, path);
            assert_eq!(expected, IMAGES_MAGIC);
            assert_eq!(found, LABELS_MAGIC);
        }
        other => panic!("expected BadMagic, got {other:?}"),
    }
}

#[test]
fn bad_magic_variants() {
    let dir = TempDir::new("magic-variants");
    // Text, a float IDX file (type 0x0D) and a non-zero first byte.
    let cases: [(&[u8], u32); 3] = [
        (b"hello, world", 0x6865_6c6c),
        (&[0x00, 0x00, 0x0D, 0x01, 0, 0, 0, 0], 0x0000_0D01),
        (&[0x01, 0x00, 0x08, 0x01, 0, 0, 0, 0], 0x0100_0801),
    ];
    for (bytes, magic) in cases {
        let path = dir.write("file", bytes);
        let err = idx::read_labels(&path).unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { expected: LABELS_MAGIC, found, .. } if found == magic),
            "{err:?}"
        );
        // Also through gzip.
        let path = dir.write("file.gz", &gzip(bytes));
        let err = idx::read_labels(&path).unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { found, .. } if found == magic),
            "{err:?}"
        );
    }
}

#[test]
fn empty_files_are_truncated() {
    let dir = TempDir::new("empty");
    let raw = dir.write("empty", b"");
    let gz = dir.write("empty.gz", &gzip(b""));
    for path in [raw, gz] {
        match idx::read_images(&path) {
            Err(DataError::Truncated {
                needed: Some(4),
                found: 0,
                ..
            }) => {}
            other => panic!("expected Truncated(4, 0) for {path:?}, got {other:?}"),
        }
    }
}

#[test]
fn raw_file_cut_at_every_offset() {
    let dir = TempDir::new("cut-raw");
    let full = images_file(2, 3, 3); // 16-byte header + 18 bytes of data
    for cut in 0..full.len() {
        let path = dir.write("images", &full[..cut]);
        let err = idx::read_images(&path).unwrap_err();
        match err {
            // Inside the magic number.
            DataError::Truncated {
                needed: Some(4),
                found,
                ..
            } if cut < 4 => assert_eq!(found, cut),
            // Inside the dims.
            DataError::Truncated {
                needed: Some(16),
                found,
                ..
            } if (4..16).contains(&cut) => assert_eq!(found, cut),
            // Inside the data: the header is whole and promises 18 bytes.
            DataError::LengthMismatch {
                dims,
                expected: Some(18),
                found,
                ..
            } if cut >= 16 => {
                assert_eq!(dims, vec![2, 3, 3]);
                assert_eq!(found, cut - 16);
            }
            other => panic!("cut at {cut}: unexpected {other:?}"),
        }
    }
}

#[test]
fn gzip_file_cut_at_every_offset() {
    let dir = TempDir::new("cut-gz");
    // Compressible data, so that the cuts land inside real deflate blocks.
    let mut labels = vec![0u8; 3000];
    labels
        .iter_mut()
        .enumerate()
        .for_each(|(i, l)| *l = (i / 7 % 10) as u8);
    let full = gzip(&labels_file(&labels));
    assert!(full.len() > 40, "the test needs a multi-byte stream");
    for cut in 0..full.len() {
        let path = dir.write("labels.gz", &full[..cut]);
        let err = idx::read_labels(&path).unwrap_err();
        match err {
            // Fewer than two bytes cannot be recognised as gzip, so they
            // are read as a (very short) raw file.
            DataError::Truncated {
                needed: Some(4),
                found,
                ..
            } if cut < 2 => assert_eq!(found, cut),
            // Anything longer is a gzip stream that stops early; whatever
            // it decompressed is less than the whole file.
            DataError::Truncated {
                needed: None,
                found,
                ..
            } if cut >= 2 => assert!(found <= 8 + labels.len(), "cut at {cut}: {found}"),
            other => panic!("cut at {cut}: unexpected {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_a_length_mismatch() {
    let dir = TempDir::new("trailing");
    let mut bytes = labels_file(&[1, 2, 3]);
    bytes.extend_from_slice(&[0, 0]);
    for (name, content) in [("raw", bytes.clone()), ("gz", gzip(&bytes))] {
        let path = dir.write(name, &content);
        match idx::read_labels(&path) {
            Err(DataError::LengthMismatch {
                dims,
                expected: Some(3),
                found: 5,
                ..
            }) => assert_eq!(dims, vec![3]),
            other => panic!("{name}: expected LengthMismatch(3, 5), got {other:?}"),
        }
    }
}

#[test]
fn dims_that_disagree_with_the_data() {
    let dir = TempDir::new("dims");
    // The header claims 3 images of 2 x 2 but only 2 images follow.
    let path = dir.write("images", &idx_bytes(IMAGES_MAGIC, &[3, 2, 2], &[9; 8]));
    let err = idx::read_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LengthMismatch {
                expected: Some(12),
                found: 8,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("3 x 2 x 2 = 12"), "{text}");
    assert!(text.contains("8 bytes"), "{text}");
}

#[test]
fn huge_dims_in_a_corrupt_header_are_rejected_without_allocating() {
    let dir = TempDir::new("huge");
    // 2^32-1 cubed overflows a u64: no product at all.
    let overflow = dir.write(
        "overflow",
        &idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]),
    );
    match idx::read_images(&overflow) {
        Err(DataError::LengthMismatch {
            expected: None,
            found: 3,
            dims,
            ..
        }) => assert_eq!(dims, vec![u32::MAX as usize; 3]),
        other => panic!("expected LengthMismatch(None, 3), got {other:?}"),
    }
    // 65536 x 65536 x 4 = 16 GiB: fits in a usize, but must not be allocated.
    let big = dir.write("big", &idx_bytes(IMAGES_MAGIC, &[65536, 65536, 4], &[1]));
    match idx::read_images(&big) {
        Err(DataError::LengthMismatch {
            expected: Some(expected),
            found: 1,
            ..
        }) => assert_eq!(expected, 1 << 34),
        other => panic!("expected LengthMismatch, got {other:?}"),
    }
}

#[test]
fn a_label_of_ten_is_out_of_range() {
    let dir = TempDir::new("label10");
    for (labels, index, value) in [
        (vec![0, 9, 10, 3], 2, 10),
        (vec![255], 0, 255),
        (vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 42, 99], 10, 42),
    ] {
        let path = dir.write("labels.gz", &gzip(&labels_file(&labels)));
        match idx::read_labels(&path) {
            Err(DataError::LabelOutOfRange {
                index: i, value: v, ..
            }) => assert_eq!((i, v), (index, value)),
            other => panic!("{labels:?}: expected LabelOutOfRange, got {other:?}"),
        }
    }
}

#[test]
fn a_missing_file_names_the_path_and_the_way_out() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(&err, DataError::MissingFile { path: p } if *p == path));
    assert_eq!(err.path(), path);
    let text = err.to_string();
    assert!(text.contains("train-images-idx3-ubyte.gz"), "{text}");
    assert!(text.contains("--data DIR"), "{text}");
    assert!(text.contains("KINDLING_MNIST_DIR"), "{text}");
}

#[test]
fn a_directory_is_an_io_error() {
    let dir = TempDir::new("isdir");
    let err = idx::read_images(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn corrupt_gzip_streams() {
    let dir = TempDir::new("corrupt-gz");
    let raw = images_file(4, 28, 28);
    let good = gzip(&raw);

    // A wrong compression method in the gzip header (byte 2 must be 8).
    let mut bad_header = good.clone();
    bad_header[2] = 0x07;
    // A damaged CRC in the trailer: the data decompresses but fails the check.
    let mut bad_crc = good.clone();
    let crc_at = good.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    // A damaged length in the trailer.
    let mut bad_size = good.clone();
    let size_at = good.len() - 4;
    bad_size[size_at] ^= 0x01;
    // Garbage right after the 10-byte header: not valid deflate data.
    let mut bad_deflate = good.clone();
    for b in &mut bad_deflate[10..30] {
        *b = 0xff;
    }

    for (name, bytes) in [
        ("header", bad_header),
        ("crc", bad_crc),
        ("size", bad_size),
        ("deflate", bad_deflate),
    ] {
        let path = dir.write(&format!("{name}.gz"), &bytes);
        match idx::read_images(&path) {
            Err(DataError::CorruptGzip { path: p, reason }) => {
                assert_eq!(p, path);
                assert!(!reason.is_empty());
            }
            other => panic!("{name}: expected CorruptGzip, got {other:?}"),
        }
    }
}

#[test]
fn flipping_any_single_byte_of_a_gzip_file_never_panics() {
    let dir = TempDir::new("flip");
    let full = gzip(&labels_file(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]));
    for at in 0..full.len() {
        let mut bytes = full.clone();
        bytes[at] ^= 0x55;
        let path = dir.write("labels.gz", &bytes);
        // Some flips land in fields gzip does not check (the mtime, the OS
        // byte) and still read; the point is an Ok or an Err, never a panic.
        if let Ok(labels) = idx::read_labels(&path) {
            assert_eq!(
                labels,
                vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2],
                "flip at {at}"
            );
        }
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_cap() {
    let dir = TempDir::new("bomb");
    // About 100 KB of gzip that would expand past the cap.
    let zeros = vec![0u8; MAX_CONTENT_BYTES + 1];
    let path = dir.write("bomb.gz", &common::gzip_level(&zeros, 1));
    drop(zeros);
    match idx::read_images(&path) {
        Err(DataError::TooLarge { limit, .. }) => assert_eq!(limit, MAX_CONTENT_BYTES),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_raw_file_above_the_cap_is_too_large() {
    let dir = TempDir::new("big-raw");
    let path = dir.path().join("big");
    // A sparse file: costs no disk, reads as zeros.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_CONTENT_BYTES as u64 + 10).unwrap();
    drop(file);
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err:?}");
}

#[test]
fn error_messages_carry_the_numbers() {
    let dir = TempDir::new("messages");
    let path = dir.write("labels", &labels_file(&[1, 12]));
    let text = idx::read_labels(&path).unwrap_err().to_string();
    assert!(text.contains("label 1 is 12"), "{text}");

    let path = dir.write("images", &labels_file(&[1]));
    let text = idx::read_images(&path).unwrap_err().to_string();
    assert!(
        text.contains("0x00000803") && text.contains("0x00000801"),
        "{text}"
    );

    let path = dir.write("short", &[0, 0, 8, 3, 0, 0]);
    let text = idx::read_images(&path).unwrap_err().to_string();
    assert!(
        text.contains("needs 16 bytes") && text.contains("only 6 bytes"),
        "{text}"
    );
}

/// Writes the seed corpus of the `idx` fuzz target (fuzz/seeds/idx): small label and image
/// files, raw and gzip-compressed, and the first three images of the shipped test set, so
/// the fuzzer starts from valid structure. Run by hand:
/// `cargo test -p kindling-data --test idx_reader -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/idx");
    std::fs::create_dir_all(&out).unwrap();
    let labels = labels_file(&[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let images = images_file(3, 4, 4);
    let shipped = common::gunzip(
        &std::fs::read(common::shipped_dir().join("t10k-images-idx3-ubyte.gz")).unwrap(),
    );
    let mnist3 = idx_bytes(IMAGES_MAGIC, &[3, 28, 28], &shipped[16..16 + 3 * 28 * 28]);
    for (name, bytes) in [
        ("labels.idx1", labels.clone()),
        ("labels.idx1.gz", gzip(&labels)),
        ("images.idx3", images.clone()),
        ("images.idx3.gz", gzip(&images)),
        ("mnist3.idx3.gz", gzip(&mnist3)),
    ] {
        std::fs::write(out.join(name), bytes).unwrap();
    }
}
