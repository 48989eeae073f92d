//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers it is taken over.
//!
//! The helpers return the folded one's complement *sum* (not yet inverted), so
//! that the sums of the pseudo-header and of the message can be [`combine`]d.
//! The checksum field carries `!combine(..)`; a receiver verifies by summing
//! everything including the checksum field and expecting `0xffff`
//! (RFC 1071 Section 1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol / next header number of ICMPv6 (RFC 8200 Section 8.1 pseudo-header).
pub const IPPROTO_ICMPV6: u8 = 58;

/// Adds the carries back into the low 16 bits (end-around carry, RFC 1071 Section 2).
const fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The one's complement sum of `data` taken as big-endian 16-bit words; an odd
/// trailing byte is padded with a zero byte (RFC 1071 Section 4.1).
///
/// Only the last chunk given to [`combine`] may have an odd length.
pub fn data(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold(acc)
}

/// The one's complement sum of partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The sum of the IPv4 pseudo-header (RFC 768, as used by TCP/UDP): source,
/// destination, a zero byte, the protocol, and the upper-layer length.
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut hdr = [0u8; 12];
    hdr[0..4].copy_from_slice(&src.octets());
    hdr[4..8].copy_from_slice(&dst.octets());
    hdr[9] = protocol;
    hdr[10..12].copy_from_slice(&length.to_be_bytes());
    data(&hdr)
}

/// The sum of the IPv6 pseudo-header (RFC 8200 Section 8.1): source,
/// destination, the 32-bit upper-layer length, three zero bytes and the next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut hdr = [0u8; 40];
    hdr[0..16].copy_from_slice(&src.octets());
    hdr[16..32].copy_from_slice(&dst.octets());
    hdr[32..36].copy_from_slice(&length.to_be_bytes());
    hdr[39] = next_header;
    data(&hdr)
}

/// The pseudo-header sum for `src`/`dst` of either family, or `None` if the
/// two are of different families or the length does not fit the IPv4 field.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: u8, length: usize) -> Option<u16> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(pseudo_header_v4(
            s,
            d,
            protocol,
            u16::try_from(length).ok()?,
        )),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(pseudo_header_v6(
            s,
            d,
            protocol,
            u32::try_from(length).ok()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 1071 Section 3 worked example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
    #[test]
    fn test_rfc1071_example() {
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn test_odd_length_pads_with_zero() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), data(&[0x12, 0x34, 0x56, 0x00]));
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn test_end_around_carry() {
        // 0xffff + 0x0001 = 0x1_0000 -> 0x0001 in one's complement.
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        assert_eq!(combine(&[0x8000, 0xc000]), 0x4001);
    }

    #[test]
    fn test_combine_equals_concatenation() {
        let a = [1u8, 2, 3, 4, 5, 6];
        let b = [7u8, 8, 9];
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(combine(&[data(&a), data(&b)]), data(&whole));
    }

    #[test]
    fn test_pseudo_header_v4() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(224, 0, 0, 18);
        let bytes = [192, 0, 2, 1, 224, 0, 0, 18, 0, 112, 0, 12];
        assert_eq!(pseudo_header_v4(&src, &dst, 112, 12), data(&bytes));
        assert_eq!(
            pseudo_header(&src.into(), &dst.into(), 112, 12),
            Some(data(&bytes))
        );
    }

    #[test]
    fn test_pseudo_header_v6() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::12".parse().unwrap();
        let mut bytes = [0u8; 40];
        bytes[0..2].copy_from_slice(&[0xfe, 0x80]);
        bytes[15] = 1;
        bytes[16..18].copy_from_slice(&[0xff, 0x02]);
        bytes[31] = 0x12;
        bytes[35] = 40;
        bytes[39] = 112;
        assert_eq!(pseudo_header_v6(&src, &dst, 112, 40), data(&bytes));
    }

    #[test]
    fn test_pseudo_header_mixed_families() {
        let v4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_eq!(pseudo_header(&v4, &v6, 112, 8), None);
        assert_eq!(pseudo_header(&v4, &v4, 112, 70_000), None);
    }
}
