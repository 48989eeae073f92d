//! Active-active instances (`active_active = true`): no election. After
//! every input that may concern one (its link, a tracker, maintenance), its
//! health is decided again ([`crate::announce::ActiveActive`]) and, when the
//! decision flips, it adds or removes its VIPs: every healthy balancer
//! announces, a failing one withdraws only itself.

use crate::announce::Health;
use crate::track::TrackState;

use super::Daemon;

impl Daemon {
    /// Re-decide instance `n` if it is active-active; carry out a change.
    pub(super) async fn update_active(&mut self, n: usize) {
        let inst = &self.instances[n];
        let Some(active) = &inst.active else {
            return;
        };
        // A tracker that has not reported yet counts as failing: hold the
        // VIPs only once every tracker said it is healthy.
        let trackers_failing = inst
            .cfg
            .track
            .iter()
            .filter(|name| match self.track_states.get(*name) {
                None | Some((TrackState::Down, _)) => true,
                Some((TrackState::Value(v), _)) => *v != 0,
                Some((TrackState::Up, _)) => false,
            })
            .count();
        let health = Health {
            running: true,
            link_up: inst.link_up,
            trackers_failing,
            maintenance: inst.router.maintenance(),
        };
        let mut decided = active.clone();
        let Some(change) = decided.update(health) else {
            return;
        };
        let inst = &mut self.instances[n];
        inst.active = Some(decided);
        inst.set_active_hold(
            &self.netlink,
            &self.notifier,
            change.hold,
            &change.reason.to_string(),
        )
        .await;
    }
}
