//! Waiting on conditions (with generous bounds), and timing events from the daemon's own log.
//!
//! A test never sleeps in the hope that something has happened by then: it waits for the
//! condition itself (a counter, a state, an address, a log line) with [`wait_until`] and a
//! bound that only matters when the test fails. A sleep that stays is real time on purpose (an
//! observation window: "nothing flaps for 2 s") and says so in a comment. See docs/TESTING.md.
//!
//! When a test asserts a protocol time (a takeover within Master_Down_Interval plus slack), it
//! takes the time from the daemon's log ([`logged_after`]): vrrpd runs at real-time priority
//! and stamps its state changes when they happen, while the test thread that polls for them
//! may be kept waiting for the CPU by whatever else the machine runs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// The timestamp at the start of a log line of the daemon (tracing's default format, RFC 3339
/// in UTC: `2025-01-31T12:34:56.789012Z  INFO ...`), or `None` if the line has none.
pub fn log_time(line: &str) -> Option<SystemTime> {
    let ts = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<u64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let nanos = format!("{frac:0<9}").get(..9)?.parse::<u64>().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
}

/// How long after `since` the daemon first logged a line containing every one of `needles`,
/// by the line's own timestamp; `None` if no such line was logged at or after `since`.
///
/// Take `since` with `SystemTime::now()` just before the fault (the kill, the cut link).
pub fn logged_after(log: &str, needles: &[&str], since: SystemTime) -> Option<Duration> {
    log.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(log_time)
        .find_map(|t| t.duration_since(since).ok())
}
