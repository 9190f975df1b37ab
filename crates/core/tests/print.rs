//! `Display` and `Debug` for `Tensor` against PyTorch's `repr`, character for character.
//!
//! `fixtures/print.json` was written by `tools/golden/gen_print.py` (PyTorch 2.15): each
//! case describes a tensor (its values, or for a large one the float32 steps that build it
//! from `arange`), the autograd op applied before printing, if any, and the string PyTorch
//! printed. A failure names the case, its PyTorch expression and the first line that
//! differs, since a whole summarised tensor is too long to compare by eye.

use kindling_core::Tensor;
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/print.json");
    let text = std::fs::read_to_string(path).expect("tests/fixtures/print.json is committed");
    serde_json::from_str(&text).expect("print.json is valid JSON")
}

/// A number, or one of the strings JSON needs for the values it cannot hold.
fn value(v: &Value) -> f32 {
    match v {
        Value::String(s) => match s.as_str() {
            "nan" => f32::NAN,
            "inf" => f32::INFINITY,
            "-inf" => f32::NEG_INFINITY,
            other => panic!("unknown value {other:?}"),
        },
        v => v.as_f64().expect("a number") as f32,
    }
}

/// Rebuilds a large case from its formula: `arange` in f32, then each op in f32, as
/// PyTorch computed it, so the values are PyTorch's to the bit.
fn from_formula(formula: &Value, numel: usize) -> Vec<f32> {
    let mut data: Vec<f32> = (0..numel).map(|i| i as f32).collect();
    for op in formula["ops"].as_array().unwrap() {
        let c = value(&op[1]);
        let apply: fn(f32, f32) -> f32 = match op[0].as_str().unwrap() {
            "add" => |a, c| a + c,
            "sub" => |a, c| a - c,
            "mul" => |a, c| a * c,
            "div" => |a, c| a / c,
            other => panic!("unknown formula op {other:?}"),
        };
        data.iter_mut().for_each(|a| *a = apply(*a, c));
    }
    for set in formula["set"].as_array().unwrap() {
        data[set[0].as_u64().unwrap() as usize] = value(&set[1]);
    }
    data
}

fn build(case: &Value) -> Tensor {
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let numel = shape.iter().product();
    let data = match case.get("formula") {
        Some(formula) => from_formula(formula, numel),
        None => case["data"].as_array().unwrap().iter().map(value).collect(),
    };
    let x = Tensor::from_vec(data, &shape);
    let Some(grad) = case["grad"].as_str() else {
        return x;
    };
    let x = x.requires_grad(true);
    match grad {
        "leaf" => x,
        "mul_self" => &x * &x,
        "add_self" => &x + &x,
        // PyTorch's `x - x`: a recorded Sub whose value happens to be all zeros.
        #[allow(clippy::eq_op)]
        "sub_self" => &x - &x,
        "neg" => -&x,
        "relu" => x.relu(),
        "sum" => x.sum(),
        "mean" => x.mean(),
        other => panic!("unknown grad recipe {other:?}"),
    }
}

/// `None` if equal, else a report of the first line that differs and both full texts.
fn difference(got: &str, want: &str) -> Option<String> {
    if got == want {
        return None;
    }
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let line = (0..g.len().max(w.len()))
        .find(|&i| g.get(i) != w.get(i))
        .unwrap_or(0);
    Some(format!(
        "first difference on line {}:\n  kindling: {:?}\n  pytorch:  {:?}\n--- kindling:\n{got}\n--- pytorch:\n{want}",
        line + 1,
        g.get(line).unwrap_or(&"<no line>"),
        w.get(line).unwrap_or(&"<no line>"),
    ))
}

#[test]
fn prints_as_pytorch() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "the fixture lost its cases");
    let mut failures = Vec::new();
    for case in cases {
        let t = build(case);
        let want = case["expected"].as_str().unwrap();
        let (display, debug) = (t.to_string(), format!("{t:?}"));
        assert_eq!(display, debug, "Display and Debug differ");
        if let Some(report) = difference(&display, want) {
            failures.push(format!("{} ({}): {report}", case["name"], case["torch"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases print differently from PyTorch:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Summarising starts past 1000 elements, not at 1000 (a case PyTorch would print in full,
/// too long for the fixture).
#[test]
fn a_thousand_elements_print_in_full() {
    let text = Tensor::zeros(&[1000]).to_string();
    assert!(!text.contains("..."));
    assert_eq!(text.matches("0.").count(), 1000);
    assert!(Tensor::zeros(&[1001]).to_string().contains("..."));
}

/// kindling forgets the op once `backward` frees the graph, so the result can only say
/// that it requires grad (PyTorch still names its `grad_fn`).
#[test]
fn a_freed_result_shows_requires_grad() {
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let y = (&x * &x).sum();
    assert_eq!(y.to_string(), "tensor(5., grad_fn=<SumBackward0>)");
    y.backward();
    assert_eq!(y.to_string(), "tensor(5., requires_grad=True)");
    assert_eq!(
        x.grad().unwrap().to_string(),
        "tensor([2., 4.])",
        "a gradient is a plain tensor"
    );
}

/// A NaN with its sign bit set (what 0/0 gives on x86) prints as `nan`, as in Python.
#[test]
fn negative_nan_prints_as_nan() {
    let t = Tensor::from_vec(vec![-f32::NAN, 1.5], &[2]);
    assert_eq!(t.to_string(), "tensor([   nan, 1.5000])");
}

/// Printing reads only the shown edges of a big tensor, and does not count as a write.
#[test]
fn printing_a_large_tensor_is_cheap_and_read_only() {
    let t = Tensor::zeros(&[1000, 1000]);
    let v = t.version();
    let start = std::time::Instant::now();
    let text = t.to_string();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(t.version(), v);
    assert_eq!(text.lines().count(), 7);
}
