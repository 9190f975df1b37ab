//! Learning-rate schedules: [`StepLr`], [`CosineAnnealingLr`], [`LinearLr`] (warm-up), and
//! the [`LrScheduler`] trait they share.
//!
//! PyTorch computes these with recursive ("chainable") formulas: each epoch's lr is made
//! from the previous epoch's lr, in `f64`, not from a closed form. The two differ in the
//! last bits (PyTorch's cosine ends a period at `0.10000000000000044`, not `0.1`), so this
//! file repeats the recursion, on an `f64` lr kept here: the optimizer only holds an `f32`.

use crate::state::{require, OptimError, Schedule, SchedulerState, MAX_COUNTER};
use crate::{widen, Optimizer};

/// A learning-rate schedule: a function of the epoch that sets an optimizer's lr.
///
/// Use: build the scheduler, [`attach`](LrScheduler::attach) it once to the optimizer
/// (this is what PyTorch's scheduler constructor does: it records the optimizer's lr as
/// the base lr and sets epoch 0's lr), then call [`step`](LrScheduler::step) once at the
/// end of every epoch, after the optimizer's steps.
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{LinearLr, LrScheduler, Optimizer, Sgd};
///
/// let mut opt = Sgd::new(vec![Tensor::zeros(&[1]).requires_grad(true)], 0.1);
/// let mut warmup = LinearLr::new(0.5, 1.0, 2);
/// warmup.attach(&mut opt);
/// let mut seen = vec![opt.lr()];
/// for _epoch in 0..3 {
///     // ... train one epoch with `opt` ...
///     warmup.step(&mut opt);
///     seen.push(opt.lr());
/// }
/// assert_eq!(seen, vec![0.05, 0.075, 0.1, 0.1]);
/// ```
pub trait LrScheduler {
    /// Starts the schedule on `opt`: the optimizer's current lr becomes the base lr, the
    /// epoch counter is 0, and epoch 0's lr is set (for [`LinearLr`], `base·start_factor`).
    /// Call it once; calling it again restarts the schedule from the optimizer's lr then.
    /// After [`load_state_dict`](LrScheduler::load_state_dict), do not call it.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{LinearLr, LrScheduler, Optimizer, Sgd};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = LinearLr::new(0.25, 1.0, 4);
    /// sched.attach(&mut opt);
    /// assert_eq!(opt.lr(), 0.025);
    /// assert_eq!(sched.last_epoch(), 0);
    /// ```
    fn attach(&mut self, opt: &mut dyn Optimizer);

    /// Advances one epoch and sets the optimizer's lr to that epoch's value.
    ///
    /// The recursion continues from the scheduler's own `f64` lr, unless the optimizer's
    /// lr no longer equals it (rounded to `f32`): then something else changed it (the user,
    /// or another scheduler on the same optimizer) and the recursion continues from the
    /// optimizer's value, as PyTorch's chainable schedulers do.
    ///
    /// # Panics
    /// If the scheduler was neither attached nor loaded from a state.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{LrScheduler, Optimizer, Sgd, StepLr};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = StepLr::new(2, 0.5);
    /// sched.attach(&mut opt);
    /// sched.step(&mut opt);
    /// assert_eq!(opt.lr(), 0.1);
    /// sched.step(&mut opt);
    /// assert_eq!(opt.lr(), 0.05);
    /// ```
    fn step(&mut self, opt: &mut dyn Optimizer);

    /// The lr set last, in full `f64` precision (PyTorch's `get_last_lr()[0]`).
    ///
    /// # Panics
    /// If the scheduler was neither attached nor loaded from a state.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{LrScheduler, Sgd, StepLr};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = StepLr::new(1, 0.1);
    /// sched.attach(&mut opt);
    /// sched.step(&mut opt);
    /// assert_eq!(sched.get_last_lr(), 0.010000000000000002); // 0.1 · 0.1 in f64
    /// ```
    fn get_last_lr(&self) -> f64;

    /// How many times [`step`](LrScheduler::step) has run since
    /// [`attach`](LrScheduler::attach) (PyTorch's `last_epoch`); 0 before attaching.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{CosineAnnealingLr, LrScheduler, Sgd};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = CosineAnnealingLr::new(10, 0.0);
    /// sched.attach(&mut opt);
    /// sched.step(&mut opt);
    /// assert_eq!(sched.last_epoch(), 1);
    /// ```
    fn last_epoch(&self) -> usize;

    /// Exports the schedule's arguments, the epoch counter, the base lr and the last lr.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{LrScheduler, Sgd, StepLr};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = StepLr::new(3, 0.1);
    /// sched.attach(&mut opt);
    /// let state = sched.state_dict();
    /// assert_eq!((state.last_epoch, state.base_lr), (0, Some(0.1)));
    /// ```
    fn state_dict(&self) -> SchedulerState;

    /// Restores a state exported by a scheduler of the same kind: arguments, epoch counter,
    /// base lr and last lr. The optimizer is not touched (its own state holds its lr); the
    /// next [`step`](LrScheduler::step) continues the schedule.
    ///
    /// # Errors
    /// If the state is another schedule's, an argument is out of range, a learning rate is
    /// negative or not finite, `last_epoch` is above [`MAX_COUNTER`](crate::MAX_COUNTER),
    /// the counters do not fit together, or the next step would give an lr that is
    /// negative or not finite. Nothing is changed then.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{LrScheduler, Optimizer, Sgd, StepLr};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// let mut sched = StepLr::new(2, 0.5);
    /// sched.attach(&mut opt);
    /// sched.step(&mut opt);
    /// let saved = sched.state_dict();
    ///
    /// let mut resumed = StepLr::new(2, 0.5);
    /// resumed.load_state_dict(&saved).unwrap();
    /// resumed.step(&mut opt);
    /// assert_eq!((resumed.last_epoch(), opt.lr()), (2, 0.05));
    /// ```
    fn load_state_dict(&mut self, state: &SchedulerState) -> Result<(), OptimError>;

    /// Checks `state` as [`load_state_dict`](LrScheduler::load_state_dict) would, and
    /// changes nothing. `Ok` is a promise: `load_state_dict` with the same state then
    /// succeeds (see [`Optimizer::check_state_dict`] for why restores need it).
    ///
    /// # Errors
    /// Those of `load_state_dict`.
    ///
    /// ```
    /// use kindling::optim::{CosineAnnealingLr, LrScheduler, StepLr};
    /// let state = StepLr::new(2, 0.5).state_dict();
    /// assert!(CosineAnnealingLr::new(10, 0.0).check_state_dict(&state).is_err());
    /// assert!(StepLr::new(5, 0.1).check_state_dict(&state).is_ok());
    /// ```
    fn check_state_dict(&self, state: &SchedulerState) -> Result<(), OptimError>;
}

/// Where a schedule is: present once attached (or loaded).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Progress {
    base_lr: f64,
    last_lr: f64,
    last_epoch: usize,
}

const FINITE: &str = "must be a finite number >= 0";

fn finite_non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

const NOT_ATTACHED: &str =
    "the scheduler is not attached to an optimizer: call attach(&mut opt) once first";

/// The `LrScheduler` impl, the same for every schedule: each only supplies
/// `lr_at(epoch, previous lr, base lr)` and the conversions to and from [`Schedule`].
macro_rules! lr_scheduler_impl {
    ($name:ident) => {
        impl LrScheduler for $name {
            fn attach(&mut self, opt: &mut dyn Optimizer) {
                let base_lr = widen(opt.lr());
                let lr = self.lr_at(0, base_lr, base_lr);
                opt.set_lr(lr as f32);
                self.progress = Some(Progress {
                    base_lr,
                    last_lr: lr,
                    last_epoch: 0,
                });
            }

            fn step(&mut self, opt: &mut dyn Optimizer) {
                let Some(progress) = self.progress else {
                    panic!("{}::step: {NOT_ATTACHED}", stringify!($name));
                };
                let seen = opt.lr();
                let previous = if seen == progress.last_lr as f32 {
                    progress.last_lr
                } else {
                    widen(seen)
                };
                // A loaded counter is at most MAX_COUNTER; saturating all the same, so
                // that no state can make this step overflow.
                let epoch = progress.last_epoch.saturating_add(1);
                let lr = self.lr_at(epoch, previous, progress.base_lr);
                opt.set_lr(lr as f32);
                self.progress = Some(Progress {
                    last_lr: lr,
                    last_epoch: epoch,
                    ..progress
                });
            }

            fn get_last_lr(&self) -> f64 {
                match self.progress {
                    Some(p) => p.last_lr,
                    None => panic!("{}::get_last_lr: {NOT_ATTACHED}", stringify!($name)),
                }
            }

            fn last_epoch(&self) -> usize {
                self.progress.map_or(0, |p| p.last_epoch)
            }

            fn state_dict(&self) -> SchedulerState {
                SchedulerState {
                    schedule: self.schedule(),
                    last_epoch: self.last_epoch(),
                    base_lr: self.progress.map(|p| p.base_lr),
                    last_lr: self.progress.map(|p| p.last_lr),
                }
            }

            fn load_state_dict(&mut self, state: &SchedulerState) -> Result<(), OptimError> {
                *self = self.restored(state)?;
                Ok(())
            }

            fn check_state_dict(&self, state: &SchedulerState) -> Result<(), OptimError> {
                self.restored(state).map(|_| ())
            }
        }

        impl $name {
            /// The scheduler `state` describes, checked in full: the same schedule, valid
            /// arguments and counters, and a next step that gives a usable lr.
            fn restored(&self, state: &SchedulerState) -> Result<$name, OptimError> {
                let mine = self.schedule();
                if std::mem::discriminant(&mine) != std::mem::discriminant(&state.schedule) {
                    return Err(OptimError::WrongKind {
                        expected: mine.name().into(),
                        found: state.schedule.name().into(),
                    });
                }
                let mut restored = $name::from_schedule(&state.schedule)?;
                restored.progress = progress_from_state(stringify!($name), state)?;
                if let Some(p) = restored.progress {
                    // Valid values can still contradict each other (a last lr far below
                    // eta_min); the next step would then hand the optimizer a negative or
                    // NaN lr, which `set_lr` refuses with a panic.
                    let next = restored.lr_at(p.last_epoch + 1, p.last_lr, p.base_lr);
                    if !(next.is_finite() && next >= 0.0) {
                        return Err(OptimError::InconsistentState {
                            reason: format!(
                                "the next step's lr would be {next} (from base_lr {}, last_lr \
                                 {} at epoch {}); the values do not fit the schedule",
                                p.base_lr, p.last_lr, p.last_epoch
                            ),
                        });
                    }
                }
                Ok(restored)
            }
        }
    };
}

fn progress_from_state(
    owner: &'static str,
    state: &SchedulerState,
) -> Result<Option<Progress>, OptimError> {
    require(
        state.last_epoch as u64 <= MAX_COUNTER,
        owner,
        "last_epoch",
        state.last_epoch,
        "must be at most 2^53 = 9007199254740992",
    )?;
    match (state.base_lr, state.last_lr) {
        (Some(base_lr), Some(last_lr)) => {
            for (name, lr) in [("base_lr", base_lr), ("last_lr", last_lr)] {
                require(finite_non_negative(lr), owner, name, lr, FINITE)?;
            }
            Ok(Some(Progress {
                base_lr,
                last_lr,
                last_epoch: state.last_epoch,
            }))
        }
        (None, None) if state.last_epoch == 0 => Ok(None),
        (None, None) => Err(OptimError::InconsistentState {
            reason: format!(
                "last_epoch is {} but there is no base lr (never attached)",
                state.last_epoch
            ),
        }),
        (base, last) => Err(OptimError::InconsistentState {
            reason: format!(
                "base_lr ({base:?}) and last_lr ({last:?}) must be both present or both absent"
            ),
        }),
    }
}

/// Multiplies the lr by `gamma` every `step_size` epochs, as
/// `torch.optim.lr_scheduler.StepLR`.
///
/// ```text
/// lr₀ = base,   lrₑ = lrₑ₋₁·γ  if e is a multiple of step_size,  else lrₑ₋₁
/// (= base·γ^⌊e / step_size⌋, up to rounding)
/// ```
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{LrScheduler, Optimizer, Sgd, StepLr};
/// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
/// let mut sched = StepLr::new(2, 0.5);
/// sched.attach(&mut opt);
/// let mut lrs = vec![sched.get_last_lr()];
/// for _ in 0..4 {
///     sched.step(&mut opt);
///     lrs.push(sched.get_last_lr());
/// }
/// assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StepLr {
    step_size: usize,
    gamma: f64,
    progress: Option<Progress>,
}

impl StepLr {
    /// Decay by `gamma` every `step_size` epochs.
    ///
    /// # Panics
    /// If `step_size` is 0 or `gamma` is negative, infinite or NaN.
    ///
    /// ```
    /// use kindling::optim::{LrScheduler, StepLr};
    /// let sched = StepLr::new(30, 0.1);
    /// assert_eq!(sched.last_epoch(), 0);
    /// ```
    pub fn new(step_size: usize, gamma: f64) -> StepLr {
        let schedule = Schedule::StepLr { step_size, gamma };
        StepLr::from_schedule(&schedule).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_schedule(schedule: &Schedule) -> Result<StepLr, OptimError> {
        let &Schedule::StepLr { step_size, gamma } = schedule else {
            unreachable!("checked by the caller")
        };
        require(
            step_size > 0,
            "StepLr",
            "step_size",
            step_size,
            "must be >= 1",
        )?;
        require(finite_non_negative(gamma), "StepLr", "gamma", gamma, FINITE)?;
        Ok(StepLr {
            step_size,
            gamma,
            progress: None,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::StepLr {
            step_size: self.step_size,
            gamma: self.gamma,
        }
    }

    fn lr_at(&self, epoch: usize, previous: f64, _base: f64) -> f64 {
        if epoch == 0 || !epoch.is_multiple_of(self.step_size) {
            previous
        } else {
            previous * self.gamma
        }
    }
}

lr_scheduler_impl!(StepLr);

/// Cosine annealing from the base lr down to `eta_min` over `t_max` epochs, as
/// `torch.optim.lr_scheduler.CosineAnnealingLR` (no restarts: past `t_max` the lr rises
/// back along the cosine, and so on, with period `2·t_max`).
///
/// ```text
/// lrₑ = η_min + (base − η_min)·(1 + cos(π·e/t_max))/2            (closed form)
/// ```
///
/// computed as PyTorch does, recursively:
///
/// ```text
/// lr₀ = base
/// lrₑ = lrₑ₋₁ + (base − η_min)·(1 − cos(π/t_max))/2      if (e − 1 − t_max) mod 2·t_max = 0
/// lrₑ = (1 + cos(π·e/t_max)) / (1 + cos(π·(e − 1)/t_max))·(lrₑ₋₁ − η_min) + η_min   otherwise
/// ```
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{CosineAnnealingLr, LrScheduler, Sgd};
/// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
/// let mut sched = CosineAnnealingLr::new(2, 0.0);
/// sched.attach(&mut opt);
/// sched.step(&mut opt);
/// assert!((sched.get_last_lr() - 0.05).abs() < 1e-15); // halfway down
/// sched.step(&mut opt);
/// assert!(sched.get_last_lr().abs() < 1e-15); // at the bottom
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CosineAnnealingLr {
    t_max: usize,
    eta_min: f64,
    progress: Option<Progress>,
}

impl CosineAnnealingLr {
    /// Anneal to `eta_min` over `t_max` epochs.
    ///
    /// # Panics
    /// If `t_max` is 0 or `eta_min` is negative, infinite or NaN.
    ///
    /// ```
    /// use kindling::optim::{CosineAnnealingLr, LrScheduler};
    /// let sched = CosineAnnealingLr::new(100, 1e-5);
    /// assert_eq!(sched.last_epoch(), 0);
    /// ```
    pub fn new(t_max: usize, eta_min: f64) -> CosineAnnealingLr {
        let schedule = Schedule::CosineAnnealingLr { t_max, eta_min };
        CosineAnnealingLr::from_schedule(&schedule).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_schedule(schedule: &Schedule) -> Result<CosineAnnealingLr, OptimError> {
        let &Schedule::CosineAnnealingLr { t_max, eta_min } = schedule else {
            unreachable!("checked by the caller")
        };
        let owner = "CosineAnnealingLr";
        require(t_max > 0, owner, "t_max", t_max, "must be >= 1")?;
        require(
            finite_non_negative(eta_min),
            owner,
            "eta_min",
            eta_min,
            FINITE,
        )?;
        Ok(CosineAnnealingLr {
            t_max,
            eta_min,
            progress: None,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::CosineAnnealingLr {
            t_max: self.t_max,
            eta_min: self.eta_min,
        }
    }

    fn lr_at(&self, epoch: usize, previous: f64, base: f64) -> f64 {
        use std::f64::consts::PI;
        let t_max = self.t_max as f64;
        let eta_min = self.eta_min;
        if epoch == 0 {
            return previous;
        }
        // Python's `%` is a floor modulo: the remainder is never negative.
        let phase = (epoch as i128 - 1 - self.t_max as i128).rem_euclid(2 * self.t_max as i128);
        if phase == 0 {
            // At the bottom the ratio below would be 0/0: PyTorch adds the first step of
            // the rising half instead.
            previous + (base - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            let e = epoch as f64;
            (1.0 + (PI * e / t_max).cos()) / (1.0 + (PI * (e - 1.0) / t_max).cos())
                * (previous - eta_min)
                + eta_min
        }
    }
}

lr_scheduler_impl!(CosineAnnealingLr);

/// Linear warm-up: multiplies the base lr by a factor going linearly from
/// `start_factor` to `end_factor` over `total_iters` epochs, then keeps it, as
/// `torch.optim.lr_scheduler.LinearLR`.
///
/// ```text
/// lrₑ = base·(s + (f − s)·min(e, total_iters)/total_iters)        (closed form)
/// ```
///
/// computed as PyTorch does, recursively (s = start_factor, f = end_factor, n = total_iters):
///
/// ```text
/// lr₀ = base·s
/// lrₑ = lrₑ₋₁·(1 + (f − s) / (n·s + (e − 1)·(f − s)))     for 1 ≤ e ≤ n
/// lrₑ = lrₑ₋₁                                            for e > n
/// ```
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{LinearLr, LrScheduler, Optimizer, Sgd};
/// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
/// let mut warmup = LinearLr::new(0.1, 1.0, 5);
/// warmup.attach(&mut opt);
/// assert_eq!(opt.lr(), 0.01);
/// for _ in 0..5 {
///     warmup.step(&mut opt);
/// }
/// assert_eq!(opt.lr(), 0.1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinearLr {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    progress: Option<Progress>,
}

impl LinearLr {
    /// Ramp the lr's factor from `start_factor` to `end_factor` over `total_iters` epochs.
    ///
    /// # Panics
    /// As PyTorch: if `start_factor` is not in `(0, 1]` or `end_factor` not in `[0, 1]`.
    ///
    /// ```
    /// use kindling::optim::{LinearLr, LrScheduler};
    /// let warmup = LinearLr::new(1.0 / 3.0, 1.0, 5);
    /// assert_eq!(warmup.last_epoch(), 0);
    /// ```
    pub fn new(start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLr {
        let schedule = Schedule::LinearLr {
            start_factor,
            end_factor,
            total_iters,
        };
        LinearLr::from_schedule(&schedule).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_schedule(schedule: &Schedule) -> Result<LinearLr, OptimError> {
        let &Schedule::LinearLr {
            start_factor,
            end_factor,
            total_iters,
        } = schedule
        else {
            unreachable!("checked by the caller")
        };
        require(
            start_factor > 0.0 && start_factor <= 1.0,
            "LinearLr",
            "start_factor",
            start_factor,
            "must be in (0, 1]",
        )?;
        require(
            (0.0..=1.0).contains(&end_factor),
            "LinearLr",
            "end_factor",
            end_factor,
            "must be in [0, 1]",
        )?;
        Ok(LinearLr {
            start_factor,
            end_factor,
            total_iters,
            progress: None,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::LinearLr {
            start_factor: self.start_factor,
            end_factor: self.end_factor,
            total_iters: self.total_iters,
        }
    }

    fn lr_at(&self, epoch: usize, previous: f64, _base: f64) -> f64 {
        let (s, f) = (self.start_factor, self.end_factor);
        if epoch == 0 {
            previous * s
        } else if epoch > self.total_iters {
            previous
        } else {
            let n = self.total_iters as f64;
            previous * (1.0 + (f - s) / (n * s + (epoch as f64 - 1.0) * (f - s)))
        }
    }
}

lr_scheduler_impl!(LinearLr);
