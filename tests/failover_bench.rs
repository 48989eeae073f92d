//! Failover benchmark in network namespaces (ignored by default: it measures,
//! it does not assert speed). Reproduce the README's table with:
//!
//! ```text
//! cargo test --release --test failover_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Two balancers (bal1 150, bal2 100), each running HAProxy on :8000 (which
//! answers with its balancer's name) and vrrpd tracking that HAProxy
//! (process tracker, weight -100), and a client, on one bridge. Per run it
//! injects one fault on the master and measures, from the moment of the fault:
//! - `vip`: until the kernel in bal2's namespace reports the VIP added
//!   (a netlink event watched from inside that namespace);
//! - `client`: until an HTTP request from the client to VIP:8000, on a new
//!   TCP connection, is answered by bal2's HAProxy (a request is started
//!   every millisecond; the time is the start of the first one bal2 served).
//!
//! Faults: SIGKILL of the master's vrrpd (its HAProxy still answers, so only
//! `vip` means something), SIGTERM of the master's vrrpd, the master's link
//! going down (a dead node), and SIGKILL of the master's HAProxy.
//!
//! `VRRPD_BENCH_RUNS` sets the runs per scenario (default 10).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const VIP: &str = "172.16.1.254";

#[derive(Clone, Copy, Debug)]
enum Fault {
    Sigkill,
    Sigterm,
    LinkDown,
    HaproxyKill,
}

/// Watch bal2's namespace for the VIP being added; returns the instant it was.
fn watch_vip(host: &Host) -> (std::thread::JoinHandle<Option<Instant>>, Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let ready = Arc::new(AtomicBool::new(false));
    let ready2 = ready.clone();
    let h = host.spawn_in_netns(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let nl = vrrpd::io::netlink::Netlink::new().unwrap();
            let mut ev = nl.subscribe().unwrap();
            ready2.store(true, Ordering::SeqCst);
            let vip: std::net::IpAddr = VIP.parse().unwrap();
            while !stop2.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(50), ev.recv()).await {
                    Ok(Some(vrrpd::io::netlink::NetEvent::AddrAdded { addr, .. }))
                        if addr == vip =>
                    {
                        return Some(Instant::now());
                    }
                    Ok(None) => return None,
                    _ => {}
                }
            }
            None
        })
    });
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    (h, stop)
}

/// Start a connection attempt every millisecond from the client; returns the
/// start instant of the first attempt that bal2 answered.
fn probe(client: &Host, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Option<Instant>> {
    client.spawn_in_netns(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let first: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                tick.tick().await;
                if first.lock().unwrap().is_some() {
                    break;
                }
                let first = first.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let attempt = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut s = tokio::net::TcpStream::connect((VIP, 8000)).await.ok()?;
                        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
                        let mut buf = Vec::new();
                        s.read_to_end(&mut buf).await.ok()?;
                        Some(String::from_utf8_lossy(&buf).into_owned())
                    };
                    if let Ok(Some(b)) =
                        tokio::time::timeout(Duration::from_millis(300), attempt).await
                    {
                        if b.starts_with("HTTP/1.") && b.contains(" 200 ") && b.ends_with("bal2") {
                            let mut f = first.lock().unwrap();
                            if f.is_none_or(|t| started < t) {
                                *f = Some(started);
                            }
                        }
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(350)).await;
            let f = *first.lock().unwrap();
            f
        })
    })
}

fn config(name: &str, prio: u8, interval: &str, socket: &std::path::Path) -> String {
    format!(
        "[global]\ncontrol_socket = \"{}\"\n[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\n\
         priority = {prio}\nadvert_interval = \"{interval}\"\nvirtual_ips = [\"{VIP}/24\"]\n\
         track = [\"haproxy\"]\n[[track]]\nname = \"haproxy\"\ntype = \"process\"\nprocess = \"haproxy\"\n\
         cmdline_contains = \"{name}\"\nweight = -100\n",
        socket.display()
    )
}

/// HAProxy on :8000 answering every request with the balancer's name.
fn haproxy(host: &Host, dir: &std::path::Path) -> Proc {
    host.spawn_name_haproxy(dir, "")
}

/// One run: returns (vip, client) durations since the fault.
fn run_once(fault: Fault, interval: &str) -> (Option<Duration>, Option<Duration>) {
    let mut lab = Lab::new("bench");
    let br = lab.add_bridge("lan");
    let bal1 = lab.add_host("bal1", &br, "ext0", "172.16.1.250/24");
    let bal2 = lab.add_host("bal2", &br, "ext0", "172.16.1.251/24");
    let client = lab.add_host("client", &br, "ext0", "172.16.1.100/24");
    let dir = lab.dir().to_path_buf();
    let h1 = haproxy(&bal1, &dir);
    let _h2 = haproxy(&bal2, &dir);
    let c1 = write_config(
        &dir,
        "b1.toml",
        &config("bal1", 150, interval, &dir.join("b1.sock")),
    );
    let c2 = write_config(
        &dir,
        "b2.toml",
        &config("bal2", 100, interval, &dir.join("b2.sock")),
    );
    let p1 = bal1.spawn_env(
        &[vrrpd_bin(), "--config", &c1.to_string_lossy()],
        &[],
        dir.join("b1.log"),
    );
    let _p2 = bal2.spawn_env(
        &[vrrpd_bin(), "--config", &c2.to_string_lossy()],
        &[],
        dir.join("b2.log"),
    );
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(5),
        || bal1.has_addr(VIP)
    ));
    // Let the backup settle on the master's adverts, and the client learn bal1's MAC.
    std::thread::sleep(Duration::from_millis(300));
    let first = client.sh_ok(&format!("curl -s -m 2 http://{VIP}:8000/"));
    assert_eq!(first, "bal1");
    let (watch, stop_watch) = watch_vip(&bal2);
    let stop_probe = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    match fault {
        Fault::Sigkill => p1.signal(Signal::SIGKILL),
        Fault::Sigterm => p1.signal(Signal::SIGTERM),
        Fault::LinkDown => lab.set_bridge_port(&bal1, false),
        Fault::HaproxyKill => h1.signal(Signal::SIGKILL),
    }
    // A SIGKILLed daemon leaves bal1 answering for the VIP until its lease
    // runs out (about 2 s, docs/BGP.md): the client metric only means
    // something for the other faults.
    let prober = (!matches!(fault, Fault::Sigkill)).then(|| probe(&client, stop_probe.clone()));
    let vip = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        watch.is_finished()
    });
    stop_watch.store(true, Ordering::Relaxed);
    let vip_at = if vip { watch.join().unwrap() } else { None };
    let client_at = prober.and_then(|p| {
        let r = p.join().unwrap();
        stop_probe.store(true, Ordering::Relaxed);
        r
    });
    (
        vip_at.map(|t| t - t0),
        client_at.map(|t| t.saturating_duration_since(t0)),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort();
    format!(
        "median {:.1} ms, p95 {:.1} ms, min {:.1}, max {:.1} (n={})",
        percentile(v, 0.5).as_secs_f64() * 1e3,
        percentile(v, 0.95).as_secs_f64() * 1e3,
        v[0].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
        v.len()
    )
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn failover_times() {
    if !require_root() {
        return;
    }
    let runs: usize = std::env::var("VRRPD_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    println!("| fault | adverts | VIP up on the backup | client served by the backup |");
    println!("|---|---|---|---|");
    let only = std::env::var("VRRPD_BENCH_ONLY").unwrap_or_default();
    for interval in ["1s", "10ms"] {
        for fault in [
            Fault::Sigkill,
            Fault::Sigterm,
            Fault::LinkDown,
            Fault::HaproxyKill,
        ] {
            if !only.is_empty() && only != format!("{fault:?}/{interval}") {
                continue;
            }
            let mut vips = vec![];
            let mut clients = vec![];
            for _ in 0..runs {
                let (v, c) = run_once(fault, interval);
                vips.extend(v);
                clients.extend(c);
            }
            println!(
                "| {fault:?} | {interval} | {} | {} |",
                summary(&mut vips),
                summary(&mut clients)
            );
        }
    }
}
