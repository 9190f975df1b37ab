//! `--diagnostics`: what the two networks did inside while they trained, side by side.
//! diagnostics.csv holds every recorded number (long form: variant, step, layer, kind,
//! metric, value); diagnostics.svg draws, for each variant in its own row:
//! - the distribution of each layer's input to a ReLU (the BatchNorm's output with BN, the
//!   conv or linear layer's without) on the first recorded step, and
//! - on the last one,
//! - the update-to-data ratio of every weight over training, with the usual 1e-3 guide.

use std::path::Path;

use kindling::diagnostics::{Diagnostics, LayerRecord};
use plotters::prelude::*;

use crate::state::Variant;

/// Writes both files if the variants recorded diagnostics; does nothing otherwise.
pub fn write(out: &Path, bn: &Variant, no_bn: &Variant) -> Result<(), String> {
    let (Some(d_bn), Some(d_no)) = (&bn.diagnostics, &no_bn.diagnostics) else {
        return Ok(());
    };
    let csv_path = out.join("diagnostics.csv");
    let csv =
        String::from(Diagnostics::CSV_HEADER) + &d_bn.csv_rows("bn") + &d_no.csv_rows("no_bn");
    std::fs::write(&csv_path, csv)
        .map_err(|e| format!("cannot write {}: {e}", csv_path.display()))?;
    let svg_path = out.join("diagnostics.svg");
    draw(
        &svg_path,
        &[("with BatchNorm", d_bn), ("without BatchNorm", d_no)],
    )
    .map_err(|e| format!("cannot draw {}: {e}", svg_path.display()))?;
    print_summary(&[("bn", d_bn), ("no_bn", d_no)]);
    println!("Wrote {}: diagnostics.csv, diagnostics.svg", out.display());
    Ok(())
}

/// The records of the layers that feed a ReLU, at `step`: the pre-activations.
fn pre_activations(d: &Diagnostics, step: u64) -> Vec<&LayerRecord> {
    let at: Vec<&LayerRecord> = d.layers().iter().filter(|r| r.step == step).collect();
    at.windows(2)
        .filter(|w| w[1].kind == "ReLU")
        .map(|w| w[0])
        .collect()
}

fn recorded_steps(d: &Diagnostics) -> (u64, u64) {
    let steps = d.layers().iter().map(|r| r.step);
    (steps.clone().min().unwrap_or(0), steps.max().unwrap_or(0))
}

/// One line per variant and recorded step: the dead-ReLU share and the gradient spread,
/// the numbers the chapter "Looking inside a network" reads.
fn print_summary(runs: &[(&str, &Diagnostics)]) {
    println!("\nInside the networks (first and last recorded step):");
    for (name, d) in runs {
        let (first, last) = recorded_steps(d);
        for step in [first, last] {
            let relus: Vec<&LayerRecord> = d
                .layers()
                .iter()
                .filter(|r| r.step == step && r.kind == "ReLU")
                .collect();
            let dead: Vec<String> = relus
                .iter()
                .map(|r| format!("{:.0}%", 100.0 * r.dead.unwrap_or(0.0)))
                .collect();
            let pre: Vec<String> = pre_activations(d, step)
                .iter()
                .map(|r| format!("{:.2}", r.std))
                .collect();
            let ratios: Vec<String> = d
                .updates()
                .iter()
                .filter(|u| u.step == step)
                .map(|u| format!("{:.1}", u.log10_ratio))
                .collect();
            println!(
                "  {name:>5} step {step:>5}: pre-activation std [{}], dead ReLUs [{}], log10 update ratio [{}]",
                pre.join(", "),
                dead.join(", "),
                ratios.join(", ")
            );
        }
    }
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn draw(path: &Path, runs: &[(&str, &Diagnostics)]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1500, 360 * runs.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    // One x range for every histogram, so that the two rows compare directly.
    let all: Vec<f32> = runs
        .iter()
        .flat_map(|(_, d)| {
            let (a, b) = recorded_steps(d);
            let mut v = pre_activations(d, a);
            v.extend(pre_activations(d, b));
            // Where the middle 99% of each layer's values lie.
            v.into_iter().flat_map(|r| {
                let n = r.sample.len();
                [r.sample[n / 200], r.sample[n - 1 - n / 200]]
            })
        })
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(-1.0f32, f32::min).max(-12.0);
    let hi = all.iter().copied().fold(1.0f32, f32::max).min(12.0);
    for ((title, d), row) in runs.iter().zip(root.split_evenly((runs.len(), 1))) {
        let panels = row.split_evenly((1, 3));
        let (first, last) = recorded_steps(d);
        for (panel, step) in panels.iter().zip([first, last]) {
            histograms(
                panel,
                &format!("{title}: inputs to ReLU, step {step}"),
                d,
                step,
                lo,
                hi,
            )?;
        }
        ratios(&panels[2], &format!("{title}: log10 update / data"), d)?;
    }
    root.present()?;
    Ok(())
}

fn histograms(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    d: &Diagnostics,
    step: u64,
    lo: f32,
    hi: f32,
) -> Result<(), Box<dyn std::error::Error>> {
    const BINS: usize = 60;
    let width = (hi - lo) / BINS as f32;
    let layers = pre_activations(d, step);
    let curves: Vec<(String, Vec<(f32, f32)>)> = layers
        .iter()
        .map(|r| {
            let mut counts = [0usize; BINS];
            for &v in &r.sample {
                if v >= lo && v < hi {
                    counts[((v - lo) / width) as usize % BINS] += 1;
                }
            }
            let n = r.sample.len().max(1) as f32;
            let points = (0..BINS)
                .map(|i| {
                    (
                        lo + (i as f32 + 0.5) * width,
                        counts[i] as f32 / (n * width),
                    )
                })
                .collect();
            (format!("{} {} (std {:.2})", r.layer, r.kind, r.std), points)
        })
        .collect();
    let top = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(0.1f32, f32::max);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(lo..hi, 0f32..top * 1.05)?;
    chart.configure_mesh().y_desc("density").draw()?;
    for (i, (label, points)) in curves.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    Ok(())
}

fn ratios(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    d: &Diagnostics,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut names: Vec<&str> = Vec::new();
    for u in d.updates() {
        if !names.contains(&u.param.as_str()) {
            names.push(&u.param);
        }
    }
    let max_step = d.updates().iter().map(|u| u.step).max().unwrap_or(1).max(1) as f32;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f32..max_step, -6f32..0f32)?;
    chart.configure_mesh().x_desc("step").draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, -3.0), (max_step, -3.0)],
        BLACK.stroke_width(1),
    ))?;
    for (i, name) in names.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f32, f32)> = d
            .updates()
            .iter()
            .filter(|u| u.param == *name && u.log10_ratio.is_finite())
            .map(|u| (u.step as f32, u.log10_ratio.clamp(-6.0, 0.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    Ok(())
}
