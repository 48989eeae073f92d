//! A daemon stepped by hand: set up from a configuration file as `run` does,
//! then driven one turn of the real protocol loop at a time. For tests that
//! measure the hot path (`tests/alloc_free.rs` counts the allocations of a
//! master's adverts, a backup's receive and a timer expiry); not for use in
//! production, hence hidden from the docs.

use std::path::Path;

use tokio::runtime::Handle;

use super::event_loop::{Inbox, ProtocolLoop};
use super::startup::{self, Inputs};
use super::{Daemon, DaemonError, RunOptions};

/// A running daemon without its tokio side: no signals, trackers or control
/// requests reach it, only packets and its own deadlines.
pub struct Probe {
    d: Daemon,
    protocol: ProtocolLoop,
    _inbox: Inbox,
    _inputs: Inputs,
}

impl Probe {
    /// Load `config`, open everything and start the instances, as the daemon
    /// does; inside a tokio runtime. The control socket is the file's.
    pub async fn start(config: &Path) -> Result<Probe, DaemonError> {
        let opts = RunOptions {
            config_path: config.to_owned(),
            control_socket: None,
            notify_socket: None,
            capabilities: None,
        };
        let config = startup::load_config(&opts.config_path)?;
        let (netlink, inputs) = Inputs::open(&opts, &config).await?;
        let mut d = Daemon::new(opts, config, netlink, &inputs);
        d.start_instances().await?;
        let (inbox, protocol) = ProtocolLoop::new(Handle::current(), inputs.sd.clone())?;
        Ok(Probe {
            d,
            protocol,
            _inbox: inbox,
            _inputs: inputs,
        })
    }

    /// One turn of the protocol loop: wait for a packet or the next
    /// deadline, handle it, carry out the actions. Call it inside the
    /// runtime's context (`Handle::enter`), outside `block_on`.
    pub fn turn(&mut self) -> Result<(), DaemonError> {
        self.protocol.turn(&mut self.d).map(|_| ())
    }

    /// Each instance's state (`MASTER`, `BACKUP`, ...), adverts sent (the
    /// keeper's included) and adverts received. Allocates.
    pub fn instances(&self) -> Vec<(String, u64, u64)> {
        self.d
            .status()
            .instances
            .into_iter()
            .map(|i| {
                (
                    i.state,
                    i.counters.adverts_sent,
                    i.counters.adverts_received,
                )
            })
            .collect()
    }
}
