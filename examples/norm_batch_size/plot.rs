//! norm_batch_size.svg: test accuracy against batch size, one line per normalisation, plus
//! a dashed line for BatchNorm scored in training mode. The x axis is log2 of the batch
//! size, so the six sizes (2 to 64) sit evenly spaced, as in the GroupNorm paper's Figure 1.
//!
//! Two panels with the same lines: the full range on the left, so that a collapse shows,
//! and the top four points on the right, where the runs that did not collapse differ by
//! fractions of a point that the full range would flatten into one line.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::model::Norm;
use crate::train::Outcome;
use crate::BATCH_SIZES;

type Points = Vec<(f32, f32)>;

fn color(norm: Norm) -> RGBColor {
    match norm {
        Norm::Batch => RGBColor(31, 119, 180),
        Norm::Group => RGBColor(214, 39, 40),
        Norm::Layer => RGBColor(44, 160, 44),
        Norm::None => RGBColor(110, 110, 110),
    }
}

fn x(batch_size: usize) -> f32 {
    (batch_size as f32).log2()
}

/// One line of the figure: its points in percent, and whether it is BN's training mode.
struct Line {
    norm: Norm,
    train_mode: bool,
    points: Points,
}

impl Line {
    fn label(&self) -> &'static str {
        match (self.norm, self.train_mode) {
            (Norm::Batch, true) => "BatchNorm (train mode, batch statistics)",
            (Norm::Batch, false) => "BatchNorm (eval mode)",
            (other, _) => other.label(),
        }
    }
}

fn lines(outcomes: &[Outcome]) -> Vec<Line> {
    let series = |norm: Norm, train_mode: bool| -> Points {
        outcomes
            .iter()
            .filter(|o| o.plan.norm == norm)
            .filter_map(|o| {
                let acc = if train_mode {
                    o.test_accuracy_train_mode?
                } else {
                    o.test_accuracy_eval
                };
                Some((x(o.plan.batch_size), acc * 100.0))
            })
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let mut all: Vec<Line> = Norm::ALL
        .iter()
        .map(|&norm| Line {
            norm,
            train_mode: false,
            points: series(norm, false),
        })
        .collect();
    all.push(Line {
        norm: Norm::Batch,
        train_mode: true,
        points: series(Norm::Batch, true),
    });
    all
}

pub fn accuracy_by_batch(
    path: &Path,
    outcomes: &[Outcome],
) -> Result<(), Box<dyn std::error::Error>> {
    let lines = lines(outcomes);
    let values = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let lowest = values().fold(100.0f32, f32::min);
    let highest = values().fold(0.0f32, f32::max);
    // A floor a little under the worst result, so that a collapsed run stays on the chart.
    let floor = (lowest - 1.0).clamp(0.0, 98.0).floor();
    let top = (highest + 0.5).ceil().clamp(4.0, 100.0);

    let root = SVGBackend::new(path, (1120, 470)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    panel(
        &left,
        &lines,
        "MNIST test accuracy against batch size",
        floor..100.0,
        true,
    )?;
    panel(
        &right,
        &lines,
        "the same, top 4 points (lower values cut off)",
        top - 4.0..top,
        false,
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    lines: &[Line],
    caption: &str,
    y: std::ops::Range<f32>,
    legend: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (first, last) = (BATCH_SIZES[0], BATCH_SIZES[BATCH_SIZES.len() - 1]);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(x(first) - 0.3..x(last) + 0.3, y.clone())?;
    chart
        .configure_mesh()
        .x_desc("batch size (log2 scale)")
        .y_desc("test accuracy (%)")
        .x_labels(BATCH_SIZES.len() + 1)
        .disable_x_mesh()
        .x_label_formatter(&|v| {
            let nearest = v.round();
            if (v - nearest).abs() < 1e-3 && nearest >= 0.0 {
                format!("{}", 2u64.pow(nearest as u32))
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| {
            if y.end - y.start > 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .draw()?;

    for line in lines {
        let c = color(line.norm);
        let style = c.stroke_width(2);
        let pieces = clip_below(&line.points, y.start);
        for (i, piece) in pieces.iter().enumerate() {
            let drawn = if line.train_mode {
                chart.draw_series(DashedLineSeries::new(piece.clone(), 8, 5, style))?
            } else {
                chart.draw_series(LineSeries::new(piece.clone(), style))?
            };
            if legend && i == 0 {
                let dashed = line.train_mode;
                drawn.label(line.label()).legend(move |(x, y)| {
                    let dash = if dashed { (7, 13) } else { (20, 0) };
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (dash.0, 0)], style)
                        + PathElement::new(vec![(dash.1, 0), (20, 0)], style)
                });
            }
        }
        let marks = line.points.iter().filter(|p| p.1 >= y.start);
        if line.train_mode {
            chart.draw_series(marks.map(|&p| Circle::new(p, 3, c.stroke_width(1))))?;
        } else {
            chart.draw_series(marks.map(|&p| Circle::new(p, 3, c.filled())))?;
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
    }
    Ok(())
}

/// The parts of a polyline at or above `floor`, each segment that crosses it cut where it
/// crosses, so that a zoomed panel shows a line leaving through the bottom rather than one
/// drawn outside the chart.
fn clip_below(points: &[(f32, f32)], floor: f32) -> Vec<Points> {
    let mut pieces = vec![Vec::new()];
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let cut = |t: f32| (x0 + (x1 - x0) * t, floor);
        let piece = pieces.last_mut().expect("never empty");
        match (y0 >= floor, y1 >= floor) {
            (true, true) => {
                if piece.is_empty() {
                    piece.push((x0, y0));
                }
                piece.push((x1, y1));
            }
            (true, false) => {
                if piece.is_empty() {
                    piece.push((x0, y0));
                }
                piece.push(cut((y0 - floor) / (y0 - y1)));
                pieces.push(Vec::new());
            }
            (false, true) => {
                piece.push(cut((floor - y0) / (y1 - y0)));
                piece.push((x1, y1));
            }
            (false, false) => {}
        }
    }
    pieces.retain(|p| p.len() >= 2);
    // A line with no segment still needs an entry for its legend.
    if pieces.is_empty() {
        pieces.push(Vec::new());
    }
    pieces
}
