//! The daemon: the event loop joining the protocol core to the IO shell.
//!
//! One thread, the protocol thread, owns every
//! [`VirtualRouter`](crate::core::router::VirtualRouter) while the daemon
//! runs (no locks). It waits with one `epoll` on:
//! - packets on one raw socket per (interface, family), read by this thread
//!   itself, so that a packet and a timer ready in the same wake-up are
//!   both seen before either is acted on;
//! - the next protocol deadline (the wait's own timeout);
//! - an inbox fed by a tokio task: netlink link and address events, tracker
//!   changes, signals (TERM/INT: graceful stop; HUP: reload), control-socket
//!   requests and metrics scrapes.
//!
//! tokio runs everything else (netlink, trackers, the control socket, notify
//! commands), on the main thread, and start-up and shutdown.
//!
//! After each input it drains the routers' actions in order and carries them
//! out: adverts on the raw socket, VIPs through netlink, ARP/NA frames on an
//! AF_PACKET socket.
//!
//! Where each part lives (`docs/ARCHITECTURE.md` has the whole picture):
//!
//! | file | what it holds |
//! |---|---|
//! | this file | the `Daemon` state and [`run`]: setup, loop, shutdown |
//! | `startup.rs` | loading the file, opening the event sources (`Inputs`), setting up instances |
//! | `event_loop.rs` | the loop: the protocol thread, and which input goes to which handler |
//! | `poller.rs` | the protocol thread's wait: `epoll` with the next deadline as its timeout |
//! | `probe.rs` | a daemon stepped one loop turn at a time, for the hot-path tests |
//! | `rx.rs` | the receive path: sockets, TTL and parse, VRID demultiplexing, drop counters |
//! | `auth.rs` | `auth_hmac`: the wall clock, the shared sequence, signing adverts and the keeper's copies, the receive gate |
//! | `deadlines.rs`, `deadline_heap.rs` | the deadline set and the timer handler; the set's lazy-deletion heap |
//! | `net_event.rs`, `tracking.rs`, `requests.rs` | the netlink, tracker and control/metrics handlers |
//! | `actions.rs` | after each input: sync-group holds, then each touched instance's actions |
//! | `leases.rs`, `active.rs` | VIP leases and their renewal (docs/BGP.md); active-active instances (no election) |
//! | `instance.rs` | one instance at run time and the IO of each action (adverts, VIPs, ARP/NA, notify) |
//! | `reload.rs`, `shutdown.rs` | SIGHUP and SIGTERM/SIGINT |
//! | `keeper.rs`, `realtime.rs`, `timer.rs` | the advert keeper thread, real-time scheduling, the clock |
//! | `control.rs`, `status.rs`, `metrics.rs`, `sdnotify.rs`, `caps.rs`, `ratelimit.rs` | the control socket, the status document, Prometheus, systemd, capabilities, bounded logging |

mod actions;
mod active;
mod auth;
pub mod caps;
mod control;
mod deadline_heap;
mod deadlines;
mod event_loop;
mod instance;
mod keeper;
mod leases;
pub mod metrics;
mod net_event;
mod poller;
#[doc(hidden)]
pub mod probe;
mod ratelimit;
pub mod realtime;
mod reload;
mod requests;
pub mod rx;
pub mod sdnotify;
mod shutdown;
mod startup;
pub mod status;
mod timer;
mod tracking;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tracing::error;

use crate::config::{self, Config, Family};
use crate::io::netlink::Netlink;
use crate::io::packet_socket::FrameSocket;
use crate::io::vrrp_socket::{RxBatch, TxBatch, VrrpSocket};
use crate::io::IoError;
use crate::notify::Notifier;
use crate::track::{TrackEvent, TrackState, TrackerSet};

pub use control::{request, ControlRequest};
use instance::Instance;
use ratelimit::RateLimit;
use startup::Inputs;
pub use timer::Clock;
pub use tracking::track_effect;

/// Errors that stop the daemon from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// A configured interface does not exist.
    #[error("instance {instance}: interface {interface} does not exist")]
    NoInterface {
        /// Instance name.
        instance: String,
        /// Interface name.
        interface: String,
    },
    /// An interface has no address to send advertisements from.
    #[error("instance {instance}: interface {interface} has no {family} address to send from (set source_ip or add one)")]
    NoSourceAddress {
        /// Instance name.
        instance: String,
        /// Interface name.
        interface: String,
        /// Address family.
        family: Family,
    },
    /// A socket, netlink or signal operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: IoError,
    },
    /// Setting up signal handling or the control socket failed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One raw socket per interface and family, shared by the instances on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SocketKey {
    ifindex: u32,
    family: Family,
}

/// Command-line options for the daemon.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The configuration file.
    pub config_path: PathBuf,
    /// Overrides `global.control_socket`.
    pub control_socket: Option<PathBuf>,
    /// systemd's `$NOTIFY_SOCKET`, read (and removed from the environment,
    /// so that children do not inherit it) by `main` before any thread starts.
    pub notify_socket: Option<String>,
    /// The capabilities kept at start, when `main` dropped the others; a
    /// reload that needs more is warned about.
    pub capabilities: Option<::caps::CapsHashSet>,
}

/// The running daemon.
struct Daemon {
    opts: RunOptions,
    config: Config,
    clock: Clock,
    netlink: Netlink,
    instances: Vec<Instance>,
    /// The VRRP sockets, read by the protocol thread itself (`rx.rs`).
    sockets: Vec<(SocketKey, Arc<VrrpSocket>)>,
    /// The one AF_PACKET socket every instance sends its ARP/NA frames
    /// through, opened with the first instance (`io/packet_socket.rs`).
    frames: Option<Arc<FrameSocket>>,
    /// Buffers for one `recvmmsg`, reused (taken while a batch is handled).
    rx_batch: Option<RxBatch>,
    /// The adverts of one drain, sent together (`actions.rs`).
    tx: TxBatch,
    /// Drops before demultiplexing, by reason.
    drops: BTreeMap<String, u64>,
    logs: RateLimit,
    /// The running trackers; replaced when a reload changes them.
    trackers: TrackerSet,
    track_tx: mpsc::Sender<TrackEvent>,
    /// The last state and detail each tracker reported.
    track_states: HashMap<String, (TrackState, String)>,
    /// Runs notify commands and writes the event FIFO, off the event loop.
    notifier: Notifier,
    /// Instance by socket and VRID: the receive path's demultiplexer
    /// (`rx.rs`), one table of 256 per socket, so that a packet costs an
    /// array read, not a hash.
    index: rx::VridIndex,
    /// Every instance's next deadline, earliest first, and what is
    /// scheduled for each (`deadlines.rs`): a packet or a timer costs
    /// O(log n), not O(instances), and no allocation.
    deadlines: deadline_heap::DeadlineHeap,
    /// Scratch list of the instances whose deadline has come.
    due: Vec<usize>,
    /// The longest advert lead of the instances: deadlines this close are
    /// taken with the one that woke the thread (`deadlines.rs`).
    lead: std::time::Duration,
    /// The shortest advert lead of the instances: after a turn that read
    /// packets, the sockets are read again no sooner than this
    /// (`event_loop.rs`: fewer wake-ups, larger batches).
    rx_hold: std::time::Duration,
    /// Instances an input touched since the last drain; `all_dirty` for
    /// inputs that may touch any (link events, trackers, control, reload).
    dirty: Vec<usize>,
    all_dirty: bool,
    /// Sends every other advert of a master from another CPU, and covers
    /// for this loop when it is late (`None`: off, or one CPU).
    keeper: Option<keeper::Keeper>,
    /// The VIP leases: what is held, and the renewals this loop sends.
    leases: leases::Leases,
    /// The announce interface (`global.announce_interface`: name, index),
    /// once an instance that announces needed it.
    announce_link: Option<(String, u32)>,
}

/// Run the daemon until SIGTERM or SIGINT. Returns after every master has
/// sent priority 0 and removed its VIPs.
pub async fn run(opts: RunOptions) -> Result<(), DaemonError> {
    // Setup (startup.rs): the file; netlink, signals, the control socket,
    // metrics, sd_notify and the trackers; the protocol thread (before any
    // instance starts: an address owner adds its VIPs at once); then every
    // instance, started.
    let config = startup::load_config(&opts.config_path)?;
    let (netlink, mut inputs) = Inputs::open(&opts, &config).await?;
    let thread = event_loop::ProtocolThread::start(Handle::current(), inputs.sd.clone())?;
    let mut d = Daemon::new(opts, config, netlink, &inputs);
    d.start_instances().await?;
    d.ready(&inputs);

    // The loop (event_loop.rs), on the protocol thread: one input, its
    // handler, then the actions it caused (actions.rs); until SIGTERM or
    // SIGINT, or an error.
    let (d, error) = d.event_loop(thread, &mut inputs).await?;
    if let Some(e) = &error {
        error!(error = %e, "the protocol loop failed; stopping every instance");
    }

    // Shutdown (shutdown.rs), also after an error: every master sends
    // priority 0 and removes its VIPs; the control socket file goes; notify
    // commands get 500 ms.
    d.shutdown(&inputs).await;
    error.map_or(Ok(()), Err)
}

/// Wrap an OS error with what was being done (the text is copied only on
/// an error: the protocol loop calls this on every turn).
fn os(context: &str) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Os {
        context: context.to_owned(),
        source,
    }
}
