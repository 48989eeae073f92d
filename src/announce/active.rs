//! Active-active: every healthy node holds (and so announces) the VIPs.
//!
//! There is no election: an active-active instance holds its VIPs exactly
//! while it is running, its interface is up, none of its trackers is
//! failing and it is not in maintenance. The upstream router sees one route
//! per healthy node and spreads flows over them (ECMP); a node that turns
//! unhealthy withdraws only its own route. The weights of the trackers do
//! not matter here: any failing tracker withdraws.

use std::fmt;

/// What an active-active instance's decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// The instance runs (false once it is stopping).
    pub running: bool,
    /// Its interface is up (carrier and admin up).
    pub link_up: bool,
    /// How many of its trackers are failing.
    pub trackers_failing: usize,
    /// An operator put it in maintenance (`vrrpd maintenance NAME on`).
    pub maintenance: bool,
}

/// Why an active-active instance holds or withdraws its VIPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// Everything is healthy.
    Healthy,
    /// The instance is stopping.
    Stopping,
    /// The interface is down.
    LinkDown,
    /// At least one tracker fails (the count).
    TrackerFailing(usize),
    /// Maintenance is on.
    Maintenance,
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::Healthy => f.write_str("healthy"),
            HoldReason::Stopping => f.write_str("stopping"),
            HoldReason::LinkDown => f.write_str("interface down"),
            HoldReason::TrackerFailing(n) => write!(f, "{n} tracker(s) failing"),
            HoldReason::Maintenance => f.write_str("maintenance"),
        }
    }
}

/// A change of an active-active instance's holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldChange {
    /// True: add (announce) the VIPs; false: remove (withdraw) them.
    pub hold: bool,
    /// Why.
    pub reason: HoldReason,
}

impl Health {
    /// Whether to hold the VIPs, and why. Stopping wins over everything,
    /// then link, maintenance and trackers, so that the reason logged is
    /// the one an operator acts on first.
    pub fn decide(&self) -> HoldChange {
        let withdraw = |reason| HoldChange {
            hold: false,
            reason,
        };
        if !self.running {
            withdraw(HoldReason::Stopping)
        } else if !self.link_up {
            withdraw(HoldReason::LinkDown)
        } else if self.maintenance {
            withdraw(HoldReason::Maintenance)
        } else if self.trackers_failing > 0 {
            withdraw(HoldReason::TrackerFailing(self.trackers_failing))
        } else {
            HoldChange {
                hold: true,
                reason: HoldReason::Healthy,
            }
        }
    }
}

/// The holding state of one active-active instance: it reports a change
/// only when the decision flips, so that a tracker flapping between two
/// failing states does not re-add or re-remove anything.
#[derive(Debug, Clone, Default)]
pub struct ActiveActive {
    /// Whether the VIPs are held now.
    holding: bool,
}

impl ActiveActive {
    /// A new instance, holding nothing.
    pub fn new() -> Self {
        ActiveActive::default()
    }

    /// Whether the VIPs are held.
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// Feeds the current health; returns the change to carry out, if any.
    pub fn update(&mut self, health: Health) -> Option<HoldChange> {
        let d = health.decide();
        if d.hold == self.holding {
            return None;
        }
        self.holding = d.hold;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Health = Health {
        running: true,
        link_up: true,
        trackers_failing: 0,
        maintenance: false,
    };

    #[test]
    fn test_healthy_holds_and_any_fault_withdraws() {
        assert!(OK.decide().hold);
        for (h, reason) in [
            (
                Health {
                    running: false,
                    ..OK
                },
                HoldReason::Stopping,
            ),
            (
                Health {
                    link_up: false,
                    ..OK
                },
                HoldReason::LinkDown,
            ),
            (
                Health {
                    maintenance: true,
                    ..OK
                },
                HoldReason::Maintenance,
            ),
            (
                Health {
                    trackers_failing: 2,
                    ..OK
                },
                HoldReason::TrackerFailing(2),
            ),
        ] {
            assert_eq!(
                h.decide(),
                HoldChange {
                    hold: false,
                    reason
                },
                "{h:?}"
            );
        }
    }

    #[test]
    fn test_stopping_is_the_reason_given_first() {
        let h = Health {
            running: false,
            link_up: false,
            trackers_failing: 1,
            maintenance: true,
        };
        assert_eq!(h.decide().reason, HoldReason::Stopping);
    }

    #[test]
    fn test_update_reports_flips_only() {
        let mut a = ActiveActive::new();
        assert!(!a.holding());
        assert_eq!(a.update(OK).map(|c| c.hold), Some(true));
        assert_eq!(a.update(OK), None);
        let one = Health {
            trackers_failing: 1,
            ..OK
        };
        assert_eq!(a.update(one).map(|c| c.hold), Some(false));
        // Still failing, for another reason: nothing to do.
        assert_eq!(
            a.update(Health {
                link_up: false,
                ..one
            }),
            None
        );
        assert_eq!(a.update(OK).map(|c| c.hold), Some(true));
        assert!(a.holding());
    }
}
