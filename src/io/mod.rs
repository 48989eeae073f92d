//! IO shell primitives: raw VRRP sockets, netlink (VIPs, link events), link-layer frames out.
