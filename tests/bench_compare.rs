//! vrrpd against keepalived 2.2.7 (Debian 12) and 2.4.3 (the current release,
//! built from tests/peers), side by side, in network namespaces: failover
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
//! For a HAProxy death with vrrpd it also times each step (HAProxy's exit,
//! the tracker, the priority-0 advert, bal2's takeover, the VIP, the GARP,
//! the client's first success): see [`Steps`].
//!
//! Environment: `BENCH_RUNS` (default 10), `BENCH_INTERVALS` (`1s,50ms,10ms`),
//! `BENCH_SCENARIOS` (`node,sigterm,haproxy,failback`), `BENCH_DAEMONS`
//! (`vrrpd,keepalived-2.2.7,keepalived-2.4.3`; `keepalived` is 2.2.7;
//! `vrrpd-lean` adds vrrpd with `VRRPD_KEEPER=off VRRPD_REALTIME=off`),
//! `BENCH_VRRPD` (another vrrpd binary, for a before/after run),
//! `BENCH_KEEPALIVED_243` (its binary; default: what
//! `scripts/keepalived-2.4.3.sh` prints), `BENCH_GARP_WINDOW_MS` (default
//! 1000), `BENCH_FOOTPRINT_SECS` (60: per row, split over `BENCH_ROUNDS`,
//! default 5, interleaved), `BENCH_STABILITY_SECS` (600),
//! `BENCH_SCALE_INSTANCES` (`1000`; a list, e.g. `250,1000,2000,4000`, for
//! the curve), `BENCH_SCALE_SECS` (30), `BENCH_SCALE_ROUNDS` (1), `BENCH_OUT`
//! (append the markdown tables to this file as well as printing them; the
//! scale curve's points go to `<BENCH_OUT>.scale.csv`), `BENCH_CAPTURE=1`
//! (stability: capture bal1's adverts on both balancers and print the gaps
//! over two intervals).

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
    /// vrrpd without its two protections (`VRRPD_KEEPER=off
    /// VRRPD_REALTIME=off`): what they cost, measured beside the default.
    /// Only when `BENCH_DAEMONS` names it (`vrrpd-lean`).
    VrrpdLean,
    /// keepalived as Debian 12 ships it.
    Keepalived227,
    /// The current release, built from tests/peers by scripts/keepalived-2.4.3.sh.
    Keepalived243,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Vrrpd => "vrrpd",
            Daemon::VrrpdLean => "vrrpd, keeper and SCHED_RR off",
            Daemon::Keepalived227 => "keepalived 2.2.7",
            Daemon::Keepalived243 => "keepalived 2.4.3",
        }
    }

    fn is_keepalived(self) -> bool {
        matches!(self, Daemon::Keepalived227 | Daemon::Keepalived243)
    }

    /// The program to run.
    fn binary(self) -> String {
        match self {
            // `BENCH_VRRPD`: another build, for a before/after run.
            Daemon::Vrrpd | Daemon::VrrpdLean => {
                std::env::var("BENCH_VRRPD").unwrap_or_else(|_| vrrpd_bin().to_owned())
            }
            Daemon::Keepalived227 => KEEPALIVED_DEBIAN.to_owned(),
            Daemon::Keepalived243 => keepalived_243().unwrap_or_else(|| "keepalived-2.4.3".into()),
        }
    }
}

/// keepalived 2.4.3's binary: `BENCH_KEEPALIVED_243`, else what
/// `scripts/keepalived-2.4.3.sh` prints (it builds it once, then finds it).
fn keepalived_243() -> Option<String> {
    static BIN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(b) = std::env::var("BENCH_KEEPALIVED_243") {
            return Some(b);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/keepalived-2.4.3.sh");
        let out = std::process::Command::new(&script).output().ok()?;
        let bin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !bin.is_empty()).then_some(bin)
    })
    .clone()
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

/// The daemons of the run (`BENCH_DAEMONS`; `keepalived` is 2.2.7).
/// keepalived 2.4.3 is left out, loudly, when it cannot be built.
fn daemons() -> Vec<Daemon> {
    let mut v = env_list(
        "BENCH_DAEMONS",
        "vrrpd,keepalived-2.2.7,keepalived-2.4.3",
        |s| match s {
            "vrrpd" => Some(Daemon::Vrrpd),
            "vrrpd-lean" => Some(Daemon::VrrpdLean),
            "keepalived" | "keepalived-2.2.7" => Some(Daemon::Keepalived227),
            "keepalived-2.4.3" => Some(Daemon::Keepalived243),
            _ => None,
        },
    );
    if v.contains(&Daemon::Keepalived243) && keepalived_243().is_none() {
        loud("\n********** keepalived 2.4.3 cannot be built (scripts/keepalived-2.4.3.sh): left out **********\n");
        v.retain(|&d| d != Daemon::Keepalived243);
    }
    v
}

/// The keepalived versions of the run, for the ratio columns.
fn keepaliveds(ds: &[Daemon]) -> Vec<Daemon> {
    ds.iter().copied().filter(|d| d.is_keepalived()).collect()
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
    /// keepalived's files (its log is `log`).
    ka: KeepalivedFiles,
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
        // `/usr/bin/sh`, not `/bin/sh`: keepalived 2.4.3's script security
        // walks the path without following links, finds `/bin` (a link to
        // `usr/bin` on Debian 12) not a directory, and disables the script
        // ("Wrong file type found in script path"); 2.2.7 did not check.
        s += &format!(
            "vrrp_script chk_haproxy {{\n    script \"/usr/bin/sh -c 'kill -0 $(cat {})'\"\n    \
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
        let ka = KeepalivedFiles::new(&dir, &n);
        let (conf, text) = match daemon {
            Daemon::Vrrpd | Daemon::VrrpdLean => (
                dir.join(format!("{n}.toml")),
                vrrpd_conf(&dir, &n, prio, iv, insts, track),
            ),
            Daemon::Keepalived227 | Daemon::Keepalived243 => (
                ka.conf.clone(),
                keepalived_conf(&dir, &n, prio, iv, insts, track),
            ),
        };
        std::fs::write(&conf, text).expect("write daemon config");
        Node {
            log: dir.join(format!("{n}-{}.log", daemon.name())),
            ka,
            conf,
            host,
            daemon,
            haproxy: None,
            proc: None,
        }
    }

    fn start(&mut self) {
        let conf = self.conf.to_string_lossy().into_owned();
        let p = match self.daemon {
            Daemon::Vrrpd => self.host.spawn_env(
                &[&self.daemon.binary(), "--config", &conf],
                &[("VRRPD_LOG", "info")],
                &self.log,
            ),
            Daemon::VrrpdLean => self.host.spawn_env(
                &[&self.daemon.binary(), "--config", &conf],
                &[
                    ("VRRPD_LOG", "info"),
                    ("VRRPD_KEEPER", "off"),
                    ("VRRPD_REALTIME", "off"),
                ],
                &self.log,
            ),
            Daemon::Keepalived227 | Daemon::Keepalived243 => {
                let bin = self.daemon.binary();
                self.host
                    .spawn_keepalived(&bin, &self.ka, &[], &[], &self.log)
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
        if self.daemon.is_keepalived() {
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
}

fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after comm: state(0) ppid(1) ...
    Some(ProcStat {
        ppid: f.get(1)?.parse().ok()?,
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
    /// HAProxy death with vrrpd: when each step happened, after `t0`.
    steps: Option<Steps>,
}

/// Where the time of a HAProxy-death failover goes, each step as the time
/// since the SIGKILL (`t0`): from logs (µs timestamps), the client's capture
/// (kernel timestamps), the bench's pidfd and netlink watches and the prober.
#[derive(Default, Clone, Copy)]
struct Steps {
    /// HAProxy has exited (a pidfd of the bench polls readable).
    exited: Option<Duration>,
    /// bal1's vrrpd applies the tracker change (its `tracker changed` line).
    tracked: Option<Duration>,
    /// bal1's priority-0 advert reaches the client's wire.
    resigned: Option<Duration>,
    /// bal2's vrrpd enters MASTER (its log line).
    master: Option<Duration>,
    /// The VIP is on bal2 (netlink).
    vip_up: Option<Duration>,
    /// bal2's first gratuitous ARP reaches the client's wire.
    garp: Option<Duration>,
    /// The client's first successful request after the outage starts.
    served: Option<Duration>,
}

impl Steps {
    /// (step name, its duration from the step before) for each step.
    fn segments(&self) -> [(&'static str, Option<Duration>); 8] {
        let d =
            |a: Option<Duration>, b: Option<Duration>| Some(b?.checked_sub(a?).unwrap_or_default());
        [
            ("SIGKILL → HAProxy has exited", self.exited),
            (
                "→ vrrpd on bal1 applies the tracker change (pidfd, tracker task, protocol thread)",
                d(self.exited, self.tracked),
            ),
            (
                "→ bal1's priority-0 advert on the wire",
                d(self.tracked, self.resigned),
            ),
            (
                "→ bal2 enters MASTER (Skew_Time)",
                d(self.resigned, self.master),
            ),
            ("→ VIP on bal2 (netlink)", d(self.master, self.vip_up)),
            ("→ bal2's first GARP on the wire", d(self.vip_up, self.garp)),
            (
                "→ the client's first successful request",
                d(self.garp, self.served),
            ),
            ("total: SIGKILL → first successful request", self.served),
        ]
    }
}

/// The time of a log line (`2026-12-05T13:10:18.723134Z ...`, UTC).
fn log_time(line: &str) -> Option<SystemTime> {
    let ts = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (hh, mm) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let secs: f64 = t.next()?.parse().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let whole = u64::try_from(days * 86_400 + hh * 3600 + mm * 60).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(whole) + Duration::from_secs_f64(secs))
}

/// The first line of `log` at or after `since` that contains every one of
/// `words`, as the time since `since`.
fn logged_after(log: &str, since: SystemTime, words: &[&str]) -> Option<Duration> {
    log.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .filter_map(log_time)
        .find_map(|t| t.duration_since(since).ok())
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
    // HAProxy's exit, watched by a pidfd (the event vrrpd's tracker waits for).
    let exit_watch = (sc == Scenario::HaproxyKill)
        .then(|| p.n1.haproxy.as_ref().map(|h| ExitWatch::start(h.pid())))
        .flatten();
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
    let exited = exit_watch.and_then(ExitWatch::finish).map(|t| t - t0);
    let steps = (sc == Scenario::HaproxyKill && daemon == Daemon::Vrrpd).then(|| {
        let since_t0 = |t: SystemTime| t.duration_since(t0_wall).ok();
        let bal1: std::net::IpAddr = p.n1.host.addr().parse().expect("bal1's address");
        Steps {
            exited,
            tracked: logged_after(&p.n1.log_text(), t0_wall, &["tracker changed", "DOWN"]),
            resigned: frames
                .iter()
                .filter(|f| f.ip_src() == Some(bal1))
                .filter(|f| f.vrrp_header().is_some_and(|(_, _, prio)| prio == 0))
                .find_map(|f| f.kernel_time.and_then(since_t0)),
            master: logged_after(&p.n2.log_text(), t0_wall, &["Entering MASTER STATE"]),
            vip_up: vip_up.map(|t| t - t0),
            garp: frames
                .iter()
                .filter(|f| {
                    f.arp().is_some_and(|(_, sha, spa, tpa)| {
                        spa == vip_ip && tpa == vip_ip && sha == new_mac
                    })
                })
                .find_map(|f| f.kernel_time.and_then(since_t0)),
            served: served_again(&after).map(|t| t - t0),
        }
    });
    Sample {
        outage: outage(&after),
        vip_up: vip_up.map(|t| t - t0),
        vip_gone: vip_gone.map(|t| t - t0),
        garps: Some(garps),
        steps,
    }
}

/// When the first successful attempt after the last failed one started.
fn served_again(attempts: &[Attempt]) -> Option<Instant> {
    let last_fail = attempts.iter().rposition(|a| !a.1)?;
    attempts[last_fail..].iter().find(|a| a.1).map(|a| a.0)
}

/// Waits, on its own thread, for a process to exit (its pidfd readable).
struct ExitWatch(std::thread::JoinHandle<Option<Instant>>);

impl ExitWatch {
    fn start(pid: i32) -> ExitWatch {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        ExitWatch(std::thread::spawn(move || {
            if fd < 0 {
                return None;
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; the fd is ours and closed below.
            let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
            let at = Instant::now();
            // SAFETY: closing the pidfd opened above, once.
            unsafe { libc::close(fd) };
            (n == 1).then_some(at)
        }))
    }

    fn finish(self) -> Option<Instant> {
        self.0.join().ok().flatten()
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
    let kas = keepaliveds(&daemons);
    emit(&format!(
        "\n### Failover ({runs} runs per cell, daemons alternating run by run; median / p95 in ms; GARPs: median count within {} ms)\n",
        garp_window.as_millis()
    ));
    let ratio_heads: String = kas
        .iter()
        .map(|k| format!(" outage vrrpd ÷ {} |", k.name()))
        .collect();
    emit(&format!("| scenario | adverts | daemon | client outage | VIP up on new master | VIP gone from old | GARPs |{ratio_heads}"));
    emit(&format!(
        "|---|---|---|---|---|---|---|{}",
        "---|".repeat(kas.len())
    ));
    let outages = |sc, iv, d| {
        let v: Vec<Option<Duration>> = all
            .get(&(sc, iv, d))
            .map(|v| v.iter().map(|s| s.outage).collect())
            .unwrap_or_default();
        stat_ms(&v)
    };
    for &sc in &scenarios {
        for &iv in &intervals {
            for &d in &daemons {
                let v = all.get(&(sc, iv, d)).cloned().unwrap_or_default();
                let o = outages(sc, iv, d);
                let r: String = kas
                    .iter()
                    .map(|&k| {
                        if !d.is_keepalived() {
                            format!(" {} |", ratio(o, outages(sc, iv, k)))
                        } else {
                            " |".into()
                        }
                    })
                    .collect();
                emit(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |{r}",
                    sc.name(),
                    iv.label(),
                    d.name(),
                    fmt_stat(o),
                    fmt_stat(stat_ms(&v.iter().map(|s| s.vip_up).collect::<Vec<_>>())),
                    fmt_stat(stat_ms(&v.iter().map(|s| s.vip_gone).collect::<Vec<_>>())),
                    garp_stat(&v.iter().map(|s| s.garps).collect::<Vec<_>>()),
                ));
            }
        }
    }
    // Where a HAProxy-death failover's time goes, for vrrpd.
    for &iv in &intervals {
        let Some(v) = all.get(&(Scenario::HaproxyKill, iv, Daemon::Vrrpd)) else {
            continue;
        };
        let steps: Vec<Steps> = v.iter().filter_map(|s| s.steps).collect();
        if steps.is_empty() {
            continue;
        }
        emit(&format!(
            "\n#### SIGKILL of HAProxy, {}: where vrrpd's failover time goes ({} runs; ms)\n",
            iv.label(),
            steps.len()
        ));
        emit("| step | median | p95 | max |");
        emit("|---|---|---|---|");
        for i in 0..Steps::default().segments().len() {
            let name = Steps::default().segments()[i].0;
            let d: Vec<Option<Duration>> = steps.iter().map(|s| s.segments()[i].1).collect();
            let max = d
                .iter()
                .flatten()
                .max()
                .map_or("—".into(), |m| format!("{:.2}", m.as_secs_f64() * 1e3));
            let st = stat_ms(&d);
            emit(&format!(
                "| {name} | {} | {} | {max} |",
                st.map_or("—".into(), |s| format!("{:.2}", s.median)),
                st.map_or("—".into(), |s| if s.missing > 0 {
                    format!("{:.2} ({} of {} runs)", s.p95, s.n, s.n + s.missing)
                } else {
                    format!("{:.2}", s.p95)
                }),
            ));
        }
    }
}

/// What a node's daemon used over a window.
#[derive(Clone, Copy, Default)]
struct Usage {
    rss_kb: u64,
    pss_kb: u64,
    /// CPU seconds: every thread's run time (schedstat, to the nanosecond)
    /// plus the children it reaped (keepalived's check scripts).
    cpu_s: f64,
    /// Voluntary context switches of every thread: its wake-ups.
    wakes: u64,
    /// The window, seconds.
    secs: f64,
}

impl Usage {
    fn cpu_pct(&self) -> f64 {
        100.0 * self.cpu_s / self.secs.max(1e-9)
    }
    fn wakes_per_s(&self) -> f64 {
        self.wakes as f64 / self.secs.max(1e-9)
    }
    fn add(&mut self, o: &Usage) {
        self.cpu_s += o.cpu_s;
        self.wakes += o.wakes;
        self.secs += o.secs;
        // The memory of the last window.
        self.rss_kb = o.rss_kb;
        self.pss_kb = o.pss_kb;
    }
}

/// (CPU seconds, wake-ups) of `pids` so far: run time of each thread
/// (`/proc/PID/task/*/schedstat`) plus reaped children (`cutime`+`cstime`).
fn cpu_and_wakes(pids: &[i32]) -> (f64, u64) {
    let mut cpu = 0.0;
    let mut wakes = 0;
    for &pid in pids {
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let (c, w) = cpu_and_wakes_of_task(&t.path());
            cpu += c;
            wakes += w;
        }
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(rest) = st.rfind(')').map(|i| &st[i + 2..]) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
                cpu += (n(13) + n(14)) as f64 / clk_tck();
            }
        }
    }
    (cpu, wakes)
}

/// (CPU seconds, voluntary context switches) of one thread, from its
/// `/proc/PID/task/TID` directory.
fn cpu_and_wakes_of_task(dir: &Path) -> (f64, u64) {
    let cpu = std::fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9;
    let wakes = std::fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    (cpu, wakes)
}

/// What each of `nodes` used over `window`.
fn measure(nodes: &[&Node], window: Duration) -> Vec<Usage> {
    let pids: Vec<Vec<i32>> = nodes.iter().map(|n| n.pids()).collect();
    let before: Vec<(f64, u64)> = pids.iter().map(|p| cpu_and_wakes(p)).collect();
    let t = Instant::now();
    std::thread::sleep(window);
    let el = t.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(p, (c0, w0))| {
            let (c1, w1) = cpu_and_wakes(p);
            let (rss_kb, pss_kb) = p
                .iter()
                .map(|&pid| rss_pss(pid))
                .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
            Usage {
                rss_kb,
                pss_kb,
                cpu_s: (c1 - c0).max(0.0),
                wakes: w1.saturating_sub(w0),
                secs: el,
            }
        })
        .collect()
}

/// `a ÷ b` with two decimals, or "—".
fn times(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "—".into()
    }
}

/// Footprint roles, in table order.
const ROLES: [&str; 3] = ["master", "backup", "master, peer stopped"];

#[test]
#[ignore = "benchmark: netns-scripts/bench.sh runs it"]
fn footprint() {
    if !require_root() {
        return;
    }
    let secs = env_num("BENCH_FOOTPRINT_SECS", 60);
    let rounds = env_num("BENCH_ROUNDS", 5).max(1);
    let window = Duration::from_secs_f64(secs as f64 / rounds as f64);
    let iv = Interval { ms: 10 };
    let ds = daemons();
    let kas = keepaliveds(&ds);
    // (daemon, role) → the sum of its windows, and each window's CPU %.
    let mut acc: BTreeMap<(Daemon, usize), (Usage, Vec<f64>)> = BTreeMap::new();
    // The floors: one thread, and two threads on two CPUs (`floor_cpu`).
    let mut floors: [(f64, f64, Vec<f64>); 2] = Default::default();
    // vrrpd's threads alone as master, (daemon, thread name) → (CPU s, wake-ups, s).
    let mut per_thread: BTreeMap<(Daemon, String), (f64, u64, f64)> = BTreeMap::new();
    for round in 0..rounds as usize {
        // Interleaved: every daemon and the floor once per round, the order
        // turning from round to round, so that a change of the shared
        // machine's load falls on all of them.
        let mut order = ds.clone();
        order.rotate_left(round % ds.len().max(1));
        for (i, &d) in order.iter().enumerate() {
            let mut p = pair(d, iv, 1);
            let mut got = measure(&[&p.n1, &p.n2], window);
            // Both namespaces share one kernel, so the master's send also
            // pays for delivering each advert into the peer's namespace and
            // waking the peer's daemon: work a real network leaves to the
            // other machine. Measured again with the peer daemon stopped,
            // the master's own cost, comparable with the floor.
            if let Some(mut b) = p.n2.proc.take() {
                b.stop(Signal::SIGTERM, Duration::from_secs(5));
            }
            std::thread::sleep(Duration::from_secs(1));
            assert!(
                p.n1.host.has_addr(VIP),
                "bal1 lost the VIP when the backup stopped"
            );
            let t0 = thread_usage(&p.n1.pids());
            let t = Instant::now();
            got.extend(measure(&[&p.n1], window));
            if !d.is_keepalived() {
                let el = t.elapsed().as_secs_f64();
                for (name, (c1, w1)) in thread_usage(&p.n1.pids()) {
                    let (c0, w0) = t0.get(&name).copied().unwrap_or_default();
                    let e = per_thread.entry((d, name)).or_default();
                    e.0 += (c1 - c0).max(0.0);
                    e.1 += w1.saturating_sub(w0);
                    e.2 += el;
                }
            }
            for (role, u) in got.iter().enumerate() {
                let e = acc.entry((d, role)).or_default();
                e.0.add(u);
                e.1.push(u.cpu_pct());
            }
            loud(&format!(
                "[bench] footprint round {} {}: master {:.2} %, backup {:.2} %, alone {:.2} %",
                round + 1,
                d.name(),
                got[0].cpu_pct(),
                got[1].cpu_pct(),
                got[2].cpu_pct()
            ));
            if i + 1 == order.len() {
                // The host's floors, in this round's lab: no daemon at all,
                // one thread that sleeps to each 10 ms deadline and sends one
                // advert, and two threads on two CPUs taking turns.
                if let Some(mut a) = p.n1.proc.take() {
                    a.stop(Signal::SIGTERM, Duration::from_secs(5));
                }
                std::thread::sleep(Duration::from_secs(1));
                for (k, floor) in floors.iter_mut().enumerate() {
                    let (cpu_s, el) = floor_cpu(p.n1.host.name(), iv, window, k as u32 + 1);
                    floor.0 += cpu_s;
                    floor.1 += el;
                    floor.2.push(100.0 * cpu_s / el);
                    loud(&format!(
                        "[bench] footprint round {} floor, {} thread(s): {:.2} %",
                        round + 1,
                        k + 1,
                        100.0 * cpu_s / el
                    ));
                }
            }
        }
    }
    let floor_pct = 100.0 * floors[0].0 / floors[0].1.max(1e-9);
    let floor2_pct = 100.0 * floors[1].0 / floors[1].1.max(1e-9);
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("{lo:.2}–{hi:.2}")
    };
    emit(&format!(
        "\n### Footprint at 10 ms adverts (VRRPv3, HAProxy tracked; {rounds} rounds of {:.0} s per row, daemons and floor interleaved; keepalived = sum of its processes)\n",
        window.as_secs_f64()
    ));
    let heads: String = kas.iter().map(|k| format!(" ÷ {} |", k.name())).collect();
    emit(&format!(
        "| daemon | role | RSS | PSS | CPU, % of one core (all rounds) | per round | wake-ups/s |{heads} ÷ floor | ÷ two-thread floor |"
    ));
    emit(&format!(
        "|---|---|---|---|---|---|---|{}---|---|",
        "---|".repeat(kas.len())
    ));
    for &d in &ds {
        for (role, name) in ROLES.iter().enumerate() {
            let Some((u, per)) = acc.get(&(d, role)) else {
                continue;
            };
            let ratios: String = kas
                .iter()
                .map(|&k| match acc.get(&(k, role)) {
                    Some((ku, _)) if !d.is_keepalived() => {
                        format!(" {} |", times(u.cpu_pct(), ku.cpu_pct()))
                    }
                    _ => " |".into(),
                })
                .collect();
            let vs_floor = if role == 2 {
                format!(
                    "{} | {}",
                    times(u.cpu_pct(), floor_pct),
                    times(u.cpu_pct(), floor2_pct)
                )
            } else {
                " |".into()
            };
            emit(&format!(
                "| {} | {name} | {:.1} MB | {:.1} MB | {:.2} % | {} | {:.0} |{ratios} {vs_floor} |",
                d.name(),
                u.rss_kb as f64 / 1024.0,
                u.pss_kb as f64 / 1024.0,
                u.cpu_pct(),
                spread(per),
                u.wakes_per_s(),
            ));
        }
    }
    emit(&format!(
        "| floor: no daemon, a bare thread that sleeps to each deadline and sends one advert | — | — | — | {floor_pct:.2} % | {} | 100 |{} 1.00 | {} |",
        spread(&floors[0].2),
        " |".repeat(kas.len()),
        times(floor_pct, floor2_pct)
    ));
    emit(&format!(
        "| two-thread floor: two such threads on two CPUs, each sending every other advert (the advert keeper's shape) | — | — | — | {floor2_pct:.2} % | {} | 100 |{} {} | 1.00 |",
        spread(&floors[1].2),
        " |".repeat(kas.len()),
        times(floor2_pct, floor_pct)
    ));
    if !per_thread.is_empty() {
        emit("\nvrrpd's threads as master, peer stopped (schedstat of each thread):\n");
        emit("| daemon | thread | CPU, % of one core | wake-ups/s |");
        emit("|---|---|---|---|");
        for ((d, name), (cpu, wakes, secs)) in &per_thread {
            emit(&format!(
                "| {} | {name} | {:.3} % | {:.0} |",
                d.name(),
                100.0 * cpu / secs.max(1e-9),
                *wakes as f64 / secs.max(1e-9)
            ));
        }
    }
}

/// Each thread's (CPU seconds, voluntary context switches) so far, by
/// thread name (threads of one name summed), over `pids`.
fn thread_usage(pids: &[i32]) -> BTreeMap<String, (f64, u64)> {
    let mut m: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for &pid in pids {
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = t.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let (cpu, wakes) = cpu_and_wakes_of_task(&dir);
            let e = m.entry(name.trim().to_owned()).or_default();
            e.0 += cpu;
            e.1 += wakes;
        }
    }
    m
}

/// The least CPU any daemon can spend on this host to send an advert every
/// `iv`: threads in namespace `ns` that do nothing else (an absolute
/// `clock_nanosleep`, one `sendto` on a raw protocol-112 socket), measured
/// with their own thread CPU clocks over `window`. On a VM each timer wake-up
/// costs exits that no daemon can avoid.
///
/// `threads` 1: one thread sends every advert (the floor of the issue's
/// target). `threads` 2: the floor of a design that keeps adverts going
/// while either vCPU is stalled (vrrpd's advert keeper): two threads, each
/// pinned to a CPU of its own, each sending every other advert, one
/// interval apart; the same adverts on the wire and the same number of
/// wake-ups, spread over two CPUs.
/// Returns (CPU seconds, seconds).
fn floor_cpu(ns: &str, iv: Interval, window: Duration, threads: u32) -> (f64, f64) {
    let period = Duration::from_millis(u64::from(iv.ms));
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok();
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| {
            allowed
                .as_ref()
                .is_some_and(|set| set.is_set(c).unwrap_or(false))
        })
        .collect();
    let start = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap();
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let ns = ns.to_owned();
            let cpu = (threads > 1).then(|| cpus[k as usize % cpus.len().max(1)]);
            std::thread::spawn(move || {
                let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns");
                nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                if let Some(c) = cpu {
                    let mut set = nix::sched::CpuSet::new();
                    set.set(c).expect("cpu");
                    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                        .expect("affinity");
                }
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
                let mut next = start + period * k;
                while next < start + window {
                    next += period * threads;
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
                clock(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) - cpu0
            })
        })
        .collect();
    let cpu: Duration = handles
        .into_iter()
        .map(|h| h.join().expect("floor thread"))
        .sum();
    let el = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap()
        - start;
    (cpu.as_secs_f64(), el.as_secs_f64())
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
    let sizes = env_list("BENCH_SCALE_INSTANCES", "1000", |s| s.parse::<usize>().ok());
    let secs = env_num("BENCH_SCALE_SECS", 30);
    let rounds = env_num("BENCH_SCALE_ROUNDS", 1).max(1) as usize;
    let ds = daemons();
    let kas = keepaliveds(&ds);
    let mut runs: BTreeMap<(usize, Daemon), Vec<ScaleRun>> = BTreeMap::new();
    for round in 0..rounds {
        for &total in &sizes {
            let mut order = ds.clone();
            order.rotate_left(round % ds.len().max(1));
            for &d in &order {
                let r = scale_once(d, total, Duration::from_secs(secs));
                loud(&format!(
                    "[bench] scale {total} {} round {}: converged {:?}, master {:.2} %, backup {:.2} %",
                    d.name(),
                    round + 1,
                    r.converged,
                    r.master.cpu_pct(),
                    r.backup.cpu_pct()
                ));
                runs.entry((total, d)).or_default().push(r);
            }
        }
    }
    emit(&format!(
        "\n### Scale at 100 ms adverts (VRRPv3; 250 VRIDs per interface, two peers; CPU over {secs} s after convergence, {rounds} round(s), daemons interleaved)\n"
    ));
    let heads: String = kas
        .iter()
        .map(|k| format!(" master ÷ {0} | backup ÷ {0} |", k.name()))
        .collect();
    emit(&format!(
        "| instances | daemon | converged after start | CPU master | CPU backup | wake-ups/s master / backup | RSS / PSS master |{heads}"
    ));
    emit(&format!(
        "|---|---|---|---|---|---|---|{}",
        "---|---|".repeat(kas.len())
    ));
    let mut csv = String::from("series,x,y\n");
    for &total in &sizes {
        for &d in &ds {
            let Some(v) = runs.get(&(total, d)) else {
                continue;
            };
            let sum = |f: fn(&ScaleRun) -> &Usage| {
                let mut u = Usage::default();
                v.iter().for_each(|r| u.add(f(r)));
                u
            };
            let (m, b) = (sum(|r| &r.master), sum(|r| &r.backup));
            let conv: Vec<Option<Duration>> = v.iter().map(|r| r.converged).collect();
            let ratios: String = kas
                .iter()
                .map(|&k| match runs.get(&(total, k)) {
                    Some(kv) if !d.is_keepalived() => {
                        let mut km = Usage::default();
                        let mut kb = Usage::default();
                        kv.iter().for_each(|r| {
                            km.add(&r.master);
                            kb.add(&r.backup)
                        });
                        format!(
                            " {} | {} |",
                            times(m.cpu_pct(), km.cpu_pct()),
                            times(b.cpu_pct(), kb.cpu_pct())
                        )
                    }
                    _ => " | |".into(),
                })
                .collect();
            emit(&format!(
                "| {total} | {} | {} | {:.2} % | {:.2} % | {:.0} / {:.0} | {:.1} / {:.1} MB |{ratios}",
                d.name(),
                match stat_ms(&conv) {
                    Some(s) if s.missing == 0 => format!("{:.2} s", s.median / 1e3),
                    Some(s) => format!("{:.2} s ({} of {} runs)", s.median / 1e3, s.n, s.n + s.missing),
                    None => "not within 120 s".into(),
                },
                m.cpu_pct(),
                b.cpu_pct(),
                m.wakes_per_s(),
                b.wakes_per_s(),
                m.rss_kb as f64 / 1024.0,
                m.pss_kb as f64 / 1024.0,
            ));
            csv += &format!("{} master,{total},{:.3}\n", d.name(), m.cpu_pct());
            csv += &format!("{} backup,{total},{:.3}\n", d.name(), b.cpu_pct());
        }
    }
    // The points of the CPU-against-instances curve, for `vrrpd-labtool curve`.
    let path = std::env::var("BENCH_OUT")
        .map(|o| format!("{o}.scale.csv"))
        .unwrap_or_else(|_| "/tmp/vrrpd-bench/scale.csv".into());
    if let Some(dir) = Path::new(&path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&path, csv) {
        Ok(()) => emit(&format!("\nCurve points: `{path}`\n")),
        Err(e) => loud(&format!("cannot write {path}: {e}")),
    }
}

/// One scale run of one daemon.
struct ScaleRun {
    /// From starting both daemons until every VIP is on bal1 and none on
    /// bal2; `None` when not within 120 s.
    converged: Option<Duration>,
    master: Usage,
    backup: Usage,
}

/// `total` instances (250 VRIDs on each of `total / 250` interfaces, each
/// its own bridge) on bal1 (priority 150) and bal2 (100) at 100 ms adverts.
fn scale_once(d: Daemon, total: usize, window: Duration) -> ScaleRun {
    let iv = Interval { ms: 100 };
    let per_if = 250usize;
    let nif = total.div_ceil(per_if);
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
    let ok = wait_until(Duration::from_secs(120), Duration::from_millis(20), || {
        count(&n1.host) == total && count(&n2.host) == 0
    });
    let converged = ok.then(|| t.elapsed());
    // The second GARP burst (5 s after becoming master) is past.
    std::thread::sleep(Duration::from_secs(6));
    let m = measure(&[&n1, &n2], window);
    let run = ScaleRun {
        converged,
        master: m[0],
        backup: m[1],
    };
    drop((n1, n2));
    drop(lab);
    run
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
    let ka = KeepalivedFiles::new(&dir, "bal1");
    std::fs::write(
        &ka.conf,
        format!(
            "vrrp_track_process tp {{\n    process haproxy\n}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface ext0\n    virtual_router_id 12\n    \
             priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
             track_process {{\n        tp\n    }}\n}}\n"
        ),
    )
    .expect("keepalived.conf");
    let p = h.spawn_keepalived(KEEPALIVED_DEBIAN, &ka, &[], &[], &ka.log);
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
