//! Graphviz export of the graph behind a tensor: `println!("{}", loss.to_dot())`, then
//! `dot -Tsvg graph.dot > graph.svg`. Ops are boxes named after their `Op` variant, leaves
//! are ellipses; every node shows its shape. Edges point from inputs to the op that read them.

use std::fmt::Write;

use crate::autograd::topological_order;
use crate::Tensor;

impl Tensor {
    /// The recorded graph behind this tensor in Graphviz DOT format.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad(true);
    /// let y = (&x * &x).sum();
    /// let dot = y.to_dot();
    /// assert!(dot.contains("Mul") && dot.contains("Sum") && dot.contains("[2]"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out =
            String::from("digraph kindling {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        let nodes = if self.is_requires_grad() {
            topological_order(self)
        } else {
            vec![self.clone()]
        };
        for t in &nodes {
            let (label, shape) = match t.op_name() {
                Some(name) => (name.to_string(), "box"),
                None if t.is_leaf() && t.is_requires_grad() => {
                    ("leaf (requires grad)".to_string(), "ellipse")
                }
                None if t.is_leaf() => ("constant".to_string(), "ellipse"),
                None => ("freed".to_string(), "ellipse"),
            };
            let _ = writeln!(
                out,
                "  n{} [label=\"{}\\n{:?}\", shape={}];",
                t.id(),
                label,
                t.shape(),
                shape
            );
            if let Some(op) = t.0.op.lock().unwrap().as_ref() {
                for input in op.inputs() {
                    if input.is_requires_grad() {
                        let _ = writeln!(out, "  n{} -> n{};", input.id(), t.id());
                    }
                }
            }
        }
        out.push_str("}\n");
        out
    }
}
