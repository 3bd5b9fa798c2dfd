//! Who may use the Orchestrator: bearer tokens on the REST API, MQTT identities on the broker,
//! and the key that signs every command (docs/security.md).
//!
//! [`Security`] owns the Orchestrator's secrets under its data directory (`tokens.json`,
//! `mqtt-users.json`, `orchestrator.key`, all mode 0600). The REST layer asks it who a request
//! is ([`require`]); the broker's gate asks it who an MQTT client is; enrolment issues a Host
//! its credentials. With `--insecure-no-auth` every request is treated as an admin and the
//! broker accepts anyone: for experiments on a machine nobody else can reach.

use crate::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use silverline_security::credentials::{HostCredentials, Login, MqttLogin, MqttUsers};
use silverline_security::grants::DataGrants;
use silverline_security::signing::{CommandSigner, KeyPair};
use silverline_security::tokens::{TokenInfo, TokenRequest, TokenStore};
use silverline_security::{Principal, Role};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Whether the Orchestrator checks who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Tokens on REST, credentials and ACLs on MQTT (the default).
    #[default]
    Secured,
    /// Nobody is checked. Only for experiments on a machine nobody else can reach.
    InsecureNoAuth,
}

/// The Orchestrator's secrets and the decisions made with them.
pub struct Security {
    mode: AuthMode,
    tokens: TokenStore,
    users: Arc<MqttUsers>,
    grants: Arc<DataGrants>,
    signer: CommandSigner,
    own_login: MqttLogin,
}

/// Session tokens made by `POST /v1/session` (the dashboard's login) last this long.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

impl Security {
    /// Load (or create on first start) the secrets in `dir`.
    pub fn open(dir: &Path, mode: AuthMode) -> anyhow::Result<Security> {
        let tokens = TokenStore::open(dir.join("tokens.json"))?;
        let users = Arc::new(MqttUsers::open(dir.join("mqtt-users.json"))?);
        let signer = CommandSigner::new(KeyPair::load_or_create(&dir.join("orchestrator.key"))?);
        let own_login = own_login(dir, &users)?;
        Ok(Security { mode, tokens, users, grants: Arc::default(), signer, own_login })
    }

    /// Secured or not.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The Orchestrator's REST tokens.
    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    /// The broker's users.
    pub fn users(&self) -> &Arc<MqttUsers> {
        &self.users
    }

    /// The application topics each Host's data connection may use.
    pub fn grants(&self) -> &DataGrants {
        &self.grants
    }

    /// Signs commands.
    pub fn signer(&self) -> &CommandSigner {
        &self.signer
    }

    /// The Orchestrator's own MQTT login.
    pub fn own_login(&self) -> &MqttLogin {
        &self.own_login
    }

    /// Write a new admin token to `file` unless one is already there (first start).
    pub fn ensure_admin_token(&self, file: &Path) -> anyhow::Result<bool> {
        if file.exists() && std::fs::read_to_string(file).is_ok_and(|t| self.tokens.authenticate(t.trim()).is_some_and(|i| i.role == Role::Admin)) {
            return Ok(false);
        }
        let (secret, _) = self.tokens.issue(TokenRequest { role: Role::Admin, name: "first admin".into(), ttl: None, one_time: false })?;
        silverline_security::secret::write_private(file, format!("{secret}\n").as_bytes())?;
        Ok(true)
    }

    /// A one-time login token (the dashboard link `up` prints), valid for `ttl`.
    pub fn login_token(&self, role: Role, ttl: Duration) -> anyhow::Result<String> {
        Ok(self.tokens.issue(TokenRequest { role, name: "dashboard login link".into(), ttl: Some(ttl), one_time: true })?.0)
    }

    /// An observer's MQTT login (read-only on application data), written to `file` as
    /// `USERNAME PASSWORD`.
    pub fn write_observer(&self, file: &Path) -> anyhow::Result<()> {
        let login = self.observer_login()?;
        silverline_security::secret::write_private(file, format!("{} {}\n", login.username, login.password).as_bytes())
    }

    /// A new password for the observer (the previous one stops working).
    pub fn observer_login(&self) -> anyhow::Result<MqttLogin> {
        self.users.issue(&Principal::Observer)
    }

    /// Issue Host `host` its credentials (re-enrolment rotates them).
    pub fn enroll(&self, host: &str, broker: &str, registry: &str, ca: Option<String>) -> anyhow::Result<HostCredentials> {
        anyhow::ensure!(silverline_proto::topics::valid_host_name(host) && Principal::from_username(&format!("host-{host}")).is_some(), "`{host}` cannot be a Host name (no `/`, `+`, `#`, `:`, spaces)");
        let control = self.users.issue(&Principal::HostControl(host.to_string()))?;
        let data = self.users.issue(&Principal::HostData(host.to_string()))?;
        let (registry_token, _) = self.tokens.issue(TokenRequest { role: Role::Host, name: format!("host {host}"), ttl: None, one_time: false })?;
        Ok(HostCredentials {
            host: host.to_string(),
            broker: broker.to_string(),
            control_password: control.password,
            data_password: data.password,
            orchestrator_key: self.signer.public_hex(),
            registry: registry.to_string(),
            registry_token,
            ca,
        })
    }

    /// Who is asking, from `Authorization: Bearer …` or, for GET, `?access_token=…`.
    fn caller(&self, req: &Request) -> Option<TokenInfo> {
        if self.mode == AuthMode::InsecureNoAuth {
            return Some(TokenInfo { id: "-".into(), role: Role::Admin, name: "anyone (--insecure-no-auth)".into(), created_ms: 0, expires_ms: None, one_time: false });
        }
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let query = (req.method() == Method::GET).then(|| req.uri().query().and_then(access_token)).flatten();
        self.tokens.authenticate(header.or(query.as_deref())?.trim())
    }
}

/// The embedded broker asks this who a client is and what it may do: the static rules of the
/// client's principal and, for a Host's data connection, only the application topics of the
/// modules that Host was told to run ([`DataGrants`]).
pub struct BrokerGate {
    users: Arc<MqttUsers>,
    grants: Arc<DataGrants>,
}

impl BrokerGate {
    /// Decides with `security`'s users and data grants.
    pub fn new(security: &Security) -> BrokerGate {
        BrokerGate { users: security.users.clone(), grants: security.grants.clone() }
    }
}

/// What one connected client may do, for as long as its password holds.
struct Rules {
    rules: silverline_security::TopicRules,
    /// The Host whose data connection this is: its grants narrow `rules`.
    data_of: Option<String>,
    grants: Arc<DataGrants>,
    users: Arc<MqttUsers>,
    login: Login,
}

impl silverline_broker::Permissions for Rules {
    fn may_publish(&self, topic: &str) -> bool {
        self.rules.may_publish(topic) && self.data_of.as_ref().is_none_or(|h| self.grants.may_publish(h, topic))
    }
    fn may_read(&self, topic: &str) -> bool {
        self.rules.may_read(topic) && self.data_of.as_ref().is_none_or(|h| self.grants.may_read(h, topic))
    }
    fn revoked(&self) -> bool {
        !self.users.holds(&self.login)
    }
}

impl silverline_broker::Authenticator for BrokerGate {
    fn authenticate(&self, username: &str, password: &[u8]) -> Option<Arc<dyn silverline_broker::Permissions>> {
        let (principal, login) = self.users.log_in(username, password)?;
        let data_of = match &principal {
            Principal::HostData(host) => Some(host.clone()),
            _ => None,
        };
        Some(Arc::new(Rules { rules: principal.rules(), data_of, grants: self.grants.clone(), users: self.users.clone(), login }))
    }
}

/// The Orchestrator's MQTT password, kept in a file so that an external broker configured once
/// keeps accepting it.
fn own_login(dir: &Path, users: &MqttUsers) -> anyhow::Result<MqttLogin> {
    let file = dir.join("mqtt-orchestrator.secret");
    let username = Principal::Orchestrator.username();
    if let Ok(password) = std::fs::read_to_string(&file) {
        let password = password.trim().to_string();
        if users.authenticate(&username, password.as_bytes()).is_some() {
            return Ok(MqttLogin { username, password });
        }
    }
    let login = users.issue(&Principal::Orchestrator)?;
    silverline_security::secret::write_private(&file, login.password.as_bytes())?;
    Ok(login)
}

fn access_token(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| kv.strip_prefix("access_token=")).map(str::to_string)
}

/// The role a request needs, by method and path; `None` for public pages.
fn needed_role(method: &Method, path: &str) -> Option<Role> {
    let public = path == "/" || path == "/favicon.ico" || path == "/openapi.json" || path.starts_with("/assets/");
    if public {
        return None;
    }
    let admin = path.starts_with("/v1/tokens") || path == "/v1/observer" || (path.starts_with("/v1/hosts/") && path.ends_with("/enroll"));
    Some(match () {
        _ if admin => Role::Admin,
        _ if path == "/v1/session" || path == "/v1/whoami" => Role::Host,
        _ if *method == Method::GET && path.starts_with("/v1/blobs/") => Role::Host,
        _ if *method == Method::GET || *method == Method::HEAD => Role::Viewer,
        _ => Role::Operator,
    })
}

/// The middleware: 401 without a valid token, 403 with a role that is too small.
pub(crate) async fn require(State(security): State<Arc<Security>>, mut req: Request, next: Next) -> Response {
    let Some(needed) = needed_role(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(caller) = security.caller(&req) else {
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid token is needed: `Authorization: Bearer TOKEN` (see `silverline token create`, or the admin.token file the Orchestrator wrote at its first start)".into()).into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return r;
    };
    if caller.role < needed || (caller.role == Role::Host && needed != Role::Host) {
        let message = format!("{} {} needs the role `{needed}`; this token has `{}`", req.method(), req.uri().path(), caller.role);
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_method_and_path() {
        assert_eq!(needed_role(&Method::GET, "/"), None);
        assert_eq!(needed_role(&Method::GET, "/assets/main.js"), None);
        assert_eq!(needed_role(&Method::GET, "/v1/apps"), Some(Role::Viewer));
        assert_eq!(needed_role(&Method::GET, "/metrics"), Some(Role::Viewer));
        assert_eq!(needed_role(&Method::POST, "/v1/apps"), Some(Role::Operator));
        assert_eq!(needed_role(&Method::DELETE, "/v1/apps/x"), Some(Role::Operator));
        assert_eq!(needed_role(&Method::POST, "/v1/tokens"), Some(Role::Admin));
        assert_eq!(needed_role(&Method::GET, "/v1/tokens"), Some(Role::Admin));
        assert_eq!(needed_role(&Method::POST, "/v1/hosts/h/enroll"), Some(Role::Admin));
        assert_eq!(needed_role(&Method::GET, "/v1/blobs/abc"), Some(Role::Host));
        assert_eq!(needed_role(&Method::PUT, "/v1/blobs"), Some(Role::Operator));
        assert_eq!(access_token("a=1&access_token=slt_x"), Some("slt_x".into()));
    }
}
