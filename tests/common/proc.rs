//! A long-running process inside a lab namespace, with its output in a log file.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::wait_until;

/// A process started by [`Host::spawn`](super::Host::spawn).
///
/// It was started as `ip netns exec NS prog args...`; `ip` enters the namespace and then
/// `exec`s the program, so [`Proc::pid`] is the program's own pid (the spawn waits until the
/// exec happened). stdout and stderr both go to [`Proc::log_path`].
///
/// Dropping a `Proc` that is still running sends it SIGKILL and reaps it. If the drop happens
/// while the test is panicking, the tail of the log is printed to stderr to help debugging.
pub struct Proc {
    /// The child; we are its parent, so we reap it and its pid cannot be reused meanwhile.
    child: Child,
    /// Where stdout and stderr go.
    log: PathBuf,
    /// Human-readable label (`<netns>: <command>`) for messages.
    label: String,
    /// Exit status once reaped; after that no signal is ever sent (the pid may be reused).
    status: Option<ExitStatus>,
}

impl Proc {
    /// Wraps a freshly spawned child. Used by the harness only.
    pub(crate) fn new(child: Child, log: PathBuf, label: String) -> Proc {
        Proc {
            child,
            log,
            label,
            status: None,
        }
    }

    /// The process id of the program (not of an `ip` wrapper).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the process. Does nothing once the process has been reaped (by
    /// [`Proc::wait_exit`] or [`Proc::is_running`]), so a reused pid is never hit.
    pub fn signal(&self, sig: Signal) {
        if self.status.is_none() {
            // ESRCH cannot happen for an unreaped child (it is at worst a zombie).
            if let Err(e) = kill(Pid::from_raw(self.pid()), sig) {
                eprintln!("[harness] kill({}, {sig}) failed: {e}", self.pid());
            }
        }
    }

    /// Waits up to `timeout` for the process to exit; returns its status, or `None` if it is
    /// still running. Once it has exited, every further call returns the same status at once.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until(timeout, Duration::from_millis(5), || {
            self.try_reap().is_some()
        });
        self.status
    }

    /// Whether the process is still running (reaps it if it has exited).
    pub fn is_running(&mut self) -> bool {
        self.try_reap().is_none()
    }

    /// The exit status if the process has exited, reaping it.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.try_reap()
    }

    /// Everything the process wrote so far (stdout and stderr interleaved), lossily decoded.
    pub fn log(&self) -> String {
        match std::fs::read(&self.log) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until the log contains `needle`; returns `false` after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(10), || {
            self.log().contains(needle)
        })
    }

    /// Sends `sig` and waits up to `timeout` for the exit; SIGKILLs it if it does not exit in
    /// time (then returns `None`).
    pub fn stop(&mut self, sig: Signal, timeout: Duration) -> Option<ExitStatus> {
        self.signal(sig);
        let status = self.wait_exit(timeout);
        if status.is_none() {
            self.kill_and_reap();
        }
        status
    }

    fn try_reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.child.try_wait() {
                Ok(Some(st)) => self.status = Some(st),
                Ok(None) => {}
                Err(e) => eprintln!("[harness] waitpid({}) failed: {e}", self.pid()),
            }
        }
        self.status
    }

    fn kill_and_reap(&mut self) {
        if self.status.is_none() {
            self.signal(Signal::SIGKILL);
            match self.child.wait() {
                Ok(st) => self.status = Some(st),
                Err(e) => eprintln!("[harness] wait({}) failed: {e}", self.pid()),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_and_reap();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "---- [harness] last {} log lines of `{}` (pid {}, {}) ----\n{}\n---- end of log ----",
                tail.len(),
                self.label,
                self.pid(),
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("pid", &self.pid())
            .field("label", &self.label)
            .field("log", &self.log)
            .field("status", &self.status)
            .finish()
    }
}
