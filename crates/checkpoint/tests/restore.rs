//! `restore` is all or nothing: when any part of a checkpoint does not fit, the model, the
//! optimizer, the scheduler and the random generator are left exactly as they were, even
//! when the objects restored into are themselves in a state they could not reload.

use kindling_checkpoint::{CheckpointError, TrainingCheckpoint};
use kindling_core::Tensor;
use kindling_nn::{Linear, Module};
use kindling_optim::{CosineAnnealingLr, LrScheduler, Optimizer, Sgd, StepLr};

/// A checkpoint of a Linear(2, 2) trained one step with SGD (lr 0.1, momentum 0.9) under
/// a StepLr schedule.
fn checkpoint() -> TrainingCheckpoint {
    let model = Linear::new(2, 2);
    let mut opt = Sgd::new(model.parameters(), 0.1).momentum(0.9);
    let mut sched = StepLr::new(1, 0.5);
    sched.attach(&mut opt);
    model.forward(&Tensor::ones(&[3, 2])).sum().backward();
    opt.step();
    TrainingCheckpoint::capture(&model, &opt, 0, 1).with_scheduler(&sched)
}

#[test]
fn a_scheduler_that_does_not_fit_leaves_the_optimizer_alone() {
    let ckpt = checkpoint();
    let mut model = Linear::new(2, 2);
    let model_before = model.weight().to_vec();
    // Nesterov without momentum: refused by `step` (and by `load_state_dict`), so this
    // optimizer cannot reload its own state: undoing a half-done restore by reloading the
    // old state fails here, and only checking everything first keeps it unchanged.
    let mut opt = Sgd::new(model.parameters(), 0.3).nesterov(true);
    let opt_before = opt.state_dict();
    // The checkpoint's schedule is a StepLr: this one does not fit.
    let mut sched = CosineAnnealingLr::new(10, 0.0);
    sched.attach(&mut opt);
    let sched_before = sched.state_dict();

    let err = ckpt
        .restore_with_scheduler(&mut model, &mut opt, &mut sched)
        .unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Optimizer {
                part: "scheduler",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("(nothing was restored)"), "{err}");
    assert_eq!(
        opt.lr(),
        0.3,
        "the checkpoint's lr was left in the optimizer"
    );
    assert_eq!(opt.state_dict(), opt_before);
    assert_eq!(sched.state_dict(), sched_before);
    assert_eq!(model.weight().to_vec(), model_before);
}
