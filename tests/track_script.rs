//! The `script` tracker: exit status, rise/fall-free basics, timeout kill,
//! the world-writable refusal, no shell, and running as another user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vrrpd::config::{Track, TrackKind};
use vrrpd::track::{TrackEvent, TrackState, TrackerSet};

/// A private scratch directory (mode 0700), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vrrpd-script-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        Scratch(p)
    }

    /// Writes an executable file with `mode`.
    fn exe(&self, name: &str, body: &[u8], mode: u32) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, body).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn script(argv: &[&str], timeout_ms: u64, user: Option<&str>) -> Track {
    Track {
        name: "chk".into(),
        weight: -10,
        kind: TrackKind::Script {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(timeout_ms),
            rise: 1,
            fall: 1,
            user: user.map(str::to_string),
        },
    }
}

async fn first_event(track: Track) -> TrackEvent {
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[track], tx);
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("no tracker event in time")
        .expect("channel closed")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// PIDs whose command line contains `text` (zombies included).
fn processes_with(text: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&c).contains(text) {
                found.push(pid);
            }
        }
        // A zombie has an empty cmdline; its comm is still visible.
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if s.contains(" Z ") && s.contains("(sleep)") && text.contains("sleep") {
                found.push(pid);
            }
        }
    }
    found
}

#[tokio::test]
async fn exit_status_decides() {
    let ev = first_event(script(&["/bin/true"], 10_000, None)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    let ev = first_event(script(&["/bin/false"], 10_000, None)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("exit status: 1"), "{ev:?}");
}

#[tokio::test]
async fn timeout_kills_the_program_and_its_children() {
    let s = Scratch::new();
    let tag = format!("50.{}17", std::process::id());
    // The script starts a background sleep (a grandchild) and a foreground one.
    let body = format!("#!/bin/sh\n/bin/sleep {tag}1 &\n/bin/sleep {tag}2\n");
    let exe = s.exe("slow.sh", body.as_bytes(), 0o755);
    let t0 = Instant::now();
    let ev = first_event(script(&[p(&exe)], 200, None)).await;
    let took = t0.elapsed();
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("killed at the timeout"), "{ev:?}");
    assert!(took >= Duration::from_millis(190), "{took:?}");
    // Killed at the timeout, not waited for (the sleeps last over 50 s).
    assert!(took < Duration::from_secs(20), "{took:?}");
    // Killed and gone: both sleeps (the script's group) and the script.
    // (A later run may have started before the set was dropped; dropping
    // the aborted task kills that run's group too, once the runtime gets to
    // it: wait for that, well within the sleeps' 50 s.)
    let left = || {
        [format!("{tag}1"), format!("{tag}2"), p(&exe).to_string()]
            .iter()
            .flat_map(|t| processes_with(t))
            .collect::<Vec<u32>>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !left().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left(), Vec::<u32>::new());
}

#[tokio::test]
async fn world_writable_program_is_refused() {
    let s = Scratch::new();
    let truth = std::fs::read("/bin/true").expect("read /bin/true");
    // Control: a private copy runs.
    let ok = s.exe("true-ok", &truth, 0o755);
    assert_eq!(
        first_event(script(&[p(&ok)], 10_000, None)).await.state,
        TrackState::Up
    );
    // The same bytes, world-writable: refused.
    let ww = s.exe("true-ww", &truth, 0o777);
    let ev = first_event(script(&[p(&ww)], 10_000, None)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("world-writable"), "{ev:?}");
    // A safe file in a world-writable directory without the sticky bit: refused.
    let open_dir = s.0.join("open");
    std::fs::create_dir(&open_dir).expect("mkdir");
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let inside = open_dir.join("true");
    std::fs::write(&inside, &truth).expect("write");
    std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ev = first_event(script(&[p(&inside)], 10_000, None)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("without the sticky bit"), "{ev:?}");
    // With the sticky bit (like /tmp) it is accepted.
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    assert_eq!(
        first_event(script(&[p(&inside)], 10_000, None)).await.state,
        TrackState::Up
    );
}

#[tokio::test]
async fn arguments_are_not_interpreted_by_a_shell() {
    let s = Scratch::new();
    let out = s.0.join("args.txt");
    let x = s.0.join("x");
    let y = s.0.join("y");
    let exe = s.exe(
        "args.sh",
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", p(&out)).as_bytes(),
        0o755,
    );
    let args = [
        format!("a;touch {}", p(&x)),
        format!("$(touch {})", p(&y)),
        "| cat".to_string(),
        "*".to_string(),
    ];
    let mut argv = vec![p(&exe)];
    argv.extend(args.iter().map(String::as_str));
    let ev = first_event(script(&argv, 10_000, None)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    let written = std::fs::read_to_string(&out).expect("script output");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines, args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!x.exists() && !y.exists(), "a shell ran the arguments");
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("SKIPPED: no user 'nobody'");
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: not root");
        return;
    }
    let s = Scratch::new();
    // Writable by anyone (sticky, like /tmp), so that nobody can write its answer.
    std::fs::set_permissions(&s.0, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let out = s.0.join("uid");
    let exe = s.exe("whoami.sh", b"#!/bin/sh\nid -u > \"$1\"\n", 0o755);
    let ev = first_event(script(&[p(&exe), p(&out)], 10_000, Some("nobody"))).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    let uid = std::fs::read_to_string(&out).expect("uid file");
    assert_eq!(uid.trim(), nobody.uid.to_string());
    // An unknown user: not run, down.
    let ev = first_event(script(
        &[p(&exe), p(&out)],
        1000,
        Some("no-such-user-vrrpd"),
    ))
    .await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("no user"), "{ev:?}");
}
