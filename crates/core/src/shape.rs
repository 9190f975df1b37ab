//! Shape arithmetic: element counts, row-major strides, and NumPy/PyTorch broadcasting.
//!
//! Broadcasting lines two shapes up from the right; each pair of sizes must be equal or one
//! of them 1, and a missing leading dim counts as 1. `[4, 1, 3]` and `[2, 1]` give `[4, 2, 3]`.

/// The number of elements of a shape (1 for the scalar shape `[]`).
///
/// # Panics
/// If the product overflows `usize`, naming the shape. The count is checked in every build
/// (not only with overflow checks on): a count that wrapped around to a small number would
/// pass the length checks that guard the unsafe SGEMM call.
///
/// ```
/// use kindling::shape::numel;
/// assert_eq!(numel(&[2, 3, 4]), 24);
/// assert_eq!(numel(&[]), 1);
/// ```
pub fn numel(shape: &[usize]) -> usize {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .unwrap_or_else(|| panic!("shape {shape:?} has more elements than usize can count"))
}

/// Row-major strides, in elements: the last dim has stride 1.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The broadcast of two shapes.
///
/// # Panics
/// When the shapes cannot broadcast; the message names the op and both shapes.
pub fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together (dim {i} is {da} against {db})");
        };
    }
    out
}

/// Strides that read a tensor of shape `shape` as if it had the (larger) shape `target`:
/// broadcast dims get stride 0, so the same element is read again and again.
pub fn broadcast_strides(shape: &[usize], target: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let offset = target.len() - shape.len();
    (0..target.len())
        .map(|i| {
            if i < offset || shape[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Resolves a possibly negative dim index, PyTorch style (`-1` is the last dim).
///
/// # Panics
/// If the dim is out of range; the message names the op and the shape.
pub fn normalize_dim(op: &str, dim: isize, shape: &[usize]) -> usize {
    let rank = shape.len() as isize;
    let d = if dim < 0 { dim + rank } else { dim };
    assert!(
        (0..rank).contains(&d),
        "{op}: dim {dim} is out of range for a tensor of shape {shape:?}"
    );
    d as usize
}

/// Splits a shape around `dim` into (outer, size of dim, inner) element counts, the layout
/// every reduction and softmax kernel loops over.
pub fn split_at_dim(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (numel(&shape[..dim]), shape[dim], numel(&shape[dim + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_lines_up_from_the_right() {
        assert_eq!(broadcast_shape("add", &[4, 1, 3], &[2, 1]), vec![4, 2, 3]);
        assert_eq!(broadcast_shape("add", &[], &[2, 3]), vec![2, 3]);
        assert_eq!(broadcast_strides(&[2, 1], &[4, 2, 3]), vec![0, 1, 0]);
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
    }

    #[test]
    #[should_panic(expected = "mul: shapes [2, 3] and [4] cannot be broadcast together")]
    fn incompatible_shapes_name_the_op_and_both_shapes() {
        broadcast_shape("mul", &[2, 3], &[4]);
    }
}
