//! lr_sweep.svg: the median test accuracy against the learning rate, both variants, each
//! point with a bar from the worst seed to the best. The rates of the grid grow by factors,
//! so the rate axis is logarithmic; the bar's length is what one run alone would hide.

use std::path::Path;

use plotters::prelude::*;

use crate::sweep_summary::{Pick, Setting};

pub fn draw(path: &Path, settings: &[Setting]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let lo = settings.iter().map(|t| t.lr).fold(f32::INFINITY, f32::min);
    let hi = settings.iter().map(|t| t.lr).fold(0.0f32, f32::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "test accuracy after the sweep's runs (median, min-max over seeds)",
            ("sans-serif", 18),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d((lo / 1.6..hi * 1.6).log_scale(), 0f32..100f32)?;
    chart
        .configure_mesh()
        .x_desc("learning rate (log scale)")
        .y_desc("test accuracy (%)")
        .x_label_formatter(&|x| format!("{x}"))
        .y_labels(11)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(BLACK.mix(0.04))
        .draw()?;
    let chance = ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(2);
    chart
        .draw_series(LineSeries::new(
            [(lo / 1.6, 10.0), (hi * 1.6, 10.0)],
            chance,
        ))?
        .label("chance (10%)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], chance));
    // The two variants' bars sit a little apart, so that neither hides the other.
    let variants: [(&str, Pick, RGBColor, f32); 2] = [
        ("with BatchNorm", |t| &t.bn, BLUE, 1.0 / 1.05),
        ("without BatchNorm", |t| &t.no_bn, RED, 1.05),
    ];
    for (label, pick, color, shift) in variants {
        let at = |t: &Setting| t.lr * shift;
        let line = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                settings.iter().map(|t| (at(t), pick(t).median * 100.0)),
                line,
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], line));
        chart.draw_series(
            settings
                .iter()
                .map(|t| Circle::new((at(t), pick(t).median * 100.0), 4, color.filled())),
        )?;
        // A bar with caps; the caps span a fixed factor of the rate, the same width on the
        // log axis at every rate.
        for t in settings {
            let (x, v) = (at(t), pick(t));
            let (y0, y1) = (v.min * 100.0, v.max * 100.0);
            let (a, b) = (x / 1.03, x * 1.03);
            let style = color.stroke_width(1);
            chart.draw_series([
                PathElement::new(vec![(x, y0), (x, y1)], style),
                PathElement::new(vec![(a, y0), (b, y0)], style),
                PathElement::new(vec![(a, y1), (b, y1)], style),
            ])?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}
