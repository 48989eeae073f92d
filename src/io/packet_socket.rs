//! A link-layer (AF_PACKET) sender for complete Ethernet frames:
//! gratuitous ARP (RFC 5798 section 6.4.2) and unsolicited Neighbor
//! Advertisements (RFC 4861 section 7.2.6) after becoming master.
//!
//! The socket is opened with protocol 0, so the kernel delivers no frames
//! to it: it only sends, and its receive queue cannot fill up.

use std::mem;
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};

use super::IoError;

/// Length of an Ethernet header (destination, source, EtherType).
pub const ETH_HEADER_LEN: usize = 14;

/// Sends complete Ethernet frames out of one interface.
///
/// Non-blocking: a full send buffer is [`IoError::WouldBlock`], never a
/// wait and never a panic.
#[derive(Debug)]
pub struct FrameSender {
    /// The AF_PACKET socket, bound to `ifindex`.
    sock: Socket,
    /// The interface frames leave by.
    ifindex: u32,
}

impl FrameSender {
    /// Opens an `AF_PACKET`/`SOCK_RAW` socket bound to `ifindex`.
    pub fn open(ifindex: u32) -> Result<Self, IoError> {
        let c_index = libc::c_int::try_from(ifindex).map_err(|_| {
            IoError::InvalidArgument(format!("interface index {ifindex} out of range"))
        })?;
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(|e| IoError::sys("socket(AF_PACKET, SOCK_RAW, 0)", e))?;
        // SAFETY: sockaddr_ll is a plain C struct for which all-zero bytes
        // are a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::sa_family_t;
        // Protocol 0: bound for sending only, receive nothing.
        sll.sll_protocol = 0;
        sll.sll_ifindex = c_index;
        let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `sll` is an initialised sockaddr_ll that lives across the
        // call and `len` is its exact size; the fd is owned by `sock`.
        let rc = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                len,
            )
        };
        if rc != 0 {
            return Err(IoError::sys(
                "bind(AF_PACKET)",
                std::io::Error::last_os_error(),
            ));
        }
        sock.set_nonblocking(true)
            .map_err(|e| IoError::sys("fcntl(O_NONBLOCK)", e))?;
        Ok(FrameSender { sock, ifindex })
    }

    /// The interface index the sender is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one complete Ethernet frame (header included, no FCS).
    ///
    /// Frames shorter than an Ethernet header are rejected with
    /// [`IoError::InvalidArgument`]; the driver pads short frames to the
    /// 60-byte minimum itself.
    pub fn send(&self, frame: &[u8]) -> Result<(), IoError> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(IoError::InvalidArgument(format!(
                "frame of {} bytes is shorter than an Ethernet header",
                frame.len()
            )));
        }
        let sent = self
            .sock
            .send(frame)
            .map_err(|e| IoError::sys("send(AF_PACKET)", e))?;
        if sent != frame.len() {
            return Err(IoError::sys(
                "send(AF_PACKET)",
                std::io::Error::other(format!("short send: {sent} of {} bytes", frame.len())),
            ));
        }
        Ok(())
    }
}
