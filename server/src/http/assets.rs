//! Static files: the pages at `/` (demo page, agent console at `/agent/`, embed examples) and
//! the built widget package at `/widget/`. Each comes from the binary ([`crate::embedded`]) or,
//! when a folder is configured (`--www`, `--widget`), from that folder on disk.
//!
//! Types come from the file extension (`.wasm` → `application/wasm`). Responses are
//! compressed (brotli or gzip, per `Accept-Encoding`); on disk, precompressed `.br`/`.gz`
//! siblings are served when present. Embedded files carry an `ETag` (a hash of their bytes)
//! and answer `If-None-Match` with 304. Cache policy: widget files `public, max-age=300`
//! (stable names like `embed.js` must pick up new releases quickly; revalidation is free),
//! pages `no-cache`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::Dir;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use super::HttpConfig;
use crate::embedded;

const WIDGET_CACHE: &str = "public, max-age=300";
const PAGE_CACHE: &str = "no-cache";

/// The policy of every page natter serves from its binary (demo, agent console, examples, the
/// bots' console): no inline script or style, no HTML sinks (Trusted Types), wasm allowed for
/// the widget, framed only by its own origin. The pages keep to it: their scripts and styles
/// are files, their DOM is built with `textContent`/`createElement`.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'self'; \
     require-trusted-types-for 'script'";

/// `Content-Security-Policy` + `X-Content-Type-Options` for pages served from the binary.
fn page_security() -> tower::layer::util::Stack<
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
> {
    tower::layer::util::Stack::new(
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    )
}

fn disk(path: &std::path::Path, cache: &'static str) -> axum::Router {
    let service = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        .layer(CompressionLayer::new().br(true).gzip(true))
        .service(ServeDir::new(path).precompressed_br().precompressed_gzip());
    axum::Router::new().fallback_service(service)
}

fn memory(dir: &'static Dir<'static>, cache: &'static str, missing: &'static str) -> axum::Router {
    axum::Router::new()
        .fallback(move |uri: Uri, headers: HeaderMap| async move {
            embedded_file(dir, uri.path(), cache, &headers).unwrap_or_else(|| {
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    missing,
                )
                    .into_response()
            })
        })
        .layer(CompressionLayer::new().br(true).gzip(true))
}

/// Adds `/widget/` and the `/` fallback to `router`. Widget files are readable from any origin:
/// a host page on another origin fetches the `.wasm` with `fetch` (CORS mode); they are public
/// and carry no credentials.
pub fn mount<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    cfg: &HttpConfig,
) -> axum::Router<S> {
    let widget = match &cfg.widget_dir {
        Some(dir) => disk(dir, WIDGET_CACHE),
        None if embedded::widget_built() => {
            memory(&embedded::WIDGET, WIDGET_CACHE, "no such widget file\n")
        }
        None => memory(
            &embedded::WIDGET,
            WIDGET_CACHE,
            "this natter was built without the widget: run scripts/build-widget and build natter again, or start it with --widget DIR\n",
        ),
    };
    let pages = match &cfg.www_dir {
        Some(dir) => disk(dir, PAGE_CACHE),
        None => memory(&embedded::WWW, PAGE_CACHE, "not found\n").layer(page_security()),
    };
    // Widget files are read by host pages on any origin (the wasm is fetched, not just run).
    let widget = axum::Router::new().nest_service("/widget", widget).layer(
        SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
    );
    router.merge(widget).fallback_service(pages)
}

/// The response for `path` (as requested: leading `/`, maybe a folder) from an embedded
/// folder, or `None` when there is no such file. A folder answers with its `index.html`
/// (a redirect adds the trailing `/` first, so relative links in the page resolve).
pub fn embedded_file(
    dir: &'static Dir<'static>,
    path: &str,
    cache: &'static str,
    request: &HeaderMap,
) -> Option<Response> {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|seg| seg == ".." || seg == ".") || rel.contains('\\') {
        return None;
    }
    let (name, file) = if rel.is_empty() || rel.ends_with('/') {
        let name = format!("{rel}index.html");
        let file = dir.get_file(&name)?;
        (name, file)
    } else if let Some(file) = dir.get_file(rel) {
        (rel.to_string(), file)
    } else {
        dir.get_dir(rel)?.get_file(format!("{rel}/index.html"))?;
        let location = format!("{path}/");
        return Some(
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
        );
    };
    let etag = etag(dir, &name, file.contents());
    let headers = [
        (header::CONTENT_TYPE, content_type(&name)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::ETAG, etag.clone()),
    ];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    Some(if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, file.contents()).into_response()
    })
}

fn content_type(name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let text = mime.type_() == "text" || mime.subtype() == "javascript" || mime.subtype() == "json";
    let value = if text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// A strong validator from the file's bytes (FNV-1a 64), computed once per file.
fn etag(dir: &'static Dir<'static>, name: &str, bytes: &[u8]) -> HeaderValue {
    type Tags = std::sync::Mutex<HashMap<(usize, String), HeaderValue>>;
    static TAGS: OnceLock<Tags> = OnceLock::new();
    let key = (dir as *const Dir as usize, name.to_string());
    let mut tags = TAGS.get_or_init(Default::default).lock().unwrap();
    tags.entry(key)
        .or_insert_with(|| {
            let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
            });
            HeaderValue::from_str(&format!("\"{hash:016x}\"")).unwrap()
        })
        .clone()
}
