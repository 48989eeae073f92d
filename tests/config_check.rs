//! `vrrpd check --config FILE` on the real binary: good configs print `ok`
//! and exit 0; bad ones exit non-zero and name the file and the key path.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the check; returns (exit success, stdout, stderr).
fn check(file: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .arg("check")
        .arg("--config")
        .arg(file)
        .output()
        .expect("run vrrpd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn bad(name: &str) -> (PathBuf, String) {
    let path = root().join("tests/data/configs").join(name);
    let (ok, stdout, stderr) = check(&path);
    assert!(!ok, "{name} must be refused; stdout={stdout:?}");
    assert!(!stdout.contains("ok"), "{name}: printed ok: {stdout:?}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(
        !stderr.contains("TOML parse error"),
        "raw toml dump: {stderr}"
    );
    assert!(
        stderr.starts_with(&path.display().to_string()),
        "{name}: every message starts with the file name: {stderr}"
    );
    (path, stderr)
}

#[test]
fn good_configs_pass() {
    let mut files: Vec<PathBuf> = ["bal1", "bal2", "bal3", "example"]
        .iter()
        .map(|n| root().join("config").join(format!("{n}.toml")))
        .collect();
    files.push(root().join("tests/data/configs/good_v2_ipv6_pair.toml"));
    for file in files {
        let (ok, stdout, stderr) = check(&file);
        assert!(ok, "{}: {stderr}", file.display());
        assert_eq!(stdout.trim(), "ok", "{}", file.display());
    }
}

#[test]
fn vrid_0_is_refused() {
    let (path, err) = bad("bad_vrid_0.toml");
    assert!(
        err.contains(&format!(
            "{}: instance[0] (\"VI_1\").vrid: must be 1..=255, got 0",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn vrid_256_is_refused() {
    let (_, err) = bad("bad_vrid_256.toml");
    assert!(err.contains("instance[0] (\"VI_1\").vrid:"), "{err}");
    assert!(err.contains("256"), "{err}");
}

#[test]
fn auth_pass_with_v3_is_refused() {
    let (_, err) = bad("bad_auth_pass_v3.toml");
    assert!(err.contains("instance[0] (\"VI_1\").auth_pass:"), "{err}");
    assert!(err.contains("version = 2"), "{err}");
}

#[test]
fn v3_interval_15ms_is_refused() {
    let (_, err) = bad("bad_v3_interval_15ms.toml");
    assert!(
        err.contains("instance[0] (\"VI_1\").advert_interval:"),
        "{err}"
    );
    assert!(err.contains("multiple of 10ms"), "{err}");
}

#[test]
fn v2_interval_1500ms_is_refused() {
    let (_, err) = bad("bad_v2_interval_1500ms.toml");
    assert!(
        err.contains("instance[0] (\"VI_1\").advert_interval:"),
        "{err}"
    );
    assert!(err.contains("whole seconds"), "{err}");
}

#[test]
fn unknown_key_is_refused_with_line_and_column() {
    let (path, err) = bad("bad_unknown_key.toml");
    // `preemt = false` is on line 7, column 1.
    assert!(
        err.contains(&format!(
            "{}:7:1: instance[0].preemt: unknown key `preemt`; did you mean `preempt`?",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn all_semantic_errors_are_listed() {
    let (_, err) = bad("bad_many_errors.toml");
    for want in [
        "instance[0] (\"VI_1\").vrid:",
        "instance[0] (\"VI_1\").priority: must be 1..=255, got 300",
        "instance[0] (\"VI_1\").virtual_ips[1]:",
        "instance[0] (\"VI_1\").track[0]: no [[track]] is named \"missing\"",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert_eq!(err.lines().count(), 4, "{err}");
}

#[test]
fn syntax_error_is_located() {
    let (path, err) = bad("bad_syntax.toml");
    assert!(err.starts_with(&format!("{}:5:", path.display())), "{err}");
    assert_eq!(err.lines().count(), 1, "one syntax error, no dump: {err}");
}

#[test]
fn missing_file_is_reported() {
    let (ok, _, err) = check(Path::new("/nonexistent/vrrpd.toml"));
    assert!(!ok);
    assert!(
        err.contains("/nonexistent/vrrpd.toml: cannot read"),
        "{err}"
    );
}

/// A file that is valid but weaker than it looks: `check` says ok and prints
/// the warning the daemon logs at start (here: a sync group mixing an
/// `auth_hmac`-enforced member with an unsigned one).
#[test]
fn warnings_are_printed_with_ok() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("vrrpd-check-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sync.toml");
    let key = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    std::fs::write(
        &file,
        format!(
            "[[instance]]\nname = \"A\"\ninterface = \"ext0\"\nvrid = 12\n\
             virtual_ips = [\"172.16.1.254/24\"]\n\
             [instance.auth_hmac]\nkeys = {{ 1 = \"{key}\" }}\n\
             [[instance]]\nname = \"B\"\ninterface = \"int0\"\nvrid = 13\n\
             virtual_ips = [\"10.0.0.254/24\"]\n\
             [[sync_group]]\nname = \"G\"\ninstances = [\"A\", \"B\"]\n"
        ),
    )
    .unwrap();
    // An inline key needs the file closed to others.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, stdout, stderr) = check(&file);
    std::fs::remove_dir_all(&dir).ok();
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "ok");
    assert!(
        stderr.starts_with(&format!(
            "{}: warning: sync_group[0] (\"G\"): \"B\" (no auth_hmac) accepts unsigned adverts while \"A\" enforces auth_hmac",
            file.display()
        )),
        "{stderr}"
    );
}
