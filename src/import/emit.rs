//! Writing the converted configuration as vrrpd TOML, with comments that say
//! where each section came from and what was left out.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::{OutInstance, OutKind, OutTrack, Output};
use super::ImportWarning;
use crate::config::format_duration;

/// A TOML basic string: `"..."` with `\`, `"` and control characters escaped.
pub(super) fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array of strings.
fn toml_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| toml_str(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

/// A comment line: control characters (which TOML comments may not hold) become `?`.
fn comment(out: &mut String, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let _ = writeln!(out, "# {clean}");
}

fn dur(d: Duration) -> String {
    if d.is_zero() {
        return toml_str("0s");
    }
    toml_str(&format_duration(d))
}

fn instance(out: &mut String, i: &OutInstance) {
    out.push_str("[[instance]]\n");
    for c in &i.comments {
        comment(out, c);
    }
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    kv("name", toml_str(&i.name));
    kv("interface", toml_str(&i.interface));
    kv("vrid", i.vrid.to_string());
    kv("priority", i.priority.to_string());
    kv("version", i.version.to_string());
    kv("advert_interval", dur(i.advert_interval));
    if !i.preempt {
        kv("preempt", "false".into());
    }
    if let Some(d) = i.preempt_delay {
        kv("preempt_delay", dur(d));
    }
    kv("virtual_ips", toml_list(&i.virtual_ips));
    if let Some(p) = &i.auth_pass {
        kv("auth_pass", toml_str(p));
    }
    if !i.track.is_empty() {
        kv("track", toml_list(&i.track));
    }
    if !i.unicast_peers.is_empty() {
        let peers: Vec<String> = i.unicast_peers.iter().map(ToString::to_string).collect();
        kv("unicast_peers", toml_list(&peers));
    }
    if let Some(a) = i.source_ip {
        kv("source_ip", toml_str(&a.to_string()));
    }
    if let Some(n) = i.garp_repeat {
        kv("garp_repeat", n.to_string());
    }
    if let Some(d) = i.garp_master_delay {
        kv("garp_master_delay", dur(d));
    }
    if let Some(d) = i.garp_refresh {
        kv("garp_refresh", dur(d));
    }
    if i.message_only {
        kv("checksum", toml_str("message-only"));
    }
    if i.use_vmac {
        kv("use_vmac", "true".into());
    }
    for (k, v) in [
        ("notify_master", &i.notify_master),
        ("notify_backup", &i.notify_backup),
        ("notify_fault", &i.notify_fault),
        ("notify_stop", &i.notify_stop),
    ] {
        if let Some(argv) = v {
            kv(k, toml_list(argv));
        }
    }
    if let Some(a) = &i.auth_hmac {
        // A sub-table: after every key of the instance.
        out.push_str("[instance.auth_hmac]\n");
        let keys: Vec<String> = a
            .keys
            .iter()
            .map(|(id, v)| format!("{id} = {}", toml_str(v)))
            .collect();
        let _ = writeln!(out, "keys = {{ {} }}", keys.join(", "));
        let _ = writeln!(out, "active_key = {}", a.active_key);
        if let Some(m) = &a.mode {
            let _ = writeln!(out, "mode = {}", toml_str(m));
        }
        if let Some(r) = &a.anti_replay {
            let _ = writeln!(out, "anti_replay = {}", toml_str(r));
        }
        if let Some(w) = a.time_window {
            let _ = writeln!(out, "time_window = {}", toml_str(&format!("{w}s")));
        }
    }
    out.push('\n');
}

fn track(out: &mut String, t: &OutTrack) {
    out.push_str("[[track]]\n");
    comment(
        out,
        &format!("from keepalived line {}: {}", t.line, t.origin),
    );
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    kv("name", toml_str(&t.name));
    match &t.kind {
        OutKind::Script {
            argv,
            interval,
            timeout,
            rise,
            fall,
            user,
        } => {
            kv("type", toml_str("script"));
            kv("argv", toml_list(argv));
            kv("interval", dur(*interval));
            if let Some(d) = timeout {
                kv("timeout", dur(*d));
            }
            if let Some(n) = rise {
                kv("rise", n.to_string());
            }
            if let Some(n) = fall {
                kv("fall", n.to_string());
            }
            if let Some(u) = user {
                kv("user", toml_str(u));
            }
        }
        OutKind::Process {
            process,
            cmdline_contains,
        } => {
            kv("type", toml_str("process"));
            kv("process", toml_str(process));
            if let Some(c) = cmdline_contains {
                kv("cmdline_contains", toml_str(c));
            }
        }
        OutKind::Interface { interface } => {
            kv("type", toml_str("interface"));
            kv("interface", toml_str(interface));
        }
        OutKind::File { path } => {
            kv("type", toml_str("file"));
            kv("path", toml_str(path));
        }
    }
    kv("weight", t.weight.to_string());
    out.push('\n');
}

/// The whole TOML file.
pub(super) fn emit(file_name: &str, o: &Output, warnings: &[ImportWarning]) -> String {
    let mut out = String::new();
    comment(
        &mut out,
        &format!("vrrpd configuration converted from keepalived's {file_name} by `vrrpd import-keepalived`."),
    );
    comment(&mut out, "Check it before use: vrrpd check --config FILE");
    if !warnings.is_empty() {
        comment(
            &mut out,
            &format!(
                "{} keepalived line(s) were not converted as they were; they are listed at the end.",
                warnings.len()
            ),
        );
    }
    out.push('\n');
    for i in &o.instances {
        instance(&mut out, i);
    }
    for s in &o.skipped {
        comment(
            &mut out,
            &format!(
                "NOT CONVERTED: {} (keepalived line {}): {}",
                s.what, s.line, s.reason
            ),
        );
        out.push('\n');
    }
    for t in &o.tracks {
        track(&mut out, t);
    }
    for g in &o.groups {
        out.push_str("[[sync_group]]\n");
        comment(
            &mut out,
            &format!(
                "from keepalived line {}: vrrp_sync_group {}",
                g.line, g.name
            ),
        );
        let _ = writeln!(out, "name = {}", toml_str(&g.name));
        let _ = writeln!(out, "instances = {}", toml_list(&g.instances));
        out.push('\n');
    }
    if !warnings.is_empty() {
        comment(
            &mut out,
            "Not converted as written (also printed on standard error):",
        );
        for w in warnings {
            if w.line == 0 {
                comment(&mut out, &format!("  {}", w.reason));
            } else {
                comment(&mut out, &format!("  line {}: {}", w.line, w.text));
                comment(&mut out, &format!("    {}", w.reason));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_toml() {
        let s = toml_str("a\"b\\c\nd\u{1}e");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001e\"");
        let doc = format!("x = {s}\n");
        let t: toml::Table = toml::from_str(&doc).unwrap();
        assert_eq!(t["x"].as_str(), Some("a\"b\\c\nd\u{1}e"));
    }

    #[test]
    fn comments_stay_on_one_line() {
        let mut out = String::new();
        comment(&mut out, "a\rb\u{7f}c\nd");
        assert_eq!(out, "# a?b?c?d\n");
        let _: toml::Table = toml::from_str(&out).unwrap();
    }
}
