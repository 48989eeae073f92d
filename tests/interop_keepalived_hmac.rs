//! `auth_hmac` interop on the wire with keepalived 2.4.3, the first implementation: vrrpd on
//! `bal1`, keepalived 2.4.3 (built from tests/peers by scripts/keepalived-2.4.3.sh, once, and
//! cached) on `bal2`, in network namespaces on one bridge.
//!
//! - Both directions (each side hears the other's signed adverts as backup, and its own are
//!   heard as master) for VRRPv3 over IPv4 multicast, VRRPv3 over IPv6 multicast and VRRPv2
//!   over IPv4 unicast (monotonic anti-replay).
//! - A make-before-break key rotation done across both by reloads, then the other side
//!   signing with the new key.
//! - The receive-only -> permissive -> enforce rollout across both, by reloads in either
//!   order, without a flap.
//! - A wrong key: both become master, and each counts the other's adverts as a bad HMAC
//!   (vrrpd's `auth_bad_tag`, keepalived's `Invalid HMAC` in its SIGUSR2 statistics); with
//!   keepalived raised to priority 200, vrrpd counts its adverts and stays master.
//!
//! At every step keepalived's statistics must show no authentication error and vrrpd's status
//! no drop at all. The results are written down in docs/INTEROP.md.

mod auth_common;
mod common;
mod interop_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_common::*;
use common::*;
use interop_common::*;
use nix::sys::signal::Signal;

const VIP6: &str = "fd00:1::254";

/// keepalived's counters under "Authentication Extension Errors".
const KA_AUTH_ERRORS: [&str; 6] = [
    "Missing",
    "Malformed",
    "Unknown Key",
    "Invalid HMAC",
    "Stale",
    "Replay",
];

/// The wire variants of the both-directions test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    V3Ipv4,
    V3Ipv6,
    V2Unicast,
}

impl Variant {
    fn vip(self) -> &'static str {
        match self {
            Variant::V3Ipv6 => VIP6,
            _ => VIP,
        }
    }

    fn anti_replay(self) -> &'static str {
        match self {
            Variant::V2Unicast => "monotonic",
            _ => "time",
        }
    }
}

/// The `auth_hmac` settings of one step, the same on both sides.
#[derive(Clone, Debug)]
struct Auth {
    /// (id, key file).
    keys: Vec<(u8, PathBuf)>,
    active: u8,
    mode: &'static str,
    anti_replay: &'static str,
}

impl Auth {
    fn vrrpd(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(id, p)| format!("{id} = \"file:{}\"", p.display()))
            .collect();
        format!(
            "[instance.auth_hmac]\nkeys = {{ {} }}\nactive_key = {}\nmode = \"{}\"\nanti_replay = \"{}\"\n",
            keys.join(", "),
            self.active,
            self.mode,
            self.anti_replay
        )
    }

    fn keepalived(&self) -> String {
        let keys: String = self
            .keys
            .iter()
            .map(|(id, p)| format!("        key {id} file:{}\n", p.display()))
            .collect();
        format!(
            "    auth_hmac {{\n{keys}        active_key {}\n        mode {}\n        anti_replay {}\n    }}\n",
            self.active, self.mode, self.anti_replay
        )
    }
}

/// One side's configuration for `variant` at priority `prio` with `auth` (none: no
/// `auth_hmac`).
fn vrrpd_conf(variant: Variant, prio: u8, auth: Option<&Auth>) -> String {
    let (version, interval, peers) = match variant {
        Variant::V3Ipv4 | Variant::V3Ipv6 => (3, "100ms", String::new()),
        Variant::V2Unicast => (2, "1s", format!("unicast_peers = [\"{PEER_ADDR}\"]\n")),
    };
    let vip = match variant {
        Variant::V3Ipv6 => format!("{VIP6}/64"),
        _ => format!("{VIP}/24"),
    };
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 41\npriority = {prio}\n\
         version = {version}\nadvert_interval = \"{interval}\"\nvirtual_ips = [\"{vip}\"]\n\
         garp_master_delay = \"1s\"\n{peers}{}",
        auth.map(Auth::vrrpd).unwrap_or_default()
    )
}

fn ka_conf(variant: Variant, prio: u8, auth: Option<&Auth>) -> KaInstance {
    let mut k = KaInstance::v3(41, prio);
    match variant {
        Variant::V3Ipv4 => k.advert_int = "0.1",
        Variant::V3Ipv6 => {
            k.advert_int = "0.1";
            k.vips = vec![format!("{VIP6}/64")];
        }
        Variant::V2Unicast => {
            k.version = 2;
            k.extra = format!(
                "    unicast_src_ip {PEER_ADDR}\n    unicast_peer {{\n        {VRRPD_ADDR}\n    }}\n"
            );
        }
    }
    if let Some(a) = auth {
        k.extra.push_str(&a.keepalived());
    }
    k
}

/// vrrpd and keepalived 2.4.3 side by side, and what the test changes.
struct Hmac {
    _lab: Lab,
    dir: PathBuf,
    variant: Variant,
    v: Vrrpd,
    k: Keepalived,
}

impl Hmac {
    /// Starts both; `None` when keepalived 2.4.3 cannot be had (a loud skip).
    fn start(
        tag: &str,
        variant: Variant,
        vprio: u8,
        kprio: u8,
        auth: &dyn Fn(&Path) -> Option<Auth>,
    ) -> Option<Hmac> {
        let bin = keepalived_243()?;
        let (lab, a, b) = pair(tag);
        let dir = lab.dir().to_path_buf();
        let au = auth(&dir);
        let mut v = Vrrpd::new(a, &vrrpd_conf(variant, vprio, au.as_ref()));
        let mut k = Keepalived::with_bin(b, &ka_conf(variant, kprio, au.as_ref()), &bin);
        v.start();
        k.start();
        Some(Hmac {
            _lab: lab,
            dir,
            variant,
            v,
            k,
        })
    }

    fn ctx(&self) -> String {
        format!(
            "--- vrrpd ({})\n{}\n{}\n--- keepalived ({})\n{}\n{}",
            self.v.log.display(),
            self.v.vi1(),
            tail(&self.v.log_text(), 40),
            self.k.files.log.display(),
            tail(&self.k.log_text(), 40),
            self.k.stats()
        )
    }

    fn vrrpd_holds(&self) -> bool {
        self.v.host.has_addr(self.variant.vip())
    }

    fn ka_holds(&self) -> bool {
        self.k.host.has_addr(self.variant.vip())
    }

    fn vrrpd_master(&self) -> bool {
        self.v.state() == "MASTER" && self.vrrpd_holds() && self.k.is_backup() && !self.ka_holds()
    }

    fn ka_master(&self) -> bool {
        self.k.is_master() && self.ka_holds() && self.v.state() == "BACKUP" && !self.vrrpd_holds()
    }

    /// Waits for `who` to be the one master, then checks it stays so for 1.5 s.
    fn agree(&self, what: &str, who: fn(&Hmac) -> bool) {
        expect_within(Duration::from_secs(15), what, || who(self), || self.ctx());
        expect_steady(
            Duration::from_millis(1500),
            what,
            || who(self),
            || self.ctx(),
        );
    }

    /// vrrpd's drops (all of them) and keepalived's authentication errors are all zero.
    fn no_errors(&self) {
        let s = self.v.status();
        let inst = &s["instances"][0]["counters"]["drops"];
        assert!(
            s["drops"].as_object().is_none_or(|o| o.is_empty())
                && inst.as_object().is_none_or(|o| o.is_empty()),
            "vrrpd dropped adverts: {s}\n{}",
            self.ctx()
        );
        let stats = self.k.stats();
        for name in KA_AUTH_ERRORS {
            assert_eq!(
                Keepalived::stat(&stats, "Authentication Extension Errors", name),
                0,
                "keepalived: {name}\n{stats}\n{}",
                self.ctx()
            );
        }
    }

    /// Adverts keepalived has received for VI_1.
    fn ka_received(&self) -> u64 {
        Keepalived::stat(&self.k.stats(), "Advertisements", "Received")
    }

    /// Waits until vrrpd has counted `n` more under `counter`.
    fn vrrpd_hears(&self, counter: &str, n: u64) {
        let start = self.v.counter(counter);
        expect_within(
            Duration::from_secs(10),
            &format!("vrrpd counts {n} more {counter}"),
            || self.v.counter(counter) >= start + n,
            || self.ctx(),
        );
    }

    /// Waits until keepalived has received `n` more adverts.
    fn ka_hears(&self, n: u64) {
        let start = self.ka_received();
        expect_within(
            Duration::from_secs(10),
            &format!("keepalived receives {n} more adverts"),
            || self.ka_received() >= start + n,
            || self.ctx(),
        );
    }

    fn reload_vrrpd(&mut self, prio: u8, auth: Option<&Auth>) {
        let before = count_lines(&self.v.log_text(), "reload done");
        std::fs::write(&self.v.config, vrrpd_conf(self.variant, prio, auth)).expect("config");
        self.v.proc().signal(Signal::SIGHUP);
        expect_within(
            Duration::from_secs(5),
            "vrrpd reload done",
            || count_lines(&self.v.log_text(), "reload done") > before,
            || self.v.log_text(),
        );
    }

    fn reload_ka(&mut self, prio: u8, auth: Option<&Auth>) {
        let conf = ka_conf(self.variant, prio, auth);
        self.k.reload(&conf);
        if let Some(a) = auth {
            let data = self.k.data();
            let want = format!("active key id = {}", a.active);
            assert!(
                data.contains(&want) && data.contains(&format!("Mode = {}", a.mode)),
                "keepalived did not apply {a:?}:\n{data}"
            );
        }
    }

    fn transitions(&self) -> u64 {
        self.v.counter("transitions")
    }
}

fn one_key(dir: &Path, mode: &'static str, anti_replay: &'static str) -> Auth {
    Auth {
        keys: vec![(1, key_file(dir, "k1.key", KEY1_HEX))],
        active: 1,
        mode,
        anti_replay,
    }
}

/// vrrpd master, keepalived backup (keepalived hears vrrpd's signed adverts); then vrrpd's
/// priority is lowered by a reload and keepalived preempts (vrrpd hears keepalived's).
fn both_directions(tag: &str, variant: Variant) {
    let ar = variant.anti_replay();
    let Some(mut h) = Hmac::start(tag, variant, 150, 100, &|dir| {
        Some(one_key(dir, "enforce", ar))
    }) else {
        return;
    };
    h.agree("vrrpd MASTER, keepalived BACKUP", Hmac::vrrpd_master);
    h.ka_hears(3);
    h.no_errors();
    let auth = one_key(&h.dir, "enforce", ar);
    h.reload_vrrpd(50, Some(&auth));
    h.agree("keepalived MASTER, vrrpd BACKUP", Hmac::ka_master);
    h.vrrpd_hears("auth_signed_received", 3);
    h.no_errors();
    let master = h.v.vi1()["master"].as_str().unwrap_or_default().to_owned();
    if variant == Variant::V3Ipv6 {
        // keepalived's link-local address.
        assert!(master.starts_with("fe80:"), "{master}\n{}", h.ctx());
    } else {
        assert_eq!(master, PEER_ADDR, "{}", h.ctx());
    }
}

#[test]
fn v3_ipv4_multicast_both_directions() {
    both_directions("kah4", Variant::V3Ipv4);
}

#[test]
fn v3_ipv6_multicast_both_directions() {
    both_directions("kah6", Variant::V3Ipv6);
}

#[test]
fn v2_unicast_monotonic_both_directions() {
    both_directions("kahu", Variant::V2Unicast);
}

#[test]
fn key_rotation_across_both() {
    let Some(mut h) = Hmac::start("kahrot", Variant::V3Ipv4, 150, 100, &|dir| {
        Some(one_key(dir, "enforce", "time"))
    }) else {
        return;
    };
    h.agree("vrrpd MASTER, keepalived BACKUP", Hmac::vrrpd_master);
    let t = h.transitions();
    let sniff = h.k.host.sniff("ext0");
    let k1 = key_file(&h.dir, "k1.key", KEY1_HEX);
    let k2 = key_file(&h.dir, "k2.key", KEY2_HEX);
    // Make before break, keepalived's documented order: add key 2 everywhere, sign with 2
    // everywhere, drop key 1 everywhere. keepalived reloads first in the first step, vrrpd
    // first in the others.
    let steps = [
        (vec![(1, k1.clone()), (2, k2.clone())], 1, true),
        (vec![(1, k1.clone()), (2, k2.clone())], 2, false),
        (vec![(2, k2.clone())], 2, false),
    ];
    for (keys, active, ka_first) in steps {
        let auth = Auth {
            keys,
            active,
            mode: "enforce",
            anti_replay: "time",
        };
        if ka_first {
            h.reload_ka(100, Some(&auth));
            h.reload_vrrpd(150, Some(&auth));
        } else {
            h.reload_vrrpd(150, Some(&auth));
            h.reload_ka(100, Some(&auth));
        }
        h.ka_hears(5);
        assert!(h.vrrpd_master(), "{}", h.ctx());
        assert_eq!(h.transitions(), t, "a flap\n{}", h.ctx());
        h.no_errors();
        // What vrrpd signs with, on keepalived's wire.
        sniff.take();
        let f = sniff
            .wait_for(Duration::from_secs(3), |f| {
                f.is_vrrp() && f.ip_src().map(|a| a.to_string()).as_deref() == Some(VRRPD_ADDR)
            })
            .expect("an advert from vrrpd");
        assert_eq!(trailer_key_id(f.ip_payload().unwrap()), Some(active));
    }
    // Now keepalived signs with key 2, the only key vrrpd still has.
    let last = Auth {
        keys: vec![(2, k2)],
        active: 2,
        mode: "enforce",
        anti_replay: "time",
    };
    h.reload_vrrpd(50, Some(&last));
    h.agree("keepalived MASTER, vrrpd BACKUP", Hmac::ka_master);
    h.vrrpd_hears("auth_signed_received", 5);
    h.no_errors();
}

#[test]
fn rollout_receive_only_permissive_enforce_across_both() {
    // keepalived master, vrrpd backup: vrrpd's counters show what keepalived sends.
    let Some(mut h) = Hmac::start("kahroll", Variant::V3Ipv4, 50, 100, &|_| None) else {
        return;
    };
    h.agree("keepalived MASTER, vrrpd BACKUP", Hmac::ka_master);
    let t = h.transitions();
    let dir = h.dir.clone();
    for (mode, vrrpd_first) in [
        ("receive-only", true),
        ("permissive", false),
        ("enforce", true),
    ] {
        let auth = one_key(&dir, mode, "time");
        if vrrpd_first {
            h.reload_vrrpd(50, Some(&auth));
            h.reload_ka(100, Some(&auth));
        } else {
            h.reload_ka(100, Some(&auth));
            h.reload_vrrpd(50, Some(&auth));
        }
        // receive-only: nobody signs, vrrpd accepts unsigned adverts and counts them.
        let counter = if mode == "receive-only" {
            "auth_unsigned_received"
        } else {
            "auth_signed_received"
        };
        h.vrrpd_hears(counter, 10);
        assert!(h.ka_master(), "{}", h.ctx());
        assert_eq!(h.transitions(), t, "a flap at {mode}\n{}", h.ctx());
        h.no_errors();
    }
    // Enforced everywhere: vrrpd takes over, keepalived must accept its signed adverts.
    let auth = one_key(&dir, "enforce", "time");
    h.reload_vrrpd(150, Some(&auth));
    h.agree("vrrpd MASTER, keepalived BACKUP", Hmac::vrrpd_master);
    h.ka_hears(5);
    h.no_errors();
}

#[test]
fn wrong_key_both_count_it_two_masters() {
    let Some(mut h) = Hmac::start("kahbad", Variant::V3Ipv4, 150, 100, &|dir| {
        Some(one_key(dir, "enforce", "time"))
    }) else {
        return;
    };
    // keepalived gets another key under the same id.
    let wrong = Auth {
        keys: vec![(1, key_file(&h.dir, "wrong.key", WRONG_HEX))],
        active: 1,
        mode: "enforce",
        anti_replay: "time",
    };
    h.reload_ka(100, Some(&wrong));
    let both =
        |h: &Hmac| h.v.state() == "MASTER" && h.k.is_master() && h.vrrpd_holds() && h.ka_holds();
    expect_within(
        Duration::from_secs(15),
        "both MASTER",
        || both(&h),
        || h.ctx(),
    );
    expect_within(
        Duration::from_secs(5),
        "both count the other's adverts as a bad HMAC",
        || {
            // keepalived as master re-arms its advert timer on every packet it reads, even
            // one it refuses: with vrrpd's adverts every 100 ms it falls silent after its
            // first one or two (docs/INTEROP.md), so vrrpd counts only those.
            h.v.drop_count("auth_bad_tag") >= 1
                && Keepalived::stat(
                    &h.k.stats(),
                    "Authentication Extension Errors",
                    "Invalid HMAC",
                ) >= 3
        },
        || h.ctx(),
    );
    // Under one reason each, and nothing else.
    let drops = h.v.vi1()["counters"]["drops"].clone();
    assert_eq!(drops.as_object().map(|o| o.len()), Some(1), "{drops}");
    let stats = h.k.stats();
    for name in KA_AUTH_ERRORS.iter().filter(|n| **n != "Invalid HMAC") {
        assert_eq!(
            Keepalived::stat(&stats, "Authentication Extension Errors", name),
            0,
            "{name}\n{stats}"
        );
    }
    assert!(
        h.k.log_text().contains(&format!(
            "(VI_1) invalid authentication HMAC from {VRRPD_ADDR}"
        )),
        "{}",
        h.ctx()
    );
    assert!(
        h.v.log_text().contains("reason=\"auth_bad_tag\""),
        "{}",
        h.ctx()
    );
    // keepalived now outranks vrrpd, still with the wrong key: vrrpd hears its
    // priority-200 adverts (more bad tags) and must not follow them. A vrrpd that
    // counted the bad tag but let the advert through would go BACKUP at once.
    let bad_before = h.v.drop_count("auth_bad_tag");
    let backups_before = count_lines(&h.v.log_text(), "Entering BACKUP STATE");
    h.reload_ka(200, Some(&wrong));
    expect_within(
        Duration::from_secs(10),
        "vrrpd counts keepalived's priority-200 adverts as bad tags",
        || h.v.drop_count("auth_bad_tag") > bad_before,
        || h.ctx(),
    );
    expect_steady(
        Duration::from_millis(1500),
        "vrrpd stays MASTER under keepalived's higher-priority adverts with the wrong key",
        || h.v.state() == "MASTER" && h.vrrpd_holds(),
        || h.ctx(),
    );
    assert_eq!(
        count_lines(&h.v.log_text(), "Entering BACKUP STATE"),
        backups_before,
        "vrrpd followed an advert with a bad tag\n{}",
        h.ctx()
    );
    // Set right again: one master.
    let right = one_key(&h.dir, "enforce", "time");
    h.reload_ka(100, Some(&right));
    h.agree("vrrpd MASTER, keepalived BACKUP", Hmac::vrrpd_master);
}
