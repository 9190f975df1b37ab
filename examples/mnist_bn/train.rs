//! The training loop. Each batch gets the five steps of a PyTorch script (forward, loss,
//! zero_grad, backward, step); each epoch ends with the test-set accuracy and a checkpoint.

use std::time::Instant;

use kindling::data::{DataLoader, Mnist};
use kindling::nn::functional::cross_entropy;
use kindling::prelude::*;

use crate::metrics::RunResult;
use crate::{model, report, state::Variant, Args};

/// The training batches, reshuffled every epoch from the seed. The last, short batch is
/// dropped so that every step normalises over the same number of images.
pub fn loader<'a>(args: &Args, data: &'a Mnist) -> DataLoader<'a> {
    let loader = DataLoader::new(&data.train, args.batch_size);
    loader.shuffle(args.seed).drop_last(true)
}

pub fn batches_per_epoch(args: &Args, loader: &DataLoader) -> usize {
    args.limit.map_or(loader.len(), |l| l.min(loader.len()))
}

/// Trains `v` from where it stands up to `args.epochs`. With `show` it draws the progress,
/// prints each epoch and saves a checkpoint after it; the learning-rate sweep does none.
pub fn train(v: &mut Variant, args: &Args, data: &Mnist, show: bool) -> Result<RunResult, String> {
    let loader = loader(args, data);
    let per_epoch = batches_per_epoch(args, &loader);
    let mut run = v.start();
    for epoch in v.first_epoch..args.epochs {
        let bar = report::progress_bar(v.name, epoch, per_epoch, show);
        run.start_epoch();
        for batch in loader.epoch(epoch).take(per_epoch) {
            let t0 = Instant::now();
            let logits = v.model.forward(&batch.images);
            let loss = cross_entropy(&logits, &batch.labels);
            v.opt.zero_grad();
            loss.backward();
            v.opt.step();
            v.step += 1;
            bar.set_message(run.record(v.step, t0, loss.item(), &logits, &batch.labels));
            bar.inc(1);
        }
        bar.set_message("evaluating on the test set ...");
        let accuracy = model::test_accuracy(&mut v.model, &data.test, args.batch_size);
        let stats = run.end_epoch(epoch + 1, accuracy);
        if show {
            report::print_epoch(&bar, v.name, stats);
        }
        bar.finish_and_clear();
        if show {
            v.save(&args.out, &run.epochs)?;
        }
    }
    run.finish();
    Ok(run)
}
