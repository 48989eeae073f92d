//! `unicast_peer { }` and `unicast_src_ip` (or `mcast_src_ip`) in a
//! `vrrp_instance`: the peers adverts are sent to instead of the multicast
//! group, and the address they are sent from.

use std::net::IpAddr;

use super::ctx::Ctx;
use super::values::joined;
// Why an address cannot be a VRRP address or peer: vrrpd's own rule.
use crate::config::unusable_addr as unusable;
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &["unicast_src_ip", "mcast_src_ip", "unicast_peer"];

/// The unicast settings as read.
#[derive(Default)]
pub(super) struct RawUnicast<'s> {
    peer_entries: Vec<&'s Stmt>,
    source_ip: Option<(String, usize)>,
}

/// Read one of [`KEYWORDS`].
pub(super) fn read<'s>(ctx: &mut Ctx<'_>, st: &'s Stmt, r: &mut RawUnicast<'s>) {
    match st.keyword() {
        "unicast_peer" => {
            if let Some(b) = ctx.block(st) {
                r.peer_entries.extend(b.iter());
            }
        }
        _ => {
            if let Some(v) = ctx.one_arg(st) {
                r.source_ip = Some((v.to_string(), st.line));
            }
        }
    }
}

/// The unicast peers and the source address, of the VIPs' family.
pub(super) fn convert(
    ctx: &mut Ctx<'_>,
    r: RawUnicast<'_>,
    ipv6: bool,
) -> (Vec<IpAddr>, Option<IpAddr>) {
    let mut peers: Vec<IpAddr> = Vec::new();
    for e in &r.peer_entries {
        let Some((addr_w, opts)) = e.words.split_first() else {
            continue;
        };
        let a = match addr_w.text.parse::<IpAddr>() {
            Ok(a) => a,
            Err(_) => {
                ctx.warn(
                    e.line,
                    format!("{:?} is not an IP address; not converted", addr_w.text),
                );
                continue;
            }
        };
        if let Some(what) = unusable(a) {
            ctx.warn(
                e.line,
                format!("{a} is {what}, which cannot be a unicast peer; not converted"),
            );
            continue;
        }
        if a.is_ipv6() != ipv6 {
            ctx.warn(
                e.line,
                format!("{a} is not the family of the virtual addresses; not converted"),
            );
            continue;
        }
        if peers.contains(&a) {
            ctx.warn(
                e.line,
                format!("{a} is listed twice; the repeat was not converted"),
            );
            continue;
        }
        if !opts.is_empty() {
            ctx.warn(
                e.line,
                format!(
                    "vrrpd has no per-peer TTL range; \"{}\" was not converted",
                    joined(opts)
                ),
            );
        }
        peers.push(a);
    }
    let source_ip = match r.source_ip {
        None => None,
        Some((text, line)) => match text.parse::<IpAddr>() {
            Err(_) => {
                ctx.warn(
                    line,
                    format!("{text:?} is not an IP address; not converted"),
                );
                None
            }
            Ok(a) if unusable(a).is_some() || a.is_ipv6() != ipv6 => {
                ctx.warn(line, format!("{a} cannot be the source of this instance's advertisements (wrong family or not a unicast address); not converted"));
                None
            }
            Ok(std::net::IpAddr::V6(v6)) if v6.segments()[0] & 0xffc0 != 0xfe80 => {
                ctx.warn(line, format!("{v6} is not link-local; VRRPv3 over IPv6 is sent from the interface's fe80::/10 address (RFC 5798 Section 5.1.2.1); not converted"));
                None
            }
            Ok(a) if peers.contains(&a) => {
                ctx.warn(line, format!("{a} is also a unicast peer; not converted"));
                None
            }
            Ok(a) => Some(a),
        },
    };
    (peers, source_ip)
}
