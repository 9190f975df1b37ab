//! Where a training step's time goes, layer by layer, against what the CPU could do.
//!
//! Times the forward and backward of each layer of the mnist_bn CNN at batch 64 on one
//! thread, as the minimum CPU time over repetitions (the machines here are shared: CPU
//! time leaves out the time other jobs held the core, and the minimum is the run with the
//! warmest caches), and prints GFLOP/s next to the CPU's measured FMA peak.
//! That is the roofline of docs/performance.md: how far each layer is from the ceiling.
//!
//! `cargo run --release --example bench_layers -- [--reps N] [--threads N]`; `--reps 0`
//! prints only the instruction set in use and its FMA peak.
//! With `KINDLING_ISA=avx2` (or `scalar`) kindling's own loops are held to that width, and
//! the FMA peak is measured at that width too.

use std::hint::black_box;
use std::time::Instant;

use kindling::kernels::{isa, Isa};
use kindling::prelude::*;

/// Seconds of CPU time used by the whole process so far (all its threads), where the OS
/// reports it; wall time elsewhere. CPU time does not count the time other jobs on a
/// shared machine held the core.
fn clock() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to write.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The smallest time of `reps` runs of `f`, in seconds (CPU time where available).
fn min_time(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up: buffers, caches, thread pool
    (0..reps)
        .map(|_| {
            let t = clock();
            f();
            clock() - t
        })
        .fold(f64::INFINITY, f64::min)
}

/// Peak single-precision GFLOP/s of one core, from a loop of independent FMAs that keeps
/// every FMA unit busy (12 accumulators hide the 4-cycle latency of two units).
fn fma_peak_gflops(width: Isa) -> f64 {
    const ITERS: usize = 200_000;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(iters: usize) -> f32 {
            let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
            let mut acc = [_mm512_set1_ps(1.0); 12];
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = _mm512_fmadd_ps(*v, a, b);
                }
            }
            acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(iters: usize) -> f32 {
            let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
            let mut acc = [_mm256_set1_ps(1.0); 12];
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(*v, a, b);
                }
            }
            let mut out = [0.0f32; 8];
            acc.iter().fold(0.0, |s, &v| {
                _mm256_storeu_ps(out.as_mut_ptr(), v);
                s + out.iter().sum::<f32>()
            })
        }
        // One timed loop per width: 12 accumulators of `lanes` floats, 2 flops per FMA.
        let rate = |lanes: usize, t: f64| (ITERS * 12 * lanes * 2) as f64 / t / 1e9;
        // SAFETY: `isa()` only returns an instruction set this CPU has.
        match width {
            Isa::Avx512 => {
                return rate(
                    16,
                    min_time(5, || {
                        black_box(unsafe { avx512(black_box(ITERS)) });
                    }),
                )
            }
            Isa::Avx2 => {
                return rate(
                    8,
                    min_time(5, || {
                        black_box(unsafe { avx2(black_box(ITERS)) });
                    }),
                )
            }
            Isa::Scalar => {}
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = width;
    // Plain code: one multiply and one add per element, as many as the compiler overlaps.
    let t = min_time(5, || {
        let mut acc = [1.0f32; 12];
        for _ in 0..black_box(ITERS) {
            for v in acc.iter_mut() {
                *v = *v * 0.999_999 + 1e-7;
            }
        }
        black_box(acc);
    });
    (ITERS * 12 * 2) as f64 / t / 1e9
}

/// The benchmark's flags.
#[derive(clap::Parser)]
#[command(
    name = "bench_layers",
    about = "Each layer of the mnist_bn CNN, forward and backward, against the FMA peak."
)]
struct Args {
    /// Repetitions of each timing (the smallest is kept); 0 prints only the instruction
    /// set and its FMA peak.
    #[arg(long, default_value_t = 30)]
    reps: usize,
    /// Threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    threads: u64,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let reps = args.reps;
    kindling::set_num_threads(args.threads as usize).expect("nothing has used the threads yet");
    let peak = fma_peak_gflops(isa());
    println!(
        "kindling bench_layers: batch 64, {} thread(s), kindling's loops use {}, \
         FMA peak of one core {peak:.0} GFLOP/s",
        kindling::num_threads(),
        isa().name()
    );
    if reps == 0 {
        return; // `--reps 0`: only which instructions run, and their peak
    }
    println!(
        "{:<26} {:>9} {:>9} {:>10} {:>7}",
        "layer", "fwd ms", "bwd ms", "GFLOP/s", "% peak"
    );
    manual_seed(0);
    let n = 64;
    let row = |name: &str, flops: f64, x: &Tensor, f: &dyn Fn(&Tensor) -> Tensor| {
        let fwd = min_time(reps, || {
            black_box(no_grad(|| f(x)));
        });
        // A non-uniform upstream gradient, so nothing can be skipped.
        let g = Tensor::randn(no_grad(|| f(x)).shape());
        let both = min_time(reps, || f(x).backward_with(&g));
        let bwd = (both - fwd).max(0.0);
        let rate = if flops > 0.0 {
            flops / both / 1e9
        } else {
            f64::NAN
        };
        println!(
            "{name:<26} {:>9.3} {:>9.3} {rate:>10.1} {:>6.0}%",
            fwd * 1e3,
            bwd * 1e3,
            100.0 * rate / (peak * kindling::num_threads() as f64)
        );
    };
    // The convolutions' products alone, per image, as plain matrix products (M×N×K).
    for (name, m, nn, k) in [
        ("gemm 64x196x288 (conv2)", 64, 196, 288),
        ("gemm 288x196x64 (conv2 dx)", 288, 196, 64),
        ("gemm 64x288x196 (conv2 dW)", 64, 288, 196),
        ("gemm 32x784x9 (conv1)", 32, 784, 9),
    ] {
        let a = Tensor::randn(&[m, k]);
        let b = Tensor::randn(&[k, nn]);
        let t = min_time(reps * 10, || {
            black_box(a.matmul(&b));
        });
        let rate = 2.0 * (m * nn * k) as f64 / t / 1e9;
        println!(
            "{name:<26} {:>9.3} {:>9} {rate:>10.1} {:>6.0}%",
            t * 1e3,
            "",
            100.0 * rate / peak
        );
    }
    // conv1: input needs no gradient (it is the data), so backward is dW only.
    let x1 = Tensor::randn(&[n, 1, 28, 28]);
    let w1 = Tensor::randn(&[32, 1, 3, 3]).requires_grad(true);
    let b1 = Tensor::randn(&[32]).requires_grad(true);
    let f1 = 2.0 * (n * 784 * 32 * 9) as f64;
    row("conv1 1->32 3x3 28x28", 2.0 * f1, &x1, &|x| {
        x.conv2d(&w1, Some(&b1), 1, 1)
    });
    let x2 = Tensor::randn(&[n, 32, 14, 14]).requires_grad(true);
    let w2 = Tensor::randn(&[64, 32, 3, 3]).requires_grad(true);
    let b2 = Tensor::randn(&[64]).requires_grad(true);
    let f2 = 2.0 * (n * 196 * 64 * 288) as f64;
    row("conv2 32->64 3x3 14x14", 3.0 * f2, &x2, &|x| {
        x.conv2d(&w2, Some(&b2), 1, 1)
    });
    let x3 = Tensor::randn(&[n, 3136]).requires_grad(true);
    let w3 = Tensor::randn(&[128, 3136]).requires_grad(true);
    let b3 = Tensor::randn(&[128]).requires_grad(true);
    let f3 = 2.0 * (n * 3136 * 128) as f64;
    row("fc1 3136->128", 3.0 * f3, &x3, &|x| {
        x.linear(&w3, Some(&b3))
    });
    let xb = Tensor::randn(&[n, 32, 28, 28]).requires_grad(true);
    let gamma = Tensor::ones(&[32]).requires_grad(true);
    let beta = Tensor::zeros(&[32]).requires_grad(true);
    row("batch_norm 32x28x28", 0.0, &xb, &|x| {
        x.batch_norm(None, None, Some(&gamma), Some(&beta), true, 0.1, 1e-5)
    });
    row("relu 32x28x28", 0.0, &xb, &|x| x.relu());
    row("max_pool2d 32x28x28", 0.0, &xb, &|x| x.max_pool2d(2, 2));
    row("relu_max_pool2d 32x28x28", 0.0, &xb, &|x| {
        x.relu_max_pool2d(2, 2)
    });
}
