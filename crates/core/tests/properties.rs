//! Property tests: random shapes (empty dims included), broadcasting, and chains of ops,
//! checked against a naive reference written here with nothing but index arithmetic. No op
//! may panic other than with a documented shape error, forward values must agree, and
//! backward must give every input a gradient of its own shape.

use kindling_core::Tensor;
use proptest::prelude::*;

/// A plain n-d array: the reference the tensors are compared with.
#[derive(Clone, Debug)]
struct Nd {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Nd {
    fn numel(shape: &[usize]) -> usize {
        shape.iter().product()
    }

    /// The row-major multi-index of flat position `i`.
    fn index(shape: &[usize], mut i: usize) -> Vec<usize> {
        let mut idx = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
        idx
    }

    /// The element a broadcast read of `self` gives at the output multi-index `out`.
    fn at_broadcast(&self, out: &[usize]) -> f32 {
        let offset = out.len() - self.shape.len();
        let mut flat = 0;
        for (d, &size) in self.shape.iter().enumerate() {
            let i = if size == 1 { 0 } else { out[d + offset] };
            flat = flat * size + i;
        }
        self.data[flat]
    }

    fn zip(&self, other: &Nd, f: impl Fn(f32, f32) -> f32) -> Option<Nd> {
        let rank = self.shape.len().max(other.shape.len());
        let dim = |s: &[usize], d: usize| (d + s.len()).checked_sub(rank).map_or(1, |i| s[i]);
        let mut shape = Vec::with_capacity(rank);
        for d in 0..rank {
            let (a, b) = (dim(&self.shape, d), dim(&other.shape, d));
            shape.push(match (a, b) {
                _ if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => return None,
            });
        }
        let data = (0..Nd::numel(&shape))
            .map(|i| {
                let idx = Nd::index(&shape, i);
                f(self.at_broadcast(&idx), other.at_broadcast(&idx))
            })
            .collect();
        Some(Nd { shape, data })
    }

    fn map(&self, f: impl Fn(f32) -> f32) -> Nd {
        Nd {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    fn sum_dim(&self, dim: usize) -> Nd {
        let mut shape = self.shape.clone();
        shape.remove(dim);
        let mut data = vec![0.0f64; Nd::numel(&shape)];
        for i in 0..self.data.len() {
            let mut idx = Nd::index(&self.shape, i);
            idx.remove(dim);
            let flat = idx.iter().zip(&shape).fold(0, |f, (&i, &s)| f * s + i);
            data[flat] += self.data[i] as f64;
        }
        Nd {
            shape,
            data: data.into_iter().map(|v| v as f32).collect(),
        }
    }

    fn reversed_dims(&self) -> Nd {
        let shape: Vec<usize> = self.shape.iter().rev().copied().collect();
        let data = (0..self.data.len())
            .map(|i| {
                let idx: Vec<usize> = Nd::index(&shape, i).into_iter().rev().collect();
                let flat = idx.iter().zip(&self.shape).fold(0, |f, (&i, &s)| f * s + i);
                self.data[flat]
            })
            .collect();
        Nd { shape, data }
    }
}

/// One step of a chain.
#[derive(Clone, Debug)]
enum Step {
    Add(Nd),
    Sub(Nd),
    Mul(Nd),
    /// Divides by `|y| + 0.5`, so that nothing divides by zero.
    Div(Nd),
    Neg,
    Tanh,
    Relu,
    Sigmoid,
    SumDim(usize),
    Flatten,
    ReverseDims,
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..4, 0..4)
}

/// A shape that broadcasts against `s`: some leading dims dropped, some dims made 1.
fn broadcastable(s: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let rank = s.len();
    (0..=rank, prop::collection::vec(any::<bool>(), rank)).prop_map(move |(drop, ones)| {
        s[drop..]
            .iter()
            .zip(&ones[drop..])
            .map(|(&d, &one)| if one { 1 } else { d })
            .collect()
    })
}

fn values(shape: Vec<usize>) -> impl Strategy<Value = Nd> {
    let n = Nd::numel(&shape);
    prop::collection::vec(-3.0f32..3.0, n).prop_map(move |data| Nd {
        shape: shape.clone(),
        data,
    })
}

fn tensor(nd: &Nd) -> Tensor {
    Tensor::from_vec(nd.data.clone(), &nd.shape)
}

/// A random chain of up to 6 steps whose binary operands broadcast against the running
/// shape (which the generator tracks loosely; a step that does not fit is skipped).
fn chain(start: Vec<usize>) -> impl Strategy<Value = Vec<Step>> {
    let operand = broadcastable(start).prop_flat_map(values).boxed();
    let step = prop_oneof![
        operand.clone().prop_map(Step::Add),
        operand.clone().prop_map(Step::Sub),
        operand.clone().prop_map(Step::Mul),
        operand.prop_map(Step::Div),
        Just(Step::Neg),
        Just(Step::Tanh),
        Just(Step::Relu),
        Just(Step::Sigmoid),
        (0usize..4).prop_map(Step::SumDim),
        Just(Step::Flatten),
        Just(Step::ReverseDims),
    ];
    prop::collection::vec(step, 0..6)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()))
}

/// 400 cases per property in the test suite; `PROPTEST_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn op_chains_agree_with_the_naive_reference(
        (start, steps) in shape().prop_flat_map(|s| (values(s.clone()), chain(s)))
    ) {
        let x = tensor(&start).requires_grad(true);
        let (mut t, mut nd) = (x.clone(), start.clone());
        for step in &steps {
            let (next_t, next_nd) = match step {
                Step::Add(y) | Step::Sub(y) | Step::Mul(y) | Step::Div(y) => {
                    let f: fn(f32, f32) -> f32 = match step {
                        Step::Add(_) => |a, b| a + b,
                        Step::Sub(_) => |a, b| a - b,
                        Step::Mul(_) => |a, b| a * b,
                        _ => |a, b| a / (b.abs() + 0.5),
                    };
                    // The operand was drawn for the start shape; skip it once the running
                    // shape has moved on and it no longer broadcasts.
                    let Some(reference) = nd.zip(y, f) else { continue };
                    let yt = tensor(y);
                    let out = match step {
                        Step::Add(_) => &t + &yt,
                        Step::Sub(_) => &t - &yt,
                        Step::Mul(_) => &t * &yt,
                        _ => &t / &(&yt.powf(2.0).sqrt() + 0.5),
                    };
                    (out, reference)
                }
                Step::Neg => (-&t, nd.map(|v| -v)),
                Step::Tanh => (t.tanh(), nd.map(f32::tanh)),
                Step::Relu => (t.relu(), nd.map(|v| v.max(0.0))),
                Step::Sigmoid => (t.sigmoid(), nd.map(|v| 1.0 / (1.0 + (-v).exp()))),
                Step::SumDim(d) => {
                    if *d >= nd.shape.len() { continue }
                    (t.sum_dim(*d, false), nd.sum_dim(*d))
                }
                Step::Flatten => {
                    let n = nd.data.len();
                    (t.reshape(&[n]), Nd { shape: vec![n], data: nd.data.clone() })
                }
                Step::ReverseDims => {
                    let dims: Vec<usize> = (0..nd.shape.len()).rev().collect();
                    (t.permute(&dims), nd.reversed_dims())
                }
            };
            prop_assert_eq!(next_t.shape(), &next_nd.shape[..], "after {:?}", step);
            prop_assert!(close(&next_t.to_vec(), &next_nd.data), "after {:?}: {:?} vs {:?}", step, next_t.to_vec(), next_nd.data);
            t = next_t;
            nd = next_nd;
        }
        // Backward through the whole chain, with a non-uniform upstream gradient.
        let upstream: Vec<f32> = (0..t.numel()).map(|i| 0.5 + (i % 3) as f32).collect();
        if t.is_requires_grad() {
            t.backward_with(&Tensor::from_vec(upstream, t.shape()));
            let g = x.grad().expect("the input gets a gradient");
            prop_assert_eq!(g.shape(), x.shape());
            prop_assert!(g.to_vec().iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn shapes_that_do_not_broadcast_panic_naming_the_op_and_both_shapes(
        a in prop::collection::vec(2usize..5, 1..4),
        b in prop::collection::vec(2usize..5, 1..4),
    ) {
        let fits = a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y);
        let (ta, tb) = (Tensor::zeros(&a), Tensor::zeros(&b));
        let result = std::panic::catch_unwind(|| &ta * &tb);
        match result {
            Ok(out) => prop_assert!(fits, "{:?} * {:?} gave {:?}", a, b, out.shape()),
            Err(e) => {
                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                prop_assert!(!fits);
                let (sa, sb) = (format!("{a:?}"), format!("{b:?}"));
                prop_assert!(msg.starts_with("mul: shapes") && msg.contains(&sa) && msg.contains(&sb), "{}", msg);
            }
        }
    }
}
