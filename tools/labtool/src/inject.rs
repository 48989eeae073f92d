//! `inject`: the bad-packet injector of the chaos soak (netns-scripts/chaos.sh). Run in the
//! client's namespace, it plays a stranger without the key against vrrpd's `auth_hmac`: it
//! listens for one genuine advert of the virtual router, then sends forged priority-255
//! adverts of each new bad-packet class (trailer missing, bad tag, unknown key id, stale,
//! replayed, source not allowed), spoofing each allowed peer in turn. With `--socket`, it
//! reads each daemon's status before and after and fails unless every class that could
//! reach that daemon was counted there under its own reason.
//!
//! Packets are built and signed with vrrpd's own wire code (`vrrpd::core::wire`), the key
//! being read from the same file the daemons use.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use vrrpd::core::auth::WallTime;
use vrrpd::core::wire::auth::{append_trailer, parse_payload, sign, HmacKey, Seq};
use vrrpd::core::wire::vrrp::{Advertisement, ChecksumMode};

/// The group VRRP over IPv4 is sent to.
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// The classes, by the drop counter each must land in.
#[cfg(test)]
const CLASSES: [&str; 6] = [
    "auth_missing",
    "auth_bad_tag",
    "auth_unknown_key",
    "auth_stale",
    "auth_replayed",
    "source_not_allowed",
];

/// What `inject` is told.
#[derive(Debug, Clone)]
pub struct InjectArgs {
    /// The virtual router.
    pub vrid: u8,
    /// The key file the daemons use (`hex:...` or the raw bytes).
    pub key_file: PathBuf,
    /// Its id.
    pub key_id: u8,
    /// The allowed sources (the daemons' addresses): forgeries claim each in turn.
    pub peers: Vec<Ipv4Addr>,
    /// Our own address (not allowed): the source of the `source_not_allowed` class.
    pub own: Ipv4Addr,
    /// Packets of each class per claimed source.
    pub count: u32,
    /// The daemons' control sockets, to check the counters.
    pub sockets: Vec<PathBuf>,
    /// The interface to send on (the namespace has no route to the group).
    pub interface: String,
}

/// One forged packet: its class, the source it claims, the IP packet.
struct Forged {
    class: &'static str,
    src: Ipv4Addr,
    packet: Vec<u8>,
}

/// Reads a key file as vrrpd does: `hex:` and hex digits, or the raw bytes; a final line
/// end dropped.
pub fn read_key(text: &[u8]) -> Result<Vec<u8>> {
    let mut end = text.len();
    while end > 0 && matches!(text[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let body = &text[..end];
    match body.strip_prefix(b"hex:") {
        Some(hex) => {
            if hex.len() % 2 != 0 {
                bail!("odd number of hex digits");
            }
            hex.chunks(2)
                .map(|p| {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                        .context("not a hex digit")
                })
                .collect()
        }
        None => Ok(body.to_vec()),
    }
}

/// A bare IPv4 header (protocol 112, TTL 255) in front of `payload`.
fn ipv4(src: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 255, 112, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&GROUP.octets());
    p.extend_from_slice(payload);
    p
}

fn wall(offset_secs: i64) -> Seq {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    WallTime {
        secs: d.as_secs().saturating_add_signed(offset_secs),
        nanos: d.subsec_nanos(),
    }
    .seq()
}

/// Every forged packet of one round: each class from each peer (the replay: the captured
/// advert as it was), plus `source_not_allowed` from `own`.
fn forge(
    args: &InjectArgs,
    key: &[u8],
    genuine: &Advertisement,
    captured: &(Ipv4Addr, Vec<u8>),
) -> Result<Vec<Forged>> {
    let right = HmacKey::new(args.key_id, key).context("the key")?;
    // Another key under the same id, and the right key under an id nobody has.
    let mut wrong_bytes = key.to_vec();
    for b in &mut wrong_bytes {
        *b ^= 0x5a;
    }
    let wrong = HmacKey::new(args.key_id, &wrong_bytes).context("wrong key")?;
    let unknown_id = if args.key_id == 255 { 254 } else { 255 };
    let unknown = HmacKey::new(unknown_id, key).context("unknown key")?;
    let adv = Advertisement {
        priority: vrrpd::core::types::Priority(255),
        ..genuine.clone()
    };
    let build = |src: Ipv4Addr, k: Option<(&HmacKey, Seq)>| -> Result<Vec<u8>> {
        let (s, d) = (IpAddr::V4(src), IpAddr::V4(GROUP));
        let mut p = adv
            .to_bytes(s, d, ChecksumMode::PseudoHeader)
            .context("encode")?;
        if let Some((key, seq)) = k {
            let t = sign(key, &s, &p, seq);
            append_trailer(&mut p, s, d, &t).context("trailer")?;
        }
        Ok(ipv4(src, &p))
    };
    let mut out = Vec::new();
    for _ in 0..args.count {
        for &src in &args.peers {
            out.push(Forged {
                class: "auth_missing",
                src,
                packet: build(src, None)?,
            });
            out.push(Forged {
                class: "auth_bad_tag",
                src,
                packet: build(src, Some((&wrong, wall(0))))?,
            });
            out.push(Forged {
                class: "auth_unknown_key",
                src,
                packet: build(src, Some((&unknown, wall(0))))?,
            });
            out.push(Forged {
                class: "auth_stale",
                src,
                packet: build(src, Some((&right, wall(-600))))?,
            });
        }
        out.push(Forged {
            class: "auth_replayed",
            src: captured.0,
            packet: ipv4(captured.0, &captured.1),
        });
        out.push(Forged {
            class: "source_not_allowed",
            src: args.own,
            packet: build(args.own, Some((&right, wall(0))))?,
        });
    }
    Ok(out)
}

/// Waits (up to `wait`) for one signed advert of `vrid` from a peer; its source and payload.
fn capture(
    vrid: u8,
    peers: &[Ipv4Addr],
    own: Ipv4Addr,
    wait: Duration,
) -> Result<(Ipv4Addr, Vec<u8>, Advertisement)> {
    let s =
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).context("raw socket")?;
    // The kernel hands a host only the multicast it has joined.
    s.join_multicast_v4(&GROUP, &own)
        .context("join 224.0.0.18")?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let end = Instant::now() + wait;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
    while Instant::now() < end {
        let Ok(n) = s.recv(&mut buf) else { continue };
        // SAFETY: recv initialised the first n bytes.
        let pkt: Vec<u8> = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        if pkt.len() < 20 || pkt[0] >> 4 != 4 {
            continue;
        }
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
        let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
        let payload = pkt.get(ihl..).unwrap_or_default();
        if !peers.contains(&src) {
            continue;
        }
        if let Ok(r) = parse_payload(payload, IpAddr::V4(src), IpAddr::V4(dst)) {
            if r.advert.vrid == vrid && r.trailer.is_some() && r.advert.priority.0 != 0 {
                return Ok((src, payload.to_vec(), r.advert));
            }
        }
    }
    bail!("no signed advert of VRID {vrid} from {peers:?} within {wait:?}")
}

/// The drop counters of every instance with `vrid`, summed by reason, and the daemon's
/// primary addresses; `None` when the daemon does not answer.
fn counters(sock: &Path, vrid: u8) -> Option<(BTreeMap<String, u64>, Vec<String>)> {
    let line = vrrpd::daemon::request(sock, "status").ok()?;
    let v: serde_json::Value = serde_json::from_str(&line).ok()?;
    let mut out = BTreeMap::new();
    let mut mine = Vec::new();
    for i in v["instances"].as_array()? {
        if i["vrid"].as_u64() != Some(u64::from(vrid)) {
            continue;
        }
        mine.push(i["primary_ip"].as_str().unwrap_or_default().to_owned());
        for (k, n) in i["counters"]["drops"].as_object().into_iter().flatten() {
            *out.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    Some((out, mine))
}

/// Runs one injection round; `Ok` with a summary line, or an error naming what was not
/// counted where.
pub fn run(args: &InjectArgs) -> Result<String> {
    let key_text = std::fs::read(&args.key_file)
        .with_context(|| format!("reading {}", args.key_file.display()))?;
    let key = read_key(&key_text)?;
    let (src, payload, genuine) =
        capture(args.vrid, &args.peers, args.own, Duration::from_secs(5))?;
    let before: Vec<_> = args
        .sockets
        .iter()
        .map(|s| counters(s, args.vrid))
        .collect();
    let forged = forge(args, &key, &genuine, &(src, payload))?;
    let tx =
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).context("raw socket")?;
    tx.set_header_included_v4(true)?;
    tx.bind_device(Some(args.interface.as_bytes()))
        .with_context(|| format!("bind to {}", args.interface))?;
    let dst: SockAddr = SocketAddr::from((GROUP, 0)).into();
    let mut sent = BTreeMap::<&str, u64>::new();
    for f in &forged {
        tx.send_to(&f.packet, &dst).context("send")?;
        *sent.entry(f.class).or_default() += 1;
        // Keep well under any socket buffer.
        std::thread::sleep(Duration::from_micros(200));
    }
    let summary = format!("sent {sent:?}");
    if args.sockets.is_empty() {
        return Ok(summary);
    }
    // Each daemon must count each class that could reach it: the kernel drops a packet that
    // claims the receiver's own address, so that is not one.
    let expect = |me: &[String]| -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for f in &forged {
            if !me.contains(&f.src.to_string()) {
                *m.entry(f.class).or_default() += 1;
            }
        }
        m
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut missing = Vec::new();
    loop {
        missing.clear();
        for (i, s) in args.sockets.iter().enumerate() {
            let (Some((b, _)), Some((a, me))) = (&before[i], counters(s, args.vrid)) else {
                // Not answering (restarting): nothing to check there.
                continue;
            };
            for (class, want) in expect(&me) {
                let n = |m: &BTreeMap<String, u64>| m.get(class).copied().unwrap_or(0);
                let got = n(&a).saturating_sub(n(b));
                if got < want {
                    missing.push(format!("{}: {class} counted {got} of {want}", s.display()));
                }
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if missing.is_empty() {
        Ok(format!("{summary}; every class counted on every daemon"))
    } else {
        bail!("{summary}; not counted: {}", missing.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrpd::core::types::{Centisecs, Priority, Version};
    use vrrpd::core::wire::vrrp::Auth;

    #[test]
    fn key_files_as_vrrpd_reads_them() {
        assert_eq!(read_key(b"hex:00ff\n").unwrap(), [0, 0xff]);
        assert_eq!(read_key(b"abc\r\n").unwrap(), b"abc");
        assert!(read_key(b"hex:0").is_err());
        assert!(read_key(b"hex:zz").is_err());
    }

    #[test]
    fn every_class_is_forged_and_each_is_what_it_says() {
        use vrrpd::core::auth::{AntiReplay, AuthDrop, Authenticator, KeyRing, Mode, Settings};
        let key = [7u8; 32];
        let peers = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
        let args = InjectArgs {
            vrid: 12,
            key_file: PathBuf::new(),
            key_id: 1,
            peers: peers.to_vec(),
            own: Ipv4Addr::new(10, 0, 0, 9),
            count: 2,
            sockets: vec![],
            interface: "ext0".into(),
        };
        let adv = Advertisement {
            version: Version::V3,
            vrid: 12,
            priority: Priority(150),
            max_adver_int: Centisecs(100),
            addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254))].into(),
            auth: Auth::None,
        };
        // A genuine advert of peer 1, as a daemon with the key signs it.
        let settings = || {
            Settings::new(
                KeyRing::new([HmacKey::new(1, &key).unwrap()]),
                1,
                Mode::Enforce,
                AntiReplay::Time { window_secs: 5 },
            )
            .unwrap()
        };
        let (p1, g) = (IpAddr::V4(peers[0]), IpAddr::V4(GROUP));
        let mut genuine = adv.to_bytes(p1, g, ChecksumMode::PseudoHeader).unwrap();
        let t = sign(&HmacKey::new(1, &key).unwrap(), &p1, &genuine, wall(0));
        append_trailer(&mut genuine, p1, g, &t).unwrap();
        let forged = forge(&args, &key, &adv, &(peers[0], genuine.clone())).unwrap();
        assert_eq!(forged.len(), 2 * (4 * 2 + 2));
        for class in CLASSES {
            assert!(forged.iter().any(|f| f.class == class), "{class}");
        }
        // Peer 2 has already accepted the genuine advert: each forgery, checked as peer 2
        // would, lands in the counter of its class.
        let mut rx = Authenticator::new(settings(), &[]);
        let now = vrrpd::core::auth::WallTime::from_unix(
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap(),
        );
        let r = parse_payload(&genuine, p1, g).unwrap();
        assert!(rx.verify(&p1, r.message, r.trailer, now).is_ok());
        for f in forged.iter().filter(|f| f.class != "source_not_allowed") {
            let src = IpAddr::V4(f.src);
            let r = parse_payload(&f.packet[20..], src, g).unwrap();
            assert_eq!(r.advert.vrid, 12);
            let got = rx.verify(&src, r.message, r.trailer, now);
            let name = got.map_err(|e: AuthDrop| e.drop_reason_name()).err();
            assert_eq!(name, Some(f.class), "{}", f.class);
        }
        // The stranger's own is signed right: only the allow-list can refuse it.
        let own = forged
            .iter()
            .find(|f| f.class == "source_not_allowed")
            .unwrap();
        let r = parse_payload(&own.packet[20..], IpAddr::V4(args.own), g).unwrap();
        let mut rx2 = Authenticator::new(settings(), &[]);
        assert!(rx2
            .verify(&IpAddr::V4(args.own), r.message, r.trailer, now)
            .is_ok());
    }
}
