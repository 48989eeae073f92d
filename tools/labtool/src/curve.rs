//! The `curve` command: a line chart of measured series (e.g. CPU against
//! the number of instances, one line per daemon and role) from a CSV file
//! `series,x,y`, as SVG. The benchmark's scale run writes that file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;

/// One point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The series' name (legend).
    pub series: String,
    /// x value.
    pub x: f64,
    /// y value.
    pub y: f64,
}

/// Parse `series,x,y` lines (a header line starting with `series`, blank
/// lines and `#` comments are skipped). A series name may not hold a comma.
pub fn parse_csv(text: &str) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("series,") {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 3 {
            bail!(
                "line {}: expected series,x,y, got {} fields",
                i + 1,
                f.len()
            );
        }
        let num = |s: &str, what: &str| -> Result<f64> {
            let v: f64 = s
                .parse()
                .with_context(|| format!("line {}: bad {what} {s:?}", i + 1))?;
            if !v.is_finite() {
                bail!("line {}: {what} {s:?} is not finite", i + 1);
            }
            Ok(v)
        };
        out.push(Point {
            series: f[0].to_owned(),
            x: num(f[1], "x")?,
            y: num(f[2], "y")?,
        });
    }
    if out.is_empty() {
        bail!("no points");
    }
    Ok(out)
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

/// Draw every series of `points` (mean y per x when an x repeats) as a line
/// with its points, into an SVG file.
pub fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
) -> Result<()> {
    let mut series: BTreeMap<&str, BTreeMap<u64, (f64, f64, usize)>> = BTreeMap::new();
    for p in points {
        let e = series
            .entry(p.series.as_str())
            .or_default()
            .entry(p.x.to_bits())
            .or_insert((p.x, 0.0, 0));
        e.1 += p.y;
        e.2 += 1;
    }
    let lines: Vec<(&str, Vec<(f64, f64)>)> = series
        .into_iter()
        .map(|(name, by_x)| {
            let mut v: Vec<(f64, f64)> = by_x
                .into_values()
                .map(|(x, sum, n)| (x, sum / n as f64))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name, v)
        })
        .collect();
    let x_max = points.iter().map(|p| p.x).fold(0.0, f64::max) * 1.05;
    let y_max = points.iter().map(|p| p.y).fold(0.0, f64::max) * 1.15;
    let (x_max, y_max) = (x_max.max(1.0), y_max.max(0.1));
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(err)?;
    for (i, (name, pts)) in lines.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_and_refuses_bad_lines() {
        let p = parse_csv("series,x,y\n# scale\nvrrpd master,1000,1.5\n\nvrrpd master, 4000 ,5\n")
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].x, 4000.0);
        assert_eq!(p[1].series, "vrrpd master");
        assert!(parse_csv("a,1\n").is_err());
        assert!(parse_csv("a,1,x\n").is_err());
        assert!(parse_csv("a,1,inf\n").is_err());
        assert!(parse_csv("series,x,y\n").is_err());
    }

    #[test]
    fn draws_an_svg_with_every_series() {
        let dir = std::env::temp_dir().join(format!("labtool-curve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("c.svg");
        let pts = parse_csv("alpha,250,1\nalpha,1000,2\nalpha,1000,4\nbeta,250,0.5\nbeta,4000,3\n")
            .unwrap();
        draw(&svg, "t", "instances", "CPU %", &pts).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
        assert!(text.contains("alpha") && text.contains("beta"), "legend");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
