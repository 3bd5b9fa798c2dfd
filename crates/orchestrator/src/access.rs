//! REST routes of access management: who am I, dashboard sessions, tokens, Host enrolment.
//! The checks themselves are in [`crate::auth`].

use crate::api::Api;
use crate::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use silverline_security::tokens::{TokenInfo, TokenRequest};
use silverline_security::Role;

pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/whoami", get(|Extension(me): Extension<TokenInfo>| async move { Json(serde_json::json!({ "role": me.role, "name": me.name })) }))
        .route("/v1/session", post(session).delete(end_session))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/hosts/{name}/enroll", post(enroll))
        .route("/v1/observer", post(observer))
}

/// Trade any valid token (above all the one-time login link) for a session token of the same
/// role, so the link stops working once it has been used.
async fn session(State(a): State<Api>, Extension(me): Extension<TokenInfo>) -> Result<Response, ApiError> {
    let req = TokenRequest { role: me.role, name: format!("dashboard session ({})", me.name), ttl: Some(crate::auth::SESSION_TTL), one_time: false };
    let (token, info) = a.security.tokens().issue(req).map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "token": token, "role": info.role, "expires_at_ms": info.expires_ms })).into_response())
}

/// Log out: revoke the token this request carries (the dashboard holds only session tokens,
/// so logging out of it ends that session and nothing else).
async fn end_session(State(a): State<Api>, Extension(me): Extension<TokenInfo>) -> Result<StatusCode, ApiError> {
    a.security.tokens().revoke(&me.id).map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tokens(State(a): State<Api>) -> Json<Vec<TokenInfo>> {
    Json(a.security.tokens().list())
}

#[derive(serde::Deserialize)]
struct NewToken {
    role: String,
    #[serde(default)]
    name: Option<String>,
    /// e.g. `24h`; absent: no expiry.
    #[serde(default)]
    ttl: Option<String>,
}

async fn create_token(State(a): State<Api>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let req: NewToken = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected {{\"role\": \"viewer|operator|admin\", \"name\"?, \"ttl\"?}}: {e}")))?;
    let role: Role = req.role.parse().map_err(|e: String| ApiError::invalid("role", &req.role, &e))?;
    let ttl = match req.ttl.as_deref() {
        None => None,
        Some(t) => Some(humantime::parse_duration(t).map_err(|e| ApiError::invalid("ttl", t, &format!("a duration such as 24h ({e})")))?),
    };
    let name = req.name.unwrap_or_else(|| format!("{role} token"));
    let (token, info) = a.security.tokens().issue(TokenRequest { role, name, ttl, one_time: false }).map_err(ApiError::internal)?;
    tracing::info!("issued {} token {} ({})", info.role, info.id, info.name);
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "token": token, "info": info }))).into_response())
}

async fn revoke_token(State(a): State<Api>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    match a.security.tokens().revoke(&id).map_err(ApiError::internal)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("no token with id `{id}`"))),
    }
}

#[derive(serde::Deserialize, Default)]
struct EnrollRequest {
    /// The broker address as the Host reaches it, when it differs from the Orchestrator's view.
    #[serde(default)]
    broker: Option<String>,
    /// The blob registry URL as the Host reaches it.
    #[serde(default)]
    registry: Option<String>,
}

async fn enroll(State(a): State<Api>, Path(name): Path<String>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let req: EnrollRequest = if body.is_empty() { EnrollRequest::default() } else { serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected {{\"broker\"?, \"registry\"?}}: {e}")))? };
    let broker = req.broker.unwrap_or_else(|| a.broker_url.clone());
    let registry = req.registry.unwrap_or_else(|| a.registry_url.clone());
    let creds = a.security.enroll(&name, &broker, &registry, a.ca_pem.clone()).map_err(|e| ApiError::invalid("name", &name, &format!("{e:#}")))?;
    a.on_enrolled();
    tracing::info!("enrolled host `{name}`");
    Ok((StatusCode::CREATED, Json(creds)).into_response())
}

/// A read-only MQTT login for application data (rotates the previous one).
async fn observer(State(a): State<Api>) -> Result<Response, ApiError> {
    let login = a.security.observer_login().map_err(ApiError::internal)?;
    a.on_enrolled();
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "username": login.username, "password": login.password }))).into_response())
}
