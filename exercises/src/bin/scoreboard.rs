//! The scoreboard: grades every task of the track on your code and prints which passed,
//! which failed and which are not started, the report of the first failure, and a total.
//! `cargo run -p kindling-exercises --bin scoreboard`

use kindling_exercises::grade::{quiet_panics, FailureKind};

fn main() {
    // Each untouched task panics in its todo!(); the table says so in one word instead.
    quiet_panics();
    let tasks = kindling_exercises::tasks();
    let (mut passed, mut first_failure) = (0, None);
    println!("kindling exercises\n");
    for task in &tasks {
        let status = match (task.run)() {
            Ok(()) => {
                passed += 1;
                "passed"
            }
            Err(e) => {
                let word = match e.kind {
                    FailureKind::NotStarted => "not started",
                    _ => "FAILED",
                };
                if e.kind != FailureKind::NotStarted && first_failure.is_none() {
                    first_failure = Some((task.id, e));
                }
                word
            }
        };
        println!("  {:<4} {:<26} {status}", task.id, task.name);
    }
    println!("\n{passed} of {} tasks passed.", tasks.len());
    match first_failure {
        Some((id, e)) => println!("\nfirst failure, task {id}:\n  {e}"),
        None if passed < tasks.len() => {
            let next = tasks.iter().find(|t| (t.run)().is_err());
            if let Some(t) = next {
                println!(
                    "\nnext: task {} ({}): `cargo test -p kindling-exercises task_{} -- --ignored`",
                    t.id,
                    t.name,
                    t.id.replace('.', "_")
                );
            }
        }
        None => println!("\nEvery task passes: the track is done."),
    }
}
