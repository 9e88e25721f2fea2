//! Cakupan's HTTP server: `/healthz` and the JSON API under `/api/v1`, with its OpenAPI
//! document at `/api/v1/openapi.json`.
//!
//! Every error is JSON naming the field and the rule (see [`error::ApiError`]). Every route
//! but the public ones (health, OpenAPI, regions, quotes, the front page, sign-in) needs a
//! session, and each is decided by `cakupan_domain::access::authorize` (see docs/security.md).
//! Personal data in responses is masked (NIK and phone); reads and changes are audited.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod rights;
pub mod sessions;

use axum::Router;
use axum::http::{HeaderValue, header};
use cakupan_domain::{RegionTree, RuleSet};
use cakupan_store::Store;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted: a registration is well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a request handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub regions: Arc<RegionTree>,
    pub rules: Arc<RuleSet>,
    /// Today's date for validation; a function so tests can fix it.
    pub today: fn() -> time::Date,
    /// Password hashing cost, sign-in limits and lockouts.
    pub auth: Arc<auth::Auth>,
}

/// Today's date in Western Indonesia Time (UTC+7), where most participants live.
pub fn today_wib() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", axum::routing::get(index))
        .route("/healthz", axum::routing::get(api::healthz))
        .route(
            "/login",
            axum::routing::get(pages::login_form).post(pages::login_submit),
        )
        .route("/logout", axum::routing::post(pages::logout_submit))
        .nest("/api/v1", api::routes())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
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
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// The front page: what this server offers, in Bahasa Indonesia first, then English. The
/// dashboard and the everyday workflows will live here.
async fn index(
    axum::extract::State(st): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Html<String> {
    let account = match pages::page_session(&st, &headers).await {
        Some((user, csrf)) => format!(
            r#"<form method="post" action="/logout" style="float:right">Masuk sebagai <strong>{}</strong> <input type="hidden" name="csrf" value="{csrf}"><button type="submit">Keluar / Sign out</button></form>"#,
            user.replace('<', "&lt;")
        ),
        None => r#"<p style="float:right"><a href="/login">Masuk / Sign in</a></p>"#.to_string(),
    };
    let [p, r, d, v] = st.regions.counts();
    let month = cakupan_domain::Month::of((st.today)());
    // One row from the counters: the nation this month (no scan of participants or postings).
    let nation = st
        .store
        .active_report(
            cakupan_domain::Level::Nation,
            cakupan_domain::RegionCode::NATION,
            None,
            month,
        )
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next());
    let (registered, status_active, paid_active) = nation
        .map(|n| (n.registered, n.status_active, n.paid_active))
        .unwrap_or((0, 0, 0));
    axum::response::Html(format!(
        r#"<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cakupan</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}code{{background:#eee;padding:0 .2rem}}</style>
</head><body>
{account}
<h1>Cakupan</h1>
<p>Registri peserta jaminan sosial ketenagakerjaan. Wilayah Kemendagri termuat: {p} provinsi, {r} kabupaten/kota, {d} kecamatan, {v} desa/kelurahan. Basis data: {backend}.</p>
<p><strong>{month}</strong>: peserta terdaftar {registered}, <strong>peserta aktif {status_active}</strong> (di antaranya {paid_active} sudah membayar bulan ini). <a href="/api/v1/reports/active?month={month}&amp;by=province">Per provinsi (JSON)</a></p>
<ul>
<li><a href="/api/v1/openapi.json">Dokumen OpenAPI</a> — API JSON di <code>/api/v1</code></li>
<li><a href="/api/v1/regions/32.73.01.1001">Contoh wilayah</a> · <a href="/api/v1/quote?segment=BPU&amp;income_base=1000000&amp;programs=JKK%2BJKM&amp;month=2026-05&amp;occupation=84">Contoh iuran BPU Mei 2026</a></li>
<li><a href="/healthz">Status layanan</a></li>
</ul>
<p lang="en"><em>English:</em> participant registry of the workers' social-security agency. Loaded Kemendagri regions: {p} provinces, {r} regencies/cities, {d} districts, {v} villages. In {month}: {registered} registered, {status_active} active participants ({paid_active} paid for the month). The JSON API is under <code>/api/v1</code>, documented by the OpenAPI link above. The coverage dashboard is not built yet.</p>
</body></html>"#,
        backend = st.store.backend()
    ))
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
    let app = router(state).layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ));
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
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
