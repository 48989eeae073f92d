//! The `report` command: Markdown table, one-paragraph text summary, SVG plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::files::{self, Event, LoadResult};
use crate::plot;
use crate::stats::{self, Sample, Summary};

/// Beyond this many client-side changes, they are left out of the event list.
const MAX_CLIENT_EVENTS: usize = 6;

/// What `report` was asked to do.
#[derive(Debug)]
pub struct ReportArgs {
    /// probe.csv.
    pub probe: Option<PathBuf>,
    /// events.csv files.
    pub events: Vec<PathBuf>,
    /// ab/wrk output.
    pub load: Option<PathBuf>,
    /// Scenario title.
    pub title: String,
    /// Markdown output, else stdout.
    pub out_md: Option<PathBuf>,
    /// SVG output.
    pub out_svg: Option<PathBuf>,
}

/// Run the report command.
pub fn run(a: ReportArgs) -> Result<()> {
    if a.probe.is_none() && a.load.is_none() {
        bail!("give --probe and/or --load");
    }
    let mut samples = match &a.probe {
        Some(p) => files::parse_probe_csv(&files::read(p)?)
            .with_context(|| format!("parsing {}", p.display()))?,
        None => Vec::new(),
    };
    samples.sort_by(|x, y| x.start_ms.total_cmp(&y.start_ms));
    let mut events = Vec::new();
    for e in &a.events {
        events.extend(
            files::parse_events_csv(&files::read(e)?)
                .with_context(|| format!("parsing {}", e.display()))?,
        );
    }
    events.sort_by(|x, y| x.at_ms.total_cmp(&y.at_ms));
    let load = match &a.load {
        Some(p) => Some(files::parse_load(&files::read(p)?)),
        None => None,
    };
    let summary = (!samples.is_empty()).then(|| stats::summarize(&samples));

    let svg_ref = match (&a.out_svg, a.probe.is_some()) {
        (Some(svg), true) => {
            plot::draw(svg, &a.title, &samples, &events)?;
            Some(relative_to(svg, a.out_md.as_deref()))
        }
        (Some(_), false) => bail!("--out-svg needs --probe"),
        _ => None,
    };
    let md = markdown(
        &a.title,
        summary.as_ref(),
        &samples,
        &events,
        load.as_ref(),
        svg_ref.as_deref(),
    );
    match &a.out_md {
        Some(p) => {
            std::fs::write(p, md).with_context(|| format!("writing {}", p.display()))?;
            if let Some(s) = &summary {
                println!("{}", text_summary(s, &samples, &events));
            }
        }
        None => print!("{md}"),
    }
    Ok(())
}

/// The SVG path as seen from the Markdown file (file name when side by side).
fn relative_to(svg: &Path, md: Option<&Path>) -> String {
    let same_dir = md.is_some_and(|m| {
        m.parent().unwrap_or(Path::new("")) == svg.parent().unwrap_or(Path::new(""))
    });
    match (same_dir, svg.file_name()) {
        (true, Some(n)) => n.to_string_lossy().into_owned(),
        _ => svg.display().to_string(),
    }
}

/// `HH:MM:SS.mmm` UTC of a Unix time in ms.
pub fn clock(ms: f64) -> String {
    let t = ms.max(0.0) as u64 % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    )
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} ms"))
}

fn outage_text(s: &Summary) -> String {
    match s.longest_outage {
        None => "none (no failed request)".into(),
        Some(o) => format!(
            "{:.0} ms ({} failed requests, {} to {} UTC)",
            o.duration_ms(),
            o.failed,
            clock(o.start_ms),
            clock(o.end_ms)
        ),
    }
}

fn failures_text(s: &Summary) -> String {
    if s.failures_by_kind.is_empty() {
        return String::new();
    }
    format!(" ({})", counts(&s.failures_by_kind))
}

/// Balancers and servers that answered before and after a split time.
fn served(samples: &[Sample], pred: impl Fn(&Sample) -> bool) -> String {
    let mut bal: BTreeMap<String, usize> = BTreeMap::new();
    let mut srv: BTreeMap<String, usize> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.ok() && pred(s)) {
        *bal.entry(s.balancer.clone()).or_insert(0) += 1;
        *srv.entry(s.server.clone()).or_insert(0) += 1;
    }
    if bal.is_empty() {
        return "nobody".into();
    }
    format!(
        "{} -> {}",
        bal.keys().cloned().collect::<Vec<_>>().join("+"),
        srv.keys().cloned().collect::<Vec<_>>().join(" ")
    )
}

/// Where "before" ends and "after" starts: the longest outage, else the
/// first non-client event, else the middle of the run.
fn split_point(s: &Summary, samples: &[Sample], events: &[Event]) -> (f64, f64) {
    if let Some(o) = s.longest_outage {
        return (o.start_ms, o.end_ms);
    }
    if let Some(e) = events.iter().find(|e| !e.label.starts_with("client:")) {
        return (e.at_ms, e.at_ms);
    }
    let mid = samples.get(samples.len() / 2).map_or(0.0, |s| s.start_ms);
    (mid, mid)
}

/// A few lines for a terminal.
pub fn text_summary(s: &Summary, samples: &[Sample], events: &[Event]) -> String {
    let (a, b) = split_point(s, samples, events);
    format!(
        "  requests: {} sent, {} answered, {} failed{}\n  before:   {}\n  after:    {}\n  outage:   {}",
        s.requests,
        s.ok,
        s.failed,
        failures_text(s),
        served(samples, |x| x.start_ms < a),
        served(samples, |x| x.start_ms >= b),
        outage_text(s),
    )
}

fn load_text(l: &LoadResult) -> String {
    let n = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    format!(
        "{} requests, {} req/s, {} failed, {} non-2xx, p50 {}, p99 {}",
        n(l.complete),
        l.req_per_s.map_or("-".into(), |v| format!("{v:.0}")),
        n(l.failed),
        n(l.non_2xx),
        ms(l.p50_ms),
        ms(l.p99_ms)
    )
}

/// The Markdown section for one scenario.
pub fn markdown(
    title: &str,
    summary: Option<&Summary>,
    samples: &[Sample],
    events: &[Event],
    load: Option<&LoadResult>,
    svg: Option<&str>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "### {title}\n");
    let _ = writeln!(md, "| measure | value |\n|---|---|");
    if let Some(s) = summary {
        let _ = writeln!(
            md,
            "| probe (new TCP connection per request) | {} requests over {:.1} s |",
            s.requests, s.span_s
        );
        let _ = writeln!(
            md,
            "| answered / failed | {} / {}{} |",
            s.ok,
            s.failed,
            failures_text(s)
        );
        let _ = writeln!(md, "| answered req/s | {:.1} |", s.ok_per_s);
        let _ = writeln!(
            md,
            "| latency p50 / p99 (answered) | {} / {} |",
            ms(s.p50_ms),
            ms(s.p99_ms)
        );
        let _ = writeln!(md, "| longest outage | {} |", outage_text(s));
        let _ = writeln!(
            md,
            "| largest gap between answers | {:.0} ms |",
            s.max_ok_gap_ms
        );
        let _ = writeln!(md, "| balancers (answers) | {} |", counts(&s.balancers));
        let _ = writeln!(md, "| servers (answers) | {} |", counts(&s.servers));
        let (a, b) = split_point(s, samples, events);
        let _ = writeln!(
            md,
            "| before / after | {} / {} |",
            served(samples, |x| x.start_ms < a),
            served(samples, |x| x.start_ms >= b)
        );
    }
    if let Some(l) = load {
        let _ = writeln!(md, "| load ({}) | {} |", l.tool, load_text(l));
    }
    if !events.is_empty() {
        let t0 = samples
            .first()
            .map_or(events[0].at_ms, |s| s.start_ms.min(events[0].at_ms));
        let _ = writeln!(md, "\nEvents (seconds since the probe started):\n");
        // A flapping client (answers mixed with failures) would bury the
        // fault and VRRP events: list its changes only when they are few.
        let client = events
            .iter()
            .filter(|e| e.label.starts_with("client:"))
            .count();
        for e in events {
            if client > MAX_CLIENT_EVENTS && e.label.starts_with("client:") {
                continue;
            }
            let _ = writeln!(
                md,
                "- `{:+7.3} s` {} ({} UTC)",
                (e.at_ms - t0) / 1000.0,
                e.label,
                clock(e.at_ms)
            );
        }
    }
    if events
        .iter()
        .filter(|e| e.label.starts_with("client:"))
        .count()
        > MAX_CLIENT_EVENTS
    {
        let _ = writeln!(
            md,
            "- (client-side changes not listed: the client flapped between answers and failures)"
        );
    }
    if let Some(svg) = svg {
        let _ = writeln!(md, "\n![{title}]({svg})");
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: f64, ok: bool, bal: &str, srv: &str) -> Sample {
        Sample {
            start_ms: start,
            latency_ms: if ok { 1.0 } else { 100.0 },
            result: if ok { "ok" } else { "connect_timeout" }.into(),
            balancer: if ok { bal.into() } else { String::new() },
            server: if ok { srv.into() } else { String::new() },
        }
    }

    #[test]
    fn clock_formats_utc() {
        // 2023-11-14T22:13:20.123Z
        assert_eq!(clock(1_700_000_000_123.0), "22:13:20.123");
    }

    #[test]
    fn summary_names_before_and_after() {
        let mut v = Vec::new();
        for i in 0..30 {
            v.push(sample(
                i as f64 * 10.0,
                true,
                "bal1",
                ["serv1", "serv2", "serv3"][i % 3],
            ));
        }
        for i in 30..60 {
            v.push(sample(i as f64 * 10.0, false, "", ""));
        }
        for i in 60..90 {
            v.push(sample(
                i as f64 * 10.0,
                true,
                "bal2",
                ["serv1", "serv2", "serv3"][i % 3],
            ));
        }
        let s = stats::summarize(&v);
        let t = text_summary(&s, &v, &[]);
        assert!(t.contains("before:   bal1 -> serv1 serv2 serv3"), "{t}");
        assert!(t.contains("after:    bal2 -> serv1 serv2 serv3"), "{t}");
        assert!(t.contains("outage:   300 ms (30 failed requests"), "{t}");
        let md = markdown("t", Some(&s), &v, &[], None, Some("p.svg"));
        assert!(md.contains("| longest outage | 300 ms"), "{md}");
        assert!(
            md.contains("| balancers (answers) | bal1 30, bal2 30 |"),
            "{md}"
        );
        assert!(md.contains("![t](p.svg)"));
    }

    #[test]
    fn svg_is_written() {
        let dir = std::env::temp_dir().join(format!("labtool-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("p.svg");
        let v: Vec<Sample> = (0..200)
            .map(|i| sample(i as f64 * 5.0, !(80..120).contains(&i), "bal1", "serv1"))
            .collect();
        let ev = vec![Event {
            at_ms: 400.0,
            label: "kill haproxy bal1".into(),
        }];
        plot::draw(&svg, "test", &v, &ev).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"));
        assert!(text.contains("kill haproxy bal1"));
        assert!(text.contains("answered by bal1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
