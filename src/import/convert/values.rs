//! Values as keepalived writes them (seconds, integers, booleans, names)
//! read into vrrpd's units, and vrrpd's rules for names.

use std::time::Duration;

use crate::import::parse::Word;

/// Longest instance, track or group name vrrpd accepts.
pub(super) const NAME_MAX: usize = 64;
/// Longest Linux interface name (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;
/// Longest process name the kernel keeps (TASK_COMM_LEN - 1).
pub(super) const COMM_MAX: usize = 15;

/// Decimal seconds (`1`, `0.1`, `2.5`) in microseconds; digits beyond
/// microseconds are dropped (keepalived's timer resolution).
pub(super) fn parse_secs_us(s: &str) -> Option<u64> {
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
pub(super) fn us_to_ms(us: u64) -> u64 {
    us / 1000 + u64::from(us % 1000 >= 500)
}

/// A non-negative integer.
pub(super) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A signed integer (`-20`, `+5`, `10`).
pub(super) fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = i64::try_from(parse_uint(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

/// keepalived's `<BOOL>`: on|off|true|false|yes|no; no value means true.
pub(super) fn parse_bool(arg: Option<&Word>) -> Option<bool> {
    match arg.map(|w| w.text.to_ascii_lowercase()).as_deref() {
        None | Some("on" | "true" | "yes") => Some(true),
        Some("off" | "false" | "no") => Some(false),
        Some(_) => None,
    }
}

/// A duration as vrrpd writes it.
pub(super) fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Shown to a person: `1.5s`.
pub(super) fn show_secs_us(us: u64) -> String {
    crate::config::format_duration(Duration::from_micros(us))
}

/// vrrpd's name rule: 1..=64 bytes, no whitespace, control characters or `"`.
pub(super) fn name_problem(name: &str) -> Option<String> {
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
pub(super) fn sanitize_name(name: &str) -> String {
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
pub(super) fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// vrrpd's interface name rule.
pub(super) fn ifname_problem(name: &str) -> Option<String> {
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
pub(super) fn joined(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
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
}
