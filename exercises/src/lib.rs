//! # kindling-exercises
//!
//! The graded exercise track of the kindling book. Each module file (`m1_autograd.rs`,
//! ...) holds tasks whose bodies are `todo!()`: replace them. [`grade`] holds one grader
//! per task, and [`tasks`] lists every task with the grader run on your code, which the
//! scoreboard (`cargo run -p kindling-exercises --bin scoreboard`) and the `task_*` tests
//! use. See `exercises/README.md`.

pub mod given;
pub mod grade;
pub mod m1_autograd;
pub mod m2_linear;
pub mod m3_softmax;
pub mod m4_conv;
pub mod m5_batchnorm;
pub mod m6_optim;
pub mod m7_capstone;

use grade::{Failure, FailureKind};

/// One task: its number, its name, and its grader applied to your implementation.
pub struct Task {
    /// "5.3": module 5, task 3 (its test is `task_5_3`).
    pub id: &'static str,
    /// What you write.
    pub name: &'static str,
    /// Grades your code.
    pub run: fn() -> Result<(), Failure>,
}

/// Every task, in the order the book teaches them.
pub fn tasks() -> Vec<Task> {
    use grade::*;
    macro_rules! task {
        ($id:literal, $name:literal, $run:expr) => {
            Task {
                id: $id,
                name: $name,
                run: || $run,
            }
        };
    }
    vec![
        task!(
            "1.1",
            "sum_to",
            m1_autograd::grade_sum_to(crate::m1_autograd::sum_to)
        ),
        task!(
            "1.2",
            "Mul backward",
            m1_autograd::grade_mul(crate::m1_autograd::Mul)
        ),
        task!(
            "1.3",
            "Div backward",
            m1_autograd::grade_div(crate::m1_autograd::Div)
        ),
        task!(
            "1.4",
            "Exp backward",
            m1_autograd::grade_exp(crate::m1_autograd::Exp)
        ),
        task!(
            "1.5",
            "Log backward",
            m1_autograd::grade_log(crate::m1_autograd::Log)
        ),
        task!(
            "1.6",
            "Tanh backward",
            m1_autograd::grade_tanh(crate::m1_autograd::Tanh)
        ),
        task!(
            "1.7",
            "Sigmoid backward",
            m1_autograd::grade_sigmoid(crate::m1_autograd::Sigmoid)
        ),
        task!(
            "2.1",
            "linear forward",
            m2_linear::grade_linear(crate::m2_linear::linear)
        ),
        task!(
            "2.2",
            "Linear backward",
            m2_linear::grade_linear_backward(crate::m2_linear::Linear)
        ),
        task!(
            "3.1",
            "stable log_softmax",
            m3_softmax::grade_log_softmax(crate::m3_softmax::log_softmax)
        ),
        task!(
            "3.2",
            "cross_entropy",
            m3_softmax::grade_cross_entropy(crate::m3_softmax::cross_entropy)
        ),
        task!(
            "3.3",
            "CrossEntropy backward",
            m3_softmax::grade_cross_entropy_backward(crate::m3_softmax::CrossEntropy)
        ),
        task!(
            "4.1",
            "im2col",
            m4_conv::grade_im2col(crate::m4_conv::im2col)
        ),
        task!(
            "4.2",
            "col2im",
            m4_conv::grade_col2im(crate::m4_conv::col2im)
        ),
        task!(
            "4.3",
            "conv2d via im2col + matmul",
            m4_conv::grade_conv2d(crate::m4_conv::conv2d)
        ),
        task!(
            "4.4",
            "Conv2d backward",
            m4_conv::grade_conv2d_backward(crate::m4_conv::Conv2d::new)
        ),
        task!(
            "4.5",
            "max_pool2d with argmax",
            m4_conv::grade_max_pool2d(crate::m4_conv::max_pool2d)
        ),
        task!(
            "4.6",
            "MaxPool2d backward",
            m4_conv::grade_max_pool2d_backward(crate::m4_conv::MaxPool2d::new)
        ),
        task!(
            "5.1",
            "BatchNorm, training mode",
            m5_batchnorm::grade_batch_norm_train(crate::m5_batchnorm::batch_norm_train)
        ),
        task!(
            "5.2",
            "BatchNorm, eval mode",
            m5_batchnorm::grade_batch_norm_eval(crate::m5_batchnorm::batch_norm_eval)
        ),
        task!(
            "5.3",
            "running statistics",
            m5_batchnorm::grade_update_running_stats(crate::m5_batchnorm::update_running_stats)
        ),
        task!(
            "5.4",
            "BatchNorm backward",
            m5_batchnorm::grade_batch_norm_backward(crate::m5_batchnorm::BatchNorm)
        ),
        task!(
            "5.5",
            "the class-scores lesson",
            m5_batchnorm::grade_class_scores(crate::m5_batchnorm::class_scores)
        ),
        task!(
            "6.1",
            "SGD step",
            m6_optim::grade_sgd(crate::m6_optim::sgd_step)
        ),
        task!(
            "6.2",
            "Adam step",
            m6_optim::grade_adam(crate::m6_optim::adam_step)
        ),
        task!(
            "7.1",
            "the CNN's forward",
            capstone_ready().and_then(|()| m7_capstone::grade_forward(
                given::Parts::yours(),
                crate::m7_capstone::forward
            ))
        ),
        task!(
            "7.2",
            "a training step",
            capstone_ready().and_then(|()| m7_capstone::grade_train_step(
                given::Parts::yours(),
                crate::m7_capstone::train_step
            ))
        ),
        task!(
            "7.3",
            "training on MNIST",
            capstone_ready().and_then(|()| m7_capstone::grade_train(
                given::Parts::yours(),
                crate::m7_capstone::train
            ))
        ),
    ]
}

/// The tasks whose code the capstone's network runs (module 7).
pub const CAPSTONE_NEEDS: [&str; 15] = [
    "2.1", "2.2", "3.2", "3.3", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "5.1", "5.2", "5.3",
    "5.4", "6.1",
];

/// `Ok` when every task in [`CAPSTONE_NEEDS`] passes. Otherwise the capstone cannot start
/// (its network would run the failing code), and the failure names the tasks to finish.
pub fn capstone_ready() -> Result<(), Failure> {
    let missing: Vec<String> = tasks()
        .into_iter()
        .filter(|t| CAPSTONE_NEEDS.contains(&t.id) && (t.run)().is_err())
        .map(|t| format!("{} {}", t.id, t.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure {
        kind: FailureKind::NotStarted,
        check: "the capstone's parts".into(),
        detail: format!(
            "the network runs your code from modules 2 to 6; first make these pass: {}",
            missing.join(", ")
        ),
        hint: "",
    })
}
