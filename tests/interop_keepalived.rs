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
        k.files.log.display(),
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

// ---- checksum ------------------------------------------------------------------------------

/// 100 ms adverts keep the checksum and mismatch tests short.
fn ka_100ms(prio: u8) -> KaInstance {
    KaInstance {
        advert_int: "0.1",
        ..KaInstance::v3(12, prio)
    }
}

const V_100MS: &str = "advert_interval = \"100ms\"";

/// Lines of keepalived's log that mention a checksum.
fn ka_checksum_lines(k: &Keepalived) -> usize {
    count_lines(&k.log_text().to_lowercase(), "checksum")
}

#[test]
fn v3_pseudo_header_checksum_is_accepted_by_keepalived() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (_lab, v, k) = setup("kacsum1", &vrrpd_toml(12, 150, V_100MS), &ka_100ms(100));
    // Over 3 s keepalived receives ~30 of vrrpd's adverts; had it refused one checksum, it
    // would have become master after 0.3 s.
    agree_vrrpd_master(&v, &k, Duration::from_secs(3));
    assert_eq!(ka_checksum_lines(&k), 0, "{}", ctx(&v, &k));
    assert!(v.counter("adverts_sent") >= 20);
}

#[test]
fn v3_keepalived_checksum_is_counted_as_pseudo_header() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (_lab, v, k) = setup("kacsum2", &vrrpd_toml(12, 100, V_100MS), &ka_100ms(150));
    agree_keepalived_master(&v, &k, Duration::from_secs(2));
    let pseudo = v.counter("checksum_pseudo_header");
    assert!(
        pseudo >= 10,
        "pseudo-header count {pseudo}\n{}",
        ctx(&v, &k)
    );
    assert_eq!(v.counter("checksum_message_only"), 0);
    assert_eq!(v.global_drop("checksum"), 0);
}

#[test]
fn v3_message_only_checksum_is_refused_by_keepalived_two_masters() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let vx = format!("{V_100MS}\nchecksum = \"message-only\"");
    let (_lab, v, k) = setup("kacsum3", &vrrpd_toml(12, 150, &vx), &ka_100ms(100));
    // keepalived drops every advert of vrrpd as a bad checksum, so it never hears a master
    // and takes over too: two masters, both holding the VIP.
    expect_within(
        Duration::from_secs(12),
        "both MASTER",
        || v.state() == "MASTER" && k.is_master() && v.holds_vip() && k.holds_vip(),
        || ctx(&v, &k),
    );
    expect_within(
        Duration::from_secs(10),
        "keepalived logs the bad checksum",
        || k.log_text().contains("(VI_1) Invalid VRRPv3 checksum"),
        || ctx(&v, &k),
    );
    // vrrpd itself still accepts keepalived's pseudo-header adverts (lower priority: ignored
    // for the election) and counts them by form.
    assert!(v.counter("checksum_pseudo_header") >= 1, "{}", ctx(&v, &k));
}

// ---- mismatches ----------------------------------------------------------------------------

#[test]
fn v2_wrong_password_both_drop_two_masters() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let vx = "version = 2\nauth_pass = \"secret\"";
    let ka = KaInstance::v2_pass(12, 100, "other");
    let (_lab, v, k) = setup("kapass", &vrrpd_toml(12, 150, vx), &ka);
    expect_within(
        Duration::from_secs(12),
        "both MASTER",
        || v.state() == "MASTER" && k.is_master() && v.holds_vip() && k.holds_vip(),
        || ctx(&v, &k),
    );
    expect_within(
        Duration::from_secs(5),
        "vrrpd counts auth drops",
        || v.drop_count("auth") >= 1,
        || format!("{}\n{}", v.status(), ctx(&v, &k)),
    );
    assert!(
        k.log_text().contains("(VI_1) received an invalid passwd!"),
        "{}",
        ctx(&v, &k)
    );
}

#[test]
fn version_2_against_3_both_drop_two_masters() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let ka = KaInstance {
        version: 2,
        ..KaInstance::v3(12, 100)
    };
    let (_lab, v, k) = setup("kaver", &vrrpd_toml(12, 150, ""), &ka);
    expect_within(
        Duration::from_secs(12),
        "both MASTER",
        || v.state() == "MASTER" && k.is_master() && v.holds_vip() && k.holds_vip(),
        || ctx(&v, &k),
    );
    expect_within(
        Duration::from_secs(5),
        "vrrpd counts version drops",
        || v.drop_count("version") + v.global_drop("version") >= 1,
        || format!("{}\n{}", v.status(), ctx(&v, &k)),
    );
    assert!(
        k.log_text()
            .contains("(VI_1) wrong version. Received 3 and expect 2"),
        "{}",
        ctx(&v, &k)
    );
}

#[test]
fn v2_interval_mismatch_both_drop_two_masters() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let vx = "version = 2\nauth_pass = \"secret\"";
    let ka = KaInstance {
        advert_int: "2",
        ..KaInstance::v2_pass(12, 100, "secret")
    };
    let (_lab, v, k) = setup("kav2int", &vrrpd_toml(12, 150, vx), &ka);
    expect_within(
        Duration::from_secs(15),
        "both MASTER",
        || v.state() == "MASTER" && k.is_master() && v.holds_vip() && k.holds_vip(),
        || ctx(&v, &k),
    );
    expect_within(
        Duration::from_secs(6),
        "vrrpd counts interval_mismatch drops",
        || v.drop_count("interval_mismatch") >= 1,
        || format!("{}\n{}", v.status(), ctx(&v, &k)),
    );
    assert!(
        k.log_text()
            .contains("(VI_1) advertisement interval mismatch mine=2 sec rcv'd=1 sec"),
        "{}",
        ctx(&v, &k)
    );
}

#[test]
fn v3_interval_mismatch_vrrpd_adopts_the_masters_interval() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let ka = KaInstance {
        advert_int: "0.5",
        ..KaInstance::v3(12, 150)
    };
    let (_lab, v, k) = setup("kav3int", &vrrpd_toml(12, 100, ""), &ka);
    agree_keepalived_master(&v, &k, Duration::from_secs(2));
    let vi = v.vi1();
    assert_eq!(vi["advert_interval_ms"], 1000, "{vi}");
    assert_eq!(vi["master_adver_interval_ms"], 500, "{vi}");
    assert_eq!(v.drop_count("interval_mismatch"), 0, "{vi}");
}

#[test]
fn v3_interval_mismatch_keepalived_backup_follows_vrrpd() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let ka = KaInstance {
        advert_int: "0.5",
        ..KaInstance::v3(12, 100)
    };
    let (_lab, v, k) = setup("kav3int2", &vrrpd_toml(12, 150, ""), &ka);
    // keepalived (0.5 s) hears vrrpd at 1 s: one master if it adopts the longer interval.
    agree_vrrpd_master(&v, &k, Duration::from_secs(4));
    assert!(
        k.log_text()
            .contains("(VI_1) advertisement interval updated from 500ms to 1000ms by master"),
        "{}",
        ctx(&v, &k)
    );
}

/// keepalived protects another address (172.16.1.253) on the same VRID.
fn ka_other_vip(prio: u8) -> KaInstance {
    KaInstance {
        vips: vec!["172.16.1.253/24".to_owned()],
        ..ka_100ms(prio)
    }
}

#[test]
fn vip_mismatch_vrrpd_backup_accepts_and_counts() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (_lab, v, k) = setup("kavipb", &vrrpd_toml(12, 100, V_100MS), &ka_other_vip(150));
    let ok = || {
        k.is_master() && k.host.has_addr("172.16.1.253") && v.state() == "BACKUP" && !v.holds_vip()
    };
    expect_within(
        Duration::from_secs(12),
        "keepalived sole master",
        ok,
        || ctx(&v, &k),
    );
    expect_steady(Duration::from_secs(2), "keepalived sole master", ok, || {
        ctx(&v, &k)
    });
    assert!(v.counter("vip_mismatch") >= 10, "{}", v.vi1());
    assert!(v.counter("adverts_received") >= 10, "{}", v.vi1());
}

#[test]
fn vip_mismatch_keepalived_drops_vrrpd_two_masters() {
    if !require_tools(&["keepalived"]) {
        return;
    }
    let (_lab, v, k) = setup("kavipm", &vrrpd_toml(12, 150, V_100MS), &ka_other_vip(100));
    // keepalived 2.2 discards an advert whose address list differs from its own, so it
    // never hears vrrpd and becomes master as well; vrrpd accepts keepalived's lower-priority
    // adverts (counted as vip_mismatch) and stays master: two masters.
    let both = || {
        v.state() == "MASTER" && v.holds_vip() && k.is_master() && k.host.has_addr("172.16.1.253")
    };
    expect_within(Duration::from_secs(12), "both MASTER", both, || ctx(&v, &k));
    expect_steady(Duration::from_secs(2), "both MASTER", both, || ctx(&v, &k));
    assert!(
        k.log_text()
            .contains("ip address associated with VRID 12 not present in MASTER advert"),
        "{}",
        ctx(&v, &k)
    );
    // At least one: a keepalived master postpones its own next advert
    // whenever it receives a packet for the VRID, even one it rejects (it
    // re-arms its timer after every read). vrrpd, on SCHED_RR, advertises on
    // an exact 1 s beat, so keepalived can fall silent while both are
    // master (docs/INTEROP.md); the count then stays at what was heard
    // before that.
    assert!(v.counter("vip_mismatch") >= 1, "{}", v.vi1());
}
