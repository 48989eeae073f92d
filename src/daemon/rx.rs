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

use crate::config::Family;
use crate::core::time::Instant;
use crate::core::wire::auth::{parse_payload_view, Received, ReceivedView};
use crate::core::wire::VRRP_TTL;
use crate::io::vrrp_socket::{RxPacket, RxPacketRef, RX_BATCH};
use crate::io::IoError;

use super::ratelimit::Verdict;
use super::{Daemon, SocketKey};

/// How many packets one socket may hand over per wake-up.
pub(super) const RX_QUEUED: usize = 256;

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
        let Some(socket) = self.sockets.get(i).map(|(_, s)| s.clone()) else {
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
                // The time is not used for an error.
                self.on_packet(i, Instant::default(), Err(e));
                0
            }
        };
        // One clock read for the batch: every packet in it was queued
        // before `recvmmsg` returned, so this is no earlier than any of
        // their arrivals, and handling one takes about a microsecond. Read
        // again after a packet that left actions (a state change: its
        // drain may wait for netlink), so that the later ones are not
        // stamped from before that wait.
        let mut now = self.clock.now();
        // First ask for the state of every instance the batch reaches, so
        // that its cache misses overlap instead of stalling one packet
        // after another (1000 instances' state is over 1.5 MB; each is
        // reached once per interval, long since evicted). Only the VRID
        // byte is read here: the packet is decoded once, below.
        for j in 0..n {
            if let Some(k) = batch.vrid(j).and_then(|v| self.index.get(i, v)) {
                self.instances[k].prefetch();
            }
        }
        for j in 0..n {
            let acted = self.on_packet(i, now, batch.get(j));
            after_each(self);
            if acted {
                now = self.clock.now();
            }
        }
        self.rx_batch = Some(batch);
        n
    }

    /// The receive path for a packet of socket `socket` (its index in
    /// `Daemon::sockets`): TTL, parse (length, version, type, checksum), VRID
    /// demultiplexing, then the instance's own checks. Allocates nothing
    /// for an advert it accepts. `now`: when the packet was read. Returns
    /// whether the instance it reached has actions to carry out.
    pub(super) fn on_packet(
        &mut self,
        socket: usize,
        now: Instant,
        result: Result<RxPacketRef<'_>, IoError>,
    ) -> bool {
        let pkt = match result {
            Ok(p) => p,
            Err(e) if e.is_packet_error() => {
                self.count_drop("malformed_ip", &format!("{e}"), None);
                return false;
            }
            Err(e) => {
                self.count_drop(
                    "socket_error",
                    &format!("VRRP socket receive failed: {e}"),
                    None,
                );
                return false;
            }
        };
        let min_ttl = self.min_ttl(socket, pkt.ttl, pkt.payload);
        let rx = match accept_view(pkt.ttl, pkt.payload, pkt.src, pkt.dst, min_ttl) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(reason, "dropped packet", Some(pkt.src));
                return false;
            }
        };
        let Some(n) = self.index.get(socket, rx.advert.fields().vrid) else {
            self.count_drop(
                "vrid_unknown",
                "advert for a VRID we do not run",
                Some(pkt.src),
            );
            return false;
        };
        let inst = &mut self.instances[n];
        if inst
            .admit(pkt.src, pkt.ttl, rx.message, rx.trailer)
            .is_err()
        {
            return false;
        }
        self.dirty.push(n);
        match inst.router.handle_advert_view(now, pkt.src, &rx.advert) {
            Ok(()) => inst.checksum_seen(rx.mode),
            Err(reason) => inst.log_refused(pkt.src, reason),
        }
        inst.router.next_action().is_some()
    }

    /// The lowest TTL / hop limit a packet may arrive with: 255, unless the
    /// instance its VRID byte names (unparsed yet) hears unicast peers
    /// across routers (`unicast_min_ttl`); that instance's gate then checks
    /// the source and the TTL. One table read, and only for a TTL below 255.
    fn min_ttl(&self, socket: usize, ttl: u8, payload: &[u8]) -> u8 {
        if ttl == VRRP_TTL {
            return VRRP_TTL;
        }
        // RFC 3768 / RFC 5798 Section 5.2.3: the VRID is the second byte in both versions.
        payload
            .get(1)
            .and_then(|&vrid| self.index.get(socket, vrid))
            .map_or(VRRP_TTL, |n| self.instances[n].min_ttl())
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

/// The receive path's demultiplexer: for each socket (by its index in
/// `Daemon::sockets`), the instance that runs each VRID on its interface and
/// family. A packet costs one bounds check and one array read (the
/// `HashMap<(ifindex, family, VRID), usize>` it replaces hashed three fields
/// with SipHash for every packet, twice for a TTL below 255). Rebuilt when
/// the instance list changes ([`VridIndex::build`]); a socket opened after
/// that runs no instance yet, and is out of range.
#[derive(Debug, Default)]
pub(super) struct VridIndex {
    /// Per socket: instance index by VRID, [`VridIndex::NONE`] for none.
    tables: Vec<[u32; 256]>,
}

impl VridIndex {
    /// No instance runs this VRID here.
    const NONE: u32 = u32::MAX;

    /// The table for the sockets `sockets` (in `Daemon::sockets`' order) and
    /// the instances `instances`, each as (ifindex, family, VRID), in
    /// instance order. An instance whose socket is not in `sockets` is left
    /// out (as is any beyond `u32::MAX - 1`).
    pub(super) fn build(
        sockets: &[SocketKey],
        instances: impl Iterator<Item = (u32, Family, u8)>,
    ) -> VridIndex {
        let mut tables = vec![[Self::NONE; 256]; sockets.len()];
        for (n, (ifindex, family, vrid)) in instances.enumerate() {
            let key = SocketKey { ifindex, family };
            let (Some(s), Ok(n)) = (sockets.iter().position(|k| *k == key), u32::try_from(n))
            else {
                continue;
            };
            if n != Self::NONE {
                tables[s][usize::from(vrid)] = n;
            }
        }
        VridIndex { tables }
    }

    /// The instance that runs `vrid` on socket `socket`'s interface and family.
    pub(super) fn get(&self, socket: usize, vrid: u8) -> Option<usize> {
        let n = self.tables.get(socket)?[usize::from(vrid)];
        (n != Self::NONE).then_some(n as usize)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vrid_index_finds_each_instance_by_socket_and_vrid_only() {
        let v4 = |ifindex| SocketKey {
            ifindex,
            family: Family::Ipv4,
        };
        let v6 = |ifindex| SocketKey {
            ifindex,
            family: Family::Ipv6,
        };
        let sockets = [v4(3), v6(3), v4(7)];
        let instances = [
            (3, Family::Ipv4, 1),
            (3, Family::Ipv6, 1),
            (7, Family::Ipv4, 255),
            (3, Family::Ipv4, 0),
            // No socket for it: left out.
            (9, Family::Ipv4, 1),
        ];
        let index = VridIndex::build(&sockets, instances.into_iter());
        assert_eq!(index.get(0, 1), Some(0));
        assert_eq!(index.get(1, 1), Some(1), "same VRID, other family");
        assert_eq!(index.get(2, 255), Some(2));
        assert_eq!(index.get(0, 0), Some(3));
        assert_eq!(index.get(2, 1), None, "same VRID, other interface");
        assert_eq!(index.get(0, 2), None);
        assert_eq!(index.get(1, 255), None);
        // A socket opened after the index was built runs no instance yet.
        assert_eq!(index.get(3, 1), None);
        assert_eq!(VridIndex::default().get(0, 1), None);
    }
}
