//! vrrpd against keepalived 2.2, side by side, in network namespaces: failover
//! times, footprint, stability under load and scale. Ignored by default (it
//! measures, it does not assert speed); `netns-scripts/bench.sh` runs it and
//! docs/BENCHMARKS.md holds the results.
//!
//! The lab: one bridge, two balancers `bal1` (172.16.1.250, priority 150) and
//! `bal2` (.251, priority 100), each with HAProxy on :8000 answering its own
//! name, and a `client` (.100). VIP 172.16.1.254, VRID 12. Both daemons track
//! their HAProxy with weight -100: vrrpd with its process tracker (pidfd,
//! event-driven), keepalived with a `vrrp_script` running `kill -0 <pid>` every
//! second (its minimum; `track_process` needs the proc connector, which only
//! works in the initial network namespace).
//!
//! Per event it measures from the fault (`t0`):
//! - `outage`: a prober in the client namespace starts a new TCP connection and
//!   an HTTP request to VIP:8000 every [`PROBE_EVERY`]; the outage is from the
//!   start of the first failed attempt to the start of the first successful
//!   attempt after the last failed one (0 when none failed);
//! - `vip_up`: until the kernel of the new master reports the VIP added;
//! - `vip_gone`: until the kernel of the old master reports it removed;
//! - `garps`: gratuitous ARPs for the VIP from the new master's MAC seen by the
//!   client within the GARP window after `t0`.
//!
//! Environment: `BENCH_RUNS` (default 10), `BENCH_INTERVALS` (`1s,50ms,10ms`),
//! `BENCH_SCENARIOS` (`node,sigterm,haproxy,failback`), `BENCH_DAEMONS`
//! (`vrrpd,keepalived`), `BENCH_GARP_WINDOW_MS` (default 1000),
//! `BENCH_FOOTPRINT_SECS` (60), `BENCH_STABILITY_SECS` (600),
//! `BENCH_SCALE_INSTANCES` (1000), `BENCH_OUT` (append the markdown tables to
//! this file as well as printing them), `BENCH_CAPTURE=1` (stability: capture
//! bal1's adverts on both balancers and print the gaps over two intervals).

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use nix::sys::signal::Signal;

const VIP: &str = "172.16.1.254";
/// How often the prober starts a new connection.
const PROBE_EVERY: Duration = Duration::from_millis(2);
/// How long one probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// Parameters

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Daemon {
    Vrrpd,
    Keepalived,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Vrrpd => "vrrpd",
            Daemon::Keepalived => "keepalived",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    /// The master's link goes down (bridge-side veth down).
    NodeDeath,
    /// SIGTERM of the master's daemon.
    Sigterm,
    /// SIGKILL of the master's HAProxy.
    HaproxyKill,
    /// The old master's link comes back after a node death (preempt).
    Failback,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::NodeDeath => "node death (link down)",
            Scenario::Sigterm => "SIGTERM of the daemon",
            Scenario::HaproxyKill => "SIGKILL of HAProxy",
            Scenario::Failback => "failback (preempt)",
        }
    }
    fn parse(s: &str) -> Option<Scenario> {
        match s {
            "node" => Some(Scenario::NodeDeath),
            "sigterm" => Some(Scenario::Sigterm),
            "haproxy" => Some(Scenario::HaproxyKill),
            "failback" => Some(Scenario::Failback),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Interval {
    ms: u32,
}

impl Interval {
    fn parse(s: &str) -> Option<Interval> {
        let ms = match s {
            "1s" => 1000,
            other => other.strip_suffix("ms")?.parse().ok()?,
        };
        Some(Interval { ms })
    }
    fn version(self) -> u8 {
        if self.ms >= 1000 && self.ms % 1000 == 0 {
            2
        } else {
            3
        }
    }
    fn vrrpd(self) -> String {
        if self.ms % 1000 == 0 {
            format!("{}s", self.ms / 1000)
        } else {
            format!("{}ms", self.ms)
        }
    }
    fn keepalived(self) -> String {
        format!("{}", f64::from(self.ms) / 1000.0)
    }
    fn dur(self) -> Duration {
        Duration::from_millis(u64::from(self.ms))
    }
    fn label(self) -> String {
        format!("{} (v{})", self.vrrpd(), self.version())
    }
}

fn env_list<T>(key: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    let v = std::env::var(key).unwrap_or_else(|_| default.to_string());
    v.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse(s.trim()).unwrap_or_else(|| panic!("{key}: cannot parse {s:?}")))
        .collect()
}

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn daemons() -> Vec<Daemon> {
    env_list("BENCH_DAEMONS", "vrrpd,keepalived", |s| match s {
        "vrrpd" => Some(Daemon::Vrrpd),
        "keepalived" => Some(Daemon::Keepalived),
        _ => None,
    })
}

/// Prints `text` and appends it to `BENCH_OUT` if set.
fn emit(text: &str) {
    loud(text);
    if let Ok(path) = std::env::var("BENCH_OUT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One balancer: HAProxy + vrrpd or keepalived

struct Node {
    host: Host,
    daemon: Daemon,
    haproxy: Option<Proc>,
    proc: Option<Proc>,
    conf: PathBuf,
    log: PathBuf,
    /// keepalived's VRRP child pid file.
    ka_vrrp_pid: PathBuf,
}

/// HAProxy on :8000 answering every request with the balancer's name; its pid
/// is written to `<dir>/haproxy-<name>.pid` for keepalived's check.
fn start_haproxy(host: &Host, dir: &Path, nbthread: u32) -> Proc {
    host.spawn_name_haproxy(
        dir,
        &format!("global\n  nbthread {nbthread}\n  maxconn 4000\n"),
    )
}

/// One VRRP instance of a config: interface, VRID, VIP with prefix.
struct Inst {
    ifname: String,
    vrid: u8,
    vip: String,
}

/// The control socket of node `name`'s vrrpd, in the lab directory `dir`.
fn vrrpd_socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

fn vrrpd_conf(
    dir: &Path,
    name: &str,
    prio: u8,
    iv: Interval,
    insts: &[Inst],
    track: bool,
) -> String {
    let mut s = format!(
        "[global]\ncontrol_socket = \"{}\"\n",
        vrrpd_socket(dir, name).display()
    );
    for (i, inst) in insts.iter().enumerate() {
        s += &format!(
            "[[instance]]\nname = \"VI_{}\"\ninterface = \"{}\"\nvrid = {}\npriority = {prio}\n\
             version = {}\nadvert_interval = \"{}\"\nvirtual_ips = [\"{}\"]\n",
            i + 1,
            inst.ifname,
            inst.vrid,
            iv.version(),
            iv.vrrpd(),
            inst.vip
        );
        if track {
            s += "track = [\"haproxy\"]\n";
        }
    }
    if track {
        s += &format!(
            "[[track]]\nname = \"haproxy\"\ntype = \"process\"\nprocess = \"haproxy\"\n\
             cmdline_contains = \"haproxy-{name}.cfg\"\nweight = -100\n"
        );
    }
    s
}

fn keepalived_conf(
    dir: &Path,
    name: &str,
    prio: u8,
    iv: Interval,
    insts: &[Inst],
    track: bool,
) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id {name}\n    script_user root\n    enable_script_security\n}}\n"
    );
    if track {
        s += &format!(
            "vrrp_script chk_haproxy {{\n    script \"/bin/sh -c 'kill -0 $(cat {})'\"\n    \
             interval 1\n    weight -100\n    fall 1\n    rise 1\n}}\n",
            dir.join(format!("haproxy-{name}.pid")).display()
        );
    }
    for (i, inst) in insts.iter().enumerate() {
        s += &format!(
            "vrrp_instance VI_{} {{\n    state BACKUP\n    interface {}\n    version {}\n    \
             virtual_router_id {}\n    priority {prio}\n    advert_int {}\n    \
             virtual_ipaddress {{\n        {}\n    }}\n",
            i + 1,
            inst.ifname,
            iv.version(),
            inst.vrid,
            iv.keepalived(),
            inst.vip
        );
        if track {
            s += "    track_script {\n        chk_haproxy\n    }\n";
        }
        s += "}\n";
    }
    s
}

impl Node {
    fn new(
        host: Host,
        daemon: Daemon,
        prio: u8,
        iv: Interval,
        insts: &[Inst],
        track: bool,
    ) -> Node {
        let dir = host.dir().to_path_buf();
        let n = host.short_name().to_owned();
        let (conf, text) = match daemon {
            Daemon::Vrrpd => (
                dir.join(format!("{n}.toml")),
                vrrpd_conf(&dir, &n, prio, iv, insts, track),
            ),
            Daemon::Keepalived => (
                dir.join(format!("{n}-keepalived.conf")),
                keepalived_conf(&dir, &n, prio, iv, insts, track),
            ),
        };
        std::fs::write(&conf, text).expect("write daemon config");
        Node {
            log: dir.join(format!("{n}-{}.log", daemon.name())),
            ka_vrrp_pid: dir.join(format!("{n}-keepalived-vrrp.pid")),
            conf,
            host,
            daemon,
            haproxy: None,
            proc: None,
        }
    }

    fn start(&mut self) {
        let dir = self.host.dir().to_path_buf();
        let n = self.host.short_name().to_owned();
        let conf = self.conf.to_string_lossy().into_owned();
        let p = match self.daemon {
            Daemon::Vrrpd => self.host.spawn_env(
                &[vrrpd_bin(), "--config", &conf],
                &[("VRRPD_LOG", "info")],
                &self.log,
            ),
            Daemon::Keepalived => {
                let s = |p: PathBuf| p.to_string_lossy().into_owned();
                let (pid, vpid, cpid) = (
                    s(dir.join(format!("{n}-keepalived.pid"))),
                    s(self.ka_vrrp_pid.clone()),
                    s(dir.join(format!("{n}-keepalived-checkers.pid"))),
                );
                self.host.spawn(
                    &[
                        "keepalived",
                        "--dont-fork",
                        "--log-console",
                        "--no-syslog",
                        "--vrrp",
                        "--dont-respawn",
                        "--use-file",
                        &conf,
                        "--pid",
                        &pid,
                        "--vrrp_pid",
                        &vpid,
                        "--checkers_pid",
                        &cpid,
                    ],
                    &self.log,
                )
            }
        };
        self.proc = Some(p);
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Transitions logged so far (both daemons log `Entering <STATE> STATE`).
    fn transitions(&self) -> usize {
        self.transition_lines().len()
    }

    /// The log lines of those transitions.
    fn transition_lines(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains("Entering MASTER STATE") || l.contains("Entering BACKUP STATE"))
            .map(str::to_owned)
            .collect()
    }

    /// The daemon's pids: vrrpd, or keepalived's parent and its children.
    fn pids(&self) -> Vec<i32> {
        let Some(p) = &self.proc else { return vec![] };
        let root = p.pid();
        let mut v = vec![root];
        if self.daemon == Daemon::Keepalived {
            v.extend(children(root));
        }
        v
    }
}

/// Pids whose parent is `ppid`.
fn children(ppid: i32) -> Vec<i32> {
    all_pids()
        .filter(|&pid| proc_stat(pid).is_some_and(|st| st.ppid == ppid))
        .collect()
}

/// Every process id in /proc.
fn all_pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
}

struct ProcStat {
    ppid: i32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
}

fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    Some(ProcStat {
        ppid: f.get(1)?.parse().ok()?,
        ticks: n(11) + n(12) + n(13) + n(14),
    })
}

/// (Rss, Pss) in kB from /proc/PID/smaps_rollup.
fn rss_pss(pid: i32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("Rss:"), get("Pss:"))
}

fn cpu_ticks(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|&p| proc_stat(p))
        .map(|s| s.ticks)
        .sum()
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf with a constant name has no side effects.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

// ---------------------------------------------------------------------------------------------
// Watchers and the prober

/// Watches `host`'s namespace for the VIP being added (`added`) or removed;
/// returns the instant it was, or `None` when stopped or after 20 s.
struct AddrWatch {
    handle: std::thread::JoinHandle<Option<Instant>>,
    stop: Arc<AtomicBool>,
}

impl AddrWatch {
    fn start(host: &Host, vip: &str, added: bool) -> AddrWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(AtomicBool::new(false));
        let (stop2, ready2) = (stop.clone(), ready.clone());
        let vip: std::net::IpAddr = vip.parse().expect("VIP");
        let handle = host.spawn_in_netns(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use vrrpd::io::netlink::{NetEvent, Netlink};
                let nl = Netlink::new().expect("netlink");
                let mut ev = nl.subscribe().expect("subscribe");
                ready2.store(true, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_millis(20), ev.recv()).await {
                        Ok(Some(NetEvent::AddrAdded { addr, .. })) if added && addr == vip => {
                            return Some(Instant::now())
                        }
                        Ok(Some(NetEvent::AddrRemoved { addr, .. })) if !added && addr == vip => {
                            return Some(Instant::now())
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
        AddrWatch { handle, stop }
    }

    fn done(&self) -> bool {
        self.handle.is_finished()
    }

    fn finish(self) -> Option<Instant> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}

/// One probe: when it started and whether a balancer answered 200.
type Attempt = (Instant, bool);

struct Prober {
    handle: std::thread::JoinHandle<Vec<Attempt>>,
    stop: Arc<AtomicBool>,
}

impl Prober {
    fn start(client: &Host) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = client.spawn_in_netns(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let results: Arc<Mutex<Vec<Attempt>>> = Arc::default();
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut tick = tokio::time::interval(PROBE_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut tasks = vec![];
                while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                    tick.tick().await;
                    let results = results.clone();
                    tasks.push(tokio::spawn(async move {
                        let started = Instant::now();
                        let attempt = async {
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let mut s = tokio::net::TcpStream::connect((VIP, 8000)).await.ok()?;
                            s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
                            let mut buf = Vec::new();
                            s.read_to_end(&mut buf).await.ok()?;
                            Some(buf)
                        };
                        let ok = matches!(
                            tokio::time::timeout(PROBE_TIMEOUT, attempt).await,
                            Ok(Some(b)) if b.starts_with(b"HTTP/1.") && b.windows(5).any(|w| w == b" 200 ")
                        );
                        results.lock().unwrap().push((started, ok));
                    }));
                    tasks.retain(|t| !t.is_finished());
                }
                for t in tasks {
                    let _ = t.await;
                }
                let mut v = std::mem::take(&mut *results.lock().unwrap());
                v.sort_by_key(|a| a.0);
                v
            })
        });
        Prober { handle, stop }
    }

    fn finish(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// From the start of the first failed attempt to the start of the first
/// success after the last failure; `Duration::ZERO` when none failed, `None`
/// when the service never came back.
fn outage(attempts: &[Attempt]) -> Option<Duration> {
    let first_fail = attempts.iter().position(|a| !a.1);
    let Some(ff) = first_fail else {
        return Some(Duration::ZERO);
    };
    let last_fail = attempts.iter().rposition(|a| !a.1)?;
    let back = attempts[last_fail..].iter().find(|a| a.1)?;
    Some(back.0 - attempts[ff].0)
}

// ---------------------------------------------------------------------------------------------
// One failover run

#[derive(Default, Clone)]
struct Sample {
    outage: Option<Duration>,
    vip_up: Option<Duration>,
    vip_gone: Option<Duration>,
    garps: Option<u32>,
}

struct Pair {
    lab: Lab,
    client: Host,
    n1: Node,
    n2: Node,
}

fn single(vip: &str) -> Vec<Inst> {
    vec![Inst {
        ifname: "ext0".into(),
        vrid: 12,
        vip: format!("{vip}/24"),
    }]
}

/// A lab with two balancers running `daemon` at `iv`, converged: bal1 holds
/// the VIP, bal2 does not, and the client reaches bal1.
fn pair(daemon: Daemon, iv: Interval, haproxy_threads: u32) -> Pair {
    let mut lab = Lab::new("bench");
    let br = lab.add_bridge("lan");
    let b1 = lab.add_host("bal1", &br, "ext0", "172.16.1.250/24");
    let b2 = lab.add_host("bal2", &br, "ext0", "172.16.1.251/24");
    let client = lab.add_host("client", &br, "ext0", "172.16.1.100/24");
    let dir = lab.dir().to_path_buf();
    let mut n1 = Node::new(b1, daemon, 150, iv, &single(VIP), true);
    let mut n2 = Node::new(b2, daemon, 100, iv, &single(VIP), true);
    n1.haproxy = Some(start_haproxy(&n1.host, &dir, haproxy_threads));
    n2.haproxy = Some(start_haproxy(&n2.host, &dir, haproxy_threads));
    n1.start();
    n2.start();
    let up = wait_until(Duration::from_secs(20), Duration::from_millis(5), || {
        n1.host.has_addr(VIP) && !n2.host.has_addr(VIP)
    });
    assert!(up, "bal1 never became the only master:\n{}", n1.log_text());
    // Let the backup settle on the master's adverts and the first GARP bursts pass.
    std::thread::sleep(Duration::from_millis(300) + iv.dur() * 2);
    let served = client.sh(&format!("curl -s -m 2 http://{VIP}:8000/"));
    assert_eq!(String::from_utf8_lossy(&served.stdout), "bal1");
    Pair {
        lab,
        client,
        n1,
        n2,
    }
}

fn run_once(daemon: Daemon, sc: Scenario, iv: Interval, garp_window: Duration) -> Sample {
    let mut p = pair(daemon, iv, 1);
    if sc == Scenario::Failback {
        p.lab.set_bridge_port(&p.n1.host, false);
        let moved = wait_until(Duration::from_secs(20), Duration::from_millis(5), || {
            p.n2.host.has_addr(VIP) && !p.n1.host.has_addr(VIP)
        });
        assert!(moved, "no failover before the failback");
        std::thread::sleep(Duration::from_millis(300) + iv.dur() * 2);
        let served = p.client.sh(&format!("curl -s -m 2 http://{VIP}:8000/"));
        assert_eq!(String::from_utf8_lossy(&served.stdout), "bal2");
    }
    let (new, old) = if sc == Scenario::Failback {
        (&p.n1, &p.n2)
    } else {
        (&p.n2, &p.n1)
    };
    let new_mac = new.host.initial_mac().to_lowercase();
    let up = AddrWatch::start(&new.host, VIP, true);
    let gone = AddrWatch::start(&old.host, VIP, false);
    let sniff = p.client.sniff("ext0");
    let prober = Prober::start(&p.client);
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    let t0_wall = SystemTime::now();
    match sc {
        Scenario::NodeDeath => p.lab.set_bridge_port(&p.n1.host, false),
        Scenario::Sigterm => p.n1.proc.as_ref().expect("daemon").signal(Signal::SIGTERM),
        // Reaped at once, as systemd would (a zombie still answers `kill -0`).
        Scenario::HaproxyKill => {
            let h = p.n1.haproxy.as_mut().expect("haproxy");
            h.signal(Signal::SIGKILL);
            h.wait_exit(Duration::from_secs(2));
        }
        Scenario::Failback => p.lab.set_bridge_port(&p.n1.host, true),
    }
    wait_until(Duration::from_secs(15), Duration::from_millis(5), || {
        up.done() && gone.done()
    });
    let vip_up = up.finish();
    let vip_gone = gone.finish();
    let settled = vip_up.unwrap_or(t0).max(vip_gone.unwrap_or(t0)) + Duration::from_millis(400);
    let end = settled.max(t0 + garp_window);
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let attempts = prober.finish();
    let frames = sniff.stop();
    let vip_ip: std::net::Ipv4Addr = VIP.parse().expect("VIP");
    let garps = frames
        .iter()
        .filter(|f| f.kernel_time.is_none_or(|k| k >= t0_wall))
        .filter_map(|f| f.arp())
        .filter(|(_, sha, spa, tpa)| *spa == vip_ip && *tpa == vip_ip && *sha == new_mac)
        .count() as u32;
    let after: Vec<Attempt> = attempts.into_iter().filter(|a| a.0 >= t0).collect();
    Sample {
        outage: outage(&after),
        vip_up: vip_up.map(|t| t - t0),
        vip_gone: vip_gone.map(|t| t - t0),
        garps: Some(garps),
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    p95: f64,
    n: usize,
    missing: usize,
}

fn stat_ms(v: &[Option<Duration>]) -> Option<Stat> {
    let mut ms: Vec<f64> = v.iter().flatten().map(|d| d.as_secs_f64() * 1e3).collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    Some(Stat {
        median: pct(&ms, 0.5),
        p95: pct(&ms, 0.95),
        n: ms.len(),
        missing: v.len() - ms.len(),
    })
}

fn fmt_stat(s: Option<Stat>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.missing > 0 => format!(
            "{:.1} / {:.1} ({} of {} runs)",
            s.median,
            s.p95,
            s.n,
            s.n + s.missing
        ),
        Some(s) => format!("{:.1} / {:.1}", s.median, s.p95),
    }
}

fn ratio(a: Option<Stat>, b: Option<Stat>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}", a.median / b.median),
        _ => "—".into(),
    }
}

fn garp_stat(v: &[Option<u32>]) -> String {
    let mut g: Vec<u32> = v.iter().flatten().copied().collect();
    if g.is_empty() {
        return "—".into();
    }
    g.sort_unstable();
    format!("{}", g[g.len() / 2])
}

// ---------------------------------------------------------------------------------------------
// The benchmarks

#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn failover() {
    if !require_root() {
        return;
    }
    let runs = env_num("BENCH_RUNS", 10) as usize;
    let garp_window = Duration::from_millis(env_num("BENCH_GARP_WINDOW_MS", 1000));
    let intervals = env_list("BENCH_INTERVALS", "1s,50ms,10ms", Interval::parse);
    let scenarios = env_list(
        "BENCH_SCENARIOS",
        "node,sigterm,haproxy,failback",
        Scenario::parse,
    );
    let daemons = daemons();
    let mut all: BTreeMap<(Scenario, Interval, Daemon), Vec<Sample>> = BTreeMap::new();
    for &iv in &intervals {
        for &sc in &scenarios {
            // Alternate the daemons run by run, so a disturbance of the shared
            // machine hits both alike.
            for run in 0..runs {
                for &d in &daemons {
                    let s = run_once(d, sc, iv, garp_window);
                    loud(&format!(
                        "[bench] {} {} {} run {}: outage {:?} vip_up {:?} vip_gone {:?} garps {:?}",
                        d.name(),
                        sc.name(),
                        iv.label(),
                        run + 1,
                        s.outage,
                        s.vip_up,
                        s.vip_gone,
                        s.garps
                    ));
                    all.entry((sc, iv, d)).or_default().push(s);
                }
            }
        }
    }
    emit(&format!(
        "\n### Failover ({runs} runs per cell; median / p95 in ms; GARPs: median count within {} ms)\n",
        garp_window.as_millis()
    ));
    emit("| scenario | adverts | daemon | client outage | VIP up on new master | VIP gone from old | GARPs | outage ratio vrrpd/keepalived |");
    emit("|---|---|---|---|---|---|---|---|");
    for &sc in &scenarios {
        for &iv in &intervals {
            let get = |d: Daemon| all.get(&(sc, iv, d)).cloned().unwrap_or_default();
            let kv = stat_ms(
                &get(Daemon::Keepalived)
                    .iter()
                    .map(|s| s.outage)
                    .collect::<Vec<_>>(),
            );
            for &d in &daemons {
                let v = get(d);
                let o = stat_ms(&v.iter().map(|s| s.outage).collect::<Vec<_>>());
                let r = if d == Daemon::Vrrpd {
                    ratio(o, kv)
                } else {
                    String::new()
                };
                emit(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    sc.name(),
                    iv.label(),
                    d.name(),
                    fmt_stat(o),
                    fmt_stat(stat_ms(&v.iter().map(|s| s.vip_up).collect::<Vec<_>>())),
                    fmt_stat(stat_ms(&v.iter().map(|s| s.vip_gone).collect::<Vec<_>>())),
                    garp_stat(&v.iter().map(|s| s.garps).collect::<Vec<_>>()),
                    r
                ));
            }
        }
    }
}

/// (RSS kB, PSS kB, CPU % of one core) of a node over `secs`.
fn measure(nodes: &[&Node], secs: u64) -> Vec<(u64, u64, f64)> {
    let pids: Vec<Vec<i32>> = nodes.iter().map(|n| n.pids()).collect();
    let before: Vec<u64> = pids.iter().map(|p| cpu_ticks(p)).collect();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let el = t.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(p, b)| {
            let cpu = (cpu_ticks(p).saturating_sub(b)) as f64 / clk_tck() / el * 100.0;
            let (rss, pss) = p
                .iter()
                .map(|&pid| rss_pss(pid))
                .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
            (rss, pss, cpu)
        })
        .collect()
}

#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn footprint() {
    if !require_root() {
        return;
    }
    let secs = env_num("BENCH_FOOTPRINT_SECS", 60);
    let iv = Interval { ms: 10 };
    emit(&format!(
        "\n### Footprint at 10 ms adverts (VRRPv3, HAProxy tracked; CPU over {secs} s; keepalived = sum of its processes)\n"
    ));
    emit("| daemon | role | RSS | PSS | CPU (% of one core) | CPU seconds |");
    emit("|---|---|---|---|---|---|");
    let mut floor_row = None;
    for d in daemons() {
        let mut p = pair(d, iv, 1);
        let m = measure(&[&p.n1, &p.n2], secs);
        let mut rows: Vec<(&str, (u64, u64, f64))> =
            vec!["master", "backup"].into_iter().zip(m).collect();
        // Both namespaces share one kernel, so the master's send also pays
        // for delivering each advert into the peer's namespace and waking
        // the peer's daemon: work a real network leaves to the other
        // machine. Measured again with the peer daemon stopped, the
        // master's own cost.
        if let Some(mut b) = p.n2.proc.take() {
            b.stop(Signal::SIGTERM, Duration::from_secs(5));
        }
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            p.n1.host.has_addr(VIP),
            "bal1 lost the VIP when the backup stopped"
        );
        let alone = measure(&[&p.n1], secs);
        rows.push(("master, peer stopped", alone[0]));
        if floor_row.is_none() {
            // The host's floor, once: no daemon at all, one thread that
            // sleeps to each 10 ms deadline and sends one advert.
            if let Some(mut a) = p.n1.proc.take() {
                a.stop(Signal::SIGTERM, Duration::from_secs(5));
            }
            std::thread::sleep(Duration::from_secs(1));
            floor_row = Some(floor_cpu(p.n1.host.name(), iv, secs));
        }
        for (role, (rss, pss, cpu)) in rows {
            emit(&format!(
                "| {} | {role} | {:.1} MB | {:.1} MB | {cpu:.2} % | {:.2} s |",
                d.name(),
                rss as f64 / 1024.0,
                pss as f64 / 1024.0,
                cpu / 100.0 * secs as f64
            ));
        }
    }
    if let Some(cpu) = floor_row {
        emit(&format!(
            "| floor: no daemon, a bare thread that sleeps to each deadline and sends one advert | — | — | — | {cpu:.2} % | {:.2} s |",
            cpu / 100.0 * secs as f64
        ));
    }
}

/// The least CPU any daemon can spend on this host to send an advert every
/// `iv`: a thread in namespace `ns` that does nothing else (an absolute
/// `clock_nanosleep`, one `sendto` on a raw protocol-112 socket), measured
/// with its own thread CPU clock over `secs`. On a VM each timer wake-up
/// costs exits that no daemon can avoid.
fn floor_cpu(ns: &str, iv: Interval, secs: u64) -> f64 {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns");
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(112)),
        )
        .expect("raw socket");
        s.set_multicast_ttl_v4(255).expect("ttl");
        let dst: std::net::SocketAddr = "224.0.0.18:0".parse().unwrap();
        let dst = socket2::SockAddr::from(dst);
        // A v3 advert for VRID 250 (no daemon listens).
        let advert = [0x31, 250, 100, 1, 0, 1, 0, 0, 10, 0, 0, 250];
        let clock = |id| nix::time::clock_gettime(id).map(Duration::from).unwrap();
        let cpu0 = clock(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID);
        let start = clock(nix::time::ClockId::CLOCK_MONOTONIC);
        let period = Duration::from_millis(u64::from(iv.ms));
        let mut next = start;
        while next < start + Duration::from_secs(secs) {
            next += period;
            let ts = libc::timespec {
                tv_sec: next.as_secs() as libc::time_t,
                tv_nsec: next.subsec_nanos() as libc::c_long,
            };
            // SAFETY: a valid timespec; a null remainder (absolute sleep).
            unsafe {
                libc::clock_nanosleep(
                    libc::CLOCK_MONOTONIC,
                    libc::TIMER_ABSTIME,
                    &ts,
                    std::ptr::null_mut(),
                )
            };
            let _ = s.send_to(&advert, &dst);
        }
        let cpu = clock(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) - cpu0;
        let el = clock(nix::time::ClockId::CLOCK_MONOTONIC) - start;
        100.0 * cpu.as_secs_f64() / el.as_secs_f64()
    })
    .join()
    .expect("floor thread")
}

#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn stability() {
    if !require_root() {
        return;
    }
    let secs = env_num("BENCH_STABILITY_SECS", 600);
    let capture = env_num("BENCH_CAPTURE", 0) == 1;
    let iv = Interval { ms: 10 };
    emit(&format!(
        "\n### Stability: {secs} s at 10 ms adverts while wrk saturates both cores through the VIP\n"
    ));
    emit(
        "| daemon | transitions without a fault | requests served by wrk | VIP holder at the end | vCPU steal | periods with a stall ≥ 26 ms |",
    );
    emit("|---|---|---|---|---|---|");
    for d in daemons() {
        let p = pair(d, iv, 2);
        let t1 = p.n1.transitions();
        let t2 = p.n2.transitions();
        let caps = capture.then(|| {
            let src = p.n1.host.addr().to_owned();
            [
                Capture::start(&p.n1.host, &src),
                Capture::start(&p.n2.host, &src),
            ]
        });
        let watch = HostWatch::start(vec![
            (format!("wait {} bal1", d.name()), p.n1.pids()),
            (format!("wait {} bal2", d.name()), p.n2.pids()),
        ]);
        let out = p.client.sh(&format!(
            "wrk -t 2 -c 64 -d {secs}s --timeout 2s http://{VIP}:8000/ 2>&1"
        ));
        let (stalls, totals) = watch.finish();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let requests = text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        let flaps = (p.n1.transitions() - t1) + (p.n2.transitions() - t2);
        let holder = holders(&[p.n1.host.clone(), p.n2.host.clone()], VIP).join(",");
        // Master_Down_Interval at 10 ms adverts is 3 × 10 ms + skew (6 ms for
        // bal2's priority 100): a stall of 26 ms on top of one interval can
        // be enough.
        let long = stalls.iter().filter(|s| s.ms >= 26.0).count();
        let steal: f64 = totals
            .iter()
            .filter(|(k, _)| k.starts_with("steal"))
            .map(|(_, v)| v)
            .sum();
        emit(&format!(
            "| {} | {flaps} | {requests} | {holder} | {:.1} s | {long} |",
            d.name(),
            steal / 1000.0
        ));
        if d == Daemon::Vrrpd {
            let sock = vrrpd_socket(p.n1.host.dir(), p.n1.host.short_name());
            let counters = status_instance(&vrrpd_status(&sock), "VI_1")["counters"].clone();
            let n = |k: &str| counters[k].as_u64().unwrap_or(0);
            emit(&format!(
                "\nvrrpd's advert keeper on bal1 sent {} of its {} adverts in its turn, and {} while the event loop was late.\n",
                n("keeper_turns"),
                n("adverts_sent"),
                n("keeper_adverts")
            ));
        }
        // A passing run keeps no logs: print what each unprovoked
        // transition said about itself (time, reason) while they exist.
        for (n, before) in [(&p.n1, t1), (&p.n2, t2)] {
            for line in n.transition_lines().iter().skip(before) {
                eprintln!("{} {}: {line}", d.name(), n.host.short_name());
            }
        }
        for (what, ms) in &totals {
            eprintln!("{} total {what}: {ms:.0} ms", d.name());
        }
        let mut worst: Vec<&Stall> = stalls.iter().collect();
        worst.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        worst.truncate(40);
        worst.sort_by_key(|s| s.at);
        for s in worst {
            eprintln!(
                "{} stall {} {}: {:.0} ms in {} ms",
                d.name(),
                time_of_day(s.at),
                s.what,
                s.ms,
                HostWatch::EVERY.as_millis()
            );
        }
        if let Some([c1, c2]) = caps {
            for (c, h, side) in [
                (c1, &p.n1.host, "sent by bal1"),
                (c2, &p.n2.host, "arrived at bal2"),
            ] {
                let (gaps, n) = c.gaps(h, iv.dur() * 2);
                eprintln!(
                    "{} adverts {side}: {n}, gaps over 20 ms: {}",
                    d.name(),
                    gaps.len()
                );
                for (t, g) in gaps.iter().take(40) {
                    eprintln!(
                        "{} gap {side} {}: {:.1} ms",
                        d.name(),
                        time_of_day(*t),
                        g.as_secs_f64() * 1e3
                    );
                }
            }
        }
    }
}
// ---------------------------------------------------------------------------------------------
// What the host did during the stability run

/// One sampling period in which a vCPU lost time to the hypervisor (steal) or
/// a thread that carries adverts (softirq threads, the daemons) waited to run.
struct Stall {
    /// Wall-clock time at the end of the period.
    at: SystemTime,
    what: String,
    ms: f64,
}

/// Samples, every [`HostWatch::EVERY`], the cumulative counters of what can
/// hold an advert up without any daemon being at fault: per-vCPU steal
/// (`/proc/stat`, time the hypervisor ran something else) and the runqueue
/// wait of `ksoftirqd/N` and of each daemon (`/proc/PID/task/*/schedstat`,
/// runnable but not running). A period whose delta reaches
/// [`HostWatch::REPORT`] is kept as a [`Stall`].
struct HostWatch {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<Stall>, BTreeMap<String, f64>)>,
}

impl HostWatch {
    const EVERY: Duration = Duration::from_millis(20);
    const REPORT: f64 = 10.0;

    fn start(daemons: Vec<(String, Vec<i32>)>) -> HostWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut threads: Vec<(String, Vec<i32>)> = ksoftirqd_pids();
            threads.extend(daemons);
            let read = |threads: &[(String, Vec<i32>)]| {
                let mut v: Vec<(String, f64)> = steal_ms();
                for (name, pids) in threads {
                    v.push((name.clone(), pids.iter().map(|&p| wait_ms(p)).sum()));
                }
                v
            };
            let first = read(&threads);
            let mut last = first.clone();
            let mut stalls = vec![];
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Self::EVERY);
                let now = read(&threads);
                for ((what, a), (_, b)) in now.iter().zip(&last) {
                    if a - b >= Self::REPORT {
                        stalls.push(Stall {
                            at: SystemTime::now(),
                            what: what.clone(),
                            ms: a - b,
                        });
                    }
                }
                last = now;
            }
            let totals = last
                .into_iter()
                .zip(first)
                .map(|((what, a), (_, b))| (what, a - b))
                .collect();
            (stalls, totals)
        });
        HostWatch { stop, handle }
    }

    fn finish(self) -> (Vec<Stall>, BTreeMap<String, f64>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("host watch thread")
    }
}

/// Cumulative steal per vCPU, in ms (`/proc/stat`, 8th value, clock ticks).
fn steal_ms() -> Vec<(String, f64)> {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let tick_ms = 1000.0 / clk_tck();
    s.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let cpu = f.next()?.to_owned();
            let steal: f64 = f.nth(7)?.parse().ok()?;
            Some((format!("steal {cpu}"), steal * tick_ms))
        })
        .collect()
}

/// Runqueue wait of every thread of `pid`, in ms (`schedstat`'s 2nd value, ns).
fn wait_ms(pid: i32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6
}

fn ksoftirqd_pids() -> Vec<(String, Vec<i32>)> {
    let mut v: Vec<(String, Vec<i32>)> = all_pids()
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            comm.starts_with("ksoftirqd/")
                .then(|| (format!("wait {}", comm.trim()), vec![pid]))
        })
        .collect();
    v.sort();
    v
}

/// UTC time of day, `HH:MM:SS.mmm`, as the daemons' logs print it.
fn time_of_day(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// `tcpdump` writing bal1's adverts as seen on one balancer's interface: on
/// bal1 the capture point is the send, on bal2 the arrival after the bridge.
struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    fn start(host: &Host, src: &str) -> Capture {
        let file = host.dir().join(format!("{}-vrrp.pcap", host.short_name()));
        let f = file.to_string_lossy().into_owned();
        let filter = format!("ip proto 112 and src host {src}");
        let proc = host.spawn(
            &[
                "tcpdump", "-i", "ext0", "-B", "8192", "-n", "-w", &f, &filter,
            ],
            format!("{}-tcpdump.log", host.short_name()),
        );
        Capture { proc, file }
    }

    /// Stops the capture; returns the gaps between consecutive adverts longer
    /// than `over`, as (time of the late advert, gap), and the packet count.
    fn gaps(mut self, host: &Host, over: Duration) -> (Vec<(SystemTime, Duration)>, usize) {
        self.proc.stop(Signal::SIGINT, Duration::from_secs(5));
        let out = host.sh(&format!(
            "tcpdump -r {} -tt -n 2>/dev/null",
            self.file.display()
        ));
        let stamps: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        let gaps = stamps
            .windows(2)
            .map(|w| (w[1], Duration::from_secs_f64((w[1] - w[0]).max(0.0))))
            .filter(|(_, g)| *g > over)
            .map(|(t, g)| (SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t), g))
            .collect();
        (gaps, stamps.len())
    }
}

#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn scale() {
    if !require_root() {
        return;
    }
    let total = env_num("BENCH_SCALE_INSTANCES", 1000) as usize;
    let secs = env_num("BENCH_FOOTPRINT_SECS", 60);
    let iv = Interval { ms: 100 };
    let per_if = 250usize;
    let nif = total.div_ceil(per_if);
    emit(&format!(
        "\n### Scale: {total} instances at 100 ms adverts (VRRPv3), {nif} interfaces, two peers\n"
    ));
    emit("| daemon | converged after start | CPU master | CPU backup | RSS/PSS master |");
    emit("|---|---|---|---|---|");
    for d in daemons() {
        let mut lab = Lab::new("scale");
        let mut insts = vec![];
        let (mut h1, mut h2) = (None, None);
        for i in 0..nif {
            let br = lab.add_bridge(&format!("s{i}"));
            let ifn = format!("ext{i}");
            let a = lab.add_host("bal1", &br, &ifn, &format!("172.{}.255.1/16", 20 + i));
            let b = lab.add_host("bal2", &br, &ifn, &format!("172.{}.255.2/16", 20 + i));
            h1.get_or_insert(a);
            h2.get_or_insert(b);
            for v in 1..=per_if.min(total - i * per_if) {
                insts.push(Inst {
                    ifname: ifn.clone(),
                    vrid: v as u8,
                    vip: format!("172.{}.1.{v}/16", 20 + i),
                });
            }
        }
        let (h1, h2) = (h1.expect("host"), h2.expect("host"));
        let mut n1 = Node::new(h1, d, 150, iv, &insts, false);
        let mut n2 = Node::new(h2, d, 100, iv, &insts, false);
        let count = |h: &Host| {
            let out = h.ip(&["-o", "-4", "addr", "show"]);
            out.lines()
                .filter(|l| l.contains(" 172.") && l.contains(".1."))
                .count()
        };
        let t = Instant::now();
        n1.start();
        n2.start();
        let ok = wait_until(Duration::from_secs(120), Duration::from_millis(50), || {
            count(&n1.host) == total && count(&n2.host) == 0
        });
        let conv = t.elapsed();
        let m = measure(&[&n1, &n2], secs);
        emit(&format!(
            "| {} | {} | {:.2} % | {:.2} % | {:.1} / {:.1} MB |",
            d.name(),
            if ok {
                format!("{:.2} s", conv.as_secs_f64())
            } else {
                format!("not within 120 s ({} VIPs on bal1)", count(&n1.host))
            },
            m[0].2,
            m[1].2,
            m[0].0 as f64 / 1024.0,
            m[0].1 as f64 / 1024.0
        ));
        drop((n1, n2));
        drop(lab);
    }
}

/// keepalived's `track_process` relies on the proc connector, which the kernel
/// refuses outside the initial network namespace: this shows it (informational).
#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn keepalived_track_process_in_netns() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new("kaproc");
    let br = lab.add_bridge("lan");
    let h = lab.add_host("bal1", &br, "ext0", "172.16.1.250/24");
    let dir = lab.dir().to_path_buf();
    let conf = write_config(
        &dir,
        "ka.conf",
        &format!(
            "vrrp_track_process tp {{\n    process haproxy\n}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface ext0\n    virtual_router_id 12\n    \
             priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
             track_process {{\n        tp\n    }}\n}}\n"
        ),
    );
    let s = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let p = h.spawn(
        &[
            "keepalived",
            "--dont-fork",
            "--log-console",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
            "--use-file",
            &conf.to_string_lossy(),
            "--pid",
            &s("k.pid"),
            "--vrrp_pid",
            &s("kv.pid"),
            "--checkers_pid",
            &s("kc.pid"),
        ],
        dir.join("ka.log"),
    );
    std::thread::sleep(Duration::from_secs(3));
    let log = p.log();
    let line = log
        .lines()
        .find(|l| {
            let l = l.to_lowercase();
            l.contains("process event") && (l.contains("fail") || l.contains("errno"))
        })
        .unwrap_or("(no proc-connector error logged)")
        .to_string();
    emit(&format!(
        "\nkeepalived track_process in a network namespace: `{}`\n",
        line.trim()
    ));
}
