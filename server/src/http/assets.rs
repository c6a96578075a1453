//! Static files: the demo/host pages from `www/` at `/`, the built widget package from `pkg/`
//! at `/widget/`. Types come from the file extension (`.wasm` → `application/wasm`);
//! precompressed `.br`/`.gz` siblings are served when present, otherwise responses are
//! compressed on the fly (brotli or gzip, per `Accept-Encoding`). Cache policy: widget files
//! `public, max-age=300` (stable names like `embed.js` must pick up new releases quickly;
//! `Last-Modified` revalidation is free), pages `no-cache`.

use axum::http::{header, HeaderValue};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use super::HttpConfig;

fn dir(
    path: &std::path::Path,
    cache: &'static str,
) -> impl tower::Service<
    axum::http::Request<axum::body::Body>,
    Response = impl axum::response::IntoResponse,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + Sync
       + 'static {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        .layer(CompressionLayer::new().br(true).gzip(true))
        .service(ServeDir::new(path).precompressed_br().precompressed_gzip())
}

/// Adds `/widget/` and the `/` fallback to `router`. Widget files are readable from any origin:
/// a host page on another origin fetches the `.wasm` with `fetch` (CORS mode); they are public
/// and carry no credentials.
pub fn mount<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    cfg: &HttpConfig,
) -> axum::Router<S> {
    let widget = axum::Router::new()
        .nest_service("/widget", dir(&cfg.widget_dir, "public, max-age=300"))
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ));
    router
        .merge(widget)
        .fallback_service(dir(&cfg.www_dir, "no-cache"))
}
