//! The REST API (paper: "external REST API"): applications, Hosts, modules, module blobs.
//! Errors are JSON `{"error": {"code", "message", "path"?, "errors"?}}` with the HTTP status a
//! user expects: 400 unreadable body, 404 unknown name, 409 name taken, 422 invalid or
//! unplaceable manifest.

use crate::control::Control;
use crate::core::{api_base_dir, Core};
use crate::ApiError;
use axum::body::Bytes;
use crate::core::AutoSwitch;
use axum::extract::{Path, Query, State};
use std::time::Duration;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use silverline_manifest::ApplicationManifest;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) core: Arc<Core>,
    pub(crate) control: Arc<Control>,
    pub(crate) security: Arc<crate::auth::Security>,
    /// The broker and blob registry as enrolled Hosts are told to reach them.
    pub(crate) broker_url: String,
    pub(crate) registry_url: String,
    /// The CA Hosts must trust when the Orchestrator serves TLS.
    pub(crate) ca_pem: Option<String>,
    /// With an external broker: where its password and ACL files are kept up to date.
    pub(crate) mosquitto_dir: Option<std::path::PathBuf>,
    /// The embedded broker, for its counters (none with an external one).
    pub(crate) broker: Option<Arc<silverline_broker::EmbeddedBroker>>,
}

impl Api {
    /// Keep an external Mosquitto's password and ACL files in step with the enrolled Hosts
    /// (Mosquitto rereads them on SIGHUP).
    pub(crate) fn on_enrolled(&self) {
        let Some(dir) = &self.mosquitto_dir else { return };
        if self.security.mode() == crate::auth::AuthMode::InsecureNoAuth {
            return;
        }
        if let Err(e) = self.security.users().write_mosquitto_files(dir) {
            tracing::error!("cannot update the Mosquitto files in {}: {e:#}", dir.display());
        }
    }
}

pub(crate) fn router(api: Api, limiter: Arc<crate::limits::Limiter>) -> Router {
    let security = api.security.clone();
    Router::new()
        .route("/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/v1/apps", get(list_apps).post(create_app))
        .route("/v1/apps/{name}", get(get_app).put(update_app).delete(delete_app))
        .route("/v1/apps/{name}/modules/{module}/switchover", axum::routing::post(switchover))
        .route("/v1/hosts", get(|State(a): State<Api>| async move { Json(a.core.hosts()) }))
        .route("/v1/hosts/{name}", get(get_host))
        .route("/v1/modules", get(|State(a): State<Api>, Query(p): Query<Page>| off_runtime(move || Ok(p.of(a.core.modules())))))
        .route("/v1/blobs", axum::routing::put(put_blob).post(put_blob))
        .route("/v1/blobs/{sha256}", get(get_blob))
        // event stream, metrics, dashboard
        .merge(crate::events::routes())
        .merge(crate::metrics::routes())
        .merge(crate::dashboard::routes())
        .merge(crate::access::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json".into()) })
        .layer(axum::middleware::from_fn_with_state(security, crate::auth::require))
        .layer(axum::middleware::from_fn_with_state(limiter, crate::limits::limit))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(api)
}

/// The largest request body: a module blob (manifests are bounded further, by
/// [`MAX_MANIFEST_BYTES`]). Larger requests get 413.
/// Largest REST request body the Orchestrator accepts (a module upload, a manifest).
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// The largest application manifest.
/// Room for [`MAX_MODULES_PER_APP`] modules of a few hundred bytes each.
const MAX_MANIFEST_BYTES: usize = 8 << 20;
/// The most modules one application may have (replicas and sidecars not counted).
pub const MAX_MODULES_PER_APP: usize = 10_000;

async fn list_apps(State(a): State<Api>, Query(p): Query<Page>) -> Result<Response, ApiError> {
    off_runtime(move || Ok(p.of(a.core.apps()))).await
}

/// `?offset=N&limit=M` of a list: at most `limit` items from position `offset`; the
/// `x-total-count` header says how many there are in all. Without them, the whole list.
#[derive(serde::Deserialize, Default)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Page {
    fn of<T: serde::Serialize>(&self, all: Vec<T>) -> Response {
        let total = all.len();
        let page: Vec<T> = all.into_iter().skip(self.offset.unwrap_or(0)).take(self.limit.unwrap_or(usize::MAX)).collect();
        ([("x-total-count", total.to_string())], Json(page)).into_response()
    }
}

async fn get_app(State(a): State<Api>, Path(name): Path<String>) -> Result<Response, ApiError> {
    a.core.app(&name).map(|v| Json(v).into_response()).ok_or_else(|| ApiError::not_found(format!("no application `{name}`")))
}

async fn get_host(State(a): State<Api>, Path(name): Path<String>) -> Result<Response, ApiError> {
    a.core.host(&name).map(|v| Json(v).into_response()).ok_or_else(|| ApiError::not_found(format!("no host `{name}`")))
}

fn parse_manifest(body: &Bytes) -> Result<ApplicationManifest, ApiError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", format!("manifests of at most {} MiB are accepted", MAX_MANIFEST_BYTES >> 20)));
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("empty body: expected an application manifest (YAML or JSON)".into()));
    }
    let manifest = ApplicationManifest::from_str(text, api_base_dir()).map_err(ApiError::manifest)?;
    if manifest.modules.len() > MAX_MODULES_PER_APP {
        return Err(ApiError::invalid("modules", &format!("{} modules", manifest.modules.len()), &format!("at most {MAX_MODULES_PER_APP}")));
    }
    Ok(manifest)
}

/// Run `work` (parsing, validation, placement: CPU-bound and linear in the request, so seconds
/// for a huge one) on the blocking pool: the runtime's few workers keep serving Host status,
/// liveness and every other request meanwhile.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?
}

async fn create_app(State(a): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    let core = a.core.clone();
    let (view, commands) = off_runtime(move || core.create_app(&parse_manifest(&body)?)).await?;
    a.control.send(commands);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Query of `PUT /v1/apps/{name}`: `switchover=auto` switches each staged shadow over by itself
/// after `validate` (default 1s) and keeps the previous version for `keep` (default 5s).
#[derive(serde::Deserialize, Default)]
struct UpdateQuery {
    switchover: Option<String>,
    validate: Option<String>,
    keep: Option<String>,
}

fn duration(value: Option<&str>, name: &str, default: Duration) -> Result<Duration, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => humantime::parse_duration(v).map_err(|e| ApiError::bad_request(format!("query `{name}={v}`: {e} (e.g. 500ms, 2s)"))),
    }
}

async fn update_app(State(a): State<Api>, Path(name): Path<String>, Query(q): Query<UpdateQuery>, body: Bytes) -> Result<Response, ApiError> {
    let auto = match q.switchover.as_deref() {
        None | Some("manual") => None,
        Some("auto") => Some(AutoSwitch {
            validate: duration(q.validate.as_deref(), "validate", Duration::from_secs(1))?,
            keep: duration(q.keep.as_deref(), "keep", Duration::from_secs(5))?,
        }),
        Some(other) => return Err(ApiError::bad_request(format!("query `switchover={other}`: expected `auto` or `manual`"))),
    };
    let core = a.core.clone();
    let (view, commands) = off_runtime(move || {
        let manifest = parse_manifest(&body)?;
        if manifest.name.as_str() != name {
            return Err(ApiError::invalid("name", manifest.name.as_str(), &format!("`{name}`, the application in the URL")));
        }
        core.update_app(&manifest, auto)
    })
    .await?;
    a.control.send(commands);
    Ok(Json(view).into_response())
}

/// Query of `POST /v1/apps/{name}/modules/{module}/switchover`.
#[derive(serde::Deserialize, Default)]
struct SwitchQuery {
    #[serde(default)]
    back: bool,
    keep: Option<String>,
}

async fn switchover(State(a): State<Api>, Path((name, module)): Path<(String, String)>, Query(q): Query<SwitchQuery>) -> Result<Response, ApiError> {
    let keep = duration(q.keep.as_deref(), "keep", Duration::from_secs(5))?;
    let (view, commands) = a.core.switchover(&name, &module, q.back, keep)?;
    a.control.send(commands);
    Ok(Json(view).into_response())
}

async fn delete_app(State(a): State<Api>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let commands = a.core.delete_app(&name)?;
    a.control.send(commands);
    Ok(StatusCode::NO_CONTENT)
}

async fn put_blob(State(a): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    if !body.starts_with(b"\0asm") {
        return Err(ApiError::bad_request("the body is not a binary Wasm module (convert WAT first; `silverline deploy` does)".into()));
    }
    let sha = a.core.store().put_blob(&body).map_err(|e| match e {
        crate::store::BlobError::Quota { .. } => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "blob-quota", e.to_string()),
        crate::store::BlobError::Io(e) => ApiError::internal(format!("storing the module: {e}")),
    })?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "sha256": sha, "bytes": body.len() }))).into_response())
}

async fn get_blob(State(a): State<Api>, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let bytes = a.core.store().blob(&sha).ok_or_else(|| ApiError::not_found(format!("no blob {sha}")))?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}
