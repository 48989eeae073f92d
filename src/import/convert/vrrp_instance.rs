//! `vrrp_instance NAME { }`: one `[[instance]]` per instance, with
//! keepalived's defaults written out (VRRP version 2, priority 100,
//! advert_int 1) and its values fitted to what the version can carry. The
//! blocks inside an instance that have rooms of their own are read there:
//! `virtual_ipaddress.rs`, `authentication.rs`, `unicast.rs`, `track.rs`,
//! `notify.rs`.

use std::collections::HashMap;
use std::time::Duration;

use super::authentication::{self, RawAuth};
use super::ctx::{uses_substitution, Ctx};
use super::global_defs::{garp_delay, garp_refresh, Globals};
use super::notify;
use super::track::{self, Tracks};
use super::unicast::{self, RawUnicast};
use super::values::{ifname_problem, ms, name_problem, parse_bool, show_secs_us, us_to_ms};
use super::virtual_ipaddress;
use super::vrrp_script::Defs;
use crate::import::model::{OutInstance, Output, Skipped};
use crate::import::parse::Stmt;

/// keepalived's default VRRP version (global `vrrp_version`).
const KEEPALIVED_DEFAULT_VERSION: u8 = 2;
/// keepalived's default priority.
const DEFAULT_PRIORITY: u8 = 100;
/// keepalived's default `advert_int`, in microseconds.
const DEFAULT_ADVERT_US: u64 = 1_000_000;

/// Convert every `vrrp_instance` (statement and name, in file order) into
/// `out.instances`, and the trackers they use into `out.tracks`. An instance
/// that cannot be converted is reported and skipped, and leaves no trace.
pub(super) fn convert_all(
    ctx: &mut Ctx<'_>,
    out: &mut Output,
    instances: Vec<(&Stmt, String)>,
    defs: &mut Defs,
    globals: &Globals,
) {
    let mut tracks = Tracks::default();
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    let mut routers: HashMap<(String, u8, bool), String> = HashMap::new();
    for (s, name) in instances {
        let block = s.block.as_deref().unwrap_or(&[]);
        let skip = |ctx: &mut Ctx<'_>, out: &mut Output, reason: String| {
            ctx.warn(
                s.line,
                format!("vrrp_instance {name} was not converted: {reason}"),
            );
            out.skipped.push(Skipped {
                line: s.line,
                what: format!("vrrp_instance {name}"),
                reason,
            });
        };
        if let Some(p) = name_problem(&name) {
            skip(
                ctx,
                out,
                format!("{p}; vrrpd instance names are 1..=64 bytes without spaces or quotes"),
            );
            continue;
        }
        if let Some(first) = seen_names.get(&name) {
            skip(
                ctx,
                out,
                format!("an instance with this name is already defined at line {first}"),
            );
            continue;
        }
        seen_names.insert(name.clone(), s.line);
        // Read into scratch copies: a skipped instance adds no [[track]] and uses no definition.
        let mut scratch = tracks.clone();
        let mut defs_scratch = defs.clone();
        let raw = read_instance(ctx, block, &mut defs_scratch, &mut scratch);
        match finish_instance(ctx, s, &name, raw, globals) {
            Ok(inst) => {
                let key = (
                    inst.interface.clone(),
                    inst.vrid,
                    inst.virtual_ips.first().is_some_and(|v| v.contains(':')),
                );
                if let Some(other) = routers.get(&key) {
                    skip(ctx, out, format!("VRID {} on {} is already used by instance {other} for the same address family", inst.vrid, inst.interface));
                    continue;
                }
                routers.insert(key, name.clone());
                tracks = scratch;
                *defs = defs_scratch;
                out.instances.push(inst);
            }
            Err(reason) => skip(ctx, out, reason),
        }
    }
    out.tracks = tracks.out;
}

/// The settings of one `vrrp_instance` as read, before keepalived's defaults
/// and vrrpd's rules are applied.
#[derive(Default)]
struct RawInstance<'s> {
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    version: Option<(u8, usize)>,
    advert_us: Option<(u64, usize)>,
    preempt: bool,
    nopreempt_line: Option<usize>,
    preempt_delay: Option<(Duration, usize)>,
    auth: RawAuth,
    vip_entries: Vec<&'s Stmt>,
    unicast: RawUnicast<'s>,
    track: Vec<String>,
    garp_repeat: Option<u8>,
    garp_master_delay: Option<Duration>,
    garp_refresh: Option<Duration>,
    message_only: Option<(bool, usize)>,
    use_vmac: bool,
    notify: [Option<Vec<String>>; 4],
    comments: Vec<String>,
}

/// Read the statements of one `vrrp_instance { }`; each block with a room of
/// its own (addresses, authentication, unicast, trackers, notify) is read there.
fn read_instance<'s>(
    ctx: &mut Ctx<'_>,
    block: &'s [Stmt],
    defs: &mut Defs,
    tracks: &mut Tracks,
) -> RawInstance<'s> {
    let mut r = RawInstance {
        preempt: true,
        ..RawInstance::default()
    };
    for st in block {
        if uses_substitution(st) {
            ctx.unsupported(st, "vrrp_instance");
            continue;
        }
        let kw = st.keyword();
        match kw {
            "state" => {
                if let Some(v) = ctx.one_arg(st) {
                    r.comments.push(format!(
                        "keepalived: state {v} (not used: vrrpd elects the master by priority)"
                    ));
                    ctx.warn(st.line, "vrrpd has no initial state: it elects the master by priority (a priority-255 owner takes over at once); kept as a comment");
                }
            }
            "interface" => r.interface = ctx.one_arg(st).map(str::to_string).or(r.interface.take()),
            "virtual_router_id" => {
                if let Some(v) = ctx.int_in(st, 1, 255) {
                    r.vrid = u8::try_from(v).ok();
                }
            }
            "priority" => {
                if let Some(v) = ctx.int_in(st, 1, 255) {
                    r.priority = u8::try_from(v).ok();
                }
            }
            "version" | "vrrp_version" => {
                if let Some(v) = ctx.int_in(st, 2, 3) {
                    r.version = u8::try_from(v).ok().map(|v| (v, st.line));
                }
            }
            "advert_int" => {
                if let Some(us) = ctx.secs(st) {
                    if us == 0 {
                        ctx.warn(
                            st.line,
                            "advert_int 0 is not allowed; the default 1s is used",
                        );
                    } else {
                        r.advert_us = Some((us, st.line));
                    }
                }
            }
            "nopreempt" | "no_preempt" => {
                ctx.flag(st);
                r.preempt = false;
                r.nopreempt_line = Some(st.line);
            }
            "preempt" => {
                ctx.flag(st);
                r.preempt = true;
            }
            "preempt_delay" => {
                if let Some(us) = ctx.secs(st) {
                    let d = ms(us_to_ms(us));
                    if d > Duration::from_secs(1000) {
                        ctx.warn(
                            st.line,
                            "preempt_delay must be at most 1000 seconds; not converted",
                        );
                    } else {
                        r.preempt_delay = Some((d, st.line));
                    }
                }
            }
            "garp_master_delay" => {
                r.garp_master_delay = garp_delay(ctx, st).or(r.garp_master_delay)
            }
            "garp_master_repeat" => {
                if let Some(n) = ctx.int_in(st, 0, 100) {
                    r.garp_repeat = u8::try_from(n).ok();
                }
            }
            "garp_master_refresh" => r.garp_refresh = garp_refresh(ctx, st).or(r.garp_refresh),
            "use_vmac" => {
                if st.block.is_some() || !st.args().is_empty() {
                    ctx.warn(st.line, "vrrpd names and addresses the virtual MAC interface itself (00:00:5e:00:01:<vrid>); the name, MAC or options given were not converted (use_vmac = true is set)");
                }
                r.use_vmac = true;
            }
            "v3_checksum_as_v2" => match parse_bool(st.args().first()) {
                Some(b) => r.message_only = Some((b, st.line)),
                None => ctx.warn(
                    st.line,
                    "v3_checksum_as_v2 takes on/off, true/false or yes/no; not converted",
                ),
            },
            kw if virtual_ipaddress::KEYWORDS.contains(&kw) => {
                virtual_ipaddress::read(ctx, st, &mut r.vip_entries)
            }
            kw if authentication::KEYWORDS.contains(&kw) => {
                authentication::read(ctx, st, &mut r.auth)
            }
            kw if unicast::KEYWORDS.contains(&kw) => unicast::read(ctx, st, &mut r.unicast),
            kw if track::KEYWORDS.contains(&kw) => track::read(ctx, st, defs, tracks, &mut r.track),
            kw if notify::KEYWORDS.contains(&kw) => notify::read(ctx, st, &mut r.notify),
            _ => ctx.unsupported(st, "vrrp_instance"),
        }
    }
    r
}

/// An instance that could not be converted: the reason.
pub(super) type Skip = String;

/// Apply keepalived's defaults and vrrpd's rules to an instance as read.
fn finish_instance(
    ctx: &mut Ctx<'_>,
    s: &Stmt,
    name: &str,
    mut r: RawInstance<'_>,
    g: &Globals,
) -> Result<OutInstance, Skip> {
    let interface = match r.interface {
        None => {
            return Err(
                "it has no `interface`; vrrpd needs the interface the instance runs on".into(),
            )
        }
        Some(i) => match ifname_problem(&i) {
            Some(p) => return Err(p),
            None => i,
        },
    };
    let Some(vrid) = r.vrid else {
        return Err("it has no valid `virtual_router_id`".into());
    };

    let vips = virtual_ipaddress::convert(ctx, s, &r.vip_entries, &interface)?;
    let ipv6 = vips[0].addr.is_ipv6();

    // Version: keepalived's default is 2 (global vrrp_version), IPv6 forces 3.
    let mut version = r
        .version
        .map(|(v, _)| v)
        .or(g.version)
        .unwrap_or(KEEPALIVED_DEFAULT_VERSION);
    if ipv6 && version == 2 {
        ctx.warn(
            r.version.map_or(s.line, |(_, l)| l),
            "VRRPv2 is IPv4 only; like keepalived, this IPv6 instance uses version 3",
        );
        version = 3;
    }

    // advert_int: v2 whole seconds 1..=255, v3 centiseconds 10ms..=40.95s.
    let (advert_us, advert_line) = r.advert_us.unwrap_or((DEFAULT_ADVERT_US, s.line));
    let advert_interval = if version == 2 {
        let secs = (advert_us + 500_000) / 1_000_000;
        let secs = secs.clamp(1, 255);
        if secs * 1_000_000 != advert_us {
            ctx.warn(advert_line, format!("VRRPv2 sends the interval in whole seconds (1..=255): advert_int {} becomes {secs}s", show_secs_us(advert_us)));
        }
        Duration::from_secs(secs)
    } else {
        let cs = (advert_us + 5_000) / 10_000;
        let cs = cs.clamp(1, 4095);
        if cs * 10_000 != advert_us {
            ctx.warn(advert_line, format!("VRRPv3 sends the interval in centiseconds (10ms..=40.95s): advert_int {} becomes {}", show_secs_us(advert_us), show_secs_us(cs * 10_000)));
        }
        ms(cs * 10)
    };

    let preempt_delay = match r.preempt_delay {
        Some((d, line)) if !r.preempt => {
            ctx.warn(
                line,
                "preempt_delay has no effect with nopreempt (in keepalived too); not converted",
            );
            let _ = d;
            None
        }
        Some((d, _)) => Some(d),
        None => None,
    };

    let auth_hmac = authentication::convert_hmac(ctx, &mut r.auth)?;
    let auth_pass = authentication::convert(ctx, r.auth, version);

    // Unicast peers and the source address.
    let (peers, source_ip) = unicast::convert(ctx, r.unicast, ipv6);

    let message_only = match r.message_only {
        Some((true, line)) if version != 3 || ipv6 => {
            ctx.warn(
                line,
                "v3_checksum_as_v2 only applies to VRRPv3 over IPv4; not converted",
            );
            false
        }
        Some((b, _)) => b,
        None => false,
    };

    let [notify_master, notify_backup, notify_fault, notify_stop] = r.notify;
    let mut comments = r.comments;
    comments.insert(
        0,
        format!("from keepalived line {}: vrrp_instance {name}", s.line),
    );
    Ok(OutInstance {
        line: s.line,
        comments,
        name: name.to_string(),
        interface,
        vrid,
        priority: r.priority.unwrap_or(DEFAULT_PRIORITY),
        version,
        advert_interval,
        preempt: r.preempt,
        preempt_delay,
        virtual_ips: vips.iter().map(ToString::to_string).collect(),
        auth_pass,
        auth_hmac,
        track: r.track,
        unicast_peers: peers,
        garp_repeat: r.garp_repeat.or(g.garp_master_repeat),
        garp_master_delay: r.garp_master_delay.or(g.garp_master_delay),
        garp_refresh: r.garp_refresh.or(g.garp_master_refresh),
        message_only,
        use_vmac: r.use_vmac,
        notify_master,
        notify_backup,
        notify_fault,
        notify_stop,
        source_ip,
    })
}
