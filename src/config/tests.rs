//! Table-driven tests of the configuration reader: every rule, the typed
//! result, the message formats, and that no input panics.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// One `[[instance]]` built from the minimal valid keys, with overrides:
/// a key in `over` replaces the default (or is added); an empty value removes it.
fn inst(over: &[(&str, &str)]) -> String {
    let mut keys: Vec<(String, String)> = vec![
        ("name".into(), "\"VI_1\"".into()),
        ("interface".into(), "\"ext0\"".into()),
        ("vrid".into(), "12".into()),
        ("virtual_ips".into(), "[\"172.16.1.254/24\"]".into()),
    ];
    for (k, v) in over {
        match keys.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.to_string(),
            None => keys.push((k.to_string(), v.to_string())),
        }
    }
    let mut out = String::from("[[instance]]\n");
    for (k, v) in keys {
        if !v.is_empty() {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
    out
}

/// A valid instance plus one `[[track]]` named "t" with these lines.
fn trk(lines: &str) -> String {
    format!("{}\n[[track]]\nname = \"t\"\n{lines}\n", inst(&[]))
}

fn v2(over: &[(&str, &str)]) -> String {
    let mut all = vec![("version", "2")];
    all.extend_from_slice(over);
    inst(&all)
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match parse_str(text, "test.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.errors().to_vec(),
    }
}

#[test]
fn malformed_configs_name_the_key() {
    let two = |a: String, b: String| format!("{a}\n{b}");
    let cases: Vec<(&str, String, &str, &str)> = vec![
        // instance: identity and ranges
        ("vrid 0", inst(&[("vrid", "0")]), "instance[0].vrid", "must be 1..=255, got 0"),
        ("vrid 256", inst(&[("vrid", "256")]), "instance[0].vrid", "got 256"),
        ("vrid missing", inst(&[("vrid", "")]), "instance[0].vrid", "required key is missing"),
        ("vrid wrong type", inst(&[("vrid", "\"12\"")]), "instance[0].vrid", "expected an integer"),
        ("priority 0", inst(&[("priority", "0")]), "instance[0].priority", "must be 1..=255, got 0"),
        ("priority 256", inst(&[("priority", "256")]), "instance[0].priority", "got 256"),
        ("version 4", inst(&[("version", "4")]), "instance[0].version", "must be 2 or 3, got 4"),
        ("name missing", inst(&[("name", "")]), "instance[0].name", "required key is missing"),
        ("name with space", inst(&[("name", "\"VI 1\"")]), "instance[0].name", "space"),
        ("interface empty", inst(&[("interface", "\"\"")]), "instance[0].interface", "must not be empty"),
        ("interface too long", inst(&[("interface", "\"abcdefghijklmnop\"")]), "instance[0].interface", "at most 15 bytes"),
        ("interface with slash", inst(&[("interface", "\"eth/0\"")]), "instance[0].interface", "not a valid Linux interface name"),
        ("interface missing", inst(&[("interface", "")]), "instance[0].interface", "required key is missing"),
        // advert_interval
        ("v3 15ms", inst(&[("advert_interval", "\"15ms\"")]), "instance[0].advert_interval", "multiple of 10ms"),
        ("v3 0ms", inst(&[("advert_interval", "\"0ms\"")]), "instance[0].advert_interval", "10ms..=40.95s"),
        ("v3 41s", inst(&[("advert_interval", "\"41s\"")]), "instance[0].advert_interval", "10ms..=40.95s"),
        ("v2 1500ms", v2(&[("advert_interval", "\"1500ms\"")]), "instance[0].advert_interval", "whole seconds"),
        ("v2 256s", v2(&[("advert_interval", "\"256s\"")]), "instance[0].advert_interval", "1s..=255s"),
        ("unit h", inst(&[("advert_interval", "\"1h\"")]), "instance[0].advert_interval", "unknown unit"),
        ("no unit", inst(&[("advert_interval", "\"100\"")]), "instance[0].advert_interval", "no unit"),
        ("not a duration", inst(&[("advert_interval", "\"fast\"")]), "instance[0].advert_interval", "not a valid duration"),
        ("integer interval", inst(&[("advert_interval", "1")]), "instance[0].advert_interval", "expected a string"),
        ("preempt_delay too long", inst(&[("preempt_delay", "\"2000s\"")]), "instance[0].preempt_delay", "0ms..=1000s"),
        ("preempt_delay without preempt", inst(&[("preempt", "false"), ("preempt_delay", "\"5s\"")]), "instance[0].preempt_delay", "no effect with preempt = false"),
        // auth_pass
        ("auth_pass v3", inst(&[("auth_pass", "\"secret\"")]), "instance[0].auth_pass", "only for version = 2"),
        ("auth_pass 9 bytes", v2(&[("auth_pass", "\"123456789\"")]), "instance[0].auth_pass", "1..=8 bytes, got 9"),
        ("auth_pass empty", v2(&[("auth_pass", "\"\"")]), "instance[0].auth_pass", "1..=8 bytes, got 0"),
        // virtual_ips
        ("vips empty", inst(&[("virtual_ips", "[]")]), "instance[0].virtual_ips", "at least one address"),
        ("vips missing", inst(&[("virtual_ips", "")]), "instance[0].virtual_ips", "required key is missing"),
        ("vips not array", inst(&[("virtual_ips", "\"172.16.1.254/24\"")]), "instance[0].virtual_ips", "expected an array"),
        ("vip prefix 33", inst(&[("virtual_ips", "[\"172.16.1.254/33\"]")]), "instance[0].virtual_ips[0]", "out of range"),
        ("vip v6 prefix 129", inst(&[("virtual_ips", "[\"2001:db8::1/129\"]")]), "instance[0].virtual_ips[0]", "out of range"),
        ("vip bad address", inst(&[("virtual_ips", "[\"172.16.1.300/24\"]")]), "instance[0].virtual_ips[0]", "not an IPv4 or IPv6 address"),
        ("vip mixed family", inst(&[("virtual_ips", "[\"172.16.1.254/24\", \"2001:db8::1/64\"]")]), "instance[0].virtual_ips[1]", "one family"),
        ("vip v6 with v2", v2(&[("virtual_ips", "[\"2001:db8::1/64\"]")]), "instance[0].virtual_ips[0]", "needs version = 3"),
        ("vip twice", inst(&[("virtual_ips", "[\"172.16.1.254/24\", \"172.16.1.254/32\"]")]), "instance[0].virtual_ips[1]", "listed twice"),
        ("vip multicast", inst(&[("virtual_ips", "[\"224.0.0.18/32\"]")]), "instance[0].virtual_ips[0]", "multicast"),
        // other instance keys
        ("peer other family", inst(&[("unicast_peers", "[\"2001:db8::2\"]")]), "instance[0].unicast_peers[0]", "same family"),
        ("peer with prefix", inst(&[("unicast_peers", "[\"172.16.1.2/24\"]")]), "instance[0].unicast_peers[0]", "not an IP address"),
        ("garp_repeat 101", inst(&[("garp_repeat", "101")]), "instance[0].garp_repeat", "must be 0..=100, got 101"),
        ("garp_refresh 500ms", inst(&[("garp_refresh", "\"500ms\"")]), "instance[0].garp_refresh", "1s..=3600s"),
        ("checksum with v2", v2(&[("checksum", "\"message-only\"")]), "instance[0].checksum", "only applies to version = 3"),
        ("checksum unknown", inst(&[("checksum", "\"crc\"")]), "instance[0].checksum", "\"pseudo-header\" or \"message-only\""),
        ("checksum message-only v6", inst(&[("virtual_ips", "[\"2001:db8::1/64\"]"), ("checksum", "\"message-only\"")]), "instance[0].checksum", "IPv4 option"),
        ("notify empty", inst(&[("notify_master", "[]")]), "instance[0].notify_master", "must not be empty"),
        ("notify relative", inst(&[("notify_backup", "[\"notify.sh\", \"backup\"]")]), "instance[0].notify_backup[0]", "absolute path"),
        ("source_ip family", inst(&[("virtual_ips", "[\"2001:db8::1/64\"]"), ("source_ip", "\"172.16.1.2\"")]), "instance[0].source_ip", "same family"),
        ("source_ip v6 global", inst(&[("virtual_ips", "[\"2001:db8::1/64\"]"), ("source_ip", "\"2001:db8::2\"")]), "instance[0].source_ip", "link-local"),
        ("use_vmac not bool", inst(&[("use_vmac", "\"yes\"")]), "instance[0].use_vmac", "expected a boolean"),
        ("unknown instance key", inst(&[("vird", "12")]), "instance[0].vird", "unknown key `vird`"),
        // cross-instance
        ("duplicate names", two(inst(&[]), inst(&[("vrid", "13")])), "instance[1].name", "already the name of instance[0]"),
        ("duplicate router", two(inst(&[]), inst(&[("name", "\"VI_2\""), ("virtual_ips", "[\"172.16.2.254/24\"]")])), "instance[1].vrid", "already used by instance[0]"),
        ("no instance", "[global]\nlog_format = \"json\"\n".to_string(), "instance", "at least one virtual router"),
        // tracks
        ("track missing", inst(&[("track", "[\"haproxy\"]")]), "instance[0].track[0]", "no [[track]] is named \"haproxy\""),
        ("track listed twice", trk("type = \"interface\"\ninterface = \"int0\"").replace("vrid = 12", "vrid = 12\ntrack = [\"t\", \"t\"]"), "instance[0].track[1]", "listed twice"),
        ("duplicate track names", format!("{}\n[[track]]\nname = \"t\"\ntype = \"file\"\npath = \"/run/x\"\n", trk("type = \"file\"\npath = \"/run/y\"")), "track[1].name", "already the name of track[0]"),
        ("weight -255", trk("type = \"interface\"\ninterface = \"int0\"\nweight = -255"), "track[0].weight", "must be -254..=254, got -255"),
        ("weight 255", trk("type = \"interface\"\ninterface = \"int0\"\nweight = 255"), "track[0].weight", "got 255"),
        ("track type unknown", trk("type = \"tcp\""), "track[0].type", "must be one of"),
        ("track type missing", trk("path = \"/run/x\""), "track[0].type", "required key is missing"),
        ("key of another type", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\nprocess = \"haproxy\""), "track[0].process", "does not apply to type = \"http\""),
        ("http interval 50ms", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\ninterval = \"50ms\""), "track[0].interval", "100ms..=3600s"),
        ("http timeout > interval", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\ninterval = \"1s\"\ntimeout = \"2s\""), "track[0].timeout", "longer than interval"),
        ("http timeout 0", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\ntimeout = \"0s\""), "track[0].timeout", "more than 0s"),
        ("https url", trk("type = \"http\"\nurl = \"https://127.0.0.1/\""), "track[0].url", "https is not supported"),
        ("url without host", trk("type = \"http\"\nurl = \"http:///health\""), "track[0].url", "with a host"),
        ("http rise 0", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\nrise = 0"), "track[0].rise", "must be 1..=100, got 0"),
        ("http status 700", trk("type = \"http\"\nurl = \"http://127.0.0.1/\"\nexpect_status = 700"), "track[0].expect_status", "must be 100..=599"),
        ("script argv relative", trk("type = \"script\"\nargv = [\"check.sh\"]"), "track[0].argv[0]", "absolute path"),
        ("script argv empty", trk("type = \"script\"\nargv = []"), "track[0].argv", "must not be empty"),
        ("script argv missing", trk("type = \"script\""), "track[0].argv", "required key is missing"),
        ("script user empty", trk("type = \"script\"\nargv = [\"/bin/true\"]\nuser = \"\""), "track[0].user", "must not be empty"),
        ("process neither", trk("type = \"process\""), "track[0].process", "process (the process name) or pidfile"),
        ("process name long", trk("type = \"process\"\nprocess = \"haproxy-balancer-1\""), "track[0].process", "at most 15 bytes"),
        ("cmdline without process", trk("type = \"process\"\npidfile = \"/run/h.pid\"\ncmdline_contains = \"x\""), "track[0].cmdline_contains", "needs process"),
        ("pidfile relative", trk("type = \"process\"\npidfile = \"run/h.pid\""), "track[0].pidfile", "absolute path"),
        ("rescan 0", trk("type = \"process\"\nprocess = \"haproxy\"\nrescan_interval = \"0s\""), "track[0].rescan_interval", "100ms..=3600s"),
        ("file path relative", trk("type = \"file\"\npath = \"maint\""), "track[0].path", "absolute path"),
        ("interface tracker long", trk("type = \"interface\"\ninterface = \"abcdefghijklmnop\""), "track[0].interface", "at most 15 bytes"),
        ("unknown track key", trk("type = \"file\"\npath = \"/run/x\"\nfoo = 1"), "track[0].foo", "unknown key `foo`"),
        // sync groups
        ("sync member unknown", format!("{}\n[[sync_group]]\nname = \"VG1\"\ninstances = [\"VI_1\", \"VI_9\"]\n", inst(&[])), "sync_group[0].instances[1]", "no [[instance]] is named \"VI_9\""),
        ("sync member in two groups", format!("{}\n[[sync_group]]\nname = \"VG1\"\ninstances = [\"VI_1\"]\n[[sync_group]]\nname = \"VG2\"\ninstances = [\"VI_1\"]\n", inst(&[])), "sync_group[1].instances[0]", "already in sync_group[0]"),
        ("sync empty", format!("{}\n[[sync_group]]\nname = \"VG1\"\ninstances = []\n", inst(&[])), "sync_group[0].instances", "at least one instance"),
        ("sync duplicate names", format!("{}\n{}\n[[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\"]\n[[sync_group]]\nname = \"G\"\ninstances = [\"VI_2\"]\n", inst(&[]), inst(&[("name", "\"VI_2\""), ("vrid", "13")])), "sync_group[1].name", "already the name of sync_group[0]"),
        // global
        ("log_format xml", format!("[global]\nlog_format = \"xml\"\n{}", inst(&[])), "global.log_format", "\"text\" or \"json\""),
        ("metrics_listen no ip", format!("[global]\nmetrics_listen = \"9650\"\n{}", inst(&[])), "global.metrics_listen", "ip:port"),
        ("control_socket relative", format!("[global]\ncontrol_socket = \"vrrpd.sock\"\n{}", inst(&[])), "global.control_socket", "absolute path"),
        ("notify_fifo relative", format!("[global]\nnotify_fifo = \"fifo\"\n{}", inst(&[])), "global.notify_fifo", "absolute path"),
        ("unknown global key", format!("[global]\nlogformat = \"json\"\n{}", inst(&[])), "global.logformat", "unknown key"),
        ("unknown table", format!("{}\n[bogus]\nx = 1\n", inst(&[])), "bogus", "unknown key `bogus`"),
        // TOML-level mistakes: still a key path and a reason in plain words
        ("duplicate key", format!("{}vrid = 13\n", inst(&[])), "instance[0].vrid", "set twice"),
        ("duplicate key in second instance", format!("{}\n{}priority = 5\n", inst(&[]), inst(&[("name", "\"VI_2\""), ("vrid", "13"), ("priority", "4")])), "instance[1].priority", "set twice"),
        ("unterminated string", "[[instance]]\nname = \"VI_1\nvrid = 1\n".to_string(), "instance[0].name", "string"),
        ("integer too large", inst(&[("priority", "99999999999999999999")]), "instance[0].priority", "out of range"),
        ("negative vrid", inst(&[("vrid", "-1")]), "instance[0].vrid", "must be 1..=255, got -1"),
        ("float vrid", inst(&[("vrid", "1.5")]), "instance[0].vrid", "expected an integer, found floating point"),
        ("instance as a table", "[instance]\nname = \"VI_1\"\n".to_string(), "instance", "expected an array, found a table"),
        ("track list not array", format!("{}track = 5\n", inst(&[])), "instance[0].track", "expected an array"),
        ("global not a table", format!("global = 3\n{}", inst(&[])), "global", "expected a table"),
        ("log_format integer", format!("[global]\nlog_format = 1\n{}", inst(&[])), "global.log_format", "expected a string"),
        ("preempt string", inst(&[("preempt", "\"yes\"")]), "instance[0].preempt", "expected a boolean"),
        ("vip integer", inst(&[("virtual_ips", "[1]")]), "instance[0].virtual_ips[0]", "expected a string"),
        ("name empty", inst(&[("name", "\"\"")]), "instance[0].name", "must not be empty"),
        ("weight string", trk("type = \"file\"\npath = \"/x\"\nweight = \"a\""), "track[0].weight", "expected an integer"),
    ];
    assert!(cases.len() >= 30);
    for (label, text, path, reason) in &cases {
        let found = issues(text);
        for issue in &found {
            assert_plain_words(label, issue);
        }
        assert!(
            found.iter().any(|i| i.path == *path && i.reason.contains(reason)),
            "case {label:?}: expected {path}: ...{reason}..., got {found:#?}\n--- config ---\n{text}"
        );
    }
}

/// A message names its key path and says what is wrong in the words of the
/// file, never serde's or the TOML reader's raw text.
fn assert_plain_words(label: &str, issue: &ConfigIssue) {
    assert!(
        !issue.path.is_empty(),
        "case {label:?}: no key path in {issue:?}"
    );
    assert!(
        issue.reason.trim().len() >= 8,
        "case {label:?}: no reason in {issue:?}"
    );
    for raw in [
        "invalid type:",
        "missing field",
        "unknown field",
        "unknown variant",
        "TOML parse error",
        "expected one of `",
        "as i128",
        "duplicate key",
        "struct ",
        "a sequence",
        "u8",
        "i64",
    ] {
        assert!(
            !issue.reason.contains(raw),
            "case {label:?}: raw serde/TOML wording {raw:?} in {issue:?}"
        );
    }
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let text = format!(
        "{}\n{}",
        inst(&[
            ("vrid", "0"),
            ("priority", "0"),
            ("advert_interval", "\"15ms\""),
            ("auth_pass", "\"x\"")
        ]),
        inst(&[
            ("name", "\"VI_2\""),
            ("interface", "\"\""),
            ("track", "[\"nope\"]")
        ]),
    );
    let found = issues(&text);
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    for want in [
        "instance[0].vrid",
        "instance[0].priority",
        "instance[0].advert_interval",
        "instance[0].auth_pass",
        "instance[1].interface",
        "instance[1].track[0]",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    let err = parse_str(&text, "lab.toml").unwrap_err().to_string();
    assert!(
        err.contains("lab.toml: instance[0] (\"VI_1\").vrid: must be 1..=255, got 0"),
        "{err}"
    );
    assert_eq!(err.lines().count(), found.len());
}

#[test]
fn type_errors_give_line_column_and_path() {
    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = \"twelve\"\n";
    let err = parse_str(text, "x.toml").unwrap_err();
    let issue = &err.errors()[0];
    assert_eq!(issue.path, "instance[0].vrid");
    assert_eq!(issue.location, Some(Location { line: 4, column: 8 }));
    let shown = err.to_string();
    assert!(
        shown.starts_with("x.toml:4:8: instance[0].vrid: wrong type"),
        "{shown}"
    );
    assert!(!shown.contains("TOML parse error"), "{shown}");
}

#[test]
fn unknown_key_in_second_instance_is_located() {
    let text = format!(
        "{}\n{}",
        inst(&[]),
        inst(&[("name", "\"VI_2\""), ("vrid", "13"), ("priorty", "5")])
    );
    let err = parse_str(&text, "x.toml").unwrap_err();
    let issue = &err.errors()[0];
    assert_eq!(issue.path, "instance[1].priorty");
    let line = text.lines().position(|l| l.starts_with("priorty")).unwrap() + 1;
    assert_eq!(issue.location, Some(Location { line, column: 1 }));
    assert!(
        issue.reason.contains("did you mean `priority`?"),
        "{}",
        issue.reason
    );
}

#[test]
fn syntax_error_gives_line_and_column() {
    let text = "[[instance]]\nname = \"VI_1\"\nvrid = = 12\n";
    let err = parse_str(text, "x.toml").unwrap_err();
    let issue = &err.errors()[0];
    assert_eq!(issue.location.map(|l| l.line), Some(3));
    assert!(err.to_string().starts_with("x.toml:3:"), "{err}");
}

#[test]
fn minimal_instance_gets_defaults() {
    let cfg = parse_str(&inst(&[]), "t").unwrap();
    let i = &cfg.instances[0];
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.interface, "ext0");
    assert_eq!(i.vrid.get(), 12);
    assert_eq!(i.priority, Priority::DEFAULT);
    assert_eq!(i.version, Version::V3);
    assert_eq!(i.advert_interval, Duration::from_secs(1));
    assert_eq!(i.advert_centisecs(), Centisecs(100));
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.family, Family::Ipv4);
    assert_eq!(
        i.virtual_ips,
        vec!["172.16.1.254/24".parse::<IpPrefix>().unwrap()]
    );
    assert_eq!(i.garp_repeat, 5);
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.garp_refresh, None);
    assert_eq!(i.checksum, ChecksumForm::PseudoHeader);
    assert!(!i.use_vmac);
    assert_eq!(i.source_ip, None);
    assert_eq!(cfg.global, Global::default());
    assert_eq!(
        cfg.global.control_socket,
        PathBuf::from("/run/vrrpd/vrrpd.sock")
    );
}

#[test]
fn full_instance_is_typed() {
    let text = format!(
        "[global]\nmetrics_listen = \"127.0.0.1:9650\"\nlog_format = \"json\"\nnotify_fifo = \"/run/vrrpd/fifo\"\n{}\n{}\n\
         [[track]]\nname = \"web\"\ntype = \"http\"\nurl = \"http://127.0.0.1:8080/health\"\ninterval = \"500ms\"\nrise = 2\nfall = 3\nweight = -20\n\
         [[track]]\nname = \"chk\"\ntype = \"script\"\nargv = [\"/usr/local/bin/chk\", \"-q\"]\ninterval = \"2s\"\ntimeout = \"1.5s\"\nweight = 10\n\
         [[track]]\nname = \"maint\"\ntype = \"file\"\npath = \"/run/vrrpd/maint\"\n\
         [[sync_group]]\nname = \"VG1\"\ninstances = [\"VI_1\", \"VI_6\"]\n",
        v2(&[
            ("priority", "255"),
            ("advert_interval", "\"3s\""),
            ("auth_pass", "\"12345678\""),
            ("preempt_delay", "\"1.5m\""),
            ("unicast_peers", "[\"172.16.1.2\", \"172.16.1.3\"]"),
            ("source_ip", "\"172.16.1.1\""),
            ("garp_repeat", "0"),
            ("garp_refresh", "\"60s\""),
            ("notify_master", "[\"/usr/local/bin/notify\", \"master\"]"),
            ("track", "[\"web\", \"chk\", \"maint\"]"),
        ]),
        inst(&[
            ("name", "\"VI_6\""),
            ("virtual_ips", "[\"2001:db8::1/64\", \"fe80::12/64\"]"),
            ("advert_interval", "\"40.95s\""),
            ("source_ip", "\"fe80::1\""),
            ("use_vmac", "true"),
        ]),
    );
    let cfg = parse_str(&text, "t").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.global.log_format, LogFormat::Json);
    assert_eq!(
        cfg.global.metrics_listen,
        Some("127.0.0.1:9650".parse().unwrap())
    );
    assert_eq!(
        cfg.global.notify_fifo,
        Some(PathBuf::from("/run/vrrpd/fifo"))
    );

    let a = cfg.instance("VI_1").unwrap();
    assert_eq!(a.version, Version::V2);
    assert_eq!(a.priority, Priority::OWNER);
    assert_eq!(a.advert_interval, Duration::from_secs(3));
    assert_eq!(a.auth_pass.as_deref(), Some("12345678"));
    assert_eq!(a.preempt_delay, Duration::from_secs(90));
    assert_eq!(
        a.unicast_peers,
        vec![
            "172.16.1.2".parse::<IpAddr>().unwrap(),
            "172.16.1.3".parse().unwrap()
        ]
    );
    assert_eq!(a.source_ip, Some("172.16.1.1".parse().unwrap()));
    assert_eq!(a.garp_repeat, 0);
    assert_eq!(a.garp_refresh, Some(Duration::from_secs(60)));
    assert_eq!(
        a.notify_master.as_deref(),
        Some(&["/usr/local/bin/notify".to_string(), "master".to_string()][..])
    );
    assert_eq!(a.track, vec!["web", "chk", "maint"]);

    // Same VRID on the same interface is fine for the other family.
    let b = cfg.instance("VI_6").unwrap();
    assert_eq!(b.vrid, a.vrid);
    assert_eq!(b.family, Family::Ipv6);
    assert_eq!(b.advert_centisecs(), Centisecs::MAX_V3);
    assert!(b.use_vmac);

    match &cfg.track("web").unwrap().kind {
        TrackKind::Http {
            url,
            interval,
            timeout,
            rise,
            fall,
            expect_status,
        } => {
            assert_eq!(url, "http://127.0.0.1:8080/health");
            assert_eq!(*interval, Duration::from_millis(500));
            assert_eq!(
                *timeout,
                Duration::from_millis(500),
                "timeout defaults to the interval"
            );
            assert_eq!((*rise, *fall, *expect_status), (2, 3, 200));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.track("web").unwrap().weight, -20);
    match &cfg.track("chk").unwrap().kind {
        TrackKind::Script {
            argv,
            timeout,
            user,
            ..
        } => {
            assert_eq!(argv, &["/usr/local/bin/chk", "-q"]);
            assert_eq!(*timeout, Duration::from_millis(1500));
            assert_eq!(*user, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.track("maint").unwrap().weight, 0);
    assert_eq!(
        cfg.sync_group_of("VI_6").map(|g| g.name.as_str()),
        Some("VG1")
    );
}

#[test]
fn lab_and_example_configs_are_valid() {
    for (file, text, prio) in [
        ("bal1.toml", include_str!("../../config/bal1.toml"), 150),
        ("bal2.toml", include_str!("../../config/bal2.toml"), 100),
        ("bal3.toml", include_str!("../../config/bal3.toml"), 50),
    ] {
        let cfg = parse_str(text, file).unwrap_or_else(|e| panic!("{e}"));
        let i = &cfg.instances[0];
        assert_eq!(
            (i.vrid.get(), i.priority.get(), i.version),
            (12, prio, Version::V3)
        );
        assert_eq!(i.interface, "ext0");
        assert_eq!(i.virtual_ips[0].to_string(), "172.16.1.254/24");
        assert_eq!(i.advert_interval, Duration::from_secs(1));
        let t = cfg.track(&i.track[0]).unwrap();
        assert_eq!(t.weight, -100);
        let n = &file[3..4];
        assert!(
            matches!(&t.kind, TrackKind::Process { process: Some(p), cmdline_contains: Some(c), .. }
            if p == "haproxy" && *c == format!("haproxy-bal{n}.cfg"))
        );
    }
    let example = parse_str(include_str!("../../config/example.toml"), "example.toml");
    assert!(example.is_ok(), "{}", example.unwrap_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_str(&text, "fuzz.toml");
    }

    #[test]
    fn mutated_config_never_panics(cut in 0usize..100_000, insert in "[\\[\\]=\"a-z0-9. \n/-]{0,8}") {
        let base = include_str!("../../config/example.toml");
        let mut cut = cut % (base.len() + 1);
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = format!("{}{}{}", &base[..cut], insert, &base[cut..]);
        if let Err(e) = parse_str(&text, "fuzz.toml") {
            // Every error names a reason; none is a raw toml dump.
            for issue in e.errors() {
                proptest::prop_assert!(!issue.reason.is_empty());
                proptest::prop_assert!(!issue.reason.contains("TOML parse error"));
            }
        }
    }
}

#[test]
fn auth_pass_in_a_file_others_can_read_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("vrrpd-cfgwarn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with_pass = dir.join("pass.toml");
    std::fs::write(&with_pass, v2(&[("auth_pass", "\"secret\"")])).unwrap();
    let without = dir.join("nopass.toml");
    std::fs::write(&without, inst(&[])).unwrap();
    let chmod = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };

    chmod(&with_pass, 0o644);
    let w = load(&with_pass).unwrap().warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("mode 0644") && w[0].contains("instance[0] (\"VI_1\").auth_pass"),
        "{w:?}"
    );
    assert!(w[0].contains("chmod 600"), "{w:?}");
    // Owner (and group) only: no warning.
    chmod(&with_pass, 0o600);
    assert_eq!(load(&with_pass).unwrap().warnings, Vec::<String>::new());
    chmod(&with_pass, 0o640);
    assert_eq!(load(&with_pass).unwrap().warnings, Vec::<String>::new());
    // No secret in the file: nothing to warn about.
    chmod(&without, 0o644);
    assert_eq!(load(&without).unwrap().warnings, Vec::<String>::new());
    // parse_str has no file, so no file warnings.
    assert!(parse_str(&v2(&[("auth_pass", "\"secret\"")]), "t")
        .unwrap()
        .warnings
        .is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
