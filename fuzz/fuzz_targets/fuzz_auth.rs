//! Fuzzes the `auth_hmac` receive path: `parse_payload` on fuzz-chosen IP
//! addresses and payload, then the trailer parser and `Authenticator::verify`
//! (every mode, both anti-replay kinds, a fuzz-chosen clock). Nothing may
//! panic; a trailer that parses must re-emit to the same bytes; whatever the
//! key ring signs must verify once and then be a replay.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrpd::core::auth::{AntiReplay, AuthDrop, Authenticator, KeyRing, Mode, Settings, WallTime};
use vrrpd::core::wire::auth::{append_trailer, parse_payload, HmacKey, Packet, Trailer};

fn take<const N: usize>(data: &mut &[u8]) -> Option<[u8; N]> {
    let (a, rest) = data.split_first_chunk::<N>()?;
    *data = rest;
    Some(*a)
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: bit 0 IPv6, bits 1-2 the mode, bit 3 monotonic; then the clock
    // (8 bytes), the source and destination addresses, then the payload.
    let mut rest = data;
    let Some([sel]) = take::<1>(&mut rest) else { return };
    let Some(clock) = take::<8>(&mut rest) else { return };
    let (src, dst) = if sel & 1 != 0 {
        let (Some(s), Some(d)) = (take::<16>(&mut rest), take::<16>(&mut rest)) else { return };
        (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))
    } else {
        let (Some(s), Some(d)) = (take::<4>(&mut rest), take::<4>(&mut rest)) else { return };
        (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d)))
    };
    let mode = match (sel >> 1) & 3 {
        0 => Mode::ReceiveOnly,
        1 => Mode::Permissive,
        _ => Mode::Enforce,
    };
    let anti_replay = if sel & 8 != 0 {
        AntiReplay::Monotonic
    } else {
        AntiReplay::Time { window_secs: 5 }
    };
    let ring = KeyRing::new([
        HmacKey::new(1, &[0x11; 32]).expect("key"),
        HmacKey::new(2, &[0x22; 64]).expect("key"),
    ]);
    let settings = Settings::new(ring, 1, mode, anti_replay).expect("settings");
    let mut auth = Authenticator::new(settings, &[]);
    let secs = u64::from_be_bytes(clock);
    let now = WallTime { secs, nanos: (secs % 1_000_000_000) as u32 };

    let Ok(r) = parse_payload(rest, src, dst) else { return };
    if let Some(t) = r.trailer {
        if let Ok(p) = Packet::new_checked(t) {
            if let Ok(parsed) = Trailer::parse(&p) {
                assert_eq!(&parsed.to_bytes()[..], t, "trailer re-emits");
            }
        }
    }
    let _ = auth.verify(&src, r.message, r.trailer, now);

    // Sign the parsed advert ourselves: it must verify once, then replay.
    let Ok(mut payload) = r.advert.to_bytes(src, dst, r.mode) else { return };
    let Some(trailer) = auth.sign(&src, &payload, now) else {
        assert!(!mode.signs());
        return;
    };
    append_trailer(&mut payload, src, dst, &trailer).expect("same families");
    let again = parse_payload(&payload, src, dst).expect("signed advert parses");
    let mut receiver = Authenticator::new(auth.settings().clone(), &[]);
    receiver
        .verify(&src, again.message, again.trailer, now)
        .expect("own advert verifies");
    assert!(matches!(
        receiver.verify(&src, again.message, again.trailer, now),
        Err(AuthDrop::Replayed { .. })
    ));
});
