//! TEMPORARY stand-in for the wire helper's vrrp.rs (replaced on merge).
use crate::core::types::{Centisecs, Priority, Version};
use std::net::IpAddr;

/// A VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// Protocol version.
    pub version: Version,
    /// Raw VRID.
    pub vrid: u8,
    /// Priority.
    pub priority: Priority,
    /// Interval.
    pub max_adver_int: Centisecs,
    /// Addresses.
    pub addrs: Vec<IpAddr>,
    /// v2 auth.
    pub auth: Auth,
}

/// v2 authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0.
    None,
    /// Type 1.
    SimplePassword([u8; 8]),
    /// Others.
    Other {
        /// Type.
        auth_type: u8,
        /// Data.
        data: [u8; 8],
    },
}
