//! How a tensor prints: `Display` and `Debug` both give exactly what PyTorch's `repr(t)`
//! gives for a float32 tensor with the default print options, so kindling output can be
//! compared line by line with a PyTorch session, and what a student sees in a PyTorch
//! tutorial is what kindling shows.
//!
//! Printing has two passes. The first looks at every value that will be shown and picks
//! one number format for the whole tensor (whole numbers, 4 decimals or scientific) and one
//! column width. The second lays the values out as nested rows. The rules are checked
//! against PyTorch by `tests/print.rs` and its fixture from `tools/golden/gen_print.py`.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

use crate::tensor::Tensor;

/// Digits after the point in fixed and scientific notation.
const PRECISION: usize = 4;
/// Tensors with more elements than this show only their edges.
const THRESHOLD: usize = 1000;
/// How many entries each edge of a dim keeps when a tensor is summarised.
const EDGE_ITEMS: usize = 3;
/// Where rows of numbers wrap, counting the `tensor(` prefix.
const LINE_WIDTH: usize = 80;
const PREFIX: &str = "tensor(";

impl fmt::Display for Tensor {
    /// Prints the tensor as PyTorch's `repr(t)` (and `print(t)`) does, with the default
    /// print options: precision 4, line width 80, and only the 3 first and last entries of
    /// each dim once there are more than 1000 elements.
    ///
    /// - One format for all values: whole numbers print as `2.`; otherwise 4 decimals; and
    ///   scientific notation (`1.0000e-05`) when the largest and smallest nonzero
    ///   magnitudes are more than 1000 apart, or the largest exceeds 1e8, or the smallest is
    ///   under 1e-4. Every value is padded to one common width. `nan`, `inf`, `-inf` print as
    ///   such and do not count towards the choice.
    /// - A 0-d tensor prints as `tensor(3.)`; an empty one as `tensor([])`, with its size
    ///   when it is not 1-d: `tensor([], size=(0, 3))`.
    /// - A leaf that requires grad ends with `requires_grad=True`; the result of a recorded
    ///   op with `grad_fn=<NameBackward0>`, where `Name` is kindling's [`Tensor::op_name`].
    ///   For most ops this is PyTorch's name too (`MulBackward0`, `SumBackward0`), but not
    ///   for all, as kindling names its ops after its own API rather than PyTorch's kernels:
    ///   `LinearBackward0` where PyTorch shows `AddmmBackward0`, `ReshapeBackward0` for
    ///   `ViewBackward0`, `PowfBackward0` for `PowBackward0`, `SumDimBackward0` for
    ///   `SumBackward1`, and so on.
    ///   Once `backward` has freed the graph kindling no longer knows the op, so such a
    ///   result shows `requires_grad=True` where PyTorch would still name its `grad_fn`.
    ///
    /// `Debug` prints the same, as `repr` and `str` agree in PyTorch.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.5], &[2, 2]);
    /// assert_eq!(x.to_string(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])");
    /// assert_eq!(Tensor::scalar(3.0).to_string(), "tensor(3.)");
    /// assert_eq!(
    ///     Tensor::from_vec(vec![1e-5, 1.0], &[2]).to_string(),
    ///     "tensor([1.0000e-05, 1.0000e+00])"
    /// );
    ///
    /// let w = Tensor::from_vec(vec![-1.0, 10.0], &[2]).requires_grad(true);
    /// assert_eq!(format!("{w:?}"), "tensor([-1., 10.], requires_grad=True)");
    /// assert_eq!(format!("{:?}", &w * &w), "tensor([  1., 100.], grad_fn=<MulBackward0>)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self))
    }
}

impl fmt::Debug for Tensor {
    /// The same text as [`Display`](#impl-Display-for-Tensor): PyTorch's `repr(t)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self))
    }
}

fn repr(t: &Tensor) -> String {
    // Asked before the data is locked, so that printing never holds two locks at once.
    let grad_suffix = match t.op_name() {
        Some(name) => Some(format!("grad_fn=<{name}Backward0>")),
        None => t
            .is_requires_grad()
            .then(|| "requires_grad=True".to_string()),
    };
    let shape = t.shape();
    let mut suffixes = Vec::new();
    let mut text = String::from(PREFIX);
    if shape.contains(&0) {
        text.push_str("[]");
        // The brackets alone cannot tell `[0, 3]` from `[3, 0]`; a 1-d empty needs no more.
        if shape.len() != 1 {
            suffixes.push(format!("size={}", python_tuple(shape)));
        }
    } else {
        // `read_quiet`: printing is not an op reading its input, so the profiler skips it.
        let guard = t.0.storage.read_quiet();
        let data = &guard[..t.numel()];
        let summarize = data.len() > THRESHOLD;
        let mut shown = Vec::new();
        collect_shown(data, shape, summarize, &mut shown);
        let format = NumberFormat::choose(&shown);
        layout(&mut text, data, shape, PREFIX.len(), summarize, &format);
    }
    suffixes.extend(grad_suffix);
    append_suffixes(&mut text, &suffixes);
    text
}

/// `(2, 0, 4)`, and `(0,)` for one dim, as Python writes a tuple.
fn python_tuple(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

/// Each suffix goes on the last line after `, ` if it fits within the line width, else on
/// a new line under the opening bracket, then the closing parenthesis.
fn append_suffixes(text: &mut String, suffixes: &[String]) {
    // The count includes the `, ` before the suffix and leaves room for the `)` after it,
    // one column more than the text needs: PyTorch's rule, kept to wrap where it wraps.
    let last_line = |s: &str| s.len() - s.rfind('\n').map_or(0, |i| i + 1);
    let mut used = last_line(text) + 2;
    for suffix in suffixes {
        if used + suffix.len() + 2 > LINE_WIDTH {
            let _ = write!(text, ",\n{:indent$}{suffix}", "", indent = PREFIX.len());
            used = PREFIX.len() + suffix.len();
        } else {
            let _ = write!(text, ", {suffix}");
            used += suffix.len() + 2;
        }
    }
    text.push(')');
}

/// The entries of a dim of length `n` that are printed: all of them, or when summarising a
/// long dim, a head and a tail with `...` between them.
fn shown_range(n: usize, summarize: bool) -> (Range<usize>, Option<Range<usize>>) {
    if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS, Some(n - EDGE_ITEMS..n))
    } else {
        (0..n, None)
    }
}

/// The sub-tensors (rows, matrices, ...) along the first dim that are printed, each as its
/// slice of the row-major data; `None` marks the `...` gap.
fn shown_parts<'a>(
    data: &'a [f32],
    shape: &[usize],
    summarize: bool,
) -> impl Iterator<Item = Option<&'a [f32]>> {
    let stride = data.len() / shape[0];
    let (head, tail) = shown_range(shape[0], summarize);
    let gap = tail.as_ref().map(|_| None);
    let part = move |i: usize| Some(&data[i * stride..(i + 1) * stride]);
    head.map(part)
        .chain(gap)
        .chain(tail.into_iter().flatten().map(part))
}

/// The values that will appear on screen. Only they decide the number format, so a hidden
/// middle value cannot switch a summarised tensor to scientific notation.
fn collect_shown(data: &[f32], shape: &[usize], summarize: bool, out: &mut Vec<f32>) {
    if shape.len() <= 1 {
        let (head, tail) = shown_range(data.len(), summarize);
        out.extend(head.chain(tail.into_iter().flatten()).map(|i| data[i]));
        return;
    }
    for part in shown_parts(data, shape, summarize).flatten() {
        collect_shown(part, &shape[1..], summarize, out);
    }
}

/// Writes the nested brackets. `indent` is the column of this level's `[`, so that a
/// wrapped or next row lines up one column to its right.
fn layout(
    out: &mut String,
    data: &[f32],
    shape: &[usize],
    indent: usize,
    summarize: bool,
    format: &NumberFormat,
) {
    match shape.len() {
        0 => out.push_str(&format.format(data[0])),
        1 => layout_row(out, data, indent, summarize, format),
        dims => {
            // Between matrices of a 3-d tensor one blank line, between 3-d blocks of a 4-d
            // tensor two, and so on: the deeper the split, the wider the gap.
            let separator = format!(
                ",{}{:indent$}",
                "\n".repeat(dims - 1),
                "",
                indent = indent + 1
            );
            out.push('[');
            for (k, part) in shown_parts(data, shape, summarize).enumerate() {
                if k > 0 {
                    out.push_str(&separator);
                }
                match part {
                    Some(part) => layout(out, part, &shape[1..], indent + 1, summarize, format),
                    None => out.push_str("..."),
                }
            }
            out.push(']');
        }
    }
}

/// One row of numbers, wrapped so that each line holds as many whole entries as fit in
/// what remains of the line width after the indent (at least one).
fn layout_row(
    out: &mut String,
    data: &[f32],
    indent: usize,
    summarize: bool,
    format: &NumberFormat,
) {
    let (head, tail) = shown_range(data.len(), summarize);
    let mut items: Vec<String> = head.map(|i| format.format(data[i])).collect();
    if let Some(tail) = tail {
        // The gap counts as one entry when wrapping; its leading space lines it up with
        // the padded numbers around it.
        items.push(" ...".to_string());
        items.extend(tail.map(|i| format.format(data[i])));
    }
    // Each entry takes its width plus the ", " after it.
    let per_line = (LINE_WIDTH.saturating_sub(indent) / (format.width + 2)).max(1);
    let lines: Vec<String> = items.chunks(per_line).map(|line| line.join(", ")).collect();
    out.push('[');
    out.push_str(&lines.join(&format!(",\n{:indent$}", "", indent = indent + 1)));
    out.push(']');
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Notation {
    /// Every finite value is a whole number: `2.`, the point marking a float.
    Whole,
    /// `2.5000`.
    Fixed,
    /// `2.5000e+00`.
    Scientific,
}

/// One notation and one width for every number of a tensor, so that columns line up.
struct NumberFormat {
    notation: Notation,
    width: usize,
}

impl NumberFormat {
    fn choose(values: &[f32]) -> NumberFormat {
        // Zeros and non-finite values print the same in every notation, so only the others
        // take part in the choice and the width.
        let magnitudes = values.iter().filter(|v| v.is_finite() && **v != 0.0);
        let Some((min, max)) = magnitudes.clone().fold(None, |acc, &v| {
            let a = f64::from(v.abs());
            Some(acc.map_or((a, a), |(lo, hi): (f64, f64)| (lo.min(a), hi.max(a))))
        }) else {
            return NumberFormat {
                notation: Notation::Whole,
                width: 1,
            };
        };
        let whole = magnitudes.clone().all(|v| v.ceil() == *v);
        let notation = if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
            Notation::Scientific
        } else if whole {
            Notation::Whole
        } else {
            Notation::Fixed
        };
        let probe = NumberFormat { notation, width: 0 };
        let width = magnitudes
            .map(|&v| probe.format(v).len())
            .max()
            .unwrap_or(0)
            .max(1);
        NumberFormat { notation, width }
    }

    /// `v` in this notation, right-aligned to the common width (wider if it does not fit:
    /// a non-finite value never counted towards the width).
    fn format(&self, v: f32) -> String {
        let text = if v.is_nan() {
            // Whatever the sign bit, as Python prints it.
            "nan".to_string()
        } else if v.is_infinite() {
            if v > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            // Rust formats the exact binary value and rounds ties to even, as Python does,
            // so the f32 widened to f64 gives PyTorch's digits.
            let v = f64::from(v);
            match self.notation {
                Notation::Whole => format!("{v:.0}."),
                Notation::Fixed => format!("{v:.PRECISION$}"),
                Notation::Scientific => scientific(v),
            }
        };
        format!("{text:>width$}", width = self.width)
    }
}

/// `1.2346e-05`: Rust writes `1.2346e-5`, Python signs the exponent and gives it two digits.
fn scientific(v: f64) -> String {
    let rust = format!("{v:.PRECISION$e}");
    let (mantissa, exponent) = rust.split_once('e').expect("LowerExp writes an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("LowerExp writes an integer exponent");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_matches_python() {
        assert_eq!(scientific(1.0e-5), "1.0000e-05");
        assert_eq!(scientific(-3.0e38), "-3.0000e+38");
        assert_eq!(scientific(0.0), "0.0000e+00");
        assert_eq!(scientific(1.0e100), "1.0000e+100");
    }

    #[test]
    fn only_nonzero_finite_values_choose() {
        let f = NumberFormat::choose(&[0.0, f32::NAN, f32::NEG_INFINITY]);
        assert_eq!((f.notation, f.width), (Notation::Whole, 1));
        assert_eq!(f.format(f32::NEG_INFINITY), "-inf");
        assert_eq!(f.format(-f32::NAN), "nan");
    }

    #[test]
    fn tuples_as_python() {
        assert_eq!(python_tuple(&[0]), "(0,)");
        assert_eq!(python_tuple(&[2, 0, 4]), "(2, 0, 4)");
    }
}
