//! Layer normalisation and group normalisation, with PyTorch's semantics
//! (`torch.nn.functional.layer_norm` and `group_norm`). `kindling::nn::LayerNorm`,
//! `GroupNorm` and `InstanceNorm2d` call them.
//!
//! Unlike BatchNorm, these never average across the batch: each sample is normalised on its
//! own, so they behave the same in training and eval and keep no running statistics. Both
//! come down to one step, done here as one differentiable op: cut the input into rows of
//! `d` consecutive values and turn each row into standard scores,
//! `x̂ = (x - mean) / √(var + eps)`, with the **biased** variance (divide by `d`).
//! - `layer_norm` takes a row to be the trailing dims `normalized_shape`: the features
//!   of one token, or all of `(C, H, W)` of one image.
//! - `group_norm` takes a row to be one group of channels of one sample: for `[N, C, *]`
//!   with `G` groups, group `g` of sample `n` is the `C/G` channels `g·C/G ..`, and those
//!   sit next to each other in memory, so they are one row of `(C/G)·(trailing size)`.
//!
//! The learnable scale and shift (γ per element for LayerNorm, per channel for GroupNorm)
//! are then ordinary broadcasting `*` and `+`, and autograd differentiates them like any
//! other product and sum: only the standardising step needs a rule of its own.
//!
//! The kernels are plain loops over each row, summing in f64. There is no fast twin in
//! `kernels/`: each row is one contiguous run, so the loops are already cache-friendly.

use crate::op::Op;
use crate::Tensor;

/// Standardises each row of `d` consecutive values: two passes (the mean, then the mean
/// squared deviation from it), never `E[x²] - E[x]²`, which cancels badly when the mean is
/// large next to the spread. Returns `x̂` and `1/√(var + eps)` per row.
fn standardize(x: &[f32], d: usize, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let mut out = Vec::with_capacity(x.len());
    let mut inv_std = Vec::with_capacity(x.len().checked_div(d).unwrap_or(0));
    for row in x.chunks(d.max(1)) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + eps as f64).sqrt();
        out.extend(row.iter().map(|&v| ((v as f64 - mean) * inv) as f32));
        inv_std.push(inv as f32);
    }
    (out, inv_std)
}

impl Tensor {
    /// The shared step of `layer_norm` and `group_norm`: every row of `row_len` consecutive
    /// values becomes standard scores, `(x - mean) / √(var + eps)`, biased variance.
    fn standardize_rows(&self, row_len: usize, eps: f32) -> Tensor {
        let (out, inv_std) = standardize(&self.read(), row_len, eps);
        let op = Op::Standardize {
            x: self.clone(),
            row_len,
            inv_std,
        };
        Tensor::from_op(out, self.shape().to_vec(), op)
    }

    /// Layer normalisation, `torch.nn.functional.layer_norm(input, normalized_shape,
    /// weight, bias, eps)`: every sample is standardised over its trailing dims
    /// `normalized_shape` (mean 0, biased variance 1, up to `eps`), then multiplied by
    /// `weight` and shifted by `bias`, both of shape `normalized_shape`, element by element.
    ///
    /// # Panics
    /// If `normalized_shape` is empty, if the input's last dims are not `normalized_shape`,
    /// or if `weight` or `bias` does not have shape `normalized_shape`; the message names
    /// the op and both shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// // One row [1, 2, 3]: mean 2, biased variance 2/3, so x̂ = (x - 2) / √(2/3) = ∓√1.5.
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 3]);
    /// let y = x.layer_norm(&[3], None, None, 0.0).to_vec();
    /// assert!((y[0] + 1.2247449).abs() < 1e-6 && y[1] == 0.0 && (y[2] - 1.2247449).abs() < 1e-6);
    /// // With a scale and a shift per element:
    /// let (w, b) = (Tensor::from_vec(vec![2.0, 1.0, 0.5], &[3]), Tensor::from_vec(vec![0.0, 7.0, 0.0], &[3]));
    /// let y = x.layer_norm(&[3], Some(&w), Some(&b), 0.0).to_vec();
    /// assert!((y[0] + 2.4494898).abs() < 1e-6 && y[1] == 7.0);
    /// ```
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Tensor {
        let shape = self.shape();
        assert!(
            !normalized_shape.is_empty(),
            "layer_norm: normalized_shape must have at least one dim, got [] (input shape {shape:?})"
        );
        assert!(
            shape.ends_with(normalized_shape),
            "layer_norm: normalized_shape {normalized_shape:?} does not match the input's last dims, shape {shape:?}"
        );
        for (what, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t {
                assert!(
                    t.shape() == normalized_shape,
                    "layer_norm: {what} has shape {:?} but normalized_shape is {normalized_shape:?}",
                    t.shape()
                );
            }
        }
        let row_len = normalized_shape.iter().product();
        // weight and bias have shape normalized_shape, the input's trailing dims, so plain
        // broadcasting lines them up with every row.
        affine(self.standardize_rows(row_len, eps), weight, bias)
    }

    /// Group normalisation, `torch.nn.functional.group_norm(input, num_groups, weight,
    /// bias, eps)`: the `C` channels of an input `[N, C, *]` are split into `num_groups`
    /// groups of `C / num_groups` consecutive channels, each sample's group is standardised
    /// over all its values (its channels and their positions), and then channel `c` is
    /// multiplied by `weight[c]` and shifted by `bias[c]`.
    ///
    /// With `num_groups = C` this is instance normalisation (each channel of each sample on
    /// its own); with `num_groups = 1` it standardises each sample over all of `(C, *)`, as
    /// layer normalisation over those dims does (which then scales per element, not per
    /// channel).
    ///
    /// # Panics
    /// If the input has fewer than 2 dims, `num_groups` is 0 or does not divide `C`, or
    /// `weight` or `bias` is not `[C]`; the message names the op and the shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// // One sample, 4 channels, 2 groups: {1, 3} and {10, 30}. Each group has its own
    /// // mean (2, 20) and spread (1, 10), so both become [-1, 1].
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[1, 4]);
    /// assert_eq!(x.group_norm(2, None, None, 0.0).to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// // A scale and a shift per channel:
    /// let (w, b) = (Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]), Tensor::full(&[4], 0.5));
    /// let y = x.group_norm(2, Some(&w), Some(&b), 0.0);
    /// assert_eq!(y.to_vec(), vec![-0.5, 2.5, -2.5, 4.5]);
    /// ```
    pub fn group_norm(
        &self,
        num_groups: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Tensor {
        let shape = self.shape();
        assert!(
            shape.len() >= 2,
            "group_norm: expects an input [N, C, ...], got shape {shape:?}"
        );
        let channels = shape[1];
        assert!(
            num_groups > 0,
            "group_norm: num_groups must be at least 1, got 0 (input shape {shape:?})"
        );
        assert!(
            channels.is_multiple_of(num_groups),
            "group_norm: {channels} channels do not split into {num_groups} groups (input shape {shape:?})"
        );
        for (what, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t {
                assert!(
                    t.shape() == [channels],
                    "group_norm: {what} has shape {:?} but the input {shape:?} has {channels} channels",
                    t.shape()
                );
            }
        }
        let spatial: usize = shape[2..].iter().product();
        let row_len = channels / num_groups * spatial;
        let x_hat = self.standardize_rows(row_len, eps);
        // A per-channel vector [C] against [N, C, *] lines up with dim 1 once it is
        // [C, 1, ..., 1], one 1 per trailing dim.
        let mut per_channel = vec![channels];
        per_channel.resize(shape.len() - 1, 1);
        let weight = weight.map(|w| w.reshape(&per_channel));
        let bias = bias.map(|b| b.reshape(&per_channel));
        affine(x_hat, weight.as_ref(), bias.as_ref())
    }
}

/// `x̂ · weight + bias`, each part only if given.
fn affine(x_hat: Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>) -> Tensor {
    let scaled = match weight {
        Some(w) => &x_hat * w,
        None => x_hat,
    };
    match bias {
        Some(b) => &scaled + b,
        None => scaled,
    }
}

/// The backward pass of the standardising step. Per row of `d` values, with `g` the
/// gradient of the output and `x̂` the output itself:
///
/// `dx = (1/σ) · (g - mean(g) - x̂ · mean(g · x̂))`,  σ = √(var + eps).
///
/// `g/σ` is the direct path; the mean of the row depends on every `x` (giving
/// `-mean(g)/σ`), and so does its variance (giving the `x̂ · mean(g · x̂)` term). It is
/// BatchNorm's rule with a row in place of a channel.
pub(crate) fn standardize_backward(
    g: &Tensor,
    x_hat: &Tensor,
    row_len: usize,
    inv_std: &[f32],
) -> Tensor {
    let data = Tensor::read_all(&[g, x_hat]); // one lock each, even if `g` is `x_hat`'s storage
    let (gd, yd) = (data.get(0), data.get(1));
    let d = row_len.max(1);
    let mut dx = Vec::with_capacity(gd.len());
    for ((g, y), &inv) in gd.chunks(d).zip(yd.chunks(d)).zip(inv_std) {
        let mean_g = g.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let mean_gy = g
            .iter()
            .zip(y)
            .map(|(&g, &y)| g as f64 * y as f64)
            .sum::<f64>()
            / d as f64;
        dx.extend(
            g.iter()
                .zip(y)
                .map(|(&g, &y)| (inv as f64 * (g as f64 - mean_g - y as f64 * mean_gy)) as f32),
        );
    }
    Tensor::constant(dx, g.shape().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of [1, 2, 3] and [10, 20, 30] both standardise to [-√1.5, 0, √1.5]: the mean
    /// is removed and the spread divided out, so a row's offset and scale vanish.
    #[test]
    fn rows_lose_their_offset_and_scale() {
        let (x_hat, inv_std) = standardize(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0], 3, 0.0);
        let s = 1.5f32.sqrt();
        let want = [-s, 0.0, s, -s, 0.0, s];
        assert!(
            x_hat.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-7),
            "{x_hat:?}"
        );
        // 1/σ: σ² = 2/3 for the first row (1/σ = √1.5), 200/3 for the second (√0.015).
        assert!((inv_std[0] - 1.2247449).abs() < 1e-7, "{inv_std:?}");
        assert!((inv_std[1] - 0.12247449).abs() < 1e-8, "{inv_std:?}");
    }

    /// Worked by hand, for the row x = [1, 2, 3] (eps 0), so x̂ = [-s, 0, s] with
    /// s = √1.5 and 1/σ = s, and the upstream gradient g = [1, 0, 0]:
    /// mean(g) = 1/3, mean(g·x̂) = -s/3, and x̂ · mean(g·x̂) = [s²/3, 0, -s²/3] = [0.5, 0, -0.5];
    /// g - mean(g) - x̂·mean(g·x̂) = [1 - 1/3 - 0.5, -1/3, -1/3 + 0.5] = [1/6, -1/3, 1/6],
    /// times 1/σ = s: [0.2041241, -0.4082483, 0.2041241]. The gradient sums to 0: adding
    /// the same amount to every x leaves x̂ unchanged.
    #[test]
    fn backward_worked_by_hand() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).requires_grad(true);
        let y = x.standardize_rows(3, 0.0);
        assert_eq!(y.op_name(), Some("Standardize"));
        y.backward_with(&Tensor::from_vec(vec![1.0, 0.0, 0.0], &[3]));
        let g = x.grad().unwrap().to_vec();
        let want = [0.2041241, -0.4082483, 0.2041241];
        for (g, w) in g.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }
}
