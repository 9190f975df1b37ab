//! A tiny per-op profiler: how much wall time each op's forward and backward pass took.
//! Off by default (one relaxed atomic load per op); `bench_cnn --profile` turns it on.
//!
//! ```
//! use kindling_core::{profile, Tensor};
//! profile::enable(true);
//! let x = Tensor::ones(&[4, 4]).requires_grad(true);
//! x.exp().sum().backward();
//! assert!(profile::report().contains("Exp backward"));
//! profile::enable(false);
//! profile::reset();
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<Option<HashMap<String, (Duration, u64)>>> = Mutex::new(None);

/// Turns the profiler on or off.
///
/// ```
/// kindling_core::profile::enable(false);
/// ```
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Forgets everything recorded so far.
///
/// ```
/// kindling_core::profile::reset();
/// assert!(kindling_core::profile::report().is_empty());
/// ```
pub fn reset() {
    *TOTALS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A table of the recorded ops, most expensive first: total milliseconds, calls, share.
///
/// ```
/// let table = kindling_core::profile::report();
/// let _ = table;
/// ```
pub fn report() -> String {
    let totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = totals.as_ref() else {
        return String::new();
    };
    let mut rows: Vec<_> = map.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
    let all: f64 = rows.iter().map(|r| r.1 .0.as_secs_f64()).sum();
    let mut out = format!(
        "{:<28} {:>10} {:>8} {:>7}\n",
        "op", "total ms", "calls", "share"
    );
    for (name, (time, calls)) in rows {
        let ms = time.as_secs_f64() * 1e3;
        out += &format!(
            "{name:<28} {ms:>10.1} {calls:>8} {:>6.1}%\n",
            100.0 * time.as_secs_f64() / all.max(1e-12)
        );
    }
    out
}

/// Records the time from its creation to its drop under `name`, if profiling is on.
pub(crate) struct Scope {
    start: Option<(Instant, &'static str, &'static str)>,
}

/// Starts timing `name` (`part` is "forward" or "backward").
pub(crate) fn scope(name: &'static str, part: &'static str) -> Scope {
    Scope {
        start: ENABLED
            .load(Ordering::Relaxed)
            .then(|| (Instant::now(), name, part)),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some((start, name, part)) = self.start {
            let elapsed = start.elapsed();
            let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
            let entry = totals
                .get_or_insert_with(HashMap::new)
                .entry(format!("{name} {part}"))
                .or_default();
            entry.0 += elapsed;
            entry.1 += 1;
        }
    }
}
