//! What every grader shares: catching a `todo!()` or a panic, comparing tensors element by
//! element, and turning a gradcheck report into a [`Failure`] a learner can act on.

use kindling::autograd::{gradcheck, GradcheckOptions};
use kindling::Tensor;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Why a task did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The function still holds its `todo!()`.
    NotStarted,
    /// It ran and panicked (a shape error, an index out of range...).
    Panicked,
    /// It ran and gave a wrong answer.
    Wrong,
}

/// A task's failure: which check failed, what was expected against what came out, and
/// the book section that explains the idea.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Not started, panicked or wrong.
    pub kind: FailureKind,
    /// The check that failed, e.g. "gradient of b, shapes [3, 4]".
    pub check: String,
    /// The difference, in words and numbers.
    pub detail: String,
    /// Where to read: a section of the book.
    pub hint: &'static str,
}

impl Failure {
    pub(crate) fn wrong(check: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Wrong,
            check: check.into(),
            detail: detail.into(),
            hint: "",
        }
    }

    /// Adds the hint, keeping the first one set (the innermost grader knows best).
    pub(crate) fn hint(mut self, hint: &'static str) -> Failure {
        if self.hint.is_empty() {
            self.hint = hint;
        }
        self
    }

    /// Whether this failure is the untouched stub's.
    pub fn is_not_started(&self) -> bool {
        self.kind == FailureKind::NotStarted
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::NotStarted => write!(f, "not started ({})", self.detail)?,
            FailureKind::Panicked => write!(f, "{}: panicked: {}", self.check, self.detail)?,
            FailureKind::Wrong => write!(f, "{}: {}", self.check, self.detail)?,
        }
        if !self.hint.is_empty() {
            write!(f, "\n  hint: read {}", self.hint)?;
        }
        Ok(())
    }
}

/// Runs `f`, turning a panic into a [`Failure`]: `todo!()`'s own message means the task is
/// not started; any other panic is the learner's code failing.
pub(crate) fn run<T>(check: &str, f: impl FnOnce() -> T) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_string());
        // `todo!()` panics with "not yet implemented" (and `todo!("...")` adds to it).
        let kind = if msg.starts_with("not yet implemented") {
            FailureKind::NotStarted
        } else {
            FailureKind::Panicked
        };
        Failure {
            kind,
            check: check.to_string(),
            detail: msg,
            hint: "",
        }
    })
}

/// Silences the default panic message while grading (the scoreboard reports each panic
/// itself; the `todo!()` of every untouched stub would otherwise fill the screen).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// `[0, 2, 1]` for flat index 7 of shape `[2, 3, 2]`: a learner thinks in positions.
fn position(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut pos = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        pos[d] = flat % shape[d];
        flat /= shape[d];
    }
    pos
}

/// Tolerances of a comparison: `|got − expected| ≤ atol + rtol·|expected|`.
#[derive(Clone, Copy)]
pub(crate) struct Tol {
    pub atol: f32,
    pub rtol: f32,
}

/// For results computed the same way in a different order: a few `f32` roundings apart.
pub(crate) const CLOSE: Tol = Tol {
    atol: 1e-5,
    rtol: 1e-4,
};

/// Compares `got` with `expected`: shapes first, then the first element out of tolerance.
pub(crate) fn compare(
    check: &str,
    expected: &Tensor,
    got: &Tensor,
    tol: Tol,
) -> Result<(), Failure> {
    if expected.shape() != got.shape() {
        return Err(Failure::wrong(
            check,
            format!(
                "expected shape {:?}, got shape {:?}",
                expected.shape(),
                got.shape()
            ),
        ));
    }
    compare_values(
        check,
        &expected.to_vec(),
        &got.to_vec(),
        expected.shape(),
        tol,
    )
}

/// [`compare`] on flat values of a known shape.
pub(crate) fn compare_values(
    check: &str,
    expected: &[f32],
    got: &[f32],
    shape: &[usize],
    tol: Tol,
) -> Result<(), Failure> {
    if expected.len() != got.len() {
        return Err(Failure::wrong(
            check,
            format!("expected {} values, got {}", expected.len(), got.len()),
        ));
    }
    for (i, (&e, &g)) in expected.iter().zip(got).enumerate() {
        // Written so that a NaN in `got` fails: every comparison with NaN is false.
        let ok = (g - e).abs() <= tol.atol + tol.rtol * e.abs();
        if !ok {
            return Err(Failure::wrong(
                check,
                format!(
                    "first mismatch at index {:?} of shape {shape:?}: expected {e}, got {g}",
                    position(i, shape)
                ),
            ));
        }
    }
    Ok(())
}

/// The sharpened gradcheck on `f`, reported as a [`Failure`] naming the input and element.
pub(crate) fn gradcheck_ok(
    check: &str,
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    names: &[&str],
) -> Result<(), Failure> {
    let report = run(check, || gradcheck(f, inputs, GradcheckOptions::default()))?;
    report.map(|_| ()).map_err(|r| {
        let shape = inputs[r.input].shape();
        Failure::wrong(
            check,
            format!(
                "gradcheck: d/d{} at index {:?} of shape {shape:?}: finite differences give {}, your backward gives {}",
                names.get(r.input).unwrap_or(&"input"),
                position(r.index, shape),
                r.numeric,
                r.analytic
            ),
        )
    })
}

/// The gradients `backward` leaves in fresh leaf copies of `inputs`, after `f(leaves)` is
/// seeded with `upstream`.
pub(crate) fn grads_of(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    upstream: &Tensor,
) -> Vec<Option<Tensor>> {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| Tensor::from_vec(t.to_vec(), t.shape()).requires_grad(true))
        .collect();
    f(&leaves).backward_with(upstream);
    leaves.iter().map(|l| l.grad()).collect()
}

/// Checks a backward rule both ways: gradients equal to those of kindling's own op for one
/// random upstream, then the gradcheck (which needs no reference at all).
pub(crate) fn check_backward(
    what: &str,
    yours: impl Fn(&[Tensor]) -> Tensor,
    builtin: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    names: &[&str],
) -> Result<(), Failure> {
    let out_shape = kindling::no_grad(|| builtin(inputs)).shape().to_vec();
    let upstream = Tensor::randn(&out_shape);
    let expected = grads_of(&builtin, inputs, &upstream);
    let got = run(what, || grads_of(&yours, inputs, &upstream))?;
    for (k, (e, g)) in expected.iter().zip(&got).enumerate() {
        let check = format!("{what}: gradient of {}", names[k]);
        match (e, g) {
            (Some(e), Some(g)) => compare(&check, e, g, CLOSE)?,
            (Some(_), None) => return Err(Failure::wrong(check, "expected a gradient, got None")),
            _ => {}
        }
    }
    gradcheck_ok(what, yours, inputs, names)
}

/// The fixtures PyTorch wrote (tools/golden/gen_exercises.py), built into the crate so
/// that grading works from any directory.
const FIXTURES: &str = include_str!("../../fixtures/exercises.json");

/// One tensor of one fixture case.
pub(crate) fn fixture(case: &str, key: &str) -> Tensor {
    let doc: serde_json::Value = serde_json::from_str(FIXTURES).expect("fixture file is JSON");
    let c = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == case)
        .unwrap_or_else(|| panic!("no fixture case {case}"));
    let t = &c[key];
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|v| v.as_u64().expect("dim") as usize)
        .collect();
    let data: Vec<f32> = t["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect();
    Tensor::from_vec(data, &shape)
}

/// `n` values in `[lo, hi)` with random signs: inputs kept away from 0 (a division, a kink).
pub(crate) fn away_from_zero(shape: &[usize], lo: f32, hi: f32) -> Tensor {
    let sign = Tensor::randn(shape).to_vec();
    let mag = Tensor::rand(shape).to_vec();
    let v = sign
        .iter()
        .zip(&mag)
        .map(|(s, m)| (lo + (hi - lo) * m) * s.signum())
        .collect();
    Tensor::from_vec(v, shape)
}
