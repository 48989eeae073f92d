//! The converted configuration before it is written as TOML: the values
//! vrrpd's keys take, already checked against vrrpd's rules.

use std::net::IpAddr;
use std::time::Duration;

/// One `[[instance]]` to write.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OutInstance {
    /// keepalived line of `vrrp_instance NAME`.
    pub line: usize,
    /// Comment lines written above the keys (keepalived settings kept for the reader).
    pub comments: Vec<String>,
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub version: u8,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Option<Duration>,
    /// `"addr/len"` strings.
    pub virtual_ips: Vec<String>,
    pub auth_pass: Option<String>,
    /// `[instance.auth_hmac]`.
    pub auth_hmac: Option<OutAuthHmac>,
    pub track: Vec<String>,
    pub unicast_peers: Vec<IpAddr>,
    pub garp_repeat: Option<u8>,
    pub garp_master_delay: Option<Duration>,
    /// `Some(0)` is written as `"0s"` (off).
    pub garp_refresh: Option<Duration>,
    /// `checksum = "message-only"` (keepalived's `v3_checksum_as_v2`).
    pub message_only: bool,
    pub use_vmac: bool,
    pub notify_master: Option<Vec<String>>,
    pub notify_backup: Option<Vec<String>>,
    pub notify_fault: Option<Vec<String>>,
    pub notify_stop: Option<Vec<String>>,
    pub source_ip: Option<IpAddr>,
}

/// `[instance.auth_hmac]` to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutAuthHmac {
    /// (id, `hex:...` / `file:...` / `credential:...`).
    pub keys: Vec<(u8, String)>,
    pub active_key: u8,
    pub mode: Option<String>,
    pub anti_replay: Option<String>,
    /// Seconds.
    pub time_window: Option<u16>,
}

/// What a tracker checks, with its type's keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum OutKind {
    /// `type = "script"`.
    Script {
        argv: Vec<String>,
        interval: Duration,
        timeout: Option<Duration>,
        rise: Option<u32>,
        fall: Option<u32>,
        user: Option<String>,
    },
    /// `type = "process"`.
    Process {
        process: String,
        cmdline_contains: Option<String>,
    },
    /// `type = "interface"`.
    Interface { interface: String },
    /// `type = "file"`.
    File { path: String },
}

/// One `[[track]]` to write.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OutTrack {
    /// keepalived line it was made from (the definition, or the track_interface entry).
    pub line: usize,
    /// What it was made from, for a comment.
    pub origin: String,
    pub name: String,
    pub weight: i32,
    pub kind: OutKind,
}

/// One `[[sync_group]]` to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutGroup {
    pub line: usize,
    pub name: String,
    pub instances: Vec<String>,
}

/// A keepalived section that was not converted as a whole, written as a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Skipped {
    pub line: usize,
    /// e.g. `vrrp_instance VI_3`.
    pub what: String,
    pub reason: String,
}

/// Everything that is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Output {
    pub instances: Vec<OutInstance>,
    pub tracks: Vec<OutTrack>,
    pub groups: Vec<OutGroup>,
    pub skipped: Vec<Skipped>,
}
