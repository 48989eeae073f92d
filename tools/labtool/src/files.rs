//! Reading and writing the lab's small text files: probe.csv, events.csv, ab/wrk output.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::stats::Sample;

/// Header line of probe.csv.
pub const PROBE_HEADER: &str = "start_unix_ms,latency_ms,result,balancer,server";

/// A marked moment: fault injection, VRRP transition, client-side change.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unix time in milliseconds.
    pub at_ms: f64,
    /// Short text.
    pub label: String,
}

/// Render samples as probe.csv.
pub fn probe_csv(samples: &[Sample]) -> String {
    let mut s = String::with_capacity(64 * samples.len() + 64);
    s.push_str(PROBE_HEADER);
    s.push('\n');
    for x in samples {
        let _ = writeln!(
            s,
            "{:.3},{:.3},{},{},{}",
            x.start_ms,
            x.latency_ms,
            clean(&x.result),
            clean(&x.balancer),
            clean(&x.server)
        );
    }
    s
}

/// CSV fields here never need quoting: commas and line breaks are replaced.
fn clean(s: &str) -> String {
    s.replace([',', '\n', '\r'], " ")
}

/// Parse probe.csv (header optional).
pub fn parse_probe_csv(text: &str) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with("start_unix_ms") || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            bail!("line {}: expected 5 fields, got {}", i + 1, f.len());
        }
        out.push(Sample {
            start_ms: f[0]
                .parse()
                .with_context(|| format!("line {}: start", i + 1))?,
            latency_ms: f[1]
                .parse()
                .with_context(|| format!("line {}: latency", i + 1))?,
            result: f[2].to_string(),
            balancer: f[3].to_string(),
            server: f[4].to_string(),
        });
    }
    Ok(out)
}

/// Parse events.csv: `time,label` per line; time in Unix ms (or seconds when
/// below 1e11, e.g. `date +%s.%N`). A header line is skipped.
pub fn parse_events_csv(text: &str) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((t, label)) = line.split_once(',') else {
            bail!("line {}: expected time,label", i + 1);
        };
        let Ok(t) = t.trim().parse::<f64>() else {
            if i == 0 {
                continue; // header
            }
            bail!("line {}: bad time '{t}'", i + 1);
        };
        let at_ms = if t < 1e11 { t * 1000.0 } else { t };
        out.push(Event {
            at_ms,
            label: label.trim().to_string(),
        });
    }
    out.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    Ok(out)
}

/// Render events as events.csv.
pub fn events_csv(events: &[Event]) -> String {
    let mut s = String::from("time_unix_ms,label\n");
    for e in events {
        let _ = writeln!(s, "{:.3},{}", e.at_ms, clean(&e.label));
    }
    s
}

/// Read a file into a string with the path in the error.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The headline numbers of an `ab` or `wrk` run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadResult {
    /// `ab` or `wrk`.
    pub tool: String,
    /// Requests completed.
    pub complete: Option<u64>,
    /// Requests per second.
    pub req_per_s: Option<f64>,
    /// Failed requests (ab: "Failed requests"; wrk: socket errors).
    pub failed: Option<u64>,
    /// Non-2xx answers.
    pub non_2xx: Option<u64>,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
}

/// Parse the text output of `ab` or `wrk --latency`.
pub fn parse_load(text: &str) -> LoadResult {
    let mut r = LoadResult {
        tool: if text.contains("Requests/sec:") {
            "wrk"
        } else {
            "ab"
        }
        .into(),
        ..Default::default()
    };
    let num = |s: &str| {
        s.split_whitespace()
            .next()
            .and_then(|w| w.parse::<f64>().ok())
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests per second:") {
            r.req_per_s = num(v);
        } else if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.req_per_s = num(v);
        } else if let Some(v) = t.strip_prefix("Complete requests:") {
            r.complete = num(v).map(|x| x as u64);
        } else if let Some(v) = t.strip_prefix("Failed requests:") {
            r.failed = num(v).map(|x| x as u64);
        } else if let Some(v) = t.strip_prefix("Non-2xx responses:") {
            r.non_2xx = num(v).map(|x| x as u64);
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = num(v).map(|x| x as u64);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            let sum: u64 = v
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            r.failed = Some(sum);
        } else if let Some((pct, rest)) = t.split_once('%') {
            let val = rest.split_whitespace().next().unwrap_or("");
            let ms = if r.tool == "wrk" {
                wrk_time_ms(val)
            } else {
                val.parse::<f64>().ok()
            };
            match pct.trim() {
                "50" | "50.000" => r.p50_ms = ms.or(r.p50_ms),
                "99" | "99.000" => r.p99_ms = ms.or(r.p99_ms),
                _ => {}
            }
        }
        if r.tool == "wrk" && t.contains(" requests in ") {
            r.complete = num(t).map(|x| x as u64);
        }
    }
    r
}

/// wrk prints latencies as `1.23ms`, `450.00us`, `1.02s`.
fn wrk_time_ms(s: &str) -> Option<f64> {
    if let Some(v) = s.strip_suffix("us") {
        v.parse::<f64>().ok().map(|x| x / 1000.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse().ok()
    } else if let Some(v) = s.strip_suffix('s') {
        v.parse::<f64>().ok().map(|x| x * 1000.0)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_csv_round_trip() {
        let v = vec![
            Sample {
                start_ms: 1_700_000_000_123.5,
                latency_ms: 1.25,
                result: "ok".into(),
                balancer: "bal1".into(),
                server: "serv2".into(),
            },
            Sample {
                start_ms: 1_700_000_000_128.5,
                latency_ms: 100.0,
                result: "connect_timeout".into(),
                balancer: String::new(),
                server: String::new(),
            },
        ];
        assert_eq!(parse_probe_csv(&probe_csv(&v)).unwrap(), v);
        assert!(parse_probe_csv("1,2,ok\n").is_err());
    }

    #[test]
    fn events_seconds_or_ms() {
        let e = parse_events_csv(
            "time,label\n1700000001.5,kill haproxy bal1\n1700000000250,bal2 MASTER\n",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].at_ms, 1_700_000_000_250.0);
        assert_eq!(e[1].label, "kill haproxy bal1");
        assert_eq!(e[1].at_ms, 1_700_000_001_500.0);
        assert!(parse_events_csv("a,b\nnope,c\n").is_err());
    }

    #[test]
    fn ab_output() {
        let t = "Complete requests:      1000\nFailed requests:        3\nNon-2xx responses:      7\n\
                 Requests per second:    2345.67 [#/sec] (mean)\n  50%      2\n  66%      3\n  99%     14\n 100%     20 (longest request)\n";
        let r = parse_load(t);
        assert_eq!(r.tool, "ab");
        assert_eq!(r.complete, Some(1000));
        assert_eq!(r.failed, Some(3));
        assert_eq!(r.non_2xx, Some(7));
        assert_eq!(r.req_per_s, Some(2345.67));
        assert_eq!(r.p50_ms, Some(2.0));
        assert_eq!(r.p99_ms, Some(14.0));
    }

    #[test]
    fn wrk_output() {
        let t = "  Latency Distribution\n     50%  450.00us\n     99%    1.50ms\n  12345 requests in 5.00s, 2.00MB read\n\
                 Socket errors: connect 1, read 2, write 0, timeout 3\nRequests/sec:   2469.00\n";
        let r = parse_load(t);
        assert_eq!(r.tool, "wrk");
        assert_eq!(r.complete, Some(12345));
        assert_eq!(r.failed, Some(6));
        assert_eq!(r.p50_ms, Some(0.45));
        assert_eq!(r.p99_ms, Some(1.5));
        assert_eq!(r.req_per_s, Some(2469.0));
    }
}
