//! The file as serde reads it: every key optional and loosely typed, unknown
//! keys refused. Ranges, defaults and cross-references are checked later in
//! `validate`, so that every semantic error can be reported at once.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub global: Option<RawGlobal>,
    #[serde(default)]
    pub instance: Vec<RawInstance>,
    #[serde(default)]
    pub track: Vec<RawTrack>,
    #[serde(default)]
    pub sync_group: Vec<RawSyncGroup>,
}

/// `[global]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub control_socket: Option<String>,
    pub metrics_listen: Option<String>,
    pub notify_fifo: Option<String>,
    pub log_format: Option<String>,
    // VIP lease and announcement (config/announce.rs)
    pub vip_lease: Option<String>,
    pub vip_lease_renew: Option<String>,
    pub announce_interface: Option<String>,
}

/// One `[[instance]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub name: Option<String>,
    pub interface: Option<String>,
    pub vrid: Option<i64>,
    pub priority: Option<i64>,
    pub version: Option<i64>,
    pub advert_interval: Option<String>,
    pub preempt: Option<bool>,
    pub preempt_delay: Option<String>,
    pub virtual_ips: Option<Vec<String>>,
    pub auth_pass: Option<String>,
    pub auth_hmac: Option<super::auth_hmac::RawAuthHmac>,
    pub track: Option<Vec<String>>,
    pub unicast_peers: Option<Vec<String>>,
    pub allowed_sources: Option<Vec<String>>,
    pub unicast_min_ttl: Option<i64>,
    pub insecure_routed_unicast: Option<bool>,
    pub garp_repeat: Option<i64>,
    pub garp_master_delay: Option<String>,
    pub garp_refresh: Option<String>,
    // VIP announcement (config/announce.rs)
    pub announce: Option<String>,
    pub active_active: Option<bool>,
    pub checksum: Option<String>,
    pub use_vmac: Option<bool>,
    pub notify_master: Option<Vec<String>>,
    pub notify_backup: Option<Vec<String>>,
    pub notify_fault: Option<Vec<String>>,
    pub notify_stop: Option<Vec<String>>,
    pub source_ip: Option<String>,
}

/// One `[[track]]`: the union of the keys of every tracker type; which ones
/// apply depends on `type` and is checked in `validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrack {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub weight: Option<i64>,
    // process
    pub process: Option<String>,
    pub cmdline_contains: Option<String>,
    pub pidfile: Option<String>,
    pub rescan_interval: Option<String>,
    pub same_netns: Option<bool>,
    // http and script
    pub url: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub rise: Option<i64>,
    pub fall: Option<i64>,
    pub expect_status: Option<i64>,
    pub argv: Option<Vec<String>>,
    pub user: Option<String>,
    // interface
    pub interface: Option<String>,
    // file
    pub path: Option<String>,
}

impl RawTrack {
    /// The keys that are set, by name, for the "does not apply to this type" check.
    pub fn set_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut add = |set: bool, k: &'static str| {
            if set {
                keys.push(k);
            }
        };
        add(self.process.is_some(), "process");
        add(self.cmdline_contains.is_some(), "cmdline_contains");
        add(self.pidfile.is_some(), "pidfile");
        add(self.rescan_interval.is_some(), "rescan_interval");
        add(self.same_netns.is_some(), "same_netns");
        add(self.url.is_some(), "url");
        add(self.interval.is_some(), "interval");
        add(self.timeout.is_some(), "timeout");
        add(self.rise.is_some(), "rise");
        add(self.fall.is_some(), "fall");
        add(self.expect_status.is_some(), "expect_status");
        add(self.argv.is_some(), "argv");
        add(self.user.is_some(), "user");
        add(self.interface.is_some(), "interface");
        add(self.path.is_some(), "path");
        keys
    }
}

/// One `[[sync_group]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyncGroup {
    pub name: Option<String>,
    pub instances: Option<Vec<String>>,
}
