//! Is `gradcheck` sharp enough to grade a backward rule, and right?
//!
//! Sharp: a backward rule that is 1% wrong, for the whole gradient or for one element of
//! it, fails at the default settings, for conv2d, batch_norm and log_softmax on inputs of
//! at least 100 elements. The wrong rules are `custom_op`s whose forward is the real op and
//! whose backward computes the true gradient with the real op's own backward, then
//! corrupts it.
//! Right: the same ops with their true rules pass at the same settings, and so does every
//! other built-in op in a sweep at 100+ elements, and BatchNorm (the op and the
//! `BatchNorm2d` layer) in eval and training mode, with weight and bias.
//!
//! Inputs come from a seeded generator of this file's own, so every run checks the same
//! points; elements of `relu` and `max_pool2d` inputs are kept well away from their kinks.

use std::sync::{Arc, Mutex};

use kindling::nn::{BatchNorm2d, Module};
use kindling_core::autograd::{custom_op, gradcheck, CustomOp, GradcheckReport};
use kindling_core::rng::Xoshiro256;
use kindling_core::{no_grad, Tensor};

/// A real op, shared between the test and the custom op that wraps it.
type RealOp = Arc<dyn Fn(&[Tensor]) -> Tensor + Send + Sync>;

/// `shape`'s worth of values uniform in `[lo, hi)`, from `seed`.
fn uniform(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = Xoshiro256::seed_from(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| lo + (hi - lo) * rng.next_f32()).collect();
    Tensor::from_vec(data, shape)
}

/// Values of random sign with magnitudes in `[lo, hi)`: divisors, and `relu` inputs at
/// least `lo` from its kink.
fn away_from_zero(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = Xoshiro256::seed_from(seed);
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let v = lo + (hi - lo) * rng.next_f32();
            if rng.next_f32() < 0.5 {
                -v
            } else {
                v
            }
        })
        .collect();
    Tensor::from_vec(data, shape)
}

/// `n` distinct values `gap` apart in a shuffled order, centred on 0: no two elements of a
/// pooling window tie, or come within a gradcheck step of each other.
fn distinct(shape: &[usize], seed: u64, gap: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Xoshiro256::seed_from(seed);
    for i in (1..n).rev() {
        let j = ((rng.next_f32() * (i + 1) as f32) as usize).min(i);
        order.swap(i, j);
    }
    let data = order
        .iter()
        .map(|&k| (k as f32 - n as f32 / 2.0) * gap)
        .collect();
    Tensor::from_vec(data, shape)
}

/// One of the three ops the issue names, with inputs of 100+ elements.
struct Case {
    name: &'static str,
    real: RealOp,
    inputs: Vec<Tensor>,
}

fn the_three_ops() -> Vec<Case> {
    vec![
        Case {
            name: "conv2d",
            real: Arc::new(|t| t[0].conv2d(&t[1], Some(&t[2]), 1, 1)),
            inputs: vec![
                uniform(&[2, 3, 6, 6], 1, -2.0, 2.0),
                uniform(&[4, 3, 3, 3], 2, -1.0, 1.0),
                uniform(&[4], 3, -1.0, 1.0),
            ],
        },
        Case {
            name: "batch_norm",
            real: Arc::new(|t| {
                t[0].batch_norm(None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5)
            }),
            inputs: vec![
                uniform(&[4, 3, 5, 5], 4, -2.0, 3.0),
                uniform(&[3], 5, 0.5, 1.5),
                uniform(&[3], 6, -1.0, 1.0),
            ],
        },
        Case {
            name: "log_softmax",
            real: Arc::new(|t| t[0].log_softmax(1)),
            inputs: vec![uniform(&[8, 16], 7, -3.0, 3.0)],
        },
    ]
}

/// How a [`Wrapped`] op changes the true gradient.
#[derive(Clone, Copy)]
enum Corruption {
    /// Leaves it alone: the wrapper itself must be right.
    None,
    /// Multiplies every input's whole gradient by 1.01.
    Whole,
    /// Multiplies one element, of one input's gradient, by 1.01.
    One { input: usize, index: usize },
}

/// A custom op whose forward is a real kindling op and whose backward is that op's own,
/// then corrupted. It also keeps the last true gradient it computed, so a test can pick an
/// element by its size under the upstream gradient that gradcheck really uses.
struct Wrapped {
    real: RealOp,
    corruption: Corruption,
    seen: Arc<Mutex<Vec<Vec<f32>>>>,
}

impl CustomOp for Wrapped {
    fn name(&self) -> &str {
        "Wrapped"
    }

    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        (self.real)(inputs)
    }

    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
        let mut grads = true_gradients(&self.real, inputs, grad);
        *self.seen.lock().unwrap() = grads.clone();
        match self.corruption {
            Corruption::None => {}
            Corruption::Whole => grads.iter_mut().flatten().for_each(|g| *g *= 1.01),
            Corruption::One { input, index } => grads[input][index] *= 1.01,
        }
        inputs
            .iter()
            .zip(grads)
            .map(|(x, g)| Some(Tensor::from_vec(g, x.shape())))
            .collect()
    }
}

/// The gradients of `Σ real(inputs) ⊙ grad` from the real op's backward rule. A custom
/// op's backward runs with grad mode off, and grad mode belongs to a thread; a fresh
/// thread starts with it on, so the real op records its graph there.
fn true_gradients(real: &RealOp, inputs: &[Tensor], grad: &Tensor) -> Vec<Vec<f32>> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let leaves: Vec<Tensor> = inputs
                .iter()
                .map(|x| x.detach().requires_grad(true))
                .collect();
            real(&leaves).backward_with(grad);
            leaves.iter().map(|x| x.grad().unwrap().to_vec()).collect()
        })
        .join()
        .unwrap()
    })
}

/// Runs gradcheck on `case` wrapped with `corruption`; also returns the true gradients the
/// wrapper computed.
fn check_wrapped(
    case: &Case,
    corruption: Corruption,
) -> (Result<GradcheckReport, GradcheckReport>, Vec<Vec<f32>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let real = case.real.clone();
    let recorder = seen.clone();
    let result = gradcheck(
        move |t| {
            let op = Wrapped {
                real: real.clone(),
                corruption,
                seen: recorder.clone(),
            };
            custom_op(op, &t.iter().collect::<Vec<_>>())
        },
        &case.inputs,
        Default::default(),
    );
    let grads = seen.lock().unwrap().clone();
    (result, grads)
}

/// The index of the element of median magnitude: a typical element, neither the largest
/// (too easy) nor one near zero.
fn median_element(grad: &[f32]) -> usize {
    let mut by_size: Vec<usize> = (0..grad.len()).collect();
    by_size.sort_by(|&a, &b| grad[a].abs().total_cmp(&grad[b].abs()));
    by_size[by_size.len() / 2]
}

fn numel(inputs: &[Tensor]) -> usize {
    inputs.iter().map(Tensor::numel).sum()
}

#[test]
fn the_three_ops_have_100_plus_elements_and_their_true_rules_pass() {
    for case in the_three_ops() {
        assert!(case.inputs[0].numel() >= 100, "{}", case.name);
        let report = gradcheck(|t| (case.real)(t), &case.inputs, Default::default())
            .unwrap_or_else(|r| panic!("{}: the true rule failed: {r}", case.name));
        assert_eq!(report.checked, numel(&case.inputs), "{}", case.name);
        // The wrapper with nothing corrupted is as good as the op itself.
        let (wrapped, _) = check_wrapped(&case, Corruption::None);
        let wrapped = wrapped.unwrap_or_else(|r| panic!("{}: wrapper failed: {r}", case.name));
        assert_eq!(wrapped.checked, report.checked, "{}", case.name);
    }
}

#[test]
fn a_whole_gradient_1_percent_too_large_fails() {
    for case in the_three_ops() {
        let (result, _) = check_wrapped(&case, Corruption::Whole);
        let report = result.expect_err(case.name);
        assert!(report.error_ratio > 1.0, "{}: {report}", case.name);
        // The worst element shows the corruption itself: analytic = 1.01 · numeric.
        let seen_ratio = report.analytic / report.numeric;
        assert!(
            (seen_ratio - 1.01).abs() < 2e-3,
            "{}: analytic/numeric = {seen_ratio}: {report}",
            case.name
        );
    }
}

#[test]
fn one_element_1_percent_too_large_fails_and_is_the_one_reported() {
    for case in the_three_ops() {
        // A first, honest run records the true gradient under gradcheck's own upstream.
        let (honest, grads) = check_wrapped(&case, Corruption::None);
        assert!(honest.is_ok(), "{}: {honest:?}", case.name);
        for (input, grad) in grads.iter().enumerate() {
            let index = median_element(grad);
            assert!(
                grad[index].abs() > 1e-3,
                "{} input {input}: the median element {index} is too small to matter",
                case.name
            );
            let (result, _) = check_wrapped(&case, Corruption::One { input, index });
            let report = match result {
                Ok(r) => panic!(
                    "{} input {input}: the corrupted rule passed: {r}",
                    case.name
                ),
                Err(r) => r,
            };
            assert_eq!(
                (report.input, report.index),
                (input, index),
                "{}: {report}",
                case.name
            );
            assert_eq!(report.analytic, grad[index] * 1.01, "{}", case.name);
            assert!(report.error_ratio > 1.0, "{}: {report}", case.name);
        }
    }
}

#[test]
fn built_in_ops_pass_at_100_plus_elements() {
    type Op = fn(&[Tensor]) -> Tensor;
    let m = |seed| uniform(&[12, 10], seed, -2.0, 2.0);
    let cases: Vec<(&str, Op, Vec<Tensor>)> = vec![
        (
            "matmul",
            |t| t[0].matmul(&t[1]),
            vec![m(10), uniform(&[10, 9], 11, -2.0, 2.0)],
        ),
        (
            "batched matmul",
            |t| t[0].matmul(&t[1]),
            vec![
                uniform(&[2, 6, 10], 12, -2.0, 2.0),
                uniform(&[10, 5], 13, -2.0, 2.0),
            ],
        ),
        (
            "linear",
            |t| t[0].linear(&t[1], Some(&t[2])),
            vec![
                m(14),
                uniform(&[9, 10], 15, -1.0, 1.0),
                uniform(&[9], 16, -1.0, 1.0),
            ],
        ),
        ("tanh", |t| t[0].tanh(), vec![m(17)]),
        ("sigmoid", |t| t[0].sigmoid(), vec![&m(18) * 2.0]),
        ("exp", |t| t[0].exp(), vec![m(19)]),
        (
            "log",
            |t| t[0].log(),
            vec![uniform(&[12, 10], 20, 0.2, 3.0)],
        ),
        (
            "sqrt",
            |t| t[0].sqrt(),
            vec![uniform(&[12, 10], 21, 0.2, 3.0)],
        ),
        (
            "powf",
            |t| t[0].powf(2.5),
            vec![uniform(&[12, 10], 22, 0.2, 2.0)],
        ),
        (
            "div",
            |t| &t[0] / &t[1],
            vec![m(23), away_from_zero(&[12, 10], 24, 0.5, 1.5)],
        ),
        ("mean", |t| t[0].mean(), vec![m(25)]),
        ("sum", |t| t[0].sum(), vec![m(26)]),
        ("sum_dim", |t| t[0].sum_dim(0, false), vec![m(27)]),
        ("mean_dim keepdim", |t| t[0].mean_dim(1, true), vec![m(28)]),
        // Broadcasting: the smaller operand's gradient is summed back to its shape.
        (
            "add [12,10]+[10]",
            |t| &t[0] + &t[1],
            vec![m(29), uniform(&[10], 30, -2.0, 2.0)],
        ),
        (
            "sub [12,1]-[12,10]",
            |t| &t[0] - &t[1],
            vec![uniform(&[12, 1], 31, -2.0, 2.0), m(32)],
        ),
        (
            "mul [12,10]*[12,1]",
            |t| &t[0] * &t[1],
            vec![m(33), uniform(&[12, 1], 34, -2.0, 2.0)],
        ),
        (
            "div [12,10]/[10]",
            |t| &t[0] / &t[1],
            vec![m(35), away_from_zero(&[10], 36, 0.5, 1.5)],
        ),
        ("softmax", |t| t[0].softmax(1), vec![&m(37) * 1.5]),
        (
            "log_softmax dim 0",
            |t| t[0].log_softmax(0),
            vec![&m(38) * 1.5],
        ),
        (
            "cross_entropy",
            |t| {
                t[0].log_softmax(1)
                    .nll_loss(&[3, 0, 9, 9, 1, 5, 2, 7, 4, 6, 8, 0])
            },
            vec![m(39)],
        ),
        (
            "mse",
            |t| (&t[0] - &t[1]).powf(2.0).mean(),
            vec![m(40), m(41)],
        ),
        // At least 0.1 from relu's kink; the step is at most 0.02 (|x| < 2).
        (
            "relu",
            |t| t[0].relu(),
            vec![away_from_zero(&[12, 10], 42, 0.1, 2.0)],
        ),
        // 128 distinct values 0.03 apart (|x| < 2, so the step is below 0.02).
        (
            "max_pool2d",
            |t| t[0].max_pool2d(2, 2),
            vec![distinct(&[1, 2, 8, 8], 43, 0.03)],
        ),
        (
            "max along a dim",
            |t| t[0].max(1).0,
            vec![distinct(&[12, 10], 44, 0.03)],
        ),
        (
            "conv2d stride 2, no bias",
            |t| t[0].conv2d(&t[1], None, 2, 0),
            vec![
                uniform(&[2, 3, 7, 7], 45, -2.0, 2.0),
                uniform(&[2, 3, 3, 3], 46, -1.0, 1.0),
            ],
        ),
        (
            "reshape, transpose, permute",
            |t| {
                t[0].reshape(&[2, 6, 10])
                    .transpose(0, 2)
                    .permute(&[1, 0, 2])
                    .tanh()
            },
            vec![m(47)],
        ),
    ];
    for (name, op, inputs) in cases {
        assert!(
            numel(&inputs) >= 100,
            "{name}: only {} elements",
            numel(&inputs)
        );
        let report =
            gradcheck(op, &inputs, Default::default()).unwrap_or_else(|r| panic!("{name}: {r}"));
        assert_eq!(report.checked, numel(&inputs), "{name}");
    }
}

#[test]
fn batch_norm_passes_in_eval_and_training_mode_with_weight_and_bias() {
    let x = uniform(&[4, 3, 5, 5], 50, -1.0, 4.0);
    let weight = uniform(&[3], 51, 0.5, 1.5);
    let bias = uniform(&[3], 52, -1.0, 1.0);
    let inputs = [x, weight, bias];
    let running_mean = uniform(&[3], 53, 0.0, 2.0);
    let running_var = uniform(&[3], 54, 0.5, 2.0);

    // Eval: the running statistics normalise, and nothing depends on the batch.
    let (mean, var) = (running_mean.copy(), running_var.copy());
    let eval = gradcheck(
        |t| {
            t[0].batch_norm(
                Some(&mean),
                Some(&var),
                Some(&t[1]),
                Some(&t[2]),
                false,
                0.1,
                1e-5,
            )
        },
        &inputs,
        Default::default(),
    )
    .unwrap_or_else(|r| panic!("eval: {r}"));
    assert_eq!(eval.checked, 306);
    assert_eq!(mean.to_vec(), running_mean.to_vec(), "eval updates nothing");

    // Training, with running buffers as a BatchNorm2d layer passes them: every forward
    // updates them in place, which must not change the output or its gradient.
    let (mean, var) = (running_mean.copy(), running_var.copy());
    let train = gradcheck(
        |t| {
            t[0].batch_norm(
                Some(&mean),
                Some(&var),
                Some(&t[1]),
                Some(&t[2]),
                true,
                0.1,
                1e-5,
            )
        },
        &inputs,
        Default::default(),
    )
    .unwrap_or_else(|r| panic!("training: {r}"));
    assert_eq!(train.checked, 306);
    assert_ne!(
        mean.to_vec(),
        running_mean.to_vec(),
        "training updates them"
    );

    // The layer, which runs the same op on parameters and buffers of its own: the gradient
    // that reaches its input, in both modes, with the weight and bias above loaded.
    let mut layer = BatchNorm2d::new(3);
    no_grad(|| {
        layer.weight().unwrap().copy_from(&inputs[1]);
        layer.bias_tensor().unwrap().copy_from(&inputs[2]);
    });
    layer.running_mean().copy_from(&running_mean);
    layer.running_var().copy_from(&running_var);
    for training in [true, false] {
        layer.set_training(training);
        let report = gradcheck(|t| layer.forward(&t[0]), &inputs[..1], Default::default())
            .unwrap_or_else(|r| panic!("BatchNorm2d, training {training}: {r}"));
        assert_eq!(report.checked, 300);
    }
}
