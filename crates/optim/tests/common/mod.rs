//! Shared by the integration tests: reading the PyTorch fixture and building optimizers
//! from its hyperparameters.
//!
//! The fixture stores every float32 widened exactly to f64 (see tools/golden/README.md),
//! so parsing as f64 and narrowing with `as f32` gives back PyTorch's bits.

#![allow(dead_code)] // each test binary uses its own subset

use kindling_core::Tensor;
use kindling_optim::{Adam, AdamW, Optimizer, Sgd};
use serde_json::Value;

pub fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/optim.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// `{"shape": [...], "data": [...]}` as a tensor.
pub fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    Tensor::from_vec(floats(&v["data"]), &shape)
}

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

pub fn f(v: &Value) -> f32 {
    v.as_f64().expect("number") as f32
}

/// The optimizer a fixture case describes, over `params`, with every hyperparameter set
/// explicitly (the fixture lists defaults too).
pub fn build(kind: &str, hp: &Value, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    match kind {
        "sgd" => Box::new(
            Sgd::new(params, f(&hp["lr"]))
                .momentum(f(&hp["momentum"]))
                .dampening(f(&hp["dampening"]))
                .weight_decay(f(&hp["weight_decay"]))
                .nesterov(hp["nesterov"].as_bool().expect("nesterov")),
        ),
        "adam" => Box::new(
            Adam::new(params, f(&hp["lr"]))
                .betas(f(&hp["betas"][0]), f(&hp["betas"][1]))
                .eps(f(&hp["eps"]))
                .weight_decay(f(&hp["weight_decay"]))
                .amsgrad(hp["amsgrad"].as_bool().expect("amsgrad")),
        ),
        "adamw" => Box::new(
            AdamW::new(params, f(&hp["lr"]))
                .betas(f(&hp["betas"][0]), f(&hp["betas"][1]))
                .eps(f(&hp["eps"]))
                .weight_decay(f(&hp["weight_decay"]))
                .amsgrad(hp["amsgrad"].as_bool().expect("amsgrad")),
        ),
        other => panic!("unknown optimizer {other:?} in the fixture"),
    }
}
