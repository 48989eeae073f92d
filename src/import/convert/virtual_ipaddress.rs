//! `virtual_ipaddress { }` (and `virtual_ipaddress_excluded { }`) in a
//! `vrrp_instance`: the VIPs, with keepalived's host-prefix default, one
//! family per instance, and the options vrrpd does not take reported.

use super::ctx::{uses_substitution, Ctx};
use super::vrrp_instance::Skip;
// Why an address cannot be a VRRP address or peer: vrrpd's own rule.
use crate::config::unusable_addr as unusable;
use crate::config::IpPrefix;
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &["virtual_ipaddress", "virtual_ipaddress_excluded"];

/// Read one of [`KEYWORDS`]: the address lines are kept for [`convert`].
pub(super) fn read<'s>(ctx: &mut Ctx<'_>, st: &'s Stmt, entries: &mut Vec<&'s Stmt>) {
    match st.keyword() {
        "virtual_ipaddress" => {
            if let Some(b) = ctx.block(st) {
                entries.extend(b.iter());
            }
        }
        _ => {
            if let Some(b) = ctx.block(st) {
                for e in b {
                    ctx.warn(e.line, "vrrpd has no excluded addresses: every address it adds is advertised; add this one to virtual_ips (it is then advertised) or manage it from a notify script");
                }
            }
        }
    }
}

/// The instance's virtual addresses (keepalived's default prefix is the
/// host prefix); an instance without one cannot be converted.
pub(super) fn convert(
    ctx: &mut Ctx<'_>,
    s: &Stmt,
    entries: &[&Stmt],
    interface: &str,
) -> Result<Vec<IpPrefix>, Skip> {
    let mut vips: Vec<IpPrefix> = Vec::new();
    for e in entries {
        if uses_substitution(e) {
            ctx.unsupported(e, "virtual_ipaddress");
            continue;
        }
        let Some((addr_w, opts)) = e.words.split_first() else {
            continue;
        };
        let p = match addr_w.text.parse::<IpPrefix>() {
            Ok(p) => p,
            Err(err) => {
                ctx.warn(e.line, format!("{err}; not converted"));
                continue;
            }
        };
        if let Some(what) = unusable(p.addr) {
            ctx.warn(
                e.line,
                format!(
                    "{} is {what}, which cannot be a virtual address; not converted",
                    p.addr
                ),
            );
            continue;
        }
        if let Some(first) = vips.first() {
            if first.addr.is_ipv4() != p.addr.is_ipv4() {
                ctx.warn(e.line, "all virtual addresses of a vrrpd instance are one family (as in a VRRP advertisement); this one differs from the first and was not converted: make a second instance for it");
                continue;
            }
        }
        if vips.iter().any(|v| v.addr == p.addr) {
            ctx.warn(
                e.line,
                format!("{} is listed twice; the repeat was not converted", p.addr),
            );
            continue;
        }
        // Options: `dev` naming the instance's own interface changes nothing.
        let mut extras = Vec::new();
        let mut i = 0;
        while i < opts.len() {
            let o = opts[i].text.as_str();
            let takes_value = matches!(
                o,
                "brd" | "dev" | "scope" | "label" | "peer" | "preferred_lft" | "track_group"
            );
            let value = if takes_value {
                opts.get(i + 1).map(|w| w.text.as_str())
            } else {
                None
            };
            if !(o == "dev" && value == Some(interface)) {
                extras.push(match value {
                    Some(v) => format!("{o} {v}"),
                    None => o.to_string(),
                });
            }
            i += if takes_value { 2 } else { 1 };
        }
        if !extras.is_empty() {
            ctx.warn(
                e.line,
                format!("vrrpd adds the address {p} on the instance's interface {interface} with no options; \"{}\" was not converted", extras.join(" ")),
            );
        }
        if e.block.is_some() {
            ctx.warn(
                e.line,
                "unexpected { } block after an address; not converted",
            );
        }
        vips.push(p);
    }
    if vips.is_empty() {
        return Err("it has no virtual_ipaddress; vrrpd needs at least one virtual address per instance (virtual_ips must not be empty). Give it an address, or track the link with a [[track]] of type \"interface\" on the instances that do have addresses".into());
    }
    let ipv6 = vips[0].addr.is_ipv6();
    let max = if ipv6 { 90 } else { 255 };
    if vips.len() > max {
        ctx.warn(
            s.line,
            format!("at most {max} addresses fit one advertisement; the rest were not converted"),
        );
        vips.truncate(max);
    }
    Ok(vips)
}
