//! The autograd engine's own guarantees: hand-derived gradients, accumulation, diamonds,
//! `no_grad`/`detach`, graph freeing, deep graphs without stack overflow, flat memory,
//! shape-error messages, the DOT picture, and `gradcheck` catching a wrong gradient.

use kindling_core::autograd::{gradcheck, GradcheckOptions};
use kindling_core::{no_grad, Tensor};

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

#[test]
fn hand_derived_chain_rule() {
    // L = Σ (w·x + b)², w = [1, -2], x = [3, 4], b = 0.5
    // u = w·x + b = [3.5, -7.5];  dL/du = 2u = [7, -15]
    // dL/dw = 2u·x = [21, -60];  dL/dx = 2u·w = [7, 30];  dL/db = Σ 2u = -8
    let w = t(&[1.0, -2.0], &[2]).requires_grad(true);
    let x = t(&[3.0, 4.0], &[2]).requires_grad(true);
    let b = Tensor::scalar(0.5).requires_grad(true);
    let u = &(&w * &x) + &b;
    let loss = (&u * &u).sum();
    assert_eq!(loss.item(), 3.5 * 3.5 + 7.5 * 7.5);
    loss.backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![21.0, -60.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![7.0, 30.0]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![-8.0]);
}

#[test]
fn hand_derived_softmax_cross_entropy_and_matmul() {
    // Logits [0, ln 3] give probabilities [1/4, 3/4]. With target 1 the loss is -ln(3/4)
    // and its gradient is p - onehot = [1/4, -1/4].
    let z = t(&[0.0, 3f32.ln()], &[1, 2]).requires_grad(true);
    let loss = z.log_softmax(1).nll_loss(&[1]);
    assert!((loss.item() + 0.75f32.ln()).abs() < 1e-6);
    loss.backward();
    assert!(close(&z.grad().unwrap().to_vec(), &[0.25, -0.25]));

    // C = A·B with A = [[1, 2]], B = [[3], [4]]: dC/dA = Bᵀ = [[3, 4]], dC/dB = Aᵀ = [[1], [2]].
    let a = t(&[1.0, 2.0], &[1, 2]).requires_grad(true);
    let bm = t(&[3.0, 4.0], &[2, 1]).requires_grad(true);
    a.matmul(&bm).sum().backward();
    assert_eq!(a.grad().unwrap().to_vec(), vec![3.0, 4.0]);
    assert_eq!(bm.grad().unwrap().to_vec(), vec![1.0, 2.0]);
}

#[test]
fn hand_derived_conv_pool_and_batch_norm() {
    // A 1x1 convolution with weight 2 and bias 1 is y = 2x + 1: dy/dx = 2, dL/dw = Σx, dL/db = n.
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).requires_grad(true);
    let w = t(&[2.0], &[1, 1, 1, 1]).requires_grad(true);
    let b = t(&[1.0], &[1]).requires_grad(true);
    let y = x.conv2d(&w, Some(&b), 1, 0);
    assert_eq!(y.to_vec(), vec![3.0, 5.0, 7.0, 9.0]);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0; 4]);
    assert_eq!(w.grad().unwrap().to_vec(), vec![10.0]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![4.0]);

    // 2x2 max pool over [[1, 5], [3, 2]]: the gradient goes only to the 5.
    let p = t(&[1.0, 5.0, 3.0, 2.0], &[1, 1, 2, 2]).requires_grad(true);
    p.max_pool2d(2, 2).sum().backward();
    assert_eq!(p.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    // A 3x3 plane with 2x2 windows, stride 2: one window; the last row and column are in
    // none, so their gradient is 0.
    let p = t(
        &[1.0, 5.0, 9.0, 3.0, 2.0, 9.0, 9.0, 9.0, 9.0],
        &[1, 1, 3, 3],
    )
    .requires_grad(true);
    let y = p.max_pool2d(2, 2);
    assert_eq!(y.to_vec(), vec![5.0]);
    y.backward_with(&t(&[7.0], &[1, 1, 1, 1]));
    assert_eq!(
        p.grad().unwrap().to_vec(),
        vec![0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );

    // BatchNorm of [1, 3] in one channel: mean 2, biased variance 1, output [-1, 1] (eps
    // aside). Σ of the output is always 0, so its gradient w.r.t. the input is 0.
    let v = t(&[1.0, 3.0], &[2, 1]).requires_grad(true);
    let out = v.batch_norm(None, None, None, None, true, 0.1, 0.0);
    assert_eq!(out.to_vec(), vec![-1.0, 1.0]);
    out.sum().backward();
    assert!(close(&v.grad().unwrap().to_vec(), &[0.0, 0.0]));
}

#[test]
fn gradients_accumulate_and_diamonds_get_both_paths() {
    // y = a·x + b·x with a = x² → d/dx (x³ + x·x) at x = 3: 3x² + 2x = 33.
    let x = Tensor::scalar(3.0).requires_grad(true);
    let sq = &x * &x; // used twice below: a diamond
    let y = &(&sq * &x) + &sq;
    y.backward();
    assert_eq!(x.grad().unwrap().item(), 33.0);
    // A second graph adds to the gradient instead of replacing it (+=, as PyTorch).
    (&x * 2.0).backward();
    assert_eq!(x.grad().unwrap().item(), 35.0);
    x.zero_grad();
    assert_eq!(x.grad().unwrap().item(), 0.0);
}

#[test]
fn broadcast_gradients_sum_back_to_each_input_shape() {
    let a = Tensor::ones(&[4, 1, 3]).requires_grad(true);
    let b = Tensor::ones(&[2, 1]).requires_grad(true);
    (&a * &b).sum().backward();
    // Each a element met 2 b values; each b element met 4·3 = 12 a values.
    assert_eq!(a.grad().unwrap().shape(), &[4, 1, 3]);
    assert_eq!(a.grad().unwrap().to_vec(), vec![2.0; 12]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![12.0, 12.0]);
}

#[test]
fn no_grad_and_detach_stop_the_graph() {
    let w = Tensor::ones(&[2]).requires_grad(true);
    let inside = no_grad(|| &w * 2.0);
    assert!(!inside.is_requires_grad());
    assert!(inside.op_name().is_none());
    let d = (&w * 3.0).detach();
    assert!(!d.is_requires_grad());
    // detach shares storage, as in PyTorch.
    let shared = w.detach();
    w.data_mut()[0] = 7.0;
    assert_eq!(shared.to_vec()[0], 7.0);
    // Constants alone never record.
    let c = &Tensor::ones(&[2]) * 2.0;
    assert!(c.op_name().is_none());
}

#[test]
fn backward_frees_the_graph_and_a_second_backward_says_why() {
    let x = Tensor::ones(&[2]).requires_grad(true);
    let y = x.exp().sum();
    assert_eq!(y.op_name(), Some("Sum"));
    y.backward();
    assert_eq!(
        y.op_name(),
        None,
        "the op (and what it saved) is freed after backward"
    );
    let again = std::panic::catch_unwind(|| y.backward()).unwrap_err();
    let msg = again.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("backward through the graph a second time"),
        "{msg}"
    );
}

#[test]
fn a_chain_of_100000_ops_runs_forward_backward_and_drop_without_overflow() {
    // Run on a thread with a small (256 KiB) stack: any recursion per node would overflow.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let x = Tensor::scalar(1.0).requires_grad(true);
            let mut y = x.clone();
            for _ in 0..100_000 {
                y = &y * 1.0;
            }
            let z = &y + 0.0;
            assert_eq!(z.item(), 1.0);
            // Dropping an unused deep graph must not recurse either.
            drop(z);
            y.backward();
            assert_eq!(x.grad().unwrap().item(), 1.0);
            let mut w = x.clone();
            for _ in 0..100_000 {
                w = w.exp().log();
            }
            drop(w);
        })
        .unwrap()
        .join()
        .unwrap();
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).unwrap_err();
    err.downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| err.downcast_ref::<&str>().unwrap().to_string())
}

#[test]
fn shape_errors_name_the_op_and_both_shapes() {
    let a = Tensor::zeros(&[2, 3]);
    let b = Tensor::zeros(&[4]);
    assert!(panic_message(|| drop(&a + &b))
        .contains("add: shapes [2, 3] and [4] cannot be broadcast together"));
    assert!(panic_message(|| drop(a.mul(&b))).contains("mul: shapes [2, 3] and [4]"));
    assert!(panic_message(|| drop(a.matmul(&Tensor::zeros(&[4, 5]))))
        .contains("matmul: shapes [2, 3] and [4, 5] cannot be multiplied"));
    assert!(panic_message(|| drop(a.reshape(&[4]))).contains(
        "reshape: cannot reshape a tensor of shape [2, 3] (6 elements) into shape [4] (4 elements)"
    ));
    let img = Tensor::zeros(&[1, 3, 5, 5]);
    let w = Tensor::zeros(&[8, 2, 3, 3]);
    assert!(panic_message(|| drop(img.conv2d(&w, None, 1, 0)))
        .contains("conv2d: input [1, 3, 5, 5] has 3 channels but weight [8, 2, 3, 3] expects 2"));
    assert!(
        panic_message(|| drop(Tensor::from_vec(vec![1.0; 5], &[2, 3])))
            .contains("data has 5 elements but shape [2, 3] needs 6")
    );
    assert!(panic_message(|| drop(a.softmax(2)))
        .contains("softmax: dim 2 is out of range for a tensor of shape [2, 3]"));
    assert!(panic_message(|| drop(
        Tensor::zeros(&[1, 3]).batch_norm(None, None, None, None, true, 0.1, 1e-5)
    ))
    .contains("expected more than 1 value per channel when training"));
}

#[test]
fn dot_export_shows_ops_leaves_and_shapes() {
    let x = Tensor::ones(&[2, 3]).requires_grad(true);
    let w = Tensor::ones(&[3, 1]).requires_grad(true);
    let loss = x.matmul(&w).relu().sum();
    let dot = loss.to_dot();
    assert!(dot.starts_with("digraph"));
    for needle in [
        "MatMul\\n[2, 1]",
        "Relu\\n[2, 1]",
        "Sum\\n[]",
        "leaf (requires grad)\\n[2, 3]",
        "->",
    ] {
        assert!(dot.contains(needle), "missing {needle} in\n{dot}");
    }
    assert_eq!(dot.matches("->").count(), 4);
}

#[test]
fn gradcheck_catches_a_wrong_gradient_and_reports_the_worst_element() {
    // x · detach(x) has true derivative 2x, but backward only sees the first factor: x.
    let x = t(&[1.0, -2.0, 3.0], &[3]);
    let err = gradcheck(
        |v| &v[0] * &v[0].detach(),
        std::slice::from_ref(&x),
        GradcheckOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.index, 2, "the largest |x| gives the largest error");
    // The upstream gradient scales both, but the numeric one is twice the analytic one.
    assert!((err.numeric / err.analytic - 2.0).abs() < 1e-2, "{err}");
    assert!(err.to_string().contains("worst of 3 elements"));
    // The honest version passes.
    assert!(gradcheck(|v| &v[0] * &v[0], &[x], GradcheckOptions::default()).is_ok());
}

/// Runs `f` on a fresh leaf holding `x`, backpropagates from `Σ f(x)`, returns (f(x), dΣf/dx).
fn value_and_grad(
    x: &[f32],
    shape: &[usize],
    f: impl Fn(&Tensor) -> Tensor,
) -> (Vec<f32>, Vec<f32>) {
    let leaf = t(x, shape).requires_grad(true);
    let y = f(&leaf);
    y.sum().backward();
    (y.to_vec(), leaf.grad().unwrap().to_vec())
}

/// A function of one tensor, for tables of cases.
type UnaryFn = Box<dyn Fn(&Tensor) -> Tensor>;

#[test]
fn hand_derived_unary_and_binary_ops() {
    // d/dx of each function at x = [1, 4], worked out by hand.
    let x = [1.0, 4.0];
    let cases: Vec<(&str, UnaryFn, [f32; 2], [f32; 2])> = vec![
        ("neg", Box::new(|v| -v), [-1.0, -4.0], [-1.0, -1.0]),
        ("x - 3", Box::new(|v| v - 3.0), [-2.0, 1.0], [1.0, 1.0]),
        ("3 - x", Box::new(|v| 3.0 - v), [2.0, -1.0], [-1.0, -1.0]),
        ("2 / x", Box::new(|v| 2.0 / v), [2.0, 0.5], [-2.0, -0.125]), // -2/x²
        ("x / 2", Box::new(|v| v / 2.0), [0.5, 2.0], [0.5, 0.5]),
        ("sqrt", Box::new(|v| v.sqrt()), [1.0, 2.0], [0.5, 0.25]), // 1/(2√x)
        ("log", Box::new(|v| v.log()), [0.0, 4f32.ln()], [1.0, 0.25]), // 1/x
        ("x^1.5", Box::new(|v| v.powf(1.5)), [1.0, 8.0], [1.5, 3.0]), // 1.5·√x
        ("x·x", Box::new(|v| v * v), [1.0, 16.0], [2.0, 8.0]),
        (
            "relu(x - 2)",
            Box::new(|v| (v - 2.0).relu()),
            [0.0, 2.0],
            [0.0, 1.0],
        ),
    ];
    for (name, f, want_y, want_g) in cases {
        let (y, g) = value_and_grad(&x, &[2], f);
        assert!(
            close(&y, &want_y),
            "{name}: value {y:?}, expected {want_y:?}"
        );
        assert!(
            close(&g, &want_g),
            "{name}: gradient {g:?}, expected {want_g:?}"
        );
    }
    // exp, sigmoid and tanh at 0: values 1, 1/2, 0 and slopes 1, 1/4, 1.
    let (y, g) = value_and_grad(&[0.0], &[1], |v| v.exp());
    assert_eq!((y, g), (vec![1.0], vec![1.0]));
    let (y, g) = value_and_grad(&[0.0], &[1], |v| v.sigmoid());
    assert_eq!((y, g), (vec![0.5], vec![0.25]));
    let (y, g) = value_and_grad(&[0.0], &[1], |v| v.tanh());
    assert_eq!((y, g), (vec![0.0], vec![1.0]));
}

#[test]
fn hand_derived_reductions_and_layout_ops() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    // mean of 6 elements: each gets 1/6.
    let leaf = t(&x, &[2, 3]).requires_grad(true);
    leaf.mean().backward();
    assert!(close(&leaf.grad().unwrap().to_vec(), &[1.0 / 6.0; 6]));
    // Σ_dim0 weighted by [1, 10, 100]: each column's weight flows to both rows.
    let leaf = t(&x, &[2, 3]).requires_grad(true);
    let s = leaf.sum_dim(0, false);
    assert_eq!(s.to_vec(), vec![5.0, 7.0, 9.0]);
    s.backward_with(&t(&[1.0, 10.0, 100.0], &[3]));
    assert_eq!(
        leaf.grad().unwrap().to_vec(),
        vec![1.0, 10.0, 100.0, 1.0, 10.0, 100.0]
    );
    // mean over dim 1 with keepdim: each row's weight divided by 3.
    let leaf = t(&x, &[2, 3]).requires_grad(true);
    let m = leaf.mean_dim(1, true);
    assert_eq!(
        (m.shape().to_vec(), m.to_vec()),
        (vec![2, 1], vec![2.0, 5.0])
    );
    m.backward_with(&t(&[3.0, 6.0], &[2, 1]));
    assert_eq!(
        leaf.grad().unwrap().to_vec(),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    );
    // transpose then weight by position: the gradient is the weights transposed back.
    let leaf = t(&x, &[2, 3]).requires_grad(true);
    let tr = leaf.transpose(0, 1);
    assert_eq!(tr.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    tr.backward_with(&t(&[10.0, 40.0, 20.0, 50.0, 30.0, 60.0], &[3, 2]));
    assert_eq!(
        leaf.grad().unwrap().to_vec(),
        vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    );
    // reshape, permute and flatten_from only move elements: the upstream comes back in order.
    let leaf = t(&x, &[1, 2, 3]).requires_grad(true);
    let moved = leaf.permute(&[2, 0, 1]).reshape(&[3, 2]).flatten_from(0);
    assert_eq!(moved.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    moved.backward_with(&t(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[6]));
    assert_eq!(leaf.grad().unwrap().to_vec(), x.to_vec());
    // softmax of two equal logits is [1/2, 1/2]; with upstream [1, 0] the gradient is
    // p ⊙ (u - p·u) = [1/2 · 1/2, 1/2 · -1/2].
    let leaf = t(&[0.0, 0.0], &[1, 2]).requires_grad(true);
    let p = leaf.softmax(1);
    assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    p.backward_with(&t(&[1.0, 0.0], &[1, 2]));
    assert_eq!(leaf.grad().unwrap().to_vec(), vec![0.25, -0.25]);
}

#[test]
fn gradients_reused_in_place_stay_correct_when_shared() {
    // Large enough (100,000 elements) for the backward rules to reuse the incoming
    // gradient's buffer. `relu(h) + h` hands the same gradient to both branches, so
    // neither may overwrite it.
    kindling_core::manual_seed(11);
    let x = Tensor::randn(&[100_000]).requires_grad(true);
    let upstream = Tensor::randn(&[100_000]);
    let h = &x * 2.0;
    let y = &h.relu() + &h.tanh();
    y.backward_with(&upstream);
    let (xs, us) = (x.to_vec(), upstream.to_vec());
    let got = x.grad().unwrap().to_vec();
    for i in (0..xs.len()).step_by(997) {
        let h = 2.0 * xs[i];
        let want = 2.0 * us[i] * (if h > 0.0 { 1.0 } else { 0.0 } + (1.0 - h.tanh() * h.tanh()));
        assert!(
            (got[i] - want).abs() <= 1e-5 * (1.0 + want.abs()),
            "element {i}: {} vs {want}",
            got[i]
        );
    }
    // The caller's upstream tensor is never modified.
    assert_eq!(upstream.to_vec(), us);
}

#[test]
fn argmax_takes_the_first_maximum_and_lets_nan_win_as_pytorch() {
    // torch.tensor([[1., 3., 3.], [nan, 2., nan], [0., -1., 5.]]).argmax(1) -> [1, 0, 2]
    let x = Tensor::from_vec(
        vec![1.0, 3.0, 3.0, f32::NAN, 2.0, f32::NAN, 0.0, -1.0, 5.0],
        &[3, 3],
    );
    assert_eq!(x.argmax(1).to_vec(), vec![1.0, 0.0, 2.0]);
    // along dim 0: columns [1, nan, 0], [3, 2, -1], [3, nan, 5] -> [1, 0, 1]
    assert_eq!(x.argmax(0).to_vec(), vec![1.0, 0.0, 1.0]);
    assert_eq!(x.argmax(0).shape(), &[3]);
}

#[test]
fn max_along_a_dim_returns_values_and_indices_and_routes_the_gradient() {
    // torch.max(torch.tensor([[1., 5., 5.], [nan, 2., 0.]]), 1) -> values [5, nan], indices [1, 0]
    let x = Tensor::from_vec(vec![1.0, 5.0, 5.0, f32::NAN, 2.0, 0.0], &[2, 3]).requires_grad(true);
    let (values, indices) = x.max(1);
    let v = values.to_vec();
    assert_eq!(v[0], 5.0);
    assert!(v[1].is_nan());
    assert_eq!(indices.to_vec(), vec![1.0, 0.0]);
    values.backward_with(&Tensor::from_vec(vec![2.0, 3.0], &[2]));
    assert_eq!(
        x.grad().unwrap().to_vec(),
        vec![0.0, 2.0, 0.0, 3.0, 0.0, 0.0]
    );
    // along dim 0 with a gradcheck and a non-uniform upstream gradient
    let y = Tensor::from_vec(vec![0.3, -1.0, 2.0, 0.9, 4.0, -2.5], &[2, 3]);
    let report = kindling_core::autograd::gradcheck(|t| t[0].max(0).0, &[y], Default::default());
    assert!(report.is_ok(), "{report:?}");
}

mod custom {
    use kindling_core::autograd::{custom_op, CustomOp};
    use kindling_core::{no_grad, Tensor};

    /// y = a·b with a deliberately configurable backward, to test the checks.
    struct Product {
        grads: usize,
        wrong_shape: bool,
    }
    impl CustomOp for Product {
        fn name(&self) -> &str {
            "Product"
        }
        fn forward(&self, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * &inputs[1]
        }
        fn backward(&self, inputs: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
            let mut grads = vec![Some(g * &inputs[1]), Some(g * &inputs[0])];
            if self.wrong_shape {
                grads[1] = Some(Tensor::zeros(&[7]));
            }
            grads.truncate(self.grads);
            grads
        }
    }
    const OK: Product = Product {
        grads: 2,
        wrong_shape: false,
    };

    #[test]
    fn a_custom_op_accumulates_retains_and_respects_no_grad() {
        let a = Tensor::from_vec(vec![2.0, 3.0], &[2]).requires_grad(true);
        let b = Tensor::from_vec(vec![5.0, 7.0], &[2]).requires_grad(true);
        let y = custom_op(OK, &[&a, &b]);
        y.retain_grad();
        // used twice: the gradients add up, as for a built-in op
        (&y.sum() + &y.sum()).backward();
        assert_eq!(a.grad().unwrap().to_vec(), vec![10.0, 14.0]);
        assert_eq!(b.grad().unwrap().to_vec(), vec![4.0, 6.0]);
        assert_eq!(y.grad().unwrap().to_vec(), vec![2.0, 2.0]);
        assert!(!no_grad(|| custom_op(OK, &[&a, &b])).is_requires_grad());
        assert!(custom_op(OK, &[&a, &b]).to_dot().contains("Product"));
    }

    #[test]
    #[should_panic(expected = "custom op Product: backward returned 1 gradients for 2 inputs")]
    fn a_wrong_number_of_gradients_names_the_op() {
        let a = Tensor::ones(&[2]).requires_grad(true);
        let op = Product {
            grads: 1,
            wrong_shape: false,
        };
        custom_op(op, &[&a, &a]).sum().backward();
    }

    #[test]
    #[should_panic(
        expected = "custom op Product: the gradient for input 1 has shape [7] but the input has shape [2]"
    )]
    fn a_gradient_of_the_wrong_shape_names_the_op_and_both_shapes() {
        let a = Tensor::ones(&[2]).requires_grad(true);
        let op = Product {
            grads: 2,
            wrong_shape: true,
        };
        custom_op(op, &[&a, &a]).sum().backward();
    }
}
