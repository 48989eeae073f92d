//! Who an instance hears adverts from: `allowed_sources` (the peer allow-list)
//! and, for unicast only, `unicast_min_ttl` with its loud opt-out
//! `insecure_routed_unicast`.
//!
//! RFC 5798 Section 7.1 drops every advert whose TTL / hop limit is not 255,
//! which proves it never crossed a router. Unicast across routers cannot keep
//! that proof, so `unicast_min_ttl` may lower it for the unicast peers; then
//! nothing but a key tells a peer from a stranger, and the configuration is
//! refused unless `auth_hmac` runs in `mode = "enforce"` or the operator sets
//! `insecure_routed_unicast = true` (logged as a warning at every start and
//! reload).

use std::net::IpAddr;

use super::validate::{unusable_addr, Section};
use super::{AuthHmac, Family};
use crate::core::auth::Mode;

/// The validated receive rules of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeerRules {
    pub allowed_sources: Vec<IpAddr>,
    pub unicast_min_ttl: u8,
    pub insecure_routed_unicast: bool,
}

/// Validates `allowed_sources`, `unicast_min_ttl` and `insecure_routed_unicast`.
/// `family` and `peers` are the instance's (already validated) address family
/// and unicast peers; `auth_hmac` its authentication.
pub(super) fn validate(
    s: &mut Section<'_>,
    allowed: Option<&[String]>,
    min_ttl: Option<i64>,
    insecure: Option<bool>,
    family: Option<Family>,
    peers: &[IpAddr],
    auth_hmac: Option<&AuthHmac>,
) -> Option<PeerRules> {
    let mut ok = true;
    let allowed_sources = match allowed {
        None => peers.to_vec(),
        Some([]) => {
            s.err("allowed_sources", "must list at least one address; leave the key out to accept any source (multicast) or the unicast peers (unicast)");
            ok = false;
            Vec::new()
        }
        Some(list) => {
            let mut out = Vec::new();
            for (j, text) in list.iter().enumerate() {
                let key = format!("allowed_sources[{j}]");
                let Ok(a) = text.parse::<IpAddr>() else {
                    s.err(
                        &key,
                        format!("{text:?} is not an IP address (no prefix length here)"),
                    );
                    ok = false;
                    continue;
                };
                if let Some(what) = unusable_addr(a) {
                    s.err(&key, format!("{a} is {what}, which never sends adverts"));
                    ok = false;
                } else if family.is_some_and(|f| f != Family::of(a)) {
                    s.err(&key, format!("{a} is {} but the virtual_ips are {}; adverts come from the same family (IPv6: the peers' link-local addresses)", Family::of(a), family.map_or(String::new(), |f| f.to_string())));
                    ok = false;
                } else if out.contains(&a) {
                    s.err(&key, format!("{a} is listed twice"));
                    ok = false;
                } else {
                    out.push(a);
                }
            }
            out
        }
    };

    let unicast_min_ttl = match min_ttl {
        None => Some(255),
        Some(_) if peers.is_empty() => {
            s.err("unicast_min_ttl", "only applies to unicast_peers: multicast adverts must arrive with TTL 255 (RFC 5798 Section 7.1)");
            None
        }
        Some(v) => match u8::try_from(v) {
            Ok(ttl) if ttl >= 1 => Some(ttl),
            _ => {
                s.err("unicast_min_ttl", format!("must be 1..=255, got {v}"));
                None
            }
        },
    };

    let insecure_routed_unicast = insecure.unwrap_or(false);
    let enforced = auth_hmac.is_some_and(|a| a.mode == Mode::Enforce);
    if let Some(ttl) = unicast_min_ttl {
        if ttl < 255 && !enforced && !insecure_routed_unicast {
            let why = match auth_hmac {
                None => "without auth_hmac".to_owned(),
                Some(a) => format!(
                    "with auth_hmac in mode \"{}\", which still accepts unsigned adverts",
                    a.mode
                ),
            };
            s.err("unicast_min_ttl", format!(
                "{ttl} lets adverts that crossed routers in, {why}: anyone who can route a packet here could take the VIP. \
                 Set [instance.auth_hmac] with mode = \"enforce\", or insecure_routed_unicast = true to accept that risk"
            ));
            ok = false;
        }
        if insecure_routed_unicast && ttl == 255 {
            s.err(
                "insecure_routed_unicast",
                "only applies with unicast_min_ttl below 255; remove it",
            );
            ok = false;
        }
    } else if insecure.is_some() && peers.is_empty() {
        s.err(
            "insecure_routed_unicast",
            "only applies to unicast_peers with unicast_min_ttl below 255; remove it",
        );
        ok = false;
    }

    if !ok {
        return None;
    }
    Some(PeerRules {
        allowed_sources,
        unicast_min_ttl: unicast_min_ttl?,
        insecure_routed_unicast,
    })
}

/// The warning logged at every start and reload for an instance that accepts
/// unauthenticated adverts that crossed routers.
pub(super) fn insecure_warning(i: &super::Instance, index: usize) -> Option<String> {
    let enforced = i
        .auth_hmac
        .as_ref()
        .is_some_and(|a| a.mode == Mode::Enforce);
    if i.unicast_min_ttl == 255 || enforced {
        return None;
    }
    Some(format!(
        "instance[{index}] (\"{}\"): insecure_routed_unicast = true: adverts from the unicast peers are accepted with TTL down to {} and without a valid HMAC, so anyone who can route a packet with a peer's source address here can take the VIP; configure auth_hmac with mode = \"enforce\"",
        i.name, i.unicast_min_ttl
    ))
}

/// The warning logged at every start and reload for a sync group that mixes
/// an instance with `auth_hmac` in enforce mode and one that accepts unsigned
/// adverts (no `auth_hmac`, or receive-only or permissive): a stranger who
/// wins the weaker member's election with a forged advert holds every member
/// out of mastership (`core::sync::holds`), the enforced one included.
pub(super) fn sync_group_warning(
    group: &super::SyncGroup,
    index: usize,
    instances: &[super::Instance],
) -> Option<String> {
    let member = |name: &String| instances.iter().find(|i| &i.name == name);
    let enforced = |i: &super::Instance| {
        i.auth_hmac
            .as_ref()
            .is_some_and(|a| a.mode == Mode::Enforce)
    };
    let strong: Vec<&str> = group
        .instances
        .iter()
        .filter_map(member)
        .filter(|i| enforced(i))
        .map(|i| i.name.as_str())
        .collect();
    if strong.is_empty() {
        return None;
    }
    let weak: Vec<String> = group
        .instances
        .iter()
        .filter_map(member)
        .filter(|i| !enforced(i))
        .map(|i| match &i.auth_hmac {
            None => format!("\"{}\" (no auth_hmac)", i.name),
            Some(a) => format!("\"{}\" (auth_hmac mode \"{}\")", i.name, a.mode),
        })
        .collect();
    if weak.is_empty() {
        return None;
    }
    Some(format!(
        "sync_group[{index}] (\"{}\"): {} accept{} unsigned adverts while {} enforce{} auth_hmac: \
         a stranger who wins the election of an unsigned member with a forged advert holds every member \
         of the group out of mastership, the enforced ones too; set auth_hmac with mode = \"enforce\" on every member",
        group.name,
        weak.join(", "),
        if weak.len() == 1 { "s" } else { "" },
        strong.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "),
        if strong.len() == 1 { "s" } else { "" },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{parse_str_with, Config, ConfigIssue, KeyEnv};

    const KEY: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn conf(extra: &str) -> String {
        format!(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\n\
             virtual_ips = [\"172.16.1.254/24\"]\n{extra}\n"
        )
    }

    fn with_auth(extra: &str, mode: &str) -> String {
        format!(
            "{}[instance.auth_hmac]\nmode = \"{mode}\"\nkeys = {{ 1 = \"{KEY}\" }}\n",
            conf(extra)
        )
    }

    fn parse(text: &str) -> Result<Config, Vec<ConfigIssue>> {
        let env = KeyEnv {
            credentials_dir: None,
            euid: 0,
        };
        parse_str_with(text, "t.toml", &env).map_err(|e| e.errors().to_vec())
    }

    #[test]
    fn defaults() {
        let c = parse(&conf("")).unwrap();
        let i = &c.instances[0];
        assert!(i.allowed_sources.is_empty());
        assert_eq!(i.unicast_min_ttl, 255);
        assert!(!i.insecure_routed_unicast);
        // Unicast: the peers are the allow-list.
        let c = parse(&conf("unicast_peers = [\"172.16.1.2\", \"172.16.1.3\"]")).unwrap();
        assert_eq!(
            c.instances[0].allowed_sources,
            vec![
                "172.16.1.2".parse::<std::net::IpAddr>().unwrap(),
                "172.16.1.3".parse().unwrap()
            ]
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn explicit_allow_list() {
        let c = parse(&conf("allowed_sources = [\"172.16.1.9\"]")).unwrap();
        assert_eq!(
            c.instances[0].allowed_sources,
            vec!["172.16.1.9".parse::<std::net::IpAddr>().unwrap()]
        );
        let c = parse(&conf(
            "unicast_peers = [\"172.16.1.2\"]\nallowed_sources = [\"10.0.0.2\"]",
        ))
        .unwrap();
        assert_eq!(
            c.instances[0].allowed_sources,
            vec!["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
    }

    #[test]
    fn routed_unicast_needs_enforced_auth() {
        let uni = "unicast_peers = [\"10.9.0.2\"]\nunicast_min_ttl = 250";
        let c = parse(&with_auth(uni, "enforce")).unwrap();
        assert_eq!(c.instances[0].unicast_min_ttl, 250);
        assert!(c.warnings.is_empty());
        for (text, want) in [
            (
                conf(uni),
                "250 lets adverts that crossed routers in, without auth_hmac",
            ),
            (
                with_auth(uni, "permissive"),
                "in mode \"permissive\", which still accepts unsigned adverts",
            ),
            (with_auth(uni, "receive-only"), "in mode \"receive-only\""),
        ] {
            let issues = parse(&text).unwrap_err();
            assert_eq!(issues.len(), 1, "{issues:?}");
            assert_eq!(issues[0].path, "instance[0].unicast_min_ttl");
            assert!(issues[0].reason.contains(want), "{}", issues[0].reason);
            assert!(issues[0].reason.contains("insecure_routed_unicast = true"));
        }
        // The loud opt-out: accepted, with a warning.
        let c = parse(&conf(&format!("{uni}\ninsecure_routed_unicast = true"))).unwrap();
        assert!(c.instances[0].insecure_routed_unicast);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("instance[0] (\"VI_1\"): insecure_routed_unicast = true: adverts from the unicast peers are accepted with TTL down to 250 and without a valid HMAC"), "{}", c.warnings[0]);
        // Enforce and the opt-out together: no warning (the HMAC protects).
        let c = parse(&with_auth(
            &format!("{uni}\ninsecure_routed_unicast = true"),
            "enforce",
        ))
        .unwrap();
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            (
                conf("allowed_sources = []"),
                "instance[0].allowed_sources",
                "at least one address",
            ),
            (
                conf("allowed_sources = [\"x\"]"),
                "instance[0].allowed_sources[0]",
                "not an IP address",
            ),
            (
                conf("allowed_sources = [\"fe80::1\"]"),
                "instance[0].allowed_sources[0]",
                "is IPv6 but the virtual_ips are IPv4",
            ),
            (
                conf("allowed_sources = [\"224.0.0.18\"]"),
                "instance[0].allowed_sources[0]",
                "a multicast address",
            ),
            (
                conf("allowed_sources = [\"10.0.0.1\", \"10.0.0.1\"]"),
                "instance[0].allowed_sources[1]",
                "listed twice",
            ),
            (
                conf("unicast_min_ttl = 200"),
                "instance[0].unicast_min_ttl",
                "only applies to unicast_peers",
            ),
            (
                conf("unicast_peers = [\"10.0.0.2\"]\nunicast_min_ttl = 0"),
                "instance[0].unicast_min_ttl",
                "must be 1..=255, got 0",
            ),
            (
                conf("unicast_peers = [\"10.0.0.2\"]\nunicast_min_ttl = 256"),
                "instance[0].unicast_min_ttl",
                "got 256",
            ),
            (
                conf("unicast_peers = [\"10.0.0.2\"]\ninsecure_routed_unicast = true"),
                "instance[0].insecure_routed_unicast",
                "only applies with unicast_min_ttl below 255",
            ),
            (
                conf("insecure_routed_unicast = true"),
                "instance[0].insecure_routed_unicast",
                "only applies",
            ),
        ];
        for (text, path, want) in cases {
            let issues = parse(&text).unwrap_err();
            assert_eq!(issues.len(), 1, "{text}: {issues:?}");
            assert_eq!(issues[0].path, path, "{text}");
            assert!(
                issues[0].reason.contains(want),
                "{text}: {}",
                issues[0].reason
            );
        }
    }

    /// Two instances in one sync group; `a` and `b` are their extra lines
    /// (an `[instance.auth_hmac]` table, or nothing).
    fn group(a: &str, b: &str, sync: bool) -> String {
        let inst = |name: &str, vrid: u8, ip: &str, extra: &str| {
            format!(
                "[[instance]]\nname = \"{name}\"\ninterface = \"ext0\"\nvrid = {vrid}\n\
                 virtual_ips = [\"{ip}/24\"]\n{extra}\n"
            )
        };
        let sg = if sync {
            "[[sync_group]]\nname = \"G\"\ninstances = [\"A\", \"B\"]\n"
        } else {
            ""
        };
        format!(
            "{}{}{sg}",
            inst("A", 12, "172.16.1.254", a),
            inst("B", 13, "172.16.2.254", b)
        )
    }

    fn auth(mode: &str) -> String {
        format!("[instance.auth_hmac]\nmode = \"{mode}\"\nkeys = {{ 1 = \"{KEY}\" }}\n")
    }

    #[test]
    fn sync_group_mixing_enforced_and_unsigned_members_is_warned_about() {
        let enforce = auth("enforce");
        for (b, what) in [
            (String::new(), "\"B\" (no auth_hmac)"),
            (auth("permissive"), "\"B\" (auth_hmac mode \"permissive\")"),
            (
                auth("receive-only"),
                "\"B\" (auth_hmac mode \"receive-only\")",
            ),
        ] {
            let c = parse(&group(&enforce, &b, true)).unwrap();
            assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
            let w = &c.warnings[0];
            assert!(
                w.starts_with(&format!(
                    "sync_group[0] (\"G\"): {what} accepts unsigned adverts while \"A\" enforces auth_hmac"
                )),
                "{w}"
            );
            assert!(w.contains("holds every member"), "{w}");
            // The same two instances outside a group: nothing to warn about.
            assert!(parse(&group(&enforce, &b, false))
                .unwrap()
                .warnings
                .is_empty());
        }
        // Every member enforced, or none: no warning.
        assert!(parse(&group(&enforce, &enforce, true))
            .unwrap()
            .warnings
            .is_empty());
        assert!(parse(&group("", &auth("permissive"), true))
            .unwrap()
            .warnings
            .is_empty());
    }
}
