//! The unsolicited IPv6 Neighbor Advertisement (RFC 4861 Sections 4.4 and 7.2.6)
//! a new master sends for each virtual IPv6 address (RFC 5798 Sections 6.4.1 and 6.4.2),
//! as a whole Ethernet + IPv6 + ICMPv6 frame.
//!
//! Our value types over `pnet_packet`'s zero-copy views (Ethernet, IPv6, the
//! NA's fixed part and the ICMPv6 checksum). The NDP options are read and
//! written with smoltcp's [`NdiscOption`] instead: `pnet_packet` 0.35's
//! option view overflows on a length of 32 or more (a panic with overflow
//! checks on, a wrong length without), and its iterator accepts options of
//! length 0 and options that run past the message, which RFC 4861 Section
//! 7.1.2 says to drop. The tests `pnet_ndp_option_*` below show each.

use std::net::Ipv6Addr;

use pnet_packet::ethernet::MutableEthernetPacket;
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NeighborAdvertFlags, NeighborAdvertPacket,
};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Packet, Icmpv6Type, MutableIcmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};
use pnet_packet::{MutablePacket, Packet};
use smoltcp::wire::{NdiscOption, NdiscOptionRepr, NdiscOptionType, RawHardwareAddress};

use super::ethernet::{self, EthernetRepr, ETHERTYPE_IPV6};
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
/// Length of an unsolicited NA frame with its Target Link-Layer Address
/// option: Ethernet, IPv6 and ICMPv6, unpadded.
pub const NA_FRAME_LEN: usize = ethernet::HEADER_LEN + IPV6_HEADER_LEN + NA_LEN + LLADDR_OPT_LEN;

/// The value of a Neighbor Advertisement message.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Target Address (16 bytes)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// +-+-+-+-+-+-+-+-+-+-+-+-
/// ```
///
/// RFC 4861 Section 4.4. Target Link-Layer Address option (Section 4.6.1):
/// type 2, length 1 (in units of 8 bytes), then the 6-byte MAC.
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

    /// The R, S and O bits, reserved bits clear.
    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.router {
            flags |= NeighborAdvertFlags::Router;
        }
        if self.solicited {
            flags |= NeighborAdvertFlags::Solicited;
        }
        if self.override_flag {
            flags |= NeighborAdvertFlags::Override;
        }
        flags
    }
}

/// The ICMPv6 checksum of `msg` (its checksum field counted as zero) over
/// the RFC 8200 Section 8.1 pseudo-header.
fn icmpv6_checksum(msg: &[u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
    // A message shorter than 4 bytes has no checksum field: never valid.
    Icmpv6Packet::new(msg).map_or(0, |p| icmpv6::checksum(&p, src, dst))
}

/// Whether `stored` is a valid checksum for a message whose computed one is
/// `computed`. In one's complement 0x0000 and 0xffff are both zero (RFC 1071),
/// and pnet compares nothing; a sender may put either when the sum is zero.
fn checksum_ok(stored: u16, computed: u16) -> bool {
    stored == computed || (computed == 0 && stored == 0xffff)
}

/// The first Target Link-Layer Address option of length 1 (an Ethernet MAC)
/// in `opts`, through smoltcp's checked option view. Refuses options of
/// length 0 or running past the message (RFC 4861 Section 7.1.2); smoltcp
/// also refuses a Prefix Information or Redirected Header option too short
/// for its type, neither of which belongs in an NA.
fn target_lladdr(mut opts: &[u8]) -> Result<Option<[u8; 6]>, WireError> {
    let mut found = None;
    while !opts.is_empty() {
        let opt = NdiscOption::new_checked(opts).map_err(|_| match opts.get(1) {
            Some(0) => WireError::Malformed("NDP option of length 0"),
            _ => WireError::Malformed("NDP option past the message or short for its type"),
        })?;
        let len = usize::from(opt.data_len()) * 8;
        if opt.option_type() == NdiscOptionType::TargetLinkLayerAddr
            && opt.data_len() == 1
            && found.is_none()
        {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(opt.link_layer_addr().as_bytes());
            found = Some(mac);
        }
        // new_checked has seen `len` bytes (and len > 0).
        opts = opts.get(len..).unwrap_or_default();
    }
    Ok(found)
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
        let (eth_repr, eth) = EthernetRepr::parse_frame(frame)?;
        if eth_repr.ethertype != ETHERTYPE_IPV6 {
            return Err(WireError::Malformed("NA: EtherType"));
        }
        let ip = Ipv6Packet::new(eth.payload()).ok_or(WireError::Truncated)?;
        if ip.get_version() != 6 {
            return Err(WireError::BadVersion(ip.get_version()));
        }
        if ip.get_next_header() != IpNextHeaderProtocols::Icmpv6 {
            return Err(WireError::Malformed("NA: next header"));
        }
        if ip.get_hop_limit() != ND_HOP_LIMIT {
            return Err(WireError::Malformed("NA: hop limit"));
        }
        // pnet cuts the payload at the buffer's end: a short one is truncated.
        let icmp = ip.payload();
        if icmp.len() != usize::from(ip.get_payload_length()) {
            return Err(WireError::Truncated);
        }
        let (src_ip, dst_ip) = (ip.get_source(), ip.get_destination());
        let na = NeighborAdvertPacket::new(icmp).ok_or(WireError::Truncated)?;
        if na.get_icmpv6_type().0 != ICMPV6_NEIGHBOR_ADVERT {
            return Err(WireError::BadType(na.get_icmpv6_type().0));
        }
        if na.get_icmpv6_code().0 != 0 {
            return Err(WireError::Malformed("NA: code"));
        }
        if !checksum_ok(na.get_checksum(), icmpv6_checksum(icmp, &src_ip, &dst_ip)) {
            return Err(WireError::BadChecksum);
        }
        let target = na.get_target_addr();
        if target.is_multicast() {
            return Err(WireError::Malformed("NA: multicast target"));
        }
        let flags = na.get_flags();
        let solicited = flags & NeighborAdvertFlags::Solicited != 0;
        if dst_ip.is_multicast() && solicited {
            return Err(WireError::Malformed("NA: solicited flag to multicast"));
        }
        Ok(NdiscFrame {
            eth: eth_repr,
            src_ip,
            dst_ip,
            na: NeighborAdvert {
                router: flags & NeighborAdvertFlags::Router != 0,
                solicited,
                override_flag: flags & NeighborAdvertFlags::Override != 0,
                target,
                target_lladdr: target_lladdr(na.get_options_raw())?,
            },
        })
    }

    /// The frame length.
    pub const fn buffer_len(&self) -> usize {
        ethernet::HEADER_LEN + IPV6_HEADER_LEN + self.na.buffer_len()
    }

    /// Writes the frame, checksum included, into the first
    /// [`buffer_len`](Self::buffer_len) bytes of `buf` and returns them. No
    /// allocation. Traffic class and flow label are 0 and the hop limit 255,
    /// as RFC 4861 Section 7.1.2 requires.
    pub fn emit<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], WireError> {
        let (needed, got) = (self.buffer_len(), buf.len());
        let bytes = buf
            .get_mut(..needed)
            .ok_or(WireError::BufferLength { needed, got })?;
        let mut frame = MutableEthernetPacket::new(&mut bytes[..]).ok_or(WireError::Truncated)?;
        self.eth.emit(&mut frame);
        let mut ip = MutableIpv6Packet::new(frame.payload_mut()).ok_or(WireError::Truncated)?;
        ip.set_version(6);
        ip.set_traffic_class(0);
        ip.set_flow_label(0);
        // Small by construction: at most NA_LEN + LLADDR_OPT_LEN.
        ip.set_payload_length(self.na.buffer_len() as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(ND_HOP_LIMIT);
        ip.set_source(self.src_ip);
        ip.set_destination(self.dst_ip);
        let icmp = ip.payload_mut();
        let mut na = MutableNeighborAdvertPacket::new(&mut icmp[..]).ok_or(WireError::Truncated)?;
        na.set_icmpv6_type(Icmpv6Type(ICMPV6_NEIGHBOR_ADVERT));
        na.set_icmpv6_code(Icmpv6Code(0));
        na.set_checksum(0);
        na.set_flags(self.na.flags());
        na.set_reserved(0);
        na.set_target_addr(self.na.target);
        if let Some(mac) = self.na.target_lladdr {
            NdiscOptionRepr::TargetLinkLayerAddr(RawHardwareAddress::from_bytes(&mac))
                .emit(&mut NdiscOption::new_unchecked(na.get_options_raw_mut()));
        }
        let sum = icmpv6_checksum(icmp, &self.src_ip, &self.dst_ip);
        MutableIcmpv6Packet::new(icmp)
            .ok_or(WireError::Truncated)?
            .set_checksum(sum);
        Ok(bytes)
    }

    /// The frame bytes in a new vector; see [`emit`](Self::emit), which the
    /// announcement path uses, for the same without an allocation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        // Cannot fail: the buffer has the exact length.
        let _ = self.emit(&mut buf);
        buf
    }
}

/// Writes the unsolicited NA of [`unsolicited_na`] into the first
/// [`NA_FRAME_LEN`] bytes of `buf` and returns them: the hot path of a
/// burst, one reused buffer, no allocation.
pub fn unsolicited_na_into(
    buf: &mut [u8],
    src_mac: [u8; 6],
    src_ip: Ipv6Addr,
    target: Ipv6Addr,
) -> Result<&[u8], WireError> {
    NdiscFrame::unsolicited(src_mac, src_ip, target, false).emit(buf)
}

/// The unsolicited NA keepalived 2.2 sends for a virtual IPv6 address, byte
/// for byte: from `src_mac` to 33:33:00:00:00:01, IPv6 from `src_ip` to
/// ff02::1 with hop limit 255, flags O only (R and S unset), target `target`
/// and a Target Link-Layer Address option with `src_mac`. keepalived uses the
/// VIP itself as `src_ip` (`src_ip == target`).
///
/// See [`NdiscFrame::unsolicited`] to set the Router flag.
pub fn unsolicited_na(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    let mut buf = [0u8; NA_FRAME_LEN];
    // Cannot fail: the buffer has the exact length.
    let _ = unsolicited_na_into(&mut buf, src_mac, src_ip, target);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::icmpv6::ndp::NdpOptionPacket;
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

    /// Rewrites the ICMPv6 checksum of an NA frame (Ethernet + IPv6 + ICMPv6).
    fn fix_checksum(frame: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) {
        let icmp = &mut frame[14 + 40..];
        let sum = icmpv6_checksum(icmp, src, dst);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn test_emit() {
        assert_eq!(unsolicited_na(MAC, fe80_53(), fe80_53()), NA_FE80);
    }

    #[test]
    fn test_emit_into_reused_buffer() {
        let mut buf = [0x5a_u8; 128];
        let frame = unsolicited_na_into(&mut buf, MAC, fe80_53(), fe80_53()).unwrap();
        assert_eq!(frame, &NA_FE80[..]);
        assert_eq!(
            unsolicited_na_into(&mut buf[..85], MAC, fe80_53(), fe80_53()),
            Err(WireError::BufferLength {
                needed: 86,
                got: 85
            })
        );
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
    fn test_checksum_negative_zero() {
        // Make the reserved bits sum so that the checksum is 0x0000: a sender
        // may then put 0xffff, the other zero of one's complement (RFC 1071).
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&[0, 0]);
        let sum = icmpv6_checksum(&bytes[54..], &fe80_53(), &ALL_NODES);
        bytes[14 + 40 + 6..14 + 40 + 8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(icmpv6_checksum(&bytes[54..], &fe80_53(), &ALL_NODES), 0);
        assert!(NdiscFrame::parse(&bytes).is_ok());
        bytes[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&[0xff, 0xff]);
        assert!(NdiscFrame::parse(&bytes).is_ok());
        bytes[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&[0xff, 0xfe]);
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
        fix_checksum(&mut f, &fe80_53(), &ALL_NODES);
        assert_eq!(NdiscFrame::parse(&f), Err(WireError::BadType(135)));
    }

    #[test]
    fn test_parse_zero_length_option() {
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 25] = 0;
        fix_checksum(&mut bytes, &fe80_53(), &ALL_NODES);
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

    /// NA_FE80 with its 8-byte option replaced by `opts` (lengths and
    /// checksum fixed up).
    fn na_with_options(opts: &[u8]) -> Vec<u8> {
        let mut f = NA_FE80[..14 + 40 + NA_LEN].to_vec();
        f.extend_from_slice(opts);
        let plen = (NA_LEN + opts.len()) as u16;
        f[14 + 4..14 + 6].copy_from_slice(&plen.to_be_bytes());
        fix_checksum(&mut f, &fe80_53(), &ALL_NODES);
        f
    }

    #[test]
    fn test_parse_long_unknown_option() {
        // An unknown option of 33 * 8 = 264 bytes, then the TLLA option:
        // valid, skipped whole.
        let mut opts = vec![0u8; 264];
        opts[0] = 99;
        opts[1] = 33;
        opts.extend_from_slice(&NA_FE80[78..]);
        let f = NdiscFrame::parse(&na_with_options(&opts)).unwrap();
        assert_eq!(f.na.target_lladdr, Some(MAC));
    }

    #[test]
    fn test_parse_option_past_the_end() {
        // A TLLA option that says 16 bytes with 8 there.
        let mut opts = NA_FE80[78..].to_vec();
        opts[1] = 2;
        assert!(matches!(
            NdiscFrame::parse(&na_with_options(&opts)),
            Err(WireError::Malformed(_))
        ));
    }

    // pnet_packet 0.35's NDP option view, the part of pnet this module does
    // not use. If one of these starts failing, pnet has changed and its
    // options may be usable again: see docs/DEPENDENCIES.md.

    #[test]
    fn pnet_ndp_option_length_overflows() {
        // A valid unknown option of length 33 (264 bytes). pnet computes
        // the payload length as `(len * 8) - 2` in u8: with overflow checks
        // (tests, fuzzing) that panics; without, it wraps to 6.
        let mut opt = vec![0u8; 264];
        opt[0] = 99;
        opt[1] = 33;
        let got =
            std::panic::catch_unwind(|| NdpOptionPacket::new(&opt).map(|p| p.payload().len()));
        if cfg!(debug_assertions) {
            assert!(got.is_err(), "pnet no longer panics: {got:?}");
        } else {
            assert_eq!(got.ok().flatten(), Some(6), "the right length is 262");
        }
    }

    #[test]
    fn pnet_ndp_option_zero_length_is_accepted() {
        // RFC 4861 Section 7.1.2: a node must silently discard an NA with
        // an option of length 0. pnet's iterator walks on in 2-byte steps
        // and reads our 8 bytes of TLLA with length 0 as four options, the
        // MAC's last bytes as a fourth of length 1.
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 25] = 0;
        let na = NeighborAdvertPacket::new(&bytes[54..]).unwrap();
        let lens: Vec<u8> = na.get_options_iter().map(|o| o.get_length()).collect();
        assert_eq!(lens, [0, 0, 0, 1]);
    }

    #[test]
    fn pnet_ndp_option_past_the_end_is_accepted() {
        // An option that says 16 bytes with 8 there: pnet gives the 6 bytes
        // that are there, no error.
        let mut bytes = NA_FE80;
        bytes[14 + 40 + 25] = 2;
        let na = NeighborAdvertPacket::new(&bytes[54..]).unwrap();
        let opts: Vec<usize> = na.get_options_iter().map(|o| o.payload().len()).collect();
        assert_eq!(opts, [6]);
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
