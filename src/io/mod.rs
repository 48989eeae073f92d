//! IO shell primitives: raw VRRP sockets, netlink (VIPs, link events), link-layer frames out.
//!
//! Everything here is Linux-only and thin: it moves bytes and kernel state,
//! and leaves every protocol decision to [`crate::core`].
//!
//! - [`vrrp_socket`]: raw IP protocol 112 sockets (IPv4 and IPv6) on tokio.
//! - [`netlink`]: interface lookup, address add/remove (also leased, and lease
//!   renewal in batches), link and address events.
//! - [`packet_socket`]: AF_PACKET sender for gratuitous ARP / unsolicited NA frames.
//! - [`error`]: the layer's error type, [`IoError`].

pub mod error;
pub mod netlink;
pub mod packet_socket;
pub mod vrrp_socket;

pub use error::IoError;
pub use netlink::{Additions, LeaseRenewer, LeasedAddr, Lifetime, LinkInfo, NetEvent, Netlink};
pub use packet_socket::{FrameSender, FrameSocket};
pub use vrrp_socket::{RxPacket, TxBatch, VrrpSocket};
