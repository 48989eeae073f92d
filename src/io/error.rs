//! The error type of the IO shell layer.

use std::io;

/// Errors raised by the IO shell primitives (raw sockets, netlink, frame sender).
///
/// Two kinds matter to the caller:
/// - per-packet errors ([`IoError::is_packet_error`]): a malformed or
///   truncated packet arrived. The socket is still fine; the daemon counts
///   the error and goes on receiving.
/// - everything else: a syscall or netlink request failed.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A socket syscall failed; `op` names the operation.
    #[error("{op}: {source}")]
    Sys {
        /// The operation that failed (e.g. `"setsockopt(IP_MULTICAST_IF)"`).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A send could not complete right now: the socket send buffer is full
    /// (`EAGAIN`). The packet was not sent; nothing blocks.
    #[error("send buffer full, packet dropped")]
    WouldBlock,
    /// A received packet is malformed (short, bad header, bad length).
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// A received packet did not fit into the receive buffer.
    #[error("packet truncated: receive buffer of {0} bytes too small")]
    Truncated(usize),
    /// A call did not match the address family of the socket
    /// (e.g. `send_v4` on an IPv6 socket).
    #[error("address family mismatch: {0}")]
    WrongFamily(&'static str),
    /// An argument was rejected before any syscall (e.g. an interface name
    /// longer than `IFNAMSIZ - 1`, a frame shorter than an Ethernet header).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A netlink request failed.
    #[error("netlink {op}: {source}")]
    Netlink {
        /// The request that failed (e.g. `"add address"`).
        op: &'static str,
        /// The error reported by rtnetlink (including kernel NACKs).
        #[source]
        source: rtnetlink::Error,
    },
    /// The call needs a tokio runtime (with IO and time enabled) and was
    /// made outside one.
    #[error("not called from inside a tokio runtime")]
    NoRuntime,
    /// Opening a netlink socket failed.
    #[error("netlink socket: {0}")]
    NetlinkSocket(#[source] io::Error),
}

impl IoError {
    /// Wraps an OS error with the name of the operation that failed.
    pub(crate) fn sys(op: &'static str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::WouldBlock {
            return IoError::WouldBlock;
        }
        IoError::Sys { op, source }
    }

    /// Wraps a nix errno with the name of the operation that failed.
    pub(crate) fn nix(op: &'static str, errno: nix::errno::Errno) -> Self {
        Self::sys(op, io::Error::from(errno))
    }

    /// Fails with [`IoError::NoRuntime`] outside a tokio runtime, where
    /// spawning or registering with the reactor would panic.
    pub(crate) fn require_runtime() -> Result<tokio::runtime::Handle, Self> {
        tokio::runtime::Handle::try_current().map_err(|_| IoError::NoRuntime)
    }

    /// True when the error concerns one received packet only (malformed or
    /// truncated): the socket is still usable and the caller should count
    /// the error and keep receiving.
    pub fn is_packet_error(&self) -> bool {
        matches!(self, IoError::Malformed(_) | IoError::Truncated(_))
    }

    /// The kernel errno behind this error, if there is one (a syscall error
    /// or a netlink NACK), as a positive number.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IoError::Sys { source, .. } | IoError::NetlinkSocket(source) => source.raw_os_error(),
            IoError::WouldBlock => Some(libc::EAGAIN),
            IoError::Netlink {
                source: rtnetlink::Error::NetlinkError(msg),
                ..
            } => Some(msg.raw_code().abs()).filter(|c| *c != 0),
            _ => None,
        }
    }
}
