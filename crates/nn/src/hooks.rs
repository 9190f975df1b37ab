//! Forward hooks: closures that see a module's input and output each time the module is
//! called through [`Module::call`](crate::Module::call), PyTorch's `register_forward_hook`.
//!
//! Every layer keeps a [`ForwardHooks`] list (a derived model gets one from a field of that
//! type). Registering returns a [`HookHandle`]; `handle.remove()` takes the hook out again.
//! As in PyTorch, dropping the handle leaves the hook in place, and calling `forward`
//! directly runs no hooks: `call` is the framework's entry point, `forward` the maths.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use kindling_core::Tensor;

/// A forward hook: called with the module's input and its output.
pub type ForwardHook = dyn Fn(&Tensor, &Tensor) + Send + Sync;

type HookList = Mutex<Vec<(u64, Arc<ForwardHook>)>>;

/// Handles are told apart by a process-wide counter, so a handle never removes a newer
/// hook that happens to sit where its own was.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The forward hooks one module holds, in registration order.
///
/// A clone starts empty: a hook usually records into state of its own (per-layer
/// statistics), and its handle could not remove it from the copy.
///
/// ```
/// use kindling::nn::{ForwardHooks, Linear, Module, ModuleExt};
/// use kindling::Tensor;
/// use std::sync::{Arc, Mutex};
///
/// let fc = Linear::new(2, 3);
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let handle = fc.register_forward_hook(move |_input, output| {
///     log.lock().unwrap().push(output.shape().to_vec());
/// });
/// fc.call(&Tensor::ones(&[4, 2]));    // hooks run
/// fc.forward(&Tensor::ones(&[5, 2])); // forward alone skips them, as in PyTorch
/// handle.remove();
/// fc.call(&Tensor::ones(&[6, 2]));    // removed
/// assert_eq!(*seen.lock().unwrap(), vec![vec![4, 3]]);
/// # let _unused: ForwardHooks = ForwardHooks::new();
/// ```
#[derive(Default)]
pub struct ForwardHooks {
    list: Arc<HookList>,
}

impl ForwardHooks {
    /// An empty list.
    ///
    /// ```
    /// assert!(kindling::nn::ForwardHooks::new().is_empty());
    /// ```
    pub fn new() -> Self {
        ForwardHooks::default()
    }

    /// Adds a hook at the end; it runs after the ones already there.
    ///
    /// ```
    /// use kindling::nn::ForwardHooks;
    /// let hooks = ForwardHooks::new();
    /// let _handle = hooks.register(|_x, _y| {});
    /// assert_eq!(hooks.len(), 1);
    /// ```
    pub fn register(&self, hook: impl Fn(&Tensor, &Tensor) + Send + Sync + 'static) -> HookHandle {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, Arc::new(hook)));
        HookHandle {
            list: Arc::downgrade(&self.list),
            id,
        }
    }

    /// Runs every hook with `input` and `output`, in registration order. The list is copied
    /// first, so a hook may register or remove hooks (its own included) without deadlock;
    /// such changes take effect from the next call.
    ///
    /// ```
    /// use kindling::nn::ForwardHooks;
    /// use kindling::Tensor;
    /// let hooks = ForwardHooks::new();
    /// hooks.run(&Tensor::ones(&[1]), &Tensor::ones(&[1])); // no hooks: nothing happens
    /// ```
    pub fn run(&self, input: &Tensor, output: &Tensor) {
        let hooks: Vec<Arc<ForwardHook>> = {
            let list = self.lock();
            if list.is_empty() {
                return;
            }
            list.iter().map(|(_, h)| h.clone()).collect()
        };
        for hook in hooks {
            hook(input, output);
        }
    }

    /// The number of hooks registered.
    ///
    /// ```
    /// assert_eq!(kindling::nn::ForwardHooks::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no hook is registered.
    ///
    /// ```
    /// assert!(kindling::nn::ForwardHooks::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A hook that panicked poisons the lock; the list itself is still whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<ForwardHook>)>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clone for ForwardHooks {
    fn clone(&self) -> Self {
        ForwardHooks::new()
    }
}

impl fmt::Debug for ForwardHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForwardHooks({})", self.len())
    }
}

/// What `register_forward_hook` returns: `remove()` takes the hook out (PyTorch's
/// `RemovableHandle`). Dropping the handle keeps the hook.
///
/// ```
/// use kindling::nn::{Module, ModuleExt, ReLU};
/// let relu = ReLU::new();
/// let handle = relu.register_forward_hook(|_x, _y| {});
/// assert_eq!(relu.forward_hooks().unwrap().len(), 1);
/// handle.remove();
/// assert_eq!(relu.forward_hooks().unwrap().len(), 0);
/// ```
#[derive(Debug)]
#[must_use = "keep the handle to remove the hook later, or drop it to keep the hook for good"]
pub struct HookHandle {
    list: Weak<HookList>,
    id: u64,
}

impl HookHandle {
    /// Removes the hook. Does nothing if it is already gone or its module was dropped.
    ///
    /// ```
    /// use kindling::nn::{Linear, ModuleExt};
    /// let handle = Linear::new(1, 1).register_forward_hook(|_x, _y| {});
    /// handle.remove(); // the Linear is gone already: nothing to do
    /// ```
    pub fn remove(self) {
        if let Some(list) = self.list.upgrade() {
            let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|(id, _)| *id != self.id);
        }
    }
}
