//! The `auth_hmac` table of an instance: keepalived 2.4's HMAC-authenticated adverts.
//!
//! ```toml
//! [instance.auth_hmac]
//! active_key = 2                # the id signed with (default: the only key)
//! mode = "enforce"              # "receive-only" | "permissive" | "enforce" (default)
//! anti_replay = "time"          # "time" (default) | "monotonic"
//! time_window = "5s"            # time only: 1s..=300s, whole seconds
//!                               # (default: 3 advert intervals, at least 5 s)
//! [instance.auth_hmac.keys]
//! 1 = "file:/etc/vrrpd/keys/vrrp51"      # a file: "hex:..." or the raw key bytes
//! 2 = "credential:vrrp51_2"              # $CREDENTIALS_DIRECTORY/vrrp51_2 (systemd)
//! 3 = "hex:000102...1f"                  # inline, 32 to 64 bytes
//! ```
//!
//! Keys are read while the configuration is validated (so `vrrpd check`, the
//! start and a SIGHUP reload all read them), and refused with the file, the key
//! and the reason when a key is shorter than 32 or longer than 64 bytes, when
//! its file cannot be read or is not a regular file, when group or others have
//! any access to the file (a key must be `chmod 600`), or when the file
//! belongs to neither root nor the daemon's user. An inline key makes the
//! configuration file itself hold a secret, so [`super::load`] then applies
//! the same mode rule to the configuration file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::duration::parse_duration;
use super::validate::Section;
use crate::core::auth::{self, AntiReplay, KeyRing, Mode, Settings, SettingsError};
use crate::core::wire::auth::{HmacKey, KeyError, KEY_MAX, KEY_MIN};

/// The environment variable systemd points at a service's credentials.
pub const CREDENTIALS_ENV: &str = "CREDENTIALS_DIRECTORY";

/// A key file is read up to this many bytes: `hex:` and 64 bytes in hex, a
/// line end, and room to say "too large" rather than cut it.
const KEY_FILE_MAX: u64 = 4 + 2 * KEY_MAX as u64 + 64;

/// `[instance.auth_hmac]` as serde reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthHmac {
    pub keys: Option<BTreeMap<String, String>>,
    pub active_key: Option<i64>,
    pub mode: Option<String>,
    pub anti_replay: Option<String>,
    pub time_window: Option<String>,
}

/// What validation needs from the process: where systemd put the
/// credentials, and which user the daemon runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEnv {
    /// `$CREDENTIALS_DIRECTORY`, if set.
    pub credentials_dir: Option<PathBuf>,
    /// The effective user id; key files must belong to it or to root.
    pub euid: u32,
}

impl KeyEnv {
    /// The running process's environment.
    pub fn from_process() -> KeyEnv {
        KeyEnv {
            credentials_dir: std::env::var_os(CREDENTIALS_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            euid: nix::unistd::geteuid().as_raw(),
        }
    }
}

/// A validated `auth_hmac` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthHmac {
    /// The keys, by ascending id (1..=255), each 32..=64 bytes.
    pub keys: Vec<AuthKey>,
    /// The id adverts are signed with; one of `keys`.
    pub active_key: u8,
    /// What is sent and accepted. Default [`Mode::Enforce`].
    pub mode: Mode,
    /// How freshness is judged. Default time, window max(3 intervals, 5 s).
    pub anti_replay: AntiReplay,
}

impl AuthHmac {
    /// The core's settings: the key ring made from the secrets.
    pub fn settings(&self) -> Result<Settings, AuthHmacError> {
        let keys = self
            .keys
            .iter()
            .map(|k| HmacKey::new(k.id, k.secret.bytes()).map_err(AuthHmacError::Key))
            .collect::<Result<Vec<_>, _>>()?;
        Settings::new(
            KeyRing::new(keys),
            self.active_key,
            self.mode,
            self.anti_replay,
        )
        .map_err(AuthHmacError::Settings)
    }

    /// Whether a key is written in the configuration file itself.
    pub fn has_inline_key(&self) -> bool {
        self.keys.iter().any(|k| k.source == KeySource::Inline)
    }
}

/// Why validated `auth_hmac` settings could not be turned into the core's (a bug: validation
/// checks the same rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthHmacError {
    /// A key was refused.
    #[error("auth_hmac key: {0}")]
    Key(KeyError),
    /// The settings were refused.
    #[error("auth_hmac: {0}")]
    Settings(SettingsError),
}

/// One key.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthKey {
    /// Its id, 1..=255, as carried in the trailer.
    pub id: u8,
    /// Where it was read from (for messages; the secret is read once).
    pub source: KeySource,
    /// The key bytes.
    pub secret: KeySecret,
}

/// Where a key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `hex:` in the configuration file.
    Inline,
    /// `file:PATH`.
    File(PathBuf),
    /// `credential:NAME`, read from `$CREDENTIALS_DIRECTORY/NAME`.
    Credential {
        /// The credential's name.
        name: String,
        /// The file it was read from.
        path: PathBuf,
    },
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Inline => f.write_str("inline"),
            KeySource::File(p) => write!(f, "file {}", p.display()),
            KeySource::Credential { name, path } => {
                write!(f, "credential {name} ({})", path.display())
            }
        }
    }
}

/// Key bytes: wiped from memory when dropped, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(Zeroizing<Vec<u8>>);

impl KeySecret {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> KeySecret {
        KeySecret(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret(<{} bytes>)", self.0.len())
    }
}

/// Validates `[instance.auth_hmac]` (`advert_interval` gives the default
/// window; `None` when the interval itself was invalid).
pub(super) fn validate(
    s: &mut Section<'_>,
    raw: &RawAuthHmac,
    advert_interval: Option<Duration>,
    env: &KeyEnv,
) -> Option<AuthHmac> {
    let mut ok = true;
    let mut keys = Vec::new();
    match raw.keys.as_ref() {
        None => {
            s.err("auth_hmac.keys", "required: at least one key, e.g. keys = { 1 = \"file:/etc/vrrpd/keys/vrrp\" } (a file holding 32 to 64 random bytes, `openssl rand -hex 32`)");
            ok = false;
        }
        Some(map) if map.is_empty() => {
            s.err("auth_hmac.keys", "must hold at least one key");
            ok = false;
        }
        Some(map) => {
            for (id_text, value) in map {
                let path = format!("auth_hmac.keys.{id_text}");
                let id = match id_text.parse::<u8>() {
                    Ok(id) if id != 0 => id,
                    _ => {
                        s.err(&path, format!("key ids are 1..=255 (they travel in one byte of the trailer), got {id_text:?}"));
                        ok = false;
                        continue;
                    }
                };
                if keys.iter().any(|k: &AuthKey| k.id == id) {
                    s.err(
                        &path,
                        format!("key id {id} is given twice (as {id_text:?})"),
                    );
                    ok = false;
                    continue;
                }
                match read_key(value, env) {
                    Ok((source, secret)) => keys.push(AuthKey { id, source, secret }),
                    Err(reason) => {
                        s.err(&path, reason);
                        ok = false;
                    }
                }
            }
        }
    }
    keys.sort_by_key(|k| k.id);

    let active_key = match raw.active_key {
        Some(v) => match u8::try_from(v) {
            Ok(id) if id != 0 => {
                if ok && !keys.iter().any(|k| k.id == id) {
                    let ids: Vec<String> = keys.iter().map(|k| k.id.to_string()).collect();
                    s.err(
                        "auth_hmac.active_key",
                        format!("{id} is not one of the keys (ids: {})", ids.join(", ")),
                    );
                    None
                } else {
                    Some(id)
                }
            }
            _ => {
                s.err("auth_hmac.active_key", format!("must be 1..=255, got {v}"));
                None
            }
        },
        None if keys.len() == 1 => Some(keys[0].id),
        None if ok => {
            s.err(
                "auth_hmac.active_key",
                "required with more than one key: the id adverts are signed with",
            );
            None
        }
        None => None,
    };

    let mode = match raw.mode.as_deref() {
        None => Some(Mode::Enforce),
        Some(text) => Mode::from_name(text).or_else(|| {
            s.err(
                "auth_hmac.mode",
                format!("must be \"receive-only\", \"permissive\" or \"enforce\", got {text:?}"),
            );
            None
        }),
    };

    let anti_replay = match raw.anti_replay.as_deref() {
        None | Some("time") => {
            let window = match raw.time_window.as_deref() {
                None => advert_interval.map(AntiReplay::default_window),
                Some(text) => window_secs(s, text),
            };
            window.map(|window_secs| AntiReplay::Time { window_secs })
        }
        Some("monotonic") => {
            if raw.time_window.is_some() {
                s.err(
                    "auth_hmac.time_window",
                    "only applies to anti_replay = \"time\"; remove it, or use time",
                );
                None
            } else {
                Some(AntiReplay::Monotonic)
            }
        }
        Some(other) => {
            s.err(
                "auth_hmac.anti_replay",
                format!("must be \"time\" or \"monotonic\", got {other:?}"),
            );
            None
        }
    };

    if !ok {
        return None;
    }
    Some(AuthHmac {
        keys,
        active_key: active_key?,
        mode: mode?,
        anti_replay: anti_replay?,
    })
}

/// `time_window`: whole seconds in 1..=300.
fn window_secs(s: &mut Section<'_>, text: &str) -> Option<u16> {
    let key = "auth_hmac.time_window";
    let d = match parse_duration(text) {
        Ok(d) => d,
        Err(reason) => {
            s.err(key, reason);
            return None;
        }
    };
    let (lo, hi) = (auth::WINDOW_MIN, auth::WINDOW_MAX);
    if d.subsec_nanos() != 0 || d.as_secs() < u64::from(lo) || d.as_secs() > u64::from(hi) {
        s.err(
            key,
            format!(
                "must be whole seconds, {lo}s..={hi}s (the sequence carries seconds), got {text:?}"
            ),
        );
        return None;
    }
    u16::try_from(d.as_secs()).ok()
}

/// Reads one key value: `hex:`, `file:` or `credential:`.
fn read_key(value: &str, env: &KeyEnv) -> Result<(KeySource, KeySecret), String> {
    if let Some(hex) = value.strip_prefix("hex:") {
        let bytes = decode_hex(hex).map_err(|e| format!("inline key: {e}"))?;
        check_len(&bytes).map_err(|e| format!("inline key: {e}"))?;
        return Ok((KeySource::Inline, KeySecret::new(bytes)));
    }
    if let Some(path) = value.strip_prefix("file:") {
        if !path.starts_with('/') {
            return Err(format!("file: needs an absolute path, got {path:?}"));
        }
        let path = PathBuf::from(path);
        let secret = read_key_file(&path, env)?;
        return Ok((KeySource::File(path), secret));
    }
    if let Some(name) = value.strip_prefix("credential:") {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(format!("credential: needs a credential name (no '/'), as given to systemd's LoadCredential=, got {name:?}"));
        }
        let Some(dir) = env.credentials_dir.as_ref() else {
            return Err(format!("credential:{name}: ${CREDENTIALS_ENV} is not set, so vrrpd was not started by systemd with LoadCredential={name}:... (or LoadCredentialEncrypted=, ImportCredential=); use file: outside systemd"));
        };
        let path = dir.join(name);
        let secret = read_key_file(&path, env)?;
        return Ok((
            KeySource::Credential {
                name: name.to_owned(),
                path,
            },
            secret,
        ));
    }
    Err("must start with \"hex:\", \"file:\" or \"credential:\" (an ASCII passphrase as keepalived allows it is not accepted inline: write its bytes as hex:, or put it in a file)".into())
}

/// Reads a key file: regular, at most [`KEY_FILE_MAX`] bytes, owned by root or
/// the daemon's user, no access for group or others. Its content is what
/// keepalived accepts: `hex:` and hex digits, or the raw key bytes; a final
/// line end is dropped.
fn read_key_file(path: &Path, env: &KeyEnv) -> Result<KeySecret, String> {
    let p = path.display();
    // O_NONBLOCK: a FIFO in place of the key must not hang the start.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{p}: cannot be read: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{p}: cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{p}: is not a regular file"));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{p}: mode {mode:04o} gives group or others access to a key; run `chmod 600 {p}`"
        ));
    }
    if meta.uid() != 0 && meta.uid() != env.euid {
        return Err(format!(
            "{p}: belongs to uid {}, neither root nor vrrpd's user (uid {}), who could replace the key; `chown` it",
            meta.uid(),
            env.euid
        ));
    }
    let mut content = Zeroizing::new(Vec::new());
    file.take(KEY_FILE_MAX + 1)
        .read_to_end(&mut content)
        .map_err(|e| format!("{p}: cannot be read: {e}"))?;
    if content.len() as u64 > KEY_FILE_MAX {
        return Err(format!(
            "{p}: is too large for a key ({KEY_MIN} to {KEY_MAX} bytes, or hex: and twice as many hex digits)"
        ));
    }
    let mut end = content.len();
    while end > 0 && matches!(content[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let body = &content[..end];
    let bytes = match body.strip_prefix(b"hex:") {
        Some(hex) => {
            let text = std::str::from_utf8(hex)
                .map_err(|_| format!("{p}: hex: is followed by something other than hex digits"))?;
            decode_hex(text).map_err(|e| format!("{p}: {e}"))?
        }
        None => body.to_vec(),
    };
    check_len(&bytes).map_err(|e| format!("{p}: {e}"))?;
    Ok(KeySecret::new(bytes))
}

fn check_len(bytes: &[u8]) -> Result<(), String> {
    if (KEY_MIN..=KEY_MAX).contains(&bytes.len()) {
        Ok(())
    } else {
        Err(format!(
            "the key is {} bytes; it must be {KEY_MIN} to {KEY_MAX} bytes (generate one with `openssl rand -hex 32`)",
            bytes.len()
        ))
    }
}

/// Hex digits (either case) to bytes.
fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err(format!("{} hex digits: an odd number", text.len()));
    }
    text.as_bytes()
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("not a hex digit at position {}", 2 * i + 1))
        })
        .collect()
}

/// The refusal for a configuration file that holds an inline key and whose
/// mode gives group or others access; `None` if it is fine.
pub(super) fn inline_key_exposed(
    instances: &[super::Instance],
    file: &str,
    mode: u32,
) -> Option<super::ConfigIssue> {
    let holders: Vec<String> = instances
        .iter()
        .enumerate()
        .filter(|(_, i)| i.auth_hmac.as_ref().is_some_and(AuthHmac::has_inline_key))
        .map(|(n, i)| format!("instance[{n}] (\"{}\").auth_hmac.keys", i.name))
        .collect();
    if holders.is_empty() || mode & 0o077 == 0 {
        return None;
    }
    Some(super::ConfigIssue {
        path: String::new(),
        section_name: None,
        reason: format!(
            "mode {:04o} gives group or others access to this file, which holds an inline key ({}); run `chmod 600 {file}`, or move the key to a file: or credential:",
            mode & 0o7777,
            holders.join(", ")
        ),
        location: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{load, parse_str_with, Config, ConfigIssue};
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicU32, Ordering};

    const HEX32: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// A fresh private directory for one test.
    fn tmpdir() -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "vrrpd-authcfg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(path: &Path, content: &[u8], mode: u32) -> PathBuf {
        std::fs::write(path, content).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.to_path_buf()
    }

    fn env() -> KeyEnv {
        KeyEnv {
            credentials_dir: None,
            euid: nix::unistd::geteuid().as_raw(),
        }
    }

    /// A valid instance with `auth_hmac` lines (after `[instance.auth_hmac]`) and `extra`
    /// instance keys.
    fn conf(extra: &str, auth: &str) -> String {
        format!(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\n\
             virtual_ips = [\"172.16.1.254/24\"]\n{extra}\n[instance.auth_hmac]\n{auth}\n"
        )
    }

    fn parse(text: &str, env: &KeyEnv) -> Result<Config, Vec<ConfigIssue>> {
        parse_str_with(text, "t.toml", env).map_err(|e| e.errors().to_vec())
    }

    fn one_issue(text: &str, env: &KeyEnv) -> ConfigIssue {
        let issues = parse(text, env).expect_err("refused");
        assert_eq!(issues.len(), 1, "{issues:?}");
        issues[0].clone()
    }

    fn auth(c: &Config) -> &AuthHmac {
        c.instances[0].auth_hmac.as_ref().expect("auth_hmac")
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("00ff1A").unwrap(), vec![0, 0xff, 0x1a]);
        assert!(decode_hex("abc").unwrap_err().contains("odd"));
        assert!(decode_hex("zz").unwrap_err().contains("position 1"));
        assert!(decode_hex("0g").unwrap_err().contains("position 1"));
        assert!(decode_hex("00é0").is_err());
    }

    #[test]
    fn secret_is_not_printed() {
        let s = KeySecret::new(vec![0x41; 32]);
        assert_eq!(format!("{s:?}"), "KeySecret(<32 bytes>)");
    }

    #[test]
    fn inline_key_and_defaults() {
        let c = parse(
            &conf("", &format!("keys = {{ 1 = \"hex:{HEX32}\" }}")),
            &env(),
        )
        .unwrap();
        let a = auth(&c);
        assert_eq!(a.keys.len(), 1);
        assert_eq!(a.keys[0].id, 1);
        assert_eq!(a.keys[0].source, KeySource::Inline);
        assert_eq!(a.keys[0].secret.bytes(), &(0u8..32).collect::<Vec<_>>()[..]);
        assert_eq!(a.active_key, 1);
        assert_eq!(a.mode, Mode::Enforce);
        assert_eq!(a.anti_replay, AntiReplay::Time { window_secs: 5 });
        assert!(a.settings().is_ok());
        // The default window follows the interval: 3 x 10 s.
        let c = parse(
            &conf(
                "advert_interval = \"10s\"",
                &format!("keys = {{ 7 = \"hex:{HEX32}\" }}"),
            ),
            &env(),
        )
        .unwrap();
        assert_eq!(auth(&c).anti_replay, AntiReplay::Time { window_secs: 30 });
        assert_eq!(auth(&c).active_key, 7);
    }

    #[test]
    fn every_setting() {
        let text = conf(
            "version = 2",
            &format!(
                "active_key = 2\nmode = \"receive-only\"\nanti_replay = \"monotonic\"\n\
                 [instance.auth_hmac.keys]\n1 = \"hex:{HEX32}\"\n2 = \"hex:{HEX32}{HEX32}\"\n"
            ),
        );
        let c = parse(&text, &env()).unwrap();
        let a = auth(&c);
        assert_eq!(a.keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.keys[1].secret.bytes().len(), 64);
        assert_eq!((a.active_key, a.mode), (2, Mode::ReceiveOnly));
        assert_eq!(a.anti_replay, AntiReplay::Monotonic);
        let c = parse(
            &conf("", &format!("mode = \"permissive\"\ntime_window = \"120s\"\nkeys = {{ 1 = \"hex:{HEX32}\" }}")),
            &env(),
        )
        .unwrap();
        assert_eq!(auth(&c).mode, Mode::Permissive);
        assert_eq!(auth(&c).anti_replay, AntiReplay::Time { window_secs: 120 });
    }

    #[test]
    fn bad_values_name_the_key() {
        let k = |v: &str| conf("", &format!("keys = {{ 1 = \"{v}\" }}"));
        let keyed = |extra: &str| conf("", &format!("{extra}\nkeys = {{ 1 = \"hex:{HEX32}\" }}"));
        let cases: Vec<(String, &str, &str)> = vec![
            (
                k(&format!("hex:{}", &HEX32[2..])),
                "auth_hmac.keys.1",
                "the key is 31 bytes; it must be 32 to 64 bytes",
            ),
            (
                k(&format!("hex:{HEX32}{HEX32}00")),
                "auth_hmac.keys.1",
                "65 bytes",
            ),
            (k("hex:abc"), "auth_hmac.keys.1", "odd number"),
            (k("hex:zz"), "auth_hmac.keys.1", "not a hex digit"),
            (
                k("correct-horse-battery-staple-vrrp-v2"),
                "auth_hmac.keys.1",
                "must start with \\\"hex:\\\"",
            ),
            (k("file:keys/k1"), "auth_hmac.keys.1", "absolute path"),
            (
                k("file:/nonexistent/vrrpd/key"),
                "auth_hmac.keys.1",
                "/nonexistent/vrrpd/key: cannot be read",
            ),
            (
                k("credential:vrrp51"),
                "auth_hmac.keys.1",
                "$CREDENTIALS_DIRECTORY is not set",
            ),
            (k("credential:../x"), "auth_hmac.keys.1", "no '/'"),
            (
                conf("", &format!("keys = {{ 0 = \"hex:{HEX32}\" }}")),
                "auth_hmac.keys.0",
                "key ids are 1..=255",
            ),
            (
                conf("", &format!("keys = {{ 256 = \"hex:{HEX32}\" }}")),
                "auth_hmac.keys.256",
                "1..=255",
            ),
            (
                conf(
                    "",
                    &format!("keys = {{ 01 = \"hex:{HEX32}\", 1 = \"hex:{HEX32}\" }}"),
                ),
                "auth_hmac.keys.1",
                "given twice",
            ),
            (conf("", "keys = {}"), "auth_hmac.keys", "at least one key"),
            (conf("", "mode = \"enforce\""), "auth_hmac.keys", "required"),
            (
                conf(
                    "",
                    &format!("keys = {{ 1 = \"hex:{HEX32}\", 2 = \"hex:{HEX32}\" }}"),
                ),
                "auth_hmac.active_key",
                "required with more than one key",
            ),
            (
                keyed("active_key = 3"),
                "auth_hmac.active_key",
                "3 is not one of the keys (ids: 1)",
            ),
            (
                keyed("active_key = 0"),
                "auth_hmac.active_key",
                "must be 1..=255, got 0",
            ),
            (
                keyed("mode = \"strict\""),
                "auth_hmac.mode",
                "\\\"receive-only\\\", \\\"permissive\\\" or \\\"enforce\\\"",
            ),
            (
                keyed("anti_replay = \"counter\""),
                "auth_hmac.anti_replay",
                "\\\"time\\\" or \\\"monotonic\\\"",
            ),
            (
                keyed("anti_replay = \"monotonic\"\ntime_window = \"5s\""),
                "auth_hmac.time_window",
                "only applies",
            ),
            (
                keyed("time_window = \"0s\""),
                "auth_hmac.time_window",
                "1s..=300s",
            ),
            (
                keyed("time_window = \"301s\""),
                "auth_hmac.time_window",
                "1s..=300s",
            ),
            (
                keyed("time_window = \"1500ms\""),
                "auth_hmac.time_window",
                "whole seconds",
            ),
            (
                keyed("time_window = \"5\""),
                "auth_hmac.time_window",
                "no unit",
            ),
        ];
        for (text, path, reason) in cases {
            let issue = one_issue(&text, &env());
            assert_eq!(issue.path, format!("instance[0].{path}"), "{text}");
            let want = reason.replace("\\\"", "\"");
            assert!(
                issue.reason.contains(&want),
                "{text}\n  got: {}\n  want: {want}",
                issue.reason
            );
        }
    }

    #[test]
    fn unknown_key_in_the_table_is_refused() {
        let text = conf("", &format!("keys = {{ 1 = \"hex:{HEX32}\" }}\nactive = 1"));
        let issue = one_issue(&text, &env());
        assert!(issue.reason.contains("unknown key `active`"), "{issue:?}");
        assert_eq!(issue.path, "instance[0].auth_hmac.active");
    }

    #[test]
    fn auth_pass_and_auth_hmac_together_are_refused() {
        let text = conf(
            "version = 2\nauth_pass = \"secret\"",
            &format!("keys = {{ 1 = \"hex:{HEX32}\" }}"),
        );
        let issue = one_issue(&text, &env());
        assert_eq!(issue.path, "instance[0].auth_pass");
        assert!(issue.reason.contains("cannot be combined with auth_hmac"));
    }

    #[test]
    fn key_files() {
        let d = tmpdir();
        let hexfile = write(
            &d.join("hex.key"),
            format!("hex:{HEX32}\n").as_bytes(),
            0o600,
        );
        let raw = write(
            &d.join("raw.key"),
            b"correct-horse-battery-staple-vrrp-v2\r\n",
            0o400,
        );
        let text = conf(
            "",
            &format!(
                "active_key = 2\nkeys = {{ 1 = \"file:{}\", 2 = \"file:{}\" }}",
                hexfile.display(),
                raw.display()
            ),
        );
        let c = parse(&text, &env()).unwrap();
        let a = auth(&c);
        assert_eq!(a.keys[0].source, KeySource::File(hexfile.clone()));
        assert_eq!(a.keys[0].secret.bytes(), &(0u8..32).collect::<Vec<_>>()[..]);
        assert_eq!(
            a.keys[1].secret.bytes(),
            b"correct-horse-battery-staple-vrrp-v2"
        );
        assert!(!a.has_inline_key());

        let refused = |path: &Path| {
            one_issue(
                &conf("", &format!("keys = {{ 3 = \"file:{}\" }}", path.display())),
                &env(),
            )
        };
        for mode in [0o640, 0o604, 0o644, 0o660, 0o610] {
            std::fs::set_permissions(&hexfile, std::fs::Permissions::from_mode(mode)).unwrap();
            let issue = refused(&hexfile);
            assert_eq!(issue.path, "instance[0].auth_hmac.keys.3");
            assert!(
                issue.reason.contains(&format!(
                    "{}: mode {mode:04o} gives group or others access",
                    hexfile.display()
                )) && issue.reason.contains("chmod 600"),
                "{issue:?}"
            );
        }
        let short = write(&d.join("short.key"), &[7u8; 31], 0o600);
        assert!(refused(&short)
            .reason
            .contains("short.key: the key is 31 bytes"));
        let long = write(&d.join("long.key"), &[7u8; 400], 0o600);
        assert!(refused(&long).reason.contains("too large"));
        let badhex = write(&d.join("bad.key"), b"hex:0g", 0o600);
        assert!(refused(&badhex).reason.contains("not a hex digit"));
        assert!(refused(&d).reason.contains("is not a regular file"));
        let fifo = d.join("fifo.key");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(refused(&fifo).reason.contains("is not a regular file"));
        // A file somebody else owns: they could swap the key.
        let theirs = write(&d.join("theirs.key"), &[7u8; 32], 0o600);
        let mut env_other = env();
        if env_other.euid == 0 {
            nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        } else {
            env_other.euid += 1;
        }
        let issue = one_issue(
            &conf(
                "",
                &format!("keys = {{ 3 = \"file:{}\" }}", theirs.display()),
            ),
            &env_other,
        );
        assert!(
            issue.reason.contains("neither root nor vrrpd's user"),
            "{issue:?}"
        );
        // Unreadable (not root only: root reads anything).
        if nix::unistd::geteuid().as_raw() != 0 {
            let locked = write(&d.join("locked.key"), &[7u8; 32], 0o000);
            assert!(refused(&locked).reason.contains("cannot be read"));
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn systemd_credentials() {
        let d = tmpdir();
        write(
            &d.join("vrrp51_1"),
            format!("hex:{HEX32}").as_bytes(),
            0o400,
        );
        let env = KeyEnv {
            credentials_dir: Some(d.clone()),
            ..env()
        };
        let c = parse(&conf("", "keys = { 1 = \"credential:vrrp51_1\" }"), &env).unwrap();
        assert_eq!(
            auth(&c).keys[0].source,
            KeySource::Credential {
                name: "vrrp51_1".into(),
                path: d.join("vrrp51_1")
            }
        );
        let issue = one_issue(&conf("", "keys = { 1 = \"credential:vrrp51_2\" }"), &env);
        assert!(
            issue.reason.contains("vrrp51_2: cannot be read"),
            "{issue:?}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn every_problem_at_once() {
        let text = conf(
            "",
            "mode = \"x\"\nanti_replay = \"y\"\nkeys = { 0 = \"hex:00\", 2 = \"hex:00\" }",
        );
        let issues = parse(&text, &env()).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "instance[0].auth_hmac.keys.0",
                "instance[0].auth_hmac.keys.2",
                "instance[0].auth_hmac.mode",
                "instance[0].auth_hmac.anti_replay"
            ]
        );
    }

    #[test]
    fn load_refuses_an_inline_key_in_a_shared_file() {
        let d = tmpdir();
        let text = conf("", &format!("keys = {{ 1 = \"hex:{HEX32}\" }}"));
        let file = write(&d.join("vrrp.toml"), text.as_bytes(), 0o644);
        let err = load(&file).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains(
                "mode 0644 gives group or others access to this file, which holds an inline key"
            ) && msg.contains("instance[0] (\"VI_1\").auth_hmac.keys")
                && msg.contains(&format!("chmod 600 {}", file.display())),
            "{msg}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&file).is_ok());
        // A key in its own file: the configuration may stay world-readable.
        let key = write(&d.join("k"), format!("hex:{HEX32}").as_bytes(), 0o600);
        let text = conf("", &format!("keys = {{ 1 = \"file:{}\" }}", key.display()));
        let file = write(&d.join("vrrp2.toml"), text.as_bytes(), 0o644);
        assert!(load(&file).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
