//! BGP announcement by kernel hand-off, with real FRR 8.4 and BIRD 2.0.12 in
//! namespaces this test creates: a VIP held as a leased /32 on the announce
//! interface `vrrpd0` reaches the upstream router's FIB through the
//! balancer's BGP speaker, leaves it when the address is removed, and leaves
//! it within the lease when nobody renews it (what a SIGKILLed vrrpd does).
//! The speakers run the configuration files of `config/bgp/` unchanged
//! (placeholders filled in), the ones docs/BGP.md quotes.
//!
//! Topology (the lab's `--l3 bgp` layout, addresses included): router `rtr`
//! (FRR zebra, bgpd, bfdd; AS 65000) with interface `balN` 10.1.N.1/24 on
//! bridge `upN`; balancer `balN` with `up0` 10.1.N.2/24 (AS 65001).
//!
//! Needs root, FRR and BIRD; without them every test prints `SKIPPED` and
//! passes, unless `VRRPD_REQUIRE_NETNS=1`.

mod bgp_common;
mod common;
mod interop_common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgp_common::*;
use common::*;
use interop_common::{expect_steady, expect_within, tail};
use vrrpd::io::netlink::{LeaseRenewer, LeasedAddr, Lifetime};
use vrrpd::io::Netlink;

// ---------------------------------------------------------------------------
// A stand-in for vrrpd's VIP handling: holds the VIP as a leased /32 on
// vrrpd0 and renews it, on a thread inside a balancer's namespace.

enum Cmd {
    /// Add the VIP (creating vrrpd0 if needed) and renew it.
    Hold,
    /// Remove the VIP (what vrrpd does on BACKUP, FAULT, stop).
    Release,
    /// Stop renewing, leave the VIP (what a SIGKILLed vrrpd leaves).
    Freeze,
    Quit,
}

struct Holder {
    tx: std_mpsc::Sender<(Cmd, std_mpsc::Sender<Instant>)>,
    handle: Option<JoinHandle<()>>,
}

impl Holder {
    fn start(host: &Host) -> Holder {
        let (tx, rx) = std_mpsc::channel::<(Cmd, std_mpsc::Sender<Instant>)>();
        let handle = host.spawn_in_netns(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let nl = Netlink::new().expect("netlink");
                let mut renewer = LeaseRenewer::new().expect("renewer");
                let lease = Lifetime::from_secs(LEASE_SECS).expect("lease");
                let vip: IpAddr = VIP.parse().expect("vip");
                let mut held: Option<LeasedAddr> = None;
                let mut renewing = false;
                loop {
                    let cmd = match rx.recv_timeout(RENEW_EVERY) {
                        Ok(c) => Some(c),
                        Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                        Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                    };
                    match cmd {
                        None => {}
                        Some((Cmd::Hold, done)) => {
                            let link = nl
                                .ensure_announce_link("vrrpd0")
                                .await
                                .expect("announce link")
                                .link;
                            nl.add_address_leased(link.index, vip, 32, lease)
                                .await
                                .expect("add VIP");
                            held = Some(LeasedAddr {
                                ifindex: link.index,
                                addr: vip,
                                prefix_len: 32,
                            });
                            renewing = true;
                            let _ = done.send(Instant::now());
                        }
                        Some((Cmd::Release, done)) => {
                            if let Some(a) = held.take() {
                                nl.del_address(a.ifindex, a.addr, a.prefix_len)
                                    .await
                                    .expect("remove VIP");
                            }
                            renewing = false;
                            let _ = done.send(Instant::now());
                        }
                        Some((Cmd::Freeze, done)) => {
                            renewing = false;
                            let _ = done.send(Instant::now());
                            continue;
                        }
                        Some((Cmd::Quit, _)) => return,
                    }
                    if let (true, Some(a)) = (renewing, held) {
                        let r = renewer.renew(&[a], lease).expect("renew");
                        assert!(r.failed.is_empty(), "renewal failed: {r:?}");
                    }
                }
            });
        });
        Holder {
            tx,
            handle: Some(handle),
        }
    }

    /// Sends `cmd` and waits until it is carried out; returns when.
    fn cmd(&self, cmd: Cmd) -> Instant {
        let (done_tx, done_rx) = std_mpsc::channel();
        self.tx.send((cmd, done_tx)).expect("holder alive");
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("holder answered")
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let (done_tx, _) = std_mpsc::channel();
        let _ = self.tx.send((Cmd::Quit, done_tx));
        if let Some(h) = self.handle.take() {
            if let Err(e) = h.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(e);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The tests.

/// BGP UPDATEs the router has received from `peer`.
fn updates_from(rtr: &Frr, peer: &str) -> u64 {
    let text = rtr.vtysh("bgpd", &format!("show bgp neighbor {peer} json"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v[peer]["messageStats"]["updatesRecv"]
        .as_u64()
        .unwrap_or_else(|| panic!("no updatesRecv for {peer} in {text}"))
}

/// The upstream router installs the VIP while the balancer holds it (and
/// keeps it while the lease is renewed, without a BGP UPDATE for the
/// renewals), drops it when the balancer removes it, and drops it when
/// nobody renews the lease any more.
fn announce_and_withdraw(l: &BgpLab, rtr: &Frr, ctx: &dyn Fn() -> String) {
    let holder = Holder::start(&l.bals[0]);
    let one = vec!["bal1".to_string()];
    holder.cmd(Cmd::Hold);
    expect_within(
        SESSION_UP,
        "VIP in the router's FIB",
        || l.fib() == one,
        ctx,
    );
    // Renewed: stays, for longer than the lease.
    let steady = Duration::from_secs(u64::from(LEASE_SECS) * 2);
    expect_steady(steady, "VIP stays while renewed", || l.fib() == one, ctx);
    // And the renewals send nothing over BGP (an unchanged address is no
    // route change). Counted only now: both speakers exchange a route
    // refresh and resend their routes in the first seconds of a session.
    // This window holds 8 renewals; one UPDATE each would be 8.
    let updates = updates_from(rtr, "10.1.1.2");
    expect_steady(steady, "VIP stays while renewed", || l.fib() == one, ctx);
    let more = updates_from(rtr, "10.1.1.2") - updates;
    assert!(
        more <= 1,
        "{more} BGP UPDATEs during {steady:?} of renewals every {RENEW_EVERY:?}\n{}",
        ctx()
    );
    let t = holder.cmd(Cmd::Release);
    expect_within(
        Duration::from_secs(10),
        "withdrawn after removal",
        || l.fib().is_empty(),
        ctx,
    );
    loud(&format!(
        "[bgp] removal -> router FIB without the VIP: {:?}",
        t.elapsed()
    ));

    holder.cmd(Cmd::Hold);
    expect_within(Duration::from_secs(20), "VIP back", || l.fib() == one, ctx);
    holder.cmd(Cmd::Freeze);
    // The last renewal was at most RENEW_EVERY before the freeze; the
    // kernel removes the VIP a lease after it, BGP withdraws in a few ms.
    let bound = Duration::from_secs(u64::from(LEASE_SECS) + 5);
    let took = measure_until(bound, || l.fib().is_empty()).unwrap_or_else(|| {
        panic!(
            "VIP still in the router's FIB {bound:?} after renewals stopped\n{}",
            ctx()
        )
    });
    assert!(!l.bals[0].has_addr(VIP), "the VIP outlived its lease");
    loud(&format!(
        "[bgp] renewals stopped -> router FIB without the VIP: {took:?} (lease {LEASE_SECS} s, renewed every {RENEW_EVERY:?})"
    ));
}

#[test]
fn frr_announces_a_leased_vip_and_withdraws_it_with_the_address() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgpfrr", 1);
    let rtr = Frr::start(&l.rtr, &render("frr-router-bgpd.conf", 0));
    let bal = Frr::start(&l.bals[0], &render("frr-balancer-bgpd.conf", 1));
    let ctx = || format!("{}\n{}", rtr.logs(), bal.logs());
    expect_within(
        SESSION_UP,
        "BGP session",
        || rtr.established("10.1.1.2"),
        ctx,
    );
    // Nothing is announced before the VIP exists (the route-map admits
    // vrrpd0's addresses only: not up0's subnet).
    expect_steady(
        Duration::from_secs(2),
        "nothing announced",
        || l.fib().is_empty(),
        ctx,
    );
    let learned = rtr.vtysh("bgpd", "show bgp ipv4 unicast json");
    assert!(
        !learned.contains("10.1.1.0/24"),
        "the uplink subnet was announced: {learned}"
    );
    announce_and_withdraw(&l, &rtr, &ctx);
}

#[test]
fn bird_announces_a_leased_vip_and_withdraws_it_with_the_address() {
    if !tools_bird() {
        return;
    }
    let l = BgpLab::new("bgpbird", 1);
    let rtr = Frr::start(&l.rtr, &render("frr-router-bgpd.conf", 0));
    let bird = Bird::start(&l.bals[0], &render("bird-balancer.conf", 1));
    let ctx = || format!("{}\n{}", rtr.logs(), bird.logs());
    expect_within(
        SESSION_UP,
        "BGP session",
        || rtr.established("10.1.1.2") && bird.established(),
        ctx,
    );
    expect_steady(
        Duration::from_secs(2),
        "nothing announced",
        || l.fib().is_empty(),
        ctx,
    );
    announce_and_withdraw(&l, &rtr, &ctx);
}

/// Two balancers announce: the router installs both next hops (ECMP); one
/// withdraws (removal, then a lease running out) and only its next hop goes.
#[test]
fn frr_router_spreads_over_every_announcing_balancer_and_drops_one() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgpecmp", 2);
    let rtr = Frr::start(&l.rtr, &render("frr-router-bgpd.conf", 0));
    let b1 = Frr::start(&l.bals[0], &render("frr-balancer-bgpd.conf", 1));
    let b2 = Frr::start(&l.bals[1], &render("frr-balancer-bgpd.conf", 2));
    let ctx = || format!("{}\n{}\n{}", rtr.logs(), b1.logs(), b2.logs());
    expect_within(
        SESSION_UP,
        "both sessions",
        || rtr.established("10.1.1.2") && rtr.established("10.1.2.2"),
        ctx,
    );
    let (h1, h2) = (Holder::start(&l.bals[0]), Holder::start(&l.bals[1]));
    h1.cmd(Cmd::Hold);
    h2.cmd(Cmd::Hold);
    let both = vec!["bal1".to_string(), "bal2".to_string()];
    expect_within(
        Duration::from_secs(20),
        "ECMP over both",
        || l.fib() == both,
        ctx,
    );
    h2.cmd(Cmd::Release);
    expect_within(
        Duration::from_secs(10),
        "bal2 withdrawn, bal1 stays",
        || l.fib() == ["bal1"],
        ctx,
    );
    h2.cmd(Cmd::Hold);
    expect_within(
        Duration::from_secs(20),
        "bal2 back",
        || l.fib() == both,
        ctx,
    );
    h1.cmd(Cmd::Freeze);
    expect_within(
        Duration::from_secs(u64::from(LEASE_SECS) + 5),
        "bal1's lease ran out, bal2 stays",
        || l.fib() == ["bal2"],
        ctx,
    );
}

/// docs/BGP.md quotes the configuration files these tests run, as they are
/// (without their leading comment block).
#[test]
fn docs_quote_the_tested_configs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/BGP.md")).expect("docs/BGP.md");
    for file in [
        "frr-balancer-bgpd.conf",
        "frr-router-bgpd.conf",
        "frr-bfdd.conf",
        "bird-balancer.conf",
        "frr-balancer-bgpd-dualstack.conf",
        "frr-router-bgpd-dualstack.conf",
        "bird-balancer-dualstack.conf",
        "frr-balancer-bgpd-lo.conf",
    ] {
        let text = std::fs::read_to_string(root.join("config/bgp").join(file)).expect(file);
        let body: Vec<&str> = text
            .lines()
            .skip_while(|l| l.starts_with('!') || l.starts_with('#'))
            .collect();
        let body = body.join("\n");
        assert!(
            body.len() > 20 && doc.contains(&body),
            "docs/BGP.md does not quote config/bgp/{file} as it is:\n{body}"
        );
    }
}

// ---------------------------------------------------------------------------
// With vrrpd itself: announce = "bgp", VRRP on the heartbeat link.

/// How long a SIGKILLed vrrpd's route may outlive it: the 2 s lease after
/// the last renewal (at most 1 s before the kill), the kernel's rounding
/// (up to 0.33 s measured), BGP's withdrawal, and slack for a busy machine.
const LEASE_BOUND: Duration = Duration::from_millis(2330 + 2000);

/// A killed node's VIP (`gone` is true once it is) leaves within the lease
/// bound of the kill at `killed`. A read of the router's FIB can miss the
/// node's route before it is withdrawn: the backup takes over while the
/// killed node's lease still runs, its announcement joins the route (ECMP),
/// and an IPv6 route being replaced is not read atomically. So the VIP is
/// waited for, to the same bound, not taken to be gone with the route.
fn vip_gone_within_the_lease(killed: Instant, gone: impl Fn() -> bool, what: &str) {
    let left = LEASE_BOUND.saturating_sub(killed.elapsed());
    assert!(
        wait_until(left, Duration::from_millis(10), &gone) || gone(),
        "{what} outlived the lease: still there {:?} after the kill (bound {LEASE_BOUND:?})",
        killed.elapsed()
    );
}

/// A `[global]` line for tests of withdrawals by vrrpd itself: a lease
/// longer than any of their waits (10 s), so that a VIP vrrpd failed to
/// remove cannot go by its lease in time.
const LONG_LEASE: &str = "vip_lease = \"30s\"\n";

/// vrrpd on one balancer.
struct Vrrpd {
    host: Host,
    cfg: PathBuf,
    sock: PathBuf,
    /// The file tracker `health`: 0 healthy, 1 failed (weight 0: FAULT).
    health: PathBuf,
    proc: Option<Proc>,
}

impl Vrrpd {
    /// vrrpd on balancer `i` (1-based): VI_1 with the VIP, `announce = "bgp"`,
    /// and `mode` (`priority = N` for an election on hb0, or
    /// `active_active = true` on up0), tracking the file `health`.
    fn new(l: &BgpLab, i: usize, mode: &str) -> Vrrpd {
        Vrrpd::with_global(l, i, "", mode)
    }

    /// As [`Vrrpd::new`], with `global` lines (e.g. `vip_lease = "30s"\n`)
    /// in `[global]`.
    fn with_global(l: &BgpLab, i: usize, global: &str, mode: &str) -> Vrrpd {
        let iface = if mode.contains("active_active") {
            "up0"
        } else {
            "hb0"
        };
        let instance = format!(
            "[[instance]]\nname = \"VI_1\"\n\
             interface = \"{iface}\"\nvrid = 12\nadvert_interval = \"100ms\"\n\
             virtual_ips = [\"{VIP}/32\"]\nannounce = \"bgp\"\n{mode}\ntrack = [\"health\"]\n"
        );
        Vrrpd::with_instances(l, i, global, &instance)
    }

    /// Dual stack on balancer `i`: VI_4 with the IPv4 VIP and VI_6 with the
    /// IPv6 VIP (VRRPv3, an instance of its own: one family per instance),
    /// both on hb0 with VRID 12 and `priority`, `announce = "bgp"`, tracking
    /// the file `health`.
    fn dualstack(l: &BgpLab, i: usize, global: &str, priority: u8) -> Vrrpd {
        let mut instances = String::new();
        for (name, vip) in [
            ("VI_4", format!("{VIP}/32")),
            ("VI_6", format!("{VIP6}/128")),
        ] {
            instances.push_str(&format!(
                "[[instance]]\nname = \"{name}\"\ninterface = \"hb0\"\nvrid = 12\n\
                 version = 3\nadvert_interval = \"100ms\"\npriority = {priority}\n\
                 virtual_ips = [\"{vip}\"]\nannounce = \"bgp\"\ntrack = [\"health\"]\n\n"
            ));
        }
        Vrrpd::with_instances(l, i, global, &instances)
    }

    /// vrrpd on balancer `i` with `global` lines and the `[[instance]]`
    /// blocks `instances`, which may track the file tracker `health`.
    fn with_instances(l: &BgpLab, i: usize, global: &str, instances: &str) -> Vrrpd {
        let host = l.bals[i - 1].clone();
        let dir = l.lab.dir();
        let sock = dir.join(format!("vrrpd-bal{i}.sock"));
        let health = dir.join(format!("health-bal{i}"));
        std::fs::write(&health, "0\n").expect("health file");
        let toml = format!(
            "[global]\n{global}control_socket = \"{}\"\n\n{instances}\n\
             [[track]]\nname = \"health\"\ntype = \"file\"\npath = \"{}\"\nweight = 0\n",
            sock.display(),
            health.display()
        );
        let cfg = write_config(dir, &format!("vrrpd-bal{i}.toml"), &toml);
        let mut v = Vrrpd {
            host,
            cfg,
            sock,
            health,
            proc: None,
        };
        v.start();
        v
    }

    fn start(&mut self) {
        let log = format!("vrrpd-{}.log", self.host.short_name());
        self.proc = Some(self.host.spawn_vrrpd(&self.cfg, &[], log));
    }

    fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("running")
    }

    fn state(&self) -> String {
        let out = Command::new(vrrpd_bin())
            .args(["status", "--json", "--socket"])
            .arg(&self.sock)
            .output()
            .expect("vrrpd status");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["instances"][0]["state"]
            .as_str()
            .unwrap_or("(no answer)")
            .to_owned()
    }

    /// The state of instance `name`.
    fn state_of(&self, name: &str) -> String {
        status_instance(&self.status(), name)["state"]
            .as_str()
            .unwrap_or("(no state)")
            .to_owned()
    }

    fn status(&self) -> serde_json::Value {
        vrrpd_status(&self.sock)
    }

    fn set_health(&self, ok: bool) {
        std::fs::write(&self.health, if ok { "0\n" } else { "1\n" }).expect("health file");
    }

    /// The VIP is on this balancer's announce interface.
    fn holds(&self) -> bool {
        self.host.has_addr(VIP)
    }

    fn log(&self) -> String {
        self.proc.as_ref().map(Proc::log).unwrap_or_default()
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn ctx_all(sp: &Speakers, vs: &[&Vrrpd]) -> String {
    let mut s = sp.logs();
    for v in vs {
        s.push_str(&format!(
            "\n--- vrrpd {}\n{}",
            v.host.short_name(),
            tail(&v.log(), 25)
        ));
    }
    s
}

/// Active/standby: the route comes from the master only, and every fault
/// (a failed tracker, SIGTERM, the VRRP link down, maintenance) withdraws
/// it there, while the backup that takes over announces it.
#[test]
fn frr_only_the_master_announces_and_every_fault_withdraws() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgpvfaults", 2);
    let sp = Speakers::start(&l, false);
    // A lease longer than every wait below: each withdrawal must be
    // vrrpd's removal, not the lease running out.
    let mut v1 = Vrrpd::with_global(&l, 1, LONG_LEASE, "priority = 150");
    let v2 = Vrrpd::with_global(&l, 2, LONG_LEASE, "priority = 100");
    let (one, two) = (names(&["bal1"]), names(&["bal2"]));
    macro_rules! ctx {
        () => {
            || ctx_all(&sp, &[&v1, &v2])
        };
    }
    expect_within(
        Duration::from_secs(30),
        "bal1 announces",
        || l.fib() == one,
        ctx!(),
    );
    expect_steady(
        Duration::from_secs(2),
        "only the master announces",
        || l.fib() == one && v1.holds() && !v2.holds(),
        ctx!(),
    );
    assert_eq!((v1.state(), v2.state()), ("MASTER".into(), "BACKUP".into()));
    let st = v1.status();
    assert_eq!(st["instances"][0]["announce"], "bgp", "{st}");
    assert_eq!(st["leases"]["lifetime_s"], 30, "{st}");
    assert!(st["leases"]["held"].as_u64() == Some(1), "{st}");

    // A failed tracker (weight 0): FAULT on bal1, bal2 takes over.
    v1.set_health(false);
    expect_within(
        Duration::from_secs(10),
        "tracker: bal2 announces",
        || l.fib() == two,
        ctx!(),
    );
    assert!(!v1.holds(), "bal1 kept its VIP in FAULT");
    assert_eq!(v1.state(), "FAULT");
    v1.set_health(true);
    expect_within(
        Duration::from_secs(10),
        "bal1 back",
        || l.fib() == one,
        ctx!(),
    );

    // Maintenance.
    let out = Command::new(vrrpd_bin())
        .args(["maintenance", "VI_1", "on", "--socket"])
        .arg(&v1.sock)
        .output()
        .expect("maintenance");
    assert!(out.status.success(), "{out:?}");
    expect_within(
        Duration::from_secs(10),
        "maintenance: bal2 announces",
        || l.fib() == two,
        ctx!(),
    );
    let out = Command::new(vrrpd_bin())
        .args(["maintenance", "VI_1", "off", "--socket"])
        .arg(&v1.sock)
        .output()
        .expect("maintenance");
    assert!(out.status.success(), "{out:?}");
    expect_within(
        Duration::from_secs(10),
        "bal1 back",
        || l.fib() == one,
        ctx!(),
    );

    // The VRRP link down: FAULT.
    v1.host.link_set("hb0", false);
    expect_within(
        Duration::from_secs(10),
        "hb0 down: bal1 withdraws",
        || !l.fib().contains(&"bal1".to_string()),
        ctx!(),
    );
    assert!(!v1.holds());
    v1.host.link_set("hb0", true);
    expect_within(
        Duration::from_secs(10),
        "bal1 back",
        || l.fib() == one,
        ctx!(),
    );

    // SIGTERM: priority 0, the VIP removed, bal2 takes over.
    let st = v1
        .proc()
        .stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
    assert!(st.is_some_and(|s| s.success()), "{}", v1.log());
    assert!(!v1.holds(), "a clean stop left the VIP");
    expect_within(
        Duration::from_secs(10),
        "SIGTERM: bal2 announces",
        || l.fib() == two,
        ctx!(),
    );
    v1.start();
    expect_within(
        Duration::from_secs(10),
        "bal1 back after restart",
        || l.fib() == one,
        ctx!(),
    );
}

/// A SIGKILLed vrrpd cannot withdraw anything: its VIP and so its route go
/// when the kernel ends the lease. The backup takes over meanwhile.
fn sigkill_withdraws_within_the_lease(bird: bool) {
    let l = BgpLab::new(if bird { "bgpkillbird" } else { "bgpkillfrr" }, 2);
    let sp = Speakers::start(&l, bird);
    let mut v1 = Vrrpd::new(&l, 1, "priority = 150");
    let v2 = Vrrpd::new(&l, 2, "priority = 100");
    expect_within(
        Duration::from_secs(30),
        "bal1 announces",
        || l.fib() == names(&["bal1"]),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    v1.proc().signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let gone = measure_until(Duration::from_secs(15), || {
        !l.fib().contains(&"bal1".to_string())
    });
    let gone = gone.unwrap_or_else(|| {
        panic!(
            "bal1's route outlived its vrrpd by 15 s\n{}",
            ctx_all(&sp, &[&v1, &v2])
        )
    });
    assert!(
        gone < LEASE_BOUND,
        "bal1's route went {gone:?} after the kill (bound {LEASE_BOUND:?})"
    );
    vip_gone_within_the_lease(killed, || !v1.holds(), "the VIP");
    expect_within(
        Duration::from_secs(10),
        "bal2 announces",
        || l.fib() == names(&["bal2"]),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    loud(&format!(
        "[bgp] SIGKILL of the master's vrrpd ({}) -> its route gone upstream after {gone:?}",
        if bird { "BIRD" } else { "FRR" }
    ));
}

#[test]
fn frr_sigkill_withdraws_within_the_lease_bound() {
    if !tools_frr() {
        return;
    }
    sigkill_withdraws_within_the_lease(false);
}

#[test]
fn bird_sigkill_withdraws_within_the_lease_bound() {
    if !tools_bird() {
        return;
    }
    sigkill_withdraws_within_the_lease(true);
}

/// Active-active: both balancers announce, the router spreads over both;
/// a failed tracker withdraws that balancer only; a SIGKILLed one goes
/// within the lease.
#[test]
fn frr_active_active_announces_every_healthy_balancer() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgpaa", 2);
    let sp = Speakers::start(&l, false);
    // bal1 with the default 2 s lease (SIGKILLed below); bal2, whose
    // tracker fails, with a lease longer than the waits: its withdrawal
    // must be vrrpd's removal, not the lease running out.
    let mut v1 = Vrrpd::new(&l, 1, "active_active = true");
    let v2 = Vrrpd::with_global(&l, 2, LONG_LEASE, "active_active = true");
    let both = names(&["bal1", "bal2"]);
    macro_rules! ctx {
        () => {
            || ctx_all(&sp, &[&v1, &v2])
        };
    }
    expect_within(
        Duration::from_secs(30),
        "both announce",
        || l.fib() == both,
        ctx!(),
    );
    assert_eq!((v1.state(), v2.state()), ("MASTER".into(), "MASTER".into()));
    let st = v2.status();
    assert_eq!(st["instances"][0]["active_active"], true, "{st}");
    assert_eq!(
        st["instances"][0]["counters"]["adverts_sent"], 0,
        "no election: {st}"
    );

    v2.set_health(false);
    expect_within(
        Duration::from_secs(10),
        "bal2 withdraws, bal1 stays",
        || l.fib() == names(&["bal1"]),
        ctx!(),
    );
    assert_eq!(v2.state(), "FAULT");
    expect_steady(
        Duration::from_secs(1),
        "bal1 stays",
        || l.fib() == names(&["bal1"]),
        ctx!(),
    );
    v2.set_health(true);
    expect_within(
        Duration::from_secs(10),
        "bal2 back",
        || l.fib() == both,
        ctx!(),
    );

    v1.proc().signal(nix::sys::signal::Signal::SIGKILL);
    let gone = measure_until(Duration::from_secs(15), || l.fib() == names(&["bal2"]))
        .unwrap_or_else(|| panic!("bal1's route stayed\n{}", ctx_all(&sp, &[&v1, &v2])));
    assert!(
        gone < LEASE_BOUND,
        "bal1's route went {gone:?} after the kill"
    );
}

// ---------------------------------------------------------------------------
// IPv6: the VIP as a /128 on vrrpd0, announced over an IPv6 session with the
// `*-dualstack.conf` files (each balancer also announces the IPv4 VIP over
// its IPv4 session, from the same files).

/// The prefixes in a balancer FRR's own IPv6 BGP table.
fn frr_ipv6_table(f: &Frr) -> Vec<String> {
    frr_table(f, "ipv6")
}

/// The prefixes in a balancer FRR's own BGP table of family `afi`
/// (`ipv4`, `ipv6`).
fn frr_table(f: &Frr, afi: &str) -> Vec<String> {
    let text = f.vtysh("bgpd", &format!("show bgp {afi} unicast json"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut p: Vec<String> = v["routes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    p.sort();
    p
}

/// Dual stack, FRR: the IPv6 VIP reaches the router as a /128 from the
/// master only (the IPv4 VIP too, from the same file), nothing else of the
/// balancer's IPv6 addresses is announced, and a failed tracker and SIGTERM
/// each withdraw the /128 there while the backup announces it.
#[test]
fn frr_ipv6_only_the_master_announces_the_128_and_faults_withdraw() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgp6frr", 2);
    l.add_ipv6();
    let sp = Speakers::start_dualstack(&l, false);
    // A lease longer than every wait below: each withdrawal must be
    // vrrpd's removal, not the lease running out.
    let mut v1 = Vrrpd::dualstack(&l, 1, LONG_LEASE, 150);
    let v2 = Vrrpd::dualstack(&l, 2, LONG_LEASE, 100);
    let (one, two) = (names(&["bal1"]), names(&["bal2"]));
    macro_rules! ctx {
        () => {
            || ctx_all(&sp, &[&v1, &v2])
        };
    }
    expect_within(
        Duration::from_secs(30),
        "bal1 announces the /128 and the /32",
        || l.fib6() == one && l.fib() == one,
        ctx!(),
    );
    expect_steady(
        Duration::from_secs(2),
        "only the master announces",
        || l.fib6() == one && v1.host.has_addr(VIP6) && !v2.host.has_addr(VIP6),
        ctx!(),
    );
    loud(&format!(
        "[bgp] IPv6: the router's route: {}",
        l.rtr
            .ip(&["-6", "route", "show", &format!("{VIP6}/128")])
            .trim()
    ));
    assert_eq!(
        (v1.state_of("VI_6"), v2.state_of("VI_6")),
        ("MASTER".into(), "BACKUP".into())
    );
    // The balancers' BGP tables hold the VIP's /128 and nothing else: not
    // the uplink's /64, not vrrpd0's link-local address.
    assert_eq!(
        frr_ipv6_table(&sp.frr[0]),
        [format!("{VIP6}/128")],
        "bal1's IPv6 BGP table\n{}",
        ctx_all(&sp, &[&v1, &v2])
    );
    assert!(
        frr_ipv6_table(&sp.frr[1]).is_empty(),
        "the backup announces IPv6 routes\n{}",
        ctx_all(&sp, &[&v1, &v2])
    );

    // A failed tracker (weight 0): FAULT on bal1, bal2 takes over.
    v1.set_health(false);
    expect_within(
        Duration::from_secs(10),
        "tracker: bal2 announces the /128",
        || l.fib6() == two,
        ctx!(),
    );
    assert!(!v1.host.has_addr(VIP6), "bal1 kept its IPv6 VIP in FAULT");
    assert_eq!(v1.state_of("VI_6"), "FAULT");
    v1.set_health(true);
    expect_within(
        Duration::from_secs(10),
        "bal1 back",
        || l.fib6() == one,
        ctx!(),
    );

    // SIGTERM: priority 0, the VIPs removed, bal2 takes over.
    let st = v1
        .proc()
        .stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
    assert!(st.is_some_and(|s| s.success()), "{}", v1.log());
    assert!(!v1.host.has_addr(VIP6), "a clean stop left the IPv6 VIP");
    expect_within(
        Duration::from_secs(10),
        "SIGTERM: bal2 announces the /128",
        || l.fib6() == two && l.fib() == two,
        ctx!(),
    );
}

/// Dual stack: the master alone announces the /128; a SIGKILLed master's
/// /128 leaves the router within the lease bound (the default 2 s lease),
/// and the backup's replaces it.
fn ipv6_sigkill_withdraws_within_the_lease(bird: bool) {
    let l = BgpLab::new(if bird { "bgp6killbird" } else { "bgp6killfrr" }, 2);
    l.add_ipv6();
    let sp = Speakers::start_dualstack(&l, bird);
    if bird {
        expect_within(
            SESSION_UP,
            "BIRD's IPv6 sessions",
            || sp.bird.iter().all(|b| b.established_proto("upstream6")),
            || sp.logs(),
        );
    }
    let mut v1 = Vrrpd::dualstack(&l, 1, "", 150);
    let v2 = Vrrpd::dualstack(&l, 2, "", 100);
    let one = names(&["bal1"]);
    expect_within(
        Duration::from_secs(30),
        "bal1 announces the /128",
        || l.fib6() == one,
        || ctx_all(&sp, &[&v1, &v2]),
    );
    expect_steady(
        Duration::from_secs(2),
        "only the master announces",
        || l.fib6() == one && l.fib() == one && !v2.host.has_addr(VIP6),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    v1.proc().signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let gone = measure_until(Duration::from_secs(15), || {
        !l.fib6().contains(&"bal1".to_string())
    });
    let gone = gone.unwrap_or_else(|| {
        panic!(
            "bal1's /128 outlived its vrrpd by 15 s\n{}",
            ctx_all(&sp, &[&v1, &v2])
        )
    });
    assert!(
        gone < LEASE_BOUND,
        "bal1's /128 went {gone:?} after the kill (bound {LEASE_BOUND:?})"
    );
    vip_gone_within_the_lease(killed, || !v1.host.has_addr(VIP6), "the IPv6 VIP");
    expect_within(
        Duration::from_secs(10),
        "bal2 announces the /128",
        || l.fib6() == names(&["bal2"]),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    loud(&format!(
        "[bgp] IPv6: SIGKILL of the master's vrrpd ({}) -> its /128 gone upstream after {gone:?}",
        if bird { "BIRD" } else { "FRR" }
    ));
}

#[test]
fn frr_ipv6_sigkill_withdraws_within_the_lease_bound() {
    if !tools_frr() {
        return;
    }
    ipv6_sigkill_withdraws_within_the_lease(false);
}

#[test]
fn bird_ipv6_sigkill_withdraws_within_the_lease_bound() {
    if !tools_bird() {
        return;
    }
    ipv6_sigkill_withdraws_within_the_lease(true);
}

// ---------------------------------------------------------------------------
// IPv4 VIPs on `lo` (`announce_interface = "lo"`), the cheaper hand-off to
// FRR at many VIPs (docs/BGP.md, "What leases cost the BGP speaker").

/// `frr-balancer-bgpd-lo.conf` with vrrpd putting its VIPs on `lo`: only the
/// master announces, and only the VIP (not `lo`'s other addresses); a
/// SIGKILLed master's route leaves the router within the lease bound.
#[test]
fn frr_vips_on_lo_announced_by_the_master_and_withdrawn_within_the_lease() {
    if !tools_frr() {
        return;
    }
    let l = BgpLab::new("bgplo", 2);
    // Another address on lo, as a router id or a management address would
    // be: the route-map must keep it out.
    l.bals[0].add_addr("lo", "192.0.2.99/32");
    let sp = Speakers::start_frr_files(&l, "frr-router-bgpd.conf", "frr-balancer-bgpd-lo.conf");
    let lo = "announce_interface = \"lo\"\n";
    let mut v1 = Vrrpd::with_global(&l, 1, lo, "priority = 150");
    let v2 = Vrrpd::with_global(&l, 2, lo, "priority = 100");
    let one = names(&["bal1"]);
    expect_within(
        Duration::from_secs(30),
        "bal1 announces",
        || l.fib() == one,
        || ctx_all(&sp, &[&v1, &v2]),
    );
    expect_steady(
        Duration::from_secs(2),
        "only the master announces",
        || l.fib() == one && v1.holds() && !v2.holds(),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    let on_lo = v1.host.ip(&["-4", "-o", "addr", "show", "dev", "lo"]);
    assert!(
        on_lo.contains(&format!("{VIP}/32")),
        "the VIP is not on lo: {on_lo}"
    );
    assert_eq!(
        frr_table(&sp.frr[0], "ipv4"),
        [format!("{VIP}/32")],
        "bal1's BGP table\n{}",
        ctx_all(&sp, &[&v1, &v2])
    );
    v1.proc().signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let gone = measure_until(Duration::from_secs(15), || {
        !l.fib().contains(&"bal1".to_string())
    })
    .unwrap_or_else(|| {
        panic!(
            "bal1's route outlived its vrrpd by 15 s\n{}",
            ctx_all(&sp, &[&v1, &v2])
        )
    });
    assert!(
        gone < LEASE_BOUND,
        "bal1's route went {gone:?} after the kill (bound {LEASE_BOUND:?})"
    );
    vip_gone_within_the_lease(killed, || !v1.holds(), "the VIP");
    expect_within(
        Duration::from_secs(10),
        "bal2 announces",
        || l.fib() == names(&["bal2"]),
        || ctx_all(&sp, &[&v1, &v2]),
    );
    loud(&format!(
        "[bgp] VIPs on lo: SIGKILL of the master's vrrpd -> its route gone upstream after {gone:?}"
    ));
}
