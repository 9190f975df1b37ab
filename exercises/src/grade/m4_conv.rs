//! Graders for module 4, convolution and pooling. kindling has no public im2col, but a
//! convolution with one-hot filters is one: filter r of the identity weight `[K, C, k, k]`
//! picks exactly row r of the columns matrix. So im2col is checked against kindling's
//! `conv2d` with that weight, col2im against the input gradient of the same convolution,
//! both also against PyTorch's `F.unfold` and `F.fold`; the rest against kindling's
//! `conv2d` and `max_pool2d`, the backward rules with the gradient checker too.

use super::check::{check_backward, compare, compare_values, fixture, grads_of, run, Tol, CLOSE};
use super::Failure;
use kindling::autograd::{custom_op, CustomOp};
use kindling::{manual_seed, Tensor};

const IM2COL: &str = "docs/conv-as-gemm.md#im2col (and docs/conv-pooling.md)";
const SHAPES: &str = "docs/conv-as-gemm.md#the-shapes";
const GEMMS: &str = "docs/conv-as-gemm.md#the-three-gemms";
const POOL: &str = "docs/conv-pooling.md";

/// Indices must match exactly.
const EXACT: Tol = Tol {
    atol: 0.0,
    rtol: 0.0,
};

/// The `[K, C, k, k]` weight (K = C·k·k) whose filter r is 1 at tap r and 0 elsewhere.
fn one_hot_filters(c: usize, k: usize) -> Tensor {
    let rows = c * k * k;
    let mut w = vec![0.0; rows * rows];
    for r in 0..rows {
        w[r * rows + r] = 1.0;
    }
    Tensor::from_vec(w, &[rows, c, k, k])
}

/// kindling's im2col: the convolution with one-hot filters, as `[N, C·k·k, oh·ow]`.
fn unfold(x: &Tensor, k: usize, stride: usize, padding: usize) -> Tensor {
    let s = x.shape();
    let y = x.conv2d(&one_hot_filters(s[1], k), None, stride, padding);
    let ys = y.shape().to_vec();
    y.reshape(&[ys[0], ys[1], ys[2] * ys[3]])
}

/// The geometries the random checks use: input shape, kernel, stride, padding. They mix
/// overlapping and disjoint windows, padding and none, and non-square images.
const GEOMETRIES: [([usize; 4], usize, usize, usize); 3] = [
    ([2, 3, 5, 4], 3, 1, 1),
    ([1, 2, 6, 7], 2, 2, 0),
    ([2, 2, 7, 6], 3, 2, 1),
];

/// Task 4.1: PyTorch's `F.unfold`, then kindling's one-hot convolution on random inputs.
pub fn grade_im2col(f: impl Fn(&Tensor, usize, usize, usize) -> Tensor) -> Result<(), Failure> {
    let x = fixture("unfold", "input");
    let check = "im2col of x [2, 2, 5, 6], kernel 3, stride 2, padding 1 (PyTorch's F.unfold)";
    let got = run(check, || f(&x, 3, 2, 1)).map_err(|e| e.hint(IM2COL))?;
    compare(check, &fixture("unfold", "output"), &got, CLOSE).map_err(|e| e.hint(IM2COL))?;

    manual_seed(41);
    for (shape, k, stride, padding) in GEOMETRIES {
        let x = Tensor::randn(&shape);
        let check =
            format!("im2col of x {shape:?}, kernel {k}, stride {stride}, padding {padding}");
        let got = run(&check, || f(&x, k, stride, padding)).map_err(|e| e.hint(IM2COL))?;
        compare(&check, &unfold(&x, k, stride, padding), &got, CLOSE)
            .map_err(|e| e.hint(IM2COL))?;
    }
    Ok(())
}

/// Task 4.2: the adjoint identity and the input gradient of kindling's one-hot convolution
/// on random columns, then PyTorch's `F.fold`.
pub fn grade_col2im(
    f: impl Fn(&Tensor, &[usize], usize, usize, usize) -> Tensor,
) -> Result<(), Failure> {
    manual_seed(42);
    for (shape, k, stride, padding) in GEOMETRIES {
        let x = Tensor::randn(&shape);
        let cols_shape = unfold(&x, k, stride, padding).shape().to_vec();
        let c = Tensor::randn(&cols_shape);
        let check = format!(
            "col2im of columns {cols_shape:?} to {shape:?}, kernel {k}, stride {stride}, padding {padding}"
        );
        let got = run(&check, || f(&c, &shape, k, stride, padding)).map_err(|e| e.hint(GEMMS))?;
        if got.shape() == shape {
            // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: what makes col2im the backward of im2col.
            let lhs = (&unfold(&x, k, stride, padding) * &c).sum().item();
            let rhs = (&x * &got).sum().item();
            if (lhs - rhs).abs() > 1e-3 * (1.0 + lhs.abs()) {
                return Err(Failure::wrong(
                    &check,
                    format!(
                        "not im2col's adjoint: <im2col(x), c> = {lhs} but <x, col2im(c)> = {rhs} for a random x"
                    ),
                )
                .hint(GEMMS));
            }
        }
        let (n, _, oh, ow) = {
            let y = x.conv2d(&one_hot_filters(shape[1], k), None, stride, padding);
            let s = y.shape().to_vec();
            (s[0], s[1], s[2], s[3])
        };
        let upstream = c.reshape(&[n, cols_shape[1], oh, ow]);
        let expected = grads_of(
            |t| t[0].conv2d(&one_hot_filters(shape[1], k), None, stride, padding),
            &[x],
            &upstream,
        );
        let expected = expected[0].clone().expect("a gradient for x");
        compare(&check, &expected, &got, CLOSE).map_err(|e| e.hint(GEMMS))?;
    }

    let c = fixture("fold", "input");
    let check = "col2im of columns [1, 18, 30] to [1, 2, 5, 6], kernel 3, stride 1, padding 1 (PyTorch's F.fold)";
    let got = run(check, || f(&c, &[1, 2, 5, 6], 3, 1, 1)).map_err(|e| e.hint(GEMMS))?;
    compare(check, &fixture("fold", "output"), &got, CLOSE).map_err(|e| e.hint(GEMMS))
}

/// Task 4.3: against kindling's `conv2d`. The first case has as many output channels as
/// output columns, so that a bias broadcast along the wrong axis runs and gives numbers.
pub fn grade_conv2d(
    f: impl Fn(&Tensor, &Tensor, &Tensor, usize, usize) -> Tensor,
) -> Result<(), Failure> {
    manual_seed(43);
    let cases = [
        ([2, 3, 7, 4], [4, 3, 3, 3], 1, 1),
        ([3, 2, 9, 8], [5, 2, 3, 3], 2, 0),
        ([2, 4, 6, 5], [3, 4, 2, 2], 2, 1),
        ([1, 3, 8, 8], [6, 3, 5, 5], 1, 2),
    ];
    for (xs, ws, stride, padding) in cases {
        let (x, w, b) = (
            Tensor::randn(&xs),
            Tensor::randn(&ws),
            Tensor::randn(&[ws[0]]),
        );
        let check = format!(
            "conv2d of x {xs:?} with w {ws:?}, b [{}], stride {stride}, padding {padding}",
            ws[0]
        );
        let got = run(&check, || f(&x, &w, &b, stride, padding)).map_err(|e| e.hint(SHAPES))?;
        let expected = x.conv2d(&w, Some(&b), stride, padding);
        compare(&check, &expected, &got, CLOSE).map_err(|e| e.hint(SHAPES))?;
    }
    Ok(())
}

/// Task 4.4: gradients of x, w and b against kindling's `conv2d` for a random upstream,
/// then gradcheck, with and without overlap and padding.
pub fn grade_conv2d_backward<O: CustomOp + Clone>(
    make: impl Fn(usize, usize) -> O,
) -> Result<(), Failure> {
    manual_seed(44);
    let cases = [
        ([2, 2, 5, 4], [3, 2, 3, 3], 1, 1),
        ([2, 3, 7, 6], [2, 3, 3, 3], 2, 1),
    ];
    for (xs, ws, stride, padding) in cases {
        let op = make(stride, padding);
        let inputs = [
            Tensor::randn(&xs),
            Tensor::randn(&ws),
            Tensor::randn(&[ws[0]]),
        ];
        check_backward(
            &format!("Conv2d backward, x {xs:?}, w {ws:?}, stride {stride}, padding {padding}"),
            |t| custom_op(op.clone(), &[&t[0], &t[1], &t[2]]),
            |t| t[0].conv2d(&t[1], Some(&t[2]), stride, padding),
            &inputs,
            &["x", "w", "b"],
        )
        .map_err(|e| e.hint(GEMMS))?;
    }
    Ok(())
}

/// `shape`'s elements as a shuffled, evenly spaced range in [-2, 2]: every value distinct,
/// and neighbours further apart than gradcheck's step, so no window's maximum changes
/// while an element is nudged.
fn distinct(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let keys = Tensor::rand(&[n]).to_vec();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let step = 4.0 / (n - 1) as f32;
    let v = order.iter().map(|&r| -2.0 + r as f32 * step).collect();
    Tensor::from_vec(v, shape)
}

/// Task 4.5: the maxima against kindling's `max_pool2d`; the indices against kindling's
/// backward (which routes gradient e + 1 of output e to its argmax), and on windows with
/// ties against PyTorch's `return_indices`.
pub fn grade_max_pool2d(
    f: impl Fn(&Tensor, usize, usize) -> (Tensor, Vec<usize>),
) -> Result<(), Failure> {
    manual_seed(45);
    let x = distinct(&[2, 3, 6, 8]);
    let check = "max_pool2d of x [2, 3, 6, 8], kernel 2, stride 2";
    let (out, idx) = run(check, || f(&x, 2, 2)).map_err(|e| e.hint(POOL))?;
    let expected = x.max_pool2d(2, 2);
    compare(&format!("{check}: maxima"), &expected, &out, CLOSE).map_err(|e| e.hint(POOL))?;
    // With disjoint windows each input element gets at most one output's gradient.
    let labels: Vec<f32> = (1..=expected.numel()).map(|e| e as f32).collect();
    let upstream = Tensor::from_vec(labels, expected.shape());
    let routed = grads_of(|t| t[0].max_pool2d(2, 2), &[x], &upstream)[0]
        .clone()
        .expect("a gradient for x")
        .to_vec();
    let mut want = vec![0.0; expected.numel()];
    for (at, &g) in routed.iter().enumerate() {
        if g > 0.0 {
            want[g as usize - 1] = (at % (6 * 8)) as f32;
        }
    }
    compare_indices(&format!("{check}: indices"), &want, &idx, expected.shape())?;

    for case in ["max_pool_ties_k2s2", "max_pool_ties_k3s2"] {
        let k = if case.ends_with("k2s2") { 2 } else { 3 };
        let x = fixture(case, "input");
        let check = format!(
            "max_pool2d of x {:?} with ties, kernel {k}, stride 2 (PyTorch's indices)",
            x.shape()
        );
        let (out, idx) = run(&check, || f(&x, k, 2)).map_err(|e| e.hint(POOL))?;
        let expected = fixture(case, "output");
        compare(&format!("{check}: maxima"), &expected, &out, CLOSE).map_err(|e| e.hint(POOL))?;
        compare_indices(
            &format!("{check}: indices"),
            &fixture(case, "indices").to_vec(),
            &idx,
            expected.shape(),
        )?;
    }
    Ok(())
}

fn compare_indices(
    check: &str,
    expected: &[f32],
    got: &[usize],
    shape: &[usize],
) -> Result<(), Failure> {
    let got: Vec<f32> = got.iter().map(|&i| i as f32).collect();
    compare_values(check, expected, &got, shape, EXACT).map_err(|e| {
        e.hint("docs/conv-pooling.md (an index is h·W + w inside its plane; ties go to the first)")
    })
}

/// Task 4.6: gradients against kindling's `max_pool2d` for a random upstream, then
/// gradcheck, with disjoint windows and with overlapping ones.
pub fn grade_max_pool2d_backward<O: CustomOp + Clone>(
    make: impl Fn(usize, usize) -> O,
) -> Result<(), Failure> {
    manual_seed(46);
    for (shape, k, stride) in [([2, 2, 4, 6], 2, 2), ([1, 2, 5, 5], 3, 2)] {
        let op = make(k, stride);
        check_backward(
            &format!("MaxPool2d backward, x {shape:?}, kernel {k}, stride {stride}"),
            |t| custom_op(op.clone(), &[&t[0]]),
            |t| t[0].max_pool2d(k, stride),
            &[distinct(&shape)],
            &["x"],
        )
        .map_err(|e| e.hint(POOL))?;
    }
    Ok(())
}
