//! Semantic validation: ranges, defaults, per-version rules and
//! cross-references. Every problem is collected; none stops the others.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::announce;
use super::auth_hmac::{self, KeyEnv};
use super::duration::{format_duration, parse_duration};
use super::error::ConfigIssue;
use super::peers;
use super::prefix::IpPrefix;
use super::raw::{RawConfig, RawGlobal, RawInstance, RawSyncGroup, RawTrack};
use super::{
    ChecksumForm, Config, Family, Global, Instance, LogFormat, SyncGroup, Track, TrackKind,
    DEFAULT_CONTROL_SOCKET,
};
use crate::core::types::{Priority, Version, Vrid};

/// Longest interface name Linux accepts (IFNAMSIZ 16, minus the NUL).
const IFNAME_MAX: usize = 15;
/// Longest process name the kernel keeps in `comm` (TASK_COMM_LEN 16, minus the NUL).
const COMM_MAX: usize = 15;
/// Longest instance, track or group name.
const NAME_MAX: usize = 64;
/// Upper bound for the check intervals, delays and timeouts.
const HOUR: Duration = Duration::from_secs(3600);
/// Shortest interval for the polling trackers.
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// The VRRP Count IPvX Addr field is 8 bits.
const MAX_VIPS: usize = 255;
/// IPv6 addresses that fit one 1500-byte advertisement: (1500 - 40 - 8) / 16.
const MAX_VIPS_V6: usize = 90;

/// Validate the raw file; on failure, every issue found.
pub(super) fn validate(raw: RawConfig, env: &KeyEnv) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Vec::new();

    let global = validate_global(raw.global.as_ref(), &mut issues);

    if raw.instance.is_empty() {
        issues.push(ConfigIssue {
            path: "instance".into(),
            section_name: None,
            reason: "no [[instance]] is defined; a configuration needs at least one virtual router"
                .into(),
            location: None,
        });
    }

    // Tracks first, so that instances can check their references.
    let mut tracks = Vec::new();
    let mut track_names: HashMap<&str, usize> = HashMap::new();
    for (i, t) in raw.track.iter().enumerate() {
        let mut s = Section::new(&mut issues, format!("track[{i}]"), t.name.as_deref());
        if let Some(name) = t.name.as_deref() {
            if let Some(first) = track_names.get(name) {
                s.err("name", format!("\"{name}\" is already the name of track[{first}]; track names must be unique"));
            } else {
                track_names.insert(name, i);
            }
        }
        if let Some(track) = validate_track(&mut s, t) {
            tracks.push(track);
        }
    }

    let mut instances = Vec::new();
    let mut instance_names: HashMap<&str, usize> = HashMap::new();
    let mut routers: HashMap<(String, u8, Family), usize> = HashMap::new();
    for (i, inst) in raw.instance.iter().enumerate() {
        let mut s = Section::new(&mut issues, format!("instance[{i}]"), inst.name.as_deref());
        if let Some(name) = inst.name.as_deref() {
            if let Some(first) = instance_names.get(name) {
                s.err("name", format!("\"{name}\" is already the name of instance[{first}]; instance names must be unique"));
            } else {
                instance_names.insert(name, i);
            }
        }
        for (j, t) in inst.track.iter().flatten().enumerate() {
            if !track_names.contains_key(t.as_str()) {
                let known = if track_names.is_empty() {
                    "no [[track]] is defined".to_string()
                } else {
                    let mut names: Vec<_> = track_names.keys().copied().collect();
                    names.sort_unstable();
                    format!("defined tracks: {}", names.join(", "))
                };
                s.err(
                    &format!("track[{j}]"),
                    format!("no [[track]] is named \"{t}\" ({known})"),
                );
            }
        }
        if let Some(instance) = validate_instance(&mut s, inst, env) {
            let key = (
                instance.interface.clone(),
                instance.vrid.get(),
                instance.family,
            );
            if let Some(first) = routers.get(&key) {
                s.err(
                    "vrid",
                    format!(
                        "VRID {} on interface {} ({}) is already used by instance[{first}]; \
                         each virtual router on a link needs its own VRID",
                        key.1, key.0, key.2
                    ),
                );
            } else {
                routers.insert(key, i);
            }
            instances.push(instance);
        }
    }

    let mut sync_groups = Vec::new();
    let mut group_names: HashMap<&str, usize> = HashMap::new();
    let mut member_of: HashMap<&str, usize> = HashMap::new();
    for (g, group) in raw.sync_group.iter().enumerate() {
        let mut s = Section::new(
            &mut issues,
            format!("sync_group[{g}]"),
            group.name.as_deref(),
        );
        if let Some(name) = group.name.as_deref() {
            if let Some(first) = group_names.get(name) {
                s.err("name", format!("\"{name}\" is already the name of sync_group[{first}]; group names must be unique"));
            } else {
                group_names.insert(name, g);
            }
        }
        for (j, member) in group.instances.iter().flatten().enumerate() {
            let key = format!("instances[{j}]");
            if !instance_names.contains_key(member.as_str()) {
                s.err(&key, format!("no [[instance]] is named \"{member}\""));
            } else if let Some(&other) = member_of.get(member.as_str()) {
                if other == g {
                    s.err(&key, format!("\"{member}\" is listed twice"));
                } else {
                    s.err(&key, format!("\"{member}\" is already in sync_group[{other}]; an instance can be in one sync group only"));
                }
            } else {
                member_of.insert(member.as_str(), g);
            }
        }
        if let Some(sg) = validate_sync_group(&mut s, group) {
            sync_groups.push(sg);
        }
    }

    announce::cross_checks(
        &mut issues,
        &global.announce_interface,
        &raw.instance,
        &raw.sync_group,
    );

    if issues.is_empty() {
        let warnings = instances
            .iter()
            .enumerate()
            .filter_map(|(n, i)| peers::insecure_warning(i, n))
            .chain(
                sync_groups
                    .iter()
                    .enumerate()
                    .filter_map(|(g, sg)| peers::sync_group_warning(sg, g, &instances)),
            )
            .collect();
        Ok(Config {
            global,
            instances,
            tracks,
            sync_groups,
            warnings,
        })
    } else {
        Err(issues)
    }
}

/// Issues for one section (`instance[0]`, `track[2]`, `global`...).
pub(super) struct Section<'a> {
    issues: &'a mut Vec<ConfigIssue>,
    base: String,
    name: Option<String>,
}

impl<'a> Section<'a> {
    pub(super) fn new(issues: &'a mut Vec<ConfigIssue>, base: String, name: Option<&str>) -> Self {
        Section {
            issues,
            base,
            name: name.map(str::to_string),
        }
    }

    /// Record a problem with `key` (relative to the section).
    pub(super) fn err(&mut self, key: &str, reason: impl Into<String>) {
        let path = if key.is_empty() {
            self.base.clone()
        } else if self.base.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.base)
        };
        self.issues.push(ConfigIssue {
            path,
            section_name: self.name.clone(),
            reason: reason.into(),
            location: None,
        });
    }

    /// A required value.
    fn required<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.err(key, "required key is missing");
        }
        value
    }

    /// An integer in `lo..=hi`, with an optional default.
    fn int(
        &mut self,
        key: &str,
        value: Option<i64>,
        default: Option<i64>,
        lo: i64,
        hi: i64,
    ) -> Option<i64> {
        let v = match value.or(default) {
            Some(v) => v,
            None => {
                self.err(key, "required key is missing");
                return None;
            }
        };
        if (lo..=hi).contains(&v) {
            Some(v)
        } else {
            self.err(key, format!("must be {lo}..={hi}, got {v}"));
            None
        }
    }

    /// A duration string in `min..=max`, with a default.
    fn duration(
        &mut self,
        key: &str,
        value: Option<&str>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let d = match value {
            None => default,
            Some(text) => match parse_duration(text) {
                Ok(d) => d,
                Err(reason) => {
                    self.err(key, reason);
                    return None;
                }
            },
        };
        if d < min || d > max {
            self.err(
                key,
                format!(
                    "must be {}..={}, got \"{}\"",
                    format_duration(min),
                    format_duration(max),
                    value.unwrap_or_default()
                ),
            );
            return None;
        }
        Some(d)
    }

    /// A name for an instance, track or group.
    fn name(&mut self, value: Option<&String>) -> Option<String> {
        let name = self.required("name", value)?;
        if name.is_empty() {
            self.err("name", "must not be empty");
            return None;
        }
        if name.len() > NAME_MAX {
            self.err(
                "name",
                format!("must be at most {NAME_MAX} bytes, got {}", name.len()),
            );
            return None;
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
        {
            self.err("name", format!("{name:?} contains a space, a quote or a control character; names appear in logs and notify arguments, use e.g. \"VI_1\""));
            return None;
        }
        Some(name.clone())
    }

    /// A Linux interface name.
    pub(super) fn ifname(&mut self, key: &str, value: Option<&String>) -> Option<String> {
        let name = self.required(key, value)?;
        if name.is_empty() {
            self.err(key, "must not be empty");
            None
        } else if name.len() > IFNAME_MAX {
            self.err(
                key,
                format!(
                    "\"{name}\" is {} bytes; Linux interface names are at most {IFNAME_MAX} bytes",
                    name.len()
                ),
            );
            None
        } else if name == "."
            || name == ".."
            || name
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            self.err(
                key,
                format!("{name:?} is not a valid Linux interface name (no '/', ':' or spaces)"),
            );
            None
        } else {
            Some(name.clone())
        }
    }

    /// An absolute file path.
    fn abs_path(&mut self, key: &str, value: &str) -> Option<PathBuf> {
        if value.starts_with('/') && !value.contains('\0') {
            Some(PathBuf::from(value))
        } else {
            self.err(
                key,
                format!("must be an absolute path (starting with /), got {value:?}"),
            );
            None
        }
    }

    /// A program and its arguments, run without a shell.
    fn argv(&mut self, key: &str, value: &[String]) -> Option<Vec<String>> {
        let Some(program) = value.first() else {
            self.err(key, "must not be empty: give the program and its arguments, e.g. [\"/usr/local/bin/notify\", \"master\"]");
            return None;
        };
        if !program.starts_with('/') {
            self.err(&format!("{key}[0]"), format!("the program must be an absolute path (no shell, no PATH lookup), got {program:?}"));
            return None;
        }
        if let Some(j) = value.iter().position(|a| a.contains('\0')) {
            self.err(&format!("{key}[{j}]"), "must not contain a NUL character");
            return None;
        }
        Some(value.to_vec())
    }
}

fn validate_global(raw: Option<&RawGlobal>, issues: &mut Vec<ConfigIssue>) -> Global {
    let mut global = Global::default();
    let Some(raw) = raw else { return global };
    let mut s = Section::new(issues, "global".into(), None);
    if let Some(p) = raw.control_socket.as_deref() {
        if let Some(p) = s.abs_path("control_socket", p) {
            global.control_socket = p;
        }
    } else {
        global.control_socket = PathBuf::from(DEFAULT_CONTROL_SOCKET);
    }
    if let Some(text) = raw.metrics_listen.as_deref() {
        match text.parse::<SocketAddr>() {
            Ok(a) => global.metrics_listen = Some(a),
            Err(_) => s.err(
                "metrics_listen",
                format!(
                    "must be \"ip:port\" (e.g. \"127.0.0.1:9650\" or \"[::1]:9650\"), got {text:?}"
                ),
            ),
        }
    }
    if let Some(p) = raw.notify_fifo.as_deref() {
        global.notify_fifo = s.abs_path("notify_fifo", p);
    }
    match raw.log_format.as_deref() {
        None | Some("text") => global.log_format = LogFormat::Text,
        Some("json") => global.log_format = LogFormat::Json,
        Some(other) => s.err(
            "log_format",
            format!("must be \"text\" or \"json\", got {other:?}"),
        ),
    }
    (global.vip_lease, global.announce_interface) = announce::global_keys(&mut s, raw);
    global
}

/// Refuse addresses that can never be a VRRP address or peer (also used by
/// the keepalived import, so that it drops exactly what `check` would refuse).
pub(crate) fn unusable_addr(addr: IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("the unspecified address")
    } else if addr.is_multicast() {
        Some("a multicast address")
    } else if addr.is_loopback() {
        Some("a loopback address")
    } else if addr == IpAddr::from([255, 255, 255, 255]) {
        Some("the broadcast address")
    } else {
        None
    }
}

fn validate_instance(s: &mut Section<'_>, raw: &RawInstance, env: &KeyEnv) -> Option<Instance> {
    let name = s.name(raw.name.as_ref());
    let interface = s.ifname("interface", raw.interface.as_ref());
    let vrid = s
        .int("vrid", raw.vrid, None, 1, 255)
        .and_then(|v| Vrid::new(u8::try_from(v).ok()?));
    let priority = s
        .int("priority", raw.priority, Some(100), 1, 255)
        .and_then(|v| u8::try_from(v).ok())
        .map(Priority);
    let version = match raw.version.unwrap_or(3) {
        2 => Some(Version::V2),
        3 => Some(Version::V3),
        other => {
            s.err("version", format!("must be 2 or 3, got {other}"));
            None
        }
    };

    // RFC 5798 Section 5.2.7 (12-bit centiseconds), RFC 3768 Section 5.3.7 (8-bit seconds).
    let advert_interval = match parse_duration(raw.advert_interval.as_deref().unwrap_or("1s")) {
        Err(reason) => {
            s.err("advert_interval", reason);
            None
        }
        Ok(d) => {
            let text = raw.advert_interval.as_deref().unwrap_or("1s");
            let ms = d.as_millis();
            match version {
                Some(Version::V3) if ms % 10 != 0 => {
                    s.err("advert_interval", format!("VRRPv3 sends the interval in centiseconds: must be a multiple of 10ms, got \"{text}\""));
                    None
                }
                Some(Version::V3) if !(10..=40_950).contains(&ms) => {
                    s.err(
                        "advert_interval",
                        format!("must be 10ms..=40.95s with version 3, got \"{text}\""),
                    );
                    None
                }
                Some(Version::V2) if ms % 1000 != 0 => {
                    s.err("advert_interval", format!("VRRPv2 sends the interval in whole seconds, got \"{text}\"; use whole seconds or version = 3"));
                    None
                }
                Some(Version::V2) if !(1_000..=255_000).contains(&ms) => {
                    s.err(
                        "advert_interval",
                        format!("must be 1s..=255s with version 2, got \"{text}\""),
                    );
                    None
                }
                _ => Some(d),
            }
        }
    };

    let preempt = raw.preempt.unwrap_or(true);
    let preempt_delay = s.duration(
        "preempt_delay",
        raw.preempt_delay.as_deref(),
        Duration::ZERO,
        Duration::ZERO,
        Duration::from_secs(1000),
    );
    if !preempt && preempt_delay.is_some_and(|d| !d.is_zero()) {
        s.err(
            "preempt_delay",
            "has no effect with preempt = false; remove it or set preempt = true",
        );
    }

    // Virtual addresses: non-empty, valid, one family, no repeats.
    let mut family = None;
    let mut vips = Vec::new();
    let mut vips_ok = true;
    match raw.virtual_ips.as_deref() {
        None => {
            s.err(
                "virtual_ips",
                "required key is missing: list the virtual addresses, e.g. [\"172.16.1.254/24\"]",
            );
            vips_ok = false;
        }
        Some([]) => {
            s.err(
                "virtual_ips",
                "must list at least one address, e.g. [\"172.16.1.254/24\"]",
            );
            vips_ok = false;
        }
        Some(list) => {
            let mut seen = HashSet::new();
            for (j, text) in list.iter().enumerate() {
                let key = format!("virtual_ips[{j}]");
                let p = match text.parse::<IpPrefix>() {
                    Ok(p) => p,
                    Err(e) => {
                        s.err(&key, format!("{e} (expected an address with its prefix, e.g. \"172.16.1.254/24\" or \"2001:db8::1/64\")"));
                        vips_ok = false;
                        continue;
                    }
                };
                if let Some(what) = unusable_addr(p.addr) {
                    s.err(
                        &key,
                        format!("{} is {what}, which cannot be a virtual address", p.addr),
                    );
                    vips_ok = false;
                    continue;
                }
                let f = Family::of(p.addr);
                match family {
                    None => {
                        family = Some(f);
                        if f == Family::Ipv6 && version == Some(Version::V2) {
                            s.err(
                                &key,
                                "is IPv6, which needs version = 3 (VRRPv2 is IPv4 only)",
                            );
                            vips_ok = false;
                        }
                    }
                    Some(first) if first != f => {
                        s.err(&key, format!("is {f} but the first virtual address is {first}; all virtual_ips of an instance must be one family (use one instance per family)"));
                        vips_ok = false;
                        continue;
                    }
                    Some(_) => {}
                }
                if !seen.insert(p.addr) {
                    s.err(&key, format!("{} is listed twice", p.addr));
                    vips_ok = false;
                    continue;
                }
                vips.push(p);
            }
            let max = if family == Some(Family::Ipv6) {
                MAX_VIPS_V6
            } else {
                MAX_VIPS
            };
            if list.len() > max {
                s.err(
                    "virtual_ips",
                    format!(
                        "has {} addresses; at most {max} fit one advertisement",
                        list.len()
                    ),
                );
                vips_ok = false;
            }
        }
    }

    // RFC 3768 Section 5.3.6: simple text authentication, 8 octets; RFC 5798 removed it.
    let mut auth_ok = true;
    if let Some(pass) = raw.auth_pass.as_deref() {
        if version == Some(Version::V3) {
            s.err("auth_pass", "is only for version = 2; VRRPv3 has no authentication (RFC 5798 Section 9), remove auth_pass or set version = 2");
            auth_ok = false;
        } else if pass.is_empty() || pass.len() > 8 {
            s.err(
                "auth_pass",
                format!("must be 1..=8 bytes, got {} bytes", pass.len()),
            );
            auth_ok = false;
        }
    }

    // keepalived 2.4 auth_hmac: HMAC-SHA256 trailer on every advert.
    let mut auth_hmac_ok = true;
    let auth_hmac = match raw.auth_hmac.as_ref() {
        None => None,
        Some(a) => {
            let v = auth_hmac::validate(s, a, advert_interval, env);
            auth_hmac_ok = v.is_some();
            v
        }
    };
    if raw.auth_hmac.is_some() && raw.auth_pass.is_some() {
        s.err(
            "auth_pass",
            "cannot be combined with auth_hmac (keepalived drops the password then too); remove auth_pass",
        );
        auth_ok = false;
    }

    let mut track = Vec::new();
    let mut track_ok = true;
    for (j, t) in raw.track.iter().flatten().enumerate() {
        if track.contains(t) {
            s.err(&format!("track[{j}]"), format!("\"{t}\" is listed twice"));
            track_ok = false;
        } else {
            track.push(t.clone());
        }
    }

    let mut peers = Vec::new();
    let mut peers_ok = true;
    for (j, text) in raw.unicast_peers.iter().flatten().enumerate() {
        let key = format!("unicast_peers[{j}]");
        match text.parse::<IpAddr>() {
            Err(_) => {
                s.err(
                    &key,
                    format!("{text:?} is not an IP address (no prefix length here)"),
                );
                peers_ok = false;
            }
            Ok(a) => {
                if let Some(what) = unusable_addr(a) {
                    s.err(
                        &key,
                        format!("{a} is {what}, which cannot be a unicast peer"),
                    );
                    peers_ok = false;
                } else if family.is_some_and(|f| f != Family::of(a)) {
                    s.err(
                        &key,
                        format!(
                            "{a} is {} but the virtual_ips are {}; peers must be the same family",
                            Family::of(a),
                            family.map_or(String::new(), |f| f.to_string())
                        ),
                    );
                    peers_ok = false;
                } else if peers.contains(&a) {
                    s.err(&key, format!("{a} is listed twice"));
                    peers_ok = false;
                } else {
                    peers.push(a);
                }
            }
        }
    }

    let peer_rules = if peers_ok {
        peers::validate(
            s,
            raw.allowed_sources.as_deref(),
            raw.unicast_min_ttl,
            raw.insecure_routed_unicast,
            family,
            &peers,
            auth_hmac.as_ref(),
        )
    } else {
        None
    };

    let garp_repeat = s
        .int("garp_repeat", raw.garp_repeat, Some(5), 0, 100)
        .and_then(|v| u8::try_from(v).ok());
    let garp_master_delay = s.duration(
        "garp_master_delay",
        raw.garp_master_delay.as_deref(),
        Duration::from_secs(5),
        Duration::ZERO,
        HOUR,
    );
    let garp_refresh = match raw.garp_refresh.as_deref() {
        None => Some(None),
        Some(text) => match parse_duration(text) {
            Err(reason) => {
                s.err("garp_refresh", reason);
                None
            }
            Ok(d) if d.is_zero() => Some(None),
            Ok(d) if d < Duration::from_secs(1) || d > HOUR => {
                s.err(
                    "garp_refresh",
                    format!("must be \"0s\" (off) or 1s..=3600s, got {text:?}"),
                );
                None
            }
            Ok(d) => Some(Some(d)),
        },
    };

    let checksum = match raw.checksum.as_deref() {
        None => Some(ChecksumForm::PseudoHeader),
        Some(text) => {
            let form = match text {
                "pseudo-header" => Some(ChecksumForm::PseudoHeader),
                "message-only" => Some(ChecksumForm::MessageOnly),
                other => {
                    s.err(
                        "checksum",
                        format!("must be \"pseudo-header\" or \"message-only\", got {other:?}"),
                    );
                    None
                }
            };
            if version == Some(Version::V2) {
                s.err("checksum", "only applies to version = 3 (the VRRPv2 checksum covers the message only); remove it");
                None
            } else if family == Some(Family::Ipv6) && form == Some(ChecksumForm::MessageOnly) {
                s.err("checksum", "\"message-only\" is an IPv4 option; VRRPv3 over IPv6 always uses the pseudo-header");
                None
            } else {
                form
            }
        }
    };

    let announce = announce::instance_keys(s, raw);

    let mut notify_ok = true;
    let mut notify =
        |s: &mut Section<'_>, key: &str, v: &Option<Vec<String>>| -> Option<Vec<String>> {
            let argv = v.as_deref().map(|argv| s.argv(key, argv));
            if argv.as_ref().is_some_and(Option::is_none) {
                notify_ok = false;
            }
            argv.flatten()
        };
    let notify_master = notify(s, "notify_master", &raw.notify_master);
    let notify_backup = notify(s, "notify_backup", &raw.notify_backup);
    let notify_fault = notify(s, "notify_fault", &raw.notify_fault);
    let notify_stop = notify(s, "notify_stop", &raw.notify_stop);

    let source_ip = match raw.source_ip.as_deref() {
        None => Some(None),
        Some(text) => match text.parse::<IpAddr>() {
            Err(_) => {
                s.err(
                    "source_ip",
                    format!("{text:?} is not an IP address (no prefix length here)"),
                );
                None
            }
            Ok(a) => {
                if let Some(what) = unusable_addr(a) {
                    s.err(
                        "source_ip",
                        format!("{a} is {what}, which cannot be a source address"),
                    );
                    None
                } else if family.is_some_and(|f| f != Family::of(a)) {
                    s.err("source_ip", format!("{a} is {} but the virtual_ips are not; use an address of the same family", Family::of(a)));
                    None
                } else if let IpAddr::V6(v6) = a {
                    // RFC 5798 Section 5.1.2.1: the source is the link-local address.
                    if v6.segments()[0] & 0xffc0 != 0xfe80 {
                        s.err("source_ip", format!("{a} is not link-local; VRRPv3 over IPv6 must be sent from the interface's fe80::/10 address"));
                        None
                    } else {
                        Some(Some(a))
                    }
                } else if peers.contains(&a) {
                    s.err("source_ip", format!("{a} is also listed in unicast_peers"));
                    None
                } else {
                    Some(Some(a))
                }
            }
        },
    };

    Some(Instance {
        name: name?,
        interface: interface?,
        vrid: vrid?,
        priority: priority?,
        version: version?,
        advert_interval: advert_interval?,
        preempt,
        preempt_delay: preempt_delay?,
        family: if vips_ok { family? } else { return None },
        virtual_ips: vips,
        auth_pass: if auth_ok {
            raw.auth_pass.clone()
        } else {
            return None;
        },
        auth_hmac: if auth_hmac_ok { auth_hmac } else { return None },
        track: if track_ok { track } else { return None },
        unicast_peers: if peers_ok { peers } else { return None },
        allowed_sources: peer_rules.as_ref()?.allowed_sources.clone(),
        unicast_min_ttl: peer_rules.as_ref()?.unicast_min_ttl,
        insecure_routed_unicast: peer_rules.as_ref()?.insecure_routed_unicast,
        garp_repeat: garp_repeat?,
        garp_master_delay: garp_master_delay?,
        garp_refresh: garp_refresh?,
        announce: announce?,
        checksum: checksum?,
        use_vmac: raw.use_vmac.unwrap_or(false),
        notify_master: if notify_ok {
            notify_master
        } else {
            return None;
        },
        notify_backup,
        notify_fault,
        notify_stop,
        source_ip: source_ip?,
    })
}

/// The keys each tracker type accepts, besides name, type and weight.
const TRACK_KEYS: &[(&str, &[&str])] = &[
    (
        "process",
        &[
            "process",
            "cmdline_contains",
            "pidfile",
            "rescan_interval",
            "same_netns",
        ],
    ),
    (
        "http",
        &[
            "url",
            "interval",
            "timeout",
            "rise",
            "fall",
            "expect_status",
        ],
    ),
    (
        "script",
        &["argv", "interval", "timeout", "rise", "fall", "user"],
    ),
    ("interface", &["interface"]),
    ("file", &["path"]),
];

fn validate_track(s: &mut Section<'_>, raw: &RawTrack) -> Option<Track> {
    let name = s.name(raw.name.as_ref());
    let weight = s
        .int("weight", raw.weight, Some(0), -254, 254)
        .and_then(|w| i16::try_from(w).ok());
    let kind_name = s.required("type", raw.kind.as_deref())?;
    let Some((_, allowed)) = TRACK_KEYS.iter().find(|(k, _)| *k == kind_name) else {
        s.err("type", format!("must be one of \"process\", \"http\", \"script\", \"interface\", \"file\"; got {kind_name:?}"));
        return None;
    };
    let mut keys_ok = true;
    for key in raw.set_keys() {
        if !allowed.contains(&key) {
            let owners: Vec<&str> = TRACK_KEYS
                .iter()
                .filter(|(_, keys)| keys.contains(&key))
                .map(|(k, _)| *k)
                .collect();
            s.err(key, format!("does not apply to type = \"{kind_name}\" (it is a key of type {}); keys for \"{kind_name}\": {}", owners.join(", "), allowed.join(", ")));
            keys_ok = false;
        }
    }

    let kind = match kind_name {
        "process" => validate_process(s, raw),
        "http" => validate_http(s, raw),
        "script" => validate_script(s, raw),
        "interface" => s
            .ifname("interface", raw.interface.as_ref())
            .map(|interface| TrackKind::Interface { interface }),
        _ => {
            let path = s.required("path", raw.path.as_deref());
            path.and_then(|p| s.abs_path("path", p))
                .map(|path| TrackKind::File { path })
        }
    };
    if !keys_ok {
        return None;
    }
    Some(Track {
        name: name?,
        weight: weight?,
        kind: kind?,
    })
}

fn validate_process(s: &mut Section<'_>, raw: &RawTrack) -> Option<TrackKind> {
    let mut ok = true;
    if raw.process.is_none() && raw.pidfile.is_none() {
        s.err(
            "process",
            "required key is missing: set process (the process name) or pidfile",
        );
        ok = false;
    }
    if let Some(p) = raw.process.as_deref() {
        if p.is_empty() {
            s.err("process", "must not be empty");
            ok = false;
        } else if p.len() > COMM_MAX || p.contains('/') {
            s.err("process", format!("{p:?} cannot match: the kernel keeps at most {COMM_MAX} bytes of a process name (comm) and no path; use the short name and cmdline_contains"));
            ok = false;
        }
    }
    if let Some(c) = raw.cmdline_contains.as_deref() {
        if c.is_empty() {
            s.err(
                "cmdline_contains",
                "must not be empty (remove it to match any command line)",
            );
            ok = false;
        } else if raw.process.is_none() {
            s.err(
                "cmdline_contains",
                "needs process: it narrows the processes matched by name",
            );
            ok = false;
        }
    }
    let pidfile = match raw.pidfile.as_deref() {
        None => Some(None),
        Some(p) => s.abs_path("pidfile", p).map(Some),
    };
    let rescan_interval = s.duration(
        "rescan_interval",
        raw.rescan_interval.as_deref(),
        Duration::from_secs(1),
        MIN_CHECK_INTERVAL,
        HOUR,
    );
    if !ok {
        return None;
    }
    Some(TrackKind::Process {
        process: raw.process.clone(),
        cmdline_contains: raw.cmdline_contains.clone(),
        pidfile: pidfile?,
        rescan_interval: rescan_interval?,
        same_netns: raw.same_netns.unwrap_or(true),
    })
}

/// interval, timeout, rise and fall, shared by http and script.
fn validate_timing(s: &mut Section<'_>, raw: &RawTrack) -> Option<(Duration, Duration, u32, u32)> {
    let interval = s.duration(
        "interval",
        raw.interval.as_deref(),
        Duration::from_secs(1),
        MIN_CHECK_INTERVAL,
        HOUR,
    );
    // The default timeout is the interval: a check must end before the next starts.
    let timeout = match (raw.timeout.as_deref(), interval) {
        (None, Some(i)) => Some(i),
        (None, None) => None,
        (Some(text), _) => match parse_duration(text) {
            Err(reason) => {
                s.err("timeout", reason);
                None
            }
            Ok(t) if t.is_zero() => {
                s.err("timeout", "must be more than 0s");
                None
            }
            Ok(t) if interval.is_some_and(|i| t > i) => {
                s.err("timeout", format!("{text:?} is longer than interval \"{}\"; a check must finish before the next one starts", format_duration(interval.unwrap_or_default())));
                None
            }
            Ok(t) => Some(t),
        },
    };
    let rise = s.int("rise", raw.rise, Some(1), 1, 100);
    let fall = s.int("fall", raw.fall, Some(1), 1, 100);
    Some((
        interval?,
        timeout?,
        u32::try_from(rise?).ok()?,
        u32::try_from(fall?).ok()?,
    ))
}

fn validate_http(s: &mut Section<'_>, raw: &RawTrack) -> Option<TrackKind> {
    let url = s.required("url", raw.url.as_deref()).and_then(|url| {
        if url.starts_with("https://") {
            s.err("url", "https is not supported; use an http:// URL (e.g. a local health endpoint)");
            None
        } else if url
            .strip_prefix("http://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace))
        {
            Some(url.to_string())
        } else {
            s.err("url", format!("must be an http:// URL with a host, e.g. \"http://127.0.0.1:8080/health\", got {url:?}"));
            None
        }
    });
    let timing = validate_timing(s, raw);
    let expect_status = s
        .int("expect_status", raw.expect_status, Some(200), 100, 599)
        .and_then(|v| u16::try_from(v).ok());
    let (interval, timeout, rise, fall) = timing?;
    Some(TrackKind::Http {
        url: url?,
        interval,
        timeout,
        rise,
        fall,
        expect_status: expect_status?,
    })
}

fn validate_script(s: &mut Section<'_>, raw: &RawTrack) -> Option<TrackKind> {
    let argv = s
        .required("argv", raw.argv.as_deref())
        .and_then(|argv| s.argv("argv", argv));
    let timing = validate_timing(s, raw);
    let user = match raw.user.as_deref() {
        Some("") => {
            s.err(
                "user",
                "must not be empty (remove it to run as vrrpd's user)",
            );
            None
        }
        u => Some(u.map(str::to_string)),
    };
    let (interval, timeout, rise, fall) = timing?;
    Some(TrackKind::Script {
        argv: argv?,
        interval,
        timeout,
        rise,
        fall,
        user: user?,
    })
}

fn validate_sync_group(s: &mut Section<'_>, raw: &RawSyncGroup) -> Option<SyncGroup> {
    let name = s.name(raw.name.as_ref());
    let instances = match raw.instances.as_deref() {
        None => {
            s.err(
                "instances",
                "required key is missing: list the member instance names",
            );
            None
        }
        Some([]) => {
            s.err("instances", "must list at least one instance name");
            None
        }
        Some(list) => Some(list.to_vec()),
    };
    Some(SyncGroup {
        name: name?,
        instances: instances?,
    })
}
