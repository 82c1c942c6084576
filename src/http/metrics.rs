//! `GET /metrics` and the middleware that counts every request (the counters themselves
//! live in [`crate::metrics`]).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::metrics::{Live, record_http, render};

/// Middleware that counts requests by route template, method and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        // Never the raw path: it may hold ids or tokens.
        .unwrap_or_else(|| "unmatched".to_string());
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    record_http(&route, &method, status, start.elapsed());
    // The access log: route template, never the path or query (ids, tokens) or a body.
    tracing::info!(
        target: "loket::access",
        method = %method,
        route = %route,
        status,
        ms = start.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    resp
}

/// `GET /metrics` (no key: nothing personal is exposed).
pub async fn handler(State(state): State<AppState>) -> Response {
    let snap = state.parts.content().snapshot();
    let known: std::collections::HashSet<&str> = snap
        .kb
        .settings
        .departments
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    let handoffs_waiting = match state.parts.store.waiting_by_department().await {
        Ok(rows) => {
            let mut by_dept: BTreeMap<String, i64> = BTreeMap::new();
            for (dept, n) in rows {
                // Departments come from the settings; anything else is grouped.
                let dept = if known.contains(dept.as_str()) {
                    dept
                } else {
                    "other".to_string()
                };
                *by_dept.entry(dept).or_default() += n;
            }
            by_dept.into_iter().collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count waiting handoffs");
            Vec::new()
        }
    };
    let live = Live {
        queue_depth: state.parts.encoder.queue_depth(),
        handoffs_waiting,
        content_version: state.parts.content().status().version,
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&live),
    )
        .into_response()
}
