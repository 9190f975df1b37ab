//! Optimizer and scheduler state as plain data, for checkpoints, and [`OptimError`].
//!
//! A checkpoint must hold everything that makes the next step come out the same: the
//! hyperparameters, every momentum buffer or Adam moment, and Adam's per-parameter step
//! counter. Per parameter, the buffers are named as in PyTorch's
//! `optimizer.state_dict()["state"][i]` ([`ParamState`]), so each optimizer stores only
//! what it keeps. These types hold exactly that, as `Vec<f32>` and `f64`, with no tensors and no
//! references to the parameters, so that they serialise with serde and can be checked
//! field by field before anything is restored. JSON keeps every `f32` and `f64` exactly
//! if the reader parses exactly: with serde_json, enable its `float_roundtrip` feature
//! (without it, an `f64` such as a scheduler's lr can come back one unit in the last
//! place off, and the resumed schedule drifts from the original). JSON cannot hold NaN or
//! infinity at all (serde_json writes them as `null`), which is why kindling's own
//! training checkpoints store this state in a binary encoding (postcard).
//!
//! Loading is all-or-nothing: `load_state_dict` validates the whole state first and only
//! then overwrites, so an `Err` leaves the optimizer or scheduler exactly as it was.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest step or epoch counter a loaded state may hold: 2^53.
///
/// Every count up to it is exact as an `f64` (PyTorch keeps Adam's `step` as a float, and
/// JSON numbers are doubles), no run comes near it (a million steps a second for 285
/// years), and a loop counting on from it in `u64` or `usize` cannot overflow. A larger
/// count, such as `u64::MAX` in a crafted file, is refused on load instead of overflowing
/// at the next step.
///
/// ```
/// assert_eq!(kindling::optim::MAX_COUNTER, 9_007_199_254_740_992);
/// assert_eq!(kindling::optim::MAX_COUNTER as f64 as u64, kindling::optim::MAX_COUNTER);
/// ```
pub const MAX_COUNTER: u64 = 1 << 53;

/// Which optimizer produced an [`OptimizerState`]. Serialised as `"sgd"`, `"adam"`, `"adamw"`.
///
/// ```
/// use kindling::optim::OptimizerKind;
/// assert_eq!(OptimizerKind::AdamW.as_str(), "adamw");
/// assert_eq!(serde_json::to_string(&OptimizerKind::Sgd).unwrap(), "\"sgd\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// [`Sgd`](crate::Sgd).
    #[serde(rename = "sgd")]
    Sgd,
    /// [`Adam`](crate::Adam).
    #[serde(rename = "adam")]
    Adam,
    /// [`AdamW`](crate::AdamW).
    #[serde(rename = "adamw")]
    AdamW,
}

impl OptimizerKind {
    /// The lower-case name used in serialised state: `"sgd"`, `"adam"` or `"adamw"`.
    ///
    /// ```
    /// use kindling::optim::OptimizerKind;
    /// assert_eq!(OptimizerKind::Adam.as_str(), "adam");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SGD's hyperparameters, as PyTorch holds them: `f64` (Python floats).
///
/// ```
/// use kindling::optim::{Optimizer, Sgd, Hyperparameters};
/// use kindling::Tensor;
/// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1).momentum(0.9);
/// let Hyperparameters::Sgd(hp) = opt.state_dict().hparams else { unreachable!() };
/// assert_eq!((hp.lr, hp.momentum), (0.1, 0.9)); // exactly the decimals written above
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SgdHparams {
    /// Learning rate, `>= 0`.
    pub lr: f64,
    /// Momentum factor, `>= 0`; 0 turns momentum off.
    pub momentum: f64,
    /// Dampening of the gradient's share in the momentum buffer (from the second step on).
    pub dampening: f64,
    /// L2 penalty folded into the gradient, `>= 0`.
    pub weight_decay: f64,
    /// Nesterov momentum; needs `momentum > 0` and `dampening == 0`.
    pub nesterov: bool,
}

/// Adam's and AdamW's hyperparameters, as PyTorch holds them: `f64` (Python floats).
///
/// ```
/// use kindling::optim::{AdamW, Hyperparameters, Optimizer};
/// use kindling::Tensor;
/// let opt = AdamW::new(vec![Tensor::zeros(&[1])], 1e-3);
/// let Hyperparameters::Adam(hp) = opt.state_dict().hparams else { unreachable!() };
/// assert_eq!(hp.betas, [0.9, 0.999]);
/// assert_eq!(hp.weight_decay, 0.01); // AdamW's default
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamHparams {
    /// Learning rate, `>= 0`.
    pub lr: f64,
    /// Decay rates of the first and second moment averages, each in `[0, 1)`.
    pub betas: [f64; 2],
    /// Added to the denominator for numerical stability, `>= 0`.
    pub eps: f64,
    /// Weight decay, `>= 0`: folded into the gradient (Adam) or decoupled (AdamW).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

/// The hyperparameters in an [`OptimizerState`]; AdamW uses Adam's set.
///
/// ```
/// use kindling::optim::{Adam, Hyperparameters, Optimizer};
/// use kindling::Tensor;
/// let opt = Adam::new(vec![Tensor::zeros(&[1])], 1e-3).amsgrad(true);
/// assert!(matches!(opt.state_dict().hparams, Hyperparameters::Adam(hp) if hp.amsgrad));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hyperparameters {
    /// SGD's hyperparameters.
    Sgd(SgdHparams),
    /// Adam's or AdamW's hyperparameters.
    Adam(AdamHparams),
}

/// The state one optimizer keeps for one parameter, shaped as PyTorch's
/// `optimizer.state_dict()["state"][i]`: named buffers, each of the parameter's shape,
/// plus Adam's step counter.
///
/// | optimizer | `step` | buffers |
/// |---|---|---|
/// | SGD with momentum | `None` | `momentum_buffer` |
/// | SGD without momentum | `None` | none |
/// | Adam, AdamW | `Some(t)` | `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` once an AMSGrad step ran |
///
/// Nothing exists before the parameter's first step with a gradient, as in PyTorch, whose
/// `optimizer.state[p]` is filled lazily. The step counter is a field of its own rather
/// than a buffer because it is one count, not a tensor (PyTorch keeps it in a 0-d tensor
/// only so that compiled and CUDA-graph code can update it in place).
///
/// ```
/// use kindling::optim::{Optimizer, ParamState, Sgd};
/// use kindling::Tensor;
/// let p = Tensor::zeros(&[2]).requires_grad(true);
/// let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9);
/// assert!(opt.state_dict().params[0].is_empty());
/// p.set_grad(Some(Tensor::from_vec(vec![1.0, 2.0], &[2])));
/// opt.step();
/// let st = &opt.state_dict().params[0];
/// assert_eq!(st.shape, vec![2]);
/// // First step: the raw gradient.
/// assert_eq!(st.buffer(ParamState::MOMENTUM_BUFFER), Some(&[1.0, 2.0][..]));
/// assert_eq!(st.buffers.keys().collect::<Vec<_>>(), ["momentum_buffer"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamState {
    /// The parameter's shape; every buffer has this shape, stored flat, row-major.
    pub shape: Vec<usize>,
    /// Adam/AdamW: how many updates this parameter has had (its bias corrections use it).
    /// `None` for SGD and before the first update.
    pub step: Option<u64>,
    /// The buffers, by PyTorch's names (the associated constants below). A map in name
    /// order, so that the encoding of a state is the same every time.
    pub buffers: BTreeMap<String, Vec<f32>>,
}

impl ParamState {
    /// SGD's momentum buffer.
    pub const MOMENTUM_BUFFER: &'static str = "momentum_buffer";
    /// Adam's first moment average `m`.
    pub const EXP_AVG: &'static str = "exp_avg";
    /// Adam's second moment average `v`.
    pub const EXP_AVG_SQ: &'static str = "exp_avg_sq";
    /// AMSGrad's running maximum of `v`.
    pub const MAX_EXP_AVG_SQ: &'static str = "max_exp_avg_sq";

    /// A state with no step and no buffers, for a parameter of this shape.
    ///
    /// ```
    /// use kindling::optim::ParamState;
    /// let st = ParamState::empty(&[3, 4]);
    /// assert_eq!(st.shape, vec![3, 4]);
    /// assert!(st.step.is_none() && st.buffers.is_empty());
    /// ```
    pub fn empty(shape: &[usize]) -> ParamState {
        ParamState {
            shape: shape.to_vec(),
            step: None,
            buffers: BTreeMap::new(),
        }
    }

    /// Builder: adds (or replaces) the buffer `name`.
    ///
    /// ```
    /// use kindling::optim::ParamState;
    /// let st = ParamState::empty(&[2]).with_buffer(ParamState::MOMENTUM_BUFFER, vec![0.5, 1.0]);
    /// assert_eq!(st.buffer("momentum_buffer"), Some(&[0.5, 1.0][..]));
    /// ```
    pub fn with_buffer(mut self, name: impl Into<String>, values: Vec<f32>) -> ParamState {
        self.buffers.insert(name.into(), values);
        self
    }

    /// The buffer `name`, if this state has one.
    ///
    /// ```
    /// use kindling::optim::ParamState;
    /// assert_eq!(ParamState::empty(&[2]).buffer(ParamState::EXP_AVG), None);
    /// ```
    pub fn buffer(&self, name: &str) -> Option<&[f32]> {
        self.buffers.get(name).map(Vec::as_slice)
    }

    /// Whether the state holds nothing yet: no step and no buffer.
    ///
    /// ```
    /// use kindling::optim::ParamState;
    /// let mut st = ParamState::empty(&[1]);
    /// assert!(st.is_empty());
    /// st.step = Some(1);
    /// assert!(!st.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.step.is_none() && self.buffers.is_empty()
    }
}

/// Everything an optimizer needs to continue exactly where it stopped: what it is, its
/// hyperparameters, and its per-parameter state in parameter order. Get it from
/// [`Optimizer::state_dict`](crate::Optimizer::state_dict), restore it with
/// [`Optimizer::load_state_dict`](crate::Optimizer::load_state_dict).
///
/// ```
/// use kindling::optim::{Optimizer, OptimizerKind, OptimizerState, Sgd};
/// use kindling::Tensor;
/// let opt = Sgd::new(vec![Tensor::zeros(&[3])], 0.1);
/// let state = opt.state_dict();
/// assert_eq!(state.kind, OptimizerKind::Sgd);
/// let json = serde_json::to_string(&state).unwrap();
/// let back: OptimizerState = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, state);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Which optimizer wrote this state.
    pub kind: OptimizerKind,
    /// Its hyperparameters (the learning rate included): loading restores them too.
    pub hparams: Hyperparameters,
    /// One entry per parameter, in the order the optimizer was given them.
    pub params: Vec<ParamState>,
}

/// The schedule a [`SchedulerState`] belongs to, with that schedule's own arguments.
///
/// ```
/// use kindling::optim::{LrScheduler, Schedule, StepLr};
/// let s = StepLr::new(5, 0.5);
/// assert_eq!(s.state_dict().schedule, Schedule::StepLr { step_size: 5, gamma: 0.5 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// [`StepLr`](crate::StepLr).
    StepLr {
        /// Epochs between two decays.
        step_size: usize,
        /// Factor applied at each decay.
        gamma: f64,
    },
    /// [`CosineAnnealingLr`](crate::CosineAnnealingLr).
    CosineAnnealingLr {
        /// Half period of the cosine, in epochs.
        t_max: usize,
        /// The lowest learning rate.
        eta_min: f64,
    },
    /// [`LinearLr`](crate::LinearLr).
    LinearLr {
        /// Multiplier of the base lr at epoch 0.
        start_factor: f64,
        /// Multiplier of the base lr from `total_iters` on.
        end_factor: f64,
        /// Epochs the ramp takes.
        total_iters: usize,
    },
}

impl Schedule {
    /// The schedule's name: `"step_lr"`, `"cosine_annealing_lr"` or `"linear_lr"`.
    ///
    /// ```
    /// use kindling::optim::Schedule;
    /// assert_eq!(Schedule::CosineAnnealingLr { t_max: 10, eta_min: 0.0 }.name(), "cosine_annealing_lr");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::StepLr { .. } => "step_lr",
            Schedule::CosineAnnealingLr { .. } => "cosine_annealing_lr",
            Schedule::LinearLr { .. } => "linear_lr",
        }
    }
}

/// Everything a learning-rate scheduler needs to resume: its schedule, the epoch counter,
/// the base lr it started from and the last lr it set, both `f64` because the recursive
/// formulas chain from them.
///
/// ```
/// use kindling::optim::{LrScheduler, Optimizer, SchedulerState, Sgd, StepLr};
/// use kindling::Tensor;
/// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
/// let mut sched = StepLr::new(1, 0.5);
/// sched.attach(&mut opt);
/// sched.step(&mut opt);
/// let state: SchedulerState = sched.state_dict();
/// assert_eq!((state.last_epoch, state.base_lr, state.last_lr), (1, Some(0.1), Some(0.05)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerState {
    /// Which schedule, with its arguments (loading restores them).
    pub schedule: Schedule,
    /// How many times `step` has run since `attach` (PyTorch's `last_epoch`).
    pub last_epoch: usize,
    /// The optimizer's lr when the scheduler was attached; `None` if it never was.
    pub base_lr: Option<f64>,
    /// The lr the scheduler set last, full precision; `None` if never attached.
    pub last_lr: Option<f64>,
}

/// Why a state could not be loaded, or a hyperparameter was rejected.
///
/// The `Display` text names the value or the parameter that is wrong, and what was
/// expected instead.
///
/// ```
/// use kindling::optim::{Adam, OptimError, Optimizer, Sgd};
/// use kindling::Tensor;
/// let state = Adam::new(vec![Tensor::zeros(&[2])], 1e-3).state_dict();
/// let mut sgd = Sgd::new(vec![Tensor::zeros(&[2])], 0.1);
/// let err = sgd.load_state_dict(&state).unwrap_err();
/// assert!(matches!(err, OptimError::WrongKind { .. }));
/// assert_eq!(err.to_string(), "the state was saved by adam, not sgd");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimError {
    /// The state was written by another optimizer or another schedule.
    #[error("the state was saved by {found}, not {expected}")]
    WrongKind {
        /// What is loading it.
        expected: String,
        /// What wrote it.
        found: String,
    },
    /// The state holds a different number of parameters.
    #[error("the state holds {found} parameters but the optimizer has {expected}")]
    WrongParamCount {
        /// The optimizer's parameter count.
        expected: usize,
        /// The state's parameter count.
        found: usize,
    },
    /// A parameter's shape differs from the one in the state.
    #[error("parameter {param} has shape {expected:?} but the state has shape {found:?}")]
    WrongShape {
        /// The parameter's index, in the optimizer's order.
        param: usize,
        /// The optimizer's parameter shape.
        expected: Vec<usize>,
        /// The shape recorded in the state.
        found: Vec<usize>,
    },
    /// A parameter's buffers do not fit together (wrong length, missing or unexpected).
    #[error("state of parameter {param}: {reason}")]
    BadParamState {
        /// The parameter's index, in the optimizer's order.
        param: usize,
        /// What is wrong.
        reason: String,
    },
    /// A hyperparameter out of its range (as PyTorch's `ValueError`).
    #[error("{owner}: invalid {name}: {value} ({requirement})")]
    InvalidHyperparameter {
        /// The optimizer or schedule it belongs to, e.g. `"Sgd"`.
        owner: &'static str,
        /// The hyperparameter, e.g. `"lr"`.
        name: &'static str,
        /// Its value, as written.
        value: String,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A state whose parts do not fit together: an optimizer state whose hyperparameters
    /// are another optimizer's, or a scheduler state whose counters contradict each other.
    #[error("inconsistent state: {reason}")]
    InconsistentState {
        /// What is wrong.
        reason: String,
    },
}

/// `Err` unless `ok`; the value is formatted as `Display` prints it (`0.1`, `-1`, `NaN`).
pub(crate) fn require(
    ok: bool,
    owner: &'static str,
    name: &'static str,
    value: impl fmt::Display,
    requirement: &'static str,
) -> Result<(), OptimError> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            name,
            value: value.to_string(),
            requirement,
        })
    }
}

/// Checks that the state has one entry per parameter, each with the parameter's shape,
/// and that every buffer present holds exactly `numel` values.
pub(crate) fn check_params(
    params: &[kindling_core::Tensor],
    state: &OptimizerState,
) -> Result<(), OptimError> {
    if state.params.len() != params.len() {
        return Err(OptimError::WrongParamCount {
            expected: params.len(),
            found: state.params.len(),
        });
    }
    for (i, (p, st)) in params.iter().zip(&state.params).enumerate() {
        if st.shape != p.shape() {
            return Err(OptimError::WrongShape {
                param: i,
                expected: p.shape().to_vec(),
                found: st.shape.clone(),
            });
        }
        for (name, b) in &st.buffers {
            if b.len() != p.numel() {
                return Err(OptimError::BadParamState {
                    param: i,
                    reason: format!(
                        "{} holds {} values but shape {:?} needs {}",
                        name.escape_debug(),
                        b.len(),
                        p.shape(),
                        p.numel()
                    ),
                });
            }
        }
    }
    Ok(())
}
