//! Every op, forward and backward, against PyTorch.
//!
//! `fixtures/ops.json` was written by `tools/golden/gen_ops.py` (PyTorch 2.15, CPU): each
//! case holds the inputs, the PyTorch expression (quoted in failure messages), a random
//! non-uniform upstream gradient, the output and every input's gradient. This file replays
//! each case on kindling and compares to 1e-4 relative. The same cases then go through
//! `gradcheck`, the second, independent check of each backward rule.

use kindling_core::autograd::{gradcheck, GradcheckOptions};
use kindling_core::Tensor;
use serde_json::Value;

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
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_vec(data, &shape)
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The names of a case's inputs in the order `run` expects them.
fn input_names(op: &str, inputs: &serde_json::Map<String, Value>) -> Vec<String> {
    let order: &[&str] = match op {
        "conv2d" => &["x", "w", "b"],
        "cross_entropy" => &["logits"],
        "mse_loss" => &["prediction", "target"],
        "batch_norm_train" => &["x", "weight", "bias"],
        "max_pool2d" => &["x"],
        _ => &["a", "b"],
    };
    order
        .iter()
        .filter(|n| inputs.contains_key(**n))
        .map(|n| n.to_string())
        .collect()
}

/// Runs one fixture op on kindling.
fn run(op: &str, args: &Value, x: &[Tensor]) -> Tensor {
    let f = |k: &str| args[k].as_f64().unwrap() as f32;
    let u = |k: &str| args[k].as_u64().unwrap() as usize;
    let dim = |k: &str| args[k].as_i64().unwrap() as isize;
    match op {
        "add" => &x[0] + &x[1],
        "sub" => &x[0] - &x[1],
        "mul" => &x[0] * &x[1],
        "div" => &x[0] / &x[1],
        "neg" => -&x[0],
        "add_scalar" => &x[0] + f("s"),
        "sub_scalar" => &x[0] - f("s"),
        "mul_scalar" => &x[0] * f("s"),
        "div_scalar" => &x[0] / f("s"),
        "rsub_scalar" => f("s") - &x[0],
        "rdiv_scalar" => f("s") / &x[0],
        "matmul" => x[0].matmul(&x[1]),
        "exp" => x[0].exp(),
        "log" => x[0].log(),
        "sqrt" => x[0].sqrt(),
        "powf" => x[0].powf(f("p")),
        "relu" => x[0].relu(),
        "sigmoid" => x[0].sigmoid(),
        "tanh" => x[0].tanh(),
        "sum" => x[0].sum(),
        "mean" => x[0].mean(),
        "sum_dim" => x[0].sum_dim(dim("dim"), args["keepdim"].as_bool().unwrap()),
        "mean_dim" => x[0].mean_dim(dim("dim"), args["keepdim"].as_bool().unwrap()),
        "reshape" => x[0].reshape(&usizes(&args["shape"])),
        "transpose" => x[0].transpose(dim("d0"), dim("d1")),
        "permute" => x[0].permute(&usizes(&args["dims"])),
        "flatten_from" => x[0].flatten_from(dim("dim")),
        "softmax" => x[0].softmax(dim("dim")),
        "log_softmax" => x[0].log_softmax(dim("dim")),
        "conv2d" => x[0].conv2d(&x[1], x.get(2), u("stride"), u("padding")),
        "max_pool2d" => x[0].max_pool2d(u("kernel"), u("stride")),
        "cross_entropy" => x[0].log_softmax(1).nll_loss(&usizes(&args["targets"])),
        "mse_loss" => (&x[0] - &x[1]).powf(2.0).mean(),
        "batch_norm_train" => {
            x[0].batch_norm(None, None, Some(&x[1]), Some(&x[2]), true, 0.1, f("eps"))
        }
        other => panic!("no runner for fixture op {other}"),
    }
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f32, atol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i}: kindling {g}, PyTorch {w}"
        );
    }
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ops.json"
    ))
    .unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

#[test]
fn every_op_matches_pytorch_forward_and_backward() {
    forward_and_backward_match_pytorch();
}

#[test]
fn every_op_passes_gradcheck_with_a_non_uniform_upstream() {
    gradcheck_passes_everywhere();
}

/// Also run by `host_defaults_off.rs`, with kindling's process-wide tuning turned off.
pub fn forward_and_backward_match_pytorch() {
    let cases = cases();
    assert!(cases.len() > 90, "the fixture file lost cases");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let what = format!("{name} ({})", case["torch"].as_str().unwrap());
        let op = case["op"].as_str().unwrap();
        let inputs = case["inputs"].as_object().unwrap();
        let names = input_names(op, inputs);
        let leaves: Vec<Tensor> = names
            .iter()
            .map(|n| tensor(&inputs[n]).requires_grad(true))
            .collect();
        let out = run(op, &case["args"], &leaves);
        assert_close(
            &format!("{what} output"),
            &out,
            &tensor(&case["output"]),
            1e-4,
            1e-5,
        );
        out.backward_with(&tensor(&case["upstream"]));
        for (n, leaf) in names.iter().zip(&leaves) {
            let want = &case["grads"][n];
            if want.is_null() {
                continue;
            }
            let got = leaf
                .grad()
                .unwrap_or_else(|| panic!("{what}: no gradient for {n}"));
            assert_close(&format!("{what} grad {n}"), &got, &tensor(want), 1e-4, 1e-5);
        }
    }
}

/// Also run by `host_defaults_off.rs`.
pub fn gradcheck_passes_everywhere() {
    for case in &cases() {
        let name = case["name"].as_str().unwrap();
        let op = case["op"].as_str().unwrap();
        let inputs = case["inputs"].as_object().unwrap();
        // Softmax of inputs near 1000 is flat to f32 finite differences; PyTorch covers it.
        if name.contains("large") {
            continue;
        }
        let names = input_names(op, inputs);
        let x: Vec<Tensor> = names.iter().map(|n| tensor(&inputs[n])).collect();
        let args = case["args"].clone();
        let result = gradcheck(|t| run(op, &args, t), &x, GradcheckOptions::default());
        if let Err(report) = result {
            panic!("gradcheck failed for {name}: {report}");
        }
    }
}
