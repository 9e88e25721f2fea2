//! Cakupan's HTTP server: the pages (`web`: the coverage dashboard and the everyday
//! workflows), `/healthz`, and the JSON API under `/api/v1` with its OpenAPI document at
//! `/api/v1/openapi.json`.
//!
//! Every error is JSON naming the field and the rule (see [`error::ApiError`]). Every route
//! but the public ones (health, OpenAPI, regions, quotes, the front page, sign-in) needs a
//! session, and each is decided by `cakupan_domain::access::authorize` (see docs/security.md).
//! Personal data in responses is masked (NIK and phone); reads and changes are audited.

pub mod accounts;
pub mod agents;
pub mod api;
pub mod auth;

pub mod campaign;
pub mod employers;
pub mod enrolment;
pub mod error;
pub mod ledger;
pub mod participants;
pub mod payments;
pub mod reminders;

pub mod rights;
pub mod sessions;
pub mod targets;
pub mod web;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted: a registration is well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a request handler may use: the services' context (see `cakupan_app::Context`).
pub use cakupan_app::Context as AppState;

/// Today's date in Western Indonesia Time (UTC+7), from the one clock.
pub use cakupan_app::today_wib;

/// What pages may load: only this server's own scripts, styles and images (the binary carries
/// every asset), no framing, forms posting back here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

use axum::response::IntoResponse as _;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let small = Router::new()
        .merge(web::routes())
        .route("/healthz", axum::routing::get(api::healthz))
        .nest(
            "/api/v1",
            api::routes().layer(axum::middleware::from_fn(json_only)),
        )
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    // Wage reports are files: up to 50,000 lines.
    let large = Router::new()
        .route(
            "/api/v1/employers/{code}/wage-reports",
            axum::routing::post(employers::submit_report)
                .layer(axum::middleware::from_fn(json_or_csv)),
        )
        .route(
            "/pemberi-kerja/{code}/laporan",
            axum::routing::post(web::employers::report_submit),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            employers::MAX_REPORT_BYTES,
        ))
        .layer(RequestBodyLimitLayer::new(employers::MAX_REPORT_BYTES));
    // Survey answers are files too: up to 20,000 lines.
    let answers = Router::new()
        .route(
            "/api/v1/surveys/{code}/responses",
            axum::routing::post(campaign::add_responses)
                .layer(axum::middleware::from_fn(json_or_csv)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            campaign::MAX_RESPONSES_BYTES,
        ))
        .layer(RequestBodyLimitLayer::new(campaign::MAX_RESPONSES_BYTES));
    // The SNAP biller endpoints: partners sign each request with their own keys (no session,
    // no CSRF); bodies are small JSON.
    let snap = payments::snap_routes().layer(RequestBodyLimitLayer::new(16 * 1024));
    // Settlement files: CSV or MT940 text.
    let settlements = Router::new()
        .route(
            "/api/v1/payment-partners/{code}/settlements",
            axum::routing::post(payments::import_settlement)
                .layer(axum::middleware::from_fn(json_or_csv)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            payments::MAX_SETTLEMENT_BYTES,
        ))
        .layer(RequestBodyLimitLayer::new(payments::MAX_SETTLEMENT_BYTES));
    let app = small
        .merge(large)
        .merge(answers)
        .merge(snap)
        .merge(settlements)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::error_pages,
        ));
    // Server-Timing tells the time a request took, and so whether a NIK exists (0.32 ms vs
    // 0.21 ms median, issue #17): only for profiling, when CAKUPAN_SERVER_TIMING=1.
    let app = if std::env::var("CAKUPAN_SERVER_TIMING").is_ok_and(|v| v == "1") {
        app.layer(axum::middleware::from_fn(server_timing))
    } else {
        app
    };
    app.layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ))
    .with_state(state)
}

/// The media type of a request body, lower case, without parameters (`; charset=…`).
fn media_type(req: &axum::extract::Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Whether a request carries a body at all.
fn has_body(req: &axum::extract::Request) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Refuses a request whose body is not of one of `accepted` media types: 415 naming them.
async fn body_of_type(
    accepted: &[&str],
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if has_body(&req) && !media_type(&req).is_some_and(|m| accepted.contains(&m.as_str())) {
        return error::ApiError::UnsupportedMediaType(format!(
            "the body must be sent with Content-Type: {}",
            accepted.join(" or ")
        ))
        .into_response();
    }
    next.run(req).await
}

/// The API's bodies are JSON: any other `Content-Type` is refused before the handler reads it.
async fn json_only(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    body_of_type(&["application/json"], req, next).await
}

/// Files may come as JSON or as CSV text.
async fn json_or_csv(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    body_of_type(&["application/json", "text/csv", "text/plain"], req, next).await
}

/// `Server-Timing: app;dur=…`: the time the server spent on the request, in milliseconds, for
/// the browser's developer tools and the page benchmarks.
async fn server_timing(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}

/// Serves HTTPS with the PEM certificate chain and private key given, until Ctrl-C or
/// SIGTERM (finishing requests in flight for up to 10 s). Responses then also carry
/// `Strict-Transport-Security`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    cert: &std::path::Path,
    key: &std::path::Path,
    state: AppState,
) -> std::io::Result<()> {
    // The process-wide TLS provider: ring (an error only means one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown().await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let timeout = header_read_timeout(&state);
    let app = router(state).layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ));
    let mut server = axum_server::from_tcp_rustls(listener, config).handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
    server
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

/// How long a connection may take to send a request's headers, from when it opens or its
/// last answer ends (so the same limit closes idle keep-alive connections): the policy's
/// `header_read_timeout_secs`.
pub fn header_read_timeout(state: &AppState) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(state.auth.policy.header_read_timeout_secs.max(1)))
}

/// Serves until Ctrl-C or SIGTERM. Each connection must send its request headers within
/// [`header_read_timeout`] (a connection that trickles them, or sits idle, is closed: with
/// `axum::serve` one with unfinished headers stayed open 200 s), and shutting down lets the
/// requests in flight finish for up to 10 s.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let timeout = header_read_timeout(&state);
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors and the like: the listener itself is fine; wait a moment.
                Err(e) => {
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                app.clone().oneshot(req.map(axum::body::Body::new))
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout)
            .serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!("connection from {remote}: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {},
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
