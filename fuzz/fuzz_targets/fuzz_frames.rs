//! Fuzzes the ARP and Neighbor Advertisement frame parsers; whatever parses
//! must re-emit and parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrpd::core::wire::arp::{ArpPacket, PACKET_LEN};
use vrrpd::core::wire::{ArpRepr, NdiscFrame};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, arp)) = ArpRepr::parse_frame(data) {
        let mut buf = [0u8; PACKET_LEN];
        arp.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        let again = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(again, arp);
    }
    if let Ok(na) = NdiscFrame::parse(data) {
        assert_eq!(NdiscFrame::parse(&na.to_bytes()), Ok(na));
    }
});
