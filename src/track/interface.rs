//! The `interface` tracker: the link state of another interface.
//!
//! It subscribes to route-netlink link events first, then queries the
//! link by name (so no change falls in between), and follows the events
//! of that interface: by name, and by index once known (a rename away or
//! a deletion counts as down). "Up" is [`crate::io::LinkInfo::up`]:
//! administratively up and carrier present. Netlink is opened in the
//! network namespace of the thread that runs the tracker task.

use std::time::Duration;

use tracing::warn;

use crate::io::{NetEvent, Netlink};

use super::{up_down, Closed, Emitter, TrackState};

/// Wait before retrying after a netlink failure.
const RETRY: Duration = Duration::from_secs(1);

/// The tracker task.
pub(super) async fn run(name: String, mut out: Emitter) {
    loop {
        match follow(&name, &mut out).await {
            Err(Closed) => return,
            Ok(why) => {
                warn!(tracker = %out.name, reason = %why, "interface tracker restarts");
                if out.set(TrackState::Down, why).await.is_err() {
                    return;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Follows the link until netlink fails; returns why (the caller retries).
async fn follow(name: &str, out: &mut Emitter) -> Result<String, Closed> {
    let nl = match Netlink::new() {
        Ok(nl) => nl,
        Err(e) => return Ok(format!("netlink: {e}")),
    };
    // Links only: added addresses (every VIP's lease renewal) are dropped
    // by the kernel.
    let mut events = match nl.subscribe_to(crate::io::Additions::Dropped) {
        Ok(rx) => rx,
        Err(e) => return Ok(format!("netlink subscribe: {e}")),
    };
    let mut index = match query(&nl, name, out).await? {
        Ok(i) => i,
        Err(why) => return Ok(why),
    };
    while let Some(ev) = events.recv().await {
        match ev {
            NetEvent::Link {
                index: i,
                name: n,
                up,
            } => {
                if n == name {
                    index = Some(i);
                    let detail = format!("{name} is {}", if up { "up" } else { "down" });
                    out.set(up_down(up), detail).await?;
                } else if Some(i) == index && !n.is_empty() {
                    index = None;
                    out.set(TrackState::Down, format!("{name} was renamed to {n}"))
                        .await?;
                }
            }
            NetEvent::Overrun => {
                index = match query(&nl, name, out).await? {
                    Ok(i) => i,
                    Err(why) => return Ok(why),
                };
            }
            NetEvent::AddrAdded { .. } | NetEvent::AddrRemoved { .. } => {}
        }
    }
    Ok("netlink event stream ended".into())
}

/// Queries the link and reports its state; returns its index if it exists,
/// or (inner `Err`) a netlink failure.
async fn query(
    nl: &Netlink,
    name: &str,
    out: &mut Emitter,
) -> Result<Result<Option<u32>, String>, Closed> {
    match nl.link_by_name(name).await {
        Ok(Some(link)) => {
            let detail = format!("{name} is {}", if link.up { "up" } else { "down" });
            out.set(up_down(link.up), detail).await?;
            Ok(Ok(Some(link.index)))
        }
        Ok(None) => {
            out.set(TrackState::Down, format!("{name} does not exist"))
                .await?;
            Ok(Ok(None))
        }
        Err(e) => Ok(Err(format!("netlink query of {name}: {e}"))),
    }
}
