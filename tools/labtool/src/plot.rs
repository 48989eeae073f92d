//! The failover picture: requests/s and latency over time, events as vertical lines.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::files::Event;
use crate::stats::{buckets, Sample};

/// Width of a throughput bucket, ms.
const BUCKET_MS: f64 = 100.0;

fn balancer_color(name: &str) -> RGBColor {
    match name {
        "bal1" => RGBColor(31, 119, 180),
        "bal2" => RGBColor(255, 127, 14),
        "bal3" => RGBColor(148, 103, 189),
        _ => RGBColor(90, 90, 90),
    }
}

const OK_GREEN: RGBColor = RGBColor(44, 160, 44);
const ERR_RED: RGBColor = RGBColor(214, 39, 40);
const EVENT_GREY: RGBColor = RGBColor(60, 60, 60);

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

/// Draw `samples` (sorted by start) and `events` into an SVG file.
pub fn draw(path: &Path, title: &str, samples: &[Sample], events: &[Event]) -> Result<()> {
    let t0 = samples
        .iter()
        .map(|s| s.start_ms)
        .chain(events.iter().map(|e| e.at_ms))
        .fold(f64::INFINITY, f64::min);
    let t0 = if t0.is_finite() { t0 } else { 0.0 };
    let xs = |ms: f64| (ms - t0) / 1000.0;
    let x_max = samples
        .iter()
        .map(|s| xs(s.start_ms + s.latency_ms))
        .chain(events.iter().map(|e| xs(e.at_ms)))
        .fold(1.0, f64::max)
        * 1.02;

    let root = SVGBackend::new(path, (1200, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(title, ("sans-serif", 22).into_font().color(&BLACK))
        .map_err(err)?;
    let (upper, lower) = root.split_vertically(330);

    // Upper: successful and failed requests per second.
    let mut b = buckets(samples, t0, BUCKET_MS);
    // The last bucket is cut short by the end of the probe: leave it out.
    if b.len() > 1 {
        b.pop();
    }
    let per_s = 1000.0 / BUCKET_MS;
    let y_max = b
        .iter()
        .map(|b| (b.ok.max(b.failed)) as f64 * per_s)
        .fold(10.0, f64::max)
        * 1.35;
    let mut top = ChartBuilder::on(&upper)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(60)
        .caption(
            "client requests per second (100 ms buckets): answered vs failed",
            ("sans-serif", 15),
        )
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    top.configure_mesh()
        .y_desc("requests/s")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_label_formatter(&|x| format!("{x:.0}s"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let center = BUCKET_MS / 2000.0;
    top.draw_series(LineSeries::new(
        b.iter().map(|b| (b.t_s + center, b.ok as f64 * per_s)),
        OK_GREEN.stroke_width(2),
    ))
    .map_err(err)?
    .label("answered (2xx)")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], OK_GREEN.stroke_width(2)));
    top.draw_series(LineSeries::new(
        b.iter().map(|b| (b.t_s + center, b.failed as f64 * per_s)),
        ERR_RED.stroke_width(2),
    ))
    .map_err(err)?
    .label("failed (error, timeout, non-2xx)")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ERR_RED.stroke_width(2)));
    draw_events(&mut top, events, &xs, y_max, false)?;
    top.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;

    // Lower: latency of every request (log scale), coloured by balancer.
    let mut bottom = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(60)
        .caption(
            "latency of each request (log scale), colour = balancer that answered, red x = failed",
            ("sans-serif", 15),
        )
        .build_cartesian_2d(0f64..x_max, (0.05f64..2000f64).log_scale())
        .map_err(err)?;
    bottom
        .configure_mesh()
        .y_desc("latency ms")
        .x_desc("seconds since probe start")
        .x_label_formatter(&|x| format!("{x:.0}s"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()
        .map_err(err)?;
    let mut bals: Vec<&str> = samples
        .iter()
        .filter(|s| s.ok())
        .map(|s| s.balancer.as_str())
        .collect();
    bals.sort_unstable();
    bals.dedup();
    for bal in bals {
        let c = balancer_color(bal);
        let name = if bal.is_empty() {
            "(no X-Balancer)"
        } else {
            bal
        };
        bottom
            .draw_series(
                samples
                    .iter()
                    .filter(|s| s.ok() && s.balancer == bal)
                    .map(|s| Circle::new((xs(s.start_ms), s.latency_ms.max(0.05)), 2, c.filled())),
            )
            .map_err(err)?
            .label(format!("answered by {name}"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    if samples.iter().any(|s| !s.ok()) {
        bottom
            .draw_series(
                samples
                    .iter()
                    .filter(|s| !s.ok())
                    .map(|s| Cross::new((xs(s.start_ms), s.latency_ms.max(0.05)), 3, ERR_RED)),
            )
            .map_err(err)?
            .label("failed")
            .legend(|(x, y)| Cross::new((x + 10, y), 4, ERR_RED));
    }
    draw_events(&mut bottom, events, &xs, 2000.0, true)?;
    bottom
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Dashed vertical lines at each event. On the linear (upper) chart the
/// labels too, staggered so that neighbours do not overlap.
fn draw_events<Y>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    events: &[Event],
    xs: &dyn Fn(f64) -> f64,
    y_top: f64,
    log: bool,
) -> Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    let y_bottom = chart.y_range().start;
    // Client-side changes help when there are few; a flapping client (e.g.
    // some answers during a degradation) would only draw a red fence.
    let client = events
        .iter()
        .filter(|e| e.label.starts_with("client:"))
        .count();
    let mut i = 0;
    for e in events {
        if client > 6 && e.label.starts_with("client:") {
            continue;
        }
        let x = xs(e.at_ms);
        let style = if e.label.starts_with("client:") {
            ERR_RED.mix(0.5).stroke_width(1)
        } else {
            EVENT_GREY.stroke_width(1)
        };
        // A dashed line: 20 short segments, spaced evenly on the axis.
        let n = 40;
        let at = |k: usize| {
            let f = k as f64 / n as f64;
            if log {
                y_bottom * (y_top / y_bottom).powf(f)
            } else {
                y_bottom + (y_top - y_bottom) * f
            }
        };
        let segs: Vec<_> = (0..n)
            .step_by(2)
            .map(|k| PathElement::new(vec![(x, at(k)), (x, at(k + 1))], style))
            .collect();
        chart.draw_series(segs).map_err(err)?;
        // Client-side changes are already visible in the data: no label.
        if !log && !e.label.starts_with("client:") {
            let y = y_top * (0.97 - 0.075 * (i % 4) as f64);
            i += 1;
            let font = ("sans-serif", 12).into_font().color(&EVENT_GREY);
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(" {}", e.label),
                    (x, y),
                    font,
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}
