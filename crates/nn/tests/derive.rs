//! `#[derive(Module)]` on a residual block and a small ResNet, written as a user's crate
//! would (through `kindling::`): PyTorch's state_dict keys in PyTorch's order, `eval()`
//! reaching every layer, a checkpoint round trip, and PyTorch's printed form, all with no
//! hand-written trait method but `forward`. The expected keys and printouts come from
//! PyTorch (tools/golden/gen_repr.py).

use kindling::nn::{self, BatchNorm2d, Conv2d, Linear, Module};
use kindling::prelude::*;
use serde_json::Value;

#[derive(Module)]
struct Block {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    shortcut: Option<Conv2d>,
    scale: Tensor,
    #[module(buffer)]
    seen: Tensor,
    channels: usize, // a setting: skipped
}

impl Block {
    fn new(c: usize, shortcut: bool) -> Self {
        Block {
            conv1: Conv2d::new(c, c, 3).padding(1).bias(false),
            bn1: BatchNorm2d::new(c),
            conv2: Conv2d::new(c, c, 3).padding(1).bias(false),
            bn2: BatchNorm2d::new(c),
            shortcut: shortcut.then(|| Conv2d::new(c, c, 1).bias(false)),
            scale: Tensor::ones(&[1]).requires_grad(true),
            seen: Tensor::zeros(&[1]),
            channels: c,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        assert_eq!(x.shape()[1], self.channels);
        let h = self.bn1.call(&self.conv1.call(x)).relu();
        let h = self.bn2.call(&self.conv2.call(&h));
        let skip = match &self.shortcut {
            Some(conv) => conv.forward(x),
            None => x.clone(),
        };
        (&(&h * &self.scale) + &skip).relu()
    }
}

#[derive(Module)]
struct Net {
    stem: Conv2d,
    blocks: Vec<Block>,
    head: Linear,
}

impl Net {
    fn new() -> Self {
        Net {
            stem: Conv2d::new(1, 4, 3).padding(1),
            blocks: vec![Block::new(4, true), Block::new(4, false)],
            head: Linear::new(4, 10),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = self.stem.call(x);
        for block in &self.blocks {
            h = block.forward(&h);
        }
        self.head.call(&h.mean_dim(3, false).mean_dim(2, false))
    }
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/repr.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn derived_keys_are_pytorchs_in_pytorchs_order() {
    let want: Vec<String> = fixture()["net_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(Net::new().state_dict().keys(), want);
    // Parameters only: the same order without buffers.
    let params: Vec<String> = Net::new()
        .named_parameters()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(&params[..3], ["stem.weight", "stem.bias", "blocks.0.scale"]);
    // stem 2; block 0: scale, conv1, bn1 (2), conv2, bn2 (2), shortcut; block 1 the same
    // without the shortcut; head 2
    assert_eq!(Net::new().parameters().len(), 2 + 8 + 7 + 2);
}

#[test]
fn eval_reaches_every_derived_layer_and_train_brings_it_back() {
    let mut net = Net::new();
    net.eval();
    assert!(!net.is_training());
    assert!(!net.blocks[1].bn2.is_training());
    assert!(!net.blocks[0].shortcut.as_ref().unwrap().is_training());
    // In eval, BatchNorm's running statistics stay put.
    let before = net.blocks[0].bn1.running_mean().to_vec();
    net.forward(&Tensor::randn(&[2, 1, 6, 6]));
    assert_eq!(net.blocks[0].bn1.running_mean().to_vec(), before);
    net.train();
    assert!(net.blocks[1].bn2.is_training());
    net.forward(&Tensor::randn(&[2, 1, 6, 6]));
    assert_ne!(net.blocks[0].bn1.running_mean().to_vec(), before);
}

#[test]
fn a_derived_model_trains_and_round_trips_a_checkpoint() {
    manual_seed(5);
    let net = Net::new();
    let mut opt = optim::Sgd::new(net.parameters(), 0.1).momentum(0.9);
    let x = Tensor::randn(&[4, 1, 6, 6]);
    let targets = [1, 2, 3, 4];
    for _ in 0..3 {
        let loss = nn::functional::cross_entropy(&net.forward(&x), &targets);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    let path = std::env::temp_dir().join(format!("kindling-derive-{}.ckpt", std::process::id()));
    kindling::checkpoint::save(&net.state_dict(), &path).unwrap();
    let mut restored = Net::new();
    restored
        .load_state_dict(&kindling::checkpoint::load(&path).unwrap())
        .unwrap();
    std::fs::remove_file(&path).ok();
    let (mut a, mut b) = (net, restored);
    a.eval();
    b.eval();
    let probe = Tensor::randn(&[3, 1, 6, 6]);
    assert_eq!(a.forward(&probe).to_vec(), b.forward(&probe).to_vec());
    assert_eq!(
        a.blocks[1].bn1.running_var().to_vec(),
        b.blocks[1].bn1.running_var().to_vec()
    );
}

#[test]
fn derived_and_built_in_modules_print_as_pytorch_does() {
    let f = fixture();
    assert_eq!(Net::new().to_string(), f["net"].as_str().unwrap());
    let cnn = nn::Sequential::new()
        .add(Conv2d::new(1, 32, 3).padding(1))
        .add(BatchNorm2d::new(32))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, 3).padding(1))
        .add(BatchNorm2d::new(64))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(Linear::new(3136, 128))
        .add(nn::BatchNorm1d::new(128))
        .add(nn::ReLU::new())
        .add(Linear::new(128, 10));
    let printed = format!("{cnn}");
    for (got, want) in printed
        .lines()
        .zip(f["mnist_cnn"].as_str().unwrap().lines())
    {
        assert_eq!(got, want);
    }
    assert_eq!(printed, f["mnist_cnn"].as_str().unwrap());
    let others = &f["others"];
    for (got, key) in [
        (nn::Dropout::new(0.5).to_string(), "dropout"),
        (Linear::new(2, 3).bias(false).to_string(), "linear_no_bias"),
        (Conv2d::new(3, 4, 5).stride(2).to_string(), "conv_stride"),
        (
            nn::BatchNorm1d::new(3).affine(false).to_string(),
            "bn_plain",
        ),
        (nn::Sequential::new().to_string(), "empty_sequential"),
    ] {
        assert_eq!(got, others[key].as_str().unwrap(), "{key}");
    }
}
