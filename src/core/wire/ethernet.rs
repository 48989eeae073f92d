//! The Ethernet II header in front of ARP and NA frames: our value type over
//! `pnet_packet`'s zero-copy [`EthernetPacket`] view.

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherType, EthernetPacket, MutableEthernetPacket};

use super::WireError;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP (RFC 826).
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6 (RFC 2464 Section 3).
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The broadcast MAC address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// The value of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source MAC address.
    pub src: [u8; 6],
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// EtherType of the payload.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Reads the header of a frame.
    pub fn parse(frame: &EthernetPacket<'_>) -> EthernetRepr {
        EthernetRepr {
            src: frame.get_source().octets(),
            dst: frame.get_destination().octets(),
            ethertype: frame.get_ethertype().0,
        }
    }

    /// Wraps untrusted bytes in a view after checking that they hold a whole
    /// header, and reads the header. The view gives the payload (including
    /// any link padding) through [`pnet_packet::Packet::payload`].
    pub fn parse_frame(bytes: &[u8]) -> Result<(EthernetRepr, EthernetPacket<'_>), WireError> {
        let frame = EthernetPacket::new(bytes).ok_or(WireError::Truncated)?;
        Ok((EthernetRepr::parse(&frame), frame))
    }

    /// The header length.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header.
    pub fn emit(&self, frame: &mut MutableEthernetPacket<'_>) {
        frame.set_destination(MacAddr::from(self.dst));
        frame.set_source(MacAddr::from(self.src));
        frame.set_ethertype(EtherType(self.ethertype));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::{MutablePacket, Packet};

    static FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // ARP
        0xaa, 0xbb, // payload
    ];

    #[test]
    fn test_header_len() {
        assert_eq!(EthernetPacket::minimum_packet_size(), HEADER_LEN);
    }

    #[test]
    fn test_parse() {
        let (repr, frame) = EthernetRepr::parse_frame(&FRAME).unwrap();
        assert_eq!(repr.dst, BROADCAST_MAC);
        assert_eq!(repr.src, [2, 0, 0, 0, 0, 1]);
        assert_eq!(repr.ethertype, ETHERTYPE_ARP);
        assert_eq!(frame.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn test_emit() {
        let repr = EthernetRepr {
            src: [2, 0, 0, 0, 0, 1],
            dst: BROADCAST_MAC,
            ethertype: ETHERTYPE_ARP,
        };
        let mut buf = [0u8; 16];
        let mut frame = MutableEthernetPacket::new(&mut buf[..]).unwrap();
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn test_truncated() {
        assert_eq!(
            EthernetRepr::parse_frame(&FRAME[..13]).err(),
            Some(WireError::Truncated)
        );
    }
}
