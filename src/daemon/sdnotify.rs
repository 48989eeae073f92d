//! systemd's readiness protocol (`sd_notify`): `Type=notify` units learn
//! that vrrpd is ready, reloading or stopping from datagrams sent to
//! `$NOTIFY_SOCKET`.
//!
//! The socket is a path, or an abstract name written with a leading `@`.
//! Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
//! Sending is best effort: a failure is logged at debug level and ignored,
//! as libsystemd's `sd_notify` does.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// One state a service reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `READY=1`: start-up (or a reload) is finished.
    Ready,
    /// `RELOADING=1` with `MONOTONIC_USEC=`, which systemd 253 and later
    /// want for `Type=notify-reload`, and older ones ignore.
    Reloading {
        /// `CLOCK_MONOTONIC` when the reload began, in microseconds.
        monotonic_usec: u64,
    },
    /// `STOPPING=1`: shutdown has begun.
    Stopping,
    /// `STATUS=...`: a one-line status shown by `systemctl status`.
    Status(String),
}

impl Message {
    /// The message as the protocol's newline-separated `KEY=VALUE` lines.
    pub fn to_wire(&self) -> String {
        match self {
            Message::Ready => "READY=1".into(),
            Message::Reloading { monotonic_usec } => {
                format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}")
            }
            Message::Stopping => "STOPPING=1".into(),
            // A newline would start another assignment: keep one line.
            Message::Status(s) => format!("STATUS={}", s.replace('\n', " ")),
        }
    }
}

/// `CLOCK_MONOTONIC` now, in microseconds (for [`Message::Reloading`]).
pub fn monotonic_usec() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(t) => (t.tv_sec() as u64) * 1_000_000 + (t.tv_nsec() as u64) / 1_000,
        Err(_) => 0,
    }
}

/// Parse a `$NOTIFY_SOCKET` value: a path, or `@name` for an abstract socket.
pub fn parse_address(value: &str) -> std::io::Result<SocketAddr> {
    if let Some(name) = value.strip_prefix('@') {
        SocketAddr::from_abstract_name(name.as_bytes())
    } else if value.starts_with('/') {
        SocketAddr::from_pathname(value)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{NOTIFY_SOCKET_ENV} must be an absolute path or start with @: {value:?}"),
        ))
    }
}

/// A connection to the service manager, or nothing.
#[derive(Debug)]
pub struct SdNotify {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl SdNotify {
    /// Does nothing on every call.
    pub fn disabled() -> Self {
        SdNotify { target: None }
    }

    /// Notify the socket `value` names (see [`parse_address`]).
    pub fn to_address(value: &str) -> std::io::Result<Self> {
        let addr = parse_address(value)?;
        let sock = UnixDatagram::unbound()?;
        Ok(SdNotify {
            target: Some((sock, addr)),
        })
    }

    /// From `$NOTIFY_SOCKET` when set (and valid), else disabled.
    pub fn from_env() -> Self {
        match std::env::var(NOTIFY_SOCKET_ENV) {
            Ok(v) if !v.is_empty() => Self::to_address(&v).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring {NOTIFY_SOCKET_ENV}");
                Self::disabled()
            }),
            _ => Self::disabled(),
        }
    }

    /// Whether messages go anywhere.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Send `msg` (best effort).
    pub fn send(&self, msg: &Message) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        if let Err(e) = sock.send_to_addr(msg.to_wire().as_bytes(), addr) {
            tracing::debug!(error = %e, "sd_notify failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_protocol_form() {
        assert_eq!(Message::Ready.to_wire(), "READY=1");
        assert_eq!(Message::Stopping.to_wire(), "STOPPING=1");
        assert_eq!(
            Message::Reloading {
                monotonic_usec: 1234567
            }
            .to_wire(),
            "RELOADING=1\nMONOTONIC_USEC=1234567"
        );
        assert_eq!(
            Message::Status("2 instances\nmaster: VI_1".into()).to_wire(),
            "STATUS=2 instances master: VI_1"
        );
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_usec();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = monotonic_usec();
        assert!(a > 0 && b >= a + 1000, "{a} {b}");
    }

    #[test]
    fn addresses_path_and_abstract() {
        let p = parse_address("/run/systemd/notify").unwrap();
        assert_eq!(
            p.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let a = parse_address("@vrrpd-test").unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"vrrpd-test"[..]));
        assert!(parse_address("relative").is_err());
    }

    #[test]
    fn datagrams_reach_an_abstract_listener() {
        let name = format!("vrrpd-sdnotify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        listener
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let n = SdNotify::to_address(&format!("@{name}")).unwrap();
        assert!(n.enabled());
        n.send(&Message::Ready);
        n.send(&Message::Stopping);
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");
        // Disabled: nothing is sent, nothing fails.
        SdNotify::disabled().send(&Message::Ready);
    }
}
