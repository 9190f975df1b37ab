//! [`Adam`] and [`AdamW`], PyTorch's `torch.optim.Adam` and `torch.optim.AdamW`
//! (`foreach=False`), AMSGrad included.
//!
//! The two differ only in where the weight decay goes (into the gradient, or straight onto
//! the weights), so they share one implementation, `AdamCore`, and the public types are
//! thin wrappers that fix that choice and the default decay. The arithmetic is `f32` in
//! PyTorch's order; the bias corrections and `lr / (1 − β₁ᵗ)` are `f64`, rounded to `f32`
//! once, as PyTorch's Python floats are.

use kindling_core::Tensor;

use crate::state::{check_params, require, AdamHparams, Hyperparameters, OptimError};
use crate::state::{OptimizerKind, OptimizerState, ParamState, MAX_COUNTER};
use crate::{check_param_list, widen, Optimizer};

/// Adam's state for one parameter, created at that parameter's first step with a gradient.
#[derive(Debug, Clone)]
struct Moments {
    /// How many updates this parameter has had: its bias corrections use it, not a global
    /// count, so a parameter skipped at some step lags behind the others.
    step: u64,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    /// Only with AMSGrad.
    max_exp_avg_sq: Option<Vec<f32>>,
}

/// The implementation behind both [`Adam`] and [`AdamW`].
#[derive(Debug)]
struct AdamCore {
    params: Vec<Tensor>,
    hp: AdamHparams,
    kind: OptimizerKind,
    moments: Vec<Option<Moments>>,
}

impl AdamCore {
    fn new(kind: OptimizerKind, params: Vec<Tensor>, lr: f32, weight_decay: f64) -> AdamCore {
        check_param_list(owner(kind), &params);
        let hp = AdamHparams {
            lr: widen(lr),
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay,
            amsgrad: false,
        };
        unwrap_or_panic(check_lr(kind, hp.lr));
        let n = params.len();
        AdamCore {
            params,
            hp,
            kind,
            moments: vec![None; n],
        }
    }

    fn decoupled(&self) -> bool {
        self.kind == OptimizerKind::AdamW
    }

    /// The update itself, inlined into `step`'s AVX2/FMA-compiled wrapper.
    #[inline(always)]
    fn update(&mut self) {
        let hp = &self.hp;
        let decoupled = self.decoupled();
        let [beta1, beta2] = hp.betas;
        // Python floats meeting tensor ops become f32 there; `1 - beta` is taken in f64 first.
        // PyTorch's CPU kernels fuse `x + a·y` into one multiply-add (one rounding) in
        // `add(alpha=)`, `lerp_` and `addcmul_`, but not in `addcdiv_`, which divides last:
        // the `mul_add` calls below are exactly those fusions, checked op by op against torch.
        let decay_factor = (1.0 - hp.lr * hp.weight_decay) as f32;
        let weight_decay = hp.weight_decay as f32;
        let lerp_weight = (1.0 - beta1) as f32;
        let beta2_f32 = beta2 as f32;
        let one_minus_beta2 = (1.0 - beta2) as f32;
        let eps = hp.eps as f32;

        for (p, slot) in self.params.iter().zip(self.moments.iter_mut()) {
            let Some(grad) = p.grad() else { continue };
            // A copy: the gradient may share storage with the parameter we lock below.
            let mut g = grad.to_vec();
            let n = g.len();
            let st = slot.get_or_insert_with(|| Moments {
                step: 0,
                exp_avg: vec![0.0; n],
                exp_avg_sq: vec![0.0; n],
                max_exp_avg_sq: None,
            });
            // Saturating: a loaded count is at most MAX_COUNTER, far from the end, but a
            // counter that cannot wrap needs no proof.
            st.step = st.step.saturating_add(1);
            let mut theta = p.data_mut();

            if hp.weight_decay != 0.0 {
                if decoupled {
                    for t in theta.iter_mut() {
                        *t *= decay_factor;
                    }
                } else {
                    for (g, &t) in g.iter_mut().zip(theta.iter()) {
                        *g = weight_decay.mul_add(t, *g);
                    }
                }
            }

            // PyTorch updates m with `lerp_`, whose formula depends on the weight's size
            // (for accuracy); the result equals β₁·m + (1 − β₁)·g up to rounding.
            for (m, &g) in st.exp_avg.iter_mut().zip(&g) {
                *m = lerp(*m, g, lerp_weight);
            }
            for (v, &g) in st.exp_avg_sq.iter_mut().zip(&g) {
                // exp_avg_sq.mul_(β₂), then addcmul_: v + ((1 − β₂)·g)·g, fused.
                *v = (one_minus_beta2 * g).mul_add(g, *v * beta2_f32);
            }

            let t = st.step as f64;
            let bias_correction1 = 1.0 - beta1.powf(t);
            let bias_correction2 = 1.0 - beta2.powf(t);
            let neg_step_size = (-(hp.lr / bias_correction1)) as f32;
            let bias_correction2_sqrt = bias_correction2.powf(0.5) as f32;

            let second: &[f32] = if hp.amsgrad {
                let max = st.max_exp_avg_sq.get_or_insert_with(|| vec![0.0; n]);
                for (mx, &v) in max.iter_mut().zip(&st.exp_avg_sq) {
                    // torch.maximum propagates NaN, where f32::max would drop it.
                    *mx = if mx.is_nan() || v.is_nan() {
                        f32::NAN
                    } else {
                        mx.max(v)
                    };
                }
                max
            } else {
                &st.exp_avg_sq
            };
            for ((t, &m), &v) in theta.iter_mut().zip(&st.exp_avg).zip(second) {
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                // addcdiv_(m, denom, value=-step_size): (value·m)/denom, then the add.
                *t += neg_step_size * m / denom;
            }
        }
    }

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

    fn set_lr(&mut self, lr: f32) {
        let lr = widen(lr);
        unwrap_or_panic(check_lr(self.kind, lr));
        self.hp.lr = lr;
    }

    fn state_dict(&self) -> OptimizerState {
        OptimizerState {
            kind: self.kind,
            hparams: Hyperparameters::Adam(self.hp.clone()),
            params: self
                .params
                .iter()
                .zip(&self.moments)
                .map(|(p, st)| match st {
                    None => ParamState::empty(p.shape()),
                    Some(st) => {
                        let mut state = ParamState::empty(p.shape())
                            .with_buffer(ParamState::EXP_AVG, st.exp_avg.clone())
                            .with_buffer(ParamState::EXP_AVG_SQ, st.exp_avg_sq.clone());
                        if let Some(max) = &st.max_exp_avg_sq {
                            state = state.with_buffer(ParamState::MAX_EXP_AVG_SQ, max.clone());
                        }
                        state.step = Some(st.step);
                        state
                    }
                })
                .collect(),
        }
    }

    /// Checks everything `load_state_dict` needs, and returns the hyperparameters.
    fn checked<'s>(&self, state: &'s OptimizerState) -> Result<&'s AdamHparams, OptimError> {
        if state.kind != self.kind {
            return Err(OptimError::WrongKind {
                expected: self.kind.to_string(),
                found: state.kind.to_string(),
            });
        }
        let Hyperparameters::Adam(hp) = &state.hparams else {
            return Err(OptimError::InconsistentState {
                reason: format!(
                    "the kind is {} but the hyperparameters are SGD's",
                    self.kind
                ),
            });
        };
        validate(self.kind, hp)?;
        check_params(&self.params, state)?;
        for (i, st) in state.params.iter().enumerate() {
            check_param_state(i, st)?;
        }
        Ok(hp)
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
        let hp = self.checked(state)?;
        self.hp = hp.clone();
        self.moments = state.params.iter().map(moments_of).collect();
        Ok(())
    }
}

/// A checked parameter state's moments: `None` when it has none (no step yet).
fn moments_of(st: &ParamState) -> Option<Moments> {
    Some(Moments {
        step: st.step?,
        exp_avg: st.buffer(ParamState::EXP_AVG)?.to_vec(),
        exp_avg_sq: st.buffer(ParamState::EXP_AVG_SQ)?.to_vec(),
        max_exp_avg_sq: st.buffer(ParamState::MAX_EXP_AVG_SQ).map(<[f32]>::to_vec),
    })
}

/// Checks one parameter's state: the buffers present are exactly those Adam keeps, all
/// of `step`, `exp_avg`, `exp_avg_sq` (plus, optionally, `max_exp_avg_sq`), or none of
/// them, and the step count is one a run can reach.
fn check_param_state(param: usize, st: &ParamState) -> Result<(), OptimError> {
    let bad = |reason: String| Err(OptimError::BadParamState { param, reason });
    const KEPT: [&str; 3] = [
        ParamState::EXP_AVG,
        ParamState::EXP_AVG_SQ,
        ParamState::MAX_EXP_AVG_SQ,
    ];
    if let Some(name) = st
        .buffers
        .keys()
        .find(|name| !KEPT.contains(&name.as_str()))
    {
        return bad(format!(
            "Adam keeps no {}, but the state has one",
            name.escape_debug()
        ));
    }
    let max_exp_avg_sq = st.buffer(ParamState::MAX_EXP_AVG_SQ);
    match (
        st.step,
        st.buffer(ParamState::EXP_AVG),
        st.buffer(ParamState::EXP_AVG_SQ),
    ) {
        (None, None, None) => {
            if max_exp_avg_sq.is_some() {
                return bad("max_exp_avg_sq is present but step and exp_avg are not".into());
            }
            Ok(())
        }
        (Some(step), Some(_), Some(_)) => {
            if step > MAX_COUNTER {
                return bad(format!(
                    "step is {step}, beyond the largest count a state may hold \
                     (2^53 = {MAX_COUNTER})"
                ));
            }
            // max_exp_avg_sq may be there or not whatever `amsgrad` says now: switched on
            // after some steps, AMSGrad starts its maximum at the next step (from zeros,
            // which is what a missing one means); switched off, the maximum stays unused.
            Ok(())
        }
        (step, m, v) => bad(format!(
            "step, exp_avg and exp_avg_sq must be all present or all absent, \
             but present are: step {}, exp_avg {}, exp_avg_sq {}",
            step.is_some(),
            m.is_some(),
            v.is_some()
        )),
    }
}

/// `torch.lerp(start, end, weight)` on the CPU: two formulas, chosen by the weight's size,
/// so that the result is exact at both ends (weight 0 gives `start`, weight 1 gives `end`),
/// each one fused multiply-add as in PyTorch's kernel.
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        weight.mul_add(end - start, start)
    } else {
        (weight - 1.0).mul_add(end - start, end)
    }
}

fn owner(kind: OptimizerKind) -> &'static str {
    match kind {
        OptimizerKind::AdamW => "AdamW",
        _ => "Adam",
    }
}

fn unwrap_or_panic(r: Result<(), OptimError>) {
    if let Err(e) = r {
        panic!("{e}");
    }
}

fn check_lr(kind: OptimizerKind, lr: f64) -> Result<(), OptimError> {
    require(lr >= 0.0, owner(kind), "learning rate", lr, "must be >= 0")
}

fn check_beta(kind: OptimizerKind, index: usize, beta: f64) -> Result<(), OptimError> {
    let name = if index == 0 { "betas.0" } else { "betas.1" };
    require(
        (0.0..1.0).contains(&beta),
        owner(kind),
        name,
        beta,
        "must be in [0, 1)",
    )
}

fn check_eps(kind: OptimizerKind, eps: f64) -> Result<(), OptimError> {
    require(eps >= 0.0, owner(kind), "epsilon", eps, "must be >= 0")
}

fn check_weight_decay(kind: OptimizerKind, wd: f64) -> Result<(), OptimError> {
    require(wd >= 0.0, owner(kind), "weight_decay", wd, "must be >= 0")
}

fn validate(kind: OptimizerKind, hp: &AdamHparams) -> Result<(), OptimError> {
    check_lr(kind, hp.lr)?;
    check_beta(kind, 0, hp.betas[0])?;
    check_beta(kind, 1, hp.betas[1])?;
    check_eps(kind, hp.eps)?;
    check_weight_decay(kind, hp.weight_decay)
}

/// The public type's builders and `Optimizer` impl, the same for Adam and AdamW; only
/// the type name in the docs differs.
macro_rules! adam_api {
    ($name:ident) => {
        impl $name {
            /// Builder: the moment decay rates β₁ and β₂ (default `0.9, 0.999`).
            ///
            /// # Panics
            /// If either is outside `[0, 1)`.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![Tensor::zeros(&[1])], 1e-3).betas(0.8, 0.95);")]
            /// assert_eq!(opt.hparams().betas, [0.8, 0.95]);
            /// ```
            pub fn betas(mut self, beta1: f32, beta2: f32) -> $name {
                let kind = self.0.kind;
                self.0.hp.betas = [widen(beta1), widen(beta2)];
                unwrap_or_panic(check_beta(kind, 0, self.0.hp.betas[0]));
                unwrap_or_panic(check_beta(kind, 1, self.0.hp.betas[1]));
                self
            }

            /// Builder: ε, added to the denominator (default `1e-8`).
            ///
            /// # Panics
            /// If `eps` is negative or NaN.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![Tensor::zeros(&[1])], 1e-3).eps(1e-6);")]
            /// assert_eq!(opt.hparams().eps, 1e-6);
            /// ```
            pub fn eps(mut self, eps: f32) -> $name {
                self.0.hp.eps = widen(eps);
                unwrap_or_panic(check_eps(self.0.kind, self.0.hp.eps));
                self
            }

            /// Builder: the weight decay λ (see the type's update rule for where it goes).
            ///
            /// # Panics
            /// If `weight_decay` is negative or NaN.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![Tensor::zeros(&[1])], 1e-3).weight_decay(0.05);")]
            /// assert_eq!(opt.hparams().weight_decay, 0.05);
            /// ```
            pub fn weight_decay(mut self, weight_decay: f32) -> $name {
                self.0.hp.weight_decay = widen(weight_decay);
                unwrap_or_panic(check_weight_decay(self.0.kind, self.0.hp.weight_decay));
                self
            }

            /// Builder: AMSGrad (default off): divide by the running maximum of the second
            /// moment instead of the moment itself, so the step size never grows back.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![Tensor::zeros(&[1])], 1e-3).amsgrad(true);")]
            /// assert!(opt.hparams().amsgrad);
            /// ```
            pub fn amsgrad(mut self, amsgrad: bool) -> $name {
                self.0.hp.amsgrad = amsgrad;
                self
            }

            /// The hyperparameters, in PyTorch's `f64`.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![Tensor::zeros(&[1])], 1e-3);")]
            /// assert_eq!(opt.hparams().lr, 0.001_f64);
            /// ```
            pub fn hparams(&self) -> &AdamHparams {
                &self.0.hp
            }

            /// The parameters, in the order given to `new`.
            ///
            /// ```
            #[doc = concat!("use kindling_optim::", stringify!($name), ";")]
            /// use kindling::Tensor;
            /// let p = Tensor::zeros(&[2]);
            #[doc = concat!("let opt = ", stringify!($name), "::new(vec![p.clone()], 1e-3);")]
            /// assert_eq!(opt.params()[0].id(), p.id());
            /// ```
            pub fn params(&self) -> &[Tensor] {
                &self.0.params
            }
        }

        impl Optimizer for $name {
            fn step(&mut self) {
                self.0.step()
            }
            fn zero_grad(&mut self) {
                self.0.zero_grad()
            }
            fn lr(&self) -> f32 {
                self.0.hp.lr as f32
            }
            fn set_lr(&mut self, lr: f32) {
                self.0.set_lr(lr)
            }
            fn state_dict(&self) -> OptimizerState {
                self.0.state_dict()
            }
            fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
                self.0.load_state_dict(state)
            }
            fn check_state_dict(&self, state: &OptimizerState) -> Result<(), OptimError> {
                self.0.checked(state).map(|_| ())
            }
        }
    };
}

/// Adam (Kingma & Ba), as `torch.optim.Adam`, with L2 weight decay folded into the gradient.
///
/// For each parameter θ with a gradient ∇θ, with learning rate γ, betas β₁ β₂, ε and
/// weight decay λ, and t this parameter's own step count:
///
/// ```text
/// t ← t + 1
/// g ← ∇θ + λ·θ                                   (when λ ≠ 0)
/// m ← β₁·m + (1 − β₁)·g                          (computed as m + (1 − β₁)·(g − m))
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v)                                  (AMSGrad; then v̂ replaces v below)
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// `m`, `v` (and `v̂`) start at zero, at the parameter's first step with a gradient. A
/// parameter whose gradient is `None` is skipped: no decay, no moment update, and `t`
/// does not advance.
///
/// # Panics
/// The constructor and builders panic, as PyTorch raises `ValueError`, for a negative (or
/// NaN) learning rate, ε or weight decay, a beta outside `[0, 1)`, an empty parameter
/// list or a non-leaf parameter.
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{Adam, Optimizer};
///
/// let p = Tensor::from_vec(vec![1.0], &[1]).requires_grad(true);
/// let mut opt = Adam::new(vec![p.clone()], 0.1);
/// p.set_grad(Some(Tensor::from_vec(vec![4.0], &[1])));
/// opt.step();
/// // m/(1 − β₁) = 4, √(v/(1 − β₂)) = 4: the first step moves θ by γ·sign(g), whatever |g|.
/// assert!((p.item() - 0.9).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct Adam(AdamCore);

impl Adam {
    /// Adam over `params` with learning rate `lr` and PyTorch's defaults: betas
    /// `(0.9, 0.999)`, ε `1e-8`, no weight decay, no AMSGrad.
    ///
    /// # Panics
    /// If `lr` is negative or NaN, `params` is empty, or a parameter is not a leaf.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Adam, Optimizer};
    /// let opt = Adam::new(vec![Tensor::zeros(&[3]).requires_grad(true)], 1e-3);
    /// assert_eq!(opt.lr(), 1e-3);
    /// assert_eq!(opt.hparams().weight_decay, 0.0);
    /// ```
    pub fn new(params: Vec<Tensor>, lr: f32) -> Adam {
        Adam(AdamCore::new(OptimizerKind::Adam, params, lr, 0.0))
    }
}

adam_api!(Adam);

/// AdamW (Loshchilov & Hutter), as `torch.optim.AdamW`: Adam with the weight decay
/// applied to the weights directly (decoupled) instead of through the gradient.
///
/// For each parameter θ with a gradient ∇θ, with learning rate γ, betas β₁ β₂, ε and
/// weight decay λ (default 0.01), and t this parameter's own step count:
///
/// ```text
/// t ← t + 1
/// θ ← θ·(1 − γ·λ)
/// m ← β₁·m + (1 − β₁)·∇θ                         (computed as m + (1 − β₁)·(∇θ − m))
/// v ← β₂·v + (1 − β₂)·∇θ²
/// v̂ ← max(v̂, v)                                  (AMSGrad; then v̂ replaces v below)
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// Skipping and panics are as for [`Adam`].
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{AdamW, Optimizer};
///
/// let p = Tensor::from_vec(vec![1.0], &[1]).requires_grad(true);
/// let mut opt = AdamW::new(vec![p.clone()], 0.1).weight_decay(0.5);
/// p.set_grad(Some(Tensor::from_vec(vec![4.0], &[1])));
/// opt.step();
/// // θ·(1 − 0.1·0.5) = 0.95, then the first Adam step moves it by 0.1.
/// assert!((p.item() - 0.85).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct AdamW(AdamCore);

impl AdamW {
    /// AdamW over `params` with learning rate `lr` and PyTorch's defaults: betas
    /// `(0.9, 0.999)`, ε `1e-8`, weight decay `0.01`, no AMSGrad.
    ///
    /// # Panics
    /// If `lr` is negative or NaN, `params` is empty, or a parameter is not a leaf.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{AdamW, Optimizer};
    /// let opt = AdamW::new(vec![Tensor::zeros(&[3]).requires_grad(true)], 1e-3);
    /// assert_eq!(opt.lr(), 1e-3);
    /// assert_eq!(opt.hparams().weight_decay, 0.01);
    /// ```
    pub fn new(params: Vec<Tensor>, lr: f32) -> AdamW {
        AdamW(AdamCore::new(OptimizerKind::AdamW, params, lr, 0.01))
    }
}

adam_api!(AdamW);
