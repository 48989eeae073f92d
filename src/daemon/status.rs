//! The status document served on the control socket (`vrrpd status --json`).
//!
//! Field names are a stable interface: tools parse them. Add fields, never
//! rename or remove one. docs/STATUS.md describes each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// vrrpd version.
    pub version: String,
    /// Process id.
    pub pid: u32,
    /// Configuration file in force.
    pub config: String,
    /// One entry per instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Packets dropped before they reached an instance, by reason
    /// (`ttl`, `checksum`, `version`, `type`, `length`, `truncated`, `family`, `vrid_unknown`).
    pub drops: BTreeMap<String, u64>,
    /// The VIP leases (`global.vip_lease`, docs/BGP.md).
    #[serde(default)]
    pub leases: LeaseStatus,
}

/// The VIP leases of the daemon.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LeaseStatus {
    /// The lifetime VIPs are added with, in seconds; 0: leases are off.
    pub lifetime_s: u32,
    /// How often each is renewed, in milliseconds (0: never).
    pub renew_every_ms: u64,
    /// Addresses held with a lease now (a VIP on the link and on the
    /// announce interface counts twice).
    pub held: u64,
    /// Renewals sent (one per address).
    pub renewals: u64,
    /// `sendmsg` calls they took.
    pub renewal_batches: u64,
    /// Renewals the kernel refused, or that could not be sent.
    pub renewal_failures: u64,
}

/// One virtual router.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface it runs on.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: String,
    /// Configured priority.
    pub priority: u8,
    /// Priority after tracker weights.
    pub effective_priority: u8,
    /// Address of the current master: ourselves when master, the master we
    /// follow when backup, none when unknown.
    pub master: Option<String>,
    /// Our primary address on the interface.
    pub primary_ip: String,
    /// Virtual addresses with prefix length.
    pub vips: Vec<String>,
    /// Configured advertisement interval, in milliseconds.
    pub advert_interval_ms: u64,
    /// Master_Adver_Interval in force, in milliseconds.
    pub master_adver_interval_ms: u64,
    /// Held in maintenance by an operator.
    pub maintenance: bool,
    /// The last transition, if any.
    pub last_transition: Option<Transition>,
    /// The sender of the last advertisement accepted, in any state (also
    /// FAULT and maintenance, where `master` is null): after `vrrpd
    /// maintenance NAME on`, the peer that took over.
    #[serde(default)]
    pub last_master_seen: Option<MasterSeen>,
    /// `auth_hmac` in force (null without it).
    #[serde(default)]
    pub auth_hmac: Option<AuthHmacStatus>,
    /// The only sources heard (`allowed_sources`; by default the unicast
    /// peers); empty: any.
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// Trackers this instance uses.
    pub trackers: Vec<TrackerStatus>,
    /// Counters.
    pub counters: Counters,
    /// Where the VIPs go: `garp` (the link), `bgp` (host addresses on the
    /// announce interface), `both`.
    #[serde(default)]
    pub announce: String,
    /// No election: the instance holds its VIPs whenever it is healthy
    /// (`state` is then `MASTER` while it holds them, `FAULT` while not).
    #[serde(default)]
    pub active_active: bool,
}

/// `auth_hmac` as an instance runs it (never any key material).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthHmacStatus {
    /// `receive-only`, `permissive` or `enforce`.
    pub mode: String,
    /// The key id adverts are signed with (none are in receive-only mode).
    pub active_key: u8,
    /// Every key id a received trailer may name.
    pub key_ids: Vec<u8>,
    /// `time` or `monotonic`.
    pub anti_replay: String,
    /// The freshness window, seconds (`time` only).
    pub time_window_secs: Option<u16>,
    /// The last sequence this instance signed (`secs.fraction#counter`), if any.
    pub last_seq_sent: Option<String>,
}

/// A state transition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transition {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// Previous state.
    pub from: String,
    /// New state.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// An advertisement heard from another router.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MasterSeen {
    /// Its source address.
    pub address: String,
    /// Its advertised priority (0: it resigned).
    pub priority: u8,
    /// When it arrived, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

/// A tracker as one instance sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrackerStatus {
    /// Tracker name.
    pub name: String,
    /// Whether it is failed now (down, or holding the instance in FAULT).
    pub failed: bool,
    /// Its last reported state: `UP`, `DOWN`, a number (file trackers), or
    /// `UNKNOWN` before the first report.
    pub state: String,
    /// Why, as the tracker said it.
    pub detail: String,
    /// Its weight (0 = fault while failed).
    pub weight: i32,
    /// What it adds to the priority now (0 when nothing, or when it faults).
    pub priority_effect: i32,
}

/// Per-instance counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// Advertisements sent, by the event loop and by the advert keeper.
    pub adverts_sent: u64,
    /// Advertisements accepted.
    pub adverts_received: u64,
    /// Priority-0 advertisements sent.
    pub priority_zero_sent: u64,
    /// Priority-0 advertisements received.
    pub priority_zero_received: u64,
    /// State transitions.
    pub transitions: u64,
    /// Times this instance became master.
    pub master_transitions: u64,
    /// Advertisements whose address list differed from ours (accepted).
    pub vip_mismatch: u64,
    /// Accepted advertisements whose v3 IPv4 checksum covered the pseudo-header.
    pub checksum_pseudo_header: u64,
    /// Accepted advertisements whose checksum covered the VRRP message only
    /// (every v2 packet, and v3 IPv4 from RFC 9568 message-only senders).
    pub checksum_message_only: u64,
    /// Adverts the advert keeper sent while the event loop was late (the
    /// host did not run it: vCPU steal, a stall; included in `adverts_sent`).
    #[serde(default)]
    pub keeper_adverts: u64,
    /// Adverts the advert keeper sent in its turn (every other advert of a
    /// master whose adverts are shared; included in `adverts_sent`).
    #[serde(default)]
    pub keeper_turns: u64,
    /// Advertisements accepted with a valid `auth_hmac` trailer.
    #[serde(default)]
    pub auth_signed_received: u64,
    /// Advertisements accepted without a trailer by `auth_hmac` in
    /// `receive-only` or `permissive` mode: a peer that does not sign yet
    /// (0 on every node before switching to `enforce`).
    #[serde(default)]
    pub auth_unsigned_received: u64,
    /// Advertisements refused by this instance, by reason: the router's
    /// (`auth`, `interval_mismatch`, `version`, `own_address`,
    /// `address_family`, `interval_zero`) and the gate's
    /// (`source_not_allowed`, `ttl`, `auth_missing`, `auth_malformed`,
    /// `auth_unknown_key`, `auth_bad_tag`, `auth_stale`, `auth_replayed`,
    /// `auth_unexpected`).
    pub drops: BTreeMap<String, u64>,
}

/// The human-readable table `vrrpd status` prints.
pub fn render_table(s: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<10} {:>4} {:>2} {:<7} {:>4} {:>4} {:<18} {:<22} {:>9} {:>9}",
        "INSTANCE", "IFACE", "VRID", "V", "STATE", "PRIO", "EFF", "MASTER", "VIPS", "SENT", "RECV"
    );
    for i in &s.instances {
        let _ = writeln!(
            out,
            "{:<12} {:<10} {:>4} {:>2} {:<7} {:>4} {:>4} {:<18} {:<22} {:>9} {:>9}",
            i.name,
            i.interface,
            i.vrid,
            i.version,
            i.state,
            i.priority,
            i.effective_priority,
            i.master.as_deref().unwrap_or("-"),
            i.vips.join(","),
            i.counters.adverts_sent,
            i.counters.adverts_received,
        );
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                out,
                "  last transition: {} -> {} ({})",
                t.from, t.to, t.reason
            );
        }
        for t in &i.trackers {
            let _ = writeln!(
                out,
                "  tracker {}: {} (weight {}, effect {}) {}",
                t.name, t.state, t.weight, t.priority_effect, t.detail
            );
        }
        if !i.counters.drops.is_empty() {
            let _ = writeln!(out, "  drops: {:?}", i.counters.drops);
        }
    }
    if !s.drops.is_empty() {
        let _ = writeln!(out, "drops before demultiplexing: {:?}", s.drops);
    }
    out
}
