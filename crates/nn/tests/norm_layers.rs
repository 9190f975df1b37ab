//! LayerNorm, GroupNorm and InstanceNorm2d, and the `layer_norm` / `group_norm` ops under
//! them, checked three ways:
//! - against PyTorch: `fixtures/norm.json`, written by `tools/golden/gen_norm.py` (PyTorch
//!   2.15, CPU): outputs, input gradients and parameter gradients under a random upstream
//!   gradient, and the printed form of every layer;
//! - against finite differences with `gradcheck`: the ops with respect to input, weight
//!   and bias, and each layer with respect to its input and its own parameters;
//! - against small cases worked out by hand in the comments.
//!
//! Then the shape errors, word for word, and the identities the docs state (InstanceNorm
//! is GroupNorm with one channel per group; GroupNorm with one group is LayerNorm over
//! `(C, H, W)`).

use std::sync::Arc;

use kindling_core::autograd::{custom_op, gradcheck, CustomOp, GradcheckOptions};
use kindling_core::{manual_seed, no_grad, Tensor};
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

fn cases() -> Vec<Value> {
    let path = format!("{}/tests/fixtures/norm.json", env!("CARGO_MANIFEST_DIR"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"].as_array().unwrap().clone()
}

/// Within `tol` of the expected values, relative to the larger of 1 and the value: these
/// outputs and gradients are of order 1.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: element {i}: kindling {g}, PyTorch {w}"
        );
    }
}

fn assert_values(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g}, expected {w}"
        );
    }
}

fn usize_list(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The layer a fixture case describes, or `None` for a functional case.
fn build(case: &Value) -> Option<Box<dyn Module>> {
    let c = &case["config"];
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    let b = |k: &str| c[k].as_bool().unwrap();
    let eps = c["eps"].as_f64().unwrap() as f32;
    let layer: Box<dyn Module> = match case["kind"].as_str().unwrap() {
        "layer_norm" => Box::new(
            LayerNorm::new(&usize_list(&c["normalized_shape"]))
                .eps(eps)
                .elementwise_affine(b("elementwise_affine")),
        ),
        "group_norm" => Box::new(
            GroupNorm::new(u("num_groups"), u("num_channels"))
                .eps(eps)
                .affine(b("affine")),
        ),
        "instance_norm2d" => Box::new(
            InstanceNorm2d::new(u("num_features"))
                .eps(eps)
                .affine(b("affine")),
        ),
        _ => return None,
    };
    Some(layer)
}

/// Runs a functional case: `layer_norm` or `group_norm` with the given weight and/or bias.
fn run_functional(case: &Value, x: &Tensor, params: &[(String, Tensor)]) -> Tensor {
    let c = &case["config"];
    let eps = c["eps"].as_f64().unwrap() as f32;
    let get = |k: &str| params.iter().find(|(name, _)| name == k).map(|(_, t)| t);
    match case["kind"].as_str().unwrap() {
        "functional_layer_norm" => x.layer_norm(
            &usize_list(&c["normalized_shape"]),
            get("weight"),
            get("bias"),
            eps,
        ),
        "functional_group_norm" => x.group_norm(
            c["num_groups"].as_u64().unwrap() as usize,
            get("weight"),
            get("bias"),
            eps,
        ),
        other => panic!("no runner for fixture kind {other}"),
    }
}

/// How close to PyTorch's float32 results every output and gradient must be, relative to
/// max(1, |value|). PyTorch's own float32 results are up to 3.5e-6 away from the float64
/// answer in these cases.
const TOL: f32 = 5e-6;
/// The same where PyTorch's float32 arithmetic loses digits: it is up to 1.3e-3 away from
/// the float64 answer on rows offset by 1000, and 2.2e-4 on groups of one value.
const LOOSE_TOL: f32 = 2e-3;
/// How close to the float64 answer (rounded to f32) kindling must be everywhere: a few
/// units in the last place of f32 (2⁻²³ ≈ 1.2e-7).
const F64_TOL: f32 = 5e-7;

#[test]
fn norm_layers_match_pytorch_outputs_gradients_and_reprs() {
    let cases = cases();
    assert_eq!(cases.len(), 26);
    for case in &cases {
        let what = format!(
            "{} ({})",
            case["name"].as_str().unwrap(),
            case["torch"].as_str().unwrap()
        );
        let x = tensor(&case["input"]).requires_grad(true);
        let (y, params) = match build(case) {
            Some(mut layer) => {
                let mut sd = StateDict::new();
                for (k, v) in case["params"].as_object().unwrap() {
                    sd.insert(k.as_str(), tensor(v));
                }
                // Strict loading: the parameter names and shapes must be PyTorch's.
                layer.load_state_dict(&sd).unwrap();
                assert_eq!(
                    repr(layer.as_ref()),
                    case["repr"].as_str().unwrap(),
                    "{what}: repr"
                );
                (layer.forward(&x), layer.named_parameters())
            }
            None => {
                let params: Vec<(String, Tensor)> = case["params"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), tensor(v).requires_grad(true)))
                    .collect();
                (run_functional(case, &x, &params), params)
            }
        };
        // kindling against PyTorch's float32 run, and against the same computation in
        // float64 (rounded to f32: the best f32 answer). Where PyTorch's f32 arithmetic
        // loses digits (rows offset by 1000; a group of one value, whose x̂ is exactly 0),
        // the float32 comparison is looser: see tools/golden/README.md.
        let name = case["name"].as_str().unwrap();
        let tol = if name.ends_with("large_offset") || name.ends_with("one_value_per_group") {
            LOOSE_TOL
        } else {
            TOL
        };
        let float64 = &case["float64"];
        let check = |part: &str, got: &Tensor, f32_want: &Value, f64_want: &Value| {
            assert_close(&format!("{what}: {part}"), got, &tensor(f32_want), tol);
            assert_close(
                &format!("{what}: {part} (float64)"),
                got,
                &tensor(f64_want),
                F64_TOL,
            );
        };
        check("output", &y, &case["output"], &float64["output"]);
        y.backward_with(&tensor(&case["upstream"]));
        check(
            "grad input",
            &x.grad().unwrap(),
            &case["grad_input"],
            &float64["grad_input"],
        );
        assert_eq!(
            params.len(),
            case["grad_params"].as_object().unwrap().len(),
            "{what}: parameter count"
        );
        for (k, p) in &params {
            check(
                &format!("grad {k}"),
                &p.grad().unwrap(),
                &case["grad_params"][k],
                &float64["grad_params"][k],
            );
        }
    }
}

/// Values with a different offset and spread in every row, kept away from the degenerate
/// case of a nearly constant row (where 1/σ is huge and finite differences lose digits).
fn varied(shape: &[usize], seed: u64) -> Tensor {
    manual_seed(seed);
    let n: usize = shape.iter().product();
    let noise = Tensor::randn(&[n]).to_vec();
    let data = noise
        .iter()
        .enumerate()
        .map(|(i, z)| 1.5 * z + (i % 7) as f32 * 0.4 - 1.0)
        .collect();
    Tensor::from_vec(data, shape)
}

fn assert_gradcheck(what: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    match gradcheck(f, inputs, GradcheckOptions::default()) {
        Ok(report) => {
            let n: usize = inputs.iter().map(Tensor::numel).sum();
            assert_eq!(report.checked, n, "{what}: every element checked");
        }
        Err(report) => panic!("gradcheck failed for {what}: {report}"),
    }
}

#[test]
fn layer_norm_and_group_norm_ops_pass_gradcheck() {
    let w = |n: usize, seed| &varied(&[n], seed) * 0.5;
    // layer_norm over one and over two trailing dims, with and without affine.
    let x = varied(&[3, 5], 1);
    assert_gradcheck(
        "layer_norm [3, 5] over [5] with weight and bias",
        |t| t[0].layer_norm(&[5], Some(&t[1]), Some(&t[2]), 1e-5),
        &[x.clone(), w(5, 2), w(5, 3)],
    );
    assert_gradcheck(
        "layer_norm [3, 5] over [5], no affine",
        |t| t[0].layer_norm(&[5], None, None, 1e-5),
        &[x],
    );
    let x = varied(&[2, 3, 4], 4);
    let (wt, bt) = (varied(&[3, 4], 5), varied(&[3, 4], 6));
    assert_gradcheck(
        "layer_norm [2, 3, 4] over [3, 4] with weight and bias",
        |t| t[0].layer_norm(&[3, 4], Some(&t[1]), Some(&t[2]), 1e-5),
        &[x, wt, bt],
    );
    // group_norm on [N, C, L], [N, C, H, W] and [N, C], with 1, 2 and C groups.
    let x = varied(&[2, 4, 3], 7);
    for groups in [1, 2, 4] {
        assert_gradcheck(
            &format!("group_norm [2, 4, 3], {groups} groups, weight and bias"),
            |t| t[0].group_norm(groups, Some(&t[1]), Some(&t[2]), 1e-5),
            &[x.clone(), w(4, 8), w(4, 9)],
        );
    }
    assert_gradcheck(
        "group_norm [2, 6, 2, 3], 3 groups, weight and bias",
        |t| t[0].group_norm(3, Some(&t[1]), Some(&t[2]), 1e-5),
        &[varied(&[2, 6, 2, 3], 10), w(6, 11), w(6, 12)],
    );
    assert_gradcheck(
        "group_norm [3, 6], 2 groups, no affine",
        |t| t[0].group_norm(2, None, None, 1e-5),
        &[varied(&[3, 6], 13)],
    );
}

/// A layer seen as one op of (input, parameters...), so that `gradcheck` can perturb the
/// layer's own parameters: the forward copies the given values into the parameters and
/// runs the layer; the backward runs the layer's own autograd and hands back the
/// gradients it put on the input and the parameters. Grad mode is off inside a custom
/// op's backward and is per thread, so that runs on a thread of its own.
struct LayerAsOp<M> {
    layer: Arc<M>,
}

impl<M: Module + Send + Sync + 'static> LayerAsOp<M> {
    fn load(&self, inputs: &[Tensor]) {
        let params = self.layer.parameters();
        assert_eq!(params.len() + 1, inputs.len());
        no_grad(|| {
            params
                .iter()
                .zip(&inputs[1..])
                .for_each(|(p, v)| p.copy_from(v))
        });
    }
}

impl<M: Module + Send + Sync + 'static> CustomOp for LayerAsOp<M> {
    fn name(&self) -> &str {
        "LayerAsOp"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        self.load(inputs);
        self.layer.forward(&inputs[0])
    }
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        self.load(inputs);
        std::thread::scope(|s| {
            s.spawn(|| {
                let x = Tensor::from_vec(inputs[0].to_vec(), inputs[0].shape()).requires_grad(true);
                let params = self.layer.parameters();
                params.iter().for_each(|p| p.set_grad(None));
                self.layer.forward(&x).backward_with(g);
                std::iter::once(x.grad())
                    .chain(params.iter().map(Tensor::grad))
                    .collect()
            })
            .join()
            .unwrap()
        })
    }
}

/// gradcheck of `layer` with respect to its input `x` and every parameter, starting from
/// the parameter values `params` (in the order of `parameters()`).
fn gradcheck_layer<M: Module + Send + Sync + 'static>(
    what: &str,
    layer: M,
    x: Tensor,
    params: Vec<Tensor>,
) {
    let layer = Arc::new(layer);
    assert_eq!(
        layer.parameters().len(),
        params.len(),
        "{what}: parameter count"
    );
    let mut inputs = vec![x];
    inputs.extend(params);
    assert_gradcheck(
        what,
        |t| {
            let refs: Vec<&Tensor> = t.iter().collect();
            custom_op(
                LayerAsOp {
                    layer: layer.clone(),
                },
                &refs,
            )
        },
        &inputs,
    );
}

#[test]
fn each_layer_passes_gradcheck_for_its_input_and_parameters() {
    let p = |shape: &[usize], seed| &varied(shape, seed) * 0.5;
    gradcheck_layer(
        "LayerNorm(&[4])",
        LayerNorm::new(&[4]),
        varied(&[3, 4], 20),
        vec![p(&[4], 21), p(&[4], 22)],
    );
    gradcheck_layer(
        "LayerNorm(&[2, 3]) on [2, 2, 3]",
        LayerNorm::new(&[2, 3]),
        varied(&[2, 2, 3], 23),
        vec![p(&[2, 3], 24), p(&[2, 3], 25)],
    );
    gradcheck_layer(
        "LayerNorm(&[4]).elementwise_affine(false)",
        LayerNorm::new(&[4]).elementwise_affine(false),
        varied(&[3, 4], 26),
        vec![],
    );
    gradcheck_layer(
        "GroupNorm(2, 4) on [2, 4, 3]",
        GroupNorm::new(2, 4),
        varied(&[2, 4, 3], 27),
        vec![p(&[4], 28), p(&[4], 29)],
    );
    gradcheck_layer(
        "GroupNorm(1, 3) on [2, 3, 2, 2]",
        GroupNorm::new(1, 3),
        varied(&[2, 3, 2, 2], 30),
        vec![p(&[3], 31), p(&[3], 32)],
    );
    gradcheck_layer(
        "GroupNorm(3, 3).affine(false) on [2, 3, 4]",
        GroupNorm::new(3, 3).affine(false),
        varied(&[2, 3, 4], 33),
        vec![],
    );
    gradcheck_layer(
        "InstanceNorm2d(2) on [2, 2, 2, 3]",
        InstanceNorm2d::new(2),
        varied(&[2, 2, 2, 3], 34),
        vec![],
    );
    gradcheck_layer(
        "InstanceNorm2d(2).affine(true) on [2, 2, 3, 2]",
        InstanceNorm2d::new(2).affine(true),
        varied(&[2, 2, 3, 2], 35),
        vec![p(&[2], 36), p(&[2], 37)],
    );
    gradcheck_layer(
        "InstanceNorm2d(2).affine(true) on one image [2, 2, 2]",
        InstanceNorm2d::new(2).affine(true),
        varied(&[2, 2, 2], 38),
        vec![p(&[2], 39), p(&[2], 40)],
    );
}

/// The gradcheck helper is not blind: a layer whose backward disagrees with its forward
/// fails it. Here the forward doubles the input but autograd only sees one copy.
#[test]
fn the_layer_gradcheck_catches_a_wrong_gradient() {
    struct Wrong;
    impl Module for Wrong {
        fn forward(&self, x: &Tensor) -> Tensor {
            x + &x.detach()
        }
    }
    let layer = Arc::new(Wrong);
    let result = gradcheck(
        |t| {
            custom_op(
                LayerAsOp {
                    layer: layer.clone(),
                },
                &[&t[0]],
            )
        },
        &[varied(&[4], 41)],
        GradcheckOptions::default(),
    );
    let report = result.unwrap_err();
    assert!(
        (report.numeric / report.analytic - 2.0).abs() < 0.05,
        "{report}"
    );
}

/// LayerNorm over the row x = [1, 2, 3], eps 0 so the numbers stay exact:
/// mean 2, biased variance ((-1)² + 0² + 1²)/3 = 2/3, σ = √(2/3), so with s = √1.5 =
/// 1.2247449: x̂ = (x - 2)/σ = [-s, 0, s].
/// With γ = [2, 1, 0.5] and β = [0.1, 0, -0.1]:
/// y = γ·x̂ + β = [-2s + 0.1, 0, 0.5s - 0.1] = [-2.3494897, 0, 0.5123724].
/// Upstream g = [1, 0, 0]: dβ = g = [1, 0, 0]; dγ = g·x̂ = [-s, 0, 0].
/// Into the standardising step flows h = g·γ = [2, 0, 0]: mean(h) = 2/3,
/// mean(h·x̂) = -2s/3, and x̂·mean(h·x̂) = [2s²/3, 0, -2s²/3] = [1, 0, -1], so
/// dx = (1/σ)·(h - mean(h) - x̂·mean(h·x̂)) = s·[2 - 2/3 - 1, -2/3, -2/3 + 1]
///    = s·[1/3, -2/3, 1/3] = [0.4082483, -0.8164966, 0.4082483].
#[test]
fn layer_norm_worked_by_hand() {
    let ln = LayerNorm::new(&[3]).eps(0.0);
    no_grad(|| {
        ln.weight()
            .unwrap()
            .copy_from(&Tensor::from_vec(vec![2.0, 1.0, 0.5], &[3]));
        ln.bias_tensor()
            .unwrap()
            .copy_from(&Tensor::from_vec(vec![0.1, 0.0, -0.1], &[3]));
    });
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 3]).requires_grad(true);
    let y = ln.forward(&x);
    assert_values("y", &y.to_vec(), &[-2.3494897, 0.0, 0.5123724], 1e-6);
    y.backward_with(&Tensor::from_vec(vec![1.0, 0.0, 0.0], &[1, 3]));
    assert_values(
        "dβ",
        &ln.bias_tensor().unwrap().grad().unwrap().to_vec(),
        &[1.0, 0.0, 0.0],
        0.0,
    );
    assert_values(
        "dγ",
        &ln.weight().unwrap().grad().unwrap().to_vec(),
        &[-1.2247449, 0.0, 0.0],
        1e-6,
    );
    assert_values(
        "dx",
        &x.grad().unwrap().to_vec(),
        &[0.4082483, -0.8164966, 0.4082483],
        1e-6,
    );
}

/// GroupNorm(2, 4), eps 0, on one sample of 4 channels with 2 positions each:
/// channels [1, 3], [5, 7] | [10, 10], [10, 30].
/// Group 0 = {1, 3, 5, 7}: mean 4, variance (9 + 1 + 1 + 9)/4 = 5, x̂ = [-3, -1, 1, 3]/√5
///   = [-1.3416408, -0.4472136, 0.4472136, 1.3416408].
/// Group 1 = {10, 10, 10, 30}: mean 15, variance (3·25 + 225)/4 = 75, x̂ = [-5, -5, -5, 15]/√75
///   = [-1, -1, -1, 3]/√3 = [-0.5773503, -0.5773503, -0.5773503, 1.7320508].
/// γ = [1, 2, 1, 2], β = [0, 0, 1, 1] per channel:
/// y = [-1.3416408, -0.4472136, 0.8944272, 2.6832816, 0.4226497, 0.4226497, -0.1547005, 4.4641016].
/// Upstream all ones: dβ[c] = 2 (two positions per channel); dγ[c] = Σ x̂ over the channel
///   = [-1.7888544, 1.7888544, -1.1547005, 1.1547005].
/// dx, group 0: h = g·γ = [1, 1, 2, 2], mean(h) = 1.5, mean(h·x̂) = (4/√5)/4 = 1/√5, so
///   x̂·mean(h·x̂) = [-3, -1, 1, 3]/5 and h - 1.5 - that = [0.1, -0.3, 0.3, -0.1]; times
///   1/σ = 1/√5: [0.0447214, -0.1341641, 0.1341641, -0.0447214].
/// dx, group 1: h = [1, 1, 2, 2], mean(h·x̂) = (2/√3)/4, x̂·that = [-1, -1, -1, 3]/6, and
///   h - 1.5 - that = [-1/3, -1/3, 2/3, 0]; times 1/σ = 1/√75 = 0.1154701:
///   [-0.0384900, -0.0384900, 0.0769800, 0].
#[test]
fn group_norm_worked_by_hand() {
    let gn = GroupNorm::new(2, 4).eps(0.0);
    no_grad(|| {
        gn.weight()
            .unwrap()
            .copy_from(&Tensor::from_vec(vec![1.0, 2.0, 1.0, 2.0], &[4]));
        gn.bias_tensor()
            .unwrap()
            .copy_from(&Tensor::from_vec(vec![0.0, 0.0, 1.0, 1.0], &[4]));
    });
    let x = Tensor::from_vec(vec![1.0, 3.0, 5.0, 7.0, 10.0, 10.0, 10.0, 30.0], &[1, 4, 2])
        .requires_grad(true);
    let y = gn.forward(&x);
    assert_values(
        "y",
        &y.to_vec(),
        &[
            -1.3416408, -0.4472136, 0.8944272, 2.6832816, 0.4226497, 0.4226497, -0.1547005,
            4.464102,
        ],
        1e-6,
    );
    y.backward_with(&Tensor::ones(&[1, 4, 2]));
    assert_values(
        "dβ",
        &gn.bias_tensor().unwrap().grad().unwrap().to_vec(),
        &[2.0; 4],
        0.0,
    );
    assert_values(
        "dγ",
        &gn.weight().unwrap().grad().unwrap().to_vec(),
        &[-1.7888544, 1.7888544, -1.1547005, 1.1547005],
        1e-6,
    );
    assert_values(
        "dx",
        &x.grad().unwrap().to_vec(),
        &[
            0.0447214, -0.1341641, 0.1341641, -0.0447214, -0.0384900, -0.0384900, 0.0769800, 0.0,
        ],
        1e-6,
    );
}

/// InstanceNorm2d(1) with the default eps 1e-5, on two 2×2 images: [1, 2, 3, 4] and ten
/// times that, [10, 20, 30, 40]. Each image is standardised on its own:
/// image 0: mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25, and
///   σ = √(1.25 + 1e-5) = 1.1180385, so x̂ = [-1.5, -0.5, 0.5, 1.5]/σ
///   = [-1.3416354, -0.4472118, 0.4472118, 1.3416354];
/// image 1: mean 25, variance 125, σ = √(125 + 1e-5), x̂ = [-15, -5, 5, 15]/σ
///   = [-1.3416407, -0.4472136, 0.4472136, 1.3416407].
/// The scale of an image is gone; eps only shows in the 6th digit of the image with the
/// smaller variance (without it both would be ±3/√5 = ±1.3416408 and ±1/√5 = ±0.4472136).
/// Backward, eps 0 (1/σ = 2/√5 = 0.8944272), upstream [0, 0, 0, 1] on image 0:
/// mean(g) = 1/4, mean(g·x̂) = x̂₃/4 = 3/(4√5), x̂·mean(g·x̂) = [-9, -3, 3, 9]/20, so
/// dx = (1/σ)·(g - 1/4 - x̂·mean(g·x̂)) = 0.8944272·[0.2, -0.1, -0.4, 0.3]
///    = [0.1788854, -0.0894427, -0.3577709, 0.2683282].
#[test]
fn instance_norm_worked_by_hand() {
    let x = Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0],
        &[2, 1, 2, 2],
    );
    let y = InstanceNorm2d::new(1).forward(&x).to_vec();
    assert_values(
        "y",
        &y,
        &[
            -1.3416354, -0.4472118, 0.4472118, 1.3416354, -1.3416407, -0.4472136, 0.4472136,
            1.3416407,
        ],
        2e-7,
    );
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).requires_grad(true);
    InstanceNorm2d::new(1)
        .eps(0.0)
        .forward(&x)
        .backward_with(&Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0], &[1, 1, 2, 2]));
    assert_values(
        "dx",
        &x.grad().unwrap().to_vec(),
        &[0.1788854, -0.0894427, -0.3577709, 0.2683282],
        1e-6,
    );
}

/// Code that must panic, and the message it must panic with.
type PanicCase = (Box<dyn FnOnce() + std::panic::UnwindSafe>, &'static str);

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn shape_errors_name_the_op_and_both_shapes() {
    let cases: Vec<PanicCase> = vec![
        (
            Box::new(|| {
                LayerNorm::new(&[4]).forward(&Tensor::zeros(&[2, 3]));
            }),
            "layer_norm: normalized_shape [4] does not match the input's last dims, shape [2, 3]",
        ),
        (
            Box::new(|| {
                Tensor::zeros(&[2, 3]).layer_norm(&[3], Some(&Tensor::ones(&[2])), None, 1e-5);
            }),
            "layer_norm: weight has shape [2] but normalized_shape is [3]",
        ),
        (
            Box::new(|| {
                Tensor::zeros(&[2, 3]).layer_norm(&[], None, None, 1e-5);
            }),
            "layer_norm: normalized_shape must have at least one dim, got [] (input shape [2, 3])",
        ),
        (
            Box::new(|| {
                LayerNorm::new(&[]);
            }),
            "LayerNorm: normalized_shape must have at least one dim, got []",
        ),
        (
            Box::new(|| {
                GroupNorm::new(4, 6);
            }),
            "group_norm: 6 channels do not split into 4 groups",
        ),
        (
            Box::new(|| {
                Tensor::zeros(&[2, 6, 4]).group_norm(4, None, None, 1e-5);
            }),
            "group_norm: 6 channels do not split into 4 groups (input shape [2, 6, 4])",
        ),
        (
            Box::new(|| {
                Tensor::zeros(&[4]).group_norm(2, None, None, 1e-5);
            }),
            "group_norm: expects an input [N, C, ...], got shape [4]",
        ),
        (
            Box::new(|| {
                Tensor::zeros(&[2, 4, 5]).group_norm(2, None, Some(&Tensor::zeros(&[3])), 1e-5);
            }),
            "group_norm: bias has shape [3] but the input [2, 4, 5] has 4 channels",
        ),
        (
            Box::new(|| {
                GroupNorm::new(0, 4);
            }),
            "group_norm: num_groups must be at least 1, got 0",
        ),
        (
            Box::new(|| {
                GroupNorm::new(2, 4).forward(&Tensor::zeros(&[2, 6, 5]));
            }),
            "GroupNorm: input of shape [2, 6, 5] has 6 channels, the layer has 4",
        ),
        (
            Box::new(|| {
                InstanceNorm2d::new(3).forward(&Tensor::zeros(&[2, 3]));
            }),
            "InstanceNorm2d: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got shape [2, 3]",
        ),
        (
            Box::new(|| {
                InstanceNorm2d::new(3).forward(&Tensor::zeros(&[2, 4, 5, 5]));
            }),
            "InstanceNorm2d: input of shape [2, 4, 5, 5] has 4 channels, the layer has 3",
        ),
        (
            Box::new(|| {
                InstanceNorm2d::new(3).forward(&Tensor::zeros(&[2, 3, 1, 1]));
            }),
            "InstanceNorm2d: expected more than 1 value per channel, got input of shape [2, 3, 1, 1]",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(panic_message(f), want);
    }
}

/// The identities the docs state: InstanceNorm is GroupNorm with one channel per group,
/// and GroupNorm with one group is LayerNorm over (C, H, W) (without affine, where the two
/// differ: per channel against per element).
#[test]
fn instance_norm_and_layer_norm_are_the_two_ends_of_group_norm() {
    let x = varied(&[2, 3, 4, 5], 50);
    let instance = InstanceNorm2d::new(3).forward(&x).to_vec();
    let per_channel = GroupNorm::new(3, 3).affine(false).forward(&x).to_vec();
    assert_eq!(instance, per_channel);
    let one_group = GroupNorm::new(1, 3).affine(false).forward(&x).to_vec();
    let layer = LayerNorm::new(&[3, 4, 5])
        .elementwise_affine(false)
        .forward(&x)
        .to_vec();
    assert_eq!(one_group, layer);
    // And they really differ from each other (a test of two equal outputs is only a test
    // if the outputs could have differed).
    assert!(instance
        .iter()
        .zip(&layer)
        .any(|(a, b)| (a - b).abs() > 0.1));
}

/// Unlike BatchNorm, a sample's output does not depend on the rest of the batch, and train
/// and eval compute the same: there are no running statistics (and no buffers).
#[test]
fn samples_are_normalised_alone_in_both_modes() {
    let x = varied(&[3, 4, 2, 2], 60);
    let second = Tensor::from_vec(x.to_vec()[16..32].to_vec(), &[1, 4, 2, 2]);
    let mut layers: Vec<Box<dyn Module>> = vec![
        Box::new(LayerNorm::new(&[4, 2, 2])),
        Box::new(GroupNorm::new(2, 4)),
        Box::new(InstanceNorm2d::new(4).affine(true)),
    ];
    for layer in &mut layers {
        let name = layer.type_name();
        let in_batch = layer.forward(&x).to_vec()[16..32].to_vec();
        assert_eq!(
            layer.forward(&second).to_vec(),
            in_batch,
            "{name}: alone vs in a batch"
        );
        layer.eval();
        assert!(!layer.is_training());
        assert_eq!(
            layer.forward(&second).to_vec(),
            in_batch,
            "{name}: eval vs train"
        );
        assert!(layer.named_buffers().is_empty(), "{name}: buffers");
        let keys = layer.state_dict().keys();
        assert_eq!(keys, vec!["weight", "bias"], "{name}: state_dict keys");
    }
}

#[test]
fn defaults_print_as_pytorch_prints_them() {
    assert_eq!(
        LayerNorm::new(&[4]).to_string(),
        "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    );
    assert_eq!(
        LayerNorm::new(&[2, 3, 4])
            .elementwise_affine(false)
            .to_string(),
        "LayerNorm((2, 3, 4), eps=1e-05, elementwise_affine=False, bias=False)"
    );
    assert_eq!(
        GroupNorm::new(2, 4).to_string(),
        "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    );
    assert_eq!(
        InstanceNorm2d::new(3).to_string(),
        "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    );
    // Turning affine off and on again brings fresh γ = 1 and β = 0.
    let gn = GroupNorm::new(1, 2).affine(false).affine(true);
    assert_eq!(gn.weight().unwrap().to_vec(), vec![1.0, 1.0]);
    assert_eq!(gn.bias_tensor().unwrap().to_vec(), vec![0.0, 0.0]);
}

#[test]
fn forward_hooks_see_each_norm_layer() {
    use std::sync::Mutex;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let layers: Vec<Box<dyn Module>> = vec![
        Box::new(LayerNorm::new(&[3])),
        Box::new(GroupNorm::new(1, 2)),
        Box::new(InstanceNorm2d::new(2)),
    ];
    for layer in &layers {
        let log = seen.clone();
        let name = layer.type_name();
        let _kept = layer.register_forward_hook(move |_x, y| {
            log.lock().unwrap().push((name.clone(), y.shape().to_vec()))
        });
    }
    layers[0].call(&Tensor::ones(&[2, 3]));
    layers[1].call(&Tensor::ones(&[2, 2]));
    layers[2].call(&Tensor::ones(&[1, 2, 2, 2]));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("LayerNorm".to_string(), vec![2, 3]),
            ("GroupNorm".to_string(), vec![2, 2]),
            ("InstanceNorm2d".to_string(), vec![1, 2, 2, 2]),
        ]
    );
}
