//! The `vrrpd` binary: a thin edge that parses the command line and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
    Maintenance {
        /// Instance name.
        instance: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        mode: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check) => match vrrpd::config::load(&cli.config) {
            Ok(_) => {
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
        }) => {
            let path = control_socket(&cli);
            match vrrpd::daemon::request(&path, &format!("maintenance {instance} {mode}")) {
                Ok(answer) => {
                    println!("{answer}");
                    if answer.contains("\"ok\":true") {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("vrrpd: cannot reach the daemon at {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            }
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
    // Read the config once for the log format; the daemon reads and
    // validates it again itself (and reports errors through the log).
    let json = match cli.log_format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Text) => false,
        None => vrrpd::config::load(&cli.config)
            .map(|c| c.global.log_format == vrrpd::config::LogFormat::Json)
            .unwrap_or(false),
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
    // Memory lock, SCHED_RR, timer slack (best effort; VRRPD_REALTIME=off to skip).
    vrrpd::daemon::realtime::apply_from_env();
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
