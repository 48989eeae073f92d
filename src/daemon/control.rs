//! The control socket: a Unix stream socket, mode 0600, one request line in,
//! one JSON line out. `vrrpd status` and `vrrpd maintenance` are its clients.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// The status document.
    Status,
    /// Put an instance into maintenance or take it out.
    Maintenance {
        /// Instance name.
        instance: String,
        /// On or off.
        on: bool,
    },
}

impl ControlRequest {
    /// Parse a request line: `status` or `maintenance NAME on|off`.
    pub fn parse(line: &str) -> Option<ControlRequest> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["status"] => Some(ControlRequest::Status),
            ["maintenance", name, "on"] => Some(ControlRequest::Maintenance {
                instance: (*name).to_owned(),
                on: true,
            }),
            ["maintenance", name, "off"] => Some(ControlRequest::Maintenance {
                instance: (*name).to_owned(),
                on: false,
            }),
            _ => None,
        }
    }
}

/// Requests travel to the event loop with a channel for the answer.
pub(super) type Request = (ControlRequest, oneshot::Sender<String>);

/// Bind the socket (mode 0600) and serve it on a task until the process ends.
pub(super) fn serve(
    path: &Path,
    tx: mpsc::Sender<Request>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket file left by a crashed run would make bind fail.
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = tokio::io::BufReader::new(r).lines();
                let Ok(Some(line)) = lines.next_line().await else {
                    return;
                };
                let answer = match ControlRequest::parse(&line) {
                    Some(req) => {
                        let (otx, orx) = oneshot::channel();
                        if tx.send((req, otx)).await.is_err() {
                            return;
                        }
                        orx.await.unwrap_or_default()
                    }
                    None => {
                        warn!(request = %line, "unknown control request");
                        serde_json::json!({"ok": false, "error": format!("unknown request: {line}")})
                            .to_string()
                    }
                };
                let _ = w.write_all(answer.as_bytes()).await;
                let _ = w.write_all(b"\n").await;
            });
        }
    }))
}

/// Client side: send one request line and return the answer line.
pub fn request(path: &Path, line: &str) -> std::io::Result<String> {
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer)?;
    Ok(answer.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        assert_eq!(
            ControlRequest::parse("status"),
            Some(ControlRequest::Status)
        );
        assert_eq!(
            ControlRequest::parse("maintenance VI_1 on"),
            Some(ControlRequest::Maintenance {
                instance: "VI_1".into(),
                on: true
            })
        );
        assert_eq!(ControlRequest::parse("maintenance VI_1"), None);
        assert_eq!(ControlRequest::parse("reboot"), None);
    }
}
