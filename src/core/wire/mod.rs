//! Wire formats: VRRP advertisements (v2/v3, IPv4/IPv6), gratuitous ARP and unsolicited NA frames.
pub mod vrrp;
