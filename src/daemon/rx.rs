//! The receive path: reading the VRRP sockets, the checks that need no
//! instance (TTL, parse; an `auth_hmac` trailer is split off first), VRID
//! demultiplexing, then the instance's gate (allow-list, relaxed TTL,
//! `auth_hmac`: [`crate::core::peers::Gate`]) and its own checks in the core
//! ([`VirtualRouter::handle_advert`]). Drops before demultiplexing are
//! counted in `Daemon::drops`; a misbehaving peer is logged at a bounded rate.
//!
//! [`VirtualRouter::handle_advert`]: crate::core::router::VirtualRouter::handle_advert

use std::net::IpAddr;

use tracing::warn;

use crate::core::wire::auth::{parse_payload_view, Received, ReceivedView};
use crate::core::wire::VRRP_TTL;
use crate::io::vrrp_socket::{RxPacket, RxPacketRef, RX_BATCH};
use crate::io::IoError;

use super::ratelimit::Verdict;
use super::{Daemon, SocketKey};

/// How many packets one socket may hand over per timer wake-up.
const RX_QUEUED: usize = 256;

impl Daemon {
    /// Hand every packet already queued in the sockets to [`Self::on_packet`]
    /// (at most [`RX_QUEUED`] per socket), without waiting.
    pub(super) fn read_queued(&mut self) {
        for i in 0..self.sockets.len() {
            for _ in 0..RX_QUEUED / RX_BATCH {
                if self.read_socket(i, |_| {}) < RX_BATCH {
                    break;
                }
            }
        }
    }

    /// Read what socket `i` has queued, one `recvmmsg` (at most
    /// [`RX_BATCH`] packets), and hand each to [`Self::on_packet`], then to
    /// `after_each` (the event loop carries out its actions there). Returns
    /// how many it read.
    pub(super) fn read_socket(
        &mut self,
        i: usize,
        mut after_each: impl FnMut(&mut Daemon),
    ) -> usize {
        let Some((key, socket)) = self.sockets.get(i).map(|(k, s)| (*k, s.clone())) else {
            return 0;
        };
        // Taken while its packets are handled (they borrow it), then put back.
        let Some(mut batch) = self.rx_batch.take() else {
            return 0;
        };
        let n = match socket.recv_batch(&mut batch) {
            Ok(n) => n,
            Err(IoError::WouldBlock) => 0,
            Err(e) => {
                self.on_packet(key, Err(e));
                0
            }
        };
        for j in 0..n {
            self.on_packet(key, batch.get(j));
            after_each(self);
        }
        self.rx_batch = Some(batch);
        n
    }

    /// The receive path: TTL, parse (length, version, type, checksum), VRID
    /// demultiplexing, then the instance's own checks. Allocates nothing
    /// for an advert it accepts.
    pub(super) fn on_packet(&mut self, key: SocketKey, result: Result<RxPacketRef<'_>, IoError>) {
        let pkt = match result {
            Ok(p) => p,
            Err(e) if e.is_packet_error() => {
                self.count_drop("malformed_ip", &format!("{e}"), None);
                return;
            }
            Err(e) => {
                self.count_drop(
                    "socket_error",
                    &format!("VRRP socket receive failed: {e}"),
                    None,
                );
                return;
            }
        };
        let min_ttl = self.min_ttl(key, pkt.ttl, pkt.payload);
        let rx = match accept_view(pkt.ttl, pkt.payload, pkt.src, pkt.dst, min_ttl) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(reason, "dropped packet", Some(pkt.src));
                return;
            }
        };
        let now = self.clock.now();
        let index_key = (key.ifindex, key.family, rx.advert.fields().vrid);
        let Some(&n) = self.index.get(&index_key) else {
            self.count_drop(
                "vrid_unknown",
                "advert for a VRID we do not run",
                Some(pkt.src),
            );
            return;
        };
        let inst = &mut self.instances[n];
        if inst
            .admit(pkt.src, pkt.ttl, rx.message, rx.trailer)
            .is_err()
        {
            return;
        }
        self.dirty.push(n);
        match inst.router.handle_advert_view(now, pkt.src, &rx.advert) {
            Ok(()) => inst.checksum_seen(rx.mode),
            Err(reason) => inst.log_refused(pkt.src, reason),
        }
    }

    /// The lowest TTL / hop limit a packet may arrive with: 255, unless the
    /// instance its VRID byte names (unparsed yet) hears unicast peers
    /// across routers (`unicast_min_ttl`); that instance's gate then checks
    /// the source and the TTL. One map lookup, and only for a TTL below 255.
    fn min_ttl(&self, key: SocketKey, ttl: u8, payload: &[u8]) -> u8 {
        if ttl == VRRP_TTL {
            return VRRP_TTL;
        }
        // RFC 3768 / RFC 5798 Section 5.2.3: the VRID is the second byte in both versions.
        payload
            .get(1)
            .and_then(|vrid| self.index.get(&(key.ifindex, key.family, *vrid)))
            .map_or(VRRP_TTL, |&n| self.instances[n].min_ttl())
    }

    fn count_drop(&mut self, reason: &str, msg: &str, src: Option<IpAddr>) {
        match self.drops.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                self.drops.insert(reason.to_owned(), 1);
            }
        }
        match self.logs.check(reason, std::time::Instant::now()) {
            Verdict::Suppress => {}
            v => warn!(
                reason,
                src = src.map(|s| s.to_string()).unwrap_or_default(),
                suppressed = suppressed(&v),
                "{msg}"
            ),
        }
    }
}

/// Accept a packet, or name the counter it is dropped under.
///
/// RFC 5798 Section 7.1 (RFC 3768 Section 7.1): the receiver "MUST verify
/// that the IPv4 TTL/IPv6 Hop Limit is 255" (`min_ttl` is lower only for an
/// instance that hears unicast peers across routers: see `Daemon::min_ttl`),
/// that the packet holds the whole VRRP message, the version, and the
/// checksum. A payload exactly one `auth_hmac` trailer longer than its VRRP
/// message is split into the two first (the checksum is checked where the
/// sender puts it: [`parse_payload_view`]); the trailer is the instance's gate's
/// to check. The VRID check follows in the caller, which knows which
/// instances run on the interface.
///
/// Public so that the conformance runner (`tests/conformance.rs`) drives
/// the receive checks through the daemon's own code: this is
/// [`accept_view`], which the daemon calls, with the advert owned.
pub fn accept(pkt: &RxPacket, min_ttl: u8) -> Result<Received<'_>, &'static str> {
    accept_view(pkt.ttl, &pkt.payload, pkt.src, pkt.dst, min_ttl).map(|r| Received {
        advert: r.advert.to_advertisement(),
        mode: r.mode,
        message: r.message,
        trailer: r.trailer,
    })
}

/// [`accept`] for a packet still in the receive buffer: the same checks,
/// the advert parsed in place (no allocation).
pub fn accept_view(
    ttl: u8,
    payload: &[u8],
    src: IpAddr,
    dst: IpAddr,
    min_ttl: u8,
) -> Result<ReceivedView<'_>, &'static str> {
    if ttl != VRRP_TTL && ttl < min_ttl {
        return Err("ttl");
    }
    parse_payload_view(payload, src, dst).map_err(|e| e.drop_reason_name())
}

fn suppressed(v: &Verdict) -> u64 {
    match v {
        Verdict::LogAfterSuppressing(n) => *n,
        _ => 0,
    }
}
