//! The event loop: the protocol thread, which owns the daemon while it runs,
//! and the tokio task that feeds it the inputs tokio waits for.
//!
//! | input | handler |
//! |---|---|
//! | SIGTERM, SIGINT | leave the loop (then `shutdown.rs`) |
//! | SIGHUP | [`Daemon::on_sighup`] (`reload.rs`) |
//! | the protocol deadline | [`Daemon::on_timers`] (`deadlines.rs`) |
//! | VRRP packets | [`Daemon::on_packet`] (`rx.rs`) |
//! | a netlink event | [`Daemon::on_net_event`] (`net_event.rs`) |
//! | a tracker change | [`Daemon::on_track`] (`tracking.rs`) |
//! | a control request, a metrics scrape | [`Daemon::on_control`], [`Daemon::status`] (`requests.rs`) |
//!
//! After each: [`Daemon::drain`] (`actions.rs`).
//!
//! Why a thread of its own: the protocol's inputs (a timer that fires, a
//! packet that arrives) come every few milliseconds, the others a few times
//! a day. On the protocol thread a master's advert costs one `epoll_pwait2`
//! that times out at the deadline and one `sendmsg` (`poller.rs`), a
//! backup's advert one `epoll_pwait2` and one `recvmmsg`, and neither
//! allocates (`tests/alloc_free.rs`); under a tokio `select!` of every input
//! each wake-up also went through the runtime's drivers and polled ten
//! branches. The inputs tokio waits for reach the thread through the inbox
//! (a channel and an eventfd, [`Input`]); the actions that need tokio
//! (netlink, notify commands) run from the thread on the runtime
//! ([`run_async`]) while tokio's own thread drives their IO. Start-up and
//! shutdown run on tokio as before.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use nix::sys::epoll::EpollEvent;
use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::info;

use super::control::ControlRequest;
use super::metrics::SnapshotRequest;
use super::poller::Poller;
use super::realtime;
use super::rx::RX_QUEUED;
use super::sdnotify::SdNotify;
use super::startup::Inputs;
use super::{os, Daemon, DaemonError};
use crate::core::time::Instant;
use crate::io::netlink::NetEvent;
use crate::io::vrrp_socket::RX_BATCH;
use crate::track::TrackEvent;

/// An input the tokio side hands to the protocol thread.
pub(super) enum Input {
    /// SIGTERM or SIGINT: leave the loop.
    Stop,
    /// SIGHUP.
    Reload,
    /// A netlink event.
    Net(NetEvent),
    /// A tracker change.
    Track(TrackEvent),
    /// A control request, and where its answer goes.
    Control(ControlRequest, oneshot::Sender<String>),
    /// A metrics scrape.
    Metrics(SnapshotRequest),
}

/// The tokio side's end of the inbox.
pub(super) struct Inbox {
    tx: mpsc::Sender<Input>,
    efd: Arc<EventFd>,
}

impl Inbox {
    fn send(&self, input: Input) {
        if self.tx.send(input).is_ok() {
            // Cannot fail short of 2^64 - 1 unread wake-ups.
            let _ = self.efd.write(1);
        }
    }
}

/// The answer to a control request that comes while the daemon stops: an
/// error, not a closed connection.
const STOPPING: &str = r#"{"ok":false,"error":"vrrpd is stopping"}"#;

/// The epoll token of the inbox; sockets are their index in `Daemon::sockets`.
const INBOX: u64 = u64::MAX;

/// How many packets one socket hands over per turn at most: every VRID of
/// an interface from two peers, read together after a receive hold (about
/// half a millisecond of work); more is a flood, and means no hold.
const RX_HELD: usize = 2 * RX_QUEUED;

/// The most events one wait returns (the rest come with the next).
const EVENTS: usize = 32;

/// The protocol thread, started before the instances (so that failing to
/// start it leaves nothing behind) and waiting for the daemon to run.
pub(super) struct ProtocolThread {
    inbox: Inbox,
    /// Hands the started daemon to the thread.
    daemon_tx: mpsc::Sender<Daemon>,
    /// The daemon back, and why the loop ended (`None`: SIGTERM or SIGINT).
    done_rx: oneshot::Receiver<(Daemon, Option<DaemonError>)>,
}

impl ProtocolThread {
    /// Create the protocol thread's loop and start the thread; it waits for
    /// [`Daemon::event_loop`] (dropped instead, it ends).
    pub(super) fn start(rt: Handle, sd: Arc<SdNotify>) -> Result<ProtocolThread, DaemonError> {
        let (inbox, mut protocol) = ProtocolLoop::new(rt, sd)?;
        let (daemon_tx, daemon_rx) = mpsc::channel::<Daemon>();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("vrrpd-loop".into())
            .spawn(move || {
                let Ok(mut d) = daemon_rx.recv() else {
                    return;
                };
                // tokio::spawn and the runtime's IO work from this thread.
                let rt = protocol.rt.clone();
                let _enter = rt.enter();
                let policy = realtime::Policy::current().ok();
                if pins_to_its_cpu(d.keeper.is_some(), policy) {
                    stay_on_this_cpu();
                }
                // A panic hands the daemon back too, so that the shutdown
                // still takes the VIPs away (the panic itself is printed).
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| loop {
                    match protocol.turn(&mut d) {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(e) => break Some(e),
                    }
                }));
                let error = result.unwrap_or_else(|_| {
                    Some(DaemonError::Os {
                        context: "the protocol thread".into(),
                        source: std::io::Error::other("panicked"),
                    })
                });
                // Requests taken or queued but not handled get an answer.
                protocol.answer_pending(&d);
                let _ = done_tx.send((d, error));
            })
            .map_err(os("starting the protocol thread"))?;
        Ok(ProtocolThread {
            inbox,
            daemon_tx,
            done_rx,
        })
    }
}

impl Daemon {
    /// Run the loop on the protocol thread until SIGTERM or SIGINT, or until
    /// it fails, and give the daemon back for the shutdown with the error
    /// that stopped it, if any. `Err` only when the thread is gone without
    /// handing the daemon back (it never is: even a panic hands it back).
    pub(super) async fn event_loop(
        self,
        thread: ProtocolThread,
        inputs: &mut Inputs,
    ) -> Result<(Daemon, Option<DaemonError>), DaemonError> {
        let ProtocolThread {
            inbox,
            daemon_tx,
            mut done_rx,
        } = thread;
        // Once Stop is sent, control requests are answered here: the
        // protocol thread reads no more.
        let mut stopping = false;
        if let Err(mpsc::SendError(d)) = daemon_tx.send(self) {
            let e = DaemonError::Os {
                context: "the protocol thread".into(),
                source: std::io::Error::other("ended before the daemon started"),
            };
            return Ok((d, Some(e)));
        }
        loop {
            tokio::select! {
                biased;
                done = &mut done_rx => {
                    // Those already waiting for the loop are answered too.
                    while let Ok((_, reply)) = inputs.ctl_rx.try_recv() {
                        let _ = reply.send(STOPPING.to_owned());
                    }
                    return done.map_err(|_| DaemonError::Os {
                        context: "the protocol thread".into(),
                        source: std::io::Error::other("stopped without handing the daemon back"),
                    });
                }
                _ = inputs.sigterm.recv() => { info!(signal = "SIGTERM", "stopping"); stopping = true; inbox.send(Input::Stop); }
                _ = inputs.sigint.recv() => { info!(signal = "SIGINT", "stopping"); stopping = true; inbox.send(Input::Stop); }
                _ = inputs.sighup.recv() => inbox.send(Input::Reload),
                Some(ev) = inputs.net_events.recv() => inbox.send(Input::Net(ev)),
                Some(ev) = inputs.track_rx.recv() => inbox.send(Input::Track(ev)),
                Some((req, reply)) = inputs.ctl_rx.recv() => {
                    if stopping {
                        let _ = reply.send(STOPPING.to_owned());
                    } else {
                        inbox.send(Input::Control(req, reply));
                    }
                }
                Some(reply) = inputs.metrics_rx.recv() => inbox.send(Input::Metrics(reply)),
            }
        }
    }
}

/// The protocol thread's loop: its `epoll`, its end of the inbox, and the
/// runtime the daemon's async actions run on.
pub(super) struct ProtocolLoop {
    poller: Poller,
    events: [EpollEvent; EVENTS],
    /// How many of `Daemon::sockets` the poller watches.
    watched: usize,
    inbox: mpsc::Receiver<Input>,
    /// Inputs taken from the inbox that wait for the deadline and the packets.
    later: VecDeque<Input>,
    /// After a turn that read packets: the sockets are read again no
    /// sooner than this (`Daemon::rx_hold` later; the deadlines are kept).
    rx_hold_until: Option<Instant>,
    efd: Arc<EventFd>,
    sd: Arc<SdNotify>,
    rt: Handle,
}

impl ProtocolLoop {
    /// A loop whose async actions run on `rt`, and the inbox's sending end.
    pub(super) fn new(rt: Handle, sd: Arc<SdNotify>) -> Result<(Inbox, ProtocolLoop), DaemonError> {
        let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)
            .map_err(|e| DaemonError::Os {
                context: "creating the protocol thread's inbox (eventfd)".into(),
                source: e.into(),
            })?;
        let efd = Arc::new(efd);
        let (tx, inbox) = mpsc::channel();
        let sender = Inbox {
            tx,
            efd: efd.clone(),
        };
        let poller = Poller::new().map_err(os("creating the protocol thread's epoll"))?;
        poller
            .add(&*efd, INBOX)
            .map_err(os("watching the protocol thread's inbox"))?;
        let protocol = ProtocolLoop {
            poller,
            events: [EpollEvent::empty(); EVENTS],
            watched: 0,
            inbox,
            later: VecDeque::new(),
            rx_hold_until: None,
            efd,
            sd,
            rt,
        };
        Ok((sender, protocol))
    }

    /// One turn: wait for the next input or deadline, then what came, each
    /// input followed by its actions. `false` after [`Input::Stop`].
    pub(super) fn turn(&mut self, d: &mut Daemon) -> Result<bool, DaemonError> {
        // A reload may have opened sockets (it never closes one).
        while self.watched < d.sockets.len() {
            self.poller
                .add(&*d.sockets[self.watched].1, self.watched as u64)
                .map_err(os("watching a VRRP socket"))?;
            self.watched += 1;
        }
        if let Some(k) = &d.keeper {
            k.note_loop_cpu();
        }
        // The hold after a burst of packets (docs/ARCHITECTURE.md, "Fewer
        // wake-ups"): until it is over, or until the next deadline if that
        // is sooner, the thread waits for its inbox only (a stop, a tracker
        // change or a control request is not held); the packets that come
        // meanwhile are read together after it, with one wake-up.
        if let Some(until) = self.rx_hold_until.take() {
            let wake = d.next_deadline().map_or(until, |t| t.min(until));
            let pause = wake.saturating_duration_since(d.clock.now());
            if !pause.is_zero() {
                wait_readable(&*self.efd, pause);
            }
        }
        let timeout = d
            .next_deadline()
            .map(|t| t.saturating_duration_since(d.clock.now()));
        let n = self
            .poller
            .wait(&mut self.events, timeout)
            .map_err(os("waiting for the protocol's inputs (epoll)"))?;
        let rt = &self.rt;
        // The daemon's order, as the simulator models it (tests/sim): stop
        // and reload, the deadline, the packets, then the other inputs; each
        // followed by its actions.
        if self.events[..n].iter().any(|ev| ev.data() == INBOX) {
            let _ = self.efd.read();
            while let Ok(input) = self.inbox.try_recv() {
                match input {
                    Input::Stop => return Ok(false),
                    Input::Reload => {
                        run_async(rt, d.on_sighup(&self.sd));
                        run_async(rt, d.drain());
                    }
                    other => self.later.push_back(other),
                }
            }
        }
        // The deadline before the packets, so that a flood cannot delay a
        // master's adverts (`on_timers` reads the packets already queued
        // first when a backup's timer is due).
        if d.next_deadline().is_some_and(|t| t <= d.clock.now()) {
            d.on_timers();
            run_async(rt, d.drain());
        }
        // Every ready socket is read until it is empty, up to RX_HELD: a
        // hold lets more queue. One still full after that (a flood) means
        // no hold: the thread reads on at once, as fast as it can. A hold
        // costs a wake-up of its own (its end), so it is taken only after a
        // burst, when a socket had more than one packet queued: a single
        // advert (one instance, or adverts out of phase) is not held.
        let (mut burst, mut emptied) = (false, true);
        for ev in &self.events[..n] {
            match usize::try_from(ev.data()) {
                Ok(i) if ev.data() != INBOX => {
                    let (mut got, mut read) = (RX_BATCH, 0);
                    for _ in 0..RX_HELD / RX_BATCH {
                        got = d.read_socket(i, |d| run_async(rt, d.drain()));
                        read += got;
                        if got < RX_BATCH {
                            break;
                        }
                    }
                    burst |= read > 1;
                    emptied &= got < RX_BATCH;
                }
                _ => {}
            }
        }
        if burst && emptied && !d.rx_hold.is_zero() {
            self.rx_hold_until = Some(d.clock.now() + d.rx_hold);
        }
        while let Some(input) = self.later.pop_front() {
            match input {
                Input::Net(ev) => run_async(rt, d.on_net_event(ev)),
                Input::Track(ev) => d.on_track(ev),
                Input::Control(req, reply) => d.on_control(req, reply),
                Input::Metrics(reply) => {
                    let _ = reply.send(d.status());
                }
                // Taken above.
                Input::Stop | Input::Reload => {}
            }
            run_async(rt, d.drain());
        }
        Ok(true)
    }

    /// After the loop: answer what was taken from the inbox or is still in
    /// it, unhandled; a control request with an error ("vrrpd is stopping",
    /// not a closed connection: a `vrrpd maintenance` racing SIGTERM), a
    /// metrics scrape with the status as it is. The rest is dropped.
    fn answer_pending(&mut self, d: &Daemon) {
        let pending = std::mem::take(&mut self.later);
        for input in pending.into_iter().chain(self.inbox.try_iter()) {
            match input {
                Input::Control(_, reply) => {
                    let _ = reply.send(STOPPING.to_owned());
                }
                Input::Metrics(reply) => {
                    let _ = reply.send(d.status());
                }
                Input::Stop | Input::Reload | Input::Net(_) | Input::Track(_) => {}
            }
        }
    }
}

/// Whether the protocol thread stays on its CPU ([`stay_on_this_cpu`]):
/// with the keeper on, and only while the thread runs real-time
/// (`SCHED_RR`, `SCHED_FIFO`). On the normal scheduler (`VRRPD_REALTIME=off`,
/// no `CAP_SYS_NICE`, systemd's `RestrictRealtime`) a pinned thread behind a
/// busy HAProxy on its CPU could not move to the other one, and a backup's
/// Master_Down_Timer would fire late; there the scheduler's migration is
/// what keeps it on time. An unknown policy counts as normal.
fn pins_to_its_cpu(keeper_on: bool, policy: Option<realtime::Policy>) -> bool {
    keeper_on && policy.is_some_and(|p| p.is_realtime())
}

/// Keep the protocol thread on the CPU it runs on now (the advert keeper,
/// which keeps off it, then lives on another one).
///
/// Left free, the thread moved to the other CPU at almost every wake-up:
/// a real-time thread woken from a CPU busy with another one of its
/// priority goes to the other CPU, and in the benchmark's lab a backup is
/// woken by its master's event loop and keeper in turn, from two CPUs (100
/// migrations a second at 10 ms adverts, each a cold cache; keepalived, one
/// thread, 1). Pinned, it waits the few microseconds the waker needs.
fn stay_on_this_cpu() {
    // SAFETY: sched_getcpu has no arguments and no side effects.
    let cpu = unsafe { libc::sched_getcpu() };
    let Ok(cpu) = usize::try_from(cpu) else {
        return;
    };
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set) {
            tracing::warn!(cpu, error = %e, "cannot keep the protocol thread on its CPU");
        }
    }
}

/// Wait until `fd` is readable or `timeout` has passed (`ppoll`, to the
/// nanosecond); an error or a signal ends the wait early, which only makes
/// the hold shorter.
fn wait_readable(fd: &impl std::os::fd::AsRawFd, timeout: std::time::Duration) {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `pfd` and `ts` are valid for the call; no signal mask is passed.
    let _ = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
}

/// Run a future of the daemon on the protocol thread: polled once here,
/// which is all the hot path needs (sending an advert never waits); if it
/// waits (netlink, a notify command queued), the rest runs as
/// `Handle::block_on`, the runtime's own thread driving its IO meanwhile.
pub(super) fn run_async<F: Future>(rt: &Handle, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return out;
    }
    rt.block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(p: libc::c_int) -> Option<realtime::Policy> {
        Some(realtime::Policy {
            policy: p,
            priority: if p == libc::SCHED_OTHER { 0 } else { 10 },
            reset_on_fork: false,
        })
    }

    #[test]
    fn the_protocol_thread_is_pinned_only_when_real_time_with_the_keeper() {
        assert!(pins_to_its_cpu(true, policy(libc::SCHED_RR)));
        assert!(pins_to_its_cpu(true, policy(libc::SCHED_FIFO)));
        // The normal scheduler: left free to migrate.
        assert!(!pins_to_its_cpu(true, policy(libc::SCHED_OTHER)));
        assert!(!pins_to_its_cpu(true, policy(libc::SCHED_BATCH)));
        assert!(!pins_to_its_cpu(true, None));
        // Without the keeper there is no other CPU to keep off.
        assert!(!pins_to_its_cpu(false, policy(libc::SCHED_RR)));
    }
}
