//! The fused BatchNorm kernel (`ops/batch_norm.rs`) against the same maths composed from
//! primitive ops, whose gradients autograd derives on its own: outputs and all three
//! gradients must agree, for 2-d, 3-d, 4-d and 5-d inputs.

use kindling_core::{manual_seed, Tensor};

/// BatchNorm in training mode from primitives: move channels first, flatten the rest,
/// normalise each row with its biased variance, then scale and shift.
fn composed(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Tensor {
    let shape = x.shape().to_vec();
    let c = shape[1];
    let mut dims: Vec<usize> = (0..shape.len()).collect();
    dims.swap(0, 1);
    let rows = x.permute(&dims).reshape(&[c, x.numel() / c]);
    let mean = rows.mean_dim(1, true);
    let centered = &rows - &mean;
    let var = (&centered * &centered).mean_dim(1, true);
    let normed = &centered / &(&var + eps).sqrt();
    let y = &(&normed * &w.reshape(&[c, 1])) + &b.reshape(&[c, 1]);
    let mut moved = shape.clone();
    moved.swap(0, 1);
    y.reshape(&moved).permute(&dims)
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 2e-4 * (1.0 + y.abs()),
            "{what}[{i}]: fused {x}, composed {y}"
        );
    }
}

#[test]
fn fused_batch_norm_matches_the_composed_one() {
    manual_seed(3);
    for shape in [
        vec![8, 3],
        vec![4, 3, 5],
        vec![2, 4, 3, 3],
        vec![2, 2, 3, 2, 3],
    ] {
        let c = shape[1];
        let x0 = &(&Tensor::randn(&shape) * 4.0) + 2.0;
        let w0 = &Tensor::randn(&[c]) * 0.5 + 1.0;
        let b0 = Tensor::randn(&[c]);
        let upstream = Tensor::randn(&shape);
        let leaves = || {
            (
                x0.detach().requires_grad(true),
                w0.detach().requires_grad(true),
                b0.detach().requires_grad(true),
            )
        };

        let (x, w, b) = leaves();
        let fused = x.batch_norm(None, None, Some(&w), Some(&b), true, 0.1, 1e-5);
        fused.backward_with(&upstream);
        let (xc, wc, bc) = leaves();
        let reference = composed(&xc, &wc, &bc, 1e-5);
        reference.backward_with(&upstream);

        let at = format!("{shape:?}");
        assert_close(
            &format!("{at} output"),
            &fused.to_vec(),
            &reference.to_vec(),
        );
        assert_close(
            &format!("{at} dx"),
            &x.grad().unwrap().to_vec(),
            &xc.grad().unwrap().to_vec(),
        );
        assert_close(
            &format!("{at} dγ"),
            &w.grad().unwrap().to_vec(),
            &wc.grad().unwrap().to_vec(),
        );
        assert_close(
            &format!("{at} dβ"),
            &b.grad().unwrap().to_vec(),
            &bc.grad().unwrap().to_vec(),
        );
    }
}
