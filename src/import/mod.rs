//! keepalived.conf to vrrpd TOML: `vrrpd import-keepalived FILE > vrrp.toml`.
//!
//! The conversion keeps keepalived's meaning, not only its words: keepalived's
//! defaults (VRRP version 2, priority 100, advert_int 1) are written out
//! because vrrpd's differ (version 3), `auth_pass` is cut to the 8 bytes
//! keepalived sends, tracker weights keep their sign rules, and `advert_int`
//! is rounded to what the version can carry. Everything that does not become
//! a vrrpd key is reported as an [`ImportWarning`] with its keepalived line;
//! the reference is `docs/IMPORT.md`.
//!
//! Steps: `parse.rs` reads keepalived's block syntax into a statement tree,
//! `convert/` maps it to vrrpd values checked against vrrpd's rules (one file
//! per keepalived block), `emit.rs` writes TOML, and the result is run
//! through [`crate::config::parse_str`] so that any remaining disagreement is
//! reported rather than hidden.

mod argv;
mod convert;
mod emit;
mod model;
mod parse;

#[cfg(test)]
mod tests;

/// The converted configuration and what could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutput {
    /// The vrrpd configuration (TOML), with comments.
    pub toml: String,
    /// Every keepalived line that was not converted as written, in file order
    /// of discovery. The CLI prints them on standard error.
    pub warnings: Vec<ImportWarning>,
}

/// A keepalived line that was not converted (or not as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// 1-based line in the keepalived file; 0 for the file as a whole.
    pub line: usize,
    /// The keepalived line, trimmed ("" for line 0).
    pub text: String,
    /// What happened to it and why, phrased for a person to act on.
    pub reason: String,
}

impl std::fmt::Display for ImportWarning {
    /// `line 12: smtp_alert true: vrrpd sends no e-mail; ...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.text, self.reason)
        }
    }
}

/// Why a keepalived file could not be read at all. Anything that can be read
/// is converted as far as possible and reported through warnings instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// A `"` or `'` is not closed before the end of the line.
    #[error("{file}:{line}: unterminated quoted string (keepalived strings end on the same line)")]
    UnterminatedQuote {
        /// The file name as given.
        file: String,
        /// 1-based line.
        line: usize,
    },
    /// A `}` closes no block.
    #[error("{file}:{line}: `}}` closes no block")]
    UnexpectedClose {
        /// The file name as given.
        file: String,
        /// 1-based line.
        line: usize,
    },
    /// The file ends inside a block.
    #[error("{file}:{line}: the block `{keyword} {{` opened here is never closed")]
    UnclosedBlock {
        /// The file name as given.
        file: String,
        /// 1-based line of the block's opening.
        line: usize,
        /// The keyword of the block ("" for an anonymous `{`).
        keyword: String,
    },
    /// Blocks nest deeper than any keepalived configuration does.
    #[error("{file}:{line}: blocks nest deeper than {max} levels")]
    TooDeep {
        /// The file name as given.
        file: String,
        /// 1-based line of the `{` that went too deep.
        line: usize,
        /// The deepest nesting accepted.
        max: usize,
    },
}

/// Convert keepalived configuration text to vrrpd TOML.
///
/// `file_name` is used in error messages and the header comment. Returns an
/// error only when the text cannot be read as keepalived syntax at all
/// (unbalanced braces, an unterminated quote); everything else converts, with
/// warnings for what was left out. When a warning says the output does not
/// pass `vrrpd check` (for example: no instance could be converted), the TOML
/// needs editing before use.
pub fn convert_keepalived(text: &str, file_name: &str) -> Result<ImportOutput, ImportError> {
    let tree = parse::parse(text, file_name)?;
    let mut ctx = convert::Ctx::new(text);
    let out = convert::convert(&mut ctx, &tree);
    let mut warnings = ctx.warnings;
    // File order; whole-file remarks (line 0) last.
    warnings.sort_by_key(|w| (w.line == 0, w.line));
    let mut toml = emit::emit(file_name, &out, &warnings);

    // The converter follows vrrpd's rules; the validator has the last word.
    // It reads key files and credentials, which belong to the machine the
    // file is for, not this one: it is given a placeholder key for each
    // (their sources were checked in convert/authentication.rs).
    if !out.instances.is_empty() {
        let mut placeholders = out.clone();
        for i in &mut placeholders.instances {
            if let Some(a) = &mut i.auth_hmac {
                for (_, v) in &mut a.keys {
                    *v = format!("hex:{}", "00".repeat(32));
                }
            }
        }
        let checked = emit::emit(file_name, &placeholders, &warnings);
        if let Err(e) = crate::config::parse_str(&checked, "converted") {
            for issue in e.errors() {
                warnings.push(ImportWarning {
                    line: 0,
                    text: String::new(),
                    reason: format!("the converted file does not pass `vrrpd check`: {issue}"),
                });
            }
            toml = emit::emit(file_name, &out, &warnings);
        }
    }
    Ok(ImportOutput { toml, warnings })
}
