//! `gradcheck`: checks a backward rule against a numerical derivative, sharply enough to
//! catch a gradient that is 1% wrong, although every forward pass runs in `f32`.
//!
//! It lives in a file of its own so that a learner finds it by name; `autograd` re-exports
//! it, so `kindling::autograd::gradcheck` is where code reaches it. The tests that prove it
//! both strict (wrong rules fail) and right (correct rules pass) are in
//! `crates/core/tests/gradcheck.rs`.
//!
//! Three things make an `f32` finite difference accurate enough:
//! - Richardson extrapolation: two central differences, with steps `h` and `h/2`, are
//!   combined so that their leading `h²` error cancels; the step can then be large, and a
//!   large step drowns less in rounding noise.
//! - Only the outputs that moved enter the difference, in `f64`, so the outputs an element
//!   does not touch add nothing, not even rounding.
//! - The tolerance has, besides `atol` and `rtol`, an allowance for the rounding noise that
//!   is left, estimated for each element: small where `f32` resolves the derivative well,
//!   larger where it cannot.

use crate::Tensor;

/// The `f32` unit roundoff: a computed `f32` value is only known to about this fraction of
/// itself.
const F32_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;

/// How much smaller than the main step the noise probe's step is: small enough that the
/// function is a straight line over it (curvature shrinks with the step squared), large
/// enough to move intermediate values by many units in the last place.
const PROBE_DIVISOR: f64 = 64.0;

/// The outcome of a [`gradcheck`]: the worst disagreement found between the analytic
/// gradient (from `backward`) and the numerical one (finite differences).
///
/// ```
/// use kindling::autograd::gradcheck;
/// use kindling::Tensor;
/// // d(x³)/dx = 3x²; backward gets it right, so the report is Ok.
/// let x = Tensor::from_vec(vec![0.5, -2.0], &[2]);
/// let report = gradcheck(|t| t[0].powf(3.0), &[x], Default::default()).unwrap();
/// assert_eq!(report.checked, 2);
/// assert!(report.error_ratio <= 1.0);
/// assert!((report.analytic - report.numeric).abs() <= report.tolerance);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Which input (index into the `inputs` slice) holds the worst element.
    pub input: usize,
    /// The flat index of the worst element in that input.
    pub index: usize,
    /// The gradient `backward` computed there.
    pub analytic: f32,
    /// The finite-difference estimate there.
    pub numeric: f32,
    /// `|analytic - numeric| / tolerance`: at most 1 passes. Infinite if either gradient is
    /// not finite (NaN or ±∞), as when a step takes `f` outside its domain.
    pub error_ratio: f32,
    /// How many elements were checked in all.
    pub checked: usize,
    /// The error allowed at that element: `atol + rtol·|numeric| + noise_factor·noise`.
    pub tolerance: f32,
    /// The estimated `f32` rounding noise in `numeric` at that element (before
    /// `noise_factor` scales it).
    pub noise: f32,
}

impl std::fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst of {} elements: input {} element {}: analytic {:.6}, numeric {:.6} \
             (error {:.2}x the tolerance {:.1e}; f32 noise there {:.1e})",
            self.checked,
            self.input,
            self.index,
            self.analytic,
            self.numeric,
            self.error_ratio,
            self.tolerance,
            self.noise
        )
    }
}

/// Options for [`gradcheck`].
///
/// The defaults are PyTorch's tolerances (`atol` 1e-5, `rtol` 1e-3), which an `f32` check
/// can afford because the step is large and extrapolated, and because rounding noise gets
/// an allowance of its own; at these settings a gradient 1% wrong fails.
///
/// ```
/// use kindling::autograd::{gradcheck, GradcheckOptions};
/// use kindling::Tensor;
/// let x = Tensor::from_vec(vec![0.3, 1.2], &[2]);
/// // A looser check: allow 5% relative error, and draw another random upstream.
/// let loose = GradcheckOptions { rtol: 5e-2, seed: 1, ..Default::default() };
/// assert!(gradcheck(|t| t[0].exp(), &[x], loose).is_ok());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    /// The relative step: an element `x` is moved by `eps·max(1, |x|)` and by half that,
    /// up and down. Keep every checked element at least this far from a kink (the 0 of
    /// `relu`, a tie in a max).
    pub eps: f32,
    /// Absolute tolerance.
    pub atol: f32,
    /// Relative tolerance, as a fraction of `|numeric|`.
    pub rtol: f32,
    /// How many times its estimated rounding noise the numerical derivative may be off.
    pub noise_factor: f32,
    /// Seed for the random upstream gradient.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-2,
            atol: 1e-5,
            rtol: 1e-3,
            noise_factor: 10.0,
            seed: 7,
        }
    }
}

/// Checks `f`'s backward pass against finite differences, like `torch.autograd.gradcheck`.
///
/// The checked scalar is `L = Σ f(x) ⊙ u` for a fixed random `u` with mixed signs and
/// magnitudes in [0.5, 1.5), so that every path of the chain rule counts and no part of a
/// wrong gradient hides behind a uniform upstream gradient. The analytic gradient of `L`
/// comes from `backward`. For the numerical one, each input element `x` is moved up and
/// down by `h = eps·max(1, |x|)`, and again by `h/2`, giving two slopes `D(h)` and
/// `D(h/2)`. Both are off by a term proportional to the step squared, so
/// `(4·D(h/2) − D(h)) / 3` cancels it (Richardson extrapolation): the step can be large,
/// which matters in `f32`, where a small step is lost in rounding noise. Only the outputs
/// that moved are summed, in `f64`. Keep every element at least `h` from a kink (the 0 of
/// `relu`, a tie in a max): a step across one measures neither side's slope.
///
/// An element passes when `|analytic − numeric| ≤ atol + rtol·|numeric| + noise_factor·noise`.
/// `noise` is the rounding noise left in `numeric`, estimated two ways and the larger kept:
/// from the size of the outputs that moved (an `f32` value is only known to about one part
/// in 2²⁴), and measured by one more, tiny step over which `f` is a straight line, so that
/// whatever differs from the straight line is rounding. Returns the report of the worst
/// element: `Ok` if it is within tolerance, `Err` (with the same report) if not.
///
/// # Panics
/// If `options.eps` is not a finite number above 0.
///
/// ```
/// use kindling::autograd::{custom_op, gradcheck, CustomOp};
/// use kindling::Tensor;
///
/// let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]);
/// let report = gradcheck(|t| t[0].tanh(), &[x.clone()], Default::default()).unwrap();
/// assert!(report.error_ratio <= 1.0);
///
/// // tanh with a backward rule 1% too large: caught.
/// struct SlightlyOff;
/// impl CustomOp for SlightlyOff {
///     fn name(&self) -> &str { "SlightlyOff" }
///     fn forward(&self, inputs: &[Tensor]) -> Tensor { inputs[0].tanh() }
///     fn backward(&self, _: &[Tensor], y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
///         vec![Some(&(g * &(1.0 - &(y * y))) * 1.01)]
///     }
/// }
/// let report = gradcheck(|t| custom_op(SlightlyOff, &[&t[0]]), &[x], Default::default());
/// assert!(report.unwrap_err().error_ratio > 1.0);
/// ```
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    options: GradcheckOptions,
) -> Result<GradcheckReport, GradcheckReport> {
    assert!(
        options.eps.is_finite() && options.eps > 0.0,
        "gradcheck: eps must be a finite number above 0, got {}",
        options.eps
    );
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| Tensor::from_vec(t.to_vec(), t.shape()).requires_grad(true))
        .collect();
    let out = f(&leaves);
    let upstream = random_signs(out.numel(), options.seed);
    out.backward_with(&Tensor::from_vec(upstream.clone(), out.shape()));

    // The inputs f sees while one element moves; that element is put back after its turn.
    let probe: Vec<Tensor> = leaves
        .iter()
        .map(|t| Tensor::from_vec(t.to_vec(), t.shape()))
        .collect();
    let nudge = |i: usize, j: usize, x: f32, step: f64| -> Nudge {
        let (up, down) = ((x as f64 + step) as f32, (x as f64 - step) as f32);
        let outputs_at = |v: f32| {
            probe[i].data_mut()[j] = v;
            crate::no_grad(|| f(&probe)).to_vec()
        };
        let (y_up, y_down) = (outputs_at(up), outputs_at(down));
        probe[i].data_mut()[j] = x;
        Nudge::new(&y_up, &y_down, &upstream, up as f64 - down as f64)
    };

    let mut worst: Option<GradcheckReport> = None;
    let mut checked = 0;
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = leaf
            .grad()
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; leaf.numel()]);
        for (j, &a) in analytic.iter().enumerate() {
            let x = probe[i].data()[j];
            let h = options.eps as f64 * (x.abs() as f64).max(1.0);
            let (wide, narrow) = (nudge(i, j, x, h), nudge(i, j, x, h / 2.0));
            let numeric = extrapolate(&wide, &narrow);
            // Over the tiny step f is a straight line of slope `numeric`; what the change
            // there misses by is rounding, and the same rounding is in the wider changes.
            let tiny = nudge(i, j, x, h / PROBE_DIVISOR);
            let measured = (tiny.change - numeric * tiny.taken).abs();
            let noise = extrapolated_noise(
                &wide,
                &narrow,
                wide.noise.max(measured),
                narrow.noise.max(measured),
            );
            let tolerance = options.atol as f64
                + options.rtol as f64 * numeric.abs()
                + options.noise_factor as f64 * noise;
            let error = (a as f64 - numeric).abs();
            let ratio = if !error.is_finite() {
                f32::INFINITY
            } else if error == 0.0 {
                0.0
            } else {
                (error / tolerance) as f32
            };
            checked += 1;
            if worst.as_ref().is_none_or(|w| ratio > w.error_ratio) {
                worst = Some(GradcheckReport {
                    input: i,
                    index: j,
                    analytic: a,
                    numeric: numeric as f32,
                    error_ratio: ratio,
                    checked: 0,
                    tolerance: tolerance as f32,
                    noise: noise as f32,
                });
            }
        }
    }
    let mut report = worst.unwrap_or(GradcheckReport {
        input: 0,
        index: 0,
        analytic: 0.0,
        numeric: 0.0,
        error_ratio: 0.0,
        checked: 0,
        tolerance: 0.0,
        noise: 0.0,
    });
    report.checked = checked;
    if report.error_ratio <= 1.0 {
        Ok(report)
    } else {
        Err(report)
    }
}

/// `n` weights with magnitudes in [0.5, 1.5) and random signs: no output's gradient is
/// scaled away, and none is large enough to swamp the others.
fn random_signs(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::rng::Xoshiro256::seed_from(seed);
    (0..n)
        .map(|_| {
            let v = 0.5 + rng.next_f32();
            if rng.next_f32() < 0.5 {
                -v
            } else {
                v
            }
        })
        .collect()
}

/// What one central difference saw: how much `L` changed between the two moved points, how
/// far apart they were, and how much of that change may be rounding.
struct Nudge {
    /// `L(x + step) − L(x − step)`, summed over the outputs that moved.
    change: f64,
    /// The distance actually covered, `(x + step) − (x − step)` as stored in `f32`: a step
    /// is rounded when stored, and dividing by what was taken keeps that out of the slope.
    taken: f64,
    /// The rounding noise expected in `change`: one roundoff of every moved output term,
    /// added as independent errors (the random signs of `u` keep them from lining up).
    noise: f64,
}

impl Nudge {
    fn new(up: &[f32], down: &[f32], u: &[f32], taken: f64) -> Nudge {
        let (mut change, mut noise_sq) = (0.0, 0.0);
        for ((&p, &m), &w) in up.iter().zip(down).zip(u) {
            // Outputs this element does not reach come out bit-identical and are skipped;
            // a NaN is never equal to itself, so it is kept and makes the slope NaN.
            if p != m {
                let (p, m, w) = (p as f64, m as f64, w as f64);
                change += w * (p - m);
                noise_sq += w * w * (p * p + m * m);
            }
        }
        Nudge {
            change,
            taken,
            noise: noise_sq.sqrt() * F32_ROUNDOFF,
        }
    }

    /// The slope this difference measured.
    fn slope(&self) -> f64 {
        self.change / self.taken
    }
}

/// The half-steps' squares `(s₁², s₂²)` of the wide and the narrow difference.
fn half_steps_squared(wide: &Nudge, narrow: &Nudge) -> (f64, f64) {
    ((wide.taken / 2.0).powi(2), (narrow.taken / 2.0).powi(2))
}

/// Richardson extrapolation of the slope: with half-steps `s₁`, `s₂` and an error
/// proportional to `s²`, the slope at step 0 is `(s₁²·D(s₂) − s₂²·D(s₁)) / (s₁² − s₂²)`,
/// which for `s₂ = s₁/2` is `(4·D(s₂) − D(s₁)) / 3`.
fn extrapolate(wide: &Nudge, narrow: &Nudge) -> f64 {
    let (s1, s2) = half_steps_squared(wide, narrow);
    (s1 * narrow.slope() - s2 * wide.slope()) / (s1 - s2)
}

/// The rounding noise of [`extrapolate`]'s result, given the noise in each difference's
/// `change`: the same weights, with the two (independent) errors added in quadrature.
fn extrapolated_noise(wide: &Nudge, narrow: &Nudge, wide_noise: f64, narrow_noise: f64) -> f64 {
    let (s1, s2) = half_steps_squared(wide, narrow);
    (s1 * narrow_noise / narrow.taken).hypot(s2 * wide_noise / wide.taken) / (s1 - s2)
}
