//! `StateDict`, the ordered map from PyTorch-style key (`"0.weight"`, `"1.running_mean"`)
//! to tensor that `Module::state_dict` returns, and the strict loading rules with their
//! error, `LoadError`, which lists everything that did not fit rather than the first thing.

use std::collections::HashMap;
use std::fmt;

use kindling_core::Tensor;

/// An ordered map from key to tensor, like PyTorch's `OrderedDict` state dict.
///
/// ```
/// use kindling::nn::StateDict;
/// use kindling::Tensor;
/// let mut sd = StateDict::new();
/// sd.insert("weight", Tensor::ones(&[2, 2]));
/// assert_eq!(sd.keys(), vec!["weight"]);
/// assert_eq!(sd.get("weight").unwrap().shape(), &[2, 2]);
/// ```
///
/// A counter such as BatchNorm's `num_batches_tracked` (an int64 in PyTorch) is a scalar
/// tensor here too, plus its exact value as a `u64` ([`StateDict::count`]): an f32 counts
/// exactly only up to 2²⁴.
#[derive(Clone, Default)]
pub struct StateDict {
    entries: Vec<(String, Tensor)>,
    index: HashMap<String, usize>,
    counts: HashMap<String, u64>,
}

impl StateDict {
    /// An empty state dict.
    ///
    /// ```
    /// assert!(kindling::nn::StateDict::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces `key`. A new key goes at the end; a replaced one keeps its place.
    ///
    /// ```
    /// use kindling::nn::StateDict;
    /// use kindling::Tensor;
    /// let mut sd = StateDict::new();
    /// sd.insert("a", Tensor::zeros(&[1]));
    /// sd.insert("a", Tensor::ones(&[1]));
    /// assert_eq!(sd.len(), 1);
    /// assert_eq!(sd.get("a").unwrap().item(), 1.0);
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, tensor: Tensor) {
        let key = key.into();
        self.counts.remove(&key);
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = tensor,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, tensor));
            }
        }
    }

    /// Inserts an integer counter (PyTorch's int64 buffers, such as `num_batches_tracked`):
    /// exact as a `u64` through [`StateDict::count`], and also a scalar tensor (exact up to
    /// 2²⁴) through [`StateDict::get`], so code that reads tensors keeps working.
    ///
    /// ```
    /// use kindling::nn::StateDict;
    /// let mut sd = StateDict::new();
    /// sd.insert_count("num_batches_tracked", (1 << 24) + 1);
    /// assert_eq!(sd.count("num_batches_tracked"), Some(16_777_217));
    /// assert_eq!(sd.get("num_batches_tracked").unwrap().item(), 16_777_216.0); // f32 rounds
    /// ```
    pub fn insert_count(&mut self, key: impl Into<String>, value: u64) {
        let key = key.into();
        self.insert(key.clone(), Tensor::scalar(value as f32));
        self.counts.insert(key, value);
    }

    /// The counter under `key`: its exact value if it was inserted as a count, else the
    /// value of a one-element tensor that holds a whole number ≥ 0 (how checkpoints from
    /// before exact counts stored it). `None` for a missing key or any other tensor.
    ///
    /// ```
    /// use kindling::nn::StateDict;
    /// use kindling::Tensor;
    /// let mut sd = StateDict::new();
    /// sd.insert("num_batches_tracked", Tensor::scalar(7.0)); // the older, float form
    /// assert_eq!(sd.count("num_batches_tracked"), Some(7));
    /// sd.insert("w", Tensor::scalar(0.5));
    /// assert_eq!(sd.count("w"), None);
    /// ```
    pub fn count(&self, key: &str) -> Option<u64> {
        if let Some(&n) = self.counts.get(key) {
            return Some(n);
        }
        let t = self.get(key)?;
        if t.numel() != 1 {
            return None;
        }
        let v = t.to_vec()[0];
        (v.is_finite() && v >= 0.0 && v.fract() == 0.0).then_some(v as u64)
    }

    /// Whether `key` was inserted as an exact counter ([`StateDict::insert_count`]).
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// let sd = BatchNorm1d::new(2).state_dict();
    /// assert!(sd.is_count("num_batches_tracked"));
    /// assert!(!sd.is_count("running_mean"));
    /// ```
    pub fn is_count(&self, key: &str) -> bool {
        self.counts.contains_key(key)
    }

    /// The tensor under `key`.
    ///
    /// ```
    /// assert!(kindling::nn::StateDict::new().get("weight").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Tensor> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// The keys, in insertion order.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// let keys = BatchNorm1d::new(3).state_dict().keys();
    /// assert_eq!(keys, vec!["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// ```
    pub fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|(k, _)| k.clone()).collect()
    }

    /// `(key, tensor)` pairs in order.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// for (key, t) in Linear::new(2, 3).state_dict().iter() {
    ///     println!("{key}: {:?}", t.shape());
    /// }
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(k, t)| (k.as_str(), t))
    }

    /// The number of entries.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// assert_eq!(Linear::new(2, 3).state_dict().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    ///
    /// ```
    /// assert!(kindling::nn::StateDict::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A copy whose tensors own their data: later training does not change it. (A plain
    /// `state_dict()` shares storage with the model, as in PyTorch.)
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// let layer = Linear::new(1, 1);
    /// let snapshot = layer.state_dict().deep_copy();
    /// layer.parameters()[0].data_mut()[0] = 42.0;
    /// assert_ne!(snapshot.get("weight").unwrap().item(), 42.0);
    /// ```
    pub fn deep_copy(&self) -> StateDict {
        let mut sd = StateDict::new();
        for (k, t) in self.iter() {
            match self.counts.get(k) {
                Some(&n) => sd.insert_count(k, n),
                None => sd.insert(k, Tensor::from_vec(t.to_vec(), t.shape())),
            }
        }
        sd
    }

    /// Adds every entry of `child` under `prefix.` (counters stay counters): how a model's
    /// state dict gathers its children's.
    pub(crate) fn extend_prefixed(&mut self, prefix: &str, child: &StateDict) {
        for (k, t) in child.iter() {
            let key = format!("{prefix}.{k}");
            match child.counts.get(k) {
                Some(&n) => self.insert_count(key, n),
                None => self.insert(key, t.clone()),
            }
        }
    }
}

impl fmt::Debug for StateDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, t)| (k, t.shape().to_vec())))
            .finish()
    }
}

/// One key whose shape differs between the model and the loaded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The key.
    pub key: String,
    /// The shape the model has.
    pub expected: Vec<usize>,
    /// The shape the state dict holds.
    pub found: Vec<usize>,
}

/// What a load found: keys the model has but the state lacks, keys the state has but the
/// model lacks, and keys whose shapes differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// In the model, not in the state dict.
    pub missing: Vec<String>,
    /// In the state dict, not in the model.
    pub unexpected: Vec<String>,
    /// In both, with different shapes.
    pub mismatched: Vec<ShapeMismatch>,
}

impl LoadReport {
    /// True when the state dict fits the model exactly.
    ///
    /// ```
    /// assert!(kindling::nn::LoadReport::default().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }

    /// What loading `incoming` into a model whose state is `own` would find, without
    /// loading anything: the strict rules of `Module::load_state_dict`.
    ///
    /// ```
    /// use kindling::nn::{Linear, LoadReport, Module};
    /// let report = LoadReport::between(&Linear::new(2, 3).state_dict(), &Linear::new(2, 4).state_dict());
    /// assert_eq!(report.mismatched.len(), 2); // weight and bias
    /// ```
    pub fn between(own: &StateDict, incoming: &StateDict) -> LoadReport {
        let mut report = LoadReport::default();
        for (key, mine) in own.iter() {
            match incoming.get(key) {
                None if optional(key) => {}
                None => report.missing.push(key.to_string()),
                Some(theirs) if theirs.shape() != mine.shape() => {
                    report.mismatched.push(ShapeMismatch {
                        key: key.to_string(),
                        expected: mine.shape().to_vec(),
                        found: theirs.shape().to_vec(),
                    })
                }
                Some(_) => {}
            }
        }
        for (key, _) in incoming.iter() {
            if own.get(key).is_none() {
                report.unexpected.push(key.to_string());
            }
        }
        report
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing keys: {}", self.missing.join(", ")));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!("unexpected keys: {}", self.unexpected.join(", ")));
        }
        for m in &self.mismatched {
            parts.push(format!(
                "shape mismatch for {}: the model has {:?}, the state dict has {:?}",
                m.key, m.expected, m.found
            ));
        }
        if parts.is_empty() {
            write!(f, "every key matched")
        } else {
            write!(f, "{}", parts.join("; "))
        }
    }
}

/// The error of a strict `load_state_dict`: the state dict does not fit the model. Nothing
/// was loaded.
///
/// ```
/// use kindling::nn::{Linear, Module};
/// let mut small = Linear::new(2, 3);
/// let err = small.load_state_dict(&Linear::new(4, 3).state_dict()).unwrap_err();
/// assert!(err.to_string().contains("shape mismatch for weight: the model has [3, 2], the state dict has [3, 4]"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Everything that did not fit.
    pub report: LoadReport,
}

impl LoadError {
    pub(crate) fn from_report(report: LoadReport) -> Self {
        LoadError { report }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error loading state dict (nothing was loaded): {}",
            self.report
        )
    }
}

impl std::error::Error for LoadError {}

/// `num_batches_tracked` may be absent: PyTorch checkpoints from before it existed lack it.
fn optional(key: &str) -> bool {
    key == "num_batches_tracked" || key.ends_with(".num_batches_tracked")
}

/// Copies every incoming tensor whose key and shape match into the model's tensor.
pub(crate) fn copy_matching(own: &StateDict, incoming: &StateDict) {
    for (key, mine) in own.iter() {
        if let Some(theirs) = incoming.get(key) {
            if theirs.shape() == mine.shape() {
                // As PyTorch's load_state_dict: a write outside the graph (allowed on
                // parameters, and counted in their storage version).
                kindling_core::no_grad(|| mine.copy_from(theirs));
            }
        }
    }
}
