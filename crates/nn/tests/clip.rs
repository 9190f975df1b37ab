//! Gradient clipping against `torch.nn.utils` (fixture: tools/golden/gen_clip.py), and the
//! hand-derived 3-4-5 case.

use kindling::nn::utils::{clip_grad_norm_, clip_grad_value_};
use kindling::Tensor;
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Three parameters holding the fixture's gradients.
fn params(f: &Value) -> Vec<Tensor> {
    f["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(f["grads"].as_array().unwrap())
        .map(|(shape, grad)| {
            let shape: Vec<usize> = shape
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let p = Tensor::zeros(&shape).requires_grad(true);
            p.set_grad(Some(Tensor::from_vec(floats(grad), &shape)));
            p
        })
        .collect()
}

fn close(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn clipping_matches_pytorch() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clip.json"
    ))
    .unwrap();
    let f: Value = serde_json::from_str(&text).unwrap();
    for case in f["norm_cases"].as_array().unwrap() {
        let ps = params(&f);
        let total = clip_grad_norm_(&ps, case["max_norm"].as_f64().unwrap() as f32);
        let want = case["total_norm"].as_f64().unwrap() as f32;
        assert!((total - want).abs() <= 1e-6 * want, "{total} vs {want}");
        for (p, clipped) in ps.iter().zip(case["clipped"].as_array().unwrap()) {
            close(&p.grad().unwrap().to_vec(), &floats(clipped));
        }
    }
    let ps = params(&f);
    clip_grad_value_(&ps, f["clip_value"].as_f64().unwrap() as f32);
    for (p, clipped) in ps.iter().zip(f["value_clipped"].as_array().unwrap()) {
        assert_eq!(p.grad().unwrap().to_vec(), floats(clipped));
    }
}

#[test]
fn clipping_by_norm_by_hand() {
    // Gradients (3) and (4): total norm 5; to norm 1 every gradient is scaled by 1/5.
    let a = Tensor::zeros(&[1]).requires_grad(true);
    let b = Tensor::zeros(&[1]).requires_grad(true);
    let unused = Tensor::zeros(&[2]).requires_grad(true); // no gradient: skipped
    a.set_grad(Some(Tensor::from_vec(vec![3.0], &[1])));
    b.set_grad(Some(Tensor::from_vec(vec![4.0], &[1])));
    let total = clip_grad_norm_(&[a.clone(), b.clone(), unused.clone()], 1.0);
    assert_eq!(total, 5.0);
    assert!((a.grad().unwrap().item() - 0.6).abs() < 1e-6);
    assert!((b.grad().unwrap().item() - 0.8).abs() < 1e-6);
    assert!(unused.grad().is_none());
}
