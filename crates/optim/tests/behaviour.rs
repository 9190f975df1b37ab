//! What the optimizers and schedulers do besides the update arithmetic: skipping
//! parameters without a gradient, `zero_grad`, PyTorch's hyperparameter checks, and how a
//! schedule drives the optimizer's lr.

use kindling_core::Tensor;
use kindling_optim::{
    Adam, AdamW, CosineAnnealingLr, LinearLr, LrScheduler, Optimizer, Sgd, StepLr,
};

fn param(values: &[f32]) -> Tensor {
    Tensor::from_vec(values.to_vec(), &[values.len()]).requires_grad(true)
}

fn grad(p: &Tensor, values: &[f32]) {
    p.set_grad(Some(Tensor::from_vec(values.to_vec(), p.shape())));
}

#[test]
fn a_parameter_without_gradient_is_skipped_entirely_by_sgd() {
    // With weight decay and momentum, any touch would move it.
    let a = param(&[1.0, 2.0]);
    let b = param(&[3.0]);
    let mut opt = Sgd::new(vec![a.clone(), b.clone()], 0.1)
        .momentum(0.9)
        .weight_decay(0.5);
    grad(&a, &[1.0, 1.0]);
    grad(&b, &[1.0]);
    opt.step();
    let b_after_one = b.to_vec();
    let buf_after_one = opt.state_dict().params[1].buffers["momentum_buffer"].clone();

    b.set_grad(None);
    grad(&a, &[1.0, 1.0]);
    opt.step();
    assert_eq!(
        b.to_vec(),
        b_after_one,
        "no decay, no momentum step without a gradient"
    );
    assert_eq!(
        opt.state_dict().params[1].buffers["momentum_buffer"],
        buf_after_one
    );
}

#[test]
fn a_parameter_without_gradient_keeps_its_adam_step_count() {
    let a = param(&[1.0]);
    let b = param(&[1.0]);
    let mut opt = AdamW::new(vec![a.clone(), b.clone()], 0.1);
    grad(&a, &[1.0]);
    grad(&b, &[1.0]);
    opt.step();
    let b_after_one = b.to_vec();
    b.set_grad(None);
    grad(&a, &[1.0]);
    opt.step();
    assert_eq!(
        b.to_vec(),
        b_after_one,
        "AdamW's decoupled decay must not touch it either"
    );
    let state = opt.state_dict();
    assert_eq!(
        (state.params[0].step, state.params[1].step),
        (Some(2), Some(1))
    );

    // Its next update is then a *second* step: the same as a fresh optimizer's second step.
    grad(&b, &[1.0]);
    opt.step();
    let c = param(&[1.0]);
    let mut fresh = AdamW::new(vec![c.clone()], 0.1);
    for _ in 0..2 {
        grad(&c, &[1.0]);
        fresh.step();
    }
    assert_eq!(b.to_vec(), c.to_vec());
}

#[test]
fn a_parameter_never_given_a_gradient_has_no_state() {
    let a = param(&[1.0]);
    let b = param(&[1.0]);
    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1);
    grad(&a, &[1.0]);
    opt.step();
    let st = &opt.state_dict().params[1];
    assert!(st.is_empty(), "{st:?}");
    assert_eq!(b.to_vec(), vec![1.0]);
}

#[test]
fn zero_grad_sets_gradients_to_none_so_step_changes_nothing() {
    let a = param(&[1.0, 2.0]);
    let mut opt = Adam::new(vec![a.clone()], 0.1);
    grad(&a, &[1.0, 1.0]);
    opt.zero_grad();
    assert!(a.grad().is_none());
    opt.step();
    assert_eq!(a.to_vec(), vec![1.0, 2.0]);
    assert_eq!(opt.state_dict().params[0].step, None);
}

#[test]
fn updates_are_in_place_and_seen_by_every_clone() {
    let w = param(&[1.0]);
    let alias = w.clone();
    let mut opt = Sgd::new(vec![w.clone()], 0.5);
    grad(&w, &[2.0]);
    opt.step();
    assert_eq!(alias.to_vec(), vec![0.0]);
}

#[test]
fn a_gradient_sharing_the_parameters_storage_does_not_deadlock() {
    // p.grad = p (as `p.grad = p` in PyTorch): the step reads the gradient before it
    // writes the parameter. SGD: θ − 0.5·θ.
    let p = param(&[2.0, -4.0]);
    p.set_grad(Some(p.clone()));
    let mut opt = Sgd::new(vec![p.clone()], 0.5);
    opt.step();
    assert_eq!(p.to_vec(), vec![1.0, -2.0]);
}

#[test]
fn training_a_linear_model_with_backward_converges() {
    // y = 2x − 1 from four points, with gradients from autograd.
    let w = param(&[0.0]);
    let b = param(&[0.0]);
    let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4]);
    let y = Tensor::from_vec(vec![-1.0, 1.0, 3.0, 5.0], &[4]);
    let mut opt = Adam::new(vec![w.clone(), b.clone()], 0.05);
    for _ in 0..2000 {
        opt.zero_grad();
        let pred = &(&x * &w) + &b;
        let loss = (&pred - &y).powf(2.0).mean();
        loss.backward();
        opt.step();
    }
    assert!(
        (w.item() - 2.0).abs() < 1e-3 && (b.item() + 1.0).abs() < 1e-3,
        "w {w:?}, b {b:?}"
    );
}

#[test]
fn hyperparameters_keep_the_decimal_the_user_wrote() {
    let opt = Adam::new(vec![param(&[0.0])], 1e-3)
        .betas(0.9, 0.999)
        .eps(1e-8);
    let hp = opt.hparams();
    assert_eq!((hp.lr, hp.betas, hp.eps), (0.001, [0.9, 0.999], 1e-8));
    let mut sgd = Sgd::new(vec![param(&[0.0])], 0.1);
    sgd.set_lr(0.05);
    assert_eq!(sgd.hparams().lr, 0.05);
    assert_eq!(sgd.lr(), 0.05_f32);
}

// ---------------------------------------------------------------- PyTorch's ValueErrors

#[test]
#[should_panic(expected = "Sgd: invalid learning rate: -0.1 (must be >= 0)")]
fn sgd_rejects_a_negative_lr() {
    let _ = Sgd::new(vec![param(&[0.0])], -0.1);
}

#[test]
#[should_panic(expected = "Sgd: invalid momentum: -0.5")]
fn sgd_rejects_a_negative_momentum() {
    let _ = Sgd::new(vec![param(&[0.0])], 0.1).momentum(-0.5);
}

#[test]
#[should_panic(expected = "Sgd: invalid weight_decay: -0.01")]
fn sgd_rejects_a_negative_weight_decay() {
    let _ = Sgd::new(vec![param(&[0.0])], 0.1).weight_decay(-0.01);
}

#[test]
#[should_panic(
    expected = "Sgd: invalid nesterov: true with momentum 0 and dampening 0 \
                           (Nesterov momentum requires a momentum and zero dampening)"
)]
fn sgd_rejects_nesterov_without_momentum() {
    let p = param(&[0.0]);
    let mut opt = Sgd::new(vec![p.clone()], 0.1).nesterov(true);
    grad(&p, &[1.0]);
    opt.step();
}

#[test]
#[should_panic(expected = "Sgd: invalid nesterov: true with momentum 0.9 and dampening 0.1")]
fn sgd_rejects_nesterov_with_dampening() {
    let mut opt = Sgd::new(vec![param(&[0.0])], 0.1)
        .nesterov(true)
        .momentum(0.9)
        .dampening(0.1);
    opt.step();
}

#[test]
fn sgd_builders_work_in_any_order() {
    let p = param(&[0.0]);
    let mut opt = Sgd::new(vec![p.clone()], 0.5).nesterov(true).momentum(0.5);
    grad(&p, &[4.0]);
    opt.step();
    assert_eq!(p.to_vec(), vec![-3.0]); // as in hand_derived::sgd_nesterov
}

#[test]
#[should_panic(expected = "Sgd: invalid learning rate: -1")]
fn set_lr_rejects_a_negative_lr() {
    Sgd::new(vec![param(&[0.0])], 0.1).set_lr(-1.0);
}

#[test]
#[should_panic(expected = "Adam: invalid learning rate: NaN")]
fn adam_rejects_a_nan_lr() {
    let _ = Adam::new(vec![param(&[0.0])], f32::NAN);
}

#[test]
#[should_panic(expected = "Adam: invalid betas.0: 1 (must be in [0, 1))")]
fn adam_rejects_beta1_of_one() {
    let _ = Adam::new(vec![param(&[0.0])], 1e-3).betas(1.0, 0.999);
}

#[test]
#[should_panic(expected = "AdamW: invalid betas.1: -0.1 (must be in [0, 1))")]
fn adamw_rejects_a_negative_beta2() {
    let _ = AdamW::new(vec![param(&[0.0])], 1e-3).betas(0.9, -0.1);
}

#[test]
#[should_panic(expected = "Adam: invalid epsilon: -0.000001")]
fn adam_rejects_a_negative_eps() {
    let _ = Adam::new(vec![param(&[0.0])], 1e-3).eps(-1e-6);
}

#[test]
#[should_panic(expected = "AdamW: invalid weight_decay: -0.01")]
fn adamw_rejects_a_negative_weight_decay() {
    let _ = AdamW::new(vec![param(&[0.0])], 1e-3).weight_decay(-0.01);
}

#[test]
#[should_panic(expected = "optimizer got an empty parameter list")]
fn an_empty_parameter_list_is_rejected() {
    let _ = Adam::new(vec![], 1e-3);
}

#[test]
#[should_panic(expected = "can't optimize a non-leaf Tensor")]
fn a_non_leaf_parameter_is_rejected() {
    let w = param(&[1.0]);
    let _ = Sgd::new(vec![&w * 2.0], 0.1);
}

// ---------------------------------------------------------------- schedules

#[test]
fn a_schedule_sets_the_optimizers_lr_each_epoch() {
    let mut opt = Adam::new(vec![param(&[0.0])], 0.1);
    let mut sched = StepLr::new(2, 0.1);
    sched.attach(&mut opt);
    let mut lrs = vec![opt.lr()];
    for _ in 0..4 {
        sched.step(&mut opt);
        lrs.push(opt.lr());
    }
    assert_eq!(lrs, vec![0.1, 0.1, 0.01, 0.01, 0.001]);
}

#[test]
fn cosine_annealing_goes_down_then_back_up() {
    // Closed form η = (1 + cos(π·e/4))/2 · 0.1 at e = 0..8: past t_max = 4 it rises again.
    let mut opt = Sgd::new(vec![param(&[0.0])], 0.1);
    let mut sched = CosineAnnealingLr::new(4, 0.0);
    sched.attach(&mut opt);
    for e in 1..=8 {
        sched.step(&mut opt);
        let closed = (1.0 + (std::f64::consts::PI * e as f64 / 4.0).cos()) / 2.0 * 0.1;
        assert!((sched.get_last_lr() - closed).abs() < 1e-15, "epoch {e}");
    }
}

#[test]
fn linear_warmup_starts_at_the_start_factor_on_attach() {
    // 0.1 · (0.5, 0.625, 0.75, 0.875, 1, 1): computed in f64 by the recursion.
    let mut opt = Sgd::new(vec![param(&[0.0])], 0.1);
    let mut sched = LinearLr::new(0.5, 1.0, 4);
    sched.attach(&mut opt);
    let mut lrs = vec![sched.get_last_lr()];
    for _ in 0..5 {
        sched.step(&mut opt);
        lrs.push(sched.get_last_lr());
    }
    for (got, want) in lrs.iter().zip([0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1]) {
        assert!((got - want).abs() < 1e-16, "{lrs:?}");
    }
}

#[test]
fn a_schedule_chains_from_an_lr_changed_by_hand() {
    // As PyTorch's chainable schedulers: the next step multiplies what the optimizer holds.
    let mut opt = Sgd::new(vec![param(&[0.0])], 0.1);
    let mut sched = StepLr::new(1, 0.5);
    sched.attach(&mut opt);
    sched.step(&mut opt);
    assert_eq!(sched.get_last_lr(), 0.05);
    opt.set_lr(1.0);
    sched.step(&mut opt);
    assert_eq!((sched.get_last_lr(), opt.lr()), (0.5, 0.5));
}

#[test]
fn two_schedules_on_one_optimizer_compose() {
    // Warm-up ×(0.5 → 1) over 2 epochs, times a decay ×0.1 every 2 epochs, like
    // PyTorch's ChainedScheduler.
    let mut opt = Sgd::new(vec![param(&[0.0])], 1.0);
    let mut warmup = LinearLr::new(0.5, 1.0, 2);
    let mut decay = StepLr::new(2, 0.1);
    warmup.attach(&mut opt);
    decay.attach(&mut opt);
    let mut lrs = vec![opt.lr()];
    for _ in 0..4 {
        warmup.step(&mut opt);
        decay.step(&mut opt);
        lrs.push(opt.lr());
    }
    let want = [0.5, 0.75, 0.1, 0.1, 0.01];
    for (got, want) in lrs.iter().zip(want) {
        assert!((got - want).abs() < 1e-7, "{lrs:?}");
    }
}

#[test]
#[should_panic(expected = "StepLr::step: the scheduler is not attached to an optimizer")]
fn stepping_an_unattached_scheduler_panics() {
    let mut opt = Sgd::new(vec![param(&[0.0])], 0.1);
    StepLr::new(2, 0.5).step(&mut opt);
}

#[test]
#[should_panic(expected = "LinearLr: invalid start_factor: 0 (must be in (0, 1])")]
fn linear_lr_rejects_a_zero_start_factor() {
    let _ = LinearLr::new(0.0, 1.0, 5);
}

#[test]
#[should_panic(expected = "StepLr: invalid step_size: 0 (must be >= 1)")]
fn step_lr_rejects_a_zero_step_size() {
    let _ = StepLr::new(0, 0.5);
}

#[test]
#[should_panic(expected = "CosineAnnealingLr: invalid t_max: 0 (must be >= 1)")]
fn cosine_rejects_a_zero_t_max() {
    let _ = CosineAnnealingLr::new(0, 0.0);
}
