//! Health trackers: asynchronous checks whose results move the VIP.
//!
//! Each configured `[[track]]` becomes one tokio task that watches one
//! thing (a process, an HTTP URL, a program's exit status, a link, a
//! number in a file) and reports a [`TrackEvent`] on a channel:
//! the first state as soon as it is known, then only changes (after
//! `rise`/`fall` where the kind has them). The daemon maps these to
//! `VirtualRouter::handle_track` with the tracker's weight.
//!
//! ```no_run
//! # async fn f(tracks: Vec<vrrpd::config::Track>) {
//! let (tx, mut rx) = tokio::sync::mpsc::channel(64);
//! let _set = vrrpd::track::TrackerSet::spawn(&tracks, tx); // aborted on drop
//! while let Some(ev) = rx.recv().await {
//!     println!("{}: {:?} ({})", ev.name, ev.state, ev.detail);
//! }
//! # }
//! ```
//!
//! Module layout: one file per kind, plus [`exec`] (the executable safety
//! check shared with `crate::notify`) and a small [`RiseFall`] filter.

pub mod exec;
mod file;
mod http;
mod interface;
mod process;
mod script;

use std::fmt;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::{Track, TrackKind};

pub use http::{HttpUrl, UrlError};

/// What a tracker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// The check succeeds (process running, expected HTTP status, exit 0, link up).
    Up,
    /// The check fails.
    Down,
    /// The number read by a `file` tracker (0 when the file is missing or
    /// does not hold an integer); the daemon multiplies it by the weight.
    Value(i64),
}

impl TrackState {
    /// Whether the tracker counts as failed for `VirtualRouter::handle_track`
    /// (a `Value` never fails: its effect is value * weight).
    pub fn is_down(self) -> bool {
        self == TrackState::Down
    }
}

impl fmt::Display for TrackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackState::Up => f.write_str("UP"),
            TrackState::Down => f.write_str("DOWN"),
            TrackState::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A tracker's first state, or a change of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEvent {
    /// The tracker's configured name (`[[track]] name`).
    pub name: String,
    /// The new state.
    pub state: TrackState,
    /// Why, for the log (`"pid 1234 exited"`, `"HTTP 503, expected 200"`).
    pub detail: String,
}

/// The running trackers. Dropping the set aborts every task.
#[derive(Debug, Default)]
pub struct TrackerSet {
    /// One task per tracker, with the tracker's name.
    tasks: Vec<(String, JoinHandle<()>)>,
}

impl TrackerSet {
    /// Starts one task per tracker on the current tokio runtime (call it
    /// from inside the runtime, like `tokio::spawn`). Events go to `tx`;
    /// a task ends when `tx`'s receiver is dropped.
    pub fn spawn(tracks: &[Track], tx: mpsc::Sender<TrackEvent>) -> TrackerSet {
        let tasks = tracks
            .iter()
            .map(|t| {
                let out = Emitter::new(
                    t.name.clone(),
                    tx.clone(),
                    matches!(t.kind, TrackKind::File { .. }),
                );
                let task = match t.kind.clone() {
                    TrackKind::Process {
                        process,
                        cmdline_contains,
                        pidfile,
                        rescan_interval,
                    } => {
                        let m = process::Matcher {
                            comm: process,
                            cmdline_contains,
                            pidfile,
                        };
                        tokio::spawn(process::run(m, rescan_interval, out))
                    }
                    TrackKind::Http {
                        url,
                        interval,
                        timeout,
                        rise,
                        fall,
                        expect_status,
                    } => tokio::spawn(http::run(
                        url,
                        http::Timing { interval, timeout },
                        RiseFall::new(rise, fall),
                        expect_status,
                        out,
                    )),
                    TrackKind::Script {
                        argv,
                        interval,
                        timeout,
                        rise,
                        fall,
                        user,
                    } => tokio::spawn(script::run(
                        argv,
                        interval,
                        timeout,
                        RiseFall::new(rise, fall),
                        user,
                        out,
                    )),
                    TrackKind::Interface { interface } => {
                        tokio::spawn(interface::run(interface, out))
                    }
                    TrackKind::File { path } => tokio::spawn(file::run(path, out)),
                };
                (t.name.clone(), task)
            })
            .collect();
        TrackerSet { tasks }
    }

    /// Number of trackers in the set.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set has no tracker.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Names of the trackers whose task has ended (it should not happen
    /// while the receiver lives; useful for a health view).
    pub fn finished(&self) -> impl Iterator<Item = &str> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.is_finished())
            .map(|(n, _)| n.as_str())
    }
}

impl Drop for TrackerSet {
    fn drop(&mut self) {
        for (_, t) in &self.tasks {
            t.abort();
        }
    }
}

/// Sends a tracker's state when it changes.
#[derive(Debug)]
struct Emitter {
    /// Tracker name, copied into every event.
    name: String,
    /// The daemon's channel.
    tx: mpsc::Sender<TrackEvent>,
    /// What was last sent, to send only changes.
    last: Option<(TrackState, String)>,
    /// Also send when only the detail changed (file: "missing" vs "garbage").
    detail_matters: bool,
}

/// The receiver is gone: the tracker task should end.
#[derive(Debug)]
struct Closed;

impl Emitter {
    fn new(name: String, tx: mpsc::Sender<TrackEvent>, detail_matters: bool) -> Emitter {
        Emitter {
            name,
            tx,
            last: None,
            detail_matters,
        }
    }

    /// Sends `state` if it differs from the last one sent (or the detail
    /// does, for kinds where it matters). Logs the change.
    async fn set(&mut self, state: TrackState, detail: String) -> Result<(), Closed> {
        let same = match &self.last {
            Some((s, d)) => *s == state && (!self.detail_matters || *d == detail),
            None => false,
        };
        if same {
            return Ok(());
        }
        match (&self.last, state) {
            (_, TrackState::Down) => {
                warn!(tracker = %self.name, state = %state, detail = %detail, "tracker state")
            }
            _ => info!(tracker = %self.name, state = %state, detail = %detail, "tracker state"),
        }
        self.last = Some((state, detail.clone()));
        let ev = TrackEvent {
            name: self.name.clone(),
            state,
            detail,
        };
        self.tx.send(ev).await.map_err(|_| {
            debug!(tracker = %self.name, "tracker receiver gone, stopping");
            Closed
        })
    }
}

/// Turns a series of check results into Up/Down with `rise`/`fall`.
///
/// The first result decides the first state at once (a daemon starting
/// must know quickly); after that it takes `rise` successes in a row to
/// go up and `fall` failures in a row to go down.
#[derive(Debug, Clone)]
pub struct RiseFall {
    /// Successes in a row needed to go up (>= 1).
    rise: u32,
    /// Failures in a row needed to go down (>= 1).
    fall: u32,
    /// Current state; `None` before the first result.
    up: Option<bool>,
    /// Results in a row that disagree with the current state.
    streak: u32,
}

impl RiseFall {
    /// A filter with these thresholds (0 is taken as 1).
    pub fn new(rise: u32, fall: u32) -> RiseFall {
        RiseFall {
            rise: rise.max(1),
            fall: fall.max(1),
            up: None,
            streak: 0,
        }
    }

    /// Feeds one check result; returns the state after it.
    pub fn feed(&mut self, ok: bool) -> bool {
        match self.up {
            None => {
                self.up = Some(ok);
                self.streak = 0;
            }
            Some(up) if up == ok => self.streak = 0,
            Some(up) => {
                self.streak += 1;
                let need = if up { self.fall } else { self.rise };
                if self.streak >= need {
                    self.up = Some(ok);
                    self.streak = 0;
                }
            }
        }
        self.up.unwrap_or(ok)
    }
}

/// Up or Down from a bool.
fn up_down(up: bool) -> TrackState {
    if up {
        TrackState::Up
    } else {
        TrackState::Down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_fall_first_result_decides() {
        assert!(!RiseFall::new(3, 3).feed(false));
        assert!(RiseFall::new(3, 3).feed(true));
    }

    #[test]
    fn rise_fall_needs_streaks() {
        let mut rf = RiseFall::new(2, 3);
        assert!(rf.feed(true));
        assert!(rf.feed(false));
        assert!(rf.feed(false));
        assert!(rf.feed(true)); // streak broken
        assert!(rf.feed(false));
        assert!(rf.feed(false));
        assert!(!rf.feed(false)); // third failure in a row
        assert!(!rf.feed(true));
        assert!(rf.feed(true)); // second success in a row
    }
}
