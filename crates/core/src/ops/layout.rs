//! Ops that only rearrange elements: `reshape`, `flatten_from`, `transpose`, `permute`.
//! Tensors are always contiguous, so `reshape` shares storage (no copy) while `permute`
//! copies into the new order. Their backward rules undo the rearrangement.

use crate::op::Op;
use crate::shape::{numel, strides};
use crate::{Dim, Tensor};

impl Tensor {
    /// The same elements in a new shape with the same element count. Shares storage.
    ///
    /// # Panics
    /// If the element counts differ; the message names both shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.reshape(&[3, 2]).shape(), &[3, 2]);
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert!(
            numel(shape) == self.numel(),
            "reshape: cannot reshape a tensor of shape {:?} ({} elements) into shape {:?} ({} elements)",
            self.shape(),
            self.numel(),
            shape,
            numel(shape)
        );
        Tensor::view_op(self, shape.to_vec(), Op::Reshape(self.clone()))
    }

    /// Flattens every dim from `dim` on into one (`torch.flatten(x, start_dim=dim)`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[2, 3, 4, 5]).flatten_from(1).shape(), &[2, 60]);
    /// ```
    pub fn flatten_from(&self, dim: impl Dim) -> Tensor {
        if self.dim() == 0 {
            return self.reshape(&[1]);
        }
        let dim = dim.resolve("flatten_from", self.shape());
        let mut shape = self.shape()[..dim].to_vec();
        shape.push(numel(&self.shape()[dim..]));
        self.reshape(&shape)
    }

    /// Swaps two dims.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.transpose(0, 1).to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// ```
    pub fn transpose(&self, d0: impl Dim, d1: impl Dim) -> Tensor {
        let d0 = d0.resolve("transpose", self.shape());
        let d1 = d1.resolve("transpose", self.shape());
        let mut dims: Vec<usize> = (0..self.dim()).collect();
        dims.swap(d0, d1);
        self.permute(&dims)
    }

    /// The matrix transpose of a 2-d tensor (`x.t()`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[2, 3]).t().shape(), &[3, 2]);
    /// ```
    pub fn t(&self) -> Tensor {
        assert!(
            self.dim() == 2,
            "t: expects a 2-d tensor, got shape {:?}",
            self.shape()
        );
        self.transpose(0, 1)
    }

    /// Reorders the dims: output dim `i` is input dim `dims[i]`.
    ///
    /// # Panics
    /// If `dims` is not a permutation of `0..rank`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros(&[2, 3, 4]).permute(&[2, 0, 1]).shape(), &[4, 2, 3]);
    /// ```
    pub fn permute(&self, dims: &[usize]) -> Tensor {
        let rank = self.dim();
        let mut seen = vec![false; rank];
        let valid = dims.len() == rank
            && dims
                .iter()
                .all(|&d| d < rank && !std::mem::replace(&mut seen[d], true));
        assert!(
            valid,
            "permute: {dims:?} is not a permutation of the dims of shape {:?}",
            self.shape()
        );
        let in_strides = strides(self.shape());
        let shape: Vec<usize> = dims.iter().map(|&d| self.shape()[d]).collect();
        let src: Vec<usize> = dims.iter().map(|&d| in_strides[d]).collect();
        let data = self.read();
        let n = numel(&shape);
        let mut out = Vec::with_capacity(n);
        if n > 0 {
            let mut index = vec![0; rank];
            let mut offset = 0usize;
            for _ in 0..n {
                out.push(data[offset]);
                // Odometer increment of the output index, keeping the input offset in step.
                for d in (0..rank).rev() {
                    index[d] += 1;
                    offset += src[d];
                    if index[d] < shape[d] {
                        break;
                    }
                    offset -= src[d] * shape[d];
                    index[d] = 0;
                }
            }
        }
        drop(data);
        Tensor::from_op(
            out,
            shape,
            Op::Permute {
                x: self.clone(),
                dims: dims.to_vec(),
            },
        )
    }
}
