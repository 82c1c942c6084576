//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: content loaded,
//! database reachable, classifier running).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::store::Store;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let snap = state.parts.content().snapshot();
    let store = &state.parts.store;
    let db = match store.ping().await {
        Ok(()) => store.writable().await,
        Err(e) => Err(e),
    };
    if let Err(e) = &db {
        tracing::warn!(error = %e, "not ready: the database");
    }
    let content = state.parts.content().status();
    let body = json!({
        "status": if db.is_ok() { "ready" } else { "not_ready" },
        "database": match &db {
            Ok(()) => "ok",
            Err(crate::store::StoreError::ReadOnly(_)) => "read_only",
            Err(_) => "unavailable",
        },
        "entries": snap.kb.entries.len(),
        "intents": snap.kb.intents.len(),
        "classifier_queue": state.parts.encoder.queue_depth(),
        "municipality": snap.kb.settings.name,
        // Still ready when an edit was refused: the previous version serves, and says so.
        "content": {
            "status": content.status,
            "version": content.version,
            "loaded_at": content.loaded_at,
            "errors": content.errors,
            "failed_at": content.failed_at,
            "message": if content.is_ok() {
                format!("serving version {}", content.version)
            } else {
                format!(
                    "the latest edit has errors and was not loaded; still serving version {} of {}",
                    content.version,
                    content.loaded_at.format("%Y-%m-%d %H:%M:%S UTC")
                )
            },
        },
    });
    let mut body = body;
    if state.parts.municipalities.len() > 1 {
        // Each municipality's content, by slug: one refused edit shows where it is.
        let all: Vec<Value> = state
            .parts
            .municipalities
            .iter()
            .map(|m| {
                let (snap, st) = (m.content.snapshot(), m.content.status());
                json!({
                    "slug": m.slug,
                    "name": snap.kb.settings.name,
                    "entries": snap.kb.entries.len(),
                    "content": {
                        "status": st.status,
                        "version": st.version,
                        "load_ms": st.load_ms,
                        "errors": st.errors,
                    },
                })
            })
            .collect();
        body["municipalities"] = Value::Array(all);
    }
    let status = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
