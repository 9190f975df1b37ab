//! The fast kernels: threads, SIMD, the buffer pool and the SGEMM. Nothing here is needed
//! to understand what an op computes; that is in `ops/`, where every op also has a plain
//! reference kernel. This folder is where the speed comes from.
//!
//! - `elementwise.rs`: element-wise maps split across threads, vectorised.
//! - `gemm.rs`: the SGEMM call (the `gemm` crate) and its row-block threading.
//! - `matmul.rs`, `conv.rs`, `batch_norm.rs`, `pool.rs`: the fast twins of the reference
//!   kernels in `ops/` of the same name. A test beside each checks that the twins agree.
//! - `bn_relu_pool.rs`: BatchNorm → ReLU → max pooling one plane at a time, so that the
//!   BatchNorm's output and its gradient never reach memory.
//! - `buffers.rs`: the pool that recycles large buffers between training steps.
//! - `transpose.rs`: a tiled transpose, for GEMM outputs stored the other way round.
//! - `pool_x86.rs`: 2×2 max pooling in AVX-512 and AVX2 intrinsics.
//! - `winograd.rs`: 3×3 convolutions with many channels by Winograd's F(2×2, 3×3), 2.25×
//!   fewer multiply-adds than `conv.rs`'s im2col (`KINDLING_CONV=im2col` turns it off).
//!
//! [`set_kernels`] (or `KINDLING_KERNELS=reference` in the environment) runs a whole program
//! on the reference kernels instead, which is slower but can be stepped through in a
//! debugger line by line: minitorch's "simple" and "fast" backends behind one interface.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) mod batch_norm;
pub(crate) mod bn_relu_pool;
pub(crate) mod buffers;
pub use buffers::{set_allocator_tuning, set_buffer_pool_bytes};
pub(crate) mod conv;
pub(crate) mod conv_relu_pool;
pub(crate) mod elementwise;
pub(crate) mod gemm;
mod isa;
pub use isa::{isa, set_isa, vectorized, Isa};
pub(crate) mod matmul;
pub(crate) mod pool;
#[cfg(target_arch = "x86_64")]
mod pool_x86;
pub(crate) mod transpose;
pub(crate) mod winograd;

/// Which kernels the ops run: the plain reference loops in `ops/`, or the fast ones here.
///
/// ```
/// use kindling::kernels::{kernels, set_kernels, Kernels};
/// let before = kernels();
/// set_kernels(Kernels::Reference);
/// assert_eq!(kernels(), Kernels::Reference);
/// set_kernels(before);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The plain loops beside each op in `ops/`: one thread, no SIMD, no buffer reuse.
    Reference,
    /// Threads, SIMD and buffer reuse, from this folder. The default.
    Fast,
}

/// 0: not read from the environment yet; 1: reference; 2: fast.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Chooses the kernels for the whole process. Results agree to within rounding either way
/// (sums are taken in a different order), which the twin tests check.
///
/// ```
/// use kindling::kernels::{set_kernels, Kernels};
/// set_kernels(Kernels::Fast);
/// ```
pub fn set_kernels(k: Kernels) {
    MODE.store(
        match k {
            Kernels::Reference => 1,
            Kernels::Fast => 2,
        },
        Ordering::Relaxed,
    );
}

/// The kernels in use: `Fast` unless [`set_kernels`] or `KINDLING_KERNELS=reference` chose
/// the reference ones.
///
/// ```
/// use kindling::kernels::{kernels, Kernels};
/// if std::env::var("KINDLING_KERNELS").is_err() {
///     assert_eq!(kernels(), Kernels::Fast);
/// }
/// ```
pub fn kernels() -> Kernels {
    match MODE.load(Ordering::Relaxed) {
        1 => Kernels::Reference,
        2 => Kernels::Fast,
        _ => {
            let from_env = match std::env::var("KINDLING_KERNELS").as_deref() {
                Ok("reference") => Kernels::Reference,
                _ => Kernels::Fast,
            };
            // Only the first reader sets it, so a `set_kernels` that raced us wins.
            let code = if from_env == Kernels::Reference { 1 } else { 2 };
            let _ = MODE.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
            kernels()
        }
    }
}

/// True when the ops should call the fast kernels in this folder.
#[inline]
pub(crate) fn fast() -> bool {
    kernels() == Kernels::Fast
}

/// Below this many elements, element-wise work stays on the calling thread: spawning
/// costs more than it saves.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;

/// kindling's own thread pool, built on first use with rayon's default size (the
/// `RAYON_NUM_THREADS` variable, or one thread per core) and rebuilt by
/// [`set_num_threads`]. Its own pool, not rayon's global one, so that a host program's
/// rayon configuration neither blocks nor is changed by kindling's.
static POOL: Mutex<Option<Arc<rayon::ThreadPool>>> = Mutex::new(None);

fn pool() -> Arc<rayon::ThreadPool> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.get_or_insert_with(|| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("kindling-{i}"))
                .build()
                .expect("kindling could not start its worker threads"),
        )
    })
    .clone()
}

/// Runs `f`, and every parallel iterator inside it, on kindling's pool. From a thread of
/// that pool it runs `f` in place.
pub(crate) fn parallel<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Sets how many threads kindling's kernels use, like `torch.set_num_threads`. It can be
/// called at any time, and again; work already running finishes on the old threads. The
/// same count gives bit-identical results run after run, since work is split into fixed
/// blocks by that count.
///
/// # Errors
/// If `n` is 0, or the threads cannot be started.
///
/// ```
/// kindling::set_num_threads(2).unwrap();
/// assert_eq!(kindling::num_threads(), 2);
/// assert!(kindling::set_num_threads(0).is_err());
/// ```
pub fn set_num_threads(n: usize) -> Result<(), String> {
    if n == 0 {
        return Err("set_num_threads(0): kindling needs at least one thread".into());
    }
    let new = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("kindling-{i}"))
        .build()
        .map_err(|e| format!("set_num_threads({n}): {e}"))?;
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(new));
    Ok(())
}

/// The number of threads kernels split work over.
///
/// ```
/// assert!(kindling::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// `Σ f(a[i], b[i])` in f32 with eight independent partial sums: the compiler turns the
/// loop into SIMD, and eight short sums lose less precision than one long one.
#[inline]
pub(crate) fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += f(x[l], y[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}
