//! Wire formats: VRRP advertisements (v2/v3, IPv4/IPv6), gratuitous ARP and unsolicited NA frames.
//!
//! The VRRP advertisement is ours, written in the smoltcp style (see
//! STYLE.md): a zero-copy view over a byte buffer (`Packet<T: AsRef<[u8]>>`,
//! with field offsets in a private `mod field`) and a value type that is
//! parsed from it and emitted into it. The frames around it (Ethernet, ARP,
//! the NA) are not the product: `pnet_packet`'s zero-copy views read and
//! write them, with smoltcp's `NdiscOption` for the NA's options (where
//! pnet falls short, see [`ndisc`]), and our modules map our value types
//! onto theirs. Untrusted bytes go through a `parse()`, after which nothing
//! panics. docs/DEPENDENCIES.md says why each crate.
//!
//! - [`vrrp`]: the VRRP advertisement, [`Advertisement`], with parse and emit.
//! - [`checksum`]: the Internet checksum and the IPv4/IPv6 pseudo-headers.
//! - [`ethernet`]: the Ethernet II header that the ARP and NA frames carry.
//! - [`arp`]: the gratuitous ARP a new master sends for each IPv4 VIP.
//! - [`ndisc`]: the unsolicited Neighbor Advertisement a new master sends for each IPv6 VIP.
//! - [`announcement_into`]: either of the last two, for one VIP, into a reused buffer.
//! - [`auth`]: the HMAC authentication trailer of keepalived 2.4's `auth_hmac`.

pub mod arp;
pub mod auth;
pub mod checksum;
pub mod ethernet;
pub mod ndisc;
pub mod vrrp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::core::types::{Centisecs, Version, Vrid};

pub use self::arp::{gratuitous_arp, gratuitous_arp_into, ArpOperation, ArpRepr};
pub use self::ethernet::EthernetRepr;
pub use self::ndisc::{unsolicited_na, unsolicited_na_into, NdiscFrame, NeighborAdvert};
pub use self::vrrp::{Advertisement, Auth, ChecksumMode, Packet as VrrpPacket};

/// IP protocol number of VRRP (RFC 5798 Sections 5.1.1.4 and 5.1.2.4).
pub const IPPROTO_VRRP: u8 = 112;

/// The IPv4 multicast group VRRP advertisements are sent to (RFC 5798 Section 5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// The IPv6 multicast group VRRP advertisements are sent to (RFC 5798 Section 5.1.2.2).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The IP hop limit / TTL every VRRP advertisement is sent with, and that a
/// receiver checks (RFC 5798 Sections 5.1.1.3, 5.1.2.3 and 7.1).
pub const VRRP_TTL: u8 = 255;

/// The address family of an advertisement, of its addresses and of the IP
/// header that carried it. RFC 9568 Section 1: a Backup Router infers the family
/// of the virtual addresses from the IP version of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: 4-byte addresses.
    Ipv4,
    /// IPv6: 16-byte addresses.
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The length of one address of this family on the wire.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

/// The virtual router MAC address for `vrid` (RFC 5798 Section 7.3):
/// `00:00:5e:00:01:{VRID}` for IPv4, `00:00:5e:00:02:{VRID}` for IPv6.
pub const fn virtual_mac(family: Family, vrid: Vrid) -> [u8; 6] {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid.get()]
}

/// The length of the longest frame [`announcement_into`] writes (an
/// unsolicited NA); a buffer of this length takes any announcement.
pub const ANNOUNCEMENT_MAX_LEN: usize = ndisc::NA_FRAME_LEN;

/// Writes the frame that announces `vip` after becoming master (RFC 5798
/// Section 6.4.2) into `buf` and returns it: a gratuitous ARP from `src_mac`
/// for an IPv4 VIP ([`gratuitous_arp`]), an unsolicited NA from
/// `src_mac`/`na_src` for an IPv6 one ([`unsolicited_na`]). A burst reuses
/// one buffer of [`ANNOUNCEMENT_MAX_LEN`] bytes and allocates nothing.
pub fn announcement_into(
    buf: &mut [u8],
    src_mac: [u8; 6],
    vip: IpAddr,
    na_src: Ipv6Addr,
) -> Result<&[u8], WireError> {
    match vip {
        IpAddr::V4(a) => gratuitous_arp_into(buf, src_mac, a),
        IpAddr::V6(a) => unsolicited_na_into(buf, src_mac, na_src, a),
    }
}

/// Why bytes could not be parsed, or a value could not be emitted.
///
/// The receive-side variants are distinct so that the caller can count
/// dropped packets by reason (see [`WireError::drop_reason_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer is shorter than the fixed header.
    #[error("packet truncated")]
    Truncated,
    /// The VRRP version is neither 2 nor 3.
    #[error("unsupported VRRP version {0}")]
    BadVersion(u8),
    /// The VRRP type is not 1 (ADVERTISEMENT).
    #[error("unsupported VRRP packet type {0}")]
    BadType(u8),
    /// The address count does not match the length of the packet.
    #[error("address count {count} does not match packet length {len}")]
    CountMismatch {
        /// The Count IPvX Addr field.
        count: u8,
        /// The length of the VRRP message, in bytes.
        len: usize,
    },
    /// The checksum does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// Source and destination are of different families, or VRRPv2 over IPv6.
    #[error("address family mismatch")]
    FamilyMismatch,
    /// A frame that is well formed but not one this parser handles
    /// (ARP hardware type, EtherType, ICMPv6 type, ...).
    #[error("unsupported or malformed {0}")]
    Malformed(&'static str),
    /// Emit: the interval cannot be carried by this version (v2 needs whole
    /// seconds in 1..=255, v3 at most 4095 cs).
    #[error("advertisement interval {interval} cannot be sent in VRRP{version}")]
    IntervalNotRepresentable {
        /// The version that was asked for.
        version: Version,
        /// The interval that was asked for.
        interval: Centisecs,
    },
    /// Emit: an address is not of the packet's family (mixed IPv4 and IPv6,
    /// or IPv6 addresses in an IPv4 packet).
    #[error("virtual address {0} does not match the packet's address family")]
    AddressFamily(IpAddr),
    /// Emit: more addresses than the 8-bit count can carry.
    #[error("{0} addresses do not fit the 8-bit address count")]
    TooManyAddresses(usize),
    /// Emit: authentication is a VRRPv2 feature (RFC 5798 Section 9).
    #[error("VRRPv3 carries no authentication")]
    AuthInV3,
    /// Emit: `Auth::Other` with type 0 or 1, which would parse back as
    /// `Auth::None` / `Auth::SimplePassword`.
    #[error("authentication type {0} must use its own Auth variant")]
    AuthTypeReserved(u8),
    /// An authentication trailer (see [`auth`]) of an unknown Ext Type.
    #[error("authentication trailer of unknown type {0}")]
    TrailerType(u8),
    /// An authentication trailer whose Reserved field is not zero.
    #[error("authentication trailer with reserved field {0:#06x}")]
    TrailerReserved(u16),
    /// Emit: the output buffer does not have the exact length needed.
    #[error("buffer is {got} bytes, {needed} needed")]
    BufferLength {
        /// `buffer_len()` of the value.
        needed: usize,
        /// The length of the buffer given.
        got: usize,
    },
}

impl WireError {
    /// A stable snake_case name for a drop counter, e.g. `vrrp_rx_drop{reason="checksum"}`.
    pub const fn drop_reason_name(&self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::BadVersion(_) => "version",
            WireError::BadType(_) => "type",
            WireError::CountMismatch { .. } => "length",
            WireError::BadChecksum => "checksum",
            WireError::FamilyMismatch => "family",
            WireError::Malformed(_) => "malformed",
            WireError::IntervalNotRepresentable { .. } => "interval",
            WireError::AddressFamily(_) => "address_family",
            WireError::TooManyAddresses(_) => "too_many_addresses",
            WireError::AuthInV3 => "auth_in_v3",
            WireError::AuthTypeReserved(_) => "auth_type",
            WireError::TrailerType(_) | WireError::TrailerReserved(_) => "auth_malformed",
            WireError::BufferLength { .. } => "buffer_length",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_virtual_mac() {
        let vrid = Vrid::new(51).unwrap();
        assert_eq!(virtual_mac(Family::Ipv4, vrid), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(Family::Ipv6, vrid), [0, 0, 0x5e, 0, 2, 51]);
    }

    #[test]
    fn test_announcement_into() {
        let mac = [2, 0, 0, 0, 0, 1];
        let v4 = Ipv4Addr::new(192, 0, 2, 200);
        let v6: Ipv6Addr = "2001:db8::200".parse().unwrap();
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut buf = [0u8; ANNOUNCEMENT_MAX_LEN];
        let garp = announcement_into(&mut buf, mac, v4.into(), src).unwrap();
        assert_eq!(garp, &gratuitous_arp(mac, v4)[..]);
        let na = announcement_into(&mut buf, mac, v6.into(), src).unwrap();
        assert_eq!(na, &unsolicited_na(mac, src, v6)[..]);
    }

    #[test]
    fn test_groups() {
        assert_eq!(VRRP_MCAST_V4.to_string(), "224.0.0.18");
        assert_eq!(VRRP_MCAST_V6.to_string(), "ff02::12");
        assert!(VRRP_MCAST_V4.is_multicast() && VRRP_MCAST_V6.is_multicast());
    }

    #[test]
    fn test_drop_reason_names() {
        let names = [
            (WireError::Truncated, "truncated"),
            (WireError::BadVersion(4), "version"),
            (WireError::BadType(2), "type"),
            (WireError::CountMismatch { count: 1, len: 8 }, "length"),
            (WireError::BadChecksum, "checksum"),
            (WireError::FamilyMismatch, "family"),
        ];
        for (err, name) in names {
            assert_eq!(err.drop_reason_name(), name);
        }
    }
}
