//! [`Sgd`]: stochastic gradient descent with optional momentum, dampening, Nesterov
//! momentum and weight decay, PyTorch's `torch.optim.SGD(..., foreach=False)`.
//!
//! The arithmetic is done in `f32` in PyTorch's order, with each `f64` hyperparameter
//! rounded to `f32` where PyTorch rounds it, and each `x.add(y, alpha=a)` done as one fused
//! multiply-add as PyTorch's CPU kernel does, so that trajectories agree to the last bit.

use kindling_core::Tensor;

use crate::state::{check_params, require, Hyperparameters, OptimError, OptimizerKind};
use crate::state::{OptimizerState, ParamState, SgdHparams};
use crate::{check_param_list, widen, Optimizer};

/// Stochastic gradient descent, as `torch.optim.SGD`.
///
/// For each parameter θ with a gradient ∇θ, with learning rate γ, momentum μ, dampening τ
/// and weight decay λ:
///
/// ```text
/// g ← ∇θ + λ·θ                      (when λ ≠ 0)
/// b ← g                             (when μ ≠ 0, at this parameter's first step)
/// b ← μ·b + (1 − τ)·g               (when μ ≠ 0, at later steps)
/// g ← g + μ·b    if Nesterov,  else  g ← b      (when μ ≠ 0)
/// θ ← θ − γ·g
/// ```
///
/// The first momentum step copies the gradient without dampening, as PyTorch does. A
/// parameter whose gradient is `None` is skipped: no decay, and its buffer is unchanged.
///
/// # Panics
/// The constructor and builders panic, as PyTorch raises `ValueError`, for a negative (or
/// NaN) learning rate, momentum or weight decay, an empty parameter list or a non-leaf
/// parameter; `step` panics for Nesterov without momentum or with dampening (checked
/// there, so that the builders can be called in any order).
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{Optimizer, Sgd};
///
/// let p = Tensor::from_vec(vec![1.0], &[1]).requires_grad(true);
/// let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9);
/// for _ in 0..2 {
///     p.set_grad(Some(Tensor::from_vec(vec![1.0], &[1])));
///     opt.step();
/// }
/// // b = 1, then 0.9·1 + 1 = 1.9; θ = 1 − 0.1·1 − 0.1·1.9 = 0.71
/// assert!((p.item() - 0.71).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct Sgd {
    params: Vec<Tensor>,
    hp: SgdHparams,
    /// One per parameter; `None` until that parameter's first step with momentum.
    momentum_buffers: Vec<Option<Vec<f32>>>,
}

impl Sgd {
    /// SGD over `params` with learning rate `lr`, no momentum and no weight decay
    /// (PyTorch's defaults). The parameters are handles: the optimizer updates the same
    /// storage the model reads.
    ///
    /// # Panics
    /// If `lr` is negative or NaN, `params` is empty, or a parameter is not a leaf.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Optimizer, Sgd};
    /// let opt = Sgd::new(vec![Tensor::zeros(&[3]).requires_grad(true)], 0.1);
    /// assert_eq!(opt.lr(), 0.1);
    /// ```
    pub fn new(params: Vec<Tensor>, lr: f32) -> Sgd {
        check_param_list("Sgd", &params);
        let hp = SgdHparams {
            lr: widen(lr),
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        };
        unwrap_or_panic(check_lr(hp.lr));
        let n = params.len();
        Sgd {
            params,
            hp,
            momentum_buffers: vec![None; n],
        }
    }

    /// Builder: the momentum factor μ (default 0, no momentum).
    ///
    /// # Panics
    /// If `momentum` is negative or NaN.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1).momentum(0.9);
    /// assert_eq!(opt.hparams().momentum, 0.9);
    /// ```
    pub fn momentum(mut self, momentum: f32) -> Sgd {
        self.hp.momentum = widen(momentum);
        unwrap_or_panic(check_momentum(self.hp.momentum));
        self
    }

    /// Builder: the dampening τ (default 0). The gradient enters the momentum buffer with
    /// weight `1 − τ`, from the second step on.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1).momentum(0.9).dampening(0.1);
    /// assert_eq!(opt.hparams().dampening, 0.1);
    /// ```
    pub fn dampening(mut self, dampening: f32) -> Sgd {
        // PyTorch accepts any dampening; only Nesterov restricts it (checked in `step`).
        self.hp.dampening = widen(dampening);
        self
    }

    /// Builder: the weight decay λ (an L2 penalty `λ/2·‖θ‖²` folded into the gradient;
    /// default 0).
    ///
    /// # Panics
    /// If `weight_decay` is negative or NaN.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1).weight_decay(1e-4);
    /// assert_eq!(opt.hparams().weight_decay, 1e-4);
    /// ```
    pub fn weight_decay(mut self, weight_decay: f32) -> Sgd {
        self.hp.weight_decay = widen(weight_decay);
        unwrap_or_panic(check_weight_decay(self.hp.weight_decay));
        self
    }

    /// Builder: Nesterov momentum (default off). Needs `momentum > 0` and no dampening;
    /// `step` panics otherwise.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1).nesterov(true).momentum(0.9);
    /// assert!(opt.hparams().nesterov);
    /// ```
    pub fn nesterov(mut self, nesterov: bool) -> Sgd {
        self.hp.nesterov = nesterov;
        self
    }

    /// The hyperparameters, in PyTorch's `f64`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// assert_eq!(opt.hparams().lr, 0.1_f64);
    /// ```
    pub fn hparams(&self) -> &SgdHparams {
        &self.hp
    }

    /// The parameters, in the order given to [`Sgd::new`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::Sgd;
    /// let p = Tensor::zeros(&[2]);
    /// let opt = Sgd::new(vec![p.clone()], 0.1);
    /// assert_eq!(opt.params()[0].id(), p.id());
    /// ```
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }
}

impl Sgd {
    /// The update itself, inlined into `step`'s AVX2/FMA-compiled wrapper.
    #[inline(always)]
    fn update(&mut self) {
        unwrap_or_panic(check_nesterov(&self.hp));
        let hp = &self.hp;
        // Where PyTorch hands a Python float to a tensor op, it becomes an f32 there.
        // Every `x.add(y, alpha=a)` below is one fused multiply-add in PyTorch's CPU kernel
        // (a single rounding of x + a·y), so it is `mul_add` here, not `x + a * y`.
        let weight_decay = hp.weight_decay as f32;
        let momentum = hp.momentum as f32;
        let one_minus_dampening = (1.0 - hp.dampening) as f32;
        let neg_lr = (-hp.lr) as f32;

        for (p, slot) in self.params.iter().zip(self.momentum_buffers.iter_mut()) {
            let Some(grad) = p.grad() else { continue };
            // A copy, not a borrow: the gradient may share storage with the parameter
            // itself, which is about to be locked for writing.
            let mut g = grad.to_vec();
            let mut theta = p.data_mut();
            if hp.weight_decay != 0.0 {
                for (g, &t) in g.iter_mut().zip(theta.iter()) {
                    *g = weight_decay.mul_add(t, *g);
                }
            }
            if hp.momentum != 0.0 {
                let buf: &[f32] = match slot {
                    None => slot.insert(g.clone()),
                    Some(buf) => {
                        for (b, &g) in buf.iter_mut().zip(&g) {
                            // buf.mul_(momentum) rounds on its own, then the fused add_.
                            *b = one_minus_dampening.mul_add(g, *b * momentum);
                        }
                        buf
                    }
                };
                if hp.nesterov {
                    for (g, &b) in g.iter_mut().zip(buf) {
                        *g = momentum.mul_add(b, *g);
                    }
                } else {
                    g.copy_from_slice(buf);
                }
            }
            for (t, &g) in theta.iter_mut().zip(&g) {
                *t = neg_lr.mul_add(g, *t);
            }
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) {
        // AVX2 and FMA where the CPU has them: `mul_add` is then one instruction, not a
        // library call (see `kindling::kernels::vectorized`).
        kindling_core::kernels::vectorized(
            #[inline(always)]
            || self.update(),
        )
    }

    fn zero_grad(&mut self) {
        for p in &self.params {
            p.set_grad(None);
        }
    }

    fn lr(&self) -> f32 {
        self.hp.lr as f32
    }

    fn set_lr(&mut self, lr: f32) {
        let lr = widen(lr);
        unwrap_or_panic(check_lr(lr));
        self.hp.lr = lr;
    }

    fn state_dict(&self) -> OptimizerState {
        OptimizerState {
            kind: OptimizerKind::Sgd,
            hparams: Hyperparameters::Sgd(self.hp.clone()),
            params: self
                .params
                .iter()
                .zip(&self.momentum_buffers)
                .map(|(p, buf)| match buf {
                    None => ParamState::empty(p.shape()),
                    Some(b) => ParamState::empty(p.shape())
                        .with_buffer(ParamState::MOMENTUM_BUFFER, b.clone()),
                })
                .collect(),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
        let hp = self.checked(state)?;
        self.hp = hp.clone();
        self.momentum_buffers = state
            .params
            .iter()
            .map(|st| st.buffers.get(ParamState::MOMENTUM_BUFFER).cloned())
            .collect();
        Ok(())
    }

    fn check_state_dict(&self, state: &OptimizerState) -> Result<(), OptimError> {
        self.checked(state).map(|_| ())
    }
}

impl Sgd {
    /// Checks everything `load_state_dict` needs, and returns the hyperparameters.
    fn checked<'s>(&self, state: &'s OptimizerState) -> Result<&'s SgdHparams, OptimError> {
        if state.kind != OptimizerKind::Sgd {
            return Err(OptimError::WrongKind {
                expected: OptimizerKind::Sgd.to_string(),
                found: state.kind.to_string(),
            });
        }
        let Hyperparameters::Sgd(hp) = &state.hparams else {
            return Err(OptimError::InconsistentState {
                reason: "the kind is sgd but the hyperparameters are Adam's".into(),
            });
        };
        validate(hp)?;
        check_params(&self.params, state)?;
        for (i, st) in state.params.iter().enumerate() {
            let foreign = st.step.as_ref().map(|_| "step").or_else(|| {
                st.buffers
                    .keys()
                    .map(String::as_str)
                    .find(|name| *name != ParamState::MOMENTUM_BUFFER)
            });
            if let Some(name) = foreign {
                return Err(OptimError::BadParamState {
                    param: i,
                    reason: format!(
                        "SGD keeps no {}, but the state has one",
                        name.escape_debug()
                    ),
                });
            }
        }
        Ok(hp)
    }
}

fn unwrap_or_panic(r: Result<(), OptimError>) {
    if let Err(e) = r {
        panic!("{e}");
    }
}

fn check_lr(lr: f64) -> Result<(), OptimError> {
    require(lr >= 0.0, "Sgd", "learning rate", lr, "must be >= 0")
}

fn check_momentum(momentum: f64) -> Result<(), OptimError> {
    require(momentum >= 0.0, "Sgd", "momentum", momentum, "must be >= 0")
}

fn check_weight_decay(wd: f64) -> Result<(), OptimError> {
    require(wd >= 0.0, "Sgd", "weight_decay", wd, "must be >= 0")
}

fn check_nesterov(hp: &SgdHparams) -> Result<(), OptimError> {
    require(
        !hp.nesterov || (hp.momentum > 0.0 && hp.dampening == 0.0),
        "Sgd",
        "nesterov",
        format_args!(
            "true with momentum {} and dampening {}",
            hp.momentum, hp.dampening
        ),
        "Nesterov momentum requires a momentum and zero dampening",
    )
}

fn validate(hp: &SgdHparams) -> Result<(), OptimError> {
    check_lr(hp.lr)?;
    check_momentum(hp.momentum)?;
    check_weight_decay(hp.weight_decay)?;
    check_nesterov(hp)
}
