//! Which vector instructions kindling's own loops use, chosen at run time.
//!
//! One binary must run on every x86-64 CPU: an AVX2-only laptop, an AMD Zen 4 with AVX-512
//! on 256-bit units, an Intel Xeon with full-width AVX-512. So nothing is compiled for a
//! particular CPU. Instead the hot loops run inside [`vectorized`], which calls them through
//! a copy compiled for the widest instruction set that is (1) on this CPU, (2) compiled in
//! (the `avx512` cargo feature, on by default) and (3) allowed by `KINDLING_ISA`.
//!
//! `KINDLING_ISA=avx2` holds kindling's loops to AVX2 for an apples-to-apples comparison
//! with a PyTorch held to AVX2; `KINDLING_ISA=scalar` turns vector code off altogether. The
//! SGEMM is the `gemm` crate, which picks its own kernels from the CPU: only building with
//! `default-features = false` keeps it off AVX-512.
//!
//! The arithmetic is the same on every path: the loops are written with explicit lanes
//! where they reduce (`sum_zip`), and Rust never reassociates or fuses floating-point
//! operations on its own, so a wider vector changes how many lanes run at once, not what
//! each lane computes.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set for kindling's element-wise, BatchNorm, pooling and optimizer loops.
///
/// ```
/// use kindling::kernels::{isa, Isa};
/// // Whatever the CPU, the choice is one of these and never wider than the CPU allows.
/// assert!(matches!(isa(), Isa::Scalar | Isa::Avx2 | Isa::Avx512));
/// assert!(isa() <= Isa::best_available());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain code for the baseline CPU of the target (SSE2 on x86-64, NEON on aarch64).
    Scalar,
    /// AVX2 with FMA: 256-bit vectors (x86-64 only).
    Avx2,
    /// AVX-512 F/BW/VL with FMA: 512-bit vectors (x86-64 with the `avx512` feature only).
    Avx512,
}

impl Isa {
    /// The widest instruction set this CPU has that this build can use.
    ///
    /// ```
    /// use kindling::kernels::Isa;
    /// assert!(Isa::best_available() >= Isa::Scalar);
    /// ```
    pub fn best_available() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            #[cfg(feature = "avx512")]
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }

    /// The name `KINDLING_ISA` takes for this instruction set.
    ///
    /// ```
    /// assert_eq!(kindling::kernels::Isa::Avx2.name(), "avx2");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
            .get((code as usize).checked_sub(1)?)
            .copied()
    }
}

/// 0 = not chosen yet; otherwise `Isa::code`.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// The instruction set kindling's own loops use now.
///
/// Chosen once, on first use: the widest the CPU and the build allow, lowered by the
/// environment variable `KINDLING_ISA` (`avx512`, `avx2` or `scalar`). A request for more
/// than the CPU has gets what the CPU has (never an illegal instruction); an unknown value
/// is ignored with a warning on stderr.
///
/// ```
/// let now = kindling::kernels::isa();
/// println!("kindling's loops use {}", now.name());
/// ```
pub fn isa() -> Isa {
    if let Some(isa) = Isa::from_code(CHOSEN.load(Ordering::Relaxed)) {
        return isa;
    }
    let best = Isa::best_available();
    let wanted = match std::env::var("KINDLING_ISA") {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => best,
            "scalar" | "none" => Isa::Scalar,
            "avx2" => Isa::Avx2,
            "avx512" | "avx-512" => Isa::Avx512,
            other => {
                eprintln!(
                    "kindling: KINDLING_ISA={other:?} is not one of avx512, avx2, scalar; \
                     using {}",
                    best.name()
                );
                best
            }
        },
        Err(_) => best,
    };
    let chosen = wanted.min(best);
    let _ = CHOSEN.compare_exchange(0, chosen.code(), Ordering::Relaxed, Ordering::Relaxed);
    Isa::from_code(CHOSEN.load(Ordering::Relaxed)).unwrap_or(chosen)
}

/// Sets the instruction set of kindling's own loops for the whole process, capped at
/// [`Isa::best_available`]; returns the one now in force. For tests and benchmarks that
/// compare the paths; `KINDLING_ISA` does the same from outside.
///
/// ```
/// use kindling::kernels::{isa, set_isa, Isa};
/// let before = isa();
/// assert_eq!(set_isa(Isa::Scalar), Isa::Scalar);
/// assert_eq!(isa(), Isa::Scalar);
/// set_isa(before);
/// ```
pub fn set_isa(wanted: Isa) -> Isa {
    let chosen = wanted.min(Isa::best_available());
    CHOSEN.store(chosen.code(), Ordering::Relaxed);
    chosen
}

/// Runs `f` compiled for the instruction set [`isa`] chose: AVX-512, AVX2 with FMA, or the
/// target's baseline.
///
/// A program that uses kindling as a dependency is built for the baseline x86-64 CPU (no
/// AVX). The hot loops and the optimizers' fused multiply-adds run through this wrapper, so
/// they get wide vectors and one-instruction `mul_add` all the same. `f` must be marked
/// `#[inline(always)]` (as must what it calls in the hot loop), so that it is compiled into
/// each copy rather than called from it.
///
/// ```
/// let sum: f32 = kindling::kernels::vectorized(#[inline(always)] || (1..=4).map(|v| v as f32).sum());
/// assert_eq!(sum, 10.0);
/// ```
#[doc(hidden)]
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[cfg(feature = "avx512")]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
        unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match isa() {
            // SAFETY: `isa()` never returns more than `Isa::best_available()`, which checked
            // these features on this CPU.
            #[cfg(feature = "avx512")]
            Isa::Avx512 => return unsafe { with_avx512(f) },
            Isa::Avx2 => return unsafe { with_avx2(f) },
            _ => {}
        }
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_order_by_width() {
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            assert_eq!(Isa::from_code(isa.code()), Some(isa));
        }
        assert_eq!(Isa::from_code(0), None);
        assert!(Isa::Scalar < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
    }
}
