//! A link-layer (AF_PACKET) sender for complete Ethernet frames:
//! gratuitous ARP (RFC 5798 section 6.4.2) and unsolicited Neighbor
//! Advertisements (RFC 4861 section 7.2.6) after becoming master.
//!
//! One socket serves every interface ([`FrameSocket`]): each frame names
//! the interface it leaves by, and an instance holds a [`FrameSender`], the
//! shared socket and its interface. One socket per instance cost a file
//! descriptor each and, worse, an RCU grace period each when closed (the
//! kernel's `packet_release` waits for one): a daemon with 4000 instances
//! took a minute to exit, and a reload that removed instances held up the
//! event loop for as many grace periods.
//!
//! The socket is opened with protocol 0 and bound to nothing, so the kernel
//! delivers no frames to it: it only sends, and its receive queue cannot
//! fill up.

use std::mem;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use socket2::{Domain, Socket, Type};

use super::IoError;

/// Length of an Ethernet header (destination, source, EtherType).
pub const ETH_HEADER_LEN: usize = 14;

/// Sends complete Ethernet frames out of any interface of the network
/// namespace it was opened in.
///
/// Non-blocking: a full send buffer is an error, never a wait and never a
/// panic.
#[derive(Debug)]
pub struct FrameSocket {
    /// The AF_PACKET socket, protocol 0, unbound.
    sock: Socket,
}

impl FrameSocket {
    /// Opens an `AF_PACKET`/`SOCK_RAW` socket with protocol 0 (it receives
    /// nothing).
    pub fn open() -> Result<Self, IoError> {
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(|e| IoError::sys("socket(AF_PACKET, SOCK_RAW, 0)", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| IoError::sys("fcntl(O_NONBLOCK)", e))?;
        Ok(FrameSocket { sock })
    }

    /// Sends one complete Ethernet frame (header included, no FCS) out of
    /// interface `ifindex`.
    ///
    /// Frames shorter than an Ethernet header are rejected with
    /// [`IoError::InvalidArgument`]; the driver pads short frames to the
    /// 60-byte minimum itself.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> Result<(), IoError> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(IoError::InvalidArgument(format!(
                "frame of {} bytes is shorter than an Ethernet header",
                frame.len()
            )));
        }
        let c_index = libc::c_int::try_from(ifindex).map_err(|_| {
            IoError::InvalidArgument(format!("interface index {ifindex} out of range"))
        })?;
        // SAFETY: sockaddr_ll is a plain C struct for which all-zero bytes
        // are a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::sa_family_t;
        // The frame's own EtherType (network order, as on the wire): the
        // kernel's idea of the protocol for taps and queueing. The header
        // itself goes out as written (SOCK_RAW).
        sll.sll_protocol = u16::from_ne_bytes([frame[12], frame[13]]);
        sll.sll_ifindex = c_index;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `frame` is a live buffer of `frame.len()` bytes and `sll`
        // an initialised sockaddr_ll of exactly `len` bytes, both alive
        // across the call; the fd is owned by `sock`.
        let sent = unsafe {
            libc::sendto(
                self.sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                len,
            )
        };
        if sent < 0 {
            return Err(IoError::sys(
                "sendto(AF_PACKET)",
                std::io::Error::last_os_error(),
            ));
        }
        if sent as usize != frame.len() {
            return Err(IoError::sys(
                "sendto(AF_PACKET)",
                std::io::Error::other(format!("short send: {sent} of {} bytes", frame.len())),
            ));
        }
        Ok(())
    }
}

/// Sends complete Ethernet frames out of one interface, through a shared
/// [`FrameSocket`].
#[derive(Debug, Clone)]
pub struct FrameSender {
    sock: Arc<FrameSocket>,
    /// The interface frames leave by.
    ifindex: u32,
}

impl FrameSender {
    /// Frames out of `ifindex`, through `sock`.
    pub fn new(sock: Arc<FrameSocket>, ifindex: u32) -> Self {
        FrameSender { sock, ifindex }
    }

    /// Frames out of `ifindex`, through a socket of its own.
    pub fn open(ifindex: u32) -> Result<Self, IoError> {
        Ok(FrameSender::new(Arc::new(FrameSocket::open()?), ifindex))
    }

    /// The interface index frames leave by.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The socket it sends through.
    pub fn socket(&self) -> &Arc<FrameSocket> {
        &self.sock
    }

    /// Sends one complete Ethernet frame (see [`FrameSocket::send`]).
    pub fn send(&self, frame: &[u8]) -> Result<(), IoError> {
        self.sock.send(self.ifindex, frame)
    }
}
