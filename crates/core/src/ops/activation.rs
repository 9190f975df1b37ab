//! The round-2 activation functions: leaky ReLU and GELU (the exact erf form and the tanh
//! approximation). ReLU, sigmoid and tanh live with the other unary maths in
//! `elementwise.rs`; these two get a file of their own because GELU needs `erf`, which
//! Rust's standard library does not have, and which is written out here.
//!
//! GELU is evaluated in f64 and rounded to f32 once, so the only error left is that one
//! rounding: PyTorch computes it in f32 throughout, and the two agree to an ulp or two.
//! Their backward rules are in `op.rs`; the derivatives they call are at the bottom.

use crate::op::Op;
use crate::Tensor;

/// 1/√π, the constant in front of erf's series and erfc's continued fraction.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
/// √(2/π), the scale inside GELU's tanh approximation.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation (Hendrycks and Gimpel's fit).
const GELU_TANH_CUBIC: f64 = 0.044_715;

impl Tensor {
    /// Leaky ReLU: `x` where `x > 0`, `negative_slope · x` elsewhere (PyTorch's
    /// `F.leaky_relu`). The slope may be any number, as in PyTorch; a NaN stays NaN.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]);
    /// assert_eq!(x.leaky_relu(0.5).to_vec(), vec![-1.0, 0.0, 3.0]);
    /// ```
    pub fn leaky_relu(&self, negative_slope: f32) -> Tensor {
        let data = self
            .read()
            .iter()
            .map(|&x| if x > 0.0 { x } else { x * negative_slope })
            .collect();
        Tensor::from_op(
            data,
            self.shape().to_vec(),
            Op::LeakyRelu {
                x: self.clone(),
                slope: negative_slope,
            },
        )
    }

    /// GELU, exact form: `x · Φ(x)`, where `Φ(x) = (1 + erf(x/√2)) / 2` is the standard
    /// normal distribution function (PyTorch's `F.gelu`, `approximate='none'`). Each input
    /// is weighted by how likely a standard normal variable is to fall below it.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let y = Tensor::from_vec(vec![-1.0, 0.0, 1.0], &[3]).gelu().to_vec();
    /// // Φ(1) = 0.8413447, and GELU(-x) = GELU(x) - x.
    /// assert!((y[2] - 0.8413447).abs() < 1e-6 && (y[0] - (y[2] - 1.0)).abs() < 1e-6);
    /// assert_eq!(y[1], 0.0);
    /// ```
    pub fn gelu(&self) -> Tensor {
        let data = self.read().iter().map(|&x| gelu_exact(x)).collect();
        Tensor::from_op(data, self.shape().to_vec(), Op::Gelu(self.clone()))
    }

    /// GELU, tanh approximation: `x/2 · (1 + tanh(√(2/π) · (x + 0.044715·x³)))` (PyTorch's
    /// `F.gelu(x, approximate='tanh')`, the form GPT-2 and BERT were trained with). It
    /// differs from [`Tensor::gelu`] by less than 5e-4 everywhere.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![-2.0, -0.5, 0.5, 2.0], &[4]);
    /// let (exact, approx) = (x.gelu().to_vec(), x.gelu_tanh().to_vec());
    /// assert!(exact.iter().zip(&approx).all(|(e, a)| (e - a).abs() < 5e-4));
    /// ```
    pub fn gelu_tanh(&self) -> Tensor {
        let data = self.read().iter().map(|&x| gelu_tanh(x)).collect();
        Tensor::from_op(data, self.shape().to_vec(), Op::GeluTanh(self.clone()))
    }
}

/// The error function, erf(x) = 2/√π ∫₀ˣ e^(-t²) dt, to about 1e-14 in f64.
///
/// Near 0 its Maclaurin series converges quickly; in the tails the series would need many
/// terms that cancel, so there erf = 1 - erfc is taken from erfc's continued fraction, which
/// converges quickly for large |x|. The switch at |x| = 2.5 is where both are accurate.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a < 2.5 {
        // erf(x) = 2/√π · Σₙ (-1)ⁿ x²ⁿ⁺¹ / (n! (2n+1)). `power` carries (-1)ⁿ x²ⁿ⁺¹ / n!.
        let x2 = x * x;
        let mut power = x;
        let mut sum = x;
        // At |x| = 2.5 the terms fall below 1e-17 of the sum by n ≈ 45.
        for n in 1..60 {
            power *= -x2 / n as f64;
            let term = power / (2 * n + 1) as f64;
            sum += term;
            if term.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        2.0 * FRAC_1_SQRT_PI * sum
    } else {
        let e = erfc_tail(a);
        if x > 0.0 {
            1.0 - e
        } else {
            e - 1.0
        }
    }
}

/// erfc(a) = 1 - erf(a) for a ≥ 2.5, from its continued fraction
/// `erfc(a) = e^(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))))`,
/// evaluated from the bottom up. 50 levels give about 1e-14 relative error at a = 2.5, and
/// better further out.
fn erfc_tail(a: f64) -> f64 {
    let mut denom = a;
    for k in (1..=50).rev() {
        denom = a + (k as f64 / 2.0) / denom;
    }
    (-a * a).exp() * FRAC_1_SQRT_PI / denom
}

/// Φ(x), the standard normal distribution function.
fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// φ(x) = e^(-x²/2) / √(2π), the standard normal density.
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() * FRAC_1_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2
}

fn gelu_exact(x: f32) -> f32 {
    let x = x as f64;
    (x * normal_cdf(x)) as f32
}

fn gelu_tanh(x: f32) -> f32 {
    let x = x as f64;
    let inner = SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x);
    (0.5 * x * (1.0 + inner.tanh())) as f32
}

/// d/dx [x·Φ(x)] = Φ(x) + x·φ(x): the product rule, with Φ' = φ.
pub(crate) fn gelu_derivative(x: f32) -> f32 {
    let x = x as f64;
    (normal_cdf(x) + x * normal_pdf(x)) as f32
}

/// The derivative of `x/2 · (1 + tanh(u))` with `u = √(2/π)(x + 0.044715x³)`:
/// `(1 + tanh u)/2 + x/2 · (1 - tanh²u) · √(2/π)(1 + 3·0.044715·x²)` (product and chain
/// rules, with tanh' = 1 - tanh²).
pub(crate) fn gelu_tanh_derivative(x: f32) -> f32 {
    let x = x as f64;
    let t = (SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)).tanh();
    let du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x);
    (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf against 16-digit reference values (C's `erf`/`erfc`, as Python's `math.erf`
    /// gives them): both sides of the series/continued-fraction switch, erfc(4) =
    /// 1.541725790028002e-8 for the tail (the part 1 - erf would lose), and erf's oddness.
    #[test]
    fn erf_matches_known_values() {
        let cases = [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.499_999, 0.999_593_045_804_265_3),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert_eq!(erf(-x), -erf(x));
        }
        let erfc4 = erfc_tail(4.0);
        assert!((erfc4 - 1.541_725_790_028_002e-8).abs() < 1e-21, "{erfc4}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(40.0), 1.0);
        assert!(erf(f64::NAN).is_nan());
    }
}
