//! `vrrpd-labtool`: a client-side prober and a report/plot generator for the vrrpd lab.
//!
//! `probe` runs inside the lab's client namespace and sends one request per
//! tick, each on a new TCP connection, recording what happened to it.
//! `report` turns the recording (plus fault/VRRP events and optional ab/wrk
//! output) into a Markdown table and an SVG picture of the failover.
//! `inject` is the chaos soak's bad-packet injector (forged `auth_hmac` classes).
//! `curve` draws measured series (the benchmark's CPU against instances) as SVG.

mod curve;
mod files;
mod inject;
mod plot;
mod probe;
mod report;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Lab helper for vrrpd: measure what a client sees during a failover.
#[derive(Debug, Parser)]
#[command(name = "vrrpd-labtool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send one HTTP/1.0 GET per interval, each on a new TCP connection, and
    /// record every request to a CSV file. Stops by itself.
    Probe {
        /// Target, http://IP:PORT/PATH.
        #[arg(long, default_value = "http://172.16.1.254:8000/")]
        url: String,
        /// Time between request starts (e.g. 5ms).
        #[arg(long, default_value = "5ms", value_parser = parse_duration)]
        interval: Duration,
        /// How long to send requests (e.g. 30s).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        duration: Duration,
        /// TCP connect timeout.
        #[arg(long, default_value = "100ms", value_parser = parse_duration)]
        connect_timeout: Duration,
        /// Timeout for the exchange once connected.
        #[arg(long, default_value = "500ms", value_parser = parse_duration)]
        timeout: Duration,
        /// Output CSV (start_unix_ms,latency_ms,result,balancer,server).
        #[arg(long)]
        out: PathBuf,
        /// Also write the client-side changes (failing, answers again,
        /// served by another balancer) as events CSV (time,label).
        #[arg(long)]
        events: Option<PathBuf>,
    },
    /// Forge one round of bad adverts of every `auth_hmac` class (missing, bad tag, unknown
    /// key, stale, replayed, source not allowed) against a virtual router, from this
    /// namespace; with --socket, check every daemon counted each class. For chaos.sh.
    Inject {
        /// The virtual router.
        #[arg(long)]
        vrid: u8,
        /// The daemons' key file (hex:... or raw bytes).
        #[arg(long)]
        key_file: PathBuf,
        /// Its key id.
        #[arg(long, default_value_t = 1)]
        key_id: u8,
        /// An allowed source (a daemon's address), spoofed by the forgeries; repeat.
        #[arg(long = "peer", required = true)]
        peers: Vec<std::net::Ipv4Addr>,
        /// This host's address (not allowed).
        #[arg(long)]
        own: std::net::Ipv4Addr,
        /// Packets of each class per spoofed source.
        #[arg(long, default_value_t = 5)]
        count: u32,
        /// A daemon's control socket, to check its counters; repeat.
        #[arg(long = "socket")]
        sockets: Vec<PathBuf>,
        /// The interface to send on.
        #[arg(long, default_value = "ext0")]
        interface: String,
    },
    /// Summarise a probe run (and/or ab/wrk output) as Markdown and SVG.
    Report {
        /// probe.csv from `probe`.
        #[arg(long)]
        probe: Option<PathBuf>,
        /// Events CSV (time,label; Unix ms or s); may be repeated.
        #[arg(long)]
        events: Vec<PathBuf>,
        /// Output of ab or wrk run at the same time.
        #[arg(long)]
        load: Option<PathBuf>,
        /// Scenario title.
        #[arg(long, default_value = "probe")]
        title: String,
        /// Markdown output (default: stdout).
        #[arg(long)]
        out_md: Option<PathBuf>,
        /// SVG plot output (needs --probe).
        #[arg(long)]
        out_svg: Option<PathBuf>,
    },
    /// Draw series from a CSV file (`series,x,y`) as a line chart in SVG.
    Curve {
        /// The CSV file.
        #[arg(long)]
        csv: PathBuf,
        /// SVG output.
        #[arg(long)]
        out_svg: PathBuf,
        /// Chart title.
        #[arg(long, default_value = "")]
        title: String,
        /// x axis label.
        #[arg(long, default_value = "x")]
        x_label: String,
        /// y axis label.
        #[arg(long, default_value = "y")]
        y_label: String,
    },
}

/// Parse `5ms`, `1.5s`, `2m`, `250us`.
fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().with_context(|| format!("bad duration '{s}'"))?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" | "" => v,
        "m" => v * 60.0,
        _ => bail!("bad duration unit in '{s}' (us, ms, s, m)"),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        bail!("duration '{s}' out of range");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Probe {
            url,
            interval,
            duration,
            connect_timeout,
            timeout,
            out,
            events,
        } => {
            let (addr, host, path) = probe::parse_url(&url)?;
            let cfg = probe::ProbeConfig {
                addr,
                host,
                path,
                interval,
                duration,
                connect_timeout,
                request_timeout: timeout,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let samples = rt.block_on(probe::run(cfg))?;
            std::fs::write(&out, files::probe_csv(&samples))
                .with_context(|| format!("writing {}", out.display()))?;
            if let Some(ev) = events {
                let evs: Vec<files::Event> = stats::client_events(&samples)
                    .into_iter()
                    .map(|e| files::Event {
                        at_ms: e.at_ms,
                        label: e.label,
                    })
                    .collect();
                std::fs::write(&ev, files::events_csv(&evs))
                    .with_context(|| format!("writing {}", ev.display()))?;
            }
            let s = stats::summarize(&samples);
            eprintln!(
                "probe: {} requests, {} answered, {} failed -> {}",
                s.requests,
                s.ok,
                s.failed,
                out.display()
            );
            Ok(())
        }
        Command::Inject {
            vrid,
            key_file,
            key_id,
            peers,
            own,
            count,
            sockets,
            interface,
        } => {
            let line = inject::run(&inject::InjectArgs {
                vrid,
                key_file,
                key_id,
                peers,
                own,
                count,
                sockets,
                interface,
            })?;
            println!("inject: {line}");
            Ok(())
        }
        Command::Curve {
            csv,
            out_svg,
            title,
            x_label,
            y_label,
        } => {
            let text = std::fs::read_to_string(&csv)
                .with_context(|| format!("reading {}", csv.display()))?;
            let points = curve::parse_csv(&text).with_context(|| csv.display().to_string())?;
            curve::draw(&out_svg, &title, &x_label, &y_label, &points)?;
            eprintln!("curve: {} points -> {}", points.len(), out_svg.display());
            Ok(())
        }
        Command::Report {
            probe,
            events,
            load,
            title,
            out_md,
            out_svg,
        } => report::run(report::ReportArgs {
            probe,
            events,
            load,
            title,
            out_md,
            out_svg,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5ms").unwrap(), Duration::from_millis(5));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("ms").is_err());
    }
}
