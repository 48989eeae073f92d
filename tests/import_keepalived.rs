//! keepalived.conf import: the field configurations in tests/data/keepalived
//! and hand-written files covering every converted keyword, each converted,
//! validated by vrrpd's own config reader, and checked value by value.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use vrrpd::config::{self, ChecksumForm, Config, TrackKind};
use vrrpd::core::types::Version;
use vrrpd::import::{convert_keepalived, ImportError, ImportOutput};

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keepalived")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Convert and validate; the TOML must pass `vrrpd check`.
fn convert(text: &str) -> (ImportOutput, Config) {
    let out = convert_keepalived(text, "keepalived.conf").expect("converts");
    let cfg = config::parse_str(&out.toml, "converted.toml")
        .unwrap_or_else(|e| panic!("converted TOML is invalid:\n{e}\n---\n{}", out.toml));
    assert!(
        !out.warnings
            .iter()
            .any(|w| w.reason.contains("does not pass `vrrpd check`")),
        "{:#?}",
        out.warnings
    );
    (out, cfg)
}

/// The warning for a line, if any.
fn warning_at(out: &ImportOutput, line: usize) -> Option<&str> {
    out.warnings
        .iter()
        .find(|w| w.line == line)
        .map(|w| w.reason.as_str())
}

fn has_warning(out: &ImportOutput, line: usize, needle: &str) -> bool {
    out.warnings
        .iter()
        .any(|w| w.line == line && w.reason.contains(needle))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- field configurations

#[test]
fn practica6_bal1() {
    let (out, cfg) = convert(&data("practica6-bal1.conf"));
    assert_eq!(cfg.instances.len(), 1);
    let i = &cfg.instances[0];
    assert_eq!(i.name, "vrrpext");
    assert_eq!(i.interface, "vballout_b");
    assert_eq!(i.vrid.get(), 12);
    assert_eq!(i.priority.0, 150);
    // keepalived's default version is 2, vrrpd's is 3: it must be written.
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.advert_interval, secs(1));
    assert_eq!(i.virtual_ips.len(), 1);
    assert_eq!(i.virtual_ips[0].to_string(), "172.16.1.254/32");
    assert_eq!(i.auth_pass, None);
    assert!(i.preempt);
    // `state BACKUP` is reported and kept as a comment.
    assert!(has_warning(&out, 2, "no initial state"));
    assert!(out.toml.contains("# keepalived: state BACKUP"));
    assert_eq!(out.warnings.len(), 1, "{:#?}", out.warnings);
}

/// The three directors: VI_1 and VI_2 with VIPs in a sync group, VI_3 with none.
fn check_tfm(file: &str, priority: u8, has_group: bool) {
    let (out, cfg) = convert(&data(file));
    let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"], "VI_3 has no VIP and is skipped");
    for (inst, (ifname, vrid, vip)) in cfg.instances.iter().zip([
        ("enp0s3", 51, "192.168.1.200/32"),
        ("enp0s8", 52, "10.0.100.200/32"),
    ]) {
        assert_eq!(inst.interface, ifname);
        assert_eq!(inst.vrid.get(), vrid);
        assert_eq!(inst.priority.0, priority);
        assert_eq!(inst.version, Version::V2);
        assert_eq!(
            inst.virtual_ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [vip]
        );
        // "clustercac" is 10 characters; keepalived sends the first 8.
        assert_eq!(inst.auth_pass.as_deref(), Some("clusterc"));
    }
    assert!(cfg.instance("VI_3").is_none());
    let vi3_line = data(file)
        .lines()
        .position(|l| l.contains("vrrp_instance VI_3"))
        .unwrap()
        + 1;
    let reason = warning_at(&out, vi3_line).expect("VI_3 reported");
    assert!(reason.contains("no virtual_ipaddress"), "{reason}");
    assert!(out.toml.contains("NOT CONVERTED: vrrp_instance VI_3"));
    // The truncated password is reported on its own line.
    let pass_line = data(file)
        .lines()
        .position(|l| l.contains("auth_pass"))
        .unwrap()
        + 1;
    assert!(has_warning(&out, pass_line, "first 8 characters"));
    if has_group {
        assert_eq!(cfg.sync_groups.len(), 1);
        assert_eq!(cfg.sync_groups[0].name, "VG1");
        assert_eq!(cfg.sync_groups[0].instances, ["VI_1", "VI_2"]);
    } else {
        assert!(cfg.sync_groups.is_empty());
    }
}

#[test]
fn tfm_cluster1() {
    check_tfm("tfm-cluster1.conf", 150, true);
}

#[test]
fn tfm_standby1() {
    check_tfm("tfm-standby1.conf", 100, false);
}

#[test]
fn tfm_standby2() {
    check_tfm("tfm-standby2.conf", 90, false);
}

#[test]
fn tfm_cluster1_warning_lines() {
    let (out, _) = convert(&data("tfm-cluster1.conf"));
    let lines: Vec<usize> = out.warnings.iter().map(|w| w.line).collect();
    // state (9, 23, 38), auth_pass truncated (15, 29), VI_3 skipped as a
    // whole (37): its later lines are covered by that one warning.
    assert_eq!(lines, [9, 15, 23, 29, 37, 38], "{:#?}", out.warnings);
    for w in &out.warnings {
        let src = data("tfm-cluster1.conf");
        assert_eq!(w.text, src.lines().nth(w.line - 1).unwrap().trim());
    }
}

// ---------------------------------------------------------------- every keyword

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the file"))
        + 1
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn all_keywords_instance_values() {
    let text = data("all-keywords.conf");
    let (_, cfg) = convert(&text);
    let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_3"]);

    let i = cfg.instance("VI_1").unwrap();
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vrid.get(), 51);
    assert_eq!(i.priority.0, 200);
    assert_eq!(i.version, Version::V2); // global vrrp_version 2
    assert_eq!(i.advert_interval, secs(3));
    assert!(!i.preempt); // nopreempt
    assert_eq!(i.auth_pass.as_deref(), Some("secret"));
    let vips: Vec<String> = i.virtual_ips.iter().map(ToString::to_string).collect();
    assert_eq!(vips, ["192.0.2.10/24", "192.0.2.11/32", "192.0.2.12/24"]);
    assert_eq!(i.source_ip, Some(ip("192.0.2.2"))); // unicast_src_ip
    assert_eq!(i.unicast_peers, [ip("192.0.2.3"), ip("192.0.2.4")]);
    assert_eq!(
        i.track,
        strings(&[
            "if_eth1",
            "if_eth2_weight-10",
            "chk_web",
            "chk_db",
            "chk_haproxy",
            "haproxy_proc",
            "maint_weight-2"
        ])
    );
    // Instance garp keys override global_defs.
    assert_eq!(i.garp_repeat, 7);
    assert_eq!(i.garp_master_delay, secs(2));
    // Global vrrp_garp_master_refresh applies where the instance sets none.
    assert_eq!(i.garp_refresh, Some(secs(60)));
    assert!(i.use_vmac);
    assert_eq!(
        i.notify_master,
        Some(strings(&["/usr/local/bin/notify", "master", "VI 1"]))
    );
    assert_eq!(
        i.notify_backup,
        Some(strings(&["/usr/local/bin/notify-backup"]))
    );
    assert_eq!(
        i.notify_fault,
        Some(strings(&["/usr/local/bin/notify", "fault"]))
    );
    assert_eq!(i.notify_stop, None); // needs a shell: reported
    assert_eq!(i.checksum, ChecksumForm::PseudoHeader);

    let i = cfg.instance("VI_2").unwrap();
    assert_eq!(i.version, Version::V3); // per-instance `version 3`
    assert_eq!(i.advert_interval, Duration::from_millis(100)); // advert_int 0.1
    assert_eq!(i.preempt_delay, Duration::from_millis(2500));
    assert!(i.preempt);
    assert_eq!(i.priority.0, 90);
    assert_eq!(i.virtual_ips[0].to_string(), "2001:db8::10/64");
    assert_eq!(i.garp_refresh, None); // garp_master_refresh 0 = off, overrides global 60
    assert_eq!(i.garp_repeat, 3); // global vrrp_garp_master_repeat
    assert_eq!(i.garp_master_delay, secs(10)); // global vrrp_garp_master_delay
    assert_eq!(i.track, strings(&["chk_web_weight-50"]));

    let i = cfg.instance("VI_3").unwrap();
    assert_eq!(i.version, Version::V3); // per-instance `vrrp_version 3`
    assert_eq!(i.priority.0, 100); // keepalived's default
    assert_eq!(i.advert_interval, Duration::from_millis(130)); // 0.125 rounded to 10 ms
    assert_eq!(i.checksum, ChecksumForm::MessageOnly); // v3_checksum_as_v2
    assert_eq!(i.auth_pass, None); // no authentication in v3
    assert_eq!(i.source_ip, Some(ip("203.0.113.2"))); // mcast_src_ip
    assert_eq!(i.virtual_ips[0].to_string(), "203.0.113.1/32");
    assert_eq!(i.notify_master, None); // relative path: reported

    assert_eq!(cfg.sync_groups.len(), 1);
    assert_eq!(cfg.sync_groups[0].name, "G1");
    assert_eq!(cfg.sync_groups[0].instances, ["VI_1", "VI_2"]);
}

#[test]
fn all_keywords_tracks() {
    let text = data("all-keywords.conf");
    let (_, cfg) = convert(&text);
    let t = cfg.track("chk_web").unwrap();
    assert_eq!(t.weight, -20);
    assert_eq!(
        t.kind,
        TrackKind::Script {
            argv: strings(&["/usr/local/bin/check-web", "--port", "80"]),
            interval: secs(2),
            timeout: secs(1),
            rise: 2,
            fall: 3,
            user: Some("nobody".into()),
        }
    );
    // The per-instance weight override makes a second tracker with that weight.
    let t = cfg.track("chk_web_weight-50").unwrap();
    assert_eq!(t.weight, -50);
    assert!(
        matches!(&t.kind, TrackKind::Script { argv, .. } if argv[0] == "/usr/local/bin/check-web")
    );
    // keepalived defaults: weight 0 (fault), interval 1 s, timeout = interval.
    let t = cfg.track("chk_db").unwrap();
    assert_eq!(t.weight, 0);
    assert!(
        matches!(&t.kind, TrackKind::Script { interval, timeout, rise: 1, fall: 1, user: None, .. }
        if *interval == secs(1) && *timeout == secs(1))
    );
    // `killall -0 haproxy` becomes a process tracker; the positive weight stays positive.
    let t = cfg.track("chk_haproxy").unwrap();
    assert_eq!(t.weight, 10);
    assert!(
        matches!(&t.kind, TrackKind::Process { process: Some(p), cmdline_contains: None, .. } if p == "haproxy")
    );
    // vrrp_track_process with parameters: name + command-line text.
    let t = cfg.track("haproxy_proc").unwrap();
    assert_eq!(t.weight, -30);
    assert!(
        matches!(&t.kind, TrackKind::Process { process: Some(p), cmdline_contains: Some(c), .. }
        if p == "haproxy" && c == "-f /etc/haproxy/haproxy.cfg")
    );
    // track_file, weight overridden in the instance.
    let t = cfg.track("maint_weight-2").unwrap();
    assert_eq!(t.weight, -2);
    assert_eq!(
        t.kind,
        TrackKind::File {
            path: "/run/keepalived/maint".into()
        }
    );
    // track_interface: no weight = fault (0), weight kept with its sign.
    assert_eq!(cfg.track("if_eth1").unwrap().weight, 0);
    assert_eq!(
        cfg.track("if_eth1").unwrap().kind,
        TrackKind::Interface {
            interface: "eth1".into()
        }
    );
    assert_eq!(cfg.track("if_eth2_weight-10").unwrap().weight, -10);
    // Unused or unconvertible definitions are not written.
    assert!(cfg.track("chk_pipe").is_none());
    assert_eq!(cfg.tracks.len(), 8);
}

#[test]
fn all_keywords_reports_with_lines() {
    let text = data("all-keywords.conf");
    let (out, _) = convert(&text);
    let expect = [
        ("router_id LB1", "no vrrpd equivalent"),
        ("notification_email {", "no e-mail"),
        ("include /etc/keepalived/other.conf", "not followed"),
        ("script \"killall -0 haproxy\"", "process tracker"),
        ("script \"/bin/ps ax", "needs a shell"),
        ("state MASTER", "no initial state"),
        (
            "192.0.2.11 dev eth1 label eth1:1",
            "\"dev eth1 label eth1:1\"",
        ),
        ("198.51.100.1/24", "no excluded addresses"),
        ("192.0.2.4 min_ttl 250", "min_ttl 250"),
        ("        chk_pipe", "could not be converted"),
        ("chk_missing", "no vrrp_script is named"),
        ("notify_fault \"/usr", "user/group \"root\""),
        ("notify_stop", "needs a shell"),
        ("notify /usr/local/bin/notify-any", "no generic `notify`"),
        ("smtp_alert", "no e-mail"),
        ("advert_int 0.125", "becomes 130ms"),
        ("auth_pass abc", "VRRPv3 has no authentication"),
        ("notify_master \"notify.sh master\"", "absolute path"),
        (
            "notify_master /usr/local/bin/group-master",
            "sync-group notify",
        ),
        (
            "virtual_server 192.0.2.10 80 {",
            "LVS is not part of vrrpd; HAProxy does that",
        ),
    ];
    for (needle, reason) in expect {
        let line = line_of(&text, needle);
        assert!(
            has_warning(&out, line, reason),
            "line {line} ({needle}): want {reason:?}, got {:?}",
            warning_at(&out, line)
        );
    }
    // The LVS block is one warning, not one per line inside it.
    let lvs = line_of(&text, "virtual_server");
    assert!(out.warnings.iter().all(|w| w.line <= lvs));
    // Every warning quotes its own keepalived line.
    for w in &out.warnings {
        if w.line > 0 {
            assert_eq!(w.text, text.lines().nth(w.line - 1).unwrap().trim());
        }
    }
    // Lines that converted cleanly are not reported.
    for clean in [
        "interface eth0",
        "virtual_router_id 51",
        "auth_pass secret",
        "use_vmac",
        "weight -20",
    ] {
        let line = line_of(&text, clean);
        assert_eq!(warning_at(&out, line), None, "{clean}");
    }
}

// ---------------------------------------------------------------- keepalived semantics

/// A minimal instance with extra lines inside it.
fn instance_with(extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 7\n    virtual_ipaddress {{\n        192.0.2.1/24\n    }}\n{extra}}}\n"
    )
}

#[test]
fn keepalived_defaults_are_written_out() {
    let (out, cfg) = convert(&instance_with(""));
    let i = &cfg.instances[0];
    assert_eq!(i.version, Version::V2, "keepalived's default is VRRPv2");
    assert_eq!(i.priority.0, 100);
    assert_eq!(i.advert_interval, secs(1));
    assert!(out.toml.contains("version = 2"));
    assert!(out.warnings.is_empty(), "{:#?}", out.warnings);
}

#[test]
fn global_vrrp_version_3_and_fractional_interval() {
    let text = format!(
        "global_defs {{\n    vrrp_version 3\n}}\n{}",
        instance_with("    advert_int 0.5\n")
    );
    let (out, cfg) = convert(&text);
    assert_eq!(cfg.instances[0].version, Version::V3);
    assert_eq!(cfg.instances[0].advert_interval, Duration::from_millis(500));
    assert!(out.warnings.is_empty(), "{:#?}", out.warnings);
}

#[test]
fn v2_interval_is_rounded_to_whole_seconds() {
    let text = instance_with("    advert_int 1.6\n");
    let (out, cfg) = convert(&text);
    assert_eq!(cfg.instances[0].advert_interval, secs(2));
    assert!(has_warning(
        &out,
        line_of(&text, "advert_int"),
        "whole seconds"
    ));
    let (_, cfg) = convert(&instance_with("    advert_int 0.1\n"));
    assert_eq!(cfg.instances[0].advert_interval, secs(1), "at least 1 s");
    let (_, cfg) = convert(&instance_with("    advert_int 300\n"));
    assert_eq!(cfg.instances[0].advert_interval, secs(255), "at most 255 s");
}

#[test]
fn ipv6_instance_uses_version_3_like_keepalived() {
    let text = "vrrp_instance V6 {\n    interface eth0\n    virtual_router_id 9\n    version 2\n    virtual_ipaddress {\n        fe80::1\n        2001:db8::1/64\n        192.0.2.9\n    }\n}\n";
    let (out, cfg) = convert(text);
    let i = &cfg.instances[0];
    assert_eq!(i.version, Version::V3);
    let vips: Vec<String> = i.virtual_ips.iter().map(ToString::to_string).collect();
    assert_eq!(vips, ["fe80::1/128", "2001:db8::1/64"]);
    assert!(has_warning(&out, 4, "IPv4 only"));
    assert!(has_warning(&out, 8, "one family"));
}

#[test]
fn nopreempt_drops_preempt_delay() {
    let text = instance_with("    nopreempt\n    preempt_delay 30\n");
    let (out, cfg) = convert(&text);
    assert!(!cfg.instances[0].preempt);
    assert_eq!(cfg.instances[0].preempt_delay, Duration::ZERO);
    assert!(has_warning(
        &out,
        line_of(&text, "preempt_delay"),
        "no effect with nopreempt"
    ));
}

#[test]
fn ah_authentication_is_reported() {
    let text = instance_with(
        "    authentication {\n        auth_type AH\n        auth_pass secret\n    }\n",
    );
    let (out, cfg) = convert(&text);
    assert_eq!(cfg.instances[0].auth_pass, None);
    assert!(has_warning(&out, line_of(&text, "auth_type AH"), "AH"));
}

#[test]
fn reverse_weights_are_not_converted() {
    let text = format!(
        "vrrp_script s {{\n    script /bin/true\n    weight 5 reverse\n}}\n{}",
        instance_with("    track_script {\n        s\n    }\n    track_interface {\n        eth9 weight 3 reverse\n    }\n")
    );
    let (out, cfg) = convert(&text);
    assert!(cfg.instances[0].track.is_empty());
    assert!(cfg.tracks.is_empty());
    assert!(has_warning(&out, line_of(&text, "        s"), "reverse"));
    assert!(has_warning(&out, line_of(&text, "eth9"), "reverse"));
}

#[test]
fn positive_and_zero_weights_keep_their_meaning() {
    // vrrp_script weight 0 (fault), positive (added when OK), negative (when failing).
    let text = format!(
        "vrrp_script up {{\n    script /bin/up\n    weight 25\n}}\nvrrp_script down {{\n    script /bin/down\n    weight -25\n}}\nvrrp_script must {{\n    script /bin/must\n}}\n{}",
        instance_with("    track_script {\n        up\n        down\n        must\n        up weight 0\n    }\n")
    );
    let (_, cfg) = convert(&text);
    assert_eq!(cfg.track("up").unwrap().weight, 25);
    assert_eq!(cfg.track("down").unwrap().weight, -25);
    assert_eq!(cfg.track("must").unwrap().weight, 0);
    assert_eq!(cfg.track("up_weight0").unwrap().weight, 0);
    assert_eq!(
        cfg.instances[0].track,
        strings(&["up", "down", "must", "up_weight0"])
    );
}

#[test]
fn script_timing_is_fitted_to_vrrpd() {
    let text = format!(
        "vrrp_script s {{\n    script \"/bin/check 'a b'\"\n    interval 0.05\n    timeout 5\n    rise 500\n}}\n{}",
        instance_with("    track_script {\n        s\n    }\n")
    );
    let (out, cfg) = convert(&text);
    let TrackKind::Script {
        argv,
        interval,
        timeout,
        rise,
        ..
    } = &cfg.track("s").unwrap().kind
    else {
        panic!("not a script");
    };
    assert_eq!(argv, &strings(&["/bin/check", "a b"]));
    assert_eq!(*interval, Duration::from_millis(100));
    assert_eq!(*timeout, Duration::from_millis(100));
    assert_eq!(*rise, 100);
    assert!(has_warning(&out, 1, "interval"));
    assert!(has_warning(&out, 1, "timeout"));
    assert!(has_warning(&out, 1, "rise 500"));
}

#[test]
fn instance_problems_skip_the_instance_with_its_line() {
    let text = "vrrp_instance A {\n    virtual_router_id 1\n    virtual_ipaddress {\n        192.0.2.1\n    }\n}\nvrrp_instance B {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.2\n    }\n}\nvrrp_instance C {\n    interface eth0\n    virtual_router_id 3\n    virtual_ipaddress {\n        192.0.2.3\n    }\n}\nvrrp_instance D {\n    interface eth0\n    virtual_router_id 3\n    virtual_ipaddress {\n        192.0.2.4\n    }\n}\nvrrp_sync_group G {\n    group {\n        A\n        C\n        D\n    }\n}\n";
    let (out, cfg) = convert(text);
    assert_eq!(cfg.instances.len(), 1);
    assert_eq!(cfg.instances[0].name, "C");
    assert!(has_warning(&out, 1, "no `interface`"));
    assert!(has_warning(&out, 7, "virtual_router_id"));
    assert!(has_warning(&out, 20, "already used by instance C"));
    assert_eq!(cfg.sync_groups[0].instances, ["C"]);
    assert!(has_warning(&out, 29, "not a converted vrrp_instance"));
    assert!(has_warning(&out, 31, "not a converted vrrp_instance"));
}

#[test]
fn nothing_to_convert_is_said_plainly() {
    let out = convert_keepalived("global_defs {\n    router_id X\n}\n", "k.conf").unwrap();
    assert!(out
        .warnings
        .iter()
        .any(|w| w.line == 0 && w.reason.contains("no vrrp_instance")));
    assert!(config::parse_str(&out.toml, "x").is_err());
    // The TOML is still well-formed.
    let _: toml::Table = toml::from_str(&out.toml).unwrap();
}

#[test]
fn unparsable_input_is_an_error_with_its_line() {
    let err = convert_keepalived("vrrp_instance A {\n    interface eth0\n", "k.conf").unwrap_err();
    assert!(
        matches!(err, ImportError::UnclosedBlock { line: 1, .. }),
        "{err}"
    );
    let err = convert_keepalived("a\nb\n}\n", "k.conf").unwrap_err();
    assert!(matches!(err, ImportError::UnexpectedClose { line: 3, .. }));
    assert_eq!(err.to_string(), "k.conf:3: `}` closes no block");
    let err = convert_keepalived("x {\n  auth_pass \"abc\n}\n", "k.conf").unwrap_err();
    assert!(matches!(
        err,
        ImportError::UnterminatedQuote { line: 2, .. }
    ));
}

#[test]
fn substitution_and_conditionals_are_reported() {
    let text = format!(
        "$IF=eth0\n@main {}",
        instance_with("    priority ${PRIO}\n")
    );
    let (out, cfg) = convert(&instance_with("    priority ${PRIO}\n"));
    assert_eq!(cfg.instances[0].priority.0, 100);
    assert!(has_warning(&out, 7, "substitution"));
    let out = convert_keepalived(&text, "k").unwrap();
    assert!(has_warning(&out, 1, "substitution"));
    assert!(has_warning(&out, 2, "substitution"));
}

/// The CLI: `vrrpd import-keepalived FILE > vrrp.toml`, warnings on stderr
/// with line numbers, and the output passes `vrrpd check`.
#[test]
fn cli_import_then_check() {
    let bin = env!("CARGO_BIN_EXE_vrrpd");
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/keepalived/tfm-cluster1.conf"
    );
    let out = std::process::Command::new(bin)
        .args(["import-keepalived", src])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 15: auth_pass clustercac"), "{stderr}");
    let dir = std::env::temp_dir().join(format!("vrrpd-import-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("vrrp.toml");
    std::fs::write(&toml, &out.stdout).unwrap();
    let check = std::process::Command::new(bin)
        .args(["check", "--config"])
        .arg(&toml)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
    let _ = std::fs::remove_dir_all(&dir);
    // A file that is not there is a clear error, not a panic.
    let missing = std::process::Command::new(bin)
        .args(["import-keepalived", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

// ---------------------------------------------------------------- auth_hmac (keepalived 2.4)

fn capture_conf(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hmac_of(cfg: &Config) -> &config::AuthHmac {
    cfg.instances[0].auth_hmac.as_ref().expect("auth_hmac")
}

#[test]
fn auth_hmac_inline_keys_from_the_capture_configs() {
    use vrrpd::core::auth::{AntiReplay, Mode};
    // keepalived 2.4.3's own test configs (tests/data/captures): two inline hex keys.
    let text = capture_conf("hmac-rotation-a-step1.conf");
    let (out, cfg) = convert(&text);
    let a = hmac_of(&cfg);
    assert_eq!(a.keys.iter().map(|k| k.id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(a.keys[0].secret.bytes(), &(0u8..32).collect::<Vec<_>>()[..]);
    assert_eq!(
        a.keys[1].secret.bytes(),
        &(0x20u8..0x50).collect::<Vec<_>>()[..]
    );
    assert_eq!(a.active_key, 1);
    assert_eq!(a.mode, Mode::Enforce);
    assert_eq!(a.anti_replay, AntiReplay::Time { window_secs: 5 });
    // Each inline key is reported: the vrrpd file must then be chmod 600.
    for needle in ["key 1 hex:", "key 2 hex:"] {
        assert!(
            has_warning(&out, line_of(&text, needle), "chmod 600"),
            "{:#?}",
            out.warnings
        );
    }
    assert!(
        out.toml
            .contains("[instance.auth_hmac]\nkeys = { 1 = \"hex:0001"),
        "{}",
        out.toml
    );
}

#[test]
fn auth_hmac_passphrase_monotonic_unicast() {
    use vrrpd::core::auth::{AntiReplay, Mode};
    // An ASCII passphrase is the key's bytes: written as hex:.
    let (out, cfg) = convert(&capture_conf("hmac-v2unicast-a.conf"));
    let a = hmac_of(&cfg);
    assert_eq!(a.keys[0].id, 7);
    assert_eq!(
        a.keys[0].secret.bytes(),
        b"correct-horse-battery-staple-vrrp-v2"
    );
    assert_eq!(a.active_key, 7);
    assert_eq!(a.mode, Mode::Enforce);
    assert_eq!(a.anti_replay, AntiReplay::Monotonic);
    assert_eq!(cfg.instances[0].unicast_peers, [ip("192.0.2.2")]);
    // The unicast peers are the allow-list, as in keepalived.
    assert_eq!(cfg.instances[0].allowed_sources, [ip("192.0.2.2")]);
    assert!(out.toml.contains("anti_replay = \"monotonic\""));
}

#[test]
fn auth_hmac_files_credentials_and_settings() {
    let text = instance_with(
        "    version 3\n    auth_hmac {\n        key 1 file:${_ENV CREDENTIALS_DIRECTORY}/vrrp51_1\n        \
         key 2 file:/etc/keepalived/keys/vrrp51.new\n        active_key 2\n        mode permissive\n        \
         anti_replay time\n        time_window 12\n    }\n",
    );
    let out = convert_keepalived(&text, "k.conf").expect("converts");
    // The key files belong to the target machine: the output is checked with placeholders.
    assert!(
        !out.warnings
            .iter()
            .any(|w| w.reason.contains("vrrpd check")),
        "{:#?}",
        out.warnings
    );
    assert!(out.warnings.is_empty(), "{:#?}", out.warnings);
    assert!(out.toml.contains(
        "[instance.auth_hmac]\nkeys = { 1 = \"credential:vrrp51_1\", 2 = \"file:/etc/keepalived/keys/vrrp51.new\" }\nactive_key = 2\nmode = \"permissive\"\nanti_replay = \"time\"\ntime_window = \"12s\"\n"
    ), "{}", out.toml);
}

#[test]
fn auth_hmac_that_cannot_be_kept_is_never_dropped_silently() {
    // The signing key is a relative file: the instance is skipped, not written unsigned.
    let (out, _) = {
        let out = convert_keepalived(&capture_conf("hmac-v3ipv6-a.conf"), "k.conf").unwrap();
        (out, ())
    };
    assert!(!out.toml.contains("[[instance]]\n"), "{}", out.toml);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.reason.contains("relative path")),
        "{:#?}",
        out.warnings
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w.reason.contains("would run unauthenticated")),
        "{:#?}",
        out.warnings
    );
    // keepalived itself disables auth_hmac without a defined active key: so does the import,
    // and says so. And auth_hmac replaces a legacy password, as in keepalived.
    let text = instance_with(&format!(
        "    authentication {{\n        auth_type PASS\n        auth_pass secret\n    }}\n    \
         auth_hmac {{\n        key 1 hex:{k}\n        key 2 hex:{k}\n    }}\n",
        k = "00".repeat(32)
    ));
    let (out, cfg) = convert(&text);
    assert!(cfg.instances[0].auth_hmac.is_none());
    assert!(has_warning(
        &out,
        line_of(&text, "auth_hmac {"),
        "without active_key"
    ));
    let text = instance_with(&format!(
        "    authentication {{\n        auth_type PASS\n        auth_pass secret\n    }}\n    \
         auth_hmac {{\n        key 1 hex:{k}\n        key 9 short\n        active_key 1\n    }}\n",
        k = "00".repeat(32)
    ));
    let (out, cfg) = convert(&text);
    assert!(cfg.instances[0].auth_hmac.is_some());
    assert_eq!(cfg.instances[0].auth_pass, None);
    assert!(has_warning(
        &out,
        line_of(&text, "auth_pass secret"),
        "drops the authentication block"
    ));
    assert!(has_warning(&out, line_of(&text, "key 9 short"), "5 bytes"));
}
