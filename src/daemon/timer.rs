//! The clock and the one timer of the event loop: CLOCK_MONOTONIC, and a
//! timerfd armed at an absolute deadline.
//!
//! tokio's timer wheel ticks in whole milliseconds and rounds every deadline
//! up, which adds up to a millisecond to each protocol timer (measured: vrrpd
//! took over about 1 ms later than keepalived at 10 ms adverts). A timerfd
//! with `TFD_TIMER_ABSTIME` fires at the deadline itself, to the kernel's
//! timer slack (set to 1 µs by [`super::realtime`]).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::clock_gettime;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

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

    /// The CLOCK_MONOTONIC time of an instant.
    fn absolute(&self, t: Instant) -> Duration {
        self.base + Duration::from_micros(t.as_micros())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// A timerfd, so that tokio can poll it.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A one-shot timer at an absolute deadline.
pub(super) struct DeadlineTimer {
    fd: AsyncFd<Fd>,
    clock: Clock,
    /// The deadline it is armed for, to skip needless re-arming.
    armed: Option<Instant>,
}

impl DeadlineTimer {
    /// A disarmed timer on `clock`. Needs a tokio runtime with IO.
    pub fn new(clock: Clock) -> io::Result<Self> {
        let tfd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // SAFETY: `Fd` owns the timerfd (an OwnedFd inside TimerFd), which
        // stays open and unchanged until the AsyncFd drops it; as_raw_fd
        // always returns that fd.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(tfd), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(DeadlineTimer {
            fd,
            clock,
            armed: None,
        })
    }

    /// Arm for `at` (a deadline already past fires at once), or disarm.
    pub fn arm(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let tfd = &self.fd.get_ref().0;
        match at {
            Some(t) => {
                let ts = TimeSpec::from_duration(self.clock.absolute(t));
                tfd.set(
                    Expiration::OneShot(ts),
                    TimerSetTimeFlags::TFD_TIMER_ABSTIME,
                )
            }
            None => tfd.unset(),
        }
        .map_err(io::Error::from)?;
        self.armed = at;
        Ok(())
    }

    /// Wait until the armed deadline has passed. Cancel-safe: dropping the
    /// future leaves the timer armed.
    pub async fn expired(&mut self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                // Cannot happen with a valid fd; do not spin.
                std::future::pending::<()>().await;
                return;
            };
            let mut buf = [0u8; 8];
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut buf).map_err(io::Error::from)
            }) {
                Ok(Ok(_)) => {
                    // One read takes every expiration, so the fd is no
                    // longer readable: say so now rather than learn it from
                    // an EAGAIN read on the next wait (one syscall per
                    // advert). A later expiry is a new edge from epoll.
                    guard.clear_ready();
                    self.armed = None;
                    return;
                }
                // Spurious readiness (EAGAIN) or an error: wait again.
                Ok(Err(_)) | Err(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel holds the deadline itself, to the nanosecond, not a rounded one (as tokio's
    /// millisecond wheel would): the remaining time read back with timerfd_gettime, taken
    /// between two clock reads, brackets the absolute deadline. Nothing here depends on how
    /// busy the machine is; how late the wake-up is on a quiet machine is a benchmark's
    /// question, not a test's.
    #[tokio::test(flavor = "current_thread")]
    async fn armed_at_the_exact_deadline_and_never_fires_early() {
        let clock = Clock::new();
        let mut t = DeadlineTimer::new(clock).unwrap();
        for i in 0..5u64 {
            // Odd microseconds, so that any rounding to a millisecond shows.
            let deadline = clock.now() + Duration::from_micros(30_000 + 1_237 * i);
            t.arm(Some(deadline)).unwrap();
            let before = monotonic();
            let left = match t.fd.get_ref().0.get().unwrap() {
                Some(Expiration::OneShot(ts)) => Duration::from(ts),
                other => panic!("armed one-shot expected, got {other:?}"),
            };
            let after = monotonic();
            let at = clock.absolute(deadline);
            assert!(
                before + left <= at && at <= after + left,
                "armed for {left:?} from now, deadline {at:?}, read between {before:?} and {after:?}"
            );
            t.expired().await;
            assert!(clock.now() >= deadline, "fired early");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn past_deadline_fires_at_once_and_disarm_holds() {
        let clock = Clock::new();
        let mut t = DeadlineTimer::new(clock).unwrap();
        t.arm(Some(Instant::ZERO)).unwrap();
        tokio::time::timeout(Duration::from_secs(1), t.expired())
            .await
            .expect("a past deadline fires");
        t.arm(Some(clock.now() + Duration::from_millis(20)))
            .unwrap();
        t.arm(None).unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(60), t.expired())
                .await
                .is_err(),
            "a disarmed timer does not fire"
        );
    }
}
