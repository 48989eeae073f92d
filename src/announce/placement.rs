//! Where an instance's VIPs go in each announce mode.

use std::net::IpAddr;

use crate::config::{AnnounceMode, IpPrefix};

/// The interface an address goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VipLink {
    /// The instance's own interface (or its macvlan with `use_vmac`), where
    /// gratuitous ARP / unsolicited NA announce it.
    Vrrp,
    /// The announce interface (`global.announce_interface`), where a local
    /// FRR or BIRD picks it up as a connected host route.
    Announce,
}

/// One address to add while the instance holds its VIPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placement {
    /// Which interface.
    pub link: VipLink,
    /// The address.
    pub addr: IpAddr,
    /// The prefix length it is added with.
    pub prefix_len: u8,
}

/// The prefix length of a host route: 32 for IPv4, 128 for IPv6.
pub fn host_prefix_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// The addresses an instance with these `vips` adds when it takes them, in
/// order: on its link with the configured prefixes (modes `garp`, `both`),
/// then on the announce interface as host addresses (modes `bgp`, `both`),
/// whatever prefix the configuration gives, since BGP announces the VIP
/// itself and nothing of the link's subnet.
pub fn placements(mode: AnnounceMode, vips: &[IpPrefix]) -> Vec<Placement> {
    let mut out = Vec::with_capacity(vips.len() * 2);
    if mode.on_link() {
        out.extend(vips.iter().map(|v| Placement {
            link: VipLink::Vrrp,
            addr: v.addr,
            prefix_len: v.prefix_len,
        }));
    }
    if mode.routed() {
        out.extend(vips.iter().map(|v| Placement {
            link: VipLink::Announce,
            addr: v.addr,
            prefix_len: host_prefix_len(v.addr),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vips(list: &[&str]) -> Vec<IpPrefix> {
        list.iter().map(|s| s.parse().expect("prefix")).collect()
    }

    #[test]
    fn test_garp_keeps_the_configured_prefix_on_the_link() {
        let p = placements(AnnounceMode::Garp, &vips(&["172.16.1.254/24"]));
        assert_eq!(
            p,
            vec![Placement {
                link: VipLink::Vrrp,
                addr: "172.16.1.254".parse().unwrap(),
                prefix_len: 24
            }]
        );
    }

    #[test]
    fn test_bgp_puts_host_addresses_on_the_announce_link_only() {
        let p = placements(
            AnnounceMode::Bgp,
            &vips(&["198.51.100.10/24", "2001:db8::10/64"]),
        );
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.link == VipLink::Announce));
        assert_eq!(p[0].prefix_len, 32);
        assert_eq!(p[1].prefix_len, 128);
    }

    #[test]
    fn test_both_puts_each_vip_in_both_places() {
        let p = placements(AnnounceMode::Both, &vips(&["172.16.1.254/24"]));
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].link, p[0].prefix_len), (VipLink::Vrrp, 24));
        assert_eq!((p[1].link, p[1].prefix_len), (VipLink::Announce, 32));
        assert_eq!(p[0].addr, p[1].addr);
    }
}
