//! RFC conformance as golden cases: replays every `tests/conformance/**/*.case`
//! file through the sans-IO core and compares the transcript with the
//! expected one stored in the same file.
//!
//! A case is a small text file (the format is described in
//! `tests/conformance/README.md`): a header that names the RFC section and
//! quotes its sentence, the virtual routers under test, and timed input
//! events (startup, received packets as raw bytes or as fields, interface and
//! tracker changes, shutdown). The runner drives the real code paths:
//! - a received packet goes through `vrrpd::daemon::rx::accept` (IP TTL /
//!   hop limit, then `Advertisement::parse`: length, version, type,
//!   checksum), then the VRID lookup the daemon does (modelled here: one
//!   interface, keyed by address family and VRID, counter `vrid_unknown`),
//!   then `VirtualRouter::handle_advert`;
//! - time is simulated: before each event, every router deadline that falls
//!   due is fired in order with `handle_timeout`, so the transcript shows
//!   each timer to the microsecond;
//! - sync groups are applied after every input with `core::sync::holds` and
//!   `handle_sync`, as the daemon does;
//! - every advertisement the core asks to send is encoded with
//!   `Advertisement::emit` and shown as bytes; announcements can be shown as
//!   the gratuitous ARP / unsolicited NA frames the daemon builds.
//!
//! The expected transcript follows the line `=== expected ===`. Run with
//! `VRRPD_BLESS=1` to rewrite it from the current code (then `git diff`
//! shows what changed); without it, any difference fails the test with a
//! diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use vrrpd::core::router::{Action, Anomaly, GarpPolicy, RouterConfig, TrackEffect, VirtualRouter};
use vrrpd::core::sync;
use vrrpd::core::time::Instant;
use vrrpd::core::types::{Centisecs, Priority, Version, Vrid};
use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode, Packet};
use vrrpd::core::wire::{arp, ndisc, virtual_mac, Family, VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL};
use vrrpd::daemon::rx;
use vrrpd::io::vrrp_socket::RxPacket;

/// The line that separates a case's input from its expected transcript.
const MARKER: &str = "=== expected ===";

/// The environment variable that rewrites the expected transcripts.
const BLESS: &str = "VRRPD_BLESS";

// ----- the case file --------------------------------------------------------

/// Per-router settings that are the IO shell's, not the core's.
#[derive(Debug, Clone)]
struct ShellOpts {
    /// How the daemon would checksum our VRRPv3 IPv4 adverts.
    checksum: ChecksumMode,
    /// The interface MAC (used for announcements without `vmac`).
    mac: [u8; 6],
    /// `use_vmac`: announcements come from the virtual router MAC.
    vmac: bool,
    /// Print the announcement frames, not only their count.
    frames: bool,
}

#[derive(Debug, Clone)]
struct RouterSpec {
    name: String,
    cfg: RouterConfig,
    shell: ShellOpts,
}

#[derive(Debug, Clone)]
struct Event {
    at: Instant,
    /// The event as written, for the transcript.
    text: String,
    verb: String,
    args: Vec<String>,
    line: usize,
}

#[derive(Debug)]
struct Case {
    path: PathBuf,
    /// Everything before the marker, as written.
    input: String,
    rfc: String,
    routers: Vec<RouterSpec>,
    syncs: Vec<(String, Vec<String>)>,
    events: Vec<Event>,
    /// The stored transcript, if any.
    expected: Option<Vec<String>>,
}

fn parse_case(path: &Path, text: &str) -> Result<Case, String> {
    let (input, expected) = match text.find(MARKER) {
        Some(i) => {
            let rest = &text[i + MARKER.len()..];
            let lines = rest
                .lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            (&text[..i], Some(lines))
        }
        None => (text, None),
    };
    let mut rfc = None;
    let mut quotes = 0;
    let mut last_was_quote = false;
    let mut routers = Vec::new();
    let mut syncs = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    for (n, raw) in input.lines().enumerate() {
        let line = raw.trim();
        let n = n + 1;
        let err = |m: String| format!("line {n}: {m}");
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix("rfc:") {
            rfc = Some(v.trim().to_owned());
        } else if line.starts_with("quote:") {
            quotes += 1;
            last_was_quote = true;
            continue;
        } else if let Some(v) = line.strip_prefix("quote-source:") {
            // Where the quote just above was checked against RFC text:
            // `verified (...)`, `corrected (...)` or `unverified (...)`.
            if !last_was_quote {
                return Err(err("`quote-source:` must follow a `quote:` line".into()));
            }
            let v = v.trim();
            if !["verified", "corrected", "unverified"]
                .iter()
                .any(|s| v.starts_with(s))
            {
                return Err(err(format!(
                    "`quote-source: {v}` must start with verified, corrected or unverified"
                )));
            }
        } else if line.starts_with("title:") || line.starts_with("note:") {
        } else if let Some(rest) = line.strip_prefix("router ") {
            routers.push(parse_router(rest).map_err(err)?);
        } else if let Some(rest) = line.strip_prefix("sync ") {
            let mut it = rest.split_whitespace();
            let name = it.next().ok_or_else(|| err("sync needs a name".into()))?;
            syncs.push((name.to_owned(), it.map(str::to_owned).collect()));
        } else if let Some(rest) = line.strip_prefix('@') {
            let mut it = rest.split_whitespace();
            let t = it.next().ok_or_else(|| err("missing time".into()))?;
            let at = Instant::ZERO + parse_duration(t).map_err(err)?;
            if events.last().is_some_and(|e| e.at > at) {
                return Err(err("events must be in time order".into()));
            }
            let verb = it.next().ok_or_else(|| err("missing event".into()))?;
            let args: Vec<String> = it.map(str::to_owned).collect();
            let text = std::iter::once(verb.to_owned())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ");
            events.push(Event {
                at,
                text,
                verb: verb.to_owned(),
                args,
                line: n,
            });
        } else {
            return Err(err(format!("cannot read `{line}`")));
        }
        last_was_quote = false;
    }
    let rfc = rfc.ok_or("a case must name its section (`rfc:`)")?;
    if quotes == 0 {
        return Err("a case must quote its sentence (`quote:`)".into());
    }
    if routers.is_empty() {
        return Err("a case needs at least one `router`".into());
    }
    Ok(Case {
        path: path.to_owned(),
        input: input.trim_end().to_owned(),
        rfc,
        routers,
        syncs,
        events,
        expected,
    })
}

/// `key=value` pairs of an input line.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// The bare words and the `key=value` pairs of an input line.
fn kv(args: &[String]) -> (Vec<&str>, Pairs<'_>) {
    let mut words = Vec::new();
    let mut pairs = Vec::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) => pairs.push((k, v)),
            None => words.push(a.as_str()),
        }
    }
    (words, pairs)
}

fn parse_router(rest: &str) -> Result<RouterSpec, String> {
    let args: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
    let (words, pairs) = kv(&args);
    let name = match words.as_slice() {
        [name] => (*name).to_owned(),
        _ => return Err("router needs exactly one name".into()),
    };
    let mut version = Version::V3;
    let mut vrid = 12u8;
    let mut priority = 100u8;
    let mut interval = 100u16;
    let mut primary = None;
    let mut vips = Vec::new();
    let mut preempt = true;
    let mut delay = Duration::ZERO;
    let mut auth = None;
    let mut garp = GarpPolicy::default();
    let mut shell = ShellOpts {
        checksum: ChecksumMode::PseudoHeader,
        mac: [0x52, 0x54, 0x00, 0x00, 0x00, 0x01],
        vmac: false,
        frames: false,
    };
    for (k, v) in pairs {
        match k {
            "v" => version = parse_version(v)?,
            "vrid" => vrid = parse_num(k, v)?,
            "prio" => priority = parse_num(k, v)?,
            "int" => interval = parse_num(k, v)?,
            "primary" => primary = Some(parse_ip(v)?),
            "vips" => vips = parse_ips(v)?,
            "preempt" => preempt = parse_bool(k, v)?,
            "delay" => delay = parse_duration(v)?,
            "auth" => {
                let mut p = [0u8; 8];
                if v.len() > 8 {
                    return Err("auth: at most 8 bytes".into());
                }
                p[..v.len()].copy_from_slice(v.as_bytes());
                auth = Some(p);
            }
            "garp" => garp.repeat = parse_num(k, v)?,
            "garp_delay" => garp.master_delay = parse_duration(v)?,
            "garp_refresh" => garp.refresh = Some(parse_duration(v)?),
            "checksum" => shell.checksum = parse_mode(v)?,
            "mac" => shell.mac = parse_mac(v)?,
            "vmac" => shell.vmac = parse_bool(k, v)?,
            "frames" => shell.frames = parse_bool(k, v)?,
            _ => return Err(format!("router: unknown key `{k}`")),
        }
    }
    let cfg = RouterConfig {
        name: name.clone(),
        vrid: Vrid::new(vrid).ok_or("vrid 0")?,
        version,
        priority: Priority(priority),
        advert_interval: Centisecs(interval),
        preempt,
        preempt_delay: delay,
        vips,
        auth_pass: auth,
        primary_ip: primary.ok_or("router needs primary=")?,
        garp,
    };
    Ok(RouterSpec { name, cfg, shell })
}

fn parse_num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String> {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| n.to_string().parse().ok()),
        None => v.parse().ok(),
    };
    parsed.ok_or_else(|| format!("{k}: bad number `{v}`"))
}

fn parse_bool(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("{k}: on or off, not `{v}`")),
    }
}

fn parse_version(v: &str) -> Result<Version, String> {
    match v {
        "2" => Ok(Version::V2),
        "3" => Ok(Version::V3),
        _ => Err(format!("version 2 or 3, not `{v}`")),
    }
}

fn parse_mode(v: &str) -> Result<ChecksumMode, String> {
    match v {
        "pseudo" => Ok(ChecksumMode::PseudoHeader),
        "message" => Ok(ChecksumMode::MessageOnly),
        _ => Err(format!("checksum: pseudo or message, not `{v}`")),
    }
}

fn parse_ip(v: &str) -> Result<IpAddr, String> {
    v.parse().map_err(|_| format!("bad address `{v}`"))
}

fn parse_ips(v: &str) -> Result<Vec<IpAddr>, String> {
    if v == "none" {
        return Ok(Vec::new());
    }
    v.split(',').map(parse_ip).collect()
}

fn parse_mac(v: &str) -> Result<[u8; 6], String> {
    let b = parse_hex(v)?;
    b.try_into().map_err(|_| format!("bad MAC `{v}`"))
}

/// Hex bytes; `:` `_` and `.` are separators for readability.
fn parse_hex(v: &str) -> Result<Vec<u8>, String> {
    let digits: String = v.chars().filter(|c| !":_.".contains(*c)).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits in `{v}`"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("bad hex `{v}`")))
        .collect()
}

/// `3.609375s`, `1500ms`, `250us`: exact, no floating point.
fn parse_duration(v: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1_000u64)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1_000_000)
    } else {
        return Err(format!("duration needs a unit (s, ms, us): `{v}`"));
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let bad = || format!("bad duration `{v}`");
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut us = int * scale;
    let mut place = scale;
    for c in frac.chars() {
        place /= 10;
        let d = c.to_digit(10).ok_or_else(bad)? as u64;
        if place == 0 && d != 0 {
            return Err(format!("finer than a microsecond: `{v}`"));
        }
        us += d * place;
    }
    Ok(Duration::from_micros(us))
}

// ----- formatting -------------------------------------------------------------

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn mode_name(m: ChecksumMode) -> &'static str {
    match m {
        ChecksumMode::PseudoHeader => "pseudo-header",
        ChecksumMode::MessageOnly => "message-only",
    }
}

fn auth_str(a: &Auth) -> String {
    match a {
        Auth::None => "none".into(),
        Auth::SimplePassword(p) => {
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            format!("pass:{}", String::from_utf8_lossy(&p[..end]))
        }
        Auth::Other { auth_type, data } => format!("type{auth_type}:{}", hex(data)),
    }
}

fn advert_str(a: &Advertisement) -> String {
    let addrs = if a.addrs.is_empty() {
        "none".to_owned()
    } else {
        a.addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{} vrid={} prio={} int={} addrs={} auth={}",
        a.version,
        a.vrid,
        a.priority,
        a.max_adver_int,
        addrs,
        auth_str(&a.auth)
    )
}

fn group(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(VRRP_MCAST_V4),
        Family::Ipv6 => IpAddr::V6(VRRP_MCAST_V6),
    }
}

fn deadline_str(d: Option<Instant>) -> String {
    d.map_or_else(|| "none".to_owned(), |t| t.to_string())
}

// ----- the simulation -------------------------------------------------------

struct Sim {
    now: Instant,
    routers: Vec<Node>,
    syncs: Vec<(String, Vec<usize>)>,
    /// Drops before an instance, by the daemon's counter name.
    path_drops: BTreeMap<String, u64>,
    out: Vec<String>,
}

struct Node {
    name: String,
    router: VirtualRouter,
    gate: vrrpd::core::peers::Gate,
    shell: ShellOpts,
    shown_deadline: Option<Option<Instant>>,
    shown_mai: Centisecs,
}

impl Sim {
    fn new(case: &Case) -> Result<Sim, String> {
        let routers: Vec<Node> = case
            .routers
            .iter()
            .map(|r| Node {
                name: r.name.clone(),
                router: VirtualRouter::new(r.cfg.clone()),
                gate: Default::default(),
                shell: r.shell.clone(),
                shown_deadline: None,
                shown_mai: r.cfg.advert_interval,
            })
            .collect();
        let mut syncs = Vec::new();
        for (name, members) in &case.syncs {
            let idx = members
                .iter()
                .map(|m| {
                    routers
                        .iter()
                        .position(|r| &r.name == m)
                        .ok_or_else(|| format!("sync {name}: no router {m}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            syncs.push((name.clone(), idx));
        }
        Ok(Sim {
            now: Instant::ZERO,
            routers,
            syncs,
            path_drops: BTreeMap::new(),
            out: Vec::new(),
        })
    }

    fn line(&mut self, s: String) {
        self.out.push(format!("{} {s}", self.now));
    }

    /// Fire every deadline up to `t`, in time order, then stand at `t`.
    fn advance_to(&mut self, t: Instant) -> Result<(), String> {
        loop {
            let next = self
                .routers
                .iter()
                .filter_map(|n| n.router.poll_timeout())
                .filter(|&d| d <= t)
                .min();
            let Some(next) = next else { break };
            self.now = next.max(self.now);
            for i in 0..self.routers.len() {
                if self.routers[i]
                    .router
                    .poll_timeout()
                    .is_some_and(|d| d <= self.now)
                {
                    self.routers[i].router.handle_timeout(self.now);
                    if self.routers[i]
                        .router
                        .poll_timeout()
                        .is_some_and(|d| d <= self.now)
                    {
                        return Err(format!(
                            "{}: a timer fired at {} and did not move on",
                            self.routers[i].name, self.now
                        ));
                    }
                }
            }
            self.flush();
        }
        self.now = t;
        Ok(())
    }

    /// Sync groups, as the daemon's `apply_sync`: until nothing changes.
    fn apply_sync(&mut self) {
        for _ in 0..4 {
            let before: Vec<_> = self.routers.iter().map(|n| n.router.state()).collect();
            for (name, idx) in &self.syncs {
                let members: Vec<&VirtualRouter> =
                    idx.iter().map(|&i| &self.routers[i].router).collect();
                let holds = sync::holds(&members);
                for (&i, held) in idx.iter().zip(holds) {
                    self.routers[i].router.handle_sync(self.now, name, held);
                }
            }
            let after: Vec<_> = self.routers.iter().map(|n| n.router.state()).collect();
            if before == after {
                return;
            }
        }
    }

    /// Drain every router's actions into the transcript, then show the
    /// deadlines and intervals that changed.
    fn flush(&mut self) {
        self.apply_sync();
        for i in 0..self.routers.len() {
            while let Some(a) = self.routers[i].router.poll_action() {
                let lines = self.action_lines(i, &a);
                for l in lines {
                    self.line(l);
                }
            }
        }
        for i in 0..self.routers.len() {
            let n = &self.routers[i];
            let mai = n.router.master_adver_interval();
            let deadline = n.router.poll_timeout();
            let name = n.name.clone();
            if mai != n.shown_mai {
                self.routers[i].shown_mai = mai;
                self.line(format!("{name} MASTER_ADVER_INTERVAL {mai}"));
            }
            if self.routers[i].shown_deadline != Some(deadline) {
                self.routers[i].shown_deadline = Some(deadline);
                self.line(format!("{name} TIMER {}", deadline_str(deadline)));
            }
        }
    }

    fn action_lines(&self, i: usize, a: &Action) -> Vec<String> {
        let n = &self.routers[i];
        let cfg = n.router.config();
        let name = &n.name;
        let vips = cfg
            .vips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        match a {
            Action::StateChanged { from, to, reason } => {
                vec![format!("{name} STATE {from} -> {to} ({reason})")]
            }
            Action::SendAdvert(adv) => {
                let src = cfg.primary_ip;
                let dst = group(Family::of(&src));
                let mut buf = vec![0u8; adv.buffer_len()];
                let bytes = match adv.emit(&mut buf, src, dst, n.shell.checksum) {
                    Ok(()) => hex(&buf),
                    Err(e) => format!("<emit error: {e}>"),
                };
                vec![format!("{name} SEND {} bytes={bytes}", advert_str(adv))]
            }
            Action::AddVips => vec![format!("{name} ADD_VIPS {vips}")],
            Action::RemoveVips => vec![format!("{name} REMOVE_VIPS {vips}")],
            Action::Announce { repeat } => {
                let mut v = vec![format!("{name} ANNOUNCE x{repeat} {vips}")];
                if n.shell.frames {
                    v.extend(self.frames(i));
                }
                v
            }
            Action::PriorityChanged { from, to } => {
                vec![format!("{name} PRIORITY {from} -> {to}")]
            }
            Action::Anomaly(an) => vec![match an {
                Anomaly::VipMismatch { src } => format!("{name} ANOMALY vip_mismatch src={src}"),
                Anomaly::IntervalAdopted { src, interval } => {
                    format!("{name} ANOMALY interval_adopted src={src} interval={interval}")
                }
                Anomaly::LowerPriorityMaster { src, priority } => {
                    format!("{name} ANOMALY lower_priority_master src={src} prio={priority}")
                }
            }],
        }
    }

    /// The announcement frames, built as `daemon::instance::announce` does:
    /// from the virtual router MAC with `use_vmac`, else the interface MAC.
    fn frames(&self, i: usize) -> Vec<String> {
        let n = &self.routers[i];
        let cfg = n.router.config();
        let mut v = Vec::new();
        for vip in &cfg.vips {
            let mac = if n.shell.vmac {
                virtual_mac(Family::of(vip), cfg.vrid)
            } else {
                n.shell.mac
            };
            let line = match vip {
                IpAddr::V4(a) => {
                    let f = arp::gratuitous_arp(mac, *a);
                    // Ethernet dst/src, then ARP: op, sender MAC/IP, target MAC/IP.
                    format!(
                        "{} FRAME garp eth_src={} eth_dst={} op={} sender={}/{} target={}/{} bytes={}",
                        n.name,
                        mac_str(f[6..12].try_into().unwrap_or_default()),
                        mac_str(f[0..6].try_into().unwrap_or_default()),
                        u16::from_be_bytes([f[20], f[21]]),
                        mac_str(f[22..28].try_into().unwrap_or_default()),
                        Ipv4Addr::new(f[28], f[29], f[30], f[31]),
                        mac_str(f[32..38].try_into().unwrap_or_default()),
                        Ipv4Addr::new(f[38], f[39], f[40], f[41]),
                        hex(&f)
                    )
                }
                IpAddr::V6(a) => {
                    let src = match cfg.primary_ip {
                        IpAddr::V6(p) => p,
                        IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
                    };
                    let f = ndisc::unsolicited_na(mac, src, *a);
                    // 14 Ethernet + 40 IPv6, then ICMPv6 type, code, csum, flags.
                    let flags = f.get(58).copied().unwrap_or(0);
                    format!(
                        "{} FRAME na eth_src={} R={} S={} O={} target={} bytes={}",
                        n.name,
                        mac_str(mac),
                        flags >> 7 & 1,
                        flags >> 6 & 1,
                        flags >> 5 & 1,
                        a,
                        hex(&f)
                    )
                }
            };
            v.push(line);
        }
        v
    }

    fn targets(&self, r: Option<&str>) -> Result<Vec<usize>, String> {
        match r {
            None => Ok((0..self.routers.len()).collect()),
            Some(name) => self
                .routers
                .iter()
                .position(|n| n.name == name)
                .map(|i| vec![i])
                .ok_or_else(|| format!("no router `{name}`")),
        }
    }

    fn event(&mut self, e: &Event) -> Result<(), String> {
        self.advance_to(e.at)?;
        self.out.push(format!("{} > {}", self.now, e.text));
        let (words, pairs) = kv(&e.args);
        let r = pairs.iter().find(|(k, _)| *k == "r").map(|(_, v)| *v);
        let now = self.now;
        match e.verb.as_str() {
            "run" => {}
            "startup" => {
                for i in self.targets(r)? {
                    self.routers[i].router.handle_startup(now);
                }
            }
            "shutdown" => {
                for i in self.targets(r)? {
                    self.routers[i].router.handle_shutdown(now);
                }
            }
            "iface" => {
                let up = match words.as_slice() {
                    ["up"] => true,
                    ["down"] => false,
                    _ => return Err("iface up|down".into()),
                };
                for i in self.targets(r)? {
                    self.routers[i].router.handle_iface(now, up);
                }
            }
            "maintenance" => {
                let on = match words.as_slice() {
                    [w] => parse_bool("maintenance", w)?,
                    _ => return Err("maintenance on|off".into()),
                };
                for i in self.targets(r)? {
                    self.routers[i].router.handle_maintenance(now, on);
                }
            }
            "track" => {
                let (name, effect) = match words.as_slice() {
                    [name, "none"] => (*name, TrackEffect::None),
                    [name, "fault"] => (*name, TrackEffect::Fault),
                    [name, w] => (
                        *name,
                        TrackEffect::Priority(w.parse().map_err(|_| format!("track: `{w}`"))?),
                    ),
                    _ => return Err("track NAME none|fault|+N|-N".into()),
                };
                for i in self.targets(r)? {
                    self.routers[i].router.handle_track(now, name, effect);
                }
            }
            "rx" => self.rx(&pairs, r)?,
            v => return Err(format!("unknown event `{v}`")),
        }
        self.flush();
        Ok(())
    }

    /// Build the packet, then take it down the daemon's receive path.
    fn rx(&mut self, pairs: &[(&str, &str)], r: Option<&str>) -> Result<(), String> {
        let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let src = parse_ip(get("src").ok_or("rx needs src=")?)?;
        let family = Family::of(&src);
        let dst = match get("dst") {
            Some(d) => parse_ip(d)?,
            None => group(family),
        };
        let ttl: u8 = match get("ttl") {
            Some(t) => parse_num("ttl", t)?,
            None => VRRP_TTL,
        };
        let payload = match get("hex") {
            Some(h) => parse_hex(h)?,
            None => self.build(pairs, r, src, dst)?,
        };
        self.line(format!(
            "> packet src={src} dst={dst} ttl={ttl} len={} bytes={}",
            payload.len(),
            hex(&payload)
        ));
        let pkt = RxPacket {
            src,
            dst,
            ttl,
            ifindex: 1,
            payload,
        };
        let rx = match rx::accept(&pkt, vrrpd::core::wire::VRRP_TTL) {
            Ok(r) => r,
            Err(reason) => {
                *self.path_drops.entry(reason.to_owned()).or_default() += 1;
                self.line(format!("rx DROP {reason}"));
                return Ok(());
            }
        };
        let (adv, mode) = (&rx.advert, rx.mode);
        self.line(format!(
            "rx PARSED checksum={} {}",
            mode_name(mode),
            advert_str(adv)
        ));
        // The daemon's demultiplexing: (interface, family, VRID) -> instance.
        let Some(i) = self.routers.iter().position(|n| {
            let c = n.router.config();
            c.vrid.get() == adv.vrid && Family::of(&c.primary_ip) == family
        }) else {
            *self
                .path_drops
                .entry("vrid_unknown".to_owned())
                .or_default() += 1;
            self.line("rx DROP vrid_unknown".to_owned());
            return Ok(());
        };
        let now = self.now;
        let name = self.routers[i].name.clone();
        // The daemon's gate (allow-list, TTL, auth_hmac): these routers have
        // neither an allow-list nor auth_hmac, so it only refuses a trailer.
        let gate = self.routers[i].gate.admit(
            &src,
            ttl,
            rx.message,
            rx.trailer,
            vrrpd::core::auth::WallTime::default(),
        );
        if let Err(d) = gate {
            self.line(format!("{name} DROP {}", d.name()));
            return Ok(());
        }
        match self.routers[i].router.handle_advert(now, src, adv) {
            Ok(()) => self.line(format!("{name} ACCEPT")),
            Err(reason) => self.line(format!("{name} DROP {}", reason.name())),
        }
        Ok(())
    }

    /// An advertisement from fields, defaulting to the target router's own
    /// settings, then patched.
    fn build(
        &self,
        pairs: &[(&str, &str)],
        r: Option<&str>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Vec<u8>, String> {
        let i = self.targets(r)?.first().copied().ok_or("no router")?;
        let cfg = self.routers[i].router.config();
        let mut adv = Advertisement {
            version: cfg.version,
            vrid: cfg.vrid.get(),
            priority: Priority(100),
            max_adver_int: cfg.advert_interval,
            addrs: cfg.vips.iter().copied().collect(),
            auth: match (cfg.version, cfg.auth_pass) {
                (Version::V2, Some(p)) => Auth::SimplePassword(p),
                _ => Auth::None,
            },
        };
        let mut mode = ChecksumMode::PseudoHeader;
        let mut patches = Vec::new();
        let mut trunc = None;
        let mut extra = Vec::new();
        let mut csum = None;
        let mut have_prio = false;
        for &(k, v) in pairs {
            match k {
                "src" | "dst" | "ttl" | "r" => {}
                "v" => adv.version = parse_version(v)?,
                "vrid" => adv.vrid = parse_num(k, v)?,
                "prio" => {
                    adv.priority = Priority(parse_num(k, v)?);
                    have_prio = true;
                }
                "int" => adv.max_adver_int = Centisecs(parse_num(k, v)?),
                "addrs" => adv.addrs = parse_ips(v)?.into(),
                "auth" => {
                    adv.auth = if v == "none" {
                        Auth::None
                    } else if let Some(p) = v.strip_prefix("pass:") {
                        let mut b = [0u8; 8];
                        if p.len() > 8 {
                            return Err("auth pass: at most 8 bytes".into());
                        }
                        b[..p.len()].copy_from_slice(p.as_bytes());
                        Auth::SimplePassword(b)
                    } else if let Some(t) = v.strip_prefix("type") {
                        Auth::Other {
                            auth_type: parse_num("auth type", t)?,
                            data: [0; 8],
                        }
                    } else {
                        return Err(format!("auth: none, pass:X or typeN, not `{v}`"));
                    }
                }
                "mode" => mode = parse_mode(v)?,
                "patch" => {
                    let (off, bytes) = v.split_once(':').ok_or("patch=OFFSET:HEX")?;
                    patches.push((parse_num::<usize>("patch", off)?, parse_hex(bytes)?));
                }
                "trunc" => trunc = Some(parse_num::<usize>("trunc", v)?),
                "extra" => extra = parse_hex(v)?,
                "csum" => csum = Some(v),
                _ => return Err(format!("rx: unknown key `{k}`")),
            }
        }
        if !have_prio {
            return Err("rx needs prio= (or hex=)".into());
        }
        let mut buf = vec![0u8; adv.buffer_len()];
        adv.emit(&mut buf, src, dst, mode)
            .map_err(|e| format!("rx: cannot encode: {e}"))?;
        for (off, bytes) in patches {
            let end = off + bytes.len();
            if end > buf.len() {
                return Err(format!("patch past the end ({end} > {})", buf.len()));
            }
            buf[off..end].copy_from_slice(&bytes);
        }
        if let Some(n) = trunc {
            buf.truncate(n);
        }
        buf.extend_from_slice(&extra);
        match csum {
            Some("keep") => {}
            Some(v) => {
                let c: u16 = parse_num("csum", v)?;
                if buf.len() >= 8 {
                    buf[6..8].copy_from_slice(&c.to_be_bytes());
                }
            }
            None if buf.len() >= 8 => {
                // Patched bytes get a checksum that is right for them.
                let family = Family::of(&src);
                let c = Packet::new_unchecked(&buf[..], family)
                    .compute_checksum(&src, &dst, mode)
                    .ok_or("checksum: families differ")?;
                buf[6..8].copy_from_slice(&c.to_be_bytes());
            }
            None => {}
        }
        Ok(buf)
    }

    fn summary(&mut self) {
        for n in &self.routers {
            let r = &n.router;
            let s = r.stats();
            let drops = if s.drops.is_empty() {
                "none".to_owned()
            } else {
                s.drops
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", k.name()))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            self.out.push(format!(
                "END {} state={} prio={} mai={} skew={:?} down={:?} rx={} tx={} rx_prio0={} tx_prio0={} \
                 became_master={} transitions={} vip_mismatch={} drops={drops}",
                n.name,
                r.state(),
                r.effective_priority(),
                r.master_adver_interval(),
                r.skew_time(),
                r.master_down_interval(),
                s.adverts_received,
                s.adverts_sent,
                s.priority_zero_received,
                s.priority_zero_sent,
                s.master_transitions,
                s.transitions,
                s.vip_mismatch,
            ));
        }
        let path = if self.path_drops.is_empty() {
            "none".to_owned()
        } else {
            self.path_drops
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        self.out.push(format!("END receive-path drops={path}"));
    }
}

fn run_case(case: &Case) -> Result<Vec<String>, String> {
    let mut sim = Sim::new(case)?;
    for e in &case.events {
        sim.event(e).map_err(|m| format!("line {}: {m}", e.line))?;
    }
    sim.summary();
    Ok(sim.out)
}

// ----- the test ---------------------------------------------------------------

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            case_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "case") {
            out.push(p);
        }
    }
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &[String], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "  + {}", actual[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "  - {}", expected[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn rfc_conformance_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 60,
        "expected the conformance cases under {}, found {}",
        root.display(),
        files.len()
    );
    let bless = std::env::var(BLESS).is_ok_and(|v| !v.is_empty() && v != "0");
    let mut failures = Vec::new();
    let mut blessed = 0;
    let mut per_rfc: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).expect("readable case file");
        let case = match parse_case(path, &text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let family = case
            .rfc
            .split(['§', ' '])
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        *per_rfc.entry(family).or_default() += 1;
        let actual = match run_case(&case) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        if bless {
            if case.expected.as_deref() != Some(&actual[..]) {
                let body = format!("{}\n\n{MARKER}\n{}\n", case.input, actual.join("\n"));
                std::fs::write(&case.path, body).expect("writable case file");
                blessed += 1;
                eprintln!("blessed {rel}");
            }
            continue;
        }
        match &case.expected {
            None => failures.push(format!(
                "{rel}: no `{MARKER}` section; run with {BLESS}=1 to write it"
            )),
            Some(exp) if exp != &actual => failures.push(format!(
                "{rel}: transcript differs (- expected, + actual; {BLESS}=1 rewrites it)\n{}",
                diff(exp, &actual)
            )),
            Some(_) => {}
        }
    }
    eprintln!("conformance: {} cases {per_rfc:?}", files.len());
    if bless {
        eprintln!("conformance: {blessed} case file(s) rewritten");
    }
    assert!(
        failures.is_empty(),
        "{} of {} conformance case(s) failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
