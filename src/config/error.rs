//! Configuration errors: one `ConfigIssue` per problem, each with its key path.

use std::fmt;

/// A 1-based line and column (in characters) in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key path, e.g. `instance[0].vrid` or `track[1].weight`. Empty when
    /// the problem is not tied to one key (for example a TOML syntax error
    /// before any key).
    pub path: String,
    /// The `name` of the section the path starts in (an instance, track or
    /// sync group), shown next to its index so the reader finds it quickly.
    pub section_name: Option<String>,
    /// What is wrong, phrased so that a person knows what to change.
    pub reason: String,
    /// Where in the file, for syntax and type errors reported by the TOML reader.
    pub location: Option<Location>,
}

impl ConfigIssue {
    /// The key path as shown to a person: `instance[0] ("VI_1").vrid`.
    pub fn display_path(&self) -> String {
        match &self.section_name {
            None => self.path.clone(),
            Some(name) => {
                let (head, tail) = match self.path.find('.') {
                    Some(i) => self.path.split_at(i),
                    None => (self.path.as_str(), ""),
                };
                format!("{head} ({name:?}){tail}")
            }
        }
    }
}

impl fmt::Display for ConfigIssue {
    /// `path: reason`, without the file name (see [`ConfigError`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.display_path(), self.reason)
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the configuration: {source}")]
    Read {
        /// The file name as given.
        file: String,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but has problems; every one found is listed.
    #[error("{}", format_issues(file, issues))]
    Invalid {
        /// The file name as given.
        file: String,
        /// Every problem found (at least one).
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    /// The individual problems (empty for [`ConfigError::Read`]).
    pub fn errors(&self) -> &[ConfigIssue] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { issues, .. } => issues,
        }
    }
}

/// One line per issue: `FILE:LINE:COL: path: reason` when the location is
/// known, `FILE: path: reason` otherwise.
fn format_issues(file: &str, issues: &[ConfigIssue]) -> String {
    let mut out = String::new();
    for (i, issue) in issues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match issue.location {
            Some(loc) => out.push_str(&format!("{file}:{}:{}: {issue}", loc.line, loc.column)),
            None => out.push_str(&format!("{file}: {issue}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let semantic = ConfigIssue {
            path: "instance[0].vrid".into(),
            section_name: Some("VI_1".into()),
            reason: "must be 1..=255, got 0".into(),
            location: None,
        };
        let syntax = ConfigIssue {
            path: "instance[0].vrid".into(),
            section_name: None,
            reason: "expected an integer".into(),
            location: Some(Location { line: 4, column: 8 }),
        };
        let err = ConfigError::Invalid {
            file: "a.toml".into(),
            issues: vec![semantic, syntax],
        };
        assert_eq!(
            err.to_string(),
            "a.toml: instance[0] (\"VI_1\").vrid: must be 1..=255, got 0\n\
             a.toml:4:8: instance[0].vrid: expected an integer"
        );
        assert_eq!(err.errors().len(), 2);
    }
}
