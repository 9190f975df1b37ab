//! Element-wise ops: `+ - * /` with broadcasting, negation, and the unary functions
//! (exp, log, sqrt, powf, relu, sigmoid, tanh; leaky_relu and gelu, which need more
//! maths, are in `activation.rs`). Also the operator overloads, so that `&a * &b + 1.0`
//! reads like the maths.
//!
//! Their backward rules are in `op.rs`. A broadcast input's gradient is summed back to the
//! input's own shape there (`sum_to`, below), leading dims included.

use std::ops;

use crate::kernels;
use crate::op::Op;
use crate::shape::{broadcast_shape, broadcast_strides, numel};
use crate::Tensor;

/// `f` on every element. The reference kernel is the one-line map; the fast twin
/// (`kernels/elementwise.rs`) splits large tensors across threads and vectorises.
fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    if kernels::fast() {
        kernels::elementwise::map(x, f)
    } else {
        x.iter().map(|&v| f(v)).collect()
    }
}

/// `f` on every pair of elements of two slices of the same length.
fn zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    if kernels::fast() {
        kernels::elementwise::zip(a, b, f)
    } else {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    }
}

/// Reads `data` (of shape `from`) as the broadcast shape `to`, materialising the copies.
fn expand_data(data: &[f32], from: &[usize], to: &[usize]) -> Vec<f32> {
    if from == to {
        return data.to_vec();
    }
    if data.len() == 1 {
        return vec![data[0]; numel(to)];
    }
    let src = broadcast_strides(from, to);
    let mut out = Vec::with_capacity(numel(to));
    for_each_row(to, |index| {
        let base: usize = index.iter().zip(&src).map(|(i, s)| i * s).sum();
        let step = src[to.len() - 1];
        let last = to[to.len() - 1];
        out.extend((0..last).map(|j| data[base + j * step]));
    });
    out
}

/// Calls `f` with the multi-index of the start of every row (last dim = 0), in order.
fn for_each_row(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.is_empty() || numel(shape) == 0 {
        return;
    }
    let rank = shape.len();
    let rows = numel(&shape[..rank - 1]);
    let mut index = vec![0; rank];
    for _ in 0..rows {
        f(&index);
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

/// The element-wise combination of two tensors under broadcasting.
fn broadcast_zip(
    name: &str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(f32, f32) -> f32 + Sync + Send,
) -> (Vec<f32>, Vec<usize>) {
    let shape = broadcast_shape(name, a.shape(), b.shape());
    let data = Tensor::read_all(&[a, b]);
    let (ad, bd) = (data.get(0), data.get(1));
    let out = if a.shape() == b.shape() {
        zip(ad, bd, f)
    } else if bd.len() == 1 && shape == a.shape() {
        let y = bd[0];
        map(ad, |x| f(x, y))
    } else if ad.len() == 1 && shape == b.shape() {
        let x = ad[0];
        map(bd, |y| f(x, y))
    } else {
        let ea = expand_data(ad, a.shape(), &shape);
        let eb = expand_data(bd, b.shape(), &shape);
        zip(&ea, &eb, f)
    };
    (out, shape)
}

impl Tensor {
    /// Element-wise sum with broadcasting, `a + b` (also `&a + &b`).
    ///
    /// # Panics
    /// If the shapes do not broadcast; the message names the op and both shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
    /// assert_eq!(a.add(&b).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// ```
    pub fn add(&self, other: &Tensor) -> Tensor {
        let (data, shape) = broadcast_zip("add", self, other, |x, y| x + y);
        Tensor::from_op(data, shape, Op::Add(self.clone(), other.clone()))
    }

    /// Element-wise difference with broadcasting, `a - b`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::from_vec(vec![5.0, 7.0], &[2]);
    /// assert_eq!(a.sub(&Tensor::scalar(1.0)).to_vec(), vec![4.0, 6.0]);
    /// ```
    pub fn sub(&self, other: &Tensor) -> Tensor {
        let (data, shape) = broadcast_zip("sub", self, other, |x, y| x - y);
        Tensor::from_op(data, shape, Op::Sub(self.clone(), other.clone()))
    }

    /// Element-wise product with broadcasting, `a * b`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    /// assert_eq!(a.mul(&a).to_vec(), vec![1.0, 4.0]);
    /// ```
    pub fn mul(&self, other: &Tensor) -> Tensor {
        let (data, shape) = broadcast_zip("mul", self, other, |x, y| x * y);
        Tensor::from_op(data, shape, Op::Mul(self.clone(), other.clone()))
    }

    /// Element-wise quotient with broadcasting, `a / b`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 3.0], &[2]);
    /// assert_eq!(a.div(&Tensor::scalar(2.0)).to_vec(), vec![0.5, 1.5]);
    /// ```
    pub fn div(&self, other: &Tensor) -> Tensor {
        let (data, shape) = broadcast_zip("div", self, other, |x, y| x / y);
        Tensor::from_op(data, shape, Op::Div(self.clone(), other.clone()))
    }

    /// Element-wise negation, `-a`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::ones(&[1]).neg().item(), -1.0);
    /// ```
    pub fn neg(&self) -> Tensor {
        let data = map(&self.read(), |x| -x);
        Tensor::from_op(data, self.shape().to_vec(), Op::Neg(self.clone()))
    }

    /// e to the power of each element.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[1]).exp().item(), 1.0);
    /// ```
    pub fn exp(&self) -> Tensor {
        let data = map(&self.read(), f32::exp);
        Tensor::from_op(data, self.shape().to_vec(), Op::Exp(self.clone()))
    }

    /// The natural logarithm of each element.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::ones(&[1]).log().item(), 0.0);
    /// ```
    pub fn log(&self) -> Tensor {
        let data = map(&self.read(), f32::ln);
        Tensor::from_op(data, self.shape().to_vec(), Op::Log(self.clone()))
    }

    /// The square root of each element.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::full(&[1], 9.0).sqrt().item(), 3.0);
    /// ```
    pub fn sqrt(&self) -> Tensor {
        let data = map(&self.read(), f32::sqrt);
        Tensor::from_op(data, self.shape().to_vec(), Op::Sqrt(self.clone()))
    }

    /// Each element to the power `p` (PyTorch's `x.pow(p)` for a float exponent).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::full(&[1], 2.0).powf(3.0).item(), 8.0);
    /// ```
    pub fn powf(&self, p: f32) -> Tensor {
        let data = map(&self.read(), |x| x.powf(p));
        Tensor::from_op(data, self.shape().to_vec(), Op::Powf { x: self.clone(), p })
    }

    /// `max(x, 0)` element-wise. A NaN stays NaN, as in PyTorch, so that a diverging
    /// network shows it instead of hiding it behind zeros.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0, 2.0], &[2]);
    /// assert_eq!(x.relu().to_vec(), vec![0.0, 2.0]);
    /// ```
    pub fn relu(&self) -> Tensor {
        let data = map(
            &self.read(),
            |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
        );
        Tensor::from_op(data, self.shape().to_vec(), Op::Relu(self.clone()))
    }

    /// The logistic function `1 / (1 + e^-x)`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[1]).sigmoid().item(), 0.5);
    /// ```
    pub fn sigmoid(&self) -> Tensor {
        // Written so that neither branch overflows: for very negative x, e^x → 0.
        let data = map(&self.read(), |x| {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        });
        Tensor::from_op(data, self.shape().to_vec(), Op::Sigmoid(self.clone()))
    }

    /// The hyperbolic tangent.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[1]).tanh().item(), 0.0);
    /// ```
    pub fn tanh(&self) -> Tensor {
        let data = map(&self.read(), f32::tanh);
        Tensor::from_op(data, self.shape().to_vec(), Op::Tanh(self.clone()))
    }

    // ------------------------------------------------------- helpers for backward rules

    /// `f(self, other)` element-wise for two tensors of the same shape, with no graph.
    ///
    /// Backward rules call it with `self` the incoming gradient, which the engine drops as
    /// soon as the rule returns. The fast kernels write the result into that gradient's
    /// buffer when nothing else holds it: one less large buffer per op per step.
    pub(crate) fn zip_map(
        &self,
        other: &Tensor,
        f: impl Fn(f32, f32) -> f32 + Sync + Send,
    ) -> Tensor {
        debug_assert_eq!(self.shape(), other.shape());
        if kernels::fast() && self.is_sole_owner() && self.numel() >= kernels::PAR_THRESHOLD {
            kernels::elementwise::zip_in_place(&mut self.data_mut(), &other.read(), f);
            return self.detach();
        }
        let data = Tensor::read_all(&[self, other]);
        Tensor::constant(zip(data.get(0), data.get(1), f), self.shape().to_vec())
    }

    /// This tensor broadcast to `shape` (copies materialised), with no graph.
    pub(crate) fn expand(&self, shape: &[usize]) -> Tensor {
        broadcast_shape("expand", self.shape(), shape);
        Tensor::constant(
            expand_data(&self.read(), self.shape(), shape),
            shape.to_vec(),
        )
    }

    /// The reverse of broadcasting: sums this gradient over the dims that broadcasting
    /// added or stretched, so it gets the shape of the input it belongs to. Accumulates in
    /// f64, more precisely than PyTorch's f32 sums, so the last bits can differ.
    pub(crate) fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let big = self.shape();
        let dst = broadcast_strides(shape, big);
        let mut acc = vec![0.0f64; numel(shape)];
        let data = self.read();
        let last = *big.last().unwrap_or(&1);
        let step = *dst.last().unwrap_or(&0);
        let mut row = 0;
        for_each_row(big, |index| {
            let base: usize = index.iter().zip(&dst).map(|(i, s)| i * s).sum();
            for j in 0..last {
                acc[base + j * step] += data[row * last + j] as f64;
            }
            row += 1;
        });
        if big.is_empty() {
            acc[0] = data[0] as f64;
        }
        Tensor::constant(acc.into_iter().map(|v| v as f32).collect(), shape.to_vec())
    }
}

// The operator overloads: `&a + &b`, `a + b`, `&a + 2.0`, `2.0 * &a`, and so on, all
// defined through the four methods above.
macro_rules! binary_operator {
    ($trait:ident, $method:ident, $fn:ident) => {
        impl ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$fn(self, rhs)
            }
        }
        impl ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$fn(&self, &rhs)
            }
        }
        impl ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$fn(&self, rhs)
            }
        }
        impl ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$fn(self, &rhs)
            }
        }
        impl ops::$trait<f32> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$fn(self, &Tensor::scalar(rhs))
            }
        }
        impl ops::$trait<f32> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$fn(&self, &Tensor::scalar(rhs))
            }
        }
        impl ops::$trait<&Tensor> for f32 {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$fn(&Tensor::scalar(self), rhs)
            }
        }
        impl ops::$trait<Tensor> for f32 {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$fn(&Tensor::scalar(self), &rhs)
            }
        }
    };
}

binary_operator!(Add, add, add);
binary_operator!(Sub, sub, sub);
binary_operator!(Mul, mul, mul);
binary_operator!(Div, div, div);

impl ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
