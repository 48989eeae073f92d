//! Failover through BGP, vrrpd against keepalived 2.2.7 (ignored by default:
//! it measures, it does not assert speed). docs/BGP.md quotes its table.
//!
//! ```text
//! flock /tmp/vrrpd-lab.lock cargo test --release --test bgp_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! The `--l3 bgp` layout (tests/bgp_common): an upstream router (FRR bgpd +
//! bfdd, BFD 100 ms x 3) with a client behind it, two balancers on their own
//! subnets, each with FRR (zebra, bgpd, bfdd) redistributing the addresses
//! of `vrrpd0`, HAProxy on :8000 answering its balancer's name, and the
//! VRRP daemon on the heartbeat link `hb0` (bal1 priority 150, bal2 100,
//! VRRPv3, HAProxy tracked with weight -100):
//! - **vrrpd**: `announce = "bgp"` (the VIP as a leased /32 on `vrrpd0`),
//!   its process tracker;
//! - **keepalived**: `virtual_ipaddress { 198.51.100.10/32 dev vrrpd0 }`
//!   (the same hand-off to the same FRR), a `vrrp_script` `kill -0` of
//!   HAProxy's pid at `interval 1` (its minimum; its `track_process` does not
//!   work in a network namespace, see docs/BENCHMARKS.md).
//!
//! Faults on the master, bal1, at t0: HAProxy SIGKILLed (and reaped, as
//! its supervisor would); the daemon SIGTERMed; the daemon SIGKILLed; node
//! death (bal1's uplink and heartbeat ports cut on the switch side, then
//! every process of bal1 SIGKILLed, so that the router learns it from BFD).
//! Measured from t0:
//! - `FIB: bal1 out`: the router's kernel route for the VIP no longer has
//!   bal1 as a next hop (a thread in the router's namespace dumps the route
//!   every millisecond);
//! - `FIB: bal2 in`: it has bal2;
//! - `outage`: the longest run of failed client requests (a new TCP
//!   connection and HTTP GET to VIP:8000 started every millisecond, 300 ms
//!   timeout), from the first failed start to the next successful start.
//!
//! `BGP_BENCH_RUNS` (default 5) runs per cell, `BGP_BENCH_ONLY=daemon/interval/fault`
//! (e.g. `vrrpd/10ms/sigkill`) for one cell.

mod bgp_common;
mod common;
mod interop_common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_common::*;
use common::*;
use futures::TryStreamExt;
use netlink_packet_route::route::{RouteAddress, RouteAttribute};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Daemon {
    Vrrpd,
    Keepalived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    HaproxyKill,
    Sigterm,
    Sigkill,
    NodeDeath,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::HaproxyKill => "haproxy",
            Fault::Sigterm => "sigterm",
            Fault::Sigkill => "sigkill",
            Fault::NodeDeath => "node",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Fault::HaproxyKill => "HAProxy death",
            Fault::Sigterm => "SIGTERM of the daemon",
            Fault::Sigkill => "SIGKILL of the daemon",
            Fault::NodeDeath => "node death",
        }
    }
}

/// How long after the fault the run watches.
const WINDOW: Duration = Duration::from_secs(10);

/// One balancer's HAProxy on :8000 answering its name; its pid file for keepalived.
fn haproxy(host: &Host, dir: &Path) -> Proc {
    host.spawn_name_haproxy(dir, "")
}

fn version_and_interval(interval_ms: u32) -> (String, String) {
    if interval_ms % 1000 == 0 {
        (
            format!("{}s", interval_ms / 1000),
            format!("{}", interval_ms / 1000),
        )
    } else {
        (
            format!("{interval_ms}ms"),
            format!("{}", f64::from(interval_ms) / 1000.0),
        )
    }
}

/// Starts the daemon on balancer `host` with `prio`.
fn daemon(d: Daemon, host: &Host, dir: &Path, prio: u8, interval_ms: u32) -> Proc {
    let name = host.short_name();
    let (vrrpd_iv, ka_iv) = version_and_interval(interval_ms);
    match d {
        Daemon::Vrrpd => {
            let cfg = write_config(
                dir,
                &format!("{name}.toml"),
                &format!(
                    "[global]\ncontrol_socket = \"{}\"\n\n[[instance]]\nname = \"VI_1\"\n\
                     interface = \"hb0\"\nvrid = 12\npriority = {prio}\nadvert_interval = \"{vrrpd_iv}\"\n\
                     virtual_ips = [\"{VIP}/32\"]\nannounce = \"bgp\"\ntrack = [\"haproxy\"]\n\n\
                     [[track]]\nname = \"haproxy\"\ntype = \"process\"\nprocess = \"haproxy\"\n\
                     cmdline_contains = \"haproxy-{name}.cfg\"\nweight = -100\n",
                    dir.join(format!("{name}.sock")).display()
                ),
            );
            host.spawn_env(
                &[vrrpd_bin(), "--config", &cfg.to_string_lossy()],
                &[("RUST_LOG", "info")],
                dir.join(format!("{name}-vrrpd.log")),
            )
        }
        Daemon::Keepalived => {
            let ka = KeepalivedFiles::new(dir, name);
            std::fs::write(
                &ka.conf,
                format!(
                    "global_defs {{\n    router_id {name}\n    script_user root\n    enable_script_security\n}}\n\
                     vrrp_script chk_haproxy {{\n    script \"/bin/sh -c 'kill -0 $(cat {})'\"\n    \
                     interval 1\n    weight -100\n    fall 1\n    rise 1\n}}\n\
                     vrrp_instance VI_1 {{\n    state BACKUP\n    interface hb0\n    version 3\n    \
                     virtual_router_id 12\n    priority {prio}\n    advert_int {ka_iv}\n    \
                     virtual_ipaddress {{\n        {VIP}/32 dev vrrpd0\n    }}\n    \
                     track_script {{\n        chk_haproxy\n    }}\n}}\n",
                    dir.join(format!("haproxy-{name}.pid")).display()
                ),
            )
            .expect("keepalived.conf");
            host.spawn_keepalived(KEEPALIVED_DEBIAN, &ka, &[], &[], &ka.log)
        }
    }
}

/// Children of `ppid` (keepalived's VRRP process).
fn children(ppid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Field 4, after the parenthesised comm.
        let ppid_of = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid_of == Some(ppid) {
            v.push(pid);
        }
    }
    v
}

/// Every process in `ns`, SIGKILLed (a node dying).
fn kill_namespace(ns: &str) {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .expect("ip netns pids");
    let me = std::process::id() as i32;
    for pid in String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter(|p| *p != me)
    {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

type Samples<T> = Arc<Mutex<Vec<(Instant, T)>>>;

/// Dumps the router's route for the VIP every millisecond; records every
/// change of its next hops (balancer names).
fn watch_fib(
    rtr: &Host,
    stop: Arc<AtomicBool>,
) -> (std::thread::JoinHandle<()>, Samples<Vec<String>>) {
    let seen: Samples<Vec<String>> = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let ready = Arc::new(AtomicBool::new(false));
    let ready2 = ready.clone();
    let h = rtr.spawn_in_netns(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (conn, handle, _) = rtnetlink::new_connection().expect("netlink");
            tokio::spawn(conn);
            let vip: Ipv4Addr = VIP.parse().expect("vip");
            let mut last: Option<Vec<String>> = None;
            while !stop.load(Ordering::Relaxed) {
                let msg = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new().build();
                let routes: Vec<_> = handle
                    .route()
                    .get(msg)
                    .execute()
                    .try_collect()
                    .await
                    .unwrap_or_default();
                let now = Instant::now();
                let mut hops = Vec::new();
                for r in routes {
                    let is_vip = r.header.destination_prefix_length == 32
                        && r.attributes.iter().any(|a| {
                            matches!(a, RouteAttribute::Destination(RouteAddress::Inet(d)) if *d == vip)
                        });
                    if !is_vip {
                        continue;
                    }
                    let mut gws: Vec<Ipv4Addr> = Vec::new();
                    for a in &r.attributes {
                        match a {
                            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gws.push(*g),
                            RouteAttribute::MultiPath(nhs) => {
                                for nh in nhs {
                                    for na in &nh.attributes {
                                        if let RouteAttribute::Gateway(RouteAddress::Inet(g)) = na {
                                            gws.push(*g);
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    for g in gws {
                        // 10.1.N.2 is balN.
                        hops.push(format!("bal{}", g.octets()[2]));
                    }
                }
                hops.sort();
                hops.dedup();
                if last.as_ref() != Some(&hops) {
                    seen2.lock().expect("lock").push((now, hops.clone()));
                    last = Some(hops);
                }
                ready2.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    (h, seen)
}

/// A request every millisecond from the client: a new connection and an
/// HTTP GET to VIP:8000; records when each started and who answered.
fn probe(
    client: &Host,
    stop: Arc<AtomicBool>,
) -> (std::thread::JoinHandle<()>, Samples<Option<String>>) {
    let seen: Samples<Option<String>> = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let h = client.spawn_in_netns(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let vip: IpAddr = VIP.parse().expect("vip");
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let attempt = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut s = tokio::net::TcpStream::connect((vip, 8000)).await.ok()?;
                        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
                        let mut buf = Vec::new();
                        s.read_to_end(&mut buf).await.ok()?;
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        text.starts_with("HTTP/1.")
                            .then(|| text.rsplit("\r\n").next().unwrap_or("").trim().to_owned())
                    };
                    let who = tokio::time::timeout(Duration::from_millis(300), attempt)
                        .await
                        .ok()
                        .flatten();
                    seen.lock().expect("lock").push((started, who));
                });
            }
            tokio::time::sleep(Duration::from_millis(350)).await;
        });
    });
    (h, seen)
}

/// What one run measured, from the fault.
#[derive(Debug, Default)]
struct Run {
    bal1_out: Option<Duration>,
    bal2_in: Option<Duration>,
    outage: Option<Duration>,
}

fn run_once(d: Daemon, interval_ms: u32, fault: Fault) -> Run {
    let mut l = BgpLab::new("bgpbench", 2);
    let client = l.add_client();
    let dir = l.lab.dir().to_path_buf();
    for b in &l.bals {
        // The interface both daemons' VIPs go on (vrrpd would make it itself).
        let dummy = b.exec(&["ip", "link", "add", "vrrpd0", "type", "dummy"]);
        if !dummy.status.success() {
            b.ip(&["link", "add", "vrrpd0", "type", "ifb"]);
        }
        b.link_set("vrrpd0", true);
    }
    let sp = Speakers::start(&l, false);
    let mut h1 = haproxy(&l.bals[0], &dir);
    let _h2 = haproxy(&l.bals[1], &dir);
    let mut p1 = daemon(d, &l.bals[0], &dir, 150, interval_ms);
    let _p2 = daemon(d, &l.bals[1], &dir, 100, interval_ms);
    let served = || {
        let out = client.exec(&["curl", "-s", "-m", "1", &format!("http://{VIP}:8000/")]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let ready = wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        l.fib() == ["bal1"] && served() == "bal1"
    });
    assert!(ready, "bal1 never announced\n{}", sp.logs());
    // Let the backup settle on the master's adverts.
    std::thread::sleep(Duration::from_millis(500));

    let stop = Arc::new(AtomicBool::new(false));
    let (fib_h, fib) = watch_fib(&l.rtr, stop.clone());
    let (probe_h, probes) = probe(&client, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    match fault {
        Fault::HaproxyKill => {
            h1.signal(Signal::SIGKILL);
            // Reaped at once, as its supervisor would: an unreaped zombie
            // still passes keepalived's `kill -0` check (every run said
            // "never" before this).
            let _ = h1.wait_exit(Duration::from_secs(2));
        }
        Fault::Sigterm => p1.signal(Signal::SIGTERM),
        Fault::Sigkill => {
            let kids = children(p1.pid());
            p1.signal(Signal::SIGKILL);
            for k in kids {
                let _ = kill(Pid::from_raw(k), Signal::SIGKILL);
            }
        }
        Fault::NodeDeath => {
            // The links first: a dead node says nothing more, not even the
            // FIN its dying bgpd's socket would send (killed first, that
            // FIN told the router at once, faster than BFD).
            l.lab.set_bridge_port(&l.bals[0], false);
            l.lab.set_bridge_port(&l.hbs[0], false);
            kill_namespace(l.bals[0].name());
        }
    }
    std::thread::sleep(WINDOW);
    stop.store(true, Ordering::Relaxed);
    let _ = fib_h.join();
    let _ = probe_h.join();
    let _ = p1.wait_exit(Duration::from_millis(100));

    let fib = fib.lock().expect("lock").clone();
    let after = |pred: &dyn Fn(&Vec<String>) -> bool| {
        fib.iter()
            .find(|(t, hops)| *t >= t0 && pred(hops))
            .map(|(t, _)| *t - t0)
    };
    let bal1_out = after(&|h| !h.contains(&"bal1".to_string()));
    let bal2_in = after(&|h| h.contains(&"bal2".to_string()));
    let mut probes = probes.lock().expect("lock").clone();
    probes.sort_by_key(|(t, _)| *t);
    // Longest run of failures among requests started from 300 ms before t0.
    let mut outage = Duration::ZERO;
    let mut run_start: Option<Instant> = None;
    let mut unended = false;
    for (t, who) in probes
        .iter()
        .filter(|(t, _)| *t + Duration::from_millis(300) >= t0)
    {
        match (who, run_start) {
            (None, None) => run_start = Some(*t),
            (Some(_), Some(s)) => {
                outage = outage.max(*t - s);
                run_start = None;
            }
            _ => {}
        }
    }
    if run_start.is_some() {
        unended = true;
    }
    Run {
        bal1_out,
        bal2_in,
        outage: (!unended).then_some(outage),
    }
}

fn cell(v: &[Option<Duration>]) -> String {
    let mut ok: Vec<Duration> = v.iter().flatten().copied().collect();
    let never = v.len() - ok.len();
    if ok.is_empty() {
        return format!("never ({never}/{})", v.len());
    }
    ok.sort();
    let at = |q: f64| ok[((ok.len() - 1) as f64 * q).round() as usize];
    let mut s = format!(
        "{:.0} ms (p95 {:.0})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3
    );
    if never > 0 {
        s += &format!(", never in {never}/{}", v.len());
    }
    s
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bgp_failover_vrrpd_vs_keepalived() {
    if !require_root() || !tools_frr() {
        return;
    }
    let runs: usize = std::env::var("BGP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("BGP_BENCH_ONLY").unwrap_or_default();
    println!("| fault | adverts | daemon | FIB: bal1 out | FIB: bal2 in | client outage |");
    println!("|---|---|---|---|---|---|");
    for interval_ms in [1000u32, 10] {
        for fault in [
            Fault::HaproxyKill,
            Fault::Sigterm,
            Fault::Sigkill,
            Fault::NodeDeath,
        ] {
            for d in [Daemon::Vrrpd, Daemon::Keepalived] {
                let name = match d {
                    Daemon::Vrrpd => "vrrpd",
                    Daemon::Keepalived => "keepalived",
                };
                let iv = if interval_ms == 1000 { "1s" } else { "10ms" };
                if !only.is_empty() && only != format!("{name}/{iv}/{}", fault.name()) {
                    continue;
                }
                let results: Vec<Run> =
                    (0..runs).map(|_| run_once(d, interval_ms, fault)).collect();
                let col = |f: &dyn Fn(&Run) -> Option<Duration>| {
                    cell(&results.iter().map(f).collect::<Vec<_>>())
                };
                println!(
                    "| {} | {iv} | {name} | {} | {} | {} |",
                    fault.label(),
                    col(&|r| r.bal1_out),
                    col(&|r| r.bal2_in),
                    col(&|r| r.outage)
                );
            }
        }
    }
}

/// CPU seconds (user + system) `pid` has used so far.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; after the comm, indexes 11 and 12.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// The pid in an FRR daemon's pid file.
fn pid_file(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What 1000 instances' leases cost: one node, 1000 VRRPv3 instances at 1 s
/// adverts with `announce = "bgp"` (1000 /32s on vrrpd0), the BGP speaker
/// in the same namespace redistributing them (FRR's zebra and bgpd, or
/// BIRD); leases renewed every 500 ms (2000 renewals per second) or every
/// second (1000), or off. Then, with FRR and the default lease: the /32s on
/// `lo` instead (`announce_interface = "lo"`, the route-map matching `lo`),
/// and 1000 IPv6 /128s on vrrpd0 (the dual-stack file): zebra 8.4 treats a
/// renewed /32 on any interface but `lo` as a changed address (docs/BGP.md).
/// Measured over `BGP_BENCH_SECS` (default 30) once every VIP is up: CPU of
/// vrrpd and of the speaker's processes, and the `RTM_NEWADDR` a listener
/// (like `ip monitor`) receives per second. `LEASE_COST_ONLY=text` runs only
/// the rows whose label contains `text` (e.g. `FRR 8.4, vrrpd0, IPv4`).
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn lease_cost_at_1000_instances() {
    if !require_root() || !tools_frr() {
        return;
    }
    let secs: u64 = std::env::var("BGP_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let only = std::env::var("LEASE_COST_ONLY").unwrap_or_default();
    const TOTAL: usize = 1000;
    const PER_IF: usize = 250;
    println!("| speaker, announce interface, family | vip_lease, renewed every | vrrpd CPU | speaker CPU (zebra + bgpd, or bird) | bfdd CPU | RTM_NEWADDR/s seen by a listener | addresses leased |");
    println!("|---|---|---|---|---|---|---|");
    for (bird, lease, renew, iface, v6) in [
        (false, "2s", "500ms", "vrrpd0", false),
        (false, "2s", "1s", "vrrpd0", false),
        (false, "0s", "", "vrrpd0", false),
        (true, "2s", "500ms", "vrrpd0", false),
        (true, "2s", "1s", "vrrpd0", false),
        (true, "0s", "", "vrrpd0", false),
        (false, "2s", "1s", "lo", false),
        (false, "2s", "1s", "vrrpd0", true),
    ] {
        let label = format!(
            "{}, {iface}, {}",
            if bird { "BIRD 2.0.12" } else { "FRR 8.4" },
            if v6 { "IPv6 /128" } else { "IPv4 /32" }
        );
        let renew_label = if renew.is_empty() {
            String::new()
        } else {
            format!(", {renew}")
        };
        if !format!("{label} {lease}{renew_label}").contains(&only) {
            continue;
        }
        let mut lab = Lab::new("leasescale");
        let mut host = None;
        let mut toml = format!(
            "[global]\nvip_lease = \"{lease}\"\nannounce_interface = \"{iface}\"\n\
             control_socket = \"{}\"\n",
            lab.dir().join("s.sock").display()
        );
        if !renew.is_empty() {
            toml += &format!("vip_lease_renew = \"{renew}\"\n");
        }
        for i in 0..TOTAL / PER_IF {
            let br = lab.add_bridge(&format!("s{i}"));
            let h = lab.add_host(
                "bal1",
                &br,
                &format!("ext{i}"),
                &format!("10.{}.255.1/16", 20 + i),
            );
            host.get_or_insert(h);
            for v in 1..=PER_IF {
                let vip = if v6 {
                    format!("2001:db8:{}::{:x}/128", 18 + i, v)
                } else {
                    format!(
                        "198.{}.{}.{}/32",
                        18 + i / 2,
                        (i % 2) * 100 + v / 250,
                        v % 250 + 1
                    )
                };
                toml += &format!(
                    "[[instance]]\nname = \"VI_{i}_{v}\"\ninterface = \"ext{i}\"\nvrid = {v}\n\
                     virtual_ips = [\"{vip}\"]\nannounce = \"bgp\"\n"
                );
            }
        }
        let host = host.expect("host");
        let dir = lab.dir().to_path_buf();
        let cfg = write_config(&dir, "vrrpd.toml", &toml);
        // The speaker redistributing the announce interface's addresses (to
        // a peer that is not there).
        let (frr, birdd) = if bird {
            let conf = render("bird-balancer.conf", 1).replace("10.1.1.1", "10.99.99.99");
            (None, Some(Bird::start(&host, &conf)))
        } else {
            let file = if v6 {
                "frr-balancer-bgpd-dualstack.conf"
            } else {
                "frr-balancer-bgpd.conf"
            };
            let conf = render(file, 1)
                .replace("10.1.1.1", "10.99.99.99")
                .replace("2001:db8:1:1::1", "2001:db8:99::99")
                .replace(
                    "match interface vrrpd0",
                    &format!("match interface {iface}"),
                );
            (Some(Frr::start(&host, &conf)), None)
        };
        let mut vrrpd = host.spawn_env(
            &[vrrpd_bin(), "--config", &cfg.to_string_lossy()],
            &[("RUST_LOG", "warn")],
            dir.join("vrrpd.log"),
        );
        // (vrrpd0 appears once vrrpd made it)
        let count = || {
            let fam = if v6 { "-6" } else { "-4" };
            let out = host.exec(&["ip", "-o", fam, "addr", "show", "dev", iface]);
            let want = if v6 { " 2001:db8:" } else { " 198." };
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains(want))
                .count()
        };
        let up = wait_until(Duration::from_secs(120), Duration::from_millis(200), || {
            count() == TOTAL
        });
        assert!(up, "only {} VIPs up\n{}", count(), vrrpd.log());
        // A listener, as `ip monitor` or a speaker is.
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let events = host.spawn_in_netns(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let nl = vrrpd::io::Netlink::new().expect("netlink");
                let mut ev = nl.subscribe().expect("subscribe");
                let (mut n, mut overruns) = (0u64, 0u64);
                while !stop2.load(Ordering::Relaxed) {
                    match tokio::time::timeout(Duration::from_millis(100), ev.recv()).await {
                        Ok(Some(vrrpd::io::NetEvent::AddrAdded { .. })) => n += 1,
                        Ok(Some(vrrpd::io::NetEvent::Overrun)) => overruns += 1,
                        Ok(None) => break,
                        _ => {}
                    }
                }
                (n, overruns)
            })
        });
        std::thread::sleep(Duration::from_secs(3));
        let mut pids = vec![vrrpd.pid()];
        if let Some(f) = &frr {
            pids.push(pid_file(&f.dir.join("zebra.pid")));
            pids.push(pid_file(&f.dir.join("bgpd.pid")));
        }
        if let Some(b) = &birdd {
            pids.push(b._proc.pid());
        }
        let bfdd = frr.as_ref().map(|f| pid_file(&f.dir.join("bfdd.pid")));
        let bfdd_before = bfdd.map(cpu_secs);
        let before: Vec<f64> = pids.iter().map(|p| cpu_secs(*p)).collect();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let wall = t.elapsed().as_secs_f64();
        let after: Vec<f64> = pids.iter().map(|p| cpu_secs(*p)).collect();
        let bfdd_after = bfdd.map(cpu_secs);
        stop.store(true, Ordering::Relaxed);
        let (n, overruns) = events.join().expect("listener");
        let st = vrrpd_status(&dir.join("s.sock"));
        let pct = |i: usize| 100.0 * (after[i] - before[i]) / wall;
        let speaker: f64 = (1..pids.len()).map(pct).sum();
        let bfdd_pct = match (bfdd_before, bfdd_after) {
            (Some(b), Some(a)) => format!("{:.2} %", 100.0 * (a - b) / wall),
            _ => "-".to_string(),
        };
        println!(
            "| {label} | `\"{lease}\"`{renew_label} | {:.2} % | {:.2} % | {bfdd_pct} | {:.0}{} | {} |",
            pct(0),
            speaker,
            n as f64 / (wall + 3.0),
            if overruns > 0 {
                format!(" ({overruns} overruns)")
            } else {
                String::new()
            },
            st["leases"]["held"]
        );
        vrrpd.stop(Signal::SIGTERM, Duration::from_secs(20));
    }
}
