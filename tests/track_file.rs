//! The `file` tracker: values follow the file through inotify events.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use vrrpd::config::{Track, TrackKind};
use vrrpd::track::{TrackEvent, TrackState, TrackerSet};

async fn next(rx: &mut mpsc::Receiver<TrackEvent>) -> TrackEvent {
    // Under the tracker's 5 s safety re-read: only inotify can be this fast.
    // (The one bound here that a very slow machine could reach: it has to
    // stay below 5 s to tell inotify from the re-read.)
    tokio::time::timeout(Duration::from_secs(4), rx.recv())
        .await
        .expect("no tracker event in time")
        .expect("channel closed")
}

#[tokio::test]
async fn values_follow_the_file() {
    let dir: PathBuf = std::env::temp_dir().join(format!("vrrpd-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("weight");
    std::fs::write(&path, "0\n").expect("write");
    let track = Track {
        name: "prio".into(),
        weight: 1,
        kind: TrackKind::File { path: path.clone() },
    };
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[track], tx);

    let ev = next(&mut rx).await;
    assert_eq!(
        (ev.name.as_str(), ev.state),
        ("prio", TrackState::Value(0)),
        "{ev:?}"
    );
    assert!(ev.detail.contains("holds 0"), "{ev:?}");

    std::fs::write(&path, "5\n").expect("write");
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Value(5), "{ev:?}");

    std::fs::write(&path, "five\n").expect("write");
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Value(0), "{ev:?}");
    assert!(ev.detail.contains("does not hold an integer"), "{ev:?}");

    std::fs::remove_file(&path).expect("rm");
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Value(0), "{ev:?}");
    assert!(ev.detail.contains("missing"), "{ev:?}");

    // Atomic replacement by rename, as careful writers do.
    let tmp = dir.join("weight.tmp");
    std::fs::write(&tmp, "-3").expect("write");
    std::fs::rename(&tmp, &path).expect("rename");
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Value(-3), "{ev:?}");

    // Other files in the directory do not produce events (watched for a
    // while: an observation window, real time on purpose).
    std::fs::write(dir.join("other"), "7").expect("write");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "event for another file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
