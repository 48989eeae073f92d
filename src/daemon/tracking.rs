//! The tracker input: a tracker changed state, and what that does to the
//! instances that use it (keepalived's weight rules).

use tracing::info;

use crate::track::{TrackEvent, TrackState};

use super::Daemon;

impl Daemon {
    /// A tracker changed: apply its effect to every instance that uses it.
    pub(super) fn on_track(&mut self, ev: TrackEvent) {
        self.all_dirty = true;
        let now = self.clock.now();
        let weight = self.config.track(&ev.name).map_or(0, |t| t.weight);
        let effect = track_effect(weight, ev.state);
        info!(tracker = %ev.name, state = %ev.state, detail = %ev.detail, "tracker changed");
        for inst in self
            .instances
            .iter_mut()
            .filter(|i| i.cfg.track.contains(&ev.name))
        {
            inst.router.handle_track(now, &ev.name, effect);
        }
        self.track_states.insert(ev.name, (ev.state, ev.detail));
    }
}

/// What a tracker's state does to the instances that use it, given its weight
/// (keepalived's semantics):
/// - weight 0: Fault while down (for `file`: while the value is not 0);
/// - negative: added to the priority while down;
/// - positive: added to the priority while up;
/// - `file`: value × weight is added; at or below -254 it is Fault.
pub fn track_effect(weight: i16, state: TrackState) -> crate::core::router::TrackEffect {
    use crate::core::router::TrackEffect;
    let w = weight as i32;
    match state {
        TrackState::Up if w > 0 => TrackEffect::Priority(w),
        TrackState::Up => TrackEffect::None,
        TrackState::Down if w == 0 => TrackEffect::Fault,
        TrackState::Down if w < 0 => TrackEffect::Priority(w),
        TrackState::Down => TrackEffect::None,
        TrackState::Value(0) => TrackEffect::None,
        TrackState::Value(_) if w == 0 => TrackEffect::Fault,
        TrackState::Value(v) => {
            let d = v.saturating_mul(w as i64);
            if d <= -254 {
                TrackEffect::Fault
            } else {
                TrackEffect::Priority(d.min(254) as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::router::TrackEffect;

    #[test]
    fn tracker_effects_follow_keepalived() {
        assert_eq!(
            track_effect(-100, TrackState::Down),
            TrackEffect::Priority(-100)
        );
        assert_eq!(track_effect(-100, TrackState::Up), TrackEffect::None);
        assert_eq!(track_effect(0, TrackState::Down), TrackEffect::Fault);
        assert_eq!(track_effect(0, TrackState::Up), TrackEffect::None);
        assert_eq!(track_effect(20, TrackState::Up), TrackEffect::Priority(20));
        assert_eq!(track_effect(20, TrackState::Down), TrackEffect::None);
        assert_eq!(
            track_effect(-10, TrackState::Value(3)),
            TrackEffect::Priority(-30)
        );
        assert_eq!(track_effect(-10, TrackState::Value(0)), TrackEffect::None);
        assert_eq!(track_effect(-100, TrackState::Value(3)), TrackEffect::Fault);
        assert_eq!(track_effect(0, TrackState::Value(1)), TrackEffect::Fault);
        assert_eq!(
            track_effect(10, TrackState::Value(100)),
            TrackEffect::Priority(254)
        );
    }
}
