//! Fuzzes `config::parse_str`: any text, valid TOML or not, must give a
//! `Config` or a `ConfigError` whose every issue names a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrpd::config::{parse_str, ConfigError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_str(text, "fuzz.toml") {
        Ok(_) => {}
        Err(e @ ConfigError::Invalid { .. }) => {
            assert!(!e.errors().is_empty(), "an Invalid error with no issue");
            for issue in e.errors() {
                assert!(!issue.reason.trim().is_empty(), "an issue without a reason");
            }
            // Formatting must not panic either.
            let _ = e.to_string();
        }
        Err(e) => panic!("parse_str returned a non-validation error: {e}"),
    }
});
