//! The `process` tracker: event-driven, with pidfds.
//!
//! Matching processes are found by scanning `/proc` (or reading the
//! pidfile). For each one a pidfd (`pidfd_open(2)`, Linux >= 5.3) is opened
//! and registered with tokio; a pidfd becomes readable the moment its
//! process exits (before it is reaped), so the death of the last matching
//! process is seen at once, without polling, and inside any network
//! namespace (unlike the proc connector, which is bound to the initial
//! namespaces). `/proc` is scanned again every `rescan_interval` to find
//! new and restarted processes.
//!
//! A zombie (exited, not reaped) counts as dead: it is skipped by the scan
//! (state `Z`/`X` in `/proc/PID/stat`) and its pidfd is readable.

use std::collections::HashMap;
use std::future::poll_fn;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::task::Poll;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::io::unix::AsyncFd;
use tokio::time::{interval, MissedTickBehavior};
use tracing::debug;

use super::{Closed, Emitter, TrackState};

/// Which processes count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Matcher {
    /// `comm` must equal this.
    pub comm: Option<String>,
    /// The command line (arguments joined by spaces) must contain this.
    pub cmdline_contains: Option<String>,
    /// Only the PID in this file is a candidate (it must still match
    /// `comm`/`cmdline_contains` when those are set).
    pub pidfile: Option<PathBuf>,
    /// Only processes in this network namespace (the `net:[inode]` link of
    /// `/proc/PID/ns/net`) count.
    pub netns: Option<PathBuf>,
}

/// Our own network namespace, as `/proc/self/ns/net` names it.
pub(super) fn own_netns() -> Option<PathBuf> {
    std::fs::read_link("/proc/self/ns/net").ok()
}

/// A process identity: PID plus start time (in clock ticks since boot), so
/// that a reused PID is not mistaken for the process we watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ProcId {
    pid: i32,
    start: u64,
}

/// What `/proc/PID/stat` tells us.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    comm: String,
    state: char,
    start: u64,
}

/// Parses `/proc/PID/stat`: `pid (comm) S ppid ... starttime(22) ...`.
/// `comm` may hold spaces and parentheses, so it ends at the *last* `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    // Fields after comm: state is field 3, starttime field 22 -> 19 more.
    let start = rest.nth(18)?.parse().ok()?;
    Some(Stat { comm, state, start })
}

/// Reads the stat of `pid`; `None` if it is gone or unreadable.
fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Whether `stat` is a live process (not a zombie or dead task).
fn is_live(stat: &Stat) -> bool {
    !matches!(stat.state, 'Z' | 'X' | 'x')
}

impl Matcher {
    /// Whether live process `pid` with `stat` matches the name and command-line filters.
    fn matches(&self, pid: i32, stat: &Stat) -> bool {
        if let Some(comm) = &self.comm {
            if stat.comm != *comm {
                return false;
            }
        }
        if let Some(ns) = &self.netns {
            if std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .as_ref()
                != Some(ns)
            {
                return false;
            }
        }
        if let Some(text) = &self.cmdline_contains {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let joined: Vec<u8> = raw
                .strip_suffix(b"\0")
                .unwrap_or(&raw)
                .iter()
                .map(|&b| if b == 0 { b' ' } else { b })
                .collect();
            if !String::from_utf8_lossy(&joined).contains(text.as_str()) {
                return false;
            }
        }
        true
    }

    /// Finds the live matching processes. Err only for a pidfile problem
    /// (the detail for the log).
    fn scan(&self) -> Result<Vec<ProcId>, String> {
        if let Some(path) = &self.pidfile {
            let pid = read_pidfile(path)?;
            let stat =
                read_stat(pid).ok_or_else(|| format!("pid {pid} (from pidfile) not running"))?;
            if !is_live(&stat) {
                return Err(format!("pid {pid} (from pidfile) is a zombie"));
            }
            if !self.matches(pid, &stat) {
                return Err(format!("pid {pid} (from pidfile) does not match"));
            }
            return Ok(vec![ProcId {
                pid,
                start: stat.start,
            }]);
        }
        let mut found = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Err("cannot read /proc".into());
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let Some(stat) = read_stat(pid) else { continue };
            if is_live(&stat) && self.matches(pid, &stat) {
                found.push(ProcId {
                    pid,
                    start: stat.start,
                });
            }
        }
        Ok(found)
    }

    /// A name for the log.
    fn describe(&self) -> String {
        match (&self.pidfile, &self.comm, &self.cmdline_contains) {
            (Some(p), _, _) => format!("pidfile {}", p.display()),
            (None, Some(c), Some(t)) => format!("process {c:?} with {t:?}"),
            (None, Some(c), None) => format!("process {c:?}"),
            (None, None, _) => "process".into(),
        }
    }
}

/// Reads a PID from a pidfile (first line, surrounding blanks ignored).
fn read_pidfile(path: &Path) -> Result<i32, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("pidfile {}: {e}", path.display()))?;
    let first = text.lines().next().unwrap_or("").trim();
    match first.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("pidfile {}: no PID in it", path.display())),
    }
}

/// A pidfd, for tokio's `AsyncFd`.
#[derive(Debug)]
struct PidFd(OwnedFd);

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Opens a pidfd for `id`, checking that the PID still names the same
/// process and that it has not exited yet. `None` if it is gone.
fn open_pidfd(id: ProcId) -> Option<PidFd> {
    // SAFETY: pidfd_open takes a PID and flags (0) and returns a new file
    // descriptor or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, id.pid, 0) };
    if fd < 0 {
        return None;
    }
    let fd = RawFd::try_from(fd).ok()?;
    // SAFETY: `fd` was just returned by pidfd_open, is valid and owned by
    // nobody else; OwnedFd closes it once.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // The PID may have been reused between the scan and pidfd_open: the
    // pidfd is ours only if the start time is still the one we saw.
    if read_stat(id.pid).map(|s| s.start) != Some(id.start) {
        return None;
    }
    // Already exited (a zombie)? Then the pidfd is readable now.
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&fd),
        PollFlags::POLLIN,
    )];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) => Some(PidFd(fd)),
        _ => None,
    }
}

/// The tracker task.
pub(super) async fn run(m: Matcher, rescan: Duration, mut out: Emitter) {
    let _ = track(m, rescan, &mut out).await;
}

async fn track(m: Matcher, rescan: Duration, out: &mut Emitter) -> Result<(), Closed> {
    let what = m.describe();
    let mut watched: HashMap<ProcId, AsyncFd<PidFd>> = HashMap::new();
    let mut tick = interval(rescan.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Why the last scan found nothing (pidfile problems), for the detail.
    let mut why_none;
    loop {
        // While we hold a live matching process and follow no pidfile, a
        // walk of /proc can change nothing: its death wakes us through its
        // pidfd, and then we look again at once (below). The tick is not
        // even polled then, so an idle tracker costs no wake-up at all
        // (it cost the runtime's thread one a second; #21).
        let rescans = watched.is_empty() || m.pidfile.is_some();
        tokio::select! {
            _ = tick.tick(), if rescans => {
                match m.scan() {
                    Ok(found) => {
                        why_none = format!("no {what} running");
                        // Forget processes that no longer match (e.g. the
                        // pidfile now names another PID).
                        watched.retain(|id, _| found.contains(id));
                        for id in found {
                            watch(&mut watched, id);
                        }
                    }
                    Err(detail) => {
                        watched.clear();
                        why_none = detail;
                    }
                }
                if watched.is_empty() {
                    out.set(TrackState::Down, why_none.clone()).await?;
                } else {
                    let pids = pid_list(&watched);
                    out.set(TrackState::Up, format!("{what} running: pid {pids}")).await?;
                }
            }
            id = exited(&watched), if !watched.is_empty() => {
                watched.remove(&id);
                if watched.is_empty() {
                    // A replacement may already run (a reloaded HAProxy):
                    // look once before calling it down.
                    for id in m.scan().unwrap_or_default() {
                        watch(&mut watched, id);
                    }
                }
                if watched.is_empty() {
                    out.set(TrackState::Down, format!("pid {} exited, no {what} left", id.pid)).await?;
                } else {
                    debug!(pid = id.pid, "one matching process exited, others remain");
                }
            }
        }
    }
}

/// Start watching `id` through a pidfd, unless already watched or gone.
fn watch(watched: &mut HashMap<ProcId, AsyncFd<PidFd>>, id: ProcId) {
    if watched.contains_key(&id) {
        return;
    }
    let Some(fd) = open_pidfd(id) else { return };
    // SAFETY: PidFd owns its OwnedFd, which stays open and unchanged until
    // the AsyncFd drops it; as_raw_fd always returns that fd.
    match unsafe { AsyncFd::register(fd) } {
        Ok(afd) => {
            debug!(pid = id.pid, "watching process");
            watched.insert(id, afd);
        }
        Err(e) => debug!(pid = id.pid, error = %e.into_parts().1, "cannot register pidfd"),
    }
}

/// Waits until one watched pidfd is readable (its process exited).
async fn exited(watched: &HashMap<ProcId, AsyncFd<PidFd>>) -> ProcId {
    poll_fn(|cx| {
        for (id, afd) in watched {
            if afd.poll_read_ready(cx).is_ready() {
                return Poll::Ready(*id);
            }
        }
        Poll::Pending
    })
    .await
}

/// "12, 34" for the log, sorted.
fn pid_list(watched: &HashMap<ProcId, AsyncFd<PidFd>>) -> String {
    let mut pids: Vec<i32> = watched.keys().map(|id| id.pid).collect();
    pids.sort_unstable();
    pids.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let text =
            "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200";
        let s = parse_stat(text).expect("parses");
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.start, 123456);
    }

    #[test]
    fn stat_truncated_is_none() {
        assert_eq!(parse_stat("42 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_found() {
        let me = std::process::id() as i32;
        let stat = read_stat(me).expect("own stat");
        let mut m = Matcher {
            comm: Some(stat.comm.clone()),
            cmdline_contains: None,
            pidfile: None,
            netns: own_netns(),
        };
        let found = m.scan().expect("scan");
        assert!(found.iter().any(|id| id.pid == me));
        // In another network namespace it would not count.
        m.netns = Some(PathBuf::from("net:[1]"));
        let found = m.scan().expect("scan");
        assert!(!found.iter().any(|id| id.pid == me));
    }
}
