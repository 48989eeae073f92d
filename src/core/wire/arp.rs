//! ARP over Ethernet for IPv4 (RFC 826) and the gratuitous ARP a new master
//! broadcasts for each virtual IPv4 address (RFC 5798 Section 6.4.2, RFC 5227 Section 3).

use std::net::Ipv4Addr;

use super::ethernet::{self, EthernetFrame, EthernetRepr, BROADCAST_MAC, ETHERTYPE_ARP};
use super::WireError;

/// ARP hardware type of Ethernet (RFC 826, IANA `ar$hrd` 1).
pub const HTYPE_ETHERNET: u16 = 1;
/// Length of an ARP packet for Ethernet and IPv4.
pub const PACKET_LEN: usize = 28;
/// Length of a gratuitous ARP frame: Ethernet header and ARP packet, unpadded.
pub const GARP_FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

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

/// A zero-copy view of an ARP packet (the Ethernet payload) for Ethernet
/// hardware addresses and IPv4 protocol addresses.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Hardware Type          |         Protocol Type         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HLEN (6)     |  PLEN (4)     |           Operation           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Sender Hardware Address (6 bytes)              |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |  Sender Protocol Address ...  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  ... (4 bytes)                |  Target Hardware Address ...  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                        ... (6 bytes)                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Target Protocol Address (4 bytes)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checks; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after checking it holds [`PACKET_LEN`] bytes (more, such
    /// as Ethernet padding, is allowed and ignored).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        Ok(ArpPacket { buffer })
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware type (`ar$hrd`).
    pub fn hardware_type(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }

    /// Protocol type (`ar$pro`), an EtherType.
    pub fn protocol_type(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }

    /// Hardware address length (`ar$hln`).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (`ar$pln`).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation (`ar$op`).
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from_wire(self.u16_at(field::OPER))
    }

    /// Sender hardware address (`ar$sha`).
    pub fn sender_hardware_addr(&self) -> [u8; 6] {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address (`ar$spa`).
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        ipv4(&self.buffer.as_ref()[field::SPA])
    }

    /// Target hardware address (`ar$tha`).
    pub fn target_hardware_addr(&self) -> [u8; 6] {
        mac(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address (`ar$tpa`).
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets hardware type, protocol type and both lengths for Ethernet/IPv4.
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: ArpOperation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&op.to_wire().to_be_bytes());
    }

    /// Sets the sender hardware address.
    pub fn set_sender_hardware_addr(&mut self, addr: [u8; 6]) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr);
    }

    /// Sets the sender protocol address.
    pub fn set_sender_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, addr: [u8; 6]) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut out = [0u8; 6];
    out.copy_from_slice(b);
    out
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// The value of an Ethernet/IPv4 ARP packet.
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
    /// Reads a checked packet; refuses anything but Ethernet (6-byte) hardware
    /// and IPv4 (4-byte) protocol addresses.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr, WireError> {
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != ethernet::ETHERTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(WireError::Malformed("ARP: not Ethernet/IPv4"));
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            sender_mac: packet.sender_hardware_addr(),
            sender_ip: packet.sender_protocol_addr(),
            target_mac: packet.target_hardware_addr(),
            target_ip: packet.target_protocol_addr(),
        })
    }

    /// Parses a whole Ethernet frame carrying ARP (trailing padding allowed).
    pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, ArpRepr), WireError> {
        let eth = EthernetFrame::new_checked(frame)?;
        let eth_repr = EthernetRepr::parse(&eth);
        if eth_repr.ethertype != ETHERTYPE_ARP {
            return Err(WireError::Malformed("ARP: EtherType"));
        }
        let arp = ArpPacket::new_checked(eth.payload())?;
        Ok((eth_repr, ArpRepr::parse(&arp)?))
    }

    /// The length of the ARP packet.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into a buffer of at least [`PACKET_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_ethernet_ipv4();
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(self.sender_mac);
        packet.set_sender_protocol_addr(self.sender_ip);
        packet.set_target_hardware_addr(self.target_mac);
        packet.set_target_protocol_addr(self.target_ip);
    }

    /// Whether this announces `sender_ip` rather than asking for another
    /// address: sender and target IP are equal (RFC 5227 Section 3).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
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
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src: src_mac,
        dst: BROADCAST_MAC,
        ethertype: ETHERTYPE_ARP,
    }
    .emit(&mut frame);
    ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: src_mac,
        sender_ip: vip,
        target_mac: BROADCAST_MAC,
        target_ip: vip,
    }
    .emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
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
    fn test_emit() {
        assert_eq!(gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, 200)), GARP);
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
            repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
            let parsed = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
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
