//! Sync groups: which members of a group must be held out of mastership.
//!
//! A member is held when another member of its group is in Fault or has lost
//! an election. A held member is never master: a master steps down, a backup
//! neither preempts nor takes over until the hold lifts (keepalived's rule:
//! a group goes to MASTER on a node only when all its members can). The
//! daemon applies the result with
//! [`VirtualRouter::handle_sync`](crate::core::router::VirtualRouter::handle_sync)
//! after every input, until nothing changes.

use crate::core::router::{State, VirtualRouter};

/// For each member (in the order given), whether it must be held.
pub fn holds(members: &[&VirtualRouter]) -> Vec<bool> {
    let out_of_master: Vec<bool> = members
        .iter()
        .map(|r| r.state() == State::Fault || r.lost_election())
        .collect();
    (0..members.len())
        .map(|i| out_of_master.iter().enumerate().any(|(j, &o)| j != i && o))
        .collect()
}
