//! Packet capture and injection on a lab interface (`AF_PACKET`), for on-the-wire checks.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{wait_until, Host};

/// `sll_pkttype` of a frame this host sent (linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;
/// ioctl: kernel receive timestamp of the last packet read (asm-generic/sockios.h).
const SIOCGSTAMP: libc::c_ulong = 0x8906;
/// IP protocol number of VRRP (RFC 5798 Section 5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;

/// One captured Ethernet frame.
#[derive(Clone, Debug)]
pub struct Frame {
    /// When the capture thread read it (user space, monotonic).
    pub at: Instant,
    /// When the kernel received or sent it (more precise than `at` on a busy machine).
    pub kernel_time: Option<SystemTime>,
    /// Sent by the capturing host itself (rather than received).
    pub outgoing: bool,
    /// The frame, from the destination MAC on (no FCS).
    pub data: Vec<u8>,
}

/// Formats 6 bytes as `aa:bb:cc:dd:ee:ff`.
fn fmt_mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Frame {
    /// Destination MAC (lower case).
    pub fn dst_mac(&self) -> String {
        self.data.get(0..6).map(fmt_mac).unwrap_or_default()
    }

    /// Source MAC (lower case).
    pub fn src_mac(&self) -> String {
        self.data.get(6..12).map(fmt_mac).unwrap_or_default()
    }

    /// EtherType (0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6), or 0 for a runt.
    pub fn ethertype(&self) -> u16 {
        match self.data.get(12..14) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]),
            None => 0,
        }
    }

    /// The IP header and payload, if this is an IPv4 or IPv6 frame.
    fn ip(&self) -> Option<&[u8]> {
        let ip = self.data.get(14..)?;
        match (self.ethertype(), ip.first()? >> 4) {
            (0x0800, 4) if ip.len() >= 20 => Some(ip),
            (0x86dd, 6) if ip.len() >= 40 => Some(ip),
            _ => None,
        }
    }

    /// IP protocol (IPv4) or next header (IPv6).
    pub fn ip_proto(&self) -> Option<u8> {
        let ip = self.ip()?;
        Some(if ip[0] >> 4 == 4 { ip[9] } else { ip[6] })
    }

    /// IPv4 TTL or IPv6 hop limit.
    pub fn ip_ttl(&self) -> Option<u8> {
        let ip = self.ip()?;
        Some(if ip[0] >> 4 == 4 { ip[8] } else { ip[7] })
    }

    /// IP source address.
    pub fn ip_src(&self) -> Option<IpAddr> {
        let ip = self.ip()?;
        Some(if ip[0] >> 4 == 4 {
            IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]))
        } else {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?))
        })
    }

    /// IP destination address.
    pub fn ip_dst(&self) -> Option<IpAddr> {
        let ip = self.ip()?;
        Some(if ip[0] >> 4 == 4 {
            IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]))
        } else {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?))
        })
    }

    /// What follows the IP header (IPv4 options skipped; IPv6 extension headers are not).
    pub fn ip_payload(&self) -> Option<&[u8]> {
        let ip = self.ip()?;
        if ip[0] >> 4 == 4 {
            ip.get(usize::from(ip[0] & 0x0f) * 4..)
        } else {
            ip.get(40..)
        }
    }

    /// Whether this is a VRRP packet (IP protocol 112).
    pub fn is_vrrp(&self) -> bool {
        self.ip_proto() == Some(IPPROTO_VRRP)
    }

    /// For a VRRP packet: `(version, vrid, priority)` read from its first three bytes.
    pub fn vrrp_header(&self) -> Option<(u8, u8, u8)> {
        if !self.is_vrrp() {
            return None;
        }
        let p = self.ip_payload()?;
        (p.len() >= 3).then(|| (p[0] >> 4, p[1], p[2]))
    }

    /// For an IPv4-over-Ethernet ARP frame: `(opcode, sender MAC, sender IP, target IP)`.
    /// A gratuitous ARP has sender IP == target IP.
    pub fn arp(&self) -> Option<(u16, String, Ipv4Addr, Ipv4Addr)> {
        if self.ethertype() != 0x0806 {
            return None;
        }
        let a = self.data.get(14..14 + 28)?;
        let op = u16::from_be_bytes([a[6], a[7]]);
        let sha = fmt_mac(&a[8..14]);
        let spa = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
        let tpa = Ipv4Addr::new(a[24], a[25], a[26], a[27]);
        Some((op, sha, spa, tpa))
    }
}

/// A running capture made by [`Host::sniff`]: a thread inside the host's namespace reads
/// every frame of one interface (in and out) into a shared list until stopped or dropped.
///
/// The capture is active when `sniff` returns.
pub struct Sniffer {
    /// Captured frames, in order.
    frames: Arc<Mutex<Vec<Frame>>>,
    /// Tells the capture thread to end.
    stop: Arc<AtomicBool>,
    /// The capture thread.
    handle: Option<JoinHandle<()>>,
    /// When the capture started (reference for [`Frame::at`] in [`Sniffer::intervals`]).
    started: Instant,
}

impl Sniffer {
    /// Starts the capture on `host`'s `ifname`. Used through [`Host::sniff`].
    pub(crate) fn start(host: &Host, ifname: &str) -> Sniffer {
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (frames2, stop2, ifname2) = (frames.clone(), stop.clone(), ifname.to_string());
        let handle = host.spawn_in_netns(move || {
            let (fd, ifindex) = match open_packet_socket(&ifname2) {
                Ok(v) => v,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("capture on {ifname2}: {e}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            capture_loop(&fd, ifindex, &frames2, &stop2);
        });
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}: {e}", host.short_name()),
            Err(_) => panic!("{}: capture thread died", host.short_name()),
        }
        Sniffer {
            frames,
            stop,
            handle: Some(handle),
            started: Instant::now(),
        }
    }

    /// A copy of all frames captured so far.
    pub fn frames(&self) -> Vec<Frame> {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Removes and returns all frames captured so far.
    pub fn take(&self) -> Vec<Frame> {
        std::mem::take(&mut *self.frames.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Captured frames matching `pred`.
    pub fn filter(&self, pred: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        self.frames().into_iter().filter(|f| pred(f)).collect()
    }

    /// Waits up to `timeout` for a captured frame matching `pred` (also one captured before
    /// the call) and returns the first such frame.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Frame) -> bool) -> Option<Frame> {
        let mut found = None;
        let mut checked = 0;
        wait_until(timeout, Duration::from_millis(5), || {
            // Copy new frames out first: `pred` runs without the lock held, so it may itself
            // call methods of this sniffer.
            let new: Vec<Frame> = {
                let guard = self.frames.lock().unwrap_or_else(|p| p.into_inner());
                guard
                    .get(checked..)
                    .map(<[Frame]>::to_vec)
                    .unwrap_or_default()
            };
            checked += new.len();
            found = new.into_iter().find(|f| pred(f));
            found.is_some()
        });
        found
    }

    /// Gaps between consecutive captured frames matching `pred`, from kernel timestamps
    /// (falling back to capture times), for example the advertisement interval.
    pub fn intervals(&self, pred: impl Fn(&Frame) -> bool) -> Vec<Duration> {
        let times: Vec<Duration> = self
            .filter(pred)
            .iter()
            .map(|f| match f.kernel_time {
                Some(t) => t.duration_since(UNIX_EPOCH).unwrap_or_default(),
                None => f.at.duration_since(self.started),
            })
            .collect();
        times
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect()
    }

    /// Stops the capture and returns everything captured.
    pub fn stop(mut self) -> Vec<Frame> {
        self.halt();
        self.take()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Opens an `AF_PACKET` socket for all protocols bound to `ifname` (in the calling thread's
/// namespace), with a short receive timeout; returns it and the interface index.
fn open_packet_socket(ifname: &str) -> io::Result<(OwnedFd, i32)> {
    let ifindex = nix::net::if_::if_nametoindex(ifname)? as i32;
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) with constant arguments; the result is checked and owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let sll = sockaddr_ll(ifindex, proto, None);
    // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its exact size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 20_000,
    };
    // SAFETY: SO_RCVTIMEO takes a timeval; we pass a valid one and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fd, ifindex))
}

/// A `sockaddr_ll` for `ifindex`/`proto` (network order), with destination `mac` if given.
fn sockaddr_ll(ifindex: i32, proto: u16, mac: Option<&[u8]>) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex;
    if let Some(mac) = mac {
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&mac[..6]);
    }
    sll
}

/// Reads frames from `fd` into `frames` until `stop` is set.
fn capture_loop(fd: &OwnedFd, ifindex: i32, frames: &Mutex<Vec<Frame>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` and `from` are valid for writes of the lengths passed, for the
        // duration of the call.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        let at = Instant::now();
        if n < 0 {
            continue; // timeout (EAGAIN) or EINTR: look at `stop` again
        }
        if from.sll_ifindex != ifindex {
            continue;
        }
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: SIOCGSTAMP writes one timeval into the valid `tv`.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGSTAMP as _, &mut tv) };
        let kernel_time = (rc == 0)
            .then(|| UNIX_EPOCH + Duration::new(tv.tv_sec as u64, (tv.tv_usec as u32) * 1000));
        let frame = Frame {
            at,
            kernel_time,
            outgoing: from.sll_pkttype == PACKET_OUTGOING,
            data: buf[..n as usize].to_vec(),
        };
        frames.lock().unwrap_or_else(|p| p.into_inner()).push(frame);
    }
}

/// Sends `frame` (a full Ethernet frame, destination MAC first) out of `ifname` in the
/// calling thread's namespace. Panics on failure (test code).
pub(crate) fn send_frame(ifname: &str, frame: &[u8]) {
    assert!(frame.len() >= 14, "an Ethernet frame has at least 14 bytes");
    let ifindex = nix::net::if_::if_nametoindex(ifname)
        .unwrap_or_else(|e| panic!("no interface {ifname}: {e}")) as i32;
    let proto = u16::from_be_bytes([frame[12], frame[13]]).to_be();
    // SAFETY: socket(2) with constant arguments; the result is checked and owned at once.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "packet socket: {}", io::Error::last_os_error());
    // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let sll = sockaddr_ll(ifindex, proto, Some(&frame[..6]));
    // SAFETY: `frame` is valid for reads of its length; `sll` is a valid sockaddr_ll of the
    // size passed.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    assert!(
        n == frame.len() as isize,
        "send on {ifname}: {}",
        io::Error::last_os_error()
    );
}
