//! Control-plane identities and what each may publish and read.
//!
//! Every MQTT client of a secured system authenticates as one [`Principal`]. Its [`TopicRules`]
//! are allow lists with deny lists that win over them (the semantics of Mosquitto's ACL files, so
//! that the embedded broker and a generated Mosquitto configuration enforce the same policy):
//!
//! | principal | username | publishes | reads |
//! | --- | --- | --- | --- |
//! | the Orchestrator | `orchestrator` | everything | everything |
//! | a Host's control connection | `host-NAME` | its own `register`, `state`, `status`, `events`, `acks` | its own `commands`, the Orchestrator's `hello` |
//! | a Host's data connection | `data-NAME` | application data topics and failover topics (the embedded broker narrows this to [`crate::grants`]) | the same |
//! | the observer | `observer` | nothing | application data topics and failover topics |
//!
//! "Application data topics" are all topics outside the control plane's `silverline/v1/hosts/#`
//! and `silverline/v1/orchestrator/#`.

use silverline_manifest::topic_matches;

/// The control plane's subtrees that only the Orchestrator and each Host's own control
/// connection may touch.
pub const CONTROL_SUBTREES: [&str; 2] = ["silverline/v1/hosts/#", "silverline/v1/orchestrator/#"];

/// Who an MQTT client is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The Orchestrator.
    Orchestrator,
    /// The control-plane connection of Host `NAME`.
    HostControl(String),
    /// The data-plane connection of Host `NAME` (channels, sidecars).
    HostData(String),
    /// A read-only observer of application data.
    Observer,
}

impl Principal {
    /// The MQTT username of this principal.
    pub fn username(&self) -> String {
        match self {
            Principal::Orchestrator => "orchestrator".into(),
            Principal::HostControl(h) => format!("host-{h}"),
            Principal::HostData(h) => format!("data-{h}"),
            Principal::Observer => "observer".into(),
        }
    }

    /// The principal a username names, if any.
    pub fn from_username(username: &str) -> Option<Principal> {
        let valid = |h: &str| !h.is_empty() && !h.contains(['/', '+', '#', '\0', ':', ' ']);
        match username {
            "orchestrator" => Some(Principal::Orchestrator),
            "observer" => Some(Principal::Observer),
            u => {
                if let Some(h) = u.strip_prefix("host-").filter(|h| valid(h)) {
                    Some(Principal::HostControl(h.to_string()))
                } else {
                    u.strip_prefix("data-").filter(|h| valid(h)).map(|h| Principal::HostData(h.to_string()))
                }
            }
        }
    }

    /// What this principal may publish and read.
    pub fn rules(&self) -> TopicRules {
        let all = || vec!["#".to_string()];
        let control_deny = || CONTROL_SUBTREES.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Principal::Orchestrator => TopicRules { publish: all(), read: all(), deny: Vec::new() },
            Principal::HostControl(h) => TopicRules {
                publish: ["register", "state", "status", "events", "acks"].iter().map(|leaf| format!("silverline/v1/hosts/{h}/{leaf}")).collect(),
                read: vec![format!("silverline/v1/hosts/{h}/commands"), "silverline/v1/orchestrator/hello".into()],
                deny: Vec::new(),
            },
            Principal::HostData(_) => TopicRules { publish: all(), read: all(), deny: control_deny() },
            Principal::Observer => TopicRules { publish: Vec::new(), read: all(), deny: control_deny() },
        }
    }
}

/// Topic filters a principal may publish on and read from; `deny` wins over both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRules {
    /// Filters of topics it may publish on.
    pub publish: Vec<String>,
    /// Filters of topics whose messages it may receive.
    pub read: Vec<String>,
    /// Filters of topics it may neither publish on nor read.
    pub deny: Vec<String>,
}

impl TopicRules {
    /// May it publish on `topic`?
    pub fn may_publish(&self, topic: &str) -> bool {
        !self.denied(topic) && self.publish.iter().any(|f| topic_matches(f, topic))
    }

    /// May it receive a message published on `topic`?
    pub fn may_read(&self, topic: &str) -> bool {
        !self.denied(topic) && self.read.iter().any(|f| topic_matches(f, topic))
    }

    fn denied(&self, topic: &str) -> bool {
        self.deny.iter().any(|f| topic_matches(f, topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_touch_only_their_own_control_topics() {
        let h = Principal::HostControl("edge-1".into()).rules();
        assert!(h.may_publish("silverline/v1/hosts/edge-1/status"));
        assert!(!h.may_publish("silverline/v1/hosts/edge-2/status"));
        assert!(!h.may_publish("silverline/v1/hosts/edge-1/commands"));
        assert!(h.may_read("silverline/v1/hosts/edge-1/commands"));
        assert!(!h.may_read("silverline/v1/hosts/edge-2/commands"));
        assert!(!h.may_publish("app/data"));
    }

    #[test]
    fn data_connections_and_observers_stay_out_of_the_control_plane() {
        let d = Principal::HostData("edge-1".into()).rules();
        assert!(d.may_publish("pipeline/raw"));
        assert!(d.may_publish("silverline/v1/failover/app/m/heartbeat"));
        assert!(!d.may_publish("silverline/v1/hosts/edge-1/commands"));
        assert!(!d.may_read("silverline/v1/orchestrator/hello"));
        let o = Principal::Observer.rules();
        assert!(o.may_read("pipeline/raw") && !o.may_publish("pipeline/raw"));
        assert!(!o.may_read("silverline/v1/hosts/edge-1/status"));
    }

    #[test]
    fn usernames_round_trip() {
        for p in [Principal::Orchestrator, Principal::Observer, Principal::HostControl("a".into()), Principal::HostData("host-b".into())] {
            assert_eq!(Principal::from_username(&p.username()), Some(p));
        }
        assert_eq!(Principal::from_username("host-"), None);
        assert_eq!(Principal::from_username("host-a/b"), None);
        assert_eq!(Principal::from_username("root"), None);
    }
}
