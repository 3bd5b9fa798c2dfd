//! Enrolment: the credentials a Host is issued, and the Orchestrator's record of who may use
//! its broker.
//!
//! `silverline host enroll NAME` asks the Orchestrator (as admin) for a [`HostCredentials`]
//! file. It holds everything the Host needs to trust and be trusted: its two MQTT identities
//! (control and data connections, see [`crate::acl`]), the Orchestrator's public key (to verify
//! commands), and the one place it fetches module bytes from with its registry token. The
//! Orchestrator keeps only sha256 digests of the passwords, in [`MqttUsers`].

use crate::acl::Principal;
use crate::secret::{random_secret, write_private};
use anyhow::Context;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a Host is issued at enrolment (a JSON file, mode 0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCredentials {
    /// The Host's name.
    pub host: String,
    /// The control-plane broker, `mqtt://HOST:PORT`.
    pub broker: String,
    /// Password of the control connection (username `host-NAME`).
    pub control_password: String,
    /// Password of the data connection (username `data-NAME`).
    pub data_password: String,
    /// The Orchestrator's command-signing public key, hex.
    pub orchestrator_key: String,
    /// Where module blobs come from: `GET {registry}/{sha256}`.
    pub registry: String,
    /// Bearer token (role `host`) for the registry.
    pub registry_token: String,
    /// PEM of the CA to trust when the broker (`mqtts://`) and registry (`https://`) speak TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

impl HostCredentials {
    /// Read a credentials file.
    pub fn load(path: &Path) -> anyhow::Result<HostCredentials> {
        let bytes = std::fs::read(path).with_context(|| format!("reading host credentials {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not a silverline host credentials file", path.display()))
    }

    /// Write it, readable by its owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_private(path, &serde_json::to_vec_pretty(self)?)
    }
}

/// A username and password for one MQTT client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttLogin {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// One successful log-in: which stored password it matched.
#[derive(Debug, Clone)]
pub struct Login {
    username: String,
    stored: String,
}

/// The Orchestrator's table of MQTT users: principal username → salted hash of its password,
/// in Mosquitto's format, so that an external Mosquitto's password file can be written from it
/// at any time (see [`MqttUsers::write_mosquitto_files`]).
pub struct MqttUsers {
    path: Option<PathBuf>,
    users: Mutex<BTreeMap<String, String>>,
}

impl MqttUsers {
    /// Users kept only in memory.
    pub fn in_memory() -> MqttUsers {
        MqttUsers { path: None, users: Mutex::new(BTreeMap::new()) }
    }

    /// Load the table in `path` (empty if absent).
    pub fn open(path: PathBuf) -> anyhow::Result<MqttUsers> {
        let users = crate::secret::read_json_or_default(&path)?;
        Ok(MqttUsers { path: Some(path), users: Mutex::new(users) })
    }

    /// A new password for `principal` (replacing any earlier one: re-enrolment rotates it).
    pub fn issue(&self, principal: &Principal) -> anyhow::Result<MqttLogin> {
        let password = random_secret("slm_");
        let username = principal.username();
        let mut users = self.users.lock();
        users.insert(username.clone(), crate::mosquitto::hash_password(&password, &crate::secret::random_bytes()[..12]));
        self.save(&users)?;
        Ok(MqttLogin { username, password })
    }

    /// Who `username` with `password` is, if they match.
    pub fn authenticate(&self, username: &str, password: &[u8]) -> Option<Principal> {
        self.log_in(username, password).map(|(p, _)| p)
    }

    /// Who `username` with `password` is, and the [`Login`] that says later whether that
    /// password still holds.
    pub fn log_in(&self, username: &str, password: &[u8]) -> Option<(Principal, Login)> {
        let password = std::str::from_utf8(password).ok()?;
        let stored = self.users.lock().get(username)?.clone();
        let principal = crate::mosquitto::verify_password(&stored, password).then(|| Principal::from_username(username)).flatten()?;
        Some((principal, Login { username: username.to_string(), stored }))
    }

    /// Does the password behind `login` still hold? No once it was rotated (re-enrolment) or
    /// its principal removed: the broker then ends the sessions opened with it.
    pub fn holds(&self, login: &Login) -> bool {
        self.users.lock().get(&login.username) == Some(&login.stored)
    }

    /// Remove `principal` (its clients are refused, and the embedded broker ends their sessions).
    pub fn remove(&self, principal: &Principal) -> anyhow::Result<()> {
        let mut users = self.users.lock();
        users.remove(&principal.username());
        self.save(&users)
    }

    /// Every principal with a password.
    pub fn principals(&self) -> Vec<Principal> {
        self.users.lock().keys().filter_map(|u| Principal::from_username(u)).collect()
    }

    /// Write Mosquitto's `passwd` and `acl` files for these users into `dir`; point Mosquitto's
    /// configuration at them (`silverline broker acl` prints one) and send it SIGHUP after a
    /// change.
    ///
    /// The files are readable by everyone (0644): Mosquitto started as root reads them as the
    /// `mosquitto` user. They hold only salted PBKDF2 hashes of 256-bit random passwords, which
    /// cannot be reversed.
    pub fn write_mosquitto_files(&self, dir: &Path) -> anyhow::Result<()> {
        let users = self.users.lock().clone();
        let passwd: String = users.iter().map(|(u, h)| format!("{u}:{h}\n")).collect();
        write_readable(&dir.join("passwd"), passwd.as_bytes())?;
        write_readable(&dir.join("acl"), crate::mosquitto::acl_file(&self.principals()).as_bytes())
    }

    fn save(&self, users: &BTreeMap<String, String>) -> anyhow::Result<()> {
        match &self.path {
            Some(p) => write_private(p, &serde_json::to_vec_pretty(users)?),
            None => Ok(()),
        }
    }
}

fn write_readable(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    write_private(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_users_authenticate_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let users = MqttUsers::open(dir.path().join("mqtt-users.json")).unwrap();
        let host = Principal::HostControl("edge-1".into());
        let first = users.issue(&host).unwrap();
        assert_eq!(users.authenticate(&first.username, first.password.as_bytes()), Some(host.clone()));
        assert_eq!(users.authenticate(&first.username, b"wrong"), None);
        let reopened = MqttUsers::open(dir.path().join("mqtt-users.json")).unwrap();
        let second = reopened.issue(&host).unwrap();
        assert_eq!(reopened.authenticate(&first.username, first.password.as_bytes()), None, "re-enrolment rotates the password");
        assert!(reopened.authenticate(&second.username, second.password.as_bytes()).is_some());
        assert!(!std::fs::read_to_string(dir.path().join("mqtt-users.json")).unwrap().contains(&second.password));
    }

    #[test]
    fn a_login_stops_holding_once_its_password_is_rotated_or_removed() {
        let users = MqttUsers::in_memory();
        let data = Principal::HostData("edge-1".into());
        let first = users.issue(&data).unwrap();
        let (_, login) = users.log_in(&first.username, first.password.as_bytes()).unwrap();
        assert!(users.holds(&login));
        users.issue(&Principal::HostControl("edge-1".into())).unwrap();
        assert!(users.holds(&login), "another principal's password changes nothing");
        let second = users.issue(&data).unwrap();
        assert!(!users.holds(&login), "rotated");
        let (_, login) = users.log_in(&second.username, second.password.as_bytes()).unwrap();
        users.remove(&data).unwrap();
        assert!(!users.holds(&login), "removed");
    }
}
