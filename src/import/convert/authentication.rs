//! `authentication { auth_type PASS; auth_pass SECRET }` in a
//! `vrrp_instance`: VRRPv2's simple text password, cut to the 8 bytes
//! keepalived sends; AH and VRRPv3 authentication are reported.

use super::ctx::Ctx;
use super::values::truncate_bytes;
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &["authentication"];

/// The authentication settings as read, with their lines.
#[derive(Default)]
pub(super) struct RawAuth {
    auth_type: Option<(String, usize)>,
    auth_pass: Option<(String, usize)>,
}

/// Read one of [`KEYWORDS`].
pub(super) fn read(ctx: &mut Ctx<'_>, st: &Stmt, r: &mut RawAuth) {
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
