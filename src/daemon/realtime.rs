//! Process-level scheduling and memory settings that keep the daemon's timing
//! steady on a busy box: memory locked on fault (no page-out of the event
//! loop), a real-time round-robin priority (the advert timer runs even when
//! HAProxy saturates every core), and a 1 µs timer slack.
//!
//! Applied once by `main` before the tokio runtime starts, so every thread the
//! runtime creates inherits them. Each setting is best effort: one that the
//! kernel refuses (no `CAP_SYS_NICE`, `RLIMIT_MEMLOCK`, a container) is
//! reported and skipped; the daemon runs either way.
//!
//! Threads the daemon starts later (the advert keeper) inherit the real-time
//! policy. Children (script trackers, notify scripts) do not: they go back
//! to `SCHED_OTHER` between fork and exec (`track::exec`), and never get the
//! memory lock (`fork` never passes it on).
//!
//! The environment variable [`ENV`] turns it off (`VRRPD_REALTIME=off`) or
//! changes the priority (`VRRPD_REALTIME=20`); the default is on, priority
//! [`DEFAULT_PRIORITY`].

use std::fmt;

/// Environment variable: `off` (or `0`) disables these settings, a number
/// 1..=99 sets the `SCHED_RR` priority.
pub const ENV: &str = "VRRPD_REALTIME";

/// Default `SCHED_RR` priority: above every normal process, below the
/// kernel's own real-time threads (which use 50 and above) and well below 99.
pub const DEFAULT_PRIORITY: u8 = 10;

/// Timer slack applied to the daemon's threads, in nanoseconds (the kernel's
/// default is 50 µs).
pub const TIMER_SLACK_NS: u64 = 1_000;

/// What to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`: pages are locked
    /// when first touched, so the resident size does not grow up front.
    pub lock_memory: bool,
    /// `SCHED_RR` priority 1..=99, or `None` to stay `SCHED_OTHER`.
    pub rt_priority: Option<u8>,
    /// `PR_SET_TIMERSLACK` in nanoseconds, or `None` to keep the default.
    pub timer_slack_ns: Option<u64>,
}

impl Settings {
    /// The defaults: everything on.
    pub const DEFAULT: Settings = Settings {
        lock_memory: true,
        rt_priority: Some(DEFAULT_PRIORITY),
        timer_slack_ns: Some(TIMER_SLACK_NS),
    };

    /// Nothing applied.
    pub const OFF: Settings = Settings {
        lock_memory: false,
        rt_priority: None,
        timer_slack_ns: None,
    };

    /// Settings from the value of [`ENV`] (`None` when unset): `off`/`0`/`no`
    /// disables, `1`..=`99` sets the priority, anything else is the default.
    pub fn from_env_value(v: Option<&str>) -> Settings {
        match v.map(str::trim) {
            Some(n) if says_off(n) => Settings::OFF,
            Some(n) => match n.parse::<u8>() {
                Ok(p @ 1..=99) => Settings {
                    rt_priority: Some(p),
                    ..Settings::DEFAULT
                },
                _ => Settings::DEFAULT,
            },
            None => Settings::DEFAULT,
        }
    }

    /// Settings from the process environment.
    pub fn from_env() -> Settings {
        Settings::from_env_value(std::env::var(ENV).ok().as_deref())
    }
}

/// Whether an environment switch's value turns the feature off (`off`, `0`,
/// `no`, `false`): [`ENV`] here, and the advert keeper's.
pub(super) fn says_off(v: &str) -> bool {
    matches!(v.trim(), "off" | "0" | "no" | "false")
}

/// The outcome of one setting.
#[derive(Debug)]
pub enum Outcome {
    /// Applied.
    Applied(&'static str),
    /// Refused by the kernel; the daemon goes on without it.
    Failed(&'static str, std::io::Error),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied(what) => write!(f, "{what}: applied"),
            Outcome::Failed(what, e) => write!(f, "{what}: not applied ({e})"),
        }
    }
}

/// `MCL_ONFAULT` (linux/mman.h, Linux 4.4).
const MCL_ONFAULT: libc::c_int = 4;

/// Applies `s` to the calling thread (scheduling, timer slack) and the
/// process (memory lock); call before spawning threads. Returns one outcome
/// per setting asked for.
pub fn apply(s: &Settings) -> Vec<Outcome> {
    let mut out = Vec::new();
    if let Some(ns) = s.timer_slack_ns {
        // SAFETY: prctl(PR_SET_TIMERSLACK, n) takes an integer argument and
        // only changes the calling thread's timer slack.
        let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) };
        out.push(result("timer slack", rc));
    }
    if s.lock_memory {
        // With MCL_FUTURE every later allocation is locked, and counts
        // against RLIMIT_MEMLOCK once the daemon has dropped CAP_IPC_LOCK
        // (it does, right after this): with a finite limit, allocations
        // would start failing. So lift the limit first (we are still
        // privileged here), and lock only if that worked.
        let unlimited = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads a valid rlimit that outlives the call.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
        out.push(result("RLIMIT_MEMLOCK unlimited", rc));
        if rc == 0 {
            // SAFETY: mlockall takes flags only; it changes no memory contents.
            let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | MCL_ONFAULT) };
            out.push(result("mlockall(on fault)", rc));
        }
    }
    if let Some(p) = s.rt_priority {
        let param = libc::sched_param {
            sched_priority: libc::c_int::from(p.clamp(1, 99)),
        };
        // SAFETY: pid 0 is the calling thread; `param` is a valid
        // sched_param that outlives the call.
        // Without SCHED_RESET_ON_FORK: the daemon's own threads (the
        // advert keeper) must inherit it, as they start after CAP_SYS_NICE
        // is dropped and could not take it any more. Programs the daemon
        // runs go back to SCHED_OTHER before exec (track::exec).
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) };
        out.push(result("SCHED_RR", rc));
    }
    out
}

fn result(what: &'static str, rc: libc::c_int) -> Outcome {
    if rc == 0 {
        Outcome::Applied(what)
    } else {
        Outcome::Failed(what, std::io::Error::last_os_error())
    }
}

/// Applies [`Settings::from_env`] and logs each outcome (info when applied,
/// warn when refused). The hook `main` calls.
pub fn apply_from_env() {
    let s = Settings::from_env();
    for o in apply(&s) {
        match o {
            Outcome::Applied(_) => tracing::info!(priority = ?s.rt_priority, "realtime: {o}"),
            Outcome::Failed(..) => tracing::warn!("realtime: {o}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert_eq!(Settings::from_env_value(None), Settings::DEFAULT);
        assert_eq!(Settings::from_env_value(Some("off")), Settings::OFF);
        assert_eq!(Settings::from_env_value(Some("0")), Settings::OFF);
        assert_eq!(Settings::from_env_value(Some("20")).rt_priority, Some(20));
        assert_eq!(Settings::from_env_value(Some("100")), Settings::DEFAULT);
        assert_eq!(Settings::from_env_value(Some("on")), Settings::DEFAULT);
    }

    #[test]
    fn off_applies_nothing() {
        assert!(apply(&Settings::OFF).is_empty());
    }

    #[test]
    fn timer_slack_is_set() {
        // Run in a fresh thread: the setting is per thread.
        let slack = std::thread::spawn(|| {
            let s = Settings {
                timer_slack_ns: Some(TIMER_SLACK_NS),
                ..Settings::OFF
            };
            let out = apply(&s);
            assert!(matches!(out[..], [Outcome::Applied("timer slack")]));
            // SAFETY: PR_GET_TIMERSLACK takes no argument and returns the value.
            unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) }
        })
        .join()
        .unwrap();
        assert_eq!(slack as u64, TIMER_SLACK_NS);
    }
}
