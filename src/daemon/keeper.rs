//! The advert keeper: a second thread, on another CPU than the event loop,
//! that repeats a master's last advert when the event loop is late.
//!
//! Why: a virtual machine's vCPU can be taken away by the hypervisor for
//! 100 ms and more (steal time). If the event loop's CPU is the one taken,
//! its timer does not fire and the master goes silent for longer than the
//! backup's Master_Down_Interval (36 ms at 10 ms adverts): the backup takes
//! over although nothing failed, and both hold the VIP until the master runs
//! again. The stability benchmark caught exactly this (docs/BENCHMARKS.md).
//! The keeper sleeps on a timer of its own CPU, so it still runs.
//!
//! What it sends: only the advert the event loop itself sent last, byte for
//! byte, to the same destinations, and only
//! - while the instance is master (the event loop withdraws it before any
//!   state change away from master and before a priority-0 advert), and
//! - when the next advert is overdue by 1.5 intervals (2.5 intervals since
//!   the last one, before a backup's 3 intervals + skew),
//! - for at most [`COVER`] after the event loop's own last send: a loop that
//!   stays stuck longer is a fault the peer must see, and it does.
//!
//! What it does not do: anything else. A tracker event or a packet that
//! arrives during the stall is acted on when the loop runs again (at most
//! [`COVER`] later), as it would have been without the keeper.
//!
//! Cost: a wake-up every two advert intervals with one master instance (the
//! keeper sleeps until the next overdue time), at most four per shortest
//! interval with many; the event loop takes an uncontended mutex on each
//! send. Off with `VRRPD_KEEPER=off`, and absent on a single CPU.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::io::vrrp_socket::VrrpSocket;

use super::ratelimit::{RateLimit, Verdict};

/// Environment variable: `off` (or `0`, `no`) disables the keeper.
pub const ENV: &str = "VRRPD_KEEPER";

/// How long after the event loop's own last advert the keeper goes on
/// repeating it.
pub const COVER: Duration = Duration::from_millis(500);

/// How long the keeper sleeps when it keeps nothing (it is woken when an
/// instance becomes master).
const IDLE: Duration = Duration::from_secs(1);

/// One master instance's last advert.
struct Entry {
    name: String,
    socket: Arc<VrrpSocket>,
    /// Encoded adverts and their destinations (the group, or each unicast peer).
    packets: Vec<(Vec<u8>, IpAddr)>,
    interval: Duration,
    /// When an advert last left, from the event loop or the keeper.
    last_sent: Instant,
    /// When the event loop last sent one.
    loop_sent: Instant,
    /// Adverts the keeper sent since then.
    kept: u32,
    /// The instance's count of adverts the keeper sent.
    repeated: Arc<AtomicU64>,
}

impl Entry {
    /// When the keeper steps in: two and a half intervals after the last
    /// advert, 1.5 intervals after the one that should have left. Still
    /// before any backup's Master_Down_Interval (3 intervals + skew), and
    /// late enough that the keeper wakes once every two intervals while the
    /// event loop is on time, not once every interval (each wake-up costs;
    /// on a VM a timer wake-up is a VM exit).
    fn overdue_at(&self) -> Instant {
        self.last_sent + self.interval * 2 + self.interval / 2
    }
}

struct Shared {
    entries: Mutex<HashMap<u64, Entry>>,
    wake: Condvar,
    stop: AtomicBool,
    /// The CPU the event loop last ran on (-1: unknown); the keeper stays
    /// off it, so that its timer lives on another CPU.
    loop_cpu: AtomicI32,
    /// The last slot id handed out.
    last_id: AtomicU64,
}

/// The keeper thread and the event loop's side of it.
pub struct Keeper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// An instance's handle: records its adverts and withdraws them. Dropping it
/// withdraws too.
pub struct KeeperSlot {
    shared: Arc<Shared>,
    id: u64,
    repeated: Arc<AtomicU64>,
}

impl Keeper {
    /// Starts the keeper unless [`ENV`] turns it off or the process may run
    /// on one CPU only; `None` then.
    pub fn start_from_env() -> Option<Keeper> {
        let off = std::env::var(ENV)
            .map(|v| matches!(v.trim(), "off" | "0" | "no" | "false"))
            .unwrap_or(false);
        if off {
            info!("advert keeper off ({ENV})");
            return None;
        }
        let cpus = allowed_cpus();
        if cpus.len() < 2 {
            info!("advert keeper off: one CPU");
            return None;
        }
        let shared = Arc::new(Shared {
            entries: Mutex::new(HashMap::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            loop_cpu: AtomicI32::new(current_cpu()),
            last_id: AtomicU64::new(0),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("vrrpd-keeper".into())
            .spawn(move || {
                // The event loop's SCHED_RR (daemon::realtime) is inherited.
                run(&s, &cpus);
            });
        match thread {
            Ok(t) => {
                info!(cover_ms = COVER.as_millis() as u64, "advert keeper on");
                Some(Keeper {
                    shared,
                    thread: Some(t),
                })
            }
            Err(e) => {
                warn!(error = %e, "advert keeper off: cannot start its thread");
                None
            }
        }
    }

    /// A handle for one instance.
    pub fn slot(&self) -> KeeperSlot {
        KeeperSlot {
            shared: self.shared.clone(),
            id: self.shared.last_id.fetch_add(1, Ordering::Relaxed) + 1,
            repeated: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The event loop calls this when it arms its timer: the keeper keeps
    /// off that CPU.
    pub fn note_loop_cpu(&self) {
        self.shared.loop_cpu.store(current_cpu(), Ordering::Relaxed);
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        lock(&self.shared.entries).clear();
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl KeeperSlot {
    /// The event loop sent `packets` as this master's advert just now.
    pub fn sent(
        &self,
        name: &str,
        socket: &Arc<VrrpSocket>,
        packets: Vec<(Vec<u8>, IpAddr)>,
        interval: Duration,
    ) {
        let now = Instant::now();
        let mut entries = lock(&self.shared.entries);
        if let Some(e) = entries.get_mut(&self.id) {
            // The common case, every advert: no allocation but `packets`.
            if !Arc::ptr_eq(&e.socket, socket) {
                e.socket = socket.clone();
            }
            e.packets = packets;
            e.interval = interval;
            e.last_sent = now;
            e.loop_sent = now;
            e.kept = 0;
            return;
        }
        entries.insert(
            self.id,
            Entry {
                name: name.to_owned(),
                socket: socket.clone(),
                packets,
                interval,
                last_sent: now,
                loop_sent: now,
                kept: 0,
                repeated: self.repeated.clone(),
            },
        );
        drop(entries);
        // A new master: the keeper may be sleeping for IDLE, and its next
        // wake-up is now this entry's.
        self.shared.wake.notify_one();
    }

    /// Adverts the keeper sent for this instance.
    pub fn repeated(&self) -> u64 {
        self.repeated.load(Ordering::Relaxed)
    }

    /// This instance is no longer a master, or is leaving: nothing of it is
    /// sent any more. Returns once the keeper cannot send for it.
    pub fn withdraw(&self) {
        lock(&self.shared.entries).remove(&self.id);
    }
}

impl Drop for KeeperSlot {
    fn drop(&mut self) {
        self.withdraw();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The keeper thread.
fn run(shared: &Shared, cpus: &[usize]) {
    let mut logs = RateLimit::new(5, Duration::from_secs(10));
    let mut avoiding = None;
    let mut entries = lock(&shared.entries);
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut next = now + IDLE;
        let mut shortest = IDLE;
        let mut stalls = vec![];
        for e in entries.values_mut() {
            shortest = shortest.min(e.interval);
            if now.duration_since(e.loop_sent) > COVER {
                // The event loop is hung, not late: the peer must see it.
                continue;
            }
            if now >= e.overdue_at() {
                for (bytes, dst) in &e.packets {
                    // Errors are the event loop's to see (a dead link sends
                    // nothing either way).
                    let _ = e.socket.send(bytes, *dst);
                }
                if e.kept == 0 {
                    stalls.push((e.name.clone(), now.duration_since(e.last_sent)));
                }
                e.last_sent = now;
                e.kept += 1;
                e.repeated.fetch_add(1, Ordering::Relaxed);
            }
            next = next.min(e.overdue_at());
        }
        if !stalls.is_empty() {
            // One line per stall (its first repeat), at a bounded rate, and
            // without the lock: a slow log sink must not hold up the event
            // loop's next send.
            drop(entries);
            for (name, late) in stalls {
                match logs.check(&name, now) {
                    Verdict::Suppress => {}
                    v => warn!(
                        instance = %name,
                        late_ms = late.as_millis() as u64,
                        suppressed = match v { Verdict::LogAfterSuppressing(n) => n, _ => 0 },
                        "event loop late: the advert keeper repeats the last advert until it runs again"
                    ),
                }
            }
            entries = lock(&shared.entries);
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        // Many instances' adverts are spread over the interval: wake at most
        // every quarter of the shortest one, not once per instance (1000
        // instances at 100 ms: 40 wake-ups a second, not 10000). A repeat is
        // then at most a quarter interval later than its due time.
        next = next.max(now + shortest / 4);
        // Sleep on a CPU the event loop is not on: the timer of this wait is
        // queued on the CPU that starts it.
        let cpu = shared.loop_cpu.load(Ordering::Relaxed);
        if avoiding != Some(cpu) {
            avoid_cpu(cpus, cpu);
            avoiding = Some(cpu);
        }
        let wait = next.saturating_duration_since(Instant::now());
        entries = match shared.wake.wait_timeout(entries, wait) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => vec![],
    }
}

/// Restricts the calling thread to `cpus` minus `cpu` (when that leaves any).
fn avoid_cpu(cpus: &[usize], cpu: i32) {
    let mut set = nix::sched::CpuSet::new();
    let mut any = false;
    for &c in cpus {
        if c as i32 != cpu && set.set(c).is_ok() {
            any = true;
        }
    }
    if any {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn current_cpu() -> i32 {
    // SAFETY: sched_getcpu has no arguments and no side effects.
    unsafe { libc::sched_getcpu() }
}
