//! bn_paper.svg, laid out as the paper's Figure 1: (a) test accuracy of both networks
//! against training steps, (b) the plain network's watched sigmoid input as its 15th, 50th
//! and 85th percentiles, (c) the same for the bn network. (b) and (c) share one y-range so
//! that their spreads can be compared by eye.

use std::path::Path;

use plotters::prelude::*;

use crate::{Curves, Summary};

type Fallible = Result<(), Box<dyn std::error::Error>>;

pub fn figure(path: &Path, s: &Summary, label: &str) -> Fallible {
    let root = SVGBackend::new(path, (1380, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "{label}: MNIST, 3 sigmoid layers of 100, SGD lr 0.5, batch 60 (Ioffe & Szegedy 2015, Fig. 1)"
    );
    let root = root.titled(&title, ("sans-serif", 18))?;
    let panels = root.split_evenly((1, 3));
    let last = |c: &Curves| c.step.last().copied().unwrap_or(1);
    let max_step = last(&s.bn).max(last(&s.plain)).max(1) as f64;

    accuracy(&panels[0], s, max_step)?;
    let all = [&s.plain, &s.bn]
        .into_iter()
        .flat_map(|c| c.p15.iter().chain(&c.p85))
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.08).max(0.05);
    let range = (lo - pad, hi + pad);
    percentiles(
        &panels[1],
        "(b) without BatchNorm",
        &s.plain,
        max_step,
        range,
        RED,
    )?;
    percentiles(
        &panels[2],
        "(c) with BatchNorm",
        &s.bn,
        max_step,
        range,
        BLUE,
    )?;
    root.present()?;
    Ok(())
}

/// The accuracy axis starts at the multiple of 0.05 below the lowest point, so that the
/// plain network's slow start and the gap at the end both show.
fn accuracy(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    s: &Summary,
    max_step: f64,
) -> Fallible {
    let lowest = [&s.bn, &s.plain]
        .into_iter()
        .flat_map(|c| c.test_accuracy.iter().copied())
        .fold(1.0f64, f64::min);
    let floor = (lowest * 20.0).floor().clamp(0.0, 19.0) / 20.0;
    let mut chart = ChartBuilder::on(area)
        .caption("(a) test accuracy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..max_step, floor..1.0f64)?;
    chart
        .configure_mesh()
        .x_desc("training step")
        .y_desc("accuracy (fraction of the test set)")
        .x_label_formatter(&steps_label)
        .draw()?;
    for (name, c, color) in [
        ("with BatchNorm", &s.bn, BLUE),
        ("without BatchNorm", &s.plain, RED),
    ] {
        let points = c
            .step
            .iter()
            .zip(&c.test_accuracy)
            .map(|(&step, &a)| (step as f64, a));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    Ok(())
}

fn percentiles(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    c: &Curves,
    max_step: f64,
    (lo, hi): (f64, f64),
    color: RGBColor,
) -> Fallible {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..max_step, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("training step")
        .y_desc("sigmoid input: median (bold), 15th and 85th percentiles")
        .x_label_formatter(&steps_label)
        .draw()?;
    // The median bold, the outer percentiles thin: the band between them is the spread.
    // No legend box: wherever it went, it could hide a curve; the axis title says it.
    for (q, width) in [(&c.p85, 1), (&c.p50, 3), (&c.p15, 1)] {
        let points = c.step.iter().zip(q).map(|(&s, &v)| (s as f64, v));
        chart.draw_series(LineSeries::new(points, color.stroke_width(width)))?;
    }
    Ok(())
}

/// 10000 as "10k": the paper's axis reads in thousands of steps too.
fn steps_label(x: &f64) -> String {
    if *x >= 1000.0 {
        format!("{}k", (x / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{x:.0}")
    }
}
