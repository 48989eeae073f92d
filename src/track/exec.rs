//! Running external programs safely: the path check and process-group kill
//! shared by script trackers and notify commands.
//!
//! vrrpd runs as root, so a program it runs must not be replaceable by an
//! unprivileged user. As keepalived's script security does, a program is
//! refused when the file itself is world-writable, or when any directory on
//! its path (of the given path and of the path with symlinks resolved) is
//! world-writable without the sticky bit (anyone could rename a file there).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{Pid, User};
use tokio::process::Command;

/// Why a program may not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecRefused {
    /// The argv is empty.
    #[error("empty command")]
    Empty,
    /// `argv[0]` is not an absolute path.
    #[error("{0}: not an absolute path")]
    NotAbsolute(PathBuf),
    /// The program cannot be examined (missing, permission...).
    #[error("{path}: {reason}")]
    Unreadable {
        /// The path examined.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// Not a regular file, or no execute bit.
    #[error("{0}: not an executable regular file")]
    NotExecutable(PathBuf),
    /// The program file is world-writable.
    #[error("{0}: refused, the file is world-writable")]
    WorldWritableFile(PathBuf),
    /// A directory on the path is world-writable without the sticky bit.
    #[error("{0}: refused, directory is world-writable without the sticky bit")]
    UnsafeDirectory(PathBuf),
}

/// Checks that `argv[0]` is safe to run as root (see the module docs).
pub fn check_argv(argv: &[String]) -> Result<(), ExecRefused> {
    let first = argv.first().ok_or(ExecRefused::Empty)?;
    check_executable(Path::new(first))
}

/// Checks that the program at `path` is safe to run as root.
pub fn check_executable(path: &Path) -> Result<(), ExecRefused> {
    if !path.is_absolute() {
        return Err(ExecRefused::NotAbsolute(path.to_path_buf()));
    }
    let unreadable = |p: &Path, e: std::io::Error| ExecRefused::Unreadable {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    check_dirs(path)?;
    let real = std::fs::canonicalize(path).map_err(|e| unreadable(path, e))?;
    if real != path {
        check_dirs(&real)?;
    }
    let meta = std::fs::metadata(&real).map_err(|e| unreadable(&real, e))?;
    let mode = meta.permissions().mode();
    if !meta.is_file() || mode & 0o111 == 0 {
        return Err(ExecRefused::NotExecutable(path.to_path_buf()));
    }
    if mode & 0o002 != 0 {
        return Err(ExecRefused::WorldWritableFile(path.to_path_buf()));
    }
    Ok(())
}

/// Checks every ancestor directory of `path` (not following a final symlink).
fn check_dirs(path: &Path) -> Result<(), ExecRefused> {
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let Ok(meta) = std::fs::metadata(dir) else {
            // Missing directories show up as an unreadable program later.
            continue;
        };
        let mode = meta.mode();
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(ExecRefused::UnsafeDirectory(dir.to_path_buf()));
        }
    }
    Ok(())
}

/// Kills the process group led by `pid` with SIGKILL (programs are started
/// as their own group leader, so their children die with them).
/// Errors (the group is already gone) are ignored.
pub fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        if pid > 0 {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// A user to run a program as (looked up by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// The user's primary group id.
    pub gid: u32,
}

impl RunAs {
    /// Looks `name` up in the user database.
    pub fn lookup(name: &str) -> Result<RunAs, String> {
        match User::from_name(name) {
            Ok(Some(u)) => Ok(RunAs {
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
            }),
            Ok(None) => Err(format!("no user named {name:?}")),
            Err(e) => Err(format!("user {name:?}: {e}")),
        }
    }
}

/// How a program run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// It exited (or was killed by a signal other than ours).
    Exited(ExitStatus),
    /// It ran past the timeout; it and its process group were killed.
    TimedOut,
    /// It could not be started.
    SpawnFailed(std::io::Error),
}

impl RunOutcome {
    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, RunOutcome::Exited(s) if s.success())
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunOutcome::Exited(s) => write!(f, "{s}"),
            RunOutcome::TimedOut => f.write_str("killed at the timeout"),
            RunOutcome::SpawnFailed(e) => write!(f, "cannot start: {e}"),
        }
    }
}

/// Runs `argv` directly (no shell: arguments reach the program as they
/// are), with `env` added to the inherited environment, standard streams
/// on `/dev/null`, in its own process group, optionally as `user`.
/// After `timeout` the whole group is killed with SIGKILL and reaped.
///
/// Call [`check_argv`] first: this function does not refuse anything.
pub async fn run_program(
    argv: &[String],
    env: &[(&str, String)],
    user: Option<RunAs>,
    timeout: Duration,
) -> RunOutcome {
    let Some((prog, args)) = argv.split_first() else {
        return RunOutcome::SpawnFailed(std::io::Error::other("empty command"));
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls sched_setscheduler, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            // The daemon runs SCHED_RR (daemon::realtime) without
            // SCHED_RESET_ON_FORK, so that its own threads inherit it; a
            // program it runs is a normal process. Lowering one's own
            // policy needs no privilege.
            let normal = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return RunOutcome::SpawnFailed(e),
    };
    // If this future is dropped while the program runs (the tracker task
    // is aborted), the guard kills the whole group; kill_on_drop alone
    // would leave the program's children running.
    let mut guard = GroupGuard(child.id());
    match tokio::time::timeout(timeout, child.wait()).await {
        // Children it left running on purpose are its business.
        Ok(Ok(status)) => {
            guard.0 = None;
            RunOutcome::Exited(status)
        }
        Ok(Err(e)) => RunOutcome::SpawnFailed(e),
        Err(_) => {
            // Not reaped yet, so the group id is still ours to kill.
            kill_group(guard.0.take());
            let _ = child.kill().await;
            RunOutcome::TimedOut
        }
    }
}

/// Kills a running program's process group when dropped, unless cleared.
/// Only valid while the program is not reaped (its PID is its group id).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_binary_is_accepted() {
        assert_eq!(check_executable(Path::new("/bin/true")), Ok(()));
    }

    #[test]
    fn relative_and_missing_are_refused() {
        assert!(matches!(
            check_executable(Path::new("bin/true")),
            Err(ExecRefused::NotAbsolute(_))
        ));
        assert!(matches!(
            check_executable(Path::new("/nonexistent/vrrpd-x")),
            Err(ExecRefused::Unreadable { .. })
        ));
        assert_eq!(check_argv(&[]), Err(ExecRefused::Empty));
    }

    /// The daemon runs SCHED_RR and its threads inherit it; the programs it
    /// runs must not.
    #[test]
    fn programs_run_as_normal_processes() {
        let policy = std::thread::spawn(|| {
            let rr = libc::sched_param { sched_priority: 1 };
            // SAFETY: sets this test thread's own policy from a valid param.
            if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &rr) } != 0 {
                eprintln!("SKIPPED: cannot take SCHED_RR (not root)");
                return None;
            }
            let out = std::env::temp_dir().join(format!("vrrpd-policy-{}", std::process::id()));
            // Field 41 of /proc/PID/stat is the policy (0 = SCHED_OTHER, 2 = SCHED_RR).
            let argv: Vec<String> = [
                "/bin/sh",
                "-c",
                &format!("cut -d' ' -f41 /proc/$$/stat > {}", out.display()),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let outcome = rt.block_on(run_program(&argv, &[], None, Duration::from_secs(5)));
            assert!(matches!(outcome, RunOutcome::Exited(s) if s.success()));
            let seen = std::fs::read_to_string(&out).unwrap();
            let _ = std::fs::remove_file(&out);
            Some(seen.trim().to_owned())
        })
        .join()
        .unwrap();
        if let Some(p) = policy {
            assert_eq!(p, "0", "the program ran with policy {p}");
        }
    }
}
