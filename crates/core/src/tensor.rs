//! `Tensor`: a cheap-to-clone handle to an n-dimensional array of `f32`, plus the
//! bookkeeping autograd needs (does it require a gradient, which op made it, its `.grad`).
//!
//! The layout is always contiguous row-major, so every kernel can treat the data as one flat
//! slice. Clones share storage and gradient, exactly like two Python names bound to the same
//! PyTorch tensor: when an optimizer updates a parameter in place, every clone sees it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLockReadGuard, RwLockWriteGuard};

use crate::autograd::is_grad_enabled;
use crate::op::Op;
use crate::shape::numel;
use crate::storage::Storage;

/// Every tensor gets a unique id so that the backward pass can find shared nodes (diamonds).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An n-dimensional, row-major array of `f32` that can take part in automatic differentiation.
///
/// ```
/// use kindling::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).requires_grad(true);
/// let y = (&x * &x).sum();
/// y.backward();
/// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0, 8.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) shape: Vec<usize>,
    /// Shared with `detach()`ed copies and `reshape`d views, as in PyTorch.
    pub(crate) storage: Arc<Storage>,
    pub(crate) requires_grad: bool,
    /// Leaves are tensors the user made; non-leaves were made by an op while recording.
    pub(crate) is_leaf: bool,
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// Set by `retain_grad`: a non-leaf that keeps its gradient after `backward`.
    pub(crate) retains_grad: AtomicBool,
    /// The op that produced this tensor. `backward` takes it out, which frees the graph.
    pub(crate) op: Mutex<Option<Op>>,
    /// The storage versions of the values `op` saved for backward, noted when it ran, in
    /// the order of `Op::saved` (and this tensor's own last, if the op saves its output).
    pub(crate) saved_versions: Vec<u64>,
}

impl Tensor {
    // ---------------------------------------------------------------- construction

    /// A new handle on `storage`, made by `op` if the op is to be recorded.
    fn node(storage: Arc<Storage>, shape: Vec<usize>, op: Option<Op>) -> Tensor {
        crate::profile::result_made(op.as_ref().map(Op::name));
        let op =
            op.filter(|op| is_grad_enabled() && op.inputs().iter().any(|t| t.is_requires_grad()));
        let saved_versions = match &op {
            Some(op) => {
                let mut v: Vec<u64> = op.saved().iter().map(|t| t.0.storage.version()).collect();
                if op.saves_output() {
                    v.push(storage.version());
                }
                v
            }
            None => Vec::new(),
        };
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            storage,
            requires_grad: op.is_some(),
            is_leaf: op.is_none(),
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            op: Mutex::new(op),
            saved_versions,
        }))
    }

    /// Wraps the result of an op. The op is recorded (so backward can run through it) if
    /// grad mode is on and one of its inputs requires a gradient; otherwise the result is
    /// a plain constant.
    pub(crate) fn from_op(data: Vec<f32>, shape: Vec<usize>, op: Op) -> Tensor {
        debug_assert_eq!(data.len(), numel(&shape), "{}", op.name());
        Tensor::node(Arc::new(Storage::new(data)), shape, Some(op))
    }

    /// A view of `src`'s values in another shape, made by `op` (`reshape` copies nothing).
    pub(crate) fn view_op(src: &Tensor, shape: Vec<usize>, op: Op) -> Tensor {
        Tensor::node(src.0.storage.clone(), shape, Some(op))
    }

    /// A constant (no graph) with the given data and shape.
    pub(crate) fn constant(data: Vec<f32>, shape: Vec<usize>) -> Tensor {
        debug_assert_eq!(data.len(), numel(&shape));
        Tensor::node(Arc::new(Storage::new(data)), shape, None)
    }

    /// Builds a tensor from row-major data.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`; the message names both.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(t.shape(), &[2, 3]);
    /// ```
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let n = numel(shape);
        assert!(
            data.len() == n,
            "Tensor::from_vec: data has {} elements but shape {:?} needs {}",
            data.len(),
            shape,
            n
        );
        Tensor::constant(data, shape.to_vec())
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[2]).to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::ones(&[3]).sum().item(), 3.0);
    /// ```
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A tensor filled with `value`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::full(&[2], 7.0).to_vec(), vec![7.0, 7.0]);
    /// ```
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::constant(vec![value; numel(shape)], shape.to_vec())
    }

    /// A zero-dimensional tensor (shape `[]`) holding one value.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let s = Tensor::scalar(2.5);
    /// assert_eq!(s.shape(), &[] as &[usize]);
    /// assert_eq!(s.item(), 2.5);
    /// ```
    pub fn scalar(value: f32) -> Tensor {
        Tensor::constant(vec![value], vec![])
    }

    /// Samples from the standard normal distribution, using the global generator that
    /// [`manual_seed`](crate::manual_seed) seeds.
    ///
    /// ```
    /// use kindling::{manual_seed, Tensor};
    /// manual_seed(0);
    /// let a = Tensor::randn(&[3]);
    /// manual_seed(0);
    /// assert_eq!(a.to_vec(), Tensor::randn(&[3]).to_vec());
    /// ```
    pub fn randn(shape: &[usize]) -> Tensor {
        Tensor::constant(crate::rng::normal_vec(numel(shape)), shape.to_vec())
    }

    /// Samples uniformly from `[0, 1)`, using the global generator.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let u = Tensor::rand(&[100]);
    /// assert!(u.to_vec().iter().all(|&v| (0.0..1.0).contains(&v)));
    /// ```
    pub fn rand(shape: &[usize]) -> Tensor {
        Tensor::constant(crate::rng::uniform_vec(numel(shape)), shape.to_vec())
    }

    /// Builder: returns a leaf that shares this tensor's storage and (if `on`) has its
    /// `.grad()` filled by `backward()`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let w = Tensor::ones(&[2]).requires_grad(true);
    /// assert!(w.is_requires_grad());
    /// ```
    pub fn requires_grad(self, on: bool) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape: self.0.shape.clone(),
            storage: self.0.storage.clone(),
            requires_grad: on,
            is_leaf: true,
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            op: Mutex::new(None),
            saved_versions: Vec::new(),
        }))
    }

    /// A new leaf sharing this tensor's storage but cut off from the graph (PyTorch's
    /// `detach`): nothing flows back through it.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad(true);
    /// let y = (&x * 2.0).detach();
    /// assert!(!y.is_requires_grad());
    /// ```
    pub fn detach(&self) -> Tensor {
        self.clone().requires_grad(false)
    }

    // ---------------------------------------------------------------- accessors

    /// The dimensions, outermost first.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[4, 5]).shape(), &[4, 5]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// The number of dimensions (`ndim` in PyTorch).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[4, 5]).dim(), 2);
    /// ```
    pub fn dim(&self) -> usize {
        self.0.shape.len()
    }

    /// The total number of elements.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[4, 5]).numel(), 20);
    /// ```
    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }

    /// A copy of the data, row-major.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![1.0, 2.0], &[2]).to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn to_vec(&self) -> Vec<f32> {
        self.data().clone()
    }

    /// The value of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![3.0, 4.0], &[2]).sum().item(), 7.0);
    /// ```
    pub fn item(&self) -> f32 {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {:?} has {} elements, expected exactly 1",
            self.shape(),
            self.numel()
        );
        self.data()[0]
    }

    /// Whether gradients flow to (or through) this tensor.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert!(!Tensor::zeros(&[1]).is_requires_grad());
    /// ```
    pub fn is_requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for tensors the user created (as opposed to results of recorded ops).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad(true);
    /// assert!(x.is_leaf());
    /// assert!(!(&x * 2.0).is_leaf());
    /// ```
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// A stable identity for this tensor handle (clones share it). Useful as a map key.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::zeros(&[1]);
    /// assert_eq!(a.id(), a.clone().id());
    /// ```
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The accumulated gradient of a leaf, if `backward` has reached it.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![3.0], &[1]).requires_grad(true);
    /// (&x * &x).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![6.0]);
    /// ```
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap().clone()
    }

    /// Makes this non-leaf tensor keep its gradient after `backward` (PyTorch's
    /// `retain_grad`): the gradient of the loss with respect to an intermediate value, such
    /// as a layer's activations, which is otherwise summed into the leaves and dropped. On a
    /// leaf it changes nothing (leaves always keep theirs). Call it before `backward`;
    /// gradients from several backward passes add up, as for leaves.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    /// let h = &x * 3.0;
    /// h.retain_grad();
    /// (&h * &h).sum().backward();            // d/dh of Σh² is 2h
    /// assert_eq!(h.grad().unwrap().to_vec(), vec![6.0, 12.0]);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![18.0, 36.0]);
    /// ```
    pub fn retain_grad(&self) {
        if !self.is_leaf() {
            self.0.retains_grad.store(true, Ordering::Relaxed);
        }
    }

    /// Whether this tensor keeps its gradient after `backward`: leaves that require a
    /// gradient, and non-leaves after [`Tensor::retain_grad`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad(true);
    /// let y = &x * 2.0;
    /// assert!(x.retains_grad() || x.is_leaf());
    /// assert!(!y.retains_grad());
    /// y.retain_grad();
    /// assert!(y.retains_grad());
    /// ```
    pub fn retains_grad(&self) -> bool {
        self.0.retains_grad.load(Ordering::Relaxed)
    }

    /// Sets the gradient to zeros (if there is one), like PyTorch's `x.grad.zero_()`.
    /// Optimizers' `zero_grad` instead clears it (`set_to_none`), see [`Tensor::set_grad`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad(true);
    /// x.sum().backward();
    /// x.zero_grad();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn zero_grad(&self) {
        let mut g = self.0.grad.lock().unwrap();
        if let Some(t) = g.as_ref() {
            *g = Some(Tensor::zeros(t.shape()));
        }
    }

    /// Replaces the gradient (`None` clears it, as `optimizer.zero_grad()` does in PyTorch).
    ///
    /// # Panics
    /// If the new gradient's shape differs from the tensor's.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::zeros(&[2]).requires_grad(true);
    /// p.set_grad(Some(Tensor::ones(&[2])));
    /// assert_eq!(p.grad().unwrap().to_vec(), vec![1.0, 1.0]);
    /// p.set_grad(None);
    /// assert!(p.grad().is_none());
    /// ```
    pub fn set_grad(&self, grad: Option<Tensor>) {
        if let Some(g) = &grad {
            assert!(
                g.shape() == self.shape(),
                "set_grad: gradient shape {:?} does not match tensor shape {:?}",
                g.shape(),
                self.shape()
            );
        }
        *self.0.grad.lock().unwrap() = grad.map(|g| g.detach());
    }

    /// Read access to the raw data, for kernels and for code that wants no copy.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::ones(&[3]);
    /// assert_eq!(t.data().iter().sum::<f32>(), 3.0);
    /// ```
    pub fn data(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        self.0.storage.read_quiet()
    }

    /// Read access for an op reading its input: the same as [`Tensor::data`], and it starts
    /// the profiler's clock for the op (see `profile.rs`).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        self.0.storage.read()
    }

    /// Write access to the raw data, outside the graph: this is how an optimizer updates a
    /// parameter in place. Gradients already computed are not affected.
    ///
    /// Every call counts as a write to the storage (its version goes up, as with any
    /// in-place op in PyTorch), so a `backward` that needs the old values refuses to run
    /// instead of silently using the new ones.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::ones(&[2]);
    /// p.data_mut()[1] = 5.0;
    /// assert_eq!(p.to_vec(), vec![1.0, 5.0]);
    /// ```
    pub fn data_mut(&self) -> RwLockWriteGuard<'_, Vec<f32>> {
        self.0.storage.write()
    }

    /// How many times this tensor's storage was written in place (PyTorch's `_version`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::zeros(&[2]);
    /// let v = p.version();
    /// p.data_mut()[0] = 1.0;
    /// assert_eq!(p.version(), v + 1);
    /// ```
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }

    /// True when both handles read and write the same memory (clones, `detach`, `reshape`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::zeros(&[2, 2]);
    /// assert!(a.shares_storage(&a.reshape(&[4])));
    /// assert!(!a.shares_storage(&a.copy()));
    /// ```
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// A new tensor with its own copy of the values: PyTorch's `clone()` (kindling's
    /// `clone()` is a second handle on the same tensor). Like PyTorch's, it is recorded in
    /// the graph, so gradients flow back through it; `x.detach().copy()` gives a copy
    /// outside the graph.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::ones(&[2]).requires_grad(true);
    /// let b = a.copy();
    /// assert!(!b.shares_storage(&a));
    /// (&b * 3.0).sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![3.0, 3.0]);
    /// ```
    pub fn copy(&self) -> Tensor {
        Tensor::from_op(self.to_vec(), self.shape().to_vec(), Op::Copy(self.clone()))
    }

    /// Copies `src`'s values into this tensor's storage in place (PyTorch's `copy_`),
    /// so every clone and every optimizer holding this tensor sees them.
    ///
    /// Like PyTorch, it refuses a leaf that requires grad while grad mode is on ("a leaf
    /// Variable that requires grad is being used in an in-place operation"): updating a
    /// parameter by hand belongs inside [`no_grad`](crate::no_grad), where it is allowed.
    ///
    /// # Panics
    /// If the shapes differ (the message names both), or on a leaf that requires grad
    /// outside `no_grad`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::zeros(&[2]);
    /// let alias = p.clone();
    /// p.copy_from(&Tensor::ones(&[2]));
    /// assert_eq!(alias.to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn copy_from(&self, src: &Tensor) {
        assert!(
            src.shape() == self.shape(),
            "copy_from: source shape {:?} does not match destination shape {:?}",
            src.shape(),
            self.shape()
        );
        assert!(
            !(self.is_leaf() && self.is_requires_grad() && is_grad_enabled()),
            "copy_from: a leaf Variable that requires grad is being used in an in-place \
             operation (shape {:?}); update it inside no_grad(|| ...)",
            self.shape()
        );
        if self.shares_storage(src) {
            drop(self.data_mut()); // still a write, as `x.copy_(x)` is in PyTorch
            return;
        }
        let values = src.to_vec();
        self.data_mut().copy_from_slice(&values);
    }

    /// True when this handle is the only one on the tensor and on its storage.
    pub(crate) fn is_sole_owner(&self) -> bool {
        Arc::strong_count(&self.0) == 1 && Arc::strong_count(&self.0.storage) == 1
    }

    /// Read access to several tensors at once, taking each storage's lock only once: `&w * &w`
    /// reading `w` twice would deadlock if another thread were waiting to write `w` between
    /// the two reads (a waiting writer blocks new readers).
    pub(crate) fn read_all<'a>(tensors: &[&'a Tensor]) -> Reads<'a> {
        let mut guards: Vec<(&'a Tensor, RwLockReadGuard<'a, Vec<f32>>)> = Vec::new();
        let mut which = Vec::with_capacity(tensors.len());
        for &t in tensors {
            match guards.iter().position(|(held, _)| held.shares_storage(t)) {
                Some(i) => which.push(i),
                None => {
                    which.push(guards.len());
                    guards.push((t, t.read()));
                }
            }
        }
        Reads {
            guards: guards.into_iter().map(|(_, g)| g).collect(),
            which,
        }
    }

    /// The op that produced this tensor, by name (`None` for leaves and freed graphs).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad(true);
    /// assert_eq!(x.exp().op_name(), Some("Exp"));
    /// ```
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.op.lock().unwrap().as_ref().map(|op| op.name())
    }
}

/// The values of several tensors, each storage locked once (see [`Tensor::read_all`]).
pub(crate) struct Reads<'a> {
    guards: Vec<RwLockReadGuard<'a, Vec<f32>>>,
    which: Vec<usize>,
}

impl Reads<'_> {
    /// The values of the `i`-th tensor passed to `read_all`.
    pub(crate) fn get(&self, i: usize) -> &[f32] {
        &self.guards[self.which[i]]
    }
}

/// Dropping a long chain of tensors would recurse once per node (each node owns its inputs)
/// and overflow the stack. Instead, a dying tensor moves its inputs onto a heap stack and
/// unlinks them one by one, so drop depth stays constant however deep the graph is.
impl Drop for Inner {
    fn drop(&mut self) {
        let Some(op) = self.op.get_mut().ok().and_then(|o| o.take()) else {
            return;
        };
        let mut stack = op.into_inputs();
        while let Some(t) = stack.pop() {
            if let Some(mut inner) = Arc::into_inner(t.0) {
                if let Some(op) = inner.op.get_mut().ok().and_then(|o| o.take()) {
                    stack.extend(op.into_inputs());
                }
            }
        }
    }
}
