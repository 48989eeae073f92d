//! FRR's daemons in a lab host, as the interop tests (FRR's vrrpd) and the BGP tests (bgpd and
//! bfdd) start them: one private directory per host holding their configs, pid files, zebra's
//! socket, the vty sockets and the logs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::expect_within;
use crate::common::{Host, Proc};

/// Where FRR's daemons live on Debian.
pub const FRR_DIR: &str = "/usr/lib/frr";

/// Creates `frr-<host>` in the lab directory with an empty `zebra.conf` and each of `confs`
/// (file name, text), all owned by the `frr` user (FRR drops privileges to it); returns its
/// path.
pub fn frr_dir(host: &Host, confs: &[(&str, &str)]) -> PathBuf {
    let dir = host.dir().join(format!("frr-{}", host.short_name()));
    std::fs::create_dir_all(&dir).expect("frr dir");
    std::fs::write(dir.join("zebra.conf"), "").expect("zebra.conf");
    for (name, text) in confs {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let out = Command::new("chown")
        .args(["-R", "frr:frr"])
        .arg(&dir)
        .output()
        .expect("chown");
    assert!(out.status.success(), "chown frr: {out:?}");
    dir
}

/// Starts FRR's `daemon` (`zebra`, `bgpd`, ...) in `host`'s namespace with its config, pid
/// file, zebra socket and vty socket in `dir` (see [`frr_dir`]), logging to stdout, which goes
/// to `<dir>/<daemon>.log`; `extra` flags are added at the end.
pub fn spawn_frr(host: &Host, dir: &Path, daemon: &str, extra: &[&str]) -> Proc {
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (bin, conf, pid, zsock, vty) = (
        format!("{FRR_DIR}/{daemon}"),
        d(&format!("{daemon}.conf")),
        d(&format!("{daemon}.pid")),
        d("zserv.api"),
        d(""),
    );
    let mut args = vec![
        bin.as_str(),
        "-f",
        &conf,
        "-i",
        &pid,
        "-z",
        &zsock,
        "--vty_socket",
        &vty,
        "-P",
        "0",
        "--log",
        "stdout",
    ];
    args.extend_from_slice(extra);
    host.spawn(&args, dir.join(format!("{daemon}.log")))
}

/// Starts zebra ([`spawn_frr`]) and waits until its socket is there for the other daemons.
pub fn start_zebra(host: &Host, dir: &Path, extra: &[&str]) -> Proc {
    let zebra = spawn_frr(host, dir, "zebra", extra);
    let zsock = dir.join("zserv.api");
    expect_within(
        Duration::from_secs(10),
        "zebra socket",
        || zsock.exists(),
        || frr_log(dir, "zebra"),
    );
    zebra
}

/// The log of `daemon` in `dir` so far.
pub fn frr_log(dir: &Path, daemon: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{daemon}.log"))).unwrap_or_default()
}

/// Runs one vtysh command against `daemon` on the vty sockets in `dir`; returns its stdout
/// (empty if the daemon does not answer).
pub fn vtysh(dir: &Path, daemon: &str, cmd: &str) -> String {
    let out = Command::new("vtysh")
        .arg("--vty_socket")
        .arg(dir)
        .args(["-d", daemon, "-c", cmd])
        .output()
        .expect("run vtysh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
