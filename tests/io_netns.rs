//! Tests of the IO shell primitives against the real kernel, inside network
//! namespaces this test creates (and removes) itself.
//!
//! Needs root. Without it every test prints `SKIPPED (not root)` and passes,
//! unless `VRRPD_REQUIRE_NETNS=1`, which turns the skip into a failure.

use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vrrpd::io::vrrp_socket::{TxBatch, RCVBUF, TX_CHUNK, VRRP_GROUP_V4, VRRP_GROUP_V6};
use vrrpd::io::{Additions, FrameSender, NetEvent, Netlink, RxPacket, VrrpSocket};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Addresses used inside the namespaces only (RFC 5737 / RFC 3849 documentation ranges).
const A_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

// ---------------------------------------------------------------------------
// Small namespace helpers.

/// True if the test may run; false (after a loud message) if it must skip.
fn can_run(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("VRRPD_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: not root, and VRRPD_REQUIRE_NETNS=1 forbids skipping");
    }
    // Written to the stderr handle directly: the test harness captures
    // `eprintln!`, and a skip must be visible.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (not root): {test} needs root to create network namespaces"
    );
    false
}

/// Runs `ip ARGS`, panicking with its stderr on failure; returns stdout.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop (also when the test panics).
struct Ns(String);

impl Ns {
    fn new() -> Ns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vrrpd-io-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        Ns(name)
    }

    /// `ip -n NS ARGS`.
    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Sets a sysctl inside the namespace.
    fn sysctl(&self, key: &str, value: &str) {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.0,
                "sysctl",
                "-qw",
                &format!("{key}={value}"),
            ])
            .status()
            .expect("run sysctl");
        assert!(st.success(), "sysctl {key}={value} in {}", self.0);
    }

    /// Runs `f` on a new thread that has entered this namespace, on its own
    /// current-thread tokio runtime.
    fn spawn<F, Fut, R>(&self, f: F) -> thread::JoinHandle<R>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.0);
        thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns file");
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(f())
        })
    }

    /// Runs `f` in this namespace and waits for it.
    fn run<F, Fut, R>(&self, f: F) -> R
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        join(self.spawn(f))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Joins a test thread, re-raising its panic.
fn join<R>(h: thread::JoinHandle<R>) -> R {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Two namespaces joined by a veth pair: `va` in `a` (192.0.2.1/24),
/// `vb` in `b` (192.0.2.2/24). With `dad: false` IPv6 DAD is off on both
/// ends so that link-local addresses are usable at once.
struct Pair {
    a: Ns,
    b: Ns,
}

fn pair(dad: bool) -> Pair {
    let (a, b) = (Ns::new(), Ns::new());
    ip(&[
        "link", "add", "va", "netns", &a.0, "type", "veth", "peer", "name", "vb", "netns", &b.0,
    ]);
    for (ns, dev, addr) in [(&a, "va", "192.0.2.1/24"), (&b, "vb", "192.0.2.2/24")] {
        if !dad {
            ns.sysctl(&format!("net.ipv6.conf.{dev}.accept_dad"), "0");
        }
        ns.ip(&["addr", "add", addr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
    }
    Pair { a, b }
}

/// Interface index of `dev` inside `ns`, as iproute2 reports it.
fn ifindex(ns: &Ns, dev: &str) -> u32 {
    let out = ns.ip(&["-o", "link", "show", "dev", dev]);
    out.split(':').next().unwrap().trim().parse().unwrap()
}

/// Waits until `dev` has a usable (non-tentative) link-local address.
async fn wait_link_local(nl: &Netlink, index: u32) -> Ipv6Addr {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(a) = nl.link_local_v6(index).await.unwrap() {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no link-local address on {index}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn recv_one(sock: &VrrpSocket) -> RxPacket {
    let mut buf = [0u8; 2048];
    tokio::time::timeout(TIMEOUT, sock.recv(&mut buf))
        .await
        .expect("no VRRP packet within timeout")
        .expect("recv")
}

/// Waits for the first event matching `want`, skipping others.
async fn wait_event(
    rx: &mut mpsc::Receiver<NetEvent>,
    what: &str,
    want: impl Fn(&NetEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if want(&ev) => return,
            Ok(Some(_)) => {}
            Ok(None) => panic!("event stream closed while waiting for {what}"),
            Err(_) => panic!("no event {what} within timeout"),
        }
    }
}

/// A VRRP-looking payload with distinctive bytes, including a "checksum"
/// that no kernel would compute, to show it arrives untouched.
/// Packet `tag` arrived as it was sent: the same bytes (the checksum
/// untouched), from `src` to `dst`, TTL / hop limit 255, on `ifindex`.
fn assert_arrived(pkt: &RxPacket, tag: u8, src: IpAddr, dst: IpAddr, ifindex: u32) {
    assert_eq!(pkt.payload, payload(tag), "payload {tag} identical");
    assert_eq!(pkt.src, src, "src of {tag}");
    assert_eq!(pkt.dst, dst, "dst of {tag}");
    assert_eq!(pkt.ttl, 255, "TTL / hop limit of {tag}");
    assert_eq!(pkt.ifindex, ifindex, "ifindex of {tag}");
}

fn payload(tag: u8) -> Vec<u8> {
    vec![0x31, tag, 100, 1, 0, 100, 0xde, 0xad, 192, 0, 2, 100]
}

// ---------------------------------------------------------------------------
// Netlink

#[test]
fn netlink_link_lookup_and_addresses() {
    if !can_run("netlink_link_lookup_and_addresses") {
        return;
    }
    let p = pair(true);
    let va_index = ifindex(&p.a, "va");
    let a = &p.a;
    let ns_name = a.0.clone();
    let show =
        move |fam: &str| -> String { ip(&["-n", &ns_name, fam, "addr", "show", "dev", "va"]) };
    a.run(move || async move {
        let nl = Netlink::new().unwrap();
        let link = nl.link_by_name("va").await.unwrap().expect("va exists");
        assert_eq!(link.index, va_index);
        assert_eq!(link.name, "va");
        assert_eq!(link.mtu, 1500);
        assert!(link.up, "va and its peer are up");
        assert!(link.mac.is_some_and(|m| m != [0; 6]));
        assert_eq!(nl.link_by_index(va_index).await.unwrap(), Some(link));
        assert_eq!(nl.link_by_name("nosuchdev0").await.unwrap(), None);
        assert_eq!(nl.link_by_index(999_999).await.unwrap(), None);

        // IPv4: add (twice), see it, delete (twice), gone.
        let vip: IpAddr = "192.0.2.10".parse().unwrap();
        nl.add_address(va_index, vip, 32).await.unwrap();
        nl.add_address(va_index, vip, 32)
            .await
            .expect("add is idempotent");
        assert!(nl.addresses(va_index).await.unwrap().contains(&(vip, 32)));
        assert!(
            show("-4").contains("192.0.2.10/32"),
            "iproute2 sees the VIP"
        );
        // Adding a /32 VIP does not displace the primary address.
        assert_eq!(nl.primary_ipv4(va_index).await.unwrap(), Some(A_V4));
        nl.del_address(va_index, vip, 32).await.unwrap();
        nl.del_address(va_index, vip, 32)
            .await
            .expect("delete is idempotent");
        assert!(!nl.addresses(va_index).await.unwrap().contains(&(vip, 32)));
        assert!(!show("-4").contains("192.0.2.10/"));

        // A second address in the same subnet is secondary: not primary.
        let sec: IpAddr = "192.0.2.20".parse().unwrap();
        nl.add_address(va_index, sec, 24).await.unwrap();
        assert_eq!(nl.primary_ipv4(va_index).await.unwrap(), Some(A_V4));
        nl.del_address(va_index, sec, 24).await.unwrap();

        // IPv6: DAD is on for va, yet the VIP is not tentative (IFA_F_NODAD).
        let vip6: IpAddr = "2001:db8::10".parse().unwrap();
        nl.add_address(va_index, vip6, 64).await.unwrap();
        nl.add_address(va_index, vip6, 64)
            .await
            .expect("add is idempotent");
        assert!(nl.addresses(va_index).await.unwrap().contains(&(vip6, 64)));
        let shown = show("-6");
        let line = shown
            .lines()
            .find(|l| l.contains("2001:db8::10/64"))
            .expect("iproute2 sees the IPv6 VIP");
        assert!(!line.contains("tentative"), "VIP must skip DAD: {line}");
        nl.del_address(va_index, vip6, 64).await.unwrap();
        nl.del_address(va_index, vip6, 64)
            .await
            .expect("delete is idempotent");
        assert!(!nl.addresses(va_index).await.unwrap().contains(&(vip6, 64)));

        // Link-local: once DAD is done it is reported, and matches iproute2.
        let ll = wait_link_local(&nl, va_index).await;
        assert_eq!(ll.segments()[0], 0xfe80);
        assert!(show("-6").contains(&format!("{ll}/64")));

        // Bad prefix lengths are refused before the kernel sees them.
        assert!(nl.add_address(va_index, vip, 33).await.is_err());
    });
}

#[test]
fn netlink_events_link_and_address() {
    if !can_run("netlink_events_link_and_address") {
        return;
    }
    let p = pair(true);
    let va = ifindex(&p.a, "va");
    let (a_name, b_name) = (p.a.0.clone(), p.b.0.clone());
    p.a.run(move || async move {
        let nl = Netlink::new().unwrap();
        // The subscription's socket is bound to its groups when subscribe()
        // returns: events from here on are queued for it, polled or not.
        let mut rx = nl.subscribe().unwrap();
        let ipn = |ns: &str, args: &[&str]| {
            let mut all = vec!["-n", ns];
            all.extend_from_slice(args);
            ip(&all);
        };
        let link_is = |up: bool| move |e: &NetEvent| matches!(e, NetEvent::Link { index, name, up: u } if *index == va && name == "va" && *u == up);

        // Administrative down/up, done from outside the test thread.
        ipn(&a_name, &["link", "set", "va", "down"]);
        wait_event(&mut rx, "va down", link_is(false)).await;
        ipn(&a_name, &["link", "set", "va", "up"]);
        wait_event(&mut rx, "va up", link_is(true)).await;

        // Carrier loss: the peer goes down, va stays IFF_UP but is not running.
        ipn(&b_name, &["link", "set", "vb", "down"]);
        wait_event(&mut rx, "va down on carrier loss", link_is(false)).await;
        let info = nl.link_by_index(va).await.unwrap().unwrap();
        assert!(!info.up, "carrier loss counts as down");
        ipn(&b_name, &["link", "set", "vb", "up"]);
        wait_event(&mut rx, "va up on carrier back", link_is(true)).await;

        // Address events, IPv4 and IPv6.
        ipn(&a_name, &["addr", "add", "192.0.2.33/32", "dev", "va"]);
        let v4: IpAddr = "192.0.2.33".parse().unwrap();
        wait_event(&mut rx, "v4 added", |e| *e == NetEvent::AddrAdded { index: va, addr: v4, prefix_len: 32 }).await;
        ipn(&a_name, &["addr", "del", "192.0.2.33/32", "dev", "va"]);
        wait_event(&mut rx, "v4 removed", |e| *e == NetEvent::AddrRemoved { index: va, addr: v4, prefix_len: 32 }).await;
        nl.add_address(va, "2001:db8::33".parse().unwrap(), 128).await.unwrap();
        let v6: IpAddr = "2001:db8::33".parse().unwrap();
        wait_event(&mut rx, "v6 added", |e| *e == NetEvent::AddrAdded { index: va, addr: v6, prefix_len: 128 }).await;
        nl.del_address(va, v6, 128).await.unwrap();
        wait_event(&mut rx, "v6 removed", |e| *e == NetEvent::AddrRemoved { index: va, addr: v6, prefix_len: 128 }).await;
    });
}

/// A subscription with `Additions::Dropped` (the daemon's) gets no
/// `AddrAdded`: the kernel drops every `RTM_NEWADDR` before it is queued,
/// so the echo of each VIP added or lease renewed wakes nothing. Removals
/// and links still come, in order. A full subscription beside it sees the
/// additions, so the test is not passing for want of them.
#[test]
fn netlink_events_without_additions_drop_them_in_the_kernel() {
    if !can_run("netlink_events_without_additions_drop_them_in_the_kernel") {
        return;
    }
    let p = pair(true);
    let va = ifindex(&p.a, "va");
    let a_name = p.a.0.clone();
    p.a.run(move || async move {
        let nl = Netlink::new().unwrap();
        let mut all = nl.subscribe().unwrap();
        let mut quiet = nl.subscribe_to(Additions::Dropped).unwrap();
        let v4: IpAddr = "192.0.2.34".parse().unwrap();
        let v6: IpAddr = "2001:db8::34".parse().unwrap();
        for (addr, len) in [(v4, 32), (v6, 128)] {
            nl.add_address(va, addr, len).await.unwrap();
            wait_event(&mut all, "added (full subscription)", |e| {
                *e == NetEvent::AddrAdded {
                    index: va,
                    addr,
                    prefix_len: len,
                }
            })
            .await;
            // A renewal's echo is the same RTM_NEWADDR.
            nl.add_address(va, addr, len).await.unwrap();
            nl.del_address(va, addr, len).await.unwrap();
            wait_event(&mut all, "removed (full subscription)", |e| {
                *e == NetEvent::AddrRemoved {
                    index: va,
                    addr,
                    prefix_len: len,
                }
            })
            .await;
        }
        // A last event, after which nothing of the above can still be queued.
        ip(&["-n", &a_name, "link", "set", "va", "down"]);
        let mut seen = vec![];
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let ev = tokio::time::timeout_at(deadline, quiet.recv())
                .await
                .expect("no link event on the filtered subscription within the timeout")
                .expect("the filtered subscription closed");
            let last = matches!(&ev, NetEvent::Link { index, up: false, .. } if *index == va);
            seen.push(ev);
            if last {
                break;
            }
        }
        assert!(
            !seen.iter().any(|e| matches!(e, NetEvent::AddrAdded { .. })),
            "an addition came through the filter: {seen:?}"
        );
        for addr in [v4, v6] {
            assert!(
                seen.iter()
                    .any(|e| matches!(e, NetEvent::AddrRemoved { addr: a, .. } if *a == addr)),
                "the removal of {addr} did not come: {seen:?}"
            );
        }
    });
}

#[test]
fn netlink_macvlan_create_delete() {
    if !can_run("netlink_macvlan_create_delete") {
        return;
    }
    let p = pair(true);
    let va = ifindex(&p.a, "va");
    p.a.run(move || async move {
        let nl = Netlink::new().unwrap();
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];
        nl.create_macvlan(va, "vrrp.51", mac).await.unwrap();
        let link = nl
            .link_by_name("vrrp.51")
            .await
            .unwrap()
            .expect("macvlan exists");
        assert_eq!(link.mac, Some(mac));
        nl.delete_link("vrrp.51").await.unwrap();
        assert_eq!(nl.link_by_name("vrrp.51").await.unwrap(), None);
        nl.delete_link("vrrp.51")
            .await
            .expect("delete is idempotent");
    });
}

// ---------------------------------------------------------------------------
// VRRP raw sockets

/// Opens a receiver in B, signals readiness, and returns what `n` recvs give.
fn receiver<F>(
    p: &Pair,
    v6: bool,
    n: usize,
    ready: std_mpsc::Sender<()>,
    check: F,
) -> thread::JoinHandle<Vec<RxPacket>>
where
    F: FnOnce() + Send + 'static,
{
    let vb = ifindex(&p.b, "vb");
    p.b.spawn(move || async move {
        let sock = if v6 {
            VrrpSocket::open_v6("vb", vb, None).unwrap()
        } else {
            VrrpSocket::open_v4("vb", vb, None).unwrap()
        };
        check();
        ready.send(()).unwrap();
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(recv_one(&sock).await);
        }
        got
    })
}

/// A [`Pair`] with IPv6 DAD off, ready for IPv6 VRRP: both interfaces'
/// indexes, and both link-local addresses, each waited for until usable
/// (MLD and sending need them).
struct V6Pair {
    p: Pair,
    va: u32,
    vb: u32,
    ll_a: Ipv6Addr,
    ll_b: Ipv6Addr,
}

/// Builds a [`V6Pair`], returning once both link-local addresses are usable.
fn v6_pair_with_link_local() -> V6Pair {
    let p = pair(false);
    let (va, vb) = (ifindex(&p.a, "va"), ifindex(&p.b, "vb"));
    let wait = |ns: &Ns, index| {
        ns.spawn(move || async move { wait_link_local(&Netlink::new().unwrap(), index).await })
    };
    let (ll_a, ll_b) = (wait(&p.a, va), wait(&p.b, vb));
    let (ll_a, ll_b) = (join(ll_a), join(ll_b));
    V6Pair {
        p,
        va,
        vb,
        ll_a,
        ll_b,
    }
}

/// Opens an IPv6 [`receiver`] in B for `n` packets; returns the channel on
/// which it says it is ready, and its thread.
fn v6_receiver(p: &Pair, n: usize) -> (std_mpsc::Receiver<()>, thread::JoinHandle<Vec<RxPacket>>) {
    let (tx, rx) = std_mpsc::channel();
    (rx, receiver(p, true, n, tx, || {}))
}

#[test]
fn vrrp_v4_multicast_unicast_and_source() {
    if !can_run("vrrp_v4_multicast_unicast_and_source") {
        return;
    }
    let p = pair(true);
    let vb = ifindex(&p.b, "vb");
    p.a.ip(&["addr", "add", "192.0.2.11/24", "dev", "va"]);
    let (tx, rx) = std_mpsc::channel();
    let rcv = receiver(&p, false, 3, tx, || {});
    let va = ifindex(&p.a, "va");
    p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let sock = VrrpSocket::open_v4("va", va, None).unwrap();
        sock.send_v4(&payload(1), VRRP_GROUP_V4).unwrap();
        sock.send_v4(&payload(2), B_V4).unwrap();
        let fixed = VrrpSocket::open_v4("va", va, Some("192.0.2.11".parse().unwrap())).unwrap();
        fixed.send(&payload(3), IpAddr::V4(VRRP_GROUP_V4)).unwrap();
        assert!(matches!(
            sock.send_v6(&payload(9), VRRP_GROUP_V6),
            Err(vrrpd::io::IoError::WrongFamily(_))
        ));
    });
    let mut got = join(rcv);
    got.sort_by_key(|p| p.payload[1]);
    let want = [
        (1, A_V4, IpAddr::V4(VRRP_GROUP_V4)),
        (2, A_V4, IpAddr::V4(B_V4)),
        (3, "192.0.2.11".parse().unwrap(), IpAddr::V4(VRRP_GROUP_V4)),
    ];
    for (pkt, (tag, src, dst)) in got.iter().zip(want) {
        assert_arrived(pkt, tag, IpAddr::V4(src), dst, vb);
    }
}

/// A batch of sends ([`TxBatch`]) across two sockets, longer than one
/// `sendmmsg` chunk, to the group and to a unicast peer, from the
/// interface's address and from a fixed one: every packet arrives once,
/// byte for byte, with TTL 255, its source, its destination and on the
/// right interface; a packet of the wrong family is handed back with its
/// tag and the others still go.
#[test]
fn vrrp_v4_batch_sends_every_packet_as_sent_alone() {
    if !can_run("vrrp_v4_batch_sends_every_packet_as_sent_alone") {
        return;
    }
    let p = pair(true);
    let vb = ifindex(&p.b, "vb");
    p.a.ip(&["addr", "add", "192.0.2.11/24", "dev", "va"]);
    // Tags 0..N: N crosses a chunk boundary twice.
    let n = 2 * TX_CHUNK + 7;
    let (tx, rx) = std_mpsc::channel();
    let rcv = receiver(&p, false, n, tx, || {});
    let va = ifindex(&p.a, "va");
    let fixed_src: Ipv4Addr = "192.0.2.11".parse().unwrap();
    let plain_src = |tag: usize| tag < TX_CHUNK + 10 || (tag / 5) % 2 == 0;
    let failed = p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let plain = std::sync::Arc::new(VrrpSocket::open_v4("va", va, None).unwrap());
        let fixed = std::sync::Arc::new(VrrpSocket::open_v4("va", va, Some(fixed_src)).unwrap());
        let mut batch = TxBatch::new();
        for tag in 0..n {
            // A run longer than a chunk on one socket, then runs of a few
            // packets per socket; to the group or to B.
            let sock = if plain_src(tag) { &plain } else { &fixed };
            let dst = if tag % 3 == 0 {
                IpAddr::V4(B_V4)
            } else {
                IpAddr::V4(VRRP_GROUP_V4)
            };
            batch.push(sock, &payload(tag as u8), dst, tag as u32);
            if tag == 10 {
                // Wrong family: refused, and the batch goes on.
                batch.push(sock, &payload(0xee), IpAddr::V6(VRRP_GROUP_V6), 999);
            }
        }
        assert_eq!(batch.len(), n + 1);
        let mut failed = Vec::new();
        let sent = batch.flush(|tag, dst, e| failed.push((tag, dst, e.to_string())));
        assert_eq!(sent, n, "sent {sent}, refused {failed:?}");
        assert!(batch.is_empty(), "a flush empties the batch");
        // Nothing is left to go twice.
        assert_eq!(batch.flush(|_, _, _| panic!("empty batch")), 0);
        failed
    });
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 999);
    assert_eq!(failed[0].1, IpAddr::V6(VRRP_GROUP_V6));
    let mut got = join(rcv);
    got.sort_by_key(|p| p.payload[1]);
    assert_eq!(got.len(), n);
    for (tag, pkt) in got.iter().enumerate() {
        let src = if plain_src(tag) { A_V4 } else { fixed_src };
        let dst = if tag % 3 == 0 {
            IpAddr::V4(B_V4)
        } else {
            IpAddr::V4(VRRP_GROUP_V4)
        };
        assert_arrived(pkt, tag as u8, IpAddr::V4(src), dst, vb);
    }
}

/// The same for IPv6: a batch to the group and to the peer's link-local
/// address leaves from our link-local address with hop limit 255.
#[test]
fn vrrp_v6_batch_sends_every_packet_as_sent_alone() {
    if !can_run("vrrp_v6_batch_sends_every_packet_as_sent_alone") {
        return;
    }
    let v6 = v6_pair_with_link_local();
    let n = TX_CHUNK + 3;
    let (rx, rcv) = v6_receiver(&v6.p, n);
    v6.p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let sock = std::sync::Arc::new(VrrpSocket::open_v6("va", v6.va, Some(v6.ll_a)).unwrap());
        let mut batch = TxBatch::new();
        for tag in 0..n {
            let dst = if tag % 2 == 0 {
                IpAddr::V6(VRRP_GROUP_V6)
            } else {
                IpAddr::V6(v6.ll_b)
            };
            batch.push(&sock, &payload(tag as u8), dst, tag as u32);
        }
        batch.push(&sock, &payload(0xee), IpAddr::V4(VRRP_GROUP_V4), 999);
        let mut failed = Vec::new();
        assert_eq!(batch.flush(|tag, _, _| failed.push(tag)), n);
        assert_eq!(failed, [999]);
    });
    let mut got = join(rcv);
    got.sort_by_key(|p| p.payload[1]);
    assert_eq!(got.len(), n);
    for (tag, pkt) in got.iter().enumerate() {
        let dst = if tag % 2 == 0 { VRRP_GROUP_V6 } else { v6.ll_b };
        assert_arrived(pkt, tag as u8, IpAddr::V6(v6.ll_a), IpAddr::V6(dst), v6.vb);
    }
}

/// The receive buffer has room for a burst of adverts read after the
/// protocol thread's receive hold (about 1000, not the default's 200).
#[test]
fn vrrp_sockets_have_the_larger_receive_buffer() {
    if !can_run("vrrp_sockets_have_the_larger_receive_buffer") {
        return;
    }
    let p = pair(true);
    let vb = ifindex(&p.b, "vb");
    p.b.run(move || async move {
        for sock in [
            VrrpSocket::open_v4("vb", vb, None).unwrap(),
            VrrpSocket::open_v6("vb", vb, None).unwrap(),
        ] {
            let size = socket2::SockRef::from(&sock).recv_buffer_size().unwrap();
            // The kernel reports twice what was set (its overhead).
            assert!(size >= 2 * RCVBUF, "SO_RCVBUF {size}");
        }
    });
}

#[test]
fn vrrp_v4_ttl_64_is_reported() {
    if !can_run("vrrp_v4_ttl_64_is_reported") {
        return;
    }
    let p = pair(true);
    let (tx, rx) = std_mpsc::channel();
    let rcv = receiver(&p, false, 1, tx, || {});
    p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.bind_device(Some(b"va")).unwrap();
        s.set_multicast_if_v4(&A_V4).unwrap();
        s.set_multicast_ttl_v4(64).unwrap();
        s.set_ttl_v4(64).unwrap();
        let dst = SockAddr::from(std::net::SocketAddrV4::new(VRRP_GROUP_V4, 0));
        s.send_to(&payload(64), &dst).unwrap();
    });
    let got = join(rcv);
    assert_eq!(got[0].ttl, 64, "TTL is reported as received, not assumed");
    assert_eq!(got[0].payload, payload(64));
}

#[test]
fn vrrp_v6_multicast_link_local_hop_limit() {
    if !can_run("vrrp_v6_multicast_link_local_hop_limit") {
        return;
    }
    let v6 = v6_pair_with_link_local();
    let (rx, rcv) = v6_receiver(&v6.p, 2);
    v6.p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let sock = VrrpSocket::open_v6("va", v6.va, Some(v6.ll_a)).unwrap();
        sock.send_v6(&payload(1), VRRP_GROUP_V6).unwrap();
        // Unicast to the peer's link-local address.
        sock.send_v6(&payload(2), v6.ll_b).unwrap();
        assert!(sock.send_v4(&payload(9), VRRP_GROUP_V4).is_err());
    });
    let mut got = join(rcv);
    got.sort_by_key(|p| p.payload[1]);
    for (pkt, (tag, dst)) in got.iter().zip([(1, VRRP_GROUP_V6), (2, v6.ll_b)]) {
        assert_arrived(pkt, tag, IpAddr::V6(v6.ll_a), IpAddr::V6(dst), v6.vb);
    }
}

#[test]
fn vrrp_v6_hop_limit_64_is_reported() {
    if !can_run("vrrp_v6_hop_limit_64_is_reported") {
        return;
    }
    let v6 = v6_pair_with_link_local();
    let (rx, rcv) = v6_receiver(&v6.p, 1);
    v6.p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.bind_device(Some(b"va")).unwrap();
        s.set_multicast_if_v6(v6.va).unwrap();
        s.set_multicast_hops_v6(64).unwrap();
        let dst = SockAddr::from(std::net::SocketAddrV6::new(VRRP_GROUP_V6, 0, 0, v6.va));
        s.send_to(&payload(64), &dst).unwrap();
    });
    let got = join(rcv);
    assert_eq!(got[0].ttl, 64, "hop limit is reported as received");
    assert_eq!(got[0].payload, payload(64));
}

#[test]
fn vrrp_recv_errors_are_per_packet() {
    if !can_run("vrrp_recv_errors_are_per_packet") {
        return;
    }
    let p = pair(true);
    let vb = ifindex(&p.b, "vb");
    let va = ifindex(&p.a, "va");
    let (tx, rx) = std_mpsc::channel();
    let rcv = p.b.spawn(move || async move {
        let sock = VrrpSocket::open_v4("vb", vb, None).unwrap();
        tx.send(()).unwrap();
        // Too small for even the IPv4 header: an error for this packet only.
        let mut small = [0u8; 8];
        let err = tokio::time::timeout(TIMEOUT, sock.recv(&mut small))
            .await
            .expect("first packet within timeout")
            .expect_err("an 8-byte buffer cannot hold the packet");
        assert!(err.is_packet_error(), "{err}");
        // The socket is still good: the next packet arrives whole.
        recv_one(&sock).await
    });
    p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let sock = VrrpSocket::open_v4("va", va, None).unwrap();
        sock.send_v4(&payload(1), VRRP_GROUP_V4).unwrap();
        sock.send_v4(&payload(2), VRRP_GROUP_V4).unwrap();
    });
    assert_eq!(join(rcv).payload, payload(2));
}

// ---------------------------------------------------------------------------
// Link-layer frames

#[test]
fn frame_sender_reaches_peer() {
    if !can_run("frame_sender_reaches_peer") {
        return;
    }
    let p = pair(true);
    let va = ifindex(&p.a, "va");
    // A gratuitous ARP for 192.0.2.77 from a made-up virtual MAC.
    let mac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x07];
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[192, 0, 2, 77]);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&[192, 0, 2, 77]);

    let (tx, rx) = std_mpsc::channel();
    let want = frame.clone();
    let rcv = p.b.spawn(move || async move {
        use socket2::{Domain, Protocol, Socket, Type};
        use std::io::Read;
        let eth_p_all = i32::from((libc::ETH_P_ALL as u16).to_be());
        let s = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(eth_p_all))).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        tx.send(()).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            if let Ok(n) = (&s).read(&mut buf) {
                if n >= want.len() && buf[..want.len()] == want[..] {
                    return true;
                }
            }
        }
        false
    });
    p.a.run(move || async move {
        rx.recv_timeout(TIMEOUT).expect("receiver ready");
        let fs = FrameSender::open(va).unwrap();
        assert_eq!(fs.ifindex(), va);
        assert!(fs.send(&frame[..10]).is_err(), "short frame refused");
        fs.send(&frame).unwrap();
    });
    assert!(join(rcv), "the frame arrived in the peer namespace");
}
