//! The operator's inputs: control-socket requests (`status`,
//! `maintenance`) and the metrics endpoint's snapshots, answered from the
//! loop with the daemon's [`status::Status`].

use std::time::Duration;

use tokio::sync::oneshot;
use tracing::info;

use super::control::ControlRequest;
use super::{status, Daemon};

impl Daemon {
    pub(super) fn on_control(&mut self, req: ControlRequest, reply: oneshot::Sender<String>) {
        self.all_dirty = true;
        let now = self.clock.now();
        let answer = match req {
            ControlRequest::Status => serde_json::to_string(&self.status())
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
            ControlRequest::Maintenance { instance, on } => {
                match self.instances.iter_mut().find(|i| i.cfg.name == instance) {
                    Some(inst) => {
                        inst.router.handle_maintenance(now, on);
                        info!(instance = %instance, on, "maintenance set by operator");
                        serde_json::json!({"ok": true, "instance": instance, "maintenance": on})
                            .to_string()
                    }
                    None => {
                        serde_json::json!({"ok": false, "error": format!("no instance {instance}")})
                            .to_string()
                    }
                }
            }
        };
        let _ = reply.send(answer);
    }

    pub(super) fn status(&self) -> status::Status {
        let now = self.clock.now();
        let now_unix_ms = unix_ms_now();
        status::Status {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            config: self.opts.config_path.display().to_string(),
            instances: self
                .instances
                .iter()
                .map(|i| {
                    let mut s = i.status(&self.track_states);
                    s.last_master_seen = i.router.last_heard().map(|h| status::MasterSeen {
                        address: h.addr.to_string(),
                        priority: h.priority.get(),
                        at_unix_ms: now_unix_ms
                            .saturating_sub(now.saturating_duration_since(h.at).as_millis() as u64),
                    });
                    s
                })
                .collect(),
            drops: self.drops.clone(),
            leases: self.leases.status(),
        }
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}
