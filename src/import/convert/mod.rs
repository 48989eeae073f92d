//! keepalived statements to vrrpd values, with keepalived's defaults and
//! meanings. Every statement that does not become a vrrpd value is reported
//! as an [`ImportWarning`](super::ImportWarning) with its line.
//!
//! One file per keepalived block, each with its conversion and its warnings:
//!
//! | keepalived | file |
//! |---|---|
//! | the top level (which block is which) | this file |
//! | `global_defs` | `global_defs.rs` |
//! | `vrrp_instance` (its scalars: interface, vrid, priority, version, advert_int, preempt, garp, use_vmac, checksum) | `vrrp_instance.rs` |
//! | `virtual_ipaddress`, `virtual_ipaddress_excluded` | `virtual_ipaddress.rs` |
//! | `authentication` (`auth_type`, `auth_pass`) | `authentication.rs` |
//! | `unicast_peer`, `unicast_src_ip`, `mcast_src_ip` | `unicast.rs` |
//! | `notify_master`, `notify_backup`, `notify_fault`, `notify_stop` | `notify.rs` |
//! | `vrrp_script`, `vrrp_track_process`, `track_file` (definitions) | `vrrp_script.rs` |
//! | `track_interface`, `track_script`, `track_process`, `track_file` (in an instance) | `track.rs` |
//! | `vrrp_sync_group` | `vrrp_sync_group.rs` |
//!
//! Shared by all: `ctx.rs` (the warnings and the statement helpers) and
//! `values.rs` (seconds, integers, names). A block inside `vrrp_instance`
//! names its keywords in a `KEYWORDS` list and reads them in its own `read`,
//! so a new keyword touches its block's file (and, for a new vrrpd key,
//! `model.rs` and `emit.rs`).

mod authentication;
mod ctx;
mod global_defs;
mod notify;
mod track;
mod unicast;
mod values;
mod virtual_ipaddress;
mod vrrp_instance;
mod vrrp_script;
mod vrrp_sync_group;

pub(super) use ctx::Ctx;

use super::model::Output;
use super::parse::Stmt;
use ctx::{section_name, uses_substitution};
use global_defs::Globals;
use vrrp_script::Defs;

/// Convert the statement tree into the output model, reporting what is lost.
pub(super) fn convert(ctx: &mut Ctx<'_>, tree: &[Stmt]) -> Output {
    let mut out = Output::default();
    let mut globals = Globals::default();
    let mut defs = Defs::new();
    let mut instances: Vec<(&Stmt, String)> = Vec::new();
    let mut groups: Vec<(&Stmt, String)> = Vec::new();

    // First the definitions, in any order, as keepalived reads the whole file first.
    for s in tree {
        if uses_substitution(s) {
            ctx.unsupported(s, "the top level");
            continue;
        }
        match s.keyword() {
            "global_defs" => global_defs::convert_global_defs(ctx, s, &mut globals),
            kw @ ("vrrp_script" | "vrrp_track_process" | "track_process" | "track_file"
            | "vrrp_track_file") => vrrp_script::define(ctx, s, kw, &mut defs),
            "vrrp_instance" => {
                if s.block.is_none() {
                    ctx.block(s);
                } else if let Some(name) = section_name(ctx, s) {
                    instances.push((s, name));
                }
            }
            "vrrp_sync_group" => {
                if s.block.is_none() {
                    ctx.block(s);
                } else if let Some(name) = section_name(ctx, s) {
                    groups.push((s, name));
                }
            }
            _ => ctx.unsupported(s, "the top level"),
        }
    }

    vrrp_instance::convert_all(ctx, &mut out, instances, &mut defs, &globals);
    vrrp_script::warn_unused(ctx, &defs);
    vrrp_sync_group::convert_all(ctx, &mut out, groups);

    if out.instances.is_empty() {
        ctx.warn(0, "no vrrp_instance could be converted; the output is not a usable vrrpd configuration (vrrpd needs at least one [[instance]])");
    }
    out
}
