//! The `Op` enum: every differentiable operation, what it saved for the backward pass, and
//! its backward rule. This is the one file to read to learn how autograd differentiates.
//!
//! Each variant holds the op's inputs (so the graph can be walked) plus whatever the forward
//! pass saved. `Op::backward` receives the op's output and the gradient of the loss with
//! respect to it, and returns one gradient per input, in the order of `Op::inputs`. Backward
//! runs with grad mode off, so the tensor arithmetic below builds no graph of its own. The
//! forward passes live in `ops/`, in the file named after the op family; the long backward
//! kernels sit beside them there.

use crate::ops::{activation, batch_norm, conv, matmul, norm, pool, reduce, softmax};
use crate::Tensor;

/// One recorded operation: the inputs, the saved values, and (in `backward`) the chain rule.
pub(crate) enum Op {
    Add(Tensor, Tensor),
    Sub(Tensor, Tensor),
    Mul(Tensor, Tensor),
    Div(Tensor, Tensor),
    Neg(Tensor),
    /// Its backward reads the output, since d/dx exp(x) = exp(x).
    Exp(Tensor),
    Log(Tensor),
    Sqrt(Tensor),
    Powf {
        x: Tensor,
        p: f32,
    },
    Relu(Tensor),
    Sigmoid(Tensor),
    Tanh(Tensor),
    LeakyRelu {
        x: Tensor,
        slope: f32,
    },
    /// GELU, exact form `x·Φ(x)`.
    Gelu(Tensor),
    /// GELU, tanh approximation.
    GeluTanh(Tensor),
    Sum(Tensor),
    Mean(Tensor),
    SumDim {
        x: Tensor,
        dim: usize,
        keepdim: bool,
    },
    MeanDim {
        x: Tensor,
        dim: usize,
        keepdim: bool,
    },
    /// `max(dim)`'s values; `argmax[j]` is where along `dim` output element `j` came from.
    MaxDim {
        x: Tensor,
        dim: usize,
        argmax: Vec<usize>,
    },
    Reshape(Tensor),
    /// `copy()`: the same values in storage of their own.
    Copy(Tensor),
    Permute {
        x: Tensor,
        dims: Vec<usize>,
    },
    MatMul(Tensor, Tensor),
    /// `x·Wᵀ + b`, the fully connected layer.
    Linear {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
    },
    Softmax {
        x: Tensor,
        dim: usize,
    },
    LogSoftmax {
        x: Tensor,
        dim: usize,
    },
    Conv2d {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        stride: usize,
        padding: usize,
    },
    /// `max_pool2d(relu(conv2d(x, w, b)))` in one op. Saved: the convolution's inputs and
    /// geometry as for `Conv2d`, and `argmax`, `passes` as for `ReluMaxPool2d` (of the
    /// convolution's output, which is not kept: backward needs only where the gradient
    /// goes, not the values).
    Conv2dReluMaxPool2d {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        stride: usize,
        padding: usize,
        argmax: Vec<u32>,
        passes: Vec<bool>,
    },
    /// `argmax[i]` is where, inside its input plane, output element `i` found its maximum.
    MaxPool2d {
        x: Tensor,
        argmax: Vec<u32>,
    },
    /// `max_pool2d(relu(x))` in one op. `argmax` as for `MaxPool2d` (of `x` itself: ReLU
    /// does not move a positive maximum); `passes[i]` is whether output `i` was above 0,
    /// the only windows ReLU lets a gradient through. `x` is kept as the graph edge only;
    /// backward reads its shape, not its values.
    ReluMaxPool2d {
        x: Tensor,
        argmax: Vec<u32>,
        passes: Vec<bool>,
    },
    /// Saves nothing but the geometry: the windows are known from the shapes.
    AvgPool2d {
        x: Tensor,
        kernel: usize,
        stride: usize,
    },
    AdaptiveAvgPool2d {
        x: Tensor,
        output_size: usize,
    },
    /// Saved: the mean and 1/σ per channel (batch stats in training, running stats in
    /// eval), from which backward rebuilds the normalised input x̂.
    BatchNorm {
        x: Tensor,
        weight: Option<Tensor>,
        bias: Option<Tensor>,
        saved: batch_norm::Saved,
    },
    /// `max_pool2d(relu(batch_norm(x)))` in one op. Saved: BatchNorm's statistics as for
    /// `BatchNorm`, and `argmax`, `passes` as for `ReluMaxPool2d` (of the normalised
    /// values, which are not kept: backward rebuilds what it needs from x).
    BatchNormReluMaxPool2d {
        x: Tensor,
        weight: Option<Tensor>,
        bias: Option<Tensor>,
        saved: batch_norm::Saved,
        argmax: Vec<u32>,
        passes: Vec<bool>,
    },
    /// Every row of `row_len` consecutive values turned into standard scores, the step
    /// under `layer_norm` and `group_norm`. Saved: 1/σ per row. The output is x̂ itself,
    /// which is all backward needs besides 1/σ, so it reads the output instead of x.
    Standardize {
        x: Tensor,
        row_len: usize,
        inv_std: Vec<f32>,
    },
    /// An op written outside kindling (`autograd::custom_op`): its own forward and
    /// backward, behind the `CustomOp` trait.
    Custom {
        name: &'static str,
        op: Box<dyn crate::autograd::CustomOp>,
        inputs: Vec<Tensor>,
    },
    /// Negative log-likelihood, mean over the batch: `-mean_n(x[n, target[n]])`.
    NllLoss {
        x: Tensor,
        targets: Vec<usize>,
    },
}

impl Op {
    /// A short name, shown by `Tensor::op_name` and in the DOT picture.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Add(..) => "Add",
            Op::Sub(..) => "Sub",
            Op::Mul(..) => "Mul",
            Op::Div(..) => "Div",
            Op::Neg(..) => "Neg",
            Op::Exp(..) => "Exp",
            Op::Log(..) => "Log",
            Op::Sqrt(..) => "Sqrt",
            Op::Powf { .. } => "Powf",
            Op::Relu(..) => "Relu",
            Op::Sigmoid(..) => "Sigmoid",
            Op::Tanh(..) => "Tanh",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::Gelu(..) => "Gelu",
            Op::GeluTanh(..) => "GeluTanh",
            Op::Sum(..) => "Sum",
            Op::Mean(..) => "Mean",
            Op::SumDim { .. } => "SumDim",
            Op::MeanDim { .. } => "MeanDim",
            Op::MaxDim { .. } => "MaxDim",
            Op::Reshape(..) => "Reshape",
            Op::Copy(..) => "Copy",
            Op::Permute { .. } => "Permute",
            Op::MatMul(..) => "MatMul",
            Op::Linear { .. } => "Linear",
            Op::Softmax { .. } => "Softmax",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::Conv2d { .. } => "Conv2d",
            Op::Conv2dReluMaxPool2d { .. } => "Conv2dReluMaxPool2d",
            Op::MaxPool2d { .. } => "MaxPool2d",
            Op::ReluMaxPool2d { .. } => "ReluMaxPool2d",
            Op::AvgPool2d { .. } => "AvgPool2d",
            Op::AdaptiveAvgPool2d { .. } => "AdaptiveAvgPool2d",
            Op::BatchNorm { .. } => "BatchNorm",
            Op::BatchNormReluMaxPool2d { .. } => "BatchNormReluMaxPool2d",
            Op::Standardize { .. } => "Standardize",
            Op::NllLoss { .. } => "NllLoss",
            Op::Custom { name, .. } => name,
        }
    }

    /// The tensors this op read, in the order `backward` returns their gradients.
    pub(crate) fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::MatMul(a, b) => {
                vec![a, b]
            }
            Op::Neg(x)
            | Op::Log(x)
            | Op::Relu(x)
            | Op::Sum(x)
            | Op::Mean(x)
            | Op::Reshape(x)
            | Op::Copy(x)
            | Op::Exp(x)
            | Op::Sqrt(x)
            | Op::Sigmoid(x)
            | Op::Tanh(x)
            | Op::Gelu(x)
            | Op::GeluTanh(x) => vec![x],
            Op::Powf { x, .. }
            | Op::SumDim { x, .. }
            | Op::MeanDim { x, .. }
            | Op::Permute { x, .. }
            | Op::MaxDim { x, .. }
            | Op::Softmax { x, .. }
            | Op::LogSoftmax { x, .. }
            | Op::MaxPool2d { x, .. }
            | Op::ReluMaxPool2d { x, .. }
            | Op::AvgPool2d { x, .. }
            | Op::AdaptiveAvgPool2d { x, .. }
            | Op::LeakyRelu { x, .. }
            | Op::Standardize { x, .. }
            | Op::NllLoss { x, .. } => vec![x],
            Op::Conv2d { x, w, b, .. }
            | Op::Conv2dReluMaxPool2d { x, w, b, .. }
            | Op::Linear { x, w, b } => [Some(x), Some(w), b.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
            Op::BatchNorm {
                x, weight, bias, ..
            }
            | Op::BatchNormReluMaxPool2d {
                x, weight, bias, ..
            } => [Some(x), weight.as_ref(), bias.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
            Op::Custom { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// The inputs whose values (not just shapes) the backward rule reads. Their storage
    /// versions are noted when the op runs and checked before its backward rule runs.
    pub(crate) fn saved(&self) -> Vec<&Tensor> {
        match self {
            Op::Mul(a, b) | Op::Div(a, b) | Op::MatMul(a, b) => vec![a, b],
            Op::Log(x)
            | Op::Relu(x)
            | Op::Powf { x, .. }
            | Op::LeakyRelu { x, .. }
            | Op::Gelu(x)
            | Op::GeluTanh(x) => vec![x],
            Op::Linear { x, w, .. }
            | Op::Conv2d { x, w, .. }
            | Op::Conv2dReluMaxPool2d { x, w, .. } => vec![x, w],
            // A custom backward may read any of its inputs.
            Op::Custom { inputs, .. } => inputs.iter().collect(),
            Op::BatchNorm { x, weight, .. } | Op::BatchNormReluMaxPool2d { x, weight, .. } => {
                [Some(x), weight.as_ref()].into_iter().flatten().collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether the backward rule reads the op's output (which is then checked too).
    pub(crate) fn saves_output(&self) -> bool {
        matches!(
            self,
            Op::Exp(..)
                | Op::Sqrt(..)
                | Op::Sigmoid(..)
                | Op::Tanh(..)
                | Op::Softmax { .. }
                | Op::LogSoftmax { .. }
                | Op::Standardize { .. }
                | Op::Custom { .. }
        )
    }

    /// Moves the input handles out, so that dropping a deep graph can proceed without
    /// recursion (see `Drop for Inner`).
    pub(crate) fn into_inputs(self) -> Vec<Tensor> {
        self.inputs().into_iter().cloned().collect()
    }

    /// The chain rule: given the op's output `out` and `g` = dL/d(out), returns dL/d(input)
    /// for every input, `None` where the input does not require a gradient (nothing is
    /// computed for it).
    pub(crate) fn backward(&self, out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // `need(t, f)` runs `f` only if gradients flow to `t`.
        fn need(t: &Tensor, f: impl FnOnce() -> Tensor) -> Option<Tensor> {
            t.is_requires_grad().then(f)
        }
        match self {
            // Broadcasting copied an input along some dims; its gradient sums them back.
            Op::Add(a, b) => vec![
                need(a, || g.sum_to(a.shape())),
                need(b, || g.sum_to(b.shape())),
            ],
            Op::Sub(a, b) => vec![
                need(a, || g.sum_to(a.shape())),
                need(b, || (-g).sum_to(b.shape())),
            ],
            // d(ab)/da = b, d(ab)/db = a
            Op::Mul(a, b) => vec![
                need(a, || (g * b).sum_to(a.shape())),
                need(b, || (g * a).sum_to(b.shape())),
            ],
            // d(a/b)/da = 1/b, d(a/b)/db = -a/b²
            Op::Div(a, b) => vec![
                need(a, || (g / b).sum_to(a.shape())),
                need(b, || (-(g * a) / (b * b)).sum_to(b.shape())),
            ],
            Op::Neg(_) => vec![Some(-g)],
            Op::Exp(_) => vec![Some(g * out)],
            Op::Log(x) => vec![Some(g / x)],
            // d√x/dx = 1 / (2√x)
            Op::Sqrt(_) => vec![Some(g / &(out * 2.0))],
            // d(xᵖ)/dx = p·xᵖ⁻¹, and exactly 0 for p = 0 (x⁰ is constant; 0·0⁻¹ would be NaN).
            Op::Powf { x, p } if *p == 0.0 => vec![Some(Tensor::zeros(x.shape()))],
            Op::Powf { x, p } => vec![Some(g * &(x.powf(p - 1.0) * *p))],
            // The gradient passes where the input was positive (PyTorch uses 0 at exactly 0).
            Op::Relu(x) => vec![Some(g.zip_map(x, |g, x| if x > 0.0 { g } else { 0.0 }))],
            // σ' = σ(1 - σ)
            Op::Sigmoid(_) => vec![Some(g.zip_map(out, |g, s| g * s * (1.0 - s)))],
            // tanh' = 1 - tanh²
            Op::Tanh(_) => vec![Some(g.zip_map(out, |g, t| g * (1.0 - t * t)))],
            // Slope 1 where the input was positive, `slope` elsewhere (at exactly 0 too, as
            // PyTorch does).
            Op::LeakyRelu { x, slope } => {
                vec![Some(
                    g.zip_map(x, |g, x| if x > 0.0 { g } else { g * slope }),
                )]
            }
            // d/dx x·Φ(x) = Φ(x) + x·φ(x), Φ and φ the standard normal's cdf and density.
            Op::Gelu(x) => vec![Some(
                g.zip_map(x, |g, x| g * activation::gelu_derivative(x)),
            )],
            // With u = √(2/π)(x + 0.044715x³): d/dx x/2·(1 + tanh u)
            //   = (1 + tanh u)/2 + x/2·(1 - tanh²u)·du/dx.
            Op::GeluTanh(x) => vec![Some(
                g.zip_map(x, |g, x| g * activation::gelu_tanh_derivative(x)),
            )],
            // Every input element contributed once to the sum.
            Op::Sum(x) => vec![Some(g.expand(x.shape()))],
            Op::Mean(x) => vec![Some(&g.expand(x.shape()) * (1.0 / x.numel() as f32))],
            Op::SumDim { x, dim, keepdim } => {
                vec![Some(reduce::unreduce(g, x.shape(), *dim, *keepdim))]
            }
            Op::MeanDim { x, dim, keepdim } => {
                let n = x.shape()[*dim] as f32;
                vec![Some(
                    &reduce::unreduce(g, x.shape(), *dim, *keepdim) * (1.0 / n),
                )]
            }
            Op::MaxDim { x, dim, argmax } => {
                vec![Some(reduce::max_backward(g, x.shape(), *dim, argmax))]
            }
            Op::Reshape(x) => vec![Some(g.reshape(x.shape()))],
            // Every element was copied once: the gradient passes through unchanged.
            Op::Copy(_) => vec![Some(g.clone())],
            // Undo the permutation: inverse[dims[i]] = i.
            Op::Permute { dims, .. } => {
                let mut inverse = vec![0; dims.len()];
                for (i, &d) in dims.iter().enumerate() {
                    inverse[d] = i;
                }
                vec![Some(g.permute(&inverse))]
            }
            // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC (summed over the batch if B was broadcast).
            Op::MatMul(a, b) => {
                let (ga, gb) = matmul::matmul_backward(g, a, b);
                vec![ga, gb]
            }
            // Y = X·Wᵀ + b: dX = dY·W, dW = dYᵀ·X, db = Σ_rows dY.
            Op::Linear { x, w, b } => {
                let (gx, gw, gb) = matmul::linear_backward(g, x, w, b.is_some());
                let mut grads = vec![gx, Some(gw)];
                if b.is_some() {
                    grads.push(gb);
                }
                grads
            }
            Op::Softmax { dim, .. } => vec![Some(softmax::softmax_backward(g, out, *dim))],
            Op::LogSoftmax { dim, .. } => {
                vec![Some(softmax::log_softmax_backward(g, out, *dim))]
            }
            Op::Conv2d {
                x,
                w,
                b,
                stride,
                padding,
            } => {
                let (gx, gw, gb) = conv::conv2d_backward(g, x, w, b.is_some(), *stride, *padding);
                let mut grads = vec![gx, Some(gw)];
                if b.is_some() {
                    grads.push(gb);
                }
                grads
            }
            // The chain rule through all three: pooling and ReLU route g to the windows'
            // maxima above 0, which is the convolution's output gradient; then its rule.
            Op::Conv2dReluMaxPool2d {
                x,
                w,
                b,
                stride,
                padding,
                argmax,
                passes,
            } => {
                let (gx, gw, gb) = conv::conv2d_relu_max_pool2d_backward(
                    g,
                    x,
                    w,
                    b.is_some(),
                    *stride,
                    *padding,
                    argmax,
                    passes,
                );
                let mut grads = vec![gx, Some(gw)];
                if b.is_some() {
                    grads.push(gb);
                }
                grads
            }
            Op::MaxPool2d { x, argmax } => {
                vec![Some(pool::max_pool2d_backward(g, x.shape(), argmax))]
            }
            // The chain rule through both: max pooling routes g to the argmax, and ReLU's
            // slope there is 1 if the pooled value was above 0, else 0 (NaN and exactly 0
            // included, as `Relu`'s rule).
            Op::ReluMaxPool2d { x, argmax, passes } => vec![Some(pool::relu_max_pool2d_backward(
                g,
                x.shape(),
                argmax,
                passes,
            ))],
            // Each output was the mean of its window: its gradient goes back to every
            // element of the window, divided by the window's size.
            Op::AvgPool2d { x, kernel, stride } => vec![Some(pool::avg_pool2d_backward(
                g,
                x.shape(),
                *kernel,
                *stride,
            ))],
            // The same, with PyTorch's adaptive windows; where they overlap, an input
            // element collects a share from every window it is in.
            Op::AdaptiveAvgPool2d { x, output_size } => vec![Some(
                pool::adaptive_avg_pool2d_backward(g, x.shape(), *output_size),
            )],
            Op::BatchNorm {
                x,
                weight,
                bias,
                saved,
            } => {
                let (gx, gw, gb) = batch_norm::batch_norm_backward(g, x, weight.as_ref(), saved);
                let mut grads = vec![need(x, || gx)];
                if let Some(w) = weight {
                    grads.push(need(w, || gw));
                }
                if let Some(b) = bias {
                    grads.push(need(b, || gb));
                }
                grads
            }
            // The chain rule through all three: pooling and ReLU route g to the windows'
            // maxima above 0, which is BatchNorm's output gradient; then BatchNorm's rule.
            Op::BatchNormReluMaxPool2d {
                x,
                weight,
                bias,
                saved,
                argmax,
                passes,
            } => {
                let (gx, gw, gb) = batch_norm::batch_norm_relu_max_pool2d_backward(
                    g,
                    x,
                    weight.as_ref(),
                    saved,
                    argmax,
                    passes,
                );
                let mut grads = vec![need(x, || gx)];
                if let Some(w) = weight {
                    grads.push(need(w, || gw));
                }
                if let Some(b) = bias {
                    grads.push(need(b, || gb));
                }
                grads
            }
            Op::Standardize {
                row_len, inv_std, ..
            } => vec![Some(norm::standardize_backward(g, out, *row_len, inv_std))],
            Op::Custom { name, op, inputs } => {
                let grads = op.backward(inputs, out, g);
                assert!(
                    grads.len() == inputs.len(),
                    "custom op {name}: backward returned {} gradients for {} inputs",
                    grads.len(),
                    inputs.len()
                );
                for (i, (grad, input)) in grads.iter().zip(inputs).enumerate() {
                    if let Some(grad) = grad {
                        assert!(
                            grad.shape() == input.shape(),
                            "custom op {name}: the gradient for input {i} has shape {:?} but the input has shape {:?}",
                            grad.shape(),
                            input.shape()
                        );
                    }
                }
                grads
            }
            Op::NllLoss { x, targets } => {
                // Only the picked log-probabilities get a gradient: -g/N each.
                let (n, k) = (x.shape()[0], x.shape()[1]);
                let scale = -g.item() / n as f32;
                let mut gx = vec![0.0; n * k];
                for (row, &t) in targets.iter().enumerate() {
                    gx[row * k + t] = scale;
                }
                vec![Some(Tensor::constant(gx, vec![n, k]))]
            }
        }
    }
}
