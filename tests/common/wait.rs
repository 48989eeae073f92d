//! Polling helpers: wait for a condition with a generous bound, or measure how long it took.

use std::time::{Duration, Instant};

/// Calls `f` every `poll` until it returns `true` (then returns `true`) or until `timeout` has
/// passed (then returns `false`). `f` is always called at least once, and once more after the
/// deadline, so a slow machine that oversleeps does not turn a success into a failure.
///
/// Use generous timeouts: the test machine may be small and busy.
pub fn wait_until(timeout: Duration, poll: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            // One last look: the condition may have become true while we slept.
            return f();
        }
        std::thread::sleep(poll);
    }
}

/// Measures how long until `f()` first returns `true`, polling every millisecond.
///
/// Returns the time from the call to the start of the first check that succeeded (so the cost
/// of `f` itself is not counted against the measured event), or `None` after `timeout`.
/// When `f` is expensive (for example runs `ip`), the resolution is the cost of one call.
pub fn measure_until(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let before = Instant::now();
        if f() {
            return Some(before - start);
        }
        if before - start >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
