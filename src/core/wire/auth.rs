//! The HMAC authentication trailer of keepalived 2.4.3's `auth_hmac` (the
//! `draft-cassen-vrrp-auth-hmac` format): 28 bytes after the VRRP message,
//! carrying a key id, a time-based sequence number and an HMAC-SHA256 tag
//! truncated to 128 bits.
//!
//! [`Packet`] is a zero-copy view of the trailer and [`Trailer`] its value
//! (smoltcp style). [`tag`] computes the tag over the pseudo-header
//! ([`pseudo_header`]), the VRRP message with its checksum read as zero, and
//! the trailer with its tag read as zero. [`split`], [`parse_payload`] and
//! [`append_trailer`] find the trailer in a received IP payload, check the
//! VRRP checksum where it lies for each family, and add a trailer to an
//! emitted advert.
//!
//! The layout and the HMAC input were learnt from keepalived 2.4.3's
//! documentation and source (`vrrp_auth_hmac.c`) and checked against its
//! packets (`tests/data/captures/keepalived-2.4.3-hmac-*.pcap`); no code was
//! taken from it.
//!
//! Where the VRRP checksum lies differs by family, as keepalived sends it:
//! over IPv4 (v2 and v3) it covers the VRRP message only, the trailer is
//! outside it (the v3 pseudo-header carries the message length); over IPv6
//! the kernel computes it (`IPV6_CHECKSUM`) over the whole payload, trailer
//! included, with the payload length in the RFC 8200 pseudo-header.

use std::fmt;
use std::net::IpAddr;
use std::ops::Range;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::checksum;
use super::vrrp::{self, AdvertView, Advertisement, ChecksumMode};
use super::{Family, WireError, IPPROTO_VRRP};

/// Length of the trailer on the wire.
pub const TRAILER_LEN: usize = 28;
/// Length of the truncated tag (HMAC-SHA256, left 128 bits).
pub const TAG_LEN: usize = 16;
/// The only extension type: HMAC-SHA256 truncated to 128 bits.
pub const EXT_TYPE_HMAC_SHA256_128: u8 = 1;
/// Length of the pseudo-header bound into the tag.
pub const PSEUDO_LEN: usize = 20;
/// The shortest key accepted (bytes): 128 bits of margin even against a quantum search.
pub const KEY_MIN: usize = 32;
/// The longest key accepted (bytes): one SHA-256 block, so a key is never hashed down first.
pub const KEY_MAX: usize = 64;

/// The trailer bytes before the tag.
const PREFIX_LEN: usize = 12;
/// The VRRP Checksum field (RFC 5798 Section 5.2.8), read as zero in the tag input.
const VRRP_CHECKSUM: Range<usize> = 6..8;

mod field {
    use std::ops::Range;
    /// Extension type, [`super::EXT_TYPE_HMAC_SHA256_128`].
    pub const EXT_TYPE: usize = 0;
    /// Id of the key that made the tag, 1..=255.
    pub const KEY_ID: usize = 1;
    /// Zero on send; a trailer with anything else is malformed.
    pub const RESERVED: Range<usize> = 2..4;
    /// Sequence, high 32 bits: UTC seconds since the Unix epoch (mod 2^32).
    pub const SECS: Range<usize> = 4..8;
    /// Sequence, next 16 bits: the fraction of the second in 1/65536 s.
    pub const SUBSEC: Range<usize> = 8..10;
    /// Sequence, low 16 bits: a counter for two adverts in one tick.
    pub const CTR: Range<usize> = 10..12;
    /// Everything before the tag: bound into the tag as it is.
    pub const PREFIX: Range<usize> = 0..super::PREFIX_LEN;
    /// The truncated HMAC.
    pub const TAG: Range<usize> = 12..28;
}

/// The 64-bit sequence number of a trailer: seconds (32 bits), a 1/65536 s
/// fraction (16 bits) and a counter (16 bits). Ordered with serial number
/// arithmetic (RFC 1982), so that it survives the wrap of the seconds field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u64);

impl Seq {
    /// A sequence from its three fields.
    pub const fn from_parts(secs: u32, subsec: u16, ctr: u16) -> Seq {
        Seq(((secs as u64) << 32) | ((subsec as u64) << 16) | ctr as u64)
    }

    /// The sequence a sender takes from a wall-clock reading (Unix time), with
    /// the counter at zero: seconds mod 2^32 and the fraction in 1/65536 s.
    pub const fn from_unix(secs: u64, nanos: u32) -> Seq {
        let subsec = ((nanos as u64) << 16) / 1_000_000_000;
        Seq::from_parts(secs as u32, subsec as u16, 0)
    }

    /// The seconds field.
    pub const fn secs(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction-of-a-second field, in 1/65536 s.
    pub const fn subsec(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The counter field.
    pub const fn ctr(self) -> u16 {
        self.0 as u16
    }

    /// Whether `self` comes after `other` (RFC 1982 serial arithmetic over 64 bits).
    pub const fn is_after(self, other: Seq) -> bool {
        (self.0.wrapping_sub(other.0) as i64) > 0
    }

    /// The next sequence number (wrapping).
    pub const fn succ(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }

    /// Seconds from `self` to `later`, in serial arithmetic over the 32-bit
    /// seconds field (negative when `later` is earlier).
    pub const fn secs_until(self, later_secs: u32) -> i32 {
        later_secs.wrapping_sub(self.secs()) as i32
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:05}#{}", self.secs(), self.subsec(), self.ctr())
    }
}

/// A zero-copy view of the authentication trailer.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Ext Type    |    Key ID     |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sequence: UTC seconds (mod 2^32)              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Sequence: 1/65536 seconds   |       Sequence: counter       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +          HMAC-SHA256(key, input), left 128 bits               +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// After [`Packet::new_checked`] no accessor panics.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checks; accessors panic if it is shorter than
    /// [`TRAILER_LEN`]. Use [`Packet::new_checked`] on untrusted bytes.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` and runs [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The trailer has a fixed size: exactly [`TRAILER_LEN`] bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        match self.buffer.as_ref().len() {
            TRAILER_LEN => Ok(()),
            n if n < TRAILER_LEN => Err(WireError::Truncated),
            n => Err(WireError::BufferLength {
                needed: TRAILER_LEN,
                got: n,
            }),
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Ext Type field.
    pub fn ext_type(&self) -> u8 {
        self.buffer.as_ref()[field::EXT_TYPE]
    }

    /// The Key ID field.
    pub fn key_id(&self) -> u8 {
        self.buffer.as_ref()[field::KEY_ID]
    }

    /// The Reserved field.
    pub fn reserved(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::RESERVED];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The sequence number (its three fields together).
    pub fn seq(&self) -> Seq {
        let b = self.buffer.as_ref();
        let secs = &b[field::SECS];
        let subsec = &b[field::SUBSEC];
        let ctr = &b[field::CTR];
        Seq::from_parts(
            u32::from_be_bytes([secs[0], secs[1], secs[2], secs[3]]),
            u16::from_be_bytes([subsec[0], subsec[1]]),
            u16::from_be_bytes([ctr[0], ctr[1]]),
        )
    }

    /// The bytes before the tag, as they are bound into the tag.
    pub fn prefix(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PREFIX]
    }

    /// The tag.
    pub fn tag(&self) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&self.buffer.as_ref()[field::TAG]);
        tag
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Ext Type field.
    pub fn set_ext_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::EXT_TYPE] = value;
    }

    /// Sets the Key ID field.
    pub fn set_key_id(&mut self, value: u8) {
        self.buffer.as_mut()[field::KEY_ID] = value;
    }

    /// Sets the Reserved field.
    pub fn set_reserved(&mut self, value: u16) {
        self.buffer.as_mut()[field::RESERVED].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the three sequence fields.
    pub fn set_seq(&mut self, seq: Seq) {
        let b = self.buffer.as_mut();
        b[field::SECS].copy_from_slice(&seq.secs().to_be_bytes());
        b[field::SUBSEC].copy_from_slice(&seq.subsec().to_be_bytes());
        b[field::CTR].copy_from_slice(&seq.ctr().to_be_bytes());
    }

    /// Sets the tag.
    pub fn set_tag(&mut self, tag: &[u8; TAG_LEN]) {
        self.buffer.as_mut()[field::TAG].copy_from_slice(tag);
    }
}

/// The value of a trailer. Its tag is kept as received: whether it is right
/// is the business of [`verify_tag`], with the key and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trailer {
    /// The id of the key the tag was made with.
    pub key_id: u8,
    /// The sender's sequence number.
    pub seq: Seq,
    /// The truncated HMAC.
    pub tag: [u8; TAG_LEN],
}

impl Trailer {
    /// Reads a checked trailer. Refuses an unknown Ext Type and a non-zero
    /// Reserved field (keepalived counts both as "malformed").
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Trailer, WireError> {
        packet.check_len()?;
        if packet.ext_type() != EXT_TYPE_HMAC_SHA256_128 {
            return Err(WireError::TrailerType(packet.ext_type()));
        }
        if packet.reserved() != 0 {
            return Err(WireError::TrailerReserved(packet.reserved()));
        }
        Ok(Trailer {
            key_id: packet.key_id(),
            seq: packet.seq(),
            tag: packet.tag(),
        })
    }

    /// The length of the emitted trailer, [`TRAILER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        TRAILER_LEN
    }

    /// Writes the trailer (Ext Type 1, Reserved 0) into a checked packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_ext_type(EXT_TYPE_HMAC_SHA256_128);
        packet.set_key_id(self.key_id);
        packet.set_reserved(0);
        packet.set_seq(self.seq);
        packet.set_tag(&self.tag);
    }

    /// The trailer's bytes.
    pub fn to_bytes(&self) -> [u8; TRAILER_LEN] {
        let mut buf = [0u8; TRAILER_LEN];
        self.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }

    /// The bytes before the tag, as they are bound into the tag.
    pub fn prefix(&self) -> [u8; PREFIX_LEN] {
        let mut buf = [0u8; TRAILER_LEN];
        Trailer {
            tag: [0; TAG_LEN],
            ..*self
        }
        .emit(&mut Packet::new_unchecked(&mut buf[..]));
        let mut prefix = [0u8; field::PREFIX.end];
        prefix.copy_from_slice(&buf[field::PREFIX]);
        prefix
    }
}

/// Why a key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Key ids are 1..=255.
    #[error("key id 0 is not allowed (1..=255)")]
    ZeroId,
    /// Shorter than [`KEY_MIN`] or longer than [`KEY_MAX`] bytes.
    #[error("the key is {0} bytes; it must be {KEY_MIN} to {KEY_MAX} bytes")]
    Length(usize),
}

/// A key ready to make and check tags: its id and the HMAC-SHA256 state
/// already keyed with it (the inner and outer pads), cloned for each tag.
/// The key bytes themselves are not kept; the keyed state is wiped on drop.
#[derive(Clone)]
pub struct HmacKey {
    id: u8,
    mac: hmac::Hmac<Sha256>,
}

impl HmacKey {
    /// A key of id `id` (1..=255) from `secret` ([`KEY_MIN`]..=[`KEY_MAX`] bytes).
    pub fn new(id: u8, secret: &[u8]) -> Result<HmacKey, KeyError> {
        if id == 0 {
            return Err(KeyError::ZeroId);
        }
        if !(KEY_MIN..=KEY_MAX).contains(&secret.len()) {
            return Err(KeyError::Length(secret.len()));
        }
        let mac = hmac::Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| KeyError::Length(secret.len()))?;
        Ok(HmacKey { id, mac })
    }

    /// The key id.
    pub const fn id(&self) -> u8 {
        self.id
    }

    /// The keyed state with the pseudo-header and `message` fed in: what a
    /// tag of this message from this source starts from, whatever the
    /// sequence (see [`Presigned`]).
    fn absorb_message(&self, pseudo: &[u8; PSEUDO_LEN], message: &[u8]) -> hmac::Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(pseudo);
        // The message with the checksum read as zero: the checksum depends on
        // the IP addresses (and, over IPv6, on the trailer itself), so it is
        // left out.
        let (head, rest) = message.split_at(VRRP_CHECKSUM.start.min(message.len()));
        mac.update(head);
        if !rest.is_empty() {
            mac.update(&[0u8; 2][..(VRRP_CHECKSUM.len()).min(rest.len())]);
            mac.update(rest.get(VRRP_CHECKSUM.len()..).unwrap_or_default());
        }
        mac
    }

    /// `message` from `src`, ready to be signed with this key at any
    /// sequence (the advert keeper signs the same message again for every copy).
    pub fn presign(&self, src: &IpAddr, message: &[u8]) -> Presigned {
        Presigned {
            key_id: self.id,
            mac: self.absorb_message(&pseudo_header_for(message, src), message),
        }
    }
}

/// A VRRP message from one source with the keyed HMAC state already past the
/// pseudo-header and the message: [`Presigned::sign`] only feeds the 28
/// trailer bytes and finishes, with no allocation. Wiped on drop.
#[derive(Clone)]
pub struct Presigned {
    key_id: u8,
    mac: hmac::Hmac<Sha256>,
}

impl Presigned {
    /// The id of the key it signs with.
    pub const fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The state with the trailer (tag read as zero) fed in too.
    fn finish(&self, prefix: &[u8; PREFIX_LEN]) -> hmac::Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(prefix);
        mac.update(&[0u8; TAG_LEN]);
        mac
    }

    /// The trailer of the message at sequence `seq`.
    pub fn sign(&self, seq: Seq) -> Trailer {
        let prefix = Trailer {
            key_id: self.key_id,
            seq,
            tag: [0; TAG_LEN],
        }
        .prefix();
        let full = self.finish(&prefix).finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        Trailer {
            key_id: self.key_id,
            seq,
            tag,
        }
    }

    /// Whether `trailer` (whose key id the caller matched) is right for the
    /// message, compared in constant time.
    fn verify(&self, trailer: &Trailer) -> bool {
        let prefix = Trailer {
            tag: [0; TAG_LEN],
            ..*trailer
        }
        .prefix();
        self.finish(&prefix)
            .verify_truncated_left(&trailer.tag)
            .is_ok()
    }
}

impl fmt::Debug for Presigned {
    /// Never shows key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigned")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HmacKey {
    /// Never shows key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The pseudo-header bound into the tag: the address family (4 or 6), the
/// VRRP version, the VRID, a zero byte, then the IP source address, zero
/// padded to 16 bytes. It ties a tag to one sender of one virtual router, so
/// a tag cannot be moved onto another instance or another source; the rest of
/// the IP header is left out (it changes across routers in unicast).
pub fn pseudo_header(version: u8, vrid: u8, src: &IpAddr) -> [u8; PSEUDO_LEN] {
    let mut out = [0u8; PSEUDO_LEN];
    out[1] = version;
    out[2] = vrid;
    match src {
        IpAddr::V4(a) => {
            out[0] = 4;
            out[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out[0] = 6;
            out[4..20].copy_from_slice(&a.octets());
        }
    }
    out
}

/// The pseudo-header for `message` sent from `src`, its version and VRID
/// read from the message (0 for both if it is shorter than the header).
pub fn pseudo_header_for(message: &[u8], src: &IpAddr) -> [u8; PSEUDO_LEN] {
    let version = message.first().map_or(0, |b| b >> 4);
    let vrid = message.get(1).copied().unwrap_or(0);
    pseudo_header(version, vrid, src)
}

/// The tag of `message` (the VRRP message, without trailer) sent from `src`
/// with a trailer whose id and sequence are `key.id()` and `seq`.
///
/// Input, in order: [`pseudo_header`]; the message with its checksum bytes
/// read as zero; the 12 trailer bytes before the tag; 16 zero bytes in place
/// of the tag. HMAC-SHA256 of that, left 16 bytes.
pub fn tag(key: &HmacKey, src: &IpAddr, message: &[u8], seq: Seq) -> [u8; TAG_LEN] {
    key.presign(src, message).sign(seq).tag
}

/// A trailer for `message` from `src`, signed with `key` at sequence `seq`.
pub fn sign(key: &HmacKey, src: &IpAddr, message: &[u8], seq: Seq) -> Trailer {
    key.presign(src, message).sign(seq)
}

/// Whether `trailer`'s tag is right for `message` from `src` under `key`
/// (compared in constant time). The caller picks `key` by the trailer's key id.
pub fn verify_tag(key: &HmacKey, src: &IpAddr, message: &[u8], trailer: &Trailer) -> bool {
    key.presign(src, message).verify(trailer)
}

/// A received IP payload split into the VRRP message and, when the payload is
/// exactly [`TRAILER_LEN`] bytes longer than the message its header announces,
/// the trailer. Any other length leaves the whole payload as the message (so
/// that the VRRP parser reports the length error).
pub fn split(payload: &[u8], family: Family) -> (&[u8], Option<&[u8]>) {
    match vrrp::message_len(payload, family) {
        Ok(len) if payload.len() == len + TRAILER_LEN => {
            let (message, trailer) = payload.split_at(len);
            (message, Some(trailer))
        }
        _ => (payload, None),
    }
}

/// A received advert whose trailer, if any, is still to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<'a> {
    /// The advert.
    pub advert: Advertisement,
    /// The checksum form the message was sent with.
    pub mode: ChecksumMode,
    /// The VRRP message bytes (the tag input).
    pub message: &'a [u8],
    /// The trailer bytes, when the payload carries one. Not yet parsed: a
    /// malformed trailer is the authentication layer's drop to count.
    pub trailer: Option<&'a [u8]>,
}

/// [`Received`] with the advert parsed in place ([`AdvertView`]: its
/// addresses left in the bytes): the daemon's receive path, which allocates
/// nothing.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedView<'a> {
    /// The advert, in place.
    pub advert: AdvertView<'a>,
    /// The checksum form the message was sent with.
    pub mode: ChecksumMode,
    /// The VRRP message bytes (the tag input).
    pub message: &'a [u8],
    /// The trailer bytes, when the payload carries one. Not yet parsed: a
    /// malformed trailer is the authentication layer's drop to count.
    pub trailer: Option<&'a [u8]>,
}

/// Parses an IP payload that may end in an authentication trailer, checking
/// the VRRP checksum where the sender puts it: over the message alone for
/// IPv4 (as [`Advertisement::parse`] does), over message and trailer for IPv6.
/// Without a trailer this is [`Advertisement::parse`].
pub fn parse_payload(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Received<'_>, WireError> {
    parse_payload_view(payload, src, dst).map(|r| Received {
        advert: r.advert.to_advertisement(),
        mode: r.mode,
        message: r.message,
        trailer: r.trailer,
    })
}

/// [`parse_payload`] with the advert parsed in place: the same checks, no
/// allocation.
pub fn parse_payload_view(
    payload: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> Result<ReceivedView<'_>, WireError> {
    let family = Family::of(&src);
    if family != Family::of(&dst) {
        return Err(WireError::FamilyMismatch);
    }
    let (message, trailer) = split(payload, family);
    let (advert, mode) = match (trailer, family) {
        (Some(_), Family::Ipv6) => {
            // RFC 8200 Section 8.1: the upper-layer checksum covers the whole payload.
            let packet = vrrp::Packet::new_checked(message, family)?;
            if packet.msg_type() != vrrp::TYPE_ADVERTISEMENT {
                return Err(WireError::BadType(packet.msg_type()));
            }
            let pseudo = checksum::pseudo_header(&src, &dst, IPPROTO_VRRP, payload.len())
                .ok_or(WireError::FamilyMismatch)?;
            if checksum::combine(&[pseudo, checksum::data(payload)]) != 0xffff {
                return Err(WireError::BadChecksum);
            }
            (
                AdvertView::from_packet(&packet)?,
                ChecksumMode::PseudoHeader,
            )
        }
        _ => AdvertView::parse(message, src, dst)?,
    };
    Ok(ReceivedView {
        advert,
        mode,
        message,
        trailer,
    })
}

/// Appends `trailer` to `payload`, an emitted VRRP message from `src` to
/// `dst`, and for IPv6 recomputes the VRRP checksum over the whole payload
/// (for IPv4 the message's checksum already is the right one).
pub fn append_trailer(
    payload: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    trailer: &Trailer,
) -> Result<(), WireError> {
    if Family::of(&src) != Family::of(&dst) {
        return Err(WireError::FamilyMismatch);
    }
    if payload.len() < vrrp::HEADER_LEN {
        return Err(WireError::Truncated);
    }
    payload.extend_from_slice(&[0u8; TRAILER_LEN]);
    write_trailer(payload, src, dst, trailer)
}

/// Overwrites the last [`TRAILER_LEN`] bytes of `payload` (a signed advert
/// from `src` to `dst`) with `trailer`, and for IPv6 recomputes the VRRP
/// checksum that covers it. No allocation: the advert keeper re-signs each
/// copy it sends with this.
pub fn write_trailer(
    payload: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    trailer: &Trailer,
) -> Result<(), WireError> {
    let family = Family::of(&src);
    if family != Family::of(&dst) {
        return Err(WireError::FamilyMismatch);
    }
    let Some(at) = payload.len().checked_sub(TRAILER_LEN) else {
        return Err(WireError::Truncated);
    };
    if at < vrrp::HEADER_LEN {
        return Err(WireError::Truncated);
    }
    trailer.emit(&mut Packet::new_unchecked(&mut payload[at..]));
    if family == Family::Ipv6 {
        // RFC 8200 Section 8.1: the checksum covers the whole payload.
        payload[VRRP_CHECKSUM].fill(0);
        let pseudo = checksum::pseudo_header(&src, &dst, IPPROTO_VRRP, payload.len())
            .ok_or(WireError::FamilyMismatch)?;
        let sum = !checksum::combine(&[pseudo, checksum::data(payload)]);
        payload[VRRP_CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{Centisecs, Priority, Version};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Key id 1 of tests/data/captures/hmac-v3ipv4-*.conf: 00 01 .. 1f.
    fn key1() -> HmacKey {
        let bytes: Vec<u8> = (0u8..32).collect();
        HmacKey::new(1, &bytes).unwrap()
    }

    /// Key id 5 of tests/data/captures/hmac-v3ipv6-*.conf: 40 41 .. 7f (64 bytes).
    fn key5() -> HmacKey {
        let bytes: Vec<u8> = (0x40u8..0x80).collect();
        HmacKey::new(5, &bytes).unwrap()
    }

    // keepalived 2.4.3, VRRPv3 over IPv4 from 192.0.2.1 to 224.0.0.18, vrid 61,
    // priority 200, 100 cs, VIP 192.0.2.61, key id 1; the first advert of
    // keepalived-2.4.3-hmac-v3ipv4.pcap.
    static V3V4_PAYLOAD: [u8; 40] = [
        0x31, 0x3d, 0xc8, 0x01, 0x00, 0x64, 0xa1, 0x8e, // VRRP header
        0xc0, 0x00, 0x02, 0x3d, // 192.0.2.61
        0x01, 0x01, 0x00, 0x00, // type 1, key id 1, reserved
        0x6b, 0x13, 0xef, 0x6c, 0x1b, 0x62, 0x00, 0x00, // sequence
        0x79, 0xbf, 0x5a, 0xcc, 0xe1, 0x7b, 0x73, 0xba, // tag
        0xf2, 0xba, 0xf6, 0x01, 0xeb, 0x31, 0x9f, 0xae,
    ];

    // keepalived 2.4.3, VRRPv3 over IPv6 from fe80::ff:fe00:1 to ff02::12, vrid
    // 62, priority 200, 100 cs, VIPs fe80::62 and 2001:db8::62, key id 5; the
    // first advert of keepalived-2.4.3-hmac-v3ipv6.pcap. The checksum (8fd3)
    // covers the trailer.
    static V3V6_PAYLOAD: [u8; 68] = [
        0x31, 0x3e, 0xc8, 0x02, 0x00, 0x64, 0x8f, 0xd3, // VRRP header
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x62, // fe80::62
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x62, // 2001:db8::62
        0x01, 0x05, 0x00, 0x00, // type 1, key id 5, reserved
        0x6b, 0x13, 0xef, 0x8d, 0xf5, 0x74, 0x00, 0x00, // sequence
        0x09, 0x07, 0x8d, 0xaf, 0x5c, 0xa4, 0xea, 0x71, // tag
        0xdf, 0x58, 0x1c, 0x3b, 0xa2, 0x25, 0x7f, 0x9c,
    ];

    fn v3v4_hdr() -> (IpAddr, IpAddr) {
        (v4("192.0.2.1"), v4("224.0.0.18"))
    }

    fn v3v6_hdr() -> (IpAddr, IpAddr) {
        (v6("fe80::ff:fe00:1"), v6("ff02::12"))
    }

    fn v3v4_trailer() -> Trailer {
        Trailer {
            key_id: 1,
            seq: Seq::from_parts(0x6b13_ef6c, 0x1b62, 0),
            tag: V3V4_PAYLOAD[24..40].try_into().unwrap(),
        }
    }

    #[test]
    fn test_packet_accessors() {
        let p = Packet::new_checked(&V3V4_PAYLOAD[12..]).unwrap();
        assert_eq!(p.ext_type(), 1);
        assert_eq!(p.key_id(), 1);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.seq(), Seq::from_parts(0x6b13_ef6c, 0x1b62, 0));
        assert_eq!(p.seq().secs(), 1_796_468_588);
        assert_eq!(p.seq().subsec(), 0x1b62);
        assert_eq!(p.seq().ctr(), 0);
        assert_eq!(p.prefix(), &V3V4_PAYLOAD[12..24]);
        assert_eq!(&p.tag()[..], &V3V4_PAYLOAD[24..]);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&V3V4_PAYLOAD[12..]).unwrap();
        assert_eq!(Trailer::parse(&p).unwrap(), v3v4_trailer());
    }

    #[test]
    fn test_emit() {
        assert_eq!(v3v4_trailer().to_bytes()[..], V3V4_PAYLOAD[12..]);
        assert_eq!(v3v4_trailer().buffer_len(), TRAILER_LEN);
    }

    #[test]
    fn test_parse_bad_ext_type() {
        let mut bytes: [u8; TRAILER_LEN] = V3V4_PAYLOAD[12..].try_into().unwrap();
        bytes[0] = 2;
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Trailer::parse(&p), Err(WireError::TrailerType(2)));
    }

    #[test]
    fn test_parse_bad_reserved() {
        let mut bytes: [u8; TRAILER_LEN] = V3V4_PAYLOAD[12..].try_into().unwrap();
        bytes[3] = 1;
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Trailer::parse(&p), Err(WireError::TrailerReserved(1)));
    }

    #[test]
    fn test_check_len() {
        for n in 0..TRAILER_LEN {
            assert_eq!(
                Packet::new_checked(&V3V4_PAYLOAD[12..12 + n]).err(),
                Some(WireError::Truncated)
            );
        }
        assert!(Packet::new_checked(&V3V6_PAYLOAD[..29]).is_err());
    }

    #[test]
    fn test_tag_matches_keepalived_v3_ipv4() {
        let (src, _) = v3v4_hdr();
        let t = sign(&key1(), &src, &V3V4_PAYLOAD[..12], v3v4_trailer().seq);
        assert_eq!(t, v3v4_trailer());
        assert!(verify_tag(&key1(), &src, &V3V4_PAYLOAD[..12], &t));
    }

    #[test]
    fn test_tag_matches_keepalived_v3_ipv6() {
        let (src, dst) = v3v6_hdr();
        let r = parse_payload(&V3V6_PAYLOAD, src, dst).unwrap();
        let p = Packet::new_checked(r.trailer.unwrap()).unwrap();
        let t = Trailer::parse(&p).unwrap();
        assert_eq!(t.key_id, 5);
        assert!(verify_tag(&key5(), &src, r.message, &t));
        // Re-signing at the captured sequence gives the captured trailer.
        assert_eq!(sign(&key5(), &src, r.message, t.seq), t);
    }

    #[test]
    fn test_tag_ignores_checksum_field() {
        // The checksum is read as zero: another value does not change the tag.
        let (src, _) = v3v4_hdr();
        let mut msg = V3V4_PAYLOAD[..12].to_vec();
        msg[6] ^= 0xff;
        msg[7] ^= 0x55;
        assert!(verify_tag(&key1(), &src, &msg, &v3v4_trailer()));
    }

    #[test]
    fn test_tag_binds_everything_else() {
        let (src, _) = v3v4_hdr();
        let t = v3v4_trailer();
        let msg = &V3V4_PAYLOAD[..12];
        // Every bit of the message outside the checksum.
        for i in (0..msg.len()).filter(|i| !VRRP_CHECKSUM.contains(i)) {
            for bit in 0..8 {
                let mut m = msg.to_vec();
                m[i] ^= 1 << bit;
                assert!(!verify_tag(&key1(), &src, &m, &t), "byte {i} bit {bit}");
            }
        }
        // The source address (pseudo-header), the key id, the sequence, the tag.
        assert!(!verify_tag(&key1(), &v4("192.0.2.2"), msg, &t));
        let other_key = HmacKey::new(2, &(0u8..32).collect::<Vec<_>>()).unwrap();
        assert!(!verify_tag(
            &other_key,
            &src,
            msg,
            &Trailer { key_id: 2, ..t }
        ));
        assert!(!verify_tag(
            &key1(),
            &src,
            msg,
            &Trailer {
                seq: t.seq.succ(),
                ..t
            }
        ));
        let mut tag = t.tag;
        tag[15] ^= 1;
        assert!(!verify_tag(&key1(), &src, msg, &Trailer { tag, ..t }));
        // Same id, other bytes.
        let wrong = HmacKey::new(1, &[0x55; 32]).unwrap();
        assert!(!verify_tag(&wrong, &src, msg, &t));
    }

    #[test]
    fn test_pseudo_header() {
        assert_eq!(
            pseudo_header(3, 61, &v4("192.0.2.1")),
            [4, 3, 61, 0, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let p = pseudo_header(3, 62, &v6("fe80::ff:fe00:1"));
        assert_eq!(&p[..4], &[6, 3, 62, 0]);
        assert_eq!(
            p[4..],
            Ipv6Addr::from([0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1]).octets()
        );
    }

    #[test]
    fn test_key_lengths() {
        assert_eq!(HmacKey::new(1, &[0; 31]).err(), Some(KeyError::Length(31)));
        assert_eq!(HmacKey::new(1, &[0; 65]).err(), Some(KeyError::Length(65)));
        assert_eq!(HmacKey::new(0, &[0; 32]).err(), Some(KeyError::ZeroId));
        assert!(HmacKey::new(255, &[0; 32]).is_ok());
        assert!(HmacKey::new(1, &[0; 64]).is_ok());
        assert_eq!(format!("{:?}", key1()), "HmacKey { id: 1, .. }");
    }

    #[test]
    fn test_split() {
        let (msg, tr) = split(&V3V4_PAYLOAD, Family::Ipv4);
        assert_eq!(msg, &V3V4_PAYLOAD[..12]);
        assert_eq!(tr, Some(&V3V4_PAYLOAD[12..]));
        // No trailer: the whole payload.
        assert_eq!(
            split(&V3V4_PAYLOAD[..12], Family::Ipv4),
            (&V3V4_PAYLOAD[..12], None)
        );
        // One byte more or less than message + trailer: no trailer either.
        assert_eq!(split(&V3V4_PAYLOAD[..39], Family::Ipv4).1, None);
        let mut long = V3V4_PAYLOAD.to_vec();
        long.push(0);
        assert_eq!(split(&long, Family::Ipv4).1, None);
        // Too short for a header.
        assert_eq!(split(&V3V4_PAYLOAD[..4], Family::Ipv4).1, None);
    }

    #[test]
    fn test_parse_payload_ipv4() {
        let (src, dst) = v3v4_hdr();
        let r = parse_payload(&V3V4_PAYLOAD, src, dst).unwrap();
        assert_eq!(r.advert.vrid, 61);
        assert_eq!(r.advert.priority, Priority(200));
        assert_eq!(r.mode, ChecksumMode::PseudoHeader);
        assert_eq!(r.message, &V3V4_PAYLOAD[..12]);
        assert_eq!(r.trailer, Some(&V3V4_PAYLOAD[12..]));
        // The IPv4 checksum does not cover the trailer: a flipped tag bit still parses.
        let mut bytes = V3V4_PAYLOAD;
        bytes[39] ^= 1;
        assert!(parse_payload(&bytes, src, dst).is_ok());
        // ... and a flipped message bit does not.
        bytes[2] ^= 1;
        assert_eq!(parse_payload(&bytes, src, dst), Err(WireError::BadChecksum));
    }

    #[test]
    fn test_parse_payload_ipv6_checksum_covers_trailer() {
        let (src, dst) = v3v6_hdr();
        let r = parse_payload(&V3V6_PAYLOAD, src, dst).unwrap();
        assert_eq!(&*r.advert.addrs, [v6("fe80::62"), v6("2001:db8::62")]);
        assert_eq!(r.trailer, Some(&V3V6_PAYLOAD[40..]));
        let mut bytes = V3V6_PAYLOAD;
        bytes[67] ^= 1;
        assert_eq!(parse_payload(&bytes, src, dst), Err(WireError::BadChecksum));
        let mut bytes = V3V6_PAYLOAD;
        bytes[0] = 0x32;
        assert_eq!(parse_payload(&bytes, src, dst), Err(WireError::BadType(2)));
    }

    #[test]
    fn test_parse_payload_without_trailer_is_parse() {
        let (src, dst) = v3v4_hdr();
        let r = parse_payload(&V3V4_PAYLOAD[..12], src, dst).unwrap();
        assert_eq!(r.trailer, None);
        assert_eq!(
            (r.advert, r.mode),
            Advertisement::parse(&V3V4_PAYLOAD[..12], src, dst).unwrap()
        );
        // Any other extra length is the parser's length error.
        assert!(matches!(
            parse_payload(&V3V4_PAYLOAD[..20], src, dst),
            Err(WireError::CountMismatch { .. })
        ));
        assert_eq!(
            parse_payload(&V3V4_PAYLOAD, src, v6("ff02::12")),
            Err(WireError::FamilyMismatch)
        );
    }

    #[test]
    fn test_append_trailer_gives_keepalived_bytes() {
        for (payload, (src, dst), key, msg_len) in [
            (&V3V4_PAYLOAD[..], v3v4_hdr(), key1(), 12),
            (&V3V6_PAYLOAD[..], v3v6_hdr(), key5(), 40),
        ] {
            let r = parse_payload(payload, src, dst).unwrap();
            let seq = Packet::new_checked(r.trailer.unwrap()).unwrap().seq();
            let mut out = r.advert.to_bytes(src, dst, r.mode).unwrap();
            assert_eq!(out.len(), msg_len);
            let t = sign(&key, &src, &out, seq);
            append_trailer(&mut out, src, dst, &t).unwrap();
            assert_eq!(out, payload);
        }
    }

    #[test]
    fn test_presigned_signs_like_sign() {
        let (src, dst) = v3v6_hdr();
        let r = parse_payload(&V3V6_PAYLOAD, src, dst).unwrap();
        let captured = Trailer::parse(&Packet::new_checked(r.trailer.unwrap()).unwrap()).unwrap();
        let pre = key5().presign(&src, r.message);
        assert_eq!(pre.key_id(), 5);
        assert_eq!(pre.sign(captured.seq), captured);
        // One presigned message, many sequences: each tag is the one `sign` makes.
        for seq in [Seq(1), captured.seq.succ(), Seq(u64::MAX)] {
            assert_eq!(pre.sign(seq), sign(&key5(), &src, r.message, seq));
            assert!(verify_tag(&key5(), &src, r.message, &pre.sign(seq)));
        }
        assert_eq!(format!("{pre:?}"), "Presigned { key_id: 5, .. }");
    }

    #[test]
    fn test_write_trailer_resigns_in_place() {
        // A signed advert re-signed at another sequence, in place, is the
        // advert signed at that sequence from scratch (IPv6: checksum too).
        for (payload, (src, dst), key) in [
            (&V3V4_PAYLOAD[..], v3v4_hdr(), key1()),
            (&V3V6_PAYLOAD[..], v3v6_hdr(), key5()),
        ] {
            let r = parse_payload(payload, src, dst).unwrap();
            let seq = Packet::new_checked(r.trailer.unwrap())
                .unwrap()
                .seq()
                .succ();
            let t = sign(&key, &src, r.message, seq);
            let mut fresh = r.message.to_vec();
            append_trailer(&mut fresh, src, dst, &t).unwrap();
            let mut inplace = payload.to_vec();
            write_trailer(&mut inplace, src, dst, &t).unwrap();
            assert_eq!(inplace, fresh);
            assert!(parse_payload(&inplace, src, dst).is_ok());
        }
        let (src, dst) = v3v4_hdr();
        let t = v3v4_trailer();
        assert_eq!(
            write_trailer(&mut [0u8; TRAILER_LEN + 7], src, dst, &t),
            Err(WireError::Truncated)
        );
        assert_eq!(
            write_trailer(&mut V3V4_PAYLOAD.clone(), src, v6("ff02::12"), &t),
            Err(WireError::FamilyMismatch)
        );
    }

    #[test]
    fn test_seq() {
        assert_eq!(
            Seq::from_unix(1, 500_000_000),
            Seq::from_parts(1, 0x8000, 0)
        );
        assert_eq!(Seq::from_unix(1, 999_999_999).subsec(), 0xffff);
        assert_eq!(Seq::from_unix(0x1_0000_0005, 0).secs(), 5);
        let a = Seq::from_parts(10, 0, 0);
        assert!(a.succ().is_after(a));
        assert!(!a.is_after(a));
        assert!(!a.is_after(a.succ()));
        // Across the wrap of the seconds field.
        let last = Seq::from_parts(u32::MAX, 0xffff, 0xffff);
        assert!(last.succ().is_after(last));
        assert!(Seq::from_parts(2, 0, 0).is_after(last));
        assert_eq!(a.secs_until(13), 3);
        assert_eq!(a.secs_until(7), -3);
        assert_eq!(Seq::from_parts(u32::MAX, 0, 0).secs_until(1), 2);
        assert_eq!(
            Seq::from_parts(0x6b13_ef6c, 0x1b62, 7).to_string(),
            "1796468588.07010#7"
        );
    }

    fn arb_trailer() -> impl Strategy<Value = Trailer> {
        (any::<u8>(), any::<u64>(), any::<[u8; TAG_LEN]>()).prop_map(|(key_id, seq, tag)| Trailer {
            key_id,
            seq: Seq(seq),
            tag,
        })
    }

    fn arb_v3_ipv4() -> impl Strategy<Value = (Advertisement, IpAddr, IpAddr)> {
        (
            any::<u8>(),
            any::<u8>(),
            0u16..=4095,
            proptest::collection::vec(any::<[u8; 4]>(), 0..=20),
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
        )
            .prop_map(|(vrid, prio, cs, addrs, s, d)| {
                (
                    Advertisement {
                        version: Version::V3,
                        vrid,
                        priority: Priority(prio),
                        max_adver_int: Centisecs(cs),
                        addrs: addrs
                            .into_iter()
                            .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
                            .collect(),
                        auth: vrrp::Auth::None,
                    },
                    IpAddr::V4(Ipv4Addr::from(s)),
                    IpAddr::V4(Ipv4Addr::from(d)),
                )
            })
    }

    fn arb_v3_ipv6() -> impl Strategy<Value = (Advertisement, IpAddr, IpAddr)> {
        (
            any::<u8>(),
            any::<u8>(),
            0u16..=4095,
            proptest::collection::vec(any::<[u8; 16]>(), 0..=10),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
        )
            .prop_map(|(vrid, prio, cs, addrs, s, d)| {
                (
                    Advertisement {
                        version: Version::V3,
                        vrid,
                        priority: Priority(prio),
                        max_adver_int: Centisecs(cs),
                        addrs: addrs
                            .into_iter()
                            .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
                            .collect(),
                        auth: vrrp::Auth::None,
                    },
                    IpAddr::V6(Ipv6Addr::from(s)),
                    IpAddr::V6(Ipv6Addr::from(d)),
                )
            })
    }

    fn arb_v2() -> impl Strategy<Value = (Advertisement, IpAddr, IpAddr)> {
        (arb_v3_ipv4(), 1u16..=255).prop_map(|((adv, s, d), secs)| {
            (
                Advertisement {
                    version: Version::V2,
                    max_adver_int: Centisecs(secs * 100),
                    ..adv
                },
                s,
                d,
            )
        })
    }

    proptest! {
        #[test]
        fn prop_trailer_roundtrip(t in arb_trailer()) {
            let bytes = t.to_bytes();
            let p = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Trailer::parse(&p).unwrap(), t);
        }

        #[test]
        fn prop_signed_payload_roundtrip(
            (adv, src, dst) in prop_oneof![arb_v3_ipv4(), arb_v3_ipv6(), arb_v2()],
            seq in any::<u64>(),
            key_bytes in proptest::collection::vec(any::<u8>(), KEY_MIN..=KEY_MAX),
            id in 1u8..=255,
        ) {
            let key = HmacKey::new(id, &key_bytes).unwrap();
            let mut payload = adv.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap();
            let t = sign(&key, &src, &payload, Seq(seq));
            append_trailer(&mut payload, src, dst, &t).unwrap();
            prop_assert_eq!(payload.len(), adv.buffer_len() + TRAILER_LEN);
            let r = parse_payload(&payload, src, dst).unwrap();
            prop_assert_eq!(&r.advert, &adv);
            let parsed = Trailer::parse(&Packet::new_checked(r.trailer.unwrap()).unwrap()).unwrap();
            prop_assert_eq!(parsed, t);
            prop_assert!(verify_tag(&key, &src, r.message, &parsed));
        }

        #[test]
        fn prop_parse_payload_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..96),
            v6 in any::<bool>(),
        ) {
            let (src, dst) = if v6 { v3v6_hdr() } else { v3v4_hdr() };
            if let Ok(r) = parse_payload(&bytes, src, dst) {
                if let Some(t) = r.trailer {
                    if let Ok(t) = Trailer::parse(&Packet::new_checked(t).unwrap()) {
                        let _ = verify_tag(&key1(), &src, r.message, &t);
                    }
                }
            }
        }
    }
}
