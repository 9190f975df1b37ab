//! A tiny per-op profiler: how much wall time each op's forward and backward pass took.
//! Off by default (one relaxed atomic load per tensor read); `bench_cnn --profile` turns it
//! on.
//!
//! No op carries a timer of its own. Every op is timed the same way, at two points:
//! - forward: from the op's first read of an input's values (`Storage::read`) to the moment
//!   its result is made (`Tensor::from_op`), on the same thread;
//! - backward: around each op's backward rule, where `autograd.rs` runs it.
//!
//! ```
//! use kindling::{profile, Tensor};
//! profile::enable(true);
//! let x = Tensor::ones(&[4, 4]).requires_grad(true);
//! x.exp().sum().backward();
//! assert!(profile::report().contains("Exp backward"));
//! profile::enable(false);
//! profile::reset();
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<Option<HashMap<String, (Duration, u64)>>> = Mutex::new(None);

/// Turns the profiler on or off.
///
/// ```
/// kindling::profile::enable(false);
/// ```
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Forgets everything recorded so far.
///
/// ```
/// kindling::profile::reset();
/// assert!(kindling::profile::report().is_empty());
/// ```
pub fn reset() {
    *TOTALS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A table of the recorded ops, most expensive first: total milliseconds, calls, share.
///
/// ```
/// let table = kindling::profile::report();
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

thread_local! {
    /// When the op now running on this thread first read an input, if profiling is on.
    static OP_START: Cell<Option<Instant>> = const { Cell::new(None) };
    /// True while a backward rule runs: its inner ops belong to its own time.
    static IN_BACKWARD: Cell<bool> = const { Cell::new(false) };
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn add(name: &str, part: &str, elapsed: Duration) {
    let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    let entry = totals
        .get_or_insert_with(HashMap::new)
        .entry(format!("{name} {part}"))
        .or_default();
    entry.0 += elapsed;
    entry.1 += 1;
}

/// An op read an input: its forward pass starts now, unless it already started.
pub(crate) fn input_read() {
    if enabled() && !IN_BACKWARD.with(Cell::get) {
        OP_START.with(|s| {
            if s.get().is_none() {
                s.set(Some(Instant::now()));
            }
        });
    }
}

/// An op made its result: its forward pass ends. `None` for a result that is no op's
/// (a constant), which ends the span without recording it.
pub(crate) fn result_made(name: Option<&'static str>) {
    if enabled() && !IN_BACKWARD.with(Cell::get) {
        if let (Some(start), Some(name)) = (OP_START.with(|s| s.take()), name) {
            add(name, "forward", start.elapsed());
        }
    }
}

/// Runs an op's backward rule, timing it under the op's name.
pub(crate) fn backward<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    if !enabled() {
        return f();
    }
    let start = Instant::now();
    let was = IN_BACKWARD.with(|b| b.replace(true));
    let out = f();
    IN_BACKWARD.with(|b| b.set(was));
    add(name, "backward", start.elapsed());
    out
}
