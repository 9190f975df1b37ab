//! What the learning-rate sweep's runs add up to: per rate and variant, the median and the
//! range of test accuracy over the seeds and how many runs diverged; the table, the
//! summary CSV, and a conclusion that states only what these numbers show, so that it
//! stays true on a machine where the runs come out differently.

use std::fmt::Write as _;

use crate::sweep::Run;

/// Below this median accuracy a setting counts as failed to train: far from both chance
/// (10%) and the 94% to 98% that every run that trained reached in the sweep recorded in
/// docs/batchnorm.md, so that a result on either side of it is plainly one or the other.
const FAILED_BELOW: f32 = 0.5;
/// Below this median a setting is "near chance" (10%, one of ten digits).
const NEAR_CHANCE_BELOW: f32 = 0.15;

/// The runs of one variant at one rate.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub runs: usize,
    pub median: f32,
    pub min: f32,
    pub max: f32,
    /// Median of the runs' mean training losses (NaN counts as the highest).
    pub median_loss: f32,
    pub diverged: usize,
}

/// Chooses one variant's numbers from a setting, so the same reading serves both.
pub type Pick = fn(&Setting) -> &Stats;

/// One rate of the grid, both variants.
#[derive(Debug, Clone)]
pub struct Setting {
    pub lr: f32,
    pub bn: Stats,
    pub no_bn: Stats,
}

pub fn settings(rates: &[f32], runs: &[Run]) -> Vec<Setting> {
    let stats = |lr: f32, bn: bool| {
        let of: Vec<&Run> = runs.iter().filter(|r| r.lr == lr && r.bn == bn).collect();
        let acc: Vec<f32> = of.iter().map(|r| r.test_accuracy).collect();
        let loss: Vec<f32> = of.iter().map(|r| r.train_loss).collect();
        Stats {
            runs: of.len(),
            median: median(&acc),
            min: acc.iter().copied().fold(f32::INFINITY, f32::min),
            max: acc.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            median_loss: median(&loss),
            diverged: of.iter().filter(|r| r.diverged).count(),
        }
    };
    rates
        .iter()
        .map(|&lr| Setting {
            lr,
            bn: stats(lr, true),
            no_bn: stats(lr, false),
        })
        .collect()
}

/// The middle value, or the mean of the two middle ones; NaN sorts last.
fn median(values: &[f32]) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    match v.len() {
        0 => f32::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn pct(x: f32) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The conclusion's precision; the table keeps two decimals, as a median and its range
/// rounded differently could seem to disagree.
fn range(s: &Stats) -> String {
    format!("{:.1}–{:.1}%", s.min * 100.0, s.max * 100.0)
}

/// " (range a–b%)" after a median; nothing when one run makes it, as its range is itself.
fn ranged(s: &Stats) -> String {
    if s.runs > 1 {
        format!(" (range {})", range(s))
    } else {
        String::new()
    }
}

pub fn table(settings: &[Setting]) -> String {
    let mut s = String::from(
        "Test accuracy, median and range (min–max) over the seeds; NaN: runs whose loss \
         became NaN or infinite\n\n",
    );
    s.push_str("| lr | BN median | BN range | no BN median | no BN range | NaN (BN / no BN) |\n");
    s.push_str("|---:|---:|---:|---:|---:|---:|\n");
    for t in settings {
        let _ = writeln!(
            s,
            "| {} | {:.2}% | {:.2}–{:.2}% | {:.2}% | {:.2}–{:.2}% | {} / {} of {} |",
            t.lr,
            t.bn.median * 100.0,
            t.bn.min * 100.0,
            t.bn.max * 100.0,
            t.no_bn.median * 100.0,
            t.no_bn.min * 100.0,
            t.no_bn.max * 100.0,
            t.bn.diverged,
            t.no_bn.diverged,
            t.bn.runs
        );
    }
    s
}

pub fn csv(settings: &[Setting]) -> String {
    let mut s = String::from(
        "lr,variant,runs,median_test_accuracy,min_test_accuracy,max_test_accuracy,\
         median_train_loss,diverged_runs\n",
    );
    for t in settings {
        for (name, v) in [("bn", &t.bn), ("no_bn", &t.no_bn)] {
            let _ = writeln!(
                s,
                "{},{name},{},{},{},{},{},{}",
                t.lr, v.runs, v.median, v.min, v.max, v.median_loss, v.diverged
            );
        }
    }
    s
}

/// The reading of this sweep's numbers, one claim per line, each one computed.
pub fn conclusion(settings: &[Setting], seeds: usize) -> String {
    let mut s = format!(
        "What this sweep shows (medians over {seeds} seed{}; chance is 10%, and a median \
         below {:.0}% counts as failing to train):\n",
        if seeds == 1 { "" } else { "s" },
        FAILED_BELOW * 100.0
    );
    let edge = |pick: Pick| settings.iter().position(|t| pick(t).median < FAILED_BELOW);
    let bn_edge = edge(|t| &t.bn);
    match edge(|t| &t.no_bn) {
        Some(i) => {
            let t = &settings[i];
            let _ = write!(
                s,
                "- Without BN the median first falls below {:.0}% at lr {}: {}{}{}.",
                FAILED_BELOW * 100.0,
                t.lr,
                pct(t.no_bn.median),
                ranged(&t.no_bn),
                near_chance(&t.no_bn)
            );
            let above = &settings[i + 1..];
            if !above.is_empty() {
                let all_fail = above.iter().all(|t| t.no_bn.median < FAILED_BELOW);
                let listed = above
                    .iter()
                    .map(|t| format!("{} at lr {}", pct(t.no_bn.median), t.lr))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = write!(
                    s,
                    " At the larger rates it is {listed}{}",
                    if all_fail {
                        "."
                    } else {
                        ": not every larger rate stays below it."
                    }
                );
            }
            s.push('\n');
            // Where BN fails at the same rate, its own line below says so.
            if bn_edge != Some(i) {
                let _ = writeln!(
                    s,
                    "- With BN the median at lr {} is {}{}.",
                    t.lr,
                    pct(t.bn.median),
                    ranged(&t.bn)
                );
            }
        }
        None => {
            let low = lowest(settings, |t| &t.no_bn);
            let _ = writeln!(
                s,
                "- Without BN the median stays at or above {:.0}% at every rate tried (lowest: \
                 {} at lr {}): this grid does not reach the edge.",
                FAILED_BELOW * 100.0,
                pct(low.no_bn.median),
                low.lr
            );
        }
    }
    match bn_edge {
        Some(i) => {
            let t = &settings[i];
            let _ = writeln!(
                s,
                "- With BN the median first falls below {:.0}% at lr {}: {}{}{}.",
                FAILED_BELOW * 100.0,
                t.lr,
                pct(t.bn.median),
                ranged(&t.bn),
                near_chance(&t.bn)
            );
        }
        None => {
            let low = lowest(settings, |t| &t.bn);
            let _ = writeln!(
                s,
                "- With BN the median stays at or above {:.0}% at every rate tried (lowest: {} \
                 at lr {}).",
                FAILED_BELOW * 100.0,
                pct(low.bn.median),
                low.lr
            );
        }
    }
    spread(&mut s, settings, seeds);
    divergence(&mut s, settings);
    s.trim_end().to_string()
}

fn near_chance(v: &Stats) -> &'static str {
    if v.median < NEAR_CHANCE_BELOW {
        ", near chance"
    } else {
        ""
    }
}

fn lowest(settings: &[Setting], pick: Pick) -> &Setting {
    settings
        .iter()
        .min_by(|a, b| pick(a).median.total_cmp(&pick(b).median))
        .expect("the grid has at least one rate")
}

/// How far apart the seeds landed, and where they landed on both sides of the threshold:
/// there, which outcome a single run shows is down to the seed (and to the machine).
fn spread(s: &mut String, settings: &[Setting], seeds: usize) {
    if seeds < 2 {
        let _ = writeln!(
            s,
            "- With one seed per setting there is no range to read: run --seeds 3 or more to \
             see how much each result depends on the seed."
        );
        return;
    }
    let widest = |pick: Pick| {
        let t = settings
            .iter()
            .max_by(|a, b| {
                let w = |t: &Setting| pick(t).max - pick(t).min;
                w(a).total_cmp(&w(b))
            })
            .expect("the grid has at least one rate");
        let v = pick(t);
        format!(
            "{:.1} points (lr {}: {})",
            (v.max - v.min) * 100.0,
            t.lr,
            range(v)
        )
    };
    let _ = writeln!(
        s,
        "- Widest seed range: {} with BN, {} without.",
        widest(|t| &t.bn),
        widest(|t| &t.no_bn)
    );
    for t in settings {
        for (label, v) in [("with BN", &t.bn), ("without BN", &t.no_bn)] {
            if v.min < FAILED_BELOW && v.max >= FAILED_BELOW {
                let _ = writeln!(
                    s,
                    "- At lr {} {label} the seeds land on both sides of {:.0}% ({}): one run \
                     there could show either outcome.",
                    t.lr,
                    FAILED_BELOW * 100.0,
                    range(v)
                );
            }
        }
    }
}

fn divergence(s: &mut String, settings: &[Setting]) {
    let mut hits = Vec::new();
    for t in settings {
        for (label, v) in [("with BN", &t.bn), ("without BN", &t.no_bn)] {
            if v.diverged > 0 {
                hits.push(format!(
                    "{label} at lr {}: {} of {}",
                    t.lr, v.diverged, v.runs
                ));
            }
        }
    }
    if hits.is_empty() {
        let failed = settings
            .iter()
            .any(|t| t.bn.min < FAILED_BELOW || t.no_bn.min < FAILED_BELOW);
        let _ = writeln!(
            s,
            "- No run's loss became NaN or infinite{}.",
            if failed {
                ": the runs that failed to train did so with finite numbers"
            } else {
                ""
            }
        );
    } else {
        let _ = writeln!(
            s,
            "- Runs whose loss became NaN or infinite: {}.",
            hits.join("; ")
        );
    }
}
