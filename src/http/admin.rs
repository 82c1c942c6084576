//! The content editors' endpoints (scope `editor`; `?municipality=slug` where one Loket
//! serves several):
//! - `GET /v1/admin/content`: the version being served and why the latest edit was refused;
//! - `POST /v1/admin/reload`: reload now; 200 with the new version, 422 with the problems;
//! - `POST /v1/admin/preview`: `{"entry": "<draft Markdown file>", "questions": ["..."]}`,
//!   what Loket would answer with the draft in place, without serving it.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::content::Municipality;
use crate::content::reload::ContentProblem;
use crate::store::keys::Scope;

/// At most this many questions per preview.
pub const MAX_PREVIEW_QUESTIONS: usize = 50;

/// `?municipality=slug`: which municipality's content (default: the key's only one, else
/// the default one).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Which {
    pub municipality: Option<String>,
}

/// The municipality `which` names, for an editor's key that serves it.
fn editor_municipality(
    state: &AppState,
    caller: &Caller,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Municipality, ApiError> {
    caller.require(Scope::Editor)?;
    let Query(w) = which
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))?;
    caller.municipality(state, w.municipality.as_deref().filter(|m| !m.is_empty()))
}

pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Response, ApiError> {
    let place = editor_municipality(&state, &caller, which)?;
    Ok(Json(place.content.status()).into_response())
}

pub async fn reload(
    State(state): State<AppState>,
    caller: Caller,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Response, ApiError> {
    let place = editor_municipality(&state, &caller, which)?;
    tracing::info!(actor = %caller.actor(), municipality = %place.slug, "content reload requested");
    Ok(match place.content.reload().await {
        Ok(status) => Json(status).into_response(),
        Err(status) => content_invalid(
            format!(
                "the content has errors and was not loaded; version {} keeps serving",
                status.version
            ),
            &status.errors,
            Some(status.version),
        ),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The full text of the draft entry file (front matter and answer).
    pub entry: String,
    #[serde(default)]
    pub questions: Vec<String>,
}

pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    which: Result<Query<Which>, QueryRejection>,
    body: Result<Json<PreviewRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let place = editor_municipality(&state, &caller, which)?;
    let limit = state.parts.settings.server.body_limit_bytes;
    let Json(req) = body.map_err(|r| ApiError::from_json_rejection(r, limit))?;
    if req.entry.trim().is_empty() {
        return Err(ApiError::Invalid(
            "`entry` is empty: send the full text of the entry file".into(),
        ));
    }
    if req.questions.len() > MAX_PREVIEW_QUESTIONS {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_PREVIEW_QUESTIONS} questions per preview"
        )));
    }
    if req.questions.iter().any(|q| q.trim().is_empty()) {
        return Err(ApiError::Invalid("a question is empty".into()));
    }
    Ok(
        match place.content.preview(req.entry, req.questions).await {
            Ok(preview) => Json(preview).into_response(),
            Err(errors) => content_invalid(
                "the draft has errors; fix them and preview again".into(),
                &errors,
                None,
            ),
        },
    )
}

/// 422 in the usual error shape, with the problems (file, line, message) alongside.
fn content_invalid(message: String, errors: &[ContentProblem], serving: Option<u64>) -> Response {
    let mut body = json!({
        "error": {"code": "content_invalid", "message": message},
        "errors": errors,
    });
    if let Some(v) = serving {
        body["version"] = json!(v);
    }
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}
