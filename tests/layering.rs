//! The layering holds: the pure core imports no IO crate and reads no
//! clock, and no module imports a layer above its own (docs/ARCHITECTURE.md,
//! "What each folder may import").
//!
//! This reads the source, not the compiled crate: it strips comments and
//! string literals, then looks for paths. It cannot be fooled by a comment
//! or a log message that names `tokio`, and a macro or a renamed import
//! that hides a path from it is the reviewer's to catch.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Crates the core must never use: the IO shell's (RFC-independent) tools.
/// `netlink_` stands for every crate of the netlink family.
const CORE_FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "socket2",
    "nix",
    "rtnetlink",
    "netlink_",
    "libc",
    "mio",
];

/// Parts of `std` that do IO or read the clock; the core gets time passed in.
const CORE_FORBIDDEN_STD: &[&str] = &[
    "std::time::Instant",
    "std::time::SystemTime",
    "std::time::UNIX_EPOCH",
    "std::fs",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::net::UdpSocket",
    "std::os",
    "std::process",
    "std::thread",
    "std::env",
];

/// Calls that read a clock, however the type was imported.
const CLOCK_READS: &[&str] = &["Instant::now", "SystemTime::now", "UNIX_EPOCH"];

/// The top-level modules of the library, and the ones each may import
/// (besides itself). The rows are docs/ARCHITECTURE.md's table; a new
/// top-level module needs a row here and there.
fn allowed_imports() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("core", &[][..]),
        ("config", &["core"][..]),
        ("io", &["core"][..]),
        ("track", &["core", "config", "io"][..]),
        ("notify", &["core", "config", "track"][..]),
        ("import", &["core", "config"][..]),
        ("announce", &["core", "config"][..]),
        (
            "daemon",
            &["core", "config", "io", "track", "notify", "announce"][..],
        ),
    ])
}

/// One place where a rule is broken.
#[derive(Debug)]
struct Violation {
    file: PathBuf,
    line: usize,
    what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
    }
}

/// Rust source with comments removed and string and char literals emptied;
/// newlines are kept, so line numbers still hold.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            && starts_word(b, if i > 0 && b[i - 1] == b'b' { i - 1 } else { i })
        {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                if b[j] == b'\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + close.len();
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\'', '\u{..}'), or a lifetime.
            let rest = &b[i + 1..];
            let len = if rest.first() == Some(&b'\\') {
                // The escaped character is rest[1]; the closing quote comes after it.
                rest.iter().skip(2).position(|&x| x == b'\'').map(|p| p + 2)
            } else {
                let ch = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(ch) == Some(&b'\'')).then_some(ch)
            };
            match len {
                Some(n) => {
                    out.push_str("' '");
                    i += n + 2;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// A line with the spaces around `::` removed (`Instant :: now` is
/// `Instant::now`), except after `use` (`use ::tokio` stays two words).
fn squeeze(line: &str) -> String {
    let mut s = line.to_string();
    while let Some(p) = s.find(":: ") {
        s.replace_range(p..p + 3, "::");
    }
    let mut from = 0;
    while let Some(q) = s[from..].find(" ::").map(|q| q + from) {
        if s[..q].trim_end().ends_with("use") || s[..q].trim_end().is_empty() {
            from = q + 3;
        } else {
            s.replace_range(q..q + 3, "::");
        }
    }
    s
}

/// Whether `b[i]` begins a word (the byte before it is not part of an identifier).
fn starts_word(b: &[u8], i: usize) -> bool {
    i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The paths in stripped source, with whitespace around `::` removed and
/// `use` groups expanded one level (`std::time::{Duration, Instant}` gives
/// `std::time::Duration` and `std::time::Instant`), each with its line.
fn paths(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let squeezed = squeeze(line);
        let bytes = squeezed.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) {
                let start = i;
                while i < bytes.len() && (is_ident(bytes[i]) || bytes[i] == b':') {
                    i += 1;
                }
                let path = squeezed[start..i].trim_end_matches(':').to_string();
                if squeezed[i..].starts_with('{') && path.contains("::") {
                    let end = squeezed[i..].find('}').map_or(squeezed.len(), |e| i + e);
                    for item in squeezed[i + 1..end].split(',') {
                        let item = item.split_whitespace().next().unwrap_or("");
                        if !item.is_empty() {
                            out.push((n + 1, format!("{path}::{item}")));
                        }
                    }
                }
                out.push((n + 1, path));
            } else {
                i += 1;
            }
        }
        // `use tokio;`, `pub use ::tokio;`, `extern crate tokio;`: the crate
        // alone, written as a path so that it is checked as one.
        let words: Vec<&str> = squeezed.split_whitespace().collect();
        for (k, w) in words.iter().enumerate() {
            let next = match (*w, words.get(k + 1)) {
                ("use", Some(next)) => Some(*next),
                ("crate", Some(next)) if k > 0 && words[k - 1] == "extern" => Some(*next),
                _ => None,
            };
            if let Some(next) = next {
                let name: String = next
                    .trim_start_matches("::")
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((n + 1, format!("{name}::")));
                }
            }
        }
    }
    out
}

/// Every `.rs` file under `src`: its path relative to `src`, and its text.
fn read_tree(src: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = fs::read_to_string(&p).expect("readable source");
                files.push((p.strip_prefix(src).expect("under src").to_path_buf(), text));
            }
        }
    }
    files.sort();
    files
}

/// The crate's module path of a file (`core/wire/vrrp.rs` is
/// `["core", "wire", "vrrp"]`, `core/mod.rs` is `["core"]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The top-level module a path names, if it leaves the file's own: through
/// `crate::X` or enough `super::` to reach the crate root. Inline modules
/// (`mod tests`) are not tracked, so a `super` chain that looks like it
/// leaves may not; only known top-level names are reported.
fn top_level_target(module: &[String], path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    match segs.first() {
        Some(&"crate") => segs.get(1).map(|s| s.to_string()),
        Some(&"super") => {
            let ups = segs.iter().take_while(|s| **s == "super").count();
            (ups >= module.len()).then(|| segs.get(ups).map(|s| s.to_string()))?
        }
        _ => None,
    }
}

/// Every rule broken in `files` (paths relative to `src`): the core's forbidden crates, std IO and
/// clock reads, and imports of a module a folder may not use.
fn violations(files: &[(PathBuf, String)]) -> Vec<Violation> {
    let allowed = allowed_imports();
    let mut found = Vec::new();
    for (rel, text) in files {
        let file = Path::new("src").join(rel);
        let module = module_path(rel);
        let Some(top) = module.first().cloned() else {
            continue; // lib.rs
        };
        if top == "main" {
            continue; // the binary may use everything
        }
        let code = strip(text);
        let Some(may) = allowed.get(top.as_str()) else {
            found.push(Violation {
                file: file.clone(),
                line: 1,
                what: format!(
                    "src/{top} is a new top-level module: give it a row in tests/layering.rs \
                     (allowed_imports) and in docs/ARCHITECTURE.md"
                ),
            });
            continue;
        };
        for (line, path) in paths(&code) {
            let mut bad = |what: String| {
                found.push(Violation {
                    file: file.clone(),
                    line,
                    what,
                })
            };
            if let Some(target) = top_level_target(&module, &path) {
                if target != top
                    && allowed.contains_key(target.as_str())
                    && !may.contains(&target.as_str())
                {
                    bad(format!(
                        "src/{top} may not import crate::{target} (`{path}`)"
                    ));
                }
            }
            if top != "core" {
                continue;
            }
            let first = path.split("::").next().unwrap_or("");
            for c in CORE_FORBIDDEN_CRATES {
                let hit = if c.ends_with('_') {
                    first.starts_with(c)
                } else {
                    first == *c
                };
                if hit && path.contains("::") {
                    bad(format!("the core may not use the crate `{first}`"));
                }
            }
            let full = path.trim_start_matches("::");
            for s in CORE_FORBIDDEN_STD {
                if full == *s || full.starts_with(&format!("{s}::")) {
                    bad(format!(
                        "the core may not use `{s}`: it does no IO and reads no clock"
                    ));
                }
            }
            for r in CLOCK_READS {
                if full == *r || full.ends_with(&format!("::{r}")) {
                    bad(format!(
                        "the core may not read a clock (`{path}`): time is passed in"
                    ));
                }
            }
        }
    }
    found.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.what == b.what);
    found
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn layering_holds() {
    let v = violations(&read_tree(&src_dir()));
    assert!(
        v.is_empty(),
        "the layering is broken (docs/ARCHITECTURE.md):\n{}",
        v.iter()
            .map(|v| format!("  {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The checker finds what it is meant to find: a file with forbidden code
/// planted in it fails, one rule at a time, and comments and strings that
/// name the same things do not.
#[test]
fn the_check_can_fail() {
    let cases: &[(&str, &str, bool)] = &[
        ("core/planted.rs", "use tokio::time::sleep;\n", true),
        (
            "core/planted.rs",
            "fn f() { tokio::spawn(async {}); }\n",
            true,
        ),
        ("core/planted.rs", "use socket2::Socket;\n", true),
        ("core/planted.rs", "use nix::unistd::getpid;\n", true),
        ("core/planted.rs", "use rtnetlink::new_connection;\n", true),
        (
            "core/planted.rs",
            "use netlink_packet_route::link::LinkMessage;\n",
            true,
        ),
        (
            "core/planted.rs",
            "fn f() -> i32 { unsafe { libc::getpid() } }\n",
            true,
        ),
        ("core/planted.rs", "extern crate libc;\n", true),
        ("core/planted.rs", "pub use ::tokio;\n", true),
        ("core/planted.rs", "#[tokio::test]\nasync fn t() {}\n", true),
        (
            "core/planted.rs",
            "fn f() { let _ = std::time::Instant::now(); }\n",
            true,
        ),
        (
            "core/planted.rs",
            "use std::time::{Duration, Instant};\n",
            true,
        ),
        (
            "core/planted.rs",
            "use std::time::Instant as I;\nfn f() { I::now(); }\n",
            true,
        ),
        (
            "core/planted.rs",
            "fn f() { let _ = std::time::SystemTime::now(); }\n",
            true,
        ),
        (
            "core/planted.rs",
            "fn f() { let _ = Instant :: now(); }\n",
            true,
        ),
        (
            "core/planted.rs",
            "fn f() { let _ = std::fs::read(\"x\"); }\n",
            true,
        ),
        ("core/planted.rs", "use crate::io::IoError;\n", true),
        (
            "core/wire/planted.rs",
            "use super::super::super::daemon::Clock;\n",
            true,
        ),
        ("io/planted.rs", "use crate::daemon::Clock;\n", true),
        ("config/planted.rs", "use crate::track::TrackerSet;\n", true),
        ("newroom/mod.rs", "//! A new room.\n", true),
        // Not violations: words in comments and strings, the core's own time,
        // Durations, and the shell using tokio.
        (
            "core/planted.rs",
            "// tokio::spawn and Instant::now are not here\n",
            false,
        ),
        (
            "core/planted.rs",
            "/* use nix::x; /* nested */ libc::y */\n",
            false,
        ),
        (
            "core/planted.rs",
            "const S: &str = \"tokio::spawn Instant::now()\";\n",
            false,
        ),
        (
            "core/planted.rs",
            "const S: &str = r#\"use libc::x; \"# ;\n",
            false,
        ),
        (
            "core/planted.rs",
            "fn f(c: char) -> bool { c == '\"' }\nuse std::time::Duration;\n",
            false,
        ),
        (
            "core/planted.rs",
            "fn f(c: char) -> bool { c == '\\'' || c == '\"' }\nconst S: &str = \"\";\n",
            false,
        ),
        (
            "core/planted.rs",
            "fn f<'a>(nix: &'a str) -> &'a str { nix }\n",
            false,
        ),
        (
            "core/planted.rs",
            "use super::time::Instant;\nfn f(now: Instant) -> Instant { now }\n",
            false,
        ),
        (
            "io/planted.rs",
            "use tokio::net::UdpSocket;\nuse crate::core::time::Instant;\n",
            false,
        ),
    ];
    for (path, code, should_fail) in cases {
        let v = violations(&[(PathBuf::from(path), code.to_string())]);
        assert_eq!(
            !v.is_empty(),
            *should_fail,
            "planted src/{path}:\n{code}\nviolations: {v:#?}"
        );
    }
}
