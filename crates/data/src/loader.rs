//! [`DataLoader`]: turns a [`MnistSplit`] into mini-batches of tensors, like
//! PyTorch's `torch.utils.data.DataLoader`.
//!
//! Training wants the samples in a fresh random order every epoch, cut into
//! batches, with pixels scaled to roughly zero mean and unit variance. The
//! loader does exactly that, with one property that matters for long runs:
//! the order of epoch `e` depends only on the seed and `e`. A run stopped in
//! the middle of epoch 7 can restart at batch 312 of epoch 7 and see exactly
//! the batches it would have seen, via [`DataLoader::epoch_from`].
//!
//! The pixels are kept as bytes in the split and only the current batch is
//! converted to `f32`, so an epoch never holds more than one batch of floats.

use std::iter::FusedIterator;

use kindling_core::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::MnistSplit;

/// The mean pixel value of the MNIST training images, after scaling pixels
/// to `0.0..=1.0`; the default for [`DataLoader::normalize`].
///
/// ```
/// assert_eq!(kindling::data::loader::MNIST_MEAN, 0.1307);
/// ```
pub const MNIST_MEAN: f32 = 0.1307;

/// The standard deviation of the MNIST training pixels, after scaling to
/// `0.0..=1.0`; the default for [`DataLoader::normalize`].
///
/// ```
/// assert_eq!(kindling::data::loader::MNIST_STD, 0.3081);
/// ```
pub const MNIST_STD: f32 = 0.3081;

/// Mixes the epoch number into the seed. A plain `seed ^ epoch` would give
/// (seed 1, epoch 0) and (seed 0, epoch 1) the same order; multiplying by a
/// large odd constant (2^64 / golden ratio) spreads epochs over all 64 bits.
const EPOCH_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Cuts a split into batches, optionally shuffled and normalised.
///
/// Build it with [`new`](DataLoader::new) and the builder methods, then ask
/// for an epoch's batches with [`epoch`](DataLoader::epoch). The loader only
/// borrows the split and is cheap to clone.
///
/// ```
/// use kindling::data::{DataLoader, MnistSplit};
///
/// // Ten 2 x 2 "images"; image i has label i % 10.
/// let split = MnistSplit {
///     images: (0..40).map(|p| p as u8).collect(),
///     labels: (0..10).collect(),
///     rows: 2,
///     cols: 2,
/// };
/// let loader = DataLoader::new(&split, 4).shuffle(7).drop_last(true);
/// assert_eq!(loader.len(), 2); // 10 samples: two full batches of 4, 2 left over
/// for batch in loader.epoch(0) {
///     assert_eq!(batch.images.shape(), &[4, 1, 2, 2]);
///     assert_eq!(batch.labels.len(), 4);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct DataLoader<'a> {
    split: &'a MnistSplit,
    batch_size: usize,
    /// `None` keeps the split's own order.
    seed: Option<u64>,
    drop_last: bool,
    mean: f32,
    std: f32,
}

/// One mini-batch.
///
/// ```
/// use kindling::data::{DataLoader, MnistSplit};
///
/// let split = MnistSplit { images: vec![0, 255, 51, 102], labels: vec![3, 8], rows: 1, cols: 2 };
/// let batch = DataLoader::new(&split, 2).normalize(0.0, 1.0).epoch(0).next().unwrap();
/// assert_eq!(batch.images.to_vec(), vec![0.0, 1.0, 0.2, 0.4]);
/// assert_eq!(batch.labels, vec![3, 8]);
/// assert_eq!(batch.indices, vec![0, 1]);
/// ```
#[derive(Debug, Clone)]
pub struct Batch {
    /// The images, shape `[B, 1, rows, cols]` (one grey channel), normalised.
    pub images: Tensor,
    /// The label of each image, as the class index a loss function expects.
    pub labels: Vec<usize>,
    /// Where each sample sits in the split, e.g. to look up or show the
    /// images a model got wrong.
    pub indices: Vec<usize>,
}

impl<'a> DataLoader<'a> {
    /// A loader over `split` in batches of `batch_size`, in the split's own
    /// order, keeping the last partial batch, normalised with
    /// [`MNIST_MEAN`] and [`MNIST_STD`].
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 5 * 4], labels: vec![0; 5], rows: 2, cols: 2 };
    /// let loader = DataLoader::new(&split, 2);
    /// assert_eq!(loader.len(), 3); // 2 + 2 + 1
    /// assert_eq!(loader.batch_size(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If `batch_size` is 0: a batch must hold at least one sample.
    pub fn new(split: &'a MnistSplit, batch_size: usize) -> DataLoader<'a> {
        assert!(batch_size > 0, "DataLoader: batch_size must be at least 1");
        DataLoader {
            split,
            batch_size,
            seed: None,
            drop_last: false,
            mean: MNIST_MEAN,
            std: MNIST_STD,
        }
    }

    /// Shuffles the samples with a new permutation every epoch, derived from
    /// `seed` and the epoch number only.
    ///
    /// The same seed gives the same sequence of epochs on every run, and any
    /// epoch can be produced without producing the ones before it.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 100], labels: vec![0; 100], rows: 1, cols: 1 };
    /// let a = DataLoader::new(&split, 10).shuffle(42);
    /// let b = DataLoader::new(&split, 10).shuffle(42);
    /// assert_eq!(a.order(3), b.order(3)); // same seed, same epoch: same order
    /// assert_ne!(a.order(3), a.order(4)); // next epoch: a new order
    /// ```
    pub fn shuffle(mut self, seed: u64) -> DataLoader<'a> {
        self.seed = Some(seed);
        self
    }

    /// Whether to drop the last batch of an epoch when it is smaller than
    /// `batch_size`.
    ///
    /// Training with BatchNorm should drop it: a batch of one sample has no
    /// variance to normalise by, and a tiny batch gives noisy statistics.
    /// Evaluation should keep it, so that every sample is scored.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 10], labels: vec![0; 10], rows: 1, cols: 1 };
    /// assert_eq!(DataLoader::new(&split, 4).drop_last(false).len(), 3); // 4 + 4 + 2
    /// assert_eq!(DataLoader::new(&split, 4).drop_last(true).len(), 2); // 4 + 4
    /// ```
    pub fn drop_last(mut self, drop_last: bool) -> DataLoader<'a> {
        self.drop_last = drop_last;
        self
    }

    /// Sets how pixels become inputs: `x = (pixel / 255 - mean) / std`.
    ///
    /// The defaults, [`MNIST_MEAN`] and [`MNIST_STD`], are the statistics of
    /// the training pixels, so inputs come out with mean about 0 and standard
    /// deviation about 1, which keeps early activations and gradients in a
    /// healthy range. `normalize(0.0, 1.0)` gives plain `pixel / 255`.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![255], labels: vec![1], rows: 1, cols: 1 };
    /// let batch = DataLoader::new(&split, 1).normalize(0.5, 0.25).epoch(0).next().unwrap();
    /// assert_eq!(batch.images.to_vec(), vec![2.0]); // (1.0 - 0.5) / 0.25
    /// ```
    ///
    /// # Panics
    ///
    /// If `std` is not a positive finite number or `mean` is not finite.
    pub fn normalize(mut self, mean: f32, std: f32) -> DataLoader<'a> {
        assert!(
            mean.is_finite() && std.is_finite() && std > 0.0,
            "DataLoader::normalize: need a finite mean and a positive finite std, got mean {mean}, std {std}"
        );
        self.mean = mean;
        self.std = std;
        self
    }

    /// The number of samples per batch (the last one may hold fewer unless
    /// [`drop_last`](DataLoader::drop_last) is set).
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![], labels: vec![], rows: 28, cols: 28 };
    /// assert_eq!(DataLoader::new(&split, 64).batch_size(), 64);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of batches in one epoch.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 60_000], labels: vec![0; 60_000], rows: 1, cols: 1 };
    /// assert_eq!(DataLoader::new(&split, 64).len(), 938); // 937 full + 1 of 32
    /// assert_eq!(DataLoader::new(&split, 64).drop_last(true).len(), 937);
    /// ```
    pub fn len(&self) -> usize {
        let n = self.split.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Whether an epoch has no batches at all (an empty split, or fewer
    /// samples than one batch with `drop_last`).
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 3], labels: vec![0; 3], rows: 1, cols: 1 };
    /// assert!(!DataLoader::new(&split, 4).is_empty());
    /// assert!(DataLoader::new(&split, 4).drop_last(true).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order in which epoch `epoch` visits the samples: a permutation of
    /// `0..split.len()` (the identity if the loader does not shuffle).
    ///
    /// Batch `b` of the epoch holds samples
    /// `order[b * batch_size..(b + 1) * batch_size]`.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 5], labels: vec![0; 5], rows: 1, cols: 1 };
    /// assert_eq!(DataLoader::new(&split, 2).order(9), vec![0, 1, 2, 3, 4]);
    ///
    /// let mut shuffled = DataLoader::new(&split, 2).shuffle(1).order(0);
    /// shuffled.sort();
    /// assert_eq!(shuffled, vec![0, 1, 2, 3, 4]); // every sample exactly once
    /// ```
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.split.len()).collect();
        if let Some(seed) = self.seed {
            // A fresh generator per epoch, seeded from (seed, epoch) alone:
            // this is what makes resuming mid-run exact.
            let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(EPOCH_MIX));
            // Fisher-Yates: position i takes a uniformly chosen element from
            // the not yet placed ones at 0..=i. Every permutation is equally
            // likely, which naive "swap with any position" is not.
            for i in (1..order.len()).rev() {
                let j = rng.random_range(0..=i);
                order.swap(i, j);
            }
        }
        order
    }

    /// The batches of epoch `epoch`, in order.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 5], labels: vec![1, 2, 3, 4, 5], rows: 1, cols: 1 };
    /// let labels: Vec<Vec<usize>> = DataLoader::new(&split, 2).epoch(0).map(|b| b.labels).collect();
    /// assert_eq!(labels, vec![vec![1, 2], vec![3, 4], vec![5]]);
    /// ```
    pub fn epoch(&self, epoch: usize) -> Batches<'a> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` starting at batch `first_batch`, for
    /// resuming a run: the batches skipped are never built, only the epoch's
    /// order is computed.
    ///
    /// `loader.epoch_from(e, k)` yields the same batches as
    /// `loader.epoch(e).skip(k)`. A `first_batch` past the end gives no
    /// batches.
    ///
    /// ```
    /// use kindling::data::{DataLoader, MnistSplit};
    ///
    /// let split = MnistSplit { images: vec![0; 10], labels: (0..10).collect(), rows: 1, cols: 1 };
    /// let loader = DataLoader::new(&split, 3).shuffle(5);
    /// let resumed: Vec<_> = loader.epoch_from(2, 1).map(|b| b.indices).collect();
    /// let full: Vec<_> = loader.epoch(2).skip(1).map(|b| b.indices).collect();
    /// assert_eq!(resumed, full);
    /// assert_eq!(resumed.len(), 3); // batches 1, 2 and 3 of 0..=3
    /// ```
    pub fn epoch_from(&self, epoch: usize, first_batch: usize) -> Batches<'a> {
        let end = self.len();
        Batches {
            order: self.order(epoch),
            next: first_batch.min(end),
            end,
            table: self.lookup_table(),
            loader: self.clone(),
        }
    }

    /// The normalised value of each of the 256 possible pixel bytes.
    ///
    /// A batch of 64 MNIST images is 50176 pixels but only 256 distinct
    /// values, so computing them once turns the conversion into a lookup.
    fn lookup_table(&self) -> [f32; 256] {
        std::array::from_fn(|p| (p as f32 / 255.0 - self.mean) / self.std)
    }
}

/// The batches of one epoch; made by [`DataLoader::epoch`] and
/// [`DataLoader::epoch_from`].
///
/// A plain [`Iterator`], so `for`, `.take(n)`, `.skip(n)` and `.enumerate()`
/// all work. It knows its exact length, and skipping (`.skip(n)`, `.nth(n)`)
/// does not build the skipped batches.
///
/// ```
/// use kindling::data::{DataLoader, MnistSplit};
///
/// let split = MnistSplit { images: vec![0; 7], labels: vec![0; 7], rows: 1, cols: 1 };
/// let mut batches = DataLoader::new(&split, 2).epoch(0);
/// assert_eq!(batches.len(), 4);
/// let last = batches.nth(3).unwrap();
/// assert_eq!(last.indices, vec![6]);
/// assert!(batches.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    loader: DataLoader<'a>,
    order: Vec<usize>,
    /// The index of the next batch to build.
    next: usize,
    /// The number of batches in the epoch.
    end: usize,
    table: [f32; 256],
}

impl Batches<'_> {
    /// Builds batch number `b` of the epoch.
    fn build(&self, b: usize) -> Batch {
        let split = self.loader.split;
        let start = b * self.loader.batch_size;
        let stop = (start + self.loader.batch_size).min(self.order.len());
        let indices = self.order[start..stop].to_vec();

        let mut pixels = Vec::with_capacity(indices.len() * split.rows * split.cols);
        for &i in &indices {
            pixels.extend(split.image(i).iter().map(|&p| self.table[usize::from(p)]));
        }
        let images = Tensor::from_vec(pixels, &[indices.len(), 1, split.rows, split.cols]);
        let labels = indices
            .iter()
            .map(|&i| usize::from(split.labels[i]))
            .collect();
        Batch {
            images,
            labels,
            indices,
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.end {
            return None;
        }
        let batch = self.build(self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }

    /// Jumps over `n` batches without building them (`Iterator::skip` calls
    /// this too).
    fn nth(&mut self, n: usize) -> Option<Batch> {
        self.next = self.next.saturating_add(n).min(self.end);
        self.next()
    }
}

impl ExactSizeIterator for Batches<'_> {}

impl FusedIterator for Batches<'_> {}
