//! The acknowledgements one connection owes rumqttd for the messages rumqttd delivered to it, put
//! in the order rumqttd insists on.
//!
//! rumqttd disconnects a client whose PUBACK/PUBREC does not answer its oldest unacknowledged
//! PUBLISH, or whose PUBCOMP does not answer its oldest PUBREL. Once the gate acknowledges
//! withheld deliveries itself, its acks and the client's would interleave in whatever order they
//! happen; so each one waits here until everything delivered before it is acknowledged too.
//! Pure bookkeeping, no I/O: it returns the acks to send, the caller sends them in that order.

use crate::packet::kind;
use std::collections::{HashSet, VecDeque};

/// What the gate must do with a PUBREL from rumqttd.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PubRel {
    /// It belongs to a delivered message: pass it on to the client.
    Forward,
    /// It belongs to a withheld message: the gate completes it, with these acks.
    Completed(Vec<Ack>),
}

/// An ack to send to rumqttd: packet type and packet id.
pub(crate) type Ack = (u8, u16);

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct BrokerAcks {
    /// PUBACKs and PUBRECs, in the order rumqttd sent the PUBLISHes.
    publishes: InOrder,
    /// PUBCOMPs, in the order rumqttd sent the PUBRELs.
    releases: InOrder,
    /// QoS 2 messages the gate withheld and so must also complete.
    withheld_qos2: HashSet<u16>,
}

impl BrokerAcks {
    /// rumqttd sent a QoS > 0 PUBLISH that goes on to the client, which will acknowledge it.
    pub fn delivered(&mut self, qos: u8, pid: u16) {
        self.publishes.push(first_ack(qos), pid, false);
    }

    /// rumqttd sent a QoS > 0 PUBLISH that the client may not read: the gate acknowledges it.
    pub fn withheld(&mut self, qos: u8, pid: u16) -> Vec<Ack> {
        if qos == 2 {
            self.withheld_qos2.insert(pid);
        }
        self.publishes.push(first_ack(qos), pid, true);
        self.publishes.release()
    }

    /// The client acknowledged (PUBACK, PUBREC or PUBCOMP) `pid`. `None` when nothing of that
    /// kind awaits that id: the caller passes the client's packet on as it is and lets rumqttd
    /// judge it.
    pub fn client_acked(&mut self, kind: u8, pid: u16) -> Option<Vec<Ack>> {
        let queue = if kind == kind::PUBCOMP { &mut self.releases } else { &mut self.publishes };
        queue.mark(kind, pid).then(|| queue.release())
    }

    /// rumqttd sent a PUBREL for `pid`.
    pub fn pubrel(&mut self, pid: u16) -> PubRel {
        if self.withheld_qos2.remove(&pid) {
            self.releases.push(kind::PUBCOMP, pid, true);
            PubRel::Completed(self.releases.release())
        } else {
            self.releases.push(kind::PUBCOMP, pid, false);
            PubRel::Forward
        }
    }
}

fn first_ack(qos: u8) -> u8 {
    if qos == 2 {
        kind::PUBREC
    } else {
        kind::PUBACK
    }
}

/// Acks that leave only in the order their entries were pushed.
#[derive(Debug, Default)]
struct InOrder {
    /// (ack type, packet id, ready to send).
    queue: VecDeque<(u8, u16, bool)>,
}

impl InOrder {
    fn push(&mut self, kind: u8, pid: u16, ready: bool) {
        self.queue.push_back((kind, pid, ready));
    }

    /// Marks the oldest waiting entry for (`kind`, `pid`) ready; false when there is none.
    fn mark(&mut self, kind: u8, pid: u16) -> bool {
        let entry = self.queue.iter_mut().find(|(k, p, ready)| (*k, *p, *ready) == (kind, pid, false));
        entry.map(|e| e.2 = true).is_some()
    }

    /// Takes the ready entries at the front.
    fn release(&mut self) -> Vec<Ack> {
        let mut out = Vec::new();
        while let Some(&(kind, pid, true)) = self.queue.front() {
            out.push((kind, pid));
            self.queue.pop_front();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kind::{PUBACK, PUBCOMP, PUBREC};

    #[test]
    fn withheld_acks_wait_for_earlier_deliveries() {
        let mut a = BrokerAcks::default();
        a.delivered(1, 1);
        assert_eq!(a.withheld(1, 2), vec![], "2 must not overtake 1");
        a.delivered(1, 3);
        assert_eq!(a.client_acked(PUBACK, 3), Some(vec![]), "3 waits for 1 as well");
        assert_eq!(a.client_acked(PUBACK, 1), Some(vec![(PUBACK, 1), (PUBACK, 2), (PUBACK, 3)]));
        assert_eq!(a.withheld(1, 4), vec![(PUBACK, 4)], "nothing before it: sent at once");
    }

    #[test]
    fn unknown_acks_are_not_swallowed() {
        let mut a = BrokerAcks::default();
        assert_eq!(a.client_acked(PUBACK, 9), None);
        a.delivered(2, 9);
        assert_eq!(a.client_acked(PUBACK, 9), None, "a QoS 2 message is answered by PUBREC");
        assert_eq!(a.client_acked(PUBREC, 9), Some(vec![(PUBREC, 9)]));
        assert_eq!(a.client_acked(PUBREC, 9), None, "acknowledged already");
    }

    #[test]
    fn withheld_qos2_is_completed_in_pubrel_order() {
        let mut a = BrokerAcks::default();
        a.delivered(2, 1);
        assert_eq!(a.withheld(2, 2), vec![]);
        assert_eq!(a.client_acked(PUBREC, 1), Some(vec![(PUBREC, 1), (PUBREC, 2)]));
        assert_eq!(a.pubrel(1), PubRel::Forward);
        assert_eq!(a.pubrel(2), PubRel::Completed(vec![]), "2's PUBCOMP waits for 1's");
        assert_eq!(a.client_acked(PUBCOMP, 1), Some(vec![(PUBCOMP, 1), (PUBCOMP, 2)]));
        assert_eq!(a.pubrel(2), PubRel::Forward, "a PUBREL is completed once");
    }
}
