//! Recycling of large `f32` buffers between training steps.
//!
//! Every step allocates the same big activations and gradients (megabytes each) and frees
//! them a moment later. A fresh buffer costs page faults or a memset to zero it, though the
//! kernels that ask for one overwrite every element anyway. So when a large tensor dies its
//! buffer is kept here, and the next request of exactly that length gets it back, still
//! holding the old values. Only kernels that write every element use [`take`]; anything
//! that accumulates into its output still starts from `vec![0.0; n]`.
//!
//! The pool is bounded (by bytes and by count), so memory stays flat: it holds at most what
//! the previous step freed.
//!
//! Both this pool and the allocator tuning below change how the host process uses memory,
//! so a program that embeds kindling can turn them off ([`set_buffer_pool_bytes`],
//! [`set_allocator_tuning`], or `KINDLING_BUFFER_POOL_MB=0` and
//! `KINDLING_ALLOCATOR_TUNING=off`). Results do not change; only speed does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Buffers smaller than this (64 KiB) are cheap to allocate and not worth keeping.
const MIN_LEN: usize = 1 << 14;
/// At most this many bytes wait in the pool by default.
const MAX_BYTES: usize = 96 << 20;

/// The pool's byte limit now: `MAX_BYTES` unless set; `usize::MAX` means "not read from the
/// environment yet".
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

fn limit() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        usize::MAX => {
            let from_env = std::env::var("KINDLING_BUFFER_POOL_MB")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .map_or(MAX_BYTES, |mb| mb.saturating_mul(1 << 20));
            let _ =
                LIMIT.compare_exchange(usize::MAX, from_env, Ordering::Relaxed, Ordering::Relaxed);
            LIMIT.load(Ordering::Relaxed)
        }
        bytes => bytes,
    }
}

/// Sets how many bytes of freed buffers kindling keeps for reuse (default 96 MiB, or
/// `KINDLING_BUFFER_POOL_MB`). `0` turns the pool off, and what it held is freed now.
///
/// ```
/// use kindling::kernels::set_buffer_pool_bytes;
/// set_buffer_pool_bytes(0);        // off: every buffer goes back to the allocator
/// set_buffer_pool_bytes(96 << 20); // the default again
/// ```
pub fn set_buffer_pool_bytes(bytes: usize) {
    LIMIT.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    while pool.bytes > bytes {
        let old = pool.free.swap_remove(0);
        pool.bytes -= old.len() * 4;
    }
}
/// And at most this many buffers.
const MAX_COUNT: usize = 64;

struct Pool {
    free: Vec<Vec<f32>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    bytes: 0,
});

/// A buffer of `len` floats with unspecified (but initialised) contents, for a kernel that
/// writes every element before anything reads it.
pub(crate) fn take(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = pool.free.iter().rposition(|v| v.len() == len) {
            let v = pool.free.swap_remove(i);
            pool.bytes -= len * 4;
            return v;
        }
    }
    vec![0.0; len]
}

/// A buffer of `len` zeros, reusing a pooled one when there is one (zeroing memory that
/// is already mapped costs less than mapping fresh pages).
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    let mut v = take(len);
    v.fill(0.0);
    v
}

/// Offers a dying tensor's buffer for reuse. The oldest buffers make room for new ones.
pub(crate) fn recycle(v: Vec<f32>) {
    let (bytes, limit) = (v.len() * 4, limit());
    if v.len() < MIN_LEN || bytes > limit {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    while !pool.free.is_empty() && (pool.bytes + bytes > limit || pool.free.len() >= MAX_COUNT) {
        let old = pool.free.swap_remove(0);
        pool.bytes -= old.len() * 4;
    }
    pool.bytes += bytes;
    pool.free.push(v);
}

/// Keeps glibc's allocator from handing large buffers back to the kernel on every free.
///
/// A training step allocates and frees the same large activations (several MB each) again
/// and again. By default glibc serves such sizes with fresh `mmap`s, or trims the heap after
/// they are freed, so every step pays page faults and the kernel zeroing pages: a quarter of
/// the step time, measured with `perf`. Raising the two thresholds keeps freed memory in the
/// process for the next step; resident memory then stays flat at the step's peak.
/// Whether kindling may tune glibc's allocator (on unless turned off).
static TUNE: AtomicBool = AtomicBool::new(true);
static TUNED: Once = Once::new();

/// Lets kindling tune glibc's allocator for training (the default), or not. The tuning
/// happens once, when the first tensor is made, and applies to the whole process; a host
/// program that wants its allocator left alone calls `set_allocator_tuning(false)` before
/// it makes any tensor (or sets `KINDLING_ALLOCATOR_TUNING=off`). Other platforms have
/// nothing to tune.
///
/// ```
/// kindling::kernels::set_allocator_tuning(false);
/// let t = kindling::Tensor::zeros(&[4]); // the allocator is left as it was
/// assert_eq!(t.numel(), 4);
/// ```
pub fn set_allocator_tuning(on: bool) {
    TUNE.store(on, Ordering::Relaxed);
}

pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        TUNED.call_once(|| {
            let off =
                std::env::var("KINDLING_ALLOCATOR_TUNING").is_ok_and(|v| v == "off" || v == "0");
            if off || !TUNE.load(Ordering::Relaxed) {
                return;
            }
            // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call
            // at any time, and we call it once.
            unsafe {
                // 32 MiB is the largest value glibc accepts here (half its heap size).
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_comes_back_for_the_same_length_only() {
        let len = MIN_LEN + 123;
        let mut v = vec![0.0; len];
        v[0] = 42.0;
        recycle(v);
        assert_eq!(take(len + 1).len(), len + 1);
        let back = take(len);
        assert_eq!(back.len(), len);
        assert_eq!(back[0], 42.0, "the same buffer, not a fresh one");
    }
}
