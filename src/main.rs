//! The `vrrpd` binary: a thin edge that parses the command line and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A VRRPv2/v3 high-availability daemon.
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(short, long, global = true, default_value = "/etc/vrrpd/vrrp.toml")]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration: prints `ok`, or every error with its key path.
    Check,
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
        None => {
            eprintln!("vrrpd: the daemon is not wired up yet");
            ExitCode::FAILURE
        }
    }
}
