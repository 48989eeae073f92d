//! Operations in network namespaces: `vrrpd switchover` / `maintenance`
//! naming the new master, the Prometheus endpoint, systemd notifications,
//! and the daemon running with only CAP_NET_ADMIN and CAP_NET_RAW.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const VIP: &str = "172.16.1.254";
const METRICS: &str = "127.0.0.1:9650";

/// A balancer's config: fast adverts (200 ms), metrics on, `extra` appended.
fn config(prio: u8, extra_global: &str, extra_inst: &str, tail: &str) -> String {
    format!(
        "[global]\nmetrics_listen = \"{METRICS}\"\n{extra_global}\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\npriority = {prio}\n\
         advert_interval = \"200ms\"\nvirtual_ips = [\"{VIP}/24\"]\ngarp_master_delay = \"0s\"\n{extra_inst}\n{tail}"
    )
}

/// Run the vrrpd CLI (on the host: the control socket is a file).
fn cli(args: &[&str]) -> Output {
    std::process::Command::new(vrrpd_bin())
        .args(args)
        .output()
        .expect("run vrrpd")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// GET /metrics inside `host`'s namespace; the body.
fn scrape(host: &Host) -> String {
    host.in_netns(|| {
        let addr: SocketAddr = METRICS.parse().unwrap();
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut t = String::new();
        s.read_to_string(&mut t).unwrap();
        assert!(t.starts_with("HTTP/1.0 200 OK"), "{t}");
        t
    })
}

/// The value of the sample whose name and labels are `series`.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .parse()
        .unwrap()
}

fn state_metric(state: &str) -> String {
    format!("vrrpd_instance_state{{vrrp_instance=\"VI_1\",state=\"{state}\"}}")
}

/// The capability sets of a process, as hex masks, from /proc/PID/status.
fn cap_masks(pid: i32) -> (u64, u64, u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let get = |k: &str| {
        let line = s.lines().find(|l| l.starts_with(k)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    (
        get("CapEff:"),
        get("CapPrm:"),
        get("CapBnd:"),
        get("CapAmb:"),
    )
}

const NET_ADMIN_RAW: u64 = (1 << 12) | (1 << 13);
const SYS_PTRACE: u64 = 1 << 19;

struct Two {
    _lab: Lab,
    hosts: Vec<Host>,
    procs: Vec<Proc>,
    socks: Vec<PathBuf>,
}

/// bal1 (priority 150) and bal2 (100) with the given configs; `wrap` goes
/// before the vrrpd binary (e.g. setpriv ...). Waits until bal1 holds the VIP.
fn two(tag: &str, cfgs: [String; 2], wrap: &[&str], env: &[(&str, &str)]) -> Two {
    let (lab, hosts) = Lab::standard(tag);
    two_in(lab, hosts, cfgs, wrap, env)
}

/// As [`two`], in a lab the caller has prepared.
fn two_in(
    lab: Lab,
    hosts: Vec<Host>,
    cfgs: [String; 2],
    wrap: &[&str],
    env: &[(&str, &str)],
) -> Two {
    let mut procs = Vec::new();
    let mut socks = Vec::new();
    for (i, cfg) in cfgs.iter().enumerate() {
        let n = hosts[i].short_name().to_owned();
        let path = write_config(lab.dir(), &format!("{n}.toml"), cfg);
        let sock = lab.dir().join(format!("{n}.sock"));
        let mut args: Vec<&str> = wrap.to_vec();
        let path_s = path.to_string_lossy().into_owned();
        let sock_s = sock.to_string_lossy().into_owned();
        args.extend([vrrpd_bin(), "--config", &path_s, "--socket", &sock_s]);
        let mut e = vec![("RUST_LOG", "debug")];
        e.extend_from_slice(env);
        procs.push(hosts[i].spawn_env(&args, &e, lab.dir().join(format!("{n}.log"))));
        socks.push(sock);
    }
    let t = Two {
        _lab: lab,
        hosts,
        procs,
        socks,
    };
    t.wait_holder("bal1");
    t
}

impl Two {
    fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("--- {:?}\n{}", p.log_path(), p.log()))
            .collect()
    }

    fn wait_holder(&self, who: &str) {
        let ok = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
            holders(&self.hosts[..2], VIP) == [who]
        });
        assert!(
            ok,
            "expected {who} to hold {VIP}, holders {:?}\n{}",
            holders(&self.hosts[..2], VIP),
            self.logs()
        );
    }

    fn sock(&self, i: usize) -> String {
        self.socks[i].to_string_lossy().into_owned()
    }
}

#[test]
fn switchover_names_the_new_master_and_metrics_follow() {
    if !require_root() {
        return;
    }
    let t = two(
        "switchover",
        [config(150, "", "", ""), config(100, "", "", "")],
        &[],
        &[],
    );
    let before = scrape(&t.hosts[0]);
    assert_eq!(sample(&before, &state_metric("MASTER")), 1.0);
    assert_eq!(sample(&before, &state_metric("FAULT")), 0.0);
    let sent_before = sample(
        &before,
        "vrrpd_instance_adverts_sent_total{vrrp_instance=\"VI_1\"}",
    );
    let trans_before = sample(
        &before,
        "vrrpd_instance_transitions_total{vrrp_instance=\"VI_1\"}",
    );
    assert!(sent_before >= 1.0);
    let bal2_before = scrape(&t.hosts[1]);
    assert_eq!(sample(&bal2_before, &state_metric("BACKUP")), 1.0);

    // The capabilities were dropped to what the config needs.
    let (eff, prm, bnd, amb) = cap_masks(t.procs[0].pid());
    assert_eq!(
        (eff, prm, bnd, amb),
        (NET_ADMIN_RAW, NET_ADMIN_RAW, NET_ADMIN_RAW, 0)
    );

    let t0 = Instant::now();
    let out = cli(&["switchover", "VI_1", "--socket", &t.sock(0)]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "switchover failed: {stdout}{}\n{}",
        text(&out.stderr),
        t.logs()
    );
    assert_eq!(
        stdout.trim(),
        "VI_1: in maintenance; 172.16.1.251 (priority 100) is master now"
    );
    // Priority 0 then Skew_Time (~120 ms at 200 ms): well below the wait bound.
    assert!(t0.elapsed() < Duration::from_secs(5));
    t.wait_holder("bal2");

    let after = scrape(&t.hosts[0]);
    assert_eq!(sample(&after, &state_metric("MASTER")), 0.0);
    assert_eq!(sample(&after, &state_metric("FAULT")), 1.0);
    assert_eq!(
        sample(&after, "vrrpd_instance_maintenance{vrrp_instance=\"VI_1\"}"),
        1.0
    );
    assert!(
        sample(
            &after,
            "vrrpd_instance_transitions_total{vrrp_instance=\"VI_1\"}"
        ) > trans_before
    );
    assert!(
        sample(
            &after,
            "vrrpd_instance_priority_zero_sent_total{vrrp_instance=\"VI_1\"}"
        ) >= 1.0
    );
    let bal2_after = scrape(&t.hosts[1]);
    assert_eq!(sample(&bal2_after, &state_metric("MASTER")), 1.0);
    assert_eq!(
        sample(
            &bal2_after,
            "vrrpd_instance_master_transitions_total{vrrp_instance=\"VI_1\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &bal2_after,
            "vrrpd_instance_last_transition_timestamp_seconds{vrrp_instance=\"VI_1\"}"
        ) > sample(
            &bal2_before,
            "vrrpd_instance_last_transition_timestamp_seconds{vrrp_instance=\"VI_1\"}"
        )
    );
    // The status document says the same.
    let st = cli(&["status", "--json", "--socket", &t.sock(0)]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(
        v["instances"][0]["last_master_seen"]["address"],
        "172.16.1.251"
    );
    assert_eq!(v["instances"][0]["last_master_seen"]["priority"], 100);

    // Out of maintenance: bal1 preempts again.
    let out = cli(&["maintenance", "VI_1", "off", "--socket", &t.sock(0)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("VI_1: out of maintenance"));
    t.wait_holder("bal1");

    // With nobody to take over, the command says so and exits with 2.
    let mut t = t;
    t.procs[1].stop(Signal::SIGTERM, Duration::from_secs(5));
    let out = cli(&["maintenance", "VI_1", "on", "--socket", &t.sock(0)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("VI_1: in maintenance, but no other router took over"),
        "{}",
        text(&out.stderr)
    );
    assert!(holders(&t.hosts[..2], VIP).is_empty());
}

#[test]
fn systemd_notifications_ready_reloading_stopping() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("sdnotify");
    // Abstract socket names belong to a network namespace: bind it in bal1's.
    let name = format!("vrrpd-test-notify-{}", std::process::id());
    let listener = hosts[0].in_netns(|| {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        UnixDatagram::bind_addr(&addr).unwrap()
    });
    listener
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cfg = write_config(lab.dir(), "bal1.toml", &config(150, "", "", ""));
    let sock = lab.dir().join("bal1.sock");
    let notify = format!("@{name}");
    let mut p = hosts[0].spawn_env(
        &[
            vrrpd_bin(),
            "--config",
            &cfg.to_string_lossy(),
            "--socket",
            &sock.to_string_lossy(),
        ],
        &[("NOTIFY_SOCKET", &notify)],
        lab.dir().join("bal1.log"),
    );
    let recv = || {
        let mut buf = [0u8; 512];
        let n = listener.recv(&mut buf).unwrap_or_else(|e| {
            panic!("no notification: {e}\n{}", p.log());
        });
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut got = Vec::new();
    while !got.iter().any(|m: &String| m == "READY=1") {
        got.push(recv());
    }
    // READY only after start-up: the control socket answers by then.
    assert!(sock.exists());
    assert!(!got.iter().any(|m| m.starts_with("STOPPING")), "{got:?}");
    p.signal(Signal::SIGHUP);
    let reloading = recv();
    let mut lines = reloading.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"), "{reloading}");
    let usec: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {reloading:?}"));
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    let now_us = now.tv_sec() as u64 * 1_000_000 + now.tv_nsec() as u64 / 1000;
    assert!(
        usec <= now_us && now_us - usec < 10_000_000,
        "{usec} {now_us}"
    );
    assert_eq!(recv(), "READY=1");
    p.signal(Signal::SIGTERM);
    assert_eq!(recv(), "STOPPING=1");
    let st = p.wait_exit(Duration::from_secs(5)).expect("vrrpd exits");
    assert!(st.success(), "{}", p.log());
}

#[test]
fn runs_with_only_net_admin_and_net_raw() {
    if !require_root() {
        return;
    }
    if !tool_available("haproxy") || !tool_available("setpriv") {
        if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
            panic!("haproxy and setpriv are needed (scripts/test.sh installs haproxy)");
        }
        loud(&format!("SKIPPED (no haproxy or setpriv): {}", test_name()));
        return;
    }
    let (lab, hosts) = Lab::standard("caps");
    // HAProxy in bal1's namespace, tracked by bal1 (weight -100).
    let hcfg = write_config(
        lab.dir(),
        "haproxy.cfg",
        "global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind *:8000\n  default_backend be\nbackend be\n  server s 127.0.0.1:9\n",
    );
    let haproxy = hosts[0].spawn(
        &["haproxy", "-db", "-f", &hcfg.to_string_lossy()],
        lab.dir().join("haproxy.log"),
    );
    assert!(wait_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || hosts[0].tcp_connect("127.0.0.1", 8000, Duration::from_millis(200))
    ));
    // same_netns = false: /proc/PID/ns/net of a root HAProxy (which holds
    // every capability) needs CAP_SYS_PTRACE; the command line (the lab's
    // own config path) and /proc/PID/stat do not.
    let track = format!(
        "[[track]]\nname = \"haproxy\"\ntype = \"process\"\nprocess = \"haproxy\"\n\
         cmdline_contains = \"{}\"\nsame_netns = false\nrescan_interval = \"200ms\"\nweight = -100\n",
        hcfg.display()
    );
    // setpriv execs vrrpd with only these two in every set (ambient and
    // inheritable empty): the bounding set limits what root's exec gets.
    let wrap = [
        "setpriv",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all,+net_admin,+net_raw",
    ];
    let t = two_in(
        lab,
        hosts,
        [
            config(150, "", "track = [\"haproxy\"]", &track),
            config(100, "", "", ""),
        ],
        &wrap,
        &[],
    );
    for p in &t.procs {
        let (eff, prm, bnd, amb) = cap_masks(p.pid());
        assert_eq!(
            (eff, prm, bnd, amb),
            (NET_ADMIN_RAW, NET_ADMIN_RAW, NET_ADMIN_RAW, 0),
            "pid {} is not vrrpd with two capabilities",
            p.pid()
        );
    }
    assert!(!t.procs[0].log().contains("capability needed but not held"));
    let st = cli(&["status", "--json", "--socket", &t.sock(0)]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["instances"][0]["trackers"][0]["state"], "UP", "{v}");

    // HAProxy dies: bal1 drops to 50 and hands over to bal2.
    haproxy.signal(Signal::SIGKILL);
    t.wait_holder("bal2");
    let st = cli(&["status", "--json", "--socket", &t.sock(0)]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["instances"][0]["effective_priority"], 50, "{v}");
    assert_eq!(v["instances"][0]["state"], "BACKUP", "{v}");

    // bal2's daemon dies (SIGKILL leaves its VIP behind in its namespace, so
    // watch bal1): bal1, at 50, is still elected after Master_Down_Interval.
    let mut t = t;
    t.procs[1].signal(Signal::SIGKILL);
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
        t.hosts[0].has_addr(VIP)
    });
    assert!(ok, "bal1 did not take over\n{}", t.logs());
    // And it stops cleanly without CAP_SYS_ADMIN and friends.
    let st = t.procs[0].stop(Signal::SIGTERM, Duration::from_secs(5));
    assert!(st.is_some_and(|s| s.success()), "{}", t.logs());
    assert!(!t.hosts[0].has_addr(VIP));
}

/// The default drop keeps CAP_SYS_PTRACE when a process tracker needs it:
/// a HAProxy running as another user (nobody) is still seen.
#[test]
fn process_tracker_sees_a_process_of_another_user_after_the_drop() {
    if !require_root() {
        return;
    }
    if !tool_available("setpriv") {
        loud(&format!("SKIPPED (no setpriv): {}", test_name()));
        return;
    }
    let (lab, hosts) = Lab::standard("capsptrace");
    let sleeper = hosts[0].spawn(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "600",
        ],
        lab.dir().join("sleep.log"),
    );
    // Only processes in bal1's namespace count (same_netns): this one.
    let track = "[[track]]\nname = \"sleeper\"\ntype = \"process\"\nprocess = \"sleep\"\n\
                 rescan_interval = \"200ms\"\nweight = 0\n";
    let cfg = write_config(
        lab.dir(),
        "bal1.toml",
        &config(150, "", "track = [\"sleeper\"]", track),
    );
    let sock = lab.dir().join("bal1.sock");
    let p = hosts[0].spawn_vrrpd(
        &cfg,
        &["--socket", &sock.to_string_lossy()],
        lab.dir().join("bal1.log"),
    );
    let status = || {
        let st = cli(&["status", "--json", "--socket", &sock.to_string_lossy()]);
        serde_json::from_slice::<serde_json::Value>(&st.stdout).unwrap_or_default()
    };
    let tracker = || status()["instances"][0]["trackers"][0]["state"].clone();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            tracker() == "UP"
        }),
        "tracker not UP: {}\n{}",
        status(),
        p.log()
    );
    let (eff, prm, bnd, amb) = cap_masks(p.pid());
    let want = NET_ADMIN_RAW | SYS_PTRACE;
    assert_eq!((eff, prm, bnd, amb), (want, want, want, 0));
    sleeper.signal(Signal::SIGKILL);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            status()["instances"][0]["state"] == "FAULT"
        }),
        "no FAULT after the process died: {}\n{}",
        status(),
        p.log()
    );
}
