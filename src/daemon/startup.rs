//! Start-up: the configuration file, the event sources the loop waits on
//! ([`Inputs`]: netlink events, signals, the control socket, metrics,
//! trackers, sd_notify), the [`Daemon`] itself, then every instance: its
//! interface resolved, its socket opened (or shared), stale VIPs removed,
//! the Startup event given, and its first actions carried out.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::{self, Config, Family};
use crate::io::netlink::{LinkInfo, NetEvent, Netlink};
use crate::io::packet_socket::FrameSocket;
use crate::io::vrrp_socket::{RxBatch, TxBatch, VrrpSocket};
use crate::io::IoError;
use crate::notify::Notifier;
use crate::track::{TrackEvent, TrackerSet};

use super::control;
use super::instance::Instance;
use super::keeper;
use super::leases::Leases;
use super::metrics;
use super::ratelimit::RateLimit;
use super::sdnotify::{self, SdNotify};
use super::{os, Clock, Daemon, DaemonError, RunOptions, SocketKey};

/// What the event loop waits on besides the VRRP sockets (which the
/// [`Daemon`] reads itself) and the protocol timer: the tokio side of the
/// loop forwards these to the protocol thread (`event_loop.rs`).
pub(super) struct Inputs {
    /// Link and address events.
    pub net_events: mpsc::Receiver<NetEvent>,
    /// TERM and INT: graceful stop; HUP: reload.
    pub sigterm: Signal,
    pub sigint: Signal,
    pub sighup: Signal,
    /// Requests from the control socket, with the channel for the answer.
    pub ctl_rx: mpsc::Receiver<control::Request>,
    /// Snapshot requests from the metrics endpoint.
    pub metrics_rx: mpsc::Receiver<metrics::SnapshotRequest>,
    /// Tracker state changes (the sender is the daemon's, for reloads).
    pub track_rx: mpsc::Receiver<TrackEvent>,
    /// The sender the trackers report on; the daemon keeps a clone.
    track_tx: mpsc::Sender<TrackEvent>,
    /// systemd's readiness protocol (a no-op without `$NOTIFY_SOCKET`);
    /// shared with the protocol thread, which reloads.
    pub sd: Arc<SdNotify>,
    /// The control socket's path, removed at shutdown.
    pub socket_path: PathBuf,
    /// The control socket's and the metrics endpoint's tasks.
    _control: tokio::task::JoinHandle<()>,
    _metrics: Option<tokio::task::JoinHandle<()>>,
}

/// Load and validate the configuration file; its warnings go to the log.
pub(super) fn load_config(path: &Path) -> Result<Config, DaemonError> {
    let config = config::load(path)?;
    for w in &config.warnings {
        warn!(config = %path.display(), "{w}");
    }
    Ok(config)
}

impl Inputs {
    /// Open netlink (returned for the daemon) and every event source.
    pub async fn open(
        opts: &RunOptions,
        config: &Config,
    ) -> Result<(Netlink, Inputs), DaemonError> {
        let netlink = Netlink::new().map_err(|source| DaemonError::Io {
            context: "opening netlink".into(),
            source,
        })?;
        // No added address concerns the daemon (`net_event.rs`): the kernel
        // drops their echoes (one per VIP added or lease renewed).
        let net_events = netlink
            .subscribe_to(crate::io::Additions::Dropped)
            .map_err(|source| DaemonError::Io {
                context: "subscribing to netlink events".into(),
                source,
            })?;
        let sigterm = signal(SignalKind::terminate()).map_err(os("installing SIGTERM handler"))?;
        let sigint = signal(SignalKind::interrupt()).map_err(os("installing SIGINT handler"))?;
        let sighup = signal(SignalKind::hangup()).map_err(os("installing SIGHUP handler"))?;

        let socket_path = opts
            .control_socket
            .clone()
            .unwrap_or_else(|| config.global.control_socket.clone());
        let (ctl_tx, ctl_rx) = mpsc::channel(16);
        let _control = control::serve(&socket_path, ctl_tx)
            .map_err(os(&format!("control socket {}", socket_path.display())))?;

        let (metrics_tx, metrics_rx) = mpsc::channel::<metrics::SnapshotRequest>(8);
        let _metrics = match config.global.metrics_listen {
            Some(addr) => Some(
                metrics::serve(addr, metrics_tx)
                    .await
                    .map_err(os(&format!("metrics_listen {addr}")))?
                    .0,
            ),
            None => None,
        };
        let sd = match &opts.notify_socket {
            Some(v) => sdnotify::SdNotify::to_address(v).unwrap_or_else(|e| {
                warn!(error = %e, "ignoring NOTIFY_SOCKET");
                sdnotify::SdNotify::disabled()
            }),
            None => sdnotify::SdNotify::disabled(),
        };

        let (track_tx, track_rx) = mpsc::channel(256);
        let inputs = Inputs {
            net_events,
            sigterm,
            sigint,
            sighup,
            ctl_rx,
            metrics_rx,
            track_rx,
            track_tx,
            sd: Arc::new(sd),
            socket_path,
            _control,
            _metrics,
        };
        Ok((netlink, inputs))
    }
}

impl Daemon {
    /// The daemon with no instance yet; the trackers start reporting.
    pub(super) fn new(
        opts: RunOptions,
        config: Config,
        netlink: Netlink,
        inputs: &Inputs,
    ) -> Daemon {
        let track_tx = inputs.track_tx.clone();
        let trackers = TrackerSet::spawn(&config.tracks, track_tx.clone());
        let notifier = Notifier::new(config.global.notify_fifo.clone());
        let clock = Clock::new();
        let leases = Leases::new(clock, &config.global.vip_lease);
        Daemon {
            opts,
            config,
            clock,
            netlink,
            instances: Vec::new(),
            sockets: Vec::new(),
            frames: None,
            rx_batch: Some(RxBatch::new()),
            tx: TxBatch::new(),
            drops: BTreeMap::new(),
            logs: RateLimit::new(5, Duration::from_secs(10)),
            trackers,
            track_tx,
            track_states: HashMap::new(),
            notifier,
            index: Default::default(),
            deadlines: Default::default(),
            due: Vec::new(),
            lead: std::time::Duration::ZERO,
            rx_hold: Default::default(),
            dirty: Vec::new(),
            all_dirty: true,
            keeper: keeper::Keeper::start_from_env(),
            leases,
            announce_link: None,
        }
    }

    /// Set up every configured instance, give each the Startup event (with
    /// its sync group's hold known first: [`Daemon::start_new`]), and carry
    /// out their first actions.
    pub(super) async fn start_instances(&mut self) -> Result<(), DaemonError> {
        let mut links = Links::default();
        for ic in &self.config.instances.clone() {
            let inst = self.setup_instance_with(ic, &mut links).await?;
            self.instances.push(inst);
        }
        self.reindex();
        let now = self.clock.now();
        let all: Vec<usize> = (0..self.instances.len()).collect();
        self.start_new(now, &all);
        self.drain().await;
        Ok(())
    }

    /// Log the start and tell systemd the daemon is ready.
    pub(super) fn ready(&self, inputs: &Inputs) {
        info!(
            instances = self.instances.len(),
            control_socket = %inputs.socket_path.display(),
            metrics = ?self.config.global.metrics_listen,
            "vrrpd started"
        );
        inputs.sd.send(&sdnotify::Message::Status(format!(
            "{} instances",
            self.instances.len()
        )));
        inputs.sd.send(&sdnotify::Message::Ready);
    }

    /// Resolve an instance's interface and addresses, open (or share) its
    /// socket, and remove VIPs a crashed earlier run left behind.
    pub(super) async fn setup_instance(
        &mut self,
        ic: &config::Instance,
    ) -> Result<Instance, DaemonError> {
        self.setup_instance_with(ic, &mut Links::default()).await
    }

    /// [`Daemon::setup_instance`], with what netlink said about each
    /// interface kept in `links` for the next instances: 1000 instances on 4
    /// interfaces ask 12 questions, not 3000 (start-up was 0.1 s longer).
    async fn setup_instance_with(
        &mut self,
        ic: &config::Instance,
        links: &mut Links,
    ) -> Result<Instance, DaemonError> {
        let io = |context: String| move |source| DaemonError::Io { context, source };
        let link = links
            .link(&self.netlink, &ic.interface)
            .await
            .map_err(io(format!("looking up interface {}", ic.interface)))?
            .ok_or_else(|| DaemonError::NoInterface {
                instance: ic.name.clone(),
                interface: ic.interface.clone(),
            })?;
        let primary: Option<IpAddr> = match ic.source_ip {
            Some(ip) => Some(ip),
            None => links
                .primary(&self.netlink, link.index, ic.family)
                .await
                .map_err(io(format!("reading addresses of {}", ic.interface)))?,
        };
        let primary = primary.ok_or_else(|| DaemonError::NoSourceAddress {
            instance: ic.name.clone(),
            interface: ic.interface.clone(),
            family: ic.family,
        })?;
        let key = SocketKey {
            ifindex: link.index,
            family: ic.family,
        };
        let socket = match self.sockets.iter().find(|(k, _)| *k == key) {
            Some((_, s)) => s.clone(),
            None => {
                let s = match primary {
                    IpAddr::V4(a) => VrrpSocket::open_v4(&ic.interface, link.index, Some(a)),
                    IpAddr::V6(a) => VrrpSocket::open_v6(&ic.interface, link.index, Some(a)),
                }
                .map_err(io(format!("opening VRRP socket on {}", ic.interface)))?;
                let s = Arc::new(s);
                self.sockets.push((key, s.clone()));
                s
            }
        };
        // One AF_PACKET socket for every instance's ARP/NA (packet_socket.rs).
        let frames = match &self.frames {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(
                    FrameSocket::open()
                        .map_err(io(format!("opening packet socket for {}", ic.interface)))?,
                );
                self.frames = Some(f.clone());
                f
            }
        };
        let mut inst = Instance::new(ic.clone(), &self.config, link, primary, socket, &frames)
            .map_err(io(format!("setting up instance on {}", ic.interface)))?;
        inst.set_keeper(self.keeper.as_ref().map(keeper::Keeper::slot));
        inst.setup_vmac(&self.netlink).await.map_err(io(format!(
            "creating the virtual MAC interface on {}",
            ic.interface
        )))?;
        let announce_link = if ic.announce.mode.routed() {
            Some(self.announce_link().await?)
        } else {
            None
        };
        inst.set_vip_sinks(self.leases.clone(), announce_link);
        inst.remove_stale_vips(&self.netlink, links).await;
        Ok(inst)
    }

    /// The announce interface (`global.announce_interface`), made (a dummy
    /// interface, up) the first time an instance that announces needs it.
    async fn announce_link(&mut self) -> Result<(String, u32), DaemonError> {
        let name = self.config.global.announce_interface.clone();
        if let Some(l) = self.announce_link.as_ref().filter(|(n, _)| *n == name) {
            return Ok(l.clone());
        }
        let made = self
            .netlink
            .ensure_announce_link(&name)
            .await
            .map_err(|source| DaemonError::Io {
                context: format!("setting up the announce interface {name}"),
                source,
            })?;
        match made.created_as {
            Some(kind) => info!(interface = %name, kind, "announce interface created"),
            None => info!(interface = %name, "announce interface found"),
        }
        let link = (name, made.link.index);
        self.announce_link = Some(link.clone());
        Ok(link)
    }
}

/// What netlink said about the interfaces while instances are set up.
#[derive(Default)]
pub(super) struct Links {
    by_name: HashMap<String, Option<LinkInfo>>,
    primary: HashMap<(u32, Family), Option<IpAddr>>,
    addresses: HashMap<u32, Vec<(IpAddr, u8)>>,
}

impl Links {
    async fn link(&mut self, nl: &Netlink, name: &str) -> Result<Option<LinkInfo>, IoError> {
        if let Some(l) = self.by_name.get(name) {
            return Ok(l.clone());
        }
        let l = nl.link_by_name(name).await?;
        self.by_name.insert(name.to_owned(), l.clone());
        Ok(l)
    }

    async fn primary(
        &mut self,
        nl: &Netlink,
        index: u32,
        family: Family,
    ) -> Result<Option<IpAddr>, IoError> {
        if let Some(p) = self.primary.get(&(index, family)) {
            return Ok(*p);
        }
        let p = match family {
            Family::Ipv4 => nl.primary_ipv4(index).await?.map(IpAddr::V4),
            Family::Ipv6 => nl.link_local_v6(index).await?.map(IpAddr::V6),
        };
        self.primary.insert((index, family), p);
        Ok(p)
    }

    /// The addresses on interface `index`, listed once.
    pub(super) async fn addresses(
        &mut self,
        nl: &Netlink,
        index: u32,
    ) -> Result<&[(IpAddr, u8)], IoError> {
        let listed = match self.addresses.entry(index) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(nl.addresses(index).await?),
        };
        Ok(listed.as_slice())
    }
}
