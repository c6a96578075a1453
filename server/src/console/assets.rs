//! The console's files, embedded in the binary at build time from `console/web/` (plain ES
//! modules, CSS and two HTML pages), so a `natter` binary is the whole console. Served with
//! `Cache-Control: no-cache` and an `ETag` (revalidated each time: a new binary shows its own
//! files at once, an unchanged file costs a 304).

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

use crate::http::assets::embedded_file;

static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../console/web");

/// One of the two pages (`index.html`, `sign-in.html`).
pub fn page(name: &str, request: &HeaderMap) -> Response {
    embedded_file(&WEB, name, "no-cache", request)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /console/{file}`: scripts and styles. Pages are only served by their routes.
pub async fn file(Path(path): Path<String>, request: HeaderMap) -> Response {
    let found = (!path.ends_with(".html") && !path.ends_with('/'))
        .then(|| embedded_file(&WEB, &path, "no-cache", &request))
        .flatten();
    found.unwrap_or_else(|| {
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
