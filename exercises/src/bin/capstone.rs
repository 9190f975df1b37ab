//! The capstone's full run on your own code: trains the module 7 network (your forward,
//! training step and loop, on your pieces from modules 2 to 6) for 250 steps of 64 MNIST
//! images and prints the test accuracy; the goal is 97% or more.
//! `cargo run --release -p kindling-exercises --bin capstone` (under two minutes).

use kindling_exercises::given::Parts;
use kindling_exercises::grade::{m7_capstone, quiet_panics};
use std::process::ExitCode;

fn main() -> ExitCode {
    // The readiness check grades tasks 2.1 to 6.1 and reports any todo!() itself.
    quiet_panics();
    if let Err(e) = kindling_exercises::capstone_ready() {
        println!("{e}");
        return ExitCode::FAILURE;
    }
    match m7_capstone::full_run(Parts::yours(), kindling_exercises::m7_capstone::train) {
        Ok(accuracy) if accuracy >= 0.97 => {
            println!("97% reached: the capstone is done.");
            ExitCode::SUCCESS
        }
        Ok(_) => {
            println!("below 97%: check tasks 7.1 to 7.3 (`cargo test -p kindling-exercises task_7_ -- --ignored`).");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}
