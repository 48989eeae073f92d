//! ARP over Ethernet for IPv4 (RFC 826) and the gratuitous ARP a new master
//! broadcasts for each virtual IPv4 address (RFC 5798 Section 6.4.2, RFC 5227 Section 3):
//! our value type over `pnet_packet`'s zero-copy [`ArpPacket`] view.

use std::net::Ipv4Addr;

use pnet_base::MacAddr;
use pnet_packet::arp::{
    ArpHardwareType, ArpHardwareTypes, ArpOperation as PnetArpOperation, ArpPacket,
    MutableArpPacket,
};
use pnet_packet::ethernet::{EtherType, EtherTypes, MutableEthernetPacket};
use pnet_packet::{MutablePacket, Packet};

use super::ethernet::{self, EthernetRepr, BROADCAST_MAC, ETHERTYPE_ARP};
use super::WireError;

/// ARP hardware type of Ethernet (RFC 826, IANA `ar$hrd` 1).
pub const HTYPE_ETHERNET: u16 = 1;
/// Length of an ARP packet for Ethernet and IPv4.
pub const PACKET_LEN: usize = 28;
/// Length of a gratuitous ARP frame: Ethernet header and ARP packet, unpadded.
pub const GARP_FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;

/// The ARP operation (RFC 826 `ar$op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// 1, REQUEST.
    Request,
    /// 2, REPLY.
    Reply,
    /// Any other value.
    Unknown(u16),
}

impl ArpOperation {
    /// The operation for a wire value.
    pub const fn from_wire(v: u16) -> ArpOperation {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            v => ArpOperation::Unknown(v),
        }
    }

    /// The wire value.
    pub const fn to_wire(self) -> u16 {
        match self {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(v) => v,
        }
    }
}

/// The value of an Ethernet/IPv4 ARP packet.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Hardware Type          |         Protocol Type         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HLEN (6)     |  PLEN (4)     |           Operation           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Sender Hardware Address (6), Sender Protocol Address (4),   |
/// |   Target Hardware Address (6), Target Protocol Address (4)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: ArpOperation,
    /// Sender MAC address.
    pub sender_mac: [u8; 6],
    /// Sender IPv4 address.
    pub sender_ip: Ipv4Addr,
    /// Target MAC address.
    pub target_mac: [u8; 6],
    /// Target IPv4 address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a packet; refuses anything but Ethernet (6-byte) hardware and
    /// IPv4 (4-byte) protocol addresses. `pnet_packet` reads the addresses
    /// at the Ethernet/IPv4 offsets whatever the length fields say, so the
    /// lengths are checked here first.
    pub fn parse(packet: &ArpPacket<'_>) -> Result<ArpRepr, WireError> {
        if packet.get_hardware_type() != ArpHardwareTypes::Ethernet
            || packet.get_protocol_type() != EtherTypes::Ipv4
            || packet.get_hw_addr_len() != 6
            || packet.get_proto_addr_len() != 4
        {
            return Err(WireError::Malformed("ARP: not Ethernet/IPv4"));
        }
        Ok(ArpRepr {
            operation: ArpOperation::from_wire(packet.get_operation().0),
            sender_mac: packet.get_sender_hw_addr().octets(),
            sender_ip: packet.get_sender_proto_addr(),
            target_mac: packet.get_target_hw_addr().octets(),
            target_ip: packet.get_target_proto_addr(),
        })
    }

    /// Parses a whole Ethernet frame carrying ARP (trailing padding allowed).
    pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, ArpRepr), WireError> {
        let (eth_repr, eth) = EthernetRepr::parse_frame(frame)?;
        if eth_repr.ethertype != ETHERTYPE_ARP {
            return Err(WireError::Malformed("ARP: EtherType"));
        }
        let arp = ArpPacket::new(eth.payload()).ok_or(WireError::Truncated)?;
        Ok((eth_repr, ArpRepr::parse(&arp)?))
    }

    /// The length of the ARP packet.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet.
    pub fn emit(&self, packet: &mut MutableArpPacket<'_>) {
        packet.set_hardware_type(ArpHardwareType(HTYPE_ETHERNET));
        packet.set_protocol_type(EtherType(ethernet::ETHERTYPE_IPV4));
        packet.set_hw_addr_len(6);
        packet.set_proto_addr_len(4);
        packet.set_operation(PnetArpOperation(self.operation.to_wire()));
        packet.set_sender_hw_addr(MacAddr::from(self.sender_mac));
        packet.set_sender_proto_addr(self.sender_ip);
        packet.set_target_hw_addr(MacAddr::from(self.target_mac));
        packet.set_target_proto_addr(self.target_ip);
    }

    /// Writes an Ethernet frame with `eth`'s header and this packet into the
    /// first [`GARP_FRAME_LEN`] bytes of `buf` and returns them. No allocation.
    pub fn emit_frame<'b>(
        &self,
        eth: &EthernetRepr,
        buf: &'b mut [u8],
    ) -> Result<&'b [u8], WireError> {
        let got = buf.len();
        let bytes = buf
            .get_mut(..GARP_FRAME_LEN)
            .ok_or(WireError::BufferLength {
                needed: GARP_FRAME_LEN,
                got,
            })?;
        let mut frame = MutableEthernetPacket::new(&mut bytes[..]).ok_or(WireError::Truncated)?;
        eth.emit(&mut frame);
        let mut arp = MutableArpPacket::new(frame.payload_mut()).ok_or(WireError::Truncated)?;
        self.emit(&mut arp);
        Ok(bytes)
    }

    /// Whether this announces `sender_ip` rather than asking for another
    /// address: sender and target IP are equal (RFC 5227 Section 3).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// The Ethernet header and ARP packet of the gratuitous ARP for `vip`; see
/// [`gratuitous_arp`].
const fn garp_reprs(src_mac: [u8; 6], vip: Ipv4Addr) -> (EthernetRepr, ArpRepr) {
    (
        EthernetRepr {
            src: src_mac,
            dst: BROADCAST_MAC,
            ethertype: ETHERTYPE_ARP,
        },
        ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: src_mac,
            sender_ip: vip,
            target_mac: BROADCAST_MAC,
            target_ip: vip,
        },
    )
}

/// Writes the gratuitous ARP for `vip` (see [`gratuitous_arp`]) into the
/// first [`GARP_FRAME_LEN`] bytes of `buf` and returns them: the hot path of
/// a burst, one reused buffer, no allocation.
pub fn gratuitous_arp_into(
    buf: &mut [u8],
    src_mac: [u8; 6],
    vip: Ipv4Addr,
) -> Result<&[u8], WireError> {
    let (eth, arp) = garp_reprs(src_mac, vip);
    arp.emit_frame(&eth, buf)
}

/// The gratuitous ARP a master broadcasts for a virtual IPv4 address when it
/// becomes master (RFC 5798 Sections 6.4.1 and 6.4.2, RFC 3768 Sections 6.4.1
/// and 6.4.2).
///
/// Byte for byte what keepalived 2.2 sends: Ethernet broadcast from `src_mac`,
/// an ARP *request* with sender MAC `src_mac`, sender IP = target IP = `vip`,
/// and target MAC ff:ff:ff:ff:ff:ff. (The RFCs put the virtual router MAC in
/// the target MAC field; receivers ignore that field in a gratuitous ARP, and
/// we follow the implementation peers already interoperate with.) The 42-byte
/// frame is not padded: the kernel or NIC pads it to the 60-byte minimum.
///
/// `src_mac` is the virtual router MAC (`virtual_mac`) when the instance uses
/// one, else the interface MAC, as with keepalived without `use_vmac`.
pub fn gratuitous_arp(src_mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut buf = [0u8; GARP_FRAME_LEN];
    // Cannot fail: the buffer has the exact length.
    let _ = gratuitous_arp_into(&mut buf, src_mac, vip);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    // keepalived 2.2.7 gratuitous ARP for 192.0.2.200 from 02:00:00:00:00:01.
    static GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,
        0x06, // eth
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0xc8, // sha, spa
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0xc8, // tha, tpa
    ];

    #[test]
    fn test_packet_len() {
        assert_eq!(ArpPacket::minimum_packet_size(), PACKET_LEN);
    }

    #[test]
    fn test_emit() {
        assert_eq!(gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, 200)), GARP);
    }

    #[test]
    fn test_emit_into_reused_buffer() {
        // A longer, dirty buffer: the frame is its first 42 bytes, all written.
        let mut buf = [0x5a_u8; 100];
        let frame = gratuitous_arp_into(&mut buf, MAC, Ipv4Addr::new(192, 0, 2, 200)).unwrap();
        assert_eq!(frame, &GARP[..]);
        assert_eq!(
            gratuitous_arp_into(&mut buf[..41], MAC, Ipv4Addr::LOCALHOST),
            Err(WireError::BufferLength {
                needed: 42,
                got: 41
            })
        );
    }

    #[test]
    fn test_parse() {
        let (eth, arp) = ArpRepr::parse_frame(&GARP).unwrap();
        assert_eq!(eth.dst, BROADCAST_MAC);
        assert_eq!(eth.src, MAC);
        assert_eq!(arp.operation, ArpOperation::Request);
        assert_eq!(arp.sender_mac, MAC);
        assert_eq!(arp.sender_ip, Ipv4Addr::new(192, 0, 2, 200));
        assert_eq!(arp.target_mac, BROADCAST_MAC);
        assert!(arp.is_gratuitous());
    }

    #[test]
    fn test_parse_padded() {
        let mut padded = GARP.to_vec();
        padded.resize(60, 0);
        assert_eq!(
            ArpRepr::parse_frame(&padded).unwrap(),
            ArpRepr::parse_frame(&GARP).unwrap()
        );
    }

    #[test]
    fn test_parse_truncated() {
        for len in 0..GARP.len() {
            assert_eq!(
                ArpRepr::parse_frame(&GARP[..len]),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn test_parse_unsupported() {
        let mut frame = GARP;
        frame[12] = 0x08;
        frame[13] = 0x00; // IPv4, not ARP
        assert!(matches!(
            ArpRepr::parse_frame(&frame),
            Err(WireError::Malformed(_))
        ));
        let mut frame = GARP;
        frame[14 + 4] = 8; // hlen 8
        assert!(matches!(
            ArpRepr::parse_frame(&frame),
            Err(WireError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn prop_roundtrip(
            op in any::<u16>(),
            sender_mac in any::<[u8; 6]>(),
            sender_ip in any::<[u8; 4]>(),
            target_mac in any::<[u8; 6]>(),
            target_ip in any::<[u8; 4]>(),
        ) {
            let repr = ArpRepr {
                operation: ArpOperation::from_wire(op),
                sender_mac,
                sender_ip: sender_ip.into(),
                target_mac,
                target_ip: target_ip.into(),
            };
            let mut buf = [0u8; PACKET_LEN];
            repr.emit(&mut MutableArpPacket::new(&mut buf[..]).unwrap());
            let parsed = ArpRepr::parse(&ArpPacket::new(&buf[..]).unwrap()).unwrap();
            prop_assert_eq!(parsed, repr);
        }

        #[test]
        fn prop_garp_parses_back(mac in any::<[u8; 6]>(), vip in any::<[u8; 4]>()) {
            let frame = gratuitous_arp(mac, vip.into());
            let (eth, arp) = ArpRepr::parse_frame(&frame).unwrap();
            prop_assert_eq!(eth.src, mac);
            prop_assert_eq!(arp.sender_mac, mac);
            prop_assert_eq!(arp.sender_ip, Ipv4Addr::from(vip));
            prop_assert!(arp.is_gratuitous());
        }
    }
}
