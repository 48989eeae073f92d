//! The protocol thread's wait: one `epoll` over the VRRP sockets and the
//! inbox's eventfd, whose timeout is the next protocol deadline.
//!
//! `epoll_pwait2` takes the timeout to the nanosecond, so the deadline needs
//! no timer of its own: no timerfd to arm before each wait and to read after
//! it. A master's advert is then one `epoll_pwait2` that times out and one
//! `sendmsg`, as for a bare thread that sleeps and sends (the floor in
//! docs/BENCHMARKS.md). The kernel arms the timeout at `now + timeout` with
//! the thread's timer slack (none for `SCHED_RR`, 1 µs otherwise: see
//! [`super::realtime`]). Kernels before 5.11 lack `epoll_pwait2` (ENOSYS),
//! and seccomp profiles written before it deny it (EPERM, as Docker's and
//! systemd's `SystemCallFilter` do with a system call they do not know);
//! there the wait falls back to `epoll_wait`, whose timeout is whole
//! milliseconds (rounded up, so never early). `epoll_pwait2` is called as
//! the system call itself, not glibc's wrapper (glibc 2.35 and later), so
//! the daemon runs on older userlands too.

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

/// A wait's timeout as the kernel takes it: the only place where a protocol
/// deadline becomes a kernel timer, so its unit tests check what is armed.
#[derive(Debug, Clone, Copy)]
enum KernelTimeout {
    /// `epoll_pwait2`: to the nanosecond; `None` waits without a timeout.
    Nanos(Option<libc::timespec>),
    /// `epoll_wait` (kernels before 5.11): whole milliseconds, rounded up
    /// so that a deadline is never taken early; -1 waits without one.
    Millis(libc::c_int),
}

impl KernelTimeout {
    /// `timeout` for `epoll_pwait2` when the kernel has it, else for
    /// `epoll_wait`; a timeout too long for the kernel's type saturates.
    fn new(timeout: Option<Duration>, pwait2: bool) -> KernelTimeout {
        if pwait2 {
            KernelTimeout::Nanos(timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos() as libc::c_long,
            }))
        } else {
            KernelTimeout::Millis(timeout.map_or(-1, |t| {
                let ms = t.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }))
        }
    }
}

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
        let pwait2 = PWAIT2_ON_THIS_TARGET && !NO_PWAIT2.load(Ordering::Relaxed);
        let n = match KernelTimeout::new(timeout, pwait2) {
            KernelTimeout::Millis(ms) => {
                // SAFETY: `ptr` points to `max` writable epoll_events of
                // `events`, borrowed mutably for the call.
                unsafe { libc::epoll_wait(epfd, ptr, max, ms) }
            }
            KernelTimeout::Nanos(ts) => {
                let tsp = ts
                    .as_ref()
                    .map_or(std::ptr::null(), |t| t as *const libc::timespec);
                // SAFETY: as above for `ptr`; `tsp` is null (no timeout) or
                // points to a timespec that lives for the call.
                unsafe { epoll_pwait2(epfd, ptr, max, tsp) }
            }
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match (e.raw_os_error(), pwait2) {
            (Some(libc::EINTR), _) => Ok(0),
            // No epoll_pwait2 in the kernel (ENOSYS), or a seccomp profile
            // that does not know it (EPERM): epoll_wait from now on. The
            // caller waits again (this wait returns as if interrupted).
            (Some(libc::ENOSYS | libc::EPERM), true) => {
                if !NO_PWAIT2.swap(true, Ordering::Relaxed) {
                    warn!(error = %e, "epoll_pwait2 refused: protocol timers in whole milliseconds");
                }
                Ok(0)
            }
            _ => Err(e),
        }
    }
}

/// `epoll_pwait2(2)` with no signal mask, as the system call itself: glibc's
/// wrapper is only in 2.35 and later. Sets errno and returns -1 on an error.
///
/// # Safety
/// `events` points to `max` writable epoll_events; `timeout` is null or
/// points to a valid timespec; both for the duration of the call.
#[cfg(target_pointer_width = "64")]
unsafe fn epoll_pwait2(
    epfd: libc::c_int,
    events: *mut libc::epoll_event,
    max: libc::c_int,
    timeout: *const libc::timespec,
) -> libc::c_int {
    // SAFETY: the pointers as the caller promised; on 64-bit targets
    // libc::timespec is the kernel's __kernel_timespec; the signal mask is
    // null, so its size (the kernel's sigset_t, 8 bytes) is not read.
    let r = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd,
            events,
            max,
            timeout,
            std::ptr::null::<libc::sigset_t>(),
            8usize,
        )
    };
    // A count of at most `max`, or -1.
    libc::c_int::try_from(r).unwrap_or(-1)
}

/// Whether this target may call `epoll_pwait2` (see [`epoll_pwait2`]); on
/// 32-bit targets libc's timespec is not the kernel's, so they wait with
/// `epoll_wait`.
const PWAIT2_ON_THIS_TARGET: bool = cfg!(target_pointer_width = "64");

#[cfg(not(target_pointer_width = "64"))]
unsafe fn epoll_pwait2(
    _: libc::c_int,
    _: *mut libc::epoll_event,
    _: libc::c_int,
    _: *const libc::timespec,
) -> libc::c_int {
    // Never called: PWAIT2_ON_THIS_TARGET is false.
    nix::errno::Errno::ENOSYS.set();
    -1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_kernel_timer_is_armed_to_the_nanosecond() {
        // What epoll_pwait2 is given is the deadline itself: no rounding,
        // no truncation, seconds kept.
        let ts = |t: Duration| match KernelTimeout::new(Some(t), true) {
            KernelTimeout::Nanos(Some(ts)) => (ts.tv_sec, ts.tv_nsec),
            other => panic!("{other:?}"),
        };
        assert_eq!(ts(Duration::from_nanos(2_050_123)), (0, 2_050_123));
        assert_eq!(ts(Duration::from_nanos(1)), (0, 1));
        assert_eq!(ts(Duration::ZERO), (0, 0));
        assert_eq!(ts(Duration::new(3, 1)), (3, 1));
        assert_eq!(ts(Duration::MAX), (libc::time_t::MAX, 999_999_999));
        assert!(matches!(
            KernelTimeout::new(None, true),
            KernelTimeout::Nanos(None)
        ));
    }

    #[test]
    fn without_epoll_pwait2_the_timeout_is_whole_milliseconds_rounded_up() {
        let ms = |t: Option<Duration>| match KernelTimeout::new(t, false) {
            KernelTimeout::Millis(ms) => ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(ms(Some(Duration::from_micros(2_050))), 3);
        assert_eq!(ms(Some(Duration::from_millis(2))), 2);
        assert_eq!(ms(Some(Duration::from_nanos(1))), 1, "never early");
        assert_eq!(ms(Some(Duration::ZERO)), 0);
        assert_eq!(ms(Some(Duration::MAX)), libc::c_int::MAX);
        assert_eq!(ms(None), -1);
    }

    /// This thread's time spent runnable but waiting for a CPU, from the
    /// kernel's schedstat (`None` without CONFIG_SCHED_INFO).
    fn run_delay() -> Option<Duration> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let ns = s.split_whitespace().nth(1)?.parse().ok()?;
        Some(Duration::from_nanos(ns))
    }

    /// Run `f` with every signal blocked in this thread (restored after):
    /// no EINTR can end a wait early, so a wait that returns before its
    /// timeout woke early.
    fn signals_blocked<T>(f: impl FnOnce() -> T) -> T {
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old)).unwrap();
        let out = f();
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None).unwrap();
        out
    }

    /// How late each of `n` waits of `want` woke, against CLOCK_MONOTONIC,
    /// and the same less the time the thread waited for a CPU meanwhile.
    fn lateness(p: &Poller, want: Duration, n: usize) -> (Vec<Duration>, Vec<Duration>) {
        let mut events = [EpollEvent::empty(); 4];
        let (mut raw, mut own) = (Vec::new(), Vec::new());
        signals_blocked(|| {
            for _ in 0..n {
                let d0 = run_delay();
                let t0 = Instant::now();
                assert_eq!(p.wait(&mut events, Some(want)).unwrap(), 0);
                let took = t0.elapsed();
                let d1 = run_delay();
                // Load can only make a wait later, never earlier.
                assert!(took >= want, "woke early: {took:?} for {want:?}");
                let late = took - want;
                let queued = match (d0, d1) {
                    (Some(a), Some(b)) => b.saturating_sub(a),
                    _ => Duration::ZERO,
                };
                raw.push(late);
                own.push(late.saturating_sub(queued));
            }
        });
        raw.sort();
        own.sort();
        (raw, own)
    }

    #[test]
    fn a_wait_with_nothing_ready_times_out_never_early() {
        // What the kernel's timer is armed with is checked above; here,
        // that a wait with nothing ready returns no event and never before
        // its timeout (signals blocked: no EINTR). How late it wakes
        // depends on the machine's load, so it is measured in
        // `bench_wait_lateness`, not asserted here.
        let p = Poller::new().unwrap();
        for want in [
            Duration::from_micros(2_050),
            Duration::from_micros(1),
            Duration::ZERO,
        ] {
            lateness(&p, want, 10);
        }
    }

    /// A benchmark, not a test: how late the protocol thread's wait wakes.
    /// `cargo test --release --lib daemon::poller::tests::bench_wait_lateness
    /// -- --ignored --nocapture` (docs/BENCHMARKS.md).
    #[test]
    #[ignore]
    fn bench_wait_lateness() {
        let p = Poller::new().unwrap();
        let n = 2_000;
        let (raw, own) = lateness(&p, Duration::from_millis(1), n);
        let pct = |v: &[Duration], q: usize| v[(v.len() - 1) * q / 100].as_micros();
        for (name, v) in [("lateness", &raw), ("less CPU wait", &own)] {
            println!(
                "{name}: {n} waits of 1 ms, p50 {} us, p90 {} us, p99 {} us, max {} us",
                pct(v, 50),
                pct(v, 90),
                pct(v, 99),
                pct(v, 100)
            );
        }
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
