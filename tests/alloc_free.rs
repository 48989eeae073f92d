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
