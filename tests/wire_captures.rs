//! Byte-exact test vectors: real keepalived 2.2.7 traffic (tests/data/captures/)
//! must parse to what its .conf says, and emitting must give back the same bytes.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use vrrpd::core::types::{Centisecs, Priority, Version};
use vrrpd::core::wire::{
    announcement_into, gratuitous_arp, unsolicited_na, Advertisement, ArpRepr, Auth, ChecksumMode,
    NdiscFrame, ANNOUNCEMENT_MAX_LEN,
};

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_LINUX_SLL2: u32 = 276;

fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(name)
}

/// One captured link-layer frame.
struct Frame {
    /// The EtherType of the network-layer payload.
    ethertype: u16,
    /// The network-layer packet (IPv4, IPv6 or ARP).
    l3: Vec<u8>,
    /// The whole Ethernet frame, for Ethernet captures.
    ethernet: Option<Vec<u8>>,
}

/// A classic pcap reader (24-byte global header, 16-byte record headers), for
/// either byte order and microsecond or nanosecond timestamps.
fn read_pcap(name: &str) -> Vec<Frame> {
    let data = fs::read(capture_path(name)).expect("capture file");
    assert!(data.len() >= 24, "{name}: no pcap global header");
    let magic = [data[0], data[1], data[2], data[3]];
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{name}: not a classic pcap file (magic {magic:02x?})"),
    };
    let u32_at = |off: usize| {
        let b = [data[off], data[off + 1], data[off + 2], data[off + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = u32_at(20) & 0x0fff_ffff;
    let mut frames = Vec::new();
    let mut off = 24;
    while off < data.len() {
        assert!(off + 16 <= data.len(), "{name}: truncated record header");
        let incl = u32_at(off + 8) as usize;
        let orig = u32_at(off + 12) as usize;
        assert_eq!(incl, orig, "{name}: capture was truncated by the snaplen");
        let rec = &data[off + 16..off + 16 + incl];
        off += 16 + incl;
        let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        frames.push(match linktype {
            LINKTYPE_ETHERNET => Frame {
                ethertype: be16(rec, 12),
                l3: rec[14..].to_vec(),
                ethernet: Some(rec.to_vec()),
            },
            LINKTYPE_LINUX_SLL => Frame {
                ethertype: be16(rec, 14),
                l3: rec[16..].to_vec(),
                ethernet: None,
            },
            LINKTYPE_LINUX_SLL2 => Frame {
                ethertype: be16(rec, 0),
                l3: rec[20..].to_vec(),
                ethernet: None,
            },
            other => panic!("{name}: unsupported link type {other}"),
        });
    }
    frames
}

/// What a capture's keepalived .conf says.
struct Conf {
    version: Version,
    vrid: u8,
    priority: u8,
    interval: Centisecs,
    vips: Vec<IpAddr>,
    auth_pass: Option<String>,
}

fn read_conf(name: &str) -> Conf {
    let text = fs::read_to_string(capture_path(name)).expect("conf file");
    let mut conf = Conf {
        version: Version::V2,
        vrid: 0,
        priority: 0,
        interval: Centisecs(0),
        vips: Vec::new(),
        auth_pass: None,
    };
    let mut in_vips = false;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let (key, value) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        if in_vips {
            if key == "}" {
                in_vips = false;
            } else {
                let addr = key.split('/').next().unwrap();
                conf.vips.push(addr.parse().expect("VIP"));
            }
            continue;
        }
        match key {
            "vrrp_version" => conf.version = Version::from_number(value.parse().unwrap()).unwrap(),
            "virtual_router_id" => conf.vrid = value.parse().unwrap(),
            "priority" => conf.priority = value.parse().unwrap(),
            "advert_int" => {
                let secs: f64 = value.parse().unwrap();
                conf.interval = Centisecs((secs * 100.0).round() as u16);
            }
            "auth_pass" => conf.auth_pass = Some(value.to_string()),
            "virtual_ipaddress" => in_vips = true,
            _ => {}
        }
    }
    assert!(conf.vrid != 0 && conf.priority != 0 && !conf.vips.is_empty());
    conf
}

/// A VRRP packet found in a capture: IP source, destination, TTL/hop limit, VRRP message.
struct Vrrp {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    msg: Vec<u8>,
}

fn vrrp_packets(frames: &[Frame]) -> Vec<Vrrp> {
    let mut out = Vec::new();
    for f in frames {
        let ip = &f.l3;
        match f.ethertype {
            0x0800 if ip[9] == 112 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                out.push(Vrrp {
                    src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                    dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                    ttl: ip[8],
                    msg: ip[ihl..total].to_vec(),
                });
            }
            0x86dd if ip[6] == 112 => {
                let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                let addr = |o: usize| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&ip[o..o + 16]);
                    IpAddr::V6(Ipv6Addr::from(a))
                };
                out.push(Vrrp {
                    src: addr(8),
                    dst: addr(24),
                    ttl: ip[7],
                    msg: ip[40..40 + plen].to_vec(),
                });
            }
            _ => {}
        }
    }
    out
}

/// Checks every advertisement of a capture against its .conf; returns how many there were.
fn check_adverts(base: &str, expected_mode: ChecksumMode) -> usize {
    let conf = read_conf(&format!("{base}.conf"));
    let frames = read_pcap(&format!("{base}.pcap"));
    let adverts = vrrp_packets(&frames);
    assert!(adverts.len() >= 2, "{base}: too few adverts");
    let expected_auth = match &conf.auth_pass {
        Some(pass) => {
            let mut data = [0u8; 8];
            data[..pass.len()].copy_from_slice(pass.as_bytes());
            Auth::SimplePassword(data)
        }
        None => Auth::None,
    };
    for (i, p) in adverts.iter().enumerate() {
        assert_eq!(p.ttl, 255, "{base} #{i}: TTL");
        let (adv, mode) = Advertisement::parse(&p.msg, p.src, p.dst)
            .unwrap_or_else(|e| panic!("{base} #{i}: {e}"));
        let last = i == adverts.len() - 1;
        let expected = Advertisement {
            version: conf.version,
            vrid: conf.vrid,
            // The master resigns with priority 0 when stopped (RFC 5798 Section 6.4.3).
            priority: if last {
                Priority::RESIGN
            } else {
                Priority(conf.priority)
            },
            max_adver_int: conf.interval,
            addrs: conf.vips.iter().copied().collect(),
            auth: expected_auth,
        };
        assert_eq!(adv, expected, "{base} #{i}");
        assert_eq!(mode, expected_mode, "{base} #{i}: checksum mode");
        let emitted = adv.to_bytes(p.src, p.dst, mode).unwrap();
        assert_eq!(emitted, p.msg, "{base} #{i}: re-emitted bytes");
    }
    adverts.len()
}

#[test]
fn v2_pass_adverts() {
    check_adverts("keepalived-2.2.7-v2pass", ChecksumMode::MessageOnly);
}

#[test]
fn v3_ipv4_adverts_use_pseudo_header() {
    check_adverts("keepalived-2.2.7-v3ipv4", ChecksumMode::PseudoHeader);
}

#[test]
fn v3_ipv6_adverts() {
    check_adverts("keepalived-2.2.7-v3ipv6", ChecksumMode::PseudoHeader);
}

#[test]
fn corrupted_capture_advert_is_refused() {
    let frames = read_pcap("keepalived-2.2.7-v3ipv4.pcap");
    let p = &vrrp_packets(&frames)[0];
    let mut msg = p.msg.clone();
    let last = msg.len() - 1;
    msg[last] ^= 0x01; // one bit of the VIP
    assert!(Advertisement::parse(&msg, p.src, p.dst).is_err());
}

/// Our gratuitous ARP is keepalived's, for the same MAC and VIP.
fn check_garps(base: &str) -> usize {
    let conf = read_conf(&format!("{base}.conf"));
    let mut n = 0;
    for f in read_pcap(&format!("{base}.pcap")) {
        if f.ethertype != 0x0806 {
            continue;
        }
        let frame = f
            .ethernet
            .expect("ARP test vectors need an Ethernet capture");
        let (eth, arp) = ArpRepr::parse_frame(&frame).unwrap();
        assert!(arp.is_gratuitous());
        assert!(conf.vips.contains(&IpAddr::V4(arp.sender_ip)));
        let ours = gratuitous_arp(eth.src, arp.sender_ip);
        assert_eq!(&ours[..], &frame[..], "{base}: GARP for {}", arp.sender_ip);
        // The burst path: the same bytes from a dirty, reused buffer.
        let mut buf = [0xa5u8; ANNOUNCEMENT_MAX_LEN];
        let burst = announcement_into(
            &mut buf,
            eth.src,
            arp.sender_ip.into(),
            Ipv6Addr::UNSPECIFIED,
        );
        assert_eq!(burst, Ok(&frame[..]), "{base}: GARP for {}", arp.sender_ip);
        n += 1;
    }
    n
}

#[test]
fn gratuitous_arp_matches_keepalived() {
    assert!(check_garps("keepalived-2.2.7-v2pass") > 0);
    assert!(check_garps("keepalived-2.2.7-v3ipv4") > 0);
}

#[test]
fn unsolicited_na_matches_keepalived() {
    let base = "keepalived-2.2.7-v3ipv6";
    let conf = read_conf(&format!("{base}.conf"));
    let mut targets = Vec::new();
    for f in read_pcap(&format!("{base}.pcap")) {
        if f.ethertype != 0x86dd || f.l3[6] != 58 {
            continue;
        }
        let frame = f
            .ethernet
            .expect("NA test vectors need an Ethernet capture");
        let na = NdiscFrame::parse(&frame).unwrap();
        assert!(na.na.override_flag && !na.na.solicited && !na.na.router);
        assert_eq!(na.na.target_lladdr, Some(na.eth.src));
        // keepalived sends the NA from the VIP itself.
        assert_eq!(na.src_ip, na.na.target);
        let ours = unsolicited_na(na.eth.src, na.src_ip, na.na.target);
        assert_eq!(&ours[..], &frame[..], "{base}: NA for {}", na.na.target);
        let mut buf = [0xa5u8; ANNOUNCEMENT_MAX_LEN];
        let burst = announcement_into(&mut buf, na.eth.src, na.na.target.into(), na.src_ip);
        assert_eq!(burst, Ok(&frame[..]), "{base}: NA for {}", na.na.target);
        targets.push(IpAddr::V6(na.na.target));
    }
    for vip in &conf.vips {
        assert!(targets.contains(vip), "no NA for {vip}");
    }
}
