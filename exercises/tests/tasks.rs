//! Your tasks, one test each: `task_5_3` grades task 5.3 in `src/m5_batchnorm.rs`.
//!
//! They are `#[ignore]`d so that `cargo test --workspace` stays green on a fresh clone,
//! where every task is still `todo!()`. Run one with
//! `cargo test -p kindling-exercises task_5_3 -- --ignored`, a module with `task_5_`, all
//! of them with `-- --ignored` alone (or see them all with the scoreboard:
//! `cargo run -p kindling-exercises --bin scoreboard`).

/// Grades the task with this id, failing with the grader's report.
fn grade(id: &str) {
    let task = kindling_exercises::tasks()
        .into_iter()
        .find(|t| t.id == id)
        .expect("a task with this id");
    if let Err(e) = (task.run)() {
        panic!("task {id} ({}): {e}", task.name);
    }
}

macro_rules! tasks {
    ($($test:ident = $id:literal),* $(,)?) => {$(
        #[test]
        #[ignore = "a learner's task: run it with -- --ignored"]
        fn $test() {
            grade($id);
        }
    )*};
}

tasks!(
    task_1_1 = "1.1",
    task_1_2 = "1.2",
    task_1_3 = "1.3",
    task_1_4 = "1.4",
    task_1_5 = "1.5",
    task_1_6 = "1.6",
    task_1_7 = "1.7",
    task_2_1 = "2.1",
    task_2_2 = "2.2",
    task_3_1 = "3.1",
    task_3_2 = "3.2",
    task_3_3 = "3.3",
    task_4_1 = "4.1",
    task_4_2 = "4.2",
    task_4_3 = "4.3",
    task_4_4 = "4.4",
    task_4_5 = "4.5",
    task_4_6 = "4.6",
    task_5_1 = "5.1",
    task_5_2 = "5.2",
    task_5_3 = "5.3",
    task_5_4 = "5.4",
    task_5_5 = "5.5",
    task_6_1 = "6.1",
    task_6_2 = "6.2",
    task_7_1 = "7.1",
    task_7_2 = "7.2",
    task_7_3 = "7.3",
);
