//! `Storage`: the memory behind a tensor, shared by every handle and view on it.
//!
//! It owns the `Vec<f32>` behind a reader-writer lock, and counts its writes in a version
//! number, as PyTorch does: an op that saves a tensor for its backward pass notes the
//! version, and backward refuses to run if the values changed in between (an optimizer step
//! between `forward` and `backward` would otherwise silently give gradients of the new
//! values). When the last handle goes, a large buffer goes back to the pool for the next
//! training step (`kernels/buffers.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) struct Storage {
    data: RwLock<Vec<f32>>,
    /// How many times the values were handed out for writing.
    version: AtomicU64,
}

impl Storage {
    pub(crate) fn new(data: Vec<f32>) -> Storage {
        crate::kernels::buffers::tune_allocator();
        warn_if_unoptimized();
        Storage {
            data: RwLock::new(data),
            version: AtomicU64::new(0),
        }
    }

    /// Read access for an op reading its input (which starts the profiler's clock for it).
    /// A panic while a lock was held cannot leave the `Vec` half-built (every writer only
    /// stores floats), so a poisoned lock is simply taken over.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        crate::profile::input_read();
        self.read_quiet()
    }

    /// Read access that does not count as an op reading its input (for user code).
    pub(crate) fn read_quiet(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access; counts as a new version whether or not the caller writes.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Vec<f32>> {
        self.version.fetch_add(1, Ordering::Relaxed);
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Moves the buffer out (leaving an empty one), for a caller that holds the only
    /// handle: no copy and no lock.
    pub(crate) fn take_vec(&mut self) -> Vec<f32> {
        std::mem::take(self.data.get_mut().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What a dependent crate's dev build prints once, at the first tensor, when it compiled
/// kindling at opt-level 0 (see `build.rs`).
#[cfg_attr(not(kindling_unoptimized), allow(dead_code))]
pub(crate) const UNOPTIMIZED_WARNING: &str = "\
kindling: this program compiled kindling without optimisation (opt-level 0), so every \
tensor op runs 50-80x slower than it can. Add this to your Cargo.toml, or build with \
--release (set KINDLING_NO_OPT_WARNING=1 to silence this):
[profile.dev.package.\"*\"]
opt-level = 3
debug-assertions = false
overflow-checks = false";

fn warn_if_unoptimized() {
    #[cfg(kindling_unoptimized)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            if std::env::var_os("KINDLING_NO_OPT_WARNING").is_none() {
                eprintln!("{UNOPTIMIZED_WARNING}");
            }
        });
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // The reference kernels never take from the pool, so nothing goes into it then.
        if crate::kernels::fast() {
            let data = std::mem::take(self.data.get_mut().unwrap_or_else(|e| e.into_inner()));
            crate::kernels::buffers::recycle(data);
        }
    }
}
