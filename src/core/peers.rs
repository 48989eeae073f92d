//! Which sources a virtual router hears adverts from, and with what IP TTL /
//! hop limit: the peer allow-list, and RFC 5798's TTL-255 rule with its one
//! relaxation, for unicast peers across routers; then [`Gate`], the whole
//! per-router admission of a received advert before the state machine sees
//! it (allow-list, TTL, `auth_hmac`), each refusal counted under one name.
//! Pure; the IO shell hands in the packet's source, TTL and the wall time.

use std::net::IpAddr;

use crate::core::auth::{AuthDrop, Authenticator, Settings, Verified, WallTime};
use crate::core::wire::VRRP_TTL;

/// The receive rules of one virtual router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRules {
    /// The only sources heard; empty = any.
    allowed: Vec<IpAddr>,
    /// The lowest TTL accepted from an allowed source of a unicast router
    /// (255 = no relaxation).
    min_ttl: u8,
}

/// Why an advert was dropped before authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceDrop {
    /// Its source is not on the allow-list.
    NotAllowed,
    /// Its TTL / hop limit is below what is accepted from it.
    Ttl(u8),
}

impl SourceDrop {
    /// The drop counter's name: `source_not_allowed` or `ttl`.
    pub const fn drop_reason_name(&self) -> &'static str {
        match self {
            SourceDrop::NotAllowed => "source_not_allowed",
            SourceDrop::Ttl(_) => "ttl",
        }
    }
}

impl Default for SourceRules {
    /// Anyone, at TTL 255 only.
    fn default() -> SourceRules {
        SourceRules::new(Vec::new(), VRRP_TTL)
    }
}

impl SourceRules {
    /// Rules for a router that hears `allowed` (empty: anyone). `unicast_min_ttl`
    /// below 255 lets a unicast router hear its allowed sources across routers;
    /// it is ignored when `allowed` is empty (multicast keeps TTL 255).
    pub fn new(allowed: Vec<IpAddr>, unicast_min_ttl: u8) -> SourceRules {
        let min_ttl = if allowed.is_empty() {
            VRRP_TTL
        } else {
            unicast_min_ttl.max(1)
        };
        SourceRules { allowed, min_ttl }
    }

    /// The allow-list (empty = any source).
    pub fn allowed(&self) -> &[IpAddr] {
        &self.allowed
    }

    /// The lowest TTL / hop limit accepted from an allowed source (255 = no
    /// relaxation).
    pub fn min_ttl(&self) -> u8 {
        self.min_ttl
    }

    /// Whether a packet from `src` that arrived with `ttl` is heard.
    ///
    /// RFC 5798 Section 7.1 / RFC 3768 Section 7.1: "MUST verify that the IP
    /// TTL is 255". The allow-list is checked first, so that a stranger is
    /// counted as one whatever its TTL.
    pub fn check(&self, src: &IpAddr, ttl: u8) -> Result<(), SourceDrop> {
        if !self.allowed.is_empty() && !self.allowed.contains(src) {
            return Err(SourceDrop::NotAllowed);
        }
        if ttl == VRRP_TTL || ttl >= self.min_ttl {
            Ok(())
        } else {
            Err(SourceDrop::Ttl(ttl))
        }
    }
}

/// Why [`Gate::admit`] refused an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDrop {
    /// The allow-list or the TTL rule.
    Source(SourceDrop),
    /// `auth_hmac` (trailer missing, malformed, unknown key, bad tag, stale, replayed).
    Auth(AuthDrop),
    /// The advert carries an authentication trailer, but this router has no
    /// `auth_hmac` (keepalived 2.4 counts the same packet as a length error).
    Unexpected,
}

impl GateDrop {
    /// The drop counter's name; one of [`GateDrop::NAMES`].
    pub const fn name(&self) -> &'static str {
        match self {
            GateDrop::Source(d) => d.drop_reason_name(),
            GateDrop::Auth(d) => d.drop_reason_name(),
            GateDrop::Unexpected => "auth_unexpected",
        }
    }

    /// Every name [`GateDrop::name`] gives, in a fixed order.
    pub const NAMES: [&'static str; 9] = [
        "source_not_allowed",
        "ttl",
        AuthDrop::NAMES[0],
        AuthDrop::NAMES[1],
        AuthDrop::NAMES[2],
        AuthDrop::NAMES[3],
        AuthDrop::NAMES[4],
        AuthDrop::NAMES[5],
        "auth_unexpected",
    ];

    fn index(&self) -> usize {
        let name = self.name();
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap_or(Self::NAMES.len() - 1)
    }
}

impl std::fmt::Display for GateDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateDrop::Source(SourceDrop::NotAllowed) => {
                f.write_str("source not in allowed_sources")
            }
            GateDrop::Source(SourceDrop::Ttl(ttl)) => {
                write!(f, "TTL / hop limit {ttl} below what this source may use")
            }
            GateDrop::Auth(d) => d.fmt(f),
            GateDrop::Unexpected => {
                f.write_str("authentication trailer, but this instance has no auth_hmac")
            }
        }
    }
}

/// Counters of a [`Gate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateStats {
    drops: [u64; GateDrop::NAMES.len()],
    /// Adverts admitted with a valid trailer.
    pub signed: u64,
    /// Adverts admitted without a trailer by a router with `auth_hmac` in
    /// receive-only or permissive mode (a peer that does not sign yet).
    pub unsigned: u64,
}

impl GateStats {
    /// The drops by name, zero counts left out.
    pub fn drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        GateDrop::NAMES
            .iter()
            .zip(self.drops)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (*name, n))
    }

    /// The count under one name (0 for a name that is not the gate's).
    pub fn drop_count(&self, name: &str) -> u64 {
        GateDrop::NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.drops[i])
    }
}

/// What [`Gate::admit`] let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// The router has no `auth_hmac`; the advert had no trailer.
    Plain,
    /// `auth_hmac` let it through (signed, or unsigned in a migration mode).
    Auth(Verified),
}

/// The admission of received adverts for one virtual router, after the
/// receive path has parsed the advert and found the router by VRID, before
/// [`crate::core::router::VirtualRouter::handle_advert`]. Cheapest checks
/// first, so that a flood costs little: the allow-list and TTL (no digest for
/// a stranger), then `auth_hmac` ([`Authenticator::verify`]: freshness before
/// the HMAC). Every refusal is counted under exactly one name.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    rules: SourceRules,
    auth: Option<Authenticator>,
    stats: GateStats,
}

impl Gate {
    /// A gate with `rules` and, when configured, `auth_hmac` settings. The
    /// allow-list's sources get replay slots that are never given up.
    pub fn new(rules: SourceRules, auth: Option<Settings>) -> Gate {
        let auth = auth.map(|s| Authenticator::new(s, rules.allowed()));
        Gate {
            rules,
            auth,
            stats: GateStats::default(),
        }
    }

    /// New rules and settings (a reload). The counters stay, and so do the
    /// replay marks while `auth_hmac` stays on: a rotation is not a chance
    /// to replay an old advert.
    pub fn reconfigure(&mut self, rules: SourceRules, auth: Option<Settings>) {
        self.auth = match (self.auth.take(), auth) {
            (Some(mut a), Some(s)) => {
                a.reconfigure(s, rules.allowed());
                Some(a)
            }
            (_, Some(s)) => Some(Authenticator::new(s, rules.allowed())),
            (_, None) => None,
        };
        self.rules = rules;
    }

    /// The receive rules in force.
    pub fn rules(&self) -> &SourceRules {
        &self.rules
    }

    /// The `auth_hmac` settings in force, if any.
    pub fn auth(&self) -> Option<&Settings> {
        self.auth.as_ref().map(Authenticator::settings)
    }

    /// The counters.
    pub fn stats(&self) -> &GateStats {
        &self.stats
    }

    /// Whether an advert from `src` that arrived with `ttl`, whose VRRP
    /// message is `message` and trailer `trailer` (as the payload was split),
    /// reaches the state machine, at wall time `now`. A refusal is counted.
    pub fn admit(
        &mut self,
        src: &IpAddr,
        ttl: u8,
        message: &[u8],
        trailer: Option<&[u8]>,
        now: WallTime,
    ) -> Result<Admitted, GateDrop> {
        let result = self.check(src, ttl, message, trailer, now);
        match &result {
            Ok(Admitted::Auth(Verified::Signed { .. })) => self.stats.signed += 1,
            Ok(Admitted::Auth(Verified::Unsigned)) => self.stats.unsigned += 1,
            Ok(Admitted::Plain) => {}
            Err(d) => self.stats.drops[d.index()] += 1,
        }
        result
    }

    fn check(
        &mut self,
        src: &IpAddr,
        ttl: u8,
        message: &[u8],
        trailer: Option<&[u8]>,
        now: WallTime,
    ) -> Result<Admitted, GateDrop> {
        self.rules.check(src, ttl).map_err(GateDrop::Source)?;
        match &mut self.auth {
            None if trailer.is_some() => Err(GateDrop::Unexpected),
            None => Ok(Admitted::Plain),
            Some(a) => a
                .verify(src, message, trailer, now)
                .map(Admitted::Auth)
                .map_err(GateDrop::Auth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn anyone_at_ttl_255() {
        let r = SourceRules::new(vec![], 255);
        assert_eq!(r.check(&a("192.0.2.9"), 255), Ok(()));
        assert_eq!(r.check(&a("192.0.2.9"), 254), Err(SourceDrop::Ttl(254)));
        // Without an allow-list there is nothing to relax.
        assert_eq!(
            SourceRules::new(vec![], 1).check(&a("192.0.2.9"), 64),
            Err(SourceDrop::Ttl(64))
        );
    }

    #[test]
    fn allow_list() {
        let r = SourceRules::new(vec![a("192.0.2.2"), a("fe80::2")], 255);
        assert_eq!(r.check(&a("192.0.2.2"), 255), Ok(()));
        assert_eq!(r.check(&a("fe80::2"), 255), Ok(()));
        assert_eq!(r.check(&a("192.0.2.3"), 255), Err(SourceDrop::NotAllowed));
        // A stranger is a stranger at any TTL.
        assert_eq!(r.check(&a("192.0.2.3"), 1), Err(SourceDrop::NotAllowed));
        assert_eq!(r.check(&a("192.0.2.2"), 254), Err(SourceDrop::Ttl(254)));
        assert_eq!(
            SourceDrop::NotAllowed.drop_reason_name(),
            "source_not_allowed"
        );
        assert_eq!(SourceDrop::Ttl(1).drop_reason_name(), "ttl");
    }

    #[test]
    fn relaxed_ttl_for_listed_peers_only() {
        let r = SourceRules::new(vec![a("10.9.0.2")], 250);
        assert_eq!(r.check(&a("10.9.0.2"), 250), Ok(()));
        assert_eq!(r.check(&a("10.9.0.2"), 255), Ok(()));
        assert_eq!(r.check(&a("10.9.0.2"), 249), Err(SourceDrop::Ttl(249)));
        assert_eq!(r.check(&a("10.9.0.3"), 250), Err(SourceDrop::NotAllowed));
        assert_eq!(
            SourceRules::new(vec![a("10.9.0.2")], 0).check(&a("10.9.0.2"), 1),
            Ok(())
        );
    }

    mod gate {
        use super::super::*;
        use crate::core::auth::{AntiReplay, KeyRing, Mode};
        use crate::core::types::{Centisecs, Priority, Version};
        use crate::core::wire::auth::HmacKey;
        use crate::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

        fn a(s: &str) -> IpAddr {
            s.parse().unwrap()
        }

        fn settings(mode: Mode, keys: &[(u8, u8)], active: u8) -> Settings {
            let ring = KeyRing::new(
                keys.iter()
                    .map(|(id, fill)| HmacKey::new(*id, &[*fill; 32]).unwrap()),
            );
            Settings::new(ring, active, mode, AntiReplay::Time { window_secs: 5 }).unwrap()
        }

        fn msg(src: &str) -> Vec<u8> {
            Advertisement {
                version: Version::V3,
                vrid: 7,
                priority: Priority(200),
                max_adver_int: Centisecs(100),
                addrs: vec![a("192.0.2.7")].into(),
                auth: Auth::None,
            }
            .to_bytes(a(src), a("224.0.0.18"), ChecksumMode::PseudoHeader)
            .unwrap()
        }

        fn at(secs: u64) -> WallTime {
            WallTime { secs, nanos: 0 }
        }

        fn signed(s: &Settings, src: &str, m: &[u8], now: WallTime) -> Vec<u8> {
            Authenticator::new(s.clone(), &[])
                .sign(&a(src), m, now)
                .unwrap()
                .to_bytes()
                .to_vec()
        }

        #[test]
        fn each_refusal_is_counted_under_one_name() {
            let s = settings(Mode::Enforce, &[(1, 0x11)], 1);
            let mut g = Gate::new(SourceRules::new(vec![a("192.0.2.2")], 255), Some(s.clone()));
            let peer = "192.0.2.2";
            let m = msg(peer);
            let good = signed(&s, peer, &m, at(1000));
            type Case<'a> = (&'a str, u8, Option<Vec<u8>>, u64, &'a str);
            let cases: Vec<Case> = vec![
                (
                    "192.0.2.9",
                    255,
                    Some(good.clone()),
                    1000,
                    "source_not_allowed",
                ),
                // A stranger is a stranger whatever else is wrong.
                ("192.0.2.9", 64, None, 1000, "source_not_allowed"),
                (peer, 64, Some(good.clone()), 1000, "ttl"),
                (peer, 255, None, 1000, "auth_missing"),
                (peer, 255, Some(vec![0; 28]), 1000, "auth_malformed"),
                (
                    peer,
                    255,
                    Some({
                        let mut t = good.clone();
                        t[1] = 9;
                        t
                    }),
                    1000,
                    "auth_unknown_key",
                ),
                (
                    peer,
                    255,
                    Some({
                        let mut t = good.clone();
                        t[27] ^= 1;
                        t
                    }),
                    1000,
                    "auth_bad_tag",
                ),
                (peer, 255, Some(good.clone()), 1100, "auth_stale"),
            ];
            for (src, ttl, tr, now, want) in cases {
                let before = g.stats().clone();
                let r = g.admit(&a(src), ttl, &m, tr.as_deref(), at(now));
                assert_eq!(r.map_err(|d| d.name()), Err(want), "{src} {ttl} {want}");
                let total = |st: &GateStats| st.drops().map(|(_, n)| n).sum::<u64>();
                assert_eq!(total(g.stats()), total(&before) + 1, "{want}");
                assert_eq!(g.stats().drop_count(want), before.drop_count(want) + 1);
            }
            // The good one passes, once; again it is a replay.
            assert!(matches!(
                g.admit(&a(peer), 255, &m, Some(&good), at(1000)),
                Ok(Admitted::Auth(Verified::Signed { key_id: 1, .. }))
            ));
            assert_eq!(g.stats().signed, 1);
            assert_eq!(
                g.admit(&a(peer), 255, &m, Some(&good), at(1000))
                    .map_err(|d| d.name()),
                Err("auth_replayed")
            );
            assert_eq!(g.stats().drops().count(), GateDrop::NAMES.len() - 1);
        }

        #[test]
        fn without_auth_a_trailer_is_unexpected() {
            let mut g = Gate::new(SourceRules::default(), None);
            let m = msg("192.0.2.2");
            assert_eq!(
                g.admit(&a("192.0.2.2"), 255, &m, None, at(1)),
                Ok(Admitted::Plain)
            );
            assert_eq!(
                g.admit(&a("192.0.2.2"), 255, &m, Some(&[0; 28]), at(1)),
                Err(GateDrop::Unexpected)
            );
            // The default rules are TTL 255 for anyone.
            assert_eq!(
                g.admit(&a("192.0.2.2"), 254, &m, None, at(1)),
                Err(GateDrop::Source(SourceDrop::Ttl(254)))
            );
            assert_eq!(g.stats().drop_count("auth_unexpected"), 1);
            assert_eq!(g.stats().drop_count("nonsense"), 0);
        }

        #[test]
        fn migration_modes_count_unsigned_adverts() {
            let s = settings(Mode::ReceiveOnly, &[(1, 0x11)], 1);
            let mut g = Gate::new(SourceRules::default(), Some(s));
            let m = msg("192.0.2.2");
            assert_eq!(
                g.admit(&a("192.0.2.2"), 255, &m, None, at(1)),
                Ok(Admitted::Auth(Verified::Unsigned))
            );
            assert_eq!(g.stats().unsigned, 1);
        }

        #[test]
        fn reconfigure_keeps_replay_marks_and_rotates_keys() {
            let old = settings(Mode::Enforce, &[(1, 0x11)], 1);
            let both = settings(Mode::Enforce, &[(1, 0x11), (2, 0x22)], 2);
            let new = settings(Mode::Enforce, &[(2, 0x22)], 2);
            let peer = "192.0.2.2";
            let m = msg(peer);
            let mut g = Gate::new(SourceRules::default(), Some(old.clone()));
            let t1 = signed(&old, peer, &m, at(1000));
            assert!(g.admit(&a(peer), 255, &m, Some(&t1), at(1000)).is_ok());
            g.reconfigure(SourceRules::default(), Some(both.clone()));
            // The mark survived: the same advert is a replay, not a fresh one.
            assert_eq!(
                g.admit(&a(peer), 255, &m, Some(&t1), at(1000))
                    .map_err(|d| d.name()),
                Err("auth_replayed")
            );
            let t2 = signed(&both, peer, &m, at(1001));
            assert!(g.admit(&a(peer), 255, &m, Some(&t2), at(1001)).is_ok());
            g.reconfigure(SourceRules::default(), Some(new));
            let t1b = signed(&old, peer, &m, at(1002));
            assert_eq!(
                g.admit(&a(peer), 255, &m, Some(&t1b), at(1002))
                    .map_err(|d| d.name()),
                Err("auth_unknown_key")
            );
            // auth_hmac off: unsigned adverts pass, signed ones are unexpected.
            g.reconfigure(SourceRules::default(), None);
            assert_eq!(
                g.admit(&a(peer), 255, &m, None, at(1003)),
                Ok(Admitted::Plain)
            );
            assert!(g.auth().is_none());
        }
    }
}
