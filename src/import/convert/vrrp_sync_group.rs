//! `vrrp_sync_group NAME { group { ... } }`: one `[[sync_group]]` per group
//! of converted instances; the group's own notify scripts and trackers are
//! reported (vrrpd has them on the members).

use std::collections::{HashMap, HashSet};

use super::ctx::{uses_substitution, Ctx};
use super::values::name_problem;
use crate::import::model::{OutGroup, Output, Skipped};
use crate::import::parse::Stmt;

/// Convert every `vrrp_sync_group` (statement and name, in file order) into
/// `out.groups`, after the instances: members must be converted instances,
/// each in one group.
pub(super) fn convert_all(ctx: &mut Ctx<'_>, out: &mut Output, groups: Vec<(&Stmt, String)>) {
    // Sync groups: members must be converted instances, each in one group.
    let converted: HashSet<String> = out.instances.iter().map(|i| i.name.clone()).collect();
    let mut member_of: HashMap<String, String> = HashMap::new();
    let mut group_names: HashSet<String> = HashSet::new();
    let mut out_groups = Vec::new();
    for (s, name) in groups {
        let block = s.block.as_deref().unwrap_or(&[]);
        let skip = |ctx: &mut Ctx<'_>, out: &mut Output, reason: String| {
            ctx.warn(
                s.line,
                format!("vrrp_sync_group {name} was not converted: {reason}"),
            );
            out.skipped.push(Skipped {
                line: s.line,
                what: format!("vrrp_sync_group {name}"),
                reason,
            });
        };
        if let Some(p) = name_problem(&name) {
            skip(ctx, out, p);
            continue;
        }
        if !group_names.insert(name.clone()) {
            skip(
                ctx,
                out,
                "a sync group with this name is already defined".into(),
            );
            continue;
        }
        let mut members = Vec::new();
        for st in block {
            if uses_substitution(st) {
                ctx.unsupported(st, "vrrp_sync_group");
                continue;
            }
            match st.keyword() {
                "group" => {
                    let Some(b) = ctx.block(st) else { continue };
                    for e in b {
                        for w in &e.words {
                            let m = w.text.as_str();
                            if !converted.contains(m) {
                                ctx.warn(e.line, format!("{m} is not a converted vrrp_instance; it was left out of sync group {name}"));
                            } else if members.iter().any(|x| x == m) {
                                ctx.warn(e.line, format!("{m} is listed twice; the repeat was left out"));
                            } else if let Some(other) = member_of.get(m) {
                                ctx.warn(e.line, format!("{m} is already in sync group {other}; an instance can be in one group only"));
                            } else {
                                member_of.insert(m.to_string(), name.clone());
                                members.push(m.to_string());
                            }
                        }
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => ctx.warn(st.line, "vrrpd has no sync-group notify scripts; give the member instances notify scripts instead"),
                "track_interface" | "track_script" | "track_process" | "track_file" => ctx.warn(st.line, "vrrpd sync groups do not track; add the trackers to the member instances instead (this block was not converted)"),
                _ => ctx.unsupported(st, "vrrp_sync_group"),
            }
        }
        if members.is_empty() {
            skip(
                ctx,
                out,
                "none of its members is a converted instance".into(),
            );
            continue;
        }
        // keepalived ignores weighted trackers on sync-group members; vrrpd applies them.
        for m in &members {
            let Some(inst) = out.instances.iter().find(|i| &i.name == m) else {
                continue;
            };
            let weighted: Vec<&str> = inst
                .track
                .iter()
                .filter(|t| out.tracks.iter().any(|o| &o.name == *t && o.weight != 0))
                .map(String::as_str)
                .collect();
            if !weighted.is_empty() {
                ctx.warn(inst.line, format!("instance {m} is in sync group {name} and tracks {} with a non-zero weight: keepalived ignores such weights in sync groups (unless sync_group_tracking_weight), vrrpd applies them", weighted.join(", ")));
            }
        }
        out_groups.push(OutGroup {
            line: s.line,
            name,
            instances: members,
        });
    }
    out.groups = out_groups;
}
