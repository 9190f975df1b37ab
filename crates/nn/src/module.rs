//! The `Module` trait: what every layer and every model is, as in `torch.nn.Module`.
//!
//! A module computes `forward`, owns parameters (trainable tensors) and buffers (state such
//! as BatchNorm's running statistics), knows whether it is in training or eval mode, and
//! can export and import all of that as a [`StateDict`] with PyTorch's key names.

use kindling_core::Tensor;

use crate::state_dict::{LoadError, LoadReport, StateDict};

/// A layer or a model. Implement `forward`, the two training-mode methods and (if the layer has
/// any) `named_parameters`; everything else has a default built on them.
///
/// ```
/// use kindling_nn::{Linear, Module};
/// use kindling_core::Tensor;
/// let layer = Linear::new(3, 2);
/// let y = layer.forward(&Tensor::ones(&[4, 3]));
/// assert_eq!(y.shape(), &[4, 2]);
/// assert_eq!(layer.parameters().len(), 2); // weight and bias
/// ```
pub trait Module {
    /// Runs the layer on `x`. In training mode BatchNorm also updates its running statistics
    /// here (its buffers are shared tensor handles, so `&self` suffices).
    fn forward(&self, x: &Tensor) -> Tensor;

    /// The trainable tensors with PyTorch's names (`"weight"`, `"0.bias"`), in a stable order.
    /// Layers without parameters (ReLU, pooling, ...) keep this default: none.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The trainable tensors, in the order of [`Module::named_parameters`].
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Non-trainable state saved with the model (BatchNorm's running statistics).
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Switches training mode on or off, in this module and every submodule.
    fn set_training(&mut self, on: bool);

    /// Whether the module is in training mode (the default for a new module).
    fn is_training(&self) -> bool;

    /// Training mode: BatchNorm uses batch statistics and updates its running ones, Dropout
    /// drops. Reaches every submodule.
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Eval mode: BatchNorm uses its running statistics, Dropout is the identity.
    /// Reaches every submodule.
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Every parameter and buffer under PyTorch's keys: all of `named_parameters`, then all
    /// of `named_buffers`. That is PyTorch's order for a single layer; a module whose
    /// children hold buffers overrides it to get PyTorch's child-by-child order, as
    /// `Sequential` does. The values share storage with
    /// the module, as in PyTorch; use [`StateDict::deep_copy`] for a snapshot.
    fn state_dict(&self) -> StateDict {
        let mut sd = StateDict::new();
        for (k, t) in self
            .named_parameters()
            .into_iter()
            .chain(self.named_buffers())
        {
            sd.insert(k, t.detach());
        }
        sd
    }

    /// Copies `sd`'s values into this module's existing tensors, strictly: every key must be
    /// present with the right shape and no key may be unknown (`num_batches_tracked` may be
    /// absent, as in older PyTorch checkpoints). On any error nothing is changed, and the
    /// error lists every missing key, unexpected key and shape mismatch.
    fn load_state_dict(&mut self, sd: &StateDict) -> Result<(), LoadError> {
        let own = self.state_dict();
        let report = LoadReport::between(&own, sd);
        if !report.is_clean() {
            return Err(LoadError::from_report(report));
        }
        crate::state_dict::copy_matching(&own, sd);
        Ok(())
    }

    /// The non-strict variant (`strict=False` in PyTorch): loads every key whose name and
    /// shape match, skips the rest, and reports what it skipped.
    fn load_state_dict_non_strict(&mut self, sd: &StateDict) -> LoadReport {
        let own = self.state_dict();
        crate::state_dict::copy_matching(&own, sd);
        LoadReport::between(&own, sd)
    }

    /// Clears every parameter's gradient (sets it to `None`, as PyTorch's default does).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.set_grad(None);
        }
    }
}

/// `[("weight", w), ("bias", b)]`, or just the weight without a bias: the parameter list of
/// every layer that has a weight and an optional bias (Linear, Conv2d, affine BatchNorm).
pub(crate) fn weight_and_bias(weight: &Tensor, bias: Option<&Tensor>) -> Vec<(String, Tensor)> {
    let mut params = vec![("weight".to_string(), weight.clone())];
    params.extend(bias.map(|b| ("bias".to_string(), b.clone())));
    params
}
