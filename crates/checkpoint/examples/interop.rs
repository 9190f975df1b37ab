//! kindling's half of the PyTorch interop check (the other half is
//! `tools/interop/interop.py`): the mnist_bn CNN, built with kindling_nn, goes to and
//! comes from PyTorch as a safetensors file, and the two frameworks' logits on the same
//! inputs are compared.
//!
//! ```text
//! cargo run -p kindling-checkpoint --example interop -- export DIR
//!     trains the model a few steps (so BatchNorm's running statistics are not trivial),
//!     then writes DIR/kindling_model.safetensors, DIR/kindling_inputs.safetensors and
//!     DIR/kindling_logits.json (eval-mode logits) for interop.py to check
//! cargo run -p kindling-checkpoint --example interop -- check DIR
//!     loads DIR/torch_model.safetensors (written by `interop.py export`) into a fresh
//!     kindling model, runs it on DIR/torch_inputs.safetensors and compares with
//!     DIR/torch_logits.json; prints the max abs difference, fails above the tolerance
//! ```
//!
//! `tools/interop/run.sh` runs both directions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kindling_checkpoint::{load_safetensors, load_safetensors_into, save_safetensors, StateDict};
use kindling_core::{manual_seed, Tensor};
use kindling_nn::{
    functional::cross_entropy, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d,
    Module, ReLU, Sequential,
};
use kindling_optim::{Optimizer, Sgd};

/// The largest difference accepted between the two frameworks' logits.
const TOLERANCE: f32 = 1e-5;

/// The mnist_bn CNN, layer for layer as interop.py builds it in PyTorch, so that the
/// `nn.Sequential` indices (and hence the state-dict keys) agree.
fn mnist_bn() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 32, 3).padding(1)) // 0
        .add(BatchNorm2d::new(32)) // 1
        .add(ReLU::new()) // 2
        .add(MaxPool2d::new(2)) // 3
        .add(Conv2d::new(32, 64, 3).padding(1)) // 4
        .add(BatchNorm2d::new(64)) // 5
        .add(ReLU::new()) // 6
        .add(MaxPool2d::new(2)) // 7
        .add(Flatten::new()) // 8
        .add(Linear::new(3136, 128)) // 9
        .add(BatchNorm1d::new(128)) // 10
        .add(ReLU::new()) // 11
        .add(Linear::new(128, 10)) // 12
}

fn write_logits(path: &Path, logits: &Tensor) {
    let json = serde_json::json!({ "shape": logits.shape(), "logits": logits.to_vec() });
    std::fs::write(path, serde_json::to_string(&json).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

fn read_logits(path: &Path) -> Vec<f32> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["logits"]
        .as_array()
        .expect("a \"logits\" array")
        .iter()
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

fn export(dir: &Path) {
    manual_seed(0);
    let mut model = mnist_bn();
    // A few SGD steps in training mode on random data: the weights move away from their
    // initialisation and the running statistics away from 0 and 1.
    let mut opt = Sgd::new(model.parameters(), 0.05).momentum(0.9);
    model.train();
    for _ in 0..3 {
        let x = Tensor::randn(&[16, 1, 28, 28]);
        let targets: Vec<usize> = (0..16).map(|i| i % 10).collect();
        let loss = cross_entropy(&model.forward(&x), &targets);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    model.eval();
    let x = Tensor::randn(&[8, 1, 28, 28]);
    let logits = model.forward(&x);

    let model_path = dir.join("kindling_model.safetensors");
    save_safetensors(&model.state_dict(), &model_path).unwrap();
    println!("wrote {}", model_path.display());
    let mut inputs = StateDict::new();
    inputs.insert("x", x);
    // The inputs travel as safetensors too: bit-exact, unlike decimal text.
    save_safetensors(&inputs, dir.join("kindling_inputs.safetensors")).unwrap();
    write_logits(&dir.join("kindling_logits.json"), &logits);
}

fn check(dir: &Path) -> ExitCode {
    manual_seed(12345); // another initialisation: every value must come from the file
    let mut model = mnist_bn();
    let model_path = dir.join("torch_model.safetensors");
    if let Err(e) = load_safetensors_into(&mut model, &model_path) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    model.eval();
    let inputs = load_safetensors(dir.join("torch_inputs.safetensors")).unwrap();
    let logits = model.forward(inputs.get("x").expect("an input tensor \"x\""));
    write_logits(&dir.join("kindling_logits_on_torch_model.json"), &logits);

    let theirs = read_logits(&dir.join("torch_logits.json"));
    let ours = logits.to_vec();
    assert_eq!(ours.len(), theirs.len(), "logit counts differ");
    let max_diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let same_argmax = ours
        .chunks(10)
        .zip(theirs.chunks(10))
        .all(|(a, b)| argmax(a) == argmax(b));
    println!(
        "PyTorch -> kindling: {} logits, max abs difference {max_diff:.3e} (tolerance \
         {TOLERANCE:.0e}); same predicted class for every input: {same_argmax}",
        ours.len()
    );
    if max_diff <= TOLERANCE && same_argmax {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "export" || cmd == "check" => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            if cmd == "export" {
                export(&dir);
                ExitCode::SUCCESS
            } else {
                check(&dir)
            }
        }
        _ => {
            eprintln!("usage: interop (export|check) DIR");
            ExitCode::FAILURE
        }
    }
}
