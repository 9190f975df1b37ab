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

/// Fails when `--batch-size` leaves not one full batch to train on.
pub fn batches_per_epoch(args: &Args, data: &Mnist) -> Result<usize, String> {
    let (n, b, images) = (loader(args, data).len(), args.batch_size, data.train.len());
    let none = || format!("--batch-size {b} leaves no full batch in the {images} training images");
    let per_epoch = args.limit.map_or(n, |limit| limit.min(n));
    (per_epoch > 0).then_some(per_epoch).ok_or_else(none)
}

/// Trains `v` from where it stands up to `args.epochs`. With `show` it draws the progress,
/// prints each epoch and saves a checkpoint after it; the learning-rate sweep does none.
pub fn train(v: &mut Variant, args: &Args, data: &Mnist, show: bool) -> Result<RunResult, String> {
    let loader = loader(args, data);
    let per_epoch = batches_per_epoch(args, data)?;
    let mut run = v.start();
    for epoch in v.first_epoch..args.epochs {
        let bar = report::progress_bar(v.name, epoch, per_epoch, show);
        run.start_epoch();
        for batch in loader.epoch(epoch).take(per_epoch) {
            let t0 = Instant::now();
            if let Some(d) = &mut v.diagnostics {
                d.begin(v.step);
            }
            let logits = v.model.call(&batch.images);
            let loss = cross_entropy(&logits, &batch.labels);
            v.opt.zero_grad();
            loss.backward();
            v.opt.step();
            if let Some(d) = &mut v.diagnostics {
                d.end();
            }
            v.step = v.step.checked_add(1).ok_or("the step counter overflowed")?;
            bar.set_message(run.record(v.step, t0, loss.item(), &logits, &batch.labels));
            bar.inc(1);
        }
        bar.set_message("evaluating on the test set ...");
        let accuracy = model::test_accuracy(&mut v.model, &data.test, args.batch_size);
        report::close_bar(bar, v.name, run.end_epoch(epoch + 1, accuracy), show);
        if show {
            v.save(&args.out, &run.epochs)?;
        }
    }
    run.finish();
    Ok(run)
}
