//! The `http` tracker: a minimal HTTP/1.0 GET, status line only.
//!
//! Checking HAProxy (or any local web service) needs no HTTP library: the
//! tracker connects, sends `GET path HTTP/1.0` with a `Host` header, and
//! reads the status line (`HTTP/1.x NNN reason`). The check succeeds when
//! the status equals `expect_status`; anything else (a 503 because no
//! backend is up, a refused connection, a timeout) is a failure.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{interval, timeout, MissedTickBehavior};

use super::{up_down, Closed, Emitter, RiseFall, TrackState};

/// Longest status line accepted (bytes before the first CR LF).
const MAX_STATUS_LINE: usize = 1024;

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address as written, without brackets (`::1`, `lb.local`).
    pub host: String,
    /// Port (80 when absent).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `http://` (https is not supported).
    #[error("only http:// URLs are supported")]
    Scheme,
    /// No host.
    #[error("no host in URL")]
    NoHost,
    /// A port that is not 1..=65535.
    #[error("bad port in URL")]
    Port,
    /// Characters that would break the request line (spaces, CR, LF).
    #[error("URL contains blanks or control characters")]
    Blank,
}

impl HttpUrl {
    /// Parses `http://host[:port][/path]`; `host` may be `[v6addr]`.
    pub fn parse(url: &str) -> Result<HttpUrl, UrlError> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Blank);
        }
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .ok_or(UrlError::Scheme)?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        // Drop userinfo if any; we send no credentials.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(UrlError::NoHost)?;
            let host = &v6[..end];
            let port = match &v6[end + 1..] {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::Port)?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(UrlError::Port),
            },
        };
        Ok(HttpUrl {
            host: host.to_string(),
            port,
            path,
        })
    }

    /// The `Host` header value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

/// Why one check failed (or the status it got).
#[derive(Debug)]
enum CheckError {
    Io(&'static str, std::io::Error),
    Resolve,
    BadResponse,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Io(op, e) => write!(f, "{op}: {e}"),
            CheckError::Resolve => f.write_str("host name did not resolve"),
            CheckError::BadResponse => f.write_str("not an HTTP status line"),
        }
    }
}

/// Performs one GET; returns the status code.
async fn get_status(url: &HttpUrl) -> Result<u16, CheckError> {
    let mut addrs = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|e| CheckError::Io("resolve", e))?;
    let addr = addrs.next().ok_or(CheckError::Resolve)?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| CheckError::Io("connect", e))?;
    let _ = stream.set_nodelay(true);
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: vrrpd\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| CheckError::Io("send", e))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            return parse_status_line(&buf[..end]).ok_or(CheckError::BadResponse);
        }
        if buf.len() > MAX_STATUS_LINE {
            return Err(CheckError::BadResponse);
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| CheckError::Io("receive", e))?;
        if n == 0 {
            // Some servers end a bare status line with LF only, then close.
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            return parse_status_line(line).ok_or(CheckError::BadResponse);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `HTTP/1.1 503 Service Unavailable` -> 503.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..=999).contains(c))
}

/// Check cadence.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// Time between checks.
    pub interval: Duration,
    /// Time one check may take.
    pub timeout: Duration,
}

/// The tracker task.
pub(super) async fn run(url: String, timing: Timing, rf: RiseFall, expect: u16, mut out: Emitter) {
    let _ = track(url, timing, rf, expect, &mut out).await;
}

async fn track(
    url: String,
    timing: Timing,
    mut rf: RiseFall,
    expect: u16,
    out: &mut Emitter,
) -> Result<(), Closed> {
    let parsed = match HttpUrl::parse(&url) {
        Ok(u) => u,
        Err(e) => {
            out.set(TrackState::Down, format!("{url}: {e}")).await?;
            // Stay alive (so the set does not look broken), doing nothing.
            out.tx.closed().await;
            return Err(Closed);
        }
    };
    let mut tick = interval(timing.interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (ok, detail) = match timeout(timing.timeout, get_status(&parsed)).await {
            Ok(Ok(code)) if code == expect => (true, format!("{parsed}: HTTP {code}")),
            Ok(Ok(code)) => (false, format!("{parsed}: HTTP {code}, expected {expect}")),
            Ok(Err(e)) => (false, format!("{parsed}: {e}")),
            Err(_) => (
                false,
                format!("{parsed}: no answer within {:?}", timing.timeout),
            ),
        };
        let up = rf.feed(ok);
        out.set(up_down(up), detail).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/health?x=1").expect("ok");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/health?x=1")
        );
        let u = HttpUrl::parse("http://[::1]/").expect("ok");
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 80, "/"));
        assert_eq!(u.host_header(), "[::1]");
        let u = HttpUrl::parse("http://lb").expect("ok");
        assert_eq!(u.path, "/");
        assert_eq!(HttpUrl::parse("https://x/"), Err(UrlError::Scheme));
        assert_eq!(HttpUrl::parse("http://x:0/"), Err(UrlError::Port));
        assert_eq!(HttpUrl::parse("http://x:99999/"), Err(UrlError::Port));
        assert_eq!(HttpUrl::parse("http:///a"), Err(UrlError::NoHost));
        assert_eq!(HttpUrl::parse("http://x/a b"), Err(UrlError::Blank));
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable"),
            Some(503)
        );
        assert_eq!(parse_status_line(b"HTTP/1.0 200"), Some(200));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 20 OK"), None);
    }
}
