//! Raw IP sockets for VRRP (IP protocol 112), IPv4 and IPv6.
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
//! given. For IPv4 multicast that address is the socket's multicast source
//! (`IP_MULTICAST_IF`'s address, set once at open); for IPv4 unicast and
//! for IPv6 it is passed per packet in an `IP_PKTINFO` / `IPV6_PKTINFO`
//! control message. Sockets are never `bind(2)`-ed to an
//! address, because on a raw socket that also filters *received* packets
//! by destination and would drop advertisements sent to a unicast address
//! of ours (unicast peers) or, for IPv4, to the multicast group.
//!
//! Frames are plain `&[u8]` VRRP payloads (the advertisement without the IP
//! header); building and checking them is the core's job.
//!
//! The daemon's protocol thread waits on the fd with its own `epoll`
//! ([`VrrpSocket::as_raw_fd`]) and reads whatever is queued with one
//! `recvmmsg` into buffers it reuses ([`RxBatch`]); the adverts it sends in
//! one turn are queued in a [`TxBatch`] and leave with one `sendmmsg` per
//! socket ([`TxBatch::flush`]); a single send is one `sendmsg`
//! ([`VrrpSocket::send`]). None allocates. The socket is
//! not registered with tokio (a tokio reactor would wake for every packet
//! too); [`VrrpSocket::recv`] registers it for the length of one wait, for
//! tests and tools.

use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use nix::sys::socket::{setsockopt, sockopt};
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

/// A raw IP protocol 112 socket on one interface.
///
/// Receiving never waits ([`VrrpSocket::recv_batch`], [`VrrpSocket::try_recv`];
/// [`VrrpSocket::recv`] waits, in tokio); sending is a non-blocking
/// syscall that never waits ([`VrrpSocket::send_v4`], [`VrrpSocket::send_v6`]):
/// a full send buffer comes back as [`IoError::WouldBlock`].
#[derive(Debug)]
pub struct VrrpSocket {
    /// The socket (non-blocking).
    sock: Socket,
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
    /// `ifindex` (`ip_mreqn`), `IP_MULTICAST_IF` by `ifindex` with `local`
    /// as the multicast source address,
    /// `IP_MULTICAST_TTL` 255 and `IP_TTL` 255, `IP_MULTICAST_LOOP` off
    /// (we must not hear our own adverts), non-blocking. No receive control
    /// message: the IPv4 header comes with each packet (source, destination,
    /// TTL), and the socket is bound to the interface it arrives on (an
    /// `IP_PKTINFO` each packet cost the receive path a `put_cmsg`; sends
    /// still pass theirs to unicast peers).
    ///
    /// `local`: the source address for sent packets. `None` lets the
    /// kernel pick the interface's primary address. To the group it is the
    /// socket's multicast source (the kernel uses it when a packet names
    /// none), so those packets carry no control message; to a unicast peer
    /// it goes in an `IP_PKTINFO` per packet.
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
        // The address is the source of every multicast packet that names
        // none (raw_sendmsg: `saddr = inet->mc_addr`), as an IP_PKTINFO
        // with `ipi_spec_dst` would: the group's packets need no cmsg.
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr {
                s_addr: u32::from(local.unwrap_or(Ipv4Addr::UNSPECIFIED)).to_be(),
            },
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

    /// Common tail of the constructors: the receive buffer, non-blocking mode.
    fn finish(sock: Socket, ifindex: u32, family: Family) -> Result<Self, IoError> {
        set_rcvbuf(&sock);
        sock.set_nonblocking(true)
            .map_err(|e| IoError::sys("fcntl(O_NONBLOCK)", e))?;
        Ok(VrrpSocket {
            sock,
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

    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Sends one VRRP payload to `dst` (the group or a unicast peer).
    ///
    /// The kernel prepends the IPv4 header with TTL 255 and protocol 112.
    /// Never blocks: a full send buffer is [`IoError::WouldBlock`]. One
    /// `sendmsg`, and no allocation.
    pub fn send_v4(&self, payload: &[u8], dst: Ipv4Addr) -> Result<(), IoError> {
        if !matches!(self.family, Family::V4 { .. }) {
            return Err(IoError::WrongFamily("send_v4 on an IPv6 socket"));
        }
        self.send_one(payload, IpAddr::V4(dst))
    }

    /// Sends one VRRP payload to `dst` (the group or a unicast peer).
    ///
    /// The kernel prepends the IPv6 header with hop limit 255 and next
    /// header 112, and leaves the VRRP checksum as given. Never blocks: a
    /// full send buffer is [`IoError::WouldBlock`]. One `sendmsg`, and no
    /// allocation.
    pub fn send_v6(&self, payload: &[u8], dst: Ipv6Addr) -> Result<(), IoError> {
        if !matches!(self.family, Family::V6 { .. }) {
            return Err(IoError::WrongFamily("send_v6 on an IPv4 socket"));
        }
        self.send_one(payload, IpAddr::V6(dst))
    }

    /// `sendmsg(2)` of one payload, its address and control message on the
    /// stack (nix's `sendmsg` allocates its control buffer on every call).
    fn send_one(&self, payload: &[u8], dst: IpAddr) -> Result<(), IoError> {
        let control = self.tx_control();
        let mut name = TxAddr {
            v6: zeroed_sockaddr(),
        };
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        let hdr = self.tx_msghdr(dst, &mut name, &mut iov, &control)?;
        // SAFETY: every pointer in `hdr` points to a live local (name,
        // iov, control) or to `payload`, with its true length, for the
        // whole call; sendmsg only reads through them (the *mut are the C
        // API's, not writes).
        let n = unsafe { libc::sendmsg(self.as_raw_fd(), &hdr, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(IoError::sys("sendmsg", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The control message this socket's packets carry when they need one
    /// ([`VrrpSocket::tx_needs_control`]): the outgoing interface and the
    /// source address. The same for every packet of the socket.
    fn tx_control(&self) -> TxControl {
        match self.family {
            Family::V4 { local } => TxControl::new(
                (libc::IPPROTO_IP, libc::IP_PKTINFO),
                &libc::in_pktinfo {
                    // The interface the socket is bound to (an int, like the
                    // kernel's; an index beyond it cannot be bound).
                    ipi_ifindex: libc::c_int::try_from(self.ifindex).unwrap_or(0),
                    // The source address of the packet (0.0.0.0: let the kernel pick).
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(local.unwrap_or(Ipv4Addr::UNSPECIFIED)).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                },
            ),
            Family::V6 { local } => TxControl::new(
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO),
                &libc::in6_pktinfo {
                    // The source address of the packet (:: lets the kernel pick).
                    ipi6_addr: libc::in6_addr {
                        s6_addr: local.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                },
            ),
        }
    }

    /// Whether a packet to `dst` needs [`VrrpSocket::tx_control`]. Not an
    /// IPv4 packet to the group (its source is the socket's multicast
    /// source, its interface the bound one: `open_v4`), nor any IPv4
    /// packet without a fixed source (the kernel picks the address, and the
    /// interface is the bound one, as with a zero `ipi_spec_dst`). IPv6
    /// packets always do: the link-local source of RFC 5798 Section 5.1.2.1.
    fn tx_needs_control(&self, dst: IpAddr) -> bool {
        match (self.family, dst) {
            (Family::V4 { local }, IpAddr::V4(d)) => local.is_some() && !d.is_multicast(),
            (Family::V6 { .. }, _) => true,
            (Family::V4 { .. }, IpAddr::V6(_)) => false,
        }
    }

    /// A `msghdr` for one packet to `dst`: its address written into `name`,
    /// its payload `iov`, and `control` if it needs it. Fails for a `dst`
    /// of the other family.
    fn tx_msghdr(
        &self,
        dst: IpAddr,
        name: &mut TxAddr,
        iov: &mut libc::iovec,
        control: &TxControl,
    ) -> Result<libc::msghdr, IoError> {
        let namelen = match (self.family, dst) {
            (Family::V4 { .. }, IpAddr::V4(d)) => {
                name.v4 = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(d).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                mem::size_of::<libc::sockaddr_in>()
            }
            (Family::V6 { .. }, IpAddr::V6(d)) => {
                // The scope id matters for link-local destinations only; the
                // kernel ignores it for others.
                name.v6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: d.octets(),
                    },
                    sin6_scope_id: self.ifindex,
                };
                mem::size_of::<libc::sockaddr_in6>()
            }
            (Family::V4 { .. }, IpAddr::V6(_)) => {
                return Err(IoError::WrongFamily("IPv6 destination on an IPv4 socket"))
            }
            (Family::V6 { .. }, IpAddr::V4(_)) => {
                return Err(IoError::WrongFamily("IPv4 destination on an IPv6 socket"))
            }
        };
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths);
        // some libcs have private padding fields, so it is not built literally.
        let mut hdr: libc::msghdr = unsafe { mem::zeroed() };
        hdr.msg_name = (name as *mut TxAddr).cast();
        hdr.msg_namelen = namelen as libc::socklen_t;
        hdr.msg_iov = iov;
        hdr.msg_iovlen = 1;
        if self.tx_needs_control(dst) {
            hdr.msg_control = control.words.as_ptr() as *mut libc::c_void;
            hdr.msg_controllen = control.len as _;
        }
        Ok(hdr)
    }

    /// Sends to `dst` with the family's send function.
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> Result<(), IoError> {
        match dst {
            IpAddr::V4(d) => self.send_v4(payload, d),
            IpAddr::V6(d) => self.send_v6(payload, d),
        }
    }

    /// Waits for the next packet and returns it (for tests and tools; the
    /// daemon waits on the fd itself and reads with [`VrrpSocket::recv_batch`]).
    ///
    /// `buf` is scratch space for one packet (IPv4: with its IP header);
    /// 1500 bytes or the interface MTU is enough. Errors for which
    /// [`IoError::is_packet_error`] is true concern that packet only: count
    /// them and call again. Cancel-safe: dropping the future loses nothing.
    /// Needs a tokio runtime with IO.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        IoError::require_runtime()?;
        // SAFETY: the fd belongs to `self.sock`, which `&self` keeps open
        // for longer than `fd` lives (this call); it is only read from.
        let fd =
            unsafe { AsyncFd::register_with_interest(FdRef(self.as_raw_fd()), Interest::READABLE) }
                .map_err(|e| IoError::sys("register with tokio", e.into()))?;
        loop {
            let mut guard = fd
                .readable()
                .await
                .map_err(|e| IoError::sys("poll(readable)", e))?;
            match self.try_recv(buf) {
                Err(IoError::WouldBlock) => guard.clear_ready(),
                other => return other,
            }
        }
    }

    /// Receives one packet if one is queued, else [`IoError::WouldBlock`].
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<RxPacket, IoError> {
        let mut name = zeroed_sockaddr();
        let mut control = [0u64; CMSG_WORDS];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut hdr = msghdr(&mut name, &mut iov, &mut control);
        // SAFETY: every pointer in `hdr` (name, iov over `buf`, control)
        // points into a live local or `buf`, with its true length, for the
        // whole call; the kernel writes only within those lengths.
        let n = unsafe { libc::recvmsg(self.as_raw_fd(), &mut hdr, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(IoError::sys("recvmsg", std::io::Error::last_os_error()));
        }
        let got = Received {
            len: n as usize,
            flags: hdr.msg_flags,
            name,
            controllen: controllen(&hdr),
        };
        let control = as_bytes(&control);
        self.decode(&got, buf, control).map(|p| p.to_owned())
    }

    /// Receives every packet queued, up to [`RX_BATCH`], with one
    /// `recvmmsg`, into `batch`; [`IoError::WouldBlock`] when none is.
    /// Read them with [`RxBatch::get`]. No allocation.
    pub fn recv_batch(&self, batch: &mut RxBatch) -> Result<usize, IoError> {
        batch.count = 0;
        batch.family = self.family;
        batch.ifindex = self.ifindex;
        // SAFETY: all-zero is a valid iovec and mmsghdr (null pointers,
        // zero lengths), filled in below before the call.
        let mut iovs: [libc::iovec; RX_BATCH] = unsafe { mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; RX_BATCH] = unsafe { mem::zeroed() };
        let data = batch.data.chunks_exact_mut(RX_SLOT);
        let control = batch.control.chunks_exact_mut(CMSG_WORDS);
        let v4 = matches!(self.family, Family::V4 { .. });
        for ((((iov, hdr), buf), ctl), name) in iovs
            .iter_mut()
            .zip(hdrs.iter_mut())
            .zip(data)
            .zip(control)
            .zip(batch.names.iter_mut())
        {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = buf.len();
            hdr.msg_hdr = msghdr(name, iov, ctl);
            if v4 {
                // IPv4: the source is in the IP header the socket hands
                // over, and there are no control messages (`open_v4`):
                // the kernel copies neither an address nor a cmsg.
                hdr.msg_hdr.msg_name = std::ptr::null_mut();
                hdr.msg_hdr.msg_namelen = 0;
                hdr.msg_hdr.msg_control = std::ptr::null_mut();
                hdr.msg_hdr.msg_controllen = 0;
            }
        }
        // SAFETY: each header points at its own iovec (over its own slot of
        // `batch.data`), name and control slot, all alive and unaliased for
        // the call, with their true lengths; `RX_BATCH` headers exist.
        let n = unsafe {
            libc::recvmmsg(
                self.as_raw_fd(),
                hdrs.as_mut_ptr(),
                RX_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(IoError::sys("recvmmsg", std::io::Error::last_os_error()));
        }
        let n = n as usize;
        for (got, hdr) in batch.received.iter_mut().zip(&hdrs).take(n) {
            got.len = hdr.msg_len as usize;
            got.flags = hdr.msg_hdr.msg_flags;
            got.controllen = controllen(&hdr.msg_hdr);
        }
        for (got, name) in batch.received.iter_mut().zip(&batch.names).take(n) {
            got.name = *name;
        }
        batch.count = n;
        Ok(n)
    }

    /// What the IP layer said about a packet, and where its VRRP payload is.
    fn decode<'a>(
        &self,
        got: &Received,
        buf: &'a [u8],
        control: &[u8],
    ) -> Result<RxPacketRef<'a>, IoError> {
        decode(self.family, self.ifindex, got, buf, control)
    }
}

/// The socket's file descriptor, for an event loop's `epoll` (read
/// readiness only: sends never wait).
impl AsFd for VrrpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// A received packet whose payload stays in the receive buffer (see
/// [`RxBatch::get`]); [`RxPacket`] is its owned form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxPacketRef<'a> {
    /// Source address of the IP packet.
    pub src: IpAddr,
    /// Destination address of the IP packet.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as received.
    pub ttl: u8,
    /// Index of the interface the packet arrived on.
    pub ifindex: u32,
    /// The VRRP payload: the bytes after the IP header, exactly as received.
    pub payload: &'a [u8],
}

impl RxPacketRef<'_> {
    /// The owned form (allocates the payload).
    pub fn to_owned(&self) -> RxPacket {
        RxPacket {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            ifindex: self.ifindex,
            payload: self.payload.to_vec(),
        }
    }
}

/// How many packets one [`VrrpSocket::recv_batch`] takes at most.
pub const RX_BATCH: usize = 16;

/// Room for one packet: an IPv4 header (60 bytes at most) and the largest
/// VRRP message (255 IPv6 addresses: 4088 bytes), with room to spare for an
/// authentication trailer. A longer packet is [`IoError::Truncated`].
pub const RX_SLOT: usize = 8192;

/// Room for one packet's control messages, in 8-byte words (cmsghdr
/// alignment): IP_PKTINFO, or IPV6_PKTINFO and IPV6_HOPLIMIT, need 64 bytes.
const CMSG_WORDS: usize = 16;

/// Buffers for [`VrrpSocket::recv_batch`]: [`RX_BATCH`] packets, their
/// addresses and control messages, allocated once and reused.
pub struct RxBatch {
    data: Box<[u8]>,
    control: Box<[u64]>,
    names: Box<[libc::sockaddr_in6]>,
    received: Box<[Received]>,
    count: usize,
    family: Family,
    ifindex: u32,
}

impl std::fmt::Debug for RxBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxBatch")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl Default for RxBatch {
    fn default() -> Self {
        RxBatch::new()
    }
}

impl RxBatch {
    /// Empty buffers (about 130 kB of address space; pages are touched only
    /// as packets arrive).
    pub fn new() -> RxBatch {
        RxBatch {
            data: vec![0u8; RX_BATCH * RX_SLOT].into_boxed_slice(),
            control: vec![0u64; RX_BATCH * CMSG_WORDS].into_boxed_slice(),
            names: vec![zeroed_sockaddr(); RX_BATCH].into_boxed_slice(),
            received: vec![Received::default(); RX_BATCH].into_boxed_slice(),
            count: 0,
            family: Family::V4 { local: None },
            ifindex: 0,
        }
    }

    /// How many packets the last [`VrrpSocket::recv_batch`] took.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it took none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Packet `i` of the last batch, or the error that concerns that packet
    /// alone ([`IoError::is_packet_error`]).
    pub fn get(&self, i: usize) -> Result<RxPacketRef<'_>, IoError> {
        if i >= self.count {
            return Err(IoError::InvalidArgument(format!(
                "packet {i} of a batch of {}",
                self.count
            )));
        }
        let buf = &self.data[i * RX_SLOT..(i + 1) * RX_SLOT];
        let control = as_bytes(&self.control[i * CMSG_WORDS..(i + 1) * CMSG_WORDS]);
        decode(self.family, self.ifindex, &self.received[i], buf, control)
    }

    /// The VRID byte of packet `i` (the second byte of the VRRP payload in
    /// both versions, RFC 5798 Section 5.2.3), found without decoding the
    /// packet: for the receive path's prefetch, which must not decode each
    /// packet a second time. `None` when the packet is too short, or is no
    /// packet of the batch. Unchecked otherwise: [`RxBatch::get`] checks.
    pub fn vrid(&self, i: usize) -> Option<u8> {
        if i >= self.count {
            return None;
        }
        let got = self.received.get(i)?;
        let data = self
            .data
            .get(i * RX_SLOT..i * RX_SLOT + got.len.min(RX_SLOT))?;
        let at = match self.family {
            // IPv4: behind the header the socket hands over (IHL words).
            Family::V4 { .. } => usize::from(data.first()? & 0x0f) * 4 + 1,
            Family::V6 { .. } => 1,
        };
        data.get(at).copied()
    }
}

/// How many packets one `sendmmsg` of [`TxBatch::flush`] takes at most.
pub const TX_CHUNK: usize = 64;

/// A destination address as `sendmsg` takes it, for either family.
#[repr(C)]
union TxAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

/// One socket's send control message (see [`VrrpSocket::tx_control`]),
/// built in 8-byte words (cmsghdr alignment).
struct TxControl {
    words: [u64; CMSG_WORDS],
    /// Its length: `CMSG_SPACE` of the data.
    len: usize,
}

impl TxControl {
    /// One control message of `level` and `ty` carrying `data`.
    fn new<C>((level, ty): (libc::c_int, libc::c_int), data: &C) -> TxControl {
        let mut words = [0u64; CMSG_WORDS];
        let data_len = mem::size_of::<C>();
        let hdr_len = cmsg_align(mem::size_of::<libc::cmsghdr>());
        let space = hdr_len + cmsg_align(data_len);
        // Both pktinfo structs need far less than CMSG_WORDS words.
        debug_assert!(space <= mem::size_of_val(&words));
        if space > mem::size_of_val(&words) {
            return TxControl { words, len: 0 };
        }
        // SAFETY: all-zero is a valid cmsghdr.
        let mut c: libc::cmsghdr = unsafe { mem::zeroed() };
        c.cmsg_len = (hdr_len + data_len) as _;
        c.cmsg_level = level;
        c.cmsg_type = ty;
        // SAFETY: `words` is 8-byte aligned and at least `space` bytes long
        // (checked above): the header fits at offset 0 and `data_len` bytes
        // of data at `hdr_len` (CMSG_DATA's offset); both sources are live
        // values of exactly the sizes copied.
        unsafe {
            let base = words.as_mut_ptr().cast::<u8>();
            std::ptr::write(base.cast::<libc::cmsghdr>(), c);
            std::ptr::copy_nonoverlapping(
                (data as *const C).cast::<u8>(),
                base.add(hdr_len),
                data_len,
            );
        }
        TxControl { words, len: space }
    }
}

/// One queued packet of a [`TxBatch`].
#[derive(Clone, Copy)]
struct TxItem {
    /// Where its payload lies in `TxBatch::data`.
    at: usize,
    len: usize,
    dst: IpAddr,
    /// The caller's, handed back with an error.
    tag: u32,
}

/// Packets queued to leave together: each run of packets for the same
/// socket goes out with one `sendmmsg` per [`TX_CHUNK`] when the batch is
/// flushed ([`TxBatch::flush`]), not one `sendmsg` each. A master's adverts
/// due in one turn of the event loop (1000 instances at 100 ms: 5000 a
/// second, in bursts), and the advert keeper's in one pass, are sent so.
///
/// The payloads are copied in (a VRRP advert is tens of bytes), so the
/// caller's buffers are free again at once; the buffers are reused from
/// one flush to the next: no allocation once they have grown to the
/// largest burst. On the wire each packet is what [`VrrpSocket::send`]
/// would send, in the order pushed.
pub struct TxBatch {
    /// The payloads, back to back.
    data: Vec<u8>,
    items: Vec<TxItem>,
    /// Each run's socket, and where its items end in `items`.
    runs: Vec<(Arc<VrrpSocket>, usize)>,
}

impl std::fmt::Debug for TxBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxBatch")
            .field("packets", &self.items.len())
            .field("sockets", &self.runs.len())
            .finish_non_exhaustive()
    }
}

impl Default for TxBatch {
    fn default() -> Self {
        TxBatch::new()
    }
}

impl TxBatch {
    /// Empty, with room for a burst of a few hundred adverts.
    pub fn new() -> TxBatch {
        TxBatch {
            data: Vec::with_capacity(32 * 1024),
            items: Vec::with_capacity(512),
            runs: Vec::with_capacity(16),
        }
    }

    /// Queue `payload` to `dst` on `socket`. `tag` comes back with the
    /// packet's error, if it has one ([`TxBatch::flush`]).
    pub fn push(&mut self, socket: &Arc<VrrpSocket>, payload: &[u8], dst: IpAddr, tag: u32) {
        let at = self.data.len();
        self.data.extend_from_slice(payload);
        self.items.push(TxItem {
            at,
            len: payload.len(),
            dst,
            tag,
        });
        let end = self.items.len();
        match self.runs.last_mut() {
            Some((s, e)) if Arc::ptr_eq(s, socket) => *e = end,
            _ => self.runs.push((socket.clone(), end)),
        }
    }

    /// How many packets are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Send every queued packet, in order, and empty the batch. Returns how
    /// many the kernel took. A packet it refuses (a full send buffer, a
    /// destination of the socket's other family, an unreachable peer) is
    /// handed to `failed` with its tag, and the others still go. Never
    /// blocks; no allocation.
    pub fn flush(&mut self, mut failed: impl FnMut(u32, IpAddr, IoError)) -> usize {
        let mut sent = 0;
        let mut start = 0;
        for (socket, end) in &self.runs {
            let items = self.items.get(start..*end).unwrap_or(&[]);
            for chunk in items.chunks(TX_CHUNK) {
                sent += socket.send_chunk(chunk, &self.data, &mut failed);
            }
            start = *end;
        }
        self.data.clear();
        self.items.clear();
        self.runs.clear();
        sent
    }
}

impl VrrpSocket {
    /// One `sendmmsg` (more if the kernel stops short) of up to
    /// [`TX_CHUNK`] queued packets whose payloads lie in `data`. Returns
    /// how many were sent; each one refused goes to `failed`.
    fn send_chunk(
        &self,
        items: &[TxItem],
        data: &[u8],
        failed: &mut impl FnMut(u32, IpAddr, IoError),
    ) -> usize {
        let control = self.tx_control();
        // SAFETY: all-zero is a valid iovec, mmsghdr and sockaddr (null
        // pointers, zero lengths and addresses), filled in below.
        let mut iovs: [libc::iovec; TX_CHUNK] = unsafe { mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; TX_CHUNK] = unsafe { mem::zeroed() };
        let mut names: [TxAddr; TX_CHUNK] = unsafe { mem::zeroed() };
        // Which item each header sends (one with the wrong family has none).
        let mut which = [0usize; TX_CHUNK];
        let mut k = 0;
        for (i, item) in items.iter().enumerate().take(TX_CHUNK) {
            let Some(payload) = data.get(item.at..item.at + item.len) else {
                failed(
                    item.tag,
                    item.dst,
                    IoError::Malformed("payload beyond the batch"),
                );
                continue;
            };
            iovs[k] = libc::iovec {
                iov_base: payload.as_ptr() as *mut libc::c_void,
                iov_len: payload.len(),
            };
            match self.tx_msghdr(item.dst, &mut names[k], &mut iovs[k], &control) {
                Ok(h) => {
                    hdrs[k].msg_hdr = h;
                    which[k] = i;
                    k += 1;
                }
                Err(e) => failed(item.tag, item.dst, e),
            }
        }
        let mut sent = 0;
        let mut off = 0;
        while off < k {
            let rest = &mut hdrs[off..k];
            // SAFETY: each of the `rest.len()` headers points at its own
            // name and iovec (over a payload in `data`) and at `control`,
            // all alive and unmoved for the call, with their true lengths;
            // the kernel reads those and writes only each header's
            // `msg_len`.
            let n = unsafe {
                libc::sendmmsg(
                    self.as_raw_fd(),
                    rest.as_mut_ptr(),
                    rest.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                let n = n as usize;
                sent += n;
                off += n;
            } else {
                // The packet at `off` failed (the kernel reports an error
                // only for the first of a call): hand it back, go on after it.
                let e = if n < 0 {
                    IoError::sys("sendmmsg", std::io::Error::last_os_error())
                } else {
                    IoError::sys("sendmmsg", std::io::Error::other("sent nothing"))
                };
                let item = &items[which[off]];
                failed(item.tag, item.dst, e);
                off += 1;
            }
        }
        sent
    }
}

/// What `recvmsg` reported for one packet.
#[derive(Clone, Copy)]
struct Received {
    len: usize,
    flags: libc::c_int,
    name: libc::sockaddr_in6,
    controllen: usize,
}

impl Default for Received {
    fn default() -> Self {
        Received {
            len: 0,
            flags: 0,
            name: zeroed_sockaddr(),
            controllen: 0,
        }
    }
}

fn zeroed_sockaddr() -> libc::sockaddr_in6 {
    // SAFETY: all-zero is a valid sockaddr_in6 (plain integers and bytes).
    unsafe { mem::zeroed() }
}

/// A `msghdr` for one packet: `name` for the source address, one iovec,
/// `control` for the control messages.
fn msghdr(
    name: &mut libc::sockaddr_in6,
    iov: &mut libc::iovec,
    control: &mut [u64],
) -> libc::msghdr {
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths);
    // some libcs have private padding fields, so it is not built literally.
    let mut hdr: libc::msghdr = unsafe { mem::zeroed() };
    hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
    hdr.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    hdr.msg_iov = iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = mem::size_of_val(control) as _;
    hdr
}

/// The control length the kernel wrote back (`size_t` in glibc,
/// `socklen_t` in musl).
#[allow(clippy::unnecessary_cast)]
fn controllen(hdr: &libc::msghdr) -> usize {
    hdr.msg_controllen as usize
}

fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirement; the slice covers
    // exactly the memory of `words`, borrowed for the same lifetime.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), mem::size_of_val(words)) }
}

/// The control messages of one packet, as (level, type, data).
fn control_messages(control: &[u8], len: usize) -> impl Iterator<Item = (i32, i32, &[u8])> {
    let len = len.min(control.len());
    let hdr_len = mem::size_of::<libc::cmsghdr>();
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at + hdr_len > len {
            return None;
        }
        // SAFETY: `at + hdr_len <= len <= control.len()`, and cmsg headers
        // start at 8-byte aligned offsets of an 8-byte aligned buffer (the
        // kernel aligns them; `at` only moves by CMSG_ALIGN'd lengths);
        // read_unaligned needs no alignment anyway.
        let c: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control.as_ptr().add(at).cast()) };
        let clen = c.cmsg_len as usize;
        if clen < hdr_len || at + clen > len {
            return None;
        }
        // The data follows the header, aligned (CMSG_DATA).
        let data_at = at + cmsg_align(hdr_len);
        let data = control.get(data_at..at + clen).unwrap_or(&[]);
        at += cmsg_align(clen);
        Some((c.cmsg_level, c.cmsg_type, data))
    })
}

fn cmsg_align(len: usize) -> usize {
    let a = mem::size_of::<usize>();
    (len + a - 1) & !(a - 1)
}

/// A received packet's addresses, TTL and payload, from what `recvmsg` gave.
fn decode<'a>(
    family: Family,
    bound_ifindex: u32,
    got: &Received,
    buf: &'a [u8],
    control: &[u8],
) -> Result<RxPacketRef<'a>, IoError> {
    if got.flags & libc::MSG_TRUNC != 0 {
        return Err(IoError::Truncated(buf.len()));
    }
    let data = buf
        .get(..got.len)
        .ok_or(IoError::Malformed("length beyond buffer"))?;
    match family {
        Family::V4 { .. } => {
            let mut ifindex = None;
            for (level, ty, d) in control_messages(control, got.controllen) {
                if level == libc::IPPROTO_IP && ty == libc::IP_PKTINFO {
                    if let Some(b) = d.get(..mem::size_of::<libc::in_pktinfo>()) {
                        // SAFETY: `b` holds a whole in_pktinfo (the kernel's
                        // IP_PKTINFO payload); read_unaligned needs no alignment.
                        let info: libc::in_pktinfo =
                            unsafe { std::ptr::read_unaligned(b.as_ptr().cast()) };
                        ifindex = u32::try_from(info.ipi_ifindex).ok();
                    }
                }
            }
            let hdr = parse_ipv4(data)?;
            Ok(RxPacketRef {
                src: IpAddr::V4(hdr.src),
                dst: IpAddr::V4(hdr.dst),
                ttl: hdr.ttl,
                // The socket is bound to one device, so that is where it
                // arrived (it asks for no IP_PKTINFO: `open_v4`).
                ifindex: ifindex.unwrap_or(bound_ifindex),
                payload: &data[hdr.payload],
            })
        }
        Family::V6 { .. } => {
            if got.name.sin6_family != libc::AF_INET6 as libc::sa_family_t {
                return Err(IoError::Malformed("no source address"));
            }
            let src = Ipv6Addr::from(got.name.sin6_addr.s6_addr);
            let mut dst = None;
            let mut ifindex = None;
            let mut hops = None;
            for (level, ty, d) in control_messages(control, got.controllen) {
                if level != libc::IPPROTO_IPV6 {
                    continue;
                }
                if ty == libc::IPV6_PKTINFO {
                    if let Some(b) = d.get(..mem::size_of::<libc::in6_pktinfo>()) {
                        // SAFETY: `b` holds a whole in6_pktinfo;
                        // read_unaligned needs no alignment.
                        let info: libc::in6_pktinfo =
                            unsafe { std::ptr::read_unaligned(b.as_ptr().cast()) };
                        dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                        ifindex = Some(info.ipi6_ifindex);
                    }
                } else if ty == libc::IPV6_HOPLIMIT {
                    if let Some(b) = d.get(..mem::size_of::<libc::c_int>()) {
                        hops = Some(libc::c_int::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    }
                }
            }
            // Without the hop limit the RFC 5798 section 7.1 check cannot be
            // made: never assume 255.
            let ttl = hops
                .and_then(|h| u8::try_from(h).ok())
                .ok_or(IoError::Malformed("no IPV6_HOPLIMIT control message"))?;
            let dst = dst.ok_or(IoError::Malformed("no IPV6_PKTINFO control message"))?;
            Ok(RxPacketRef {
                src: IpAddr::V6(src),
                dst: IpAddr::V6(dst),
                ttl,
                ifindex: ifindex.unwrap_or(bound_ifindex),
                payload: data,
            })
        }
    }
}

/// A borrowed fd for a short-lived tokio registration ([`VrrpSocket::recv`]).
struct FdRef(RawFd);

impl AsRawFd for FdRef {
    fn as_raw_fd(&self) -> RawFd {
        self.0
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

/// The receive buffer asked for (the kernel doubles it for its overhead):
/// room for about a thousand adverts, every VRID of an interface from
/// four peers, read together after the protocol thread's receive hold
/// (docs/ARCHITECTURE.md, "Fewer wake-ups"); the default (208 KiB)
/// holds about 200.
pub const RCVBUF: usize = 512 * 1024;

/// Sets the receive buffer to [`RCVBUF`]: `SO_RCVBUFFORCE` (needs
/// `CAP_NET_ADMIN`, which the daemon keeps), else `SO_RCVBUF` (capped by
/// `net.core.rmem_max`). Best effort: a smaller buffer only drops more in a
/// burst, counted by the kernel (`/proc/net/raw`, the `drops` column).
fn set_rcvbuf(sock: &Socket) {
    let size = libc::c_int::try_from(RCVBUF).unwrap_or(libc::c_int::MAX);
    let forced = setsockopt_raw(
        sock,
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        &size,
        "setsockopt(SO_RCVBUFFORCE)",
    );
    if forced.is_err() {
        let _ = sock.set_recv_buffer_size(RCVBUF);
    }
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

    /// A batch holding `packets` as `recv_batch` would leave them.
    fn batch_of(family: Family, packets: &[&[u8]]) -> RxBatch {
        let mut b = RxBatch::new();
        for (i, p) in packets.iter().enumerate() {
            b.data[i * RX_SLOT..i * RX_SLOT + p.len()].copy_from_slice(p);
            b.received[i].len = p.len();
        }
        b.count = packets.len();
        b.family = family;
        b
    }

    #[test]
    fn test_rx_batch_vrid_without_decoding() {
        let v4 = Family::V4 { local: None };
        let plain = packet(&[0x31, 7, 100, 1]);
        // IHL 6: the VRID is behind the option word.
        let mut options = packet(&[0x31, 9, 100, 1]);
        options[0] = 0x46;
        options.splice(20..20, [0x94, 0x04, 0, 0]);
        options[3] += 4;
        let short = packet(&[0x31]);
        let b = batch_of(v4, &[&plain, &options, &short, &[], &plain[..21]]);
        assert_eq!(b.vrid(0), Some(7));
        assert_eq!(b.vrid(0), b.get(0).ok().map(|p| p.payload[1]), "as decoded");
        assert_eq!(b.vrid(1), Some(9));
        assert_eq!(b.vrid(1), b.get(1).ok().map(|p| p.payload[1]), "as decoded");
        assert_eq!(b.vrid(2), None, "payload of one byte");
        assert_eq!(b.vrid(3), None, "empty");
        assert_eq!(b.vrid(4), None, "cut after the first payload byte");
        assert_eq!(b.vrid(5), None, "beyond the batch");
        assert_eq!(b.vrid(RX_BATCH + 1), None, "beyond the buffers");
        // IPv6: no header in front of the payload.
        let b = batch_of(Family::V6 { local: None }, &[&[0x31, 42, 100], &[0x31]]);
        assert_eq!(b.vrid(0), Some(42));
        assert_eq!(b.vrid(1), None);
        // An IHL that points past the packet: no panic, no VRID.
        let mut bad = packet(&[0x31, 7]);
        bad[0] = 0x4f;
        assert_eq!(batch_of(v4, &[&bad]).vrid(0), None);
    }

    #[test]
    fn test_tx_control_only_where_needed() {
        let s = |family| VrrpSocket {
            sock: Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap(),
            ifindex: 3,
            family,
        };
        let group = IpAddr::V4(VRRP_GROUP_V4);
        let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let fixed = s(Family::V4 {
            local: Some(Ipv4Addr::new(192, 0, 2, 11)),
        });
        // The group's source is the socket's multicast source (open_v4).
        assert!(!fixed.tx_needs_control(group));
        assert!(fixed.tx_needs_control(peer), "unicast from a fixed source");
        let any = s(Family::V4 { local: None });
        assert!(!any.tx_needs_control(group));
        assert!(!any.tx_needs_control(peer));
        let v6 = s(Family::V6 { local: None });
        assert!(v6.tx_needs_control(IpAddr::V6(VRRP_GROUP_V6)));
        // The IPv4 control message: IP_PKTINFO with the interface and source.
        let c = fixed.tx_control();
        let hdr_len = cmsg_align(mem::size_of::<libc::cmsghdr>());
        assert_eq!(
            c.len,
            hdr_len + cmsg_align(mem::size_of::<libc::in_pktinfo>())
        );
        let (level, ty, data) = control_messages(as_bytes(&c.words), c.len).next().unwrap();
        assert_eq!((level, ty), (libc::IPPROTO_IP, libc::IP_PKTINFO));
        assert_eq!(&data[..4], &3i32.to_ne_bytes(), "ipi_ifindex");
        assert_eq!(&data[4..8], &[192, 0, 2, 11], "ipi_spec_dst");
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
