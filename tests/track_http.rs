//! The `http` tracker against a small HTTP server on 127.0.0.1.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use vrrpd::config::{Track, TrackKind};
use vrrpd::track::{TrackEvent, TrackState, TrackerSet};

/// A test server: answers every request with the current status (0 = never
/// answer), counts requests, and keeps the last request head.
struct Server {
    port: u16,
    status: Arc<AtomicU16>,
    served: Arc<AtomicUsize>,
    last_request: Arc<Mutex<String>>,
}

async fn server(status: u16) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let status = Arc::new(AtomicU16::new(status));
    let served = Arc::new(AtomicUsize::new(0));
    let last_request = Arc::new(Mutex::new(String::new()));
    let (st, sv, lr) = (status.clone(), served.clone(), last_request.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (st, sv, lr) = (st.clone(), sv.clone(), lr.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 256];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                *lr.lock().expect("lock") = String::from_utf8_lossy(&buf).into_owned();
                let code = st.load(Ordering::SeqCst);
                if code == 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                sv.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Server {
        port,
        status,
        served,
        last_request,
    }
}

fn http_track(port: u16, rise: u32, fall: u32, timeout_ms: u64) -> Track {
    Track {
        name: "lb".into(),
        weight: -20,
        kind: TrackKind::Http {
            url: format!("http://127.0.0.1:{port}/health"),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(timeout_ms),
            rise,
            fall,
            expect_status: 200,
        },
    }
}

async fn next(rx: &mut mpsc::Receiver<TrackEvent>) -> TrackEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no tracker event in time")
        .expect("channel closed")
}

#[tokio::test]
async fn status_change_with_rise_and_fall() {
    let srv = server(200).await;
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[http_track(srv.port, 2, 3, 2000)], tx);
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    let req = srv.last_request.lock().expect("lock").clone();
    assert!(req.starts_with("GET /health HTTP/1.0\r\n"), "{req:?}");
    assert!(
        req.contains(&format!("Host: 127.0.0.1:{}\r\n", srv.port)),
        "{req:?}"
    );

    // HAProxy answers 503 when no backend is up: down after `fall` = 3 checks.
    srv.status.store(503, Ordering::SeqCst);
    let before = srv.served.load(Ordering::SeqCst);
    let ev = next(&mut rx).await;
    let failed = srv.served.load(Ordering::SeqCst) - before;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("HTTP 503, expected 200"), "{ev:?}");
    assert!(
        (3..=4).contains(&failed),
        "down after {failed} failed checks"
    );

    // Back up after `rise` = 2 good checks.
    srv.status.store(200, Ordering::SeqCst);
    let before = srv.served.load(Ordering::SeqCst);
    let ev = next(&mut rx).await;
    let good = srv.served.load(Ordering::SeqCst) - before;
    assert_eq!(ev.state, TrackState::Up, "{ev:?}");
    assert!((2..=3).contains(&good), "up after {good} good checks");
}

#[tokio::test]
async fn refused_connection_is_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener); // nothing listens there now
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[http_track(port, 1, 1, 2000)], tx);
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("connect"), "{ev:?}");
}

#[tokio::test]
async fn timeout_is_down() {
    let srv = server(200).await;
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[http_track(srv.port, 1, 1, 500)], tx);
    assert_eq!(next(&mut rx).await.state, TrackState::Up);
    srv.status.store(0, Ordering::SeqCst); // accepts, never answers
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("no answer within 500ms"), "{ev:?}");
}

#[tokio::test]
async fn garbage_answer_is_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let _ = c.write_all(b"SSH-2.0-nope\r\n").await;
        }
    });
    let (tx, mut rx) = mpsc::channel(16);
    let _set = TrackerSet::spawn(&[http_track(port, 1, 1, 2000)], tx);
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, TrackState::Down, "{ev:?}");
    assert!(ev.detail.contains("not an HTTP status line"), "{ev:?}");
}
