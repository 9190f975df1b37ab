//! Fuzz target for the IDX reader (MNIST's file format), raw or gzip-compressed: as a
//! label file (1 dimension, every label a digit) and as an image file (3 dimensions).
//! An image file the reader accepts then goes through the DataLoader for one epoch, as
//! training would take it, so that odd but valid shapes (zero rows, one image) are
//! exercised past the reader too. Any panic, any allocation over `-malloc_limit_mb`
//! (gzip bombs included: the reader caps decompressed content at 100 MiB), or any
//! out-of-bounds access is a bug.

#![no_main]

use kindling_data::{fuzzing, DataLoader, MnistSplit};
use libfuzzer_sys::fuzz_target;

/// At most this many images go through the loader (a label file of the same count would
/// be needed in real use; this target makes the labels up).
const MAX_IMAGES: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::read_labels(data);
    let Ok(images) = fuzzing::read_idx(data, 3) else {
        return;
    };
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if n == 0 || n > MAX_IMAGES {
        return;
    }
    let split = MnistSplit {
        images: images.data,
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows,
        cols,
    };
    let loader = DataLoader::new(&split, 7).shuffle(1);
    for batch in loader.epoch(0) {
        assert_eq!(batch.images.shape()[2..], [rows, cols]);
    }
});
