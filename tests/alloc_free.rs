//! Hot paths that must not allocate: the gratuitous ARP and unsolicited NA
//! bursts a new master sends, each frame built into one reused buffer.
//!
//! The binary's global allocator counts the allocations each thread makes
//! ([`counting::allocations_in`]); the test harness runs tests on several
//! threads, and only the measured closure's own thread is counted. To add a
//! hot path, build its inputs first, then assert that
//! `allocations_in(|| ...)` is 0 for the loop that must not allocate.

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

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use counting::allocations_in;
use vrrpd::core::wire::{
    announcement_into, gratuitous_arp, unsolicited_na, ArpRepr, NdiscFrame, ANNOUNCEMENT_MAX_LEN,
};

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
