//! The VIP lease and announcement keys (`[global] vip_lease`,
//! `announce_interface`; per instance `announce`, `active_active`): their
//! types and their validation, kept apart from the other keys.
//!
//! What they mean and why is in docs/BGP.md; the reference is docs/CONFIG.md.

use std::collections::HashMap;
use std::time::Duration;

use super::duration::{format_duration, parse_duration};
use super::raw::{RawGlobal, RawInstance, RawSyncGroup};
use super::validate::Section;

/// The default `global.vip_lease`: the kernel deletes a VIP about 2 s after
/// the last renewal, so a SIGKILLed or hung daemon loses it within that.
pub const DEFAULT_VIP_LEASE: Duration = Duration::from_secs(2);

/// The longest `global.vip_lease`.
pub const MAX_VIP_LEASE: Duration = Duration::from_secs(3600);

/// The default `global.announce_interface`.
pub const DEFAULT_ANNOUNCE_INTERFACE: &str = "vrrpd0";

/// By default a lease is renewed this many times per lease (every second at
/// the default 2 s), so a daemon whose loop stalls for up to half a lease
/// keeps its VIPs; `vip_lease_renew` changes it.
pub const RENEWALS_PER_LEASE: u32 = 2;

/// The shortest `vip_lease_renew`.
pub const MIN_VIP_LEASE_RENEW: Duration = Duration::from_millis(100);

/// The lease settings from `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipLease {
    /// The address lifetime every VIP is added with, in whole seconds;
    /// `None` (`vip_lease = "0s"`) adds VIPs without one (permanent).
    pub lifetime: Option<Duration>,
    /// How often each is renewed (`vip_lease_renew`); `None`: half the lease.
    pub renew: Option<Duration>,
}

impl Default for VipLease {
    fn default() -> Self {
        VipLease {
            lifetime: Some(DEFAULT_VIP_LEASE),
            renew: None,
        }
    }
}

impl VipLease {
    /// How often a lease is renewed: `vip_lease_renew`, by default half
    /// the lifetime (1 s at the default 2 s); `None` without leases.
    pub fn renew_every(&self) -> Option<Duration> {
        self.lifetime
            .map(|l| self.renew.unwrap_or(l / RENEWALS_PER_LEASE))
    }
}

/// How an instance makes its VIPs reachable (`announce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnounceMode {
    /// On the instance's interface, announced with gratuitous ARP / unsolicited
    /// NA (`"garp"`, the default).
    #[default]
    Garp,
    /// As host addresses (/32, /128) on the announce interface, for a local
    /// FRR or BIRD to redistribute as connected routes over BGP (`"bgp"`).
    Bgp,
    /// Both at once (`"both"`).
    Both,
}

impl AnnounceMode {
    /// Whether the VIPs go on the instance's own interface (with GARP).
    pub fn on_link(self) -> bool {
        matches!(self, AnnounceMode::Garp | AnnounceMode::Both)
    }

    /// Whether the VIPs go on the announce interface as host addresses.
    pub fn routed(self) -> bool {
        matches!(self, AnnounceMode::Bgp | AnnounceMode::Both)
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceMode::Garp => "garp",
            AnnounceMode::Bgp => "bgp",
            AnnounceMode::Both => "both",
        }
    }
}

/// An instance's announcement settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Announce {
    /// Where its VIPs go.
    pub mode: AnnounceMode,
    /// Every healthy node holds (announces) the VIPs, with no VRRP election;
    /// only with `mode = Bgp`. Upstream ECMP spreads the flows.
    pub active_active: bool,
}

/// Reads `vip_lease` and `announce_interface` from `[global]`.
pub(super) fn global_keys(s: &mut Section<'_>, raw: &RawGlobal) -> (VipLease, String) {
    let lease = match raw.vip_lease.as_deref() {
        None => VipLease::default(),
        Some(text) => match parse_duration(text) {
            Err(reason) => {
                s.err("vip_lease", reason);
                VipLease::default()
            }
            Ok(d) if d.is_zero() => VipLease {
                lifetime: None,
                renew: None,
            },
            Ok(d) if d.subsec_millis() != 0 => {
                s.err("vip_lease", format!("the kernel counts address lifetimes in whole seconds; use e.g. \"2s\", got {text:?}"));
                VipLease::default()
            }
            Ok(d) if d > MAX_VIP_LEASE => {
                s.err(
                    "vip_lease",
                    format!("must be \"0s\" (off) or 1s..=3600s, got {text:?}"),
                );
                VipLease::default()
            }
            Ok(d) => VipLease {
                lifetime: Some(d),
                renew: None,
            },
        },
    };
    let mut lease = lease;
    if let Some(text) = raw.vip_lease_renew.as_deref() {
        match (parse_duration(text), lease.lifetime) {
            (Err(reason), _) => s.err("vip_lease_renew", reason),
            (Ok(_), None) => s.err(
                "vip_lease_renew",
                "has no effect with vip_lease = \"0s\" (leases off); remove it",
            ),
            (Ok(d), Some(l)) if d < MIN_VIP_LEASE_RENEW || d > l / 2 => s.err(
                "vip_lease_renew",
                format!(
                    "must be 100ms..=half of vip_lease ({}), got {text:?}: a renewal must come well before the lease runs out",
                    format_duration(l / 2)
                ),
            ),
            (Ok(d), Some(_)) => lease.renew = Some(d),
        }
    }
    let iface = match raw.announce_interface.as_ref() {
        None => DEFAULT_ANNOUNCE_INTERFACE.to_string(),
        Some(_) => s
            .ifname("announce_interface", raw.announce_interface.as_ref())
            .unwrap_or_else(|| DEFAULT_ANNOUNCE_INTERFACE.to_string()),
    };
    (lease, iface)
}

/// Reads `announce` and `active_active` of one instance; `None` after an error.
pub(super) fn instance_keys(s: &mut Section<'_>, raw: &RawInstance) -> Option<Announce> {
    let mode = match raw.announce.as_deref() {
        None | Some("garp") => AnnounceMode::Garp,
        Some("bgp") => AnnounceMode::Bgp,
        Some("both") => AnnounceMode::Both,
        Some(other) => {
            s.err(
                "announce",
                format!("must be \"garp\", \"bgp\" or \"both\", got {other:?}"),
            );
            return None;
        }
    };
    let active_active = raw.active_active.unwrap_or(false);
    let mut ok = true;
    if raw.use_vmac == Some(true) && mode == AnnounceMode::Bgp {
        s.err("use_vmac", "a virtual MAC is for VIPs on the link; with announce = \"bgp\" the VIPs are host addresses on the announce interface; remove use_vmac or use announce = \"both\"");
        ok = false;
    }
    if active_active {
        if mode != AnnounceMode::Bgp {
            s.err("active_active", format!("needs announce = \"bgp\": every healthy node holds the VIPs at once, which only routing (ECMP) can share; on a link two holders of one address conflict (announce is \"{}\")", mode.as_str()));
            ok = false;
        }
        if raw.unicast_peers.as_ref().is_some_and(|p| !p.is_empty()) {
            s.err("unicast_peers", "an active_active instance sends no VRRP advertisements (there is no election); remove unicast_peers");
            ok = false;
        }
    }
    ok.then_some(Announce {
        mode,
        active_active,
    })
}

/// Checks that need the whole file: the announce interface is not the link
/// of an instance that announces on it, and no active-active instance is in a
/// sync group (it has no VRRP state to share).
pub(super) fn cross_checks(
    issues: &mut Vec<super::ConfigIssue>,
    announce_interface: &str,
    instances: &[RawInstance],
    sync_groups: &[RawSyncGroup],
) {
    let mut by_name: HashMap<&str, (usize, &RawInstance)> = HashMap::new();
    for (i, inst) in instances.iter().enumerate() {
        if let Some(n) = inst.name.as_deref() {
            by_name.entry(n).or_insert((i, inst));
        }
        let routed = matches!(inst.announce.as_deref(), Some("bgp" | "both"));
        if routed && inst.interface.as_deref() == Some(announce_interface) {
            let mut s = Section::new(issues, format!("instance[{i}]"), inst.name.as_deref());
            s.err("interface", format!("is the announce interface (global.announce_interface = \"{announce_interface}\"), where announce = \"{}\" puts host addresses; run VRRP on the link and announce on a separate interface", inst.announce.as_deref().unwrap_or_default()));
        }
    }
    for (g, group) in sync_groups.iter().enumerate() {
        for (j, member) in group.instances.iter().flatten().enumerate() {
            if let Some((i, inst)) = by_name.get(member.as_str()) {
                if inst.active_active == Some(true) {
                    let mut s =
                        Section::new(issues, format!("sync_group[{g}]"), group.name.as_deref());
                    s.err(&format!("instances[{j}]"), format!("\"{member}\" (instance[{i}]) is active_active: it holds its VIPs whenever it is healthy and has no VRRP state to keep in step"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_str, ConfigIssue};

    const INST: &str =
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\nvirtual_ips = [\"198.51.100.10/32\"]\n";

    fn issues(text: &str) -> Vec<ConfigIssue> {
        match parse_str(text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.errors().to_vec(),
        }
    }

    fn one_issue(text: &str, path: &str, reason_part: &str) {
        let got = issues(text);
        assert!(
            got.iter()
                .any(|i| i.path == path && i.reason.contains(reason_part)),
            "want {path}: ...{reason_part}... in {got:#?}\nfor:\n{text}"
        );
    }

    #[test]
    fn test_defaults_lease_on_garp_mode() {
        let c = parse_str(INST, "t.toml").expect("valid");
        assert_eq!(c.global.vip_lease.lifetime, Some(Duration::from_secs(2)));
        assert_eq!(
            c.global.vip_lease.renew_every(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(c.global.announce_interface, "vrrpd0");
        let a = c.instances[0].announce;
        assert_eq!(a.mode, AnnounceMode::Garp);
        assert!(!a.active_active);
        assert!(a.mode.on_link() && !a.mode.routed());
    }

    #[test]
    fn test_lease_values() {
        let g = |v: &str| format!("[global]\nvip_lease = {v}\n{INST}");
        let c = parse_str(&g("\"0s\""), "t").expect("off");
        assert_eq!(c.global.vip_lease.lifetime, None);
        assert_eq!(c.global.vip_lease.renew_every(), None);
        let c = parse_str(&g("\"10s\""), "t").expect("10s");
        assert_eq!(c.global.vip_lease.lifetime, Some(Duration::from_secs(10)));
        assert_eq!(
            c.global.vip_lease.renew_every(),
            Some(Duration::from_secs(5))
        );
        one_issue(&g("\"1500ms\""), "global.vip_lease", "whole seconds");
        one_issue(&g("\"2h\""), "global.vip_lease", "unknown unit");
        one_issue(&g("\"61m\""), "global.vip_lease", "1s..=3600s");
        one_issue(&g("true"), "global.vip_lease", "expected a string");
    }

    #[test]
    fn test_lease_renewal_period() {
        let g = |lines: &str| format!("[global]\n{lines}\n{INST}");
        let c = parse_str(&g("vip_lease_renew = \"500ms\""), "t").expect("500ms");
        assert_eq!(
            c.global.vip_lease.renew_every(),
            Some(Duration::from_millis(500))
        );
        let c = parse_str(&g("vip_lease = \"3s\"\nvip_lease_renew = \"1500ms\""), "t")
            .expect("half of 3s");
        assert_eq!(
            c.global.vip_lease.renew_every(),
            Some(Duration::from_millis(1500))
        );
        one_issue(
            &g("vip_lease_renew = \"1500ms\""),
            "global.vip_lease_renew",
            "100ms..=half of vip_lease (1s)",
        );
        one_issue(
            &g("vip_lease_renew = \"50ms\""),
            "global.vip_lease_renew",
            "100ms..=half",
        );
        one_issue(
            &g("vip_lease = \"0s\"\nvip_lease_renew = \"1s\""),
            "global.vip_lease_renew",
            "has no effect",
        );
        one_issue(
            &g("vip_lease_renew = \"soon\""),
            "global.vip_lease_renew",
            "not a valid duration",
        );
    }

    #[test]
    fn test_announce_interface() {
        let c = parse_str(
            &format!("[global]\nannounce_interface = \"lo\"\n{INST}"),
            "t",
        )
        .expect("lo is fine");
        assert_eq!(c.global.announce_interface, "lo");
        one_issue(
            &format!("[global]\nannounce_interface = \"a-very-long-name0\"\n{INST}"),
            "global.announce_interface",
            "at most 15 bytes",
        );
        // An instance that announces may not run VRRP on the announce interface.
        let text = format!("[global]\nannounce_interface = \"ext0\"\n{INST}announce = \"bgp\"\n");
        one_issue(&text, "instance[0].interface", "is the announce interface");
        // ... but a garp-only instance there is no clash.
        assert!(issues(&format!("[global]\nannounce_interface = \"ext0\"\n{INST}")).is_empty());
    }

    #[test]
    fn test_modes() {
        for (v, mode) in [
            ("garp", AnnounceMode::Garp),
            ("bgp", AnnounceMode::Bgp),
            ("both", AnnounceMode::Both),
        ] {
            let c = parse_str(&format!("{INST}announce = \"{v}\"\n"), "t").expect(v);
            assert_eq!(c.instances[0].announce.mode, mode);
            assert_eq!(mode.as_str(), v);
        }
        one_issue(
            &format!("{INST}announce = \"ospf\"\n"),
            "instance[0].announce",
            "must be \"garp\", \"bgp\" or \"both\", got \"ospf\"",
        );
        one_issue(
            &format!("{INST}announce = \"bgp\"\nuse_vmac = true\n"),
            "instance[0].use_vmac",
            "announce = \"both\"",
        );
        assert!(issues(&format!("{INST}announce = \"both\"\nuse_vmac = true\n")).is_empty());
    }

    #[test]
    fn test_active_active_rules() {
        let c = parse_str(
            &format!("{INST}announce = \"bgp\"\nactive_active = true\n"),
            "t",
        )
        .expect("valid");
        assert!(c.instances[0].announce.active_active);
        one_issue(
            &format!("{INST}active_active = true\n"),
            "instance[0].active_active",
            "needs announce = \"bgp\"",
        );
        one_issue(
            &format!("{INST}announce = \"both\"\nactive_active = true\n"),
            "instance[0].active_active",
            "(announce is \"both\")",
        );
        one_issue(
            &format!(
                "{INST}announce = \"bgp\"\nactive_active = true\nunicast_peers = [\"198.51.100.2\"]\n"
            ),
            "instance[0].unicast_peers",
            "sends no VRRP advertisements",
        );
        let grouped = format!(
            "{INST}announce = \"bgp\"\nactive_active = true\n\
             [[instance]]\nname = \"VI_2\"\ninterface = \"ext0\"\nvrid = 13\nvirtual_ips = [\"198.51.100.11/32\"]\n\
             [[sync_group]]\nname = \"G\"\ninstances = [\"VI_2\", \"VI_1\"]\n"
        );
        one_issue(&grouped, "sync_group[0].instances[1]", "is active_active");
    }
}
