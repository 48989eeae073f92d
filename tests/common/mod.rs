//! Shared harness for integration tests that run real processes in Linux network namespaces.
//!
//! Use it from an integration test with `mod common;` and then `use common::*;`.
//!
//! The building blocks:
//! - [`Lab`]: one test's private world: a "switch" namespace holding one or more bridges, and
//!   host namespaces plugged into them with veth pairs. Dropping the lab kills every process
//!   inside its namespaces and deletes the namespaces (and with them the veths and bridges),
//!   also when the test panics. Nothing is created in the host's root network namespace, so
//!   test traffic can never leave the lab.
//! - [`Host`]: a handle on one namespace + interface; runs commands (`ip netns exec`), closures
//!   (a thread that `setns()`es into the namespace), long-running processes ([`Proc`]), and
//!   answers questions (addresses, neighbours, MACs, ping, TCP).
//! - [`Proc`]: a process running inside a namespace, its output in a log file, SIGKILLed on drop.
//! - [`Host::spawn_keepalived`] / [`KeepalivedFiles`]: keepalived (VRRP only, foreground,
//!   private pid files) as the interop tests and the benchmarks run it.
//! - [`Sniffer`]: an `AF_PACKET` capture on one interface of a host, with timestamps, to check
//!   what goes on the wire (VRRP adverts, gratuitous ARP, ...).
//! - [`RawSender`]: whole IP packets with any source and TTL from a host (a stranger on the
//!   segment), one at a time or as a paced flood.
//! - [`wait_until`] / [`measure_until`]: polling helpers with generous bounds; wait on the
//!   condition itself, never on a sleep (docs/TESTING.md). [`logged_after`]: when the daemon
//!   logged an event, by its own timestamp (for asserting protocol times on a busy machine).
//! - [`thread_of`] / [`wakeups`]: a daemon's thread by name, and how often it has woken (its
//!   voluntary context switches), for tests that count wake-ups.
//!
//! Every test that needs the lab starts with `if !require_root() { return; }`.
//!
//! Names: every lab gets the unique prefix `vt<pid>-<counter>` (pid of the test process plus a
//! process-wide counter), so parallel tests in one binary, and several test binaries at once,
//! never collide. Interface names live inside the lab's own namespaces, so they only need to be
//! unique within a lab (and at most 15 bytes, which the harness checks).
//! [`cleanup_stale`] removes namespaces left by earlier runs that crashed (their pid is gone).
//!
//! A daemon test looks like this (not compiled here):
//!
//! ```text
//! mod common;
//! use common::*;
//!
//! #[test]
//! fn master_fails_over() {
//!     if !require_root() { return; }
//!     let (lab, hosts) = Lab::standard("failover");
//!     let cfg1 = write_config(lab.dir(), "bal1.toml", "...priority 150...");
//!     let cfg2 = write_config(lab.dir(), "bal2.toml", "...priority 100...");
//!     let mut d1 = hosts[0].spawn_vrrpd(&cfg1, &[], "bal1.log");
//!     let _d2 = hosts[1].spawn_vrrpd(&cfg2, &[], "bal2.log");
//!     let vip = "172.16.1.1";
//!     assert!(wait_until(Duration::from_secs(10), Duration::from_millis(20),
//!         || holders(&hosts, vip) == ["bal1"]), "log: {}", d1.log());
//!     lab.set_bridge_port(&hosts[0], false);          // or d1.signal(Signal::SIGKILL)
//!     let took = measure_until(Duration::from_secs(10), || hosts[1].has_addr(vip));
//!     assert!(took.is_some());
//!     // Which host answers for the VIP? (needs `let _b = hosts[1].serve_banner(8080);`)
//!     // hosts[3].tcp_banner(vip, 8080, Duration::from_secs(2)) == Some("bal2".into())
//! }
//! ```
//!
//! On a failure, the lab directory with configs and logs is kept and its path printed, and
//! every dropped [`Proc`] prints the tail of its log.

#![allow(dead_code, unused_imports)]

mod inject;
mod keepalived;
mod lab;
mod proc;
pub mod seccomp;
mod sniff;
mod threads;
mod wait;

pub use inject::{ip_packet, ipv4_packet, ipv6_packet, Flood, RawSender};
pub use keepalived::{KeepalivedFiles, KEEPALIVED_DEBIAN};
pub use lab::{cleanup_stale, holders, Host, Lab, Port, TcpBanner, NS_PREFIX};
pub use proc::Proc;
pub use sniff::{Frame, Sniffer, IPPROTO_VRRP};
pub use threads::{thread_of, wakeups};
pub use wait::{log_time, logged_after, measure_until, wait_until};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable: when set to `1`, a test that cannot run for lack of root panics
/// instead of being skipped (a skip counts as a failure in CI).
pub const REQUIRE_NETNS_ENV: &str = "VRRPD_REQUIRE_NETNS";

/// Environment variable: when set (to anything), lab temp dirs are kept even after a passing
/// test. They are always kept after a failing one.
pub const KEEP_DIRS_ENV: &str = "VRRPD_KEEP_TEST_DIRS";

/// Root of all per-test temporary directories.
pub const TEST_ROOT: &str = "/tmp/vrrpd-tests";

/// Process-wide counter that makes names unique across parallel tests.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns a fresh number, unique within this test process.
pub(crate) fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unknown test>")
        .to_string()
}

/// Whether the current test may use network namespaces; `true` means go on.
///
/// Needs effective uid 0 and the `ip` tool (iproute2). Otherwise prints a loud
/// `SKIPPED (not root): <test name>` to stderr and returns `false`, or panics if
/// `VRRPD_REQUIRE_NETNS=1` (see [`REQUIRE_NETNS_ENV`]).
pub fn require_root() -> bool {
    let reason = if !nix::unistd::geteuid().is_root() {
        Some("not root")
    } else if !tool_available("ip") {
        Some("no `ip` tool (iproute2)")
    } else {
        None
    };
    let Some(reason) = reason else {
        return true;
    };
    let name = test_name();
    if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_NETNS_ENV}=1 but this test cannot run ({reason}): {name}");
    }
    loud(&format!(
        "\n********** SKIPPED ({reason}): {name} **********\n"
    ));
    false
}

/// Writes `msg` and a newline straight to the process's stderr. Unlike `eprintln!`, this is
/// not captured by the test runner, so it shows even for passing tests.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Whether an executable named `tool` is on `PATH` (or in /sbin, /usr/sbin).
pub fn tool_available(tool: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .any(|dir| Path::new(dir).join(tool).is_file());
    found
}

/// Creates a fresh, unique directory `/tmp/vrrpd-tests/<tag>-<pid>-<n>` and returns its path.
///
/// Nothing removes it automatically; [`Lab`] manages its own directory (see [`Lab::dir`]).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = Path::new(TEST_ROOT).join(format!(
        "{}-{}-{}",
        sanitize(tag, 24),
        std::process::id(),
        next_id()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", dir.display()));
    dir
}

/// Writes `text` to `dir/name` (creating `dir` if needed) and returns the file's path.
pub fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Path of the `vrrpd` binary built by cargo for this test run.
pub fn vrrpd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

/// Keeps only ASCII alphanumerics of `s` (so it is safe in file and namespace names), at most
/// `max` of them.
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(max)
        .collect()
}

/// The status document of the daemon behind control socket `socket`
/// (`vrrpd status --json --socket SOCKET`), parsed. Panics with the
/// command's stderr when it fails.
pub fn vrrpd_status(socket: &Path) -> serde_json::Value {
    let out = std::process::Command::new(vrrpd_bin())
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .output()
        .expect("run vrrpd status");
    assert!(
        out.status.success(),
        "vrrpd status --socket {} failed: {}",
        socket.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

/// The entry of instance `name` in a status document.
pub fn status_instance(status: &serde_json::Value, name: &str) -> serde_json::Value {
    status["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no instance {name} in {status}"))
}
