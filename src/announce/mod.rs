//! VIP announcement and leases: where an instance's VIPs go (on its link
//! with gratuitous ARP, as host addresses on the announce interface for a
//! local BGP speaker, or both), when leased addresses are renewed, and when
//! an active-active instance holds its VIPs.
//!
//! Everything here is decision logic without IO: time is passed in as
//! [`crate::core::time::Instant`], and the daemon carries the decisions out
//! with [`crate::io::netlink`] (`add_address_leased`, `LeaseRenewer`).
//!
//! - [`placement`]: which (link, address, prefix) an instance's VIPs take in
//!   each announce mode.
//! - [`lease`]: the renewal schedule of leased addresses, batched in a few
//!   fixed phases per period so that 1000 VIPs cost a handful of `sendmsg`
//!   calls and no burst of address events.
//! - [`active`]: the active-active hold/withdraw decision.
//!
//! The design (why host addresses on an interface of our own rather than
//! routes tagged with a protocol number, and the lease trade-off) is in
//! docs/BGP.md.

pub mod active;
pub mod lease;
pub mod placement;

pub use active::{ActiveActive, Health, HoldChange};
pub use lease::RenewSchedule;
pub use placement::{host_prefix_len, placements, Placement, VipLink};
