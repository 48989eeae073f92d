//! Notifications of state transitions: `notify_*` commands and a FIFO event stream.
//!
//! The daemon calls [`Notifier::transition`] for every state change; the
//! call never blocks (it pushes into unbounded queues). Two worker tasks
//! do the work:
//! - the **command worker** runs each transition's program strictly in
//!   transition order, one at a time, directly (never through a shell, so
//!   `;`, `$(..)` and `|` reach the program literally), with `VRRPD_*`
//!   environment variables, killed (with its process group) after a
//!   timeout so that one hung program cannot hold up the next. Programs
//!   that fail the safety check of [`crate::track::exec`] are refused.
//! - the **FIFO worker** writes each transition as one JSON line to the
//!   configured FIFO (created with mode 0600 if absent). The FIFO is opened
//!   non-blocking: with no reader attached, or a reader too slow to drain
//!   the pipe, the line is dropped and counted, never waited for. A reader
//!   that went away (`EPIPE`) causes a reopen. Lines are kept shorter than
//!   `PIPE_BUF`, so each is written atomically.
//!
//! Environment of a command:
//!
//! | Variable | Value |
//! |---|---|
//! | `VRRPD_INSTANCE` | instance name |
//! | `VRRPD_FROM` | previous state (`INIT`, `BACKUP`, `MASTER`, `FAULT`) |
//! | `VRRPD_TO`, `VRRPD_STATE` | new state |
//! | `VRRPD_REASON` | why, as logged |
//! | `VRRPD_PRIORITY` | effective priority |
//! | `VRRPD_TIME_MS` | transition time, milliseconds since the Unix epoch |

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::stat::Mode;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::track::exec::{check_argv, run_program, RunOutcome};

/// Time a notify command may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest FIFO line (with its newline): `PIPE_BUF`, so writes are atomic.
const MAX_LINE: usize = 4096;

/// One state transition of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionEvent {
    /// Instance name.
    pub instance: String,
    /// Previous state: `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub from: String,
    /// New state, same spelling.
    pub to: String,
    /// Why the transition happened (as logged).
    pub reason: String,
    /// The instance's effective priority at the transition.
    pub priority: u8,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

impl TransitionEvent {
    /// The JSON line for the FIFO (with `\n`), shorter than `PIPE_BUF`
    /// (an over-long reason is cut).
    pub fn json_line(&self) -> String {
        let mut ev = self.clone();
        loop {
            let mut line = serde_json::to_string(&ev).unwrap_or_else(|_| String::from("{}"));
            line.push('\n');
            if line.len() <= MAX_LINE || ev.reason.is_empty() {
                return line;
            }
            let excess = line.len() - MAX_LINE + 8;
            let mut keep = ev.reason.len().saturating_sub(excess);
            while !ev.reason.is_char_boundary(keep) {
                keep -= 1;
            }
            ev.reason.truncate(keep);
        }
    }

    /// The `VRRPD_*` environment of a notify command.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VRRPD_INSTANCE", self.instance.clone()),
            ("VRRPD_FROM", self.from.clone()),
            ("VRRPD_TO", self.to.clone()),
            ("VRRPD_STATE", self.to.clone()),
            ("VRRPD_REASON", self.reason.clone()),
            ("VRRPD_PRIORITY", self.priority.to_string()),
            ("VRRPD_TIME_MS", self.at_unix_ms.to_string()),
        ]
    }
}

/// Runs notify commands and writes the event stream (see the module docs).
#[derive(Debug)]
pub struct Notifier {
    /// Queue of the command worker.
    cmds: mpsc::UnboundedSender<(TransitionEvent, Vec<String>)>,
    /// Queue of the FIFO worker, when a FIFO is configured.
    lines: Option<mpsc::UnboundedSender<TransitionEvent>>,
    /// FIFO lines dropped (no reader, full pipe, FIFO unusable).
    dropped: Arc<AtomicU64>,
    /// The worker tasks, awaited by [`Notifier::shutdown`].
    workers: Vec<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the workers on the current tokio runtime, with the default
    /// command timeout ([`DEFAULT_TIMEOUT`]).
    pub fn new(fifo: Option<PathBuf>) -> Notifier {
        Notifier::with_timeout(fifo, DEFAULT_TIMEOUT)
    }

    /// Starts the workers with a given command timeout.
    pub fn with_timeout(fifo: Option<PathBuf>, timeout: Duration) -> Notifier {
        let dropped = Arc::new(AtomicU64::new(0));
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let mut workers = vec![tokio::spawn(command_worker(cmd_rx, timeout))];
        let lines = fifo.map(|path| {
            let (tx, rx) = mpsc::unbounded_channel();
            let fifo = Fifo::new(path, Arc::clone(&dropped));
            workers.push(tokio::spawn(fifo_worker(rx, fifo)));
            tx
        });
        Notifier {
            cmds,
            lines,
            dropped,
            workers,
        }
    }

    /// Queues a transition: its line for the FIFO and, if `argv` is given,
    /// its command. Never blocks.
    pub fn transition(&self, ev: TransitionEvent, argv: Option<Vec<String>>) {
        if let Some(lines) = &self.lines {
            if lines.send(ev.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(argv) = argv {
            if self.cmds.send((ev, argv)).is_err() {
                error!("notify worker is gone, command not run");
            }
        }
    }

    /// How many FIFO lines were dropped so far.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops taking transitions and waits until every queued command has
    /// run (each bounded by the timeout) and every line was written or
    /// dropped. For the daemon's exit, after `notify_stop`.
    pub async fn shutdown(self) {
        let Notifier {
            cmds,
            lines,
            workers,
            ..
        } = self;
        drop(cmds);
        drop(lines);
        for w in workers {
            let _ = w.await;
        }
    }
}

/// Runs queued commands one at a time, in order.
async fn command_worker(
    mut rx: mpsc::UnboundedReceiver<(TransitionEvent, Vec<String>)>,
    timeout: Duration,
) {
    while let Some((ev, argv)) = rx.recv().await {
        let program = argv.first().cloned().unwrap_or_default();
        if let Err(why) = check_argv(&argv) {
            error!(instance = %ev.instance, to = %ev.to, reason = %why, "notify command refused");
            continue;
        }
        let outcome = run_program(&argv, &ev.env(), None, timeout).await;
        match &outcome {
            o if o.success() => {
                debug!(instance = %ev.instance, to = %ev.to, program = %program, "notify command done")
            }
            RunOutcome::TimedOut => warn!(
                instance = %ev.instance, to = %ev.to, program = %program,
                timeout = ?timeout, "notify command killed at the timeout"
            ),
            o => warn!(
                instance = %ev.instance, to = %ev.to, program = %program,
                outcome = %o, "notify command failed"
            ),
        }
    }
}

/// Writes queued events to the FIFO, in order.
async fn fifo_worker(mut rx: mpsc::UnboundedReceiver<TransitionEvent>, mut fifo: Fifo) {
    while let Some(ev) = rx.recv().await {
        fifo.write_line(ev.json_line().as_bytes());
    }
}

/// The writing end of the event FIFO.
#[derive(Debug)]
struct Fifo {
    /// Where the FIFO is.
    path: PathBuf,
    /// The open FIFO, while a reader is attached.
    file: Option<File>,
    /// Shared drop counter.
    dropped: Arc<AtomicU64>,
    /// Whether "no reader" was logged since the last successful write.
    told_no_reader: bool,
    /// Whether the path is usable (it is, or was made, a FIFO).
    usable: bool,
}

impl Fifo {
    /// Creates the FIFO (mode 0600) if the path does not exist.
    fn new(path: PathBuf, dropped: Arc<AtomicU64>) -> Fifo {
        let usable = ensure_fifo(&path);
        Fifo {
            path,
            file: None,
            dropped,
            told_no_reader: false,
            usable,
        }
    }

    /// Writes one line without ever blocking; drops and counts it if it
    /// cannot be written now.
    fn write_line(&mut self, line: &[u8]) {
        if !self.usable {
            // Created since? (for example by the operator)
            self.usable = ensure_fifo(&self.path);
        }
        if self.usable {
            // Two attempts: a reader that left gives EPIPE on the old
            // descriptor; a new one may be waiting on a reopen.
            for _ in 0..2 {
                if self.file.is_none() {
                    match OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(&self.path)
                    {
                        Ok(f) => self.file = Some(f),
                        Err(e) => {
                            if e.raw_os_error() == Some(libc::ENXIO) {
                                if !self.told_no_reader {
                                    info!(fifo = %self.path.display(), "no reader on the notify FIFO, dropping events");
                                    self.told_no_reader = true;
                                }
                            } else {
                                warn!(fifo = %self.path.display(), error = %e, "cannot open the notify FIFO");
                            }
                            break;
                        }
                    }
                }
                let Some(file) = self.file.as_mut() else {
                    break;
                };
                match file.write(line) {
                    Ok(n) if n == line.len() => {
                        self.told_no_reader = false;
                        return;
                    }
                    Ok(_) => {
                        warn!(fifo = %self.path.display(), "short write on the notify FIFO");
                        return;
                    }
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                        debug!(fifo = %self.path.display(), "notify FIFO reader left, reopening");
                        self.file = None;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        debug!(fifo = %self.path.display(), "notify FIFO full, dropping event");
                        break;
                    }
                    Err(e) => {
                        warn!(fifo = %self.path.display(), error = %e, "notify FIFO write failed");
                        self.file = None;
                        break;
                    }
                }
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Makes sure `path` is a FIFO, creating it with mode 0600 if absent.
/// Logs and returns false if it cannot be (for example a regular file is there).
fn ensure_fifo(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => true,
        Ok(_) => {
            error!(fifo = %path.display(), "notify FIFO path exists and is not a FIFO");
            false
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            match nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR) {
                Ok(()) => true,
                Err(e) => {
                    error!(fifo = %path.display(), error = %e, "cannot create the notify FIFO");
                    false
                }
            }
        }
        Err(e) => {
            error!(fifo = %path.display(), error = %e, "cannot examine the notify FIFO");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reason: &str) -> TransitionEvent {
        TransitionEvent {
            instance: "VI_1".into(),
            from: "BACKUP".into(),
            to: "MASTER".into(),
            reason: reason.into(),
            priority: 100,
            at_unix_ms: 1,
        }
    }

    #[test]
    fn json_line_is_one_line() {
        let line = ev("a\nb \"q\"").json_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["reason"], "a\nb \"q\"");
        assert_eq!(v["to"], "MASTER");
    }

    #[test]
    fn long_reason_is_cut_below_pipe_buf() {
        let line = ev(&"é".repeat(5000)).json_line();
        assert!(line.len() <= MAX_LINE);
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok());
    }
}
