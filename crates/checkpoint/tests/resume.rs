//! Exact resume: training 2N steps straight must give bit for bit the same weights,
//! optimizer state and random generator as training N steps, saving a training
//! checkpoint, loading it into freshly built objects in a fresh process (this test binary
//! re-run with an environment variable) and training N more. With SGD + momentum and with
//! Adam, a StepLr schedule, BatchNorm (running statistics) and Dropout (which draws from
//! the global random generator, as does the data here), so that leaving out any part of
//! the state would make the runs differ.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use common::{assert_same_state, Scratch};
use kindling_checkpoint::{load_training, save_training, TrainingCheckpoint};
use kindling_core::{manual_seed, rng, Tensor};
use kindling_nn::{
    functional::cross_entropy, BatchNorm1d, Dropout, Linear, Module, ReLU, Sequential,
};
use kindling_optim::{Adam, LrScheduler, Optimizer, Sgd, StepLr};

const CHILD_ENV: &str = "KINDLING_RESUME_TEST_CHILD";
const N: u64 = 10;
/// Steps per "epoch": the scheduler steps at each epoch's end.
const STEPS_PER_EPOCH: u64 = 4;

/// The global generator is process-wide: tests in this binary take turns.
static LOCK: Mutex<()> = Mutex::new(());

struct Run {
    model: Sequential,
    opt: Box<dyn Optimizer>,
    sched: StepLr,
}

/// The model, optimizer and schedule, initialised from `seed`.
fn build(optimizer: &str, seed: u64) -> Run {
    manual_seed(seed);
    let model = Sequential::new()
        .add(Linear::new(8, 16))
        .add(BatchNorm1d::new(16))
        .add(ReLU::new())
        .add(Dropout::new(0.25))
        .add(Linear::new(16, 4));
    let mut opt: Box<dyn Optimizer> = match optimizer {
        "sgd" => Box::new(
            Sgd::new(model.parameters(), 0.05)
                .momentum(0.9)
                .weight_decay(1e-4),
        ),
        "adam" => Box::new(Adam::new(model.parameters(), 1e-2)),
        other => panic!("unknown optimizer {other}"),
    };
    let mut sched = StepLr::new(1, 0.7);
    sched.attach(opt.as_mut());
    Run { model, opt, sched }
}

/// Steps `from..from + n`: random data and labels from the global generator.
fn train(run: &mut Run, from: u64, n: u64) {
    run.model.train();
    for step in from..from + n {
        let x = Tensor::randn(&[16, 8]);
        let targets: Vec<usize> = Tensor::rand(&[16])
            .to_vec()
            .iter()
            .map(|u| ((u * 4.0) as usize).min(3))
            .collect();
        let loss = cross_entropy(&run.model.forward(&x), &targets);
        run.opt.zero_grad();
        loss.backward();
        run.opt.step();
        if (step + 1) % STEPS_PER_EPOCH == 0 {
            run.sched.step(run.opt.as_mut());
        }
    }
}

fn snapshot(run: &Run, step: u64) -> TrainingCheckpoint {
    TrainingCheckpoint::capture(&run.model, run.opt.as_ref(), step / STEPS_PER_EPOCH, step)
        .with_scheduler(&run.sched)
}

/// The second half, as the child process runs it: fresh objects with another seed, the
/// checkpoint restored, N more steps, the end state saved to `out`.
fn resume(optimizer: &str, ckpt: &Path, out: &Path) {
    let mut run = build(optimizer, 987_654);
    let saved = load_training(ckpt).unwrap();
    saved
        .restore_with_scheduler(&mut run.model, run.opt.as_mut(), &mut run.sched)
        .unwrap();
    train(&mut run, saved.step, N);
    save_training(&snapshot(&run, saved.step + N), out).unwrap();
}

fn assert_same_run(a: &TrainingCheckpoint, b: &TrainingCheckpoint) {
    assert_same_state(&a.model, &b.model);
    assert_eq!(a.optimizer, b.optimizer, "optimizer state");
    assert_eq!(a.scheduler, b.scheduler, "scheduler state");
    assert_eq!(a.rng, b.rng, "random generator");
    assert_eq!((a.epoch, a.step), (b.epoch, b.step));
}

fn straight_and_half(optimizer: &str, dir: &Scratch) -> (TrainingCheckpoint, std::path::PathBuf) {
    let mut straight = build(optimizer, 0);
    train(&mut straight, 0, 2 * N);
    let straight = snapshot(&straight, 2 * N);

    let mut first = build(optimizer, 0);
    train(&mut first, 0, N);
    let ckpt = dir.path(&format!("{optimizer}-half.kdl"));
    save_training(&snapshot(&first, N), &ckpt).unwrap();
    (straight, ckpt)
}

#[test]
fn resume_in_a_fresh_process_is_bit_exact() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let parts: Vec<&str> = spec.split('|').collect();
        resume(parts[0], Path::new(parts[1]), Path::new(parts[2]));
        return;
    }
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("resume-process");
    for optimizer in ["sgd", "adam"] {
        let (straight, ckpt) = straight_and_half(optimizer, &dir);
        let out = dir.path(&format!("{optimizer}-resumed.kdl"));
        // The child's own test-harness output is kept out of ours (a second "test result"
        // line would confuse readers of the log) and shown only if it fails.
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "resume_in_a_fresh_process_is_bit_exact",
                "--test-threads=1",
            ])
            .env(
                CHILD_ENV,
                format!("{optimizer}|{}|{}", ckpt.display(), out.display()),
            )
            .output()
            .unwrap();
        assert!(
            child.status.success(),
            "the child failed: {}\n{}{}",
            child.status,
            String::from_utf8_lossy(&child.stdout),
            String::from_utf8_lossy(&child.stderr)
        );
        let resumed = load_training(&out).unwrap();
        assert_same_run(&resumed, &straight);
        println!(
            "{optimizer}: 2x{N} steps straight == {N} + resume in a new process + {N}, bit for bit"
        );
    }
}

#[test]
fn resume_in_this_process_with_fresh_objects_is_bit_exact() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("resume-local");
    for optimizer in ["sgd", "adam"] {
        let (straight, ckpt) = straight_and_half(optimizer, &dir);
        let out = dir.path("out.kdl");
        resume(optimizer, &ckpt, &out);
        assert_same_run(&load_training(&out).unwrap(), &straight);
    }
}

#[test]
fn every_part_of_the_state_matters() {
    // Control experiment: resume without restoring the random generator (or the
    // optimizer) and the runs differ, so the tests above test something.
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("resume-control");
    let (straight, ckpt) = straight_and_half("adam", &dir);
    let saved = load_training(&ckpt).unwrap();

    let mut no_rng = build("adam", 1);
    saved
        .restore_with_scheduler(&mut no_rng.model, no_rng.opt.as_mut(), &mut no_rng.sched)
        .unwrap();
    rng::set_rng_state(rng::Xoshiro256::seed_from(1)); // undo the generator's restore
    train(&mut no_rng, N, N);
    assert_ne!(snapshot(&no_rng, 2 * N).rng, straight.rng);
    assert_ne!(
        no_rng.model.state_dict().get("0.weight").unwrap().to_vec(),
        straight.model.get("0.weight").unwrap().to_vec()
    );

    let mut weights_only = build("adam", 1);
    weights_only.model.load_state_dict(&saved.model).unwrap();
    rng::set_rng_state(saved.rng.clone());
    train(&mut weights_only, N, N);
    assert_ne!(
        weights_only
            .model
            .state_dict()
            .get("0.weight")
            .unwrap()
            .to_vec(),
        straight.model.get("0.weight").unwrap().to_vec()
    );
}
