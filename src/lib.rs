//! vrrpd: a VRRPv2/v3 high-availability daemon for Linux.
//!
//! The layout follows the architecture:
//! - [`core`]: the pure, sans-IO protocol core. Wire formats, the RFC state
//!   machine and its timers. It does no IO and reads no clock: time is passed in.
//! - [`config`]: the TOML configuration, its validation and error reporting.
//! - [`announce`]: where VIPs go (link with GARP, or host addresses for a
//!   local BGP speaker), lease renewal timing, active-active holding; pure
//!   decisions, carried out by the daemon through [`io`].
//! - [`io`]: the thin IO shell primitives: raw VRRP sockets, netlink, ARP/NA frames out.
//! - [`daemon`]: the tokio event loop that joins the core to the IO shell,
//!   signals, reload and shutdown.
//! - [`import`]: conversion of a keepalived.conf to vrrpd's TOML.
//! - [`track`]: health trackers (process, HTTP, script, interface, file)
//!   as tokio tasks reporting state changes.
//! - [`notify`]: `notify_*` commands and the FIFO event stream.

pub mod announce;
pub mod config;
pub mod core;
pub mod daemon;
pub mod import;
pub mod io;
pub mod notify;
pub mod track;
