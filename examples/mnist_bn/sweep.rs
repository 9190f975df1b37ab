//! `--lr-sweep`: both variants for a short run at each of three learning rates. At the
//! largest, the network without BatchNorm usually stops learning while the one with it
//! trains on: the clearest single demonstration of what BN is for.

use std::fmt::Write as _;

use indicatif::ProgressBar;
use kindling::data::Mnist;

use crate::{state::Variant, train, Args};

pub fn lr_sweep(args: &Args, data: &Mnist) -> Result<(), String> {
    let steps = args.limit.unwrap_or(300);
    let rates = [0.01f32, 0.1, 0.3];
    println!(
        "Learning-rate sweep: {steps} steps of {} per run, batch {}\n",
        args.optimizer, args.batch_size
    );
    let sweep_args = Args {
        epochs: 1,
        limit: Some(steps),
        resume: None,
        ..args.clone()
    };
    let mut rows = Vec::new();
    for &lr in &rates {
        for (name, bn) in [("bn", true), ("no_bn", false)] {
            let bar = ProgressBar::new_spinner();
            bar.set_message(format!("lr {lr}: training {name} ..."));
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let mut variant = Variant::new(name, bn, lr, &sweep_args, steps)?;
            let r = train::train(&mut variant, &sweep_args, data, false)?;
            bar.finish_and_clear();
            let e = r.epochs.last().cloned().ok_or("no epoch ran")?;
            println!(
                "lr {lr:<5} {name:<6} final train loss {:>8.4}  test accuracy {:>6.2}%",
                e.train_loss,
                e.test_accuracy * 100.0
            );
            rows.push((lr, name, e.train_loss, e.test_accuracy, r.diverged));
        }
    }
    println!("\n| lr | test acc (BN) | test acc (no BN) |\n|---:|---:|---:|");
    for pair in rows.chunks(2) {
        println!(
            "| {} | {:.2}% | {:.2}% |",
            pair[0].0,
            pair[0].3 * 100.0,
            pair[1].3 * 100.0
        );
    }
    let high = rows.iter().filter(|r| r.0 == 0.3).collect::<Vec<_>>();
    if let [bn, no_bn] = high[..] {
        println!(
            "\nAt lr 0.3 the model with BN reaches {:.1}% and the one without {:.1}%{}.",
            bn.3 * 100.0,
            no_bn.3 * 100.0,
            if no_bn.3 < 0.5 && bn.3 > 0.9 {
                ": without BN training collapses (chance is 10%), with BN it trains. BN keeps each layer's inputs at a steady scale, so a large step does not blow the activations up"
            } else {
                ""
            }
        );
    }
    let mut csv = String::from("lr,variant,train_loss,test_accuracy,diverged\n");
    for (lr, name, loss, acc, div) in &rows {
        let _ = writeln!(csv, "{lr},{name},{loss},{acc},{div}");
    }
    let path = args.out.join("lr_sweep.csv");
    std::fs::write(&path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("Wrote {}", path.display());
    Ok(())
}
