//! Capabilities: at start the daemon keeps only those it uses and drops the
//! rest from every set, so a bug in vrrpd (or a tracker) cannot use root's
//! other powers.
//!
//! Always kept: `CAP_NET_ADMIN` (VIPs, link events, macvlans, through
//! netlink) and `CAP_NET_RAW` (raw VRRP sockets, ARP/NA frames on AF_PACKET).
//! Kept only when the configuration needs them (see [`needed`]):
//! - `CAP_SETUID`, `CAP_SETGID`, `CAP_KILL`: a script tracker with `user = `
//!   (switch to that user; kill its process group at the timeout, which
//!   belongs to another user);
//! - `CAP_SYS_PTRACE`: a process tracker with `same_netns = true` (the
//!   default) reads `/proc/PID/ns/net`, which the kernel guards with a
//!   ptrace read check: a process of another user (HAProxy's `user haproxy`),
//!   or a root process holding capabilities vrrpd dropped (a root HAProxy
//!   holds them all), is invisible without it. `same_netns = false` with a
//!   `cmdline_contains` or `pidfile` needs nothing (`/proc/PID/cmdline` and
//!   `/proc/PID/stat` are readable by all);
//! - `CAP_NET_BIND_SERVICE`: `metrics_listen` on a port below 1024.
//!
//! The ambient and inheritable sets are cleared, so programs vrrpd starts
//! (notify commands, script trackers) inherit nothing through them. A program
//! started as uid 0 still gets the bounding set (root's legacy exec rule),
//! that is at most the capabilities kept here; one started as another user
//! gets none.
//!
//! Capabilities are per thread: [`drop_except`] must run before the runtime
//! starts any thread, so that every thread inherits the reduced sets.
//! A reload that needs a capability dropped at start cannot get it back: the
//! daemon logs a warning and the operator restarts it.

use caps::{CapSet, Capability, CapsHashSet};
use tracing::{info, warn};

use crate::config::{Config, TrackKind};

/// A capability the configuration needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The capability.
    pub cap: Capability,
    /// Why, for the log.
    pub why: String,
}

/// Errors from changing the capability sets.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// The kernel refused a change.
    #[error("cannot change the {set} capability set: {message}")]
    Set {
        /// Which set.
        set: &'static str,
        /// What the caps crate reported.
        message: String,
    },
}

/// What [`drop_except`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The permitted (and effective) set afterwards.
    pub kept: CapsHashSet,
    /// Wanted but not held at start (vrrpd was started without them).
    pub missing: CapsHashSet,
    /// Capabilities left in the bounding set because dropping them was
    /// refused (no `CAP_SETPCAP`; under systemd `CapabilityBoundingSet=`
    /// has usually removed them already).
    pub bounding_left: CapsHashSet,
}

/// The capabilities `config` needs, each with its reason, in a stable order.
pub fn needed(config: &Config) -> Vec<Need> {
    let mut v = vec![
        Need {
            cap: Capability::CAP_NET_ADMIN,
            why: "virtual addresses, link events and macvlans through netlink".into(),
        },
        Need {
            cap: Capability::CAP_NET_RAW,
            why: "raw VRRP sockets and ARP/NA frames".into(),
        },
    ];
    let mut add = |cap: Capability, why: String| {
        if !v.iter().any(|n| n.cap == cap) {
            v.push(Need { cap, why });
        }
    };
    for t in &config.tracks {
        match &t.kind {
            TrackKind::Script {
                user: Some(user), ..
            } => {
                let why = format!("script tracker {} runs as user {user}", t.name);
                add(Capability::CAP_SETUID, why.clone());
                add(Capability::CAP_SETGID, why.clone());
                add(
                    Capability::CAP_KILL,
                    format!("{why}; its process group is killed at the timeout"),
                );
            }
            TrackKind::Process {
                same_netns: true, ..
            } => add(
                Capability::CAP_SYS_PTRACE,
                format!(
                    "process tracker {} reads /proc/PID/ns/net of other processes (same_netns)",
                    t.name
                ),
            ),
            _ => {}
        }
    }
    if let Some(addr) = config.global.metrics_listen {
        if addr.port() < 1024 {
            add(
                Capability::CAP_NET_BIND_SERVICE,
                format!("metrics_listen on port {}", addr.port()),
            );
        }
    }
    v
}

/// Capabilities `new` needs that are not in `kept` (a reload cannot add them).
pub fn missing_after_reload(kept: &CapsHashSet, new: &Config) -> Vec<Need> {
    needed(new)
        .into_iter()
        .filter(|n| !kept.contains(&n.cap))
        .collect()
}

fn err(set: &'static str) -> impl Fn(caps::errors::CapsError) -> CapsError {
    move |e| CapsError::Set {
        set,
        message: e.to_string(),
    }
}

/// Drop every capability not in `keep` from the bounding, inheritable,
/// ambient, permitted and effective sets of the calling thread (and so of
/// every thread created afterwards). Capabilities in `keep` that the thread
/// does not hold stay absent: nothing is ever raised.
pub fn drop_except(keep: &CapsHashSet) -> Result<Dropped, CapsError> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(err("permitted"))?;
    // Bounding first: dropping from it needs CAP_SETPCAP, which goes below.
    let mut bounding_left = CapsHashSet::new();
    for cap in caps::all() {
        if keep.contains(&cap) || !caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            continue;
        }
        if caps::drop(None, CapSet::Bounding, cap).is_err() {
            bounding_left.insert(cap);
        }
    }
    // Ambient: unsupported before Linux 4.3, where it cannot hold anything.
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(err("ambient"))?;
    }
    caps::clear(None, CapSet::Inheritable).map_err(err("inheritable"))?;
    let kept: CapsHashSet = permitted
        .iter()
        .copied()
        .filter(|c| keep.contains(c))
        .collect();
    // Effective must stay within permitted: shrink it first.
    caps::set(None, CapSet::Effective, &kept).map_err(err("effective"))?;
    caps::set(None, CapSet::Permitted, &kept).map_err(err("permitted"))?;
    Ok(Dropped {
        kept,
        missing: keep
            .iter()
            .copied()
            .filter(|c| !permitted.contains(c))
            .collect(),
        bounding_left,
    })
}

/// Drop what `config` does not need, and log what is kept and why.
/// Returns the capabilities kept.
pub fn restrict_to_config(config: &Config) -> Result<CapsHashSet, CapsError> {
    let needs = needed(config);
    let keep: CapsHashSet = needs.iter().map(|n| n.cap).collect();
    let d = drop_except(&keep)?;
    for n in &needs {
        if d.kept.contains(&n.cap) {
            info!(capability = %n.cap, why = %n.why, "keeping capability");
        } else {
            warn!(capability = %n.cap, why = %n.why, "capability needed but not held; expect errors");
        }
    }
    if !d.bounding_left.is_empty() {
        warn!(capabilities = %names(&d.bounding_left), "cannot drop from the bounding set (no CAP_SETPCAP)");
    }
    info!(capabilities = %names(&d.kept), "capabilities dropped except these");
    Ok(d.kept)
}

/// `CAP_A,CAP_B` in kernel order, for logs.
pub fn names(set: &CapsHashSet) -> String {
    let mut v: Vec<Capability> = set.iter().copied().collect();
    v.sort_by_key(|c| c.index());
    v.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "{extra}\n[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\n\
             virtual_ips = [\"10.0.0.1/24\"]\n"
        );
        crate::config::parse_str(&text, "test.toml").expect("valid config")
    }

    fn caps_of(c: &Config) -> Vec<Capability> {
        needed(c).into_iter().map(|n| n.cap).collect()
    }

    #[test]
    fn a_plain_config_needs_net_admin_and_net_raw_only() {
        assert_eq!(
            caps_of(&config("")),
            [Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW]
        );
    }

    #[test]
    fn script_user_process_tracker_and_low_metrics_port_add_their_capabilities() {
        let c = config(
            "[global]\nmetrics_listen = \"127.0.0.1:99\"\n\
             [[track]]\nname = \"chk\"\ntype = \"script\"\nargv = [\"/bin/true\"]\nuser = \"nobody\"\n\
             [[track]]\nname = \"hap\"\ntype = \"process\"\nprocess = \"haproxy\"\n",
        );
        let got = caps_of(&c);
        for want in [
            Capability::CAP_SETUID,
            Capability::CAP_SETGID,
            Capability::CAP_KILL,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_NET_BIND_SERVICE,
        ] {
            assert!(got.contains(&want), "{want} missing from {got:?}");
        }
        let kept: CapsHashSet = [Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW].into();
        let missing: Vec<_> = missing_after_reload(&kept, &c)
            .into_iter()
            .map(|n| n.cap)
            .collect();
        assert_eq!(missing.len(), 5, "{missing:?}");
    }

    #[test]
    fn process_tracker_without_same_netns_needs_no_ptrace() {
        let c = config(
            "[[track]]\nname = \"hap\"\ntype = \"process\"\nprocess = \"haproxy\"\nsame_netns = false\n",
        );
        assert!(!caps_of(&c).contains(&Capability::CAP_SYS_PTRACE));
    }

    /// Capabilities are per thread: this runs on a thread of its own, which
    /// ends afterwards, so the other tests keep theirs.
    #[test]
    fn drop_except_keeps_only_the_wanted_ones_in_every_set() {
        let held = caps::read(None, CapSet::Permitted).unwrap();
        if !held.contains(&Capability::CAP_NET_RAW) || !held.contains(&Capability::CAP_SYS_ADMIN) {
            eprintln!("SKIPPED (not root): drop_except test");
            return;
        }
        std::thread::spawn(|| {
            let keep: CapsHashSet = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN].into();
            let d = drop_except(&keep).unwrap();
            assert_eq!(d.kept, keep);
            assert!(d.missing.is_empty());
            assert!(d.bounding_left.is_empty(), "{:?}", d.bounding_left);
            for set in [CapSet::Permitted, CapSet::Effective, CapSet::Bounding] {
                assert_eq!(caps::read(None, set).unwrap(), keep, "{set:?}");
            }
            assert!(caps::read(None, CapSet::Inheritable).unwrap().is_empty());
            assert!(caps::read(None, CapSet::Ambient).unwrap().is_empty());
            // The kernel agrees: this thread can no longer do what it dropped.
            assert!(caps::raise(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).is_err());
        })
        .join()
        .unwrap();
        // This thread is untouched.
        assert!(caps::has_cap(None, CapSet::Permitted, Capability::CAP_SYS_ADMIN).unwrap());
    }
}
