//! The tracker definitions at the top level: `vrrp_script`,
//! `vrrp_track_process` (`track_process`) and `track_file`
//! (`vrrp_track_file`). Each becomes a [`TrackDef`]; it is written as a
//! `[[track]]` only when an instance uses it (see `track.rs`).

use std::collections::HashMap;

use super::ctx::{section_name, uses_substitution, Ctx};
use super::values::{joined, ms, parse_int, show_secs_us, truncate_bytes, us_to_ms, COMM_MAX};
use crate::import::argv::{self, ArgvError};
use crate::import::model::OutKind;
use crate::import::parse::Stmt;

/// keepalived's default track_file weight ("weight defaults to 1").
const TRACK_FILE_DEFAULT_WEIGHT: i32 = 1;

/// A keepalived tracker definition (`vrrp_script`, `vrrp_track_process`,
/// `track_file`), ready to become `[[track]]` entries when an instance uses it.
#[derive(Debug, Clone)]
pub(super) struct TrackDef {
    pub line: usize,
    /// `vrrp_script NAME`, for messages.
    pub origin: String,
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
    /// `None` when the definition could not be converted (already reported).
    pub kind: Option<OutKind>,
    /// Whether any converted instance uses it.
    pub used: bool,
}

/// `weight W [reverse|noreverse]` on a definition line.
fn def_weight(ctx: &mut Ctx<'_>, s: &Stmt, lo: i64, hi: i64) -> Option<(i32, Option<bool>)> {
    let args = s.args();
    let Some(first) = args.first() else {
        ctx.warn(s.line, "`weight` needs a value; not converted");
        return None;
    };
    let Some(w) = parse_int(&first.text).filter(|w| (lo..=hi).contains(w)) else {
        ctx.warn(
            s.line,
            format!(
                "`weight` must be an integer {lo}..={hi}, got {:?}; not converted",
                first.text
            ),
        );
        return None;
    };
    let mut reverse = None;
    for a in &args[1..] {
        match a.text.as_str() {
            "reverse" => reverse = Some(true),
            "noreverse" => reverse = Some(false),
            other => ctx.warn(
                s.line,
                format!("unknown word {other:?} after the weight was ignored"),
            ),
        }
    }
    i32::try_from(w).ok().map(|w| (w, reverse))
}

/// Recognise `killall -0 NAME`, `pidof NAME`, `pgrep [-x] NAME`: a process
/// check that vrrpd does natively, without running a program.
pub(super) fn process_check(argv: &[String]) -> Option<String> {
    let prog = argv.first()?.rsplit('/').next()?;
    let name = match (prog, &argv[1..]) {
        ("killall", [zero, name]) if zero == "-0" => name,
        ("pidof", [name]) => name,
        ("pgrep", [name]) => name,
        ("pgrep", [x, name]) if x == "-x" => name,
        _ => return None,
    };
    (!name.is_empty() && name.len() <= COMM_MAX && !name.contains('/') && !name.starts_with('-'))
        .then(|| name.clone())
}

fn convert_vrrp_script(ctx: &mut Ctx<'_>, s: &Stmt, name: String) -> TrackDef {
    let mut def = TrackDef {
        line: s.line,
        origin: format!("vrrp_script {name}"),
        name,
        weight: 0,
        reverse: false,
        kind: None,
        used: false,
    };
    let Some(block) = ctx.section_block(s) else {
        return def;
    };
    let mut argv: Option<Vec<String>> = None;
    let mut script_line = s.line;
    let mut interval_us = None;
    let mut timeout_us = None;
    let mut rise = None;
    let mut fall = None;
    let mut user = None;
    for st in block {
        if uses_substitution(st) {
            ctx.unsupported(st, "vrrp_script");
            continue;
        }
        match st.keyword() {
            "script" => {
                script_line = st.line;
                argv = script_argv(ctx, st);
            }
            "interval" => interval_us = ctx.secs(st).or(interval_us),
            "timeout" => timeout_us = ctx.secs(st).or(timeout_us),
            "weight" => {
                if let Some((w, r)) = def_weight(ctx, st, -253, 253) {
                    def.weight = w;
                    def.reverse = r.unwrap_or(false);
                }
            }
            "rise" => rise = ctx.int_in(st, 1, i64::MAX).or(rise),
            "fall" => fall = ctx.int_in(st, 1, i64::MAX).or(fall),
            "user" => match st.args() {
                [] => ctx.warn(st.line, "`user` needs a user name; not converted"),
                [u, rest @ ..] => {
                    user = Some(u.text.clone());
                    if !rest.is_empty() {
                        ctx.warn(
                            st.line,
                            format!("vrrpd runs the script as user {:?} with that user's group; the group \"{}\" was not converted", u.text, joined(rest)),
                        );
                    }
                }
            },
            "init_fail" => ctx.warn(
                st.line,
                "vrrpd has no init_fail: a script counts as down until it has succeeded `rise` times",
            ),
            _ => ctx.unsupported(st, "vrrp_script"),
        }
    }
    let Some(argv) = argv else {
        if !block.iter().any(|st| st.keyword() == "script") {
            ctx.warn(
                s.line,
                format!("{} has no `script`; not converted", def.origin),
            );
        }
        return def;
    };

    // Clamp the timing to vrrpd's ranges.
    let interval_ms = us_to_ms(interval_us.unwrap_or(1_000_000));
    let interval_ms_ok = interval_ms.clamp(100, 3_600_000);
    if interval_ms_ok != interval_ms {
        ctx.warn(
            s.line,
            format!(
                "{}: interval {} is outside vrrpd's 100ms..=3600s; {} is used",
                def.origin,
                show_secs_us(interval_ms * 1000),
                show_secs_us(interval_ms_ok * 1000)
            ),
        );
    }
    let timeout = match timeout_us.map(us_to_ms) {
        None => None,
        Some(0) => {
            ctx.warn(
                s.line,
                format!(
                    "{}: timeout 0 is not allowed in vrrpd; the default (the interval) is used",
                    def.origin
                ),
            );
            None
        }
        Some(t) if t > interval_ms_ok => {
            ctx.warn(
                s.line,
                format!("{}: timeout {} is longer than the interval; vrrpd needs a check to end before the next starts, so the timeout is the interval", def.origin, show_secs_us(t * 1000)),
            );
            None
        }
        Some(t) => Some(ms(t)),
    };
    let clamp_count = |ctx: &mut Ctx<'_>, what: &str, v: Option<i64>| -> Option<u32> {
        let v = v?;
        if v > 100 {
            ctx.warn(
                s.line,
                format!(
                    "{}: {what} {v} is more than vrrpd's 100; 100 is used",
                    def.origin
                ),
            );
        }
        u32::try_from(v.clamp(1, 100)).ok()
    };
    let rise = clamp_count(ctx, "rise", rise);
    let fall = clamp_count(ctx, "fall", fall);
    if user.as_deref() == Some("") {
        user = None;
    }

    if !argv[0].starts_with('/') {
        if let Some(process) = process_check(&argv) {
            ctx.warn(
                script_line,
                format!("the command is a process check; converted to a vrrpd process tracker (process = {process:?}) that needs no program"),
            );
            def.kind = Some(OutKind::Process {
                process,
                cmdline_contains: None,
            });
            return def;
        }
        ctx.warn(
            script_line,
            format!("vrrpd runs programs without a shell or PATH lookup: {:?} must be an absolute path; {} was not converted", argv[0], def.origin),
        );
        return def;
    }
    def.kind = Some(OutKind::Script {
        argv,
        interval: ms(interval_ms_ok),
        timeout,
        rise,
        fall,
        user,
    });
    def
}

/// The argv of `script CMD` / `script "CMD ARGS"`.
fn script_argv(ctx: &mut Ctx<'_>, st: &Stmt) -> Option<Vec<String>> {
    let args = st.args();
    if args.is_empty() {
        ctx.warn(st.line, "`script` needs a command; not converted");
        return None;
    }
    let mut argv = Vec::new();
    for (i, w) in args.iter().enumerate() {
        if i > 0 && w.quoted {
            argv.push(w.text.clone());
            continue;
        }
        match argv::split(&w.text) {
            Ok(mut a) => argv.append(&mut a),
            Err(ArgvError::Empty) if i > 0 => {}
            Err(e) => {
                ctx.warn(st.line, format!("{e}; the script was not converted"));
                return None;
            }
        }
    }
    if argv.is_empty() {
        ctx.warn(st.line, "`script` has an empty command; not converted");
        return None;
    }
    Some(argv)
}

fn convert_track_process(ctx: &mut Ctx<'_>, s: &Stmt, name: String) -> TrackDef {
    let mut def = TrackDef {
        line: s.line,
        origin: format!("{} {name}", s.keyword()),
        name,
        weight: 0,
        reverse: false,
        kind: None,
        used: false,
    };
    let Some(block) = ctx.section_block(s) else {
        return def;
    };
    let mut process: Option<(String, Option<String>)> = None;
    for st in block {
        if uses_substitution(st) {
            ctx.unsupported(st, "vrrp_track_process");
            continue;
        }
        match st.keyword() {
            "process" => {
                let Some((cmd, params)) = st.args().split_first() else {
                    ctx.warn(st.line, "`process` needs a process name; not converted");
                    continue;
                };
                let base = cmd.text.rsplit('/').next().unwrap_or("").to_string();
                let mut comm = base.clone();
                truncate_bytes(&mut comm, COMM_MAX);
                if comm.is_empty() {
                    ctx.warn(st.line, "`process` has an empty name; not converted");
                    continue;
                }
                if cmd.text.contains('/') {
                    ctx.warn(st.line, format!("vrrpd matches the process name (comm), not its path: {:?} is matched as {comm:?}", cmd.text));
                }
                if comm != base {
                    ctx.warn(st.line, format!("the kernel keeps {COMM_MAX} bytes of a process name: {base:?} is matched as {comm:?}"));
                }
                let params = (!params.is_empty()).then(|| joined(params));
                process = Some((comm, params));
            }
            "weight" => {
                if let Some((w, r)) = def_weight(ctx, st, -254, 254) {
                    def.weight = w;
                    def.reverse = r.unwrap_or(false);
                }
            }
            "quorum" => {
                if !matches!(ctx.one_arg(st), Some("1") | None) {
                    ctx.warn(st.line, "vrrpd counts the process as up when at least one runs; a quorum other than 1 was not converted");
                }
            }
            "param_match" => ctx.warn(st.line, "vrrpd matches the parameters as text contained in the command line (cmdline_contains), not as keepalived's param_match"),
            "full_command" => ctx.warn(st.line, "vrrpd matches the process name plus text in the command line; full_command was not converted"),
            "quorum_max" | "delay" | "fork_delay" | "terminate_delay" => ctx.unsupported(st, "vrrp_track_process"),
            _ => ctx.unsupported(st, "vrrp_track_process"),
        }
    }
    match process {
        None => {
            if !block.iter().any(|st| st.keyword() == "process") {
                ctx.warn(
                    s.line,
                    format!("{} has no `process`; not converted", def.origin),
                );
            }
        }
        Some((process, cmdline_contains)) => {
            def.kind = Some(OutKind::Process {
                process,
                cmdline_contains,
            })
        }
    }
    def
}

fn convert_track_file(ctx: &mut Ctx<'_>, s: &Stmt, name: String) -> TrackDef {
    let mut def = TrackDef {
        line: s.line,
        origin: format!("{} {name}", s.keyword()),
        name,
        weight: TRACK_FILE_DEFAULT_WEIGHT,
        reverse: false,
        kind: None,
        used: false,
    };
    let Some(block) = ctx.section_block(s) else {
        return def;
    };
    let mut path = None;
    for st in block {
        if uses_substitution(st) {
            ctx.unsupported(st, "track_file");
            continue;
        }
        match st.keyword() {
            "file" => {
                if let Some(p) = ctx.one_arg(st) {
                    if p.starts_with('/') && !p.contains('\0') {
                        path = Some(p.to_string());
                    } else {
                        ctx.warn(st.line, format!("vrrpd needs an absolute path, got {p:?}; not converted"));
                    }
                }
            }
            "weight" => {
                if let Some((w, r)) = def_weight(ctx, st, -254, 254) {
                    def.weight = w;
                    def.reverse = r.unwrap_or(false);
                }
            }
            "init_file" => ctx.warn(st.line, "vrrpd does not create the tracked file; create it (e.g. with systemd-tmpfiles); init_file was not converted"),
            _ => ctx.unsupported(st, "track_file"),
        }
    }
    match path {
        Some(path) => def.kind = Some(OutKind::File { path }),
        None => {
            if !block.iter().any(|st| st.keyword() == "file") {
                ctx.warn(
                    s.line,
                    format!("{} has no `file`; not converted", def.origin),
                );
            }
        }
    }
    def
}

/// The tracker definitions by kind and name, shared across instances.
#[derive(Clone)]
pub(super) struct Defs {
    pub scripts: HashMap<String, TrackDef>,
    pub processes: HashMap<String, TrackDef>,
    pub files: HashMap<String, TrackDef>,
}

impl Defs {
    /// No definitions yet.
    pub fn new() -> Self {
        Defs {
            scripts: HashMap::new(),
            processes: HashMap::new(),
            files: HashMap::new(),
        }
    }
}

/// A top-level tracker definition (`kw` is its keyword): converted and
/// remembered under its name; a second one with the same name is reported.
pub(super) fn define(ctx: &mut Ctx<'_>, s: &Stmt, kw: &str, defs: &mut Defs) {
    let Some(name) = section_name(ctx, s) else {
        return;
    };
    let (map, def) = match kw {
        "vrrp_script" => (&mut defs.scripts, convert_vrrp_script(ctx, s, name.clone())),
        "vrrp_track_process" | "track_process" => (
            &mut defs.processes,
            convert_track_process(ctx, s, name.clone()),
        ),
        _ => (&mut defs.files, convert_track_file(ctx, s, name.clone())),
    };
    if let Some(first) = map.get(&name) {
        ctx.warn(
            s.line,
            format!(
                "{} is defined twice (first at line {}); this definition was not converted",
                def.origin, first.line
            ),
        );
    } else {
        map.insert(name, def);
    }
}

/// Definitions no converted instance uses are not written (keepalived does not run them either).
pub(super) fn warn_unused(ctx: &mut Ctx<'_>, defs: &Defs) {
    let mut unused: Vec<&TrackDef> = defs
        .scripts
        .values()
        .chain(defs.processes.values())
        .chain(defs.files.values())
        .filter(|d| !d.used && d.kind.is_some())
        .collect();
    unused.sort_by_key(|d| d.line);
    for d in unused {
        ctx.warn(d.line, format!("{} is not used by any converted instance; not written (keepalived does not run unused checks either)", d.origin));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_checks() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            process_check(&v(&["killall", "-0", "haproxy"])),
            Some("haproxy".into())
        );
        assert_eq!(
            process_check(&v(&["/usr/bin/pidof", "nginx"])),
            Some("nginx".into())
        );
        assert_eq!(
            process_check(&v(&["pgrep", "-x", "sshd"])),
            Some("sshd".into())
        );
        assert_eq!(process_check(&v(&["pgrep", "-f", "x"])), None);
        assert_eq!(process_check(&v(&["killall", "haproxy"])), None);
        assert_eq!(process_check(&v(&["curl", "http://x"])), None);
    }
}
