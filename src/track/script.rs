//! The `script` tracker: a program run every `interval`, exit 0 = success.
//!
//! The program is run directly (never through a shell), killed with its
//! process group at the timeout (a failure), optionally as another user.
//! An unsafe program (world-writable, or in a world-writable directory
//! without the sticky bit; see [`super::exec`]) is not run: the tracker
//! reports Down with the reason.

use std::time::Duration;

use tokio::time::{interval, MissedTickBehavior};
use tracing::error;

use super::exec::{check_argv, run_program, RunAs};
use super::{up_down, Closed, Emitter, RiseFall, TrackState};

/// The tracker task.
pub(super) async fn run(
    argv: Vec<String>,
    every: Duration,
    timeout: Duration,
    rf: RiseFall,
    user: Option<String>,
    mut out: Emitter,
) {
    let _ = track(argv, every, timeout, rf, user, &mut out).await;
}

async fn track(
    argv: Vec<String>,
    every: Duration,
    timeout: Duration,
    mut rf: RiseFall,
    user: Option<String>,
    out: &mut Emitter,
) -> Result<(), Closed> {
    let name = argv.first().cloned().unwrap_or_default();
    let mut tick = interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The last refusal logged, so that a persistent problem is logged once.
    let mut refused: Option<String> = None;
    loop {
        tick.tick().await;
        // Checked before every run: the file or its directory may change.
        let prepared = check_argv(&argv)
            .map_err(|e| e.to_string())
            .and_then(|()| user.as_deref().map(RunAs::lookup).transpose());
        let run_as = match prepared {
            Ok(r) => {
                refused = None;
                r
            }
            Err(why) => {
                if refused.as_deref() != Some(&why) {
                    error!(tracker = %out.name, reason = %why, "script not run");
                    refused = Some(why.clone());
                }
                // A refused script counts as down at once, whatever `fall`.
                rf = RiseFall::new(rf.rise, rf.fall);
                rf.feed(false);
                out.set(TrackState::Down, format!("not run: {why}")).await?;
                continue;
            }
        };
        let outcome = run_program(&argv, &[], run_as, timeout).await;
        let ok = outcome.success();
        let up = rf.feed(ok);
        out.set(up_down(up), format!("{name}: {outcome}")).await?;
    }
}
