//! Front-end redundancy with real HAProxy (from Debian) in the balancer
//! namespaces: vrrpd tracks its local HAProxy, and the VIP moves when
//! HAProxy dies or can no longer serve. Also sync groups and notify commands.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use serde_json::Value;

const VIP: &str = "172.16.1.254";

/// HAProxy and vrrpd must be there; skip loudly (fail under CI) if HAProxy is missing.
fn ready() -> bool {
    if !require_root() {
        return false;
    }
    if tool_available("haproxy") {
        return true;
    }
    if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
        panic!("haproxy is not installed (scripts/test.sh installs it)");
    }
    loud(&format!("SKIPPED (haproxy not installed): {}", test_name()));
    false
}

/// One balancer: HAProxy front end on :8000 (tracked), a second HAProxy as
/// its "web server" on 127.0.0.1:9000, and vrrpd.
struct Balancer {
    host: Host,
    front: Option<Proc>,
    web: Option<Proc>,
    vrrpd: Option<Proc>,
    dir: PathBuf,
    name: String,
}

impl Balancer {
    fn new(host: Host, dir: &Path) -> Balancer {
        let name = host.short_name().to_owned();
        let front = format!(
            "global\n  maxconn 1000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend fe\n  bind *:8000\n  default_backend be\n  http-after-response set-header X-Balancer {name}\n\
             backend be\n  server web 127.0.0.1:9000 check inter 100ms fall 1 rise 1\n"
        );
        let web = format!(
            "global\n  maxconn 1000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend web\n  bind 127.0.0.1:9000\n  http-request return status 200 content-type text/plain string \"served-by-{name}\"\n"
        );
        write_config(dir, &format!("haproxy-{name}.cfg"), &front);
        write_config(dir, &format!("web-{name}.cfg"), &web);
        Balancer {
            host,
            front: None,
            web: None,
            vrrpd: None,
            dir: dir.to_path_buf(),
            name,
        }
    }

    fn front_cfg(&self) -> PathBuf {
        self.dir.join(format!("haproxy-{}.cfg", self.name))
    }

    fn start_haproxy(&mut self) {
        let cfg = self.front_cfg();
        self.front = Some(self.host.spawn(
            &["haproxy", "-db", "-f", &cfg.to_string_lossy()],
            self.dir.join(format!("haproxy-{}.log", self.name)),
        ));
        let ok = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            self.host
                .tcp_connect("127.0.0.1", 8000, Duration::from_millis(200))
        });
        assert!(ok, "haproxy on {} did not start", self.name);
    }

    fn start_web(&mut self) {
        let cfg = self.dir.join(format!("web-{}.cfg", self.name));
        self.web = Some(self.host.spawn(
            &["haproxy", "-db", "-f", &cfg.to_string_lossy()],
            self.dir.join(format!("web-{}.log", self.name)),
        ));
        // Listening before the front end's health check looks at it.
        let ok = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            self.host
                .tcp_connect("127.0.0.1", 9000, Duration::from_millis(200))
        });
        assert!(ok, "the web server of {} did not start", self.name);
    }

    fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.name))
    }

    fn start_vrrpd(&mut self, config: &str) {
        let path = write_config(&self.dir, &format!("{}.toml", self.name), config);
        self.vrrpd = Some(self.host.spawn_vrrpd(
            &path,
            &["--socket", &self.socket().to_string_lossy()],
            self.dir.join(format!("vrrpd-{}.log", self.name)),
        ));
        let s = self.socket();
        assert!(wait_until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || s.exists()
        ));
    }

    fn status(&self) -> Value {
        let out = std::process::Command::new(vrrpd_bin())
            .args(["status", "--json", "--socket"])
            .arg(self.socket())
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn vrrpd_log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("vrrpd-{}.log", self.name)))
            .unwrap_or_default()
    }
}

/// The vrrpd config of a balancer tracking its HAProxy by process.
///
/// `cmdline_contains = "haproxy-bal"` matches the front-end HAProxy of every
/// balancer (and of any other lab on this machine): all share one PID
/// namespace. That the right one is tracked is the `same_netns` default at
/// work: only the HAProxy in vrrpd's own network namespace counts.
fn tracked_config(prio: u8, interval: &str, extra_track: &str) -> String {
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\npriority = {prio}\n\
         advert_interval = \"{interval}\"\nvirtual_ips = [\"{VIP}/24\"]\ngarp_master_delay = \"1s\"\n\
         track = [\"haproxy\"{extra_track}]\n\
         [[track]]\nname = \"haproxy\"\ntype = \"process\"\nprocess = \"haproxy\"\n\
         cmdline_contains = \"haproxy-bal\"\nweight = -100\nrescan_interval = \"200ms\"\n"
    )
}

/// GET / from the client: Some((balancer, body)) on a 200, None on any failure.
fn http_get(client: &Host, addr: &str) -> Option<(String, String)> {
    let addr: SocketAddr = format!("{addr}:8000").parse().unwrap();
    client.in_netns(move || get(addr, Duration::from_millis(300)))
}

fn get(addr: SocketAddr, timeout: Duration) -> Option<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    if !text.starts_with("HTTP/1.") || !text.contains(" 200 ") {
        return None;
    }
    let balancer = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("x-balancer: ")
                .or_else(|| l.strip_prefix("X-Balancer: "))
        })?
        .trim()
        .to_owned();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_owned();
    Some((balancer, body))
}

/// What the prober saw: when each request started, and which balancer answered it.
type ProbeLog = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

/// A client loop: one new connection every `every`, recording (time, result).
struct Prober {
    stop: Arc<AtomicBool>,
    log: ProbeLog,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Prober {
    fn start(client: &Host, every: Duration) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s2, l2) = (stop.clone(), log.clone());
        let addr: SocketAddr = format!("{VIP}:8000").parse().unwrap();
        let handle = client.spawn_in_netns(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s2.load(Ordering::Relaxed) && Instant::now() < deadline {
                let t = Instant::now();
                let r = get(addr, Duration::from_millis(200)).map(|(b, _)| b);
                l2.lock().unwrap().push((t, r));
                std::thread::sleep(every.saturating_sub(t.elapsed()));
            }
        });
        Prober {
            stop,
            log,
            handle: Some(handle),
        }
    }

    /// Stop, and return the longest window of failed requests (from the first
    /// failure to the next success), and the balancers that answered, in order.
    /// How many requests `balancer` has answered so far.
    fn answered_by(&self, balancer: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(_, r)| r.as_deref() == Some(balancer))
            .count()
    }

    fn finish(mut self) -> (Duration, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        let log = self.log.lock().unwrap();
        let mut longest = Duration::ZERO;
        let mut fail_start: Option<Instant> = None;
        let mut served = Vec::<String>::new();
        for (t, r) in log.iter() {
            match r {
                None => {
                    fail_start.get_or_insert(*t);
                }
                Some(b) => {
                    if let Some(f) = fail_start.take() {
                        longest = longest.max(*t - f);
                    }
                    if served.last() != Some(b) {
                        served.push(b.clone());
                    }
                }
            }
        }
        (longest, served)
    }
}

fn two_balancers(tag: &str) -> (Lab, Vec<Balancer>, Host) {
    let (lab, mut hosts) = Lab::standard(tag);
    let client = hosts.pop().unwrap();
    hosts.pop(); // bal3 unused
    let dir = lab.dir().to_path_buf();
    let bals = hosts.into_iter().map(|h| Balancer::new(h, &dir)).collect();
    (lab, bals, client)
}

fn holder(bals: &[Balancer]) -> Vec<String> {
    bals.iter()
        .filter(|b| b.host.has_addr(VIP))
        .map(|b| b.name.clone())
        .collect()
}

fn start(bals: &mut [Balancer], configs: [String; 2]) {
    for (b, c) in bals.iter_mut().zip(configs) {
        b.start_web();
        b.start_haproxy();
        b.start_vrrpd(&c);
    }
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || holder(bals) == ["bal1"]
        ),
        "bal1 did not become master: {:?}\n{}",
        holder(bals),
        bals[0].vrrpd_log()
    );
}

/// Waits until a request from the client to the VIP is answered with a 200
/// by `balancer` (its HAProxy sees its web server UP, the client's ARP
/// entry points at it); returns the body. Panics with what it got instead.
fn wait_served_by(client: &Host, balancer: &str) -> String {
    let mut got = None;
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
        got = http_get(client, VIP);
        got.as_ref().is_some_and(|(b, _)| b == balancer)
    });
    assert!(ok, "the client is not served by {balancer}: {got:?}");
    got.map(|(_, body)| body).unwrap_or_default()
}

#[test]
fn haproxy_killed_on_the_master_moves_the_vip_fast_and_comes_back() {
    if !ready() {
        return;
    }
    let (_lab, mut bals, client) = two_balancers("hakill");
    start(
        &mut bals,
        [tracked_config(150, "1s", ""), tracked_config(100, "1s", "")],
    );
    wait_served_by(&client, "bal1");
    let prober = Prober::start(&client, Duration::from_millis(10));
    // The prober sees bal1 answer before the fault.
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || prober.answered_by("bal1") >= 3
    ));
    bals[0].front.as_mut().unwrap().signal(Signal::SIGKILL);
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(5),
            || holder(&bals) == ["bal2"]
        ),
        "VIP did not move: {:?}\n{}",
        holder(&bals),
        bals[0].vrrpd_log()
    );
    // Requests reach bal2's HAProxy, the prober's too.
    wait_served_by(&client, "bal2");
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || prober.answered_by("bal2") >= 3
    ));
    let (window, served) = prober.finish();
    // Fast handover: bal2 took over on bal1's priority-0 advert, after its
    // Skew_Time (609 ms), not because bal1 went silent (Master_Down_Interval,
    // 3.6 s). The daemon's own reason says which; the client's failed-request
    // window (measured by a test thread a busy machine can delay) must stay
    // below a Master_Down_Interval.
    let log2 = bals[1].vrrpd_log();
    assert!(
        log2.lines()
            .any(|l| l.contains("Entering MASTER STATE") && l.contains("master sent priority 0")),
        "bal2 did not take over on a priority-0 advert:\n{log2}"
    );
    eprintln!("failed-request window {window:?}");
    assert!(
        window < Duration::from_millis(3609),
        "failed-request window {window:?}"
    );
    assert_eq!(served, ["bal1", "bal2"]);
    let s = bals[0].status();
    let inst = &s["instances"][0];
    assert_eq!(inst["effective_priority"], 50, "{s}");
    assert_eq!(inst["trackers"][0]["state"], "DOWN", "{s}");
    // HAProxy comes back: priority 150 again, and bal1 preempts.
    bals[0].start_haproxy();
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || holder(&bals) == ["bal1"]
        ),
        "no failback: {:?}\n{}",
        holder(&bals),
        bals[0].vrrpd_log()
    );
    assert_eq!(bals[0].status()["instances"][0]["effective_priority"], 150);
    wait_served_by(&client, "bal1");
}

/// A process tracker that holds HAProxy by pidfd costs no wake-up: its
/// rescan tick is not polled while there is nothing to rescan (#21). It
/// woke tokio's thread at every `rescan_interval` (here 200 ms: 10 times in
/// 2 s) before. Wake-ups are the main thread's voluntary context switches;
/// nothing else wakes a backup's main thread in this lab.
#[test]
fn a_tracker_holding_haproxy_costs_no_wake_up() {
    if !ready() {
        return;
    }
    let (_lab, mut bals, _client) = two_balancers("haidle");
    start(
        &mut bals,
        [tracked_config(150, "1s", ""), tracked_config(100, "1s", "")],
    );
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            bals[1].status()["instances"][0]["trackers"][0]["state"] == "UP"
        }),
        "bal2's tracker is not UP\n{}",
        bals[1].vrrpd_log()
    );
    let pid = bals[1].vrrpd.as_ref().unwrap().pid();
    let w0 = wakeups(pid, pid);
    // The measurement window: real time on purpose.
    std::thread::sleep(Duration::from_secs(2));
    let woke = wakeups(pid, pid) - w0;
    assert!(
        woke <= 3,
        "bal2's main thread woke {woke} times in 2 s with HAProxy held"
    );
    // Still watched: HAProxy's death is seen at once.
    bals[1].front.as_mut().unwrap().signal(Signal::SIGKILL);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            bals[1].status()["instances"][0]["trackers"][0]["state"] == "DOWN"
        }),
        "bal2's tracker did not see HAProxy die\n{}",
        bals[1].vrrpd_log()
    );
}

#[test]
fn all_backends_down_on_the_master_moves_the_vip_through_the_http_tracker() {
    if !ready() {
        return;
    }
    let (_lab, mut bals, client) = two_balancers("haback");
    let http =
        "\n[[track]]\nname = \"frontend\"\ntype = \"http\"\nurl = \"http://127.0.0.1:8000/\"\n\
                interval = \"100ms\"\ntimeout = \"100ms\"\nfall = 2\nrise = 2\nweight = -100\n";
    start(
        &mut bals,
        [
            tracked_config(150, "1s", ", \"frontend\"") + http,
            tracked_config(100, "1s", ", \"frontend\"") + http,
        ],
    );
    assert_eq!(wait_served_by(&client, "bal1"), "served-by-bal1");
    // bal1's only backend server dies; its HAProxy still runs but answers 503.
    bals[0].web.as_mut().unwrap().signal(Signal::SIGKILL);
    assert!(
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || holder(&bals) == ["bal2"]
        ),
        "VIP did not move: {:?}\n{}",
        holder(&bals),
        bals[0].vrrpd_log()
    );
    assert_eq!(wait_served_by(&client, "bal2"), "served-by-bal2");
    let s = bals[0].status();
    let tr = s["instances"][0]["trackers"].as_array().unwrap();
    let fe = tr.iter().find(|t| t["name"] == "frontend").unwrap();
    assert_eq!(fe["state"], "DOWN", "{s}");
    assert!(fe["detail"].as_str().unwrap().contains("503"), "{fe}");
}

#[test]
fn sync_group_members_move_together_when_one_interface_fails() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new("sync");
    let ext = lab.add_bridge("ext");
    let int = lab.add_bridge("int");
    let b1 = lab.add_host("bal1", &ext, "ext0", "172.16.1.250/24");
    let b1i = lab.add_host("bal1", &int, "int0", "10.0.0.250/24");
    let b2 = lab.add_host("bal2", &ext, "ext0", "172.16.1.251/24");
    lab.add_host("bal2", &int, "int0", "10.0.0.251/24");
    let dir = lab.dir().to_path_buf();
    let conf = |prio: u8, name: &str| {
        format!(
            "[global]\ncontrol_socket = \"{}\"\n\
             [[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\npriority = {prio}\n\
             advert_interval = \"200ms\"\nvirtual_ips = [\"{VIP}/24\"]\n\
             [[instance]]\nname = \"VI_2\"\ninterface = \"int0\"\nvrid = 13\npriority = {prio}\n\
             advert_interval = \"200ms\"\nvirtual_ips = [\"10.0.0.254/24\"]\n\
             [[sync_group]]\nname = \"VG1\"\ninstances = [\"VI_1\", \"VI_2\"]\n",
            dir.join(format!("{name}.sock")).display()
        )
    };
    let c1 = write_config(&dir, "b1.toml", &conf(150, "b1"));
    let c2 = write_config(&dir, "b2.toml", &conf(100, "b2"));
    let _p1 = b1.spawn_vrrpd(&c1, &[], dir.join("b1.log"));
    let _p2 = b2.spawn_vrrpd(&c2, &[], dir.join("b2.log"));
    let both = |h: &Host| h.has_addr(VIP) && h.has_addr("10.0.0.254");
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || both(&b1)
    ));
    // bal1's internal link fails: VI_2 goes to FAULT, and VI_1 follows it out.
    b1i.link_set("int0", false);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(10), || both(
            &b2
        )
            && !b1.has_addr(VIP)
            && !b1.has_addr("10.0.0.254")),
        "both VIPs should be on bal2\n{}",
        std::fs::read_to_string(dir.join("b1.log")).unwrap_or_default()
    );
    let log = std::fs::read_to_string(dir.join("b1.log")).unwrap();
    assert!(log.contains("sync group VG1"), "{log}");
    // Several intervals later they are still together on bal2 (no preemption
    // while held): an observation window, real time on purpose.
    std::thread::sleep(Duration::from_secs(2));
    assert!(both(&b2) && !b1.has_addr(VIP));
    // The link comes back: both come back to bal1, together.
    b1i.link_set("int0", true);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || both(&b1) && !b2.has_addr(VIP) && !b2.has_addr("10.0.0.254")
    ));
}

#[test]
fn notify_commands_run_in_order_with_their_variables_and_no_shell() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("notify");
    let dir = lab.dir().to_path_buf();
    let marker = dir.join("events.txt");
    let script = dir.join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1|$2|$VRRPD_INSTANCE|$VRRPD_FROM|$VRRPD_TO|$VRRPD_PRIORITY|$VRRPD_REASON\" >> {}\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let evil = dir.join("pwned");
    let cmd = |what: &str| {
        format!(
            "[\"{}\", \"{what}\", \"x;touch {}\"]",
            script.display(),
            evil.display()
        )
    };
    let fifo = dir.join("events.fifo");
    let conf = format!(
        "[global]\ncontrol_socket = \"{}\"\nnotify_fifo = \"{}\"\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\npriority = 150\n\
         advert_interval = \"100ms\"\nvirtual_ips = [\"{VIP}/24\"]\n\
         notify_master = {}\nnotify_backup = {}\nnotify_fault = {}\nnotify_stop = {}\n",
        dir.join("n.sock").display(),
        fifo.display(),
        cmd("master"),
        cmd("backup"),
        cmd("fault"),
        cmd("stop")
    );
    let c = write_config(&dir, "n.toml", &conf);
    let mut p = hosts[0].spawn_vrrpd(&c, &[], dir.join("n.log"));
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || hosts[0].has_addr(VIP)
    ));
    hosts[0].link_set("ext0", false);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || !hosts[0].has_addr(VIP)
    ));
    hosts[0].link_set("ext0", true);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || hosts[0].has_addr(VIP)
    ));
    p.stop(Signal::SIGTERM, Duration::from_secs(10));
    let read = || std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || read().lines().count() >= 6
    ));
    let lines: Vec<String> = read().lines().map(str::to_owned).collect();
    let got: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[0], f[3], f[4])
        })
        .collect();
    assert_eq!(
        got,
        [
            ("backup", "INIT", "BACKUP"),
            ("master", "BACKUP", "MASTER"),
            ("fault", "MASTER", "FAULT"),
            ("backup", "FAULT", "BACKUP"),
            ("master", "BACKUP", "MASTER"),
            ("stop", "MASTER", "INIT"),
        ],
        "{lines:#?}"
    );
    for l in &lines {
        let f: Vec<&str> = l.split('|').collect();
        assert_eq!(
            f[1],
            format!("x;touch {}", evil.display()),
            "argument passed literally"
        );
        assert_eq!(f[2], "VI_1");
        assert!(!f[6].is_empty(), "reason set: {l}");
    }
    assert!(lines[2].contains("interface down"));
    assert_eq!(lines[1].split('|').nth(5), Some("150"));
    assert!(!evil.exists(), "a shell interpreted the argument");
}
