//! Checkpointing: `state_dict` → JSON → `load_state_dict` must resume an optimizer (and a
//! schedule) exactly, and a state that does not fit must be refused without side effects.

use kindling_core::Tensor;
use kindling_optim::{
    Adam, AdamW, CosineAnnealingLr, LinearLr, LrScheduler, OptimError, Optimizer, OptimizerKind,
    OptimizerState, SchedulerState, Sgd, StepLr,
};

const SHAPES: [&[usize]; 2] = [&[3, 4], &[4]];

fn initial_params() -> Vec<Tensor> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let n: usize = shape.iter().product();
            let data = (0..n)
                .map(|k| ((k * 7 + i * 3) as f32 * 0.37).sin())
                .collect();
            Tensor::from_vec(data, shape).requires_grad(true)
        })
        .collect()
}

/// Deterministic gradients of varied sizes; parameter 1 gets none at step 1, so Adam's
/// per-parameter step counters differ when the state is saved.
fn grads(step: usize) -> Vec<Option<Tensor>> {
    let scale = [1.0, 0.1, 5.0, 0.01, 2.0, 0.3][step];
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            if (step, i) == (1, 1) {
                return None;
            }
            let n: usize = shape.iter().product();
            let data = (0..n)
                .map(|k| scale * ((k * 13 + i * 5 + step * 17) as f32 * 0.61).cos())
                .collect();
            Some(Tensor::from_vec(data, shape))
        })
        .collect()
}

fn run_steps(opt: &mut dyn Optimizer, params: &[Tensor], steps: std::ops::Range<usize>) {
    for step in steps {
        for (p, g) in params.iter().zip(grads(step)) {
            p.set_grad(g);
        }
        opt.step();
    }
}

/// New leaves holding copies of the values (not handles on the same storage).
fn copies(params: &[Tensor]) -> Vec<Tensor> {
    params
        .iter()
        .map(|p| Tensor::from_vec(p.to_vec(), p.shape()).requires_grad(true))
        .collect()
}

/// 3 steps, save through JSON, restore into a fresh optimizer (built by `fresh`, with
/// different hyperparameters, which loading must replace) over copies of the values; then
/// 3 more steps on both must give bit-identical parameters.
fn round_trip(
    make: impl Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
    fresh: impl Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
) {
    let params = initial_params();
    let mut opt = make(params.clone());
    run_steps(opt.as_mut(), &params, 0..3);

    let state = opt.state_dict();
    let json = serde_json::to_string(&state).unwrap();
    let back: OptimizerState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state, "the JSON round trip must preserve every value");

    let resumed_params = copies(&params);
    let mut resumed = fresh(resumed_params.clone());
    resumed.load_state_dict(&back).unwrap();
    assert_eq!(resumed.state_dict(), state);
    assert_eq!(resumed.lr(), opt.lr());

    run_steps(opt.as_mut(), &params, 3..6);
    run_steps(resumed.as_mut(), &resumed_params, 3..6);
    for (i, (a, b)) in params.iter().zip(&resumed_params).enumerate() {
        assert_eq!(a.to_vec(), b.to_vec(), "param {i} after resuming");
        assert_ne!(
            a.to_vec(),
            initial_params()[i].to_vec(),
            "param {i} must have moved"
        );
    }
    assert_eq!(resumed.state_dict(), opt.state_dict());
}

#[test]
fn sgd_resumes_bit_identically() {
    round_trip(
        |p| {
            Box::new(
                Sgd::new(p, 0.1)
                    .momentum(0.9)
                    .weight_decay(0.01)
                    .nesterov(true),
            )
        },
        |p| Box::new(Sgd::new(p, 0.5)),
    );
}

#[test]
fn sgd_with_dampening_resumes_bit_identically() {
    round_trip(
        |p| Box::new(Sgd::new(p, 0.1).momentum(0.8).dampening(0.3)),
        |p| Box::new(Sgd::new(p, 0.5).momentum(0.1)),
    );
}

#[test]
fn adam_resumes_bit_identically() {
    round_trip(
        |p| {
            Box::new(
                Adam::new(p, 0.05)
                    .betas(0.8, 0.95)
                    .weight_decay(0.05)
                    .amsgrad(true),
            )
        },
        |p| Box::new(Adam::new(p, 1e-3)),
    );
}

#[test]
fn adamw_resumes_bit_identically() {
    round_trip(
        |p| {
            Box::new(
                AdamW::new(p, 0.05)
                    .weight_decay(0.1)
                    .amsgrad(true)
                    .eps(1e-6),
            )
        },
        |p| Box::new(AdamW::new(p, 1e-3)),
    );
}

#[test]
fn adam_state_records_per_parameter_steps() {
    let params = initial_params();
    let mut opt = Adam::new(params.clone(), 1e-3);
    run_steps(&mut opt, &params, 0..3);
    let state = opt.state_dict();
    assert_eq!(state.kind, OptimizerKind::Adam);
    // Parameter 1 had no gradient at step 1: two updates, not three.
    assert_eq!(state.params[0].step, Some(3));
    assert_eq!(state.params[1].step, Some(2));
    assert_eq!(state.params[1].shape, vec![4]);
    assert_eq!(state.params[1].buffer("exp_avg").map(<[f32]>::len), Some(4));
    // Adam without AMSGrad keeps exactly PyTorch's two buffers, and nothing of SGD's.
    assert_eq!(
        state.params[0].buffers.keys().collect::<Vec<_>>(),
        ["exp_avg", "exp_avg_sq"]
    );
}

/// Loads `state` into `opt`, expects an error, and checks that neither the optimizer's
/// state nor its parameters changed.
fn refused(opt: &mut dyn Optimizer, params: &[Tensor], state: &OptimizerState) -> OptimError {
    let before_state = opt.state_dict();
    let before_values: Vec<Vec<f32>> = params.iter().map(Tensor::to_vec).collect();
    let err = opt.load_state_dict(state).unwrap_err();
    assert_eq!(
        opt.state_dict(),
        before_state,
        "state changed by a refused load ({err})"
    );
    let after_values: Vec<Vec<f32>> = params.iter().map(Tensor::to_vec).collect();
    assert_eq!(
        after_values, before_values,
        "params changed by a refused load ({err})"
    );
    err
}

/// An optimizer of each kind that has stepped (so it has state to lose), and its params.
fn stepped(kind: OptimizerKind) -> (Box<dyn Optimizer>, Vec<Tensor>) {
    let params = initial_params();
    let mut opt: Box<dyn Optimizer> = match kind {
        OptimizerKind::Sgd => Box::new(Sgd::new(params.clone(), 0.1).momentum(0.9)),
        OptimizerKind::Adam => Box::new(Adam::new(params.clone(), 1e-3)),
        OptimizerKind::AdamW => Box::new(AdamW::new(params.clone(), 1e-3)),
    };
    run_steps(opt.as_mut(), &params, 0..2);
    (opt, params)
}

#[test]
fn load_refuses_a_state_of_another_kind() {
    let kinds = [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
    ];
    for &to in &kinds {
        for &from in kinds.iter().filter(|&&k| k != to) {
            let (mut opt, params) = stepped(to);
            let (other, _) = stepped(from);
            let err = refused(opt.as_mut(), &params, &other.state_dict());
            assert_eq!(
                err,
                OptimError::WrongKind {
                    expected: to.as_str().into(),
                    found: from.as_str().into()
                }
            );
            assert_eq!(
                err.to_string(),
                format!("the state was saved by {from}, not {to}")
            );
        }
    }
}

#[test]
fn load_refuses_a_state_with_another_parameter_count() {
    let (mut opt, params) = stepped(OptimizerKind::Adam);
    let mut state = opt.state_dict();
    state.params.pop();
    let err = refused(opt.as_mut(), &params, &state);
    assert_eq!(
        err,
        OptimError::WrongParamCount {
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "the state holds 1 parameters but the optimizer has 2"
    );
}

#[test]
fn load_refuses_a_state_with_another_shape() {
    let (mut opt, params) = stepped(OptimizerKind::Sgd);
    // A state saved from a model whose first parameter was [4, 3] instead of [3, 4].
    let other_params = vec![
        Tensor::zeros(&[4, 3]).requires_grad(true),
        Tensor::zeros(&[4]).requires_grad(true),
    ];
    let other = Sgd::new(other_params, 0.1).momentum(0.9);
    let err = refused(opt.as_mut(), &params, &other.state_dict());
    assert_eq!(
        err,
        OptimError::WrongShape {
            param: 0,
            expected: vec![3, 4],
            found: vec![4, 3]
        }
    );
    assert_eq!(
        err.to_string(),
        "parameter 0 has shape [3, 4] but the state has shape [4, 3]"
    );
}

#[test]
fn load_refuses_a_buffer_of_the_wrong_length() {
    let (mut opt, params) = stepped(OptimizerKind::AdamW);
    let mut state = opt.state_dict();
    state.params[1]
        .buffers
        .get_mut("exp_avg_sq")
        .unwrap()
        .push(0.0);
    let err = refused(opt.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "state of parameter 1: exp_avg_sq holds 5 values but shape [4] needs 4"
    );
}

#[test]
fn load_refuses_incomplete_or_foreign_buffers() {
    let (mut adam, adam_params) = stepped(OptimizerKind::Adam);
    let mut state = adam.state_dict();
    state.params[0].buffers.remove("exp_avg");
    let err = refused(adam.as_mut(), &adam_params, &state);
    assert!(
        matches!(err, OptimError::BadParamState { param: 0, .. }),
        "{err}"
    );

    let (mut sgd, params) = stepped(OptimizerKind::Sgd);
    let mut state = sgd.state_dict();
    state.params[1].step = Some(3);
    let err = refused(sgd.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "state of parameter 1: SGD keeps no step, but the state has one"
    );

    let mut state = sgd.state_dict();
    state.params[0]
        .buffers
        .insert("exp_avg".into(), vec![0.0; 12]);
    let err = refused(sgd.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "state of parameter 0: SGD keeps no exp_avg, but the state has one"
    );

    let mut state = adam.state_dict();
    state.params[1]
        .buffers
        .insert("momentum_buffer".into(), vec![0.0; 4]);
    let err = refused(adam.as_mut(), &adam_params, &state);
    assert_eq!(
        err.to_string(),
        "state of parameter 1: Adam keeps no momentum_buffer, but the state has one"
    );
}

#[test]
fn load_refuses_out_of_range_hyperparameters() {
    let (mut opt, params) = stepped(OptimizerKind::Adam);
    let mut state = opt.state_dict();
    if let kindling_optim::Hyperparameters::Adam(hp) = &mut state.hparams {
        hp.betas[1] = 1.0;
    }
    let err = refused(opt.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "Adam: invalid betas.1: 1 (must be in [0, 1))"
    );
}

#[test]
fn a_state_from_json_text_loads() {
    // What a checkpoint file holds, written by hand: one SGD parameter of shape [2] with a
    // momentum buffer.
    let json = r#"{
        "kind": "sgd",
        "hparams": {"sgd": {"lr": 0.1, "momentum": 0.9, "dampening": 0.0,
                            "weight_decay": 0.0, "nesterov": false}},
        "params": [{"shape": [2], "step": null,
                    "buffers": {"momentum_buffer": [1.0, -2.0]}}]
    }"#;
    let state: OptimizerState = serde_json::from_str(json).unwrap();
    let p = Tensor::from_vec(vec![0.0, 0.0], &[2]).requires_grad(true);
    let mut opt = Sgd::new(vec![p.clone()], 1.0);
    opt.load_state_dict(&state).unwrap();
    p.set_grad(Some(Tensor::from_vec(vec![1.0, 1.0], &[2])));
    opt.step();
    // buf = 0.9·[1, −2] + [1, 1] = [1.9, −0.8]; θ = −0.1·buf
    let got = p.to_vec();
    assert!(
        (got[0] + 0.19).abs() < 1e-7 && (got[1] - 0.08).abs() < 1e-7,
        "{got:?}"
    );
}

fn schedule_round_trip(make: impl Fn() -> Box<dyn LrScheduler>) {
    // Uninterrupted: 12 epochs.
    let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    let mut sched = make();
    sched.attach(&mut opt);
    let mut straight = Vec::new();
    for _ in 0..12 {
        sched.step(&mut opt);
        straight.push((sched.get_last_lr(), opt.lr()));
    }

    // Interrupted after 5 epochs: both states through JSON, then 7 more epochs.
    let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    let mut sched = make();
    sched.attach(&mut opt);
    let mut resumed = Vec::new();
    for _ in 0..5 {
        sched.step(&mut opt);
        resumed.push((sched.get_last_lr(), opt.lr()));
    }
    let opt_json = serde_json::to_string(&opt.state_dict()).unwrap();
    let sched_json = serde_json::to_string(&sched.state_dict()).unwrap();

    let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.9);
    opt.load_state_dict(&serde_json::from_str(&opt_json).unwrap())
        .unwrap();
    let mut sched = make(); // not attached: the state carries the base lr
    let state: SchedulerState = serde_json::from_str(&sched_json).unwrap();
    sched.load_state_dict(&state).unwrap();
    assert_eq!(sched.last_epoch(), 5);
    for _ in 5..12 {
        sched.step(&mut opt);
        resumed.push((sched.get_last_lr(), opt.lr()));
    }
    let bits = |v: &[(f64, f32)]| {
        v.iter()
            .map(|(a, b)| (a.to_bits(), b.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&resumed), bits(&straight));
}

#[test]
fn schedules_resume_exactly() {
    schedule_round_trip(|| Box::new(StepLr::new(3, 0.1)));
    schedule_round_trip(|| Box::new(CosineAnnealingLr::new(4, 0.001)));
    schedule_round_trip(|| Box::new(LinearLr::new(0.25, 1.0, 8)));
}

#[test]
fn scheduler_load_refuses_another_schedule_and_changes_nothing() {
    let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    let mut cosine = CosineAnnealingLr::new(10, 0.0);
    cosine.attach(&mut opt);
    let mut step = StepLr::new(2, 0.5);
    step.attach(&mut opt);
    step.step(&mut opt);
    let before = step.state_dict();
    let err = step.load_state_dict(&cosine.state_dict()).unwrap_err();
    assert_eq!(
        err,
        OptimError::WrongKind {
            expected: "step_lr".into(),
            found: "cosine_annealing_lr".into()
        }
    );
    assert_eq!(step.state_dict(), before);

    let mut bad = before.clone();
    bad.last_lr = None;
    let err = step.load_state_dict(&bad).unwrap_err();
    assert!(matches!(err, OptimError::InconsistentState { .. }), "{err}");
    assert_eq!(step.state_dict(), before);
}

#[test]
fn load_refuses_a_kind_that_contradicts_the_hyperparameters() {
    let (mut opt, params) = stepped(OptimizerKind::Sgd);
    let mut state = opt.state_dict();
    state.hparams = Adam::new(initial_params(), 1e-3).state_dict().hparams;
    let err = refused(opt.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "inconsistent state: the kind is sgd but the hyperparameters are Adam's"
    );

    let (mut opt, params) = stepped(OptimizerKind::AdamW);
    let mut state = opt.state_dict();
    state.hparams = Sgd::new(initial_params(), 0.1).state_dict().hparams;
    let err = refused(opt.as_mut(), &params, &state);
    assert_eq!(
        err.to_string(),
        "inconsistent state: the kind is adamw but the hyperparameters are SGD's"
    );
}

#[test]
fn load_refuses_an_adam_step_count_no_run_reaches() {
    // u64::MAX would overflow at the next step; anything past 2^53 is no real run's count.
    for step in [u64::MAX, kindling_optim::MAX_COUNTER + 1] {
        let (mut opt, params) = stepped(OptimizerKind::Adam);
        let mut state = opt.state_dict();
        state.params[0].step = Some(step);
        let err = refused(opt.as_mut(), &params, &state);
        assert_eq!(
            err.to_string(),
            format!(
                "state of parameter 0: step is {step}, beyond the largest count a state may \
                 hold (2^53 = 9007199254740992)"
            )
        );
    }
    // The limit itself loads, and the next step goes through.
    let (mut opt, params) = stepped(OptimizerKind::Adam);
    let mut state = opt.state_dict();
    state.params[0].step = Some(kindling_optim::MAX_COUNTER);
    opt.load_state_dict(&state).unwrap();
    run_steps(opt.as_mut(), &params, 2..3);
    assert_eq!(
        opt.state_dict().params[0].step,
        Some(kindling_optim::MAX_COUNTER + 1)
    );
}

/// A scheduler at epoch 3 of a cosine schedule, and its state.
fn cosine_at_epoch_3() -> (Sgd, CosineAnnealingLr, SchedulerState) {
    let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    let mut sched = CosineAnnealingLr::new(10, 0.001);
    sched.attach(&mut opt);
    for _ in 0..3 {
        sched.step(&mut opt);
    }
    let state = sched.state_dict();
    (opt, sched, state)
}

#[test]
fn scheduler_load_refuses_values_its_next_step_cannot_use() {
    type Spoil = fn(&mut SchedulerState);
    let cases: [(&str, Spoil, &str); 6] = [
        (
            "NaN base lr",
            |s| s.base_lr = Some(f64::NAN),
            "CosineAnnealingLr: invalid base_lr: NaN (must be a finite number >= 0)",
        ),
        (
            "infinite last lr",
            |s| s.last_lr = Some(f64::INFINITY),
            "CosineAnnealingLr: invalid last_lr: inf (must be a finite number >= 0)",
        ),
        (
            "negative last lr",
            |s| s.last_lr = Some(-0.5),
            "CosineAnnealingLr: invalid last_lr: -0.5 (must be a finite number >= 0)",
        ),
        (
            "epoch counter at its end",
            |s| s.last_epoch = usize::MAX,
            "CosineAnnealingLr: invalid last_epoch: 18446744073709551615 (must be at most \
             2^53 = 9007199254740992)",
        ),
        (
            "infinite eta_min",
            |s| {
                s.schedule = kindling_optim::Schedule::CosineAnnealingLr {
                    t_max: 10,
                    eta_min: f64::INFINITY,
                }
            },
            "CosineAnnealingLr: invalid eta_min: inf (must be a finite number >= 0)",
        ),
        (
            // Each value fine on its own; together the next lr is negative, which the
            // optimizer's set_lr would refuse with a panic.
            "a last lr far below eta_min in the rising half",
            |s| {
                s.last_epoch = 11;
                s.last_lr = Some(0.0);
                s.schedule = kindling_optim::Schedule::CosineAnnealingLr {
                    t_max: 10,
                    eta_min: 0.05,
                };
            },
            "inconsistent state: the next step's lr would be -0.1",
        ),
    ];
    for (what, spoil, message) in cases {
        let (_, mut sched, good) = cosine_at_epoch_3();
        let mut bad = good.clone();
        spoil(&mut bad);
        let err = sched
            .load_state_dict(&bad)
            .expect_err(&format!("{what}: accepted"));
        assert!(
            err.to_string().starts_with(message),
            "{what}: {err}\nexpected: {message}"
        );
        assert_eq!(sched.state_dict(), good, "{what}: the scheduler changed");
    }
}

#[test]
fn adam_with_amsgrad_switched_after_stepping_loads_its_own_state() {
    // Switched on: the moments exist but the running maximum does not yet (the next
    // AMSGrad step starts it). Switched off: the maximum stays, unused.
    for (first, then) in [(false, true), (true, false)] {
        let params = initial_params();
        let mut opt = Adam::new(params.clone(), 0.05).amsgrad(first);
        run_steps(&mut opt, &params, 0..2);
        let mut opt = opt.amsgrad(then);
        let twin_params = copies(&params);
        let mut twin = Adam::new(twin_params.clone(), 0.05).amsgrad(then);

        let state = opt.state_dict();
        assert_eq!(
            state.params[0].buffer("max_exp_avg_sq").is_some(),
            first,
            "amsgrad {first} -> {then}"
        );
        opt.load_state_dict(&state)
            .unwrap_or_else(|e| panic!("amsgrad {first} -> {then}: {e}"));
        assert_eq!(opt.state_dict(), state);
        // A fresh optimizer loads it too, and both go on alike.
        twin.load_state_dict(&state).unwrap();
        run_steps(&mut opt, &params, 2..5);
        run_steps(&mut twin, &twin_params, 2..5);
        for (a, b) in params.iter().zip(&twin_params) {
            assert_eq!(a.to_vec(), b.to_vec(), "amsgrad {first} -> {then}");
        }
        assert_eq!(opt.state_dict(), twin.state_dict());
    }
}
