//! Property tests of the keepalived import: random text never panics, and
//! whatever converts is well-formed TOML; random plausible instances always
//! pass vrrpd's validation.

use proptest::prelude::*;

use super::convert_keepalived;

/// Pieces keepalived files are made of, plus hostile ones.
const PIECES: &[&str] = &[
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "group",
    "global_defs",
    "track_script",
    "track_interface",
    "track_process",
    "track_file",
    "vrrp_track_process",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "unicast_peer",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "vrrp_version",
    "nopreempt",
    "preempt_delay",
    "state",
    "MASTER",
    "script",
    "interval",
    "timeout",
    "weight",
    "reverse",
    "rise",
    "fall",
    "user",
    "process",
    "file",
    "notify_master",
    "notify",
    "use_vmac",
    "v3_checksum_as_v2",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "unicast_src_ip",
    "virtual_server",
    "include",
    "1",
    "0",
    "-20",
    "255",
    "256",
    "0.1",
    "0.125",
    "99999999999999999999",
    "192.0.2.1",
    "192.0.2.1/24",
    "2001:db8::1/64",
    "fe80::1",
    "0.0.0.0",
    "224.0.0.18",
    "dev",
    "label",
    "/bin/true",
    "\"/bin/x a\"",
    "'q'",
    "\"a|b\"",
    "{",
    "}",
    "{",
    "}",
    "\n",
    "\n",
    "\n",
    " ",
    "#",
    "!",
    "\\",
    "\"",
    "'",
    "$X",
    "${X}",
    "@h",
    "é",
    "\u{0}",
    "\u{7f}",
    "\t",
    "\r",
];

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(PIECES).prop_map(|s| s.to_string()),
            1 => any::<String>(),
        ],
        0..120,
    )
    .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(text in text_strategy()) {
        if let Ok(out) = convert_keepalived(&text, "fuzz.conf") {
            // Whatever was produced is TOML, even when vrrpd would refuse it.
            let parsed: Result<toml::Table, _> = toml::from_str(&out.toml);
            prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), out.toml);
            for w in &out.warnings {
                prop_assert!(w.line <= text.lines().count());
            }
        }
    }

    #[test]
    fn balanced_random_blocks_convert(words in prop::collection::vec(prop::sample::select(PIECES), 0..60)) {
        // Quotes and braces balanced by construction: the importer must not refuse it.
        let body: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| !matches!(*w, "{" | "}" | "\"" | "'" | "\\" | "\"/bin/x a\"" | "'q'" | "\"a|b\""))
            .collect();
        let text = format!("vrrp_instance X {{\n{}\n}}\n", body.join(" "));
        prop_assert!(convert_keepalived(&text, "k").is_ok());
    }

    #[test]
    fn plausible_instances_always_validate(
        vrid in 0u32..300,
        prio in 0u32..300,
        version in prop::option::of(1u8..5),
        advert_ms in 0u64..300_000,
        v6 in any::<bool>(),
        pass in "[a-z0-9]{0,12}",
        nopreempt in any::<bool>(),
        delay in 0u32..2000,
        weight in -300i32..300,
        refresh in 0u32..5000,
    ) {
        let vip = if v6 { "2001:db8::5/64" } else { "192.0.2.5/24" };
        let version = version.map_or(String::new(), |v| format!("    version {v}\n"));
        let np = if nopreempt { "    nopreempt\n" } else { "" };
        let text = format!(
            "vrrp_script s {{\n    script /bin/true\n    weight {weight}\n}}\n\
             vrrp_instance VI {{\n    interface eth0\n    virtual_router_id {vrid}\n    priority {prio}\n{version}\
                 advert_int {}.{:03}\n{np}    preempt_delay {delay}\n    garp_master_refresh {refresh}\n\
                 authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}\n\
                 virtual_ipaddress {{\n        {vip}\n    }}\n    track_script {{\n        s\n    }}\n}}\n",
            advert_ms / 1000,
            advert_ms % 1000,
        );
        let out = convert_keepalived(&text, "k").expect("parses");
        if (1..=255).contains(&vrid) {
            let checked = crate::config::parse_str(&out.toml, "k.toml");
            prop_assert!(checked.is_ok(), "{:?}\n{}\n{:#?}", checked.err(), out.toml, out.warnings);
        } else {
            prop_assert!(out.warnings.iter().any(|w| w.line == 7));
        }
    }
}
