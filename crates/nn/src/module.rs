//! The `Module` trait: what every layer and every model is, as in `torch.nn.Module`.
//!
//! A module computes `forward`, owns parameters (trainable tensors) and buffers (state such
//! as BatchNorm's running statistics), knows whether it is in training or eval mode, and
//! can export and import all of that as a [`StateDict`] with PyTorch's key names.

use kindling_core::Tensor;

use crate::hooks::{ForwardHooks, HookHandle};
use crate::state_dict::{LoadError, LoadReport, StateDict};

/// A layer or a model. A layer implements `forward` and, if it has any, its own parameters
/// and buffers; a model made of layers lists them as its children, which
/// `#[derive(Module)]` writes for you. Everything else has a default built on those:
/// names with PyTorch's prefixes, training mode that reaches every child, and
/// `state_dict` in PyTorch's order.
///
/// ```
/// use kindling::nn::{Linear, Module};
/// use kindling::Tensor;
/// let layer = Linear::new(3, 2);
/// let y = layer.forward(&Tensor::ones(&[4, 3]));
/// assert_eq!(y.shape(), &[4, 2]);
/// assert_eq!(layer.parameters().len(), 2); // weight and bias
/// ```
pub trait Module {
    /// Runs the layer on `x`. In training mode BatchNorm also updates its running statistics
    /// here (its buffers are shared tensor handles, so `&self` suffices).
    fn forward(&self, x: &Tensor) -> Tensor;

    /// Runs the module the way the framework does (PyTorch's `module(x)`): `forward`, then
    /// every forward hook with the input and the output. `Sequential` calls its layers this
    /// way; call your own layers this way in a model's `forward` so that hooks see them.
    ///
    /// ```
    /// use kindling::nn::{Module, ReLU};
    /// use kindling::Tensor;
    /// let y = ReLU::new().call(&Tensor::from_vec(vec![-1.0, 2.0], &[2]));
    /// assert_eq!(y.to_vec(), vec![0.0, 2.0]);
    /// ```
    fn call(&self, x: &Tensor) -> Tensor {
        let y = self.forward(x);
        if let Some(hooks) = self.forward_hooks() {
            hooks.run(x, &y);
        }
        y
    }

    /// The forward hooks this module keeps. Every built-in layer keeps a list; a derived
    /// model keeps one when it has a [`ForwardHooks`] field. `None` means hooks cannot be
    /// registered on this module. Register through [`ModuleExt::register_forward_hook`].
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// assert!(Linear::new(1, 1).forward_hooks().is_some());
    /// ```
    fn forward_hooks(&self) -> Option<&ForwardHooks> {
        None
    }

    /// The parameters this module holds itself, not its children's (PyTorch's
    /// `named_parameters(recurse=False)`). Layers without parameters keep the default.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let names: Vec<String> = Linear::new(2, 3).own_parameters().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(names, ["weight", "bias"]);
    /// ```
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The buffers this module holds itself (BatchNorm's running statistics).
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// assert_eq!(BatchNorm1d::new(4).own_buffers().len(), 3);
    /// ```
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The submodules, each with the name that prefixes its keys (`"0"`, `"conv1"`), in
    /// registration order: a `Sequential`'s layers, a derived struct's module fields.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module, ReLU, Sequential};
    /// let model = Sequential::new().add(Linear::new(2, 2)).add(ReLU::new());
    /// let names: Vec<String> = model.named_children().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(names, ["0", "1"]);
    /// ```
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// The submodules, mutably, in the order of [`Module::named_children`].
    ///
    /// ```
    /// use kindling::nn::{Linear, Module, Sequential};
    /// let mut model = Sequential::new().add(Linear::new(2, 2));
    /// assert_eq!(model.named_children_mut().len(), 1);
    /// ```
    fn named_children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        Vec::new()
    }

    /// Every trainable tensor with PyTorch's names (`"weight"`, `"0.bias"`,
    /// `"block.conv1.weight"`): this module's own, then each child's, prefixed.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module, Sequential};
    /// let model = Sequential::new().add(Linear::new(2, 2));
    /// assert_eq!(model.named_parameters()[1].0, "0.bias");
    /// ```
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut all = self.own_parameters();
        for (name, child) in self.named_children() {
            all.extend(prefixed(&name, child.named_parameters()));
        }
        all
    }

    /// The trainable tensors, in the order of [`Module::named_parameters`].
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// assert_eq!(Linear::new(2, 2).bias(false).parameters().len(), 1);
    /// ```
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Every buffer (non-trainable state saved with the model), own then children's.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module, Sequential};
    /// let model = Sequential::new().add(BatchNorm1d::new(2));
    /// assert_eq!(model.named_buffers()[0].0, "0.running_mean");
    /// ```
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut all = self.own_buffers();
        for (name, child) in self.named_children() {
            all.extend(prefixed(&name, child.named_buffers()));
        }
        all
    }

    /// Switches training mode on or off, in this module and every submodule. A layer with
    /// a flag of its own sets it; the default passes the switch to every child.
    ///
    /// ```
    /// use kindling::nn::{Dropout, Module, Sequential};
    /// let mut model = Sequential::new().add(Dropout::new(0.5));
    /// model.set_training(false);
    /// assert!(!model.named_children()[0].1.is_training());
    /// ```
    fn set_training(&mut self, on: bool) {
        for (_, child) in self.named_children_mut() {
            child.set_training(on);
        }
    }

    /// Whether the module is in training mode (the default for a new module). Without a
    /// flag of its own, a module is in the mode of its first child.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// assert!(Linear::new(1, 1).is_training());
    /// ```
    fn is_training(&self) -> bool {
        self.named_children()
            .first()
            .is_none_or(|(_, child)| child.is_training())
    }

    /// Training mode: BatchNorm uses batch statistics and updates its running ones, Dropout
    /// drops. Reaches every submodule.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let mut fc = Linear::new(1, 1);
    /// fc.eval();
    /// fc.train();
    /// assert!(fc.is_training());
    /// ```
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Eval mode: BatchNorm uses its running statistics, Dropout is the identity.
    /// Reaches every submodule.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let mut fc = Linear::new(1, 1);
    /// fc.eval();
    /// assert!(!fc.is_training());
    /// ```
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Every parameter and buffer under PyTorch's keys, in PyTorch's order: this module's
    /// own parameters, then its own buffers, then each child's entries in turn. (A module
    /// that lists no children but overrides `named_parameters` and `named_buffers`, the
    /// older way to write one, gets its parameters, then its buffers.) The values share
    /// storage with the module, as in PyTorch; use [`StateDict::deep_copy`] for a snapshot.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Linear, Module, Sequential};
    /// let model = Sequential::new().add(Linear::new(2, 2)).add(BatchNorm1d::new(2));
    /// assert_eq!(model.state_dict().keys()[..3], ["0.weight", "0.bias", "1.weight"]);
    /// ```
    fn state_dict(&self) -> StateDict {
        let mut sd = StateDict::new();
        let children = self.named_children();
        if children.is_empty() {
            for (k, t) in self
                .named_parameters()
                .into_iter()
                .chain(self.named_buffers())
            {
                sd.insert(k, t.detach());
            }
            for (k, n) in self.own_counts() {
                sd.insert_count(k, n);
            }
            return sd;
        }
        for (k, t) in self.own_parameters().into_iter().chain(self.own_buffers()) {
            sd.insert(k, t.detach());
        }
        for (k, n) in self.own_counts() {
            sd.insert_count(k, n);
        }
        for (name, child) in children {
            sd.extend_prefixed(&name, &child.state_dict());
        }
        sd
    }

    /// Copies `sd`'s values into this module's existing tensors, strictly: every key must be
    /// present with the right shape and no key may be unknown (`num_batches_tracked` may be
    /// absent, as in older PyTorch checkpoints). On any error nothing is changed, and the
    /// error lists every missing key, unexpected key and shape mismatch.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let (src, mut dst) = (Linear::new(2, 2), Linear::new(2, 2));
    /// dst.load_state_dict(&src.state_dict()).unwrap();
    /// assert_eq!(dst.weight().to_vec(), src.weight().to_vec());
    /// ```
    fn load_state_dict(&mut self, sd: &StateDict) -> Result<(), LoadError> {
        let own = self.state_dict();
        let report = LoadReport::between(&own, sd);
        if !report.is_clean() {
            return Err(LoadError::from_report(report));
        }
        crate::state_dict::copy_matching(&own, sd);
        self.load_counts("", sd);
        Ok(())
    }

    /// The non-strict variant (`strict=False` in PyTorch): loads every key whose name and
    /// shape match, skips the rest, and reports what it skipped.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module, StateDict};
    /// let report = Linear::new(2, 2).load_state_dict_non_strict(&StateDict::new());
    /// assert_eq!(report.missing, ["weight", "bias"]);
    /// ```
    fn load_state_dict_non_strict(&mut self, sd: &StateDict) -> LoadReport {
        let own = self.state_dict();
        crate::state_dict::copy_matching(&own, sd);
        self.load_counts("", sd);
        LoadReport::between(&own, sd)
    }

    /// The integer counters this module holds itself, exact (BatchNorm's
    /// `num_batches_tracked`, an int64 in PyTorch). They follow the buffers in the state
    /// dict, as a count entry ([`StateDict::insert_count`]).
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// assert_eq!(BatchNorm1d::new(2).own_counts(), vec![("num_batches_tracked".to_string(), 0)]);
    /// ```
    fn own_counts(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// Sets one of this module's own counters (called by `load_state_dict`); modules
    /// without counters ignore it.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// let bn = BatchNorm1d::new(2);
    /// bn.set_own_count("num_batches_tracked", 5);
    /// assert_eq!(bn.num_batches_tracked(), 5);
    /// ```
    fn set_own_count(&self, _name: &str, _value: u64) {}

    /// Sets every counter in this module and its children from `sd`, whose keys carry
    /// `prefix` (`""` at the top). A missing key leaves the counter as it is.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module, Sequential, StateDict};
    /// let model = Sequential::new().add(BatchNorm1d::new(2));
    /// let mut sd = StateDict::new();
    /// sd.insert_count("0.num_batches_tracked", 3);
    /// model.load_counts("", &sd);
    /// assert_eq!(model.state_dict().count("0.num_batches_tracked"), Some(3));
    /// ```
    fn load_counts(&self, prefix: &str, sd: &StateDict) {
        for (name, _) in self.own_counts() {
            if let Some(n) = sd.count(&format!("{prefix}{name}")) {
                self.set_own_count(&name, n);
            }
        }
        for (name, child) in self.named_children() {
            child.load_counts(&format!("{prefix}{name}."), sd);
        }
    }

    /// Clears every parameter's gradient (sets it to `None`, as PyTorch's default does).
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let fc = Linear::new(1, 1);
    /// fc.zero_grad();
    /// assert!(fc.weight().grad().is_none());
    /// ```
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.set_grad(None);
        }
    }

    /// The name printed for this module (PyTorch's class name): by default the Rust type's
    /// name without its path.
    ///
    /// ```
    /// use kindling::nn::{Module, ReLU};
    /// assert_eq!(ReLU::new().type_name(), "ReLU");
    /// ```
    fn type_name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let plain = full.split('<').next().unwrap_or(full);
        plain.rsplit("::").next().unwrap_or(plain).to_string()
    }

    /// The settings printed inside the parentheses (PyTorch's `extra_repr`), such as
    /// `in_features=2, out_features=3, bias=True`.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// assert_eq!(Linear::new(2, 3).extra_repr(), "in_features=2, out_features=3, bias=True");
    /// ```
    fn extra_repr(&self) -> String {
        String::new()
    }
}

/// `register_forward_hook` for any module, sized or behind `dyn`.
fn register_on(
    hooks: Option<&ForwardHooks>,
    type_name: &str,
    hook: impl Fn(&Tensor, &Tensor) + Send + Sync + 'static,
) -> HookHandle {
    match hooks {
        Some(hooks) => hooks.register(hook),
        None => panic!(
            "register_forward_hook: {type_name} keeps no hook list; give it a field \
             `hooks: kindling::nn::ForwardHooks` (#[derive(Module)] picks it up) or implement \
             `Module::forward_hooks`"
        ),
    }
}

fn collect_modules<'a>(
    name: String,
    module: &'a dyn Module,
    out: &mut Vec<(String, &'a dyn Module)>,
) {
    let children = module.named_children();
    out.push((name.clone(), module));
    for (child_name, child) in children {
        let full = if name.is_empty() {
            child_name
        } else {
            format!("{name}.{child_name}")
        };
        collect_modules(full, child, out);
    }
}

/// The generic methods every module has, for a model of your own type and for a layer
/// behind `&dyn Module` alike (what `named_children` and `named_modules` hand out). They
/// live outside [`Module`] because a method with a closure argument cannot sit on a trait
/// object. Bring it in with `use kindling::nn::ModuleExt` (or `kindling::prelude::*`).
pub trait ModuleExt {
    /// Registers `hook(input, output)`, run after every [`Module::call`] of this module
    /// (PyTorch's `register_forward_hook`). `handle.remove()` takes it out again.
    ///
    /// # Panics
    /// If the module keeps no hook list (a hand-written `impl Module` without
    /// `forward_hooks`); the message names the module's type.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module, ModuleExt, ReLU, Sequential};
    /// use kindling::Tensor;
    /// use std::sync::{Arc, Mutex};
    /// let model = Sequential::new().add(Linear::new(2, 4)).add(ReLU::new());
    /// let dead = Arc::new(Mutex::new(-1.0));
    /// let record = dead.clone();
    /// // A hook on a layer inside the Sequential: the share of ReLU outputs that are 0.
    /// let _h = model.named_modules()[2].1.register_forward_hook(move |_x, y| {
    ///     let v = y.to_vec();
    ///     *record.lock().unwrap() = v.iter().filter(|&&a| a == 0.0).count() as f32 / v.len() as f32;
    /// });
    /// model.call(&Tensor::randn(&[8, 2]));
    /// assert!((0.0..=1.0).contains(&*dead.lock().unwrap()));
    /// ```
    fn register_forward_hook(
        &self,
        hook: impl Fn(&Tensor, &Tensor) + Send + Sync + 'static,
    ) -> HookHandle;

    /// This module and every module inside it, depth first, with PyTorch's dotted names:
    /// `""` for this one, then `"0"`, `"block.conv1"`, ... (PyTorch's `named_modules`).
    ///
    /// ```
    /// use kindling::nn::{Linear, ModuleExt, ReLU, Sequential};
    /// let model = Sequential::new().add(Linear::new(2, 2)).add(ReLU::new());
    /// let names: Vec<String> = model.named_modules().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(names, ["", "0", "1"]);
    /// ```
    fn named_modules(&self) -> Vec<(String, &dyn Module)>;
}

impl<M: Module> ModuleExt for M {
    fn register_forward_hook(
        &self,
        hook: impl Fn(&Tensor, &Tensor) + Send + Sync + 'static,
    ) -> HookHandle {
        register_on(self.forward_hooks(), &self.type_name(), hook)
    }
    fn named_modules(&self) -> Vec<(String, &dyn Module)> {
        let mut out = Vec::new();
        collect_modules(String::new(), self, &mut out);
        out
    }
}

/// The same for a layer behind `&dyn Module`.
///
/// ```
/// use kindling::nn::{Linear, Module, ModuleExt, Sequential};
/// let model = Sequential::new().add(Sequential::new().add(Linear::new(2, 2)));
/// let inner: &dyn Module = model.named_children()[0].1;
/// assert_eq!(inner.named_modules().last().unwrap().0, "0");
/// inner.register_forward_hook(|_x, _y| {}).remove();
/// ```
impl ModuleExt for dyn Module + '_ {
    fn register_forward_hook(
        &self,
        hook: impl Fn(&Tensor, &Tensor) + Send + Sync + 'static,
    ) -> HookHandle {
        register_on(self.forward_hooks(), &self.type_name(), hook)
    }
    fn named_modules(&self) -> Vec<(String, &dyn Module)> {
        let mut out = Vec::new();
        collect_modules(String::new(), self, &mut out);
        out
    }
}

/// Prefixes every key of a child's list with the child's name.
fn prefixed(
    name: &str,
    named: Vec<(String, Tensor)>,
) -> impl Iterator<Item = (String, Tensor)> + '_ {
    named
        .into_iter()
        .map(move |(k, t)| (format!("{name}.{k}"), t))
}

/// A boxed module is a module: `Vec<Box<dyn Module>>` fields and `Sequential`'s layers.
impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, x: &Tensor) -> Tensor {
        (**self).forward(x)
    }
    fn call(&self, x: &Tensor) -> Tensor {
        (**self).call(x)
    }
    fn forward_hooks(&self) -> Option<&ForwardHooks> {
        (**self).forward_hooks()
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        (**self).own_parameters()
    }
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        (**self).own_buffers()
    }
    fn own_counts(&self) -> Vec<(String, u64)> {
        (**self).own_counts()
    }
    fn set_own_count(&self, name: &str, value: u64) {
        (**self).set_own_count(name, value)
    }
    fn load_counts(&self, prefix: &str, sd: &StateDict) {
        (**self).load_counts(prefix, sd)
    }
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        (**self).named_children()
    }
    fn named_children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        (**self).named_children_mut()
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        (**self).named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        (**self).named_buffers()
    }
    fn set_training(&mut self, on: bool) {
        (**self).set_training(on)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
    fn state_dict(&self) -> StateDict {
        (**self).state_dict()
    }
    fn load_state_dict(&mut self, sd: &StateDict) -> Result<(), LoadError> {
        (**self).load_state_dict(sd)
    }
    fn type_name(&self) -> String {
        (**self).type_name()
    }
    fn extra_repr(&self) -> String {
        (**self).extra_repr()
    }
}

/// A list of modules is a module, PyTorch's `nn.ModuleList`: its items are its children
/// `"0"`, `"1"`, ... It has no `forward` of its own; the model that holds it calls the items.
impl<M: Module> Module for Vec<M> {
    fn forward(&self, _x: &Tensor) -> Tensor {
        panic!("a list of modules (ModuleList) has no forward: call its items in turn")
    }
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        self.iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m as &dyn Module))
            .collect()
    }
    fn named_children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        self.iter_mut()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m as &mut dyn Module))
            .collect()
    }
    fn type_name(&self) -> String {
        "ModuleList".into()
    }
}

/// PyTorch's printed form of a module (`print(model)`): the type name with its settings,
/// then each child on its own line, indented, nested as deep as the model is.
///
/// ```
/// use kindling::nn::{Linear, ReLU, Sequential};
/// let model = Sequential::new().add(Linear::new(2, 3)).add(ReLU::new());
/// assert_eq!(
///     kindling::nn::repr(&model),
///     "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
/// );
/// ```
pub fn repr(module: &dyn Module) -> String {
    let extra = module.extra_repr();
    let mut lines: Vec<String> = if extra.is_empty() {
        Vec::new()
    } else {
        extra.lines().map(str::to_string).collect()
    };
    let children = module.named_children();
    let only_settings = children.is_empty() && lines.len() == 1;
    for (name, child) in children {
        // Lines after the first of a nested repr move right with it.
        let nested = repr(child).replace('\n', "\n  ");
        lines.push(format!("({name}): {nested}"));
    }
    let mut out = format!("{}(", module.type_name());
    if only_settings {
        out += &lines[0];
    } else if !lines.is_empty() {
        out += "\n  ";
        out += &lines.join("\n  ");
        out += "\n";
    }
    out + ")"
}

impl std::fmt::Display for dyn Module + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr(self))
    }
}

/// `impl Display` with PyTorch's printed form ([`repr`]) for module types, so that
/// `println!("{model}")` works. `#[derive(Module)]` writes it for derived modules.
#[macro_export]
macro_rules! impl_display_as_repr {
    ($($t:ty),* $(,)?) => {$(
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::repr(self))
            }
        }
    )*};
}

/// The three `Module` methods every layer writes the same way: its own training flag
/// (`self.training`) and its forward-hook list (`self.hooks`). Used inside `impl Module`.
#[macro_export]
#[doc(hidden)]
macro_rules! layer_flag_and_hooks {
    () => {
        fn set_training(&mut self, on: bool) {
            self.training = on;
        }
        fn is_training(&self) -> bool {
            self.training
        }
        fn forward_hooks(&self) -> Option<&$crate::ForwardHooks> {
            Some(&self.hooks)
        }
    };
}

/// Python's spelling of a bool, for printed settings.
pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's `repr` of a float, for printed settings: `0.1`, `1.0`, `1e-05`.
pub(crate) fn py_float(v: f32) -> String {
    let sci = format!("{v:e}"); // shortest digits: "1e-5", "1.5e0"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if v != 0.0 && v.is_finite() && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{v}");
    if v.is_finite() && !plain.contains('.') {
        plain + ".0"
    } else {
        plain
    }
}

/// `[("weight", w), ("bias", b)]`, or just the weight without a bias: the parameter list of
/// every layer that has a weight and an optional bias (Linear, Conv2d, affine BatchNorm).
pub(crate) fn weight_and_bias(weight: &Tensor, bias: Option<&Tensor>) -> Vec<(String, Tensor)> {
    let mut params = vec![("weight".to_string(), weight.clone())];
    params.extend(bias.map(|b| ("bias".to_string(), b.clone())));
    params
}
