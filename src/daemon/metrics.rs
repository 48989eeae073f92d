//! Prometheus metrics on `GET /metrics` (`global.metrics_listen`).
//!
//! Each scrape asks the event loop for a [`Status`] snapshot over a channel
//! (as the control socket does), renders it into a fresh prometheus-client
//! registry, and answers with the OpenMetrics text. The HTTP side is a
//! minimal HTTP/1.0 responder: one request per connection, no keep-alive.
//!
//! Metric names and labels are a stable interface (docs/OPERATIONS.md lists
//! them): add metrics, never rename or remove one. The instance label is
//! `vrrp_instance`, not `instance`, which Prometheus reserves for the target.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::status::Status;

/// A scrape asks the event loop for a snapshot with this.
pub type SnapshotRequest = oneshot::Sender<Status>;

/// The states an instance can be in, as the `state` label spells them.
pub const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// The content type of the OpenMetrics text prometheus-client writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Render a snapshot as OpenMetrics text.
pub fn render(s: &Status) -> String {
    let mut reg = Registry::with_prefix("vrrpd");

    let build = Family::<Labels, Gauge>::default();
    build
        .get_or_create(&labels(&[("version", &s.version)]))
        .set(1);
    reg.register("build_info", "vrrpd version (always 1)", build.clone());

    let info = Family::<Labels, Gauge>::default();
    let state = Family::<Labels, Gauge>::default();
    let priority = Family::<Labels, Gauge>::default();
    let effective = Family::<Labels, Gauge>::default();
    let maintenance = Family::<Labels, Gauge>::default();
    let last_transition = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let transitions = Family::<Labels, Counter>::default();
    let master_transitions = Family::<Labels, Counter>::default();
    let sent = Family::<Labels, Counter>::default();
    let received = Family::<Labels, Counter>::default();
    let zero_sent = Family::<Labels, Counter>::default();
    let zero_received = Family::<Labels, Counter>::default();
    let keeper = Family::<Labels, Counter>::default();
    let keeper_turns = Family::<Labels, Counter>::default();
    let inst_drops = Family::<Labels, Counter>::default();
    let auth_accepted = Family::<Labels, Counter>::default();
    let auth_info = Family::<Labels, Gauge>::default();
    let tracker_up = Family::<Labels, Gauge>::default();
    let tracker_effect = Family::<Labels, Gauge>::default();
    let drops = Family::<Labels, Counter>::default();

    for i in &s.instances {
        let name = i.name.as_str();
        let me = labels(&[("vrrp_instance", name)]);
        let vrid = i.vrid.to_string();
        let version = i.version.to_string();
        info.get_or_create(&labels(&[
            ("vrrp_instance", name),
            ("interface", &i.interface),
            ("vrid", &vrid),
            ("version", &version),
        ]))
        .set(1);
        for st in STATES {
            state
                .get_or_create(&labels(&[("vrrp_instance", name), ("state", st)]))
                .set(i64::from(i.state == st));
        }
        priority.get_or_create(&me).set(i64::from(i.priority));
        effective
            .get_or_create(&me)
            .set(i64::from(i.effective_priority));
        maintenance.get_or_create(&me).set(i64::from(i.maintenance));
        if let Some(t) = &i.last_transition {
            last_transition
                .get_or_create(&me)
                .set(t.at_unix_ms as f64 / 1000.0);
        }
        let c = &i.counters;
        transitions.get_or_create(&me).inc_by(c.transitions);
        master_transitions
            .get_or_create(&me)
            .inc_by(c.master_transitions);
        sent.get_or_create(&me).inc_by(c.adverts_sent);
        received.get_or_create(&me).inc_by(c.adverts_received);
        zero_sent.get_or_create(&me).inc_by(c.priority_zero_sent);
        zero_received
            .get_or_create(&me)
            .inc_by(c.priority_zero_received);
        keeper.get_or_create(&me).inc_by(c.keeper_adverts);
        keeper_turns.get_or_create(&me).inc_by(c.keeper_turns);
        if let Some(a) = &i.auth_hmac {
            auth_info
                .get_or_create(&labels(&[
                    ("vrrp_instance", name),
                    ("mode", &a.mode),
                    ("active_key", &a.active_key.to_string()),
                ]))
                .set(1);
            for (trailer, n) in [
                ("signed", c.auth_signed_received),
                ("unsigned", c.auth_unsigned_received),
            ] {
                auth_accepted
                    .get_or_create(&labels(&[("vrrp_instance", name), ("trailer", trailer)]))
                    .inc_by(n);
            }
        }
        for (reason, n) in &c.drops {
            inst_drops
                .get_or_create(&labels(&[("vrrp_instance", name), ("reason", reason)]))
                .inc_by(*n);
        }
        for t in &i.trackers {
            let l = labels(&[("vrrp_instance", name), ("tracker", &t.name)]);
            tracker_up.get_or_create(&l).set(i64::from(!t.failed));
            tracker_effect
                .get_or_create(&l)
                .set(i64::from(t.priority_effect));
        }
    }
    for (reason, n) in &s.drops {
        drops
            .get_or_create(&labels(&[("reason", reason)]))
            .inc_by(*n);
    }

    reg.register(
        "instance_info",
        "Configured instance: interface, VRID and VRRP version (always 1)",
        info,
    );
    reg.register(
        "instance_state",
        "1 for the instance's current state (INIT, BACKUP, MASTER, FAULT), 0 for the others",
        state,
    );
    reg.register("instance_priority", "Configured priority", priority);
    reg.register(
        "instance_effective_priority",
        "Priority after tracker weights",
        effective,
    );
    reg.register(
        "instance_maintenance",
        "1 while held in maintenance by an operator",
        maintenance,
    );
    reg.register_with_unit(
        "instance_last_transition_timestamp",
        "Time of the last state change, seconds since the Unix epoch",
        Unit::Seconds,
        last_transition,
    );
    reg.register("instance_transitions", "State changes", transitions);
    reg.register(
        "instance_master_transitions",
        "State changes into MASTER",
        master_transitions,
    );
    reg.register(
        "instance_adverts_sent",
        "Advertisements sent, by the event loop and the advert keeper (priority 0 included)",
        sent,
    );
    reg.register(
        "instance_adverts_received",
        "Advertisements accepted",
        received,
    );
    reg.register(
        "instance_priority_zero_sent",
        "Priority-0 (resignation) advertisements sent",
        zero_sent,
    );
    reg.register(
        "instance_priority_zero_received",
        "Priority-0 (resignation) advertisements received",
        zero_received,
    );
    reg.register(
        "instance_keeper_adverts",
        "Adverts the advert keeper sent while the event loop was late",
        keeper,
    );
    reg.register(
        "instance_keeper_turns",
        "Adverts the advert keeper sent in its turn (every other advert; in adverts_sent too)",
        keeper_turns,
    );
    reg.register(
        "instance_drops",
        "Advertisements this instance refused, by reason",
        inst_drops,
    );
    reg.register(
        "instance_auth_hmac_info",
        "auth_hmac in force: mode and the key id signed with (always 1; absent without auth_hmac)",
        auth_info,
    );
    reg.register(
        "instance_auth_adverts_received",
        "Advertisements accepted by an instance with auth_hmac, by trailer: signed (valid trailer) or unsigned (receive-only / permissive mode)",
        auth_accepted,
    );
    reg.register(
        "tracker_up",
        "1 while the tracker is healthy, 0 while it is failed (per instance using it)",
        tracker_up,
    );
    reg.register(
        "tracker_priority_effect",
        "What the tracker adds to the instance's priority now",
        tracker_effect,
    );
    reg.register(
        "drops",
        "Packets dropped before they reached an instance, by reason",
        drops,
    );

    // VIP leases (docs/BGP.md).
    let leases_held = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    leases_held.set(i64::try_from(s.leases.held).unwrap_or(i64::MAX));
    reg.register(
        "leases_held",
        "VIP addresses held with a lease (global.vip_lease)",
        leases_held,
    );
    let lease_renewals = Counter::<u64>::default();
    lease_renewals.inc_by(s.leases.renewals);
    reg.register(
        "lease_renewals",
        "VIP lease renewals sent (one per address)",
        lease_renewals,
    );
    let lease_failures = Counter::<u64>::default();
    lease_failures.inc_by(s.leases.renewal_failures);
    reg.register(
        "lease_renewal_failures",
        "VIP lease renewals the kernel refused or that could not be sent",
        lease_failures,
    );

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// Bind `addr` and serve scrapes on a task until the process ends.
/// Returns the task and the address bound (port 0 picks a free one).
pub(super) async fn serve(
    addr: SocketAddr,
    tx: mpsc::Sender<SnapshotRequest>,
) -> std::io::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let r = tokio::time::timeout(Duration::from_secs(10), answer(stream, tx)).await;
                if !matches!(r, Ok(Ok(()))) {
                    debug!(peer = %peer, "metrics: request failed or timed out");
                }
            });
        }
    });
    Ok((task, bound))
}

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    Index,
    NotFound,
    BadMethod,
    BadRequest,
}

fn route(head: &str) -> Route {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Route::BadRequest;
    };
    if method != "GET" && method != "HEAD" {
        return Route::BadMethod;
    }
    // The query string (Prometheus sends none, some tools do) is ignored.
    match target.split('?').next().unwrap_or("") {
        "/metrics" => Route::Metrics,
        "/" => Route::Index,
        _ => Route::NotFound,
    }
}

async fn answer(mut stream: TcpStream, tx: mpsc::Sender<SnapshotRequest>) -> std::io::Result<()> {
    // Read the request head (up to the blank line, at most 8 KiB).
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 8192 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let is_head = head.starts_with("HEAD ");
    let (status, ctype, body) = match route(&head) {
        Route::Metrics => {
            let (otx, orx) = oneshot::channel();
            let snapshot = match tx.send(otx).await {
                Ok(()) => orx.await.ok(),
                Err(_) => None,
            };
            match snapshot {
                Some(s) => ("200 OK", CONTENT_TYPE, render(&s)),
                None => (
                    "503 Service Unavailable",
                    "text/plain",
                    "vrrpd is stopping\n".into(),
                ),
            }
        }
        Route::Index => (
            "200 OK",
            "text/plain",
            "vrrpd: metrics are at /metrics\n".into(),
        ),
        Route::NotFound => ("404 Not Found", "text/plain", "not found\n".into()),
        Route::BadMethod => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".into()),
    };
    let mut resp = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !is_head {
        resp.push_str(&body);
    }
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{Counters, InstanceStatus, TrackerStatus, Transition};
    use std::collections::BTreeMap;

    fn snapshot(state: &str, sent: u64) -> Status {
        Status {
            version: "0.1.0".into(),
            pid: 1,
            config: "/etc/vrrpd/vrrp.toml".into(),
            drops: BTreeMap::from([("ttl".to_owned(), 3)]),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "ext0".into(),
                vrid: 12,
                version: 3,
                state: state.into(),
                priority: 150,
                effective_priority: 50,
                master: None,
                primary_ip: "172.16.1.250".into(),
                vips: vec!["172.16.1.254/24".into()],
                advert_interval_ms: 1000,
                master_adver_interval_ms: 1000,
                maintenance: false,
                last_transition: Some(Transition {
                    at_unix_ms: 1_795_000_000_500,
                    from: "BACKUP".into(),
                    to: state.into(),
                    reason: "x".into(),
                }),
                last_master_seen: None,
                auth_hmac: Some(crate::daemon::status::AuthHmacStatus {
                    mode: "permissive".into(),
                    active_key: 2,
                    key_ids: vec![1, 2],
                    anti_replay: "time".into(),
                    time_window_secs: Some(5),
                    last_seq_sent: None,
                }),
                allowed_sources: vec![],
                trackers: vec![TrackerStatus {
                    name: "haproxy".into(),
                    failed: true,
                    state: "DOWN".into(),
                    detail: String::new(),
                    weight: -100,
                    priority_effect: -100,
                }],
                counters: Counters {
                    adverts_sent: sent,
                    adverts_received: 7,
                    transitions: 2,
                    master_transitions: 1,
                    drops: BTreeMap::from([("auth".to_owned(), 4), ("auth_bad_tag".to_owned(), 6)]),
                    auth_signed_received: 5,
                    auth_unsigned_received: 2,
                    ..Counters::default()
                },
                announce: "garp".into(),
                active_active: false,
            }],
            leases: Default::default(),
        }
    }

    /// The value of the sample line that starts with `prefix` (name and labels).
    fn value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn renders_every_metric_from_the_snapshot() {
        let t = render(&snapshot("MASTER", 120));
        let v = |p: &str| value(&t, p).unwrap_or_else(|| panic!("no {p} in\n{t}"));
        assert_eq!(
            v("vrrpd_instance_state{vrrp_instance=\"VI_1\",state=\"MASTER\"}"),
            1.0
        );
        assert_eq!(
            v("vrrpd_instance_state{vrrp_instance=\"VI_1\",state=\"BACKUP\"}"),
            0.0
        );
        assert_eq!(v("vrrpd_instance_priority{vrrp_instance=\"VI_1\"}"), 150.0);
        assert_eq!(
            v("vrrpd_instance_effective_priority{vrrp_instance=\"VI_1\"}"),
            50.0
        );
        assert_eq!(
            v("vrrpd_instance_adverts_sent_total{vrrp_instance=\"VI_1\"}"),
            120.0
        );
        assert_eq!(
            v("vrrpd_instance_adverts_received_total{vrrp_instance=\"VI_1\"}"),
            7.0
        );
        assert_eq!(
            v("vrrpd_instance_transitions_total{vrrp_instance=\"VI_1\"}"),
            2.0
        );
        assert_eq!(
            v("vrrpd_instance_drops_total{vrrp_instance=\"VI_1\",reason=\"auth\"}"),
            4.0
        );
        assert_eq!(v("vrrpd_drops_total{reason=\"ttl\"}"), 3.0);
        assert_eq!(
            v("vrrpd_instance_drops_total{vrrp_instance=\"VI_1\",reason=\"auth_bad_tag\"}"),
            6.0
        );
        assert_eq!(
            v("vrrpd_instance_auth_adverts_received_total{vrrp_instance=\"VI_1\",trailer=\"signed\"}"),
            5.0
        );
        assert_eq!(
            v("vrrpd_instance_auth_adverts_received_total{vrrp_instance=\"VI_1\",trailer=\"unsigned\"}"),
            2.0
        );
        assert_eq!(
            v("vrrpd_instance_auth_hmac_info{vrrp_instance=\"VI_1\",mode=\"permissive\",active_key=\"2\"}"),
            1.0
        );
        assert_eq!(
            v("vrrpd_tracker_up{vrrp_instance=\"VI_1\",tracker=\"haproxy\"}"),
            0.0
        );
        assert_eq!(
            v("vrrpd_instance_last_transition_timestamp_seconds{vrrp_instance=\"VI_1\"}"),
            1_795_000_000.5
        );
        assert_eq!(
            v("vrrpd_instance_info{vrrp_instance=\"VI_1\",interface=\"ext0\",vrid=\"12\",version=\"3\"}"),
            1.0
        );
        assert!(t.trim_end().ends_with("# EOF"), "{t}");
        // A different snapshot renders different values.
        let t2 = render(&snapshot("BACKUP", 121));
        assert_eq!(
            value(
                &t2,
                "vrrpd_instance_state{vrrp_instance=\"VI_1\",state=\"MASTER\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &t2,
                "vrrpd_instance_adverts_sent_total{vrrp_instance=\"VI_1\"}"
            ),
            Some(121.0)
        );
    }

    #[test]
    fn routes_requests() {
        assert_eq!(
            route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route("HEAD /metrics HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route("GET / HTTP/1.0\r\n\r\n"), Route::Index);
        assert_eq!(route("GET /other HTTP/1.0\r\n\r\n"), Route::NotFound);
        assert_eq!(route("POST /metrics HTTP/1.0\r\n\r\n"), Route::BadMethod);
        assert_eq!(route("\r\n"), Route::BadRequest);
    }

    #[tokio::test]
    async fn serves_a_scrape_over_tcp() {
        let (tx, mut rx) = mpsc::channel::<SnapshotRequest>(4);
        // Port 0: the kernel picks a free one.
        let (_task, addr) = serve("127.0.0.1:0".parse().unwrap(), tx).await.unwrap();
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(snapshot("MASTER", 99));
            }
        });
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
        assert!(text.contains(CONTENT_TYPE));
        assert!(text.contains("vrrpd_instance_adverts_sent_total{vrrp_instance=\"VI_1\"} 99"));
    }
}
