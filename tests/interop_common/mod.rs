//! Helpers shared by the interop tests: vrrpd, keepalived and FRR running side by side in lab
//! namespaces on one bridge.
//!
//! Use from an integration test with `mod common; mod interop_common;`. Everything here builds on
//! the netns harness in `tests/common/` ([`Lab`], [`Host`], [`Proc`]); nothing touches the root
//! namespace, and every pid file, socket and log lives in the lab's directory.

#![allow(dead_code)]

mod frr;

pub use frr::{frr_dir, frr_log, spawn_frr, start_zebra, vtysh};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::*;

/// The virtual address every test protects.
pub const VIP: &str = "172.16.1.254";
/// Address of the vrrpd host (`bal1`).
pub const VRRPD_ADDR: &str = "172.16.1.250";
/// Address of the peer host (`bal2`, keepalived or FRR).
pub const PEER_ADDR: &str = "172.16.1.251";

/// Whether the test may run: root (see [`require_root`]) and every program in `tools` present.
///
/// A missing program is skipped as loudly as a missing root, and is a failure under
/// `VRRPD_REQUIRE_NETNS=1` (CI installs keepalived and FRR with `scripts/test.sh`).
pub fn require_tools(tools: &[&str]) -> bool {
    if !require_root() {
        return false;
    }
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            if t.starts_with('/') {
                !Path::new(t).is_file()
            } else {
                !tool_available(t)
            }
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let name = test_name();
    let reason = format!("missing {}", missing.join(", "));
    if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_NETNS_ENV}=1 but this test cannot run ({reason}): {name}");
    }
    loud(&format!(
        "\n********** SKIPPED ({reason}): {name} **********\n"
    ));
    false
}

/// Environment variable: the keepalived 2.4.3 binary (`scripts/test.sh` sets it from
/// `scripts/keepalived-2.4.3.sh`).
pub const KEEPALIVED_243_ENV: &str = "VRRPD_KEEPALIVED_243";

/// The keepalived 2.4.3 binary, the `auth_hmac` peer: [`KEEPALIVED_243_ENV`], else what
/// `scripts/keepalived-2.4.3.sh` prints (it builds once into a cache under /opt, about 1 to
/// 3 minutes, and takes a lock so that parallel tests wait for one build; later calls only
/// print the path). Root and the binary are required: without them the test is skipped
/// loudly, or fails under `VRRPD_REQUIRE_NETNS=1`.
pub fn keepalived_243() -> Option<String> {
    static BIN: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    if !require_root() {
        return None;
    }
    let found = BIN.get_or_init(|| {
        if let Ok(p) = std::env::var(KEEPALIVED_243_ENV) {
            if Path::new(&p).is_file() {
                return Ok(p);
            }
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/keepalived-2.4.3.sh");
        let out = Command::new(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && Path::new(&path).is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} failed: {}",
                script.display(),
                tail(&String::from_utf8_lossy(&out.stderr), 10)
            ))
        }
    });
    match found {
        Ok(p) => Some(p.clone()),
        Err(reason) => {
            let name = test_name();
            if std::env::var(REQUIRE_NETNS_ENV).as_deref() == Ok("1") {
                panic!("{REQUIRE_NETNS_ENV}=1 but this test cannot run (no keepalived 2.4.3: {reason}): {name}");
            }
            loud(&format!(
                "\n********** SKIPPED (no keepalived 2.4.3: {reason}): {name} **********\n"
            ));
            None
        }
    }
}

/// A lab with one bridge and two hosts: `bal1` (172.16.1.250, for vrrpd) and `bal2`
/// (172.16.1.251, for the peer), each with interface `ext0`.
pub fn pair(tag: &str) -> (Lab, Host, Host) {
    let mut lab = Lab::new(tag);
    let br = lab.add_bridge("lan");
    let a = lab.add_host("bal1", &br, "ext0", &format!("{VRRPD_ADDR}/24"));
    let b = lab.add_host("bal2", &br, "ext0", &format!("{PEER_ADDR}/24"));
    (lab, a, b)
}

/// Polls `f` every 20 ms for up to `timeout`; panics with `what` and `ctx()` if it never holds.
pub fn expect_within(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> bool,
    ctx: impl Fn() -> String,
) {
    let ok = wait_until(timeout, Duration::from_millis(20), &mut f);
    assert!(ok, "not within {timeout:?}: {what}\n{}", ctx());
}

/// Asserts that `f` holds at every check for `span` (polled every 50 ms).
pub fn expect_steady(
    span: Duration,
    what: &str,
    mut f: impl FnMut() -> bool,
    ctx: impl Fn() -> String,
) {
    let end = Instant::now() + span;
    while Instant::now() < end {
        assert!(f(), "no longer true: {what}\n{}", ctx());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lines of `log` that contain `needle`.
pub fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

// ---------------------------------------------------------------------------------------------
// vrrpd

/// The vrrpd under test, on one host.
pub struct Vrrpd {
    /// Its namespace.
    pub host: Host,
    /// The running daemon, if started.
    pub proc: Option<Proc>,
    /// Its TOML file.
    pub config: PathBuf,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its log (stdout and stderr).
    pub log: PathBuf,
}

impl Vrrpd {
    /// Writes `toml` as the config of a vrrpd on `host` (not started).
    pub fn new(host: Host, toml: &str) -> Vrrpd {
        let dir = host.dir().to_path_buf();
        let n = host.short_name().to_owned();
        Vrrpd {
            config: write_config(&dir, &format!("{n}-vrrpd.toml"), toml),
            socket: dir.join(format!("{n}-vrrpd.sock")),
            log: dir.join(format!("{n}-vrrpd.log")),
            host,
            proc: None,
        }
    }

    /// Starts the daemon and waits for its control socket.
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "vrrpd already running");
        let _ = std::fs::remove_file(&self.socket);
        let p = self.host.spawn_vrrpd(
            &self.config,
            &["--socket", &self.socket.to_string_lossy()],
            &self.log,
        );
        self.proc = Some(p);
        let sock = self.socket.clone();
        expect_within(
            Duration::from_secs(10),
            "vrrpd control socket",
            || sock.exists(),
            || self.log_text(),
        );
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The status document (`vrrpd status --json`).
    pub fn status(&self) -> Value {
        vrrpd_status(&self.socket)
    }

    /// Status of instance `VI_1`.
    pub fn vi1(&self) -> Value {
        let s = self.status();
        s["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == "VI_1").cloned())
            .unwrap_or_else(|| panic!("no instance VI_1 in {s}"))
    }

    /// State of `VI_1` (`MASTER`, `BACKUP`, ...).
    pub fn state(&self) -> String {
        self.vi1()["state"].as_str().unwrap_or_default().to_owned()
    }

    /// A counter of `VI_1` (`counters.<name>`), 0 when absent.
    pub fn counter(&self, name: &str) -> u64 {
        self.vi1()["counters"][name].as_u64().unwrap_or(0)
    }

    /// An instance drop counter of `VI_1` (`counters.drops.<reason>`), 0 when absent.
    pub fn drop_count(&self, reason: &str) -> u64 {
        self.vi1()["counters"]["drops"][reason]
            .as_u64()
            .unwrap_or(0)
    }

    /// A daemon-wide drop counter (`drops.<reason>`, before demultiplexing), 0 when absent.
    pub fn global_drop(&self, reason: &str) -> u64 {
        self.status()["drops"][reason].as_u64().unwrap_or(0)
    }

    /// Whether the host holds the VIP.
    pub fn holds_vip(&self) -> bool {
        self.host.has_addr(VIP)
    }

    /// The running process.
    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("vrrpd running")
    }
}

/// A vrrpd config with one instance `VI_1` on `ext0` protecting [`VIP`]; `extra` is added
/// inside the instance.
pub fn vrrpd_toml(vrid: u8, prio: u8, extra: &str) -> String {
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = {vrid}\npriority = {prio}\n\
         virtual_ips = [\"{VIP}/24\"]\ngarp_master_delay = \"1s\"\n{extra}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// keepalived

/// One keepalived (VRRP subsystem only) in a host namespace, with private pid files.
pub struct Keepalived {
    /// Its namespace.
    pub host: Host,
    /// The parent process (`keepalived -n`).
    pub proc: Option<Proc>,
    /// Its configuration file, pid files and console log (`-l -D`).
    pub files: KeepalivedFiles,
    /// The program: `keepalived` (Debian's 2.2) or a path (2.4.3, see [`keepalived_243`]).
    pub bin: String,
    /// Its `TMPDIR`: where SIGUSR1 / SIGUSR2 write `keepalived.data` / `keepalived.stats`.
    pub tmp: PathBuf,
}

/// What the keepalived `vrrp_instance VI_1` looks like.
#[derive(Clone, Debug)]
pub struct KaInstance {
    /// 2 or 3.
    pub version: u8,
    /// VRID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// `advert_int` as keepalived writes it: `"1"`, `"0.1"`, `"0.01"`.
    pub advert_int: &'static str,
    /// `auth_type PASS` password (VRRPv2 only).
    pub auth_pass: Option<&'static str>,
    /// Virtual addresses with prefix.
    pub vips: Vec<String>,
    /// More lines inside `vrrp_instance` (an `auth_hmac` block, unicast settings, ...).
    pub extra: String,
}

impl KaInstance {
    /// VRRPv3 at 1 s protecting [`VIP`].
    pub fn v3(vrid: u8, priority: u8) -> KaInstance {
        KaInstance {
            version: 3,
            vrid,
            priority,
            advert_int: "1",
            auth_pass: None,
            vips: vec![format!("{VIP}/24")],
            extra: String::new(),
        }
    }

    /// VRRPv2 at 1 s with `auth_type PASS` protecting [`VIP`].
    pub fn v2_pass(vrid: u8, priority: u8, pass: &'static str) -> KaInstance {
        KaInstance {
            version: 2,
            auth_pass: Some(pass),
            ..KaInstance::v3(vrid, priority)
        }
    }

    /// The keepalived.conf text.
    pub fn conf(&self) -> String {
        let auth = match self.auth_pass {
            Some(p) => format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            ),
            None => String::new(),
        };
        let vips: String = self.vips.iter().map(|v| format!("        {v}\n")).collect();
        format!(
            "global_defs {{\n    router_id bal2\n    vrrp_garp_master_delay 1\n}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface ext0\n    version {}\n\
             \x20   virtual_router_id {}\n    priority {}\n    advert_int {}\n{auth}{}\
             \x20   virtual_ipaddress {{\n{vips}    }}\n}}\n",
            self.version, self.vrid, self.priority, self.advert_int, self.extra
        )
    }
}

impl Keepalived {
    /// Writes the configuration of a keepalived on `host` (not started).
    pub fn new(host: Host, inst: &KaInstance) -> Keepalived {
        Keepalived::with_bin(host, inst, KEEPALIVED_DEBIAN)
    }

    /// [`Keepalived::new`] running the program `bin` (a path, for 2.4.3).
    pub fn with_bin(host: Host, inst: &KaInstance, bin: &str) -> Keepalived {
        let dir = host.dir().to_path_buf();
        let n = host.short_name().to_owned();
        let tmp = dir.join(format!("{n}-keepalived-tmp"));
        std::fs::create_dir_all(&tmp).expect("keepalived TMPDIR");
        let files = KeepalivedFiles::new(&dir, &n);
        std::fs::write(&files.conf, inst.conf()).expect("keepalived.conf");
        Keepalived {
            files,
            host,
            proc: None,
            bin: bin.to_owned(),
            tmp,
        }
    }

    /// Starts `keepalived -n -l -D -G -P -R` in the host namespace with private pid files and
    /// waits until its VRRP child has started.
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "keepalived already running");
        let tmp = self.tmp.to_string_lossy().into_owned();
        self.proc = Some(self.host.spawn_keepalived(
            &self.bin,
            &self.files,
            &["--log-detail"],
            &[("TMPDIR", tmp.as_str())],
            &self.files.log,
        ));
        expect_within(
            Duration::from_secs(10),
            "keepalived VRRP child started",
            || self.log_text().contains("Entering BACKUP STATE"),
            || self.log_text(),
        );
    }

    /// The console log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.files.log).unwrap_or_default()
    }

    /// The state of `VI_1` from the last `(VI_1) Entering ... STATE` line of the log.
    pub fn state(&self) -> Option<String> {
        let log = self.log_text();
        log.lines().rev().find_map(|l| {
            let rest = l.split("(VI_1) Entering ").nth(1)?;
            rest.split_whitespace().next().map(str::to_owned)
        })
    }

    /// Whether keepalived says it is master.
    pub fn is_master(&self) -> bool {
        self.state().as_deref() == Some("MASTER")
    }

    /// Whether keepalived says it is backup.
    pub fn is_backup(&self) -> bool {
        self.state().as_deref() == Some("BACKUP")
    }

    /// Whether its host holds the VIP.
    pub fn holds_vip(&self) -> bool {
        self.host.has_addr(VIP)
    }

    /// The VRRP child's pid, from its pid file.
    fn vrrp_child(&self) -> Option<i32> {
        std::fs::read_to_string(&self.files.vrrp_pid)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A crash: no priority-0 advert, VIPs left in place. The parent is stopped first so that
    /// it neither respawns the child nor (through the child's parent-death signal) lets it
    /// shut down cleanly; then the child and the parent are SIGKILLed.
    pub fn kill9(&mut self) {
        let child = self.vrrp_child().expect("keepalived VRRP child pid file");
        let proc = self.proc.as_mut().expect("keepalived running");
        proc.signal(Signal::SIGSTOP);
        kill(Pid::from_raw(child), Signal::SIGKILL).expect("SIGKILL keepalived VRRP child");
        proc.stop(Signal::SIGKILL, Duration::from_secs(5));
    }

    /// Writes `inst` as the configuration and reloads (SIGHUP); returns once the VRRP child
    /// has logged that it reloads and answers a data dump with the new file applied
    /// (its `Reloading` line is logged before the new configuration is read).
    pub fn reload(&mut self, inst: &KaInstance) {
        std::fs::write(&self.files.conf, inst.conf()).expect("keepalived.conf");
        let before = count_lines(&self.log_text(), "Reloading");
        let proc = self.proc.as_ref().expect("keepalived running");
        proc.signal(Signal::SIGHUP);
        expect_within(
            Duration::from_secs(10),
            "keepalived reloads",
            || count_lines(&self.log_text(), "Reloading") > before,
            || self.log_text(),
        );
        // The dump is served by the same thread that applies the reload, after it.
        let want = format!("Priority = {}", inst.priority);
        expect_within(
            Duration::from_secs(10),
            "keepalived's data dump shows the new configuration",
            || self.data().contains(&want),
            || {
                format!(
                    "{}
{}",
                    self.data(),
                    self.log_text()
                )
            },
        );
    }

    /// Sends `sig` (propagated to the VRRP child) and reads the file it writes in [`Self::tmp`]
    /// once it stops growing. The signal is sent again every second for 10 s: one that
    /// arrives while the child reloads is lost.
    fn dump(&self, sig: Signal, file: &str) -> String {
        let path = self.tmp.join(file);
        let proc = self.proc.as_ref().expect("keepalived running");
        for _ in 0..10 {
            let _ = std::fs::remove_file(&path);
            proc.signal(sig);
            let mut last = None;
            let ok = wait_until(Duration::from_secs(1), Duration::from_millis(50), || {
                let len = std::fs::metadata(&path).map(|m| m.len()).ok();
                let stable = len.is_some_and(|l| l > 0) && len == last;
                last = len;
                stable
            });
            if ok {
                return std::fs::read_to_string(&path).unwrap_or_default();
            }
        }
        panic!(
            "keepalived wrote no {}\n{}",
            path.display(),
            self.log_text()
        );
    }

    /// The data dump (SIGUSR1, `keepalived.data`): the configuration in force.
    pub fn data(&self) -> String {
        self.dump(Signal::SIGUSR1, "keepalived.data")
    }

    /// The statistics (SIGUSR2, `keepalived.stats`).
    pub fn stats(&self) -> String {
        self.dump(Signal::SIGUSR2, "keepalived.stats")
    }

    /// One counter of `VI_1` in [`Self::stats`]: `name` (e.g. `Invalid HMAC`) under the
    /// heading `section` (e.g. `Authentication Extension Errors`); 0 when absent.
    pub fn stat(stats: &str, section: &str, name: &str) -> u64 {
        let mut in_section = false;
        for line in stats.lines() {
            let t = line.trim();
            if let Some(head) = t.strip_suffix(':') {
                in_section = head == section;
                continue;
            }
            if let Some((k, v)) = t.split_once(':') {
                if (in_section || section.is_empty()) && k.trim() == name {
                    return v.trim().parse().unwrap_or(0);
                }
            }
        }
        0
    }

    /// A clean stop (SIGTERM): keepalived sends priority 0 and removes its VIPs.
    pub fn term(&mut self) {
        let proc = self.proc.as_mut().expect("keepalived running");
        let st = proc.stop(Signal::SIGTERM, Duration::from_secs(10));
        assert!(st.is_some(), "keepalived did not exit on SIGTERM");
    }
}

// ---------------------------------------------------------------------------------------------
// FRR

/// How the interop tests run FRR's daemons: logging at debug level.
const FRR_DEBUG: &[&str] = &["--log-level", "debug"];

/// FRR's zebra and vrrpd in one host namespace, with their own pid files, zebra socket and vty
/// sockets in a private directory (owned by the `frr` user, as FRR drops privileges to it).
pub struct Frr {
    /// Its namespace.
    pub host: Host,
    /// Private directory: configs, pid files, sockets, logs.
    pub dir: PathBuf,
    /// zebra.
    pub zebra: Option<Proc>,
    /// FRR's vrrpd.
    pub vrrpd: Option<Proc>,
}

impl Frr {
    /// For each address family with virtual addresses, creates the macvlan `vrrp4-<vrid>` or
    /// `vrrp6-<vrid>` (virtual MAC `00:00:5e:00:01:<vrid>` or `00:00:5e:00:02:<vrid>`, mode
    /// bridge) carrying them on the host's `ext0`, as FRR requires; writes `vrrpd.conf`
    /// (`conf`, the `interface ext0` block) and starts zebra, then FRR's vrrpd.
    pub fn start(host: Host, vrid: u8, vips: &[&str], conf: &str) -> Frr {
        for fam in [4u8, 6] {
            let mine: Vec<&&str> = vips
                .iter()
                .filter(|v| v.contains(':') == (fam == 6))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mv = format!("vrrp{fam}-{vrid}");
            host.ip(&[
                "link", "add", &mv, "link", "ext0", "type", "macvlan", "mode", "bridge",
            ]);
            let kind = if fam == 4 { 1 } else { 2 };
            let mac = format!("00:00:5e:00:0{kind}:{vrid:02x}");
            host.ip(&["link", "set", "dev", &mv, "address", &mac]);
            for v in mine {
                host.add_addr(&mv, v);
            }
            host.ip(&["link", "set", "dev", &mv, "up"]);
            if fam == 6 {
                // FRR binds its IPv6 socket to the macvlan's link-local address when it becomes
                // master. The kernel only creates that address once the macvlan has carrier; if
                // FRR's backup puts the macvlan in protodown first, the address is missing at
                // the Backup -> Master transition and FRR logs "Failed to find address to bind
                // on vrrp6-<vrid>" and sends nothing. So wait for it before starting FRR. (The
                // harness turns DAD off, so it is never "tentative" here; were it on, a
                // tentative address could not be bound to either.)
                let mut seen = String::new();
                let ll = || {
                    seen = host.ip(&["-o", "-6", "addr", "show", "dev", &mv, "scope", "link"]);
                    seen.contains("fe80:") && !seen.contains("tentative")
                };
                assert!(
                    wait_until(Duration::from_secs(10), Duration::from_millis(10), ll),
                    "no usable link-local address on {mv}: {seen}"
                );
            }
        }

        let dir = frr_dir(&host, &[("vrrpd.conf", conf)]);
        let zebra = start_zebra(&host, &dir, FRR_DEBUG);
        let mut frr = Frr {
            host,
            dir,
            zebra: Some(zebra),
            vrrpd: None,
        };
        // FRR's vrrpd learns interfaces and addresses from zebra. Started before zebra has
        // them, its IPv6 router was seen (in this lab) to become master without a link-local
        // address to send from ("Failed to find address to bind on vrrp6-<vrid>"). Wait until
        // zebra shows every macvlan's addresses.
        for (fam, want) in [(4u8, "inet "), (6, "inet6 fe80")] {
            let mv = format!("vrrp{fam}-{vrid}");
            if !vips.iter().any(|v| v.contains(':') == (fam == 6)) {
                continue;
            }
            expect_within(
                Duration::from_secs(10),
                &format!("zebra knows the addresses of {mv}"),
                || {
                    frr.vtysh("zebra", &format!("show interface {mv}"))
                        .contains(want)
                },
                || frr.log("zebra"),
            );
        }
        frr.vrrpd = Some(frr.spawn_daemon("vrrpd"));
        let vty = frr.dir.join("vrrpd.vty");
        expect_within(
            Duration::from_secs(10),
            "FRR vrrpd vty socket",
            || vty.exists(),
            || frr.log("vrrpd"),
        );
        frr
    }

    fn spawn_daemon(&self, name: &str) -> Proc {
        spawn_frr(&self.host, &self.dir, name, FRR_DEBUG)
    }

    /// Log of `zebra` or `vrrpd`.
    pub fn log(&self, daemon: &str) -> String {
        frr_log(&self.dir, daemon)
    }

    /// Runs one vtysh command against `daemon` (see [`vtysh`]).
    pub fn vtysh(&self, daemon: &str, cmd: &str) -> String {
        vtysh(&self.dir, daemon, cmd)
    }

    /// `show vrrp json` of FRR's vrrpd (`Null` if it does not answer).
    pub fn show(&self) -> Value {
        serde_json::from_str(&self.vtysh("vrrpd", "show vrrp json")).unwrap_or(Value::Null)
    }

    /// `adverTx` of the first virtual router for `fam` (`"v4"` or `"v6"`).
    pub fn adverts_sent(&self, fam: &str) -> u64 {
        self.show()[0][fam]["stats"]["adverTx"]
            .as_u64()
            .unwrap_or(0)
    }

    /// The IPv4 status of the first virtual router (`Master`, `Backup`, `Initialize`).
    pub fn v4_state(&self) -> String {
        self.state("v4")
    }

    /// The status of the first virtual router for `fam` (`"v4"` or `"v6"`).
    pub fn state(&self, fam: &str) -> String {
        self.show()[0][fam]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the IPv4 macvlan of `vrid` is administratively held down (`protodown on`),
    /// which is how FRR keeps a backup's copy of the VIP off the wire.
    pub fn protodown(&self, vrid: u8) -> bool {
        self.protodown_dev(&format!("vrrp4-{vrid}"))
    }

    /// Whether macvlan `dev` is held down (`protodown on`).
    pub fn protodown_dev(&self, dev: &str) -> bool {
        let out = self.host.ip(&["-d", "link", "show", "dev", dev]);
        out.contains("protodown on")
    }

    /// A crash of FRR: SIGKILL vrrpd and zebra (the macvlan keeps its state).
    pub fn kill9(&mut self) {
        for p in [self.vrrpd.as_mut(), self.zebra.as_mut()]
            .into_iter()
            .flatten()
        {
            p.stop(Signal::SIGKILL, Duration::from_secs(5));
        }
    }

    /// Both logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- FRR vrrpd\n{}\n--- FRR show vrrp\n{}",
            tail(&self.log("vrrpd"), 40),
            self.show()
        )
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
