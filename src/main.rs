//! The `vrrpd` binary: a thin edge that parses the command line and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// A VRRPv2/v3 high-availability daemon.
///
/// Without a subcommand, runs the daemon in the foreground with the given
/// configuration, logging to stderr.
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(short, long, global = true, default_value = "/etc/vrrpd/vrrp.toml")]
    config: PathBuf,

    /// Log format (overrides `global.log_format`).
    #[arg(long, value_enum, global = true)]
    log_format: Option<LogFormatArg>,

    /// Control socket path (overrides `global.control_socket`).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,

    /// Keep every capability vrrpd was started with (by default it drops
    /// all but those its configuration needs; see docs/OPERATIONS.md).
    #[arg(long)]
    keep_capabilities: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration: prints `ok`, or every error with its key path.
    Check,
    /// Show the state of every instance of a running daemon.
    Status {
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Convert a keepalived.conf to vrrpd's TOML on stdout; lines that cannot
    /// be converted are reported on stderr with their line numbers.
    ImportKeepalived {
        /// The keepalived configuration file.
        file: PathBuf,
    },
    /// Hold an instance out of mastership (on) or release it (off).
    ///
    /// With `on`, a master hands over at once (priority 0) and the command
    /// waits up to 3 advertisement intervals + 1 s to say which router took
    /// over. Exit status 0; 1 on an error; 2 when nobody took over in time.
    Maintenance {
        /// Instance name.
        instance: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        mode: String,
        /// Do not wait for the takeover; print the daemon's answer.
        #[arg(long)]
        no_wait: bool,
    },
    /// Hand an instance's mastership to the best backup and say which one took over.
    ///
    /// The same as `maintenance NAME on`: the instance stays out of
    /// mastership until `maintenance NAME off`. Exit status 0; 1 on an
    /// error; 2 when nobody took over in time.
    Switchover {
        /// Instance name.
        instance: String,
    },
    /// Write the man pages (vrrpd.8, vrrpd-SUBCOMMAND.8) into DIR.
    #[command(hide = true)]
    GenerateMan {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// Print a shell completion script on stdout.
    #[command(hide = true)]
    GenerateCompletions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check) => match vrrpd::config::load(&cli.config) {
            Ok(c) => {
                // What the daemon would log at warn level on start and reload.
                for w in &c.warnings {
                    eprintln!("{}: warning: {w}", cli.config.display());
                }
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Status { json }) => {
            let path = control_socket(&cli);
            match vrrpd::daemon::request(&path, "status") {
                Ok(answer) if json => {
                    println!("{answer}");
                    ExitCode::SUCCESS
                }
                Ok(answer) => {
                    match serde_json::from_str::<vrrpd::daemon::status::Status>(&answer) {
                        Ok(s) => {
                            print!("{}", vrrpd::daemon::status::render_table(&s));
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("vrrpd: unexpected answer from {}: {e}", path.display());
                            ExitCode::FAILURE
                        }
                    }
                }
                Err(e) => {
                    eprintln!("vrrpd: cannot reach the daemon at {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Maintenance {
            ref instance,
            ref mode,
            no_wait,
        }) => maintenance::run(&control_socket(&cli), instance, mode == "on", !no_wait),
        Some(Command::Switchover { ref instance }) => {
            maintenance::run(&control_socket(&cli), instance, true, true)
        }
        Some(Command::GenerateMan { ref dir }) => match generate_man(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vrrpd: cannot write man pages to {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Some(Command::GenerateCompletions { shell }) => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "vrrpd", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::ImportKeepalived { ref file }) => import_keepalived(file),
        None => run_daemon(&cli),
    }
}

fn import_keepalived(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vrrpd: cannot read {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    match vrrpd::import::convert_keepalived(&text, &file.display().to_string()) {
        Ok(out) => {
            print!("{}", out.toml);
            for w in &out.warnings {
                eprintln!("{}: {w}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vrrpd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// vrrpd.8 and one page per visible subcommand (vrrpd-status.8, ...).
fn generate_man(dir: &std::path::Path) -> std::io::Result<()> {
    fn pages(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            pages(sub, dir)?;
        }
        clap_mangen::Man::new(cmd)
            .section("8")
            .manual("System Manager's Manual")
            .generate_to(dir)?;
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    pages(cmd, dir)
}

/// The control socket: the flag, else the config's, else the default.
fn control_socket(cli: &Cli) -> PathBuf {
    if let Some(p) = &cli.socket {
        return p.clone();
    }
    match vrrpd::config::load(&cli.config) {
        Ok(c) => c.global.control_socket,
        Err(_) => PathBuf::from("/run/vrrpd/vrrpd.sock"),
    }
}

fn run_daemon(cli: &Cli) -> ExitCode {
    // Read the config once for the log format and the capabilities; the
    // daemon reads and validates it again itself (and reports errors
    // through the log).
    let config = vrrpd::config::load(&cli.config).ok();
    let json = match cli.log_format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Text) => false,
        None => config
            .as_ref()
            .is_some_and(|c| c.global.log_format == vrrpd::config::LogFormat::Json),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VRRPD_LOG")
        // netlink-packet-route warns about every kernel attribute newer than
        // itself; that is noise for operators.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,netlink_packet_route=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    // Memory lock, SCHED_RR, timer slack (best effort; VRRPD_REALTIME=off to
    // skip). First, while we still have CAP_IPC_LOCK and CAP_SYS_NICE.
    vrrpd::daemon::realtime::apply_from_env();
    // Before any thread starts: capabilities and the environment are per
    // thread / process-wide state that threads would inherit or race on.
    let notify_socket = std::env::var(vrrpd::daemon::sdnotify::NOTIFY_SOCKET_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    // Notify commands and trackers must not talk to systemd in our name.
    std::env::remove_var(vrrpd::daemon::sdnotify::NOTIFY_SOCKET_ENV);
    let capabilities = match (&config, cli.keep_capabilities) {
        (Some(c), false) => match vrrpd::daemon::caps::restrict_to_config(c) {
            Ok(kept) => Some(kept),
            Err(e) => {
                tracing::warn!(error = %e, "cannot drop capabilities; running with those I have");
                None
            }
        },
        _ => None,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vrrpd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = vrrpd::daemon::RunOptions {
        config_path: cli.config.clone(),
        control_socket: cli.socket.clone(),
        notify_socket,
        capabilities,
    };
    match rt.block_on(vrrpd::daemon::run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "vrrpd cannot run");
            eprintln!("vrrpd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `vrrpd maintenance NAME on|off` and `vrrpd switchover NAME`.
mod maintenance {
    use std::path::Path;
    use std::process::ExitCode;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use vrrpd::daemon::status::{InstanceStatus, MasterSeen, Status};

    /// Exit status when maintenance is on but no other router took over.
    const NO_TAKEOVER: u8 = 2;

    fn unix_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64
    }

    fn instance(path: &Path, name: &str) -> Result<InstanceStatus, String> {
        let answer = vrrpd::daemon::request(path, "status")
            .map_err(|e| format!("cannot reach the daemon at {}: {e}", path.display()))?;
        let s: Status = serde_json::from_str(&answer)
            .map_err(|e| format!("unexpected answer from {}: {e}", path.display()))?;
        s.instances
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| format!("no instance {name}"))
    }

    /// An advert from another router, heard after `since` (ms since the
    /// epoch), that is not a resignation and not the one seen before.
    pub(crate) fn takeover<'a>(
        now: &'a InstanceStatus,
        before: Option<&MasterSeen>,
        since_ms: u64,
    ) -> Option<&'a MasterSeen> {
        now.last_master_seen
            .as_ref()
            .filter(|m| m.priority > 0 && Some(*m) != before && m.at_unix_ms + 5 >= since_ms)
    }

    /// Set maintenance; with `on` and `wait`, wait for and name the new master.
    pub fn run(path: &Path, name: &str, on: bool, wait: bool) -> ExitCode {
        let fail = |msg: String| {
            eprintln!("vrrpd: {msg}");
            ExitCode::FAILURE
        };
        let before = match instance(path, name) {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        let sent_ms = unix_ms();
        let mode = if on { "on" } else { "off" };
        let answer = match vrrpd::daemon::request(path, &format!("maintenance {name} {mode}")) {
            Ok(a) => a,
            Err(e) => {
                return fail(format!(
                    "cannot reach the daemon at {}: {e}",
                    path.display()
                ))
            }
        };
        let ok = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .is_some_and(|v| v["ok"] == true);
        if !ok {
            return fail(format!("the daemon refused: {answer}"));
        }
        if !wait {
            println!("{answer}");
            return ExitCode::SUCCESS;
        }
        if !on {
            println!(
                "{name}: out of maintenance (was {}); it competes for mastership again",
                before.state
            );
            return ExitCode::SUCCESS;
        }
        if before.maintenance {
            println!("{name}: already in maintenance");
            return ExitCode::SUCCESS;
        }
        if before.state != "MASTER" {
            let master = match (&before.master, &before.last_master_seen) {
                (Some(m), Some(seen)) if &seen.address == m => {
                    format!("; {m} (priority {}) is master", seen.priority)
                }
                (Some(m), _) => format!("; {m} is master"),
                (None, _) => String::new(),
            };
            println!(
                "{name}: in maintenance (was {}, not master{master})",
                before.state
            );
            return ExitCode::SUCCESS;
        }
        // We were master and resigned with priority 0: the best backup takes
        // over after its Skew_Time and advertises at once. Allow three
        // intervals and a second, as for a master that fell silent.
        let timeout = Duration::from_millis(3 * before.master_adver_interval_ms + 1000);
        let t0 = Instant::now();
        loop {
            match instance(path, name) {
                Ok(now) => {
                    if let Some(m) = takeover(&now, before.last_master_seen.as_ref(), sent_ms) {
                        println!(
                            "{name}: in maintenance; {} (priority {}) is master now",
                            m.address, m.priority
                        );
                        return ExitCode::SUCCESS;
                    }
                }
                Err(e) => return fail(e),
            }
            if t0.elapsed() >= timeout {
                eprintln!(
                    "{name}: in maintenance, but no other router took over within {:.1} s: \
                     nobody serves {} now (`vrrpd maintenance {name} off` takes it back)",
                    timeout.as_secs_f64(),
                    before.vips.join(", ")
                );
                return ExitCode::from(NO_TAKEOVER);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
