//! Fuzzes `Advertisement::parse` with fuzz-chosen IP source/destination
//! families and addresses; whatever parses must re-emit and parse back equal.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrpd::core::types::Version;
use vrrpd::core::wire::{Advertisement, ChecksumMode, Family, VrrpPacket, WireError};

/// Takes an address of the family chosen by `v6` off the front of `data`.
fn take_addr<'a>(data: &mut &'a [u8], v6: bool) -> Option<IpAddr> {
    if v6 {
        let (a, rest) = data.split_first_chunk::<16>()?;
        *data = rest;
        Some(IpAddr::V6(Ipv6Addr::from(*a)))
    } else {
        let (a, rest) = data.split_first_chunk::<4>()?;
        *data = rest;
        Some(IpAddr::V4(Ipv4Addr::from(*a)))
    }
}

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks the families (bit 0: source, bit 1: destination; usually
    // equal, sometimes mixed), then come the two addresses, then the message.
    // Bit 2 asks to fix the checksum up first (bit 3: in which form), so that
    // mutated inputs get past the checksum check and reach the code behind it.
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let Some(src) = take_addr(&mut rest, selector & 1 != 0) else {
        return;
    };
    let Some(dst) = take_addr(&mut rest, selector & 2 != 0) else {
        return;
    };
    let mut msg = rest.to_vec();
    if selector & 4 != 0 && Family::of(&src) == Family::of(&dst) {
        let mode = if selector & 8 != 0 {
            ChecksumMode::MessageOnly
        } else {
            ChecksumMode::PseudoHeader
        };
        if let Ok(mut packet) = VrrpPacket::new_checked(&mut msg[..], Family::of(&src)) {
            packet
                .fill_checksum(&src, &dst, mode)
                .expect("same families");
        }
    }
    let msg = &msg[..];

    let Ok((adv, mode)) = Advertisement::parse(msg, src, dst) else {
        return;
    };
    assert_eq!(adv.buffer_len(), msg.len());
    match adv.to_bytes(src, dst, mode) {
        Ok(bytes) => {
            assert_eq!(bytes.len(), msg.len());
            let again = Advertisement::parse(&bytes, src, dst).expect("re-emitted advert parses");
            assert_eq!(again, (adv, mode));
        }
        // The one value the wire can carry but we refuse to send: a VRRPv2
        // Adver Int of 0 seconds.
        Err(WireError::IntervalNotRepresentable { .. })
            if adv.version == Version::V2 && adv.max_adver_int.get() == 0 => {}
        Err(e) => panic!("parsed advert does not re-emit: {e} ({adv:?})"),
    }
});
