//! The `interface` tracker inside a network namespace this test creates.
//!
//! Needs root. Without it the test prints `SKIPPED (not root)` and passes,
//! unless `VRRPD_REQUIRE_NETNS=1`, which turns the skip into a failure.

use std::io::Write;
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vrrpd::config::{Track, TrackKind};
use vrrpd::track::{TrackEvent, TrackState, TrackerSet};

fn can_run(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("VRRPD_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: not root, and VRRPD_REQUIRE_NETNS=1 forbids skipping");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (not root): {test} needs root to create network namespaces"
    );
    false
}

/// A network namespace, deleted on drop.
struct Ns(String);

impl Ns {
    fn new() -> Ns {
        let name = format!("vrrpd-track-{}", std::process::id());
        ip(&["netns", "add", &name]);
        Ns(name)
    }

    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a tracker set on a thread inside `ns`; events come out on the
/// returned channel until the stop sender is dropped.
fn spawn_in(
    ns: &Ns,
    tracks: Vec<Track>,
) -> (
    std_mpsc::Receiver<TrackEvent>,
    oneshot::Sender<()>,
    thread::JoinHandle<()>,
) {
    let path = format!("/run/netns/{}", ns.0);
    let (out_tx, out_rx) = std_mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let h = thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (tx, mut rx) = mpsc::channel(16);
            let _set = TrackerSet::spawn(&tracks, tx);
            let mut stop_rx = stop_rx;
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(ev) => if out_tx.send(ev).is_err() { return },
                        None => return,
                    },
                    _ = &mut stop_rx => return,
                }
            }
        });
    });
    (out_rx, stop_tx, h)
}

fn next(rx: &std_mpsc::Receiver<TrackEvent>) -> TrackEvent {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("no tracker event in time")
}

fn iface(name: &str) -> Track {
    Track {
        name: format!("if-{name}"),
        weight: -30,
        kind: TrackKind::Interface {
            interface: name.into(),
        },
    }
}

#[test]
fn follows_link_state() {
    if !can_run("follows_link_state") {
        return;
    }
    let ns = Ns::new();
    // veth pairs (the test kernel may lack the dummy driver); the peer
    // end is up so that the tracked end has carrier once it is up.
    ns.ip(&[
        "link", "add", "dum0", "type", "veth", "peer", "name", "peer0",
    ]);
    ns.ip(&["link", "set", "peer0", "up"]);
    let (rx, stop, h) = spawn_in(&ns, vec![iface("dum0"), iface("dum1")]);

    // Two trackers: collect their first events in whatever order.
    let mut first: Vec<TrackEvent> = vec![next(&rx), next(&rx)];
    first.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(first[0].name, "if-dum0");
    assert_eq!(
        first[0].state,
        TrackState::Down,
        "created down: {:?}",
        first[0]
    );
    assert_eq!(first[1].name, "if-dum1");
    assert_eq!(first[1].state, TrackState::Down, "{:?}", first[1]);
    assert!(first[1].detail.contains("does not exist"), "{:?}", first[1]);

    ns.ip(&["link", "set", "dum0", "up"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum0", TrackState::Up),
        "{ev:?}"
    );

    // Carrier lost (the peer went down) counts as down.
    ns.ip(&["link", "set", "peer0", "down"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum0", TrackState::Down),
        "{ev:?}"
    );
    ns.ip(&["link", "set", "peer0", "up"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum0", TrackState::Up),
        "{ev:?}"
    );

    ns.ip(&["link", "set", "dum0", "down"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum0", TrackState::Down),
        "{ev:?}"
    );

    // A link that appears later is picked up by name.
    ns.ip(&[
        "link", "add", "dum1", "type", "veth", "peer", "name", "peer1",
    ]);
    ns.ip(&["link", "set", "peer1", "up"]);
    ns.ip(&["link", "set", "dum1", "up"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum1", TrackState::Up),
        "{ev:?}"
    );

    // Deleted: down.
    ns.ip(&["link", "del", "dum1"]);
    let ev = next(&rx);
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("if-dum1", TrackState::Down),
        "{ev:?}"
    );

    drop(stop);
    h.join().expect("tracker thread");
}
