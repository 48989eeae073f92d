//! An instance's tracker lists: `track_interface`, `track_script`,
//! `track_process` and `track_file` inside `vrrp_instance`, and the
//! `[[track]]` entries they make, shared between instances (an identical
//! tracker with the same weight is written once).

use std::collections::{HashMap, HashSet};

use super::ctx::{uses_substitution, Ctx};
use super::values::{ifname_problem, parse_int, sanitize_name, truncate_bytes, NAME_MAX};
use super::vrrp_script::{Defs, TrackDef};
use crate::import::model::{OutKind, OutTrack};
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &[
    "track_interface",
    "track_script",
    "track_process",
    "track_file",
];

/// Read one of [`KEYWORDS`]: the names of the `[[track]]` entries it makes
/// are added to the instance's `track` list.
pub(super) fn read(
    ctx: &mut Ctx<'_>,
    st: &Stmt,
    defs: &mut Defs,
    tracks: &mut Tracks,
    track: &mut Vec<String>,
) {
    match st.keyword() {
        "track_interface" => track_interface(ctx, st, tracks, track),
        _ => track_defined(ctx, st, defs, tracks, track),
    }
}

/// `track_interface { IFNAME [weight W] ... }` in an instance: each
/// interface becomes a `[[track]]` of type "interface" (`if_IFNAME`), whose
/// name is added to the instance's `track` list.
fn track_interface(ctx: &mut Ctx<'_>, st: &Stmt, tracks: &mut Tracks, track: &mut Vec<String>) {
    let Some(b) = ctx.block(st) else { return };
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
        if !track.contains(&name) {
            track.push(name);
        }
    }
}

/// `track_script`, `track_process` or `track_file { NAME [weight W] ... }`
/// in an instance: each names a top-level definition (`vrrp_script.rs`),
/// which becomes a `[[track]]` whose name is added to the instance's `track` list.
fn track_defined(
    ctx: &mut Ctx<'_>,
    st: &Stmt,
    defs: &mut Defs,
    tracks: &mut Tracks,
    track: &mut Vec<String>,
) {
    let kw = st.keyword();
    let Some(b) = ctx.block(st) else { return };
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
        if let Some(name) = use_def(ctx, tracks, map.get_mut(&t.name), &t, e.line, what) {
            if !track.contains(&name) {
                track.push(name);
            }
        }
    }
}

/// The `[[track]]` entries made so far, shared between instances.
#[derive(Default, Clone)]
pub(super) struct Tracks {
    pub out: Vec<OutTrack>,
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
pub(super) struct TrackRef {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::convert::values::sanitize_name;

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
