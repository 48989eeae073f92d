//! `auth_hmac` in the daemon: the wall clock the core's checks are given,
//! the sequence number an instance signs with (one counter shared by the
//! event loop and the advert keeper thread, so that no two adverts of a
//! source ever carry the same sequence), signing on send, re-signing the
//! keeper's copies without allocating, and the receive gate built from the
//! configuration ([`gate_for`]).
//!
//! The checks themselves are pure and live in the core:
//! [`crate::core::peers::Gate`] (allow-list, TTL, then
//! [`crate::core::auth::Authenticator`]) and [`crate::core::wire::auth`]
//! (the trailer and its HMAC).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{self, AuthHmacError};
use crate::core::auth::{self, AntiReplay, Settings, WallTime};
use crate::core::peers::{Gate, SourceRules};
use crate::core::wire::auth::{write_trailer, HmacKey, Presigned, Seq, Trailer};

/// The wall clock now, as the core's authentication takes it.
pub(super) fn wall_now() -> WallTime {
    WallTime::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

/// The receive rules of an instance: `allowed_sources` (the unicast peers by
/// default) and `unicast_min_ttl`.
pub(super) fn rules_for(cfg: &config::Instance) -> SourceRules {
    SourceRules::new(cfg.allowed_sources.clone(), cfg.unicast_min_ttl)
}

/// The core's `auth_hmac` settings of an instance, if it has the table.
pub(super) fn settings_for(cfg: &config::Instance) -> Result<Option<Settings>, AuthHmacError> {
    cfg.auth_hmac.as_ref().map(|a| a.settings()).transpose()
}

/// The receive gate of an instance.
pub(super) fn gate_for(cfg: &config::Instance) -> Result<Gate, AuthHmacError> {
    Ok(Gate::new(rules_for(cfg), settings_for(cfg)?))
}

/// The last sequence an instance sent, shared by the event loop and the
/// advert keeper. Kept across reloads, so that a reload never reuses one.
#[derive(Debug, Default)]
pub(super) struct SharedSeq(AtomicU64);

impl SharedSeq {
    /// The next sequence at `now` ([`auth::next_seq`]), taken atomically: a
    /// compare-and-swap loop, no lock, no allocation.
    pub fn next(&self, now: WallTime, anti_replay: AntiReplay) -> Seq {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            // 0 is "none yet" (a sequence of 1970-01-01 00:00:00 is never sent).
            let last = (cur != 0).then_some(Seq(cur));
            let next = auth::next_seq(last, now, anti_replay);
            match self
                .0
                .compare_exchange_weak(cur, next.0, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The last sequence sent, if any.
    pub fn last(&self) -> Option<Seq> {
        let v = self.0.load(Ordering::Relaxed);
        (v != 0).then_some(Seq(v))
    }
}

/// What an instance signs its adverts with: the active key, the
/// anti-replay mode, and the instance's sequence counter.
#[derive(Debug, Clone)]
pub(super) struct Signer {
    key: HmacKey,
    anti_replay: AntiReplay,
    seq: Arc<SharedSeq>,
}

impl Signer {
    /// The signer of `settings` (none in receive-only mode), counting on `seq`.
    pub fn new(settings: Option<&Settings>, seq: &Arc<SharedSeq>) -> Option<Signer> {
        let s = settings.filter(|s| s.mode.signs())?;
        Some(Signer {
            key: s.keys.get(s.active_key)?.clone(),
            anti_replay: s.anti_replay,
            seq: seq.clone(),
        })
    }

    /// Signs `message` (an emitted VRRP message) from `src` at the next
    /// sequence. The [`Presigned`] state is what the keeper re-signs from.
    pub fn sign(&self, src: &IpAddr, message: &[u8]) -> (Presigned, Trailer) {
        let pre = self.key.presign(src, message);
        let t = pre.sign(self.seq.next(wall_now(), self.anti_replay));
        (pre, t)
    }

    /// What the advert keeper needs to sign its copies of an advert from
    /// `src` that was presigned as `pre`.
    pub fn for_keeper(&self, src: IpAddr, pre: Presigned) -> KeeperSign {
        KeeperSign {
            pre,
            src,
            anti_replay: self.anti_replay,
            seq: self.seq.clone(),
        }
    }
}

/// The advert keeper's signing state for one master's advert: the HMAC
/// state past the message (computed once, on the event loop), and the
/// instance's sequence counter. [`KeeperSign::resign`] is all the keeper
/// does per copy: one atomic, one HMAC finish, 28 bytes written (and the
/// IPv6 checksum); no allocation, no lock.
pub struct KeeperSign {
    pre: Presigned,
    src: IpAddr,
    anti_replay: AntiReplay,
    seq: Arc<SharedSeq>,
}

impl KeeperSign {
    /// Gives every packet of one advert (the group, or each unicast peer) a
    /// trailer at a fresh sequence. A receiver drops a repeated sequence as
    /// a replay, so the keeper's copies must not carry the event loop's.
    pub fn resign(&self, packets: &mut [(Vec<u8>, IpAddr)]) {
        let t = self.pre.sign(self.seq.next(wall_now(), self.anti_replay));
        for (bytes, dst) in packets.iter_mut() {
            // Cannot fail: the packets were signed with a trailer of this
            // family when the event loop sent them.
            let _ = write_trailer(bytes, self.src, *dst, &t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::auth::{Authenticator, KeyRing, Mode, Verified};
    use crate::core::types::{Centisecs, Priority, Version};
    use crate::core::wire::auth::{append_trailer, parse_payload};
    use crate::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

    fn settings(mode: Mode) -> Settings {
        Settings::new(
            KeyRing::new([HmacKey::new(3, &[7; 40]).unwrap()]),
            3,
            mode,
            AntiReplay::Time { window_secs: 5 },
        )
        .unwrap()
    }

    #[test]
    fn shared_seq_never_repeats_across_threads() {
        let seq = Arc::new(SharedSeq::default());
        assert_eq!(seq.last(), None);
        let now = WallTime {
            secs: 1_800_000_000,
            nanos: 0,
        };
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = seq.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .map(|_| s.next(now, AntiReplay::Monotonic).0)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000, "a sequence was handed out twice");
        assert_eq!(seq.last(), Some(Seq(*all.last().unwrap())));
    }

    #[test]
    fn receive_only_does_not_sign() {
        let seq = Arc::new(SharedSeq::default());
        assert!(Signer::new(Some(&settings(Mode::ReceiveOnly)), &seq).is_none());
        assert!(Signer::new(None, &seq).is_none());
        assert!(Signer::new(Some(&settings(Mode::Permissive)), &seq).is_some());
    }

    #[test]
    fn keeper_copies_verify_and_are_not_replays() {
        // IPv6, where the checksum covers the trailer: each re-signed copy
        // parses, verifies, and is newer than the one before.
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst: IpAddr = "ff02::12".parse().unwrap();
        let adv = Advertisement {
            version: Version::V3,
            vrid: 9,
            priority: Priority(200),
            max_adver_int: Centisecs(100),
            addrs: vec!["2001:db8::9".parse().unwrap()].into(),
            auth: Auth::None,
        };
        let seq = Arc::new(SharedSeq::default());
        let signer = Signer::new(Some(&settings(Mode::Enforce)), &seq).unwrap();
        let mut bytes = adv.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap();
        let (pre, t) = signer.sign(&src, &bytes);
        append_trailer(&mut bytes, src, dst, &t).unwrap();
        let mut rx = Authenticator::new(settings(Mode::Enforce), &[]);
        let check = |rx: &mut Authenticator, b: &[u8]| {
            let r = parse_payload(b, src, dst).unwrap();
            rx.verify(&src, r.message, r.trailer, wall_now())
        };
        assert!(matches!(
            check(&mut rx, &bytes),
            Ok(Verified::Signed { key_id: 3, .. })
        ));
        let keeper = signer.for_keeper(src, pre);
        let mut packets = vec![(bytes.clone(), dst)];
        for _ in 0..3 {
            keeper.resign(&mut packets);
            assert_ne!(packets[0].0, bytes);
            assert!(check(&mut rx, &packets[0].0).is_ok());
        }
        // The event loop's next advert still follows the keeper's.
        let mut next = adv.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap();
        let (_, t) = signer.sign(&src, &next);
        append_trailer(&mut next, src, dst, &t).unwrap();
        assert!(check(&mut rx, &next).is_ok());
        // Without the re-signing, the copy is a replay.
        assert!(check(&mut rx, &packets[0].0).is_err());
    }
}
