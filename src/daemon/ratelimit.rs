//! A per-key log rate limiter, so that a misbehaving or hostile peer cannot
//! flood the log: at most `burst` lines per key in each `window`, and one
//! summary line for what was suppressed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Decides whether a log line for a key may be written now.
#[derive(Debug)]
pub struct RateLimit {
    burst: u32,
    window: Duration,
    keys: HashMap<String, Window>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u32,
    suppressed: u64,
}

/// What the caller should do with a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it.
    Log,
    /// Write it, and say that `n` earlier lines of this key were suppressed.
    LogAfterSuppressing(u64),
    /// Drop it (it is counted).
    Suppress,
}

impl RateLimit {
    /// At most `burst` lines per key per `window`.
    pub fn new(burst: u32, window: Duration) -> Self {
        RateLimit {
            burst,
            window,
            keys: HashMap::new(),
        }
    }

    /// Ask for a line under `key` at `now`.
    pub fn check(&mut self, key: &str, now: Instant) -> Verdict {
        // A known key costs a lookup, no allocation (a flood of one kind
        // asks here for every packet).
        if !self.keys.contains_key(key) {
            // The key's first line: the only allocation.
            self.keys.insert(
                key.to_owned(),
                Window {
                    start: now,
                    count: 0,
                    suppressed: 0,
                },
            );
        }
        let Some(w) = self.keys.get_mut(key) else {
            return Verdict::Log;
        };
        if now.duration_since(w.start) >= self.window {
            let suppressed = std::mem::take(&mut w.suppressed);
            w.start = now;
            w.count = 1;
            return if suppressed > 0 {
                Verdict::LogAfterSuppressing(suppressed)
            } else {
                Verdict::Log
            };
        }
        if w.count < self.burst {
            w.count += 1;
            Verdict::Log
        } else {
            w.suppressed += 1;
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_window_with_summary() {
        let mut rl = RateLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let logged = (0..10_000)
            .filter(|_| rl.check("ttl", t0) != Verdict::Suppress)
            .count();
        assert_eq!(logged, 3);
        // Another key has its own budget.
        assert_eq!(rl.check("auth", t0), Verdict::Log);
        // Next window: one line that reports the suppressed ones.
        assert_eq!(
            rl.check("ttl", t0 + Duration::from_secs(10)),
            Verdict::LogAfterSuppressing(9_997)
        );
    }
}
