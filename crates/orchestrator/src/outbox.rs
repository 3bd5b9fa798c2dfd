//! Flow control of the commands to each Host: at most [`WINDOW`] unacknowledged deploys and
//! channel switches on their way to one Host, the rest queued here in order. A broker queues
//! only so much for one client (Mosquitto: 1,000 messages) and drops the rest, so an application
//! of 10,000 modules sent at once would mostly be lost on the way.
//!
//! Deletes, leases and register requests are never held back: a delete cancels the queued
//! commands of its module instead (the Host never saw them), so the order a Host executes
//! things in stays the order they were decided in; and a lease must follow the deletes that
//! reconcile a Host without waiting behind a long queue of deploys.

use silverline_proto::{CommandId, CommandKind, ModuleId};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Most acknowledged-kind commands in flight to one Host.
pub const WINDOW: usize = 128;
/// A command unacknowledged this long no longer holds its place in the window (the Host went
/// away, or the broker dropped it); reconciliation on the Host's next registration covers it.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Line {
    queued: VecDeque<CommandKind>,
    in_flight: HashMap<CommandId, Instant>,
}

/// The commands waiting for room, per Host.
#[derive(Default)]
pub(crate) struct Outbox {
    lines: HashMap<String, Line>,
}

/// Whether the command waits for room in the window.
fn windowed(kind: &CommandKind) -> bool {
    matches!(kind, CommandKind::Deploy(_) | CommandKind::SetChannelActive { .. })
}

fn module_of(kind: &CommandKind) -> Option<&ModuleId> {
    match kind {
        CommandKind::Deploy(d) => Some(&d.module),
        CommandKind::SetChannelActive { module, .. } | CommandKind::Delete { module } => Some(module),
        CommandKind::Lease { .. } | CommandKind::Register => None,
    }
}

impl Outbox {
    /// A new command for `host`: what to publish now (in order).
    pub(crate) fn push(&mut self, host: &str, kind: CommandKind) -> Vec<CommandKind> {
        let line = self.lines.entry(host.to_string()).or_default();
        if let CommandKind::Delete { module } = &kind {
            line.queued.retain(|q| module_of(q) != Some(module));
        }
        if windowed(&kind) {
            line.queued.push_back(kind);
            return self.release(host);
        }
        vec![kind]
    }

    /// `id`, a command [`Outbox::push`] or [`Outbox::acked`] released, was published.
    pub(crate) fn sent(&mut self, host: &str, id: CommandId, kind: &CommandKind) {
        if windowed(kind) {
            self.lines.entry(host.to_string()).or_default().in_flight.insert(id, Instant::now());
        }
    }

    /// `host` acknowledged `id`: what may follow it now.
    pub(crate) fn acked(&mut self, host: &str, id: &CommandId) -> Vec<CommandKind> {
        if let Some(line) = self.lines.get_mut(host) {
            line.in_flight.remove(id);
        }
        self.release(host)
    }

    /// `host` registered (again): what was in flight on its old connection is not coming back.
    pub(crate) fn reset(&mut self, host: &str) -> Vec<CommandKind> {
        if let Some(line) = self.lines.get_mut(host) {
            line.in_flight.clear();
        }
        self.release(host)
    }

    /// Give up on commands unacknowledged for [`ACK_TIMEOUT`]; what may follow, per Host.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(String, CommandKind)> {
        let hosts: Vec<String> = self.lines.keys().cloned().collect();
        let mut out = Vec::new();
        for host in hosts {
            if let Some(line) = self.lines.get_mut(&host) {
                line.in_flight.retain(|_, sent| now.duration_since(*sent) < ACK_TIMEOUT);
            }
            out.extend(self.release(&host).into_iter().map(|k| (host.clone(), k)));
        }
        self.lines.retain(|_, l| !l.queued.is_empty() || !l.in_flight.is_empty());
        out
    }

    /// Queued commands that fit into `host`'s window now. The caller publishes them and names
    /// each in [`Outbox::sent`] before it asks for more.
    fn release(&mut self, host: &str) -> Vec<CommandKind> {
        let Some(line) = self.lines.get_mut(host) else { return Vec::new() };
        let room = WINDOW.saturating_sub(line.in_flight.len());
        let n = room.min(line.queued.len());
        line.queued.drain(..n).collect()
    }

    /// Commands waiting for room, over all Hosts.
    pub(crate) fn queued(&self) -> usize {
        self.lines.values().map(|l| l.queued.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silverline_proto::DeployModule;

    fn deploy(i: usize) -> CommandKind {
        let module = ModuleId(format!("a/m{i}"));
        CommandKind::Deploy(DeployModule { module, app: "a".into(), manifest: serde_json::Value::Null, sha256: String::new(), blob_url: String::new() })
    }

    fn publish(outbox: &mut Outbox, kinds: Vec<CommandKind>, ids: &mut Vec<CommandId>) -> usize {
        let n = kinds.len();
        for k in kinds {
            let id = CommandId(format!("c{}", ids.len()));
            outbox.sent("h", id.clone(), &k);
            ids.push(id);
        }
        n
    }

    #[test]
    fn a_host_gets_a_window_of_deploys_and_the_rest_as_acks_come() {
        let mut outbox = Outbox::default();
        let mut ids = Vec::new();
        let mut published = 0;
        for i in 0..1000 {
            let now = outbox.push("h", deploy(i));
            published += publish(&mut outbox, now, &mut ids);
        }
        assert_eq!(published, WINDOW);
        assert_eq!(outbox.queued(), 1000 - WINDOW);
        // A lease is never held back.
        assert_eq!(outbox.push("h", CommandKind::Lease { from_ns: 1, lease_ms: 1 }).len(), 1);
        // Each ack lets one more through, in order.
        let next = outbox.acked("h", &ids[0].clone());
        assert!(matches!(&next[..], [CommandKind::Deploy(d)] if d.module.0 == format!("a/m{WINDOW}")));
        publish(&mut outbox, next, &mut ids);
        // A delete goes at once and cancels what the Host has not been sent of its module.
        let gone = ModuleId(format!("a/m{}", WINDOW + 1));
        assert_eq!(outbox.push("h", CommandKind::Delete { module: gone.clone() }).len(), 1);
        assert_eq!(outbox.queued(), 1000 - WINDOW - 2);
        // A Host that registers again gets a fresh window.
        assert_eq!(outbox.reset("h").len(), WINDOW);
        // Unacknowledged commands stop holding the window after the timeout.
        let later = Instant::now() + ACK_TIMEOUT + Duration::from_secs(1);
        assert!(outbox.expire(later).iter().all(|(h, k)| h == "h" && matches!(k, CommandKind::Deploy(_))));
    }
}
