//! Route netlink: interface lookup, virtual address add/remove (also with a
//! finite lifetime, a "lease"), lease renewal in batches, and a stream of link
//! and address events (rtnetlink 0.20 / netlink-packet-route 0.28).
//!
//! Two sockets are used: [`Netlink`] owns a request socket; each
//! [`Netlink::subscribe`] call opens its own socket bound to the
//! `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and `RTNLGRP_IPV6_IFADDR` groups,
//! so events never interleave with request replies (the daemon's has a
//! socket filter that drops added addresses in the kernel:
//! [`Netlink::subscribe_to`]). A [`LeaseRenewer`] owns a
//! third, plain socket that packs many renewals into one `sendmsg`.
//!
//! ## What "up" means
//! [`LinkInfo::up`] and [`NetEvent::Link::up`] are `IFF_UP && IFF_RUNNING`.
//! The kernel sets `IFF_RUNNING` only while the operational state is up
//! (or unknown, for drivers that do not report one, such as dummy
//! devices), so loss of carrier (a pulled cable, a veth whose peer went
//! down) counts as down, as it must: a router that cannot reach the LAN
//! must not stay master (RFC 5798 section 6.4, interface tracking).
//!
//! ## Leases (address lifetimes)
//! An address added with a [`Lifetime`] carries `IFA_CACHEINFO` with
//! `ifa_valid = ifa_prefered = N` seconds; the kernel deletes it N seconds
//! after it was last added or renewed, unless renewed again. Renewing is the
//! same `RTM_NEWADDR`, sent with `NLM_F_CREATE | NLM_F_REPLACE`. What the
//! kernel does with it (measured on 6.18 with `ip -ts monitor`, see
//! docs/BGP.md): one `RTM_NEWADDR` notification per renewal, no route
//! change, no DAD, no ARP or NA on the wire; on expiry one `RTM_DELADDR` (and
//! the address's local route) at N s (+ at most about 25 ms) after the last
//! renewal. Lifetimes count in whole seconds, so a lease is at least 1 s.
//! A renewal also re-creates an address that is gone (the kernel adds it even
//! without `NLM_F_CREATE`), so only the owner of the address state may send it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};

use futures::stream::{StreamExt, TryStreamExt};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, CacheInfo,
};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkMessage, MacVlanMode};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use rtnetlink::{
    AddressMessageBuilder, Handle, LinkDummy, LinkMacVlan, LinkUnspec, MulticastGroup,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::IoError;

/// How many events the subscription buffers before it waits for the reader.
const EVENT_QUEUE: usize = 1024;

/// Whether a subscription reports added addresses ([`Netlink::subscribe_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Additions {
    /// [`NetEvent::AddrAdded`] for every `RTM_NEWADDR`.
    Reported,
    /// None: the kernel drops every `RTM_NEWADDR` before it is queued.
    Dropped,
}

/// Attaches a classic BPF filter to netlink socket `fd` that drops every
/// `RTM_NEWADDR` message and keeps the rest. A multicast notification is
/// one message per datagram, so the filter sees its header at offset 0;
/// `nlmsg_type` is the 16 bits at offset 4, in host order (the filter's
/// loads are big-endian, so the constant is swapped on a little-endian
/// host).
fn drop_new_addresses(fd: RawFd) -> Result<(), IoError> {
    const RTM_NEWADDR: u16 = 20;
    let new_addr = u32::from(u16::from_be_bytes(RTM_NEWADDR.to_ne_bytes()));
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut program = [
        // A = the 16 bits at offset 4 (nlmsg_type).
        stmt(libc::BPF_LD | libc::BPF_H | libc::BPF_ABS, 4),
        // RTM_NEWADDR: on to the next (drop), else skip it (keep).
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: new_addr,
        },
        stmt(libc::BPF_RET | libc::BPF_K, 0),
        stmt(libc::BPF_RET | libc::BPF_K, u32::MAX),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points to `program`, alive for the call, with its true
    // length; the kernel copies the filter before setsockopt returns.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(IoError::sys(
            "setsockopt(SO_ATTACH_FILTER) on the netlink event socket",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// `INFINITY_LIFE_TIME`: the kernel's "no expiry" lifetime.
const INFINITE_LIFETIME: u32 = u32::MAX;

/// Most renewals packed into one `sendmsg` by [`LeaseRenewer`]: small enough
/// that the kernel's answers to a whole chunk of failures (one error message
/// each, about 1 KiB of receive buffer apiece) fit the default 208 KiB
/// receive buffer, which is drained after every chunk.
const RENEW_CHUNK: usize = 128;

/// A finite address lifetime, in the whole seconds the kernel counts in
/// (`IFA_CACHEINFO`: `ifa_valid`, and `ifa_prefered` set to the same value,
/// so that the address is never "deprecated" before it goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lifetime(u32);

impl Lifetime {
    /// No expiry (`INFINITY_LIFE_TIME`): given to
    /// [`Netlink::add_address_leased`], it makes a leased address permanent
    /// again (used when leases are turned off while VIPs are held).
    pub const FOREVER: Lifetime = Lifetime(INFINITE_LIFETIME);

    /// A lifetime of `secs` seconds; `None` for 0 (the kernel would delete
    /// the address at once) and for `u32::MAX` (which the kernel reads as
    /// "forever").
    pub fn from_secs(secs: u32) -> Option<Lifetime> {
        (secs != 0 && secs != INFINITE_LIFETIME).then_some(Lifetime(secs))
    }

    /// The lifetime in seconds.
    pub fn secs(self) -> u32 {
        self.0
    }

    /// The `IFA_CACHEINFO` attribute that carries it.
    fn cache_info(self) -> AddressAttribute {
        let mut info = CacheInfo::default();
        info.ifa_preferred = self.0;
        info.ifa_valid = self.0;
        AddressAttribute::CacheInfo(info)
    }
}

/// One address held with a lease: where it is and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeasedAddr {
    /// The interface it is on.
    pub ifindex: u32,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
}

/// An address as the kernel reports it, with its remaining lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrLifetime {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Seconds of validity left, as the kernel rounds them; `None` for a
    /// permanent address.
    pub valid_secs: Option<u32>,
}

/// What a [`LeaseRenewer::renew`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenewReport {
    /// Renewal messages sent (one per address).
    pub messages: usize,
    /// `sendmsg` calls made (a batch is cut into chunks of at most 128).
    pub sends: usize,
    /// Renewals the kernel refused, with the errno (positive), for example
    /// `ENODEV` when the interface is gone.
    pub failed: Vec<(LeasedAddr, i32)>,
    /// True when the kernel dropped some of its answers (our receive buffer
    /// overflowed): then `failed` may be incomplete.
    pub answers_lost: bool,
}

/// What [`Netlink::ensure_announce_link`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceLink {
    /// The interface, up.
    pub link: LinkInfo,
    /// The link type it was created as (`"dummy"`, or `"ifb"` on kernels
    /// built without the dummy driver); `None` when it already existed.
    pub created_as: Option<&'static str>,
}

/// What the daemon needs to know about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, when the link has a 6-byte one (Ethernet).
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP && IFF_RUNNING`: administratively up *and* operationally up
    /// (carrier present). See the module docs.
    pub up: bool,
    /// MTU in bytes (0 if the kernel did not report it).
    pub mtu: u32,
}

/// A change reported by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A link was created, changed, or (with `up: false`) deleted.
    Link {
        /// Interface index.
        index: u32,
        /// Interface name (empty if the kernel did not send it).
        name: String,
        /// Same meaning as [`LinkInfo::up`]; false for a deleted link.
        up: bool,
    },
    /// An address was added to an interface.
    AddrAdded {
        /// Interface index.
        index: u32,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
    },
    /// An address was removed from an interface.
    AddrRemoved {
        /// Interface index.
        index: u32,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
    },
    /// The kernel dropped events because the socket buffer was full
    /// (`ENOBUFS`). The reader must resynchronise by querying links and
    /// addresses again.
    Overrun,
}

/// A route netlink request socket.
///
/// Create it inside a tokio runtime: the connection task is spawned there
/// and aborted when the `Netlink` is dropped.
#[derive(Debug)]
pub struct Netlink {
    /// Request handle of the rtnetlink connection.
    handle: Handle,
    /// The task driving the connection; aborted on drop.
    conn: JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Netlink {
    /// Opens the request socket and spawns its connection task on the
    /// current tokio runtime.
    pub fn new() -> Result<Self, IoError> {
        let rt = IoError::require_runtime()?;
        let (conn, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(IoError::NetlinkSocket)?;
        let conn = rt.spawn(conn);
        Ok(Netlink { handle, conn })
    }

    /// Looks an interface up by name; `Ok(None)` if there is none.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>, IoError> {
        if name.is_empty() || name.len() > 15 {
            return Ok(None);
        }
        let req = self.handle.link().get().match_name(name.to_string());
        first_link(req.execute()).await
    }

    /// Looks an interface up by index; `Ok(None)` if there is none.
    pub async fn link_by_index(&self, index: u32) -> Result<Option<LinkInfo>, IoError> {
        let req = self.handle.link().get().match_index(index);
        first_link(req.execute()).await
    }

    /// Adds `addr/prefix_len` to interface `ifindex`.
    ///
    /// Idempotent: an address that is already there (`EEXIST`) is success.
    /// IPv6 addresses are added with `IFA_F_NODAD`: a virtual address must
    /// be usable the moment we become master, not after one to two
    /// seconds of Duplicate Address Detection (during which it would be
    /// "tentative" and unusable as a source); and the previous master may
    /// still hold it for a moment, which DAD would report as a duplicate
    /// and disable the address for good.
    pub async fn add_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), IoError> {
        check_prefix(addr, prefix_len)?;
        let mut req = self.handle.address().add(ifindex, addr, prefix_len);
        if addr.is_ipv6() {
            req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if nl_errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(source) => Err(IoError::Netlink {
                op: "add address",
                source,
            }),
        }
    }

    /// Adds `addr/prefix_len` to interface `ifindex` with a finite
    /// lifetime, or, when it is already there, sets its lifetime afresh
    /// (`NLM_F_CREATE | NLM_F_REPLACE`): a permanent address becomes leased.
    ///
    /// The kernel deletes the address `lifetime` after the last call unless
    /// it is renewed ([`LeaseRenewer::renew`] does many at once). IPv6
    /// addresses get `IFA_F_NODAD`, as in [`Netlink::add_address`].
    pub async fn add_address_leased(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
        lifetime: Lifetime,
    ) -> Result<(), IoError> {
        check_prefix(addr, prefix_len)?;
        let mut req = self
            .handle
            .address()
            .add(ifindex, addr, prefix_len)
            .replace();
        let msg = req.message_mut();
        if addr.is_ipv6() {
            msg.header.flags |= AddressHeaderFlags::Nodad;
        }
        msg.attributes.push(lifetime.cache_info());
        req.execute().await.map_err(|source| IoError::Netlink {
            op: "add leased address",
            source,
        })
    }

    /// Every address on `ifindex` with its remaining lifetime.
    pub async fn address_lifetimes(&self, ifindex: u32) -> Result<Vec<AddrLifetime>, IoError> {
        Ok(self
            .address_entries(ifindex)
            .await?
            .into_iter()
            .map(|e| AddrLifetime {
                addr: e.addr,
                prefix_len: e.prefix_len,
                valid_secs: e.valid_secs,
            })
            .collect())
    }

    /// The interface the BGP announcement puts VIPs on: `name` if it
    /// exists (any type, e.g. `lo`), else a new dummy interface of that name
    /// (or, on a kernel without the dummy driver, an `ifb`, which behaves
    /// the same for holding addresses). It is brought up either way: a down
    /// interface has no connected routes, so nothing would be announced.
    pub async fn ensure_announce_link(&self, name: &str) -> Result<AnnounceLink, IoError> {
        if name.is_empty() || name.len() > 15 {
            return Err(IoError::InvalidArgument(format!(
                "bad interface name {name:?}"
            )));
        }
        let mut created_as = None;
        if self.link_by_name(name).await?.is_none() {
            let dummy = LinkDummy::new(name).up().build();
            created_as = Some("dummy");
            if let Err(e) = self.handle.link().add(dummy).execute().await {
                match nl_errno(&e) {
                    // Another process made it in between: use it.
                    Some(libc::EEXIST) => created_as = None,
                    // No dummy driver in this kernel: "Unknown device type".
                    Some(libc::EOPNOTSUPP) => {
                        let ifb = rtnetlink::LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(
                            InfoKind::Ifb,
                        )
                        .name(name.to_string())
                        .up()
                        .build();
                        self.handle
                            .link()
                            .add(ifb)
                            .execute()
                            .await
                            .map_err(|source| IoError::Netlink {
                                op: "create announce interface (ifb)",
                                source,
                            })?;
                        created_as = Some("ifb");
                    }
                    _ => {
                        return Err(IoError::Netlink {
                            op: "create announce interface (dummy)",
                            source: e,
                        })
                    }
                }
            }
        }
        let link = self
            .link_by_name(name)
            .await?
            .ok_or_else(|| IoError::InvalidArgument(format!("interface {name} vanished")))?;
        if !link.up {
            self.set_link_up(link.index, true).await?;
        }
        let link = self
            .link_by_name(name)
            .await?
            .ok_or_else(|| IoError::InvalidArgument(format!("interface {name} vanished")))?;
        Ok(AnnounceLink { link, created_as })
    }

    /// Removes `addr/prefix_len` from interface `ifindex`.
    ///
    /// Idempotent: an address that is not there (`EADDRNOTAVAIL`,
    /// `ENOENT`) or an interface that is gone (`ENODEV`) is success, since
    /// either way the address is not on the interface afterwards.
    pub async fn del_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), IoError> {
        check_prefix(addr, prefix_len)?;
        let msg = match addr {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(ifindex)
                .address(a, prefix_len)
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(ifindex)
                .address(a, prefix_len)
                .build(),
        };
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    nl_errno(&e),
                    Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            Err(source) => Err(IoError::Netlink {
                op: "delete address",
                source,
            }),
        }
    }

    /// All addresses on interface `ifindex` (IPv4 and IPv6), in kernel order.
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<(IpAddr, u8)>, IoError> {
        Ok(self
            .address_entries(ifindex)
            .await?
            .into_iter()
            .map(|e| (e.addr, e.prefix_len))
            .collect())
    }

    /// The primary (not `IFA_F_SECONDARY`) IPv4 address of `ifindex`: the
    /// one the kernel uses as source by default, and the VRRPv2/v3 IPv4
    /// advertisement source.
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, IoError> {
        Ok(self
            .address_entries(ifindex)
            .await?
            .into_iter()
            .find_map(|e| match e.addr {
                IpAddr::V4(a) if !e.flags.contains(AddressFlags::Secondary) => Some(a),
                _ => None,
            }))
    }

    /// A usable IPv6 link-local address of `ifindex` (fe80::/10), the
    /// VRRPv3 IPv6 advertisement source (RFC 5798 section 5.1.2.1).
    ///
    /// Addresses still in Duplicate Address Detection (`tentative`) or that
    /// failed it are skipped, since the kernel refuses them as a source:
    /// `Ok(None)` right after link up means "not yet", ask again later or
    /// wait for the [`NetEvent::AddrAdded`] that follows DAD.
    pub async fn link_local_v6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, IoError> {
        let unusable = AddressFlags::Tentative | AddressFlags::Dadfailed;
        Ok(self
            .address_entries(ifindex)
            .await?
            .into_iter()
            .find_map(|e| match e.addr {
                IpAddr::V6(a) if is_link_local_v6(&a) && !e.flags.intersects(unusable) => Some(a),
                _ => None,
            }))
    }

    /// Creates a macvlan `name` on `parent_index` with the given MAC, in
    /// bridge mode, left down: the daemon brings it up only while master, so
    /// that a backup neither answers for the VIP nor receives frames for the
    /// virtual MAC. An existing link of that name is an error.
    pub async fn create_macvlan(
        &self,
        parent_index: u32,
        name: &str,
        mac: [u8; 6],
    ) -> Result<(), IoError> {
        if name.is_empty() || name.len() > 15 {
            return Err(IoError::InvalidArgument(format!(
                "bad interface name {name:?}"
            )));
        }
        let msg = LinkMacVlan::new(name, parent_index, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .down()
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|source| IoError::Netlink {
                op: "create macvlan",
                source,
            })
    }

    /// Sets a link administratively up or down.
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<(), IoError> {
        let b = rtnetlink::LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|source| IoError::Netlink {
                op: "set link state",
                source,
            })
    }

    /// Deletes the link `name`. Idempotent: no such link is success.
    pub async fn delete_link(&self, name: &str) -> Result<(), IoError> {
        let Some(link) = self.link_by_name(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(link.index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if nl_errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(source) => Err(IoError::Netlink {
                op: "delete link",
                source,
            }),
        }
    }

    /// Opens an event subscription: link changes and IPv4/IPv6 address
    /// changes, for all interfaces.
    ///
    /// The socket and a forwarding task live on the current tokio runtime
    /// until the receiver is dropped. If the netlink socket fails, the
    /// channel closes (`recv()` gives `None`): the daemon should treat that
    /// as fatal or resubscribe and resynchronise. Events lost to a full
    /// socket buffer are reported as [`NetEvent::Overrun`].
    ///
    /// Subscribe *before* the initial queries (link_by_name, addresses),
    /// so that no change falls between the two.
    pub fn subscribe(&self) -> Result<mpsc::Receiver<NetEvent>, IoError> {
        self.subscribe_to(Additions::Reported)
    }

    /// As [`Netlink::subscribe`], with [`NetEvent::AddrAdded`] reported or
    /// dropped. Dropped, the kernel itself discards every `RTM_NEWADDR`
    /// before it is queued (a socket filter), so that no thread wakes for
    /// one: the daemon, which acts on no added address, would otherwise
    /// read the echo of each VIP it adds and of every lease renewal, one
    /// per VIP per second (4000 a second at 4000 VIPs: its event loop fell
    /// behind and the advert keeper had to cover for it; #21).
    pub fn subscribe_to(&self, additions: Additions) -> Result<mpsc::Receiver<NetEvent>, IoError> {
        let rt = IoError::require_runtime()?;
        let groups = [
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ];
        let (mut conn, handle, mut messages) =
            rtnetlink::new_multicast_connection(&groups).map_err(IoError::NetlinkSocket)?;
        if additions == Additions::Dropped {
            drop_new_addresses(conn.socket_mut().as_raw_fd())?;
        }
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        rt.spawn(async move {
            // Keeps the request side of the connection open for its lifetime.
            let _handle = handle;
            let conn = tokio::spawn(conn);
            'run: loop {
                tokio::select! {
                    msg = messages.next() => {
                        let Some((msg, _)) = msg else { break 'run };
                        let event = match msg.payload {
                            NetlinkPayload::InnerMessage(m) => translate(m),
                            NetlinkPayload::Overrun(_) => Some(NetEvent::Overrun),
                            _ => None,
                        };
                        if let Some(event) = event {
                            if tx.send(event).await.is_err() {
                                break 'run;
                            }
                        }
                    }
                    () = tx.closed() => break 'run,
                }
            }
            conn.abort();
        });
        Ok(rx)
    }

    /// Address dump of one interface, with flags.
    async fn address_entries(&self, ifindex: u32) -> Result<Vec<AddrEntry>, IoError> {
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute()
            .try_collect()
            .await
            .map_err(|source| IoError::Netlink {
                op: "dump addresses",
                source,
            })?;
        Ok(msgs.iter().filter_map(addr_entry).collect())
    }
}

/// Renews address leases many at a time: one `RTM_NEWADDR` per address,
/// packed into as few `sendmsg` calls as fit (at most 128 messages each), on
/// its own route netlink socket.
///
/// No acknowledgement is asked for, so a batch that works costs one
/// `sendmsg` and one empty non-blocking `recv`; the kernel answers only
/// failures, and has done so by the time `sendmsg` returns (route netlink
/// requests are handled in the sender's context), so [`LeaseRenewer::renew`]
/// reads them back before it returns. Both calls are non-blocking.
///
/// The caller owns the address state: a renewal of an address that is gone
/// adds it again (see the module docs), so never renew what was removed.
#[derive(Debug)]
pub struct LeaseRenewer {
    /// The socket, bound to a kernel-chosen port id, non-blocking.
    socket: Socket,
    /// Sequence number of the next message (wraps).
    seq: u32,
    /// Reused send buffer.
    buf: Vec<u8>,
}

impl LeaseRenewer {
    /// Opens the socket (in the calling thread's network namespace).
    pub fn new() -> Result<LeaseRenewer, IoError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(IoError::NetlinkSocket)?;
        socket.bind_auto().map_err(IoError::NetlinkSocket)?;
        socket
            .set_non_blocking(true)
            .map_err(IoError::NetlinkSocket)?;
        // Error answers without a copy of our request: smaller, so that more fit.
        socket.set_cap_ack(true).map_err(IoError::NetlinkSocket)?;
        Ok(LeaseRenewer {
            socket,
            seq: 1,
            buf: Vec::new(),
        })
    }

    /// Sets the lifetime of every address in `addrs` to `lifetime` from now
    /// (adding any that is missing). Returns what was sent and what failed;
    /// `Err` only when the socket itself fails.
    pub fn renew(
        &mut self,
        addrs: &[LeasedAddr],
        lifetime: Lifetime,
    ) -> Result<RenewReport, IoError> {
        let mut report = RenewReport::default();
        for chunk in addrs.chunks(RENEW_CHUNK) {
            let first_seq = self.seq;
            self.buf.clear();
            for a in chunk {
                let mut m = NetlinkMessage::new(
                    NetlinkHeader::default(),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(
                        leased_address_message(*a, lifetime),
                    )),
                );
                m.header.flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
                m.header.sequence_number = self.seq;
                self.seq = self.seq.wrapping_add(1);
                m.finalize();
                let start = self.buf.len();
                self.buf.resize(start + m.buffer_len(), 0);
                m.serialize(&mut self.buf[start..]);
            }
            let kernel = SocketAddr::new(0, 0);
            let sent = self
                .socket
                .send_to(&self.buf, &kernel, 0)
                .map_err(|e| IoError::sys("sendmsg(lease renewals)", e))?;
            if sent != self.buf.len() {
                return Err(IoError::InvalidArgument(format!(
                    "netlink sent {sent} of {} bytes",
                    self.buf.len()
                )));
            }
            report.sends += 1;
            report.messages += chunk.len();
            self.read_failures(chunk, first_seq, &mut report)?;
        }
        Ok(report)
    }

    /// Reads the kernel's error answers for `chunk` (sequence numbers from
    /// `first_seq`) until the socket is empty.
    fn read_failures(
        &mut self,
        chunk: &[LeasedAddr],
        first_seq: u32,
        report: &mut RenewReport,
    ) -> Result<(), IoError> {
        let mut rx: Vec<u8> = Vec::with_capacity(8192);
        loop {
            rx.clear();
            match self.socket.recv(&mut rx, libc::MSG_DONTWAIT) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    report.answers_lost = true;
                    continue;
                }
                Err(e) => return Err(IoError::sys("recv(lease renewal answers)", e)),
            }
            let mut off = 0;
            while off < rx.len() {
                let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..]) else {
                    break;
                };
                let len = msg.header.length as usize;
                if let NetlinkPayload::Error(err) = &msg.payload {
                    let idx = msg.header.sequence_number.wrapping_sub(first_seq) as usize;
                    let code = err.raw_code().abs();
                    if code != 0 {
                        if let Some(a) = chunk.get(idx) {
                            report.failed.push((*a, code));
                        }
                    }
                }
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
    }
}

/// The `RTM_NEWADDR` body that adds or renews `a` with `lifetime`.
fn leased_address_message(a: LeasedAddr, lifetime: Lifetime) -> AddressMessage {
    let mut msg = match a.addr {
        IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(a.ifindex)
            .address(v4, a.prefix_len)
            .build(),
        IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(a.ifindex)
            .address(v6, a.prefix_len)
            .build(),
    };
    if a.addr.is_ipv6() {
        msg.header.flags |= AddressHeaderFlags::Nodad;
    }
    msg.attributes.push(lifetime.cache_info());
    msg
}

/// One address with the flags we look at.
#[derive(Debug, Clone)]
struct AddrEntry {
    addr: IpAddr,
    prefix_len: u8,
    flags: AddressFlags,
    /// Remaining valid lifetime in seconds; `None` when permanent.
    valid_secs: Option<u32>,
}

/// Extracts the local address of an address message.
///
/// `IFA_LOCAL` is the interface's own address; `IFA_ADDRESS` is the peer on
/// point-to-point links and equal to the local one otherwise. IPv6 messages
/// often carry only `IFA_ADDRESS`. So: `IFA_LOCAL` if present, else
/// `IFA_ADDRESS` (as iproute2 does).
fn addr_entry(msg: &AddressMessage) -> Option<AddrEntry> {
    let mut local = None;
    let mut address = None;
    let mut flags = None;
    let mut valid_secs = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Flags(f) => flags = Some(*f),
            AddressAttribute::CacheInfo(c) if c.ifa_valid != INFINITE_LIFETIME => {
                valid_secs = Some(c.ifa_valid)
            }
            _ => {}
        }
    }
    // IFA_FLAGS (32 bits) supersedes the 8-bit header field when present.
    let flags =
        flags.unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits())));
    Some(AddrEntry {
        addr: local.or(address)?,
        prefix_len: msg.header.prefix_len,
        flags,
        valid_secs,
    })
}

/// Turns a multicast notification into an event, if it is one we report.
fn translate(msg: RouteNetlinkMessage) -> Option<NetEvent> {
    match msg {
        RouteNetlinkMessage::NewLink(l) => {
            let info = link_info(&l);
            Some(NetEvent::Link {
                index: info.index,
                name: info.name,
                up: info.up,
            })
        }
        RouteNetlinkMessage::DelLink(l) => {
            let info = link_info(&l);
            Some(NetEvent::Link {
                index: info.index,
                name: info.name,
                up: false,
            })
        }
        RouteNetlinkMessage::NewAddress(a) => addr_entry(&a).map(|e| NetEvent::AddrAdded {
            index: a.header.index,
            addr: e.addr,
            prefix_len: e.prefix_len,
        }),
        RouteNetlinkMessage::DelAddress(a) => addr_entry(&a).map(|e| NetEvent::AddrRemoved {
            index: a.header.index,
            addr: e.addr,
            prefix_len: e.prefix_len,
        }),
        _ => None,
    }
}

/// Reads the fields of [`LinkInfo`] from a link message.
fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        mac: None,
        up: msg.header.flags.contains(LinkFlags::Up)
            && msg.header.flags.contains(LinkFlags::Running),
        mtu: 0,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Address(a) => info.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            _ => {}
        }
    }
    info
}

/// First link of a get-link reply; `ENODEV` means there is none.
async fn first_link(
    stream: impl futures::Stream<Item = Result<LinkMessage, rtnetlink::Error>>,
) -> Result<Option<LinkInfo>, IoError> {
    let mut stream = std::pin::pin!(stream);
    match stream.try_next().await {
        Ok(msg) => Ok(msg.as_ref().map(link_info)),
        Err(e) if nl_errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(source) => Err(IoError::Netlink {
            op: "get link",
            source,
        }),
    }
}

/// The errno (positive) of a kernel NACK.
fn nl_errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()).filter(|c| *c != 0),
        _ => None,
    }
}

fn check_prefix(addr: IpAddr, prefix_len: u8) -> Result<(), IoError> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(IoError::InvalidArgument(format!(
            "prefix length /{prefix_len} for {addr}"
        )));
    }
    Ok(())
}

/// fe80::/10.
fn is_link_local_v6(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::address::AddressHeader;
    use netlink_packet_route::AddressFamily;

    fn msg(attrs: Vec<AddressAttribute>, header_flags: AddressHeaderFlags) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header = AddressHeader {
            family: AddressFamily::Inet,
            prefix_len: 24,
            flags: header_flags,
            scope: Default::default(),
            index: 3,
        };
        m.attributes = attrs;
        m
    }

    #[test]
    fn test_addr_entry_prefers_local() {
        let local: IpAddr = "192.0.2.1".parse().unwrap();
        let peer: IpAddr = "192.0.2.99".parse().unwrap();
        let m = msg(
            vec![
                AddressAttribute::Address(peer),
                AddressAttribute::Local(local),
            ],
            AddressHeaderFlags::empty(),
        );
        let e = addr_entry(&m).unwrap();
        assert_eq!(e.addr, local);
        assert_eq!(e.prefix_len, 24);
        let m = msg(
            vec![AddressAttribute::Address(peer)],
            AddressHeaderFlags::empty(),
        );
        assert_eq!(addr_entry(&m).unwrap().addr, peer);
        assert!(addr_entry(&msg(vec![], AddressHeaderFlags::empty())).is_none());
    }

    #[test]
    fn test_addr_entry_flags() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let m = msg(
            vec![AddressAttribute::Local(a)],
            AddressHeaderFlags::Secondary,
        );
        assert!(addr_entry(&m)
            .unwrap()
            .flags
            .contains(AddressFlags::Secondary));
        let m = msg(
            vec![
                AddressAttribute::Local(a),
                AddressAttribute::Flags(AddressFlags::Tentative),
            ],
            AddressHeaderFlags::Secondary,
        );
        let f = addr_entry(&m).unwrap().flags;
        assert!(f.contains(AddressFlags::Tentative) && !f.contains(AddressFlags::Secondary));
    }

    #[test]
    fn test_link_local() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(is_link_local_v6(&"febf::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn test_link_info_up_needs_running() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up;
        m.attributes = vec![
            LinkAttribute::IfName("eth0".into()),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Mtu(1500),
        ];
        let i = link_info(&m);
        assert!(!i.up, "carrier loss (UP without RUNNING) is down");
        assert_eq!(
            (i.index, i.name.as_str(), i.mac, i.mtu),
            (7, "eth0", Some([2, 0, 0, 0, 0, 1]), 1500)
        );
        m.header.flags = LinkFlags::Up | LinkFlags::Running;
        assert!(link_info(&m).up);
        m.header.flags = LinkFlags::Running;
        assert!(!link_info(&m).up);
    }

    #[test]
    fn test_no_runtime_is_an_error() {
        assert!(matches!(Netlink::new(), Err(IoError::NoRuntime)));
    }

    #[test]
    fn test_check_prefix() {
        assert!(check_prefix("192.0.2.1".parse().unwrap(), 32).is_ok());
        assert!(check_prefix("192.0.2.1".parse().unwrap(), 33).is_err());
        assert!(check_prefix("2001:db8::1".parse().unwrap(), 128).is_ok());
        assert!(check_prefix("2001:db8::1".parse().unwrap(), 129).is_err());
    }
}
