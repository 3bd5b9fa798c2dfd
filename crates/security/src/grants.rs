//! Which application data topics each Host's data connection may use: the channel endpoints of
//! the module instances the Orchestrator told that Host to run, and nothing else.
//!
//! The static rules of [`crate::acl`] keep every data connection out of the control plane; these
//! grants narrow it further, per Host and per direction: a Host may publish on the output
//! endpoints of its modules and read their input endpoints. So a Host running one application
//! cannot read or feed another application's topics through the broker, even with its own valid
//! data password, and a stolen data password reaches only what that Host runs.
//!
//! The Orchestrator grants a module's endpoints before it sends the deploy command and revokes
//! them when it sends the delete, so a grant always precedes the first message it covers. The
//! table lives in memory; the Orchestrator rebuilds it from its records at start.
//! It decides nothing about who a client is: that is the caller's business.

use parking_lot::RwLock;
use silverline_manifest::topic_matches;
use std::collections::HashMap;

/// The topics one module instance publishes on and reads from (topics or filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Its output endpoints.
    pub publish: Vec<String>,
    /// Its input endpoints.
    pub read: Vec<String>,
}

impl Endpoints {
    /// The endpoints of every module in an application manifest as JSON (the form a Host is
    /// sent): `modules[*].outputChannels.channels[*].endpoint` and the same for inputs.
    pub fn of_manifest(manifest: &serde_json::Value) -> Endpoints {
        let modules = manifest["modules"].as_array().map(Vec::as_slice).unwrap_or_default();
        let collect = |group: &str| -> Vec<String> {
            modules
                .iter()
                .flat_map(|m| m[group]["channels"].as_array().map(Vec::as_slice).unwrap_or_default())
                .filter_map(|c| c["endpoint"].as_str().map(str::to_string))
                .collect()
        };
        Endpoints { publish: collect("outputChannels"), read: collect("inputChannels") }
    }
}

/// Topics granted to every Host, with how many module instances hold each grant.
#[derive(Debug, Default)]
pub struct DataGrants {
    hosts: RwLock<HashMap<String, HostGrants>>,
}

#[derive(Debug, Default)]
struct HostGrants {
    modules: HashMap<String, Endpoints>,
    publish: Counted,
    read: Counted,
}

/// A multiset of filters, with exact topics apart so that the common case is one lookup.
#[derive(Debug, Default)]
struct Counted {
    exact: HashMap<String, usize>,
    wildcards: HashMap<String, usize>,
}

impl Counted {
    fn side(&mut self, filter: &str) -> &mut HashMap<String, usize> {
        if filter.contains(['+', '#']) {
            &mut self.wildcards
        } else {
            &mut self.exact
        }
    }

    fn add(&mut self, filter: &str) {
        *self.side(filter).entry(filter.to_string()).or_default() += 1;
    }

    fn remove(&mut self, filter: &str) {
        let side = self.side(filter);
        if let Some(n) = side.get_mut(filter) {
            *n -= 1;
            if *n == 0 {
                side.remove(filter);
            }
        }
    }

    fn covers(&self, topic: &str) -> bool {
        self.exact.contains_key(topic) || self.wildcards.keys().any(|f| topic_matches(f, topic))
    }
}

impl HostGrants {
    fn add(&mut self, e: &Endpoints) {
        e.publish.iter().for_each(|f| self.publish.add(f));
        e.read.iter().for_each(|f| self.read.add(f));
    }

    fn remove(&mut self, e: &Endpoints) {
        e.publish.iter().for_each(|f| self.publish.remove(f));
        e.read.iter().for_each(|f| self.read.remove(f));
    }
}

impl DataGrants {
    /// No grants.
    pub fn new() -> DataGrants {
        DataGrants::default()
    }

    /// Host `host` runs `module` with these endpoints (replacing what it was granted for
    /// `module` before).
    pub fn grant(&self, host: &str, module: &str, endpoints: Endpoints) {
        let mut hosts = self.hosts.write();
        let grants = hosts.entry(host.to_string()).or_default();
        grants.add(&endpoints);
        if let Some(old) = grants.modules.insert(module.to_string(), endpoints) {
            grants.remove(&old);
        }
    }

    /// Host `host` no longer runs `module`.
    pub fn revoke(&self, host: &str, module: &str) {
        let mut hosts = self.hosts.write();
        let Some(grants) = hosts.get_mut(host) else { return };
        if let Some(old) = grants.modules.remove(module) {
            grants.remove(&old);
        }
        if grants.modules.is_empty() {
            hosts.remove(host);
        }
    }

    /// May Host `host`'s data connection publish on `topic`?
    pub fn may_publish(&self, host: &str, topic: &str) -> bool {
        self.hosts.read().get(host).is_some_and(|g| g.publish.covers(topic))
    }

    /// May Host `host`'s data connection receive a message published on `topic`?
    pub fn may_read(&self, host: &str, topic: &str) -> bool {
        self.hosts.read().get(host).is_some_and(|g| g.read.covers(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(publish: &[&str], read: &[&str]) -> Endpoints {
        Endpoints { publish: publish.iter().map(|s| s.to_string()).collect(), read: read.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn a_host_uses_only_its_modules_endpoints_each_in_its_direction() {
        let g = DataGrants::new();
        g.grant("h1", "app/filter", ends(&["app/filtered"], &["app/raw"]));
        assert!(g.may_publish("h1", "app/filtered") && g.may_read("h1", "app/raw"));
        assert!(!g.may_publish("h1", "app/raw"), "an input is not an output");
        assert!(!g.may_read("h1", "app/filtered"), "an output is not an input");
        assert!(!g.may_publish("h2", "app/filtered"), "another Host has no grant");
        assert!(!g.may_read("h1", "other/raw"));
    }

    #[test]
    fn wildcard_inputs_cover_what_they_match_and_nothing_else() {
        let g = DataGrants::new();
        g.grant("h1", "a/m", ends(&[], &["plant/+/angle", "log/#"]));
        assert!(g.may_read("h1", "plant/p1/angle") && g.may_read("h1", "log/a/b"));
        assert!(!g.may_read("h1", "plant/p1/speed"));
        assert!(!g.may_publish("h1", "log/a"));
    }

    #[test]
    fn a_topic_shared_by_two_modules_stays_granted_until_both_are_gone() {
        let g = DataGrants::new();
        g.grant("h1", "a/x", ends(&["a/out"], &[]));
        g.grant("h1", "a/y", ends(&["a/out"], &[]));
        g.revoke("h1", "a/x");
        assert!(g.may_publish("h1", "a/out"));
        g.revoke("h1", "a/y");
        assert!(!g.may_publish("h1", "a/out"));
        g.revoke("h1", "a/y");
        assert!(!g.may_publish("h1", "a/out"), "revoking twice changes nothing");
    }

    #[test]
    fn a_new_grant_for_the_same_module_replaces_the_old_one() {
        let g = DataGrants::new();
        g.grant("h1", "a/x", ends(&["a/v1"], &[]));
        g.grant("h1", "a/x", ends(&["a/v2"], &[]));
        assert!(!g.may_publish("h1", "a/v1") && g.may_publish("h1", "a/v2"));
    }

    #[test]
    fn endpoints_are_read_from_the_manifest_a_host_is_sent() {
        let m = serde_json::json!({ "name": "a", "modules": [{
            "name": "f",
            "inputChannels": { "channels": [{ "name": "in", "endpoint": "a/raw" }] },
            "outputChannels": { "channels": [{ "name": "out", "endpoint": "a/filtered" }, { "name": "log", "endpoint": "a/log" }] },
        }]});
        assert_eq!(Endpoints::of_manifest(&m), ends(&["a/filtered", "a/log"], &["a/raw"]));
        assert_eq!(Endpoints::of_manifest(&serde_json::json!({})), Endpoints::default());
    }
}
