//! Hot paths that must not allocate: a master's adverts, a backup's receive
//! of its master's adverts, a timer expiry, and the gratuitous ARP and
//! unsolicited NA bursts a new master sends, each frame built into one
//! reused buffer.
//!
//! The binary's global allocator counts the allocations each thread makes
//! ([`counting::allocations_in`]); the test harness runs tests on several
//! threads, and only the measured closure's own thread is counted. To add a
//! hot path, build its inputs first, then assert that
//! `allocations_in(|| ...)` is 0 for the loop that must not allocate.
//!
//! Two levels:
//! - the core and the wire code the daemon calls (the state machine, the
//!   in-place parse, the encoder), with no socket: run everywhere;
//! - the daemon itself (`vrrpd::daemon::probe::Probe`: the real protocol
//!   loop, one turn at a time, with its sockets, deadline set, advert cache
//!   and keeper hand-off) in a network namespace, against a real vrrpd
//!   peer: needs root, like the other netns tests.

mod counting {
    //! A global allocator that counts, per thread, every allocation
    //! (`alloc`, `alloc_zeroed`, `realloc`) and hands it to the system one.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// The system allocator, counting.
    pub struct Counting;

    thread_local! {
        // const-initialised and without Drop: reading it never allocates,
        // so the allocator can use it.
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    fn count() {
        // try_with: a thread being torn down may still free and allocate.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    // SAFETY: every call is passed on to `System` unchanged; counting
    // touches only a thread-local Cell.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            // SAFETY: the caller's contract for `alloc`, passed on.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count();
            // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
            // SAFETY: the caller's contract for `realloc`, passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract for `dealloc`, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// How many allocations this thread made while running `f`, and what
    /// `f` returned.
    pub fn allocations_in<R>(f: impl FnOnce() -> R) -> (u64, R) {
        let before = ALLOCATIONS.with(Cell::get);
        let r = f();
        let after = ALLOCATIONS.with(Cell::get);
        (after - before, r)
    }
}

mod common;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{require_root, wait_until, write_config, Lab};
use counting::allocations_in;
use vrrpd::core::router::{Action, GarpPolicy, RouterConfig, State, VirtualRouter};
use vrrpd::core::time::Instant;
use vrrpd::core::types::{Centisecs, Priority, Version, Vrid};
use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};
use vrrpd::core::wire::{
    announcement_into, gratuitous_arp, unsolicited_na, ArpRepr, NdiscFrame, ANNOUNCEMENT_MAX_LEN,
    VRRP_MCAST_V4,
};
use vrrpd::daemon::probe::Probe;
use vrrpd::daemon::rx::accept_view;

const MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];
/// Frames per VIP in a burst (garp_repeat's largest sensible value and then some).
const REPEAT: usize = 100;

fn v4_vips() -> Vec<IpAddr> {
    (1..=20)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
        .collect()
}

fn v6_vips() -> Vec<IpAddr> {
    (1..=20)
        .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)))
        .collect()
}

/// Builds `REPEAT` frames for each VIP into one buffer, as a burst does, and
/// returns how many were built and the sum of their lengths.
fn burst(vips: &[IpAddr], na_src: Ipv6Addr) -> (usize, usize) {
    let mut buf = [0u8; ANNOUNCEMENT_MAX_LEN];
    let (mut frames, mut bytes) = (0, 0);
    for vip in vips {
        for _ in 0..REPEAT {
            let frame = announcement_into(&mut buf, MAC, *vip, na_src).expect("buffer fits");
            bytes += black_box(frame).len();
            frames += 1;
        }
    }
    (frames, bytes)
}

#[test]
fn the_counter_sees_allocations() {
    // The test below could not fail if the counter saw nothing.
    let (n, v) = allocations_in(|| black_box(vec![0u8; 64]));
    assert!(n >= 1, "a Vec was made and the counter saw {n} allocations");
    assert_eq!(v.len(), 64);
    let (n, frame) = allocations_in(|| {
        NdiscFrame::parse(&unsolicited_na(
            MAC,
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
        ))
        .map(|f| f.to_bytes())
    });
    assert!(n >= 1, "to_bytes returns a Vec, the counter saw {n}");
    assert!(frame.is_ok());
}

#[test]
fn garp_burst_allocates_nothing() {
    let vips = v4_vips();
    let (n, (frames, bytes)) = allocations_in(|| burst(&vips, Ipv6Addr::UNSPECIFIED));
    assert_eq!((frames, bytes), (20 * REPEAT, 20 * REPEAT * 42));
    assert_eq!(n, 0, "{n} allocations for {frames} gratuitous ARPs");
}

#[test]
fn na_burst_allocates_nothing() {
    let vips = v6_vips();
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let (n, (frames, bytes)) = allocations_in(|| burst(&vips, src));
    assert_eq!((frames, bytes), (20 * REPEAT, 20 * REPEAT * 86));
    assert_eq!(n, 0, "{n} allocations for {frames} unsolicited NAs");
}

#[test]
fn mixed_burst_builds_the_right_frames_without_allocating() {
    // What the bursts above built is what the byte-exact builders give.
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let vips: Vec<IpAddr> = v4_vips().into_iter().chain(v6_vips()).collect();
    let expected: Vec<Vec<u8>> = vips
        .iter()
        .map(|vip| match vip {
            IpAddr::V4(a) => gratuitous_arp(MAC, *a).to_vec(),
            IpAddr::V6(a) => unsolicited_na(MAC, src, *a).to_vec(),
        })
        .collect();
    let mut buf = [0xa5u8; ANNOUNCEMENT_MAX_LEN];
    let (n, mismatches) = allocations_in(|| {
        let mut mismatches = 0usize;
        for (vip, want) in vips.iter().zip(&expected) {
            let got = announcement_into(&mut buf, MAC, *vip, src).expect("buffer fits");
            mismatches += usize::from(got != &want[..]);
        }
        mismatches
    });
    assert_eq!(mismatches, 0);
    assert_eq!(n, 0, "{n} allocations for {} frames", vips.len());
}

#[test]
fn parsing_a_frame_allocates_nothing() {
    // The parsers run over untrusted bytes in the fuzzers and the tests;
    // they are views and value types, so parsing allocates nothing either.
    let garp = gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, 1));
    let na = unsolicited_na(
        MAC,
        Ipv6Addr::LOCALHOST,
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    );
    let (n, ok) = allocations_in(|| {
        (0..REPEAT).all(|_| {
            ArpRepr::parse_frame(black_box(&garp)).is_ok()
                && NdiscFrame::parse(black_box(&na)).is_ok()
        })
    });
    assert!(ok);
    assert_eq!(n, 0, "{n} allocations for {} parses", 2 * REPEAT);
}

mod auth_hmac {
    //! `auth_hmac`: what the advert keeper does for every copy it sends
    //! (next sequence, finish the HMAC from the presigned state, write the
    //! trailer and the IPv6 checksum), and the receive gate refusing a flood
    //! of forgeries.

    use super::*;
    use vrrpd::core::auth::{next_seq, AntiReplay, KeyRing, Mode, Settings, WallTime};
    use vrrpd::core::peers::{Gate, SourceRules};
    use vrrpd::core::types::{Centisecs, Priority, Version};
    use vrrpd::core::wire::auth::{append_trailer, parse_payload, write_trailer, HmacKey};
    use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};

    const TIME5: AntiReplay = AntiReplay::Time { window_secs: 5 };

    fn advert(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let addrs = if src.is_ipv4() { v4_vips() } else { v6_vips() };
        Advertisement {
            version: Version::V3,
            vrid: 51,
            priority: Priority(200),
            max_adver_int: Centisecs(100),
            addrs: addrs[..4].into(),
            auth: Auth::None,
        }
        .to_bytes(src, dst, ChecksumMode::PseudoHeader)
        .unwrap()
    }

    #[test]
    fn resigning_a_copy_allocates_nothing() {
        let key = HmacKey::new(1, &[0x42; 32]).unwrap();
        let now = WallTime {
            secs: 1_800_000_000,
            nanos: 0,
        };
        for (src, dst) in [
            ("192.0.2.1".parse().unwrap(), "224.0.0.18".parse().unwrap()),
            ("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap()),
        ] {
            let mut bytes: Vec<u8> = advert(src, dst);
            let pre = key.presign(&src, &bytes);
            let first = pre.sign(now.seq());
            append_trailer(&mut bytes, src, dst, &first).unwrap();
            let mut last = Some(first.seq);
            let (n, ()) = allocations_in(|| {
                for _ in 0..REPEAT {
                    let seq = next_seq(last, now, TIME5);
                    let t = pre.sign(seq);
                    write_trailer(black_box(&mut bytes), src, dst, &t).unwrap();
                    last = Some(seq);
                }
            });
            assert_eq!(
                n, 0,
                "{n} allocations for {REPEAT} re-signed copies from {src}"
            );
            // And what it wrote is a valid advert, signed at the last sequence.
            let r = parse_payload(&bytes, src, dst).unwrap();
            assert_eq!(r.trailer.unwrap()[4..12], last.unwrap().0.to_be_bytes());
        }
    }

    #[test]
    fn refusing_forgeries_allocates_nothing() {
        let settings = Settings::new(
            KeyRing::new([HmacKey::new(1, &[0x42; 32]).unwrap()]),
            1,
            Mode::Enforce,
            TIME5,
        )
        .unwrap();
        let peer: IpAddr = "192.0.2.2".parse().unwrap();
        let group: IpAddr = "224.0.0.18".parse().unwrap();
        let mut gate = Gate::new(SourceRules::new(vec![peer], 255), Some(settings));
        let now = WallTime {
            secs: 1_800_000_000,
            nanos: 0,
        };
        let msg = advert(peer, group);
        // A forged tag, an unknown key, a stale capture, no trailer, a stranger.
        let mut bad_tag = [0u8; 28];
        bad_tag[0] = 1;
        bad_tag[1] = 1;
        bad_tag[4..8].copy_from_slice(&(now.secs as u32).to_be_bytes());
        let mut unknown = bad_tag;
        unknown[1] = 9;
        let mut stale = bad_tag;
        stale[4..8].copy_from_slice(&((now.secs - 600) as u32).to_be_bytes());
        let stranger: IpAddr = "192.0.2.66".parse().unwrap();
        let (n, refused) = allocations_in(|| {
            let mut refused = 0;
            for _ in 0..REPEAT {
                for (src, tr) in [
                    (&peer, Some(&bad_tag[..])),
                    (&peer, Some(&unknown[..])),
                    (&peer, Some(&stale[..])),
                    (&peer, None),
                    (&stranger, Some(&bad_tag[..])),
                ] {
                    refused += usize::from(gate.admit(src, 255, &msg, tr, now).is_err());
                }
            }
            refused
        });
        assert_eq!(refused, 5 * REPEAT);
        assert_eq!(n, 0, "{n} allocations for {refused} refused forgeries");
    }
}

// ----- the core and wire paths the daemon calls, without sockets ----------

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 1, 254);

fn router_cfg(last_octet: u8, priority: u8, garp_refresh: Option<Duration>) -> RouterConfig {
    RouterConfig {
        name: format!("R{last_octet}"),
        vrid: Vrid::new(12).unwrap(),
        version: Version::V3,
        priority: Priority(priority),
        advert_interval: Centisecs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        vips: vec![IpAddr::V4(VIP)],
        auth_pass: None,
        primary_ip: IpAddr::V4(Ipv4Addr::new(172, 16, 1, last_octet)),
        garp: GarpPolicy {
            refresh: garp_refresh,
            ..GarpPolicy::default()
        },
    }
}

/// What the daemon does with a router's actions on its hot path: encode an
/// advert into a reused buffer, build announcement frames into one.
/// Returns (adverts, frames) handled.
fn carry_out(r: &mut VirtualRouter, buf: &mut Vec<u8>) -> (usize, usize) {
    let (mut adverts, mut frames) = (0, 0);
    let src = r.config().primary_ip;
    while let Some(action) = r.poll_action() {
        match action {
            Action::SendAdvert(adv) => {
                buf.resize(adv.buffer_len(), 0);
                adv.emit(buf, src, VRRP_MCAST_V4.into(), ChecksumMode::PseudoHeader)
                    .expect("encodes");
                black_box(&buf);
                adverts += 1;
            }
            Action::Announce { repeat } => {
                let mut frame = [0u8; ANNOUNCEMENT_MAX_LEN];
                for vip in &r.config().vips {
                    let f = announcement_into(&mut frame, MAC, *vip, Ipv6Addr::UNSPECIFIED)
                        .expect("buffer fits");
                    frames += usize::from(repeat) * usize::from(!black_box(f).is_empty());
                }
            }
            other => {
                black_box(other);
            }
        }
    }
    (adverts, frames)
}

#[test]
fn a_masters_adverts_and_timers_allocate_nothing_in_the_core() {
    // An address owner is master at once; with a GARP refresh every 50 ms
    // its timers are the Adver_Timer (every 10 ms) and the announce timer.
    let mut r = VirtualRouter::new(router_cfg(1, 255, Some(Duration::from_millis(50))));
    let mut now = Instant::ZERO;
    r.handle_startup(now);
    assert_eq!(r.state(), State::Master);
    let mut buf = Vec::new();
    carry_out(&mut r, &mut buf);
    // One warm-up turn, so that the action queue has its room.
    now = r.poll_timeout().expect("a master has a deadline");
    r.handle_timeout(now);
    carry_out(&mut r, &mut buf);
    let (n, (adverts, frames)) = allocations_in(|| {
        let (mut adverts, mut frames) = (0, 0);
        for _ in 0..1000 {
            let Some(t) = r.poll_timeout() else { break };
            r.handle_timeout(t);
            let (a, f) = carry_out(&mut r, &mut buf);
            adverts += a;
            frames += f;
        }
        (adverts, frames)
    });
    assert!(adverts >= 500, "{adverts} adverts in 1000 timer expiries");
    assert!(frames > 0, "no GARP refresh fired");
    assert_eq!(
        n, 0,
        "{n} allocations for {adverts} adverts and {frames} frames"
    );
}

#[test]
fn a_backups_receive_allocates_nothing_in_the_core() {
    let mut r = VirtualRouter::new(router_cfg(2, 100, None));
    let mut now = Instant::ZERO;
    r.handle_startup(now);
    assert_eq!(r.state(), State::Backup);
    let master: IpAddr = Ipv4Addr::new(172, 16, 1, 1).into();
    let group: IpAddr = VRRP_MCAST_V4.into();
    let bytes = Advertisement {
        version: Version::V3,
        vrid: 12,
        priority: Priority(200),
        max_adver_int: Centisecs(1),
        addrs: vec![IpAddr::V4(VIP)].into(),
        auth: Auth::None,
    }
    .to_bytes(master, group, ChecksumMode::PseudoHeader)
    .unwrap();
    let mut buf = Vec::new();
    let mut receive = |now: Instant| {
        // The daemon's own receive checks (TTL, parse in place), then the router.
        let rx = accept_view(255, &bytes, master, group, 255).expect("accepted");
        r.handle_advert_view(now, master, &rx.advert)
            .expect("accepted");
        carry_out(&mut r, &mut buf);
        r.poll_timeout()
    };
    receive(now);
    let (n, deadline) = allocations_in(|| {
        let mut deadline = None;
        for _ in 0..1000 {
            now += Duration::from_millis(10);
            deadline = receive(now);
        }
        deadline
    });
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.stats().adverts_received, 1001);
    // The Master_Down_Timer moved with every advert.
    assert!(deadline.is_some_and(|t| t > now));
    assert_eq!(n, 0, "{n} allocations for 1000 adverts received");
}

// ----- the daemon itself, in a network namespace ---------------------------

/// A probe's configuration: one instance on `ext0` at 10 ms adverts.
///
/// VIP leases are off (`vip_lease = "0s"`): their renewal, once per
/// `vip_lease_renew` from the same loop (`src/daemon/leases.rs`), allocates
/// (the renewal schedule's ordered set, the batch and its failure list);
/// these tests measure the per-advert path, which must not.
fn probe_config(
    dir: &std::path::Path,
    name: &str,
    priority: u8,
    extra: &str,
) -> std::path::PathBuf {
    write_config(
        dir,
        &format!("{name}.toml"),
        &format!(
            "[global]\nvip_lease = \"0s\"\ncontrol_socket = \"{}/{name}.sock\"\n\
             [[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 12\n\
             priority = {priority}\nversion = 3\nadvert_interval = \"10ms\"\n\
             virtual_ips = [\"172.16.1.254/24\"]\n{extra}",
            dir.display()
        ),
    )
}

/// Runs `f` with a started probe on `host`, in its namespace, with a
/// runtime whose worker thread drives the probe's tokio side.
fn with_probe<T: Send>(
    host: &common::Host,
    config: &std::path::Path,
    f: impl FnOnce(&mut Probe) -> T + Send,
) -> T {
    host.in_netns(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mut probe = rt.block_on(Probe::start(config)).expect("probe starts");
        let _enter = rt.enter();
        f(&mut probe)
    })
}

/// Turns until instance 0 is in `state` (at most `turns`).
fn turn_until(probe: &mut Probe, state: &str, turns: usize) -> bool {
    for _ in 0..turns {
        if probe.instances()[0].0 == state {
            return true;
        }
        probe.turn().expect("turn");
    }
    probe.instances()[0].0 == state
}

#[test]
fn the_daemons_master_adverts_and_timer_expiries_allocate_nothing() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("allocmaster");
    master_allocations(&lab, &hosts, "");
}

/// With `auth_hmac` (enforced on both sides): every advert the loop sends
/// is the kept bytes plus a trailer at a fresh sequence, copied into reused
/// buffers (`Encoded::sign` in `instance.rs`), and the keeper re-signs its
/// copies in place. The peer stays backup only while the signatures verify.
#[test]
fn the_daemons_signed_master_adverts_allocate_nothing() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("allocsigned");
    let auth = signed_extra(&lab);
    master_allocations(&lab, &hosts, &auth);
}

/// An `[instance.auth_hmac]` block (enforced, key 1 in a mode-0600 file in
/// the lab's directory) for both probes' configs.
fn signed_extra(lab: &Lab) -> String {
    let key = lab.dir().join("k1.key");
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .expect("key file");
        std::io::Write::write_all(&mut f, format!("hex:{}\n", "42".repeat(32)).as_bytes())
            .expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    format!(
        "[instance.auth_hmac]\nkeys = {{ 1 = \"file:{}\" }}\nmode = \"enforce\"\n",
        key.display()
    )
}

/// Runs a master probe (`extra` in its instance, and in its peer's) at
/// 10 ms adverts beside a peer, and checks that 150 turns of adverts and
/// timer expiries allocate nothing and that the peer stayed backup.
fn master_allocations(lab: &Lab, hosts: &[common::Host], extra: &str) {
    // A peer that hears the adverts (and would take over if they stopped,
    // or no longer verified).
    let peer = probe_config(lab.dir(), "bal2", 100, extra);
    let mut bal2 = hosts[1].spawn_vrrpd(&peer, &[], "bal2.log");
    // GARP refresh every second: its timer expires inside the measured turns.
    let cfg = probe_config(
        lab.dir(),
        "bal1",
        200,
        &format!("garp_refresh = \"1s\"\n{extra}"),
    );
    let sock = lab.dir().join("bal2.sock");
    let (n, sent, turns) = with_probe(&hosts[0], &cfg, |probe| {
        assert!(turn_until(probe, "MASTER", 2000), "{:?}", probe.instances());
        // Warm-up: the first turns as master fill the advert cache and the
        // keeper's buffers.
        for _ in 0..20 {
            probe.turn().expect("turn");
        }
        let before = probe.instances()[0].1;
        let turns = 150;
        let (n, ()) = allocations_in(|| {
            for _ in 0..turns {
                probe.turn().expect("turn");
            }
        });
        assert_eq!(probe.instances()[0].0, "MASTER");
        (n, probe.instances()[0].1 - before, turns)
    });
    // About 3 s at 10 ms: each turn the loop sends one advert, the keeper
    // one between (both counted).
    assert!(sent >= turns as u64, "{sent} adverts in {turns} turns");
    let peer_instance = || -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&status_of(&sock)).unwrap_or_default()
            ["instances"][0]
            .clone()
    };
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
            peer_instance()["state"] == "BACKUP"
        }),
        "the peer is not a backup: {}",
        bal2.log()
    );
    if extra.contains("auth_hmac") {
        // The peer heard the master's adverts signed, and none unsigned.
        let c = &peer_instance()["counters"];
        let signed = c["auth_signed_received"].as_u64().unwrap_or(0);
        assert!(signed >= turns as u64, "{signed} signed adverts heard: {c}");
        assert_eq!(c["auth_unsigned_received"], 0, "{c}");
    }
    bal2.stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
    assert_eq!(n, 0, "{n} allocations in {turns} turns ({sent} adverts)");
}

#[test]
fn the_daemons_backup_receive_allocates_nothing() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("allocbackup");
    backup_allocations(&lab, &hosts, "");
}

/// With `auth_hmac` enforced: the receive gate (allow-list, TTL, the tag,
/// the replay window) admits every advert without allocating, and the
/// router counts them (a refused advert is not received).
#[test]
fn the_daemons_signed_backup_receive_allocates_nothing() {
    if !require_root() {
        return;
    }
    let (lab, hosts) = Lab::standard("allocsignedbk");
    let auth = signed_extra(&lab);
    backup_allocations(&lab, &hosts, &auth);
}

/// Runs a backup probe (`extra` in its instance, and in its master's) and
/// checks that 200 turns of received adverts allocate nothing.
fn backup_allocations(lab: &Lab, hosts: &[common::Host], extra: &str) {
    let master = probe_config(lab.dir(), "bal2", 200, extra);
    let mut bal2 = hosts[1].spawn_vrrpd(&master, &[], "bal2.log");
    let cfg = probe_config(lab.dir(), "bal1", 100, extra);
    let (n, received, turns) = with_probe(&hosts[0], &cfg, |probe| {
        // Backup from the start; wait until the master's adverts come.
        let mut warm = 0;
        while probe.instances()[0].2 < 20 && warm < 2000 {
            probe.turn().expect("turn");
            warm += 1;
        }
        assert_eq!(probe.instances()[0].0, "BACKUP", "{:?}", probe.instances());
        let before = probe.instances()[0].2;
        let turns = 200;
        let (n, ()) = allocations_in(|| {
            for _ in 0..turns {
                probe.turn().expect("turn");
            }
        });
        assert_eq!(probe.instances()[0].0, "BACKUP");
        (n, probe.instances()[0].2 - before, turns)
    });
    bal2.stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
    // Each turn wakes for an advert (or a few queued together).
    assert!(
        received >= turns as u64 / 2,
        "{received} adverts in {turns} turns"
    );
    assert_eq!(
        n, 0,
        "{n} allocations in {turns} turns ({received} adverts received)"
    );
}

/// `vrrpd status --json` of the daemon at `sock`, or "" if it does not answer.
fn status_of(sock: &std::path::Path) -> String {
    std::process::Command::new(common::vrrpd_bin())
        .args(["--socket"])
        .arg(sock)
        .args(["status", "--json"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
