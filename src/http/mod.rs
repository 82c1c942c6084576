//! The HTTP API (axum): one file per resource, one error type ([`error::ApiError`]), and the
//! layers every request passes: a request id, tracing, a body limit and a timeout.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod client;
pub mod dashboard;
pub mod error;
pub mod handoff;
pub mod health;
pub mod limit;
pub mod listener;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod reports;
pub mod webchat;
pub mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::channels::conversation::Conversations;

/// What handlers take what they need from: the parts that answer messages (content, store,
/// encoder, settings) and the HTTP side's own limiters and wake-ups.
#[derive(Clone)]
pub struct AppState {
    pub parts: Conversations,
    /// Per conversation (`conv:{id}`).
    pub limiter: Arc<limit::SenderLimiter>,
    /// Per client address, whatever conversation ids the client makes up.
    pub client_limiter: Arc<limit::SenderLimiter>,
    /// `server.trusted_proxies`, parsed.
    pub trusted_proxies: Arc<Vec<client::IpNet>>,
    /// Wake the inbound processor and the sender when there is new work.
    pub wakers: crate::channels::Wakers,
}

impl AppState {
    pub fn new(parts: &Conversations) -> Self {
        let settings = &parts.settings;
        let per_minute = settings.handoff.citizen_messages_per_minute;
        let per_client = settings.server.client_messages_per_minute;
        AppState {
            limiter: Arc::new(limit::SenderLimiter::new(per_minute)),
            client_limiter: Arc::new(limit::SenderLimiter::new(per_client)),
            trusted_proxies: Arc::new(settings.server.trusted_proxies()),
            parts: parts.clone(),
            wakers: crate::channels::Wakers::default(),
        }
    }
}

const REQUEST_ID: &str = "x-request-id";

pub fn router(state: AppState) -> Router {
    let cfg = &state.parts.settings.server;
    let limit = cfg.body_limit_bytes;
    let timeout = Duration::from_secs(cfg.request_timeout_secs);
    let request_id = HeaderName::from_static(REQUEST_ID);
    // The chat widget on the municipality's own site calls Loket from the browser. Only
    // `content-type` is allowed as a request header, so API keys cannot be sent cross-site.
    let origins: Vec<axum::http::HeaderValue> = cfg
        .allowed_origins
        .iter()
        .filter_map(|o| o.trim_end_matches('/').parse().ok())
        .collect();
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::list(origins))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/v1/messages", post(messages::post_message))
        .route("/v1/chat/{id}/messages", get(chat::messages))
        .route(
            "/webhooks/whatsapp",
            get(whatsapp::verify).post(whatsapp::receive).layer(DefaultBodyLimit::max(
                whatsapp::WEBHOOK_BODY_LIMIT,
            )),
        )
        .route("/v1/handoffs", get(handoff::queue))
        .route("/v1/conversations/{id}", get(handoff::conversation))
        .route("/v1/conversations/{id}/claim", post(handoff::claim))
        .route("/v1/conversations/{id}/reply", post(handoff::reply))
        .route("/v1/conversations/{id}/notes", post(handoff::note))
        .route("/v1/conversations/{id}/transfer", post(handoff::transfer))
        .route("/v1/conversations/{id}/resolve", post(handoff::resolve))
        .route("/v1/conversations/{id}/release", post(handoff::release))
        .route("/openapi.json", get(openapi::openapi))
        .route("/v1/reports/summary", get(reports::summary))
        .route("/v1/reports/unanswered", get(reports::unanswered))
        .route("/dashboard", get(dashboard::index))
        .route("/dashboard/dashboard.js", get(dashboard::script))
        .route("/dashboard/dashboard.css", get(dashboard::style))
        .route("/dashboard/favicon.svg", get(dashboard::icon))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/", get(webchat::index))
        .route("/gemeenten/{slug}", get(webchat::municipality_page))
        .route("/chat/look/{file}", get(webchat::look))
        .route("/chat/loket-chat.js", get(webchat::script))
        .route("/chat/loket-chat.css", get(webchat::style))
        .route("/metrics", get(metrics::handler))
        .route("/v1/admin/content", get(admin::content))
        .route("/v1/admin/reload", post(admin::reload))
        .route("/v1/admin/preview", post(admin::preview))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(axum::middleware::map_response(api_version))
        .layer(axum::middleware::from_fn(metrics::track_http))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry tokens.
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(cors)
        .with_state(state)
}

/// The API's version on every response (Dutch API Design Rules, `API-Version`): the major
/// version is in the paths (`/v1/`), the full one here.
pub const API_VERSION: &str = "1.0.0";

async fn api_version(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().insert(
        HeaderName::from_static("api-version"),
        axum::http::HeaderValue::from_static(API_VERSION),
    );
    resp
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound
}
