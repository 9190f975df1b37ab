//! Proves the graders work, in three directions: every grader passes the reference
//! solution, reports the untouched stub as "not started", and fails the plausible wrong
//! solution (a grader that cannot fail is a defect). This is the suite CI runs.
//!
//! The reference and wrong solutions are compiled here and nowhere else, so deleting
//! `solutions/` and `wrong/` (with this file) leaves a learner's build intact.

use kindling_exercises::grade::{self, Failure};

#[path = "../solutions"]
mod solutions {
    pub mod m1_autograd;
    pub mod m2_linear;
    pub mod m3_softmax;
    pub mod m4_conv;
    pub mod m5_batchnorm;
    pub mod m6_optim;
    pub mod m7_capstone;
}

#[path = "../wrong"]
mod wrong {
    pub mod m1_autograd;
    pub mod m2_linear;
    pub mod m3_softmax;
    pub mod m4_conv;
    pub mod m5_batchnorm;
    pub mod m6_optim;
    pub mod m7_capstone;
}

/// Runs one grader three ways: on the solution, the stub and the wrong solution.
fn three_ways(
    solution: Result<(), Failure>,
    stub: Result<(), Failure>,
    wrong: Result<(), Failure>,
) {
    if let Err(e) = solution {
        panic!("the grader fails the reference solution:\n{e}");
    }
    match stub {
        Err(e) if e.is_not_started() => {}
        Err(e) => panic!("the untouched stub should be 'not started', got:\n{e}"),
        Ok(()) => panic!("the grader passes the untouched stub"),
    }
    match wrong {
        Err(e) if !e.is_not_started() => {
            // The failure must point the learner somewhere.
            assert!(!e.hint.is_empty(), "a failure without a hint: {e}");
            println!("wrong solution caught: {e}");
        }
        Err(e) => panic!("the wrong solution was taken for a stub: {e}"),
        Ok(()) => panic!("the grader passes the wrong solution: it cannot fail"),
    }
}

/// `grader!(test_name, grader, item)`: one test running `grader` on `item` from the
/// solutions, the stubs (`kindling_exercises::<module>`) and the wrong solutions.
macro_rules! grader {
    ($test:ident, $module:ident :: $grader:ident, $($item:ident)::+) => {
        #[test]
        fn $test() {
            three_ways(
                grade::$module::$grader(solutions::$module::$($item)::+),
                grade::$module::$grader(kindling_exercises::$module::$($item)::+),
                grade::$module::$grader(wrong::$module::$($item)::+),
            );
        }
    };
}

grader!(grader_1_1, m1_autograd::grade_sum_to, sum_to);
grader!(grader_1_2, m1_autograd::grade_mul, Mul);
grader!(grader_1_3, m1_autograd::grade_div, Div);
grader!(grader_1_4, m1_autograd::grade_exp, Exp);
grader!(grader_1_5, m1_autograd::grade_log, Log);
grader!(grader_1_6, m1_autograd::grade_tanh, Tanh);
grader!(grader_1_7, m1_autograd::grade_sigmoid, Sigmoid);
grader!(grader_2_1, m2_linear::grade_linear, linear);
grader!(grader_2_2, m2_linear::grade_linear_backward, Linear);
grader!(grader_3_1, m3_softmax::grade_log_softmax, log_softmax);
grader!(grader_3_2, m3_softmax::grade_cross_entropy, cross_entropy);
grader!(
    grader_3_3,
    m3_softmax::grade_cross_entropy_backward,
    CrossEntropy
);
grader!(grader_4_1, m4_conv::grade_im2col, im2col);
grader!(grader_4_2, m4_conv::grade_col2im, col2im);
grader!(grader_4_3, m4_conv::grade_conv2d, conv2d);
grader!(grader_4_4, m4_conv::grade_conv2d_backward, Conv2d::new);
grader!(grader_4_5, m4_conv::grade_max_pool2d, max_pool2d);
grader!(
    grader_4_6,
    m4_conv::grade_max_pool2d_backward,
    MaxPool2d::new
);
grader!(
    grader_5_1,
    m5_batchnorm::grade_batch_norm_train,
    batch_norm_train
);
grader!(
    grader_5_2,
    m5_batchnorm::grade_batch_norm_eval,
    batch_norm_eval
);
grader!(
    grader_5_3,
    m5_batchnorm::grade_update_running_stats,
    update_running_stats
);
grader!(
    grader_5_4,
    m5_batchnorm::grade_batch_norm_backward,
    BatchNorm
);
grader!(grader_5_5, m5_batchnorm::grade_class_scores, class_scores);
grader!(grader_6_1, m6_optim::grade_sgd, sgd_step);
grader!(grader_6_2, m6_optim::grade_adam, adam_step);

/// `capstone!(test_name, grader, item)`: as `grader!`, for module 7, whose graders also
/// take the parts from modules 2 to 6: the reference solutions' in all three runs, so that
/// only the capstone's own code is on trial.
macro_rules! capstone {
    ($test:ident, $grader:ident, $item:ident) => {
        #[test]
        fn $test() {
            let parts = solutions::m7_capstone::parts();
            three_ways(
                grade::m7_capstone::$grader(parts, solutions::m7_capstone::$item),
                grade::m7_capstone::$grader(parts, kindling_exercises::m7_capstone::$item),
                grade::m7_capstone::$grader(parts, wrong::m7_capstone::$item),
            );
        }
    };
}

capstone!(grader_7_1, grade_forward, forward);
capstone!(grader_7_2, grade_train_step, train_step);
capstone!(grader_7_3, grade_train, train);

/// The capstone's promise: the reference solutions train the network to 97% test accuracy
/// on MNIST in 250 steps. A release build takes under two minutes (see exercises/README.md):
/// `cargo test --release -p kindling-exercises --test graders capstone_full_run --
/// --ignored --nocapture`.
#[test]
#[ignore = "the full MNIST run; use --release and -- --ignored"]
fn capstone_full_run() {
    let accuracy = grade::m7_capstone::full_run(
        solutions::m7_capstone::parts(),
        solutions::m7_capstone::train,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(accuracy >= 0.97, "test accuracy {accuracy}, below 97%");
}

/// The registry the scoreboard and the task tests use lists exactly these tasks.
#[test]
fn every_task_has_a_grader_test() {
    let ids: Vec<&str> = kindling_exercises::tasks().iter().map(|t| t.id).collect();
    assert_eq!(
        ids,
        [
            "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "2.1", "2.2", "3.1", "3.2", "3.3",
            "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "5.1", "5.2", "5.3", "5.4", "5.5", "6.1",
            "6.2", "7.1", "7.2", "7.3"
        ]
    );
}
