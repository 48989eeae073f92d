//! Authentication in a `vrrp_instance`:
//! - `authentication { auth_type PASS; auth_pass SECRET }`: VRRPv2's simple
//!   text password, cut to the 8 bytes keepalived sends; AH and VRRPv3
//!   authentication are reported.
//! - `auth_hmac { key ID VALUE; active_key ID; mode ...; anti_replay ...;
//!   time_window SECS }` (keepalived 2.4): `[instance.auth_hmac]`, with
//!   `hex:` kept inline, `file:PATH` kept, `file:${_ENV
//!   CREDENTIALS_DIRECTORY}/NAME` made `credential:NAME`, and an ASCII
//!   passphrase written as `hex:` of its bytes. An instance whose active key
//!   cannot be converted is skipped rather than written without the
//!   authentication keepalived gave it.

use super::ctx::Ctx;
use super::values::{joined, parse_int, truncate_bytes};
use crate::import::model::OutAuthHmac;
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &["authentication", "auth_hmac"];

/// keepalived's way of naming a systemd credential in a key (its `${_ENV}`
/// expansion), which `credential:` says directly.
const CREDENTIAL_PREFIX: &str = "file:${_ENV CREDENTIALS_DIRECTORY}/";

/// The authentication settings as read, with their lines.
#[derive(Default)]
pub(super) struct RawAuth {
    auth_type: Option<(String, usize)>,
    auth_pass: Option<(String, usize)>,
    hmac: Option<RawHmac>,
}

/// `auth_hmac { }` as read.
#[derive(Default)]
struct RawHmac {
    line: usize,
    /// (id, value as vrrpd writes it, or why it cannot be, line).
    keys: Vec<(u8, Result<String, String>, usize)>,
    active_key: Option<(u8, usize)>,
    mode: Option<String>,
    anti_replay: Option<String>,
    time_window: Option<u16>,
}

/// Read one of [`KEYWORDS`].
pub(super) fn read(ctx: &mut Ctx<'_>, st: &Stmt, r: &mut RawAuth) {
    if st.keyword() == "auth_hmac" {
        read_hmac(ctx, st, r);
        return;
    }
    let Some(b) = ctx.block(st) else { return };
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

/// `auth_hmac { }`.
fn read_hmac(ctx: &mut Ctx<'_>, st: &Stmt, r: &mut RawAuth) {
    let Some(b) = ctx.block(st) else { return };
    if let Some(old) = &r.hmac {
        ctx.warn(
            st.line,
            format!(
                "a second auth_hmac block (the first is on line {}); its keys are added",
                old.line
            ),
        );
    }
    let mut h = r.hmac.take().unwrap_or(RawHmac {
        line: st.line,
        ..RawHmac::default()
    });
    for a in b {
        match a.keyword() {
            "key" => {
                let args = a.args();
                let id = args.first().and_then(|w| parse_int(&w.text));
                let Some(id) = id.and_then(|n| u8::try_from(n).ok()).filter(|n| *n != 0) else {
                    ctx.warn(
                        a.line,
                        "`key` needs an id 1..=255 and a value; not converted",
                    );
                    continue;
                };
                if h.keys.iter().any(|(k, _, _)| *k == id) {
                    ctx.warn(
                        a.line,
                        format!("key id {id} is given twice; this one was not converted"),
                    );
                    continue;
                }
                h.keys.push((id, key_value(&args[1..]), a.line));
            }
            "active_key" => {
                if let Some(v) = ctx.int_in(a, 1, 255) {
                    h.active_key = u8::try_from(v).ok().map(|v| (v, a.line));
                }
            }
            "time_window" => {
                if let Some(v) = ctx.int_in(a, 1, 300) {
                    h.time_window = u16::try_from(v).ok();
                }
            }
            "mode" => {
                if let Some(v) = ctx.one_arg(a) {
                    if matches!(v, "enforce" | "permissive" | "receive-only") {
                        h.mode = Some(v.to_owned());
                    } else {
                        ctx.warn(a.line, format!("mode must be enforce, permissive or receive-only, got {v:?}; not converted (vrrpd's default is enforce)"));
                    }
                }
            }
            "anti_replay" => {
                if let Some(v) = ctx.one_arg(a) {
                    if matches!(v, "time" | "monotonic") {
                        h.anti_replay = Some(v.to_owned());
                    } else {
                        ctx.warn(a.line, format!("anti_replay must be time or monotonic, got {v:?}; not converted (vrrpd's default is time)"));
                    }
                }
            }
            _ => ctx.unsupported(a, "auth_hmac"),
        }
    }
    r.hmac = Some(h);
}

/// A keepalived key value (the words after the id) as vrrpd writes it.
fn key_value(words: &[crate::import::parse::Word]) -> Result<String, String> {
    let text = joined(words);
    if let Some(name) = text.strip_prefix(CREDENTIAL_PREFIX) {
        if !name.is_empty() && !name.contains('/') && !name.contains('$') {
            return Ok(format!("credential:{name}"));
        }
    }
    if words.len() != 1 {
        return Err(format!("a key is one word, got {}", words.len()));
    }
    if words
        .iter()
        .any(|w| !w.quoted && (w.text.contains("${") || w.text.starts_with('$')))
    {
        return Err("keepalived parameter substitution is not expanded by the importer (only file:${_ENV CREDENTIALS_DIRECTORY}/NAME, which becomes credential:NAME)".into());
    }
    if let Some(hex) = text.strip_prefix("hex:") {
        let ok = hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err("hex: needs an even number of hex digits".into());
        }
        let n = hex.len() / 2;
        if !(32..=64).contains(&n) {
            return Err(format!(
                "the key is {n} bytes; vrrpd (and keepalived) take 32 to 64"
            ));
        }
        return Ok(text);
    }
    if let Some(path) = text.strip_prefix("file:") {
        if !path.starts_with('/') {
            return Err(format!(
                "file:{path} is a relative path; vrrpd needs an absolute one"
            ));
        }
        return Ok(text);
    }
    // An ASCII passphrase: its bytes are the key.
    let n = text.len();
    if !(32..=64).contains(&n) {
        return Err(format!(
            "the passphrase is {n} bytes; vrrpd (and keepalived) take 32 to 64"
        ));
    }
    Ok(format!(
        "hex:{}",
        text.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// `auth_hmac`, if there is one: `Ok(None)` without (or when keepalived
/// itself would disable it), `Err` with the reason the instance must be
/// skipped: its signing key could not be converted.
pub(super) fn convert_hmac(
    ctx: &mut Ctx<'_>,
    r: &mut RawAuth,
) -> Result<Option<OutAuthHmac>, String> {
    let Some(h) = r.hmac.take() else {
        return Ok(None);
    };
    let mut keys = Vec::new();
    let mut lost = Vec::new();
    for (id, value, line) in h.keys {
        match value {
            Ok(v) => {
                if v.starts_with("hex:") {
                    ctx.warn(line, "the key is written inline in the vrrpd file: vrrpd refuses that file unless it is chmod 600 (better: put the key in a file, mode 600, and use file:PATH, or a systemd credential)");
                }
                keys.push((id, v));
            }
            Err(why) => {
                ctx.warn(line, format!("{why}; key {id} was not converted"));
                lost.push(id);
            }
        }
    }
    let active = match (h.active_key, keys.len() + lost.len()) {
        (Some((id, _)), _) => id,
        (None, 1) => keys.first().map_or_else(|| lost[0], |k| k.0),
        (None, _) => {
            ctx.warn(h.line, "auth_hmac without active_key: keepalived disables the extension (the instance runs without authentication); not converted");
            return Ok(None);
        }
    };
    if lost.contains(&active) {
        return Err(format!("its auth_hmac active key {active} could not be converted (see the key's line); written without it, the instance would run unauthenticated"));
    }
    if !keys.iter().any(|k| k.0 == active) {
        let line = h.active_key.map_or(h.line, |a| a.1);
        ctx.warn(line, format!("active_key {active} is not defined: keepalived disables the extension (the instance runs without authentication); not converted"));
        return Ok(None);
    }
    if h.time_window.is_some() && h.anti_replay.as_deref() == Some("monotonic") {
        ctx.warn(
            h.line,
            "time_window only applies to anti_replay time; not converted",
        );
    }
    if let Some((_, line)) = &r.auth_pass {
        ctx.warn(*line, "keepalived drops the authentication block when auth_hmac is set; auth_pass was not converted");
        r.auth_pass = None;
        r.auth_type = None;
    }
    Ok(Some(OutAuthHmac {
        keys,
        active_key: active,
        mode: h.mode,
        time_window: if h.anti_replay.as_deref() == Some("monotonic") {
            None
        } else {
            h.time_window
        },
        anti_replay: h.anti_replay,
    }))
}

/// Authentication: simple text, VRRPv2 only, 8 bytes. The `auth_pass` to
/// write, if any.
pub(super) fn convert(ctx: &mut Ctx<'_>, r: RawAuth, version: u8) -> Option<String> {
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
    auth_pass
}
