//! Runs the examples end to end, as a learner would, and checks what they print and write.
//! `cargo test` builds the examples before running tests, so the binaries are found next to
//! this test's own executable (`target/<profile>/examples/`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::example;
use kindling::checkpoint::{self, TrainingCheckpoint};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn class_scores_prints_the_numbers_pytorch_prints() {
    let out = run_ok(&mut example("class_scores"));
    // The numbers PyTorch 2.x prints for the lesson (../shared/seed/README.md).
    for line in [
        "[[-1.2362, -0.4472, -1.3416],",
        " [ 0.1374,  1.3416, -0.4472],",
        " [ 1.5110, -1.3416,  0.4472],",
        " [-0.4121,  0.4472,  1.3416]]",
        "running_mean after one step: [8.9500, 6.5000, 7.7500]",
        "running_var  after one step: [2.6667, 17.5667, 5.0667]",
        "eval on [[87, 65, 78]]:      [[47.7956, 13.9576, 31.2094]]",
        "γ (weight): [1.0000, 1.0000, 1.0000]    β (bias): [0.0000, 0.0000, 0.0000]",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains("why so small?") && out.contains("why so large?"),
        "the explanations are missing:\n{out}"
    );
}

#[test]
fn mnist_minimal_fits_on_a_screen_and_reaches_98_percent() {
    let source = include_str!("../examples/mnist_minimal.rs");
    assert!(
        source.lines().count() <= 100,
        "mnist_minimal grew past 100 lines"
    );
    // One full epoch (937 steps): about a minute of CPU in the test profile.
    let out = run_ok(&mut example("mnist_minimal"));
    let accuracy: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy: "))
        .and_then(|v| v.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in:\n{out}"));
    assert!(accuracy >= 98.0, "mnist_minimal reached only {accuracy}%");
}

#[test]
fn mnist_bn_smoke_run_writes_every_output_and_resumes() {
    let dir = std::env::temp_dir().join(format!("kindling-mnist-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_ok(
        example("mnist_bn")
            .args(["--limit", "20", "--epochs", "1", "--out"])
            .arg(&dir),
    );
    assert!(
        out.contains("| epoch | train loss (BN)"),
        "no table:\n{out}"
    );
    assert!(
        out.contains("What this run shows:"),
        "no conclusion:\n{out}"
    );
    for file in [
        "metrics.csv",
        "curves.svg",
        "summary.json",
        "bn.ckpt",
        "no_bn.ckpt",
    ] {
        assert!(dir.join(file).exists(), "{file} was not written");
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("variant,step,mean_loss_last_10_steps,running_accuracy")
    );
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("bn,")).count(),
        2,
        "20 steps logged every 10"
    );
    let svg = std::fs::read_to_string(dir.join("curves.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("training loss"),
        "not the expected plot"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for variant in ["bn", "no_bn"] {
        let acc = summary[variant]["test_accuracy"][0].as_f64().unwrap();
        assert!(
            (0.3..=1.0).contains(&acc),
            "{variant} accuracy {acc} after 20 steps is implausible"
        );
        assert!(summary[variant]["ms_per_step"].as_f64().unwrap() > 0.0);
        assert_eq!(summary[variant]["train_loss"].as_array().unwrap().len(), 1);
    }

    // A second epoch resumed from the checkpoints continues the history.
    let out = run_ok(
        example("mnist_bn")
            .args(["--limit", "20", "--epochs", "2", "--resume"])
            .arg(dir.join("bn.ckpt"))
            .arg("--out")
            .arg(&dir),
    );
    assert!(out.contains("resumed from"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["bn"]["train_loss"].as_array().unwrap().len(),
        2,
        "epoch 1 from the checkpoint, epoch 2 run now"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mnist_bn_reports_bad_flags_and_missing_data_without_panicking() {
    let out = example("mnist_bn")
        .args(["--optimizer", "rmsprop"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'rmsprop' for '--optimizer <NAME>'")
            && err.contains("[possible values: sgd, adam]"),
        "{err}"
    );
    let out = example("mnist_bn")
        .args(["--data", "/nonexistent/mnist", "--limit", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/mnist") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn mnist_bn_help_names_every_flag_with_its_default() {
    let out = run_ok(example("mnist_bn").arg("--help"));
    for (flag, text) in [
        ("--epochs <N>", "epochs per model (default 2)"),
        ("--lr <F>", "learning rate (default 0.01)"),
        ("--batch-size <N>", "batch size (default 64)"),
        (
            "--optimizer <NAME>",
            "sgd (momentum 0.9) or adam (default sgd)",
        ),
        ("--seed <N>", "seed for weights and shuffling (default 0)"),
        ("--threads <N>", "worker threads (default: all cores)"),
        (
            "--limit <N>",
            "at most N batches per epoch, for a quick look",
        ),
        (
            "--data <DIR>",
            "MNIST directory (default datasets/mnist, or $KINDLING_MNIST_DIR)",
        ),
        ("--out <DIR>", "output directory (default runs/mnist_bn)"),
        (
            "--lr-sweep",
            "train both variants for 300 steps (or --limit) at each rate of --lr-grid, once per \
             seed, and compare the median and range of test accuracy",
        ),
        (
            "--seeds <N>",
            "with --lr-sweep, runs per rate and variant, from seeds --seed, --seed + 1, ... \
             (default 3)",
        ),
        (
            "--lr-grid <F,...>",
            "with --lr-sweep, the learning rates, comma-separated (default 0.01,0.1,0.3,0.5,1.0)",
        ),
        (
            "--resume <PATH>",
            "continue from PATH/bn.ckpt and PATH/no_bn.ckpt",
        ),
        ("--diagnostics", "record what happens inside both networks"),
        (
            "--diagnostics-every <N>",
            "with --diagnostics, record every N steps (default 25)",
        ),
        ("--help", "this text"),
    ] {
        let line = out.lines().find(|l| l.contains(flag));
        assert!(
            line.is_some_and(|l| l.contains(text)),
            "{flag} should read {text:?}:\n{out}"
        );
    }
    // The defaults are in the wording already; clap's own notes would say them twice.
    assert!(!out.contains("[default:"), "{out}");
}

#[test]
fn mnist_bn_lr_sweep_writes_every_run_and_the_summary() {
    let out = scratch("lr-sweep");
    // Two steps per run and one seed: this checks the plumbing, not what BN does.
    let stdout = run_ok(
        example("mnist_bn")
            .args(["--lr-sweep", "--limit", "2", "--seeds", "1"])
            .args(["--lr-grid", "1.0,0.01", "--out"])
            .arg(&out),
    );
    for text in [
        "2 rate(s) x 2 variants x 1 seed(s) (seed 0) = 4 runs of 2 steps",
        "| lr | BN median | BN range | no BN median | no BN range | NaN (BN / no BN) |",
        "What this sweep shows (medians over 1 seed;",
        "With one seed per setting there is no range to read",
        "The sweep took ",
    ] {
        assert!(stdout.contains(text), "missing {text:?} in:\n{stdout}");
    }
    // The grid is swept from the smallest rate up, whatever order it was given in.
    let (small, large) = (stdout.find("| 0.01 |"), stdout.find("| 1 |"));
    assert!(small.is_some() && small < large, "{stdout}");

    let runs = std::fs::read_to_string(out.join("lr_sweep.csv")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(
        lines[0],
        "lr,variant,seed,train_loss,test_accuracy,diverged"
    );
    assert_eq!(lines.len(), 5, "a row per run:\n{runs}");
    assert!(lines[1].starts_with("0.01,bn,0,") && lines[4].starts_with("1,no_bn,0,"));
    for row in &lines[1..] {
        let acc: f32 = row.split(',').nth(4).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{row}");
    }
    let summary = std::fs::read_to_string(out.join("lr_sweep_summary.csv")).unwrap();
    assert!(summary.starts_with(
        "lr,variant,runs,median_test_accuracy,min_test_accuracy,max_test_accuracy,\
         median_train_loss,diverged_runs\n"
    ));
    assert_eq!(
        summary.lines().count(),
        5,
        "a row per rate and variant:\n{summary}"
    );
    assert!(summary.contains("\n1,no_bn,1,"), "{summary}");
    let svg = std::fs::read_to_string(out.join("lr_sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("learning rate (log scale)"));
}

#[test]
fn mnist_bn_lr_sweep_refuses_bad_grids_and_seed_counts_as_usage_errors() {
    let out = scratch("lr-sweep-bad");
    for (args, says) in [
        (
            &["--lr-sweep", "--lr-grid", "0.1,0"][..],
            "invalid value '0' for '--lr-grid <F,...>': must be a finite number above 0",
        ),
        (
            &["--lr-sweep", "--lr-grid", "0.1,inf"],
            "invalid value 'inf' for '--lr-grid <F,...>'",
        ),
        (
            &["--lr-sweep", "--lr-grid", "0.1,"],
            "invalid value '' for '--lr-grid <F,...>'",
        ),
        (
            &["--lr-sweep", "--seeds", "0"],
            "invalid value '0' for '--seeds <N>': must be at least 1",
        ),
        // Without the sweep these flags would do nothing; a user should hear so.
        (&["--seeds", "3"], "--lr-sweep"),
        (&["--lr-grid", "0.1"], "--lr-sweep"),
    ] {
        let (code, stdout, stderr) = outcome(example("mnist_bn").args(args).arg("--out").arg(&out));
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} got as far as:\n{stdout}");
    }
}

#[test]
fn mnist_bn_diagnostics_writes_both_files_for_both_variants() {
    let out = scratch("diagnostics");
    let stdout = run_ok(
        example("mnist_bn")
            .args(["--limit", "6", "--epochs", "1", "--diagnostics"])
            .args(["--diagnostics-every", "2", "--out"])
            .arg(&out),
    );
    assert!(
        stdout.contains("diagnostics.csv, diagnostics.svg"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("diagnostics.csv")).unwrap();
    assert!(csv.starts_with("variant,step,layer,kind,metric,value\n"));
    // Steps 0, 2 and 4 of 6, both variants; BN's layers only in the BN network.
    for needle in [
        "bn,0,1,BatchNorm2d,std,",
        "bn,4,2,ReLU,dead,",
        "no_bn,2,0,Conv2d,grad_std,",
        "no_bn,4,0.weight,weight,log10_update_ratio,",
    ] {
        assert!(
            csv.contains(needle),
            "{needle} missing from diagnostics.csv"
        );
    }
    assert!(!csv.contains("no_bn,0,1,BatchNorm2d"));
    let steps: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(steps.into_iter().collect::<Vec<_>>(), ["0", "2", "4"]);
    // BatchNorm's output has a standard deviation of 1 (up to eps) on every recorded step.
    for line in csv.lines().filter(|l| l.contains(",BatchNorm2d,std,")) {
        let std: f32 = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!((std - 1.0).abs() < 0.01, "{line}");
    }
    let svg = std::fs::read_to_string(out.join("diagnostics.svg")).unwrap();
    assert!(svg.contains("with BatchNorm: inputs to ReLU, step 0"));
    assert!(svg.contains("without BatchNorm: log10 update / data"));
}

/// A fresh, empty directory for one test, under the target directory's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mnist_bn-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The checkpoints of a one-step run, made once per test process, for the tests that
/// resume from them or from altered copies of them.
fn checkpoints() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("checkpoints");
        run_ok(
            example("mnist_bn")
                .args(["--limit", "1", "--epochs", "1", "--out"])
                .arg(&dir),
        );
        dir
    })
}

/// Runs `cmd`, which may fail, and returns (exit code, stdout, stderr).
fn outcome(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("the example runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// mnist_bn continuing from the checkpoints in `dir` for a second epoch of one step.
fn resume_from(dir: &Path) -> Command {
    let mut cmd = example("mnist_bn");
    cmd.args(["--limit", "1", "--epochs", "2", "--resume"]);
    cmd.arg(dir).arg("--out").arg(dir);
    cmd
}

/// Whether a line of a finished epoch, or a resumed variant, was printed.
fn trained(stdout: &str) -> bool {
    stdout.contains(" epoch ") || stdout.contains("resumed from")
}

#[test]
fn mnist_bn_refuses_a_bad_learning_rate_as_a_usage_error() {
    let out = scratch("bad-lr");
    for args in [
        &["--lr", "-0.1"][..],
        &["--lr", "NaN"],
        &["--optimizer", "adam", "--lr", "-1"],
        &["--lr", "inf"],
        &["--lr", "1e40"],
    ] {
        let value = args[args.len() - 1];
        let (code, stdout, stderr) = outcome(
            example("mnist_bn")
                .args(args)
                .args(["--limit", "1", "--out"])
                .arg(&out),
        );
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '--lr <F>'")),
            "{args:?} should name the flag and the value: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?} got as far as:\n{stdout}");
    }
    // Zero is a valid rate, as in PyTorch. clap checks each value as it reaches it, so the
    // help is printed only if `--lr 0` before it passed (`--lr -1 --help` exits with 2).
    let (code, _, stderr) = outcome(example("mnist_bn").args(["--lr", "0", "--help"]));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn mnist_bn_refuses_counts_that_would_train_nothing() {
    let out = scratch("bad-counts");
    for (flag, value, says) in [
        ("--epochs", "0", "must be at least 1"),
        ("--limit", "0", "must be at least 1"),
        ("--batch-size", "0", "must be at least 2"),
        ("--batch-size", "1", "must be at least 2"),
        ("--epochs", "-1", "invalid digit"),
        ("--optimizer", "rmsprop", "[possible values: sgd, adam]"),
    ] {
        let (code, stdout, stderr) =
            outcome(example("mnist_bn").args([flag, value, "--out"]).arg(&out));
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        let value_name = if flag == "--optimizer" { "NAME" } else { "N" };
        assert!(
            stderr.contains(&format!(
                "invalid value '{value}' for '{flag} <{value_name}>'"
            )) && stderr.contains(says),
            "{flag} {value}: {stderr}"
        );
        assert!(stdout.is_empty(), "{flag} {value} got as far as:\n{stdout}");
    }
    // A batch larger than the training set leaves no full batch to train on.
    let (code, stdout, stderr) = outcome(
        example("mnist_bn")
            .args(["--batch-size", "60001", "--out"])
            .arg(&out),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--batch-size 60001") && stderr.contains("60000 training images"),
        "{stderr}"
    );
    assert!(!trained(&stdout), "{stdout}");
}

#[test]
fn mnist_bn_checks_the_output_directory_before_training() {
    // As root every directory is writable, so an unwritable one is borrowed from the
    // kernel: /proc/self exists, but no file can be made in it.
    let mut cases = vec![PathBuf::from("/proc/self")];
    cases.retain(|p| p.is_dir());
    // A path under a regular file cannot become a directory.
    let file = scratch("out-under-file").join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    cases.push(file.join("out"));
    for out in &cases {
        let (code, stdout, stderr) =
            outcome(example("mnist_bn").args(["--limit", "1", "--out"]).arg(out));
        assert_eq!(code, Some(1), "{}: {stderr}", out.display());
        assert!(
            stderr.contains(&out.display().to_string()) && stderr.contains("os error"),
            "the error should name the path and the OS error: {stderr}"
        );
        assert!(!trained(&stdout), "trained before finding out:\n{stdout}");
    }
}

#[test]
fn mnist_bn_resume_checks_both_checkpoints_before_training() {
    let from = checkpoints();
    let dir = scratch("resume-half");
    std::fs::copy(from.join("bn.ckpt"), dir.join("bn.ckpt")).unwrap();
    let resume = |what: &str| {
        let (code, stdout, stderr) = outcome(&mut resume_from(&dir));
        assert_eq!(code, Some(1), "{what}: {stderr}");
        assert!(
            !trained(&stdout),
            "{what}: trained before finding out:\n{stdout}"
        );
        stderr
    };
    let err = resume("no no_bn.ckpt");
    assert!(
        err.contains(&dir.join("no_bn.ckpt").display().to_string()) && err.contains("os error 2"),
        "{err}"
    );
    // A checkpoint that loads but belongs to the other variant fails as early.
    std::fs::copy(from.join("bn.ckpt"), dir.join("no_bn.ckpt")).unwrap();
    let err = resume("bn's checkpoint as no_bn.ckpt");
    assert!(
        err.contains("no_bn.ckpt") && err.contains("does not fit this model"),
        "{err}"
    );
}

#[test]
fn mnist_bn_resume_refuses_counters_it_cannot_continue() {
    let from = checkpoints();
    let dir = scratch("resume-counters");
    std::fs::copy(from.join("no_bn.ckpt"), dir.join("no_bn.ckpt")).unwrap();
    let resume_with = |edit: &dyn Fn(&mut TrainingCheckpoint)| {
        let mut ckpt = checkpoint::load_training(from.join("bn.ckpt")).unwrap();
        edit(&mut ckpt);
        checkpoint::save_training(&ckpt, dir.join("bn.ckpt")).unwrap();
        outcome(&mut resume_from(&dir))
    };
    // One step per epoch is left to run, and a counter at the largest count a checkpoint
    // holds (2^53) cannot count it. (Larger ones are refused by the checkpoint itself.)
    let max = kindling::optim::MAX_COUNTER;
    let (code, stdout, stderr) = resume_with(&|c| c.step = max);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("bn.ckpt") && stderr.contains(&format!("step {max}")),
        "{stderr}"
    );
    assert!(!trained(&stdout), "{stdout}");
    // The epoch counter must agree with the history of epochs the checkpoint carries.
    let (code, stdout, stderr) = resume_with(&|c| c.epoch = max);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("bn.ckpt") && stderr.contains(&format!("epoch {max}")),
        "{stderr}"
    );
    assert!(!trained(&stdout), "{stdout}");
    // One below the maximum leaves room for exactly the one step still to run. The history
    // here also holds a diverged epoch, whose NaN loss JSON stores as null: it reads back.
    let (code, stdout, stderr) = resume_with(&|c| {
        c.step = max - 1;
        let mut history: serde_json::Value = serde_json::from_str(&c.extra["history"]).unwrap();
        history[0]["train_loss"] = serde_json::Value::Null;
        c.extra.insert("history".into(), history.to_string());
    });
    assert_eq!(code, Some(0), "{stderr}");
    let first_row = stdout.lines().find(|l| l.starts_with("|     1 |"));
    assert!(
        first_row.is_some_and(|row| row.split('|').nth(2).unwrap().trim() == "NaN"),
        "the first epoch's row should show the NaN loss:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "resumed from {} at epoch 1, step {}",
            dir.join("bn.ckpt").display(),
            max - 1
        )),
        "{stdout}"
    );
    let resumed = checkpoint::load_training(dir.join("bn.ckpt")).unwrap();
    assert_eq!((resumed.epoch, resumed.step), (2, max));
}

#[test]
fn bn_paper_smoke_run_writes_the_figure_and_redraws_it() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bn_paper-smoke");
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_ok(
        example("bn_paper")
            .args([
                "--steps",
                "300",
                "--eval-every",
                "100",
                "--test-images",
                "500",
            ])
            .arg("--out")
            .arg(&dir),
    );
    assert!(out.contains("|  step | acc bn"), "no table:\n{out}");
    for file in ["bn_paper.csv", "summary.json", "bn_paper.svg"] {
        assert!(dir.join(file).exists(), "{file} was not written");
    }
    let csv = std::fs::read_to_string(dir.join("bn_paper.csv")).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("variant,step,test_accuracy,p15,p50,p85")
    );
    assert_eq!(
        csv.lines().count(),
        1 + 2 * 4,
        "steps 0, 100, 200, 300 per variant"
    );

    // The shape the PyTorch twin writes too: two variants, five lists each, nothing else.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let variants: Vec<&String> = summary.as_object().unwrap().keys().collect();
    assert_eq!(variants, ["bn", "plain"]);
    for variant in ["bn", "plain"] {
        let v = summary[variant].as_object().unwrap();
        let mut keys: Vec<&String> = v.keys().collect();
        keys.sort();
        assert_eq!(keys, ["p15", "p50", "p85", "step", "test_accuracy"]);
        let list = |k: &str| -> Vec<f64> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        assert_eq!(list("step"), [0.0, 100.0, 200.0, 300.0]);
        assert!(list("test_accuracy")
            .iter()
            .all(|a| (0.0..=1.0).contains(a)));
        for i in 0..4 {
            assert!(list("p15")[i] <= list("p50")[i] && list("p50")[i] <= list("p85")[i]);
        }
    }
    // BatchNorm learns within a few hundred steps; the plain network, starting from weights
    // of 0.01 under sigmoids, is still near chance there.
    let bn_acc = summary["bn"]["test_accuracy"][3].as_f64().unwrap();
    assert!(bn_acc > 0.5, "bn accuracy {bn_acc} after 300 steps");

    // --plot-from redraws any summary.json (PyTorch's too) with the same code.
    let redrawn = dir.join("redrawn");
    let out = run_ok(
        example("bn_paper")
            .arg("--plot-from")
            .arg(dir.join("summary.json"))
            .args(["--label", "PyTorch", "--out"])
            .arg(&redrawn),
    );
    assert!(out.contains("Drew"), "{out}");
    let svg = std::fs::read_to_string(redrawn.join("bn_paper.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("PyTorch") && svg.contains("(c) with BatchNorm")
    );
    // A file that is not a summary is refused, by name, before anything is drawn.
    std::fs::write(redrawn.join("bad.json"), r#"{"bn": {"step": [0]}}"#).unwrap();
    let out = example("bn_paper")
        .arg("--plot-from")
        .arg(redrawn.join("bad.json"))
        .arg("--out")
        .arg(&redrawn)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.json") && !err.contains("panicked"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// norm_batch_size with the smallest budget: one batch of 64 images per run and 64 test
/// images, so that all 24 runs and their scoring take seconds. Checks every output's shape,
/// not the accuracies, which 64 images cannot make meaningful.
#[test]
fn norm_batch_size_smoke_run_writes_every_output() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("norm_batch_size-smoke");
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_ok(
        example("norm_batch_size")
            .args(["--images", "64", "--test-images", "64", "--out"])
            .arg(&dir),
    );
    for needle in [
        "| batch | lr | BN | BN, train mode | GN | LN | none |",
        "| 2 | 0.0015625 |",
        "What this run shows:",
        "Whole study:",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }

    let csv = std::fs::read_to_string(dir.join("norm_batch_size.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("norm,batch_size,test_accuracy_eval,test_accuracy_train_mode,final_train_loss,steps,seconds")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 24, "4 normalisations x 6 batch sizes:\n{csv}");
    for row in &rows {
        let (norm, batch) = (row[0], row[1].parse::<usize>().unwrap());
        assert_eq!(row[5].parse::<usize>().unwrap(), 64 / batch, "{row:?}");
        let acc: f32 = row[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{row:?}");
        // Only BatchNorm computes differently in training mode, so only it has that score.
        assert_eq!(row[3].is_empty(), norm != "bn", "{row:?}");
    }
    let norms: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        norms.into_iter().collect::<Vec<_>>(),
        ["bn", "gn", "ln", "none"]
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["settings"]["images_per_run"], 64);
    assert_eq!(summary["settings"]["test_images"], 64);
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 24);
    // The linear scaling rule: lr 0.05 at batch 64, a 32nd of it at batch 2.
    let lr_at = |b: u64| {
        runs.iter()
            .find(|r| r["norm"] == "gn" && r["batch_size"] == b)
            .unwrap()["lr"]
            .as_f64()
            .unwrap()
    };
    assert!((lr_at(64) - 0.05).abs() < 1e-7 && (lr_at(2) - 0.05 / 32.0).abs() < 1e-7);

    let svg = std::fs::read_to_string(dir.join("norm_batch_size.svg")).unwrap();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("MNIST test accuracy against batch size")
            && svg.contains("BatchNorm (train mode"),
        "not the expected plot"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn norm_batch_size_refuses_bad_flags_and_missing_data_without_panicking() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("norm_batch_size-bad-flags");
    for (flag, value, says) in [
        ("--images", "100", "must be a positive multiple of 64"),
        ("--images", "0", "must be a positive multiple of 64"),
        ("--images", "60032", "must be at most 59968"),
        ("--test-images", "10", "must be at least 64"),
        ("--lr", "-1", "must be a finite number, 0 or more"),
    ] {
        let (code, stdout, stderr) = outcome(
            example("norm_batch_size")
                .args([flag, value, "--out"])
                .arg(&out),
        );
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag} <"))
                && stderr.contains(says),
            "{flag} {value}: {stderr}"
        );
        assert!(stdout.is_empty(), "{flag} {value} got as far as:\n{stdout}");
    }
    let (code, stdout, stderr) = outcome(
        example("norm_batch_size")
            .args(["--data", "/nonexistent/mnist", "--images", "64", "--out"])
            .arg(&out),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/mnist") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("steps in"),
        "trained without data:\n{stdout}"
    );
}
