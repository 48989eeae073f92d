//! A stranger on the segment, without the key, against two vrrpds with `auth_hmac` enforced.
//!
//! `bal1` (priority 150) is master of 172.16.1.254 and `bal2` (100) its backup, VRRPv3 over
//! IPv4 at 1 s, both with key 1. A third host, `evil`, sees their traffic (it captured a
//! genuine priority-0 advert of `bal1` when that was stopped once, and its ordinary adverts)
//! and sends:
//! - forged priority-255 adverts (unsigned from itself; with a made-up trailer, claiming the
//!   backup's address),
//! - forged priority-0 adverts claiming the master's address,
//! - the captured adverts replayed (the priority-0 one included),
//! - captured adverts with one bit flipped (in the priority, the address, the sequence, the tag),
//!
//! first one of each, then a flood of 20 000 packets per second of each class, from a tight
//! raw-socket sender (the rate is measured). Throughout, the master keeps the VIP, the
//! backup does not move, and the master's adverts keep reaching the backup on time (the
//! backup's `last_master_seen` is polled on the control socket; the largest gap is bounded
//! generously). Each daemon's CPU time over each flood is printed: a measurement, recorded in
//! docs/SECURITY.md with the command, not an assertion.

mod auth_common;
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auth_common::*;
use common::*;
use nix::sys::signal::Signal;
use serde_json::Value;
use vrrpd::core::wire::auth::{Seq, Trailer};

const BAL1: &str = "172.16.1.250";
const BAL2: &str = "172.16.1.251";
const EVIL: &str = "172.16.1.66";
const VIP: &str = "172.16.1.254";
const GROUP: &str = "224.0.0.18";
const RATE: u64 = 20_000;
const FLOOD: Duration = Duration::from_secs(3);
/// The advert interval.
const INTERVAL: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn config(prio: u8, key: &Path) -> String {
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 51\npriority = {prio}\n\
         advert_interval = \"1s\"\nvirtual_ips = [\"{VIP}/24\"]\n\
         [instance.auth_hmac]\nkeys = {{ 1 = \"file:{}\" }}\n",
        key.display()
    )
}

struct Node {
    host: Host,
    proc: Option<Proc>,
    config: PathBuf,
    socket: PathBuf,
    log: PathBuf,
}

impl Node {
    fn new(host: Host, dir: &Path, prio: u8, key: &Path) -> Node {
        let n = host.short_name().to_owned();
        Node {
            config: write_config(dir, &format!("{n}.toml"), &config(prio, key)),
            socket: dir.join(format!("{n}.sock")),
            log: dir.join(format!("{n}.log")),
            host,
            proc: None,
        }
    }

    fn start(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        self.proc = Some(self.host.spawn_vrrpd(
            &self.config,
            &["--socket", &self.socket.to_string_lossy()],
            &self.log,
        ));
        let s = self.socket.clone();
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(20), || s
                .exists()),
            "no control socket"
        );
    }

    /// The status, straight from the control socket (no process per poll).
    fn status(&self) -> Value {
        let line = vrrpd::daemon::request(&self.socket, "status").expect("control socket");
        serde_json::from_str(&line).expect("status JSON")
    }

    fn vi1(&self) -> Value {
        status_instance(&self.status(), "VI_1")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.proc.as_ref().expect("running").pid()
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Every drop counter of a daemon (before demultiplexing and VI_1's), summed, and by reason.
fn drops(status: &Value) -> (u64, Value) {
    let mut all = serde_json::Map::new();
    let vi = status_instance(status, "VI_1");
    for (k, v) in status["drops"]
        .as_object()
        .into_iter()
        .flatten()
        .chain(vi["counters"]["drops"].as_object().into_iter().flatten())
    {
        let n = all.get(k).and_then(Value::as_u64).unwrap_or(0) + v.as_u64().unwrap_or(0);
        all.insert(k.clone(), n.into());
    }
    let sum = all.values().filter_map(Value::as_u64).sum();
    (sum, Value::Object(all))
}

struct Rig {
    _lab: Lab,
    bal1: Node,
    bal2: Node,
    tx: RawSender,
    /// A genuine signed priority-0 advert of bal1 (from when it was stopped).
    captured_zero: Vec<u8>,
    /// Genuine signed priority-150 adverts of bal1.
    captured: Vec<Vec<u8>>,
}

impl Rig {
    fn new() -> Rig {
        let mut lab = Lab::new("attack");
        let br = lab.add_bridge("lan");
        let h1 = lab.add_host("bal1", &br, "ext0", &format!("{BAL1}/24"));
        let h2 = lab.add_host("bal2", &br, "ext0", &format!("{BAL2}/24"));
        let evil = lab.add_host("evil", &br, "ext0", &format!("{EVIL}/24"));
        let dir = lab.dir().to_path_buf();
        let key = key_file(&dir, "k1.key", KEY1_HEX);
        let mut bal1 = Node::new(h1, &dir, 150, &key);
        let mut bal2 = Node::new(h2, &dir, 100, &key);

        // The stranger listens while bal1 runs alone and is stopped once: it now holds
        // genuine signed adverts, a priority-0 one among them.
        let sniff = evil.sniff("ext0");
        bal1.start();
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
                bal1.vi1()["state"] == "MASTER"
            }),
            "bal1 alone did not become master\n{}",
            bal1.log_text()
        );
        sniff
            .wait_for(Duration::from_secs(5), |f| {
                f.is_vrrp() && f.ip_src() == Some(ip(BAL1))
            })
            .expect("a captured advert");
        let mut p = bal1.proc.take().expect("running");
        assert!(p
            .stop(Signal::SIGTERM, Duration::from_secs(5))
            .is_some_and(|s| s.success()));
        let zero = sniff
            .wait_for(Duration::from_secs(3), |f| {
                f.is_vrrp()
                    && f.ip_src() == Some(ip(BAL1))
                    && f.vrrp_header().map(|h| h.2) == Some(0)
            })
            .expect("bal1's signed priority-0 advert");
        let frames = sniff.stop();
        let captured: Vec<Vec<u8>> = frames
            .iter()
            .filter(|f| f.is_vrrp() && f.ip_src() == Some(ip(BAL1)))
            .filter(|f| f.vrrp_header().map(|h| h.2) == Some(150))
            .filter_map(|f| f.ip_payload().map(<[u8]>::to_vec))
            .collect();
        assert!(!captured.is_empty());
        let captured_zero = zero.ip_payload().expect("payload").to_vec();
        assert_eq!(trailer_key_id(&captured_zero), Some(1), "it is signed");

        // Now the pair: bal1 master, bal2 backup.
        bal1.start();
        bal2.start();
        let rig = Rig {
            _lab: lab,
            bal1,
            bal2,
            tx: RawSender::new(&evil, "ext0"),
            captured_zero,
            captured,
        };
        assert!(
            wait_until(Duration::from_secs(15), Duration::from_millis(50), || rig
                .steady()),
            "no election\n{}",
            rig.ctx()
        );
        rig
    }

    /// bal1 master with the VIP, bal2 backup without it, following bal1.
    fn steady(&self) -> bool {
        let (a, b) = (self.bal1.vi1(), self.bal2.vi1());
        a["state"] == "MASTER"
            && b["state"] == "BACKUP"
            && b["master"] == BAL1
            && self.bal1.host.has_addr(VIP)
            && !self.bal2.host.has_addr(VIP)
    }

    fn ctx(&self) -> String {
        format!(
            "--- bal1\n{}\n{}\n--- bal2\n{}\n{}",
            self.bal1.vi1(),
            self.bal1.log_text(),
            self.bal2.vi1(),
            self.bal2.log_text()
        )
    }

    fn transitions(&self) -> (u64, u64) {
        (
            self.bal1.vi1()["counters"]["transitions"]
                .as_u64()
                .unwrap_or(0),
            self.bal2.vi1()["counters"]["transitions"]
                .as_u64()
                .unwrap_or(0),
        )
    }

    /// One IP packet to the group.
    fn packet(src: &str, payload: &[u8]) -> Vec<u8> {
        ip_packet(ip(src), ip(GROUP), 255, payload)
    }

    /// Sends each packet once; each daemon counts each under exactly one drop reason, and
    /// nobody moves. A packet that claims a daemon's own address never reaches it: the
    /// kernel drops a received packet with a local source (`accept_local` is 0), so only
    /// the other daemon counts it.
    fn singles(&self, what: &str, packets: &[Vec<u8>]) {
        let t = self.transitions();
        let (d1, _) = drops(&self.bal1.status());
        let (d2, _) = drops(&self.bal2.status());
        let src = |p: &Vec<u8>| Ipv4Addr::new(p[12], p[13], p[14], p[15]).to_string();
        let n1 = packets.iter().filter(|p| src(p) != BAL1).count() as u64;
        let n2 = packets.iter().filter(|p| src(p) != BAL2).count() as u64;
        for p in packets {
            assert!(self.tx.send(p), "{what}: not sent");
        }
        let ok = wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
            drops(&self.bal2.status()).0 >= d2 + n2 && drops(&self.bal1.status()).0 >= d1 + n1
        });
        let (a, b) = (drops(&self.bal1.status()), drops(&self.bal2.status()));
        assert!(
            ok,
            "{what}: not all dropped: bal1 {a:?}, bal2 {b:?}\n{}",
            self.ctx()
        );
        assert_eq!(
            (a.0, b.0),
            (d1 + n1, d2 + n2),
            "{what}: counted twice? bal1 {a:?} bal2 {b:?}"
        );
        assert!(self.steady(), "{what}\n{}", self.ctx());
        assert_eq!(
            self.transitions(),
            t,
            "{what}: a transition\n{}",
            self.ctx()
        );
        loud(&format!("{what}: bal1 {a:?}, bal2 {b:?}"));
    }

    /// Floods `packets` at [`RATE`] for [`FLOOD`] while watching both daemons; returns the
    /// report line.
    fn flood(&self, what: &str, packets: Vec<Vec<u8>>) -> String {
        let t = self.transitions();
        let (d1, d2) = (drops(&self.bal1.status()).0, drops(&self.bal2.status()).0);
        let heard = |n: &Node| {
            n.vi1()["counters"]["auth_signed_received"]
                .as_u64()
                .unwrap_or(0)
        };
        let heard0 = heard(&self.bal2);
        let (p1, p2) = (self.bal1.pid(), self.bal2.pid());
        let (c1, c2) = (cpu_ticks(p1), cpu_ticks(p2));
        let t0 = Instant::now();
        let (f, gaps) = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                if packets.is_empty() {
                    // The baseline: the same watching, no flood.
                    std::thread::sleep(FLOOD);
                    Flood {
                        sent: 0,
                        refused: 0,
                        elapsed: FLOOD,
                    }
                } else {
                    self.tx.flood(&packets, RATE, FLOOD)
                }
            });
            // Watch: each master advert the backup accepts (its count of signed adverts
            // goes up by one), both states, and now and then who holds the VIP.
            let mut count = heard0;
            let mut last: Option<Instant> = None;
            let mut gaps = Vec::new();
            let mut polls = 0u32;
            while !sender.is_finished() {
                let (a, b) = (self.bal1.vi1(), self.bal2.vi1());
                assert!(
                    a["state"] == "MASTER" && b["state"] == "BACKUP",
                    "{what}: during the flood\n{}",
                    self.ctx()
                );
                if polls % 25 == 0 {
                    assert!(self.steady(), "{what}: during the flood\n{}", self.ctx());
                }
                polls += 1;
                let n = b["counters"]["auth_signed_received"].as_u64().unwrap_or(0);
                if n != count {
                    if let Some(l) = last {
                        gaps.push(l.elapsed());
                    }
                    last = Some(Instant::now());
                    count = n;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // The gap still open when the flood ended counts too.
            gaps.push(last.map_or(t0.elapsed(), |l| l.elapsed()));
            (sender.join().expect("sender"), gaps)
        });
        let wall = t0.elapsed();
        let tps = ticks_per_sec() as f64;
        let cpu1 = (cpu_ticks(p1) - c1) as f64 / tps;
        let cpu2 = (cpu_ticks(p2) - c2) as f64 / tps;
        let counted1 = drops(&self.bal1.status()).0 - d1;
        let counted2 = drops(&self.bal2.status()).0 - d2;
        let heard = heard(&self.bal2) - heard0;
        let max_gap = gaps.iter().max().copied().unwrap_or_default();
        // What reached each daemon: not the packets that claim its own address.
        let reach = |me: &str| {
            let src = |p: &Vec<u8>| Ipv4Addr::new(p[12], p[13], p[14], p[15]).to_string();
            let mine = packets.iter().filter(|p| src(p) != me).count() as u64;
            f.sent * mine / packets.len().max(1) as u64
        };
        let (reach1, reach2) = (reach(BAL1), reach(BAL2));
        let line = format!(
            "{what}: sent {} ({} refused) in {:.2?} = {:.0} pps; bal1 counted {counted1} of \
             {reach1} drops, bal2 {counted2} of {reach2}; the backup heard {heard} adverts, \
             largest gap {max_gap:.2?}; CPU bal1 {cpu1:.2} s ({:.1}%), bal2 {cpu2:.2} s \
             ({:.1}%) over {wall:.2?}",
            f.sent,
            f.refused,
            f.elapsed,
            f.rate(),
            cpu1 * 100.0 / wall.as_secs_f64(),
            cpu2 * 100.0 / wall.as_secs_f64()
        );
        loud(&line);
        // It was a flood (a generous floor: the target is 20 000 pps).
        assert!(packets.is_empty() || f.rate() >= 5_000.0, "{line}");
        // Nobody moved; the master's adverts kept reaching the backup, none lost: 1 s
        // apart, the bound leaves 750 ms for a loaded machine and the polling.
        assert!(self.steady(), "{what}\n{}", self.ctx());
        assert_eq!(
            self.transitions(),
            t,
            "{what}: a transition\n{}",
            self.ctx()
        );
        assert!(heard + 1 >= wall.as_secs(), "{line}");
        assert!(max_gap < INTERVAL + Duration::from_millis(750), "{line}");
        // Most of what reached each daemon was counted (the kernel may drop some).
        assert!(counted1 * 2 >= reach1 && counted2 * 2 >= reach2, "{line}");
        line
    }
}

/// A v3 advert for VRID 51 at `prio`, as bal1 would send it.
fn advert(prio: u8) -> vrrpd::core::wire::vrrp::Advertisement {
    v3(51, prio, 100, &[VIP])
}

/// `payload` (a signed v3 advert from bal1 to the group) with bit `bit` of byte `byte`
/// flipped, and, when the bit is in the VRRP message, its checksum made right again (the
/// IPv4 checksum does not cover the trailer): the tag alone must catch it.
fn flip(payload: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    use vrrpd::core::wire::{ChecksumMode, Family, VrrpPacket};
    let mut p = payload.to_vec();
    p[byte] ^= 1 << bit;
    let msg_len = p.len().saturating_sub(28);
    if byte < msg_len && p.len() >= 28 + 8 {
        let mut v = VrrpPacket::new_unchecked(&mut p[..msg_len], Family::Ipv4);
        v.fill_checksum(&ip(BAL1), &ip(GROUP), ChecksumMode::PseudoHeader)
            .expect("checksum");
    }
    p
}

#[test]
fn a_stranger_without_the_key_cannot_move_the_vip() {
    if !require_root() {
        return;
    }
    let rig = Rig::new();
    let (b1, b2, ev, g) = (ip(BAL1), ip(BAL2), ip(EVIL), ip(GROUP));
    // A made-up trailer with a fresh sequence (so that it costs a digest to refuse).
    let fake = |seq: Seq| Trailer {
        key_id: 1,
        seq,
        tag: [0xa5; 16],
    };
    let forged_255 = vec![
        Rig::packet(EVIL, &plain(&advert(255), ev, g)),
        Rig::packet(BAL2, &with_trailer(&advert(255), b2, g, &fake(seq_at(0)))),
    ];
    let forged_0 = vec![
        Rig::packet(BAL1, &plain(&advert(0), b1, g)),
        Rig::packet(BAL1, &with_trailer(&advert(0), b1, g, &fake(seq_at(0)))),
        Rig::packet(EVIL, &with_trailer(&advert(0), ev, g, &fake(seq_at(0)))),
    ];
    let replayed: Vec<Vec<u8>> = std::iter::once(&rig.captured_zero)
        .chain(rig.captured.iter().take(3))
        .map(|p| Rig::packet(BAL1, p))
        .collect();
    // A genuine advert of now, flipped: priority, the address, the sequence, the tag.
    let fresh = {
        let sniff = rig.bal2.host.sniff("ext0");
        let f = sniff
            .wait_for(Duration::from_secs(3), |f| {
                f.is_vrrp() && f.ip_src() == Some(b1)
            })
            .expect("an advert");
        f.ip_payload().expect("payload").to_vec()
    };
    let n = fresh.len();
    let flipped: Vec<Vec<u8>> = [(2, 7), (8, 0), (n - 24, 3), (n - 1, 0)]
        .into_iter()
        .map(|(byte, bit)| Rig::packet(BAL1, &flip(&fresh, byte, bit)))
        .collect();

    rig.singles("forged priority 255", &forged_255);
    rig.singles("forged priority 0", &forged_0);
    let n_replayed = replayed.len() as u64;
    rig.singles("replayed captures", &replayed);
    rig.singles("bit-flipped adverts", &flipped);
    let v2 = rig.bal2.vi1();
    for reason in ["auth_missing", "auth_bad_tag"] {
        assert!(
            v2["counters"]["drops"][reason].as_u64().unwrap_or(0) > 0,
            "{reason}: {v2}"
        );
    }
    let replays = ["auth_replayed", "auth_stale"]
        .iter()
        .map(|r| v2["counters"]["drops"][*r].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(replays >= n_replayed, "{v2}");

    // The CPU the watching itself costs the daemons (status requests every 10 ms).
    let mut report = vec![rig.flood("baseline, no flood", Vec::new())];
    for (what, packets) in [
        ("forged priority 255", forged_255),
        ("forged priority 0", forged_0),
        ("replayed captures", replayed),
        ("bit-flipped adverts", flipped),
    ] {
        report.push(rig.flood(&format!("flood: {what}"), packets));
    }
    // The log stays bounded: a few lines per reason per 10 s, not one per packet.
    for n in [&rig.bal1, &rig.bal2] {
        let lines = count_lines(&n.log_text(), "dropped advertisement");
        assert!(
            lines < 100,
            "{lines} log lines about drops\n{}",
            report.join("\n")
        );
    }
    loud(&report.join("\n"));
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn flip_changes_one_bit_and_keeps_the_checksum_right() {
    use vrrpd::core::wire::auth::{parse_payload, verify_tag, Packet};
    let k = key(1, KEY1_HEX);
    let p = signed(&advert(150), ip(BAL1), ip(GROUP), &k, seq_at(0));
    for (byte, bit) in [(2, 7), (8, 0), (p.len() - 24, 3), (p.len() - 1, 0)] {
        let f = flip(&p, byte, bit);
        assert_ne!(f[byte], p[byte]);
        // The checksum still holds, so only the tag can tell.
        let r = parse_payload(&f, ip(BAL1), ip(GROUP)).expect("the checksum is right");
        let t = Trailer::parse(&Packet::new_checked(r.trailer.unwrap()).unwrap()).unwrap();
        assert!(
            !verify_tag(&k, &ip(BAL1), r.message, &t),
            "byte {byte} bit {bit}"
        );
    }
    // Unflipped, it verifies.
    let r = parse_payload(&p, ip(BAL1), ip(GROUP)).unwrap();
    let t = Trailer::parse(&Packet::new_checked(r.trailer.unwrap()).unwrap()).unwrap();
    assert!(verify_tag(&k, &ip(BAL1), r.message, &t));
}
