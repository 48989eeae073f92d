//! The VRRP advertisement: VRRPv2 (RFC 3768 Section 5) and VRRPv3 (RFC 5798
//! Section 5 as updated by RFC 9568), over IPv4 and IPv6.
//!
//! [`Packet`] is a zero-copy view over the VRRP message (the IP payload);
//! [`Advertisement`] is its value. The IP header is not part of the message:
//! the caller passes the IP source and destination, which decide the address
//! family and feed the checksum pseudo-header.
//!
//! The receive path of the daemon parses into an [`AdvertView`] instead: the
//! same checks, the same fields ([`AdvertFields`]), and the address list left
//! in the received bytes, so that an advert costs no allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::checksum;
use super::{Family, WireError, IPPROTO_VRRP};
use crate::core::types::{Centisecs, Priority, Version};

/// The only VRRP packet type, ADVERTISEMENT (RFC 3768 Section 5.3.2, RFC 5798 Section 5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// Length of the fixed header, before the addresses.
pub const HEADER_LEN: usize = 8;

/// Length of the VRRPv2 Authentication Data trailer (RFC 3768 Section 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;

/// VRRPv2 Auth Type 0, no authentication (RFC 3768 Section 5.3.6).
pub const AUTH_TYPE_NONE: u8 = 0;

/// VRRPv2 Auth Type 1, simple text password (RFC 2338 Section 5.3.6.2; kept by
/// RFC 3768 only as a reserved value, but still sent by keepalived `auth_type PASS`).
pub const AUTH_TYPE_SIMPLE: u8 = 1;

mod field {
    pub type Field = core::ops::Range<usize>;
    /// Version (high nibble) and Type (low nibble).
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2 only.
    pub const AUTH_TYPE: usize = 4;
    /// v2 only, whole seconds.
    pub const ADVER_INT: usize = 5;
    /// v3 only: 4 reserved bits, then the 12-bit Max Adver Int in centiseconds.
    pub const RSVD_MAX_ADVER_INT: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const ADDRS: usize = 8;
}

/// How the checksum of a VRRPv3 IPv4 advertisement is computed.
///
/// RFC 5798 Section 5.2.8 (kept by RFC 9568) takes the checksum over the
/// message and a pseudo-header "as defined in Section 8.1 of RFC 2460" (an
/// IPv6 definition). For IPv4 most implementations (keepalived, FRR, Wireshark)
/// read this as the IPv4 pseudo-header; others (Cisco; keepalived's
/// `v3_checksum_as_v2`) sum the message only, as VRRPv2 does. A receiver
/// accepts either and learns which one the sender used.
///
/// VRRPv2 is always [`ChecksumMode::MessageOnly`] (RFC 3768 Section 5.3.8) and
/// VRRPv3 over IPv6 always [`ChecksumMode::PseudoHeader`] (RFC 8200 Section 8.1):
/// for those the mode given to [`Advertisement::emit`] is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumMode {
    /// The pseudo-header (IPv4: src, dst, 0, 112, length; IPv6: RFC 8200 Section 8.1)
    /// plus the VRRP message. The keepalived 2.2 and FRR 8.4 default.
    PseudoHeader,
    /// The VRRP message alone, as in VRRPv2.
    MessageOnly,
}

/// The VRRPv2 authentication (RFC 3768 Section 5.3.6), kept raw so that any
/// received value round-trips; deciding whether it is acceptable is the
/// router's job, not the parser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Type 0. The 8 data bytes are still on the wire, zero on transmission and
    /// ignored on reception (RFC 3768 Section 5.3.10). Always this for VRRPv3.
    None,
    /// Type 1, an 8-byte password sent in clear (RFC 2338 Section 5.3.6.2).
    SimplePassword([u8; 8]),
    /// Any other type (2 was IP AH in RFC 2338), with its data as received.
    Other {
        /// The Auth Type field; never 0 or 1.
        auth_type: u8,
        /// The Authentication Data field.
        data: [u8; 8],
    },
}

impl Auth {
    /// The Auth Type field value.
    pub const fn auth_type(&self) -> u8 {
        match self {
            Auth::None => AUTH_TYPE_NONE,
            Auth::SimplePassword(_) => AUTH_TYPE_SIMPLE,
            Auth::Other { auth_type, .. } => *auth_type,
        }
    }

    /// The Authentication Data field value.
    pub const fn data(&self) -> [u8; 8] {
        match self {
            Auth::None => [0; 8],
            Auth::SimplePassword(data) | Auth::Other { data, .. } => *data,
        }
    }

    fn from_wire(auth_type: u8, data: [u8; 8]) -> Auth {
        match auth_type {
            AUTH_TYPE_NONE => Auth::None,
            AUTH_TYPE_SIMPLE => Auth::SimplePassword(data),
            auth_type => Auth::Other { auth_type, data },
        }
    }
}

/// A zero-copy view of a VRRP advertisement.
///
/// VRRPv2, RFC 3768 Section 5.1 (IPv4 only):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            .                                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (n)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// VRRPv3, RFC 5798 / RFC 9568 Section 5.1 (IPv4: 4-byte addresses,
/// IPv6: 16-byte addresses, no authentication):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                       IPvX Address(es)                        |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The layout depends on the IP family that carried the packet, so the view
/// carries it. After [`Packet::new_checked`] no accessor panics.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checks. Accessors may panic if the buffer is
    /// shorter than the fields they read; use [`Packet::new_checked`] on
    /// untrusted bytes.
    pub const fn new_unchecked(buffer: T, family: Family) -> Packet<T> {
        Packet { buffer, family }
    }

    /// Wraps `buffer` and runs [`Packet::check_len`].
    pub fn new_checked(buffer: T, family: Family) -> Result<Packet<T>, WireError> {
        let packet = Self::new_unchecked(buffer, family);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer has exactly the length its header announces, so
    /// that no accessor can index out of bounds.
    ///
    /// The layout depends on the version (v2 has the authentication trailer)
    /// and the family, so this also refuses unknown versions and VRRPv2 over
    /// IPv6 (RFC 3768 is IPv4 only). RFC 5798 Section 7.1: the receiver MUST
    /// verify that the packet contains the complete VRRP message, fixed
    /// fields, addresses and (v2) authentication data.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        let expected = message_len(self.buffer.as_ref(), self.family)?;
        if len != expected {
            let count = self.addr_count();
            return Err(WireError::CountMismatch { count, len });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The address family the packet was received on.
    pub const fn family(&self) -> Family {
        self.family
    }

    /// The Version field (RFC 5798 Section 5.2.1).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The Type field (RFC 5798 Section 5.2.2).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// The Virtual Rtr ID field (RFC 5798 Section 5.2.3), unchecked: 0 may appear.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// The Priority field (RFC 5798 Section 5.2.4).
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// The Count IPvX Addr field (RFC 5798 Section 5.2.5).
    pub fn addr_count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// VRRPv2 Auth Type (RFC 3768 Section 5.3.6).
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// VRRPv2 Adver Int, in whole seconds (RFC 3768 Section 5.3.7).
    pub fn adver_int(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// VRRPv3 Max Adver Int, in centiseconds (RFC 5798 Section 5.2.7). The
    /// four reserved bits in front of it are masked off: they are ignored on
    /// reception (RFC 5798 Section 5.2.6).
    pub fn max_adver_int(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::RSVD_MAX_ADVER_INT];
        u16::from_be_bytes([b[0], b[1]]) & 0x0fff
    }

    /// The Checksum field (RFC 5798 Section 5.2.8).
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The raw address bytes: `addr_count()` addresses of the packet's family.
    pub fn addrs_bytes(&self) -> &[u8] {
        let end = field::ADDRS + usize::from(self.addr_count()) * self.family.addr_len();
        &self.buffer.as_ref()[field::ADDRS..end]
    }

    /// The virtual addresses (RFC 3768 Section 5.3.9, RFC 5798 Section 5.2.9).
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let family = self.family;
        self.addrs_bytes()
            .chunks_exact(family.addr_len())
            .map(move |chunk| read_addr(family, chunk))
    }

    /// VRRPv2 Authentication Data, the 8 bytes after the addresses (RFC 3768
    /// Section 5.3.10). Only meaningful when `version() == 2`.
    pub fn auth_data(&self) -> [u8; 8] {
        let start = field::ADDRS + self.addrs_bytes().len();
        let mut data = [0u8; AUTH_DATA_LEN];
        data.copy_from_slice(&self.buffer.as_ref()[start..start + AUTH_DATA_LEN]);
        data
    }

    /// The checksum form the RFCs fix for this packet's version and family;
    /// `mode` only matters for VRRPv3 over IPv4.
    pub fn effective_mode(&self, mode: ChecksumMode) -> ChecksumMode {
        effective_mode(self.version(), self.family, mode)
    }

    /// Whether the checksum verifies in `mode` (see [`ChecksumMode`]): the one's
    /// complement sum over everything, checksum field included, is `0xffff`
    /// (RFC 1071 Section 1). `false` if `src` and `dst` are of different families.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr, mode: ChecksumMode) -> bool {
        let msg = self.buffer.as_ref();
        match self.pseudo_sum(src, dst, mode) {
            Some(pseudo) => checksum::combine(&[pseudo, checksum::data(msg)]) == 0xffff,
            None => false,
        }
    }

    /// The checksum this message should carry in `mode`, computed as if the
    /// checksum field were zero; `None` if `src`/`dst` are of different families.
    pub fn compute_checksum(&self, src: &IpAddr, dst: &IpAddr, mode: ChecksumMode) -> Option<u16> {
        let msg = self.buffer.as_ref();
        let pseudo = self.pseudo_sum(src, dst, mode)?;
        let before = checksum::data(&msg[..field::CHECKSUM.start]);
        let after = checksum::data(&msg[field::CHECKSUM.end..]);
        Some(!checksum::combine(&[pseudo, before, after]))
    }

    /// The pseudo-header sum for `mode`, 0 for [`ChecksumMode::MessageOnly`].
    fn pseudo_sum(&self, src: &IpAddr, dst: &IpAddr, mode: ChecksumMode) -> Option<u16> {
        if Family::of(src) != Family::of(dst) {
            return None;
        }
        match self.effective_mode(mode) {
            ChecksumMode::MessageOnly => Some(0),
            ChecksumMode::PseudoHeader => {
                checksum::pseudo_header(src, dst, IPPROTO_VRRP, self.buffer.as_ref().len())
            }
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Version and Type fields.
    pub fn set_version_and_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VER_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    /// Sets the Virtual Rtr ID field.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    /// Sets the Priority field.
    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    /// Sets the Count IPvX Addr field.
    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// Sets the VRRPv2 Auth Type field.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = auth_type;
    }

    /// Sets the VRRPv2 Adver Int field (whole seconds).
    pub fn set_adver_int(&mut self, secs: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = secs;
    }

    /// Sets the VRRPv3 Max Adver Int (centiseconds, the low 12 bits of
    /// `centisecs`) and clears the reserved bits, which MUST be zero on
    /// transmission (RFC 5798 Section 5.2.6).
    pub fn set_max_adver_int(&mut self, centisecs: u16) {
        let value = centisecs & 0x0fff;
        self.buffer.as_mut()[field::RSVD_MAX_ADVER_INT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// The raw address bytes, for writing (sized by the Count field).
    pub fn addrs_bytes_mut(&mut self) -> &mut [u8] {
        let end = field::ADDRS + usize::from(self.addr_count()) * self.family.addr_len();
        &mut self.buffer.as_mut()[field::ADDRS..end]
    }

    /// Sets the VRRPv2 Authentication Data (placed after the addresses, so the
    /// Count field must be set first).
    pub fn set_auth_data(&mut self, data: [u8; 8]) {
        let start = field::ADDRS + usize::from(self.addr_count()) * self.family.addr_len();
        self.buffer.as_mut()[start..start + AUTH_DATA_LEN].copy_from_slice(&data);
    }

    /// Computes and writes the checksum in `mode` (RFC 5798 Section 5.2.8).
    pub fn fill_checksum(
        &mut self,
        src: &IpAddr,
        dst: &IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), WireError> {
        let value = self
            .compute_checksum(src, dst, mode)
            .ok_or(WireError::FamilyMismatch)?;
        self.set_checksum(value);
        Ok(())
    }
}

/// The length of the VRRP message that starts `bytes`, as its header announces
/// it (fixed header, `Count` addresses of `family`, and for VRRPv2 the
/// authentication data), whatever the length of `bytes` itself. Anything
/// after that length is not part of the message: an authentication trailer
/// (see [`super::auth`]) or garbage.
///
/// Errors: fewer than [`HEADER_LEN`] bytes, a version other than 2 or 3, or
/// VRRPv2 over IPv6 (RFC 3768 is IPv4 only).
pub fn message_len(bytes: &[u8], family: Family) -> Result<usize, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::Truncated);
    }
    let version = bytes[field::VER_TYPE] >> 4;
    let auth_data = match Version::from_number(version) {
        Some(Version::V2) if family == Family::Ipv6 => return Err(WireError::FamilyMismatch),
        Some(Version::V2) => AUTH_DATA_LEN,
        Some(Version::V3) => 0,
        None => return Err(WireError::BadVersion(version)),
    };
    let count = usize::from(bytes[field::COUNT]);
    Ok(HEADER_LEN + count * family.addr_len() + auth_data)
}

fn effective_mode(version: u8, family: Family, mode: ChecksumMode) -> ChecksumMode {
    match (Version::from_number(version), family) {
        // RFC 3768 Section 5.3.8: "the entire VRRP message starting with the version field".
        (Some(Version::V2), _) => ChecksumMode::MessageOnly,
        // RFC 5798 Section 5.2.8 with RFC 8200 Section 8.1: IPv6 upper-layer checksum.
        (_, Family::Ipv6) => ChecksumMode::PseudoHeader,
        _ => mode,
    }
}

fn read_addr(family: Family, b: &[u8]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Ipv6 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    }
}

/// The family of an IP header's source and destination, which must agree.
fn header_family(src: &IpAddr, dst: &IpAddr) -> Result<Family, WireError> {
    let family = Family::of(src);
    if family != Family::of(dst) {
        return Err(WireError::FamilyMismatch);
    }
    Ok(family)
}

/// A VRRP advertisement, the value of a [`Packet`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// VRRP version of the packet.
    pub version: Version,
    /// Raw Virtual Rtr ID. 0 can appear on the wire; whether it is acceptable
    /// is decided by the router, which compares it with its configured VRID.
    pub vrid: u8,
    /// Sender priority; 0 means the master is leaving (RFC 5798 Section 5.2.4).
    pub priority: Priority,
    /// The advertisement interval. VRRPv3: the 12-bit Max Adver Int
    /// (centiseconds). VRRPv2: Adver Int seconds * 100, as the v2 wire only
    /// carries whole seconds.
    pub max_adver_int: Centisecs,
    /// The virtual addresses, all of the packet's family. Shared: a router
    /// sends the same list in every advert, and cloning it costs no
    /// allocation.
    pub addrs: Arc<[IpAddr]>,
    /// VRRPv2 authentication; always [`Auth::None`] for VRRPv3.
    pub auth: Auth,
}

/// The fixed fields of an advertisement: all of it but the address list.
/// What the state machine reads of every advert it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdvertFields {
    /// VRRP version of the packet.
    pub version: Version,
    /// Raw Virtual Rtr ID (see [`Advertisement::vrid`]).
    pub vrid: u8,
    /// Sender priority; 0 means the master is leaving.
    pub priority: Priority,
    /// The advertisement interval (see [`Advertisement::max_adver_int`]).
    pub max_adver_int: Centisecs,
    /// VRRPv2 authentication; always [`Auth::None`] for VRRPv3.
    pub auth: Auth,
}

/// A checked advertisement whose address list stays in the received bytes:
/// [`Advertisement`] without the allocation, for the receive path.
///
/// [`AdvertView::parse`] makes exactly the checks of
/// [`Advertisement::parse`] (which is built on it).
#[derive(Debug, Clone, Copy)]
pub struct AdvertView<'a> {
    fields: AdvertFields,
    /// `Count` addresses of `family`, as on the wire.
    addrs: &'a [u8],
    family: Family,
}

impl<'a> AdvertView<'a> {
    /// Parses and validates a VRRP message, the payload of an IP packet from
    /// `src` to `dst`; see [`Advertisement::parse`] for the checks.
    pub fn parse(
        bytes: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(AdvertView<'a>, ChecksumMode), WireError> {
        let family = header_family(&src, &dst)?;
        let packet = Packet::new_checked(bytes, family)?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(WireError::BadType(packet.msg_type()));
        }
        let mode = [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly]
            .into_iter()
            .map(|mode| packet.effective_mode(mode))
            .find(|&mode| packet.verify_checksum(&src, &dst, mode))
            .ok_or(WireError::BadChecksum)?;
        Ok((AdvertView::from_packet(&packet)?, mode))
    }

    /// Reads the value of a checked packet, without verifying the checksum
    /// (see [`Advertisement::from_packet`]).
    pub fn from_packet(packet: &Packet<&'a [u8]>) -> Result<AdvertView<'a>, WireError> {
        packet.check_len()?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(WireError::BadType(packet.msg_type()));
        }
        let (version, max_adver_int, auth) = match Version::from_number(packet.version()) {
            Some(Version::V2) => (
                Version::V2,
                Centisecs(u16::from(packet.adver_int()) * 100),
                Auth::from_wire(packet.auth_type(), packet.auth_data()),
            ),
            Some(Version::V3) => (Version::V3, Centisecs(packet.max_adver_int()), Auth::None),
            None => return Err(WireError::BadVersion(packet.version())),
        };
        let family = packet.family();
        let end = field::ADDRS + usize::from(packet.addr_count()) * family.addr_len();
        // In range: check_len saw the whole message.
        let bytes: &'a [u8] = packet.buffer;
        Ok(AdvertView {
            fields: AdvertFields {
                version,
                vrid: packet.vrid(),
                priority: Priority(packet.priority()),
                max_adver_int,
                auth,
            },
            addrs: &bytes[field::ADDRS..end],
            family,
        })
    }

    /// The fixed fields.
    pub fn fields(&self) -> AdvertFields {
        self.fields
    }

    /// How many addresses the advert carries.
    pub fn addr_count(&self) -> usize {
        self.addrs.len() / self.family.addr_len()
    }

    /// The virtual addresses, read from the received bytes.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + Clone + 'a {
        let family = self.family;
        self.addrs
            .chunks_exact(family.addr_len())
            .map(move |chunk| read_addr(family, chunk))
    }

    /// The owned value (allocates the address list).
    pub fn to_advertisement(&self) -> Advertisement {
        let f = self.fields;
        Advertisement {
            version: f.version,
            vrid: f.vrid,
            priority: f.priority,
            max_adver_int: f.max_adver_int,
            addrs: self.addrs().collect(),
            auth: f.auth,
        }
    }
}

impl Advertisement {
    /// Parses and validates a VRRP message, the payload of an IP packet from
    /// `src` to `dst`, and reports which checksum form matched.
    ///
    /// Checks, in order, following RFC 3768 Section 7.1 and RFC 5798 Section 7.1
    /// (the IP TTL / hop limit check needs the IP header and is the caller's):
    /// `src`/`dst` of one family; the fixed header is present; the version is
    /// 2 or 3 (v2 only over IPv4); the message has exactly the length its
    /// address count implies; the type is ADVERTISEMENT; the checksum verifies.
    /// For VRRPv3 over IPv4 both checksum forms are accepted, the
    /// pseudo-header one tried first.
    pub fn parse(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Advertisement, ChecksumMode), WireError> {
        AdvertView::parse(bytes, src, dst).map(|(view, mode)| (view.to_advertisement(), mode))
    }

    /// Reads the value of a checked packet, without verifying the checksum
    /// (smoltcp's `Repr::parse`). Refuses packets whose type is not ADVERTISEMENT.
    pub fn from_packet<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Advertisement, WireError> {
        let view = Packet::new_unchecked(packet.buffer.as_ref(), packet.family());
        AdvertView::from_packet(&view).map(|v| v.to_advertisement())
    }

    /// The fixed fields (everything but the address list).
    pub fn fields(&self) -> AdvertFields {
        AdvertFields {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            max_adver_int: self.max_adver_int,
            auth: self.auth,
        }
    }

    /// The length of the emitted VRRP message.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self.addrs.iter().map(|a| Family::of(a).addr_len()).sum();
        let trailer = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + trailer
    }

    /// Writes the message into `buf`, which must be exactly
    /// [`buffer_len`](Self::buffer_len) bytes, with its checksum for an IP
    /// packet from `src` to `dst`. `mode` is used for VRRPv3 over IPv4 only
    /// (see [`ChecksumMode`]).
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), WireError> {
        let family = header_family(&src, &dst)?;
        if self.version == Version::V2 && family == Family::Ipv6 {
            // RFC 3768 defines VRRP for IPv4 only.
            return Err(WireError::FamilyMismatch);
        }
        if let Some(addr) = self.addrs.iter().find(|a| Family::of(a) != family) {
            return Err(WireError::AddressFamily(*addr));
        }
        let count = u8::try_from(self.addrs.len())
            .map_err(|_| WireError::TooManyAddresses(self.addrs.len()))?;
        let interval_err = WireError::IntervalNotRepresentable {
            version: self.version,
            interval: self.max_adver_int,
        };
        match self.version {
            Version::V2 => {
                // RFC 3768 Section 5.3.7: Adver Int is in whole seconds; 0 would
                // make backups time out at once.
                let cs = self.max_adver_int.get();
                if cs % 100 != 0 || !(100..=25_500).contains(&cs) {
                    return Err(interval_err);
                }
                if let Auth::Other { auth_type, .. } = self.auth {
                    if auth_type == AUTH_TYPE_NONE || auth_type == AUTH_TYPE_SIMPLE {
                        return Err(WireError::AuthTypeReserved(auth_type));
                    }
                }
            }
            Version::V3 => {
                // RFC 5798 Section 5.2.7: a 12-bit field.
                if self.max_adver_int > Centisecs::MAX_V3 {
                    return Err(interval_err);
                }
                // RFC 5798 Section 9: VRRPv3 has no authentication.
                if self.auth != Auth::None {
                    return Err(WireError::AuthInV3);
                }
            }
        }
        let needed = self.buffer_len();
        if buf.len() != needed {
            return Err(WireError::BufferLength {
                needed,
                got: buf.len(),
            });
        }

        let mut packet = Packet::new_unchecked(buf, family);
        packet.set_version_and_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority.get());
        packet.set_addr_count(count);
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth.auth_type());
                // In range: checked above.
                packet.set_adver_int((self.max_adver_int.get() / 100) as u8);
                packet.set_auth_data(self.auth.data());
            }
            Version::V3 => packet.set_max_adver_int(self.max_adver_int.get()),
        }
        for (chunk, addr) in packet
            .addrs_bytes_mut()
            .chunks_exact_mut(family.addr_len())
            .zip(self.addrs.iter())
        {
            match addr {
                IpAddr::V4(a) => chunk.copy_from_slice(&a.octets()),
                IpAddr::V6(a) => chunk.copy_from_slice(&a.octets()),
            }
        }
        packet.fill_checksum(&src, &dst, mode)
    }

    /// [`emit`](Self::emit) into a new buffer of the right size.
    pub fn to_bytes(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, WireError> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut buf, src, dst, mode)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    // keepalived 2.2.7, VRRPv2, vrid 51, priority 150, advert 1 s, PASS "secret12".
    static V2_BYTES: [u8; 24] = [
        0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0x54, 0xb8, // header
        0xc0, 0x00, 0x02, 0xc8, 0xc0, 0x00, 0x02, 0xc9, // 192.0.2.200, 192.0.2.201
        b's', b'e', b'c', b'r', b'e', b't', b'1', b'2', // auth data
    ];

    // keepalived 2.2.7, VRRPv3 over IPv4, vrid 52, priority 200, 10 cs, pseudo-header checksum.
    static V3V4_BYTES: [u8; 12] = [
        0x31, 0x34, 0xc8, 0x01, 0x00, 0x0a, 0xa1, 0x5c, // header
        0xc0, 0x00, 0x02, 0xd2, // 192.0.2.210
    ];

    // The same message with the checksum over the message only, worked by hand:
    // 3134 + c801 + 000a + c000 + 02d2 = bc12 (end-around carry), !bc12 = 43ed.
    static V3V4_MSGONLY_BYTES: [u8; 12] = [
        0x31, 0x34, 0xc8, 0x01, 0x00, 0x0a, 0x43, 0xed, // header
        0xc0, 0x00, 0x02, 0xd2, // 192.0.2.210
    ];

    // keepalived 2.2.7, VRRPv3 over IPv6, vrid 53, priority 120, 100 cs.
    static V3V6_BYTES: [u8; 40] = [
        0x31, 0x35, 0x78, 0x02, 0x00, 0x64, 0x2c, 0x55, // header
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // fe80::53
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // 2001:db8::53
    ];

    fn v4_hdr() -> (IpAddr, IpAddr) {
        (v4("192.0.2.1"), v4("224.0.0.18"))
    }

    fn v6_hdr() -> (IpAddr, IpAddr) {
        (v6("fe80::ff:fe00:1"), v6("ff02::12"))
    }

    fn v2_repr() -> Advertisement {
        Advertisement {
            version: Version::V2,
            vrid: 51,
            priority: Priority(150),
            max_adver_int: Centisecs(100),
            addrs: vec![v4("192.0.2.200"), v4("192.0.2.201")].into(),
            auth: Auth::SimplePassword(*b"secret12"),
        }
    }

    fn v3v4_repr() -> Advertisement {
        Advertisement {
            version: Version::V3,
            vrid: 52,
            priority: Priority(200),
            max_adver_int: Centisecs(10),
            addrs: vec![v4("192.0.2.210")].into(),
            auth: Auth::None,
        }
    }

    fn v3v6_repr() -> Advertisement {
        Advertisement {
            version: Version::V3,
            vrid: 53,
            priority: Priority(120),
            max_adver_int: Centisecs(100),
            addrs: vec![v6("fe80::53"), v6("2001:db8::53")].into(),
            auth: Auth::None,
        }
    }

    #[test]
    fn test_packet_accessors() {
        let p = Packet::new_checked(&V2_BYTES[..], Family::Ipv4).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.msg_type(), 1);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 150);
        assert_eq!(p.addr_count(), 2);
        assert_eq!(p.auth_type(), 1);
        assert_eq!(p.adver_int(), 1);
        assert_eq!(p.checksum(), 0x54b8);
        assert_eq!(&p.auth_data(), b"secret12");
        let p = Packet::new_checked(&V3V6_BYTES[..], Family::Ipv6).unwrap();
        assert_eq!(p.max_adver_int(), 100);
        assert_eq!(p.addrs().collect::<Vec<_>>(), &v3v6_repr().addrs[..]);
    }

    #[test]
    fn test_view_reads_in_place() {
        let (src, dst) = v6_hdr();
        let (view, mode) = AdvertView::parse(&V3V6_BYTES, src, dst).unwrap();
        let want = v3v6_repr();
        assert_eq!(mode, ChecksumMode::PseudoHeader);
        assert_eq!(view.fields(), want.fields());
        assert_eq!(view.addr_count(), 2);
        assert_eq!(view.addrs().collect::<Vec<_>>(), &want.addrs[..]);
        assert_eq!(view.to_advertisement(), want);
        let mut bad = V3V6_BYTES;
        bad[7] ^= 1;
        assert_eq!(
            AdvertView::parse(&bad, src, dst).map(|_| ()),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn test_parse_v2() {
        let (src, dst) = v4_hdr();
        let (adv, mode) = Advertisement::parse(&V2_BYTES, src, dst).unwrap();
        assert_eq!(adv, v2_repr());
        assert_eq!(mode, ChecksumMode::MessageOnly);
    }

    #[test]
    fn test_parse_v3_ipv4_pseudo_header() {
        let (src, dst) = v4_hdr();
        let (adv, mode) = Advertisement::parse(&V3V4_BYTES, src, dst).unwrap();
        assert_eq!(adv, v3v4_repr());
        assert_eq!(mode, ChecksumMode::PseudoHeader);
    }

    #[test]
    fn test_parse_v3_ipv4_message_only() {
        let (src, dst) = v4_hdr();
        let (adv, mode) = Advertisement::parse(&V3V4_MSGONLY_BYTES, src, dst).unwrap();
        assert_eq!(adv, v3v4_repr());
        assert_eq!(mode, ChecksumMode::MessageOnly);
    }

    #[test]
    fn test_parse_v3_ipv6() {
        let (src, dst) = v6_hdr();
        let (adv, mode) = Advertisement::parse(&V3V6_BYTES, src, dst).unwrap();
        assert_eq!(adv, v3v6_repr());
        assert_eq!(mode, ChecksumMode::PseudoHeader);
    }

    #[test]
    fn test_emit_v2() {
        let (src, dst) = v4_hdr();
        // The mode is ignored for v2: the checksum is always over the message only.
        for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
            assert_eq!(v2_repr().to_bytes(src, dst, mode).unwrap(), V2_BYTES);
        }
    }

    #[test]
    fn test_emit_v3_ipv4() {
        let (src, dst) = v4_hdr();
        let mut buf = [0u8; 12];
        v3v4_repr()
            .emit(&mut buf, src, dst, ChecksumMode::PseudoHeader)
            .unwrap();
        assert_eq!(buf, V3V4_BYTES);
        v3v4_repr()
            .emit(&mut buf, src, dst, ChecksumMode::MessageOnly)
            .unwrap();
        assert_eq!(buf, V3V4_MSGONLY_BYTES);
    }

    #[test]
    fn test_emit_v3_ipv6() {
        let (src, dst) = v6_hdr();
        for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
            assert_eq!(v3v6_repr().to_bytes(src, dst, mode).unwrap(), V3V6_BYTES);
        }
    }

    #[test]
    fn test_emit_v2_auth_none_writes_zero_auth_data() {
        let (src, dst) = v4_hdr();
        let adv = Advertisement {
            auth: Auth::None,
            ..v2_repr()
        };
        let bytes = adv.to_bytes(src, dst, ChecksumMode::MessageOnly).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(bytes[4], 0);
        assert_eq!(&bytes[16..], &[0u8; 8]);
        assert_eq!(Advertisement::parse(&bytes, src, dst).unwrap().0, adv);
    }

    #[test]
    fn test_parse_v2_auth_none_ignores_data() {
        // RFC 3768 Section 5.3.10: authentication data is ignored on reception.
        let (src, dst) = v4_hdr();
        let mut bytes = V2_BYTES;
        bytes[4] = 0;
        let mut p = Packet::new_unchecked(&mut bytes[..], Family::Ipv4);
        p.fill_checksum(&src, &dst, ChecksumMode::MessageOnly)
            .unwrap();
        assert_eq!(
            Advertisement::parse(&bytes, src, dst).unwrap().0.auth,
            Auth::None
        );
    }

    #[test]
    fn test_parse_v2_other_auth_type_is_kept() {
        let (src, dst) = v4_hdr();
        let mut bytes = V2_BYTES;
        bytes[4] = 2;
        let mut p = Packet::new_unchecked(&mut bytes[..], Family::Ipv4);
        p.fill_checksum(&src, &dst, ChecksumMode::MessageOnly)
            .unwrap();
        let (adv, _) = Advertisement::parse(&bytes, src, dst).unwrap();
        assert_eq!(
            adv.auth,
            Auth::Other {
                auth_type: 2,
                data: *b"secret12"
            }
        );
        assert_eq!(
            adv.to_bytes(src, dst, ChecksumMode::MessageOnly).unwrap(),
            bytes
        );
    }

    #[test]
    fn test_parse_v3_reserved_bits_ignored() {
        // RFC 5798 Section 5.2.6: rsvd MUST be ignored on reception.
        let (src, dst) = v4_hdr();
        let mut bytes = V3V4_BYTES;
        bytes[4] |= 0xf0;
        let mut p = Packet::new_unchecked(&mut bytes[..], Family::Ipv4);
        p.fill_checksum(&src, &dst, ChecksumMode::PseudoHeader)
            .unwrap();
        let (adv, _) = Advertisement::parse(&bytes, src, dst).unwrap();
        assert_eq!(adv.max_adver_int, Centisecs(10));
    }

    #[test]
    fn test_parse_bad_version() {
        let (src, dst) = v4_hdr();
        let mut bytes = V3V4_BYTES;
        bytes[0] = 0x41;
        assert_eq!(
            Advertisement::parse(&bytes, src, dst),
            Err(WireError::BadVersion(4))
        );
        bytes[0] = 0x11;
        assert_eq!(
            Advertisement::parse(&bytes, src, dst),
            Err(WireError::BadVersion(1))
        );
    }

    #[test]
    fn test_parse_bad_type() {
        let (src, dst) = v4_hdr();
        let mut bytes = V3V4_BYTES;
        bytes[0] = 0x32;
        assert_eq!(
            Advertisement::parse(&bytes, src, dst),
            Err(WireError::BadType(2))
        );
    }

    #[test]
    fn test_parse_bad_checksum() {
        let (src, dst) = v4_hdr();
        for good in [&V2_BYTES[..], &V3V4_BYTES[..]] {
            let mut bytes = good.to_vec();
            bytes[7] ^= 0x01;
            assert_eq!(
                Advertisement::parse(&bytes, src, dst),
                Err(WireError::BadChecksum)
            );
        }
        // A changed address also breaks it.
        let (src, dst) = v6_hdr();
        let mut bytes = V3V6_BYTES;
        bytes[39] = 0x54;
        assert_eq!(
            Advertisement::parse(&bytes, src, dst),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn test_parse_v3_ipv4_wrong_pseudo_header_fails() {
        // The pseudo-header binds the checksum to the IP addresses.
        let dst = v4("224.0.0.18");
        assert_eq!(
            Advertisement::parse(&V3V4_BYTES, v4("192.0.2.9"), dst),
            Err(WireError::BadChecksum)
        );
        // The message-only form does not depend on them.
        assert!(Advertisement::parse(&V3V4_MSGONLY_BYTES, v4("192.0.2.9"), dst).is_ok());
        // VRRPv2 never takes a pseudo-header.
        assert!(Advertisement::parse(&V2_BYTES, v4("192.0.2.9"), dst).is_ok());
    }

    #[test]
    fn test_parse_truncated() {
        let (src, dst) = v4_hdr();
        for len in 0..HEADER_LEN {
            assert_eq!(
                Advertisement::parse(&V3V4_BYTES[..len], src, dst),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn test_parse_count_mismatch() {
        let (src, dst) = v4_hdr();
        // One address short.
        assert_eq!(
            Advertisement::parse(&V3V4_BYTES[..8], src, dst),
            Err(WireError::CountMismatch { count: 1, len: 8 })
        );
        // v2 without its authentication data.
        assert_eq!(
            Advertisement::parse(&V2_BYTES[..16], src, dst),
            Err(WireError::CountMismatch { count: 2, len: 16 })
        );
        // Trailing bytes.
        let mut long = V3V4_BYTES.to_vec();
        long.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            Advertisement::parse(&long, src, dst),
            Err(WireError::CountMismatch { count: 1, len: 16 })
        );
        // The count claims more than there is.
        let mut bytes = V3V4_BYTES;
        bytes[3] = 200;
        assert_eq!(
            Advertisement::parse(&bytes, src, dst),
            Err(WireError::CountMismatch {
                count: 200,
                len: 12
            })
        );
        // IPv4-sized addresses received over IPv6.
        let (src, dst) = v6_hdr();
        assert_eq!(
            Advertisement::parse(&V3V4_BYTES, src, dst),
            Err(WireError::CountMismatch { count: 1, len: 12 })
        );
    }

    #[test]
    fn test_parse_family_mismatch() {
        // VRRPv2 over IPv6 does not exist (RFC 3768 is IPv4 only).
        let (src, dst) = v6_hdr();
        assert_eq!(
            Advertisement::parse(&V2_BYTES, src, dst),
            Err(WireError::FamilyMismatch)
        );
        // Mixed source and destination.
        assert_eq!(
            Advertisement::parse(&V3V4_BYTES, v4("192.0.2.1"), v6("ff02::12")),
            Err(WireError::FamilyMismatch)
        );
    }

    #[test]
    fn test_emit_errors() {
        let (src4, dst4) = v4_hdr();
        let (src6, dst6) = v6_hdr();
        let mode = ChecksumMode::PseudoHeader;
        let interval = |version, cs| Advertisement {
            version,
            max_adver_int: Centisecs(cs),
            auth: Auth::None,
            ..v2_repr()
        };
        for cs in [0, 50, 150, 25_600] {
            assert!(matches!(
                interval(Version::V2, cs).to_bytes(src4, dst4, mode),
                Err(WireError::IntervalNotRepresentable { .. })
            ));
        }
        assert!(interval(Version::V2, 25_500)
            .to_bytes(src4, dst4, mode)
            .is_ok());
        assert!(interval(Version::V3, 4095)
            .to_bytes(src4, dst4, mode)
            .is_ok());
        assert!(matches!(
            interval(Version::V3, 4096).to_bytes(src4, dst4, mode),
            Err(WireError::IntervalNotRepresentable { .. })
        ));

        let mut mixed = v3v4_repr();
        mixed.addrs = mixed
            .addrs
            .iter()
            .copied()
            .chain([v6("2001:db8::1")])
            .collect();
        assert_eq!(
            mixed.to_bytes(src4, dst4, mode),
            Err(WireError::AddressFamily(v6("2001:db8::1")))
        );
        assert_eq!(
            v3v4_repr().to_bytes(src6, dst6, mode),
            Err(WireError::AddressFamily(v4("192.0.2.210")))
        );
        assert_eq!(
            v2_repr().to_bytes(src6, dst6, mode),
            Err(WireError::FamilyMismatch)
        );
        assert_eq!(
            v3v4_repr().to_bytes(src4, dst6, mode),
            Err(WireError::FamilyMismatch)
        );

        let mut many = v3v4_repr();
        many.addrs = (0..256u32).map(|i| IpAddr::V4(Ipv4Addr::from(i))).collect();
        assert_eq!(
            many.to_bytes(src4, dst4, mode),
            Err(WireError::TooManyAddresses(256))
        );

        let with_auth = Advertisement {
            auth: Auth::SimplePassword(*b"secret12"),
            ..v3v4_repr()
        };
        assert_eq!(
            with_auth.to_bytes(src4, dst4, mode),
            Err(WireError::AuthInV3)
        );
        let reserved = Advertisement {
            auth: Auth::Other {
                auth_type: 1,
                data: [0; 8],
            },
            ..v2_repr()
        };
        assert_eq!(
            reserved.to_bytes(src4, dst4, mode),
            Err(WireError::AuthTypeReserved(1))
        );

        let mut small = [0u8; 11];
        assert_eq!(
            v3v4_repr().emit(&mut small, src4, dst4, mode),
            Err(WireError::BufferLength {
                needed: 12,
                got: 11
            })
        );
    }

    #[test]
    fn test_buffer_len() {
        assert_eq!(v2_repr().buffer_len(), 24);
        assert_eq!(v3v4_repr().buffer_len(), 12);
        assert_eq!(v3v6_repr().buffer_len(), 40);
    }

    fn arb_auth() -> impl Strategy<Value = Auth> {
        prop_oneof![
            Just(Auth::None),
            any::<[u8; 8]>().prop_map(Auth::SimplePassword),
            (2u8..=255, any::<[u8; 8]>())
                .prop_map(|(auth_type, data)| Auth::Other { auth_type, data }),
        ]
    }

    fn arb_v4() -> impl Strategy<Value = IpAddr> {
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
    }

    fn arb_v6() -> impl Strategy<Value = IpAddr> {
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
    }

    fn arb_v2() -> impl Strategy<Value = Advertisement> {
        (
            any::<u8>(),
            any::<u8>(),
            1u16..=255,
            proptest::collection::vec(arb_v4(), 0..=255),
            arb_auth(),
        )
            .prop_map(|(vrid, prio, secs, addrs, auth)| Advertisement {
                version: Version::V2,
                vrid,
                priority: Priority(prio),
                max_adver_int: Centisecs(secs * 100),
                addrs: addrs.into(),
                auth,
            })
    }

    fn arb_v3(addr: BoxedStrategy<IpAddr>) -> impl Strategy<Value = Advertisement> {
        (
            any::<u8>(),
            any::<u8>(),
            0u16..=4095,
            proptest::collection::vec(addr, 0..=255),
        )
            .prop_map(|(vrid, prio, cs, addrs)| Advertisement {
                version: Version::V3,
                vrid,
                priority: Priority(prio),
                max_adver_int: Centisecs(cs),
                addrs: addrs.into(),
                auth: Auth::None,
            })
    }

    fn arb_mode() -> impl Strategy<Value = ChecksumMode> {
        prop_oneof![
            Just(ChecksumMode::PseudoHeader),
            Just(ChecksumMode::MessageOnly)
        ]
    }

    proptest! {
        #[test]
        fn prop_roundtrip_v2(adv in arb_v2(), src in arb_v4(), dst in arb_v4()) {
            let bytes = adv.to_bytes(src, dst, ChecksumMode::MessageOnly).unwrap();
            prop_assert_eq!(bytes.len(), adv.buffer_len());
            let (parsed, mode) = Advertisement::parse(&bytes, src, dst).unwrap();
            prop_assert_eq!(parsed, adv);
            prop_assert_eq!(mode, ChecksumMode::MessageOnly);
        }

        #[test]
        fn prop_roundtrip_v3_ipv4(
            adv in arb_v3(arb_v4().boxed()),
            src in arb_v4(),
            dst in arb_v4(),
            mode in arb_mode(),
        ) {
            let bytes = adv.to_bytes(src, dst, mode).unwrap();
            let (parsed, parsed_mode) = Advertisement::parse(&bytes, src, dst).unwrap();
            prop_assert_eq!(&parsed, &adv);
            // Where both forms give the same checksum, the pseudo-header one is reported.
            let both = adv.to_bytes(src, dst, ChecksumMode::PseudoHeader).unwrap()
                == adv.to_bytes(src, dst, ChecksumMode::MessageOnly).unwrap();
            if !both {
                prop_assert_eq!(parsed_mode, mode);
            }
            // Emitting the parsed value in the reported mode gives the same bytes.
            prop_assert_eq!(parsed.to_bytes(src, dst, parsed_mode).unwrap(), bytes);
        }

        #[test]
        fn prop_roundtrip_v3_ipv6(
            adv in arb_v3(arb_v6().boxed()),
            src in arb_v6(),
            dst in arb_v6(),
            mode in arb_mode(),
        ) {
            let bytes = adv.to_bytes(src, dst, mode).unwrap();
            let (parsed, parsed_mode) = Advertisement::parse(&bytes, src, dst).unwrap();
            prop_assert_eq!(parsed, adv);
            prop_assert_eq!(parsed_mode, ChecksumMode::PseudoHeader);
        }

        #[test]
        fn prop_parse_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            src in prop_oneof![arb_v4(), arb_v6()],
            dst in prop_oneof![arb_v4(), arb_v6()],
        ) {
            let _ = Advertisement::parse(&bytes, src, dst);
        }
    }
}
