//! `auth_hmac` and the peer allow-list in a running vrrpd, in network namespaces.
//!
//! - Every new bad-packet class (trailer missing, malformed, bad tag, unknown key id, stale,
//!   replayed, source not allowed, a TTL below the relaxed unicast floor, a trailer sent to an
//!   instance without `auth_hmac`) is injected from a client that plays a stranger (spoofing a
//!   peer's address where the class needs it). Each is dropped, counted under exactly one
//!   reason in `vrrpd status --json` (the sum of every drop counter rises by one), and leaves
//!   the master in place; the same advert, signed right, does make it step down (the control).
//! - Two vrrpds signing at 100 ms: the advert keeper's copies carry fresh sequences (the
//!   backup counts no replay); a key rotation and the receive-only -> permissive -> enforce
//!   rollout, each by SIGHUP on both, go through without a flap or a single drop.

mod auth_common;
mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_common::*;
use common::*;
use nix::sys::signal::Signal;
use serde_json::Value;
use vrrpd::core::wire::auth::{Seq, Trailer};

const BAL1: &str = "172.16.1.250";
const BAL2: &str = "172.16.1.251";
const CLIENT: &str = "172.16.1.100";
const GROUP4: &str = "224.0.0.18";
const GROUP6: &str = "ff02::12";
/// The IPv6 peer the allow-list names (the client spoofs it).
const PEER6: &str = "fe80::251";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// A daemon under test.
struct Daemon {
    host: Host,
    proc: Proc,
    config: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    fn start(host: Host, dir: &Path, toml: &str) -> Daemon {
        let n = host.short_name().to_owned();
        let config = write_secret(dir, &format!("{n}.toml"), toml);
        let socket = dir.join(format!("{n}.sock"));
        let proc = host.spawn_vrrpd(
            &config,
            &["--socket", &socket.to_string_lossy()],
            dir.join(format!("{n}.log")),
        );
        let d = Daemon {
            host,
            proc,
            config,
            socket,
        };
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(20), || d
                .socket
                .exists()),
            "no control socket\n{}",
            d.proc.log()
        );
        d
    }

    fn status(&self) -> Value {
        vrrpd_status(&self.socket)
    }

    fn inst(&self, name: &str) -> Value {
        status_instance(&self.status(), name)
    }

    fn state(&self, name: &str) -> String {
        self.inst(name)["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn counter(&self, name: &str, c: &str) -> u64 {
        self.inst(name)["counters"][c].as_u64().unwrap_or(0)
    }

    /// Reload with `toml` (SIGHUP) and wait until it is applied.
    fn reload(&mut self, toml: &str) {
        let before = count_lines(&self.proc.log(), "reload done");
        std::fs::write(&self.config, toml).expect("config");
        self.proc.signal(Signal::SIGHUP);
        assert!(
            wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                count_lines(&self.proc.log(), "reload done") > before
            }),
            "reload not done\n{}",
            self.proc.log()
        );
    }
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Every drop counter of the daemon, global and per instance, by `instance/reason`.
fn all_drops(s: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = s["drops"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (format!("-/{k}"), v.as_u64().unwrap_or(0)))
        .collect();
    for i in s["instances"].as_array().into_iter().flatten() {
        for (k, v) in i["counters"]["drops"].as_object().into_iter().flatten() {
            out.push((
                format!("{}/{k}", i["name"].as_str().unwrap_or("?")),
                v.as_u64().unwrap_or(0),
            ));
        }
    }
    out
}

fn total(d: &[(String, u64)]) -> u64 {
    d.iter().map(|(_, n)| n).sum()
}

fn drop_of(d: &[(String, u64)], key: &str) -> u64 {
    d.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

// ---- the bad-packet classes ---------------------------------------------------------------

/// Four instances on one daemon, all priority 150 with 1 s adverts:
/// - V3 (VRID 12): multicast, auth_hmac keys 1 and 2, allowed_sources = [bal2];
/// - PLAIN (13): no auth_hmac;
/// - V6 (14): IPv6 multicast, auth_hmac key 1, allowed_sources = [fe80::251];
/// - UNI (15): VRRPv2 unicast to bal2 (the allow-list by default), unicast_min_ttl 250,
///   auth_hmac key 1 enforced with monotonic anti-replay.
fn rig_config(k1: &Path, k2: &Path) -> String {
    let (k1, k2) = (k1.display(), k2.display());
    format!(
        r#"
[[instance]]
name = "V3"
interface = "ext0"
vrid = 12
priority = 150
virtual_ips = ["172.16.1.254/24"]
allowed_sources = ["{BAL2}"]
[instance.auth_hmac]
keys = {{ 1 = "file:{k1}", 2 = "file:{k2}" }}
active_key = 1

[[instance]]
name = "PLAIN"
interface = "ext0"
vrid = 13
priority = 150
virtual_ips = ["172.16.1.253/24"]

[[instance]]
name = "V6"
interface = "ext0"
vrid = 14
priority = 150
virtual_ips = ["fd00:1::254/64"]
allowed_sources = ["{PEER6}"]
[instance.auth_hmac]
keys = {{ 1 = "file:{k1}" }}

[[instance]]
name = "UNI"
interface = "ext0"
vrid = 15
version = 2
priority = 150
virtual_ips = ["172.16.1.252/24"]
unicast_peers = ["{BAL2}"]
unicast_min_ttl = 250
[instance.auth_hmac]
keys = {{ 1 = "file:{k1}" }}
anti_replay = "monotonic"
"#
    )
}

/// One injected packet and what it must do.
struct Case {
    what: &'static str,
    inst: &'static str,
    src: &'static str,
    dst: &'static str,
    ttl: u8,
    payload: Vec<u8>,
    /// The drop counter (`INSTANCE/reason`, or `-/reason` before demultiplexing), or `None`:
    /// accepted.
    expect: Option<&'static str>,
}

#[test]
fn each_bad_class_is_dropped_and_counted_under_one_reason() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new("authbad");
    let br = lab.add_bridge("lan");
    let bal = lab.add_host("bal1", &br, "ext0", &format!("{BAL1}/24"));
    let client = lab.add_host("client", &br, "ext0", &format!("{CLIENT}/24"));
    let dir = lab.dir().to_path_buf();
    let k1 = key_file(&dir, "k1.key", KEY1_HEX);
    let k2 = key_file(&dir, "k2.key", KEY2_HEX);
    let d = Daemon::start(bal, &dir, &rig_config(&k1, &k2));
    let names = ["V3", "PLAIN", "V6", "UNI"];
    assert!(
        wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
            names.iter().all(|n| d.state(n) == "MASTER")
        }),
        "not all MASTER\n{}",
        d.proc.log()
    );
    let tx = RawSender::new(&client, "ext0");

    let k1 = key(1, KEY1_HEX);
    let wrong = key(1, WRONG_HEX);
    let k9 = key(9, KEY1_HEX);
    let now = || seq_at(0);
    let a4 = v3(12, 254, 100, &["172.16.1.254"]);
    let a6 = v3(14, 254, 100, &["fd00:1::254"]);
    let au = v2(15, 254, 100, &["172.16.1.252"]);
    let (b2, g4, g6, p6, me) = (ip(BAL2), ip(GROUP4), ip(GROUP6), ip(PEER6), ip(BAL1));
    let malformed = {
        let mut p = signed(&a4, b2, g4, &k1, now());
        let n = p.len();
        p[n - 26] = 1; // the reserved field
        p
    };
    // A lower-priority advert, signed right: accepted (the master stays), then replayed.
    let low = signed(&v3(12, 100, 100, &["172.16.1.254"]), b2, g4, &k1, now());
    let low_uni = signed(&v2(15, 100, 100, &["172.16.1.252"]), b2, me, &k1, now());
    let c = |what, inst, src, dst, ttl, payload, expect| Case {
        what,
        inst,
        src,
        dst,
        ttl,
        payload,
        expect,
    };
    let cases = vec![
        c(
            "no trailer",
            "V3",
            BAL2,
            GROUP4,
            255,
            plain(&a4, b2, g4),
            Some("V3/auth_missing"),
        ),
        c(
            "malformed trailer",
            "V3",
            BAL2,
            GROUP4,
            255,
            malformed,
            Some("V3/auth_malformed"),
        ),
        c(
            "wrong key",
            "V3",
            BAL2,
            GROUP4,
            255,
            signed(&a4, b2, g4, &wrong, now()),
            Some("V3/auth_bad_tag"),
        ),
        c(
            "bit-flipped tag",
            "V3",
            BAL2,
            GROUP4,
            255,
            {
                let mut p = signed(&a4, b2, g4, &k1, now());
                let n = p.len();
                p[n - 1] ^= 0x01;
                p
            },
            Some("V3/auth_bad_tag"),
        ),
        c(
            "unknown key id",
            "V3",
            BAL2,
            GROUP4,
            255,
            signed(&a4, b2, g4, &k9, now()),
            Some("V3/auth_unknown_key"),
        ),
        c(
            "10 minutes old",
            "V3",
            BAL2,
            GROUP4,
            255,
            signed(&a4, b2, g4, &k1, seq_at(-600)),
            Some("V3/auth_stale"),
        ),
        c(
            "10 minutes ahead",
            "V3",
            BAL2,
            GROUP4,
            255,
            signed(&a4, b2, g4, &k1, seq_at(600)),
            Some("V3/auth_stale"),
        ),
        c(
            "signed by a stranger",
            "V3",
            CLIENT,
            GROUP4,
            255,
            signed(&a4, ip(CLIENT), g4, &k1, now()),
            Some("V3/source_not_allowed"),
        ),
        c(
            "lower priority, signed",
            "V3",
            BAL2,
            GROUP4,
            255,
            low.clone(),
            None,
        ),
        c(
            "the same again",
            "V3",
            BAL2,
            GROUP4,
            255,
            low,
            Some("V3/auth_replayed"),
        ),
        c(
            "trailer without auth_hmac",
            "PLAIN",
            BAL2,
            GROUP4,
            255,
            signed(&v3(13, 254, 100, &["172.16.1.253"]), b2, g4, &k1, now()),
            Some("PLAIN/auth_unexpected"),
        ),
        c(
            "IPv6, no trailer",
            "V6",
            PEER6,
            GROUP6,
            255,
            plain(&a6, p6, g6),
            Some("V6/auth_missing"),
        ),
        c(
            "IPv6, wrong key",
            "V6",
            PEER6,
            GROUP6,
            255,
            signed(&a6, p6, g6, &wrong, now()),
            Some("V6/auth_bad_tag"),
        ),
        c(
            // Below the floor: refused before demultiplexing, as any TTL below 255 is.
            "unicast, TTL below the floor",
            "UNI",
            BAL2,
            BAL1,
            249,
            signed(&au, b2, me, &k1, now()),
            Some("-/ttl"),
        ),
        c(
            "unicast, not a peer",
            "UNI",
            CLIENT,
            BAL1,
            252,
            signed(&au, ip(CLIENT), me, &k1, now()),
            Some("UNI/source_not_allowed"),
        ),
        c(
            "unicast, no trailer",
            "UNI",
            BAL2,
            BAL1,
            252,
            plain(&au, b2, me),
            Some("UNI/auth_missing"),
        ),
        c(
            "unicast, lower priority, signed",
            "UNI",
            BAL2,
            BAL1,
            252,
            low_uni.clone(),
            None,
        ),
        c(
            "unicast, replayed (monotonic)",
            "UNI",
            BAL2,
            BAL1,
            252,
            low_uni,
            Some("UNI/auth_replayed"),
        ),
        // A multicast TTL below 255 never reaches an instance (no relaxation there).
        c(
            "multicast TTL 254",
            "V3",
            BAL2,
            GROUP4,
            254,
            signed(&a4, b2, g4, &k1, now()),
            Some("-/ttl"),
        ),
    ];
    for case in cases {
        let before = d.status();
        let drops_before = all_drops(&before);
        let inst_before = status_instance(&before, case.inst);
        assert!(tx.send(&ip_packet(
            ip(case.src),
            ip(case.dst),
            case.ttl,
            &case.payload
        )));
        match case.expect {
            Some(key) => {
                let want = drop_of(&drops_before, key) + 1;
                let ok = wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
                    drop_of(&all_drops(&d.status()), key) >= want
                });
                let after = d.status();
                let drops_after = all_drops(&after);
                assert!(
                    ok,
                    "{}: {key} not counted: {drops_after:?}\n{}",
                    case.what,
                    d.proc.log()
                );
                assert_eq!(
                    total(&drops_after),
                    total(&drops_before) + 1,
                    "{}: counted under more than one reason: {drops_before:?} -> {drops_after:?}",
                    case.what
                );
                let i = status_instance(&after, case.inst);
                assert_eq!(
                    i["counters"]["adverts_received"], inst_before["counters"]["adverts_received"],
                    "{}: a refused advert was accepted: {i}",
                    case.what
                );
            }
            None => {
                let want = inst_before["counters"]["adverts_received"]
                    .as_u64()
                    .unwrap_or(0)
                    + 1;
                assert!(
                    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
                        d.counter(case.inst, "adverts_received") >= want
                    }),
                    "{}: not accepted\n{}",
                    case.what,
                    d.proc.log()
                );
                assert_eq!(
                    total(&all_drops(&d.status())),
                    total(&drops_before),
                    "{}",
                    case.what
                );
                assert!(d.counter(case.inst, "auth_signed_received") >= 1);
            }
        }
        // Nothing moved the masters.
        for n in names {
            assert_eq!(
                d.state(n),
                "MASTER",
                "{}: {n} left MASTER\n{}",
                case.what,
                d.proc.log()
            );
        }
    }
    // A misbehaving peer is logged at a bounded rate, with the reason.
    let log = d.proc.log();
    assert!(
        log.contains("reason=\"auth_bad_tag\"") || log.contains("reason=auth_bad_tag"),
        "{log}"
    );

    // The controls: the same priority-254 adverts, signed right from an allowed source,
    // do take over, so the drops above were the gate's doing.
    for (inst, src, dst, ttl, payload) in [
        ("V3", BAL2, GROUP4, 255, signed(&a4, b2, g4, &k1, now())),
        ("V6", PEER6, GROUP6, 255, signed(&a6, p6, g6, &k1, now())),
        // Across routers (TTL 251 >= unicast_min_ttl 250), from the peer.
        ("UNI", BAL2, BAL1, 251, signed(&au, b2, me, &k1, now())),
    ] {
        assert!(tx.send(&ip_packet(ip(src), ip(dst), ttl, &payload)));
        assert!(
            wait_until(Duration::from_secs(3), Duration::from_millis(10), || d
                .state(inst)
                == "BACKUP"),
            "{inst}: a valid signed advert at 254 did not take over\n{}",
            d.proc.log()
        );
        assert_eq!(d.inst(inst)["master"], src);
    }
}

// ---- two vrrpds ---------------------------------------------------------------------------

/// One instance at 100 ms (so that the advert keeper shares the adverts) with `auth` (the
/// body of `[instance.auth_hmac]`, none when empty).
fn pair_config(prio: u8, auth: &str) -> String {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("[instance.auth_hmac]\n{auth}\n")
    };
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 21\npriority = {prio}\n\
         advert_interval = \"100ms\"\nvirtual_ips = [\"172.16.1.254/24\"]\n{auth}"
    )
}

struct Pair {
    _lab: Lab,
    dir: PathBuf,
    master: Daemon,
    backup: Daemon,
    /// A third host on the segment, without the key.
    client: Host,
}

impl Pair {
    fn new(tag: &str, auth: &dyn Fn(&Path) -> String) -> Pair {
        let mut lab = Lab::new(tag);
        let br = lab.add_bridge("lan");
        let h1 = lab.add_host("bal1", &br, "ext0", &format!("{BAL1}/24"));
        let h2 = lab.add_host("bal2", &br, "ext0", &format!("{BAL2}/24"));
        let client = lab.add_host("client", &br, "ext0", &format!("{CLIENT}/24"));
        let dir = lab.dir().to_path_buf();
        let a = auth(&dir);
        let master = Daemon::start(h1, &dir, &pair_config(150, &a));
        let backup = Daemon::start(h2, &dir, &pair_config(100, &a));
        let p = Pair {
            _lab: lab,
            dir,
            master,
            backup,
            client,
        };
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
                p.master.state("VI_1") == "MASTER" && p.backup.state("VI_1") == "BACKUP"
            }),
            "no election\n{}\n{}",
            p.master.proc.log(),
            p.backup.proc.log()
        );
        p
    }

    fn ctx(&self) -> String {
        format!(
            "--- master\n{}\n{}\n--- backup\n{}\n{}",
            self.master.inst("VI_1"),
            self.master.proc.log(),
            self.backup.inst("VI_1"),
            self.backup.proc.log()
        )
    }

    /// Both sides' transitions, and every drop counter.
    fn snapshot(&self) -> (u64, u64) {
        (
            self.master.counter("VI_1", "transitions"),
            self.backup.counter("VI_1", "transitions"),
        )
    }

    /// Waits until the backup has accepted `n` more adverts counted under `counter`
    /// (`auth_signed_received` or `auth_unsigned_received`), then checks that nobody moved
    /// and nothing was dropped on either side.
    fn hears(&self, counter: &str, n: u64, transitions: (u64, u64)) {
        let start = self.backup.counter("VI_1", counter);
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
                self.backup.counter("VI_1", counter) >= start + n
            }),
            "the backup did not count {n} more {counter}\n{}",
            self.ctx()
        );
        assert_eq!(self.snapshot(), transitions, "a flap\n{}", self.ctx());
        for d in [&self.master, &self.backup] {
            let drops = all_drops(&d.status());
            assert_eq!(total(&drops), 0, "drops: {drops:?}\n{}", self.ctx());
        }
        assert_eq!(self.master.state("VI_1"), "MASTER");
        assert_eq!(self.backup.state("VI_1"), "BACKUP");
    }
}

fn keys_line(dir: &Path, ids: &[u8]) -> String {
    let entries: Vec<String> = ids
        .iter()
        .map(|&id| {
            let hex = if id == 1 { KEY1_HEX } else { KEY2_HEX };
            let p = key_file(dir, &format!("k{id}.key"), hex);
            format!("{id} = \"file:{}\"", p.display())
        })
        .collect();
    format!("keys = {{ {} }}", entries.join(", "))
}

#[test]
fn keeper_copies_carry_fresh_sequences() {
    if !require_root() {
        return;
    }
    let p = Pair::new("authkeep", &|dir| format!("{}\n", keys_line(dir, &[1])));
    let t = p.snapshot();
    // 3 s at 100 ms: ~30 adverts, every other one from the advert keeper (when there is
    // one: two CPUs or more). Had the keeper resent the event loop's bytes, half of them
    // would be replays.
    p.hears("auth_signed_received", 25, t);
    let keeper = p.master.counter("VI_1", "keeper_turns");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        assert!(keeper >= 5, "the keeper sent {keeper} adverts\n{}", p.ctx());
    } else {
        loud("one CPU: no advert keeper, its re-signing is not exercised here");
    }
    let a = &p.master.inst("VI_1")["auth_hmac"];
    assert_eq!(a["mode"], "enforce", "{a}");
    assert_eq!(a["active_key"], 1, "{a}");
    assert!(a["last_seq_sent"].is_string(), "{a}");
}

#[test]
fn key_rotation_by_reload_without_a_flap() {
    if !require_root() {
        return;
    }
    let p = Pair::new("authrot", &|dir| format!("{}\n", keys_line(dir, &[1])));
    let mut p = p;
    let sniff = p.backup.host.sniff("ext0");
    let t = p.snapshot();
    p.hears("auth_signed_received", 5, t);
    // Make before break: key 2 everywhere, still signing with 1; then sign with 2; then
    // drop key 1. Each step reloads the master first, then the backup.
    let dir = p.dir.clone();
    for (ids, active) in [(&[1u8, 2][..], 1u8), (&[1, 2], 2), (&[2], 2)] {
        let body = format!("{}\nactive_key = {active}\n", keys_line(&dir, ids));
        let m = pair_config(150, &body);
        let b = pair_config(100, &body);
        p.master.reload(&m);
        p.backup.reload(&b);
        p.hears("auth_signed_received", 10, t);
        // What the master now signs with, on the wire.
        sniff.take();
        let f = sniff
            .wait_for(Duration::from_secs(3), |f| {
                f.is_vrrp() && f.ip_src() == Some(ip(BAL1))
            })
            .expect("an advert from the master");
        assert_eq!(
            trailer_key_id(f.ip_payload().expect("payload")),
            Some(active),
            "step {ids:?}/{active}"
        );
        let a = &p.backup.inst("VI_1")["auth_hmac"];
        assert_eq!(a["key_ids"], serde_json::json!(ids), "{a}");
    }
}

#[test]
fn rollout_receive_only_permissive_enforce_without_a_flap() {
    if !require_root() {
        return;
    }
    // Start without auth_hmac at all.
    let mut p = Pair::new("authroll", &|_| String::new());
    let t = p.snapshot();
    let dir = p.dir.clone();
    for mode in ["receive-only", "permissive", "enforce"] {
        let body = format!("{}\nmode = \"{mode}\"\n", keys_line(&dir, &[1]));
        p.master.reload(&pair_config(150, &body));
        p.backup.reload(&pair_config(100, &body));
        let counter = if mode == "receive-only" {
            // Nobody signs yet: the backup accepts unsigned adverts and says so.
            "auth_unsigned_received"
        } else {
            "auth_signed_received"
        };
        p.hears(counter, 10, t);
        assert_eq!(p.backup.inst("VI_1")["auth_hmac"]["mode"], mode);
    }
    // Under enforce, nothing unsigned is accepted any more.
    let unsigned = p.backup.counter("VI_1", "auth_unsigned_received");
    p.hears("auth_signed_received", 10, t);
    assert_eq!(p.backup.counter("VI_1", "auth_unsigned_received"), unsigned);
}

#[test]
fn a_trailer_key_id_is_what_the_status_shows() {
    // Guards the helper the rotation test reads the wire with.
    let k = key(7, KEY1_HEX);
    let adv = v3(1, 100, 100, &["192.0.2.1"]);
    let p = signed(&adv, ip("192.0.2.2"), ip(GROUP4), &k, Seq(5));
    assert_eq!(trailer_key_id(&p), Some(7));
    let t = Trailer {
        key_id: 3,
        seq: Seq(1),
        tag: [0; 16],
    };
    assert_eq!(
        trailer_key_id(&with_trailer(&adv, ip("192.0.2.2"), ip(GROUP4), &t)),
        Some(3)
    );
}

/// The packets and bytes of each `counter ... drop` rule of the vrrpd table, by rule text.
fn nft_counters(host: &Host) -> Vec<(String, u64)> {
    let out = host.exec_ok(&["nft", "list", "chain", "inet", "vrrpd", "vrrp"]);
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (rule, rest) = l.split_once(" counter packets ")?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((rule.to_owned(), n))
        })
        .collect()
}

fn nft_count(c: &[(String, u64)], rule: &str) -> u64 {
    c.iter().find(|(r, _)| r == rule).map_or(0, |(_, n)| *n)
}

#[test]
fn the_nftables_rules_of_security_md_drop_strangers_first() {
    if !require_root() {
        return;
    }
    if !tool_available("nft") {
        let msg = "nft is missing (apt-get install nftables)";
        if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
            panic!("{REQUIRE_NETNS_ENV}=1 but {msg}");
        }
        loud(&format!(
            "\n********** SKIPPED ({msg}): {} **********\n",
            test_name()
        ));
        return;
    }
    let p = Pair::new("authnft", &|dir| format!("{}\n", keys_line(dir, &[1])));
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/nftables/vrrpd.nft");
    for h in [&p.master.host, &p.backup.host] {
        h.exec_ok(&["nft", "-f", &rules.to_string_lossy()]);
    }
    let t = p.snapshot();
    // The peers' own adverts pass the rules.
    p.hears("auth_signed_received", 10, t);
    let before = nft_counters(&p.master.host);
    let tx = RawSender::new(&p.client, "ext0");
    let adv = v3(21, 254, 10, &["172.16.1.254"]);
    let (c, b2, g) = (ip(CLIENT), ip(BAL2), ip(GROUP4));
    // A stranger with its own address, and a packet from a router away: the kernel drops
    // both, vrrpd never sees them.
    assert!(tx.send(&ip_packet(c, g, 255, &plain(&adv, c, g))));
    assert!(tx.send(&ip_packet(b2, g, 64, &plain(&adv, b2, g))));
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            let now = nft_counters(&p.master.host);
            nft_count(&now, "ip saddr != @peers4") > nft_count(&before, "ip saddr != @peers4")
                && nft_count(&now, "ip ttl != 255") > nft_count(&before, "ip ttl != 255")
        }),
        "{:?}",
        nft_counters(&p.master.host)
    );
    assert_eq!(total(&all_drops(&p.master.status())), 0, "vrrpd saw them");
    // What the rules cannot do: a peer's address spoofed on the segment passes them; only
    // the HMAC refuses it.
    assert!(tx.send(&ip_packet(b2, g, 255, &plain(&adv, b2, g))));
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            drop_of(&all_drops(&p.master.status()), "VI_1/auth_missing") == 1
        }),
        "{}",
        p.ctx()
    );
    assert_eq!(p.snapshot(), t, "a flap\n{}", p.ctx());
    assert_eq!(p.master.state("VI_1"), "MASTER");
}
