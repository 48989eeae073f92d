//! Interop on the wire with a real keepalived 2.2: vrrpd on `bal1` and keepalived on `bal2`,
//! each in its own network namespace on one lab bridge. Covers VRRPv2 with `auth_type PASS`,
//! VRRPv3 at 1 s and 10 ms, both checksum forms, and mismatched configurations. Each result is
//! also written down in docs/INTEROP.md.

mod common;
mod interop_common;

use std::time::{Duration, Instant};

use common::*;
use interop_common::*;
use nix::sys::signal::Signal;

/// Which side to stop once the election has settled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stop {
    /// SIGKILL the master (a crash: no priority-0 advert).
    Kill,
    /// SIGTERM the master (priority-0 advert, then exit).
    Term,
}

fn ctx(v: &Vrrpd, k: &Keepalived) -> String {
    format!(
        "--- vrrpd ({})\n{}\n--- keepalived ({})\n{}",
        v.log.display(),
        tail(&v.log_text(), 40),
        k.log.display(),
        tail(&k.log_text(), 40)
    )
}

/// A pair with vrrpd (config `vtoml`) on bal1 and keepalived (`ka`) on bal2, both started.
fn setup(tag: &str, vtoml: &str, ka: &KaInstance) -> (Lab, Vrrpd, Keepalived) {
    let (lab, a, b) = pair(tag);
    let mut v = Vrrpd::new(a, vtoml);
    let mut k = Keepalived::new(b, ka);
    v.start();
    k.start();
    (lab, v, k)
}

fn vrrpd_is_sole_master(v: &Vrrpd, k: &Keepalived) -> bool {
    v.state() == "MASTER" && v.holds_vip() && k.is_backup() && !k.holds_vip()
}

fn keepalived_is_sole_master(v: &Vrrpd, k: &Keepalived) -> bool {
    k.is_master() && k.holds_vip() && v.state() == "BACKUP" && !v.holds_vip()
}

/// Waits until both agree that vrrpd is master, then checks it stays so for `steady`.
fn agree_vrrpd_master(v: &Vrrpd, k: &Keepalived, steady: Duration) {
    expect_within(
        Duration::from_secs(12),
        "vrrpd MASTER with the VIP, keepalived BACKUP without it",
        || vrrpd_is_sole_master(v, k),
        || ctx(v, k),
    );
    expect_steady(
        steady,
        "vrrpd sole master",
        || vrrpd_is_sole_master(v, k),
        || ctx(v, k),
    );
    assert_eq!(v.vi1()["master"], VRRPD_ADDR);
}

/// Waits until both agree that keepalived is master, then checks it stays so for `steady`.
fn agree_keepalived_master(v: &Vrrpd, k: &Keepalived, steady: Duration) {
    expect_within(
        Duration::from_secs(12),
        "keepalived MASTER with the VIP, vrrpd BACKUP without it",
        || keepalived_is_sole_master(v, k),
        || ctx(v, k),
    );
    expect_steady(
        steady,
        "keepalived sole master",
        || keepalived_is_sole_master(v, k),
        || ctx(v, k),
    );
    // vrrpd follows keepalived's address.
    assert_eq!(v.vi1()["master"], PEER_ADDR, "{}", ctx(v, k));
}

/// Skew_Time of a backup of priority `prio` at advert interval `adv` (RFC 5798 Section 6.1).
fn skew(prio: u8, adv: Duration) -> Duration {
    adv * (256 - u32::from(prio)) / 256
}

/// Election with vrrpd at `vprio` and keepalived as `ka`; then, per `stop`, the master is
/// killed or stopped and the other side must take over within a generous bound.
fn scenario(tag: &str, vprio: u8, vextra: &str, ka: KaInstance, adv: Duration, stop: Stop) {
    let vtoml = vrrpd_toml(ka.vrid, vprio, vextra);
    let (_lab, mut v, mut k) = setup(tag, &vtoml, &ka);
    let vrrpd_master = vprio > ka.priority;
    let steady = Duration::from_millis(1500);
    if vrrpd_master {
        agree_vrrpd_master(&v, &k, steady);
    } else {
        agree_keepalived_master(&v, &k, steady);
    }
    let backup_prio = if vrrpd_master { ka.priority } else { vprio };
    let t0 = Instant::now();
    let bound = match stop {
        // Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
        Stop::Kill => adv * 3 + skew(backup_prio, adv) + Duration::from_secs(2),
        Stop::Term => skew(backup_prio, adv) + Duration::from_millis(1500),
    };
    let took = if vrrpd_master {
        match stop {
            Stop::Kill => v.proc().signal(Signal::SIGKILL),
            _ => {
                let st = v.proc().stop(Signal::SIGTERM, Duration::from_secs(5));
                assert!(st.is_some_and(|s| s.success()), "vrrpd exit: {st:?}");
                assert!(!v.holds_vip(), "vrrpd kept the VIP after SIGTERM");
            }
        }
        let waited = t0.elapsed();
        let took = measure_until(Duration::from_secs(10), || k.is_master() && k.holds_vip());
        waited + took.unwrap_or_else(|| panic!("keepalived did not take over\n{}", ctx(&v, &k)))
    } else {
        match stop {
            Stop::Kill => k.kill9(),
            _ => k.term(),
        }
        let waited = t0.elapsed();
        let took = measure_until(Duration::from_secs(10), || {
            v.state() == "MASTER" && v.holds_vip()
        });
        let took =
            waited + took.unwrap_or_else(|| panic!("vrrpd did not take over\n{}", ctx(&v, &k)));
        if stop == Stop::Term {
            assert!(!k.holds_vip(), "keepalived kept the VIP after SIGTERM");
            assert!(
                k.log_text().contains("(VI_1) sent 0 priority"),
                "{}",
                ctx(&v, &k)
            );
            assert!(
                v.counter("priority_zero_received") >= 1,
                "vrrpd did not count keepalived's priority 0\n{}",
                ctx(&v, &k)
            );
        }
        took
    };
    assert!(
        took < bound,
        "takeover after {stop:?} took {took:?}, bound {bound:?}\n{}",
        ctx(&v, &k)
    );
}

/// vrrpd's extra config and keepalived's instance for VRRPv2 with password `secret`.
fn v2(kprio: u8) -> (String, KaInstance) {
    (
        "version = 2\nauth_pass = \"secret\"".to_owned(),
        KaInstance::v2_pass(12, kprio, "secret"),
    )
}

const ONE_S: Duration = Duration::from_secs(1);

// ---- VRRPv2 with auth_type PASS -------------------------------------------------------------

#[test]
fn v2_pass_vrrpd_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (vx, ka) = v2(100);
    scenario("kav2vm", 150, &vx, ka, ONE_S, Stop::Kill);
}

#[test]
fn v2_pass_keepalived_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (vx, ka) = v2(150);
    scenario("kav2km", 100, &vx, ka, ONE_S, Stop::Kill);
}

#[test]
fn v2_pass_vrrpd_sigterm_hands_over_after_skew() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (vx, ka) = v2(100);
    scenario("kav2vt", 150, &vx, ka, ONE_S, Stop::Term);
}

#[test]
fn v2_pass_keepalived_sigterm_hands_over_after_skew() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (vx, ka) = v2(150);
    scenario("kav2kt", 100, &vx, ka, ONE_S, Stop::Term);
}

// ---- VRRPv3 at 1 s and 10 ms ---------------------------------------------------------------

#[test]
fn v3_1s_vrrpd_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    scenario(
        "kav3vm",
        150,
        "",
        KaInstance::v3(12, 100),
        ONE_S,
        Stop::Kill,
    );
}

#[test]
fn v3_1s_keepalived_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    scenario(
        "kav3km",
        100,
        "",
        KaInstance::v3(12, 150),
        ONE_S,
        Stop::Kill,
    );
}

fn ka_10ms(prio: u8) -> KaInstance {
    KaInstance {
        advert_int: "0.01",
        ..KaInstance::v3(12, prio)
    }
}

#[test]
fn v3_10ms_vrrpd_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    scenario(
        "kafastvm",
        150,
        "advert_interval = \"10ms\"",
        ka_10ms(100),
        Duration::from_millis(10),
        Stop::Kill,
    );
}

#[test]
fn v3_10ms_keepalived_master_sigkill_hands_over() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    scenario(
        "kafastkm",
        100,
        "advert_interval = \"10ms\"",
        ka_10ms(150),
        Duration::from_millis(10),
        Stop::Kill,
    );
}
