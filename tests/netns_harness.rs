//! Tests of the network-namespace test harness itself (tests/common): topology, multicast,
//! process handling, cable cuts, partitions, capture, and that nothing is left behind.
//!
//! The lab tests need root; without it they print `SKIPPED (not root)` (or fail when
//! `VRRPD_REQUIRE_NETNS=1`).

mod common;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use socket2::{Domain, Protocol, Socket, Type};

const SEC: Duration = Duration::from_secs(1);

/// Names in `ip netns list` (first word of each line).
fn netns_list() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Whether `pid` is gone (or a zombie waiting for a reaper that is not us).
fn pid_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

/// Inode of a network namespace file (`/proc/PID/ns/net` or `/run/netns/NAME`).
fn netns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {path}: {e}"))
        .ino()
}

#[test]
fn log_time_reads_tracing_timestamps() {
    let t = log_time("2024-02-29T23:59:58.250000Z  INFO vrrpd: (VI_1) Entering MASTER STATE")
        .expect("a timestamp");
    // date -u -d 2024-02-29T23:59:58Z +%s
    assert_eq!(
        t,
        std::time::UNIX_EPOCH + Duration::from_millis(1_709_251_198_250)
    );
    assert_eq!(
        log_time("1970-01-01T00:00:00Z x"),
        Some(std::time::UNIX_EPOCH),
        "no fraction"
    );
    assert_eq!(log_time("no timestamp here"), None);
}

#[test]
fn logged_after_skips_earlier_lines() {
    let since = log_time("2025-01-01T00:00:10.000000Z").unwrap();
    let log = "2025-01-01T00:00:09.000000Z  INFO (VI_1) Entering MASTER STATE\n\
               2025-01-01T00:00:11.500000Z  INFO (VI_1) Entering BACKUP STATE\n\
               2025-01-01T00:00:12.250000Z  INFO (VI_1) Entering MASTER STATE reason=x\n";
    assert_eq!(
        logged_after(log, &["Entering MASTER STATE"], since),
        Some(Duration::from_millis(2250))
    );
    assert_eq!(logged_after(log, &["Entering FAULT"], since), None);
}

#[test]
fn wait_helpers_poll_and_measure() {
    // No root needed.
    assert!(wait_until(SEC, Duration::from_millis(1), || true));
    let start = Instant::now();
    assert!(!wait_until(
        Duration::from_millis(50),
        Duration::from_millis(5),
        || false
    ));
    assert!(start.elapsed() >= Duration::from_millis(50));

    let start = Instant::now();
    let took = measure_until(5 * SEC, || start.elapsed() >= Duration::from_millis(30))
        .expect("condition becomes true");
    assert!(took >= Duration::from_millis(30), "{took:?}");
    assert!(took < 5 * SEC, "{took:?}");
    assert_eq!(
        measure_until(Duration::from_millis(20), || false),
        None,
        "never true"
    );

    let dir = temp_dir("harness-wait");
    let p = write_config(&dir, "x.toml", "a = 1\n");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a = 1\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn standard_lab_addresses_ping_macs() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("std");
    let names: Vec<&str> = hosts.iter().map(|h| h.short_name()).collect();
    assert_eq!(names, ["bal1", "bal2", "bal3", "client"]);

    // The bridge floods multicast (snooping off) and runs no STP.
    let br = lab.switch_ip(&["-d", "link", "show", "dev", "brlan"]);
    assert!(br.contains("mcast_snooping 0"), "{br}");
    assert!(br.contains("stp_state 0"), "{br}");
    // Nothing of ours is in the root namespace.
    let root_links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let root_links = String::from_utf8_lossy(&root_links.stdout);
    for p in lab.ports() {
        assert!(
            !root_links.contains(&format!(" {}@", p.port)),
            "{root_links}"
        );
    }

    for h in &hosts {
        assert_eq!(h.ifname(), "ext0");
        assert!(
            h.has_addr(h.addr()),
            "{} lacks {}",
            h.short_name(),
            h.addr()
        );
        assert_eq!(h.mac("ext0"), h.initial_mac());
        let out = h.ip(&["-o", "link", "show", "dev", "lo"]);
        assert!(out.contains("UP"), "lo down in {}: {out}", h.short_name());
    }
    // Exact match: .25 is not .250, and .250 is only on bal1.
    assert!(!hosts[0].has_addr("172.16.1.25"));
    assert_eq!(holders(&hosts, "172.16.1.250"), ["bal1"]);
    assert_eq!(holders(&hosts, "172.16.1.100/24"), ["client"]);
    assert!(holders(&hosts, "172.16.1.1").is_empty());

    let client = &hosts[3];
    for bal in &hosts[..3] {
        assert!(
            client.ping_until(bal.addr(), 5 * SEC),
            "client cannot ping {}",
            bal.short_name()
        );
        assert_eq!(
            client.neigh(bal.addr()),
            Some(bal.initial_mac().to_string())
        );
    }
    assert!(hosts[0].ping(hosts[2].addr()));
    // An address nobody has: no answer, no lladdr.
    assert!(!client.ping("172.16.1.1"));
    assert_eq!(client.neigh("172.16.1.1"), None);
    client.neigh_flush();
    assert_eq!(client.neigh(hosts[0].addr()), None);

    // A second interface on an existing host, on a second bridge.
    let mut lab = lab;
    let br2 = lab.add_bridge("int");
    let b1 = lab.add_host("bal1", &br2, "int0", "10.9.0.1/24");
    let b2 = lab.add_host("bal2", &br2, "int0", "10.9.0.2/24");
    assert_eq!(b1.name(), hosts[0].name());
    assert!(b1.ping_until("10.9.0.2", 5 * SEC));
    assert_eq!(holders(&[b1, b2], "10.9.0.2"), ["bal2"]);
}

#[test]
fn multicast_flows_between_hosts() {
    if !require_root() {
        return;
    }
    let (_lab, hosts) = Lab::standard("mcast");
    let group = Ipv4Addr::new(239, 255, 42, 1);
    let port = 4242;
    // Receivers on bal2 and client join the group on ext0.
    let receivers: Vec<UdpSocket> = [&hosts[1], &hosts[3]]
        .iter()
        .map(|h| {
            let me: Ipv4Addr = h.addr().parse().unwrap();
            h.in_netns(|| {
                let s = UdpSocket::bind(("0.0.0.0", port)).unwrap();
                s.join_multicast_v4(&group, &me).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                s
            })
        })
        .collect();
    // Sender on bal1, out of ext0.
    let sender = hosts[0].in_netns(|| {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_multicast_if_v4(&"172.16.1.250".parse().unwrap())
            .unwrap();
        s
    });
    let dst = SocketAddrV4::new(group, port).into();
    for r in &receivers {
        let mut buf = [0u8; 64];
        let got = wait_until(5 * SEC, Duration::ZERO, || {
            sender.send_to(b"hello-mcast", &dst).unwrap();
            matches!(r.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == b"hello-mcast")
        });
        assert!(got, "multicast did not arrive");
    }
    // bal3 did not join: its socket on the same port must stay silent.
    let bal3 = hosts[2].in_netns(|| {
        let s = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s
    });
    sender.send_to(b"again", &dst).unwrap();
    assert!(bal3.recv_from(&mut [0u8; 64]).is_err());
}

#[test]
fn spawned_process_is_the_target_and_killed_on_drop() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("proc");
    let h = &hosts[0];
    let mut p = h.spawn(&["sleep", "100"], "sleep.log");
    let pid = p.pid();
    // `ip netns exec` exec'ed sleep: same pid, our child, inside the namespace.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, std::process::id());
    assert_eq!(
        netns_inode(&format!("/proc/{pid}/ns/net")),
        netns_inode(&format!("/run/netns/{}", h.name()))
    );
    assert!(p.is_running());
    drop(p);
    assert!(pid_dead(pid), "sleep survived its Proc");

    // Signals, exit status, log capture.
    let mut p = h.spawn(
        &[
            "sh",
            "-c",
            "echo out-line; echo err-line >&2; exec sleep 100",
        ],
        "sh.log",
    );
    assert!(p.wait_log("err-line", 5 * SEC), "log: {}", p.log());
    assert!(p.log().contains("out-line"));
    assert!(p.log_path().starts_with(lab.dir()));
    p.signal(Signal::SIGTERM);
    let st = p.wait_exit(5 * SEC).expect("exits on SIGTERM");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert!(!p.is_running());
    let mut q = h.spawn(&["sh", "-c", "exit 3"], "exit.log");
    assert_eq!(q.wait_exit(5 * SEC).and_then(|s| s.code()), Some(3));
}

#[test]
fn cable_cut_and_partition() {
    if !require_root() {
        return;
    }
    let (mut lab, hosts) = Lab::standard("cut");
    let [bal1, bal2, bal3, client] = [&hosts[0], &hosts[1], &hosts[2], &hosts[3]];
    assert!(client.ping_until(bal1.addr(), 5 * SEC));

    lab.set_bridge_port(bal1, false);
    assert!(!client.ping(bal1.addr()), "ping across a cut cable");
    let link = bal1.ip(&["-o", "link", "show", "dev", "ext0"]);
    assert!(link.contains("NO-CARRIER"), "{link}");
    lab.set_bridge_port(bal1, true);
    assert!(
        client.ping_until(bal1.addr(), 5 * SEC),
        "no ping after repair"
    );

    // {bal1, bal2} | {bal3, client}: carrier stays, traffic does not cross.
    lab.partition(&[&[bal1, bal2], &[bal3, client]]);
    assert!(bal1.ping_until(bal2.addr(), 5 * SEC));
    assert!(bal3.ping_until(client.addr(), 5 * SEC));
    assert!(!bal1.ping(client.addr()));
    assert!(!bal2.ping(bal3.addr()));
    let link = bal3.ip(&["-o", "link", "show", "dev", "ext0"]);
    assert!(!link.contains("NO-CARRIER"), "{link}");
    lab.heal();
    assert!(
        bal1.ping_until(client.addr(), 5 * SEC),
        "no ping after heal"
    );
    assert!(bal2.ping_until(bal3.addr(), 5 * SEC));
    let links = lab.switch_ip(&["-o", "link", "show"]);
    assert!(!links.contains("brpart"), "{links}");

    lab.isolate(bal2);
    assert!(!client.ping(bal2.addr()));
    assert!(client.ping_until(bal1.addr(), 5 * SEC));
}

#[test]
fn link_set_inside_namespace() {
    if !require_root() {
        return;
    }
    let (_lab, hosts) = Lab::standard("link");
    assert!(hosts[3].ping_until(hosts[1].addr(), 5 * SEC));
    hosts[1].link_set("ext0", false);
    let link = hosts[1].ip(&["-o", "link", "show", "dev", "ext0"]);
    assert!(!link.contains(",UP"), "{link}");
    assert!(!hosts[3].ping(hosts[1].addr()));
    hosts[1].link_set("ext0", true);
    assert!(hosts[3].ping_until(hosts[1].addr(), 5 * SEC));
}

#[test]
fn lab_drop_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("drop");
    let names = lab.namespaces();
    assert_eq!(names.len(), 5);
    let listed = netns_list();
    for n in &names {
        assert!(listed.contains(n), "{n} not in {listed:?}");
    }
    let dir = lab.dir().to_path_buf();
    assert!(dir.is_dir());
    // A process the harness does not know about (an orphan inside the namespace).
    let orphan: i32 = hosts[1]
        .sh_ok("sleep 100 >/dev/null 2>&1 & echo $!")
        .trim()
        .parse()
        .unwrap();
    assert!(!pid_dead(orphan));
    // A Proc that outlives the lab.
    let p = hosts[0].spawn(&["sleep", "100"], "sleep.log");
    drop(lab);
    let listed = netns_list();
    for n in &names {
        assert!(!listed.contains(n), "{n} still exists");
    }
    assert!(!dir.exists(), "test dir kept after success");
    assert!(wait_until(5 * SEC, Duration::from_millis(10), || pid_dead(
        orphan
    )));
    let pid = p.pid();
    drop(p);
    assert!(pid_dead(pid));

    // Also on panic: the lab is torn down while unwinding.
    let names = std::sync::Mutex::new(Vec::new());
    let r = std::panic::catch_unwind(|| {
        let (lab, _hosts) = Lab::standard("panic");
        *names.lock().unwrap() = lab.namespaces();
        panic!("test failure inside a lab");
    });
    assert!(r.is_err());
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 5);
    let listed = netns_list();
    for n in &names {
        assert!(!listed.contains(n), "{n} survived a panic");
    }
    // Kept for debugging after a failure.
    let kept = Path::new(TEST_ROOT).join(names[0].rsplit_once('-').unwrap().0);
    assert!(kept.is_dir(), "{} not kept", kept.display());
    std::fs::remove_dir_all(kept).unwrap();
}

#[test]
fn cleanup_stale_removes_only_dead_runs() {
    if !require_root() {
        return;
    }
    // Run this process's one automatic cleanup now, so it cannot race with the checks below.
    drop(Lab::new("warm"));
    // A pid that surely ended: a child we reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    if !pid_dead(dead as i32) {
        return; // reused already; nothing meaningful to test
    }
    let stale = format!("{NS_PREFIX}{dead}-7-stale-x");
    let live = format!("{NS_PREFIX}{}-999999-live-x", std::process::id());
    for n in [&stale, &live] {
        let st = std::process::Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let removed = cleanup_stale();
    let listed = netns_list();
    eprintln!("removed: {removed:?}");
    let cleanup_live = std::process::Command::new("ip")
        .args(["netns", "del", &live])
        .status()
        .unwrap();
    // (Another test process may have removed it first; either way it must be gone.)
    assert!(
        !listed.contains(&stale),
        "stale namespace survived: {removed:?}"
    );
    assert!(listed.contains(&live), "a live run's namespace was removed");
    assert!(cleanup_live.success());
}

#[test]
fn tcp_banner_and_connect() {
    if !require_root() {
        return;
    }
    let (_lab, hosts) = Lab::standard("tcp");
    let _srv = hosts[0].serve_banner(8080);
    let client = &hosts[3];
    assert_eq!(
        client.tcp_banner("172.16.1.250", 8080, 3 * SEC).as_deref(),
        Some("bal1")
    );
    assert!(client.tcp_connect("172.16.1.250", 8080, 3 * SEC));
    // Nobody listens on bal2: refused.
    assert!(!client.tcp_connect("172.16.1.251", 8080, 3 * SEC));
    assert_eq!(client.tcp_banner("172.16.1.251", 8080, 3 * SEC), None);
}

#[test]
fn sniffer_sees_injected_vrrp_frame() {
    if !require_root() {
        return;
    }
    let (_lab, hosts) = Lab::standard("sniff");
    let sniff2 = hosts[1].sniff("ext0");
    let sniff1 = hosts[0].sniff("ext0");
    // A VRRPv2-looking frame from bal1 to 224.0.0.18 (01:00:5e:00:00:12), vrid 51, prio 100.
    // Its IPv4 header checksum is left 0 (invalid): the switch must still forward it.
    let mut f = Vec::new();
    f.extend_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    f.extend_from_slice(&[0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
    f.extend_from_slice(&[0x08, 0x00]);
    let ip = [
        0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 172, 16, 1, 250, 224, 0, 0, 18,
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[
        0x21, 51, 100, 1, 0, 1, 0, 0, 172, 16, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    hosts[0].send_frame("ext0", &f);

    let got = sniff2
        .wait_for(5 * SEC, |fr| fr.is_vrrp())
        .expect("bal2 saw the advert");
    assert_eq!(got.vrrp_header(), Some((2, 51, 100)));
    assert_eq!(got.src_mac(), "00:00:5e:00:01:33");
    assert_eq!(got.dst_mac(), "01:00:5e:00:00:12");
    assert_eq!(got.ip_ttl(), Some(255));
    assert_eq!(got.ip_src(), Some("172.16.1.250".parse().unwrap()));
    assert_eq!(got.ip_dst(), Some("224.0.0.18".parse().unwrap()));
    assert!(!got.outgoing);
    assert!(got.kernel_time.is_some());
    let own = sniff1
        .wait_for(5 * SEC, |fr| fr.is_vrrp())
        .expect("bal1 saw its own frame");
    assert!(own.outgoing);

    // ARP: the client resolving bal2 shows up as an ARP request from the client's MAC.
    let sniff3 = hosts[2].sniff("ext0");
    assert!(hosts[3].ping_until(hosts[1].addr(), 5 * SEC));
    let arp = sniff3
        .wait_for(5 * SEC, |fr| fr.arp().is_some())
        .expect("broadcast ARP reaches bal3");
    let (op, sha, spa, tpa) = arp.arp().unwrap();
    assert_eq!(op, 1);
    assert_eq!(sha, hosts[3].initial_mac());
    assert_eq!(spa.to_string(), "172.16.1.100");
    assert_eq!(tpa.to_string(), "172.16.1.251");
    let all = sniff2.stop();
    assert!(all.iter().any(|f| f.is_vrrp()));

    // Intervals between frames, as a test of an advertisement interval would use them.
    let sniff = hosts[3].sniff("ext0");
    for _ in 0..3 {
        hosts[0].send_frame("ext0", &f);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(wait_until(5 * SEC, Duration::from_millis(5), || sniff
        .filter(|fr| fr.is_vrrp())
        .len()
        == 3));
    let gaps = sniff.intervals(|fr| fr.is_vrrp());
    assert_eq!(gaps.len(), 2);
    for g in gaps {
        assert!(g >= Duration::from_millis(50) && g < 3 * SEC, "{g:?}");
    }
}

#[test]
fn spawn_vrrpd_binary_in_namespace() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("bin");
    let cfg = write_config(lab.dir(), "vrrp.toml", "# empty\n");
    let mut p = hosts[0].spawn_vrrpd(&cfg, &["--version"], "vrrpd.log");
    let st = p.wait_exit(10 * SEC).expect("vrrpd --version exits");
    assert!(st.success(), "{st:?}: {}", p.log());
    assert!(p.log().contains("vrrpd"), "{}", p.log());
}

#[test]
fn ipv6_between_hosts() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new("v6");
    let br = lab.add_bridge("lan");
    let a = lab.add_host("a", &br, "ext0", "fd00:16::1/64");
    let b = lab.add_host("b", &br, "ext0", "fd00:16::2/64");
    // Usable at once (no DAD): neither address nor link-local is tentative.
    let addrs = a.ip(&["-o", "-6", "addr", "show", "dev", "ext0"]);
    assert!(addrs.contains("fe80::"), "{addrs}");
    assert!(!addrs.contains("tentative"), "{addrs}");
    assert!(a.has_addr("fd00:16::1"));
    assert!(!a.has_addr("fd00:16::2"));
    // Neighbour discovery (multicast) and echo across the bridge.
    assert!(a.ping_until("fd00:16::2", 5 * SEC));
    assert_eq!(a.neigh("fd00:16::2"), Some(b.initial_mac().to_string()));
    b.add_addr("ext0", "fd00:16::99/64");
    assert!(a.ping_until("fd00:16::99", 5 * SEC));
    assert_eq!(holders(&[a, b], "fd00:16::99"), ["b"]);
}
