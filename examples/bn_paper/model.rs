//! The paper's network and the data it reads. A derived module of three sigmoid layers,
//! each with an optional BatchNorm, and the one layer the experiment watches: the input
//! to the first sigmoid of the last hidden layer, read with a forward hook.

use kindling::data::MnistSplit;
use kindling::nn::{BatchNorm1d, Linear, Module};
use kindling::prelude::*;

/// Pixels of one image, flattened.
pub const PIXELS: usize = 784;
const HIDDEN: usize = 100;

/// Linear(784,100) → [BN] → σ → Linear(100,100) → [BN] → σ → Linear(100,100) → [BN] → σ →
/// Linear(100,10). Each Linear keeps its bias in both variants, so that the two differ
/// only in the BN layers (BN's β makes the bias redundant, as the paper notes).
#[derive(Module)]
pub struct PaperNet {
    fc1: Linear,
    bn1: Option<BatchNorm1d>,
    fc2: Linear,
    bn2: Option<BatchNorm1d>,
    fc3: Linear,
    bn3: Option<BatchNorm1d>,
    out: Linear,
}

impl PaperNet {
    /// Seeds the global generator with `seed` and draws every weight from N(0, 0.01²),
    /// layer by layer, biases 0. BatchNorm draws nothing, so both variants start from the
    /// same weights.
    pub fn new(batch_norm: bool, seed: u64) -> Self {
        manual_seed(seed);
        let bn = || batch_norm.then(|| BatchNorm1d::new(HIDDEN));
        let net = PaperNet {
            fc1: Linear::new(PIXELS, HIDDEN),
            bn1: bn(),
            fc2: Linear::new(HIDDEN, HIDDEN),
            bn2: bn(),
            fc3: Linear::new(HIDDEN, HIDDEN),
            bn3: bn(),
            out: Linear::new(HIDDEN, 10),
        };
        // Linear::new has drawn PyTorch's default uniform weights; the paper's
        // initialisation replaces them, drawn after them from the same generator.
        for fc in [&net.fc1, &net.fc2, &net.fc3, &net.out] {
            let w = fc.weight();
            let draws = Tensor::randn(w.shape()).to_vec();
            for (v, d) in w.data_mut().iter_mut().zip(draws) {
                *v = 0.01 * d;
            }
            fc.bias_tensor()
                .expect("Linear::new has a bias")
                .data_mut()
                .fill(0.0);
        }
        net
    }

    /// The layer whose output is the input to the last hidden layer's sigmoids: the BN in
    /// the bn network, the Linear in the plain one.
    pub fn watched(&self) -> &dyn Module {
        match &self.bn3 {
            Some(bn) => bn,
            None => &self.fc3,
        }
    }

    /// Each layer is entered through `call`, not `forward`, so that hooks on it run.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        for (fc, bn) in [
            (&self.fc1, &self.bn1),
            (&self.fc2, &self.bn2),
            (&self.fc3, &self.bn3),
        ] {
            let z = fc.call(&h);
            let z = bn.as_ref().map_or(z.clone(), |bn| bn.call(&z));
            h = z.sigmoid();
        }
        self.out.call(&h)
    }
}

/// The paper's input: ink (a byte above 127) is 1, background 0.
pub fn binarise(pixel: u8) -> f32 {
    if pixel > 127 {
        1.0
    } else {
        0.0
    }
}

/// Writes the binarised images `indices` of `split` into `x` ([len, 784]) and their labels
/// into `labels`, reusing both buffers.
pub fn fill_batch(split: &MnistSplit, indices: &[usize], x: &Tensor, labels: &mut Vec<usize>) {
    let mut data = x.data_mut();
    for (row, &i) in data.chunks_exact_mut(PIXELS).zip(indices) {
        for (v, &p) in row.iter_mut().zip(split.image(i)) {
            *v = binarise(p);
        }
    }
    labels.clear();
    labels.extend(indices.iter().map(|&i| usize::from(split.labels[i])));
}

/// The test images, binarised once and cut into chunks that are reused by every evaluation.
pub struct TestSet {
    chunks: Vec<(Tensor, Vec<usize>)>,
    pub len: usize,
}

impl TestSet {
    /// The first `n` test images in chunks of `chunk` (large: a chunk costs one pass of
    /// per-op overhead, and eval mode makes the result independent of the chunk size).
    pub fn new(split: &MnistSplit, n: usize, chunk: usize) -> Self {
        let n = n.min(split.len());
        let chunks = (0..n)
            .step_by(chunk)
            .map(|start| {
                let indices: Vec<usize> = (start..(start + chunk).min(n)).collect();
                let x = Tensor::zeros(&[indices.len(), PIXELS]);
                let mut labels = Vec::new();
                fill_batch(split, &indices, &x, &mut labels);
                (x, labels)
            })
            .collect();
        TestSet { chunks, len: n }
    }

    pub fn chunks(&self) -> impl Iterator<Item = &(Tensor, Vec<usize>)> {
        self.chunks.iter()
    }
}

/// The q-quantile of `sorted` (ascending) with linear interpolation between the two
/// nearest ranks: numpy's and `torch.quantile`'s default ("linear"). Position q·(n−1),
/// so [1, 2, 3, 4] gives 1.45, 2.5 and 3.55 at 0.15, 0.5 and 0.85, as numpy does.
pub fn quantile(sorted: &[f32], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b) = (f64::from(sorted[lo]), f64::from(sorted[hi]));
    a + (h - lo as f64) * (b - a)
}
