//! Raw IP injection from a lab host: whole IPv4 / IPv6 packets with any source, TTL / hop
//! limit and payload (`IP_HDRINCL` / `IPV6_HDRINCL`), one at a time or as a paced flood.
//! For tests that play a stranger on the segment (forged, replayed, bit-flipped adverts).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::Host;

/// IP protocol number of VRRP.
const VRRP: u8 = 112;

/// A bare IPv4 header (no options) in front of `payload`, protocol 112. The kernel fills in
/// the header checksum and the identification under `IP_HDRINCL`.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, ttl, VRRP, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 header (next header 112, no extension headers) in front of `payload`.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[VRRP, hops]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// An IP packet of `src`'s family (see [`ipv4_packet`], [`ipv6_packet`]).
pub fn ip_packet(src: IpAddr, dst: IpAddr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_packet(s, d, ttl, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6_packet(s, d, ttl, payload),
        _ => panic!("ip_packet: {src} and {dst} are of different families"),
    }
}

/// Raw sockets in a host's namespace, bound to one interface, that send whole IP packets
/// as given.
pub struct RawSender {
    v4: Socket,
    v6: Socket,
    ifindex: u32,
}

/// What a [`RawSender::flood`] did.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// Packets the kernel took.
    pub sent: u64,
    /// Sends refused (a full socket buffer: the sender outran the link).
    pub refused: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl Flood {
    /// Packets per second actually sent.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }
}

impl RawSender {
    /// Opens the sockets inside `host`'s namespace, on `ifname`.
    pub fn new(host: &Host, ifname: &str) -> RawSender {
        let ifname = ifname.to_owned();
        host.in_netns(move || {
            let ifindex = nix::net::if_::if_nametoindex(ifname.as_str()).expect("interface");
            let v4 = Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(VRRP))),
            )
            .expect("raw IPv4 socket");
            v4.set_header_included_v4(true).expect("IP_HDRINCL");
            v4.bind_device(Some(ifname.as_bytes())).expect("bind IPv4");
            let v6 = Socket::new(
                Domain::IPV6,
                Type::RAW,
                Some(Protocol::from(i32::from(VRRP))),
            )
            .expect("raw IPv6 socket");
            v6.set_header_included_v6(true).expect("IPV6_HDRINCL");
            v6.bind_device(Some(ifname.as_bytes())).expect("bind IPv6");
            RawSender { v4, v6, ifindex }
        })
    }

    fn dst(&self, packet: &[u8]) -> Option<(&Socket, SockAddr)> {
        match packet.first()? >> 4 {
            4 if packet.len() >= 20 => {
                let d = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
                Some((&self.v4, SocketAddr::from((d, 0)).into()))
            }
            6 if packet.len() >= 40 => {
                let mut d = [0u8; 16];
                d.copy_from_slice(&packet[24..40]);
                let sa = SocketAddrV6::new(Ipv6Addr::from(d), 0, 0, self.ifindex);
                Some((&self.v6, sa.into()))
            }
            _ => None,
        }
    }

    /// Sends one IP packet (from [`ip_packet`]); whether the kernel took it.
    pub fn send(&self, packet: &[u8]) -> bool {
        match self.dst(packet) {
            Some((s, dst)) => s.send_to(packet, &dst).is_ok(),
            None => false,
        }
    }

    /// Sends `packets` round-robin at `rate` per second for `span`, as fast as the pacing
    /// allows (a tight loop that sleeps only when ahead of schedule).
    pub fn flood(&self, packets: &[Vec<u8>], rate: u64, span: Duration) -> Flood {
        let dsts: Vec<(&Socket, SockAddr)> = packets
            .iter()
            .map(|p| self.dst(p).expect("an IP packet"))
            .collect();
        let total = (rate as f64 * span.as_secs_f64()) as u64;
        let start = Instant::now();
        let (mut sent, mut refused, mut n) = (0u64, 0u64, 0u64);
        while n < total {
            let due = start + Duration::from_nanos(n * 1_000_000_000 / rate);
            let now = Instant::now();
            if due > now + Duration::from_micros(200) {
                std::thread::sleep(due - now);
            }
            let i = (n as usize) % packets.len();
            let (s, dst) = &dsts[i];
            if s.send_to(&packets[i], dst).is_ok() {
                sent += 1;
            } else {
                refused += 1;
            }
            n += 1;
        }
        Flood {
            sent,
            refused,
            elapsed: start.elapsed(),
        }
    }
}
