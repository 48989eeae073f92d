//! The protocol thread's wait: one `epoll` over the VRRP sockets and the
//! inbox's eventfd, whose timeout is the next protocol deadline.
//!
//! `epoll_pwait2` takes the timeout to the nanosecond, so the deadline needs
//! no timer of its own: no timerfd to arm before each wait and to read after
//! it. A master's advert is then one `epoll_pwait2` that times out and one
//! `sendmsg`, as for a bare thread that sleeps and sends (the floor in
//! docs/BENCHMARKS.md). The kernel arms the timeout at `now + timeout` with
//! the thread's timer slack (none for `SCHED_RR`, 1 µs otherwise: see
//! [`super::realtime`]). Kernels before 5.11 lack `epoll_pwait2`; there the
//! wait falls back to `epoll_wait`, whose timeout is whole milliseconds
//! (rounded up, so never early).

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use tracing::warn;

/// The `epoll` instance of the protocol thread.
pub(super) struct Poller {
    epoll: Epoll,
}

/// Set once the kernel said it has no `epoll_pwait2`.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

impl Poller {
    /// An empty poller.
    pub fn new() -> io::Result<Poller> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(io::Error::from)?;
        Ok(Poller { epoll })
    }

    /// Watch `fd` for reading (level-triggered: what is not read now wakes
    /// the next wait at once); `token` comes back in its events.
    pub fn add<F: AsFd>(&self, fd: F, token: u64) -> io::Result<()> {
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))
            .map_err(io::Error::from)
    }

    /// Wait until a watched fd is readable or `timeout` has passed (`None`:
    /// no timeout); the ready ones are the first returned entries of
    /// `events`. An interrupted wait returns 0.
    pub fn wait(&self, events: &mut [EpollEvent], timeout: Option<Duration>) -> io::Result<usize> {
        let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        let epfd = self.epoll.0.as_raw_fd();
        // EpollEvent is repr(transparent) over libc::epoll_event.
        let ptr = events.as_mut_ptr().cast::<libc::epoll_event>();
        let n = if NO_PWAIT2.load(Ordering::Relaxed) {
            let ms = timeout.map_or(-1, |t| {
                // Rounded up: a deadline is never taken early.
                let ms = t.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            });
            // SAFETY: `ptr` points to `max` writable epoll_events of
            // `events`, borrowed mutably for the call.
            unsafe { libc::epoll_wait(epfd, ptr, max, ms) }
        } else {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let tsp = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: as above for `ptr`; `tsp` is null (no timeout) or
            // points to a timespec that lives for the call; no signal mask.
            unsafe { libc::epoll_pwait2(epfd, ptr, max, tsp, std::ptr::null()) }
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => Ok(0),
            Some(libc::ENOSYS) if !NO_PWAIT2.swap(true, Ordering::Relaxed) => {
                warn!("the kernel has no epoll_pwait2: protocol timers in whole milliseconds");
                Ok(0)
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn times_out_at_the_deadline_not_a_millisecond_later() {
        // Never early; not rounded to a millisecond.
        let p = Poller::new().unwrap();
        let mut events = [EpollEvent::empty(); 4];
        let mut late = Vec::new();
        for _ in 0..20 {
            let t0 = Instant::now();
            let want = Duration::from_micros(2_050);
            assert_eq!(p.wait(&mut events, Some(want)).unwrap(), 0);
            let took = t0.elapsed();
            assert!(took >= want, "woke early: {took:?}");
            late.push((took - want).as_micros());
        }
        late.sort();
        // A timeout rounded up to whole milliseconds (epoll_wait, tokio's
        // timer) is 950 us late at the least; a nanosecond one is a few us
        // late when the thread gets the CPU at once. The fastest of 20 is
        // that one even on a busy machine.
        assert!(late[0] < 500, "lateness {late:?} us");
    }

    #[test]
    fn a_readable_fd_wakes_the_wait_and_stays_ready_until_read() {
        let p = Poller::new().unwrap();
        let efd = nix::sys::eventfd::EventFd::from_value_and_flags(
            0,
            nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
        )
        .unwrap();
        p.add(&efd, 7).unwrap();
        let mut events = [EpollEvent::empty(); 4];
        assert_eq!(p.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        efd.write(1).unwrap();
        for _ in 0..2 {
            // Level-triggered: still ready while unread.
            assert_eq!(p.wait(&mut events, None).unwrap(), 1);
            assert_eq!(events[0].data(), 7);
        }
        efd.read().unwrap();
        assert_eq!(p.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    }
}
