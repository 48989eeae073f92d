//! Turn a TOML syntax or type error (a byte span and a message) into a
//! `ConfigIssue` with a line, a column, a key path and a readable reason.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::error::{ConfigIssue, Location};

/// Build the issue for one error from the `toml` crate. `doc` is the parsed
/// document (possibly partial, after a syntax error), used to name the key.
pub(super) fn issue_from_toml(err: &toml::de::Error, text: &str, doc: &DeTable<'_>) -> ConfigIssue {
    let span = err.span();
    let location = span.as_ref().map(|s| location_of(text, s.start));
    let mut path = span
        .as_ref()
        .and_then(|s| path_in_table(doc, s))
        .unwrap_or_default();
    let (extra_key, mut reason) = humanize(err.message());
    if err.message().trim() == "duplicate key" {
        // The parsed document stops before the second definition, so the
        // span is named from the text: the table header above it, then the key.
        if let Some(s) = &span {
            if path.is_empty() {
                path = duplicate_key_path(text, s);
            }
        }
        reason = "key is set twice in the same table; keep one".to_string();
    }
    if let Some(key) = extra_key {
        if !path.ends_with(&format!(".{key}")) && path != key {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key);
        }
    }
    ConfigIssue {
        path,
        section_name: None,
        reason,
        location,
    }
}

/// `table[index].key` for the key at `span`, from the last table header above it.
fn duplicate_key_path(text: &str, span: &Range<usize>) -> String {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let key = text
        .get(start..end)
        .unwrap_or_default()
        .split('=')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
        .to_string();
    let mut header = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    for line in text.get(..start).unwrap_or_default().lines() {
        let l = line.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split_once("]]")) {
            let name = name.0.trim().to_string();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            header = format!("{name}[{n}]");
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split_once(']')) {
            header = name.0.trim().to_string();
        }
    }
    match (header.is_empty(), key.is_empty()) {
        (_, true) => header,
        (true, false) => key,
        (false, false) => format!("{header}.{key}"),
    }
}

/// 1-based line and character column of a byte offset.
pub(super) fn location_of(text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Location { line, column }
}

/// Does `outer` contain `inner` (an empty `inner` counts when it sits inside)?
fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// The deepest key path in `table` whose key or value covers `span`.
fn path_in_table(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        if contains(&key.span(), span) {
            return Some(name.to_string());
        }
        if let Some(sub) = path_in_value(value.get_ref(), span) {
            let mut path = name.to_string();
            if sub.starts_with('[') {
                path.push_str(&sub);
            } else if !sub.is_empty() {
                push_key(&mut path, &sub);
            }
            return Some(path);
        }
        if contains(&value.span(), span) {
            return Some(name.to_string());
        }
    }
    None
}

/// The path below a value (`""` when the value itself is the match).
fn path_in_value(value: &DeValue<'_>, span: &Range<usize>) -> Option<String> {
    match value {
        DeValue::Table(t) => path_in_table(t, span),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(sub) = path_in_value(item.get_ref(), span) {
                    let mut path = format!("[{i}]");
                    if sub.starts_with('[') {
                        path.push_str(&sub);
                    } else if !sub.is_empty() {
                        path.push('.');
                        path.push_str(&sub);
                    }
                    return Some(path);
                }
                if contains(&item.span(), span) {
                    return Some(format!("[{i}]"));
                }
            }
            None
        }
        _ => None,
    }
}

/// Rephrase serde's messages for a person editing the file. Returns a key to
/// add to the path when the message names one (`missing field`), and the reason.
fn humanize(message: &str) -> (Option<String>, String) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, tail)) = rest.split_once('`') {
            let expected = tail
                .trim_start_matches(", ")
                .trim_start_matches("expected one of ")
                .trim_start_matches("expected ")
                .replace('`', "");
            let closest = expected
                .split(", ")
                .map(|k| (edit_distance(key, k), k))
                .filter(|(d, k)| *d <= 2 && *d < key.len().max(k.len()))
                .min();
            let reason = if expected.is_empty() || tail.contains("there are no fields") {
                format!("unknown key `{key}`")
            } else if let Some((_, k)) = closest {
                format!("unknown key `{key}`; did you mean `{k}`?")
            } else {
                format!("unknown key `{key}`; the keys allowed here are: {expected}")
            };
            return (None, reason);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((key, _)) = rest.split_once('`') {
            return (Some(key.to_string()), "required key is missing".to_string());
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            if let Some(n) = found
                .strip_prefix("integer `")
                .and_then(|r| r.strip_suffix("` as i128"))
            {
                return (None, format!("out of range: {n} is too large"));
            }
            return (
                None,
                format!(
                    "wrong type: expected {}, found {}",
                    type_name(expected),
                    found_name(found)
                ),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return (
                None,
                format!(
                    "invalid value: expected {}, found {found}",
                    type_name(expected)
                ),
            );
        }
    }
    (None, message.lines().next().unwrap_or(message).to_string())
}

/// Levenshtein distance, for "did you mean" on misspelt keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// serde's name for a found value, in the words of the TOML file.
fn found_name(found: &str) -> &str {
    match found {
        "map" => "a table",
        "sequence" => "an array",
        other => other,
    }
}

/// serde's name for an expected type, in the words of the TOML file.
fn type_name(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" {
        "a table".to_string()
    } else if e == "a sequence" {
        "an array".to_string()
    } else if matches!(
        e,
        "i64" | "i32" | "i16" | "i8" | "u64" | "u32" | "u16" | "u8"
    ) {
        "an integer".to_string()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let text = "a = 1\nbb = \"é\"x\n";
        assert_eq!(location_of(text, 0), Location { line: 1, column: 1 });
        assert_eq!(location_of(text, 6), Location { line: 2, column: 1 });
        // 'x' comes after a 2-byte character: column counts characters.
        let x = text.find('x').unwrap();
        assert_eq!(location_of(text, x), Location { line: 2, column: 9 });
    }

    #[test]
    fn humanize_messages() {
        let (_, r) = humanize("unknown field `vird`, expected one of `name`, `vrid`");
        assert_eq!(r, "unknown key `vird`; did you mean `vrid`?");
        let (_, r) = humanize("unknown field `bogus`, expected one of `name`, `vrid`");
        assert_eq!(
            r,
            "unknown key `bogus`; the keys allowed here are: name, vrid"
        );
        assert_eq!(edit_distance("priorty", "priority"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        let (k, r) = humanize("missing field `name`");
        assert_eq!(
            (k.as_deref(), r.as_str()),
            (Some("name"), "required key is missing")
        );
        let (_, r) = humanize("invalid type: string \"12\", expected i64");
        assert_eq!(r, "wrong type: expected an integer, found string \"12\"");
        let (_, r) = humanize("invalid type: map, expected a sequence");
        assert_eq!(r, "wrong type: expected an array, found a table");
    }
}
