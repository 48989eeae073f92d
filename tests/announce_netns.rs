//! The announcements on the wire: the gratuitous ARPs and unsolicited NAs a
//! new master sends, captured on a client in a network namespace, parsed with
//! `vrrpd::core::wire` (pnet_packet's views, smoltcp's NDP options), equal
//! byte for byte to what the wire builders make, and accepted by the client's
//! kernel (its neighbour entry for the VIP moves to the new master's MAC with
//! no traffic from the client, which for IPv6 needs a valid ICMPv6 checksum).

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;
use vrrpd::core::wire::{gratuitous_arp, unsolicited_na, ArpRepr, NdiscFrame};

const VIP4: &str = "172.16.1.254";
const VIP6: &str = "2001:db8:1::254";
/// Frames per VIP in a burst (the `garp_repeat` set below).
const REPEAT: usize = 3;

/// Parses a MAC written `aa:bb:cc:dd:ee:ff`.
fn mac_bytes(text: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (b, part) in mac.iter_mut().zip(text.split(':')) {
        *b = u8::from_str_radix(part, 16).expect("hex MAC");
    }
    mac
}

/// The frame as it left the sender: what a veth may have padded to the
/// 60-byte minimum is zeros after the frame's own length.
fn unpadded(data: &[u8], len: usize) -> &[u8] {
    assert!(
        data.len() >= len,
        "frame of {} bytes, {len} expected",
        data.len()
    );
    assert!(
        data[len..].iter().all(|&b| b == 0),
        "padding is not zero: {data:02x?}"
    );
    &data[..len]
}

fn config(dir: &Path, name: &str, prio: u8, vip_cidr: &str) -> std::path::PathBuf {
    write_config(
        dir,
        name,
        &format!(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"ext0\"\nvrid = 21\npriority = {prio}\n\
             advert_interval = \"200ms\"\nvirtual_ips = [\"{vip_cidr}\"]\n\
             garp_repeat = {REPEAT}\ngarp_master_delay = \"0s\"\n"
        ),
    )
}

/// The standard lab with vrrpd on bal1 (priority 150) and bal2 (100) for
/// one VIP; bal3 stays idle.
struct Handover {
    _lab: Lab,
    /// bal1, bal2, bal3.
    hosts: Vec<Host>,
    /// vrrpd on bal1 and bal2.
    procs: Vec<Proc>,
}

impl Handover {
    /// Starts both daemons; returns the lab and the client host.
    fn start(tag: &str, vip: &str, prefix: u8, v6: bool) -> (Handover, Host) {
        let (lab, mut hosts) = Lab::standard(tag);
        if v6 {
            for (h, a) in hosts.iter().zip(["250", "251", "252", "100"]) {
                h.add_addr("ext0", &format!("2001:db8:1::{a}/64"));
            }
        }
        let cidr = format!("{vip}/{prefix}");
        let procs = [("bal1", 150), ("bal2", 100)]
            .iter()
            .zip(&hosts)
            .map(|((n, prio), h)| {
                let cfg = config(lab.dir(), &format!("{n}.toml"), *prio, &cidr);
                h.spawn_vrrpd(&cfg, &[], lab.dir().join(format!("{n}.log")))
            })
            .collect();
        let client = hosts.pop().expect("the standard lab has a client");
        let h = Handover {
            _lab: lab,
            hosts,
            procs,
        };
        (h, client)
    }

    fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| p.log())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    fn wait_holder(&self, vip: &str, who: usize) {
        let ok = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
            self.hosts[who].has_addr(vip) && !self.hosts[1 - who].has_addr(vip)
        });
        assert!(
            ok,
            "{} should hold {vip} alone:\n{}",
            self.hosts[who].short_name(),
            self.logs()
        );
    }
}

#[test]
fn gratuitous_arps_on_the_wire_are_the_wire_modules_frames() {
    if !require_root() {
        return;
    }
    let (mut h, client) = Handover::start("garpwire", VIP4, 24, false);
    h.wait_holder(VIP4, 0);
    assert!(client.ping_until(VIP4, Duration::from_secs(5)));
    let (mac1, mac2) = (h.hosts[0].mac("ext0"), h.hosts[1].mac("ext0"));
    assert_eq!(client.neigh(VIP4).as_deref(), Some(mac1.as_str()));

    let sniff = client.sniff("ext0");
    h.procs[0].stop(Signal::SIGTERM, Duration::from_secs(5));
    h.wait_holder(VIP4, 1);
    let vip: Ipv4Addr = VIP4.parse().unwrap();
    let want = gratuitous_arp(mac_bytes(&mac2), vip);
    let is_garp = |f: &Frame| {
        ArpRepr::parse_frame(&f.data).is_ok_and(|(_, a)| a.is_gratuitous() && a.sender_ip == vip)
    };
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(10), || sniff
            .filter(is_garp)
            .len()
            >= REPEAT),
        "fewer than {REPEAT} GARPs for {VIP4} reached the client:\n{}",
        h.logs()
    );
    // No traffic from the client since the ping: only a GARP can have moved it.
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || client
            .neigh(VIP4)
            .as_deref()
            == Some(mac2.as_str())),
        "client neighbour entry: {:?}, bal2 MAC {mac2}",
        client.neigh(VIP4)
    );
    for f in sniff.stop().iter().filter(|f| is_garp(f)) {
        assert_eq!(unpadded(&f.data, want.len()), &want[..]);
    }
}

#[test]
fn unsolicited_nas_on_the_wire_are_the_wire_modules_frames() {
    if !require_root() {
        return;
    }
    let (mut h, client) = Handover::start("nawire", VIP6, 64, true);
    h.wait_holder(VIP6, 0);
    assert!(client.ping_until(VIP6, Duration::from_secs(5)));
    let (mac1, mac2) = (h.hosts[0].mac("ext0"), h.hosts[1].mac("ext0"));
    assert_eq!(client.neigh(VIP6).as_deref(), Some(mac1.as_str()));

    let sniff = client.sniff("ext0");
    h.procs[0].stop(Signal::SIGTERM, Duration::from_secs(5));
    h.wait_holder(VIP6, 1);
    let vip: Ipv6Addr = VIP6.parse().unwrap();
    // NdiscFrame::parse checks the ICMPv6 checksum, hop limit and options.
    let is_na = |f: &Frame| NdiscFrame::parse(&f.data).is_ok_and(|n| n.na.target == vip);
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(10), || sniff
            .filter(is_na)
            .len()
            >= REPEAT),
        "fewer than {REPEAT} NAs for {VIP6} reached the client:\n{}",
        h.logs()
    );
    // The kernel drops an NA with a bad checksum: the entry moving shows
    // it accepted ours (O set, so it overrides the cached MAC).
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || client
            .neigh(VIP6)
            .as_deref()
            == Some(mac2.as_str())),
        "client neighbour entry: {:?}, bal2 MAC {mac2}",
        client.neigh(VIP6)
    );
    for f in sniff.stop().iter().filter(|f| is_na(f)) {
        let na = NdiscFrame::parse(&f.data).unwrap();
        assert_eq!(na.eth.src, mac_bytes(&mac2));
        assert_eq!(na.na.target_lladdr, Some(mac_bytes(&mac2)));
        assert!(na.na.override_flag && !na.na.solicited);
        assert!(!na.src_ip.is_unspecified());
        let want = unsolicited_na(mac_bytes(&mac2), na.src_ip, vip);
        assert_eq!(unpadded(&f.data, want.len()), &want[..]);
    }
}
