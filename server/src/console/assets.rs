//! The console's files, embedded in the binary at build time from `console/web/` (plain ES
//! modules, CSS and two HTML pages), so a `natter` binary is the whole console. Served with
//! `Cache-Control: no-cache` (revalidated each time: a new binary shows its own files at once).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../console/web");

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str) -> Option<Response> {
    let file = WEB.get_file(path)?;
    Some(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(path)),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            file.contents(),
        )
            .into_response(),
    )
}

/// One of the two pages (`index.html`, `sign-in.html`).
pub fn page(name: &str) -> Response {
    serve(name).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /console/{file}`: scripts and styles. Pages are only served by their routes.
pub async fn file(Path(path): Path<String>) -> Response {
    if path.ends_with(".html") || path.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&path).unwrap_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such console file\n",
        )
            .into_response()
    })
}

/// Every embedded file with its size (the page-weight benchmark reads them).
pub fn files() -> Vec<(String, &'static [u8])> {
    fn walk(d: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
        for f in d.files() {
            out.push((f.path().display().to_string(), f.contents()));
        }
        for sub in d.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&WEB, &mut out);
    out
}
