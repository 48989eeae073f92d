//! Byte-exact vectors for the `auth_hmac` trailer: adverts that keepalived 2.4.3 sent
//! (tests/data/captures/keepalived-2.4.3-hmac-*.pcap, made by capture-auth-hmac.sh there) must
//! parse, verify with the key their configuration gives for their key id and with no other, be
//! accepted in capture order by a receiver whose clock reads the capture's time, be refused when
//! replayed or late, and be rebuilt to the same bytes when vrrpd signs them itself.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use vrrpd::core::auth::{
    AntiReplay, AuthDrop, Authenticator, KeyRing, Mode, Settings, Verified, WallTime,
};
use vrrpd::core::wire::auth::{
    append_trailer, parse_payload, sign, split, verify_tag, HmacKey, Packet, Trailer, TRAILER_LEN,
};
use vrrpd::core::wire::Family;

fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures")
}

/// One VRRP packet of a capture.
struct Advert {
    /// Capture time (Unix).
    when: WallTime,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    /// The IP payload: VRRP message and trailer.
    payload: Vec<u8>,
}

/// The VRRP packets of a classic little-endian Ethernet pcap (what tcpdump -w writes here).
fn read_adverts(name: &str) -> Vec<Advert> {
    let data = fs::read(captures().join(name)).expect("capture file");
    assert_eq!(
        &data[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{name}: a little-endian µs pcap"
    );
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    assert_eq!(u32_at(20), 1, "{name}: Ethernet link type");
    let mut out = Vec::new();
    let mut off = 24;
    while off < data.len() {
        let (secs, usecs, incl) = (u32_at(off), u32_at(off + 4), u32_at(off + 8) as usize);
        let frame = &data[off + 16..off + 16 + incl];
        off += 16 + incl;
        let when = WallTime {
            secs: u64::from(secs),
            nanos: usecs * 1000,
        };
        let ip = &frame[14..];
        match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                assert_eq!(ip[9], 112, "{name}: only VRRP was captured");
                let a =
                    |o: usize| IpAddr::V4(Ipv4Addr::new(ip[o], ip[o + 1], ip[o + 2], ip[o + 3]));
                out.push(Advert {
                    when,
                    src: a(12),
                    dst: a(16),
                    ttl: ip[8],
                    payload: ip[ihl..total].to_vec(),
                });
            }
            0x86dd => {
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                assert_eq!(ip[6], 112, "{name}: only VRRP was captured");
                let a = |o: usize| {
                    IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(&ip[o..o + 16]).unwrap(),
                    ))
                };
                out.push(Advert {
                    when,
                    src: a(8),
                    dst: a(24),
                    ttl: ip[7],
                    payload: ip[40..40 + len].to_vec(),
                });
            }
            other => panic!("{name}: EtherType {other:#06x}"),
        }
    }
    out
}

/// The `key ID VALUE` lines of a keepalived config, decoded as keepalived does: `hex:` bytes,
/// `file:` (relative to the captures directory) holding either form, else the ASCII text.
fn keys_of(conf: &str) -> BTreeMap<u8, Vec<u8>> {
    let text = fs::read_to_string(captures().join(conf)).expect("config");
    let decode = |v: &str| -> Vec<u8> {
        match v.strip_prefix("hex:") {
            Some(h) => (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                .collect(),
            None => v.as_bytes().to_vec(),
        }
    };
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["key", id, value] = words[..] {
            let bytes = match value.strip_prefix("file:") {
                Some(path) => {
                    let content = fs::read_to_string(captures().join(path)).expect("key file");
                    decode(content.trim_end_matches(['\n', '\r']))
                }
                None => decode(value),
            };
            keys.insert(id.parse().expect("key id"), bytes);
        }
    }
    assert!(!keys.is_empty(), "{conf}: no key lines");
    keys
}

fn ring(keys: &BTreeMap<u8, Vec<u8>>) -> KeyRing {
    KeyRing::new(
        keys.iter()
            .map(|(id, k)| HmacKey::new(*id, k).expect("key")),
    )
}

fn trailer_of(a: &Advert) -> Trailer {
    let r = parse_payload(&a.payload, a.src, a.dst).expect("advert parses");
    Trailer::parse(&Packet::new_checked(r.trailer.expect("a trailer")).unwrap()).unwrap()
}

/// The capture's checks, for `file` with the keys of `confs` (the union over the steps).
fn check_capture(file: &str, confs: &[&str], anti_replay: AntiReplay, expect_ids: &[u8]) {
    let adverts = read_adverts(file);
    assert!(adverts.len() >= 8, "{file}: {} adverts", adverts.len());
    let mut keys = BTreeMap::new();
    for c in confs {
        keys.extend(keys_of(c));
    }
    let active = *keys.keys().next().unwrap();
    let settings = || Settings::new(ring(&keys), active, Mode::Enforce, anti_replay).unwrap();
    let mut receiver = Authenticator::new(settings(), &[]);
    let mut ids_seen = Vec::new();
    let mut priorities = Vec::new();
    for (n, a) in adverts.iter().enumerate() {
        assert_eq!(a.ttl, 255, "{file} #{n}");
        let r =
            parse_payload(&a.payload, a.src, a.dst).unwrap_or_else(|e| panic!("{file} #{n}: {e}"));
        assert_eq!(r.trailer.map(<[u8]>::len), Some(TRAILER_LEN), "{file} #{n}");
        let t = trailer_of(a);
        if ids_seen.last() != Some(&t.key_id) {
            ids_seen.push(t.key_id);
        }
        priorities.push(r.advert.priority.get());
        // The tag verifies with the key of its id, and with no other key.
        let own = HmacKey::new(t.key_id, &keys[&t.key_id]).unwrap();
        assert!(verify_tag(&own, &a.src, r.message, &t), "{file} #{n}: tag");
        for (id, k) in &keys {
            if *id != t.key_id {
                let other = HmacKey::new(t.key_id, k).unwrap();
                assert!(
                    !verify_tag(&other, &a.src, r.message, &t),
                    "{file} #{n}: key {id}"
                );
            }
        }
        // The sequence is the sender's clock at sending: within a second of the capture time.
        assert!(
            (i64::from(t.seq.secs()) - a.when.secs as i64).abs() <= 1,
            "{file} #{n}: sequence {} at capture time {}",
            t.seq,
            a.when.secs
        );
        // A receiver whose clock reads the capture time accepts them in order.
        let v = receiver
            .verify(&a.src, r.message, r.trailer, a.when)
            .unwrap_or_else(|d| panic!("{file} #{n}: dropped: {d}"));
        assert!(matches!(v, Verified::Signed { key_id, .. } if key_id == t.key_id));
        // vrrpd, signing the same advert at the same sequence, sends the same bytes.
        let mut rebuilt = r.advert.to_bytes(a.src, a.dst, r.mode).unwrap();
        let resigned = sign(&own, &a.src, &rebuilt, t.seq);
        assert_eq!(resigned, t, "{file} #{n}: re-signed trailer");
        append_trailer(&mut rebuilt, a.src, a.dst, &resigned).unwrap();
        assert_eq!(rebuilt, a.payload, "{file} #{n}: re-signed bytes");
    }
    assert_eq!(ids_seen, expect_ids, "{file}: key ids in order");
    // Two senders, each ending with a signed priority-0 advert.
    assert_eq!(priorities.iter().filter(|p| **p == 0).count(), 2, "{file}");

    // Replayed at once, each advert and the one before it from the same sender are refused.
    let mut again = Authenticator::new(settings(), &[]);
    for (n, a) in adverts.iter().enumerate() {
        let (msg, tr) = split(&a.payload, Family::of(&a.src));
        again.verify(&a.src, msg, tr, a.when).expect("first time");
        let earlier = adverts[..n].iter().rev().find(|b| b.src == a.src);
        for b in std::iter::once(a).chain(earlier) {
            let (msg, tr) = split(&b.payload, Family::of(&b.src));
            let d = again.verify(&b.src, msg, tr, a.when).unwrap_err();
            assert!(matches!(d, AuthDrop::Replayed { .. }), "{file} #{n}: {d}");
        }
    }
    // A fresh receiver an hour later: stale in time mode, accepted once in monotonic mode.
    let mut late = Authenticator::new(settings(), &[]);
    let a = &adverts[0];
    let (msg, tr) = split(&a.payload, Family::of(&a.src));
    let hour_later = WallTime {
        secs: a.when.secs + 3600,
        nanos: 0,
    };
    match anti_replay {
        AntiReplay::Time { .. } => assert!(matches!(
            late.verify(&a.src, msg, tr, hour_later),
            Err(AuthDrop::Stale { .. })
        )),
        AntiReplay::Monotonic => assert!(late.verify(&a.src, msg, tr, hour_later).is_ok()),
    }
}

const TIME5: AntiReplay = AntiReplay::Time { window_secs: 5 };

#[test]
fn keepalived_v3_ipv4_multicast() {
    check_capture(
        "keepalived-2.4.3-hmac-v3ipv4.pcap",
        &["hmac-v3ipv4-a.conf"],
        TIME5,
        &[1],
    );
}

#[test]
fn keepalived_v3_ipv6_multicast() {
    check_capture(
        "keepalived-2.4.3-hmac-v3ipv6.pcap",
        &["hmac-v3ipv6-a.conf"],
        TIME5,
        &[5],
    );
}

#[test]
fn keepalived_v2_unicast() {
    check_capture(
        "keepalived-2.4.3-hmac-v2unicast.pcap",
        &["hmac-v2unicast-a.conf"],
        AntiReplay::Monotonic,
        &[7],
    );
}

#[test]
fn keepalived_key_rotation() {
    // Make before break: key 1, then key 2 once both sides were reloaded with active_key 2.
    check_capture(
        "keepalived-2.4.3-hmac-rotation.pcap",
        &["hmac-rotation-a-step1.conf"],
        TIME5,
        &[1, 2],
    );
    // After step 3 (key 1 removed) a key-1 advert is an unknown key.
    let adverts = read_adverts("keepalived-2.4.3-hmac-rotation.pcap");
    let step3 = keys_of("hmac-rotation-a-step3.conf");
    assert_eq!(step3.keys().copied().collect::<Vec<_>>(), vec![2]);
    let settings = Settings::new(ring(&step3), 2, Mode::Enforce, TIME5).unwrap();
    let mut receiver = Authenticator::new(settings, &[]);
    let a = &adverts[0];
    let (msg, tr) = split(&a.payload, Family::Ipv4);
    assert_eq!(
        receiver.verify(&a.src, msg, tr, a.when),
        Err(AuthDrop::UnknownKey(1))
    );
}

#[test]
fn keepalived_wire_facts() {
    // What the module docs say about where the VRRP checksum lies, on the real bytes.
    let v4 = &read_adverts("keepalived-2.4.3-hmac-v3ipv4.pcap")[0];
    let mut flipped = v4.payload.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    // IPv4: outside the checksum; the tag catches it.
    let r = parse_payload(&flipped, v4.src, v4.dst).expect("IPv4 checksum ignores the trailer");
    let keys = keys_of("hmac-v3ipv4-a.conf");
    let settings = Settings::new(ring(&keys), 1, Mode::Enforce, TIME5).unwrap();
    assert_eq!(
        Authenticator::new(settings, &[]).verify(&v4.src, r.message, r.trailer, v4.when),
        Err(AuthDrop::BadTag(1))
    );
    // IPv6: inside the checksum.
    let v6 = &read_adverts("keepalived-2.4.3-hmac-v3ipv6.pcap")[0];
    let mut flipped = v6.payload.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(parse_payload(&flipped, v6.src, v6.dst).is_err());
    // IPv6 adverts come from the link-local address, which the tag binds.
    assert!(matches!(v6.src, IpAddr::V6(a) if a.segments()[0] == 0xfe80));
}
