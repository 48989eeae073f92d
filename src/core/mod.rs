//! The pure protocol core: no tokio, no sockets, no netlink, no clock.
//!
//! - [`wire`]: packet parse/emit (VRRP advertisements, gratuitous ARP, unsolicited NA).
//! - [`auth`]: advert authentication (keepalived 2.4 `auth_hmac`): modes, keys, anti-replay.
//! - [`keeper`]: when the daemon's advert keeper sends a master's adverts.
//! - [`peers`]: the allow-list of sources and the TTL rule (relaxed for routed unicast only).
//! - [`router`]: the RFC 3768 / RFC 5798 (RFC 9568) virtual-router state machine.
//! - [`time`] and [`types`]: the values the rest is written in.

pub mod auth;
pub mod keeper;
pub mod peers;
pub mod router;
pub mod sync;
pub mod time;
pub mod types;
pub mod wire;
