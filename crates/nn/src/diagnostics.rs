//! Training diagnostics: what happens inside a network while it trains, recorded per layer
//! every few steps, the way the "activations and gradients" lecture of the makemore series
//! looks at a network before and after BatchNorm.
//!
//! Per watched layer (every leaf layer but Flatten, Dropout, Identity and pooling, by
//! default), on a recorded step:
//! - the output's mean and standard deviation, and its 15th, 50th and 85th percentiles;
//! - after Tanh or Sigmoid, the share of saturated outputs (|tanh| > 0.97; sigmoid < 0.03
//!   or > 0.97), where the gradient all but vanishes;
//! - after ReLU, the share of dead units: units that output 0 for every example in the
//!   batch, so that no gradient reaches their weights;
//! - the standard deviation of the gradient of the loss with respect to the output.
//!
//! Per weight with 2 or more dimensions: the update-to-data ratio log10(std(Δp) / std(p)),
//! with Δp = p_after − p_before the change the optimizer really made (so it is right for
//! momentum and Adam too). Around −3 is the usual healthy value. One-dimensional
//! parameters are left out: BatchNorm's γ and β start constant, so std(p) is 0, and a
//! bias's few values give too noisy a spread to read.
//!
//! It is built on forward hooks and `retain_grad`, nothing else: read it as an example of
//! both. Standard deviations are the unbiased ones (`torch.std`'s default); percentiles
//! interpolate linearly (numpy's and `torch.quantile`'s default) over at most
//! `sample_size` values taken at an even stride, so a recorded step never sorts millions.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kindling_core::{no_grad, Tensor};

use crate::hooks::HookHandle;
use crate::{Module, ModuleExt};

/// One watched layer's output on one recorded step.
///
/// ```
/// use kindling::diagnostics::Diagnostics;
/// use kindling::nn::{Linear, Module, ReLU, Sequential};
/// use kindling::Tensor;
/// let model = Sequential::new().add(Linear::new(4, 8)).add(ReLU::new());
/// let mut diag = Diagnostics::attach(&model);
/// diag.begin(0);
/// model.forward(&Tensor::randn(&[16, 4])).sum().backward();
/// diag.end();
/// let relu = &diag.layers()[1];
/// assert_eq!((relu.layer.as_str(), relu.kind.as_str()), ("1", "ReLU"));
/// assert!(relu.dead.is_some() && relu.saturated.is_none());
/// assert!(relu.p15 <= relu.p50 && relu.p50 <= relu.p85);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRecord {
    /// The training step it was recorded at.
    pub step: u64,
    /// The layer's name in the model (`named_modules`): `"2"`, `"block.conv1"`.
    pub layer: String,
    /// The layer's type: `"ReLU"`, `"BatchNorm2d"`.
    pub kind: String,
    /// Mean of the output.
    pub mean: f32,
    /// Standard deviation of the output.
    pub std: f32,
    /// 15th percentile of the output.
    pub p15: f32,
    /// Median of the output.
    pub p50: f32,
    /// 85th percentile of the output.
    pub p85: f32,
    /// Share of saturated outputs, after Tanh or Sigmoid.
    pub saturated: Option<f32>,
    /// Share of dead units, after ReLU.
    pub dead: Option<f32>,
    /// Standard deviation of dLoss/dOutput (`None` if no gradient reached it).
    pub grad_std: Option<f32>,
    /// The sampled output values, sorted: what a histogram is drawn from.
    pub sample: Vec<f32>,
}

/// One weight's update-to-data ratio on one recorded step.
///
/// ```
/// let r = kindling::diagnostics::UpdateRecord { step: 0, param: "0.weight".into(), log10_ratio: -3.1 };
/// assert!(r.log10_ratio < -3.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRecord {
    /// The training step it was recorded at.
    pub step: u64,
    /// The parameter's name (`named_parameters`).
    pub param: String,
    /// log10(std(p_after − p_before) / std(p_after)); −∞ when the step changed nothing.
    pub log10_ratio: f32,
}

/// What the hooks hand over during a recorded step.
struct Pending {
    record: LayerRecord,
    output: Tensor,
}

/// State shared with the hooks: whether this step is recorded, and what they saw.
struct Shared {
    armed: AtomicBool,
    sample_size: AtomicUsize,
    step: Mutex<u64>,
    pending: Mutex<Vec<Pending>>,
}

/// Records a model's insides while it trains. Attach it once, then bracket each training
/// step with [`begin`](Diagnostics::begin) and [`end`](Diagnostics::end); only every
/// `every`-th step (default 25) does any work. Dropping it removes its hooks.
///
/// ```
/// use kindling::diagnostics::Diagnostics;
/// use kindling::nn::{functional::cross_entropy, Linear, Module, ReLU, Sequential};
/// use kindling::optim::{Optimizer, Sgd};
/// use kindling::Tensor;
/// let model = Sequential::new().add(Linear::new(4, 16)).add(ReLU::new()).add(Linear::new(16, 3));
/// let mut opt = Sgd::new(model.parameters(), 0.1);
/// let mut diag = Diagnostics::attach(&model).every(2);
/// for step in 0..4 {
///     diag.begin(step);
///     let loss = cross_entropy(&model.forward(&Tensor::randn(&[8, 4])), &[0, 1, 2, 0, 1, 2, 0, 1]);
///     opt.zero_grad();
///     loss.backward();
///     opt.step();
///     diag.end();
/// }
/// assert_eq!(diag.layers().len(), 2 * 3); // steps 0 and 2, three layers each
/// assert_eq!(diag.updates().len(), 2 * 2); // the two weight matrices
/// assert!(diag.updates().iter().all(|u| u.log10_ratio < 0.0));
/// ```
pub struct Diagnostics {
    every: u64,
    shared: Arc<Shared>,
    handles: Vec<HookHandle>,
    names: Vec<String>,
    weights: Vec<(String, Tensor)>,
    before: Vec<Vec<f32>>,
    step: Option<u64>,
    layers: Vec<LayerRecord>,
    updates: Vec<UpdateRecord>,
}

/// Layers whose output only moves or copies its input's values.
const NOT_WATCHED: [&str; 6] = [
    "Flatten",
    "Dropout",
    "Identity",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
];

impl Diagnostics {
    /// Watches every leaf layer of `model` except Flatten, Dropout, Identity and pooling,
    /// and every weight with 2 or more dimensions.
    ///
    /// ```
    /// use kindling::diagnostics::Diagnostics;
    /// use kindling::nn::{Flatten, Linear, Sequential};
    /// let model = Sequential::new().add(Flatten::new()).add(Linear::new(4, 2));
    /// assert_eq!(Diagnostics::attach(&model).watched(), ["1"]);
    /// ```
    pub fn attach(model: &dyn Module) -> Diagnostics {
        Diagnostics::attach_to(model, |_name, kind| !NOT_WATCHED.contains(&kind))
    }

    /// Watches the leaf layers for which `watch(name, type_name)` is true.
    ///
    /// ```
    /// use kindling::diagnostics::Diagnostics;
    /// use kindling::nn::{Linear, ReLU, Sequential};
    /// let model = Sequential::new().add(Linear::new(4, 2)).add(ReLU::new());
    /// let diag = Diagnostics::attach_to(&model, |_name, kind| kind == "ReLU");
    /// assert_eq!(diag.watched(), ["1"]);
    /// ```
    pub fn attach_to(model: &dyn Module, watch: impl Fn(&str, &str) -> bool) -> Diagnostics {
        let shared = Arc::new(Shared {
            armed: AtomicBool::new(false),
            sample_size: AtomicUsize::new(2048),
            step: Mutex::new(0),
            pending: Mutex::new(Vec::new()),
        });
        let (mut handles, mut names) = (Vec::new(), Vec::new());
        for (name, module) in model.named_modules() {
            let kind = module.type_name();
            let leaf = module.named_children().is_empty();
            if !leaf || !watch(&name, &kind) || module.forward_hooks().is_none() {
                continue;
            }
            names.push(name.clone());
            let shared_in_hook = shared.clone();
            handles.push(module.register_forward_hook(move |_x, y| {
                if shared_in_hook.armed.load(Ordering::Relaxed) {
                    record_output(&shared_in_hook, &name, &kind, y);
                }
            }));
        }
        let weights = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.shape().len() >= 2)
            .collect();
        Diagnostics {
            every: 25,
            shared,
            handles,
            names,
            weights,
            before: Vec::new(),
            step: None,
            layers: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// Builder: record every `k`-th step (steps 0, k, 2k, ...). Default 25.
    ///
    /// ```
    /// let model = kindling::nn::Linear::new(2, 2);
    /// let _diag = kindling::diagnostics::Diagnostics::attach(&model).every(100);
    /// ```
    pub fn every(mut self, k: u64) -> Diagnostics {
        self.every = k.max(1);
        self
    }

    /// Builder: the most output values kept per layer for percentiles and histograms.
    /// Default 2048.
    ///
    /// ```
    /// let model = kindling::nn::Linear::new(2, 2);
    /// let _diag = kindling::diagnostics::Diagnostics::attach(&model).sample_size(512);
    /// ```
    pub fn sample_size(self, n: usize) -> Diagnostics {
        self.shared.sample_size.store(n.max(2), Ordering::Relaxed);
        self
    }

    /// The names of the watched layers, in the model's order.
    ///
    /// ```
    /// use kindling::nn::{Linear, ReLU, Sequential};
    /// let model = Sequential::new().add(Linear::new(2, 2)).add(ReLU::new());
    /// assert_eq!(kindling::diagnostics::Diagnostics::attach(&model).watched().len(), 2);
    /// ```
    pub fn watched(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Starts training step `step`. If it is a recorded one, the hooks start recording and
    /// the watched weights are copied, to measure the update at [`end`](Diagnostics::end).
    ///
    /// ```
    /// let model = kindling::nn::Linear::new(2, 2);
    /// let mut diag = kindling::diagnostics::Diagnostics::attach(&model);
    /// diag.begin(1); // not a multiple of 25: nothing is recorded
    /// diag.end();
    /// assert!(diag.layers().is_empty());
    /// ```
    pub fn begin(&mut self, step: u64) {
        if !step.is_multiple_of(self.every) {
            self.step = None;
            return;
        }
        self.step = Some(step);
        *self.shared.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
        self.before = self.weights.iter().map(|(_, p)| p.to_vec()).collect();
        self.shared.armed.store(true, Ordering::Relaxed);
    }

    /// Ends the step begun by [`begin`](Diagnostics::begin), after the optimizer's step:
    /// reads the output gradients that backward left, and measures each weight's update.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// use kindling::Tensor;
    /// let model = Linear::new(2, 2);
    /// let mut diag = kindling::diagnostics::Diagnostics::attach(&model);
    /// diag.begin(0);
    /// model.call(&Tensor::ones(&[3, 2])).sum().backward();
    /// diag.end();
    /// assert_eq!(diag.layers()[0].grad_std, Some(0.0)); // d(sum)/dy = 1 everywhere
    /// ```
    pub fn end(&mut self) {
        self.shared.armed.store(false, Ordering::Relaxed);
        let Some(step) = self.step.take() else {
            return;
        };
        let pending = std::mem::take(
            &mut *self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for Pending { mut record, output } in pending {
            record.grad_std = output.grad().map(|g| moments(&g.data()).1);
            self.layers.push(record);
        }
        for ((name, p), before) in self.weights.iter().zip(&self.before) {
            let after = p.data();
            let delta: Vec<f32> = after.iter().zip(before).map(|(a, b)| a - b).collect();
            let ratio = moments(&delta).1 / moments(&after).1;
            self.updates.push(UpdateRecord {
                step,
                param: name.clone(),
                log10_ratio: ratio.log10(),
            });
        }
        self.before.clear();
    }

    /// Every layer record so far, in recording order.
    ///
    /// ```
    /// let model = kindling::nn::Linear::new(2, 2);
    /// assert!(kindling::diagnostics::Diagnostics::attach(&model).layers().is_empty());
    /// ```
    pub fn layers(&self) -> &[LayerRecord] {
        &self.layers
    }

    /// Every update-ratio record so far.
    ///
    /// ```
    /// let model = kindling::nn::Linear::new(2, 2);
    /// assert!(kindling::diagnostics::Diagnostics::attach(&model).updates().is_empty());
    /// ```
    pub fn updates(&self) -> &[UpdateRecord] {
        &self.updates
    }

    /// The records as CSV rows in long form, `variant,step,layer,kind,metric,value`, one
    /// value per row (metrics `mean`, `std`, `p15`, `p50`, `p85`, `saturated`, `dead`,
    /// `grad_std` and `log10_update_ratio`), after the header [`Diagnostics::CSV_HEADER`].
    /// `variant` labels the run, so that two runs can share one file.
    ///
    /// ```
    /// use kindling::diagnostics::Diagnostics;
    /// use kindling::nn::{Linear, Module};
    /// use kindling::Tensor;
    /// let model = Linear::new(2, 2);
    /// let mut diag = Diagnostics::attach(&model);
    /// diag.begin(0);
    /// model.call(&Tensor::ones(&[3, 2]));
    /// diag.end();
    /// let csv = diag.csv_rows("demo");
    /// assert!(csv.starts_with("demo,0,,Linear,mean,"));
    /// ```
    pub fn csv_rows(&self, variant: &str) -> String {
        let mut out = String::new();
        for r in &self.layers {
            let mut row = |metric: &str, v: Option<f32>| {
                if let Some(v) = v {
                    out += &format!("{variant},{},{},{},{metric},{v}\n", r.step, r.layer, r.kind);
                }
            };
            row("mean", Some(r.mean));
            row("std", Some(r.std));
            row("p15", Some(r.p15));
            row("p50", Some(r.p50));
            row("p85", Some(r.p85));
            row("saturated", r.saturated);
            row("dead", r.dead);
            row("grad_std", r.grad_std);
        }
        for u in &self.updates {
            out += &format!(
                "{variant},{},{},weight,log10_update_ratio,{}\n",
                u.step, u.param, u.log10_ratio
            );
        }
        out
    }

    /// The header line of [`Diagnostics::csv_rows`].
    pub const CSV_HEADER: &'static str = "variant,step,layer,kind,metric,value\n";
}

impl Drop for Diagnostics {
    fn drop(&mut self) {
        for handle in self.handles.drain(..) {
            handle.remove();
        }
    }
}

/// The hook's work on a recorded step: statistics of `y` now, and a handle on it so that
/// its gradient can be read after backward.
fn record_output(shared: &Shared, name: &str, kind: &str, y: &Tensor) {
    let step = *shared.step.lock().unwrap_or_else(|e| e.into_inner());
    let sample_size = shared.sample_size.load(Ordering::Relaxed);
    let record = {
        let values = y.data();
        let (mean, std) = moments(&values);
        let mut sample = strided_sample(&values, sample_size);
        sample.sort_by(f32::total_cmp);
        let saturated = match kind {
            "Tanh" => Some(share(&values, |v| v.abs() > 0.97)),
            "Sigmoid" => Some(share(&values, |v| !(0.03..=0.97).contains(&v))),
            _ => None,
        };
        let dead = (kind == "ReLU").then(|| dead_share(&values, y.shape()));
        LayerRecord {
            step,
            layer: name.to_string(),
            kind: kind.to_string(),
            mean,
            std,
            p15: percentile(&sample, 0.15),
            p50: percentile(&sample, 0.50),
            p85: percentile(&sample, 0.85),
            saturated,
            dead,
            grad_std: None,
            sample,
        }
    };
    if y.is_requires_grad() {
        no_grad(|| y.retain_grad());
    }
    let output = y.clone();
    shared
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Pending { record, output });
}

/// Mean and unbiased standard deviation, summed in f64.
fn moments(values: &[f32]) -> (f32, f32) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f32::NAN, f32::NAN);
    }
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    (mean as f32, var.sqrt() as f32)
}

/// At most `n` values spread over the whole tensor. An even stride would be simplest, but
/// a stride that is a multiple of an image plane (784 = 28·28 in a [64, 32, 28, 28] output
/// sampled 2048 times) picks the same pixel of every plane; so each pick moves on by a
/// pseudo-random amount around the stride instead (a fixed generator: reproducible).
fn strided_sample(values: &[f32], n: usize) -> Vec<f32> {
    if values.len() <= n {
        return values.to_vec();
    }
    let stride = values.len() / n;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            // xorshift64: enough to break any alignment with the tensor's layout.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values[i * stride + (state % stride as u64) as usize]
        })
        .collect()
}

/// The `q`-quantile of sorted values, interpolating linearly between neighbours.
fn percentile(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return f32::NAN;
    }
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    let frac = (at - lo as f64) as f32;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

fn share(values: &[f32], test: impl Fn(f32) -> bool) -> f32 {
    values.iter().filter(|&&v| test(v)).count() as f32 / values.len().max(1) as f32
}

/// The share of units (every position after the batch dimension) that are 0 for every
/// example in the batch.
fn dead_share(values: &[f32], shape: &[usize]) -> f32 {
    let batch = shape.first().copied().unwrap_or(1).max(1);
    let units = values.len() / batch;
    if units == 0 {
        return 0.0;
    }
    let mut alive = vec![false; units];
    for row in values.chunks(units) {
        for (a, &v) in alive.iter_mut().zip(row) {
            *a |= v != 0.0;
        }
    }
    alive.iter().filter(|&&a| !a).count() as f32 / units as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4, 10], [15, 50, 85]) = [1.6, 3.0, 6.4]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((percentile(&v, 0.15) - 1.6).abs() < 1e-6);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert!((percentile(&v, 0.85) - 6.4).abs() < 1e-5);
    }

    #[test]
    fn a_unit_is_dead_only_if_zero_for_the_whole_batch() {
        // Two examples, three units: unit 0 fires once, unit 1 never, unit 2 always.
        let y = [0.0, 0.0, 1.0, 2.0, 0.0, 3.0];
        assert!((dead_share(&y, &[2, 3]) - 1.0 / 3.0).abs() < 1e-7);
    }

    #[test]
    fn moments_are_unbiased() {
        // mean 2; squared deviations 1 + 0 + 1 = 2, over n - 1 = 2: std 1.
        assert_eq!(moments(&[1.0, 2.0, 3.0]), (2.0, 1.0));
    }

    #[test]
    fn a_sample_takes_one_value_from_each_stretch_and_not_the_same_pixel() {
        let v: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let sample = strided_sample(&v, 5);
        for (i, s) in sample.iter().enumerate() {
            assert!((2 * i..2 * i + 2).contains(&(*s as usize)), "{sample:?}");
        }
        // 64 planes of 784 values, sampled 64 times: not all at the same offset.
        let planes: Vec<f32> = (0..64 * 784).map(|i| (i % 784) as f32).collect();
        let offsets = strided_sample(&planes, 64);
        assert!(offsets.iter().any(|&o| o != offsets[0]));
        assert_eq!(strided_sample(&v, 20), v);
    }
}
