//! Every name in the API contract (`../shared/API.md`), called the way the contract writes
//! it, so that renaming or dropping one breaks this test first. The values are small
//! hand-checked cases; the PyTorch comparisons live in each crate's fixture tests.

use kindling::checkpoint::{load, load_safetensors, save, save_safetensors, CheckpointError};
use kindling::nn::functional::{cross_entropy, mse_loss};
use kindling::nn::{LoadError, StateDict};
use kindling::prelude::*;

#[test]
fn tensor_contract() {
    manual_seed(0);
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).requires_grad(true);
    let b = Tensor::from_vec(vec![1.0, 1.0, 2.0], &[3]);
    assert_eq!(Tensor::zeros(&[2]).to_vec(), vec![0.0, 0.0]);
    assert_eq!(Tensor::ones(&[2]).sum().item(), 2.0);
    assert_eq!(Tensor::full(&[1], 3.0).item(), 3.0);
    assert_eq!(Tensor::scalar(4.0).item(), 4.0);
    assert_eq!(Tensor::randn(&[5]).numel(), 5);
    assert_eq!(Tensor::rand(&[2, 2]).shape(), &[2, 2]);

    let y = &(&(&(&a + &b) - &b) * &b) / &b; // = a
    let y = &(&(-&y + 1.0) * 2.0) - 1.0; // 1 - 2a
    let y = 2.0 * &y + 0.0;
    let z = a.add(&b).sub(&b).mul(&b).div(&b);
    let w = &Tensor::ones(&[3, 2]) * 0.5;
    let parts = [
        y.sum(),
        z.exp()
            .log()
            .sqrt()
            .powf(2.0)
            .relu()
            .sigmoid()
            .tanh()
            .mean(),
        a.matmul(&w).sum_dim(1, false).mean_dim(0, true).sum(),
        a.reshape(&[3, 2])
            .transpose(0, 1)
            .permute(&[1, 0])
            .flatten_from(0)
            .sum(),
        a.softmax(1).log_softmax(-1).sum(),
    ];
    let loss = parts
        .iter()
        .skip(1)
        .fold(parts[0].clone(), |acc, p| &acc + p);
    loss.backward();
    assert_eq!(a.grad().unwrap().shape(), &[2, 3]);
    a.zero_grad();
    assert_eq!(a.grad().unwrap().to_vec(), vec![0.0; 6]);
    assert!(!a.detach().is_requires_grad());
    assert!(!no_grad(|| &a * 2.0).is_requires_grad());

    let img = Tensor::ones(&[1, 1, 4, 4]).requires_grad(true);
    let k = Tensor::ones(&[2, 1, 3, 3]);
    let out = img
        .conv2d(&k, Some(&Tensor::zeros(&[2])), 1, 1)
        .max_pool2d(2, 2);
    assert_eq!(out.shape(), &[1, 2, 2, 2]);
    // Every 2x2 window holds one of the four interior pixels, whose 3x3 field lies wholly
    // inside the image: 9 ones.
    assert_eq!(out.to_vec(), vec![9.0; 8]);
    out.sum().backward();
    assert!(img.grad().is_some());

    let batched = Tensor::ones(&[2, 2, 3]).matmul(&Tensor::ones(&[2, 3, 4]));
    assert_eq!(batched.shape(), &[2, 2, 4]);
}

#[test]
fn nn_optim_and_checkpoint_contract() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(1);
    let mut model = nn::Sequential::new()
        .add(nn::Conv2d::new(1, 4, 3).stride(1).padding(1).bias(true))
        .add(
            nn::BatchNorm2d::new(4)
                .momentum(0.1)
                .eps(1e-5)
                .affine(true)
                .track_running_stats(true),
        )
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2).stride(2))
        .add(nn::Flatten::new())
        .add(nn::Dropout::new(0.0))
        .add(nn::Linear::new(4 * 2 * 2, 3).bias(true));
    let _bn1 = nn::BatchNorm1d::new(3);
    let _bn3 = nn::BatchNorm3d::new(3);
    assert!(model.is_training());
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names[0], "0.weight");
    assert_eq!(model.parameters().len(), 6);

    let x = Tensor::randn(&[3, 1, 4, 4]);
    let mut opt = optim::Sgd::new(model.parameters(), 0.1)
        .momentum(0.9)
        .dampening(0.0)
        .weight_decay(1e-4)
        .nesterov(true);
    let logits = model.forward(&x);
    let loss = cross_entropy(&logits, &[0, 1, 2]);
    opt.zero_grad();
    loss.backward();
    opt.step();
    opt.set_lr(opt.lr() * 0.5);
    assert_eq!(opt.lr(), 0.05);
    let _adam = optim::Adam::new(model.parameters(), 1e-3)
        .betas(0.9, 0.999)
        .eps(1e-8)
        .weight_decay(0.0)
        .amsgrad(false);
    let _adamw = optim::AdamW::new(model.parameters(), 1e-3);
    assert!(mse_loss(&Tensor::ones(&[2]), &Tensor::zeros(&[2])).item() == 1.0);

    model.eval();
    assert!(!model.is_training());
    let sd: StateDict = model.state_dict();
    assert!(sd.get("1.running_mean").is_some());
    assert!(sd.keys().contains(&"1.num_batches_tracked".to_string()));
    let mut copy = StateDict::new();
    for (k, t) in sd.iter() {
        copy.insert(k, t.clone());
    }
    let result: Result<(), LoadError> = model.load_state_dict(&copy);
    result?;

    let dir = std::env::temp_dir().join(format!("kindling-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    save(&sd, dir.join("m.kdl"))?;
    save_safetensors(&sd, dir.join("m.safetensors"))?;
    assert_eq!(load(dir.join("m.kdl"))?.keys(), sd.keys());
    assert_eq!(load_safetensors(dir.join("m.safetensors"))?.len(), sd.len());
    let missing: Result<StateDict, CheckpointError> = load(dir.join("nope.kdl"));
    assert!(missing.unwrap_err().to_string().contains("nope.kdl"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// "Added in round 2": `retain_grad`, `copy`, and the custom-op API.
#[test]
fn round_two_tensor_contract() {
    use kindling::autograd::{custom_op, CustomOp};

    struct Square;
    impl CustomOp for Square {
        fn name(&self) -> &str {
            "Square"
        }
        fn forward(&self, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * &inputs[0]
        }
        fn backward(
            &self,
            inputs: &[Tensor],
            _output: &Tensor,
            grad_output: &Tensor,
        ) -> Vec<Option<Tensor>> {
            vec![Some(&(grad_output * &inputs[0]) * 2.0)]
        }
    }

    let x = Tensor::from_vec(vec![1.0, -2.0], &[2]).requires_grad(true);
    let h = custom_op(Square, &[&x]);
    h.retain_grad();
    let c = h.copy();
    (&c * 3.0).sum().backward();
    assert_eq!(h.grad().unwrap().to_vec(), vec![3.0, 3.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0, -12.0]);
    assert!(!c.shares_storage(&h));
}

/// "Added in round 2", layers: the normalisation family, momentum(None), the activations,
/// the poolings and Identity, built and called exactly as the contract writes them.
#[test]
fn round_two_layer_contract() {
    manual_seed(0);
    let x3 = Tensor::randn(&[2, 3, 4]);
    let ln = nn::LayerNorm::new(&[4]).eps(1e-5).elementwise_affine(true);
    assert_eq!(ln.named_parameters()[0].0, "weight");
    assert_eq!(ln.parameters()[0].shape(), &[4]);
    let y = ln.forward(&x3);
    let row: Vec<f32> = y.to_vec()[..4].to_vec();
    assert!(row.iter().sum::<f32>().abs() < 1e-5, "each row has mean 0");
    let ln3 = nn::LayerNorm::new(&[2, 3, 4]).elementwise_affine(false);
    assert!(ln3.parameters().is_empty());
    assert_eq!(
        ln3.forward(&Tensor::randn(&[5, 2, 3, 4])).shape(),
        &[5, 2, 3, 4]
    );

    let gn = nn::GroupNorm::new(2, 4).eps(1e-5).affine(true);
    assert_eq!(gn.forward(&Tensor::randn(&[3, 4, 5])).shape(), &[3, 4, 5]);
    assert_eq!(
        nn::GroupNorm::new(1, 4)
            .affine(false)
            .forward(&Tensor::randn(&[2, 4, 3, 3]))
            .shape(),
        &[2, 4, 3, 3]
    );

    // momentum(None): the running mean is the mean of the batch means (2 and 6).
    let bn = nn::BatchNorm1d::new(1).momentum(None);
    bn.forward(&Tensor::from_vec(vec![1.0, 3.0], &[2, 1]));
    bn.forward(&Tensor::from_vec(vec![5.0, 7.0], &[2, 1]));
    assert_eq!(bn.running_mean().to_vec(), vec![4.0]);
    let _still = nn::BatchNorm2d::new(3).momentum(0.3);

    let v = Tensor::from_vec(vec![-2.0, 0.0, 2.0], &[3]);
    let sig = nn::Sigmoid::new().forward(&v).to_vec();
    assert!((sig[1] - 0.5).abs() < 1e-7);
    assert_eq!(nn::Tanh::new().forward(&v).to_vec()[1], 0.0);
    assert_eq!(nn::LeakyReLU::new(0.1).forward(&v).to_vec()[0], -0.2);
    let gelu = nn::GELU::new().forward(&v).to_vec();
    assert!((gelu[2] - 1.954_499_7).abs() < 1e-6); // 2·Φ(2)
    let img = Tensor::from_vec((0..16).map(|i| i as f32).collect(), &[1, 1, 4, 4]);
    assert_eq!(
        nn::AvgPool2d::new(2).forward(&img).to_vec(),
        vec![2.5, 4.5, 10.5, 12.5]
    );
    assert_eq!(
        nn::AvgPool2d::new(2).stride(1).forward(&img).shape(),
        &[1, 1, 3, 3]
    );
    let seven = Tensor::ones(&[1, 2, 7, 7]);
    assert_eq!(
        nn::AdaptiveAvgPool2d::new(3).forward(&seven).shape(),
        &[1, 2, 3, 3]
    );
    assert_eq!(nn::Identity::new().forward(&v).to_vec(), v.to_vec());
}
