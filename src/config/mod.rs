//! The TOML configuration: schema, defaults, validation with key paths.

use std::path::Path;

/// A validated configuration (placeholder until the schema lands).
#[derive(Debug, Clone)]
pub struct Config;

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{0}: not implemented")]
pub struct ConfigError(String);

/// Read, parse and validate a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    Err(ConfigError(path.display().to_string()))
}
