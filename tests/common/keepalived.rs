//! keepalived as the tests and benchmarks start it: one command line (VRRP subsystem only, in
//! the foreground, logging to the console, with private pid files in the lab directory).

use std::path::{Path, PathBuf};

use super::{Host, Proc};

/// Debian's keepalived (2.2.7), the program name the tests run it by. It is built with LVS, so
/// it also gets `--checkers_pid`; a keepalived given by path (2.4.3, built without LVS by
/// `scripts/keepalived-2.4.3.sh`) has no checker process and no such option.
pub const KEEPALIVED_DEBIAN: &str = "keepalived";

/// One keepalived's files in a lab directory, all named `<name>-keepalived…`.
#[derive(Clone, Debug)]
pub struct KeepalivedFiles {
    /// Its configuration file (`--use-file`): `<name>-keepalived.conf`.
    pub conf: PathBuf,
    /// The parent's pid file (`--pid`).
    pub pid: PathBuf,
    /// The VRRP child's pid file (`--vrrp_pid`).
    pub vrrp_pid: PathBuf,
    /// The checker child's pid file (`--checkers_pid`, [`KEEPALIVED_DEBIAN`] only).
    pub checkers_pid: PathBuf,
    /// A console log beside them: `<name>-keepalived.log` (callers may log elsewhere).
    pub log: PathBuf,
}

impl KeepalivedFiles {
    /// The files of keepalived `name` (a host's short name) in `dir`; nothing is created.
    pub fn new(dir: &Path, name: &str) -> KeepalivedFiles {
        let f = |suffix: &str| dir.join(format!("{name}-keepalived{suffix}"));
        KeepalivedFiles {
            conf: f(".conf"),
            pid: f(".pid"),
            vrrp_pid: f("-vrrp.pid"),
            checkers_pid: f("-checkers.pid"),
            log: f(".log"),
        }
    }
}

impl Host {
    /// Starts keepalived `bin` ([`KEEPALIVED_DEBIAN`] or a path) in this namespace:
    /// `--dont-fork --log-console --no-syslog --vrrp --dont-respawn`, then `extra` flags, then
    /// the files of `files` (`--checkers_pid` only for [`KEEPALIVED_DEBIAN`]); environment
    /// `env`, stdout and stderr to `log`.
    pub fn spawn_keepalived(
        &self,
        bin: &str,
        files: &KeepalivedFiles,
        extra: &[&str],
        env: &[(&str, &str)],
        log: impl AsRef<Path>,
    ) -> Proc {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let (conf, pid, vpid, cpid) = (
            s(&files.conf),
            s(&files.pid),
            s(&files.vrrp_pid),
            s(&files.checkers_pid),
        );
        let mut args = vec![
            bin,
            "--dont-fork",
            "--log-console",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
        ];
        args.extend_from_slice(extra);
        args.extend(["--use-file", &conf, "--pid", &pid, "--vrrp_pid", &vpid]);
        if bin == KEEPALIVED_DEBIAN {
            args.extend(["--checkers_pid", cpid.as_str()]);
        }
        self.spawn_env(&args, env, log)
    }
}
