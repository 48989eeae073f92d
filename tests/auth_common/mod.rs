//! Helpers for the `auth_hmac` tests: test keys written as files with mode 0600 (git keeps no
//! file modes, and vrrpd and keepalived refuse a key others can read), and adverts built and
//! signed the way a key holder (or a forger) would.
//!
//! Use from an integration test with `mod auth_common;` (after `mod common;`).

#![allow(dead_code)]

use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vrrpd::core::auth::WallTime;
use vrrpd::core::types::{Centisecs, Priority, Version};
use vrrpd::core::wire::auth::{append_trailer, sign, HmacKey, Seq, Trailer};
use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

/// Test key 1: 32 bytes 00 01 .. 1f (published, as in tests/data/captures).
pub const KEY1_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Test key 2: 48 bytes 20 21 .. 4f.
pub const KEY2_HEX: &str =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f";
/// Another key under id 1: what a stranger or a misconfigured peer would hold.
pub const WRONG_HEX: &str = "5555555555555555555555555555555555555555555555555555555555555555";

/// The bytes of a hex key.
pub fn key_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The key `hex` under id `id`.
pub fn key(id: u8, hex: &str) -> HmacKey {
    HmacKey::new(id, &key_bytes(hex)).expect("a valid test key")
}

/// Writes `text` to `dir/name` with mode 0600 (what a key file must have).
pub fn write_secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    std::io::Write::write_all(&mut f, text.as_bytes()).expect("write key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// Writes key `hex` as `dir/name` (`hex:...`, mode 0600); the path.
pub fn key_file(dir: &Path, name: &str, hex: &str) -> PathBuf {
    write_secret(dir, name, &format!("hex:{hex}\n"))
}

/// The wall clock now.
pub fn wall_now() -> WallTime {
    WallTime::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

/// A sequence taken from the wall clock `offset_secs` from now (negative: in the past).
pub fn seq_at(offset_secs: i64) -> Seq {
    let now = wall_now();
    WallTime {
        secs: now.secs.saturating_add_signed(offset_secs),
        nanos: now.nanos,
    }
    .seq()
}

/// A VRRPv3 advert.
pub fn v3(vrid: u8, prio: u8, interval_cs: u16, addrs: &[&str]) -> Advertisement {
    Advertisement {
        version: Version::V3,
        vrid,
        priority: Priority(prio),
        max_adver_int: Centisecs(interval_cs),
        addrs: addrs.iter().map(|a| a.parse().expect("address")).collect(),
        auth: Auth::None,
    }
}

/// A VRRPv2 advert (auth type 0).
pub fn v2(vrid: u8, prio: u8, interval_cs: u16, addrs: &[&str]) -> Advertisement {
    Advertisement {
        version: Version::V2,
        ..v3(vrid, prio, interval_cs, addrs)
    }
}

/// The VRRP payload of `adv` from `src` to `dst`, unsigned.
pub fn plain(adv: &Advertisement, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mode = match adv.version {
        Version::V2 => ChecksumMode::MessageOnly,
        Version::V3 => ChecksumMode::PseudoHeader,
    };
    adv.to_bytes(src, dst, mode).expect("advert encodes")
}

/// The payload of `adv` from `src` to `dst`, signed with `key` at `seq`.
pub fn signed(adv: &Advertisement, src: IpAddr, dst: IpAddr, key: &HmacKey, seq: Seq) -> Vec<u8> {
    let mut p = plain(adv, src, dst);
    let t = sign(key, &src, &p, seq);
    append_trailer(&mut p, src, dst, &t).expect("trailer appends");
    p
}

/// The payload of `adv` with `trailer` appended as it is (a forged or malformed one).
pub fn with_trailer(adv: &Advertisement, src: IpAddr, dst: IpAddr, trailer: &Trailer) -> Vec<u8> {
    let mut p = plain(adv, src, dst);
    append_trailer(&mut p, src, dst, trailer).expect("trailer appends");
    p
}

/// The key id of the trailer at the end of a signed VRRP payload.
pub fn trailer_key_id(payload: &[u8]) -> Option<u8> {
    let at = payload.len().checked_sub(28)?;
    Some(payload[at + 1])
}
