//! The dashboard at `/`: plain HTML, CSS and ES-module JavaScript embedded in the binary (no
//! build step, no CDN, nothing fetched from elsewhere). The page polls the REST API every second
//! and follows `/v1/events`, with the bearer token of a login in the browser; see
//! `docs/dashboard.md`. These files are public: what they show comes from the API, which is not.

use crate::api::Api;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// (file name, content type, content) of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("../assets/style.css")),
    ("main.js", "text/javascript; charset=utf-8", include_str!("../assets/main.js")),
    ("util.js", "text/javascript; charset=utf-8", include_str!("../assets/util.js")),
    ("graph.js", "text/javascript; charset=utf-8", include_str!("../assets/graph.js")),
    ("plot.js", "text/javascript; charset=utf-8", include_str!("../assets/plot.js")),
    ("events.js", "text/javascript; charset=utf-8", include_str!("../assets/events.js")),
    ("actions.js", "text/javascript; charset=utf-8", include_str!("../assets/actions.js")),
    ("session.js", "text/javascript; charset=utf-8", include_str!("../assets/session.js")),
    ("favicon.svg", "image/svg+xml", include_str!("../assets/favicon.svg")),
];

const INDEX: &str = include_str!("../assets/index.html");

pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route("/", get(|| async { page("text/html; charset=utf-8", INDEX) }))
        .route("/favicon.ico", get(|| async { page("image/svg+xml", ASSETS.iter().find(|a| a.0 == "favicon.svg").map_or("", |a| a.2)) }))
        .route("/assets/{file}", get(asset))
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    // no-cache: a browser revalidates, so a new binary's dashboard shows without a forced reload.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => page(content_type, body),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
