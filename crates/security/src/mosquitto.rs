//! Mosquitto's password file, ACL file and configuration, generated from silverline's access
//! policy ([`crate::acl`]).
//!
//! Use this when the control plane runs on an external Mosquitto (2.0 or later) instead of the
//! embedded broker: the broker then enforces the same [`TopicRules`](crate::acl::TopicRules) as
//! silverline does. Write the three outputs to files and start `mosquitto -c CONF`:
//!
//! ```
//! use silverline_security::acl::Principal;
//! use silverline_security::mosquitto::{acl_file, config, password_file, Credential};
//! use std::path::Path;
//!
//! let creds = [
//!     Credential { principal: Principal::Orchestrator, password: "s3cret".into() },
//!     Credential { principal: Principal::HostControl("edge-1".into()), password: "hunter2".into() },
//! ];
//! // Use a cryptographic random source (the `getrandom` crate, `/dev/urandom`) in real code.
//! let passwords = password_file(&creds, |salt| salt.fill(7));
//! assert!(passwords.starts_with("orchestrator:$7$101$BwcHBwcHBwcHBwcH$"));
//!
//! let acl = acl_file(&creds.iter().map(|c| c.principal.clone()).collect::<Vec<_>>());
//! assert!(acl.contains("user host-edge-1\ntopic write silverline/v1/hosts/edge-1/register\n"));
//!
//! let conf = config("127.0.0.1:1883".parse()?, Path::new("/etc/silverline/passwd"), Path::new("/etc/silverline/acl"));
//! assert!(conf.contains("allow_anonymous false\n"));
//! # Ok::<(), std::net::AddrParseError>(())
//! ```
//!
//! What Mosquitto 2.0.11 does with these files (checked by this crate's integration tests
//! against the real broker): a `topic deny` line wins over `topic read`/`write`/`readwrite` lines
//! of the same user whatever their order, for publishing and for receiving alike; subscriptions
//! themselves are always granted (even to `#`) and each message is checked against the reader's
//! rules when it is delivered; a denied publish is dropped (MQTT 5 clients get reason code 135,
//! "not authorized"). That is what [`TopicRules`](crate::acl::TopicRules) says, with one
//! difference: Mosquitto never lets a filter that starts with a wildcard match a topic that
//! starts with `$` (such as `$SYS/...`), so the Orchestrator's `#` does not reach the broker's
//! `$SYS` statistics.

use crate::acl::Principal;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::Sha512;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;

/// PBKDF2 iterations, as `mosquitto_passwd` 2.0 uses by default.
const ITERATIONS: u32 = 101;
/// Salt length in bytes, as `mosquitto_passwd` 2.0 uses.
const SALT_LEN: usize = 12;
/// Length of the PBKDF2-HMAC-SHA512 output in bytes.
const HASH_LEN: usize = 64;

/// One client's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Who the client authenticates as; its username is [`Principal::username`].
    pub principal: Principal,
    /// Its password, in clear: only its salted hash goes into the password file.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("principal", &self.principal).field("password", &"<redacted>").finish()
    }
}

/// A Mosquitto password file: one line `USERNAME:$7$101$SALT$HASH` for each credential.
///
/// This is the format `mosquitto_passwd` writes in Mosquitto 2.0: PBKDF2-HMAC-SHA512 over the
/// password with a 12-byte salt, 101 iterations and a 64-byte result, salt and result in standard
/// base64 with padding. `salt_source` fills each credential's salt; give it a cryptographic random
/// source, since equal salts make equal passwords visible in the file.
///
/// # Panics
///
/// If a principal's username cannot be written safely (see [`acl_file`]).
pub fn password_file(creds: &[Credential], mut salt_source: impl FnMut(&mut [u8])) -> String {
    let mut out = String::new();
    for cred in creds {
        let mut salt = [0u8; SALT_LEN];
        salt_source(&mut salt);
        out.push_str(&password_line(&checked_username(&cred.principal), &cred.password, &salt));
        out.push('\n');
    }
    out
}

fn password_line(username: &str, password: &str, salt: &[u8]) -> String {
    format!("{username}:{}", hash_password(password, salt))
}

/// The salted hash of `password` as a password file holds it after `USERNAME:`:
/// `$7$101$SALT$HASH` (see [`password_file`]). `salt` should be 12 random bytes.
pub fn hash_password(password: &str, salt: &[u8]) -> String {
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, ITERATIONS, &mut hash);
    format!("$7${ITERATIONS}${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
}

/// Does `password` match `stored`, a `$7$ITERATIONS$SALT$HASH` hash as [`hash_password`] and
/// `mosquitto_passwd` write it? Anything else (Mosquitto 1.x's `$6$` hashes among them) matches
/// no password.
pub fn verify_password(stored: &str, password: &str) -> bool {
    let parsed = (|| {
        let mut parts = stored.strip_prefix("$7$")?.split('$');
        let iterations: u32 = parts.next()?.parse().ok().filter(|&n| n > 0)?;
        let salt = STANDARD.decode(parts.next()?).ok()?;
        let hash = STANDARD.decode(parts.next()?).ok().filter(|h| !h.is_empty())?;
        parts.next().is_none().then_some((iterations, salt, hash))
    })();
    let Some((iterations, salt, hash)) = parsed else { return false };
    let mut computed = vec![0u8; hash.len()];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, iterations, &mut computed);
    // Compare in constant time, so that timing does not tell how much of a guess was right.
    computed.iter().zip(&hash).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A Mosquitto ACL file: for each principal a `user USERNAME` block of its [`rules`](Principal::rules).
///
/// A filter it may publish on becomes `topic write F`, one it may read `topic read F`, one in both
/// lists `topic readwrite F`, and each deny filter `topic deny F`. A principal with no rules gets an
/// empty block, which Mosquitto reads as "nothing allowed"; so does a client whose user has no
/// block at all.
///
/// # Panics
///
/// If a principal's username cannot be written safely: it must be one that
/// [`Principal::from_username`] reads back as the same principal, without whitespace or control
/// characters (which would end the line and let a host name add rules of its own).
pub fn acl_file(principals: &[Principal]) -> String {
    let mut out = String::from("# Generated by silverline-security from silverline's access policy.\n");
    for principal in principals {
        let rules = principal.rules();
        let _ = writeln!(out, "\nuser {}", checked_username(principal));
        for filter in &rules.publish {
            let access = if rules.read.contains(filter) { "readwrite" } else { "write" };
            let _ = writeln!(out, "topic {access} {filter}");
        }
        for filter in rules.read.iter().filter(|f| !rules.publish.contains(f)) {
            let _ = writeln!(out, "topic read {filter}");
        }
        for filter in &rules.deny {
            let _ = writeln!(out, "topic deny {filter}");
        }
    }
    out
}

/// A `mosquitto.conf` fragment that enforces the files: no anonymous clients, the password and
/// ACL files at the given paths, and one listener on `listen`.
///
/// Append what else the deployment needs (TLS, `set_tcp_nodelay true` for low latency, logging).
/// Without `per_listener_settings true` these settings apply to every listener of the broker.
///
/// # Panics
///
/// If a path is not UTF-8 or contains a line break, which Mosquitto's configuration cannot hold.
pub fn config(listen: SocketAddr, password_file: &Path, acl_file: &Path) -> String {
    let path = |p: &Path| match p.to_str() {
        Some(s) if !s.contains(['\n', '\r']) => s.to_string(),
        _ => panic!("path {p:?} cannot be written into mosquitto.conf"),
    };
    format!(
        "# Generated by silverline-security.\nallow_anonymous false\npassword_file {}\nacl_file {}\nlistener {} {}\n",
        path(password_file),
        path(acl_file),
        listen.port(),
        listen.ip(),
    )
}

fn checked_username(principal: &Principal) -> String {
    let username = principal.username();
    let round_trips = Principal::from_username(&username).as_ref() == Some(principal);
    assert!(
        round_trips && !username.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{principal:?} has no username that Mosquitto's files can hold"
    );
    username
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_lines_match_mosquitto_passwd() {
        // Written by `mosquitto_passwd -b -c file user secret` (Mosquitto 2.0.11).
        let expected = "user:$7$101$WGWrangqCWNE6VhL$f9yHZ6FvGMq3RKZd1r4CsQ+gZxm8ZySoULCs7CyjWT4jJ6J+B8iB1vK8cUtb5YIWzaPYScDINYA9NcFnq6iBdw==";
        let salt = STANDARD.decode("WGWrangqCWNE6VhL").unwrap();
        assert_eq!(password_line("user", "secret", &salt), expected);
        let stored = expected.strip_prefix("user:").unwrap();
        assert!(verify_password(stored, "secret"));
        assert!(!verify_password(stored, "secreT"));
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        let good = hash_password("pw", &[1; 12]);
        assert!(verify_password(&good, "pw"));
        for bad in ["", "pw", "$6$c2FsdA==$aGFzaA==", "$7$0$AQEBAQEBAQEBAQEB$aGFzaA==", "$7$101$!!$aGFzaA==", "$7$101$AQEBAQEBAQEBAQEB$", &format!("{good}$x")] {
            assert!(!verify_password(bad, "pw"), "{bad}");
        }
    }

    #[test]
    fn each_credential_gets_its_own_salt() {
        let creds = [Principal::Orchestrator, Principal::Observer].map(|principal| Credential { principal, password: "pw".into() });
        let mut n = 0;
        let file = password_file(&creds, |salt| {
            n += 1;
            salt.fill(n)
        });
        let lines: Vec<&str> = file.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("orchestrator:$7$101$AQEBAQEBAQEBAQEB$"));
        assert!(lines[1].starts_with("observer:$7$101$AgICAgICAgICAgIC$"));
        assert!(lines.iter().all(|l| l.ends_with("==") && l.len() == l.find('$').unwrap() + "$7$101$".len() + 16 + 1 + 88));
    }

    #[test]
    fn acl_blocks_follow_the_rules() {
        let acl = acl_file(&[Principal::Orchestrator, Principal::HostControl("edge-1".into()), Principal::Observer]);
        let expected = "\
user orchestrator
topic readwrite #

user host-edge-1
topic write silverline/v1/hosts/edge-1/register
topic write silverline/v1/hosts/edge-1/state
topic write silverline/v1/hosts/edge-1/status
topic write silverline/v1/hosts/edge-1/events
topic write silverline/v1/hosts/edge-1/acks
topic read silverline/v1/hosts/edge-1/commands
topic read silverline/v1/orchestrator/hello

user observer
topic read #
topic deny silverline/v1/hosts/#
topic deny silverline/v1/orchestrator/#
";
        assert_eq!(acl.split_once("\n\n").unwrap().1, expected);
    }

    #[test]
    #[should_panic(expected = "no username")]
    fn host_names_cannot_inject_rules() {
        acl_file(&[Principal::HostControl("a\nuser\torchestrator".into())]);
    }

    #[test]
    fn config_names_files_and_listener() {
        let conf = config("[::1]:1884".parse().unwrap(), Path::new("/etc/mq/passwd"), Path::new("/etc/mq/acl"));
        assert!(conf.ends_with("allow_anonymous false\npassword_file /etc/mq/passwd\nacl_file /etc/mq/acl\nlistener 1884 ::1\n"));
    }
}
