//! The REST API (paper: "external REST API"): applications, Hosts, modules, module blobs.
//! Errors are JSON `{"error": {"code", "message", "path"?, "errors"?}}` with the HTTP status a
//! user expects: 400 unreadable body, 404 unknown name, 409 name taken, 422 invalid or
//! unplaceable manifest.

use crate::control::Control;
use crate::core::{api_base_dir, Core};
use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
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
}

pub(crate) fn router(api: Api) -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/v1/apps", get(list_apps).post(create_app))
        .route("/v1/apps/{name}", get(get_app).put(update_app).delete(delete_app))
        .route("/v1/hosts", get(|State(a): State<Api>| async move { Json(a.core.hosts()) }))
        .route("/v1/hosts/{name}", get(get_host))
        .route("/v1/modules", get(|State(a): State<Api>| async move { Json(a.core.modules()) }))
        .route("/v1/blobs", axum::routing::put(put_blob).post(put_blob))
        .route("/v1/blobs/{sha256}", get(get_blob))
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json".into()) })
        .with_state(api)
}

async fn list_apps(State(a): State<Api>) -> impl IntoResponse {
    Json(a.core.apps())
}

async fn get_app(State(a): State<Api>, Path(name): Path<String>) -> Result<Response, ApiError> {
    a.core.app(&name).map(|v| Json(v).into_response()).ok_or_else(|| ApiError::not_found(format!("no application `{name}`")))
}

async fn get_host(State(a): State<Api>, Path(name): Path<String>) -> Result<Response, ApiError> {
    a.core.host(&name).map(|v| Json(v).into_response()).ok_or_else(|| ApiError::not_found(format!("no host `{name}`")))
}

fn parse_manifest(body: &Bytes) -> Result<ApplicationManifest, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("empty body: expected an application manifest (YAML or JSON)".into()));
    }
    ApplicationManifest::from_str(text, api_base_dir()).map_err(ApiError::manifest)
}

async fn create_app(State(a): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    let manifest = parse_manifest(&body)?;
    let (view, commands) = a.core.create_app(&manifest)?;
    a.control.send(commands).await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn update_app(State(a): State<Api>, Path(name): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let manifest = parse_manifest(&body)?;
    if manifest.name.as_str() != name {
        return Err(ApiError::invalid("name", manifest.name.as_str(), &format!("`{name}`, the application in the URL")));
    }
    let (view, commands) = a.core.update_app(&manifest)?;
    a.control.send(commands).await;
    Ok(Json(view).into_response())
}

async fn delete_app(State(a): State<Api>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let commands = a.core.delete_app(&name)?;
    a.control.send(commands).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_blob(State(a): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    if !body.starts_with(b"\0asm") {
        return Err(ApiError::bad_request("the body is not a binary Wasm module (convert WAT first; `silverline deploy` does)".into()));
    }
    let sha = a.core.store().put_blob(&body).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "sha256": sha, "bytes": body.len() }))).into_response())
}

async fn get_blob(State(a): State<Api>, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let bytes = a.core.store().blob(&sha).ok_or_else(|| ApiError::not_found(format!("no blob {sha}")))?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}
