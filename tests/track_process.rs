//! The `process` tracker against real processes: pidfd death detection,
//! restart via rescan, zombies, pidfile mode, several matching processes.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use vrrpd::config::{Track, TrackKind};
use vrrpd::track::{TrackEvent, TrackState, TrackerSet};

/// A `sleep` argument unique to this test run and call, e.g. `300.4242001`.
fn tag() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "300.{}{:03}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn sleeper(tag: &str) -> Child {
    Command::new("/bin/sleep")
        .arg(tag)
        .spawn()
        .expect("spawn sleep")
}

fn sigkill(child: &Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("kill");
}

fn by_cmdline(tag: &str, rescan: Duration) -> Track {
    Track {
        name: "haproxy".into(),
        weight: 0,
        kind: TrackKind::Process {
            process: Some("sleep".into()),
            cmdline_contains: Some(tag.into()),
            pidfile: None,
            rescan_interval: rescan,
            same_netns: true,
        },
    }
}

async fn next(rx: &mut mpsc::Receiver<TrackEvent>, within: Duration) -> TrackEvent {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("no tracker event in time")
        .expect("channel closed")
}

/// Asserts that no event arrives for `d`.
async fn quiet(rx: &mut mpsc::Receiver<TrackEvent>, d: Duration) {
    if let Ok(ev) = tokio::time::timeout(d, rx.recv()).await {
        panic!("unexpected event {ev:?}");
    }
}

/// Waits until /proc says the child is a zombie (killed, not reaped).
fn wait_zombie(child: &Child) {
    let path = format!("/proc/{}/stat", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(&path).expect("stat");
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.trim().chars().next());
        if state == Some('Z') {
            return;
        }
        assert!(Instant::now() < deadline, "child never became a zombie");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a tracker for `tag`, waits for Up, SIGKILLs the process and
/// returns the time from kill() returning to the Down event. The rescan
/// interval is one hour: only the pidfd can explain a fast Down.
async fn one_kill_latency(tag: &str) -> Duration {
    let mut child = started(tag);
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[by_cmdline(tag, Duration::from_secs(3600))], tx);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    assert!(ev.detail.contains(&child.id().to_string()), "{ev:?}");
    sigkill(&child);
    let t0 = Instant::now();
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    let latency = t0.elapsed();
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    // The child is still unreaped here: a zombie counts as dead.
    child.wait().expect("reap");
    latency
}

/// Spawns a sleeper and waits until it has exec'd (cmdline shows the tag),
/// so that a scan cannot see the child before it became `sleep`.
fn started(tag: &str) -> Child {
    let child = sleeper(tag);
    let path = format!("/proc/{}/cmdline", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read(&path)
        .map(|c| String::from_utf8_lossy(&c).contains(tag))
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "sleep never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

#[tokio::test]
async fn death_is_detected_at_once() {
    let latency = one_kill_latency(&tag()).await;
    eprintln!("process death detected after {latency:?}");
    // The rescan comes once an hour: anything in seconds is the pidfd. (The
    // latency itself is measured by measure_detection_latency below.)
    assert!(latency <= Duration::from_secs(10), "took {latency:?}");
}

#[tokio::test]
async fn restart_is_found_by_rescan() {
    let tag = tag();
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[by_cmdline(&tag, Duration::from_millis(100))], tx);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Down, "nothing runs yet: {ev:?}");
    for _ in 0..2 {
        let mut child = started(&tag);
        let ev = next(&mut rx, Duration::from_secs(10)).await;
        assert_eq!(ev.state, TrackState::Up, "{ev:?}");
        sigkill(&child);
        let ev = next(&mut rx, Duration::from_secs(10)).await;
        assert_eq!(ev.state, TrackState::Down, "{ev:?}");
        child.wait().expect("reap");
    }
}

#[tokio::test]
async fn zombie_is_not_a_live_process() {
    let tag = tag();
    let mut child = started(&tag);
    sigkill(&child);
    wait_zombie(&child);
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[by_cmdline(&tag, Duration::from_millis(100))], tx);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    // Still down on later rescans (an observation window over about three
    // of them: real time on purpose).
    quiet(&mut rx, Duration::from_millis(350)).await;
    child.wait().expect("reap");
}

#[tokio::test]
async fn any_matching_process_counts() {
    // HAProxy master-worker: several processes with the same command line.
    let tag = tag();
    let mut a = started(&tag);
    let mut b = started(&tag);
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[by_cmdline(&tag, Duration::from_secs(3600))], tx);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    sigkill(&a);
    // No Down while b lives (an observation window, real time on purpose).
    quiet(&mut rx, Duration::from_millis(300)).await;
    sigkill(&b);
    // The rescan comes once an hour: an event at all is the pidfd's.
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    a.wait().expect("reap");
    b.wait().expect("reap");
}

#[tokio::test]
async fn pidfile_mode() {
    let tag = tag();
    let dir = std::env::temp_dir().join(format!("vrrpd-pidfile-{tag}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let pidfile: PathBuf = dir.join("haproxy.pid");
    let mut first = started(&tag);
    let mut other = started(&tag); // same command line, not in the pidfile
    std::fs::write(&pidfile, format!("{}\n", first.id())).expect("write pidfile");
    let track = Track {
        name: "pidfile".into(),
        weight: -50,
        kind: TrackKind::Process {
            process: None,
            cmdline_contains: None,
            pidfile: Some(pidfile.clone()),
            rescan_interval: Duration::from_millis(100),
            same_netns: true,
        },
    };
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[track], tx);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    assert!(ev.detail.contains(&first.id().to_string()), "{ev:?}");
    // Only the pidfile's process counts, although `other` looks the same.
    sigkill(&first);
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    first.wait().expect("reap");
    // A restart writes a new PID: found on the next rescan.
    let mut second = started(&tag);
    std::fs::write(&pidfile, format!("{}\n", second.id())).expect("write pidfile");
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    assert!(ev.detail.contains(&second.id().to_string()), "{ev:?}");
    // A pidfile naming a dead PID, or no pidfile at all, is down.
    std::fs::remove_file(&pidfile).expect("rm");
    let ev = next(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    for c in [&mut second, &mut other] {
        sigkill(c);
        c.wait().expect("reap");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Measures the detection latency over 20 runs and prints the median:
/// `cargo test --test track_process -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn measure_detection_latency() {
    let mut all = Vec::new();
    for _ in 0..20 {
        all.push(one_kill_latency(&tag()).await);
    }
    all.sort();
    eprintln!(
        "detection latency over {} runs: min {:?}, median {:?}, max {:?}",
        all.len(),
        all[0],
        all[all.len() / 2],
        all[all.len() - 1]
    );
}
