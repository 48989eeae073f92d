//! Fuzzes the ARP and Neighbor Advertisement frame parsers (our value types
//! over `pnet_packet`'s views, smoltcp's for the NDP options); whatever parses
//! must re-emit into a reused buffer and parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrpd::core::wire::{ArpRepr, NdiscFrame};

fuzz_target!(|data: &[u8]| {
    // Dirty on purpose: emit must write every byte of the frame it returns.
    let mut buf = [0xa5u8; 512];
    if let Ok((eth, arp)) = ArpRepr::parse_frame(data) {
        let frame = arp.emit_frame(&eth, &mut buf).expect("a GARP fits 512 bytes");
        assert_eq!(ArpRepr::parse_frame(frame), Ok((eth, arp)));
    }
    if let Ok(na) = NdiscFrame::parse(data) {
        let frame = na.emit(&mut buf).expect("an NA fits 512 bytes");
        assert_eq!(frame.len(), na.buffer_len());
        assert_eq!(NdiscFrame::parse(frame), Ok(na));
    }
});
