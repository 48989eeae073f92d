//! The `file` tracker: an integer read from a file, watched with inotify.
//!
//! The parent directory is watched (not the file, which may not exist yet
//! and is often replaced by a rename) for events on the file's name:
//! written and closed, moved in, created, deleted, moved away. On each the
//! file is read again and `Value(n)` is reported when the value (or the
//! reason it is 0) changed. A missing, empty or unparsable file reads as 0.
//! The file is also read again every [`REREAD`] in case events were lost.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::time::{interval, MissedTickBehavior};
use tracing::warn;

use super::{Closed, Emitter, TrackState};

/// Safety net: the file is read this often even without events.
pub(super) const REREAD: Duration = Duration::from_secs(5);

/// Wait before retrying to watch a directory that cannot be watched.
const RETRY: Duration = Duration::from_secs(1);

/// The value in the file and why.
fn read_value(path: &Path) -> (i64, String) {
    let shown = path.display();
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, format!("{shown} is missing")),
        Err(e) => (0, format!("{shown}: {e}")),
        Ok(bytes) => match std::str::from_utf8(&bytes).map(str::trim) {
            Ok("") => (0, format!("{shown} is empty")),
            Ok(text) => match text.parse::<i64>() {
                Ok(v) => (v, format!("{shown} holds {v}")),
                Err(_) => (0, format!("{shown} does not hold an integer")),
            },
            Err(_) => (0, format!("{shown} does not hold an integer")),
        },
    }
}

/// An inotify instance, for tokio's `AsyncFd`.
#[derive(Debug)]
struct Watch(Inotify);

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Opens inotify on `dir` for events about entries.
fn watch_dir(dir: &Path) -> Result<AsyncFd<Watch>, String> {
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| format!("inotify: {e}"))?;
    let mask = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF;
    ino.add_watch(dir, mask)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    // SAFETY: Watch owns the inotify fd, which stays open and unchanged
    // until the AsyncFd drops it; as_raw_fd always returns that fd.
    unsafe { AsyncFd::register(Watch(ino)) }
        .map_err(|e| format!("inotify registration: {}", e.into_parts().1))
}

/// The tracker task.
pub(super) async fn run(path: PathBuf, mut out: Emitter) {
    let _ = track(path, &mut out).await;
}

async fn track(path: PathBuf, out: &mut Emitter) -> Result<(), Closed> {
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let Some(name) = path.file_name().map(OsStr::to_os_string) else {
        out.set(
            TrackState::Value(0),
            format!("{}: not a file path", path.display()),
        )
        .await?;
        out.tx.closed().await;
        return Err(Closed);
    };
    loop {
        // Watch first, then read: no change falls in between.
        let watch = watch_dir(&dir);
        let (v, detail) = read_value(&path);
        out.set(TrackState::Value(v), detail).await?;
        let watch = match watch {
            Ok(w) => w,
            Err(why) => {
                warn!(tracker = %out.name, reason = %why, "file tracker cannot watch, retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let mut reread = interval(REREAD);
        reread.set_missed_tick_behavior(MissedTickBehavior::Delay);
        reread.tick().await;
        loop {
            tokio::select! {
                ready = watch.readable() => {
                    let Ok(mut guard) = ready else { break };
                    let events = match guard.get_inner().0.read_events() {
                        Ok(evs) => evs,
                        Err(nix::errno::Errno::EAGAIN) => {
                            guard.clear_ready();
                            continue;
                        }
                        Err(_) => break,
                    };
                    drop(guard);
                    let mut relevant = false;
                    let mut dir_gone = false;
                    for ev in &events {
                        if ev.mask.intersects(AddWatchFlags::IN_DELETE_SELF
                            | AddWatchFlags::IN_MOVE_SELF
                            | AddWatchFlags::IN_IGNORED)
                        {
                            dir_gone = true;
                        }
                        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                            relevant = true; // events were lost: read again
                        }
                        if ev.name.as_deref() != Some(name.as_os_str()) {
                            continue;
                        }
                        // A new file is often still being written: its
                        // IN_CLOSE_WRITE follows. An empty one is skipped.
                        if ev.mask == AddWatchFlags::IN_CREATE
                            && std::fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(false)
                        {
                            continue;
                        }
                        relevant = true;
                    }
                    if relevant || dir_gone {
                        let (v, detail) = read_value(&path);
                        out.set(TrackState::Value(v), detail).await?;
                    }
                    if dir_gone {
                        // Watch again (the directory may have been recreated).
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
                _ = reread.tick() => {
                    let (v, detail) = read_value(&path);
                    out.set(TrackState::Value(v), detail).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let dir = std::env::temp_dir().join(format!("vrrpd-file-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let p = dir.join("v");
        assert_eq!(read_value(&p).0, 0);
        std::fs::write(&p, " -7\n").expect("write");
        assert_eq!(read_value(&p).0, -7);
        std::fs::write(&p, "x").expect("write");
        assert_eq!(read_value(&p).0, 0);
        std::fs::write(&p, "").expect("write");
        assert!(read_value(&p).1.contains("empty"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
