//! The DataLoader: batch shapes and counts, the seeded per-epoch shuffle,
//! resuming mid-epoch, and the normalised pixel values.

mod common;

use std::collections::BTreeSet;

use common::shipped_dir;
use kindling_data::loader::{MNIST_MEAN, MNIST_STD};
use kindling_data::{DataLoader, Mnist, MnistSplit};

/// `n` images of 1 x 2 pixels that spell out their own index (high byte,
/// low byte), with label `index % 10`, so any batch can be checked against
/// the indices it claims to hold.
fn numbered_split(n: usize) -> MnistSplit {
    assert!(n <= 65_536);
    MnistSplit {
        images: (0..n).flat_map(|i| [(i >> 8) as u8, i as u8]).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: 1,
        cols: 2,
    }
}

/// Recovers the sample indices from a batch of `numbered_split` images
/// loaded with `normalize(0.0, 1.0)`.
fn decode_indices(pixels: &[f32]) -> Vec<usize> {
    pixels
        .chunks(2)
        .map(|p| ((p[0] * 255.0).round() as usize) << 8 | (p[1] * 255.0).round() as usize)
        .collect()
}

#[test]
fn batch_shapes_and_contents() {
    let split = numbered_split(10);
    let loader = DataLoader::new(&split, 4).normalize(0.0, 1.0);
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 3);
    let sizes: Vec<usize> = batches.iter().map(|b| b.labels.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    assert_eq!(batches[0].images.shape(), &[4, 1, 1, 2]);
    assert_eq!(batches[2].images.shape(), &[2, 1, 1, 2]);
    // Unshuffled: the split's own order, labels matching the images.
    assert_eq!(batches[1].indices, vec![4, 5, 6, 7]);
    assert_eq!(
        decode_indices(&batches[1].images.to_vec()),
        vec![4, 5, 6, 7]
    );
    assert_eq!(batches[1].labels, vec![4, 5, 6, 7]);
    assert_eq!(batches[2].labels, vec![8, 9]);
}

#[test]
fn drop_last_arithmetic() {
    // (samples, batch size, drop_last, batches, size of the last batch)
    let cases = [
        (10, 4, false, 3, 2),
        (10, 4, true, 2, 4),
        (12, 4, false, 3, 4),
        (12, 4, true, 3, 4),
        (3, 4, false, 1, 3),
        (3, 4, true, 0, 0),
        (1, 1, true, 1, 1),
        (0, 4, false, 0, 0),
        (60_000, 64, false, 938, 32),
        (60_000, 64, true, 937, 64),
    ];
    for (n, batch_size, drop_last, batches, last) in cases {
        let split = numbered_split(n);
        let loader = DataLoader::new(&split, batch_size)
            .drop_last(drop_last)
            .shuffle(3);
        let what = format!("n={n} batch={batch_size} drop_last={drop_last}");
        assert_eq!(loader.len(), batches, "{what}");
        assert_eq!(loader.is_empty(), batches == 0, "{what}");
        let sizes: Vec<usize> = loader.epoch(0).map(|b| b.labels.len()).collect();
        assert_eq!(sizes.len(), batches, "{what}");
        assert_eq!(sizes.last().copied().unwrap_or(0), last, "{what}");
        assert!(
            sizes.iter().rev().skip(1).all(|&s| s == batch_size),
            "{what}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_batches() {
    let split = numbered_split(1000);
    let a = DataLoader::new(&split, 32)
        .shuffle(1234)
        .normalize(0.0, 1.0);
    let b = DataLoader::new(&split, 32)
        .shuffle(1234)
        .normalize(0.0, 1.0);
    for epoch in [0, 1, 17] {
        let from_a: Vec<_> = a.epoch(epoch).map(|b| b.images.to_vec()).collect();
        let from_b: Vec<_> = b.epoch(epoch).map(|b| b.images.to_vec()).collect();
        assert_eq!(from_a, from_b, "epoch {epoch}");
    }
    // Asking again, or in another order, changes nothing: an epoch's order
    // depends on (seed, epoch) alone.
    let later_first = a.order(9);
    let _ = a.order(3);
    assert_eq!(a.order(9), later_first);
}

#[test]
fn epochs_and_seeds_give_different_orders() {
    let split = numbered_split(1000);
    let loader = DataLoader::new(&split, 32).shuffle(1234);
    let orders: Vec<Vec<usize>> = (0..20).map(|e| loader.order(e)).collect();
    let distinct: BTreeSet<&Vec<usize>> = orders.iter().collect();
    assert_eq!(distinct.len(), 20, "every epoch has its own order");
    assert_ne!(orders[0], (0..1000).collect::<Vec<_>>(), "it does shuffle");

    let other_seed = DataLoader::new(&split, 32).shuffle(1235);
    assert_ne!(other_seed.order(0), orders[0]);
    // (seed, epoch) pairs do not collide the way seed ^ epoch would.
    let swapped = DataLoader::new(&split, 32).shuffle(0);
    let one = DataLoader::new(&split, 32).shuffle(1);
    assert_ne!(swapped.order(1), one.order(0));
}

#[test]
fn every_sample_exactly_once_per_epoch() {
    let split = numbered_split(1003);
    let loader = DataLoader::new(&split, 64).shuffle(99).normalize(0.0, 1.0);
    for epoch in 0..5 {
        let mut seen = Vec::new();
        for batch in loader.epoch(epoch) {
            // The images really are the samples the batch names.
            assert_eq!(decode_indices(&batch.images.to_vec()), batch.indices);
            let expected_labels: Vec<usize> = batch.indices.iter().map(|i| i % 10).collect();
            assert_eq!(batch.labels, expected_labels);
            seen.extend(batch.indices);
        }
        assert_eq!(seen.len(), 1003);
        seen.sort_unstable();
        assert_eq!(seen, (0..1003).collect::<Vec<_>>(), "epoch {epoch}");
    }
}

#[test]
fn drop_last_drops_different_samples_each_epoch() {
    // With 10 samples in batches of 4, two samples sit out each epoch; over
    // a few epochs the shuffle must give every sample its turn.
    let split = numbered_split(10);
    let loader = DataLoader::new(&split, 4).shuffle(5).drop_last(true);
    let mut ever_seen = BTreeSet::new();
    for epoch in 0..10 {
        let seen: Vec<usize> = loader.epoch(epoch).flat_map(|b| b.indices).collect();
        assert_eq!(seen.len(), 8);
        ever_seen.extend(seen);
    }
    assert_eq!(ever_seen.len(), 10);
}

#[test]
fn the_shuffle_is_uniform() {
    // Over 5000 epochs, slot 0 should hold each of 10 samples about 500
    // times. A classic Fisher-Yates bug (drawing j from 0..i instead of 0..=i)
    // never leaves a sample in place, so count 0 in slot 0 would be 0.
    let split = numbered_split(10);
    let loader = DataLoader::new(&split, 10).shuffle(2024);
    let mut first = [0usize; 10];
    let mut last = [0usize; 10];
    for epoch in 0..5000 {
        let order = loader.order(epoch);
        first[order[0]] += 1;
        last[order[9]] += 1;
    }
    for counts in [first, last] {
        for (sample, &count) in counts.iter().enumerate() {
            assert!(
                (400..=600).contains(&count),
                "sample {sample}: {count} of 5000"
            );
        }
    }
}

#[test]
fn resuming_mid_epoch_gives_the_remaining_batches() {
    let split = numbered_split(100);
    let loader = DataLoader::new(&split, 8).shuffle(7);
    let full: Vec<Vec<usize>> = loader.epoch(3).map(|b| b.indices).collect();
    assert_eq!(full.len(), 13);
    for first in [0, 1, 5, 12] {
        let resumed: Vec<Vec<usize>> = loader.epoch_from(3, first).map(|b| b.indices).collect();
        assert_eq!(resumed, full[first..], "from batch {first}");
        let skipped: Vec<Vec<usize>> = loader.epoch(3).skip(first).map(|b| b.indices).collect();
        assert_eq!(skipped, full[first..], "skip {first}");
    }
    assert_eq!(loader.epoch_from(3, 13).count(), 0);
    assert_eq!(loader.epoch_from(3, usize::MAX).count(), 0);
}

#[test]
fn the_iterator_knows_its_length() {
    let split = numbered_split(10);
    let mut batches = DataLoader::new(&split, 3).epoch(0);
    assert_eq!(batches.len(), 4);
    batches.next();
    assert_eq!(batches.size_hint(), (3, Some(3)));
    assert_eq!(batches.nth(1).map(|b| b.indices), Some(vec![6, 7, 8]));
    assert_eq!(batches.len(), 1);
    assert_eq!(batches.next().map(|b| b.indices), Some(vec![9]));
    assert!(batches.next().is_none());
    assert!(batches.next().is_none());
    assert_eq!(DataLoader::new(&split, 3).epoch_from(0, 2).len(), 2);
}

#[test]
fn an_empty_split_gives_no_batches() {
    let split = numbered_split(0);
    let loader = DataLoader::new(&split, 4).shuffle(1);
    assert!(loader.is_empty());
    assert_eq!(loader.epoch(0).count(), 0);
    assert_eq!(loader.order(0), Vec::<usize>::new());
}

#[test]
#[should_panic(expected = "batch_size must be at least 1")]
fn a_batch_size_of_zero_is_refused() {
    let split = numbered_split(3);
    let _ = DataLoader::new(&split, 0);
}

#[test]
#[should_panic(expected = "positive finite std")]
fn a_zero_std_is_refused() {
    let split = numbered_split(3);
    let _ = DataLoader::new(&split, 1).normalize(0.5, 0.0);
}

#[test]
fn normalisation_of_known_pixels() {
    let split = MnistSplit {
        images: vec![0, 3, 128, 255],
        labels: vec![0],
        rows: 2,
        cols: 2,
    };
    let pixels = DataLoader::new(&split, 1)
        .epoch(0)
        .next()
        .unwrap()
        .images
        .to_vec();
    // (p / 255 - 0.1307) / 0.3081
    let expected = [-0.424_212_9, -0.386_028_2, 1.205_000_9, 2.821_486_5];
    for (got, want) in pixels.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert_eq!((MNIST_MEAN, MNIST_STD), (0.1307, 0.3081));

    let plain = DataLoader::new(&split, 1).normalize(0.0, 1.0);
    let pixels = plain.epoch(0).next().unwrap().images.to_vec();
    assert_eq!(pixels[0], 0.0);
    assert_eq!(pixels[3], 1.0);
    assert!((pixels[2] - 128.0 / 255.0).abs() < 1e-7);
}

#[test]
fn real_mnist_batches() {
    let mnist = Mnist::load(shipped_dir()).unwrap();
    let loader = DataLoader::new(&mnist.train, 64).drop_last(true);
    assert_eq!(loader.len(), 937);

    let first = loader.epoch(0).next().unwrap();
    assert_eq!(first.images.shape(), &[64, 1, 28, 28]);
    assert_eq!(&first.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let pixels = first.images.to_vec();
    // Image 0, row 5, column 12 is a faint stroke: byte 3.
    assert!((pixels[5 * 28 + 12] - (-0.386_028_2)).abs() < 1e-6);
    // The corner is background: byte 0.
    assert!((pixels[0] - (-0.424_212_9)).abs() < 1e-6);

    // Normalised with the training statistics, a whole epoch of training
    // inputs has mean ~0 and standard deviation ~1.
    let everything = DataLoader::new(&mnist.train, 1000).shuffle(0);
    let (mut sum, mut sum_sq, mut count) = (0f64, 0f64, 0usize);
    for batch in everything.epoch(0) {
        for x in batch.images.to_vec() {
            sum += f64::from(x);
            sum_sq += f64::from(x) * f64::from(x);
            count += 1;
        }
    }
    assert_eq!(count, 60_000 * 784);
    let mean = sum / count as f64;
    let std = (sum_sq / count as f64 - mean * mean).sqrt();
    assert!(mean.abs() < 1e-3, "mean {mean}");
    assert!((std - 1.0).abs() < 1e-3, "std {std}");
}
