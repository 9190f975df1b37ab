//! Runs the two teaching examples, `tiny_mlp` and `autograd_tour`, as a learner would, and
//! checks the values they print: the XOR predictions, and the gradients next to the ones
//! derived by hand in docs/autograd.md. The binaries are found next to this test's own
//! executable (`target/<profile>/examples/`), as in `tests/examples.rs`.

mod common;

use common::example;

fn run_ok(name: &str) -> String {
    let out = example(name).output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "example {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The number after `key` on the first line that contains it.
fn number_after(out: &str, key: &str) -> f32 {
    let line = out
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("no line with {key:?} in:\n{out}"));
    let rest = &line[line.find(key).unwrap() + key.len()..];
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    token
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn tiny_mlp_learns_xor() {
    let out = run_ok("tiny_mlp");
    for line in [
        "0 xor 0 -> 0",
        "0 xor 1 -> 1",
        "1 xor 0 -> 1",
        "1 xor 1 -> 0",
        "4/4 correct",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("WRONG"), "{out}");
    // It starts near ln 2 (a 50/50 guess) and ends confident.
    let first = number_after(&out, "step   0  loss");
    assert!((first - std::f32::consts::LN_2).abs() < 0.1, "{out}");
    let last = number_after(&out, "step 200  loss");
    assert!(last < 0.01, "final loss {last} is too high:\n{out}");
    // Each prediction is confident, not just on the right side of 0.5.
    for line in out.lines().filter(|l| l.contains(" xor ")) {
        let p1 = number_after(line, "p(1) =");
        let expected = number_after(line, "expected");
        assert!((p1 - expected).abs() < 0.05, "{line}");
    }
}

#[test]
fn tiny_mlp_is_deterministic() {
    assert_eq!(run_ok("tiny_mlp"), run_ok("tiny_mlp"));
}

#[test]
fn autograd_tour_prints_the_hand_derived_gradients() {
    let out = run_ok("autograd_tour");
    // The forward values traced in docs/autograd.md.
    for line in [
        "h = x * w      = [0.5, -2.0, 1.5, -4.0]",
        "z = h + b      = [3.5, 1.0, 4.5, -1.0]",
        "r = relu(z)    = [3.5, 1.0, 4.5, 0.0]",
        "loss = mean(r) = 2.25",
        "ops recorded: Mean <- Relu <- Add <- Mul",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The DOT picture: every op as a box with its shape, the leaves as ellipses.
    for piece in [
        "digraph kindling {",
        "[label=\"Mul\\n[2, 2]\", shape=box]",
        "[label=\"Add\\n[2, 2]\", shape=box]",
        "[label=\"Relu\\n[2, 2]\", shape=box]",
        "[label=\"Mean\\n[]\", shape=box]",
        "[label=\"leaf (requires grad)\\n[2]\", shape=ellipse]",
        "[label=\"leaf (requires grad)\\n[]\", shape=ellipse]",
    ] {
        assert!(out.contains(piece), "missing {piece:?} in:\n{out}");
    }
    assert_eq!(out.matches(" -> n").count(), 5, "five edges:\n{out}");
    // The gradients, from backward and by hand.
    assert_eq!(number_after(&out, "dloss/dw[0]"), 1.0);
    assert_eq!(number_after(&out, "dloss/dw[1]"), 0.5);
    assert_eq!(number_after(&out, "dloss/db"), 0.75);
    assert!(
        out.contains("backward agrees with the hand derivation"),
        "{out}"
    );
    assert!(
        out.contains("after a second backward: dloss/dw = [2.0, 1.0]"),
        "{out}"
    );
    assert!(
        out.contains("after w.zero_grad():     dloss/dw = [0.0, 0.0]"),
        "{out}"
    );
    // gradcheck's report: all 3 elements (w's two and b's one) checked, and passed.
    assert!(
        out.contains("gradcheck passed: worst of 3 elements:"),
        "{out}"
    );
    let analytic = number_after(&out, "analytic");
    let numeric = number_after(&out, "numeric");
    assert!((analytic - numeric).abs() < 1e-2, "{out}");
}
