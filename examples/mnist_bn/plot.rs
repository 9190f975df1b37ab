//! curves.svg: the training loss per logged step (left) and the test accuracy after each
//! epoch (right), both variants on the same axes so the gap BatchNorm makes is visible.

use std::path::Path;

use plotters::prelude::*;

use crate::metrics::RunResult;

pub fn curves(
    path: &Path,
    bn: &RunResult,
    no_bn: &RunResult,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1100, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    let colors = [
        ("with BatchNorm", bn, BLUE),
        ("without BatchNorm", no_bn, RED),
    ];

    let max_step = bn
        .log
        .iter()
        .chain(&no_bn.log)
        .map(|l| l.0)
        .max()
        .unwrap_or(1) as f32;
    let max_loss = bn
        .log
        .iter()
        .chain(&no_bn.log)
        .map(|l| l.1)
        .filter(|l| l.is_finite())
        .fold(0.5f32, f32::max)
        .min(3.0);
    let mut chart = ChartBuilder::on(&left)
        .caption("training loss", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f32..max_step, 0f32..max_loss)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("mean loss over 10 steps")
        .draw()?;
    for (label, r, color) in &colors {
        chart
            .draw_series(LineSeries::new(
                r.log.iter().map(|&(s, l, _)| (s as f32, l.min(max_loss))),
                color,
            ))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;

    let epochs = bn.epochs.len().max(no_bn.epochs.len()).max(1) as f32;
    let min_acc = bn
        .epochs
        .iter()
        .chain(&no_bn.epochs)
        .map(|e| e.test_accuracy * 100.0)
        .fold(100.0f32, f32::min);
    let floor = (min_acc - 1.0).clamp(0.0, 98.0).floor();
    let mut chart = ChartBuilder::on(&right)
        .caption("test accuracy after each epoch", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.5f32..epochs + 0.5, floor..100f32)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy (%)")
        .x_labels(epochs as usize + 2)
        .x_label_formatter(&|x| {
            if x.fract().abs() < 1e-3 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .draw()?;
    for (label, r, color) in &colors {
        let points: Vec<(f32, f32)> = r
            .epochs
            .iter()
            .map(|e| (e.epoch as f32, e.test_accuracy * 100.0))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}
