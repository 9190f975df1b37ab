//! Crafted training checkpoints: files whose structure is sound (the checksum matches,
//! everything decodes) but whose values a run cannot continue from. Each must be refused
//! when it is loaded, with an error that says which value and why, instead of hanging or
//! panicking in the first resumed step.

mod common;

use common::Scratch;
use kindling_checkpoint::{load_training, save_training, CheckpointError, TrainingCheckpoint};
use kindling_core::rng::Xoshiro256;
use kindling_nn::{Linear, Module};
use kindling_optim::{Optimizer, Sgd};

/// A valid checkpoint of a small model with SGD; tests spoil one field of it.
fn checkpoint() -> (TrainingCheckpoint, Linear, Sgd) {
    let model = Linear::new(2, 2);
    let opt = Sgd::new(model.parameters(), 0.1).momentum(0.9);
    let ckpt = TrainingCheckpoint::capture(&model, &opt, 1, 10);
    (ckpt, model, opt)
}

/// xoshiro256's all-zero state: its only fixed point, where it returns 0 forever (and
/// `randn`'s sampler, rejecting zeros, never returns). Not reachable by seeding; only a
/// crafted file holds it.
fn zero_rng() -> Xoshiro256 {
    serde_json::from_str(r#"{"s":[0,0,0,0]}"#).unwrap()
}

#[test]
fn an_all_zero_random_generator_is_refused_on_load() {
    let dir = Scratch::new("crafted-rng");
    let path = dir.path("zero-rng.kdl");
    let (mut ckpt, _, _) = checkpoint();
    ckpt.rng = zero_rng();
    // Not through save_training, which refuses it too (below): written as a crafted file
    // would be, by a writer that does not check.
    kindling_checkpoint::fuzzing::write_training_unchecked(&ckpt, &path).unwrap();

    let err = load_training(&path).unwrap_err();
    assert!(matches!(err, CheckpointError::BadState { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "checkpoint {} cannot be resumed: its random generator state is all zeros, \
             from which xoshiro256++ only ever returns 0 (Tensor::randn would never \
             return); no generator that was seeded gets there, so the file was made by \
             hand or damaged",
            path.display()
        )
    );
}

#[test]
fn an_all_zero_random_generator_is_refused_by_save_and_restore() {
    let dir = Scratch::new("crafted-rng-mem");
    let (mut ckpt, mut model, mut opt) = checkpoint();
    ckpt.rng = zero_rng();
    let err = save_training(&ckpt, dir.path("x.kdl")).unwrap_err();
    assert!(matches!(err, CheckpointError::BadState { .. }), "{err}");
    assert!(!dir.path("x.kdl").exists());

    let lr_before = opt.lr();
    let err = ckpt.restore(&mut model, &mut opt).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the checkpoint cannot be resumed: its random generator state is all zeros"
        ),
        "{err}"
    );
    assert_eq!(opt.lr(), lr_before);
}

#[test]
fn counters_no_run_reaches_are_refused_on_load() {
    // A resumed loop counts on from these (`step += 1`): u64::MAX would overflow at once.
    let dir = Scratch::new("crafted-counters");
    let path = dir.path("counter.kdl");
    let limit = kindling_optim::MAX_COUNTER;
    for (field, value) in [("step", u64::MAX), ("epoch", u64::MAX), ("step", limit + 1)] {
        let (mut ckpt, _, _) = checkpoint();
        match field {
            "step" => ckpt.step = value,
            _ => ckpt.epoch = value,
        }
        kindling_checkpoint::fuzzing::write_training_unchecked(&ckpt, &path).unwrap();
        let err = load_training(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::BadState { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "checkpoint {} cannot be resumed: its {field} counter is {value}, beyond the \
                 largest count a checkpoint may hold (2^53 = 9007199254740992), which no run \
                 reaches; a loop counting on from it could overflow",
                path.display()
            )
        );
        assert!(save_training(&ckpt, &path).is_err(), "save refuses it too");
    }
    // The limit itself is fine.
    let (mut ckpt, _, _) = checkpoint();
    (ckpt.epoch, ckpt.step) = (limit, limit);
    save_training(&ckpt, &path).unwrap();
    assert_eq!(load_training(&path).unwrap().step, limit);
}
