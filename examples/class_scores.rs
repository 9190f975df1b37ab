//! The BatchNorm lesson, replayed on kindling: four students, three subjects, one batch.
//!
//! Run it with `cargo run --example class_scores`. It prints the same numbers PyTorch 2.x
//! prints for `nn.BatchNorm1d(3)` on these scores (the lesson's own "example output" block
//! is not what PyTorch prints; these are), and explains each of them.
//!
//! Every explanation is worked out from the data, not written in advance: change `SCORES`
//! or `NEW_STUDENT` (or add students), run it again, and the explanations follow.

use kindling::prelude::*;

/// The features C: one column per subject.
const SUBJECTS: [&str; 3] = ["math", "Chinese", "English"];

/// One batch of exam scores: one row per student (the batch dim N).
const SCORES: &[[f32; 3]] = &[
    // math, Chinese, English
    [85.0, 60.0, 70.0], // student 1
    [90.0, 80.0, 75.0], // student 2
    [95.0, 50.0, 80.0], // student 3
    [88.0, 70.0, 85.0], // student 4
];

/// A student who was not in the batch, scored in eval mode.
const NEW_STUDENT: [f32; 3] = [87.0, 65.0, 78.0];

/// Training steps on the same batch after which the running statistics count as settled:
/// what is left of their starting values is 0.9^200, about 7e-10 of the way.
const SETTLE_STEPS: usize = 200;

/// Formats a 2-d tensor the way PyTorch prints it: 4 decimals, one row per line.
fn matrix(t: &Tensor) -> String {
    let cols = t.shape()[1];
    let rows: Vec<String> = t
        .to_vec()
        .chunks(cols)
        .map(|r| format!("[{}]", row(r)))
        .collect();
    format!("[{}]", rows.join(",\n "))
}

fn row(values: &[f32]) -> String {
    values
        .iter()
        .map(|v| format!("{v:7.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn vector(values: &[f32]) -> String {
    format!(
        "[{}]",
        values
            .iter()
            .map(|v| format!("{:.4}", tidy(*v as f64)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A number as a person would write it: up to 4 decimals, no trailing zeros (89.5, 53, 17.6667).
fn num(v: f64) -> String {
    let s = format!("{:.4}", tidy(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Rounds away float dust (-0.00000003) so that it prints as 0, not -0.
fn tidy(v: f64) -> f64 {
    if v.abs() < 5e-5 {
        0.0
    } else {
        v
    }
}

/// Two decimals, without a minus sign on a value that rounds to 0.
fn two(v: f64) -> String {
    let s = format!("{v:.2}");
    if s == "-0.00" {
        "0.00".to_string()
    } else {
        s
    }
}

/// The statistics of one column, in f64: enough to explain every number BatchNorm prints.
struct Column {
    n: usize,
    mean: f64,
    /// Σ (x - mean)², the numerator of both variances.
    sq_dev: f64,
}

impl Column {
    fn biased_var(&self) -> f64 {
        self.sq_dev / self.n as f64
    }
    fn unbiased_var(&self) -> f64 {
        self.sq_dev / (self.n - 1) as f64
    }
    fn std(&self) -> f64 {
        self.biased_var().sqrt()
    }
}

/// The statistics of each column of `values`, a row-major matrix with `cols` columns.
fn columns(values: &[f32], cols: usize) -> Vec<Column> {
    let n = values.len() / cols;
    (0..cols)
        .map(|j| {
            let col: Vec<f64> = values
                .iter()
                .skip(j)
                .step_by(cols)
                .map(|&v| v as f64)
                .collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let sq_dev = col.iter().map(|v| (v - mean) * (v - mean)).sum();
            Column { n, mean, sq_dev }
        })
        .collect()
}

fn main() {
    let n = SCORES.len();
    let c = SUBJECTS.len();
    let scores = Tensor::from_vec(SCORES.concat(), &[n, c]);
    println!("BatchNorm1d on a class's exam scores (数学 math, 语文 Chinese, 英语 English)\n");
    println!("scores, shape {:?}:\n{}\n", scores.shape(), matrix(&scores));

    // The idea: the subjects are on different scales.
    let stats = columns(&scores.to_vec(), c);
    println!("per subject, over the {n} students (standard deviation: the square root of the biased variance):");
    for (name, s) in SUBJECTS.iter().zip(&stats) {
        println!(
            "  {name:<8} mean {:>6}, standard deviation {:.2}",
            num(s.mean),
            s.std()
        );
    }
    let by_spread = |a: &usize, b: &usize| stats[*a].std().total_cmp(&stats[*b].std());
    let tight = (0..c).min_by(by_spread).expect("at least one subject");
    let wide = (0..c).max_by(by_spread).expect("at least one subject");
    let (tight_sd, wide_sd) = (stats[tight].std(), stats[wide].std());
    if tight_sd < 1e-6 {
        println!(
            "  all {n} {} scores are equal: there is no spread to divide by, and BatchNorm maps them all to 0.",
            SUBJECTS[tight]
        );
    } else if wide_sd / tight_sd < 1.01 {
        println!("  the subjects are about equally spread out.");
    } else {
        println!(
            "  {} scores are the closest together and {} scores the most spread out, {:.2}x as much.",
            SUBJECTS[tight],
            SUBJECTS[wide],
            wide_sd / tight_sd
        );
        println!(
            "  So 5 points is {:.2} standard deviations in {} but only {:.2} in {}.",
            5.0 / tight_sd,
            SUBJECTS[tight],
            5.0 / wide_sd,
            SUBJECTS[wide]
        );
    }
    println!("  BatchNorm converts each subject to standard scores (z-scores): mean 0, standard deviation 1.\n");

    // Training mode: normalise with the batch's own statistics.
    let mut bn = nn::BatchNorm1d::new(c); // γ = 1, β = 0, momentum 0.1, eps 1e-5
    let momentum = bn.config().momentum.expect("the default momentum is 0.1") as f64;
    let (eps, eps_text) = (bn.config().eps as f64, format!("{:e}", bn.config().eps));
    bn.train();
    let normalized = bn.forward(&scores);
    let train_out = normalized.to_vec();
    println!("normalized (train mode):\n{}", matrix(&normalized));
    let after = columns(&train_out, c);
    let means: Vec<f32> = after.iter().map(|s| s.mean as f32).collect();
    let vars: Vec<f32> = after.iter().map(|s| s.biased_var() as f32).collect();
    println!(
        "  measured on the outputs above: column means {},\n  biased variances {}.",
        vector(&means),
        vector(&vars)
    );
    println!(
        "  Training mode used the batch's own statistics, so each column is now in standard scores."
    );
    let (m, x1) = (&stats[0], SCORES[0][0] as f64);
    println!(
        "  {}: mean {}, biased variance {} / {n} = {}, so student 1 gets\n  ({} - {}) / sqrt({} + {eps_text}) = {:.4}\n",
        SUBJECTS[0],
        num(m.mean),
        num(m.sq_dev),
        num(m.biased_var()),
        num(x1),
        num(m.mean),
        num(m.biased_var()),
        (x1 - m.mean) / (m.biased_var() + eps).sqrt()
    );

    let gamma = bn.weight().expect("affine BatchNorm has γ").to_vec();
    let beta = bn.bias_tensor().expect("affine BatchNorm has β").to_vec();
    println!(
        "γ (weight): {}    β (bias): {}",
        vector(&gamma),
        vector(&beta)
    );
    println!(
        "  still 1 and 0: BatchNorm starts from them, with no randomness, and only an optimizer"
    );
    println!("  step would change them.\n");

    // The running statistics after one step.
    let (running_mean, running_var) = (bn.running_mean().to_vec(), bn.running_var().to_vec());
    println!(
        "running_mean after one step: {}    (momentum {} from 0)",
        vector(&running_mean),
        num(momentum)
    );
    println!(
        "running_var  after one step: {}   ({} * 1 + {} * unbiased var)",
        vector(&running_var),
        num(1.0 - momentum),
        num(momentum)
    );
    println!("  why so small? The running statistics start at mean 0 and variance 1 and move only");
    println!(
        "  {}% of the way to each batch's statistics: for {} {} * 0 + {} * {} = {}.",
        num(momentum * 100.0),
        SUBJECTS[0],
        num(1.0 - momentum),
        num(momentum),
        num(m.mean),
        num(running_mean[0] as f64)
    );
    println!(
        "  running_var stores the unbiased variance (divide by n - 1 = {}, not n = {n}): for {}",
        n - 1,
        SUBJECTS[0]
    );
    println!(
        "  {} / {} = {}, so {} * 1 + {} * {} = {}. Training normalised with {} / {n} = {}.\n",
        num(m.sq_dev),
        n - 1,
        num(m.unbiased_var()),
        num(1.0 - momentum),
        num(momentum),
        num(m.unbiased_var()),
        num(running_var[0] as f64),
        num(m.sq_dev),
        num(m.biased_var())
    );

    // Eval mode: one new student, normalised with the running statistics.
    bn.eval();
    let student = |values: [f32; 3]| {
        let listed: Vec<String> = values.iter().map(|&v| num(v as f64)).collect();
        format!("[[{}]]", listed.join(", "))
    };
    let test = Tensor::from_vec(NEW_STUDENT.to_vec(), &[1, c]);
    let out = bn.forward(&test).to_vec();
    println!("eval on {}:      [{}]", student(NEW_STUDENT), vector(&out));
    let largest = out.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    // Standard scores mostly lie within ±3; far outside that calls for an explanation.
    if largest > 3.0 {
        println!(
            "  why so large? Eval mode uses the running statistics, which after one step are still"
        );
    } else {
        println!("  why these values? Eval mode uses the running statistics, which after one step are still");
    }
    let x = NEW_STUDENT[0] as f64;
    let (rm, rv) = (running_mean[0] as f64, running_var[0] as f64);
    println!(
        "  far from the data: for {} ({} - {}) / sqrt({} + {eps_text}) = {}. With this batch's",
        SUBJECTS[0],
        num(x),
        num(rm),
        num(rv),
        two((x - rm) / (rv + eps).sqrt())
    );
    println!(
        "  own statistics it would be ({} - {}) / sqrt({} + {eps_text}) = {}.\n",
        num(x),
        num(m.mean),
        num(m.biased_var()),
        two((x - m.mean) / (m.biased_var() + eps).sqrt())
    );

    // A second layer, trained on the same batch until its running statistics have settled.
    let mut settled = nn::BatchNorm1d::new(c);
    for _ in 0..SETTLE_STEPS {
        settled.forward(&scores);
    }
    settled.eval();
    println!("after {SETTLE_STEPS} training steps on this same batch, the running statistics have settled:");
    let two_each = |t: Tensor| {
        let v: Vec<String> = t.to_vec().iter().map(|&v| two(v as f64)).collect();
        format!("[{}]", v.join(", "))
    };
    println!(
        "running_mean: {}    running_var: {}",
        two_each(settled.running_mean()),
        two_each(settled.running_var())
    );
    println!(
        "  the batch's mean and its unbiased variance ({}: {} / {} = {}).",
        SUBJECTS[0],
        num(m.sq_dev),
        n - 1,
        num(m.unbiased_var())
    );
    let out = settled.forward(&test).to_vec();
    println!("eval on {}:      [{}]", student(NEW_STUDENT), vector(&out));
    let z = tidy(out[0] as f64);
    let why = if z == 0.0 {
        format!("{} is the average", num(x))
    } else {
        let side = if z < 0.0 { "below" } else { "above" };
        format!(
            "{side} 0, as {} is {side} the average of {}",
            num(x),
            num(m.mean)
        )
    };
    println!(
        "  {} in {} now comes out at {z:.4}: {why}.\n",
        num(x),
        SUBJECTS[0]
    );

    // The same batch in eval mode, next to its training-mode outputs.
    let eval_out = settled.forward(&scores);
    println!("the batch itself in eval mode:\n{}", matrix(&eval_out));
    // How much each column's spread shrank: eval std / training std, per column.
    let eval_vec = eval_out.to_vec();
    let eval_cols = columns(&eval_vec, c);
    let ratios: Vec<f64> = eval_cols
        .iter()
        .zip(&after)
        .filter(|(_, t)| t.std() > 1e-3)
        .map(|(e, t)| e.std() / t.std())
        .collect();
    let lo = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if ratios.is_empty() {
        println!("  every training-mode output is 0, so there is nothing to compare.");
    } else if hi - lo < 1e-3 {
        println!(
            "  only {:.4} times the training outputs: each column's spread shrank by that factor",
            (lo + hi) / 2.0
        );
        println!(
            "  (student 1's {} score: {:.4} here, {:.4} in training).",
            SUBJECTS[0], eval_vec[0], train_out[0]
        );
    } else {
        println!(
            "  each column's spread is between {lo:.4} and {hi:.4} times its spread in training."
        );
    }
    println!(
        "  Eval divides by the unbiased standard deviation (n - 1 = {}), training by the biased one",
        n - 1
    );
    println!(
        "  (n = {n}): sqrt({} / {n}) = {:.4}. With the thousands of values per channel of a CNN's batch,",
        n - 1,
        (((n - 1) as f64) / n as f64).sqrt()
    );
    println!("  the two are practically equal.");
}
