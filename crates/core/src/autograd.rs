//! Reverse-mode automatic differentiation: grad mode, `backward`, and user-defined ops
//! (`custom_op`). `gradcheck`, which checks backward rules against finite differences, is in
//! `gradcheck.rs` and re-exported here.
//!
//! The graph is dynamic (define-by-run): every op that runs with grad mode on and an input
//! that requires a gradient records itself (`Op`) on its output. `backward` then
//!  1. finds every node reachable from the loss, in topological order, with an explicit
//!     stack (a recursive walk would overflow on a chain of 100,000 ops);
//!  2. visits them from the loss back to the leaves, handing each op the gradient of its
//!     output and collecting the gradients of its inputs;
//!  3. adds (`+=`) the gradient of each leaf into its `.grad()`;
//!  4. frees each op, and the values it saved, as soon as it has been used, as PyTorch does
//!     unless asked to retain the graph.

use std::cell::Cell;
use std::collections::HashMap;

use crate::Tensor;

pub use crate::gradcheck::{gradcheck, GradcheckOptions, GradcheckReport};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops currently record the graph (true unless inside [`no_grad`]).
///
/// ```
/// use kindling::{autograd::is_grad_enabled, no_grad};
/// assert!(is_grad_enabled());
/// no_grad(|| assert!(!is_grad_enabled()));
/// ```
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with graph recording off and returns its value, like `with torch.no_grad():`.
/// Use it for evaluation and for updating parameters by hand.
///
/// ```
/// use kindling::{no_grad, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad(true);
/// let y = no_grad(|| &w * 3.0);
/// assert!(!y.is_requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

impl Tensor {
    /// Computes the gradient of this one-element tensor with respect to every leaf that
    /// requires a gradient, and adds it into the leaf's `.grad()`. The graph is freed.
    ///
    /// # Panics
    /// If the tensor has more than one element (use [`Tensor::backward_with`]), if it does
    /// not require a gradient, or if its graph was already freed by an earlier `backward`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![2.0], &[1]).requires_grad(true);
    /// let y = (&x * &x + &x).sum(); // y = x² + x, dy/dx = 2x + 1
    /// y.backward();
    /// assert_eq!(x.grad().unwrap().item(), 5.0);
    /// ```
    pub fn backward(&self) {
        assert!(
            self.numel() == 1,
            "backward: the output has shape {:?}; backward() needs a single value \
             (reduce it with .sum() or .mean(), or call backward_with(grad))",
            self.shape()
        );
        self.backward_with(&Tensor::ones(self.shape()));
    }

    /// Backward from a tensor of any shape, given the gradient of the loss with respect to
    /// it (PyTorch's `t.backward(gradient)`).
    ///
    /// # Panics
    /// If `grad`'s shape differs from this tensor's, or the tensor does not require a
    /// gradient, or its graph was already freed.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    /// let y = &x * 3.0;
    /// y.backward_with(&Tensor::from_vec(vec![1.0, 10.0], &[2]));
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 30.0]);
    /// ```
    pub fn backward_with(&self, grad: &Tensor) {
        assert!(
            grad.shape() == self.shape(),
            "backward_with: gradient shape {:?} does not match output shape {:?}",
            grad.shape(),
            self.shape()
        );
        assert!(
            self.is_requires_grad(),
            "backward: this tensor does not require grad and has no graph \
             (did you forget .requires_grad(true) on a leaf, or run it inside no_grad?)"
        );
        crate::no_grad(|| run_backward(self, grad.detach()));
    }
}

fn run_backward(root: &Tensor, seed: Tensor) {
    let mut order: Vec<Option<Tensor>> = topological_order(root).into_iter().map(Some).collect();
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);

    // `order` lists inputs before the ops that read them, so walk it backwards.
    for slot in order.iter_mut().rev() {
        let node = slot.take().expect("each node is visited once");
        let Some(g) = grads.remove(&node.id()) else {
            continue; // no gradient reached this node (e.g. an unused branch)
        };
        if node.is_leaf() {
            add_to_grad(&node, g);
            continue;
        }
        if node.retains_grad() {
            // A second handle: `owned` copies it, so the gradient flowing on keeps its buffer.
            add_to_grad(&node, g.clone());
        }
        let op = node.0.op.lock().unwrap().take().unwrap_or_else(|| {
            panic!(
                "backward: trying to backward through the graph a second time: the graph \
                 behind this tensor was freed by an earlier backward() (tensor shape {:?})",
                node.shape()
            )
        });
        check_saved_versions(&op, &node);
        let input_grads = crate::profile::backward(op.name(), || op.backward(&node, &g));
        // A rule may have written its result into `g`'s buffer; let go of `g` so that the
        // result is that buffer's only holder.
        drop(g);
        for (input, ig) in op.inputs().into_iter().zip(input_grads) {
            let Some(ig) = ig else { continue };
            if !input.is_requires_grad() {
                continue;
            }
            debug_assert_eq!(ig.shape(), input.shape(), "{} backward", op.name());
            let sum = match grads.remove(&input.id()) {
                Some(so_far) => accumulate(so_far, &ig),
                None => ig,
            };
            grads.insert(input.id(), sum);
        }
        // `op` drops here, releasing the values it saved for backward.
    }
}

/// PyTorch's guard against in-place writes: every value an op saved for its backward rule
/// must still be the value it saw. An optimizer step, `copy_from` or `load_state_dict`
/// between `forward` and `backward` changes a parameter's storage version, and the
/// gradient would otherwise silently come from the new values.
fn check_saved_versions(op: &crate::op::Op, out: &Tensor) {
    let mut saved: Vec<&Tensor> = op.saved();
    if op.saves_output() {
        saved.push(out);
    }
    for (t, &then) in saved.iter().zip(&out.0.saved_versions) {
        let now = t.version();
        assert!(
            now == then,
            "backward: one of the variables needed for gradient computation has been \
             modified by an inplace operation: the tensor of shape {:?} that {} saved is at \
             version {now}; expected version {then} instead. Hint: an optimizer step, \
             copy_from, data_mut or load_state_dict ran between the forward pass and \
             backward(); call backward() first",
            t.shape(),
            op.name()
        );
    }
}

/// `so_far + g`: the one way every gradient is summed, inside the walk and into a leaf's
/// `.grad()`. When nothing else holds `so_far`'s buffer, `g` is added into it, with no new
/// buffer; otherwise the sum goes to a new one, so a buffer someone else holds never changes.
fn accumulate(so_far: Tensor, g: &Tensor) -> Tensor {
    let shape = so_far.shape().to_vec();
    let mut data = take_buffer(so_far).unwrap_or_else(|t| t.to_vec());
    for (d, v) in data.iter_mut().zip(g.data().iter()) {
        *d += v;
    }
    Tensor::constant(data, shape)
}

/// Adds `g` into the gradient a tensor keeps (a leaf's, or a non-leaf's after
/// `retain_grad`), which must own its buffer.
fn add_to_grad(node: &Tensor, g: Tensor) {
    let mut slot = node.0.grad.lock().unwrap();
    *slot = Some(match slot.take() {
        Some(so_far) => accumulate(so_far, &g),
        None => owned(g),
    });
}

/// A kept gradient's first value, made sure to be its own: a gradient still shared (the two
/// inputs of `a + b` receive the same tensor, and a seed comes from the caller) is copied,
/// so that scaling one leaf's gradient in place (as gradient clipping does) never changes
/// another's, or the caller's seed.
fn owned(t: Tensor) -> Tensor {
    let shape = t.shape().to_vec();
    match take_buffer(t) {
        Ok(data) => Tensor::constant(data, shape),
        Err(shared) => shared.copy(),
    }
}

/// The buffer behind `t` if `t` is its only holder, or `t` back if it is shared.
fn take_buffer(t: Tensor) -> Result<Vec<f32>, Tensor> {
    let mut inner = std::sync::Arc::try_unwrap(t.0).map_err(Tensor)?;
    match std::sync::Arc::get_mut(&mut inner.storage) {
        Some(storage) => Ok(storage.take_vec()),
        None => Err(Tensor(std::sync::Arc::new(inner))),
    }
}

/// Every tensor that requires grad and is reachable from `root`, each once, in an order
/// where a tensor comes after all of its inputs. Iterative DFS with an explicit stack.
pub(crate) fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // (tensor, children already pushed?)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        let inputs: Vec<Tensor> = match t.0.op.lock().unwrap().as_ref() {
            Some(op) => op.inputs().into_iter().cloned().collect(),
            None => Vec::new(),
        };
        stack.push((t, true));
        for input in inputs {
            if input.is_requires_grad() && !seen.contains(&input.id()) {
                stack.push((input, false));
            }
        }
    }
    order
}

/// A differentiable op written outside kindling: a forward pass and its backward rule,
/// recorded in the graph like a built-in op (gradients accumulate, `no_grad` skips it,
/// `retain_grad`, the DOT picture and `gradcheck` work, and writing to a saved input before
/// backward is caught). See [`custom_op`]. It must be `Send + Sync`, as every tensor is
/// (a graph can be built on one thread and run backward on another); any struct of plain
/// data is.
pub trait CustomOp: Send + Sync + 'static {
    /// The op's name, shown in errors, in the DOT picture and by `op_name()`.
    fn name(&self) -> &str;
    /// The output, computed from the inputs. It runs with grad mode off, so any tensor
    /// arithmetic in it records nothing.
    fn forward(&self, inputs: &[Tensor]) -> Tensor;
    /// The gradients of the loss with respect to each input, given the inputs, the output
    /// and the gradient with respect to the output: one entry per input, `None` where no
    /// gradient is needed. Also runs with grad mode off.
    fn backward(
        &self,
        inputs: &[Tensor],
        output: &Tensor,
        grad_output: &Tensor,
    ) -> Vec<Option<Tensor>>;
}

/// Runs a [`CustomOp`] on `inputs` and records it in the graph.
///
/// # Panics
/// In backward, if the op returns a wrong number of gradients, or a gradient whose shape
/// is not its input's; the message names the op and both shapes.
///
/// ```
/// use kindling::autograd::{custom_op, gradcheck, CustomOp};
/// use kindling::Tensor;
///
/// /// swish(x) = x·σ(x), with its derivative σ(x)·(1 + x·(1 - σ(x))).
/// struct Swish;
/// impl CustomOp for Swish {
///     fn name(&self) -> &str { "Swish" }
///     fn forward(&self, inputs: &[Tensor]) -> Tensor {
///         &inputs[0] * &inputs[0].sigmoid()
///     }
///     fn backward(&self, inputs: &[Tensor], _out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
///         let x = &inputs[0];
///         let s = x.sigmoid();
///         vec![Some(g * &(&s * &(1.0 + x * &(1.0 - &s))))]
///     }
/// }
///
/// let x = Tensor::from_vec(vec![-2.0, -0.5, 0.0, 1.5], &[4]).requires_grad(true);
/// let y = custom_op(Swish, &[&x]);
/// assert_eq!(y.op_name(), Some("Swish"));
/// y.sum().backward();
/// assert!((x.grad().unwrap().to_vec()[2] - 0.5).abs() < 1e-6); // σ(0)·(1 + 0) = 0.5
/// assert!(gradcheck(|t| custom_op(Swish, &[&t[0]]), &[x.detach()], Default::default()).is_ok());
/// ```
pub fn custom_op(op: impl CustomOp, inputs: &[&Tensor]) -> Tensor {
    let inputs: Vec<Tensor> = inputs.iter().map(|&t| t.clone()).collect();
    let out = no_grad(|| op.forward(&inputs));
    // The result gets storage of its own, even if the forward handed back an input.
    let data = out.to_vec();
    let name = intern(op.name());
    Tensor::from_op(
        data,
        out.shape().to_vec(),
        crate::op::Op::Custom {
            name,
            op: Box::new(op),
            inputs,
        },
    )
}

/// One `'static` copy of each custom op's name (names are few, and `op_name` hands out
/// `&'static str`).
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = names.iter().find(|&&n| n == name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}
