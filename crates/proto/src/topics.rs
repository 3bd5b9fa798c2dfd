//! The control-plane topic layout (version 1). Every topic starts with [`ROOT`].
//!
//! | topic | direction | message |
//! | --- | --- | --- |
//! | `silverline/v1/hosts/{host}/register` | Host → Orchestrator | [`crate::Registration`] |
//! | `silverline/v1/hosts/{host}/state` | Host → Orchestrator, retained, last will | [`crate::HostState`] |
//! | `silverline/v1/hosts/{host}/status` | Host → Orchestrator, periodic | [`crate::StatusReport`] |
//! | `silverline/v1/hosts/{host}/events` | Host → Orchestrator | [`crate::HostEvent`] |
//! | `silverline/v1/hosts/{host}/commands` | Orchestrator → Host | [`crate::Command`] |
//! | `silverline/v1/hosts/{host}/acks` | Host → Orchestrator | [`crate::Ack`] |
//! | `silverline/v1/orchestrator/hello` | Orchestrator → Hosts | [`crate::Hello`] |
//!
//! Host names are used as topic levels: they must not contain `/`, `+`, `#` or NUL.

/// Prefix of every control-plane topic.
pub const ROOT: &str = "silverline/v1";

fn host_topic(host: &str, leaf: &str) -> String {
    format!("{ROOT}/hosts/{host}/{leaf}")
}

/// Registration of `host`.
pub fn register(host: &str) -> String {
    host_topic(host, "register")
}
/// Online/offline state of `host` (retained, last will).
pub fn state(host: &str) -> String {
    host_topic(host, "state")
}
/// Periodic status of `host`.
pub fn status(host: &str) -> String {
    host_topic(host, "status")
}
/// Module events of `host`.
pub fn events(host: &str) -> String {
    host_topic(host, "events")
}
/// Commands for `host`.
pub fn commands(host: &str) -> String {
    host_topic(host, "commands")
}
/// Acknowledgements from `host`.
pub fn acks(host: &str) -> String {
    host_topic(host, "acks")
}
/// The Orchestrator's greeting.
pub fn hello() -> String {
    format!("{ROOT}/orchestrator/hello")
}
/// Filter matching one leaf of every Host, e.g. `all_hosts("status")`.
pub fn all_hosts(leaf: &str) -> String {
    host_topic("+", leaf)
}

/// Split a per-Host topic into `(host, leaf)`.
pub fn parse(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(ROOT)?.strip_prefix("/hosts/")?;
    let (host, leaf) = rest.split_once('/')?;
    (!host.is_empty() && !leaf.contains('/')).then_some((host, leaf))
}

/// Can `name` be used as a Host name on the control plane?
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '+', '#', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_back() {
        assert_eq!(parse(&status("edge-1")), Some(("edge-1", "status")));
        assert_eq!(parse("silverline/v1/hosts/edge-1/a/b"), None);
        assert_eq!(parse("other/v1/hosts/x/status"), None);
        assert!(!valid_host_name("a/b"));
    }
}
