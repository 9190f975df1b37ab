//! The custom-op API from outside, against PyTorch: swish written as a kindling
//! `CustomOp` (with its own hand-derived backward), checked against PyTorch's `F.silu`
//! run by autograd (`tools/golden/gen_custom_op.py` → `tests/fixtures/custom_op.json`).
//!
//! Only public names are used, as a crate that depends on kindling would: the custom op,
//! `retain_grad`, `copy`, `backward_with` and gradcheck. A second, deliberately wrong
//! swish (its derivative 1% too large) shows that the same comparisons can fail.

use kindling::autograd::{custom_op, gradcheck, CustomOp};
use kindling::Tensor;
use serde_json::Value;

/// swish(x) = x·σ(x); d/dx = σ(x)·(1 + x·(1 − σ(x))). `scale` multiplies the derivative:
/// 1.0 is the right rule, 1.01 a plausible slip.
struct Swish {
    scale: f32,
}

impl CustomOp for Swish {
    fn name(&self) -> &str {
        "Swish"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        &inputs[0] * &inputs[0].sigmoid()
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let x = &inputs[0];
        let s = x.sigmoid();
        let local = &s * &(1.0 + x * &(1.0 - &s));
        vec![Some(&(g * &local) * self.scale)]
    }
}

fn swish(x: &Tensor) -> Tensor {
    custom_op(Swish { scale: 1.0 }, &[x])
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f32> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_vec(data, &shape)
}

fn cases() -> Vec<Value> {
    let text = include_str!("fixtures/custom_op.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all["cases"].as_array().unwrap().clone()
}

fn case(name: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no fixture case {name}"))
}

/// Largest |got − want| / (1 + |want|), after checking the shapes agree.
fn worst(what: &str, got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    got.to_vec()
        .iter()
        .zip(want.to_vec())
        .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
        .fold(0.0, f32::max)
}

/// Runs one single-input swish case with the given op; returns the worst error of the
/// output and of the input gradient.
fn run_swish_case(c: &Value, scale: f32) -> (f32, f32) {
    let x = tensor(&c["inputs"]["x"]).requires_grad(true);
    let y = custom_op(Swish { scale }, &[&x]);
    y.backward_with(&tensor(&c["upstream"]));
    (
        worst("output", &y, &tensor(&c["output"])),
        worst("grad", &x.grad().unwrap(), &tensor(&c["grads"]["x"])),
    )
}

#[test]
fn swish_as_a_custom_op_matches_pytorch_silu() {
    for name in ["swish_vector", "swish_matrix", "swish_saturated"] {
        let (out, grad) = run_swish_case(&case(name), 1.0);
        assert!(out < 1e-6, "{name}: output differs from PyTorch by {out}");
        assert!(
            grad < 1e-6,
            "{name}: gradient differs from PyTorch by {grad}"
        );
    }
}

#[test]
fn a_one_percent_wrong_backward_is_caught_by_the_same_comparison() {
    let (_, grad) = run_swish_case(&case("swish_vector"), 1.01);
    assert!(grad > 1e-3, "a 1% error went unnoticed: {grad}");
    let x = tensor(&case("swish_matrix")["inputs"]["x"]);
    let wrong = gradcheck(
        |t| custom_op(Swish { scale: 1.01 }, &[&t[0]]),
        std::slice::from_ref(&x),
        Default::default(),
    );
    assert!(wrong.is_err(), "gradcheck passed a 1%-wrong swish");
    assert!(gradcheck(|t| swish(&t[0]), &[x], Default::default()).is_ok());
}

#[test]
fn gradients_accumulate_over_two_uses_of_one_input() {
    let c = case("swish_used_twice");
    let x = tensor(&c["inputs"]["x"]).requires_grad(true);
    let y = &swish(&x) + &swish(&(&x * 2.0));
    y.backward_with(&tensor(&c["upstream"]));
    assert!(worst("output", &y, &tensor(&c["output"])) < 1e-6);
    assert!(worst("grad", &x.grad().unwrap(), &tensor(&c["grads"]["x"])) < 1e-6);
}

#[test]
fn a_custom_op_inside_a_graph_with_retain_grad() {
    let c = case("swish_inside_a_graph");
    let x = tensor(&c["inputs"]["x"]).requires_grad(true);
    let w = tensor(&c["inputs"]["w"]).requires_grad(true);
    let weights = tensor(&c["inputs"]["c"]);
    let h = swish(&x.matmul(&w));
    h.retain_grad();
    assert_eq!(h.op_name(), Some("Swish"));
    let loss = (&h * &weights).sum();
    loss.backward();
    assert!(worst("loss", &loss, &tensor(&c["output"])) < 1e-5);
    for (name, t) in [("x", &x), ("w", &w), ("h", &h)] {
        let err = worst(name, &t.grad().unwrap(), &tensor(&c["grads"][name]));
        assert!(err < 1e-5, "grad of {name} differs from PyTorch by {err}");
    }
    // no_grad: the op runs, but nothing is recorded.
    let quiet = kindling::no_grad(|| swish(&x));
    assert!(!quiet.is_requires_grad() && quiet.op_name().is_none());
}

#[test]
fn copy_is_pytorchs_clone() {
    let c = case("clone_is_a_differentiable_copy");
    let x = tensor(&c["inputs"]["x"]).requires_grad(true);
    let loss = (&x.copy() * &x).sum();
    loss.backward();
    assert!(worst("loss", &loss, &tensor(&c["output"])) < 1e-6);
    assert!(worst("grad", &x.grad().unwrap(), &tensor(&c["grads"]["x"])) < 1e-6);
}
