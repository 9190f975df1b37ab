//! `Sequential`: modules run one after another (`torch.nn.Sequential`). Its children are
//! named by position, so parameters get PyTorch's keys `"0.weight"`, `"1.running_mean"`.
//!
//! `forward` runs a `ReLU` next to a `MaxPool2d` as one op, `Tensor::relu_max_pool2d`: the
//! CNN pattern conv → ReLU → pool then skips writing and re-reading the ReLU's full-size
//! output. A `BatchNorm2d` before the pair joins them, `Tensor::batch_norm_relu_max_pool2d`,
//! which also skips the BatchNorm's output and the gradient into it; a `Conv2d` before the
//! pair joins them likewise, `Tensor::conv2d_relu_max_pool2d`, skipping the convolution's
//! output and its gradient. The layer types are noted when a module is pushed, and the
//! layers are kept as `Any` too (to reach `BatchNorm2d`'s and `Conv2d`'s own methods), so
//! the `Module` trait needs no hook for this.

use std::any::Any;

use kindling_core::Tensor;

use crate::{BatchNorm2d, Conv2d, ForwardHooks, MaxPool2d, Module, ReLU};

/// A chain of modules; `forward` feeds each one's output to the next.
///
/// A `ReLU` directly followed by a `MaxPool2d`, or a `MaxPool2d` by a `ReLU`, runs as one
/// fused op ([`Tensor::relu_max_pool2d`]) in `forward`, with bit-identical outputs and
/// gradients. A `BatchNorm2d` directly followed by a `ReLU` and a `MaxPool2d` (in that
/// order) runs as one op too ([`Tensor::batch_norm_relu_max_pool2d`]), with the same
/// outputs, gradients, running statistics and `num_batches_tracked`; so does a `Conv2d`
/// directly followed by a `ReLU` and a `MaxPool2d` ([`Tensor::conv2d_relu_max_pool2d`]),
/// with the same outputs and gradients. (In `Conv2d → BatchNorm2d → ReLU → MaxPool2d` the
/// convolution is followed by the BatchNorm, so it is the last three that fuse.) A forward
/// hook on a layer turns the fusion off for the group it is in, so the hook sees the
/// intermediate tensor (a hook on the `BatchNorm2d` or the `Conv2d` still lets the `ReLU`
/// and `MaxPool2d` fuse);
/// [`Sequential::forward_all`] never fuses.
///
/// ```
/// use kindling::nn::{Linear, Module, ReLU, Sequential};
/// use kindling::Tensor;
/// let mlp = Sequential::new().add(Linear::new(2, 8)).add(ReLU::new()).add(Linear::new(8, 1));
/// assert_eq!(mlp.forward(&Tensor::ones(&[5, 2])).shape(), &[5, 1]);
/// assert_eq!(mlp.named_parameters()[2].0, "2.weight");
/// ```
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    /// What `forward` needs to know to fuse, one per layer, noted by `push`.
    kinds: Vec<Kind>,
    training: bool,
    hooks: ForwardHooks,
}

/// The same as [`Sequential::new`]: in training mode, as every new module is.
impl Default for Sequential {
    fn default() -> Self {
        Sequential::new()
    }
}

impl Sequential {
    /// An empty chain, in training mode.
    ///
    /// ```
    /// assert!(kindling::nn::Sequential::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            kinds: Vec::new(),
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: appends a module. It takes the chain's current training mode.
    ///
    /// ```
    /// use kindling::nn::{ReLU, Sequential};
    /// assert_eq!(Sequential::new().add(ReLU::new()).len(), 1);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, module: impl Module + 'static) -> Self {
        self.push(module);
        self
    }

    /// Appends a module in place.
    ///
    /// ```
    /// use kindling::nn::{ReLU, Sequential};
    /// let mut seq = Sequential::new();
    /// seq.push(ReLU::new());
    /// assert_eq!(seq.len(), 1);
    /// ```
    pub fn push(&mut self, module: impl Module + 'static) {
        self.kinds.push(Kind::of(&module));
        let mut module = Box::new(module);
        module.set_training(self.training);
        self.layers.push(module);
    }

    /// The number of modules.
    ///
    /// ```
    /// assert_eq!(kindling::nn::Sequential::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when the chain is empty.
    ///
    /// ```
    /// assert!(kindling::nn::Sequential::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The module at position `i`.
    ///
    /// ```
    /// use kindling::nn::{Module, ReLU, Sequential};
    /// let seq = Sequential::new().add(ReLU::new());
    /// assert!(seq.get(0).unwrap().is_training());
    /// ```
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|m| m.as_ref() as &dyn Module)
    }

    /// Runs the chain and returns every module's output, first to last (for looking inside
    /// a network, e.g. to print the activations after each BatchNorm).
    ///
    /// ```
    /// use kindling::nn::{Linear, ReLU, Sequential};
    /// use kindling::Tensor;
    /// let seq = Sequential::new().add(Linear::new(2, 3)).add(ReLU::new());
    /// assert_eq!(seq.forward_all(&Tensor::ones(&[1, 2])).len(), 2);
    /// ```
    pub fn forward_all(&self, x: &Tensor) -> Vec<Tensor> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let next = layer.call(outs.last().unwrap_or(x));
            outs.push(next);
        }
        outs
    }
}

/// A module that can also be seen as `Any`, so that `forward` can reach the concrete
/// `BatchNorm2d` behind a `Box`; every `Module` is one.
trait Layer: Module + Any {}

impl<T: Module + Any> Layer for T {}

impl Sequential {
    /// True if layer `i` has a forward hook, which must see its own output.
    fn hooked(&self, i: usize) -> bool {
        self.layers[i]
            .forward_hooks()
            .is_some_and(|h| !h.is_empty())
    }

    /// The window of the pooling if layers `i` and `i + 1` are a ReLU and a max pool (in
    /// either order) and neither has a forward hook, which must see the tensor between.
    fn fusable_pair(&self, i: usize) -> Option<(usize, usize)> {
        let window = match self.kinds.get(i..i + 2)? {
            [Kind::Relu, Kind::MaxPool { kernel, stride }]
            | [Kind::MaxPool { kernel, stride }, Kind::Relu] => (*kernel, *stride),
            _ => return None,
        };
        (!self.hooked(i) && !self.hooked(i + 1)).then_some(window)
    }

    /// The first layer, of type `T`, and the pooling's window if layers `i..i + 3` are
    /// `first`, a ReLU and a max pool, in that order, none with a forward hook.
    fn fusable_triple<T: Any>(&self, i: usize, first: Kind) -> Option<(&T, usize, usize)> {
        let [head, Kind::Relu, Kind::MaxPool { kernel, stride }] = *self.kinds.get(i..i + 3)?
        else {
            return None;
        };
        if head != first || (i..i + 3).any(|j| self.hooked(j)) {
            return None;
        }
        let layer = (self.layers[i].as_ref() as &dyn Any).downcast_ref::<T>()?;
        Some((layer, kernel, stride))
    }
}

/// The layer types `Sequential::forward` can fuse, told apart by downcasting in `push`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    BatchNorm2d,
    Conv2d,
    Relu,
    MaxPool { kernel: usize, stride: usize },
    Other,
}

impl Kind {
    fn of(module: &dyn Any) -> Kind {
        if module.is::<BatchNorm2d>() {
            Kind::BatchNorm2d
        } else if module.is::<Conv2d>() {
            Kind::Conv2d
        } else if module.is::<ReLU>() {
            Kind::Relu
        } else if let Some(pool) = module.downcast_ref::<MaxPool2d>() {
            Kind::MaxPool {
                kernel: pool.kernel,
                stride: pool.stride,
            }
        } else {
            Kind::Other
        }
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            // Triples before pairs, so a ReLU and a max pool join the layer before them.
            if let Some((bn, kernel, stride)) =
                self.fusable_triple::<BatchNorm2d>(i, Kind::BatchNorm2d)
            {
                h = bn.forward_relu_max_pool2d(&h, kernel, stride);
                i += 3;
            } else if let Some((conv, kernel, stride)) =
                self.fusable_triple::<Conv2d>(i, Kind::Conv2d)
            {
                h = conv.forward_relu_max_pool2d(&h, kernel, stride);
                i += 3;
            } else if let Some((kernel, stride)) = self.fusable_pair(i) {
                h = h.relu_max_pool2d(kernel, stride);
                i += 2;
            } else {
                h = self.layers[i].call(&h);
                i += 1;
            }
        }
        h
    }

    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_ref() as &dyn Module))
            .collect()
    }

    fn named_children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        self.layers
            .iter_mut()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_mut() as &mut dyn Module))
            .collect()
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        for m in &mut self.layers {
            m.set_training(on);
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }
    fn forward_hooks(&self) -> Option<&ForwardHooks> {
        Some(&self.hooks)
    }
}

crate::impl_display_as_repr!(Sequential);
