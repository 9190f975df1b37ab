//! Committed checkpoints of every native format version, and the proof that each one still
//! loads and resumes.
//!
//! `tests/fixtures/vN/` holds files written by the kindling that wrote format version N: a
//! plain state dict (`model.kdl`), two training checkpoints (`sgd_momentum.kdl`: SGD with
//! momentum and weight decay under a StepLr; `adam.kdl`: Adam with AMSGrad under a cosine
//! schedule, plus one parameter that never had a gradient, so its state is empty), and
//! `expected.json`: the model file's values, and for each training checkpoint what the run
//! that wrote it did next: the weights, learning rate and random generator after
//! [`CONTINUE_STEPS`] more steps. A resumed run must reproduce them.
//!
//! The point is compatibility across versions: when the format changes, files written
//! before must keep loading (converted on load), so every version's fixture stays here
//! and is checked by every later kindling. When `FORMAT_VERSION` goes up, write the new
//! version's fixture with
//! `cargo test -p kindling-checkpoint --test fixtures -- --ignored write_fixtures`
//! and commit it; never regenerate an old one (the old code that wrote it is gone).
//!
//! `build` and `train` below define what "the run" is. Old fixtures' expected values were
//! computed by these functions as they are: change them and old fixtures can no longer be
//! checked. The weights are compared with a tolerance of [`TOLERANCE`], not bit for bit,
//! so that a change in a core kernel's summation order does not break a format test;
//! anything the checkpoint could get wrong (a lost momentum buffer, an Adam step count
//! off by one, a lost random state) moves them by orders of magnitude more. Bit-exact
//! resume within one build is `tests/resume.rs`'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kindling_checkpoint::{load, load_training, save, save_training, TrainingCheckpoint};
use kindling_checkpoint::{FORMAT_VERSION, KINDLING_VERSION};
use kindling_core::rng::{get_rng_state, with_rng, Xoshiro256};
use kindling_core::{manual_seed, Tensor};
use kindling_nn::functional::mse_loss;
use kindling_nn::{BatchNorm1d, Linear, Module, ReLU, Sequential, StateDict};
use kindling_optim::{Adam, CosineAnnealingLr, LrScheduler, Optimizer, Sgd, StepLr};
use serde::{Deserialize, Serialize};

/// Steps the runs take before their checkpoint is written.
const SAVED_AT_STEP: u64 = 5;
/// Steps taken after the checkpoint, whose results `expected.json` records.
const CONTINUE_STEPS: u64 = 3;
/// The schedulers step once every this many steps.
const STEPS_PER_EPOCH: u64 = 2;
/// Largest accepted difference between a resumed weight and the recorded one, relative to
/// the value's size (absolute below 1).
const TOLERANCE: f32 = 1e-5;
/// The training checkpoints in every fixture directory.
const RUNS: [&str; 2] = ["sgd_momentum", "adam"];

/// The global random generator is process-wide: tests in this binary take turns.
static LOCK: Mutex<()> = Mutex::new(());

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A tensor as `expected.json` stores it: the bits of each value, so that nothing is lost
/// to a decimal round trip.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct StoredTensor {
    shape: Vec<usize>,
    bits: Vec<u32>,
}

#[derive(Serialize, Deserialize, Debug)]
struct AfterResume {
    /// How many steps after the checkpoint these values are from.
    steps: u64,
    /// The model's state dict (parameters and BatchNorm buffers).
    model: BTreeMap<String, StoredTensor>,
    /// The optimizer's learning rate (`Optimizer::lr`), and the scheduler's in full.
    lr: f32,
    scheduler_last_lr: f64,
    scheduler_last_epoch: usize,
    /// The global random generator.
    rng: Xoshiro256,
}

#[derive(Serialize, Deserialize, Debug)]
struct ExpectedRun {
    epoch: u64,
    step: u64,
    after: AfterResume,
}

#[derive(Serialize, Deserialize, Debug)]
struct Expected {
    format_version: u32,
    written_by: String,
    note: String,
    /// The contents of `model.kdl`.
    model: BTreeMap<String, StoredTensor>,
    /// For each training checkpoint, `NAME.kdl`: its counters and what came next.
    runs: BTreeMap<String, ExpectedRun>,
}

fn stored(sd: &StateDict) -> BTreeMap<String, StoredTensor> {
    sd.iter()
        .map(|(k, t)| {
            let bits = t.to_vec().iter().map(|v| v.to_bits()).collect();
            let shape = t.shape().to_vec();
            (k.to_string(), StoredTensor { shape, bits })
        })
        .collect()
}

struct Run {
    model: Sequential,
    opt: Box<dyn Optimizer>,
    sched: Box<dyn LrScheduler>,
}

/// The model, optimizer and schedule of run `name`, initialised from `seed`. A resumed run
/// is built with another seed and other learning rates: the checkpoint must overwrite them.
fn build(name: &str, seed: u64, lr_scale: f32) -> Run {
    manual_seed(seed);
    let model = Sequential::new()
        .add(Linear::new(3, 4))
        .add(BatchNorm1d::new(4))
        .add(ReLU::new())
        .add(Linear::new(4, 2));
    let mut params = model.parameters();
    let mut opt: Box<dyn Optimizer> = match name {
        "sgd_momentum" => Box::new(
            Sgd::new(params, 0.05 * lr_scale)
                .momentum(0.9)
                .weight_decay(1e-3),
        ),
        "adam" => {
            // A parameter that never gets a gradient: its optimizer state stays empty.
            params.push(Tensor::zeros(&[2]).requires_grad(true));
            Box::new(Adam::new(params, 1e-2 * lr_scale).amsgrad(true))
        }
        other => panic!("unknown run {other}"),
    };
    let mut sched: Box<dyn LrScheduler> = match name {
        "sgd_momentum" => Box::new(StepLr::new(2, 0.5)),
        _ => Box::new(CosineAnnealingLr::new(6, 1e-4)),
    };
    sched.attach(opt.as_mut());
    Run { model, opt, sched }
}

/// `n` values uniform in `[-1, 1)`, drawn from the global generator with xoshiro's own
/// `next_f32` (not `randn`, whose sampler belongs to a dependency that may change).
fn uniform(n: usize) -> Vec<f32> {
    with_rng(|r| (0..n).map(|_| 2.0 * r.next_f32() - 1.0).collect())
}

/// Steps `from..from + n` of run `run`: random inputs and targets from the global
/// generator, an MSE loss, one optimizer step, and a scheduler step at each epoch's end.
fn train(run: &mut Run, from: u64, n: u64) {
    run.model.train();
    for step in from..from + n {
        let x = Tensor::from_vec(uniform(8 * 3), &[8, 3]);
        let y = Tensor::from_vec(uniform(8 * 2), &[8, 2]);
        let loss = mse_loss(&run.model.forward(&x), &y);
        run.opt.zero_grad();
        loss.backward();
        run.opt.step();
        if (step + 1) % STEPS_PER_EPOCH == 0 {
            run.sched.step(run.opt.as_mut());
        }
    }
}

fn after(run: &Run) -> AfterResume {
    AfterResume {
        steps: CONTINUE_STEPS,
        model: stored(&run.model.state_dict()),
        lr: run.opt.lr(),
        scheduler_last_lr: run.sched.get_last_lr(),
        scheduler_last_epoch: run.sched.last_epoch(),
        rng: get_rng_state(),
    }
}

/// Writes this kindling's fixture: `tests/fixtures/v{FORMAT_VERSION}/`. Run by hand when
/// the format version changes (see the file's comment), then commit the files.
#[test]
#[ignore]
fn write_fixtures() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = fixtures_dir().join(format!("v{FORMAT_VERSION}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runs = BTreeMap::new();
    let mut model_file = None;
    for name in RUNS {
        let mut run = build(name, 2024, 1.0);
        train(&mut run, 0, SAVED_AT_STEP);
        let epoch = SAVED_AT_STEP / STEPS_PER_EPOCH;
        let ckpt = TrainingCheckpoint::capture(&run.model, run.opt.as_ref(), epoch, SAVED_AT_STEP)
            .with_scheduler(run.sched.as_ref())
            .with_extra("run", name);
        save_training(&ckpt, dir.join(format!("{name}.kdl"))).unwrap();
        if model_file.is_none() {
            let sd = run.model.state_dict().deep_copy();
            save(&sd, dir.join("model.kdl")).unwrap();
            model_file = Some(stored(&sd));
        }
        // The original run goes on: what a resumed run must reproduce.
        train(&mut run, SAVED_AT_STEP, CONTINUE_STEPS);
        runs.insert(
            name.to_string(),
            ExpectedRun {
                epoch,
                step: SAVED_AT_STEP,
                after: after(&run),
            },
        );
    }
    let expected = Expected {
        format_version: FORMAT_VERSION,
        written_by: KINDLING_VERSION.to_string(),
        note: "Written by crates/checkpoint/tests/fixtures.rs (write_fixtures); tensor values \
               are f32 bit patterns. Do not regenerate: later kindlings must load these files."
            .to_string(),
        model: model_file.unwrap(),
        runs,
    };
    let json = serde_json::to_string_pretty(&expected).unwrap();
    std::fs::write(dir.join("expected.json"), json + "\n").unwrap();
    println!("wrote {}", dir.display());
}

/// Every format version from 1 to the current one, each with its fixture directory.
fn fixture_versions() -> Vec<(u32, PathBuf)> {
    (1..=FORMAT_VERSION)
        .map(|v| {
            let dir = fixtures_dir().join(format!("v{v}"));
            assert!(
                dir.join("expected.json").is_file(),
                "no fixture for format version {v} in {}: write it with `cargo test -p \
                 kindling-checkpoint --test fixtures -- --ignored write_fixtures` and commit it",
                dir.display()
            );
            (v, dir)
        })
        .collect()
}

fn assert_close(
    what: &str,
    got: &BTreeMap<String, StoredTensor>,
    want: &BTreeMap<String, StoredTensor>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: keys"
    );
    for (key, w) in want {
        let g = &got[key];
        assert_eq!(g.shape, w.shape, "{what}: shape of {key}");
        for (i, (&gb, &wb)) in g.bits.iter().zip(&w.bits).enumerate() {
            let (gv, wv) = (f32::from_bits(gb), f32::from_bits(wb));
            let diff = (gv - wv).abs();
            assert!(
                diff <= TOLERANCE * wv.abs().max(1.0),
                "{what}: {key}[{i}] is {gv} but the original run had {wv} (difference {diff})"
            );
        }
    }
}

#[test]
fn every_format_version_loads_and_resumes() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for (version, dir) in fixture_versions() {
        let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
        let expected: Expected = serde_json::from_str(&text).unwrap();
        assert_eq!(expected.format_version, version, "{}", dir.display());

        // The plain state dict: exactly the stored values.
        let model =
            load(dir.join("model.kdl")).unwrap_or_else(|e| panic!("format version {version}: {e}"));
        assert_eq!(stored(&model), expected.model, "v{version} model.kdl");

        for name in RUNS {
            let what = format!("v{version} {name}");
            let want = &expected.runs[name];
            let ckpt = load_training(dir.join(format!("{name}.kdl")))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((ckpt.epoch, ckpt.step), (want.epoch, want.step), "{what}");
            assert_eq!(ckpt.extra["run"], name, "{what}");

            let mut run = build(name, 99, 3.0);
            ckpt.restore_with_scheduler(&mut run.model, run.opt.as_mut(), run.sched.as_mut())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            train(&mut run, ckpt.step, want.after.steps);
            let got = after(&run);
            assert_close(&what, &got.model, &want.after.model);
            assert_eq!(got.lr, want.after.lr, "{what}: lr");
            assert_eq!(
                got.scheduler_last_lr.to_bits(),
                want.after.scheduler_last_lr.to_bits(),
                "{what}: scheduler lr"
            );
            assert_eq!(
                got.scheduler_last_epoch, want.after.scheduler_last_epoch,
                "{what}: scheduler epoch"
            );
            assert_eq!(got.rng, want.after.rng, "{what}: random generator");
        }
    }
}

/// BatchNorm's `num_batches_tracked`: an F32 in format versions 1 and 2, an exact I64 from
/// version 3. Every version's file gives the same count to the layer that loads it.
#[test]
fn num_batches_tracked_loads_from_every_version() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for (version, dir) in fixture_versions() {
        let sd = load(dir.join("model.kdl")).unwrap();
        let key = "1.num_batches_tracked";
        // The fixture run took SAVED_AT_STEP training steps before saving the model.
        assert_eq!(sd.count(key), Some(SAVED_AT_STEP), "v{version}");
        assert_eq!(sd.is_count(key), version >= 3, "v{version}: stored as I64");
        let mut run = build("sgd_momentum", 1, 1.0);
        run.model.load_state_dict(&sd).unwrap();
        let bn = run.model.state_dict();
        assert_eq!(
            bn.count(key),
            Some(SAVED_AT_STEP),
            "v{version}: after loading"
        );
    }
}
