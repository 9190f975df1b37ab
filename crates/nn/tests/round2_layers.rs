//! The round-2 layers (Sigmoid, Tanh, LeakyReLU, GELU, AvgPool2d, AdaptiveAvgPool2d,
//! Identity) and the tensor ops under them, checked three ways:
//!
//! 1. against PyTorch: `fixtures/layers_round2.json`, written by
//!    `tools/golden/gen_layers_round2.py` (PyTorch 2.15, CPU), holds each layer's printed
//!    form, output and input gradient for a random non-uniform upstream gradient (for GELU
//!    also PyTorch's float64 results, since its float32 GELU is not correctly rounded);
//! 2. against finite differences: `gradcheck` on every new op;
//! 3. against small cases worked out by hand in the comments.

use kindling::autograd::gradcheck;
use kindling_core::Tensor;
use kindling_nn::*;
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

fn load_cases() -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/layers_round2.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"].as_array().unwrap().clone()
}

/// `|got - want| <= atol + rtol·|want|` element by element.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f32, atol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i}: kindling {g:e}, PyTorch {w:e}"
        );
    }
}

/// A few f32 ulps of relative error, with an absolute floor for values near zero.
const RTOL: f32 = 1e-6;
const ATOL: f32 = 1e-7;

/// PyTorch's float32 GELU strays from the correctly rounded value by up to 1.2e-6 (its erf
/// and tanh are float32 approximations; see `gen_layers_round2.py`). Against PyTorch's
/// float32 results GELU gets that much room; against its float64 results, rounded to f32,
/// it gets the same tight tolerance as everything else.
const GELU_F32_ATOL: f32 = 1.5e-6;

/// `got` against hand-worked numbers, to `tol`.
fn assert_values(what: &str, got: &Tensor, want: &[f32], tol: f32) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

fn build_layer(case: &Value) -> Box<dyn Module> {
    let c = &case["config"];
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    match case["layer"].as_str().unwrap() {
        "sigmoid" => Box::new(Sigmoid::new()),
        "tanh" => Box::new(Tanh::new()),
        "leaky_relu" => match c["negative_slope"].as_f64() {
            Some(slope) => Box::new(LeakyReLU::new(slope as f32)),
            None => Box::new(LeakyReLU::default()),
        },
        "gelu" => Box::new(GELU::new().approximate(c["approximate"].as_str().unwrap())),
        "avg_pool2d" => match c["stride"].as_u64() {
            Some(s) => Box::new(AvgPool2d::new(u("kernel_size")).stride(s as usize)),
            None => Box::new(AvgPool2d::new(u("kernel_size"))),
        },
        "adaptive_avg_pool2d" => Box::new(AdaptiveAvgPool2d::new(u("output_size"))),
        "identity" => Box::new(Identity::new()),
        other => panic!("no builder for fixture layer {other}"),
    }
}

#[test]
fn round2_layers_match_pytorch_outputs_gradients_and_printed_forms() {
    let cases = load_cases();
    assert_eq!(cases.len(), 16);
    for case in &cases {
        let what = format!(
            "{} ({})",
            case["name"].as_str().unwrap(),
            case["torch"].as_str().unwrap()
        );
        let layer = build_layer(case);
        assert_eq!(
            repr(layer.as_ref()),
            case["repr"].as_str().unwrap(),
            "{what}: printed form"
        );
        let x = tensor(&case["input"]).requires_grad(true);
        let y = layer.forward(&x);
        y.backward_with(&tensor(&case["upstream"]));
        let gx = x.grad().unwrap();
        let atol = if case["layer"] == "gelu" {
            GELU_F32_ATOL
        } else {
            ATOL
        };
        assert_close(
            &format!("{what}: output"),
            &y,
            &tensor(&case["output"]),
            RTOL,
            atol,
        );
        assert_close(
            &format!("{what}: grad input"),
            &gx,
            &tensor(&case["grad_input"]),
            RTOL,
            atol,
        );
        if !case["output_f64"].is_null() {
            assert_close(
                &format!("{what}: output (float64 PyTorch)"),
                &y,
                &tensor(&case["output_f64"]),
                RTOL,
                ATOL,
            );
            assert_close(
                &format!("{what}: grad input (float64 PyTorch)"),
                &gx,
                &tensor(&case["grad_input_f64"]),
                RTOL,
                ATOL,
            );
        }
    }
    // Both GELU cases carry the float64 results.
    assert_eq!(
        cases.iter().filter(|c| !c["output_f64"].is_null()).count(),
        2
    );
}

/// The average pools sum in f32 in PyTorch's order and divide as PyTorch does, so their
/// outputs agree to the bit (except 5 → 1, which PyTorch computes as a `mean`, with a
/// summation order of its own).
#[test]
fn average_pools_match_pytorch_to_the_bit() {
    for case in load_cases() {
        let name = case["name"].as_str().unwrap();
        if !name.contains("avg_pool2d") || name.ends_with("_to_1") {
            continue;
        }
        let y = build_layer(&case).forward(&tensor(&case["input"]));
        let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&tensor(&case["output"])), "{name}");
    }
}

// ------------------------------------------------------------------------ gradcheck

/// Inputs for the element-wise ops: the tails, both sides of 0 (but more than the
/// finite-difference step away from leaky ReLU's kink), and values in between.
fn activation_points() -> Tensor {
    Tensor::from_vec(
        vec![
            -6.0, -3.5, -2.0, -1.2, -0.7, -0.3, -0.05, 0.05, 0.2, 0.6, 1.1, 1.9, 2.7, 4.0, 6.0,
        ],
        &[3, 5],
    )
}

fn check(what: &str, f: impl Fn(&[Tensor]) -> Tensor, x: Tensor) {
    match gradcheck(f, &[x], Default::default()) {
        Ok(report) => assert!(report.checked > 0, "{what}: nothing checked"),
        Err(report) => panic!("{what}: gradcheck failed: {report}"),
    }
}

#[test]
fn gradcheck_leaky_relu() {
    check(
        "leaky_relu(0.2)",
        |t| t[0].leaky_relu(0.2),
        activation_points(),
    );
    check(
        "leaky_relu(0.01)",
        |t| t[0].leaky_relu(0.01),
        activation_points(),
    );
    // A slope above 1 or below 0 is allowed, as in PyTorch.
    check(
        "leaky_relu(-1.5)",
        |t| t[0].leaky_relu(-1.5),
        activation_points(),
    );
}

#[test]
fn gradcheck_gelu_both_forms() {
    check("gelu", |t| t[0].gelu(), activation_points());
    check("gelu_tanh", |t| t[0].gelu_tanh(), activation_points());
}

#[test]
fn gradcheck_avg_pool2d() {
    kindling::manual_seed(11);
    check(
        "avg_pool2d(2, 2)",
        |t| t[0].avg_pool2d(2, 2),
        Tensor::randn(&[2, 2, 5, 6]),
    );
    check(
        "avg_pool2d(3, 1)",
        |t| t[0].avg_pool2d(3, 1),
        Tensor::randn(&[1, 2, 5, 6]),
    );
    check(
        "avg_pool2d(3, 2)",
        |t| t[0].avg_pool2d(3, 2),
        Tensor::randn(&[1, 1, 7, 7]),
    );
}

#[test]
fn gradcheck_adaptive_avg_pool2d() {
    kindling::manual_seed(12);
    for (h, w, n) in [
        (7, 7, 3),
        (6, 6, 3),
        (5, 5, 1),
        (4, 4, 4),
        (3, 3, 5),
        (7, 5, 3),
    ] {
        check(
            &format!("adaptive_avg_pool2d {h}x{w} -> {n}"),
            |t| t[0].adaptive_avg_pool2d(n),
            Tensor::randn(&[1, 2, h, w]),
        );
    }
}

// ------------------------------------------------------------------- hand-worked cases

#[test]
fn sigmoid_by_hand() {
    // σ(0) = 1/2 and σ(ln 3) = 1/(1 + 1/3) = 3/4; σ' = σ(1 - σ) = 1/4 and 3/16.
    let x = Tensor::from_vec(vec![0.0, 3f32.ln()], &[2]).requires_grad(true);
    let y = Sigmoid::new().forward(&x);
    assert_values("sigmoid", &y, &[0.5, 0.75], 1e-7);
    y.sum().backward();
    assert_values("sigmoid grad", &x.grad().unwrap(), &[0.25, 0.1875], 1e-7);
    assert_eq!(Sigmoid::new().to_string(), "Sigmoid()");
}

#[test]
fn tanh_by_hand() {
    // tanh(ln(3)/2) = (e^ln3 - 1)/(e^ln3 + 1) = 2/4 = 1/2; tanh' = 1 - tanh² = 1 and 3/4.
    let x = Tensor::from_vec(vec![0.0, 3f32.ln() / 2.0], &[2]).requires_grad(true);
    let y = Tanh::new().forward(&x);
    assert_values("tanh", &y, &[0.0, 0.5], 1e-7);
    y.sum().backward();
    assert_values("tanh grad", &x.grad().unwrap(), &[1.0, 0.75], 1e-7);
    assert_eq!(Tanh::new().to_string(), "Tanh()");
}

#[test]
fn leaky_relu_by_hand() {
    // Slope 0.2: -5 → -1, -0.5 → -0.1, 0 → 0, 2 → 2. With upstream [1, 2, 3, 4] the
    // gradients are 0.2·1, 0.2·2, 0.2·3 (at exactly 0 the slope, as PyTorch) and 1·4.
    let x = Tensor::from_vec(vec![-5.0, -0.5, 0.0, 2.0], &[4]).requires_grad(true);
    let y = LeakyReLU::new(0.2).forward(&x);
    assert_values("leaky_relu", &y, &[-1.0, -0.1, 0.0, 2.0], 1e-7);
    y.backward_with(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    assert_values(
        "leaky_relu grad",
        &x.grad().unwrap(),
        &[0.2, 0.4, 0.6, 4.0],
        1e-7,
    );
    // PyTorch's default slope is 0.01.
    let y = LeakyReLU::default().forward(&Tensor::from_vec(vec![-3.0], &[1]));
    assert_values("default slope", &y, &[-0.03], 1e-9);
    assert_eq!(
        LeakyReLU::new(0.2).to_string(),
        "LeakyReLU(negative_slope=0.2)"
    );
    assert!(x.leaky_relu(0.2).op_name() == Some("LeakyRelu"));
}

#[test]
fn gelu_exact_by_hand() {
    // GELU(x) = x·Φ(x) with Φ(1) = 0.8413447461 and Φ(-1) = 1 - Φ(1) = 0.1586552539, so
    // GELU(0) = 0, GELU(1) = 0.8413447, GELU(-1) = -0.1586553.
    // GELU'(x) = Φ(x) + x·φ(x), φ(±1) = e^(-1/2)/√(2π) = 0.2419707245:
    // GELU'(0) = 1/2, GELU'(1) = 0.8413447 + 0.2419707 = 1.0833155,
    // GELU'(-1) = 0.1586553 - 0.2419707 = -0.0833155.
    let x = Tensor::from_vec(vec![0.0, 1.0, -1.0], &[3]).requires_grad(true);
    let y = GELU::new().forward(&x);
    assert_values("gelu", &y, &[0.0, 0.841_344_7, -0.158_655_25], 1e-7);
    y.sum().backward();
    assert_values(
        "gelu grad",
        &x.grad().unwrap(),
        &[0.5, 1.083_315_5, -0.083_315_47],
        1e-7,
    );
    assert_eq!(x.gelu().op_name(), Some("Gelu"));
}

#[test]
fn gelu_tanh_by_hand() {
    // u(x) = √(2/π)(x + 0.044715x³): u(1) = 0.7978846 · 1.044715 = 0.8335620,
    // tanh(u(1)) = 0.6823840, so GELU(1) = (1 + 0.6823840)/2 = 0.8411920 and, by oddness
    // of u, GELU(-1) = -(1 - 0.6823840)/2 = -0.1588080.
    // Derivative (1 + t)/2 + x/2·(1 - t²)·u'(x), u'(±1) = 0.7978846·(1 + 3·0.044715)
    // = 0.9049168: at 1, 0.8411920 + 0.5·(1 - 0.4656479)·0.9049168 = 1.0829641; at -1,
    // 0.1588080 - 0.2417721 = -0.0829641; at 0, 1/2.
    let x = Tensor::from_vec(vec![0.0, 1.0, -1.0], &[3]).requires_grad(true);
    let y = GELU::new().approximate("tanh").forward(&x);
    assert_values("gelu tanh", &y, &[0.0, 0.841_192, -0.158_808], 1e-7);
    y.sum().backward();
    assert_values(
        "gelu tanh grad",
        &x.grad().unwrap(),
        &[0.5, 1.082_964_1, -0.082_964_08],
        1e-7,
    );
    assert_eq!(x.gelu_tanh().op_name(), Some("GeluTanh"));
    // "none" is accepted and is the default.
    let exact = GELU::new().approximate("tanh").approximate("none");
    assert_eq!(exact.to_string(), "GELU(approximate='none')");
    assert_eq!(exact.forward(&x).to_vec(), x.gelu().to_vec());
}

#[test]
fn avg_pool2d_by_hand() {
    // x = 0..16 as a 4x4 plane:
    //    0  1  2  3
    //    4  5  6  7
    //    8  9 10 11
    //   12 13 14 15
    // Kernel 2 (stride 2): the windows {0,1,4,5}, {2,3,6,7}, ... have means 2.5, 4.5, 10.5,
    // 12.5. Kernel 3 stride 1: four overlapping 3x3 windows; in an arithmetic grid each
    // window's mean is its centre: 5, 6, 9, 10.
    let x =
        Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).requires_grad(true);
    let y = AvgPool2d::new(2).forward(&x);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_values("avg k2", &y, &[2.5, 4.5, 10.5, 12.5], 0.0);
    let y = AvgPool2d::new(3).stride(1).forward(&x);
    assert_values("avg k3 s1", &y, &[5.0, 6.0, 9.0, 10.0], 0.0);
    // Backward with an upstream of ones: each input gets 1/9 per window it is in. Along a
    // side of 4 with windows 0..3 and 1..4, positions are in [1, 2, 2, 1] windows, so
    // element (i, j) gets c[i]·c[j]/9.
    y.sum().backward();
    let c = [1.0, 2.0, 2.0, 1.0];
    let want: Vec<f32> = (0..16).map(|k| c[k / 4] * c[k % 4] / 9.0).collect();
    assert_values("avg k3 s1 grad", &x.grad().unwrap(), &want, 1e-7);
    // Floor rounding: a 5-wide plane with kernel 2 gives 2 columns, the last one unread.
    assert_eq!(
        AvgPool2d::new(2)
            .forward(&Tensor::zeros(&[1, 1, 4, 5]))
            .shape(),
        &[1, 1, 2, 2]
    );
    assert_eq!(
        AvgPool2d::new(3).stride(1).to_string(),
        "AvgPool2d(kernel_size=3, stride=1, padding=0)"
    );
    assert_eq!(x.avg_pool2d(2, 2).op_name(), Some("AvgPool2d"));
}

#[test]
fn adaptive_avg_pool2d_by_hand() {
    // 3x3 plane 0..9 to 2x2. Along a side of 3, output i of 2 reads floor(3i/2) ..
    // ceil(3(i+1)/2): 0..2 and 1..3, overlapping in the middle. So the outputs are the
    // means of {0,1,3,4} = 2, {1,2,4,5} = 3, {3,4,6,7} = 5, {4,5,7,8} = 6.
    let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3]).requires_grad(true);
    let y = AdaptiveAvgPool2d::new(2).forward(&x);
    assert_values("adaptive 3->2", &y, &[2.0, 3.0, 5.0, 6.0], 0.0);
    // Each window has 4 elements; the middle row and column are in 2 windows each, so with
    // an upstream of ones the corners get 1/4, the edge middles 2/4, the centre 4/4.
    y.sum().backward();
    assert_values(
        "adaptive 3->2 grad",
        &x.grad().unwrap(),
        &[0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25],
        0.0,
    );

    // A 1x7 plane to 3x3. Columns: 0..3, 2..5, 4..7 (the brief's 7 → 3), with means of
    // 0..7: 1, 3, 5. Rows: the one row is read by all 3 outputs (0..1 each time: the
    // output may be larger than the input).
    let x = Tensor::from_vec((0..7).map(|v| v as f32).collect(), &[1, 1, 1, 7]).requires_grad(true);
    let y = AdaptiveAvgPool2d::new(3).forward(&x);
    assert_values("adaptive 1x7->3", &y, &[1.0, 3.0, 5.0].repeat(3), 0.0);
    // Upstream ones: column j gets 1/3 from each window it is in, from each of the 3
    // output rows: its window count, [1, 1, 2, 1, 2, 1, 1].
    y.sum().backward();
    assert_values(
        "adaptive 1x7->3 grad",
        &x.grad().unwrap(),
        &[1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0],
        1e-6,
    );
    assert_eq!(
        AdaptiveAvgPool2d::new(3).to_string(),
        "AdaptiveAvgPool2d(output_size=3)"
    );
    assert_eq!(
        x.adaptive_avg_pool2d(1).op_name(),
        Some("AdaptiveAvgPool2d")
    );
}

#[test]
fn identity_by_hand() {
    // Identity returns its input: same values, same storage, and the gradient passes
    // through unchanged (upstream [1, 2] comes back as [1, 2]).
    let x = Tensor::from_vec(vec![3.0, -4.0], &[2]).requires_grad(true);
    let y = Identity::new().forward(&x);
    assert!(y.shares_storage(&x));
    assert_eq!(y.to_vec(), vec![3.0, -4.0]);
    (&y * &Tensor::from_vec(vec![1.0, 2.0], &[2]))
        .sum()
        .backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 2.0]);
    assert_eq!(Identity::new().to_string(), "Identity()");
}

// --------------------------------------------------------------- as modules, and errors

#[test]
fn new_layers_are_ordinary_modules() {
    // In a Sequential they print as PyTorch prints them, switch mode, fire hooks and
    // carry no parameters.
    let mut model = Sequential::new()
        .add(AvgPool2d::new(2))
        .add(GELU::new())
        .add(AdaptiveAvgPool2d::new(1))
        .add(Identity::new())
        .add(LeakyReLU::default())
        .add(Sigmoid::new())
        .add(Tanh::new());
    assert_eq!(
        repr(&model),
        "Sequential(\n  (0): AvgPool2d(kernel_size=2, stride=2, padding=0)\n  \
         (1): GELU(approximate='none')\n  (2): AdaptiveAvgPool2d(output_size=1)\n  \
         (3): Identity()\n  (4): LeakyReLU(negative_slope=0.01)\n  (5): Sigmoid()\n  \
         (6): Tanh()\n)"
    );
    assert!(model.parameters().is_empty());
    model.eval();
    assert!(model.named_children().iter().all(|(_, m)| !m.is_training()));
    // A hook on every layer records the shape it produced.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<HookHandle> = model
        .named_children()
        .into_iter()
        .map(|(_, layer)| {
            let (log, name) = (seen.clone(), layer.type_name());
            layer.register_forward_hook(move |_, y| {
                log.lock().unwrap().push((name.clone(), y.shape().to_vec()))
            })
        })
        .collect();
    let y = model.forward(&Tensor::ones(&[2, 3, 6, 6]));
    assert_eq!(y.shape(), &[2, 3, 1, 1]);
    // All ones: the pools keep 1, GELU(1) = Φ(1) = 0.8413447, leaky ReLU keeps it, then
    // σ(0.8413447) = 0.6987 and tanh(0.6987) = 0.6035.
    let want = (1.0f32 / (1.0 + (-0.841_344_7f32).exp())).tanh();
    assert!((want - 0.6035).abs() < 1e-4);
    let v = y.to_vec();
    assert!(
        v.iter().all(|&e| (e - want).abs() < 1e-6),
        "{v:?} vs {want}"
    );
    let seen = seen.lock().unwrap().clone();
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AvgPool2d",
            "GELU",
            "AdaptiveAvgPool2d",
            "Identity",
            "LeakyReLU",
            "Sigmoid",
            "Tanh"
        ]
    );
    assert_eq!(seen[0].1, vec![2, 3, 3, 3]);
    assert_eq!(seen[6].1, vec![2, 3, 1, 1]);
    handles.into_iter().for_each(HookHandle::remove);
}

#[test]
#[should_panic(
    expected = "GELU: approximate must be \"none\" (the exact erf form) or \"tanh\", got \"exact\""
)]
fn gelu_rejects_an_unknown_form() {
    let _ = GELU::new().approximate("exact");
}

#[test]
#[should_panic(expected = "avg_pool2d: expects an input [N, C, H, W], got shape [3, 4]")]
fn avg_pool2d_needs_a_4d_input() {
    let _ = AvgPool2d::new(2).forward(&Tensor::ones(&[3, 4]));
}

#[test]
#[should_panic(
    expected = "avg_pool2d: kernel 3 is larger than the input plane 2x5 (shape [1, 1, 2, 5])"
)]
fn avg_pool2d_window_must_fit() {
    let _ = AvgPool2d::new(3).forward(&Tensor::ones(&[1, 1, 2, 5]));
}

#[test]
#[should_panic(
    expected = "adaptive_avg_pool2d: expects an input [N, C, H, W], got shape [1, 7, 7]"
)]
fn adaptive_avg_pool2d_needs_a_4d_input() {
    let _ = AdaptiveAvgPool2d::new(3).forward(&Tensor::ones(&[1, 7, 7]));
}

#[test]
#[should_panic(expected = "adaptive_avg_pool2d: the input plane 0x4 is empty (shape [1, 1, 0, 4])")]
fn adaptive_avg_pool2d_needs_a_plane() {
    let _ = Tensor::zeros(&[1, 1, 0, 4]).adaptive_avg_pool2d(2);
}
