//! Statistics over probe samples: percentiles, outages, who served, time buckets.

use std::collections::BTreeMap;

/// One probe request, as recorded in probe.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When the request started (connect call), Unix time in milliseconds.
    pub start_ms: f64,
    /// Time until the response was complete or the request failed, ms.
    pub latency_ms: f64,
    /// `ok`, `http_<status>` or an error kind (`connect_timeout`, `refused`, ...).
    pub result: String,
    /// The `X-Balancer` header, empty when none.
    pub balancer: String,
    /// The `server=` value from the body, empty when none.
    pub server: String,
}

impl Sample {
    /// A 2xx answer counts as success; anything else (errors, 503 sorry page) as failure.
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of an ascending slice.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    // Nearest rank: the smallest value with at least p% of values <= it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A run of failed requests, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// Start of the first failed request of the run (Unix ms).
    pub start_ms: f64,
    /// Start of the first successful request after the run; when the probe
    /// ended in failure, the end of the last failed request.
    pub end_ms: f64,
    /// Failed requests in the run.
    pub failed: usize,
}

impl Outage {
    /// Length in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

/// Every maximal run of consecutive failed requests (samples sorted by start).
pub fn outages(samples: &[Sample]) -> Vec<Outage> {
    let mut out = Vec::new();
    let mut cur: Option<Outage> = None;
    for s in samples {
        if s.ok() {
            if let Some(mut o) = cur.take() {
                o.end_ms = s.start_ms;
                out.push(o);
            }
        } else {
            let end = s.start_ms + s.latency_ms;
            match cur.as_mut() {
                Some(o) => {
                    o.failed += 1;
                    o.end_ms = o.end_ms.max(end);
                }
                None => {
                    cur = Some(Outage {
                        start_ms: s.start_ms,
                        end_ms: end,
                        failed: 1,
                    })
                }
            }
        }
    }
    out.extend(cur);
    out
}

/// The longest run of failed requests, if any request failed.
pub fn longest_outage(samples: &[Sample]) -> Option<Outage> {
    outages(samples)
        .into_iter()
        .max_by(|a, b| a.duration_ms().total_cmp(&b.duration_ms()))
}

/// Largest time between the starts of two consecutive successful requests
/// (catches stalls even when nothing "failed"); 0 with fewer than 2 successes.
pub fn max_ok_gap_ms(samples: &[Sample]) -> f64 {
    let oks: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok())
        .map(|s| s.start_ms)
        .collect();
    oks.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// Everything the report shows for one probe run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Requests sent.
    pub requests: usize,
    /// Successful (2xx) requests.
    pub ok: usize,
    /// Failed requests (`requests - ok`).
    pub failed: usize,
    /// Failed requests by result kind.
    pub failures_by_kind: BTreeMap<String, usize>,
    /// Probe span: first start to last completion, seconds.
    pub span_s: f64,
    /// Successful requests per second over the span.
    pub ok_per_s: f64,
    /// Median latency of successful requests, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of successful requests, ms.
    pub p99_ms: Option<f64>,
    /// Longest run of failures.
    pub longest_outage: Option<Outage>,
    /// Largest gap between successes, ms.
    pub max_ok_gap_ms: f64,
    /// Answers (any status) per balancer.
    pub balancers: BTreeMap<String, usize>,
    /// Answers (any status) per server.
    pub servers: BTreeMap<String, usize>,
}

/// Summarise samples (any order; they are sorted by start time here).
pub fn summarize(samples: &[Sample]) -> Summary {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let ok = v.iter().filter(|s| s.ok()).count();
    let mut failures_by_kind = BTreeMap::new();
    for s in v.iter().filter(|s| !s.ok()) {
        *failures_by_kind.entry(s.result.clone()).or_insert(0) += 1;
    }
    let mut lat: Vec<f64> = v.iter().filter(|s| s.ok()).map(|s| s.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let span_s = match (
        v.first(),
        v.iter().map(|s| s.start_ms + s.latency_ms).reduce(f64::max),
    ) {
        (Some(first), Some(end)) => ((end - first.start_ms) / 1000.0).max(0.0),
        _ => 0.0,
    };
    let mut balancers = BTreeMap::new();
    let mut servers = BTreeMap::new();
    for s in &v {
        if !s.balancer.is_empty() {
            *balancers.entry(s.balancer.clone()).or_insert(0) += 1;
        }
        if !s.server.is_empty() {
            *servers.entry(s.server.clone()).or_insert(0) += 1;
        }
    }
    Summary {
        requests: v.len(),
        ok,
        failed: v.len() - ok,
        failures_by_kind,
        span_s,
        ok_per_s: if span_s > 0.0 {
            ok as f64 / span_s
        } else {
            0.0
        },
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        longest_outage: longest_outage(&v),
        max_ok_gap_ms: max_ok_gap_ms(&v),
        balancers,
        servers,
    }
}

/// A change in what the client sees: first failure, recovery, new balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEvent {
    /// Start of the request that showed the change (Unix ms).
    pub at_ms: f64,
    /// What changed.
    pub label: String,
}

/// Client-side transitions, in order (samples sorted by start).
pub fn client_events(samples: &[Sample]) -> Vec<ClientEvent> {
    let mut out = Vec::new();
    let mut failing = false;
    let mut last_bal = String::new();
    for s in samples {
        if s.ok() {
            if failing {
                failing = false;
                out.push(ClientEvent {
                    at_ms: s.start_ms,
                    label: format!("client: answers again ({})", s.balancer),
                });
            }
            if s.balancer != last_bal {
                if !last_bal.is_empty() {
                    out.push(ClientEvent {
                        at_ms: s.start_ms,
                        label: format!("client: served by {} (was {last_bal})", s.balancer),
                    });
                }
                last_bal = s.balancer.clone();
            }
        } else if !failing {
            failing = true;
            out.push(ClientEvent {
                at_ms: s.start_ms,
                label: format!("client: failing ({})", s.result),
            });
        }
    }
    out
}

/// Per-interval counts for the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Bucket start, seconds since `t0`.
    pub t_s: f64,
    /// Successful requests started in the bucket.
    pub ok: usize,
    /// Failed requests started in the bucket.
    pub failed: usize,
}

/// Group samples by start time into buckets of `width_ms`, from `t0_ms`.
pub fn buckets(samples: &[Sample], t0_ms: f64, width_ms: f64) -> Vec<Bucket> {
    if samples.is_empty() || width_ms <= 0.0 {
        return Vec::new();
    }
    let last = samples.iter().map(|s| s.start_ms).fold(t0_ms, f64::max);
    let n = ((last - t0_ms) / width_ms).floor() as usize + 1;
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            t_s: i as f64 * width_ms / 1000.0,
            ok: 0,
            failed: 0,
        })
        .collect();
    for s in samples {
        let i = ((s.start_ms - t0_ms) / width_ms).floor();
        if i < 0.0 {
            continue;
        }
        if let Some(b) = out.get_mut(i as usize) {
            if s.ok() {
                b.ok += 1;
            } else {
                b.failed += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(start: f64, lat: f64, result: &str, bal: &str) -> Sample {
        Sample {
            start_ms: start,
            latency_ms: lat,
            result: result.into(),
            balancer: bal.into(),
            server: if result == "ok" {
                "serv1".into()
            } else {
                String::new()
            },
        }
    }

    /// Requests every 10 ms from t=0 for `n` requests; those whose index is
    /// in `fail` fail with a connect timeout (100 ms).
    fn series(n: usize, fail: std::ops::Range<usize>, bal_after: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let bal = if i < bal_after { "bal1" } else { "bal2" };
                if fail.contains(&i) {
                    s(i as f64 * 10.0, 100.0, "connect_timeout", "")
                } else {
                    s(i as f64 * 10.0, 1.0, "ok", bal)
                }
            })
            .collect()
    }

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn no_failure_no_outage() {
        let v = series(50, 0..0, 50);
        assert!(outages(&v).is_empty());
        assert_eq!(longest_outage(&v), None);
        assert_eq!(max_ok_gap_ms(&v), 10.0);
    }

    #[test]
    fn outage_spans_first_failure_to_next_success() {
        // Requests 20..=49 fail: from t=200 to the success at t=500.
        let v = series(100, 20..50, 50);
        let o = longest_outage(&v).unwrap();
        assert_eq!(o.failed, 30);
        assert_eq!(o.start_ms, 200.0);
        assert_eq!(o.end_ms, 500.0);
        assert_eq!(o.duration_ms(), 300.0);
        assert_eq!(max_ok_gap_ms(&v), 310.0);
    }

    #[test]
    fn longest_of_several_outages() {
        let mut v = series(100, 10..13, 100);
        for x in &mut v[60..80] {
            x.result = "refused".into();
            x.latency_ms = 0.5;
        }
        let all = outages(&v);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].duration_ms(), 30.0);
        let o = longest_outage(&v).unwrap();
        assert_eq!((o.start_ms, o.end_ms, o.failed), (600.0, 800.0, 20));
    }

    #[test]
    fn outage_at_the_end_uses_last_completion() {
        let v = series(10, 7..10, 10);
        let o = longest_outage(&v).unwrap();
        // Last failure starts at 90 and times out 100 ms later.
        assert_eq!((o.start_ms, o.end_ms, o.failed), (70.0, 190.0, 3));
    }

    #[test]
    fn summary_counts_and_rates() {
        let v = series(100, 20..50, 60);
        let sum = summarize(&v);
        assert_eq!(sum.requests, 100);
        assert_eq!(sum.ok, 70);
        assert_eq!(sum.failed, 30);
        assert_eq!(sum.failures_by_kind.get("connect_timeout"), Some(&30));
        // Last request starts at 990 and takes 1 ms: span 0.991 s.
        assert!((sum.span_s - 0.991).abs() < 1e-9);
        assert!((sum.ok_per_s - 70.0 / 0.991).abs() < 1e-9);
        assert_eq!(sum.p50_ms, Some(1.0));
        assert_eq!(sum.balancers.get("bal1"), Some(&30));
        assert_eq!(sum.balancers.get("bal2"), Some(&40));
        assert_eq!(sum.servers.get("serv1"), Some(&70));
        assert_eq!(sum.longest_outage.unwrap().duration_ms(), 300.0);
    }

    #[test]
    fn summary_sorts_its_input() {
        let mut v = series(100, 20..50, 60);
        v.reverse();
        assert_eq!(summarize(&v).longest_outage.unwrap().duration_ms(), 300.0);
    }

    #[test]
    fn client_events_show_failover() {
        let v = series(100, 20..50, 50);
        let e = client_events(&v);
        let labels: Vec<&str> = e.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "client: failing (connect_timeout)",
                "client: answers again (bal2)",
                "client: served by bal2 (was bal1)"
            ]
        );
        assert_eq!(e[0].at_ms, 200.0);
        assert_eq!(e[1].at_ms, 500.0);
    }

    #[test]
    fn buckets_split_ok_and_failed() {
        let v = series(100, 20..50, 50);
        let b = buckets(&v, 0.0, 100.0);
        assert_eq!(b.len(), 10);
        assert_eq!((b[0].ok, b[0].failed), (10, 0));
        assert_eq!((b[2].ok, b[2].failed), (0, 10));
        assert_eq!((b[4].ok, b[4].failed), (0, 10));
        assert_eq!((b[5].ok, b[5].failed), (10, 0));
        assert_eq!(b[3].t_s, 0.3);
    }
}
