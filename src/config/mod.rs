//! The TOML configuration: schema, defaults, validation with key paths.
//!
//! Reading happens in three steps, so that a person sees every mistake at once:
//! 1. the TOML text is parsed (a syntax error stops here, reported as
//!    `FILE:LINE:COL: key.path: reason`);
//! 2. serde reads it into loosely typed `raw` structs that refuse unknown keys
//!    (a type error stops here, reported the same way);
//! 3. `validate` checks every range, default and cross-reference and collects
//!    *all* semantic errors (`FILE: instance[0] ("VI_1").vrid: must be 1..=255, got 0`).
//!
//! The result is a [`Config`] whose values are typed for the daemon to use
//! directly. The key reference is `docs/CONFIG.md`.

mod announce;
mod auth_hmac;
mod duration;
mod error;
mod locate;
mod peers;
mod prefix;
mod raw;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::types::{Centisecs, Priority, Version, Vrid};

pub use announce::{
    Announce, AnnounceMode, VipLease, DEFAULT_ANNOUNCE_INTERFACE, DEFAULT_VIP_LEASE,
    RENEWALS_PER_LEASE,
};
pub use auth_hmac::{
    AuthHmac, AuthHmacError, AuthKey, KeyEnv, KeySecret, KeySource, CREDENTIALS_ENV,
};
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, ConfigIssue, Location};
pub use prefix::{IpPrefix, IpPrefixError};
pub(crate) use validate::unusable_addr;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Daemon-wide settings from `[global]` (defaults when the table is absent).
    pub global: Global,
    /// The virtual routers, from `[[instance]]`, in file order.
    pub instances: Vec<Instance>,
    /// The health checks, from `[[track]]`, in file order.
    pub tracks: Vec<Track>,
    /// Groups of instances that change state together, from `[[sync_group]]`.
    pub sync_groups: Vec<SyncGroup>,
    /// Problems that do not stop the configuration from being used, for the
    /// daemon to log at warn level (for example: a file holding `auth_pass`
    /// that other users can read). Empty from [`parse_str`]; [`load`] adds
    /// the ones about the file itself.
    pub warnings: Vec<String>,
}

impl Config {
    /// The instance with this name.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The tracker with this name.
    pub fn track(&self, name: &str) -> Option<&Track> {
        self.tracks.iter().find(|t| t.name == name)
    }

    /// The sync group an instance belongs to, if any (at most one, validated).
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|i| i == instance))
    }
}

/// Daemon-wide settings (`[global]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Unix socket for `vrrpd` control commands. Default `/run/vrrpd/vrrpd.sock`.
    pub control_socket: PathBuf,
    /// Where to serve Prometheus metrics over HTTP; `None` serves none.
    pub metrics_listen: Option<SocketAddr>,
    /// A FIFO to write keepalived-style state lines to; `None` writes none.
    pub notify_fifo: Option<PathBuf>,
    /// Log line format. Default [`LogFormat::Text`].
    pub log_format: LogFormat,
    /// The lifetime VIPs are added with (`vip_lease`, default 2 s).
    pub vip_lease: VipLease,
    /// The interface BGP-announced VIPs go on (`announce_interface`,
    /// default `vrrpd0`; created as a dummy when missing).
    pub announce_interface: String,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            metrics_listen: None,
            notify_fifo: None,
            log_format: LogFormat::Text,
            vip_lease: VipLease::default(),
            announce_interface: DEFAULT_ANNOUNCE_INTERFACE.to_string(),
        }
    }
}

/// The default `global.control_socket`.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/vrrpd/vrrpd.sock";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (`log_format = "text"`).
    Text,
    /// One JSON object per line (`log_format = "json"`).
    Json,
}

/// The address family of an instance, decided by its `virtual_ips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: VRRP v2 or v3 over IPv4 (protocol 112 to 224.0.0.18).
    Ipv4,
    /// IPv6: VRRP v3 only (to ff02::12, from the link-local address).
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// How the VRRPv3 IPv4 checksum is computed on send (`checksum` key).
///
/// RFC 5798 Section 5.2.8 includes an IPv4 pseudo-header; some older
/// implementations compute it over the VRRP message only. RFC 9568 keeps the
/// pseudo-header form. Received packets are the receiver's concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumForm {
    /// Pseudo-header + VRRP message, as RFC 5798/9568 specify (`"pseudo-header"`, default).
    #[default]
    PseudoHeader,
    /// VRRP message only, for peers that expect it (`"message-only"`).
    MessageOnly,
}

/// One virtual router (`[[instance]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Unique name, used in logs (`(VI_1) Entering MASTER STATE`) and notify scripts.
    pub name: String,
    /// The interface the router runs on (at most 15 bytes, Linux IFNAMSIZ - 1).
    pub interface: String,
    /// Virtual Router Identifier, shared by every router of the group.
    pub vrid: Vrid,
    /// Our priority, 1..=255 (255 = we own the addresses). Default 100.
    pub priority: Priority,
    /// Protocol version. Default v3.
    pub version: Version,
    /// Advertisement interval: v3 a multiple of 10 ms in 10ms..=40.95s; v2
    /// whole seconds in 1..=255 s. Default 1 s.
    pub advert_interval: Duration,
    /// Whether a higher-priority backup takes over from a lower master. Default true.
    pub preempt: bool,
    /// How long to wait before preempting (only with `preempt`). Default 0.
    pub preempt_delay: Duration,
    /// The family of every virtual address (and of peers and source).
    pub family: Family,
    /// The virtual addresses with their prefix lengths; non-empty, one family.
    pub virtual_ips: Vec<IpPrefix>,
    /// VRRPv2 simple-text password (1..=8 bytes); always `None` for v3 and
    /// with `auth_hmac`.
    pub auth_pass: Option<String>,
    /// keepalived 2.4's HMAC-authenticated adverts (v2 and v3); `None` = off.
    pub auth_hmac: Option<AuthHmac>,
    /// Names of `[[track]]` entries that affect this instance (all exist).
    pub track: Vec<String>,
    /// Unicast peers to send to instead of multicast; empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// The only sources adverts are accepted from (others are dropped and
    /// counted as `source_not_allowed`); empty = any. Defaults to `unicast_peers`.
    pub allowed_sources: Vec<IpAddr>,
    /// Unicast only: the lowest IP TTL / hop limit accepted from the unicast
    /// peers. 255 (default) keeps RFC 5798's on-link check; lower lets adverts
    /// cross routers, and needs `auth_hmac` in enforce mode or
    /// `insecure_routed_unicast`.
    pub unicast_min_ttl: u8,
    /// The operator accepts unauthenticated adverts with a TTL below 255 (a
    /// warning at every start and reload).
    pub insecure_routed_unicast: bool,
    /// Gratuitous ARP / unsolicited NA messages sent on becoming master (0..=100). Default 5.
    pub garp_repeat: u8,
    /// Delay before a second burst of gratuitous ARPs after becoming master. Default 5 s.
    pub garp_master_delay: Duration,
    /// Re-send gratuitous ARPs this often while master; `None` = never (default).
    pub garp_refresh: Option<Duration>,
    /// Where the VIPs go (link with GARP, announce interface for BGP, or
    /// both) and whether every healthy node holds them (`announce`,
    /// `active_active`).
    pub announce: Announce,
    /// VRRPv3 IPv4 checksum form on send. Default pseudo-header.
    pub checksum: ChecksumForm,
    /// Use a virtual MAC (00-00-5E-00-01-{VRID}) interface. Default false.
    pub use_vmac: bool,
    /// Program run on entering MASTER: argv, `argv[0]` an absolute path.
    pub notify_master: Option<Vec<String>>,
    /// Program run on entering BACKUP.
    pub notify_backup: Option<Vec<String>>,
    /// Program run on entering FAULT.
    pub notify_fault: Option<Vec<String>>,
    /// Program run when the instance stops.
    pub notify_stop: Option<Vec<String>>,
    /// Source address to send advertisements from; `None` = the interface's
    /// primary address (IPv4) or link-local address (IPv6).
    pub source_ip: Option<IpAddr>,
}

impl Instance {
    /// The advertisement interval in the centiseconds of the v3 wire field.
    /// Validation guarantees the interval is a whole number of centiseconds
    /// and fits the 12-bit field (v2 intervals up to 255 s are also exact).
    pub fn advert_centisecs(&self) -> Centisecs {
        let cs = self.advert_interval.as_millis() / 10;
        Centisecs(u16::try_from(cs).unwrap_or(u16::MAX))
    }
}

/// A health check (`[[track]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique name, referenced from `instance.track`.
    pub name: String,
    /// Effect on the priority, -254..=254. 0: the instance goes to FAULT while
    /// the check fails. Negative: added to the priority while the check fails.
    /// Positive: added to the priority while the check succeeds. For `file`,
    /// the number read from the file is multiplied by the weight.
    pub weight: i16,
    /// What is checked, with the settings of that kind.
    pub kind: TrackKind,
}

/// What a tracker checks.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackKind {
    /// A local process is running (`type = "process"`).
    Process {
        /// The process name (`comm`, at most 15 bytes), if matched by name.
        process: Option<String>,
        /// Only count processes whose command line contains this text.
        cmdline_contains: Option<String>,
        /// Instead of (or besides) the name: the PID in this file must be alive.
        pidfile: Option<PathBuf>,
        /// How often the process table is scanned. Default 1 s.
        rescan_interval: Duration,
        /// Only count processes in vrrpd's own network namespace (default
        /// true): HAProxy runs beside vrrpd, and other namespaces' HAProxies
        /// (which share the PID namespace in a lab or on one host) are not ours.
        same_netns: bool,
    },
    /// An HTTP GET returns the expected status (`type = "http"`).
    Http {
        /// An `http://` URL.
        url: String,
        /// Time between checks (>= 100 ms). Default 1 s.
        interval: Duration,
        /// Time a check may take (> 0, <= interval). Default 1 s.
        timeout: Duration,
        /// Successes in a row to count as up. Default 1.
        rise: u32,
        /// Failures in a row to count as down. Default 1.
        fall: u32,
        /// The HTTP status that means healthy. Default 200.
        expect_status: u16,
    },
    /// A program exits with status 0 (`type = "script"`).
    Script {
        /// The command: `argv[0]` is an absolute path; no shell is involved.
        argv: Vec<String>,
        /// Time between runs (>= 100 ms). Default 1 s.
        interval: Duration,
        /// Time a run may take before it is killed and counted as failed. Default 1 s.
        timeout: Duration,
        /// Successes in a row to count as up. Default 1.
        rise: u32,
        /// Failures in a row to count as down. Default 1.
        fall: u32,
        /// Run as this user; `None` = as vrrpd's user.
        user: Option<String>,
    },
    /// A network interface is up (`type = "interface"`).
    Interface {
        /// The interface name.
        interface: String,
    },
    /// A number read from a file (`type = "file"`): value * weight is applied.
    File {
        /// Absolute path of the file.
        path: PathBuf,
    },
}

/// Instances that change state together (`[[sync_group]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// Unique name, used in logs.
    pub name: String,
    /// Names of the member instances (all exist; none is in another group).
    pub instances: Vec<String>,
}

/// Read, parse and validate a configuration file. Non-fatal findings about
/// the file (see [`Config::warnings`]) come back with the configuration.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    let mut config = parse_str(&text, &file)?;
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        config
            .warnings
            .extend(secret_readable_warning(&config, &file, mode));
        if let Some(issue) = auth_hmac::inline_key_exposed(&config.instances, &file, mode) {
            return Err(ConfigError::Invalid {
                file,
                issues: vec![issue],
            });
        }
    }
    Ok(config)
}

/// A warning when the file holds a VRRPv2 password (`auth_pass`) and its
/// mode lets users other than the owner and group read it.
fn secret_readable_warning(config: &Config, file: &str, mode: u32) -> Option<String> {
    let holders: Vec<String> = config
        .instances
        .iter()
        .enumerate()
        .filter(|(_, i)| i.auth_pass.is_some())
        .map(|(n, i)| format!("instance[{n}] (\"{}\").auth_pass", i.name))
        .collect();
    if holders.is_empty() || mode & 0o004 == 0 {
        return None;
    }
    Some(format!(
        "{file}: mode {:04o} lets every local user read {}; run `chmod 600 {file}`",
        mode & 0o7777,
        holders.join(", ")
    ))
}

/// Parse and validate configuration text; `file_name` is used in messages.
/// Keys named by `auth_hmac` (`file:`, `credential:`) are read, with this
/// process's `$CREDENTIALS_DIRECTORY` and user.
pub fn parse_str(text: &str, file_name: &str) -> Result<Config, ConfigError> {
    parse_str_with(text, file_name, &KeyEnv::from_process())
}

/// [`parse_str`] with a given environment for reading keys.
pub fn parse_str_with(text: &str, file_name: &str, env: &KeyEnv) -> Result<Config, ConfigError> {
    let invalid = |issues: Vec<ConfigIssue>| ConfigError::Invalid {
        file: file_name.to_string(),
        issues,
    };
    let (doc, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    if let Some(err) = syntax_errors.first() {
        // Later syntax errors are often echoes of the first: report one.
        return Err(invalid(vec![locate::issue_from_toml(
            err,
            text,
            doc.get_ref(),
        )]));
    }
    let raw = match raw::RawConfig::deserialize(toml::de::Deserializer::from(doc.clone())) {
        Ok(raw) => raw,
        Err(err) => {
            return Err(invalid(vec![locate::issue_from_toml(
                &err,
                text,
                doc.get_ref(),
            )]))
        }
    };
    validate::validate(raw, env).map_err(invalid)
}
