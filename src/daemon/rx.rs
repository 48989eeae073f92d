//! The receive path: reading the VRRP sockets, the checks that need no
//! instance (TTL, parse; an `auth_hmac` trailer is split off first), VRID
//! demultiplexing, then the instance's gate (allow-list, relaxed TTL,
//! `auth_hmac`: [`crate::core::peers::Gate`]) and its own checks in the core
//! ([`VirtualRouter::handle_advert`]). Drops before demultiplexing are
//! counted in `Daemon::drops`; a misbehaving peer is logged at a bounded rate.
//!
//! [`VirtualRouter::handle_advert`]: crate::core::router::VirtualRouter::handle_advert

use std::net::IpAddr;
use std::sync::Arc;

use tracing::warn;

use crate::core::wire::auth::{parse_payload, Received};
use crate::core::wire::VRRP_TTL;
use crate::io::vrrp_socket::{RxPacket, VrrpSocket};
use crate::io::IoError;

use super::ratelimit::Verdict;
use super::{Daemon, SocketKey};

/// Scratch space for one received packet: the largest IP datagram.
pub(super) const RX_BUF_LEN: usize = 65536;

/// How many queued packets one socket may hand over per timer wake-up.
const RX_BATCH: usize = 256;

impl Daemon {
    /// Hand every packet already queued in the sockets to [`Self::on_packet`]
    /// (at most [`RX_BATCH`] per socket), without waiting.
    pub(super) fn read_queued(&mut self) {
        let mut buf = std::mem::take(&mut self.rx_buf);
        for i in 0..self.sockets.len() {
            let (key, socket) = self.sockets[i].clone();
            for _ in 0..RX_BATCH {
                match socket.try_recv(&mut buf) {
                    Err(IoError::WouldBlock) => break,
                    result => self.on_packet(key, result),
                }
            }
        }
        self.rx_buf = buf;
    }

    /// The receive path: TTL, parse (length, version, type, checksum), VRID
    /// demultiplexing, then the instance's own checks.
    pub(super) fn on_packet(&mut self, key: SocketKey, result: Result<RxPacket, IoError>) {
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
        let min_ttl = self.min_ttl(key, &pkt);
        let rx = match accept(&pkt, min_ttl) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(reason, "dropped packet", Some(pkt.src));
                return;
            }
        };
        let now = self.clock.now();
        let key = (key.ifindex, key.family, rx.advert.vrid);
        let Some(&n) = self.index.get(&key) else {
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
        match inst.router.handle_advert(now, pkt.src, &rx.advert) {
            Ok(()) => inst.checksum_seen(rx.mode),
            Err(reason) => {
                let key = format!("{}:{}", inst.cfg.name, reason.name());
                match self.logs.check(&key, std::time::Instant::now()) {
                    Verdict::Suppress => {}
                    v => warn!(
                        instance = %inst.cfg.name,
                        src = %pkt.src,
                        reason = reason.name(),
                        suppressed = suppressed(&v),
                        "dropped advertisement"
                    ),
                }
            }
        }
    }

    /// The lowest TTL / hop limit a packet may arrive with: 255, unless the
    /// instance its VRID byte names (unparsed yet) hears unicast peers
    /// across routers (`unicast_min_ttl`); that instance's gate then checks
    /// the source and the TTL. One map lookup, and only for a TTL below 255.
    fn min_ttl(&self, key: SocketKey, pkt: &RxPacket) -> u8 {
        if pkt.ttl == VRRP_TTL {
            return VRRP_TTL;
        }
        // RFC 3768 / RFC 5798 Section 5.2.3: the VRID is the second byte in both versions.
        pkt.payload
            .get(1)
            .and_then(|vrid| self.index.get(&(key.ifindex, key.family, *vrid)))
            .map_or(VRRP_TTL, |&n| self.instances[n].min_ttl())
    }

    fn count_drop(&mut self, reason: &str, msg: &str, src: Option<IpAddr>) {
        *self.drops.entry(reason.to_owned()).or_default() += 1;
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
/// sender puts it: [`parse_payload`]); the trailer is the instance's gate's
/// to check. The VRID check follows in the caller, which knows which
/// instances run on the interface.
///
/// Public so that the conformance runner (`tests/conformance.rs`) drives
/// the receive checks through this very function.
pub fn accept(pkt: &RxPacket, min_ttl: u8) -> Result<Received<'_>, &'static str> {
    if pkt.ttl != VRRP_TTL && pkt.ttl < min_ttl {
        return Err("ttl");
    }
    parse_payload(&pkt.payload, pkt.src, pkt.dst).map_err(|e| e.drop_reason_name())
}

fn suppressed(v: &Verdict) -> u64 {
    match v {
        Verdict::LogAfterSuppressing(n) => *n,
        _ => 0,
    }
}

/// Poll the sockets for one packet, starting after the socket that gave
/// the last one.
pub(super) fn poll_sockets(
    cx: &mut std::task::Context<'_>,
    sockets: &[(SocketKey, Arc<VrrpSocket>)],
    next: &mut usize,
    buf: &mut [u8],
) -> std::task::Poll<(SocketKey, Result<RxPacket, IoError>)> {
    let len = sockets.len();
    for i in 0..len {
        let n = (*next + i) % len;
        let (key, socket) = &sockets[n];
        if let std::task::Poll::Ready(result) = socket.poll_recv(cx, buf) {
            *next = (n + 1) % len;
            return std::task::Poll::Ready((*key, result));
        }
    }
    std::task::Poll::Pending
}
