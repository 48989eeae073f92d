//! Fuzzes `import::convert_keepalived`: any text must convert or give an
//! `ImportError`, never a panic; converted output with instances must pass
//! `config::parse_str` or carry a warning that says it does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrpd::config::parse_str;
use vrrpd::import::convert_keepalived;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(out) = convert_keepalived(text, "fuzz.conf") else {
        return;
    };
    if parse_str(&out.toml, "converted").is_err() {
        assert!(
            !out.warnings.is_empty(),
            "the converted TOML fails `vrrpd check` and no warning says so:\n{}",
            out.toml
        );
    }
});
