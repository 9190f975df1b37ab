//! Layers and BatchNorm against PyTorch.
//!
//! `fixtures/layers.json` and `fixtures/batchnorm.json` were written by
//! `tools/golden/gen_layers.py` and `tools/golden/gen_batchnorm.py` (PyTorch 2.15, CPU).
//! Every case gives explicit parameters, an input, a random non-uniform upstream gradient,
//! and PyTorch's output and gradients (and for BatchNorm the running statistics after each
//! of three training steps, then an eval pass). Failure messages quote the PyTorch code.

use kindling_core::{no_grad, Tensor};
use kindling_nn::functional::cross_entropy;
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

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 + rtol * w.abs(),
            "{what}: element {i}: kindling {g}, PyTorch {w}"
        );
    }
}

fn state_dict_of(params: &Value) -> StateDict {
    let mut sd = StateDict::new();
    for (k, v) in params.as_object().unwrap() {
        sd.insert(k.as_str(), tensor(v));
    }
    sd
}

fn build_layer(case: &Value) -> Box<dyn Module> {
    let c = &case["config"];
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    match case["layer"].as_str().unwrap() {
        "linear" => Box::new(
            Linear::new(u("in_features"), u("out_features")).bias(c["bias"].as_bool().unwrap()),
        ),
        "conv2d" => Box::new(
            Conv2d::new(u("in_channels"), u("out_channels"), u("kernel_size"))
                .stride(u("stride"))
                .padding(u("padding"))
                .bias(c["bias"].as_bool().unwrap()),
        ),
        "relu" => Box::new(ReLU::new()),
        "max_pool2d" => Box::new(MaxPool2d::new(u("kernel_size")).stride(u("stride"))),
        "flatten" => Box::new(Flatten::new()),
        "sequential_cnn" => Box::new(
            Sequential::new()
                .add(Conv2d::new(2, 4, 3).padding(1))
                .add(BatchNorm2d::new(4))
                .add(ReLU::new())
                .add(MaxPool2d::new(2))
                .add(Flatten::new())
                .add(Linear::new(4 * 3 * 3, 5)),
        ),
        other => panic!("no builder for fixture layer {other}"),
    }
}

#[test]
fn layers_match_pytorch_outputs_and_gradients() {
    let cases = load("layers.json");
    assert!(cases.len() >= 12);
    for case in &cases {
        let what = format!(
            "{} ({})",
            case["name"].as_str().unwrap(),
            case["torch"].as_str().unwrap()
        );
        let mut layer = build_layer(case);
        layer
            .load_state_dict(&state_dict_of(&case["params"]))
            .unwrap();
        let x = tensor(&case["input"]).requires_grad(true);
        let y = layer.forward(&x);
        assert_close(
            &format!("{what}: output"),
            &y,
            &tensor(&case["output"]),
            1e-4,
        );
        if case["upstream"].is_null() {
            // The Conv-BN-ReLU-Pool-Linear case: cross-entropy, then one plain SGD step
            // (p -= lr·grad, torch.optim.SGD with no options), checked parameter by parameter.
            let targets: Vec<usize> = case["config"]["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as usize)
                .collect();
            let loss = cross_entropy(&y, &targets);
            assert_close(
                &format!("{what}: loss"),
                &loss,
                &tensor(&case["loss"]),
                1e-5,
            );
            loss.backward();
            for (k, t) in layer.state_dict().iter() {
                assert_close(
                    &format!("{what}: state after forward {k}"),
                    t,
                    &tensor(&case["state_after"][k]),
                    1e-5,
                );
            }
            let lr = case["config"]["lr"].as_f64().unwrap() as f32;
            for (k, p) in layer.named_parameters() {
                assert_close(
                    &format!("{what}: grad {k}"),
                    &p.grad().unwrap(),
                    &tensor(&case["grad_params"][&k]),
                    1e-4,
                );
                let g = p.grad().unwrap().to_vec();
                p.data_mut()
                    .iter_mut()
                    .zip(g)
                    .for_each(|(p, g)| *p -= lr * g);
                assert_close(
                    &format!("{what}: after SGD {k}"),
                    &p,
                    &tensor(&case["sgd_step"][&k]),
                    1e-4,
                );
            }
        } else {
            y.backward_with(&tensor(&case["upstream"]));
            for (k, p) in layer.named_parameters() {
                assert_close(
                    &format!("{what}: grad {k}"),
                    &p.grad().unwrap(),
                    &tensor(&case["grad_params"][&k]),
                    1e-4,
                );
            }
        }
        assert_close(
            &format!("{what}: grad input"),
            &x.grad().unwrap(),
            &tensor(&case["grad_input"]),
            1e-4,
        );
    }
}

/// Reads a BN layer's running mean, running variance and batch count.
type StatsReader = Box<dyn Fn() -> (Tensor, Tensor)>;

fn build_bn(case: &Value) -> (Box<dyn Module>, StatsReader) {
    let c = &case["config"];
    let n = c["num_features"].as_u64().unwrap() as usize;
    let (m, e) = (
        c["momentum"].as_f64().map(|m| m as f32), // null: momentum=None
        c["eps"].as_f64().unwrap() as f32,
    );
    let (affine, track) = (
        c["affine"].as_bool().unwrap(),
        c["track_running_stats"].as_bool().unwrap(),
    );
    macro_rules! bn {
        ($t:ty) => {{
            let bn = <$t>::new(n)
                .momentum(m)
                .eps(e)
                .affine(affine)
                .track_running_stats(track);
            if affine {
                no_grad(|| {
                    bn.weight().unwrap().copy_from(&tensor(&case["weight"]));
                    bn.bias_tensor().unwrap().copy_from(&tensor(&case["bias"]));
                });
            }
            // The buffers are shared handles: reading them later sees the layer's updates.
            let (rm, rv) = (bn.running_mean(), bn.running_var());
            let stats: StatsReader = Box::new(move || (rm.clone(), rv.clone()));
            (Box::new(bn) as Box<dyn Module>, stats)
        }};
    }
    match case["kind"].as_str().unwrap() {
        "bn1d" => bn!(BatchNorm1d),
        "bn2d" => bn!(BatchNorm2d),
        _ => bn!(BatchNorm3d),
    }
}

#[test]
fn batchnorm_matches_pytorch_over_three_train_steps_then_eval() {
    let cases = load("batchnorm.json");
    assert!(cases.len() >= 11);
    for case in &cases {
        let what = format!(
            "{} ({})",
            case["name"].as_str().unwrap(),
            case["torch"].as_str().unwrap()
        );
        let (bn, stats) = build_bn(case);
        let bn_params = bn.parameters();
        let pre = &case["pre"];
        let mut model = Sequential::new();
        let mut pre_params = Vec::new();
        if !pre.is_null() {
            let pc = &pre["config"];
            let u = |k: &str| pc[k].as_u64().unwrap() as usize;
            let layer: Box<dyn Module> = match pre["layer"].as_str().unwrap() {
                "linear" => Box::new(Linear::new(u("in_features"), u("out_features"))),
                _ => Box::new(
                    Conv2d::new(u("in_channels"), u("out_channels"), u("kernel_size"))
                        .padding(u("padding")),
                ),
            };
            no_grad(|| {
                layer.parameters()[0].copy_from(&tensor(&pre["weight"]));
                layer.parameters()[1].copy_from(&tensor(&pre["bias"]));
            });
            pre_params = layer.parameters();
            model.push(BoxedModule(layer));
        }
        model.push(BoxedModule(bn));
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{what}, step {}", i + 1);
            let x = tensor(&step["input"]).requires_grad(true);
            let y = model.forward(&x);
            assert_close(&format!("{at}: output"), &y, &tensor(&step["output"]), 1e-4);
            y.backward_with(&tensor(&step["upstream"]));
            assert_close(
                &format!("{at}: grad input"),
                &x.grad().unwrap(),
                &tensor(&step["grad_input"]),
                1e-4,
            );
            if !step["grad_weight"].is_null() {
                assert_close(
                    &format!("{at}: grad γ"),
                    &bn_params[0].grad().unwrap(),
                    &tensor(&step["grad_weight"]),
                    1e-4,
                );
                assert_close(
                    &format!("{at}: grad β"),
                    &bn_params[1].grad().unwrap(),
                    &tensor(&step["grad_bias"]),
                    1e-4,
                );
            }
            if !pre.is_null() {
                assert_close(
                    &format!("{at}: grad of the layer before"),
                    &pre_params[0].grad().unwrap(),
                    &tensor(&pre["grad_weight_per_step"][i]),
                    1e-4,
                );
                assert_close(
                    &format!("{at}: grad of its bias"),
                    &pre_params[1].grad().unwrap(),
                    &tensor(&pre["grad_bias_per_step"][i]),
                    1e-4,
                );
            }
            let (rm, rv) = stats();
            // The count is a u64 kept by the layer; the state dict reports it exactly.
            let sd = model.state_dict();
            let tracked = sd
                .keys()
                .iter()
                .find(|k| k.ends_with("num_batches_tracked"))
                .and_then(|k| sd.count(k))
                .unwrap_or(0);
            if step["running_mean"].is_null() {
                assert!(
                    model
                        .state_dict()
                        .keys()
                        .iter()
                        .all(|k| !k.contains("running")),
                    "{at}: untracked BN has buffers"
                );
            } else {
                assert_close(
                    &format!("{at}: running_mean"),
                    &rm,
                    &tensor(&step["running_mean"]),
                    1e-5,
                );
                assert_close(
                    &format!("{at}: running_var"),
                    &rv,
                    &tensor(&step["running_var"]),
                    1e-5,
                );
                assert_eq!(
                    tracked,
                    step["num_batches_tracked"]["data"][0].as_f64().unwrap() as u64,
                    "{at}: num_batches_tracked"
                );
            }
            model.zero_grad();
        }
        model.eval();
        let y = model.forward(&tensor(&case["eval"]["input"]));
        assert_close(
            &format!("{what}: eval output"),
            &y,
            &tensor(&case["eval"]["output"]),
            1e-4,
        );
    }
}

/// Lets a `Box<dyn Module>` go into a `Sequential`.
struct BoxedModule(Box<dyn Module>);

impl Module for BoxedModule {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.0.forward(x)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.0.named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.0.named_buffers()
    }
    fn set_training(&mut self, on: bool) {
        self.0.set_training(on)
    }
    fn is_training(&self) -> bool {
        self.0.is_training()
    }
}
