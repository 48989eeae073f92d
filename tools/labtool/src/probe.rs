//! The prober: one new TCP connection and one HTTP/1.0 GET per tick, open loop.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::stats::Sample;

/// Largest response read; the lab's answers are far smaller.
const MAX_RESPONSE: usize = 64 * 1024;
/// Most requests in flight at once (a tick waits when all are busy).
const MAX_IN_FLIGHT: usize = 512;
/// Most requests in one run, whatever interval/duration say.
const MAX_REQUESTS: u64 = 1_000_000;

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Target address (from the URL).
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request path.
    pub path: String,
    /// Time between request starts.
    pub interval: Duration,
    /// How long to send requests.
    pub duration: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for the request once connected.
    pub request_timeout: Duration,
}

/// Split `http://host:port/path` into address, host header and path.
/// The host must be an IP address: the lab has no DNS.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr: SocketAddr = with_port
        .parse()
        .with_context(|| format!("'{hostport}' is not IP:port"))?;
    if path.contains(char::is_whitespace) {
        bail!("path must not contain whitespace");
    }
    Ok((addr, hostport.to_string(), path.to_string()))
}

fn unix_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Name an IO error for the CSV (`refused`, `reset`, `unreachable`, ...).
fn error_kind(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "refused".into(),
        ErrorKind::ConnectionReset => "reset".into(),
        ErrorKind::ConnectionAborted => "aborted".into(),
        ErrorKind::BrokenPipe => "broken_pipe".into(),
        ErrorKind::TimedOut => "timeout".into(),
        ErrorKind::HostUnreachable => "host_unreachable".into(),
        ErrorKind::NetworkUnreachable => "net_unreachable".into(),
        k => format!("io_{k:?}").to_lowercase(),
    }
}

/// Parse a complete HTTP/1.x response: (status, X-Balancer, server from body).
pub fn parse_response(buf: &[u8]) -> Option<(u16, String, String)> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let mut balancer = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("x-balancer") {
                balancer = v.trim().to_string();
            }
        }
    }
    let server = body
        .split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
        .unwrap_or("")
        .to_string();
    Some((status, balancer, server))
}

/// One request on a new connection: (result, balancer, server).
async fn one_request(cfg: &ProbeConfig) -> (String, String, String) {
    let stream = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(cfg.addr)).await
    {
        Err(_) => return ("connect_timeout".into(), String::new(), String::new()),
        Ok(Err(e)) => return (error_kind(&e), String::new(), String::new()),
        Ok(Ok(s)) => s,
    };
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: vrrpd-labtool\r\nConnection: close\r\n\r\n",
        cfg.path, cfg.host
    );
    let exchange = async move {
        let mut stream = stream;
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() >= MAX_RESPONSE {
                break;
            }
        }
        Ok::<_, std::io::Error>(buf)
    };
    match tokio::time::timeout(cfg.request_timeout, exchange).await {
        Err(_) => ("timeout".into(), String::new(), String::new()),
        Ok(Err(e)) => (error_kind(&e), String::new(), String::new()),
        Ok(Ok(buf)) if buf.is_empty() => ("empty_reply".into(), String::new(), String::new()),
        Ok(Ok(buf)) => match parse_response(&buf) {
            None => ("bad_response".into(), String::new(), String::new()),
            Some((status, bal, server)) if (200..300).contains(&status) => {
                ("ok".into(), bal, server)
            }
            Some((status, bal, server)) => (format!("http_{status}"), bal, server),
        },
    }
}

/// Run the probe to the end and return every sample, sorted by start time.
pub async fn run(cfg: ProbeConfig) -> Result<Vec<Sample>> {
    if cfg.interval.is_zero() {
        bail!("interval must be > 0");
    }
    let count = (cfg.duration.as_secs_f64() / cfg.interval.as_secs_f64()).ceil() as u64;
    let count = count.clamp(1, MAX_REQUESTS);
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut ticker = tokio::time::interval(cfg.interval);
    // Behind schedule (e.g. all slots busy): keep the rate, do not burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        ticker.tick().await;
        let permit = slots.clone().acquire_owned().await?;
        let cfg = cfg.clone();
        tasks.spawn(async move {
            let start_ms = unix_ms_now();
            let t = Instant::now();
            let (result, balancer, server) = one_request(&cfg).await;
            drop(permit);
            Sample {
                start_ms,
                latency_ms: t.elapsed().as_secs_f64() * 1000.0,
                result,
                balancer,
                server,
            }
        });
    }
    let mut out = Vec::with_capacity(count as usize);
    while let Some(r) = tasks.join_next().await {
        out.push(r?);
    }
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        let (a, h, p) = parse_url("http://172.16.1.254:8000/").unwrap();
        assert_eq!(a, "172.16.1.254:8000".parse().unwrap());
        assert_eq!(h, "172.16.1.254:8000");
        assert_eq!(p, "/");
        let (a, _, p) = parse_url("http://10.0.0.1").unwrap();
        assert_eq!(a.port(), 80);
        assert_eq!(p, "/");
        assert!(parse_url("https://10.0.0.1/").is_err());
        assert!(parse_url("http://example.org/").is_err());
    }

    #[test]
    fn response_parsing() {
        let r = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nx-balancer: bal2\r\n\r\nserver=serv3 client=10.0.0.251 forwarded_for=172.16.1.100\n";
        assert_eq!(
            parse_response(r),
            Some((200, "bal2".into(), "serv3".into()))
        );
        let sorry =
            b"HTTP/1.1 503 Service Unavailable\r\nX-Balancer: bal1\r\n\r\n<html>sorry</html>";
        assert_eq!(
            parse_response(sorry),
            Some((503, "bal1".into(), String::new()))
        );
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nX-Balancer: bal1"), None);
        assert_eq!(parse_response(b"garbage\r\n\r\n"), None);
    }

    /// The prober against a tiny local server (loopback of the test process).
    #[tokio::test]
    async fn probes_a_local_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut n = 0u32;
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                n += 1;
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = format!("server=serv{} client=x\n", n % 2 + 1);
                let resp = format!("HTTP/1.0 200 OK\r\nX-Balancer: bal9\r\n\r\n{body}");
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        let samples = run(ProbeConfig {
            addr,
            host: addr.to_string(),
            path: "/".into(),
            interval: Duration::from_millis(5),
            duration: Duration::from_millis(100),
            // Generous: every request must be answered, on a busy machine too.
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        assert_eq!(samples.len(), 20);
        assert!(samples.iter().all(|s| s.ok() && s.balancer == "bal9"));
        assert!(samples.iter().any(|s| s.server == "serv1"));
        assert!(samples.iter().any(|s| s.server == "serv2"));
        assert!(samples.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
    }

    /// Nothing listens: every request fails as `refused`.
    #[tokio::test]
    async fn refused_is_recorded() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let samples = run(ProbeConfig {
            addr,
            host: addr.to_string(),
            path: "/".into(),
            interval: Duration::from_millis(10),
            duration: Duration::from_millis(50),
            connect_timeout: Duration::from_millis(100),
            request_timeout: Duration::from_millis(500),
        })
        .await
        .unwrap();
        assert_eq!(samples.len(), 5);
        assert!(samples.iter().all(|s| s.result == "refused"));
    }
}
