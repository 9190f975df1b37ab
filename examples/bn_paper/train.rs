//! One variant's run: plain SGD on batches of 60, the test set scored at step 0 and every
//! `--eval-every` steps, and the watched sigmoid input caught by a forward hook while the
//! test set goes through.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kindling::data::{DataLoader, Mnist};
use kindling::nn::functional::cross_entropy;
use kindling::optim::Sgd;
use kindling::prelude::*;

use crate::model::{fill_batch, quantile, PaperNet, TestSet, PIXELS};
use crate::{Args, Curves, BATCH, LR};

/// What a run measured besides its curves, for the closing lines.
pub struct Timing {
    pub train: Duration,
    pub eval: Duration,
    pub steps: usize,
}

/// Trains `net` for `args.steps` steps, showing its progress on `bar`, and returns its
/// curves.
pub fn run(
    mut net: PaperNet,
    bar: ProgressBar,
    args: &Args,
    data: &Mnist,
    test: &TestSet,
) -> (Curves, Timing) {
    let mut opt = Sgd::new(net.parameters(), LR);
    // The loader is used only for its permutation: epoch e's order comes from (seed, e)
    // alone, so both variants see the same batches in the same order.
    let loader = DataLoader::new(&data.train, BATCH)
        .shuffle(args.seed)
        .drop_last(true);
    let per_epoch = loader.len();
    let x = Tensor::zeros(&[BATCH, PIXELS]);
    let mut labels = Vec::with_capacity(BATCH);
    let mut order = Vec::new();

    let t0 = Instant::now();
    let mut curves = Curves::default();
    let mut eval_time = evaluate(&mut net, test, 0, &mut curves);
    bar.set_message(last_point(&curves));
    for step in 0..args.steps {
        let (epoch, b) = (step / per_epoch, step % per_epoch);
        if b == 0 {
            order = loader.order(epoch);
        }
        fill_batch(
            &data.train,
            &order[b * BATCH..(b + 1) * BATCH],
            &x,
            &mut labels,
        );
        let loss = cross_entropy(&net.forward(&x), &labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        let done = step + 1;
        if done % args.eval_every == 0 || done == args.steps {
            eval_time += evaluate(&mut net, test, done, &mut curves);
            bar.set_message(last_point(&curves));
        }
        bar.inc(1);
    }
    let timing = Timing {
        train: t0.elapsed().saturating_sub(eval_time),
        eval: eval_time,
        steps: args.steps,
    };
    bar.finish();
    (curves, timing)
}

/// Scores the test set in eval mode and appends the point for `step` to `curves`; returns
/// how long it took. The hook lives only for this pass: during training it would copy a
/// column out of every batch for nothing.
fn evaluate(net: &mut PaperNet, test: &TestSet, step: usize, curves: &mut Curves) -> Duration {
    let t0 = Instant::now();
    net.eval();
    let seen = Arc::new(Mutex::new(Vec::with_capacity(test.len)));
    let sink = Arc::clone(&seen);
    // Unit 0 of the watched layer's output [N, 100] is every 100th value, row-major.
    let handle = net.watched().register_forward_hook(move |_input, output| {
        let units = output.shape()[1];
        let column = output
            .data()
            .iter()
            .step_by(units)
            .copied()
            .collect::<Vec<_>>();
        sink.lock().unwrap().extend(column);
    });
    let correct: usize = no_grad(|| {
        test.chunks()
            .map(|(x, labels)| {
                let predicted = net.forward(x).argmax(1).to_vec();
                let hits = predicted.iter().zip(labels);
                hits.filter(|&(&p, &l)| p as usize == l).count()
            })
            .sum()
    });
    handle.remove();
    net.train();

    let mut values = std::mem::take(&mut *seen.lock().unwrap());
    values.sort_by(f32::total_cmp);
    curves.step.push(step);
    curves.test_accuracy.push(correct as f64 / test.len as f64);
    curves.p15.push(quantile(&values, 0.15));
    curves.p50.push(quantile(&values, 0.50));
    curves.p85.push(quantile(&values, 0.85));
    t0.elapsed()
}

fn last_point(c: &Curves) -> String {
    let i = c.step.len() - 1;
    format!(
        "step {}: test acc {:.2}%, p15/p50/p85 {:.2}/{:.2}/{:.2}",
        c.step[i],
        c.test_accuracy[i] * 100.0,
        c.p15[i],
        c.p50[i],
        c.p85[i]
    )
}

/// The bar of one variant's run.
pub fn progress_bar(name: &str, steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>6} [{bar:30}] {pos:>6}/{len} {elapsed:>4} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar
}
