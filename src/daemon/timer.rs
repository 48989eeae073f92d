//! The clock of the protocol: CLOCK_MONOTONIC, as the core's [`Instant`].
//!
//! The protocol thread's timer is the timeout of its `epoll_pwait2`, to the
//! nanosecond (`poller.rs`). tokio's timer wheel ticks in whole milliseconds
//! and rounds every deadline up, which added up to a millisecond to each
//! protocol timer (measured: vrrpd took over about 1 ms later than
//! keepalived at 10 ms adverts); a timerfd after it cost two syscalls per
//! advert (arm, read).

use std::time::Duration;

use nix::time::clock_gettime;

use crate::core::time::Instant;

/// CLOCK_MONOTONIC as the core's [`Instant`]: microseconds since the daemon started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// CLOCK_MONOTONIC at the epoch of our instants.
    base: Duration,
}

fn monotonic() -> Duration {
    // CLOCK_MONOTONIC cannot fail on Linux; a zero would only make the
    // first instants small.
    clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap_or_default()
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock { base: monotonic() }
    }

    /// Now, as the core sees it.
    pub fn now(&self) -> Instant {
        Instant::from_micros(monotonic().saturating_sub(self.base).as_micros() as u64)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_counts_from_its_start_in_microseconds() {
        let clock = Clock::new();
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(3));
        let b = clock.now();
        assert!(b > a);
        assert!((b - a).as_micros() >= 3_000, "{:?}", b - a);
        assert!(a.as_micros() < 1_000_000, "the epoch is the clock's start");
    }
}
