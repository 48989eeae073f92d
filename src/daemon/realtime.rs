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
//! A real-time policy set before exec is kept as it is: the shipped systemd
//! unit sets `SCHED_RR` priority 10 itself (`CPUSchedulingPolicy=rr`,
//! `CPUSchedulingPriority=10`), so that the daemon needs no `CAP_SYS_NICE`,
//! and vrrpd then changes nothing (the unit's `RestrictRealtime=yes` would
//! refuse a change anyway). Only `VRRPD_REALTIME=N` asks for another
//! priority. A `SCHED_RESET_ON_FORK` flag is cleared if the kernel allows it
//! (with it, the advert keeper would start `SCHED_OTHER`), else reported.
//! The memory lock needs an unlimited `RLIMIT_MEMLOCK` hard limit
//! (`LimitMEMLOCK=infinity` in the unit) or `CAP_SYS_RESOURCE`.
//!
//! Which threads keep it ([`Scope`]): by default only the advert keeper
//! (`keeper.rs`), the thread that goes on sending a master's adverts when
//! everything else on the host is starved. It is started from the main
//! thread while that is still real-time, so it inherits the policy even
//! where vrrpd may not take one itself (systemd's `RestrictRealtime=yes`);
//! then every other thread of the process goes back to `SCHED_OTHER`
//! ([`keep_only`]), and the threads started later inherit that. Every
//! thread real time cost about 3 µs more per advert at 10 ms adverts
//! (docs/BENCHMARKS.md, "Which threads run real time"), and the event loop
//! does not need it for the adverts: the keeper covers them. Without a keeper (one CPU,
//! `VRRPD_KEEPER=off`) the event loop is the only sender and every thread
//! stays real-time, as with `VRRPD_REALTIME=all`. Children (script trackers,
//! notify scripts) never keep it: they go back to `SCHED_OTHER` between fork
//! and exec (`track::exec`), and never get the memory lock (`fork` never
//! passes it on).
//!
//! The environment variable [`ENV`] turns it off (`VRRPD_REALTIME=off`),
//! keeps every thread real-time (`VRRPD_REALTIME=all`) or changes the
//! priority (`VRRPD_REALTIME=20`); the default is on for the keeper,
//! priority [`DEFAULT_PRIORITY`].

use std::fmt;

/// Environment variable: `off` (or `0`) disables these settings, `all` keeps
/// every thread real-time, a number 1..=99 sets the `SCHED_RR` priority.
pub const ENV: &str = "VRRPD_REALTIME";

/// Default `SCHED_RR` priority: above every normal process, below the
/// kernel's own real-time threads (which use 50 and above) and well below 99.
pub const DEFAULT_PRIORITY: u8 = 10;

/// Timer slack applied to the daemon's threads, in nanoseconds (the kernel's
/// default is 50 µs).
pub const TIMER_SLACK_NS: u64 = 1_000;

/// Which of the daemon's threads keep the real-time policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The advert keeper alone, when there is one; every thread otherwise.
    Keeper,
    /// Every thread (`VRRPD_REALTIME=all`).
    All,
}

/// What to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`: pages are locked
    /// when first touched, so the resident size does not grow up front.
    pub lock_memory: bool,
    /// `SCHED_RR` priority 1..=99, or `None` to stay `SCHED_OTHER`.
    pub rt_priority: Option<u8>,
    /// Whether `rt_priority` was asked for by name (`VRRPD_REALTIME=N`):
    /// then a real-time policy inherited at another priority is changed.
    /// Otherwise an inherited real-time policy (set by systemd's
    /// `CPUSchedulingPolicy=`) is kept as it is.
    pub rt_explicit: bool,
    /// `PR_SET_TIMERSLACK` in nanoseconds, or `None` to keep the default.
    pub timer_slack_ns: Option<u64>,
    /// Which threads keep `rt_priority` once the advert keeper has started.
    pub scope: Scope,
}

impl Settings {
    /// The defaults: everything on.
    pub const DEFAULT: Settings = Settings {
        lock_memory: true,
        rt_priority: Some(DEFAULT_PRIORITY),
        rt_explicit: false,
        timer_slack_ns: Some(TIMER_SLACK_NS),
        scope: Scope::Keeper,
    };

    /// Nothing applied.
    pub const OFF: Settings = Settings {
        lock_memory: false,
        rt_priority: None,
        rt_explicit: false,
        timer_slack_ns: None,
        scope: Scope::Keeper,
    };

    /// Settings from the value of [`ENV`] (`None` when unset): `off`/`0`/`no`
    /// disables, `all` keeps every thread real-time, `1`..=`99` sets the
    /// priority, anything else is the default.
    pub fn from_env_value(v: Option<&str>) -> Settings {
        match v.map(str::trim) {
            Some(n) if says_off(n) => Settings::OFF,
            Some("all") => Settings {
                scope: Scope::All,
                ..Settings::DEFAULT
            },
            Some(n) => match n.parse::<u8>() {
                Ok(p @ 1..=99) => Settings {
                    rt_priority: Some(p),
                    rt_explicit: true,
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
    /// Already in force before vrrpd started (set by its service manager);
    /// left as it is. The text says what was found.
    Kept(String),
    /// Refused by the kernel; the daemon goes on without it.
    Failed(&'static str, std::io::Error),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied(what) => write!(f, "{what}: applied"),
            Outcome::Kept(what) => write!(f, "{what}: kept"),
            Outcome::Failed(what, e) => write!(f, "{what}: not applied ({e})"),
        }
    }
}

/// A thread's scheduling policy, as `sched_getscheduler` and
/// `sched_getparam` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `SCHED_OTHER`, `SCHED_FIFO`, `SCHED_RR`, ... (without the flag below).
    pub policy: libc::c_int,
    /// The real-time priority (0 under the normal policies).
    pub priority: libc::c_int,
    /// `SCHED_RESET_ON_FORK`: new threads and children start `SCHED_OTHER`.
    pub reset_on_fork: bool,
}

impl Policy {
    /// The calling thread's policy.
    pub fn current() -> std::io::Result<Policy> {
        // SAFETY: pid 0 is the calling thread; no pointer is passed.
        let p = unsafe { libc::sched_getscheduler(0) };
        if p < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid, writable
        // sched_param that outlives the call.
        if unsafe { libc::sched_getparam(0, &mut param) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Policy {
            policy: p & !libc::SCHED_RESET_ON_FORK,
            priority: param.sched_priority,
            reset_on_fork: p & libc::SCHED_RESET_ON_FORK != 0,
        })
    }

    /// `SCHED_RR` or `SCHED_FIFO`.
    pub fn is_realtime(&self) -> bool {
        self.policy == libc::SCHED_RR || self.policy == libc::SCHED_FIFO
    }

    fn name(&self) -> &'static str {
        match self.policy {
            libc::SCHED_RR => "SCHED_RR",
            libc::SCHED_FIFO => "SCHED_FIFO",
            _ => "a normal policy",
        }
    }
}

/// What to do about the scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchedPlan {
    /// The policy in force is right: change nothing.
    Keep,
    /// `sched_setscheduler(0, policy, priority)`, without
    /// `SCHED_RESET_ON_FORK`; `what` names it in the log.
    Set {
        policy: libc::c_int,
        priority: libc::c_int,
        what: &'static str,
    },
}

/// The plan for a thread running `current` that wants `SCHED_RR` at `want`
/// (`explicit`: asked for by name, see [`Settings::rt_explicit`]). A
/// real-time policy set before exec is kept (its priority is the service
/// manager's choice) unless another priority was asked for by name; a
/// `SCHED_RESET_ON_FORK` flag is always cleared, since the daemon's own
/// threads must inherit the policy.
fn plan(current: Policy, want: u8, explicit: bool) -> SchedPlan {
    let want = libc::c_int::from(want.clamp(1, 99));
    let right = current.is_realtime()
        && (!explicit || (current.policy == libc::SCHED_RR && current.priority == want));
    match (right, current.reset_on_fork) {
        (true, false) => SchedPlan::Keep,
        (true, true) => SchedPlan::Set {
            policy: current.policy,
            priority: current.priority,
            what: "real-time policy without SCHED_RESET_ON_FORK",
        },
        (false, _) => SchedPlan::Set {
            policy: libc::SCHED_RR,
            priority: want,
            what: "SCHED_RR",
        },
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
        out.push(scheduling(p, s.rt_explicit));
    }
    out
}

/// Takes `SCHED_RR` at `want`, or keeps the real-time policy in force
/// (see [`plan`]).
fn scheduling(want: u8, explicit: bool) -> Outcome {
    // If the policy cannot be read, try to set it: the kernel decides.
    let current = Policy::current().unwrap_or(Policy {
        policy: libc::SCHED_OTHER,
        priority: 0,
        reset_on_fork: false,
    });
    match plan(current, want, explicit) {
        SchedPlan::Keep => Outcome::Kept(format!(
            "{} priority {} (set before exec, e.g. by the unit's CPUSchedulingPolicy=)",
            current.name(),
            current.priority
        )),
        SchedPlan::Set {
            policy,
            priority,
            what,
        } => {
            let param = libc::sched_param {
                sched_priority: priority,
            };
            // SAFETY: pid 0 is the calling thread; `param` is a valid
            // sched_param that outlives the call.
            // Without SCHED_RESET_ON_FORK: the daemon's own threads (the
            // advert keeper) must inherit it, as they start after
            // CAP_SYS_NICE is dropped and could not take it any more.
            // Programs the daemon runs go back to SCHED_OTHER before exec
            // (track::exec).
            let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
            result(what, rc)
        }
    }
}

fn result(what: &'static str, rc: libc::c_int) -> Outcome {
    if rc == 0 {
        Outcome::Applied(what)
    } else {
        Outcome::Failed(what, std::io::Error::last_os_error())
    }
}

/// What an operator can do about a refused setting.
fn hint(what: &str) -> String {
    match what {
        "RLIMIT_MEMLOCK unlimited" => {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into a valid rlimit that outlives the call.
            let hard = if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0 {
                format!("{} bytes", lim.rlim_max)
            } else {
                "unknown".to_owned()
            };
            format!(
                "memory not locked: the RLIMIT_MEMLOCK hard limit is {hard} and raising it needs \
                 CAP_SYS_RESOURCE; give vrrpd an unlimited one (systemd: LimitMEMLOCK=infinity, \
                 as the shipped unit does, which needs a PID 1 that may raise it; \
                 docker/podman: --ulimit memlock=-1:-1)"
            )
        }
        "SCHED_RR" => match Policy::current() {
            Ok(p) if p.is_realtime() => format!(
                "still {} priority {}, set before exec: under systemd change \
                 CPUSchedulingPriority= in the unit, not VRRPD_REALTIME",
                p.name(),
                p.priority
            ),
            _ => "running SCHED_OTHER: under systemd, CPUSchedulingPolicy=rr and \
                  CPUSchedulingPriority=10 in the unit (the shipped unit has them); \
                  elsewhere CAP_SYS_NICE, or an rtprio limit of 10 or more"
                .to_owned(),
        },
        "real-time policy without SCHED_RESET_ON_FORK" => "SCHED_RESET_ON_FORK is set (the \
             unit's CPUSchedulingResetOnFork=yes?): the advert keeper thread will run \
             SCHED_OTHER; remove it"
            .to_owned(),
        _ => String::new(),
    }
}

/// Set every thread of the process but `keep` (a thread id) back to
/// `SCHED_OTHER`, if it runs a real-time policy: called once the advert
/// keeper (`keep`) has started, when [`Settings::scope`] is
/// [`Scope::Keeper`]. Lowering needs no privilege. Threads started later
/// inherit the policy of the thread that starts them, now `SCHED_OTHER`.
/// Returns how many threads were set back, or the error that stopped it.
pub fn keep_only(keep: libc::pid_t) -> std::io::Result<usize> {
    let mut lowered = 0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        let Some(tid) = entry?
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: sched_getscheduler takes a thread id and no pointer.
        let p = unsafe { libc::sched_getscheduler(tid) } & !libc::SCHED_RESET_ON_FORK;
        if tid == keep || (p != libc::SCHED_RR && p != libc::SCHED_FIFO) {
            continue;
        }
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid sched_param that outlives the call; a
        // thread that has exited in the meantime is an error (ESRCH).
        if unsafe { libc::sched_setscheduler(tid, libc::SCHED_OTHER, &param) } == 0 {
            lowered += 1;
        } else {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(e);
            }
        }
    }
    Ok(lowered)
}

/// Applies [`Settings::from_env`] and logs each outcome (info when applied
/// or kept, warn with a hint when refused). The hook `main` calls.
pub fn apply_from_env() {
    let s = Settings::from_env();
    for o in apply(&s) {
        match &o {
            Outcome::Applied(_) => tracing::info!(priority = ?s.rt_priority, "realtime: {o}"),
            Outcome::Kept(_) => tracing::info!("realtime: {o}"),
            Outcome::Failed(what, _) => tracing::warn!(hint = %hint(what), "realtime: {o}"),
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
        assert_eq!(Settings::from_env_value(None).scope, Scope::Keeper);
        assert_eq!(Settings::from_env_value(Some("20")).scope, Scope::Keeper);
        let all = Settings::from_env_value(Some("all"));
        assert_eq!(all.scope, Scope::All);
        assert_eq!(all.rt_priority, Some(DEFAULT_PRIORITY));
    }

    #[test]
    fn explicit_priority() {
        assert!(!Settings::from_env_value(None).rt_explicit);
        assert!(!Settings::from_env_value(Some("on")).rt_explicit);
        assert!(Settings::from_env_value(Some("20")).rt_explicit);
    }

    fn pol(policy: libc::c_int, priority: libc::c_int, reset_on_fork: bool) -> Policy {
        Policy {
            policy,
            priority,
            reset_on_fork,
        }
    }

    fn set(policy: libc::c_int, priority: libc::c_int) -> SchedPlan {
        SchedPlan::Set {
            policy,
            priority,
            what: "SCHED_RR",
        }
    }

    #[test]
    fn plan_from_a_normal_policy_takes_sched_rr() {
        let other = pol(libc::SCHED_OTHER, 0, false);
        assert_eq!(plan(other, 10, false), set(libc::SCHED_RR, 10));
        assert_eq!(plan(other, 20, true), set(libc::SCHED_RR, 20));
    }

    #[test]
    fn plan_keeps_a_real_time_policy_set_before_exec() {
        // systemd's CPUSchedulingPolicy=rr / CPUSchedulingPriority=10.
        assert_eq!(
            plan(pol(libc::SCHED_RR, 10, false), 10, false),
            SchedPlan::Keep
        );
        // The unit's priority is the operator's choice, and so is FIFO.
        assert_eq!(
            plan(pol(libc::SCHED_RR, 30, false), 10, false),
            SchedPlan::Keep
        );
        assert_eq!(
            plan(pol(libc::SCHED_FIFO, 5, false), 10, false),
            SchedPlan::Keep
        );
        // Asked for by name: that priority.
        assert_eq!(
            plan(pol(libc::SCHED_RR, 20, false), 20, true),
            SchedPlan::Keep
        );
        assert_eq!(
            plan(pol(libc::SCHED_RR, 30, false), 20, true),
            set(libc::SCHED_RR, 20)
        );
        assert_eq!(
            plan(pol(libc::SCHED_FIFO, 20, false), 20, true),
            set(libc::SCHED_RR, 20)
        );
    }

    #[test]
    fn plan_clears_reset_on_fork() {
        // CPUSchedulingResetOnFork=yes: the keeper thread would not inherit.
        let clear = |policy, priority| SchedPlan::Set {
            policy,
            priority,
            what: "real-time policy without SCHED_RESET_ON_FORK",
        };
        assert_eq!(
            plan(pol(libc::SCHED_RR, 10, true), 10, false),
            clear(libc::SCHED_RR, 10)
        );
        assert_eq!(
            plan(pol(libc::SCHED_FIFO, 7, true), 10, false),
            clear(libc::SCHED_FIFO, 7)
        );
        // Asked for by name: that priority, without the flag.
        assert_eq!(
            plan(pol(libc::SCHED_RR, 20, true), 10, true),
            set(libc::SCHED_RR, 10)
        );
    }

    /// Started already SCHED_RR (as under the shipped unit), vrrpd makes no
    /// scheduling call: it keeps the policy, and its new threads inherit it.
    /// Needs CAP_SYS_NICE to set up (root), else skipped.
    #[test]
    fn an_inherited_sched_rr_is_kept_and_inherited() {
        let seen = std::thread::spawn(|| {
            let rr = libc::sched_param { sched_priority: 3 };
            // SAFETY: sets this test thread's own policy from a valid param.
            if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &rr) } != 0 {
                eprintln!("SKIPPED: cannot take SCHED_RR (not root)");
                return None;
            }
            let s = Settings {
                rt_priority: Some(DEFAULT_PRIORITY),
                ..Settings::OFF
            };
            let out = apply(&s);
            let child = std::thread::spawn(|| Policy::current().ok())
                .join()
                .ok()
                .flatten();
            Some((format!("{out:?}"), Policy::current().ok(), child))
        })
        .join()
        .unwrap();
        let Some((out, me, child)) = seen else { return };
        assert!(out.contains("Kept(\"SCHED_RR priority 3"), "{out}");
        assert_eq!(me, Some(pol(libc::SCHED_RR, 3, false)));
        assert_eq!(child, Some(pol(libc::SCHED_RR, 3, false)));
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
