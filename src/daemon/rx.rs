//! The receive path: reading the VRRP sockets, the checks that need no
//! instance (TTL, parse), VRID demultiplexing, then the instance's own checks
//! in the core ([`VirtualRouter::handle_advert`]). Drops before
//! demultiplexing are counted in `Daemon::drops`; a misbehaving peer is
//! logged at a bounded rate.
//!
//! [`VirtualRouter::handle_advert`]: crate::core::router::VirtualRouter::handle_advert

use std::net::IpAddr;
use std::sync::Arc;

use tracing::warn;

use crate::core::wire::vrrp::{Advertisement, ChecksumMode};
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
        let adv = match accept(&pkt) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(reason, "dropped packet", Some(pkt.src));
                return;
            }
        };
        let now = self.clock.now();
        let key = (key.ifindex, key.family, adv.0.vrid);
        let Some(&n) = self.index.get(&key) else {
            self.count_drop(
                "vrid_unknown",
                "advert for a VRID we do not run",
                Some(pkt.src),
            );
            return;
        };
        self.dirty.push(n);
        let inst = &mut self.instances[n];
        match inst.router.handle_advert(now, pkt.src, &adv.0) {
            Ok(()) => inst.checksum_seen(adv.1),
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
