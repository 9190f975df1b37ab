//! Training checkpoints: everything needed to stop a run and resume it so that it goes on
//! exactly, bit for bit, as if it had never stopped.
//!
//! That is more than the weights: the optimizer's per-parameter state (momentum buffers,
//! Adam's moments and step counters) and hyperparameters, the learning-rate schedule's
//! position, the epoch and step counters, and the global random generator (which draws
//! dropout masks and any random data). Leave out any one and the resumed run drifts.
//!
//! The file is the native container with kind "training": the model's tensors in the
//! tensor section, then the rest encoded with postcard (exact for every `f32` and `f64`).

use std::collections::BTreeMap;
use std::path::Path;

use kindling_core::rng::{get_rng_state, set_rng_state, Xoshiro256};
use kindling_nn::{LoadReport, Module, StateDict};
use kindling_optim::{OptimError, Optimizer, OptimizerState, SchedulerState, MAX_COUNTER};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::format::{self, Kind};
use crate::native::load_checked;
use crate::CheckpointError;

// `LrScheduler` is used in signatures only.
use kindling_optim::LrScheduler;

/// Everything a training run needs to resume exactly.
///
/// Build it with [`capture`](TrainingCheckpoint::capture) at the end of a step, save it
/// with [`save_training`], and later [`load_training`] it and
/// [`restore`](TrainingCheckpoint::restore) it into freshly built objects.
///
/// ```
/// use kindling::checkpoint::{load_training, save_training, TrainingCheckpoint};
/// use kindling::Tensor;
/// use kindling::nn::{functional::mse_loss, Linear, Module};
/// use kindling::optim::{Optimizer, Sgd};
///
/// let model = Linear::new(2, 1);
/// let mut opt = Sgd::new(model.parameters(), 0.1).momentum(0.9);
/// let loss = mse_loss(&model.forward(&Tensor::ones(&[4, 2])), &Tensor::zeros(&[4, 1]));
/// loss.backward();
/// opt.step();
///
/// let path = std::env::temp_dir().join(format!("kindling-doc-train-{}.kdl", std::process::id()));
/// let ckpt = TrainingCheckpoint::capture(&model, &opt, 0, 1).with_extra("note", "first step");
/// save_training(&ckpt, &path).unwrap();
///
/// // Later, maybe in another process: build the same objects, then restore.
/// let mut model2 = Linear::new(2, 1);
/// let mut opt2 = Sgd::new(model2.parameters(), 0.5);
/// let back = load_training(&path).unwrap();
/// back.restore(&mut model2, &mut opt2).unwrap();
/// assert_eq!(model2.weight().to_vec(), model.weight().to_vec());
/// assert_eq!(opt2.lr(), 0.1);
/// assert_eq!((back.epoch, back.step), (0, 1));
/// assert_eq!(back.extra["note"], "first step");
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TrainingCheckpoint {
    /// The model's parameters and buffers (a snapshot: training on does not change it).
    pub model: StateDict,
    /// The optimizer's kind, hyperparameters and per-parameter state.
    pub optimizer: OptimizerState,
    /// The learning-rate scheduler's state, if the run uses one.
    pub scheduler: Option<SchedulerState>,
    /// The epoch counter, as the training loop counts it.
    pub epoch: u64,
    /// The step (batch) counter, as the training loop counts it.
    pub step: u64,
    /// The global random generator's state (`kindling::rng::get_rng_state`).
    pub rng: Xoshiro256,
    /// Anything else the run wants back: a data-order seed, a best loss, a note.
    pub extra: BTreeMap<String, String>,
}

/// The part of a [`TrainingCheckpoint`] after the tensors, as written (borrowed, so that
/// saving clones nothing) ...
#[derive(Serialize)]
struct StateRef<'a> {
    optimizer: &'a OptimizerState,
    scheduler: &'a Option<SchedulerState>,
    epoch: u64,
    step: u64,
    rng: &'a Xoshiro256,
    extra: &'a BTreeMap<String, String>,
}

/// ... and as read back. Same fields in the same order: postcard is not self-describing,
/// so the two must match exactly (a change here, or in a type they hold, needs a new
/// format version, and the old version's types kept as in `v1.rs`).
#[derive(Deserialize)]
pub(crate) struct StateOwned {
    pub(crate) optimizer: OptimizerState,
    pub(crate) scheduler: Option<SchedulerState>,
    pub(crate) epoch: u64,
    pub(crate) step: u64,
    pub(crate) rng: Xoshiro256,
    pub(crate) extra: BTreeMap<String, String>,
}

impl TrainingCheckpoint {
    /// Snapshots a run: the model's state dict (deep-copied), the optimizer's state, the
    /// global random generator, and the counters. No scheduler and no extras; add them
    /// with [`with_scheduler`](Self::with_scheduler) and [`with_extra`](Self::with_extra).
    ///
    /// ```
    /// use kindling::checkpoint::TrainingCheckpoint;
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::Adam;
    /// let model = Linear::new(3, 1);
    /// let opt = Adam::new(model.parameters(), 1e-3);
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, 2, 500);
    /// assert_eq!(ckpt.model.keys(), vec!["weight", "bias"]);
    /// assert_eq!((ckpt.epoch, ckpt.step), (2, 500));
    /// ```
    pub fn capture(model: &dyn Module, opt: &dyn Optimizer, epoch: u64, step: u64) -> Self {
        TrainingCheckpoint {
            model: model.state_dict().deep_copy(),
            optimizer: opt.state_dict(),
            scheduler: None,
            epoch,
            step,
            rng: get_rng_state(),
            extra: BTreeMap::new(),
        }
    }

    /// Adds the scheduler's state.
    ///
    /// ```
    /// use kindling::checkpoint::TrainingCheckpoint;
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::{LrScheduler, Sgd, StepLr};
    /// let model = Linear::new(3, 1);
    /// let mut opt = Sgd::new(model.parameters(), 0.1);
    /// let mut sched = StepLr::new(10, 0.5);
    /// sched.attach(&mut opt);
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, 0, 0).with_scheduler(&sched);
    /// assert!(ckpt.scheduler.is_some());
    /// ```
    pub fn with_scheduler(mut self, scheduler: &dyn LrScheduler) -> Self {
        self.scheduler = Some(scheduler.state_dict());
        self
    }

    /// Adds a `key = value` string to [`extra`](Self::extra).
    ///
    /// ```
    /// use kindling::checkpoint::TrainingCheckpoint;
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::Sgd;
    /// let model = Linear::new(1, 1);
    /// let opt = Sgd::new(model.parameters(), 0.1);
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, 0, 0).with_extra("best_loss", "0.25");
    /// assert_eq!(ckpt.extra["best_loss"], "0.25");
    /// ```
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Puts the run back: the model's weights and buffers, the optimizer's state and the
    /// global random generator. All or nothing: every part is checked before any is
    /// loaded (the optimizer through [`Optimizer::check_state_dict`]), so on an error the
    /// model, the optimizer and the generator are as they were.
    ///
    /// The scheduler, if any, is restored by
    /// [`restore_with_scheduler`](Self::restore_with_scheduler).
    ///
    /// # Errors
    /// [`CheckpointError::Mismatch`] if the model is another architecture,
    /// [`CheckpointError::Optimizer`] if the optimizer is of another kind or over other
    /// shapes, [`CheckpointError::BadState`] if the checkpoint holds a value no run can
    /// continue from (see [`load_training`]).
    ///
    /// # Panics
    /// If an `Optimizer` or `LrScheduler` implementation's `load_state_dict` refuses a
    /// state that its `check_state_dict` accepted (kindling's own never do).
    ///
    /// ```
    /// use kindling::checkpoint::{CheckpointError, TrainingCheckpoint};
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::{Adam, Sgd};
    /// let model = Linear::new(3, 1);
    /// let opt = Sgd::new(model.parameters(), 0.1);
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, 0, 0);
    ///
    /// let mut model2 = Linear::new(3, 1);
    /// let before = model2.weight().to_vec();
    /// let mut adam = Adam::new(model2.parameters(), 1e-3);
    /// let err = ckpt.restore(&mut model2, &mut adam).unwrap_err();
    /// assert!(matches!(err, CheckpointError::Optimizer { .. }));
    /// assert_eq!(model2.weight().to_vec(), before); // nothing changed
    /// ```
    pub fn restore(
        &self,
        model: &mut dyn Module,
        opt: &mut dyn Optimizer,
    ) -> Result<(), CheckpointError> {
        self.restore_all(model, opt, None)
    }

    /// [`restore`](Self::restore), and the scheduler too, all or nothing.
    ///
    /// # Errors
    /// As [`restore`](Self::restore); [`CheckpointError::MissingPart`] if the checkpoint
    /// holds no scheduler state; [`CheckpointError::Optimizer`] (part `"scheduler"`) if it
    /// holds another schedule's.
    ///
    /// ```
    /// use kindling::checkpoint::TrainingCheckpoint;
    /// use kindling::nn::{Linear, Module};
    /// use kindling::optim::{LrScheduler, Optimizer, Sgd, StepLr};
    /// let model = Linear::new(3, 1);
    /// let mut opt = Sgd::new(model.parameters(), 0.1);
    /// let mut sched = StepLr::new(1, 0.5);
    /// sched.attach(&mut opt);
    /// sched.step(&mut opt);
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, 1, 0).with_scheduler(&sched);
    ///
    /// let mut model2 = Linear::new(3, 1);
    /// let mut opt2 = Sgd::new(model2.parameters(), 0.1);
    /// let mut sched2 = StepLr::new(1, 0.5);
    /// ckpt.restore_with_scheduler(&mut model2, &mut opt2, &mut sched2).unwrap();
    /// assert_eq!(opt2.lr(), 0.05);
    /// assert_eq!(sched2.state_dict(), sched.state_dict());
    /// ```
    pub fn restore_with_scheduler(
        &self,
        model: &mut dyn Module,
        opt: &mut dyn Optimizer,
        scheduler: &mut dyn LrScheduler,
    ) -> Result<(), CheckpointError> {
        self.restore_all(model, opt, Some(scheduler))
    }

    /// Checks the values a resumed run would start from, beyond what the optimizer and the
    /// scheduler check themselves. `path` is for the message.
    fn check_values(&self, path: Option<&Path>) -> Result<(), CheckpointError> {
        let bad = |detail: &str| {
            Err(CheckpointError::BadState {
                path: path.map(Path::to_path_buf),
                detail: detail.to_string(),
            })
        };
        for (name, value) in [("epoch", self.epoch), ("step", self.step)] {
            if value > MAX_COUNTER {
                return bad(&format!(
                    "its {name} counter is {value}, beyond the largest count a checkpoint may \
                     hold (2^53 = {MAX_COUNTER}), which no run reaches; a loop counting on \
                     from it could overflow"
                ));
            }
        }
        if is_stuck(&self.rng) {
            return bad(
                "its random generator state is all zeros, from which xoshiro256++ only ever \
                 returns 0 (Tensor::randn would never return); no generator that was seeded \
                 gets there, so the file was made by hand or damaged",
            );
        }
        Ok(())
    }

    fn restore_all(
        &self,
        model: &mut dyn Module,
        opt: &mut dyn Optimizer,
        scheduler: Option<&mut dyn LrScheduler>,
    ) -> Result<(), CheckpointError> {
        self.check_values(None)?;
        // 1. Check the model without touching it.
        let report = LoadReport::between(&model.state_dict(), &self.model);
        if !report.is_clean() {
            return Err(CheckpointError::Mismatch { path: None, report });
        }
        let scheduler_state = match (&scheduler, &self.scheduler) {
            (Some(_), None) => {
                return Err(CheckpointError::MissingPart {
                    path: None,
                    part: "scheduler",
                })
            }
            (_, s) => s.as_ref(),
        };
        // 2. The optimizer and the scheduler check their states, changing nothing.
        opt.check_state_dict(&self.optimizer)
            .map_err(|source| CheckpointError::Optimizer {
                path: None,
                part: "optimizer",
                source,
            })?;
        if let (Some(sched), Some(state)) = (&scheduler, scheduler_state) {
            sched
                .check_state_dict(state)
                .map_err(|source| CheckpointError::Optimizer {
                    path: None,
                    part: "scheduler",
                    source,
                })?;
        }
        // 3. Everything was checked: apply. The model first: were its own rules ever to
        //    differ from `LoadReport::between`, it would refuse here having changed
        //    nothing, before anything else has changed. The optimizer's and the
        //    scheduler's checks promised that their loads succeed; one that fails anyway
        //    breaks its trait's contract.
        load_checked(model, &self.model, None)?;
        if let Err(e) = opt.load_state_dict(&self.optimizer) {
            broken_contract("Optimizer", &e);
        }
        if let (Some(sched), Some(state)) = (scheduler, scheduler_state) {
            if let Err(e) = sched.load_state_dict(state) {
                broken_contract("LrScheduler", &e);
            }
        }
        // 4. The random generator, last: it cannot fail.
        set_rng_state(self.rng.clone());
        Ok(())
    }
}

/// A restore found an implementation whose `load_state_dict` refused a state that its
/// `check_state_dict` had accepted; part of the restore is done and cannot be undone.
fn broken_contract(trait_name: &str, e: &OptimError) -> ! {
    panic!(
        "{trait_name}::load_state_dict refused a state that check_state_dict accepted ({e}): \
         the implementation breaks the trait's contract, and the restore is incomplete"
    )
}

/// Saves a training checkpoint to `path` in the native format (kind "training"),
/// atomically, with the same header, checksum and guarantees as [`save`](crate::save).
///
/// # Errors
/// [`CheckpointError::Io`] when the file cannot be written; [`CheckpointError::BadState`]
/// for a checkpoint [`load_training`] would refuse (nothing is written then).
///
/// ```
/// use kindling::checkpoint::{save_training, TrainingCheckpoint};
/// use kindling::nn::{Linear, Module};
/// use kindling::optim::Sgd;
/// let model = Linear::new(2, 2);
/// let opt = Sgd::new(model.parameters(), 0.1);
/// let path = std::env::temp_dir().join(format!("kindling-doc-st-{}.kdl", std::process::id()));
/// save_training(&TrainingCheckpoint::capture(&model, &opt, 0, 0), &path).unwrap();
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_training(
    ckpt: &TrainingCheckpoint,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    ckpt.check_values(Some(path))?;
    write_training(ckpt, path)
}

/// Whether `rng` is xoshiro256's all-zero state. That state is the generator's only fixed
/// point (its state transition is an invertible linear map whose single cycle through all
/// other states is 2^256 - 1 long), so one step leaving it unchanged identifies it without
/// reading the state's private words.
fn is_stuck(rng: &Xoshiro256) -> bool {
    let mut next = rng.clone();
    next.next_u64();
    next == *rng
}

/// The writing half of [`save_training`].
pub(crate) fn write_training(
    ckpt: &TrainingCheckpoint,
    path: &Path,
) -> Result<(), CheckpointError> {
    let state = postcard::to_stdvec(&StateRef {
        optimizer: &ckpt.optimizer,
        scheduler: &ckpt.scheduler,
        epoch: ckpt.epoch,
        step: ckpt.step,
        rng: &ckpt.rng,
        extra: &ckpt.extra,
    })
    .map_err(|e| CheckpointError::io(path, "encode", std::io::Error::other(e)))?;
    write_atomic(path, |file| {
        format::write(file, Kind::Training, &ckpt.model, &state)
    })
}

/// Loads a checkpoint saved by [`save_training`]. The file is checked in full (as by
/// [`load`](crate::load)) and the training state decoded before anything is returned.
///
/// # Errors
/// Everything [`load`](crate::load) returns; [`CheckpointError::WrongKind`] for a file
/// written by [`save`](crate::save) (weights only); [`CheckpointError::Corrupt`] if the
/// training state cannot be decoded; [`CheckpointError::BadState`] if it holds a value no
/// run can continue from: an all-zero random generator state (xoshiro's fixed point, where
/// `Tensor::randn` would never return), or an epoch or step counter above
/// [`MAX_COUNTER`](kindling::optim::MAX_COUNTER).
///
/// ```
/// use kindling::checkpoint::{load_training, save, CheckpointError};
/// use kindling::nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-lt-{}.kdl", std::process::id()));
/// save(&Linear::new(2, 2).state_dict(), &path).unwrap();
/// let err = load_training(&path).unwrap_err();
/// assert!(matches!(err, CheckpointError::WrongKind { .. }));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_training(path: impl AsRef<Path>) -> Result<TrainingCheckpoint, CheckpointError> {
    let path = path.as_ref();
    let bytes = format::read(path)?;
    decode_training(&bytes, path)
}

pub(crate) fn decode_training(
    bytes: &[u8],
    path: &Path,
) -> Result<TrainingCheckpoint, CheckpointError> {
    let decoded = format::decode(bytes, path)?;
    if decoded.kind != Kind::Training {
        return Err(CheckpointError::WrongKind {
            path: path.to_path_buf(),
            found: decoded.kind.describe(),
            expected: Kind::Training.describe(),
        });
    }
    // Versions differ only in the training state's encoding; older ones are converted.
    let state = match decoded.version {
        1 => StateOwned::from(decode_state::<crate::v1::StateV1>(decoded.state, path)?),
        _ => decode_state::<StateOwned>(decoded.state, path)?,
    };
    let ckpt = TrainingCheckpoint {
        model: decoded.tensors,
        optimizer: state.optimizer,
        scheduler: state.scheduler,
        epoch: state.epoch,
        step: state.step,
        rng: state.rng,
        extra: state.extra,
    };
    ckpt.check_values(Some(path))?;
    Ok(ckpt)
}

/// Decodes the whole of `bytes` as one `T`: an error if they do not decode or if bytes
/// are left over.
fn decode_state<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    path: &Path,
) -> Result<T, CheckpointError> {
    // postcard reads lengths from the input but only ever allocates for elements it has
    // actually read (serde caps preallocation), so a corrupt length cannot exhaust memory.
    let (state, rest): (T, &[u8]) = postcard::take_from_bytes(bytes).map_err(|e| {
        CheckpointError::corrupt(path, format!("the training state cannot be decoded: {e}"))
    })?;
    if !rest.is_empty() {
        return Err(CheckpointError::corrupt(
            path,
            format!("{} unexpected bytes after the training state", rest.len()),
        ));
    }
    Ok(state)
}
