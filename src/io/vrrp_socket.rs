//! Raw IP sockets for VRRP (IP protocol 112), IPv4 and IPv6, driven by tokio.
//!
//! One [`VrrpSocket`] serves one interface and one address family. It is
//! bound to the interface (`SO_BINDTODEVICE`), joined to the VRRP group
//! (224.0.0.18 or ff02::12) on that interface, and sends with TTL / hop
//! limit 255 so that receivers can apply the RFC 3768 section 7.1 and
//! RFC 5798 section 7.1 check ("the TTL MUST be 255"). The socket does not
//! check the TTL itself: it reports it in [`RxPacket::ttl`] and the core
//! decides (and counts).
//!
//! The kernel builds the IP header on send (no `IP_HDRINCL`): the source
//! address is the interface's primary address unless a `local` address is
//! given, which is then passed per packet through an `IP_PKTINFO` /
//! `IPV6_PKTINFO` control message. Sockets are never `bind(2)`-ed to an
//! address, because on a raw socket that also filters *received* packets
//! by destination and would drop advertisements sent to a unicast address
//! of ours (unicast peers) or, for IPv4, to the multicast group.
//!
//! Frames are plain `&[u8]` VRRP payloads (the advertisement without the IP
//! header); building and checking them is the core's job.

use std::io::{IoSlice, IoSliceMut};
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn, SockaddrIn6,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::IoError;

/// The IP protocol number of VRRP (RFC 5798 section 5.1.1.4).
pub const IPPROTO_VRRP: i32 = 112;
/// The IPv4 VRRP multicast group (RFC 5798 section 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 VRRP multicast group (RFC 5798 section 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every VRRP packet is sent with (RFC 5798 section 5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// Longest interface name the kernel accepts (`IFNAMSIZ - 1`).
const IFNAME_MAX: usize = 15;

/// One received VRRP packet with what the IP layer said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPacket {
    /// Source address of the IP packet (for IPv6 normally a link-local address).
    pub src: IpAddr,
    /// Destination address of the IP packet (the group, or one of our unicast addresses).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as received. The core drops packets
    /// where this is not 255 (RFC 3768 / RFC 5798 section 7.1).
    pub ttl: u8,
    /// Index of the interface the packet arrived on.
    pub ifindex: u32,
    /// The VRRP payload: the bytes after the IP header, exactly as received.
    pub payload: Vec<u8>,
}

/// The per-family part of a socket.
#[derive(Debug, Clone, Copy)]
enum Family {
    V4 { local: Option<Ipv4Addr> },
    V6 { local: Option<Ipv6Addr> },
}

/// A raw IP protocol 112 socket on one interface, registered with tokio.
///
/// Receiving is async ([`VrrpSocket::recv`]); sending is a non-blocking
/// syscall that never waits ([`VrrpSocket::send_v4`], [`VrrpSocket::send_v6`]):
/// a full send buffer comes back as [`IoError::WouldBlock`].
#[derive(Debug)]
pub struct VrrpSocket {
    /// The socket, owned by tokio's reactor for readiness.
    fd: AsyncFd<Socket>,
    /// The interface the socket is bound to; also used as the outgoing
    /// interface in every packet's PKTINFO.
    ifindex: u32,
    /// Address family and the optional fixed source address.
    family: Family,
}

impl VrrpSocket {
    /// Opens an IPv4 VRRP socket on `ifname` (whose index is `ifindex`).
    ///
    /// Options set: `SO_BINDTODEVICE`, membership of 224.0.0.18 on
    /// `ifindex` (`ip_mreqn`), `IP_MULTICAST_IF` by `ifindex`,
    /// `IP_MULTICAST_TTL` 255 and `IP_TTL` 255, `IP_MULTICAST_LOOP` off
    /// (we must not hear our own adverts), `IP_PKTINFO` on (to learn the
    /// arrival interface), non-blocking.
    ///
    /// `local`: the source address for sent packets. `None` lets the
    /// kernel pick the interface's primary address.
    ///
    /// Must be called inside a tokio runtime with IO enabled (outside any
    /// runtime: [`IoError::NoRuntime`]).
    pub fn open_v4(ifname: &str, ifindex: u32, local: Option<Ipv4Addr>) -> Result<Self, IoError> {
        Self::open_v4_inner(ifname, ifindex, local, true)
    }

    /// Like [`VrrpSocket::open_v4`], but for sending only: it joins no group.
    /// The daemon sends a `use_vmac` master's adverts through one on the
    /// macvlan, so that they leave from the virtual MAC (RFC 5798 Section 7.3).
    pub fn open_v4_sender(
        ifname: &str,
        ifindex: u32,
        local: Option<Ipv4Addr>,
    ) -> Result<Self, IoError> {
        Self::open_v4_inner(ifname, ifindex, local, false)
    }

    fn open_v4_inner(
        ifname: &str,
        ifindex: u32,
        local: Option<Ipv4Addr>,
        join: bool,
    ) -> Result<Self, IoError> {
        check_ifname(ifname)?;
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| IoError::sys("socket(AF_INET, SOCK_RAW, 112)", e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| IoError::sys("setsockopt(SO_BINDTODEVICE)", e))?;
        if join {
            sock.join_multicast_v4_n(&VRRP_GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))
                .map_err(|e| IoError::sys("setsockopt(IP_ADD_MEMBERSHIP)", e))?;
        }
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex_c(ifindex)?,
        };
        setsockopt_raw(
            &sock,
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            &mreqn,
            "setsockopt(IP_MULTICAST_IF)",
        )?;
        sock.set_multicast_ttl_v4(u32::from(VRRP_TTL))
            .map_err(|e| IoError::sys("setsockopt(IP_MULTICAST_TTL)", e))?;
        sock.set_ttl_v4(u32::from(VRRP_TTL))
            .map_err(|e| IoError::sys("setsockopt(IP_TTL)", e))?;
        sock.set_multicast_loop_v4(false)
            .map_err(|e| IoError::sys("setsockopt(IP_MULTICAST_LOOP)", e))?;
        setsockopt(&sock, sockopt::Ipv4PacketInfo, &true)
            .map_err(|e| IoError::nix("setsockopt(IP_PKTINFO)", e))?;
        Self::finish(sock, ifindex, Family::V4 { local })
    }

    /// Opens an IPv6 VRRP socket on `ifname` (whose index is `ifindex`).
    ///
    /// Options set: `SO_BINDTODEVICE`, membership of ff02::12 on `ifindex`,
    /// `IPV6_MULTICAST_IF` by `ifindex`, `IPV6_MULTICAST_HOPS` 255 and
    /// `IPV6_UNICAST_HOPS` 255, `IPV6_MULTICAST_LOOP` off,
    /// `IPV6_RECVHOPLIMIT` and `IPV6_RECVPKTINFO` on (the IPv6 header is
    /// not delivered on raw sockets, so hop limit and destination come as
    /// control messages), `IPV6_CHECKSUM` off, non-blocking.
    ///
    /// `link_local`: the source address for sent packets; RFC 5798
    /// section 5.1.2.1 wants the interface's link-local address. With
    /// `None` the kernel picks by its source selection rules, which give
    /// the link-local address for ff02::12 but may give a global address
    /// for unicast peers, so the daemon should pass it.
    ///
    /// Must be called inside a tokio runtime with IO enabled (outside any
    /// runtime: [`IoError::NoRuntime`]).
    pub fn open_v6(
        ifname: &str,
        ifindex: u32,
        link_local: Option<Ipv6Addr>,
    ) -> Result<Self, IoError> {
        Self::open_v6_inner(ifname, ifindex, link_local, true)
    }

    /// Like [`VrrpSocket::open_v6`], but for sending only (see
    /// [`VrrpSocket::open_v4_sender`]).
    pub fn open_v6_sender(
        ifname: &str,
        ifindex: u32,
        link_local: Option<Ipv6Addr>,
    ) -> Result<Self, IoError> {
        Self::open_v6_inner(ifname, ifindex, link_local, false)
    }

    fn open_v6_inner(
        ifname: &str,
        ifindex: u32,
        link_local: Option<Ipv6Addr>,
        join: bool,
    ) -> Result<Self, IoError> {
        check_ifname(ifname)?;
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| IoError::sys("socket(AF_INET6, SOCK_RAW, 112)", e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| IoError::sys("setsockopt(SO_BINDTODEVICE)", e))?;
        if join {
            sock.join_multicast_v6(&VRRP_GROUP_V6, ifindex)
                .map_err(|e| IoError::sys("setsockopt(IPV6_JOIN_GROUP)", e))?;
        }
        sock.set_multicast_if_v6(ifindex)
            .map_err(|e| IoError::sys("setsockopt(IPV6_MULTICAST_IF)", e))?;
        sock.set_multicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(|e| IoError::sys("setsockopt(IPV6_MULTICAST_HOPS)", e))?;
        sock.set_unicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(|e| IoError::sys("setsockopt(IPV6_UNICAST_HOPS)", e))?;
        sock.set_multicast_loop_v6(false)
            .map_err(|e| IoError::sys("setsockopt(IPV6_MULTICAST_LOOP)", e))?;
        setsockopt(&sock, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(|e| IoError::nix("setsockopt(IPV6_RECVHOPLIMIT)", e))?;
        setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(|e| IoError::nix("setsockopt(IPV6_RECVPKTINFO)", e))?;
        // Checksum offload for raw IPv6 sockets: with IPV6_CHECKSUM set to an
        // offset the kernel computes the checksum on send and verifies (and
        // silently drops bad) packets on receive. The Linux default for a raw
        // socket of any protocol other than ICMPv6 (here 112) is -1, i.e. the
        // kernel neither computes nor checks it. We set -1 explicitly: the core
        // computes and verifies the VRRP checksum (with its pseudo-header), and
        // counts bad ones, which it could not do if the kernel dropped them.
        let off: libc::c_int = -1;
        setsockopt_raw(
            &sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            &off,
            "setsockopt(IPV6_CHECKSUM)",
        )?;
        Self::finish(sock, ifindex, Family::V6 { local: link_local })
    }

    /// Common tail of the constructors: non-blocking mode and tokio registration.
    fn finish(sock: Socket, ifindex: u32, family: Family) -> Result<Self, IoError> {
        IoError::require_runtime()?;
        sock.set_nonblocking(true)
            .map_err(|e| IoError::sys("fcntl(O_NONBLOCK)", e))?;
        // SAFETY: `socket2::Socket` owns its fd, which stays open and
        // unchanged until the socket is dropped, which happens only when the
        // AsyncFd drops it; `as_raw_fd` always returns that fd, and the
        // socket is never swapped out (only `get_ref` is used).
        // Readable interest only: sends are non-blocking calls that never
        // wait, so a writable event would only wake the loop for nothing
        // after every advert.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }
            .map_err(|e| IoError::sys("register with tokio", e.into()))?;
        Ok(VrrpSocket {
            fd,
            ifindex,
            family,
        })
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// True for an IPv6 socket.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.family, Family::V6 { .. })
    }

    /// Sends one VRRP payload to `dst` (the group or a unicast peer).
    ///
    /// The kernel prepends the IPv4 header with TTL 255 and protocol 112.
    /// Never blocks: a full send buffer is [`IoError::WouldBlock`].
    pub fn send_v4(&self, payload: &[u8], dst: Ipv4Addr) -> Result<(), IoError> {
        let Family::V4 { local } = self.family else {
            return Err(IoError::WrongFamily("send_v4 on an IPv6 socket"));
        };
        let pktinfo = libc::in_pktinfo {
            ipi_ifindex: ifindex_c(self.ifindex)?,
            // The source address of the packet (0.0.0.0: let the kernel pick).
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(local.unwrap_or(Ipv4Addr::UNSPECIFIED)).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        let addr = SockaddrIn::from(SocketAddrV4::new(dst, 0));
        let iov = [IoSlice::new(payload)];
        let cmsgs = [ControlMessage::Ipv4PacketInfo(&pktinfo)];
        sendmsg(
            self.raw_fd(),
            &iov,
            &cmsgs,
            MsgFlags::MSG_DONTWAIT,
            Some(&addr),
        )
        .map_err(|e| IoError::nix("sendmsg", e))?;
        Ok(())
    }

    /// Sends one VRRP payload to `dst` (the group or a unicast peer).
    ///
    /// The kernel prepends the IPv6 header with hop limit 255 and next
    /// header 112, and leaves the VRRP checksum as given. Never blocks: a
    /// full send buffer is [`IoError::WouldBlock`].
    pub fn send_v6(&self, payload: &[u8], dst: Ipv6Addr) -> Result<(), IoError> {
        let Family::V6 { local } = self.family else {
            return Err(IoError::WrongFamily("send_v6 on an IPv4 socket"));
        };
        let pktinfo = libc::in6_pktinfo {
            // The source address of the packet (:: lets the kernel pick).
            ipi6_addr: libc::in6_addr {
                s6_addr: local.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        // The scope id matters for link-local destinations only; the kernel
        // ignores it for others.
        let addr = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
        let iov = [IoSlice::new(payload)];
        let cmsgs = [ControlMessage::Ipv6PacketInfo(&pktinfo)];
        sendmsg(
            self.raw_fd(),
            &iov,
            &cmsgs,
            MsgFlags::MSG_DONTWAIT,
            Some(&addr),
        )
        .map_err(|e| IoError::nix("sendmsg", e))?;
        Ok(())
    }

    /// Sends to `dst` with the family's send function.
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> Result<(), IoError> {
        match dst {
            IpAddr::V4(d) => self.send_v4(payload, d),
            IpAddr::V6(d) => self.send_v6(payload, d),
        }
    }

    /// Waits for the next packet and returns it.
    ///
    /// `buf` is scratch space for one packet (IPv4: with its IP header);
    /// 1500 bytes or the interface MTU is enough. Errors for which
    /// [`IoError::is_packet_error`] is true concern that packet only: count
    /// them and call again. Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        std::future::poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Polls for the next packet, registering `cx` to be woken when one
    /// arrives: what an event loop waiting on several sockets (and timers)
    /// in one task calls, so that a packet and an expired timer that became
    /// ready in the same wake-up are both seen by that task.
    ///
    /// After an error other than a per-packet one, readiness is cleared:
    /// the next arrival retries, and a socket that keeps failing cannot
    /// make the caller spin.
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<RxPacket, IoError>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(IoError::sys("poll(readable)", e))),
                Poll::Pending => return Poll::Pending,
            };
            match self.try_recv(buf) {
                Err(IoError::WouldBlock) => guard.clear_ready(),
                Err(e) if !e.is_packet_error() => {
                    guard.clear_ready();
                    return Poll::Ready(Err(e));
                }
                other => return Poll::Ready(other),
            }
        }
    }

    /// Receives one packet if one is queued, else [`IoError::WouldBlock`].
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        match self.family {
            Family::V4 { .. } => self.try_recv_v4(buf),
            Family::V6 { .. } => self.try_recv_v6(buf),
        }
    }

    fn raw_fd(&self) -> RawFd {
        self.fd.get_ref().as_raw_fd()
    }

    fn try_recv_v4(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        let buf_len = buf.len();
        let mut cmsg = nix::cmsg_space!(libc::in_pktinfo);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn>(
            self.raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(|e| IoError::nix("recvmsg", e))?;
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(IoError::Truncated(buf_len));
        }
        let len = msg.bytes;
        let mut ifindex = None;
        for c in msg.cmsgs().map_err(|e| IoError::nix("recvmsg cmsgs", e))? {
            if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
        }
        let data = buf
            .get(..len)
            .ok_or(IoError::Malformed("length beyond buffer"))?;
        let hdr = parse_ipv4(data)?;
        Ok(RxPacket {
            src: IpAddr::V4(hdr.src),
            dst: IpAddr::V4(hdr.dst),
            ttl: hdr.ttl,
            // The socket is bound to one device, so that is where it arrived
            // should IP_PKTINFO ever be missing.
            ifindex: ifindex.unwrap_or(self.ifindex),
            payload: data[hdr.payload].to_vec(),
        })
    }

    fn try_recv_v6(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        let buf_len = buf.len();
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn6>(
            self.raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(|e| IoError::nix("recvmsg", e))?;
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(IoError::Truncated(buf_len));
        }
        let len = msg.bytes;
        let src = msg
            .address
            .map(|a| a.ip())
            .ok_or(IoError::Malformed("no source address"))?;
        let mut dst = None;
        let mut ifindex = None;
        let mut hops = None;
        for c in msg.cmsgs().map_err(|e| IoError::nix("recvmsg cmsgs", e))? {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                    ifindex = Some(info.ipi6_ifindex);
                }
                ControlMessageOwned::Ipv6HopLimit(h) => hops = Some(h),
                _ => {}
            }
        }
        // Without the hop limit the RFC 5798 section 7.1 check cannot be
        // made: never assume 255.
        let ttl = hops
            .and_then(|h| u8::try_from(h).ok())
            .ok_or(IoError::Malformed("no IPV6_HOPLIMIT control message"))?;
        let dst = dst.ok_or(IoError::Malformed("no IPV6_PKTINFO control message"))?;
        let data = buf
            .get(..len)
            .ok_or(IoError::Malformed("length beyond buffer"))?;
        Ok(RxPacket {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl,
            ifindex: ifindex.unwrap_or(self.ifindex),
            payload: data.to_vec(),
        })
    }
}

/// The fields of a received IPv4 header the daemon needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ipv4Header {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    /// Where the payload lies in the received bytes.
    payload: Range<usize>,
}

/// Parses the IPv4 header that a raw IPv4 socket delivers in front of the
/// payload. Never panics; every inconsistency is [`IoError::Malformed`].
fn parse_ipv4(data: &[u8]) -> Result<Ipv4Header, IoError> {
    const MIN: usize = 20;
    if data.len() < MIN {
        return Err(IoError::Malformed("shorter than an IPv4 header"));
    }
    if data[0] >> 4 != 4 {
        return Err(IoError::Malformed("IP version is not 4"));
    }
    let ihl = usize::from(data[0] & 0x0f) * 4;
    if ihl < MIN {
        return Err(IoError::Malformed("IPv4 header length below 20"));
    }
    if ihl > data.len() {
        return Err(IoError::Malformed("IPv4 header length beyond packet"));
    }
    // Linux raw sockets deliver the header as on the wire (network order).
    let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if total < ihl {
        return Err(IoError::Malformed("IPv4 total length below header length"));
    }
    if total > data.len() {
        return Err(IoError::Malformed(
            "IPv4 total length beyond received bytes",
        ));
    }
    if i32::from(data[9]) != IPPROTO_VRRP {
        return Err(IoError::Malformed("IP protocol is not 112"));
    }
    Ok(Ipv4Header {
        ttl: data[8],
        src: Ipv4Addr::new(data[12], data[13], data[14], data[15]),
        dst: Ipv4Addr::new(data[16], data[17], data[18], data[19]),
        payload: ihl..total,
    })
}

/// Rejects names the kernel cannot hold before any syscall.
fn check_ifname(ifname: &str) -> Result<(), IoError> {
    if ifname.is_empty() || ifname.len() > IFNAME_MAX || ifname.contains('\0') {
        return Err(IoError::InvalidArgument(format!(
            "interface name {ifname:?} is empty, longer than {IFNAME_MAX} bytes or has a NUL"
        )));
    }
    Ok(())
}

/// An interface index as the C `int` some structs want.
fn ifindex_c(ifindex: u32) -> Result<libc::c_int, IoError> {
    libc::c_int::try_from(ifindex)
        .map_err(|_| IoError::InvalidArgument(format!("interface index {ifindex} out of range")))
}

/// `setsockopt(2)` for options that socket2 and nix do not wrap.
fn setsockopt_raw<T>(
    sock: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    op: &'static str,
) -> Result<(), IoError> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>())
        .map_err(|_| IoError::InvalidArgument(format!("{op}: option too large")))?;
    // SAFETY: `value` is a live, initialised `T` borrowed for the whole call,
    // `len` is exactly its size, the kernel only reads from the pointer, and
    // the fd is owned by `sock`, which outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    if rc != 0 {
        return Err(IoError::sys(op, std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid IPv4 header (IHL 5, TTL 255, proto 112) plus `payload`.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).unwrap();
        let mut p = vec![
            0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn test_parse_ipv4() {
        let p = packet(&[0x31, 1, 100, 1]);
        let h = parse_ipv4(&p).unwrap();
        assert_eq!(h.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(h.dst, VRRP_GROUP_V4);
        assert_eq!(h.ttl, 255);
        assert_eq!(&p[h.payload], &[0x31, 1, 100, 1]);
    }

    #[test]
    fn test_parse_ipv4_options_and_padding() {
        // IHL 6 (one option word), and trailing bytes beyond total length
        // (Ethernet padding) are not payload.
        let mut p = packet(&[1, 2, 3, 4]);
        p[0] = 0x46;
        p.splice(20..20, [0x94, 0x04, 0, 0]);
        p[3] += 4;
        p.extend_from_slice(&[0xee, 0xee]);
        let h = parse_ipv4(&p).unwrap();
        assert_eq!(&p[h.payload], &[1, 2, 3, 4]);
    }

    #[test]
    fn test_parse_ipv4_bad_inputs() {
        let good = packet(&[9; 8]);
        assert!(parse_ipv4(&good[..19]).is_err(), "short");
        assert!(parse_ipv4(&[]).is_err(), "empty");
        let mut p = good.clone();
        p[0] = 0x65;
        assert!(parse_ipv4(&p).is_err(), "version 6");
        let mut p = good.clone();
        p[0] = 0x44;
        assert!(parse_ipv4(&p).is_err(), "IHL 4");
        let mut p = good.clone();
        p[0] = 0x4f;
        assert!(parse_ipv4(&p).is_err(), "IHL beyond packet");
        let mut p = good.clone();
        p[2..4].copy_from_slice(&100u16.to_be_bytes());
        assert!(parse_ipv4(&p).is_err(), "total length beyond packet");
        let mut p = good.clone();
        p[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert!(parse_ipv4(&p).is_err(), "total length below header");
        let mut p = good;
        p[9] = 17;
        assert!(parse_ipv4(&p).is_err(), "protocol UDP");
        assert!(IoError::Malformed("x").is_packet_error());
    }

    #[test]
    fn test_parse_ipv4_never_panics() {
        // Every prefix and every single-byte corruption of a valid packet.
        let good = packet(&[7; 12]);
        for n in 0..=good.len() {
            let _ = parse_ipv4(&good[..n]);
        }
        for i in 0..good.len() {
            for v in [0u8, 0x0f, 0x40, 0x4f, 0xff] {
                let mut p = good.clone();
                p[i] = v;
                if let Ok(h) = parse_ipv4(&p) {
                    assert!(h.payload.end <= p.len());
                }
            }
        }
    }

    #[test]
    fn test_check_ifname() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a23456789012345").is_ok());
        assert!(check_ifname("a234567890123456").is_err());
        assert!(check_ifname("a\0b").is_err());
    }
}
