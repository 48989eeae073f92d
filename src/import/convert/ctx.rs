//! The conversion's context: the warnings collected against keepalived's
//! lines, and the statement helpers every block uses (one value, a block, a
//! flag, seconds, an integer in range, the report for an unsupported keyword).

use super::values::{joined, parse_int, parse_secs_us};
use crate::import::parse::Stmt;
use crate::import::ImportWarning;

/// Collects warnings against the source lines.
pub(in crate::import) struct Ctx<'a> {
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

/// Whether a statement uses keepalived's parameter substitution or
/// conditional configuration, which this importer does not expand.
pub(super) fn uses_substitution(s: &Stmt) -> bool {
    s.words
        .first()
        .is_some_and(|w| !w.quoted && (w.text.starts_with('@') || w.text.starts_with('$')))
        || s.words
            .iter()
            .any(|w| w.text.contains("${") || w.text.starts_with('$') || w.text.starts_with("~SEQ"))
}

impl Ctx<'_> {
    /// The single value of `keyword VALUE`; warns when it is missing, when
    /// extra words follow, or when a block follows.
    pub(super) fn one_arg<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
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
    pub(super) fn block<'s>(&mut self, s: &'s Stmt) -> Option<&'s [Stmt]> {
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
    pub(super) fn section_block<'s>(&mut self, s: &'s Stmt) -> Option<&'s [Stmt]> {
        if s.block.is_none() {
            self.warn(
                s.line,
                format!("`{}` needs a {{ }} block; not converted", s.keyword()),
            );
        }
        s.block.as_deref()
    }

    /// A flag keyword (`nopreempt`); warns about any value or block.
    pub(super) fn flag(&mut self, s: &Stmt) {
        if s.block.is_some() || !s.args().is_empty() {
            self.warn(
                s.line,
                format!("`{}` takes no value; the rest was ignored", s.keyword()),
            );
        }
    }

    /// Seconds (`TIMER`) in microseconds; warns on a bad value.
    pub(super) fn secs(&mut self, s: &Stmt) -> Option<u64> {
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
    pub(super) fn int_in(&mut self, s: &Stmt, lo: i64, hi: i64) -> Option<i64> {
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
    pub(super) fn unsupported(&mut self, s: &Stmt, context: &str) {
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

/// The name after a section keyword (`vrrp_instance NAME {`).
pub(super) fn section_name(ctx: &mut Ctx<'_>, s: &Stmt) -> Option<String> {
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
