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

mod common;
mod interop_common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use interop_common::{expect_steady, expect_within, require_tools, tail, FRR_DIR};
use vrrpd::io::netlink::{LeaseRenewer, LeasedAddr, Lifetime};
use vrrpd::io::Netlink;

/// The VIP of the layout.
const VIP: &str = "198.51.100.10";
/// The default lease of `global.vip_lease`, and how often it is renewed.
const LEASE_SECS: u32 = 2;
const RENEW_EVERY: Duration = Duration::from_millis(500);
/// BGP sessions come up within this (FRR retries a failed connect after a
/// few seconds with "frr defaults datacenter"; the machine may be busy).
const SESSION_UP: Duration = Duration::from_secs(60);

fn tools_frr() -> bool {
    require_tools(&[
        "vtysh",
        "/usr/lib/frr/zebra",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/bfdd",
    ])
}

fn tools_bird() -> bool {
    tools_frr() && require_tools(&["bird", "birdc"])
}

/// A file of `config/bgp/` with the placeholders of balancer `n` (or of the
/// router, `n == 0`) filled in.
fn render(file: &str, n: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/bgp")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let out = text
        .replace("@NAME@", &format!("bal{n}"))
        .replace("@ROUTER_ID@", &format!("10.1.{n}.2"))
        .replace("@PEER@", &format!("10.1.{n}.1"));
    assert!(
        !out.contains('@') || file.ends_with(".toml"),
        "unreplaced placeholder in {file}"
    );
    out
}

// ---------------------------------------------------------------------------
// FRR and BIRD in a namespace.

/// FRR's zebra, bfdd and bgpd in one namespace, files in a private directory.
struct Frr {
    host: Host,
    dir: PathBuf,
    procs: Vec<Proc>,
}

impl Frr {
    /// Starts zebra, then bfdd and bgpd with `bgpd_conf`.
    fn start(host: &Host, bgpd_conf: &str) -> Frr {
        let dir = host.dir().join(format!("frr-{}", host.short_name()));
        std::fs::create_dir_all(&dir).expect("frr dir");
        std::fs::write(dir.join("zebra.conf"), "").expect("zebra.conf");
        std::fs::write(dir.join("bfdd.conf"), render("frr-bfdd.conf", 0)).expect("bfdd.conf");
        std::fs::write(dir.join("bgpd.conf"), bgpd_conf).expect("bgpd.conf");
        let out = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir)
            .output()
            .expect("chown");
        assert!(out.status.success(), "chown frr: {out:?}");
        let mut frr = Frr {
            host: host.clone(),
            dir,
            procs: Vec::new(),
        };
        frr.spawn("zebra");
        let zsock = frr.dir.join("zserv.api");
        expect_within(
            Duration::from_secs(10),
            "zebra socket",
            || zsock.exists(),
            || frr.log("zebra"),
        );
        frr.spawn("bfdd");
        frr.spawn("bgpd");
        frr
    }

    fn spawn(&mut self, daemon: &str) {
        let d = |f: &str| self.dir.join(f).to_string_lossy().into_owned();
        let bin = format!("{FRR_DIR}/{daemon}");
        let (conf, pid, zsock, vty) = (
            d(&format!("{daemon}.conf")),
            d(&format!("{daemon}.pid")),
            d("zserv.api"),
            d(""),
        );
        let args = [
            bin.as_str(),
            "-f",
            &conf,
            "-i",
            &pid,
            "-z",
            &zsock,
            "--vty_socket",
            &vty,
            "-P",
            "0",
            "--log",
            "stdout",
        ];
        let p = self
            .host
            .spawn(&args, self.dir.join(format!("{daemon}.log")));
        self.procs.push(p);
    }

    fn log(&self, daemon: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{daemon}.log"))).unwrap_or_default()
    }

    fn vtysh(&self, daemon: &str, cmd: &str) -> String {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-d", daemon, "-c", cmd])
            .output()
            .expect("run vtysh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The BGP session to `peer` is established.
    fn established(&self, peer: &str) -> bool {
        self.vtysh("bgpd", &format!("show bgp neighbor {peer} json"))
            .contains("\"bgpState\":\"Established\"")
    }

    fn logs(&self) -> String {
        format!(
            "--- {} bgpd\n{}\n--- show bgp summary\n{}",
            self.host.short_name(),
            tail(&self.log("bgpd"), 20),
            self.vtysh("bgpd", "show bgp summary")
        )
    }
}

/// BIRD in one namespace.
struct Bird {
    ctl: PathBuf,
    _proc: Proc,
    log: PathBuf,
}

impl Bird {
    fn start(host: &Host, conf: &str) -> Bird {
        let conf_path = write_config(
            host.dir(),
            &format!("bird-{}.conf", host.short_name()),
            conf,
        );
        let ctl = host.dir().join(format!("bird-{}.ctl", host.short_name()));
        let log = host.dir().join(format!("bird-{}.log", host.short_name()));
        let conf_s = conf_path.to_string_lossy().into_owned();
        let ctl_s = ctl.to_string_lossy().into_owned();
        let proc = host.spawn(&["bird", "-f", "-c", &conf_s, "-s", &ctl_s], &log);
        Bird {
            ctl,
            _proc: proc,
            log,
        }
    }

    fn birdc(&self, cmd: &str) -> String {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(&self.ctl)
            .args(cmd.split_whitespace())
            .output()
            .expect("run birdc");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn established(&self) -> bool {
        self.birdc("show protocols upstream")
            .contains("Established")
    }

    fn logs(&self) -> String {
        format!(
            "--- BIRD\n{}\n--- birdc show protocols all upstream\n{}",
            tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 20),
            self.birdc("show protocols all upstream")
        )
    }
}

// ---------------------------------------------------------------------------
// The lab.

/// The router and `n` balancers, each on its own subnet.
struct BgpLab {
    _lab: Lab,
    rtr: Host,
    bals: Vec<Host>,
}

impl BgpLab {
    fn new(tag: &str, n: usize) -> BgpLab {
        let mut lab = Lab::new(tag);
        let mut rtr = None;
        let mut bals = Vec::new();
        for i in 1..=n {
            let br = lab.add_bridge(&format!("up{i}"));
            let r = lab.add_host("rtr", &br, &format!("bal{i}"), &format!("10.1.{i}.1/24"));
            rtr.get_or_insert(r);
            bals.push(lab.add_host(&format!("bal{i}"), &br, "up0", &format!("10.1.{i}.2/24")));
        }
        let rtr = rtr.expect("at least one balancer");
        rtr.sysctl("net.ipv4.ip_forward", "1");
        rtr.sysctl("net.ipv4.fib_multipath_hash_policy", "1");
        BgpLab {
            _lab: lab,
            rtr,
            bals,
        }
    }

    /// The balancers (1-based names) the router's kernel forwards the VIP to.
    fn fib(&self) -> Vec<String> {
        let out = self.rtr.ip(&["-4", "route", "show", &format!("{VIP}/32")]);
        let mut v: Vec<String> = (1..=self.bals.len())
            .filter(|i| out.contains(&format!("via 10.1.{i}.2 ")))
            .map(|i| format!("bal{i}"))
            .collect();
        v.sort();
        v
    }
}

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

/// The upstream router installs the VIP while the balancer holds it (and
/// keeps it while the lease is renewed), drops it when the balancer removes
/// it, and drops it when nobody renews the lease any more.
fn announce_and_withdraw(l: &BgpLab, ctx: &dyn Fn() -> String) {
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
    expect_steady(
        Duration::from_secs(u64::from(LEASE_SECS) * 2),
        "VIP stays while renewed",
        || l.fib() == one,
        ctx,
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
    announce_and_withdraw(&l, &ctx);
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
    announce_and_withdraw(&l, &ctx);
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
