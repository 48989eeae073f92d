//! The notifier: ordered commands with `VRRPD_*` variables, no shell,
//! timeouts, and the FIFO event stream with and without a reader.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vrrpd::notify::{Notifier, TransitionEvent};

/// A private scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vrrpd-notify-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        Scratch(p)
    }

    fn exe(&self, name: &str, body: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, body).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        s(&p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8").to_string()
}

fn ev(from: &str, to: &str, prio: u8, ms: u64) -> TransitionEvent {
    TransitionEvent {
        instance: "VI_1".into(),
        from: from.into(),
        to: to.into(),
        reason: format!("reason {from}->{to}"),
        priority: prio,
        at_unix_ms: ms,
    }
}

#[tokio::test]
async fn commands_run_in_order_with_env() {
    let d = Scratch::new();
    let log = d.0.join("log");
    let gate = d.0.join("gate");
    // Appends its environment; with "wait" only once the gate file exists.
    // The first command waits: if two ran at once, it would append last.
    let exe = d.exe(
        "note.sh",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = wait ]; then while [ ! -e {} ]; do sleep 0.01; done; fi\n\
             echo \"$VRRPD_INSTANCE|$VRRPD_FROM|$VRRPD_TO|$VRRPD_STATE|$VRRPD_PRIORITY|$VRRPD_TIME_MS|$VRRPD_REASON\" >> {}\n",
            s(&gate),
            s(&log)
        ),
    );
    // Should transition() block until a command is done, the gate opens
    // after 20 s anyway (so that the test fails instead of hanging).
    let g = gate.clone();
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = std::fs::write(g, "");
    });
    let n = Notifier::new(None);
    let t0 = Instant::now();
    n.transition(
        ev("INIT", "BACKUP", 100, 1000),
        Some(vec![exe.clone(), "wait".into()]),
    );
    n.transition(
        ev("BACKUP", "MASTER", 100, 2000),
        Some(vec![exe.clone(), "go".into()]),
    );
    n.transition(
        ev("MASTER", "FAULT", 0, 3000),
        Some(vec![exe.clone(), "go".into()]),
    );
    n.transition(ev("FAULT", "BACKUP", 100, 4000), None); // no command
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "transition() blocked until the gate opened: {took:?}"
    );
    // While the first command waits, the others do not run: watched for a
    // while (an observation window, real time on purpose).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !log.exists(),
        "a command ran before the one ahead of it ended"
    );
    std::fs::write(&gate, "").expect("open the gate");
    n.shutdown().await;
    drop(opener); // detached: it finds the gate open and exits
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "VI_1|INIT|BACKUP|BACKUP|100|1000|reason INIT->BACKUP",
            "VI_1|BACKUP|MASTER|MASTER|100|2000|reason BACKUP->MASTER",
            "VI_1|MASTER|FAULT|FAULT|0|3000|reason MASTER->FAULT",
        ]
    );
}

#[tokio::test]
async fn no_shell_is_involved() {
    let d = Scratch::new();
    let out = d.0.join("args");
    let (x, y, z) = (d.0.join("x"), d.0.join("y"), d.0.join("z"));
    let exe = d.exe(
        "args.sh",
        &format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", s(&out)),
    );
    let args = vec![
        format!(";touch {}", s(&x)),
        format!("$(touch {})", s(&y)),
        format!("`touch {}`", s(&z)),
        "| cat".to_string(),
    ];
    let mut argv = vec![exe];
    argv.extend(args.iter().cloned());
    let n = Notifier::new(None);
    n.transition(ev("BACKUP", "MASTER", 100, 1), Some(argv));
    // /bin/echo with the classic injection, too.
    n.transition(
        ev("MASTER", "BACKUP", 100, 2),
        Some(vec!["/bin/echo".into(), format!(";touch {}", s(&x))]),
    );
    n.shutdown().await;
    let got = std::fs::read_to_string(&out).expect("args written");
    assert_eq!(got.lines().collect::<Vec<_>>(), args);
    assert!(
        !x.exists() && !y.exists() && !z.exists(),
        "a shell interpreted the arguments"
    );
}

#[tokio::test]
async fn hung_command_is_killed_and_the_next_runs() {
    let d = Scratch::new();
    let marker = d.0.join("second-ran");
    let tag = format!("30.{}77", std::process::id());
    let n = Notifier::with_timeout(None, Duration::from_millis(300));
    let t0 = Instant::now();
    n.transition(
        ev("BACKUP", "MASTER", 100, 1),
        Some(vec!["/bin/sleep".into(), tag.clone()]),
    );
    n.transition(
        ev("MASTER", "BACKUP", 100, 2),
        Some(vec!["/bin/touch".into(), s(&marker)]),
    );
    n.shutdown().await;
    let took = t0.elapsed();
    assert!(
        marker.exists(),
        "the command after the hung one did not run"
    );
    assert!(took >= Duration::from_millis(290), "{took:?}");
    // Killed at the timeout, not waited for (the sleep lasts over 30 s).
    assert!(took < Duration::from_secs(20), "{took:?}");
    // The sleep is gone.
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&c).contains(&tag),
                "sleep still running"
            );
        }
    }
}

#[tokio::test]
async fn unsafe_command_is_refused_and_the_next_runs() {
    let d = Scratch::new();
    let marker = d.0.join("ran");
    let bad = d.exe("bad.sh", &format!("#!/bin/sh\ntouch {}\n", s(&marker)));
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let good = d.0.join("good-ran");
    let n = Notifier::new(None);
    n.transition(ev("BACKUP", "MASTER", 100, 1), Some(vec![bad]));
    n.transition(
        ev("MASTER", "BACKUP", 100, 2),
        Some(vec!["/bin/touch".into(), s(&good)]),
    );
    n.shutdown().await;
    assert!(!marker.exists(), "a world-writable command was run");
    assert!(good.exists());
}

/// Opens the FIFO's read end without blocking.
fn reader(path: &Path) -> std::fs::File {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("open fifo for reading")
}

/// Reads lines from a non-blocking reader until `n` arrived (or 10 s passed).
async fn read_lines(r: &mut std::fs::File, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        match r.read(&mut chunk) {
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
        let lines: Vec<&[u8]> = buf
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines
                .iter()
                .map(|l| serde_json::from_slice(l).expect("a JSON line"))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits (at most 10 s: a blocked writer would block for ever) until
/// `count` lines were dropped.
async fn wait_dropped(n: &Notifier, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while n.dropped_lines() < count {
        assert!(
            Instant::now() < deadline,
            "dropped {} of {count}",
            n.dropped_lines()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn fifo_stream() {
    let d = Scratch::new();
    let path = d.0.join("events");
    let n = Notifier::new(Some(path.clone()));
    let meta = std::fs::metadata(&path).expect("fifo created");
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A reader attached: every line, in order.
    let mut r = reader(&path);
    for (i, (from, to)) in [
        ("INIT", "BACKUP"),
        ("BACKUP", "MASTER"),
        ("MASTER", "FAULT"),
    ]
    .into_iter()
    .enumerate()
    {
        n.transition(ev(from, to, 100, i as u64), None);
    }
    let got = read_lines(&mut r, 3).await;
    let tos: Vec<&str> = got
        .iter()
        .map(|v| v["to"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(tos, ["BACKUP", "MASTER", "FAULT"]);
    assert_eq!(got[1]["instance"], "VI_1");
    assert_eq!(got[1]["from"], "BACKUP");
    assert_eq!(got[1]["priority"], 100);
    assert_eq!(got[1]["at_unix_ms"], 1);
    assert_eq!(got[1]["reason"], "reason BACKUP->MASTER");
    assert_eq!(n.dropped_lines(), 0);

    // The reader leaves: lines are dropped and counted, nothing blocks.
    drop(r);
    for i in 0..5 {
        n.transition(ev("FAULT", "BACKUP", 100, 10 + i), None);
    }
    wait_dropped(&n, 5).await;

    // A new reader gets the next line (the FIFO is reopened after EPIPE).
    let mut r = reader(&path);
    n.transition(ev("BACKUP", "MASTER", 100, 99), None);
    let got = read_lines(&mut r, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["at_unix_ms"], 99);
    assert_eq!(n.dropped_lines(), 5);
    n.shutdown().await;
}

#[tokio::test]
async fn fifo_without_reader_never_blocks() {
    let d = Scratch::new();
    let path = d.0.join("events");
    let n = Notifier::new(Some(path.clone()));
    for i in 0..100 {
        n.transition(ev("BACKUP", "MASTER", 100, i), None);
    }
    wait_dropped(&n, 100).await;
    tokio::time::timeout(Duration::from_secs(10), n.shutdown())
        .await
        .expect("shutdown blocked");
}
