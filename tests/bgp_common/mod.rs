//! Helpers for the BGP tests and benchmark (`tests/bgp_netns.rs`,
//! `tests/bgp_bench.rs`): the `--l3 bgp` layout in a test lab (an upstream
//! router and balancers on their own subnets, a heartbeat bridge), FRR and
//! BIRD started with the configuration files of `config/bgp/`, and the
//! router's FIB as the list of balancers it forwards the VIP to.
//!
//! Use from an integration test with `mod common; mod interop_common; mod bgp_common;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::interop_common::{
    expect_within, frr_dir, frr_log, require_tools, spawn_frr, start_zebra, tail, vtysh,
};

/// The VIP of the layout.
pub const VIP: &str = "198.51.100.10";
/// The IPv6 VIP of the dual-stack layout (inside the router's
/// `2001:db8:100::/64`), announced as a /128.
pub const VIP6: &str = "2001:db8:100::10";
/// The default lease of `global.vip_lease`, and how often it is renewed.
pub const LEASE_SECS: u32 = 2;
pub const RENEW_EVERY: Duration = Duration::from_millis(500);
/// BGP sessions come up within this (FRR retries a failed connect after a
/// few seconds with "frr defaults datacenter"; the machine may be busy).
pub const SESSION_UP: Duration = Duration::from_secs(60);

pub fn tools_frr() -> bool {
    require_tools(&[
        "vtysh",
        "/usr/lib/frr/zebra",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/bfdd",
    ])
}

pub fn tools_bird() -> bool {
    tools_frr() && require_tools(&["bird", "birdc"])
}

/// A file of `config/bgp/` with the placeholders of balancer `n` (or of the
/// router, `n == 0`) filled in.
pub fn render(file: &str, n: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/bgp")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let out = text
        .replace("@NAME@", &format!("bal{n}"))
        .replace("@ROUTER_ID@", &format!("10.1.{n}.2"))
        .replace("@PEER@", &format!("10.1.{n}.1"))
        .replace("@PEER6@", &format!("2001:db8:1:{n}::1"));
    assert!(
        !out.contains('@') || file.ends_with(".toml"),
        "unreplaced placeholder in {file}"
    );
    out
}

// ---------------------------------------------------------------------------
// FRR and BIRD in a namespace.

/// FRR's zebra, bfdd and bgpd in one namespace, files in a private directory.
pub struct Frr {
    pub host: Host,
    pub dir: PathBuf,
    pub procs: Vec<Proc>,
}

impl Frr {
    /// Starts zebra, then bfdd and bgpd with `bgpd_conf`.
    pub fn start(host: &Host, bgpd_conf: &str) -> Frr {
        let bfdd_conf = render("frr-bfdd.conf", 0);
        let dir = frr_dir(host, &[("bfdd.conf", &bfdd_conf), ("bgpd.conf", bgpd_conf)]);
        let zebra = start_zebra(host, &dir, &[]);
        let mut frr = Frr {
            host: host.clone(),
            dir,
            procs: vec![zebra],
        };
        frr.spawn("bfdd");
        frr.spawn("bgpd");
        frr
    }

    pub fn spawn(&mut self, daemon: &str) {
        let p = spawn_frr(&self.host, &self.dir, daemon, &[]);
        self.procs.push(p);
    }

    pub fn log(&self, daemon: &str) -> String {
        frr_log(&self.dir, daemon)
    }

    pub fn vtysh(&self, daemon: &str, cmd: &str) -> String {
        vtysh(&self.dir, daemon, cmd)
    }

    /// The BGP session to `peer` is established.
    pub fn established(&self, peer: &str) -> bool {
        self.vtysh("bgpd", &format!("show bgp neighbor {peer} json"))
            .contains("\"bgpState\":\"Established\"")
    }

    pub fn logs(&self) -> String {
        format!(
            "--- {} bgpd\n{}\n--- show bgp summary\n{}",
            self.host.short_name(),
            tail(&self.log("bgpd"), 20),
            self.vtysh("bgpd", "show bgp summary")
        )
    }
}

/// BIRD in one namespace.
pub struct Bird {
    pub ctl: PathBuf,
    pub _proc: Proc,
    pub log: PathBuf,
}

impl Bird {
    pub fn start(host: &Host, conf: &str) -> Bird {
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

    pub fn birdc(&self, cmd: &str) -> String {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(&self.ctl)
            .args(cmd.split_whitespace())
            .output()
            .expect("run birdc");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn established(&self) -> bool {
        self.established_proto("upstream")
    }

    /// The BGP protocol `name` (`upstream`, `upstream6`) is established.
    pub fn established_proto(&self, name: &str) -> bool {
        self.birdc(&format!("show protocols {name}"))
            .contains("Established")
    }

    pub fn logs(&self) -> String {
        format!(
            "--- BIRD\n{}\n--- birdc show protocols all upstream\n{}",
            tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 20),
            self.birdc("show protocols all")
        )
    }
}

// ---------------------------------------------------------------------------
// The lab.

/// The router and `n` balancers, each on its own subnet, and a heartbeat
/// bridge `hb` between the balancers (`hb0`, 192.168.100.N/24) for VRRP.
pub struct BgpLab {
    pub lab: Lab,
    pub rtr: Host,
    pub bals: Vec<Host>,
    /// Each balancer's heartbeat interface `hb0` (for cutting it).
    pub hbs: Vec<Host>,
}

impl BgpLab {
    pub fn new(tag: &str, n: usize) -> BgpLab {
        let mut lab = Lab::new(tag);
        let mut rtr = None;
        let mut bals = Vec::new();
        for i in 1..=n {
            let br = lab.add_bridge(&format!("up{i}"));
            let r = lab.add_host("rtr", &br, &format!("bal{i}"), &format!("10.1.{i}.1/24"));
            rtr.get_or_insert(r);
            bals.push(lab.add_host(&format!("bal{i}"), &br, "up0", &format!("10.1.{i}.2/24")));
        }
        let hb = lab.add_bridge("hb");
        let hbs = (1..=n)
            .map(|i| {
                lab.add_host(
                    &format!("bal{i}"),
                    &hb,
                    "hb0",
                    &format!("192.168.100.{i}/24"),
                )
            })
            .collect();
        for (i, b) in bals.iter().enumerate() {
            b.ip(&[
                "route",
                "add",
                "default",
                "via",
                &format!("10.1.{}.1", i + 1),
            ]);
        }
        let rtr = rtr.expect("at least one balancer");
        rtr.sysctl("net.ipv4.ip_forward", "1");
        rtr.sysctl("net.ipv4.fib_multipath_hash_policy", "1");
        BgpLab {
            lab,
            rtr,
            bals,
            hbs,
        }
    }

    /// A client behind the router: `client` 203.0.113.100/24 on bridge
    /// `cli`, the router 203.0.113.1 there and its default gateway.
    pub fn add_client(&mut self) -> Host {
        let br = self.lab.add_bridge("cli");
        self.lab.add_host("rtr", &br, "cli0", "203.0.113.1/24");
        let client = self.lab.add_host("client", &br, "ext0", "203.0.113.100/24");
        client.ip(&["route", "add", "default", "via", "203.0.113.1"]);
        client
    }

    /// Gives the router and every balancer an IPv6 address on their link:
    /// the router `2001:db8:1:N::1/64` on `balN`, balancer N
    /// `2001:db8:1:N::2/64` on `up0` (the `*-dualstack.conf` files' peers).
    pub fn add_ipv6(&self) {
        for i in 1..=self.bals.len() {
            self.rtr
                .add_addr(&format!("bal{i}"), &format!("2001:db8:1:{i}::1/64"));
            self.bals[i - 1].add_addr("up0", &format!("2001:db8:1:{i}::2/64"));
        }
        self.rtr.sysctl("net.ipv6.conf.all.forwarding", "1");
        self.rtr.sysctl("net.ipv6.fib_multipath_hash_policy", "1");
    }

    /// The balancers (1-based names) the router's kernel forwards the IPv6
    /// VIP to. FRR installs the balancer's link-local next hop, so a next
    /// hop is known by its interface (`dev balN`), not by its address.
    pub fn fib6(&self) -> Vec<String> {
        let out = self
            .rtr
            .ip(&["-6", "route", "show", &format!("{VIP6}/128")]);
        let toks: Vec<&str> = out.split_whitespace().collect();
        let mut v: Vec<String> = (1..=self.bals.len())
            .filter(|i| {
                let dev = format!("bal{i}");
                toks.windows(2).any(|w| w[0] == "dev" && w[1] == dev)
            })
            .map(|i| format!("bal{i}"))
            .collect();
        v.sort();
        v
    }

    /// The balancers (1-based names) the router's kernel forwards the VIP to.
    pub fn fib(&self) -> Vec<String> {
        let out = self.rtr.ip(&["-4", "route", "show", &format!("{VIP}/32")]);
        let mut v: Vec<String> = (1..=self.bals.len())
            .filter(|i| out.contains(&format!("via 10.1.{i}.2 ")))
            .map(|i| format!("bal{i}"))
            .collect();
        v.sort();
        v
    }
}

/// The router's FRR and every balancer's speaker, sessions up.
pub struct Speakers {
    pub rtr: Frr,
    pub frr: Vec<Frr>,
    pub bird: Vec<Bird>,
}

impl Speakers {
    /// FRR on the router and on every balancer (BIRD with `bird`), IPv4
    /// sessions up.
    pub fn start(l: &BgpLab, bird: bool) -> Speakers {
        let balancer_file = if bird {
            "bird-balancer.conf"
        } else {
            "frr-balancer-bgpd.conf"
        };
        Speakers::start_files(l, "frr-router-bgpd.conf", balancer_file, bird, false)
    }

    /// FRR on the router with `router_file` and on every balancer with
    /// `balancer_file` (files of `config/bgp/`), IPv4 sessions up.
    pub fn start_frr_files(l: &BgpLab, router_file: &str, balancer_file: &str) -> Speakers {
        Speakers::start_files(l, router_file, balancer_file, false, false)
    }

    /// As [`Speakers::start`] with the `*-dualstack.conf` files (the lab
    /// needs [`BgpLab::add_ipv6`]): an IPv4 and an IPv6 session per
    /// balancer, both up.
    pub fn start_dualstack(l: &BgpLab, bird: bool) -> Speakers {
        let balancer_file = if bird {
            "bird-balancer-dualstack.conf"
        } else {
            "frr-balancer-bgpd-dualstack.conf"
        };
        let router_file = "frr-router-bgpd-dualstack.conf";
        Speakers::start_files(l, router_file, balancer_file, bird, true)
    }

    /// FRR on the router with `router_file`, and BIRD (`bird`) or FRR on
    /// every balancer with `balancer_file`; then waits until the router has
    /// every balancer's IPv4 session up, and its IPv6 one too with `ipv6`.
    fn start_files(
        l: &BgpLab,
        router_file: &str,
        balancer_file: &str,
        bird: bool,
        ipv6: bool,
    ) -> Speakers {
        let rtr = Frr::start(&l.rtr, &render(router_file, 0));
        let mut sp = Speakers {
            rtr,
            frr: Vec::new(),
            bird: Vec::new(),
        };
        for (i, b) in l.bals.iter().enumerate() {
            if bird {
                sp.bird.push(Bird::start(b, &render(balancer_file, i + 1)));
            } else {
                sp.frr.push(Frr::start(b, &render(balancer_file, i + 1)));
            }
        }
        let n = l.bals.len();
        let (peers, what): (Vec<String>, _) = if ipv6 {
            let peers = (1..=n).flat_map(|i| [format!("10.1.{i}.2"), format!("2001:db8:1:{i}::2")]);
            (peers.collect(), "every BGP session, IPv4 and IPv6")
        } else {
            let peers = (1..=n).map(|i| format!("10.1.{i}.2"));
            (peers.collect(), "every BGP session")
        };
        expect_within(
            SESSION_UP,
            what,
            || peers.iter().all(|p| sp.rtr.established(p)),
            || sp.logs(),
        );
        sp
    }

    pub fn logs(&self) -> String {
        let mut s = self.rtr.logs();
        for f in &self.frr {
            s.push_str(&f.logs());
        }
        for b in &self.bird {
            s.push_str(&b.logs());
        }
        s
    }
}
