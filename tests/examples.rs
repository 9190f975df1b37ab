//! Runs the examples end to end, as a learner would, and checks what they print and write.
//! `cargo test` builds the examples before running tests, so the binaries are found next to
//! this test's own executable (`target/<profile>/examples/`).

mod common;

use std::process::Command;

use common::example;

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
            "train both variants briefly at lr 0.01, 0.1 and 0.3 and compare",
        ),
        (
            "--resume <PATH>",
            "continue from PATH/bn.ckpt and PATH/no_bn.ckpt",
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
