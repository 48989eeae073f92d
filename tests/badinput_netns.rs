//! Bad packets against a running vrrpd: one test per class of bad input,
//! injected from a client namespace. Each is dropped (or handled) as the RFC
//! says, counted under its own reason in `vrrpd status --json`, and leaves the
//! state alone unless the RFC says otherwise. Every injected advert carries
//! priority 254, above the daemon's 150, so that accepting it WOULD make the
//! master step down: a state that stays MASTER proves the drop.
//!
//! The last test floods 10 000 bad packets per second and bounds the log
//! lines written and the CPU time the daemon spends.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use vrrpd::core::types::{Centisecs, Priority, Version};
use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

const VIP4: &str = "172.16.1.254";
const VIP4_V2: &str = "172.16.1.253";
const VIP6: &str = "fd00:1::254";
const BAL: &str = "172.16.1.250";
const CLIENT: &str = "172.16.1.100";
const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Three instances on one daemon: v3/IPv4 (VRID 12), v2/IPv4 with a
/// password (VRID 13), v3/IPv6 (VRID 14), all priority 150 and 1 s adverts.
const CONFIG: &str = r#"
[[instance]]
name = "V3"
interface = "ext0"
vrid = 12
priority = 150
virtual_ips = ["172.16.1.254/24"]

[[instance]]
name = "V2"
interface = "ext0"
vrid = 13
version = 2
priority = 150
auth_pass = "secret"
virtual_ips = ["172.16.1.253/24"]

[[instance]]
name = "V6"
interface = "ext0"
vrid = 14
priority = 150
virtual_ips = ["fd00:1::254/64"]
"#;

/// One daemon on `bal1` and a client that injects packets, on one bridge.
struct Rig {
    _lab: Lab,
    bal: Host,
    client: Host,
    proc: Proc,
    socket: PathBuf,
    log: PathBuf,
    /// The client's IPv6 link-local address (the source of its v6 adverts).
    client_ll: Ipv6Addr,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let mut lab = Lab::new(tag);
        let br = lab.add_bridge("lan");
        let bal = lab.add_host("bal1", &br, "ext0", &format!("{BAL}/24"));
        let client = lab.add_host("client", &br, "ext0", &format!("{CLIENT}/24"));
        let dir = lab.dir().to_path_buf();
        let config = write_config(&dir, "bal1.toml", CONFIG);
        let socket = dir.join("bal1.sock");
        let log = dir.join("bal1.log");
        let proc = bal.spawn_vrrpd(&config, &["--socket", &socket.to_string_lossy()], &log);
        let client_ll = client
            .addrs()
            .iter()
            .filter(|(ifname, _)| ifname == "ext0")
            .filter_map(|(_, a)| a.parse::<Ipv6Addr>().ok())
            .find(|a| a.segments()[0] == 0xfe80)
            .expect("client has a link-local address");
        let rig = Rig {
            _lab: lab,
            bal,
            client,
            proc,
            socket,
            log,
            client_ll,
        };
        // A lone daemon becomes master of all three after Master_Down_Interval.
        let ok = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
            rig.socket.exists()
                && ["V3", "V2", "V6"]
                    .iter()
                    .all(|n| rig.instance(n)["state"] == "MASTER")
        });
        assert!(ok, "not all MASTER:\n{}", rig.log_text());
        assert!(rig.bal.has_addr(VIP4) && rig.bal.has_addr(VIP4_V2) && rig.bal.has_addr(VIP6));
        rig
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn status(&self) -> Value {
        vrrpd_status(&self.socket)
    }

    fn instance(&self, name: &str) -> Value {
        status_instance(&self.status(), name)
    }

    /// A global drop counter (before demultiplexing).
    fn drop_count(&self, reason: &str) -> u64 {
        self.status()["drops"][reason].as_u64().unwrap_or(0)
    }

    /// A per-instance drop counter.
    fn inst_drop(&self, inst: &str, reason: &str) -> u64 {
        self.instance(inst)["counters"]["drops"][reason]
            .as_u64()
            .unwrap_or(0)
    }

    /// Send an IPv4 packet to 224.0.0.18 from `src` with this TTL (IP_HDRINCL,
    /// so that the source and TTL are exactly as given).
    fn send4(&self, payload: &[u8], ttl: u8, src: Ipv4Addr) {
        let pkt = ipv4_packet(src, GROUP4, ttl, payload);
        self.client.in_netns(move || {
            use socket2::{Domain, Protocol, Socket, Type};
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            s.set_header_included_v4(true).unwrap();
            s.bind_device(Some(b"ext0")).unwrap();
            let dst: std::net::SocketAddr = (GROUP4, 0).into();
            s.send_to(&pkt, &dst.into()).unwrap();
        });
    }

    /// Send a VRRP payload to ff02::12 from the client's link-local address.
    fn send6(&self, payload: &[u8], hops: u32) {
        let payload = payload.to_vec();
        self.client.in_netns(move || {
            use socket2::{Domain, Protocol, SockAddr, Socket, Type};
            let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
            s.bind_device(Some(b"ext0")).unwrap();
            let idx = nix::net::if_::if_nametoindex("ext0").unwrap();
            s.set_multicast_if_v6(idx).unwrap();
            s.set_multicast_hops_v6(hops).unwrap();
            let dst = SockAddr::from(std::net::SocketAddrV6::new(GROUP6, 0, 0, idx));
            s.send_to(&payload, &dst).unwrap();
        });
    }

    /// Assert that `inst` is still MASTER with as many transitions as in `before`.
    fn assert_unchanged(&self, before: &Value, inst: &str) {
        let after = self.instance(inst);
        let b = before["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == inst)
            .unwrap();
        assert_eq!(after["state"], "MASTER", "{after}\n{}", self.log_text());
        assert_eq!(
            after["counters"]["transitions"], b["counters"]["transitions"],
            "{after}"
        );
        assert_eq!(
            after["counters"]["adverts_received"], b["counters"]["adverts_received"],
            "a bad packet was accepted: {after}"
        );
    }

    /// Wait (up to 10 s) for a counter to reach `want`.
    fn wait_count(&self, want: u64, read: impl Fn(&Rig) -> u64) -> u64 {
        let mut got = 0;
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            got = read(self);
            got >= want
        });
        got
    }
}

/// A bare IPv4 header (no options) in front of `payload`. The kernel fills in
/// the header checksum and the identification under IP_HDRINCL.
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, ttl, 112, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

fn v3(vrid: u8, prio: u8, interval_cs: u16, addrs: &[&str]) -> Advertisement {
    Advertisement {
        version: Version::V3,
        vrid,
        priority: Priority(prio),
        max_adver_int: Centisecs(interval_cs),
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        auth: Auth::None,
    }
}

fn v2(vrid: u8, prio: u8, interval_cs: u16, auth: Auth) -> Advertisement {
    Advertisement {
        version: Version::V2,
        vrid,
        priority: Priority(prio),
        max_adver_int: Centisecs(interval_cs),
        addrs: vec![VIP4_V2.parse().unwrap()].into(),
        auth,
    }
}

fn pass(p: &str) -> Auth {
    let mut data = [0u8; 8];
    data[..p.len()].copy_from_slice(p.as_bytes());
    Auth::SimplePassword(data)
}

/// The message bytes for an IPv4 packet from `src` to 224.0.0.18.
fn bytes4(a: &Advertisement, src: Ipv4Addr, mode: ChecksumMode) -> Vec<u8> {
    a.to_bytes(IpAddr::V4(src), IpAddr::V4(GROUP4), mode)
        .unwrap()
}

/// A good v3 advert for the V3 instance, as the client would send it.
fn good_v3() -> Vec<u8> {
    bytes4(
        &v3(12, 254, 100, &[VIP4]),
        CLIENT.parse().unwrap(),
        ChecksumMode::PseudoHeader,
    )
}

fn client4() -> Ipv4Addr {
    CLIENT.parse().unwrap()
}

/// Recompute a v3 IPv4 message's checksum in `mode` after editing it.
fn refill(msg: &mut [u8], mode: ChecksumMode) {
    use vrrpd::core::wire::{Family, VrrpPacket};
    let mut p = VrrpPacket::new_unchecked(msg, Family::Ipv4);
    p.fill_checksum(&IpAddr::V4(client4()), &IpAddr::V4(GROUP4), mode)
        .unwrap();
}

/// The control: the same advert, well formed, does make the master step
/// down. Without this, "stays MASTER" in the other tests would prove nothing.
#[test]
fn control_a_good_advert_at_254_takes_over() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-ctl");
    rig.send4(&good_v3(), 255, client4());
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || rig.instance("V3")["state"] == "BACKUP"
    ));
    assert_eq!(rig.instance("V3")["master"], CLIENT);
    // The others are untouched.
    assert_eq!(rig.instance("V2")["state"], "MASTER");
}

#[test]
fn ttl_not_255_ipv4_is_dropped_as_ttl() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-ttl4");
    let before = rig.status();
    for ttl in [1, 64, 254] {
        rig.send4(&good_v3(), ttl, client4());
    }
    assert_eq!(rig.wait_count(3, |r| r.drop_count("ttl")), 3);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn hop_limit_not_255_ipv6_is_dropped_as_ttl() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-ttl6");
    let src = IpAddr::V6(rig.client_ll);
    let msg = v3(14, 254, 100, &[VIP6])
        .to_bytes(src, IpAddr::V6(GROUP6), ChecksumMode::PseudoHeader)
        .unwrap();
    let before = rig.status();
    rig.send6(&msg, 64);
    rig.send6(&msg, 1);
    assert_eq!(rig.wait_count(2, |r| r.drop_count("ttl")), 2);
    rig.assert_unchanged(&before, "V6");
    // Control: the same message with hop limit 255 is accepted.
    rig.send6(&msg, 255);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || rig.instance("V6")["state"] == "BACKUP"
    ));
}

/// A v3 IPv4 checksum that is wrong in both forms the receiver accepts.
fn bad_checksum(mode: ChecksumMode) -> Vec<u8> {
    let mut msg = bytes4(&v3(12, 254, 100, &[VIP4]), client4(), mode);
    msg[6] ^= 0x5a;
    // Neither form may verify now.
    assert!(Advertisement::parse(&msg, IpAddr::V4(client4()), IpAddr::V4(GROUP4)).is_err());
    msg
}

#[test]
fn bad_checksum_pseudo_header_form_is_dropped() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-cks1");
    let before = rig.status();
    rig.send4(&bad_checksum(ChecksumMode::PseudoHeader), 255, client4());
    assert_eq!(rig.wait_count(1, |r| r.drop_count("checksum")), 1);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn bad_checksum_message_only_form_is_dropped() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-cks2");
    let before = rig.status();
    rig.send4(&bad_checksum(ChecksumMode::MessageOnly), 255, client4());
    assert_eq!(rig.wait_count(1, |r| r.drop_count("checksum")), 1);
    rig.assert_unchanged(&before, "V3");
    // Control: the message-only form with a right checksum is accepted and
    // counted as such (keepalived < 2.2 and some routers send it).
    let good = bytes4(
        &v3(12, 254, 100, &[VIP4]),
        client4(),
        ChecksumMode::MessageOnly,
    );
    rig.send4(&good, 255, client4());
    assert_eq!(
        rig.wait_count(1, |r| r.instance("V3")["counters"]["checksum_message_only"]
            .as_u64()
            .unwrap_or(0)),
        1
    );
    assert_eq!(rig.instance("V3")["state"], "BACKUP");
}

#[test]
fn unknown_version_is_dropped_as_version() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-ver");
    let before = rig.status();
    for version in [0u8, 1, 4, 15] {
        let mut msg = good_v3();
        msg[0] = (version << 4) | 1;
        rig.send4(&msg, 255, client4());
    }
    assert_eq!(rig.wait_count(4, |r| r.drop_count("version")), 4);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn wrong_type_is_dropped_as_type() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-type");
    let before = rig.status();
    for ty in [0u8, 2, 15] {
        let mut msg = good_v3();
        msg[0] = 0x30 | ty;
        // A right checksum, so that the type is the only thing wrong.
        refill(&mut msg, ChecksumMode::PseudoHeader);
        rig.send4(&msg, 255, client4());
    }
    assert_eq!(rig.wait_count(3, |r| r.drop_count("type")), 3);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn truncated_packet_is_dropped_as_truncated() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-trunc");
    let before = rig.status();
    for len in [0usize, 1, 7] {
        rig.send4(&good_v3()[..len], 255, client4());
    }
    assert_eq!(rig.wait_count(3, |r| r.drop_count("truncated")), 3);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn count_disagreeing_with_length_is_dropped_as_length() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-len");
    let before = rig.status();
    // Count says 2 addresses, the message holds 1.
    let mut more = good_v3();
    more[3] = 2;
    refill(&mut more, ChecksumMode::PseudoHeader);
    // Count says 1, the message holds 1 and 3 extra bytes.
    let mut extra = good_v3();
    extra.extend_from_slice(&[0, 0, 0]);
    // Count says 1, the message stops halfway through the address.
    let cut = good_v3()[..10].to_vec();
    for m in [more, extra, cut] {
        rig.send4(&m, 255, client4());
    }
    assert_eq!(rig.wait_count(3, |r| r.drop_count("length")), 3);
    rig.assert_unchanged(&before, "V3");
}

#[test]
fn wrong_auth_type_is_dropped_as_auth() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-atype");
    let before = rig.status();
    let none = v2(13, 254, 100, Auth::None);
    let ah = v2(
        13,
        254,
        100,
        Auth::Other {
            auth_type: 2,
            data: *b"secret\0\0",
        },
    );
    for a in [none, ah] {
        rig.send4(
            &bytes4(&a, client4(), ChecksumMode::MessageOnly),
            255,
            client4(),
        );
    }
    assert_eq!(rig.wait_count(2, |r| r.inst_drop("V2", "auth")), 2);
    rig.assert_unchanged(&before, "V2");
}

#[test]
fn wrong_password_is_dropped_as_auth() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-pass");
    let before = rig.status();
    for p in ["wrong", "secret1", "Secret", ""] {
        let a = v2(13, 254, 100, pass(p));
        rig.send4(
            &bytes4(&a, client4(), ChecksumMode::MessageOnly),
            255,
            client4(),
        );
    }
    assert_eq!(rig.wait_count(4, |r| r.inst_drop("V2", "auth")), 4);
    rig.assert_unchanged(&before, "V2");
    // Control: the right password is accepted.
    let a = v2(13, 254, 100, pass("secret"));
    rig.send4(
        &bytes4(&a, client4(), ChecksumMode::MessageOnly),
        255,
        client4(),
    );
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || rig.instance("V2")["state"] == "BACKUP"
    ));
}

#[test]
fn unknown_vrid_is_dropped_as_vrid_unknown() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-vrid");
    let before = rig.status();
    for vrid in [1u8, 99, 255] {
        let m = bytes4(
            &v3(vrid, 254, 100, &[VIP4]),
            client4(),
            ChecksumMode::PseudoHeader,
        );
        rig.send4(&m, 255, client4());
    }
    // VRID 14 runs on this interface, but for IPv6 only.
    let m = bytes4(
        &v3(14, 254, 100, &[VIP4]),
        client4(),
        ChecksumMode::PseudoHeader,
    );
    rig.send4(&m, 255, client4());
    assert_eq!(rig.wait_count(4, |r| r.drop_count("vrid_unknown")), 4);
    rig.assert_unchanged(&before, "V3");
    rig.assert_unchanged(&before, "V6");
}

#[test]
fn other_vrrp_version_for_the_vrid_is_dropped_as_version() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-over");
    let before = rig.status();
    // A v2 advert for the v3 instance's VRID, and a v3 one for the v2 instance's.
    let a = Advertisement {
        addrs: vec![VIP4.parse().unwrap()].into(),
        ..v2(12, 254, 100, Auth::None)
    };
    rig.send4(
        &bytes4(&a, client4(), ChecksumMode::MessageOnly),
        255,
        client4(),
    );
    let b = v3(13, 254, 100, &[VIP4_V2]);
    rig.send4(
        &bytes4(&b, client4(), ChecksumMode::PseudoHeader),
        255,
        client4(),
    );
    assert_eq!(rig.wait_count(1, |r| r.inst_drop("V3", "version")), 1);
    assert_eq!(rig.wait_count(1, |r| r.inst_drop("V2", "version")), 1);
    rig.assert_unchanged(&before, "V3");
    rig.assert_unchanged(&before, "V2");
}

/// RFC 3768 Section 7.1: a v2 advert whose Adver Int differs from ours MUST
/// be discarded.
#[test]
fn interval_mismatch_v2_is_dropped() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-int2");
    let before = rig.status();
    for s in [2u16, 3] {
        let a = v2(13, 254, s * 100, pass("secret"));
        rig.send4(
            &bytes4(&a, client4(), ChecksumMode::MessageOnly),
            255,
            client4(),
        );
    }
    assert_eq!(
        rig.wait_count(2, |r| r.inst_drop("V2", "interval_mismatch")),
        2
    );
    rig.assert_unchanged(&before, "V2");
}

/// RFC 5798 Section 6.4.3: a v3 master that hears a higher priority takes the
/// sender's Max Adver Int as Master_Adver_Interval and becomes backup. The
/// interval is adopted, not a reason to drop.
#[test]
fn interval_mismatch_v3_is_adopted() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-int3");
    assert_eq!(rig.instance("V3")["master_adver_interval_ms"], 1000);
    let m = bytes4(
        &v3(12, 254, 200, &[VIP4]),
        client4(),
        ChecksumMode::PseudoHeader,
    );
    rig.send4(&m, 255, client4());
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || rig.instance("V3")["state"] == "BACKUP"
    ));
    let i = rig.instance("V3");
    assert_eq!(i["master_adver_interval_ms"], 2000, "{i}");
    assert_eq!(i["advert_interval_ms"], 1000, "{i}");
    assert!(i["counters"]["drops"]["interval_mismatch"].is_null(), "{i}");
}

/// RFC 9568 Section 6.4.2/6.4.3 (and keepalived >= 2.3.3): an address list
/// that differs from ours is accepted and logged, not dropped.
#[test]
fn vip_list_mismatch_is_accepted_and_counted() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-vips");
    let m = bytes4(
        &v3(12, 254, 100, &["172.16.1.77", "172.16.1.78"]),
        client4(),
        ChecksumMode::PseudoHeader,
    );
    rig.send4(&m, 255, client4());
    assert_eq!(
        rig.wait_count(1, |r| r.instance("V3")["counters"]["vip_mismatch"]
            .as_u64()
            .unwrap_or(0)),
        1
    );
    let i = rig.instance("V3");
    assert_eq!(i["state"], "BACKUP", "accepted, so it follows the RFC: {i}");
    assert_eq!(i["counters"]["adverts_received"], 1, "{i}");
}

/// A source outside the interface's subnets. Neither RFC 3768 nor RFC 5798
/// asks the receiver to check it (the TTL/hop-limit 255 check is what proves
/// the sender is on the link), and real setups put peers' primary addresses
/// in other subnets of the same link, so vrrpd accepts it. See
/// docs/RELIABILITY.md. This test pins the decision.
#[test]
fn source_off_subnet_is_accepted_as_the_rfc_allows() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-subnet");
    let src: Ipv4Addr = "10.99.0.1".parse().unwrap();
    let m = bytes4(&v3(12, 254, 100, &[VIP4]), src, ChecksumMode::PseudoHeader);
    rig.send4(&m, 255, src);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        || rig.instance("V3")["state"] == "BACKUP"
    ));
    assert_eq!(rig.instance("V3")["master"], "10.99.0.1");
}

/// Our own primary address as the source. From the wire, the kernel drops
/// such a packet itself (a local source address fails the reverse-path
/// check), so the daemon never sees it; what does reach the daemon is a
/// looped-back multicast copy from its own host, which it counts as
/// `own_address`. Both are checked.
#[test]
fn our_own_address_as_source_is_dropped_as_own_address() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-own");
    let before = rig.status();
    let own: Ipv4Addr = BAL.parse().unwrap();
    let m3 = bytes4(&v3(12, 254, 100, &[VIP4]), own, ChecksumMode::PseudoHeader);
    let m2 = bytes4(
        &v2(13, 254, 100, pass("secret")),
        own,
        ChecksumMode::MessageOnly,
    );
    // From the client: spoofed, dropped by the kernel.
    rig.send4(&m3, 255, own);
    rig.send4(&m2, 255, own);
    // Then a marker the daemon does see and count (TTL 64): once it is
    // counted, the two before it would have been read too, had they arrived.
    let ttl = rig.drop_count("ttl");
    rig.send4(&good_v3(), 64, client4());
    assert_eq!(rig.wait_count(ttl + 1, |r| r.drop_count("ttl")), ttl + 1);
    rig.assert_unchanged(&before, "V3");
    rig.assert_unchanged(&before, "V2");
    // From bal1 itself, multicast loop on: the daemon sees it and drops it.
    let pkts = [
        ipv4_packet(own, GROUP4, 255, &m3),
        ipv4_packet(own, GROUP4, 255, &m2),
    ];
    rig.bal.in_netns(move || {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.set_header_included_v4(true).unwrap();
        s.set_multicast_loop_v4(true).unwrap();
        s.bind_device(Some(b"ext0")).unwrap();
        let dst: std::net::SocketAddr = (GROUP4, 0).into();
        for p in pkts {
            s.send_to(&p, &dst.into()).unwrap();
        }
    });
    assert_eq!(rig.wait_count(1, |r| r.inst_drop("V3", "own_address")), 1);
    assert_eq!(rig.wait_count(1, |r| r.inst_drop("V2", "own_address")), 1);
    rig.assert_unchanged(&before, "V3");
    rig.assert_unchanged(&before, "V2");
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// 10 000 bad packets per second for 3 s, every class in turn: the state
/// stays, every class is counted, the log grows by a bounded number of lines
/// and the daemon's CPU time stays low.
#[test]
fn flood_of_bad_packets_is_bounded_in_log_and_cpu() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-flood");
    let before = rig.status();
    let c = client4();
    let mut bad_sum = good_v3();
    bad_sum[6] ^= 0x5a;
    let mut bad_ver = good_v3();
    bad_ver[0] = 0x41;
    let wrong_pass = bytes4(
        &v2(13, 254, 100, pass("wrong")),
        c,
        ChecksumMode::MessageOnly,
    );
    let unknown_vrid = bytes4(&v3(99, 254, 100, &[VIP4]), c, ChecksumMode::PseudoHeader);
    let v2_int = bytes4(
        &v2(13, 254, 300, pass("secret")),
        c,
        ChecksumMode::MessageOnly,
    );
    let classes: Vec<Vec<u8>> = vec![
        ipv4_packet(c, GROUP4, 64, &good_v3()),
        ipv4_packet(c, GROUP4, 255, &bad_sum),
        ipv4_packet(c, GROUP4, 255, &bad_ver),
        ipv4_packet(c, GROUP4, 255, &good_v3()[..5]),
        ipv4_packet(c, GROUP4, 255, &good_v3()[..10]),
        ipv4_packet(c, GROUP4, 255, &wrong_pass),
        ipv4_packet(c, GROUP4, 255, &unknown_vrid),
        ipv4_packet(c, GROUP4, 255, &v2_int),
    ];
    let pid = rig.proc.pid();
    let lines_before = rig.log_text().lines().count();
    let cpu_before = cpu_ticks(pid);
    const RATE: u64 = 10_000;
    const SECS: u64 = 3;
    let t0 = Instant::now();
    let sent = rig.client.in_netns(move || {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.set_header_included_v4(true).unwrap();
        s.bind_device(Some(b"ext0")).unwrap();
        let dst: std::net::SocketAddr = (GROUP4, 0).into();
        let dst = dst.into();
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < RATE * SECS {
            // Pace: 10 packets per millisecond.
            let due = start + Duration::from_micros(sent * 1_000_000 / RATE);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let p = &classes[(sent as usize) % classes.len()];
            if s.send_to(p, &dst).is_ok() {
                sent += 1;
            }
        }
        sent
    });
    let send_time = t0.elapsed();
    // Until the daemon has read everything the kernel queued for it.
    let mut queued = 0;
    let drained = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
        queued = rig.bal.raw_rx_queued(112);
        queued == 0
    });
    assert!(
        drained,
        "{queued} bytes still queued for vrrpd 10 s after the flood"
    );
    let cpu_after = cpu_ticks(pid);
    let wall = t0.elapsed();
    let lines_after = rig.log_text().lines().count();
    let after = rig.status();

    let cpu = Duration::from_millis((cpu_after - cpu_before) * 1000 / clock_ticks_per_sec());
    let new_lines = lines_after - lines_before;
    let global: u64 = [
        "ttl",
        "checksum",
        "version",
        "truncated",
        "length",
        "vrid_unknown",
    ]
    .iter()
    .map(|r| after["drops"][*r].as_u64().unwrap_or(0))
    .sum();
    let per_inst: u64 = after["instances"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            i["counters"]["drops"]
                .as_object()
                .map(|o| o.values().filter_map(|v| v.as_u64()).sum::<u64>())
        })
        .sum();
    let counted = global + per_inst;
    loud(&format!(
        "flood: sent {sent} packets in {send_time:?}; daemon counted {counted} drops; \
         CPU {cpu:?} over {wall:?} ({:.1}%); {new_lines} new log lines",
        cpu.as_secs_f64() * 100.0 / wall.as_secs_f64()
    ));
    // Every class is counted under its own reason.
    for r in [
        "ttl",
        "checksum",
        "version",
        "truncated",
        "length",
        "vrid_unknown",
    ] {
        assert!(after["drops"][r].as_u64().unwrap_or(0) > 0, "{r}: {after}");
    }
    for (i, r) in [("V2", "auth"), ("V2", "interval_mismatch")] {
        let v = after["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == i)
            .unwrap()["counters"]["drops"][r]
            .as_u64()
            .unwrap_or(0);
        assert!(v > 0, "{i} {r}: {after}");
    }
    // The kernel may drop some under load (socket buffer), but most arrive.
    assert!(counted * 2 >= sent, "only {counted} of {sent} counted");
    // No state change.
    rig.assert_unchanged(&before, "V3");
    rig.assert_unchanged(&before, "V2");
    rig.assert_unchanged(&before, "V6");
    // The log: at most 5 lines per reason per 10 s window (8 reasons), plus
    // the periodic lines of a running daemon. Generous, but far below 30 000.
    assert!(
        new_lines <= 120,
        "{new_lines} log lines for a flood:\n{}",
        rig.log_text()
    );
    // CPU: a generous bound on a shared 2-core machine (measured: see
    // docs/RELIABILITY.md).
    assert!(
        cpu < wall.mul_f64(0.6),
        "vrrpd used {cpu:?} of CPU in {wall:?}"
    );
}

/// The control socket answers `vrrpd status` and `maintenance`: root only.
#[test]
fn control_socket_is_mode_0600() {
    if !require_root() {
        return;
    }
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let rig = Rig::new("bi-sock");
    let meta = std::fs::metadata(&rig.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

/// `counters.checksum_message_only` / `checksum_pseudo_header` are documented
/// (docs/STATUS.md) as the forms of *accepted* packets, but the receive path
/// in src/daemon/mod.rs counts the form before the instance's own checks,
/// so dropped packets (wrong password here) are counted too.
#[test]
fn checksum_form_counters_count_only_accepted_packets() {
    if !require_root() {
        return;
    }
    let rig = Rig::new("bi-ckcnt");
    let a = v2(13, 254, 100, pass("wrong"));
    rig.send4(
        &bytes4(&a, client4(), ChecksumMode::MessageOnly),
        255,
        client4(),
    );
    assert_eq!(rig.wait_count(1, |r| r.inst_drop("V2", "auth")), 1);
    let i = rig.instance("V2");
    assert_eq!(i["counters"]["checksum_message_only"], 0, "{i}");
}
