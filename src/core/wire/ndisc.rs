//! The unsolicited IPv6 Neighbor Advertisement (RFC 4861 Sections 4.4 and 7.2.6)
//! a new master sends for each virtual IPv6 address (RFC 5798 Sections 6.4.1 and 6.4.2),
//! as a whole Ethernet + IPv6 + ICMPv6 frame.

use std::net::Ipv6Addr;

use super::checksum::{self, IPPROTO_ICMPV6};
use super::ethernet::{self, EthernetFrame, EthernetRepr, ETHERTYPE_IPV6};
use super::WireError;

/// ICMPv6 type of a Neighbor Advertisement (RFC 4861 Section 4.4).
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// NDP option type: Target Link-Layer Address (RFC 4861 Section 4.6.1).
pub const OPT_TARGET_LLADDR: u8 = 2;
/// Hop limit of every Neighbor Discovery message (RFC 4861 Section 7.1.2).
pub const ND_HOP_LIMIT: u8 = 255;
/// The all-nodes multicast group an unsolicited NA is sent to (RFC 4861 Section 7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address of [`ALL_NODES`]: 33:33 and the low 32 bits (RFC 2464 Section 7).
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of the NA message without options.
pub const NA_LEN: usize = 24;
/// Length of a Target Link-Layer Address option for Ethernet.
pub const LLADDR_OPT_LEN: usize = 8;

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

mod ipv6_field {
    pub type Field = core::ops::Range<usize>;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

mod na_field {
    pub type Field = core::ops::Range<usize>;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const FLAGS: usize = 4;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: usize = 24;
}

/// A zero-copy view of an ICMPv6 Neighbor Advertisement message (the IPv6 payload).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +                       Target Address                          +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// +-+-+-+-+-+-+-+-+-+-+-+-
/// ```
///
/// RFC 4861 Section 4.4. Target Link-Layer Address option (Section 4.6.1):
/// type 2, length 1 (in units of 8 bytes), then the 6-byte MAC.
#[derive(Debug, Clone)]
pub struct NaPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NaPacket<T> {
    /// Wraps `buffer` without checks; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        NaPacket { buffer }
    }

    /// Wraps `buffer` after checking it holds the fixed [`NA_LEN`] bytes
    /// (RFC 4861 Section 7.1.2: ICMP length is 24 or more octets).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < NA_LEN {
            return Err(WireError::Truncated);
        }
        Ok(NaPacket { buffer })
    }

    /// ICMPv6 type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[na_field::TYPE]
    }

    /// ICMPv6 code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[na_field::CODE]
    }

    /// ICMPv6 checksum.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[na_field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Router flag.
    pub fn router_flag(&self) -> bool {
        self.buffer.as_ref()[na_field::FLAGS] & FLAG_ROUTER != 0
    }

    /// Solicited flag.
    pub fn solicited_flag(&self) -> bool {
        self.buffer.as_ref()[na_field::FLAGS] & FLAG_SOLICITED != 0
    }

    /// Override flag.
    pub fn override_flag(&self) -> bool {
        self.buffer.as_ref()[na_field::FLAGS] & FLAG_OVERRIDE != 0
    }

    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        ipv6(&self.buffer.as_ref()[na_field::TARGET])
    }

    /// The option bytes after the fixed part.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[na_field::OPTIONS..]
    }

    /// Whether the ICMPv6 checksum (over the RFC 8200 Section 8.1 pseudo-header
    /// and the message) verifies for `src` and `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let msg = self.buffer.as_ref();
        let Ok(len) = u32::try_from(msg.len()) else {
            return false;
        };
        let pseudo = checksum::pseudo_header_v6(src, dst, IPPROTO_ICMPV6, len);
        checksum::combine(&[pseudo, checksum::data(msg)]) == 0xffff
    }

    /// The Target Link-Layer Address option, if present. Refuses options of
    /// length 0 or running past the message (RFC 4861 Section 7.1.2).
    pub fn target_lladdr(&self) -> Result<Option<[u8; 6]>, WireError> {
        let mut opts = self.options();
        let mut found = None;
        while !opts.is_empty() {
            let [opt_type, opt_len, ..] = *opts else {
                return Err(WireError::Truncated);
            };
            let len = usize::from(opt_len) * 8;
            if len == 0 {
                return Err(WireError::Malformed("NDP option of length 0"));
            }
            let Some(opt) = opts.get(..len) else {
                return Err(WireError::Truncated);
            };
            if opt_type == OPT_TARGET_LLADDR && opt_len == 1 && found.is_none() {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&opt[2..8]);
                found = Some(mac);
            }
            opts = &opts[len..];
        }
        Ok(found)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NaPacket<T> {
    /// Sets type 136 and code 0.
    pub fn set_neighbor_advert(&mut self) {
        let b = self.buffer.as_mut();
        b[na_field::TYPE] = ICMPV6_NEIGHBOR_ADVERT;
        b[na_field::CODE] = 0;
    }

    /// Sets the R, S and O flags and clears the reserved bits.
    pub fn set_flags(&mut self, router: bool, solicited: bool, override_flag: bool) {
        let mut flags = 0;
        if router {
            flags |= FLAG_ROUTER;
        }
        if solicited {
            flags |= FLAG_SOLICITED;
        }
        if override_flag {
            flags |= FLAG_OVERRIDE;
        }
        self.buffer.as_mut()[na_field::FLAGS..na_field::TARGET.start]
            .copy_from_slice(&[flags, 0, 0, 0]);
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[na_field::TARGET].copy_from_slice(&addr.octets());
    }

    /// The option bytes, for writing.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[na_field::OPTIONS..]
    }

    /// Computes and writes the ICMPv6 checksum for `src` and `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.buffer.as_mut()[na_field::CHECKSUM].copy_from_slice(&[0, 0]);
        let msg = self.buffer.as_ref();
        // An NA built here is at most a few dozen bytes.
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header_v6(src, dst, IPPROTO_ICMPV6, len);
        let sum = !checksum::combine(&[pseudo, checksum::data(msg)]);
        self.buffer.as_mut()[na_field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(b);
    Ipv6Addr::from(octets)
}

/// The value of a Neighbor Advertisement message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborAdvert {
    /// R: the sender is a router.
    pub router: bool,
    /// S: sent in response to a solicitation. Unset in an unsolicited NA
    /// (RFC 4861 Section 7.2.6).
    pub solicited: bool,
    /// O: override existing cache entries, set so that hosts switch to the new master.
    pub override_flag: bool,
    /// The address whose link-layer address is announced.
    pub target: Ipv6Addr,
    /// The Target Link-Layer Address option, if any.
    pub target_lladdr: Option<[u8; 6]>,
}

impl NeighborAdvert {
    /// The ICMPv6 message length.
    pub const fn buffer_len(&self) -> usize {
        match self.target_lladdr {
            Some(_) => NA_LEN + LLADDR_OPT_LEN,
            None => NA_LEN,
        }
    }
}

/// A whole Neighbor Advertisement frame: Ethernet, IPv6 header, ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdiscFrame {
    /// The Ethernet header.
    pub eth: EthernetRepr,
    /// IPv6 source address.
    pub src_ip: Ipv6Addr,
    /// IPv6 destination address.
    pub dst_ip: Ipv6Addr,
    /// The Neighbor Advertisement.
    pub na: NeighborAdvert,
}

impl NdiscFrame {
    /// An unsolicited NA for `target` from `src_ip`/`src_mac` to all nodes,
    /// with S unset and O set, announcing `src_mac` as the target link-layer
    /// address (RFC 4861 Section 7.2.6; RFC 5798 Section 6.4.2). `router`
    /// sets R: RFC 5798 asks for it; keepalived sets it only when IPv6
    /// forwarding is enabled on the interface.
    pub const fn unsolicited(
        src_mac: [u8; 6],
        src_ip: Ipv6Addr,
        target: Ipv6Addr,
        router: bool,
    ) -> NdiscFrame {
        NdiscFrame {
            eth: EthernetRepr {
                src: src_mac,
                dst: ALL_NODES_MAC,
                ethertype: ETHERTYPE_IPV6,
            },
            src_ip,
            dst_ip: ALL_NODES,
            na: NeighborAdvert {
                router,
                solicited: false,
                override_flag: true,
                target,
                target_lladdr: Some(src_mac),
            },
        }
    }

    /// Parses and validates an Ethernet frame carrying an NA (trailing padding
    /// allowed). Follows RFC 4861 Section 7.1.2: hop limit 255, valid checksum,
    /// code 0, ICMP length >= 24, target not multicast, S unset if sent to a
    /// multicast group, no zero-length option. IPv6 extension headers are not
    /// supported.
    pub fn parse(frame: &[u8]) -> Result<NdiscFrame, WireError> {
        let eth = EthernetFrame::new_checked(frame)?;
        let eth_repr = EthernetRepr::parse(&eth);
        if eth_repr.ethertype != ETHERTYPE_IPV6 {
            return Err(WireError::Malformed("NA: EtherType"));
        }
        let ip = eth.payload();
        if ip.len() < IPV6_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if ip[ipv6_field::VER_TC_FLOW.start] >> 4 != 6 {
            return Err(WireError::BadVersion(ip[0] >> 4));
        }
        if ip[ipv6_field::NEXT_HEADER] != IPPROTO_ICMPV6 {
            return Err(WireError::Malformed("NA: next header"));
        }
        if ip[ipv6_field::HOP_LIMIT] != ND_HOP_LIMIT {
            return Err(WireError::Malformed("NA: hop limit"));
        }
        let plen = usize::from(u16::from_be_bytes([
            ip[ipv6_field::PAYLOAD_LEN.start],
            ip[ipv6_field::PAYLOAD_LEN.start + 1],
        ]));
        let src_ip = ipv6(&ip[ipv6_field::SRC]);
        let dst_ip = ipv6(&ip[ipv6_field::DST]);
        let Some(icmp) = ip.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + plen) else {
            return Err(WireError::Truncated);
        };
        let na = NaPacket::new_checked(icmp)?;
        if na.msg_type() != ICMPV6_NEIGHBOR_ADVERT {
            return Err(WireError::BadType(na.msg_type()));
        }
        if na.code() != 0 {
            return Err(WireError::Malformed("NA: code"));
        }
        if !na.verify_checksum(&src_ip, &dst_ip) {
            return Err(WireError::BadChecksum);
        }
        let target = na.target_addr();
        if target.is_multicast() {
            return Err(WireError::Malformed("NA: multicast target"));
        }
        if dst_ip.is_multicast() && na.solicited_flag() {
            return Err(WireError::Malformed("NA: solicited flag to multicast"));
        }
        Ok(NdiscFrame {
            eth: eth_repr,
            src_ip,
            dst_ip,
            na: NeighborAdvert {
                router: na.router_flag(),
                solicited: na.solicited_flag(),
                override_flag: na.override_flag(),
                target,
                target_lladdr: na.target_lladdr()?,
            },
        })
    }

    /// The frame length.
    pub const fn buffer_len(&self) -> usize {
        ethernet::HEADER_LEN + IPV6_HEADER_LEN + self.na.buffer_len()
    }

    /// The frame bytes, checksum included. Traffic class and flow label are 0
    /// and the hop limit 255, as RFC 4861 Section 7.1.2 requires.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        self.eth.emit(&mut frame);
        let ip = frame.payload_mut();
        // Small by construction: at most NA_LEN + LLADDR_OPT_LEN.
        let plen = self.na.buffer_len() as u16;
        ip[ipv6_field::VER_TC_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
        ip[ipv6_field::PAYLOAD_LEN].copy_from_slice(&plen.to_be_bytes());
        ip[ipv6_field::NEXT_HEADER] = IPPROTO_ICMPV6;
        ip[ipv6_field::HOP_LIMIT] = ND_HOP_LIMIT;
        ip[ipv6_field::SRC].copy_from_slice(&self.src_ip.octets());
        ip[ipv6_field::DST].copy_from_slice(&self.dst_ip.octets());
        let mut na = NaPacket::new_unchecked(&mut ip[IPV6_HEADER_LEN..]);
        na.set_neighbor_advert();
        na.set_flags(self.na.router, self.na.solicited, self.na.override_flag);
        na.set_target_addr(self.na.target);
        if let Some(mac) = self.na.target_lladdr {
            let opt = na.options_mut();
            opt[0] = OPT_TARGET_LLADDR;
            opt[1] = (LLADDR_OPT_LEN / 8) as u8;
            opt[2..8].copy_from_slice(&mac);
        }
        na.fill_checksum(&self.src_ip, &self.dst_ip);
        buf
    }
}

/// The unsolicited NA keepalived 2.2 sends for a virtual IPv6 address, byte
/// for byte: from `src_mac` to 33:33:00:00:00:01, IPv6 from `src_ip` to
/// ff02::1 with hop limit 255, flags O only (R and S unset), target `target`
/// and a Target Link-Layer Address option with `src_mac`. keepalived uses the
/// VIP itself as `src_ip` (`src_ip == target`).
///
/// See [`NdiscFrame::unsolicited`] to set the Router flag.
pub fn unsolicited_na(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    NdiscFrame::unsolicited(src_mac, src_ip, target, false).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    // keepalived 2.2.7 unsolicited NA for fe80::53 from 02:00:00:00:00:01.
    static NA_FE80: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86,
        0xdd, // eth
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a,
        0xff, // ver, tc, flow, plen 32, icmpv6, hlim
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // src fe80::53
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // dst ff02::1
        0x88, 0x00, 0x56, 0xf7, 0x20, 0x00, 0x00, 0x00, // type 136, code, cksum, O flag
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // target fe80::53
        0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // target link-layer address option
    ];

    fn fe80_53() -> Ipv6Addr {
        "fe80::53".parse().unwrap()
    }

    #[test]
    fn test_emit() {
        assert_eq!(unsolicited_na(MAC, fe80_53(), fe80_53()), NA_FE80);
    }

    #[test]
    fn test_parse() {
        let f = NdiscFrame::parse(&NA_FE80).unwrap();
        assert_eq!(f.eth.src, MAC);
        assert_eq!(f.eth.dst, ALL_NODES_MAC);
        assert_eq!(f.src_ip, fe80_53());
        assert_eq!(f.dst_ip, ALL_NODES);
        assert_eq!(
            f.na,
            NeighborAdvert {
                router: false,
                solicited: false,
                override_flag: true,
                target: fe80_53(),
                target_lladdr: Some(MAC),
            }
        );
        assert_eq!(f, NdiscFrame::unsolicited(MAC, fe80_53(), fe80_53(), false));
    }

    #[test]
    fn test_router_flag() {
        let bytes = NdiscFrame::unsolicited(MAC, fe80_53(), fe80_53(), true).to_bytes();
        assert_eq!(bytes[14 + 40 + 4], 0xa0);
        assert!(NdiscFrame::parse(&bytes).unwrap().na.router);
    }

    #[test]
    fn test_parse_bad_checksum() {
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 3] ^= 1;
        assert_eq!(NdiscFrame::parse(&bytes), Err(WireError::BadChecksum));
    }

    #[test]
    fn test_parse_truncated() {
        for len in 0..NA_FE80.len() {
            assert_eq!(
                NdiscFrame::parse(&NA_FE80[..len]),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn test_parse_bad_hop_limit() {
        let mut bytes = NA_FE80;
        bytes[14 + 7] = 64;
        assert!(matches!(
            NdiscFrame::parse(&bytes),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn test_parse_bad_type() {
        let mut f = NdiscFrame::parse(&NA_FE80).unwrap().to_bytes();
        f[14 + 40] = 135; // Neighbor Solicitation
        let src = fe80_53();
        NaPacket::new_unchecked(&mut f[54..]).fill_checksum(&src, &ALL_NODES);
        assert_eq!(NdiscFrame::parse(&f), Err(WireError::BadType(135)));
    }

    #[test]
    fn test_parse_zero_length_option() {
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 25] = 0;
        NaPacket::new_unchecked(&mut bytes[54..]).fill_checksum(&fe80_53(), &ALL_NODES);
        assert!(matches!(
            NdiscFrame::parse(&bytes),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn test_parse_bad_version() {
        let mut bytes = NA_FE80;
        bytes[14] = 0x40;
        assert_eq!(NdiscFrame::parse(&bytes), Err(WireError::BadVersion(4)));
    }

    proptest! {
        #[test]
        fn prop_roundtrip(
            mac in any::<[u8; 6]>(),
            src in any::<[u8; 16]>(),
            // Unicast targets only: RFC 4861 refuses multicast ones.
            target in any::<[u8; 16]>().prop_filter("unicast", |t| t[0] != 0xff),
            router in any::<bool>(),
        ) {
            let frame = NdiscFrame::unsolicited(mac, src.into(), target.into(), router);
            let bytes = frame.to_bytes();
            prop_assert_eq!(bytes.len(), frame.buffer_len());
            prop_assert_eq!(NdiscFrame::parse(&bytes).unwrap(), frame);
        }

        #[test]
        fn prop_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = NdiscFrame::parse(&bytes);
        }
    }
}
