//! `global_defs { }`: the defaults that apply to every instance (VRRP
//! version, gratuitous ARP timing); everything else in the block is reported.

use std::time::Duration;

use super::ctx::{uses_substitution, Ctx};
use super::values::{ms, us_to_ms};
use crate::import::parse::Stmt;

/// Defaults from `global_defs` that apply to every instance.
#[derive(Debug, Default, Clone)]
pub(super) struct Globals {
    pub version: Option<u8>,
    pub garp_master_delay: Option<Duration>,
    pub garp_master_repeat: Option<u8>,
    pub garp_master_refresh: Option<Duration>,
}

pub(super) fn convert_global_defs(ctx: &mut Ctx<'_>, s: &Stmt, g: &mut Globals) {
    let Some(block) = ctx.block(s) else { return };
    for st in block {
        if uses_substitution(st) {
            ctx.unsupported(st, "global_defs");
            continue;
        }
        match st.keyword() {
            "vrrp_version" => {
                if let Some(v) = ctx.int_in(st, 2, 3) {
                    g.version = u8::try_from(v).ok();
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(d) = garp_delay(ctx, st) {
                    g.garp_master_delay = Some(d);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(n) = ctx.int_in(st, 0, 100) {
                    g.garp_master_repeat = u8::try_from(n).ok();
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(d) = garp_refresh(ctx, st) {
                    g.garp_master_refresh = Some(d);
                }
            }
            _ => ctx.unsupported(st, "global_defs"),
        }
    }
}

/// `garp_master_delay SECS`: 0..=3600 s.
pub(super) fn garp_delay(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Duration> {
    let us = ctx.secs(s)?;
    let d = ms(us_to_ms(us));
    if d > Duration::from_secs(3600) {
        ctx.warn(
            s.line,
            format!(
                "`{}` must be at most 3600 seconds in vrrpd; not converted",
                s.keyword()
            ),
        );
        return None;
    }
    Some(d)
}

/// `garp_master_refresh SECS`: 0 (off) or 1..=3600 s.
pub(super) fn garp_refresh(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Duration> {
    let us = ctx.secs(s)?;
    let d = ms(us_to_ms(us));
    if !d.is_zero() && (d < Duration::from_secs(1) || d > Duration::from_secs(3600)) {
        ctx.warn(
            s.line,
            format!(
                "`{}` must be 0 (off) or 1..=3600 seconds in vrrpd; not converted",
                s.keyword()
            ),
        );
        return None;
    }
    Some(d)
}
