//! The command line: `--help` on every subcommand, `--version`, the man
//! pages and the shell completions (no daemon, no root needed).

use std::process::{Command, Output};

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(args)
        .output()
        .expect("run vrrpd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The visible subcommands, as the top-level help lists them.
fn subcommands() -> Vec<String> {
    let help = stdout(&vrrpd(&["--help"]));
    help.split("Commands:")
        .nth(1)
        .and_then(|s| s.split("Options:").next())
        .expect("a Commands section")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    let subs = subcommands();
    for want in [
        "check",
        "status",
        "import-keepalived",
        "maintenance",
        "switchover",
    ] {
        assert!(subs.iter().any(|s| s == want), "{want} not in {subs:?}");
    }
    // The generators are there, but hidden from the help.
    assert!(!subs.iter().any(|s| s.starts_with("generate")), "{subs:?}");
    for sub in subs
        .iter()
        .map(String::as_str)
        .chain(["generate-man", "generate-completions"])
    {
        let o = vrrpd(&[sub, "--help"]);
        assert!(o.status.success(), "vrrpd {sub} --help failed");
        let text = stdout(&o);
        assert!(
            text.contains(&format!("Usage: vrrpd {sub}")),
            "vrrpd {sub} --help:\n{text}"
        );
    }
}

#[test]
fn version_is_the_crate_version() {
    let o = vrrpd(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("vrrpd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn man_pages_cover_every_subcommand() {
    let dir = std::env::temp_dir().join(format!("vrrpd-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = vrrpd(&["generate-man", &dir.to_string_lossy()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // roff writes a hyphen as `\-`.
    let main = std::fs::read_to_string(dir.join("vrrpd.8"))
        .expect("vrrpd.8")
        .replace("\\-", "-");
    assert!(
        main.starts_with(".ie") || main.contains(".TH vrrpd 8"),
        "{main}"
    );
    for sub in subcommands() {
        assert!(main.contains(&sub), "vrrpd.8 does not mention {sub}");
        let page = std::fs::read_to_string(dir.join(format!("vrrpd-{sub}.8")))
            .unwrap_or_else(|e| panic!("vrrpd-{sub}.8: {e}"));
        assert!(page.contains(".SH SYNOPSIS"), "vrrpd-{sub}.8:\n{page}");
    }
    assert!(!dir.join("vrrpd-generate-man.8").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_are_generated() {
    let o = vrrpd(&["generate-completions", "bash"]);
    assert!(o.status.success());
    let bash = stdout(&o);
    assert!(bash.contains("_vrrpd()"), "{bash}");
    assert!(bash.contains("complete -F _vrrpd"), "{bash}");
    for sub in subcommands() {
        assert!(bash.contains(&sub), "bash completion lacks {sub}");
    }
    for shell in ["zsh", "fish"] {
        let o = vrrpd(&["generate-completions", shell]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    assert!(!vrrpd(&["generate-completions", "cmd.exe"]).status.success());
}
