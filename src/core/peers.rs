//! Which sources a virtual router hears adverts from, and with what IP TTL /
//! hop limit: the peer allow-list, and RFC 5798's TTL-255 rule with its one
//! relaxation, for unicast peers across routers. Pure; the IO shell hands in
//! the packet's source and TTL.

use std::net::IpAddr;

use crate::core::wire::VRRP_TTL;

/// The receive rules of one virtual router.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
}
