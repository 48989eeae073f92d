//! The receive path before demultiplexing: the checks that need no instance.

use crate::core::wire::vrrp::{Advertisement, ChecksumMode};
use crate::core::wire::VRRP_TTL;
use crate::io::vrrp_socket::RxPacket;

/// Accept a packet, or name the counter it is dropped under.
///
/// RFC 5798 Section 7.1 (RFC 3768 Section 7.1): the receiver "MUST verify
/// that the IPv4 TTL/IPv6 Hop Limit is 255", that the packet holds the whole
/// VRRP message, the version, and the checksum. The VRID check follows in
/// the caller, which knows which instances run on the interface.
///
/// Public so that the conformance runner (`tests/conformance.rs`) drives
/// the receive checks through this very function.
pub fn accept(pkt: &RxPacket) -> Result<(Advertisement, ChecksumMode), &'static str> {
    if pkt.ttl != VRRP_TTL {
        return Err("ttl");
    }
    Advertisement::parse(&pkt.payload, pkt.src, pkt.dst).map_err(|e| e.drop_reason_name())
}
