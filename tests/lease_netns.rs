//! VIP leases against the real kernel, in namespaces this test creates: an
//! address added with a lifetime goes by the kernel's hand unless renewed;
//! a renewal keeps it with exactly one `RTM_NEWADDR` and nothing on the wire;
//! a batch renews a thousand addresses in a few `sendmsg` calls; failures
//! come back per address; the announce interface is made once; a lease on
//! a VIP does not touch the subnet route it shares with the primary address.
//!
//! Needs root; without it every test prints `SKIPPED (not root)` and passes,
//! unless `VRRPD_REQUIRE_NETNS=1`.

mod common;

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::sync::mpsc::Receiver;
use vrrpd::io::netlink::{LeaseRenewer, LeasedAddr, Lifetime};
use vrrpd::io::{NetEvent, Netlink};

/// The lease used throughout: the default of `global.vip_lease`.
const LEASE_SECS: u32 = 2;

/// A lab with one host `bal` (ext0 192.0.2.1/24, 2001:db8:1::1/64) and a
/// silent `peer` on the same bridge.
fn lab(tag: &str) -> (Lab, Host) {
    let mut lab = Lab::new(tag);
    let br = lab.add_bridge("lan");
    let bal = lab.add_host("bal", &br, "ext0", "192.0.2.1/24");
    bal.add_addr("ext0", "2001:db8:1::1/64");
    let _peer = lab.add_host("peer", &br, "ext0", "192.0.2.2/24");
    (lab, bal)
}

/// Runs `f` on a current-thread runtime inside `host`'s namespace.
fn run<F, Fut, R>(host: &Host, f: F) -> R
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = R>,
    R: Send,
{
    host.in_netns(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
}

fn lease() -> Lifetime {
    Lifetime::from_secs(LEASE_SECS).expect("lifetime")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// What the event subscription saw of one address.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// `RTM_NEWADDR` notifications before the removal.
    added: usize,
    /// When its `RTM_DELADDR` arrived.
    removed: Option<Instant>,
}

/// Reads events until every address of `addrs` was removed (or `limit`
/// passed); what was seen of each, in the order of `addrs`.
async fn watch(events: &mut Receiver<NetEvent>, addrs: &[IpAddr], limit: Duration) -> Vec<Seen> {
    let mut seen = vec![Seen::default(); addrs.len()];
    let deadline = tokio::time::Instant::now() + limit;
    while seen.iter().any(|s| s.removed.is_none()) {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) | Err(_) => break,
        };
        let (addr, removal) = match ev {
            NetEvent::AddrAdded { addr, .. } => (addr, false),
            NetEvent::AddrRemoved { addr, .. } => (addr, true),
            NetEvent::Overrun => panic!("event subscription overran"),
            NetEvent::Link { .. } => continue,
        };
        if let Some(i) = addrs.iter().position(|a| *a == addr) {
            let s = &mut seen[i];
            if s.removed.is_some() {
                continue;
            }
            if removal {
                s.removed = Some(Instant::now());
            } else {
                s.added += 1;
            }
        }
    }
    seen
}

/// `ip route show table local` holds a route for `addr`.
fn local_route(host: &Host, addr: &str) -> bool {
    let fam = if addr.contains(':') { "-6" } else { "-4" };
    host.ip(&[fam, "route", "show", "table", "local"])
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(addr))
}

/// Adds `addr/len` on `dev` with the lease, checks the kernel holds it with
/// a finite lifetime, and that it goes, with its local route, no sooner than
/// the lease allows (minus the kernel's 20 ms rounding) and within a
/// generous bound.
fn expires_unless_renewed(bal: &Host, dev: &'static str, addr: &'static str, len: u8) {
    let a = ip(addr);
    let (took, valid) = run(bal, || async move {
        let nl = Netlink::new().expect("netlink");
        let mut events = nl.subscribe().expect("subscribe");
        let link = nl.link_by_name(dev).await.expect("link").expect(dev);
        let t0 = Instant::now();
        nl.add_address_leased(link.index, a, len, lease())
            .await
            .expect("add leased");
        let valid = nl
            .address_lifetimes(link.index)
            .await
            .expect("dump")
            .into_iter()
            .find(|e| e.addr == a)
            .map(|e| e.valid_secs);
        let seen = watch(&mut events, &[a], Duration::from_secs(15)).await;
        (seen[0].removed.map(|g| g - t0), valid)
    });
    assert_eq!(
        valid,
        Some(Some(LEASE_SECS)),
        "{addr}: not held with a {LEASE_SECS} s lifetime"
    );
    let took = took.unwrap_or_else(|| panic!("{addr} on {dev} still there after 15 s"));
    assert!(
        took >= Duration::from_millis(u64::from(LEASE_SECS) * 1000 - 100),
        "{addr} went after {took:?}, before its {LEASE_SECS} s lease ran out"
    );
    assert!(!bal.has_addr(addr), "{addr} still listed");
    assert!(!local_route(bal, addr), "the local route of {addr} stayed");
    loud(&format!(
        "[lease] {addr}/{len} on {dev}: gone {took:?} after the add ({LEASE_SECS} s lease)"
    ));
}

#[test]
fn a_leased_address_expires_unless_renewed() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leaseexp");
    bal.ip(&["link", "add", "vrrpd0", "type", "ifb"]);
    bal.link_set("vrrpd0", true);
    // Threads, so that the four waits overlap.
    std::thread::scope(|s| {
        for (dev, addr, len) in [
            ("ext0", "192.0.2.254", 24u8),
            ("ext0", "2001:db8:1::254", 64),
            ("vrrpd0", "198.51.100.10", 32),
            ("vrrpd0", "2001:db8:9::10", 128),
        ] {
            let bal = bal.clone();
            s.spawn(move || expires_unless_renewed(&bal, dev, addr, len));
        }
    });
    // The primaries and their subnet routes are untouched.
    assert!(bal.has_addr("192.0.2.1") && bal.has_addr("2001:db8:1::1"));
    // A plain add stays permanent.
    let valid = run(&bal, || async {
        let nl = Netlink::new().expect("netlink");
        let link = nl.link_by_name("ext0").await.expect("link").expect("ext0");
        nl.add_address(link.index, ip("192.0.2.253"), 24)
            .await
            .expect("add");
        nl.address_lifetimes(link.index)
            .await
            .expect("dump")
            .into_iter()
            .find(|e| e.addr == ip("192.0.2.253"))
            .map(|e| e.valid_secs)
    });
    assert_eq!(valid, Some(None), "add_address must stay permanent");
}

#[test]
fn renewals_keep_the_address_with_one_event_each_and_nothing_on_the_wire() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leaserenew");
    let sniff = bal.sniff("ext0");
    const ROUNDS: usize = 8;
    let (v4, v6) = (ip("192.0.2.254"), ip("2001:db8:1::254"));
    let (seen, renewed_until) = run(&bal, || async move {
        let nl = Netlink::new().expect("netlink");
        let mut events = nl.subscribe().expect("subscribe");
        let link = nl.link_by_name("ext0").await.expect("link").expect("ext0");
        let held = [
            LeasedAddr {
                ifindex: link.index,
                addr: v4,
                prefix_len: 24,
            },
            LeasedAddr {
                ifindex: link.index,
                addr: v6,
                prefix_len: 64,
            },
        ];
        for a in &held {
            nl.add_address_leased(a.ifindex, a.addr, a.prefix_len, lease())
                .await
                .expect("add");
        }
        let mut renewer = LeaseRenewer::new().expect("renewer");
        // Renewed every 500 ms (as the daemon does with vip_lease_renew =
        // "500ms") for twice the lease: without the renewals both would be gone.
        for _ in 0..ROUNDS {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let r = renewer.renew(&held, lease()).expect("renew");
            assert_eq!((r.messages, r.sends), (2, 1), "{r:?}");
            assert!(r.failed.is_empty() && !r.answers_lost, "{r:?}");
        }
        let renewed_until = Instant::now();
        // Then no more renewals: the leases run out.
        let seen = watch(&mut events, &[v4, v6], Duration::from_secs(15)).await;
        (seen, renewed_until)
    });
    for (s, a) in seen.iter().zip([v4, v6]) {
        let removed = s
            .removed
            .unwrap_or_else(|| panic!("{a}: the lease did not run out after the renewals stopped"));
        assert!(removed > renewed_until, "{a} went while it was renewed");
        assert_eq!(
            s.added,
            ROUNDS + 1,
            "{a}: RTM_NEWADDR expected once for the add and once per renewal"
        );
    }
    // Nothing on the wire from bal: no gratuitous ARP, no neighbour advertisement.
    let mine = bal.initial_mac().to_string();
    let announced = sniff.filter(|f| {
        f.src_mac() == mine
            && (f.ethertype() == 0x0806
                || (f.ip_proto() == Some(58)
                    && f.ip_payload().and_then(|p| p.first()) == Some(&136)))
    });
    assert!(
        announced.is_empty(),
        "renewals put {} ARP/NA frames on the wire",
        announced.len()
    );
}

#[test]
fn a_batch_renews_a_thousand_addresses_in_eight_sends() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leasebatch");
    let (first, second, count, took, left) = run(&bal, || async {
        let nl = Netlink::new().expect("netlink");
        let link = nl
            .ensure_announce_link("vrrpd0")
            .await
            .expect("announce link")
            .link;
        let held: Vec<LeasedAddr> = (0..1000u32)
            .map(|i| LeasedAddr {
                ifindex: link.index,
                addr: IpAddr::from([10, 77, (i / 250) as u8, (i % 250 + 1) as u8]),
                prefix_len: 32,
            })
            .collect();
        let mut renewer = LeaseRenewer::new().expect("renewer");
        // The first renewal adds them (a renewal re-creates what is missing).
        let first = renewer.renew(&held, lease()).expect("renew");
        let t = Instant::now();
        let second = renewer.renew(&held, lease()).expect("renew");
        let took = t.elapsed();
        let leased = nl
            .address_lifetimes(link.index)
            .await
            .expect("dump")
            .into_iter()
            .filter(|e| e.valid_secs.is_some_and(|v| v <= LEASE_SECS))
            .count();
        // Without renewals they all go.
        let mut left = leased;
        let deadline = Instant::now() + Duration::from_secs(15);
        while left > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = nl
                .addresses(link.index)
                .await
                .expect("dump")
                .iter()
                .filter(|(a, _)| a.is_ipv4())
                .count();
        }
        (first, second, leased, took, left)
    });
    for r in [&first, &second] {
        assert_eq!(r.messages, 1000, "{r:?}");
        assert_eq!(r.sends, 8, "1000 renewals in chunks of 128: {r:?}");
        assert!(r.failed.is_empty() && !r.answers_lost, "{r:?}");
    }
    assert_eq!(count, 1000, "addresses held with a lease");
    assert_eq!(left, 0, "addresses left after the leases ran out");
    loud(&format!(
        "[lease] 1000 renewals in {} sendmsg calls took {took:?} (one sample, not a benchmark)",
        second.sends
    ));
}

#[test]
fn renewal_failures_are_reported_per_address() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leasefail");
    let (report, valid) = run(&bal, || async {
        let nl = Netlink::new().expect("netlink");
        let link = nl.link_by_name("ext0").await.expect("link").expect("ext0");
        let good = |n: u8| LeasedAddr {
            ifindex: link.index,
            addr: IpAddr::from([192, 0, 2, n]),
            prefix_len: 24,
        };
        let bad = LeasedAddr {
            ifindex: 9999,
            addr: ip("192.0.2.77"),
            prefix_len: 24,
        };
        let mut renewer = LeaseRenewer::new().expect("renewer");
        let report = renewer
            .renew(&[good(10), bad, good(11)], lease())
            .expect("renew");
        let valid: Vec<Option<u32>> = nl
            .address_lifetimes(link.index)
            .await
            .expect("dump")
            .into_iter()
            .filter(|e| e.addr == good(10).addr || e.addr == good(11).addr)
            .map(|e| e.valid_secs)
            .collect();
        (report, valid)
    });
    assert_eq!(report.messages, 3);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0.ifindex, 9999);
    assert_eq!(report.failed[0].1, libc::ENODEV, "{report:?}");
    assert_eq!(
        valid,
        vec![Some(LEASE_SECS); 2],
        "the good ones were renewed"
    );
}

/// The kernel adds the address even for a plain replace: a renewal is
/// "hold this for another lease", so only the owner of the VIP state may
/// send it, and never after removing the address.
#[test]
fn a_renewal_re_adds_an_address_that_is_gone() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leasereadd");
    run(&bal, || async {
        let nl = Netlink::new().expect("netlink");
        let link = nl.link_by_name("ext0").await.expect("link").expect("ext0");
        let a = LeasedAddr {
            ifindex: link.index,
            addr: ip("192.0.2.254"),
            prefix_len: 24,
        };
        nl.add_address_leased(a.ifindex, a.addr, a.prefix_len, lease())
            .await
            .expect("add");
        nl.del_address(a.ifindex, a.addr, a.prefix_len)
            .await
            .expect("del");
        assert!(!nl
            .addresses(link.index)
            .await
            .expect("dump")
            .contains(&(a.addr, 24)));
        let r = LeaseRenewer::new()
            .expect("renewer")
            .renew(&[a], lease())
            .expect("renew");
        assert!(r.failed.is_empty(), "{r:?}");
        assert!(nl
            .addresses(link.index)
            .await
            .expect("dump")
            .contains(&(a.addr, 24)));
    });
}

#[test]
fn the_announce_interface_is_made_once_and_reused() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leaseannif");
    let (made, again, lo) = run(&bal, || async {
        let nl = Netlink::new().expect("netlink");
        let made = nl.ensure_announce_link("vrrpd0").await.expect("create");
        let again = nl.ensure_announce_link("vrrpd0").await.expect("reuse");
        let lo = nl.ensure_announce_link("lo").await.expect("lo");
        (made, again, lo)
    });
    assert!(matches!(made.created_as, Some("dummy" | "ifb")), "{made:?}");
    assert!(made.link.up, "{made:?}");
    assert_eq!(again.created_as, None);
    assert_eq!(again.link.index, made.link.index);
    assert_eq!(lo.created_as, None);
    assert!(lo.link.up);
    let kind = bal.ip(&["-d", "link", "show", "dev", "vrrpd0"]);
    assert!(
        kind.contains(made.created_as.unwrap_or("?")),
        "vrrpd0 is not a {:?}: {kind}",
        made.created_as
    );
    loud(&format!(
        "[lease] announce interface created as {:?}",
        made.created_as
    ));
}

/// A VIP in the subnet of the interface's own (permanent) address: renewed,
/// then left to expire. The subnet route belongs to the primary and must
/// neither go nor get an expiry (IPv6 puts a lifetime on prefix routes of
/// addresses with one).
#[test]
fn a_lease_on_a_vip_leaves_the_subnet_route_alone() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leasesubnet");
    let vips = [(ip("192.0.2.254"), 24u8), (ip("2001:db8:1::254"), 64)];
    run(&bal, || async move {
        let nl = Netlink::new().expect("netlink");
        let mut events = nl.subscribe().expect("subscribe");
        let link = nl.link_by_name("ext0").await.expect("link").expect("ext0");
        let held: Vec<LeasedAddr> = vips
            .iter()
            .map(|(a, l)| LeasedAddr {
                ifindex: link.index,
                addr: *a,
                prefix_len: *l,
            })
            .collect();
        for a in &held {
            nl.add_address_leased(a.ifindex, a.addr, a.prefix_len, lease())
                .await
                .expect("add");
        }
        let mut renewer = LeaseRenewer::new().expect("renewer");
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            renewer.renew(&held, lease()).expect("renew");
        }
        let addrs: Vec<IpAddr> = vips.iter().map(|(a, _)| *a).collect();
        let seen = watch(&mut events, &addrs, Duration::from_secs(15)).await;
        for (s, a) in seen.iter().zip(&addrs) {
            assert!(s.removed.is_some(), "{a} did not expire");
        }
    });
    let v4 = bal.ip(&["-4", "route", "show", "dev", "ext0"]);
    assert!(
        v4.lines().any(|l| l.starts_with("192.0.2.0/24")),
        "IPv4 subnet route gone: {v4}"
    );
    let v6 = bal.ip(&["-6", "route", "show", "dev", "ext0"]);
    let subnet: Vec<&str> = v6
        .lines()
        .filter(|l| l.starts_with("2001:db8:1::/64"))
        .collect();
    assert_eq!(subnet.len(), 1, "IPv6 subnet route: {v6}");
    assert!(
        !subnet[0].contains("expires"),
        "the lease put an expiry on the shared subnet route: {}",
        subnet[0]
    );
    assert!(bal.ping("192.0.2.2"), "the subnet is unreachable");
}

/// vrrpd itself, master alone on the link with the default lease: every
/// VIP is renewed every second with exactly one `RTM_NEWADDR` (what `ip
/// monitor` shows), never removed, and no gratuitous ARP goes out after the
/// two bursts of becoming master.
#[test]
fn the_daemon_renews_its_vips_quietly() {
    if !require_root() {
        return;
    }
    let (lab, bal) = lab("leasedaemon");
    let sock = lab.dir().join("vrrpd.sock");
    let cfg = write_config(
        lab.dir(),
        "vrrpd.toml",
        &format!(
            "[global]\ncontrol_socket = \"{}\"\n\n[[instance]]\nname = \"VI_1\"\n\
             interface = \"ext0\"\nvrid = 12\nadvert_interval = \"100ms\"\n\
             garp_master_delay = \"1s\"\nvirtual_ips = [\"192.0.2.254/24\"]\n",
            sock.display()
        ),
    );
    let vrrpd = bal.spawn_vrrpd(&cfg, &[], "vrrpd.log");
    assert!(
        wait_until(Duration::from_secs(15), Duration::from_millis(20), || bal
            .has_addr("192.0.2.254")),
        "never master:\n{}",
        vrrpd.log()
    );
    // Past both GARP bursts (at once, and garp_master_delay = 1 s later).
    std::thread::sleep(Duration::from_millis(1500));
    let sniff = bal.sniff("ext0");
    const WINDOW: Duration = Duration::from_secs(4);
    let vip = ip("192.0.2.254");
    let (added, removed) = run(&bal, || async move {
        let nl = Netlink::new().expect("netlink");
        let mut events = nl.subscribe().expect("subscribe");
        let (mut added, mut removed) = (0, 0);
        let end = tokio::time::Instant::now() + WINDOW;
        while let Ok(Some(ev)) = tokio::time::timeout_at(end, events.recv()).await {
            match ev {
                NetEvent::AddrAdded { addr, .. } if addr == vip => added += 1,
                NetEvent::AddrRemoved { addr, .. } if addr == vip => removed += 1,
                NetEvent::Overrun => panic!("overrun"),
                _ => {}
            }
        }
        (added, removed)
    });
    let garps = sniff.filter(|f| {
        f.arp()
            .is_some_and(|(_, _, sender, _)| sender.to_string() == "192.0.2.254")
    });
    let st = vrrpd_status(&sock);
    assert_eq!(
        removed,
        0,
        "the VIP went while the daemon ran\n{}",
        vrrpd.log()
    );
    // 4 s at one renewal per second: 4, minus a slow machine's late wake-up;
    // never more (one event per renewal).
    assert!(
        (3..=5).contains(&added),
        "{added} RTM_NEWADDR for the VIP in {WINDOW:?}, expected about 4\n{st}"
    );
    assert!(
        garps.is_empty(),
        "{} gratuitous ARPs during renewals",
        garps.len()
    );
    assert_eq!(st["leases"]["lifetime_s"], 2, "{st}");
    assert_eq!(st["leases"]["renew_every_ms"], 1000, "{st}");
    assert_eq!(st["leases"]["held"], 1, "{st}");
    assert!(st["leases"]["renewals"].as_u64().unwrap_or(0) >= 3, "{st}");
    assert_eq!(st["leases"]["renewal_failures"], 0, "{st}");
    loud(&format!(
        "[lease] the daemon: {added} RTM_NEWADDR for its VIP in {WINDOW:?}, no GARP"
    ));
}

/// `vip_lease = "0s"`: no lease, the VIP is permanent (the old behaviour).
#[test]
fn leases_can_be_turned_off() {
    if !require_root() {
        return;
    }
    let (lab, bal) = lab("leaseoff");
    let sock = lab.dir().join("vrrpd.sock");
    let cfg = write_config(
        lab.dir(),
        "vrrpd.toml",
        &format!(
            "[global]\ncontrol_socket = \"{}\"\nvip_lease = \"0s\"\n\n[[instance]]\n\
             name = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\nadvert_interval = \"100ms\"\n\
             virtual_ips = [\"192.0.2.254/24\"]\n",
            sock.display()
        ),
    );
    let vrrpd = bal.spawn_vrrpd(&cfg, &[], "vrrpd.log");
    assert!(
        wait_until(Duration::from_secs(15), Duration::from_millis(20), || bal
            .has_addr("192.0.2.254")),
        "never master:\n{}",
        vrrpd.log()
    );
    let out = bal.ip(&["-4", "addr", "show", "dev", "ext0"]);
    let line = out
        .lines()
        .skip_while(|l| !l.contains("192.0.2.254"))
        .nth(1)
        .unwrap_or_default();
    assert!(line.contains("valid_lft forever"), "not permanent: {out}");
    let st = vrrpd_status(&sock);
    assert_eq!(st["leases"]["lifetime_s"], 0, "{st}");
    assert_eq!(st["leases"]["held"], 0, "{st}");
}

// ---------------------------------------------------------------------------
// Benchmark (ignored by default: it measures, it does not assert speed).
//
//   cargo test --release --test lease_netns -- --ignored --nocapture --test-threads 1
//
// Prints (docs/BGP.md quotes it): how late after the lease the kernel
// removes an unrenewed address (IPv4 and IPv6, 20 runs each), and what one
// renewal batch costs at 1, 100 and 1000 addresses (wall and thread CPU
// time, 50 batches each), with nobody and with one listener subscribed to
// address events.

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct we pass; RUSAGE_THREAD is
    // valid on Linux for the calling thread.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Median, p95 and max of `v` (sorted in place).
fn stats(v: &mut [Duration]) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:>9.3?}  p95 {:>9.3?}  max {:>9.3?}  (n={})",
        at(0.5),
        at(0.95),
        v[v.len() - 1],
        v.len()
    )
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_lease_expiry_and_renewal_cost() {
    if !require_root() {
        return;
    }
    let (_lab, bal) = lab("leasebench");
    const RUNS: usize = 20;
    // 1. Expiry lag: time from the last renewal to RTM_DELADDR, minus the lease.
    for (name, dev, addr, len) in [
        ("IPv4 /24 on ext0", "ext0", "192.0.2.254", 24u8),
        ("IPv6 /64 on ext0", "ext0", "2001:db8:1::254", 64),
    ] {
        let a = ip(addr);
        let mut lags: Vec<Duration> = run(&bal, || async move {
            let nl = Netlink::new().expect("netlink");
            let mut events = nl.subscribe().expect("subscribe");
            let link = nl.link_by_name(dev).await.expect("link").expect(dev);
            let held = [LeasedAddr {
                ifindex: link.index,
                addr: a,
                prefix_len: len,
            }];
            let mut renewer = LeaseRenewer::new().expect("renewer");
            let mut lags = Vec::new();
            for i in 0..RUNS {
                nl.add_address_leased(link.index, a, len, lease())
                    .await
                    .expect("add");
                // Renew at a varying phase of the kernel's second, like a
                // daemon that was SIGKILLed at any moment.
                tokio::time::sleep(Duration::from_millis(300 + 37 * i as u64)).await;
                renewer.renew(&held, lease()).expect("renew");
                let last = Instant::now();
                let seen = watch(&mut events, &[a], Duration::from_secs(15)).await;
                let gone = seen[0].removed.expect("expired");
                lags.push((gone - last).saturating_sub(Duration::from_secs(u64::from(LEASE_SECS))));
            }
            lags
        });
        loud(&format!(
            "[lease-bench] {name}: removed after the {LEASE_SECS} s lease + {}",
            stats(&mut lags)
        ));
    }
    // 2. Renewal cost per batch.
    for listener in [false, true] {
        for n in [1usize, 100, 1000] {
            let (mut wall, mut cpu) = run(&bal, || async move {
                let nl = Netlink::new().expect("netlink");
                let _events = if listener {
                    Some(nl.subscribe().expect("subscribe"))
                } else {
                    None
                };
                let link = nl.ensure_announce_link("vrrpd0").await.expect("link").link;
                let held: Vec<LeasedAddr> = (0..n as u32)
                    .map(|i| LeasedAddr {
                        ifindex: link.index,
                        addr: IpAddr::from([10, 88, (i / 250) as u8, (i % 250 + 1) as u8]),
                        prefix_len: 32,
                    })
                    .collect();
                let mut renewer = LeaseRenewer::new().expect("renewer");
                renewer.renew(&held, lease()).expect("first renew adds");
                let (mut wall, mut cpu) = (Vec::new(), Vec::new());
                for _ in 0..50 {
                    // Give the listener time to drain (its queue holds 1024).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let (t, c) = (Instant::now(), thread_cpu());
                    let r = renewer.renew(&held, lease()).expect("renew");
                    wall.push(t.elapsed());
                    cpu.push(thread_cpu() - c);
                    assert!(r.failed.is_empty());
                }
                for a in &held {
                    nl.del_address(a.ifindex, a.addr, a.prefix_len)
                        .await
                        .expect("del");
                }
                (wall, cpu)
            });
            let l = if listener {
                "1 listener"
            } else {
                "no listener"
            };
            loud(&format!(
                "[lease-bench] renew {n:>4} addresses ({l:>11}): wall {}",
                stats(&mut wall)
            ));
            loud(&format!(
                "[lease-bench] renew {n:>4} addresses ({l:>11}): cpu  {}",
                stats(&mut cpu)
            ));
        }
    }
}
