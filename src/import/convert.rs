//! keepalived statements to vrrpd values, with keepalived's defaults and
//! meanings. Every statement that does not become a vrrpd value is reported
//! as an [`ImportWarning`] with its line.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::argv::{self, ArgvError};
use super::model::{OutGroup, OutInstance, OutKind, OutTrack, Output, Skipped};
use super::parse::{Stmt, Word};
use super::ImportWarning;
// Why an address cannot be a VRRP address or peer: vrrpd's own rule.
use crate::config::unusable_addr as unusable;
use crate::config::IpPrefix;

/// Longest instance, track or group name vrrpd accepts.
const NAME_MAX: usize = 64;
/// Longest Linux interface name (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;
/// Longest process name the kernel keeps (TASK_COMM_LEN - 1).
const COMM_MAX: usize = 15;
/// keepalived's default VRRP version (global `vrrp_version`).
const KEEPALIVED_DEFAULT_VERSION: u8 = 2;
/// keepalived's default priority.
const DEFAULT_PRIORITY: u8 = 100;
/// keepalived's default `advert_int`, in microseconds.
const DEFAULT_ADVERT_US: u64 = 1_000_000;
/// keepalived's default track_file weight ("weight defaults to 1").
const TRACK_FILE_DEFAULT_WEIGHT: i32 = 1;

/// Collects warnings against the source lines.
pub(super) struct Ctx<'a> {
    lines: Vec<&'a str>,
    /// The warnings so far, in the order found.
    pub warnings: Vec<ImportWarning>,
}

impl<'a> Ctx<'a> {
    /// A context over the keepalived text.
    pub fn new(text: &'a str) -> Self {
        Ctx {
            lines: text.lines().collect(),
            warnings: Vec::new(),
        }
    }

    /// Report keepalived line `line` (1-based; 0 for the file as a whole).
    pub fn warn(&mut self, line: usize, reason: impl Into<String>) {
        let text = line
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or("", |l| l.trim())
            .to_string();
        self.warnings.push(ImportWarning {
            line,
            text,
            reason: reason.into(),
        });
    }
}

// ---------------------------------------------------------------- values

/// Decimal seconds (`1`, `0.1`, `2.5`) in microseconds; digits beyond
/// microseconds are dropped (keepalived's timer resolution).
fn parse_secs_us(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut us = whole.checked_mul(1_000_000)?;
    let mut scale = 100_000u64;
    for b in frac.bytes().take(6) {
        us = us.checked_add(u64::from(b - b'0') * scale)?;
        scale /= 10;
    }
    Some(us)
}

/// Round microseconds to whole milliseconds (nearest).
fn us_to_ms(us: u64) -> u64 {
    us / 1000 + u64::from(us % 1000 >= 500)
}

/// A non-negative integer.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A signed integer (`-20`, `+5`, `10`).
fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = i64::try_from(parse_uint(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

/// keepalived's `<BOOL>`: on|off|true|false|yes|no; no value means true.
fn parse_bool(arg: Option<&Word>) -> Option<bool> {
    match arg.map(|w| w.text.to_ascii_lowercase()).as_deref() {
        None | Some("on" | "true" | "yes") => Some(true),
        Some("off" | "false" | "no") => Some(false),
        Some(_) => None,
    }
}

/// A duration as vrrpd writes it.
fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Shown to a person: `1.5s`.
fn show_secs_us(us: u64) -> String {
    crate::config::format_duration(Duration::from_micros(us))
}

/// vrrpd's name rule: 1..=64 bytes, no whitespace, control characters or `"`.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the name is empty".into())
    } else if name.len() > NAME_MAX {
        Some(format!("the name is longer than {NAME_MAX} bytes"))
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        Some(format!(
            "the name {name:?} contains a space, a quote or a control character"
        ))
    } else {
        None
    }
}

/// A name made valid for vrrpd: bad characters become `_`, cut to 64 bytes.
fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '"' {
                '_'
            } else {
                c
            }
        })
        .collect();
    truncate_bytes(&mut out, NAME_MAX);
    if out.is_empty() {
        out.push_str("track");
    }
    out
}

/// Cut a string to at most `max` bytes on a character boundary.
fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// vrrpd's interface name rule.
fn ifname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the interface name is empty".into())
    } else if name.len() > IFNAME_MAX {
        Some(format!(
            "interface name {name:?} is longer than {IFNAME_MAX} bytes (the Linux limit)"
        ))
    } else if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        Some(format!("{name:?} is not a valid Linux interface name"))
    } else {
        None
    }
}

/// The words of a statement joined, for messages.
fn joined(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a statement uses keepalived's parameter substitution or
/// conditional configuration, which this importer does not expand.
fn uses_substitution(s: &Stmt) -> bool {
    s.words
        .first()
        .is_some_and(|w| !w.quoted && (w.text.starts_with('@') || w.text.starts_with('$')))
        || s.words
            .iter()
            .any(|w| w.text.contains("${") || w.text.starts_with('$') || w.text.starts_with("~SEQ"))
}

// ---------------------------------------------------------------- statement helpers

impl Ctx<'_> {
    /// The single value of `keyword VALUE`; warns when it is missing, when
    /// extra words follow, or when a block follows.
    fn one_arg<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        if s.block.is_some() {
            self.warn(
                s.line,
                format!(
                    "`{}` takes a value, not a {{ }} block; not converted",
                    s.keyword()
                ),
            );
            return None;
        }
        match s.args() {
            [] => {
                self.warn(
                    s.line,
                    format!("`{}` needs a value; not converted", s.keyword()),
                );
                None
            }
            [v] => Some(v.text.as_str()),
            [v, extra @ ..] => {
                self.warn(
                    s.line,
                    format!(
                        "`{}` takes one value; the extra words \"{}\" were ignored",
                        s.keyword(),
                        joined(extra)
                    ),
                );
                Some(v.text.as_str())
            }
        }
    }

    /// The statements of `keyword { ... }`; warns when there is no block.
    fn block<'s>(&mut self, s: &'s Stmt) -> Option<&'s [Stmt]> {
        match &s.block {
            Some(b) => {
                if !s.args().is_empty() {
                    self.warn(
                        s.line,
                        format!(
                            "`{}` takes no value before its block; \"{}\" was ignored",
                            s.keyword(),
                            joined(s.args())
                        ),
                    );
                }
                Some(b)
            }
            None => {
                self.warn(
                    s.line,
                    format!("`{}` needs a {{ }} block; not converted", s.keyword()),
                );
                None
            }
        }
    }

    /// The block of a named section (`vrrp_script NAME { ... }`); the name
    /// was read by `section_name`.
    fn section_block<'s>(&mut self, s: &'s Stmt) -> Option<&'s [Stmt]> {
        if s.block.is_none() {
            self.warn(
                s.line,
                format!("`{}` needs a {{ }} block; not converted", s.keyword()),
            );
        }
        s.block.as_deref()
    }

    /// A flag keyword (`nopreempt`); warns about any value or block.
    fn flag(&mut self, s: &Stmt) {
        if s.block.is_some() || !s.args().is_empty() {
            self.warn(
                s.line,
                format!("`{}` takes no value; the rest was ignored", s.keyword()),
            );
        }
    }

    /// Seconds (`TIMER`) in microseconds; warns on a bad value.
    fn secs(&mut self, s: &Stmt) -> Option<u64> {
        let v = self.one_arg(s)?;
        let us = parse_secs_us(v);
        if us.is_none() {
            self.warn(
                s.line,
                format!(
                    "`{}` needs a number of seconds, got {v:?}; not converted",
                    s.keyword()
                ),
            );
        }
        us
    }

    /// An integer in `lo..=hi`; warns on a bad or out-of-range value.
    fn int_in(&mut self, s: &Stmt, lo: i64, hi: i64) -> Option<i64> {
        let v = self.one_arg(s)?;
        match parse_int(v) {
            Some(n) if (lo..=hi).contains(&n) => Some(n),
            Some(n) => {
                self.warn(
                    s.line,
                    format!(
                        "`{}` must be {lo}..={hi}, got {n}; not converted",
                        s.keyword()
                    ),
                );
                None
            }
            None => {
                self.warn(
                    s.line,
                    format!(
                        "`{}` needs an integer, got {v:?}; not converted",
                        s.keyword()
                    ),
                );
                None
            }
        }
    }

    /// The common report for a keyword vrrpd has nothing for.
    fn unsupported(&mut self, s: &Stmt, context: &str) {
        if uses_substitution(s) {
            self.warn(
                s.line,
                "keepalived parameter substitution or conditional configuration ($NAME, @id, ~SEQ) is not expanded by the importer; expand it first (`keepalived --config-test -d` shows the result)",
            );
            return;
        }
        let kw = s.keyword();
        let reason = match kw {
            "" => "a { } block without a keyword; not converted".to_string(),
            "include" | "includer" | "includem" | "includew" | "includeb" | "includea" => {
                "include is not followed: convert the included file separately and merge the results".to_string()
            }
            "virtual_server" | "virtual_server_group" | "real_server" => {
                "LVS is not part of vrrpd; HAProxy does that (this block and everything in it was not converted)".to_string()
            }
            "notify" => "vrrpd has no generic `notify` script; use notify_master, notify_backup, notify_fault and notify_stop, or [global] notify_fifo".to_string(),
            "smtp_alert" | "notification_email" | "notification_email_from" | "smtp_server"
            | "smtp_connect_timeout" | "smtp_helo_name" | "smtp_alert_vrrp" | "smtp_alert_checker" => {
                "vrrpd sends no e-mail; use a notify script".to_string()
            }
            "notify_master_rx_lower_pri" | "notify_deleted" => {
                format!("vrrpd has no `{kw}` script")
            }
            "track_bfd" | "bfd_instance" => "vrrpd has no BFD tracking".to_string(),
            "virtual_routes" | "virtual_rules" | "static_routes" | "static_rules"
            | "static_ipaddress" => format!("vrrpd manages only virtual addresses; `{kw}` was not converted"),
            _ if s.block.is_some() => {
                format!("`{kw}` has no vrrpd equivalent in {context}; this block was not converted")
            }
            _ => format!("`{kw}` has no vrrpd equivalent in {context}; not converted"),
        };
        self.warn(s.line, reason);
    }
}

// ---------------------------------------------------------------- global_defs

/// Defaults from `global_defs` that apply to every instance.
#[derive(Debug, Default, Clone)]
struct Globals {
    version: Option<u8>,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u8>,
    garp_master_refresh: Option<Duration>,
}

fn convert_global_defs(ctx: &mut Ctx<'_>, s: &Stmt, g: &mut Globals) {
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
fn garp_delay(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Duration> {
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
fn garp_refresh(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<Duration> {
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

// ---------------------------------------------------------------- tracker definitions

/// A keepalived tracker definition (`vrrp_script`, `vrrp_track_process`,
/// `track_file`), ready to become `[[track]]` entries when an instance uses it.
#[derive(Debug, Clone)]
struct TrackDef {
    line: usize,
    /// `vrrp_script NAME`, for messages.
    origin: String,
    name: String,
    weight: i32,
    reverse: bool,
    /// `None` when the definition could not be converted (already reported).
    kind: Option<OutKind>,
    /// Whether any converted instance uses it.
    used: bool,
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
fn process_check(argv: &[String]) -> Option<String> {
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

// ---------------------------------------------------------------- tracker outputs

/// The `[[track]]` entries made so far, shared between instances.
#[derive(Default, Clone)]
struct Tracks {
    out: Vec<OutTrack>,
    /// (kind, weight) -> index in `out`: an identical tracker is written once.
    by_key: HashMap<(OutKind, i32), usize>,
    names: HashSet<String>,
}

impl Tracks {
    /// The name of a `[[track]]` with this kind and weight, creating it if needed.
    fn get(
        &mut self,
        base: &str,
        default_weight: i32,
        weight: i32,
        kind: &OutKind,
        line: usize,
        origin: &str,
    ) -> String {
        if let Some(&i) = self.by_key.get(&(kind.clone(), weight)) {
            return self.out[i].name.clone();
        }
        let wanted = if weight == default_weight {
            sanitize_name(base)
        } else {
            sanitize_name(&format!("{base}_weight{weight}"))
        };
        let mut name = wanted.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            let suffix = format!("_{n}");
            let mut b = wanted.clone();
            truncate_bytes(&mut b, NAME_MAX - suffix.len());
            name = format!("{b}{suffix}");
            n += 1;
        }
        self.names.insert(name.clone());
        self.by_key.insert((kind.clone(), weight), self.out.len());
        self.out.push(OutTrack {
            line,
            origin: origin.to_string(),
            name: name.clone(),
            weight,
            kind: kind.clone(),
        });
        name
    }
}

/// `NAME [weight W] [reverse|noreverse]` inside an instance's track_* block.
struct TrackRef {
    name: String,
    weight: Option<i32>,
    reverse: Option<bool>,
}

fn track_ref(ctx: &mut Ctx<'_>, st: &Stmt, lo: i64, hi: i64) -> Option<TrackRef> {
    if uses_substitution(st) {
        ctx.unsupported(st, "a track block");
        return None;
    }
    if st.block.is_some() {
        ctx.warn(
            st.line,
            "unexpected { } block in a track list; not converted",
        );
        return None;
    }
    let (name, rest) = st.words.split_first()?;
    let mut r = TrackRef {
        name: name.text.clone(),
        weight: None,
        reverse: None,
    };
    let mut i = 0;
    while i < rest.len() {
        match rest[i].text.as_str() {
            "weight" => {
                let Some(w) = rest.get(i + 1).and_then(|w| parse_int(&w.text)) else {
                    ctx.warn(st.line, "`weight` needs an integer; not converted");
                    return None;
                };
                if !(lo..=hi).contains(&w) {
                    ctx.warn(
                        st.line,
                        format!("weight must be {lo}..={hi}, got {w}; not converted"),
                    );
                    return None;
                }
                r.weight = i32::try_from(w).ok();
                i += 2;
            }
            "reverse" => {
                r.reverse = Some(true);
                i += 1;
            }
            "noreverse" => {
                r.reverse = Some(false);
                i += 1;
            }
            other => {
                ctx.warn(st.line, format!("unknown word {other:?} was ignored"));
                i += 1;
            }
        }
    }
    Some(r)
}

// ---------------------------------------------------------------- vrrp_instance

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
    auth_type: Option<(String, usize)>,
    auth_pass: Option<(String, usize)>,
    vip_entries: Vec<&'s Stmt>,
    peer_entries: Vec<&'s Stmt>,
    source_ip: Option<(String, usize)>,
    track: Vec<String>,
    garp_repeat: Option<u8>,
    garp_master_delay: Option<Duration>,
    garp_refresh: Option<Duration>,
    message_only: Option<(bool, usize)>,
    use_vmac: bool,
    notify: [Option<Vec<String>>; 4],
    comments: Vec<String>,
}

/// What an instance refers to, shared across instances.
#[derive(Clone)]
struct Defs {
    scripts: HashMap<String, TrackDef>,
    processes: HashMap<String, TrackDef>,
    files: HashMap<String, TrackDef>,
}

/// Use a tracker definition from an instance's track list.
fn use_def(
    ctx: &mut Ctx<'_>,
    tracks: &mut Tracks,
    def: Option<&mut TrackDef>,
    r: &TrackRef,
    line: usize,
    what: &str,
) -> Option<String> {
    let Some(def) = def else {
        ctx.warn(
            line,
            format!(
                "no {what} is named {:?} (keepalived ignores it too); not converted",
                r.name
            ),
        );
        return None;
    };
    let Some(kind) = def.kind.clone() else {
        ctx.warn(
            line,
            format!(
                "{} (line {}) could not be converted, so this instance does not track it",
                def.origin, def.line
            ),
        );
        return None;
    };
    let weight = r.weight.unwrap_or(def.weight);
    let reverse = r.reverse.unwrap_or(def.reverse);
    if reverse {
        ctx.warn(line, "vrrpd has no `reverse` tracking (priority change or fault in the other direction); not converted");
        return None;
    }
    def.used = true;
    Some(tracks.get(&def.name, def.weight, weight, &kind, def.line, &def.origin))
}

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
            "authentication" => {
                let Some(b) = ctx.block(st) else { continue };
                for a in b {
                    match a.keyword() {
                        "auth_type" => {
                            if let Some(v) = ctx.one_arg(a) {
                                r.auth_type = Some((v.to_string(), a.line));
                            }
                        }
                        "auth_pass" => {
                            if let Some(v) = ctx.one_arg(a) {
                                r.auth_pass = Some((v.to_string(), a.line));
                            }
                        }
                        _ => ctx.unsupported(a, "authentication"),
                    }
                }
            }
            "virtual_ipaddress" => {
                if let Some(b) = ctx.block(st) {
                    r.vip_entries.extend(b.iter());
                }
            }
            "virtual_ipaddress_excluded" => {
                if let Some(b) = ctx.block(st) {
                    for e in b {
                        ctx.warn(e.line, "vrrpd has no excluded addresses: every address it adds is advertised; add this one to virtual_ips (it is then advertised) or manage it from a notify script");
                    }
                }
            }
            "unicast_src_ip" | "mcast_src_ip" => {
                if let Some(v) = ctx.one_arg(st) {
                    r.source_ip = Some((v.to_string(), st.line));
                }
            }
            "unicast_peer" => {
                if let Some(b) = ctx.block(st) {
                    r.peer_entries.extend(b.iter());
                }
            }
            "track_interface" => {
                let Some(b) = ctx.block(st) else { continue };
                for e in b {
                    let Some(t) = track_ref(ctx, e, -253, 253) else {
                        continue;
                    };
                    if let Some(p) = ifname_problem(&t.name) {
                        ctx.warn(e.line, format!("{p}; not converted"));
                        continue;
                    }
                    if t.reverse == Some(true) {
                        ctx.warn(e.line, "vrrpd has no `reverse` tracking; not converted");
                        continue;
                    }
                    let kind = OutKind::Interface {
                        interface: t.name.clone(),
                    };
                    let name = tracks.get(
                        &format!("if_{}", t.name),
                        0,
                        t.weight.unwrap_or(0),
                        &kind,
                        e.line,
                        &format!("track_interface {}", t.name),
                    );
                    if !r.track.contains(&name) {
                        r.track.push(name);
                    }
                }
            }
            "track_script" | "track_process" | "track_file" => {
                let Some(b) = ctx.block(st) else { continue };
                for e in b {
                    let (lo, hi) = if kw == "track_script" {
                        (-253, 253)
                    } else {
                        (-254, 254)
                    };
                    let Some(t) = track_ref(ctx, e, lo, hi) else {
                        continue;
                    };
                    let (map, what) = match kw {
                        "track_script" => (&mut defs.scripts, "vrrp_script"),
                        "track_process" => (&mut defs.processes, "vrrp_track_process"),
                        _ => (&mut defs.files, "track_file"),
                    };
                    if let Some(name) = use_def(ctx, tracks, map.get_mut(&t.name), &t, e.line, what)
                    {
                        if !r.track.contains(&name) {
                            r.track.push(name);
                        }
                    }
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
                let i = match kw {
                    "notify_master" => 0,
                    "notify_backup" => 1,
                    "notify_fault" => 2,
                    _ => 3,
                };
                if let Some(argv) = notify_argv(ctx, st) {
                    r.notify[i] = Some(argv);
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
            _ => ctx.unsupported(st, "vrrp_instance"),
        }
    }
    r
}

/// `notify_* CMD [user [group]]`: CMD (quoted when it has arguments) split into argv.
fn notify_argv(ctx: &mut Ctx<'_>, st: &Stmt) -> Option<Vec<String>> {
    if st.block.is_some() {
        ctx.warn(
            st.line,
            format!(
                "`{}` takes a command, not a {{ }} block; not converted",
                st.keyword()
            ),
        );
        return None;
    }
    let Some((cmd, rest)) = st.args().split_first() else {
        ctx.warn(
            st.line,
            format!("`{}` needs a command; not converted", st.keyword()),
        );
        return None;
    };
    let argv = match argv::split(&cmd.text) {
        Ok(a) => a,
        Err(e) => {
            ctx.warn(st.line, format!("{e}; not converted"));
            return None;
        }
    };
    if !argv[0].starts_with('/') {
        ctx.warn(st.line, format!("vrrpd runs notify programs without a shell or PATH lookup: {:?} must be an absolute path; not converted", argv[0]));
        return None;
    }
    if !rest.is_empty() {
        ctx.warn(st.line, format!("vrrpd runs notify programs as its own user; the user/group \"{}\" was not converted (the command was)", joined(rest)));
    }
    Some(argv)
}

/// An instance that could not be converted: the reason.
type Skip = String;

fn finish_instance(
    ctx: &mut Ctx<'_>,
    s: &Stmt,
    name: &str,
    r: RawInstance<'_>,
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

    // Virtual addresses: keepalived's default prefix is the host prefix.
    let mut vips: Vec<IpPrefix> = Vec::new();
    for e in &r.vip_entries {
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
            if !(o == "dev" && value == Some(interface.as_str())) {
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

    // Authentication: simple text, VRRPv2 only, 8 bytes.
    let mut auth_pass = None;
    if let Some((pass, line)) = r.auth_pass {
        let ty = r.auth_type.as_ref().map(|(t, _)| t.to_ascii_uppercase());
        match ty.as_deref() {
            Some("AH") => ctx.warn(r.auth_type.as_ref().map_or(line, |(_, l)| *l), "vrrpd has no IPsec AH authentication (RFC 3768 removed it); authentication was not converted"),
            Some(other) if other != "PASS" => ctx.warn(line, format!("unknown auth_type {other:?}; authentication was not converted")),
            _ if version == 3 => ctx.warn(line, "VRRPv3 has no authentication (RFC 5798 Section 9); auth_pass was not converted"),
            _ if pass.is_empty() => ctx.warn(line, "auth_pass is empty; not converted"),
            _ => {
                if ty.is_none() {
                    ctx.warn(line, "auth_pass without auth_type; converted as auth_type PASS");
                }
                let mut p = pass.clone();
                truncate_bytes(&mut p, 8);
                if p != pass {
                    ctx.warn(line, format!("keepalived uses only the first 8 characters of auth_pass: {p:?} is what goes on the wire, and what vrrpd is given"));
                }
                auth_pass = Some(p);
            }
        }
    } else if let Some((ty, line)) = &r.auth_type {
        if ty.eq_ignore_ascii_case("AH") {
            ctx.warn(
                *line,
                "vrrpd has no IPsec AH authentication (RFC 3768 removed it); not converted",
            );
        } else {
            ctx.warn(
                *line,
                "auth_type without auth_pass; no authentication is configured",
            );
        }
    }

    // Unicast peers and the source address.
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

// ---------------------------------------------------------------- the file

/// The name after a section keyword (`vrrp_instance NAME {`).
fn section_name(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<String> {
    match s.args() {
        [] => {
            ctx.warn(
                s.line,
                format!(
                    "`{}` needs a name; this block was not converted",
                    s.keyword()
                ),
            );
            None
        }
        [n, rest @ ..] => {
            if !rest.is_empty() {
                ctx.warn(
                    s.line,
                    format!(
                        "extra words \"{}\" after the name were ignored",
                        joined(rest)
                    ),
                );
            }
            Some(n.text.clone())
        }
    }
}

/// Convert the statement tree into the output model, reporting what is lost.
pub(super) fn convert(ctx: &mut Ctx<'_>, tree: &[Stmt]) -> Output {
    let mut out = Output::default();
    let mut globals = Globals::default();
    let mut defs = Defs {
        scripts: HashMap::new(),
        processes: HashMap::new(),
        files: HashMap::new(),
    };
    let mut instances: Vec<(&Stmt, String)> = Vec::new();
    let mut groups: Vec<(&Stmt, String)> = Vec::new();

    // First the definitions, in any order, as keepalived reads the whole file first.
    for s in tree {
        if uses_substitution(s) {
            ctx.unsupported(s, "the top level");
            continue;
        }
        match s.keyword() {
            "global_defs" => convert_global_defs(ctx, s, &mut globals),
            kw @ ("vrrp_script" | "vrrp_track_process" | "track_process" | "track_file"
            | "vrrp_track_file") => {
                let Some(name) = section_name(ctx, s) else {
                    continue;
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
                    ctx.warn(s.line, format!("{} is defined twice (first at line {}); this definition was not converted", def.origin, first.line));
                } else {
                    map.insert(name, def);
                }
            }
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
                &mut out,
                format!("{p}; vrrpd instance names are 1..=64 bytes without spaces or quotes"),
            );
            continue;
        }
        if let Some(first) = seen_names.get(&name) {
            skip(
                ctx,
                &mut out,
                format!("an instance with this name is already defined at line {first}"),
            );
            continue;
        }
        seen_names.insert(name.clone(), s.line);
        // Read into scratch copies: a skipped instance adds no [[track]] and uses no definition.
        let mut scratch = tracks.clone();
        let mut defs_scratch = defs.clone();
        let raw = read_instance(ctx, block, &mut defs_scratch, &mut scratch);
        match finish_instance(ctx, s, &name, raw, &globals) {
            Ok(inst) => {
                let key = (
                    inst.interface.clone(),
                    inst.vrid,
                    inst.virtual_ips.first().is_some_and(|v| v.contains(':')),
                );
                if let Some(other) = routers.get(&key) {
                    skip(ctx, &mut out, format!("VRID {} on {} is already used by instance {other} for the same address family", inst.vrid, inst.interface));
                    continue;
                }
                routers.insert(key, name.clone());
                tracks = scratch;
                defs = defs_scratch;
                out.instances.push(inst);
            }
            Err(reason) => skip(ctx, &mut out, reason),
        }
    }
    out.tracks = tracks.out;

    // Definitions no converted instance uses are not written (keepalived does not run them either).
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
            skip(ctx, &mut out, p);
            continue;
        }
        if !group_names.insert(name.clone()) {
            skip(
                ctx,
                &mut out,
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
                &mut out,
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

    if out.instances.is_empty() {
        ctx.warn(0, "no vrrp_instance could be converted; the output is not a usable vrrpd configuration (vrrpd needs at least one [[instance]])");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_secs_us("1"), Some(1_000_000));
        assert_eq!(parse_secs_us("0.1"), Some(100_000));
        assert_eq!(parse_secs_us(".5"), Some(500_000));
        assert_eq!(parse_secs_us("2.0000019"), Some(2_000_001));
        assert_eq!(parse_secs_us("1e3"), None);
        assert_eq!(parse_secs_us("-1"), None);
        assert_eq!(parse_secs_us("."), None);
        assert_eq!(parse_secs_us("99999999999999999999"), None);
        assert_eq!(us_to_ms(1_499), 1);
        assert_eq!(us_to_ms(1_500), 2);
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_int("-20"), Some(-20));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("5x"), None);
        assert_eq!(parse_int("-"), None);
        let w = |t: &str| Word {
            text: t.into(),
            quoted: false,
        };
        assert_eq!(parse_bool(None), Some(true));
        assert_eq!(parse_bool(Some(&w("off"))), Some(false));
        assert_eq!(parse_bool(Some(&w("maybe"))), None);
    }

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

    #[test]
    fn track_names_are_shared_and_unique() {
        let mut t = Tracks::default();
        let k1 = OutKind::Interface {
            interface: "eth1".into(),
        };
        let k2 = OutKind::File { path: "/x".into() };
        let a = t.get("if_eth1", 0, 0, &k1, 1, "o");
        let b = t.get("if_eth1", 0, 0, &k1, 9, "o");
        let c = t.get("if_eth1", 0, -10, &k1, 1, "o");
        let d = t.get("if_eth1", 0, 0, &k2, 1, "o");
        assert_eq!(a, "if_eth1");
        assert_eq!(b, "if_eth1");
        assert_eq!(c, "if_eth1_weight-10");
        assert_eq!(d, "if_eth1_2");
        assert_eq!(t.out.len(), 3);
        assert_eq!(sanitize_name("a b\"c"), "a_b_c");
        assert_eq!(sanitize_name(&"é".repeat(40)).len(), 64);
    }
}
