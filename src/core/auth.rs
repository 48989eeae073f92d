//! Advert authentication as keepalived 2.4.3's `auth_hmac` does it, as pure
//! code: the rollout modes, the key ring, the sender's sequence numbers and the
//! receiver's anti-replay window. The wall clock is handed in ([`WallTime`]);
//! the trailer itself is in [`crate::core::wire::auth`].
//!
//! A received advert goes through [`Authenticator::verify`] before any of its
//! fields reach the state machine. The checks run cheapest first, so that a
//! flood of forgeries costs as little as possible: is there a trailer (and
//! does the mode require one); is it well formed; (time mode) is its sequence
//! inside the freshness window; is its key id known; is its tag right
//! (HMAC-SHA256, constant-time compare); is its sequence newer than the last
//! one accepted from that source. Replay state only moves on an advert whose
//! tag verified, so forged packets cannot move it.

use std::net::IpAddr;
use std::time::Duration;

use crate::core::wire::auth::{self as wire, HmacKey, Seq, Trailer};

/// Shortest freshness window, seconds.
pub const WINDOW_MIN: u16 = 1;
/// Longest freshness window, seconds.
pub const WINDOW_MAX: u16 = 300;
/// The window derived from the advert interval is never shorter than this.
pub const WINDOW_FLOOR: u16 = 5;
/// Replay slots for sources that are not configured peers (multicast without
/// an allow-list). Only a key holder can take a slot (the tag is checked
/// first); with more senders than slots the least recently heard is dropped.
pub const DYNAMIC_SLOTS: usize = 16;

/// What a router sends and what it accepts (keepalived's `mode`). The modes
/// exist for a rollout without lost adverts: receive-only everywhere, then
/// permissive everywhere, then enforce everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Sends no trailer; checks a trailer when there is one, accepts adverts without.
    ReceiveOnly,
    /// Signs every advert; checks a trailer when there is one, accepts adverts without.
    Permissive,
    /// Signs every advert; drops every advert without a valid trailer. The default.
    Enforce,
}

impl Mode {
    /// The configuration word (`receive-only`, `permissive`, `enforce`).
    pub const fn name(self) -> &'static str {
        match self {
            Mode::ReceiveOnly => "receive-only",
            Mode::Permissive => "permissive",
            Mode::Enforce => "enforce",
        }
    }

    /// The mode named `name`, as [`Mode::name`] spells it.
    pub fn from_name(name: &str) -> Option<Mode> {
        [Mode::ReceiveOnly, Mode::Permissive, Mode::Enforce]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Whether adverts are sent with a trailer.
    pub const fn signs(self) -> bool {
        !matches!(self, Mode::ReceiveOnly)
    }

    /// Whether an advert without a trailer is dropped.
    pub const fn requires_trailer(self) -> bool {
        matches!(self, Mode::Enforce)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the receiver tells a fresh advert from a replayed one (keepalived's
/// `anti_replay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AntiReplay {
    /// The sequence's seconds must be within `window_secs` of the receiver's
    /// clock, and newer than the last accepted from the same source. Needs
    /// clocks in step (NTP). The default.
    Time {
        /// The freshness window, [`WINDOW_MIN`]..=[`WINDOW_MAX`] seconds.
        window_secs: u16,
    },
    /// The sequence must only be newer than the last accepted from the same
    /// source: no shared clock needed, no freshness either (a capture replays
    /// once to a receiver that has not heard the sender since it started).
    Monotonic,
}

impl AntiReplay {
    /// keepalived's default window: three advert intervals in whole seconds,
    /// at least [`WINDOW_FLOOR`] and at most [`WINDOW_MAX`].
    pub fn default_window(advert_interval: Duration) -> u16 {
        let secs = advert_interval.as_secs().saturating_mul(3);
        secs.clamp(u64::from(WINDOW_FLOOR), u64::from(WINDOW_MAX)) as u16
    }

    /// The word of the configuration (`time`, `monotonic`).
    pub const fn name(self) -> &'static str {
        match self {
            AntiReplay::Time { .. } => "time",
            AntiReplay::Monotonic => "monotonic",
        }
    }
}

/// A wall-clock reading, Unix time, as the IO shell took it
/// (`SystemTime::now()`); the core never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WallTime {
    /// Seconds since 1970-01-01 UTC.
    pub secs: u64,
    /// Nanoseconds into the second, below 1e9.
    pub nanos: u32,
}

impl WallTime {
    /// The reading `since_epoch` after the Unix epoch.
    pub const fn from_unix(since_epoch: Duration) -> WallTime {
        WallTime {
            secs: since_epoch.as_secs(),
            nanos: since_epoch.subsec_nanos(),
        }
    }

    /// This reading as a sequence number (counter zero).
    pub const fn seq(self) -> Seq {
        Seq::from_unix(self.secs, self.nanos)
    }

    /// The seconds field a sequence taken now would carry.
    pub const fn wire_secs(self) -> u32 {
        self.secs as u32
    }
}

/// The keys of one virtual router, by id.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<HmacKey>,
}

impl KeyRing {
    /// A ring of `keys`; a later key replaces an earlier one of the same id.
    pub fn new(keys: impl IntoIterator<Item = HmacKey>) -> KeyRing {
        let mut ring = KeyRing::default();
        for k in keys {
            ring.keys.retain(|old| old.id() != k.id());
            ring.keys.push(k);
        }
        ring.keys.sort_by_key(HmacKey::id);
        ring
    }

    /// The key of id `id`.
    pub fn get(&self, id: u8) -> Option<&HmacKey> {
        self.keys
            .binary_search_by_key(&id, HmacKey::id)
            .ok()
            .map(|i| &self.keys[i])
    }

    /// The key ids, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.iter().map(HmacKey::id)
    }
}

/// The `auth_hmac` settings of one virtual router.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Every key a received trailer may name.
    pub keys: KeyRing,
    /// The id signed with; must be in `keys` (see [`Settings::new`]).
    pub active_key: u8,
    /// What is sent and accepted.
    pub mode: Mode,
    /// How freshness is judged.
    pub anti_replay: AntiReplay,
}

/// Why settings cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `active_key` names no key of the ring.
    #[error("active key {0} is not one of the keys")]
    NoActiveKey(u8),
    /// The window is outside [`WINDOW_MIN`]..=[`WINDOW_MAX`].
    #[error("time window {0} s is outside {WINDOW_MIN}..={WINDOW_MAX} s")]
    Window(u16),
}

impl Settings {
    /// Checked settings.
    pub fn new(
        keys: KeyRing,
        active_key: u8,
        mode: Mode,
        anti_replay: AntiReplay,
    ) -> Result<Settings, SettingsError> {
        if keys.get(active_key).is_none() {
            return Err(SettingsError::NoActiveKey(active_key));
        }
        if let AntiReplay::Time { window_secs } = anti_replay {
            if !(WINDOW_MIN..=WINDOW_MAX).contains(&window_secs) {
                return Err(SettingsError::Window(window_secs));
            }
        }
        Ok(Settings {
            keys,
            active_key,
            mode,
            anti_replay,
        })
    }

    /// The length of the trailer this router adds to its adverts (0 in receive-only).
    pub const fn trailer_len(&self) -> usize {
        if self.mode.signs() {
            wire::TRAILER_LEN
        } else {
            0
        }
    }
}

/// The sequence a sender uses next, after `last`, at wall time `now`: the
/// clock's reading if it is later than `last`, else `last + 1` (two adverts in
/// one 1/65536 s tick, or a clock that stepped back). In time mode a `last`
/// more than the window ahead of the clock (a clock stepped back for good)
/// is abandoned for the clock, since receivers would refuse it anyway.
pub fn next_seq(last: Option<Seq>, now: WallTime, anti_replay: AntiReplay) -> Seq {
    let clock = now.seq();
    let Some(last) = last else {
        return clock;
    };
    if clock.is_after(last) {
        return clock;
    }
    if let AntiReplay::Time { window_secs } = anti_replay {
        let ahead = last.secs_until(clock.secs()).saturating_neg();
        if ahead > i32::from(window_secs) {
            return clock;
        }
    }
    last.succ()
}

/// Why a received advert was dropped by authentication. Each is counted under
/// [`AuthDrop::drop_reason_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDrop {
    /// No trailer, in enforce mode.
    Missing,
    /// A trailer of unknown type or with a non-zero reserved field.
    Malformed,
    /// A trailer naming a key id that is not configured.
    UnknownKey(u8),
    /// The tag is wrong: another key under the same id, or a forged or altered advert.
    BadTag(u8),
    /// Time mode: the sequence's seconds are more than the window away from the
    /// receiver's clock (`skew_secs` = receiver minus sender).
    Stale {
        /// Receiver's seconds minus the trailer's, serial arithmetic.
        skew_secs: i32,
    },
    /// The sequence is not newer than the last one accepted from this source.
    Replayed {
        /// The sequence received.
        seq: Seq,
        /// The last sequence accepted from the source.
        last: Seq,
    },
}

impl AuthDrop {
    /// The drop counter's name (`auth_missing`, `auth_malformed`,
    /// `auth_unknown_key`, `auth_bad_tag`, `auth_stale`, `auth_replayed`).
    pub const fn drop_reason_name(&self) -> &'static str {
        match self {
            AuthDrop::Missing => "auth_missing",
            AuthDrop::Malformed => "auth_malformed",
            AuthDrop::UnknownKey(_) => "auth_unknown_key",
            AuthDrop::BadTag(_) => "auth_bad_tag",
            AuthDrop::Stale { .. } => "auth_stale",
            AuthDrop::Replayed { .. } => "auth_replayed",
        }
    }

    /// Every drop counter name, for status and metrics.
    pub const NAMES: [&'static str; 6] = [
        "auth_missing",
        "auth_malformed",
        "auth_unknown_key",
        "auth_bad_tag",
        "auth_stale",
        "auth_replayed",
    ];
}

impl std::fmt::Display for AuthDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthDrop::Missing => f.write_str("no authentication trailer (mode enforce)"),
            AuthDrop::Malformed => f.write_str("malformed authentication trailer"),
            AuthDrop::UnknownKey(id) => write!(f, "unknown authentication key id {id}"),
            AuthDrop::BadTag(id) => write!(f, "wrong HMAC tag under key id {id}"),
            AuthDrop::Stale { skew_secs } => {
                write!(
                    f,
                    "sequence outside the time window (clock skew {skew_secs} s)"
                )
            }
            AuthDrop::Replayed { seq, last } => {
                write!(f, "replayed sequence {seq} (last accepted {last})")
            }
        }
    }
}

/// A received advert that authentication lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// It had a valid, fresh trailer.
    Signed {
        /// The key id it was signed with.
        key_id: u8,
        /// Its sequence.
        seq: Seq,
        /// Time mode: receiver's seconds minus the sender's (0 in monotonic mode).
        skew_secs: i32,
        /// Time mode: the skew is past half the window, the early sign of a
        /// clock drifting towards rejection (keepalived warns then too).
        skew_warning: bool,
    },
    /// It had no trailer, and the mode (receive-only, permissive) accepts that.
    Unsigned,
}

/// Replay state of one source.
#[derive(Debug, Clone)]
struct Slot {
    addr: IpAddr,
    /// The last sequence accepted from `addr`.
    last: Option<Seq>,
    /// A configured peer: never evicted.
    pinned: bool,
    /// Recency rank, for evicting the least recently heard dynamic slot.
    used: u64,
}

/// The authentication state of one virtual router: settings, the sender's
/// last sequence, and the last sequence accepted from each source.
#[derive(Debug, Clone)]
pub struct Authenticator {
    settings: Settings,
    last_sent: Option<Seq>,
    slots: Vec<Slot>,
    clock: u64,
}

impl Authenticator {
    /// An authenticator with `settings`. `peers` (the unicast peers or the
    /// allow-list) get a replay slot each that is never given up; other
    /// sources share [`DYNAMIC_SLOTS`] slots.
    pub fn new(settings: Settings, peers: &[IpAddr]) -> Authenticator {
        let mut auth = Authenticator {
            settings,
            last_sent: None,
            slots: Vec::new(),
            clock: 0,
        };
        auth.set_peers(peers);
        auth
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// New settings (a reload: keys rotated, mode changed), keeping the
    /// sequence state on both sides so that nothing replays across a reload.
    pub fn reconfigure(&mut self, settings: Settings, peers: &[IpAddr]) {
        self.settings = settings;
        self.set_peers(peers);
    }

    fn set_peers(&mut self, peers: &[IpAddr]) {
        for s in &mut self.slots {
            s.pinned = peers.contains(&s.addr);
        }
        for p in peers {
            if !self.slots.iter().any(|s| s.addr == *p) {
                self.slots.push(Slot {
                    addr: *p,
                    last: None,
                    pinned: true,
                    used: 0,
                });
            }
        }
        self.evict_dynamic(DYNAMIC_SLOTS);
    }

    /// Drops the least recently heard dynamic slots until at most `keep` are left.
    fn evict_dynamic(&mut self, keep: usize) {
        while self.slots.iter().filter(|s| !s.pinned).count() > keep {
            let lru = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.pinned)
                .min_by_key(|(_, s)| s.used)
                .map(|(i, _)| i);
            match lru {
                Some(i) => {
                    self.slots.swap_remove(i);
                }
                None => break,
            }
        }
    }

    /// The next sequence to send, at `now` (see [`next_seq`]).
    pub fn next_seq(&mut self, now: WallTime) -> Seq {
        let seq = next_seq(self.last_sent, now, self.settings.anti_replay);
        self.last_sent = Some(seq);
        seq
    }

    /// The last sequence sent, if any.
    pub fn last_sent(&self) -> Option<Seq> {
        self.last_sent
    }

    /// The trailer for `message` (an emitted VRRP message) from `src`, signed
    /// with the active key at the next sequence; `None` in receive-only mode.
    /// Every copy of one advert (unicast peers) carries the same trailer: the
    /// destination is not bound into the tag.
    pub fn sign(&mut self, src: &IpAddr, message: &[u8], now: WallTime) -> Option<Trailer> {
        if !self.settings.mode.signs() {
            return None;
        }
        let key = self.settings.keys.get(self.settings.active_key)?.clone();
        let seq = self.next_seq(now);
        Some(wire::sign(&key, src, message, seq))
    }

    /// Checks the trailer (`None`: the payload had none) of `message`, a VRRP
    /// message from `src`, at wall time `now`. On success the source's replay
    /// mark moves to the trailer's sequence.
    pub fn verify(
        &mut self,
        src: &IpAddr,
        message: &[u8],
        trailer: Option<&[u8]>,
        now: WallTime,
    ) -> Result<Verified, AuthDrop> {
        let Some(bytes) = trailer else {
            return if self.settings.mode.requires_trailer() {
                Err(AuthDrop::Missing)
            } else {
                Ok(Verified::Unsigned)
            };
        };
        let trailer = wire::Packet::new_checked(bytes)
            .and_then(|p| Trailer::parse(&p))
            .map_err(|_| AuthDrop::Malformed)?;
        // Freshness before the HMAC, so a flood of old captures costs no
        // digest. The sequence is not authenticated yet: this only refuses.
        let skew_secs = trailer.seq.secs_until(now.wire_secs());
        let window = match self.settings.anti_replay {
            AntiReplay::Time { window_secs } => Some(i32::from(window_secs)),
            AntiReplay::Monotonic => None,
        };
        if let Some(w) = window {
            if skew_secs.unsigned_abs() > w.unsigned_abs() {
                return Err(AuthDrop::Stale { skew_secs });
            }
        }
        let key = self
            .settings
            .keys
            .get(trailer.key_id)
            .ok_or(AuthDrop::UnknownKey(trailer.key_id))?;
        if !wire::verify_tag(key, src, message, &trailer) {
            return Err(AuthDrop::BadTag(trailer.key_id));
        }
        self.check_replay(src, trailer.seq, now, window)?;
        Ok(Verified::Signed {
            key_id: trailer.key_id,
            seq: trailer.seq,
            skew_secs: if window.is_some() { skew_secs } else { 0 },
            skew_warning: window.is_some_and(|w| skew_secs.unsigned_abs() > (w / 2).unsigned_abs()),
        })
    }

    /// The replay check, after the tag verified: the sequence must be newer
    /// than the source's mark, which then moves to it. In time mode a mark
    /// outside the window is forgotten first (it only orders packets the
    /// window refuses anyway, and forgetting it lets a sender whose clock
    /// was stepped back be heard again).
    fn check_replay(
        &mut self,
        src: &IpAddr,
        seq: Seq,
        now: WallTime,
        window: Option<i32>,
    ) -> Result<(), AuthDrop> {
        self.clock += 1;
        let rank = self.clock;
        let i = match self.slots.iter().position(|s| s.addr == *src) {
            Some(i) => i,
            None => {
                self.evict_dynamic(DYNAMIC_SLOTS - 1);
                self.slots.push(Slot {
                    addr: *src,
                    last: None,
                    pinned: false,
                    used: rank,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        slot.used = rank;
        if let (Some(last), Some(w)) = (slot.last, window) {
            if last.secs_until(now.wire_secs()).unsigned_abs() > w.unsigned_abs() {
                slot.last = None;
            }
        }
        if let Some(last) = slot.last {
            if !seq.is_after(last) {
                return Err(AuthDrop::Replayed { seq, last });
            }
        }
        slot.last = Some(seq);
        Ok(())
    }

    /// The last sequence accepted from `src`, if any.
    pub fn last_accepted(&self, src: &IpAddr) -> Option<Seq> {
        self.slots.iter().find(|s| s.addr == *src)?.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{Centisecs, Priority, Version};
    use crate::core::wire::auth::{append_trailer, parse_payload, TRAILER_LEN};
    use crate::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn key(id: u8, fill: u8) -> HmacKey {
        HmacKey::new(id, &[fill; 32]).unwrap()
    }

    fn settings(mode: Mode, anti_replay: AntiReplay) -> Settings {
        Settings::new(
            KeyRing::new([key(1, 0x11), key(2, 0x22)]),
            1,
            mode,
            anti_replay,
        )
        .unwrap()
    }

    const TIME5: AntiReplay = AntiReplay::Time { window_secs: 5 };

    fn at(secs: u64) -> WallTime {
        WallTime { secs, nanos: 0 }
    }

    fn at_ms(ms: u64) -> WallTime {
        WallTime {
            secs: ms / 1000,
            nanos: (ms % 1000) as u32 * 1_000_000,
        }
    }

    fn message(prio: u8) -> Vec<u8> {
        Advertisement {
            version: Version::V3,
            vrid: 7,
            priority: Priority(prio),
            max_adver_int: Centisecs(100),
            addrs: vec![v4("192.0.2.7")].into(),
            auth: Auth::None,
        }
        .to_bytes(
            v4("192.0.2.1"),
            v4("224.0.0.18"),
            ChecksumMode::PseudoHeader,
        )
        .unwrap()
    }

    /// `sender` signs an advert at `now`; the bytes of its trailer.
    fn signed(sender: &mut Authenticator, src: &IpAddr, msg: &[u8], now: WallTime) -> Vec<u8> {
        sender.sign(src, msg, now).unwrap().to_bytes().to_vec()
    }

    #[test]
    fn mode_names() {
        for m in [Mode::ReceiveOnly, Mode::Permissive, Mode::Enforce] {
            assert_eq!(Mode::from_name(m.name()), Some(m));
        }
        assert_eq!(Mode::from_name("strict"), None);
        assert!(!Mode::ReceiveOnly.signs() && Mode::Permissive.signs());
        assert!(Mode::Enforce.requires_trailer() && !Mode::Permissive.requires_trailer());
    }

    #[test]
    fn default_window() {
        assert_eq!(AntiReplay::default_window(Duration::from_millis(10)), 5);
        assert_eq!(AntiReplay::default_window(Duration::from_secs(1)), 5);
        assert_eq!(AntiReplay::default_window(Duration::from_secs(2)), 6);
        assert_eq!(AntiReplay::default_window(Duration::from_secs(255)), 300);
    }

    #[test]
    fn settings_checks() {
        let ring = KeyRing::new([key(1, 1)]);
        assert_eq!(
            Settings::new(ring.clone(), 2, Mode::Enforce, TIME5).err(),
            Some(SettingsError::NoActiveKey(2))
        );
        assert_eq!(
            Settings::new(
                ring.clone(),
                1,
                Mode::Enforce,
                AntiReplay::Time { window_secs: 0 }
            )
            .err(),
            Some(SettingsError::Window(0))
        );
        assert_eq!(
            Settings::new(
                ring.clone(),
                1,
                Mode::Enforce,
                AntiReplay::Time { window_secs: 301 }
            )
            .err(),
            Some(SettingsError::Window(301))
        );
        let s = Settings::new(ring, 1, Mode::ReceiveOnly, AntiReplay::Monotonic).unwrap();
        assert_eq!(s.trailer_len(), 0);
        assert_eq!(settings(Mode::Permissive, TIME5).trailer_len(), TRAILER_LEN);
    }

    #[test]
    fn key_ring_by_id() {
        let ring = KeyRing::new([key(9, 1), key(3, 2), key(9, 3)]);
        assert_eq!(ring.ids().collect::<Vec<_>>(), vec![3, 9]);
        assert!(ring.get(3).is_some() && ring.get(4).is_none());
    }

    #[test]
    fn next_seq_rules() {
        let t = at_ms(1_000_500);
        // First: the clock.
        assert_eq!(next_seq(None, t, TIME5), t.seq());
        // A later clock wins.
        assert_eq!(next_seq(Some(Seq(1)), t, TIME5), t.seq());
        // The same tick: last + 1.
        assert_eq!(next_seq(Some(t.seq()), t, TIME5), t.seq().succ());
        // Clock stepped back a little: keep counting up.
        let ahead = at(1003).seq();
        assert_eq!(next_seq(Some(ahead), t, TIME5), ahead.succ());
        // Stepped back more than the window: back to the clock (time mode) ...
        let far = at(1010).seq();
        assert_eq!(next_seq(Some(far), t, TIME5), t.seq());
        // ... but monotonic mode never goes back.
        assert_eq!(next_seq(Some(far), t, AntiReplay::Monotonic), far.succ());
    }

    #[test]
    fn sign_then_verify() {
        let src = v4("192.0.2.1");
        let msg = message(200);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t = signed(&mut a, &src, &msg, at(1000));
        let v = b.verify(&src, &msg, Some(&t), at(1001)).unwrap();
        assert_eq!(
            v,
            Verified::Signed {
                key_id: 1,
                seq: at(1000).seq(),
                skew_secs: 1,
                skew_warning: false
            }
        );
        assert_eq!(b.last_accepted(&src), Some(at(1000).seq()));
    }

    #[test]
    fn missing_trailer_by_mode() {
        let src = v4("192.0.2.1");
        let msg = message(255);
        for (mode, want) in [
            (Mode::ReceiveOnly, Ok(Verified::Unsigned)),
            (Mode::Permissive, Ok(Verified::Unsigned)),
            (Mode::Enforce, Err(AuthDrop::Missing)),
        ] {
            let mut b = Authenticator::new(settings(mode, TIME5), &[]);
            assert_eq!(b.verify(&src, &msg, None, at(1000)), want, "{mode}");
        }
    }

    #[test]
    fn receive_only_checks_a_trailer_that_is_there() {
        let src = v4("192.0.2.1");
        let msg = message(200);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut t = signed(&mut a, &src, &msg, at(1000));
        t[TRAILER_LEN - 1] ^= 1;
        for mode in [Mode::ReceiveOnly, Mode::Permissive] {
            let mut b = Authenticator::new(settings(mode, TIME5), &[]);
            assert_eq!(
                b.verify(&src, &msg, Some(&t), at(1000)),
                Err(AuthDrop::BadTag(1))
            );
            // And receive-only sends nothing.
            assert_eq!(b.sign(&src, &msg, at(1000)).is_some(), mode.signs());
        }
    }

    #[test]
    fn malformed_unknown_key_bad_tag() {
        let src = v4("192.0.2.1");
        let msg = message(200);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let good = signed(&mut a, &src, &msg, at(1000));
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let now = at(1000);

        let mut t = good.clone();
        t[0] = 9;
        assert_eq!(
            b.verify(&src, &msg, Some(&t), now),
            Err(AuthDrop::Malformed)
        );
        let mut t = good.clone();
        t[2] = 1;
        assert_eq!(
            b.verify(&src, &msg, Some(&t), now),
            Err(AuthDrop::Malformed)
        );
        assert_eq!(
            b.verify(&src, &msg, Some(&good[..27]), now),
            Err(AuthDrop::Malformed)
        );

        let mut t = good.clone();
        t[1] = 3;
        assert_eq!(
            b.verify(&src, &msg, Some(&t), now),
            Err(AuthDrop::UnknownKey(3))
        );
        // Key id 2 exists, but the tag was made with key 1.
        let mut t = good.clone();
        t[1] = 2;
        assert_eq!(
            b.verify(&src, &msg, Some(&t), now),
            Err(AuthDrop::BadTag(2))
        );
        // Another source, another message: the tag no longer fits.
        assert_eq!(
            b.verify(&v4("192.0.2.66"), &msg, Some(&good), now),
            Err(AuthDrop::BadTag(1))
        );
        assert_eq!(
            b.verify(&src, &message(255), Some(&good), now),
            Err(AuthDrop::BadTag(1))
        );
        // None of that moved the replay mark: the good one still passes.
        assert_eq!(b.last_accepted(&src), None);
        assert!(b.verify(&src, &msg, Some(&good), now).is_ok());
    }

    #[test]
    fn time_window() {
        let src = v4("192.0.2.1");
        let msg = message(200);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t = signed(&mut a, &src, &msg, at(1000));
        for (now, ok) in [(994, false), (995, true), (1005, true), (1006, false)] {
            let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
            let r = b.verify(&src, &msg, Some(&t), at(now));
            assert_eq!(r.is_ok(), ok, "now {now}: {r:?}");
            if !ok {
                assert!(matches!(r, Err(AuthDrop::Stale { .. })));
            }
        }
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        assert_eq!(
            b.verify(&src, &msg, Some(&t), at(1100)),
            Err(AuthDrop::Stale { skew_secs: 100 })
        );
        // Past half the window: accepted with a warning.
        assert!(matches!(
            b.verify(&src, &msg, Some(&t), at(1003)),
            Ok(Verified::Signed {
                skew_warning: true,
                skew_secs: 3,
                ..
            })
        ));
        // Monotonic mode has no window.
        let mut m = Authenticator::new(settings(Mode::Enforce, AntiReplay::Monotonic), &[]);
        assert!(matches!(
            m.verify(&src, &msg, Some(&t), at(900_000)),
            Ok(Verified::Signed {
                skew_secs: 0,
                skew_warning: false,
                ..
            })
        ));
    }

    #[test]
    fn stale_is_checked_before_the_key() {
        // A flood of old captures must not cost a digest: an unknown key id
        // outside the window is reported stale (keepalived's order too).
        let src = v4("192.0.2.1");
        let msg = message(200);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut t = signed(&mut a, &src, &msg, at(1000));
        t[1] = 77;
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        assert!(matches!(
            b.verify(&src, &msg, Some(&t), at(2000)),
            Err(AuthDrop::Stale { .. })
        ));
    }

    #[test]
    fn replay() {
        let src = v4("192.0.2.1");
        let msg = message(200);
        for ar in [TIME5, AntiReplay::Monotonic] {
            let mut a = Authenticator::new(settings(Mode::Enforce, ar), &[]);
            let mut b = Authenticator::new(settings(Mode::Enforce, ar), &[]);
            let t1 = signed(&mut a, &src, &msg, at_ms(1_000_000));
            let t2 = signed(&mut a, &src, &msg, at_ms(1_001_000));
            assert!(b.verify(&src, &msg, Some(&t1), at(1000)).is_ok());
            // The same one again.
            assert!(matches!(
                b.verify(&src, &msg, Some(&t1), at(1000)),
                Err(AuthDrop::Replayed { .. })
            ));
            assert!(b.verify(&src, &msg, Some(&t2), at(1001)).is_ok());
            // An older one, after a newer one.
            assert!(matches!(
                b.verify(&src, &msg, Some(&t1), at(1001)),
                Err(AuthDrop::Replayed { .. })
            ));
            // Same tick signed twice: the counter orders them.
            let t3 = signed(&mut a, &src, &msg, at_ms(1_002_000));
            let t4 = signed(&mut a, &src, &msg, at_ms(1_002_000));
            assert!(b.verify(&src, &msg, Some(&t4), at(1002)).is_ok());
            assert!(b.verify(&src, &msg, Some(&t3), at(1002)).is_err());
        }
    }

    #[test]
    fn replay_marks_are_per_source() {
        let (s1, s2) = (v4("192.0.2.1"), v4("192.0.2.2"));
        let msg = message(100);
        let mut a1 = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut a2 = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t1 = signed(&mut a1, &s1, &msg, at(1001));
        let t2 = signed(&mut a2, &s2, &msg, at(1000));
        assert!(b.verify(&s1, &msg, Some(&t1), at(1001)).is_ok());
        // s2's older sequence is not judged against s1's mark.
        assert!(b.verify(&s2, &msg, Some(&t2), at(1001)).is_ok());
    }

    #[test]
    fn expired_mark_lets_a_stepped_back_sender_in() {
        // Time mode: the sender's clock was stepped back by 60 s. Once its old
        // mark is outside the window it is forgotten.
        let src = v4("192.0.2.1");
        let msg = message(100);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t = signed(&mut a, &src, &msg, at(1060));
        assert!(b.verify(&src, &msg, Some(&t), at(1060)).is_ok());
        let mut fresh = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t_back = signed(&mut fresh, &src, &msg, at(1070));
        // Receiver at 1070: the mark (1060) is 10 s old, outside the window.
        assert!(b.verify(&src, &msg, Some(&t_back), at(1070)).is_ok());
    }

    #[test]
    fn rotation_accepts_every_configured_key() {
        let src = v4("192.0.2.1");
        let msg = message(100);
        let mut a = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let t1 = signed(&mut a, &src, &msg, at(1000));
        assert!(b.verify(&src, &msg, Some(&t1), at(1000)).is_ok());
        // Sender moves to key 2; the sequence carries on across the reload.
        let s2 = Settings::new(
            KeyRing::new([key(1, 0x11), key(2, 0x22)]),
            2,
            Mode::Enforce,
            TIME5,
        )
        .unwrap();
        a.reconfigure(s2, &[]);
        let t2 = signed(&mut a, &src, &msg, at(1000));
        assert_eq!(t2[1], 2);
        assert!(b.verify(&src, &msg, Some(&t2), at(1000)).is_ok());
        // The receiver drops key 1: key-1 adverts are now unknown.
        let only2 = Settings::new(KeyRing::new([key(2, 0x22)]), 2, Mode::Enforce, TIME5).unwrap();
        b.reconfigure(only2, &[]);
        let t1b = signed(
            &mut Authenticator::new(settings(Mode::Enforce, TIME5), &[]),
            &src,
            &msg,
            at(1001),
        );
        assert_eq!(
            b.verify(&src, &msg, Some(&t1b), at(1001)),
            Err(AuthDrop::UnknownKey(1))
        );
        // The replay mark survived the reload.
        assert!(b.last_accepted(&src).is_some());
    }

    #[test]
    fn dynamic_slots_are_bounded_and_peers_pinned() {
        let peer = v4("192.0.2.2");
        let msg = message(100);
        let mut b = Authenticator::new(settings(Mode::Enforce, AntiReplay::Monotonic), &[peer]);
        let mut tp = Authenticator::new(settings(Mode::Enforce, AntiReplay::Monotonic), &[]);
        let t_peer = signed(&mut tp, &peer, &msg, at(1000));
        assert!(b.verify(&peer, &msg, Some(&t_peer), at(1000)).is_ok());
        // Many key-holding senders come and go.
        for i in 0..(DYNAMIC_SLOTS as u8 + 10) {
            let src = v4(&format!("198.51.100.{i}"));
            let mut s = Authenticator::new(settings(Mode::Enforce, AntiReplay::Monotonic), &[]);
            let t = signed(&mut s, &src, &msg, at(1000));
            assert!(b.verify(&src, &msg, Some(&t), at(1000)).is_ok());
        }
        assert_eq!(b.slots.len(), 1 + DYNAMIC_SLOTS);
        // The pinned peer's mark is still there: its old advert is a replay.
        assert!(matches!(
            b.verify(&peer, &msg, Some(&t_peer), at(1000)),
            Err(AuthDrop::Replayed { .. })
        ));
    }

    #[test]
    fn signed_payload_verifies_end_to_end() {
        // emit -> sign -> append -> parse_payload -> verify, over IPv4.
        let (src, dst) = (v4("192.0.2.1"), v4("224.0.0.18"));
        let mut a = Authenticator::new(settings(Mode::Permissive, TIME5), &[]);
        let mut b = Authenticator::new(settings(Mode::Enforce, TIME5), &[]);
        let mut payload = message(150);
        let t = a.sign(&src, &payload, at(5000)).unwrap();
        append_trailer(&mut payload, src, dst, &t).unwrap();
        let r = parse_payload(&payload, src, dst).unwrap();
        assert_eq!(r.advert.priority, Priority(150));
        assert!(b.verify(&src, r.message, r.trailer, at(5000)).is_ok());
    }

    #[test]
    fn drop_names() {
        let all = [
            AuthDrop::Missing,
            AuthDrop::Malformed,
            AuthDrop::UnknownKey(1),
            AuthDrop::BadTag(1),
            AuthDrop::Stale { skew_secs: 9 },
            AuthDrop::Replayed {
                seq: Seq(1),
                last: Seq(2),
            },
        ];
        let names: Vec<_> = all.iter().map(AuthDrop::drop_reason_name).collect();
        assert_eq!(names, AuthDrop::NAMES);
        assert_eq!(
            AuthDrop::Stale { skew_secs: -7 }.to_string(),
            "sequence outside the time window (clock skew -7 s)"
        );
    }
}
