//! The one error shape every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}, "request_id": "..."}`.
//! Each variant documents its status; details of 5xx errors are logged, never returned.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::channels::conversation::TurnError;
use crate::classifier::WorkerError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not valid JSON or has the wrong shape.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no API key, or one that is unknown or revoked.
    #[error(
        "this endpoint needs an API key: send `Authorization: Bearer <key>` (create one with `loket keys create`)"
    )]
    Unauthorized,
    /// 401: a webhook whose signature is missing or wrong.
    #[error("the X-Hub-Signature-256 signature is missing or does not match")]
    BadSignature,
    /// 403: the key lacks the scope the endpoint needs.
    #[error("this API key lacks the `{0}` scope")]
    Forbidden(crate::store::keys::Scope),
    /// 404: a conversation or other resource that does not exist.
    #[error("{0}")]
    Missing(String),
    /// 409: the request conflicts with the current state (e.g. claimed by another agent).
    #[error("{0}")]
    Conflict(String),
    /// 404: no such route.
    #[error("no such endpoint; see /openapi.json")]
    NotFound,
    /// 413: the body is larger than `server.body_limit_bytes`.
    #[error("the request body is too large (at most {0} bytes)")]
    TooLarge(usize),
    /// 415: the body is not `application/json`.
    #[error("send the body as JSON with `content-type: application/json`")]
    UnsupportedMediaType,
    /// 422: valid JSON with an invalid value (e.g. empty text).
    #[error("{0}")]
    Invalid(String),
    /// 429: this sender sent too many messages in a short time.
    #[error("too many messages in a short time; wait a moment")]
    RateLimited,
    /// 429: the classifier queue is full; retry shortly.
    #[error("Loket is busy; try again in a moment")]
    Overloaded,
    /// 503: a dependency (database, classifier) is unavailable.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// 500: anything else; the detail goes to the log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::BadSignature => (StatusCode::UNAUTHORIZED, "bad_signature"),
            ApiError::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::Overloaded => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn from_json_rejection(r: JsonRejection, limit: usize) -> ApiError {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::BadRequest(format!(
                "the JSON does not match the request shape: {}",
                e.body_text()
            )),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::TooLarge(limit)
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<TurnError> for ApiError {
    fn from(e: TurnError) -> Self {
        match e {
            TurnError::Classifier(WorkerError::Overloaded) => ApiError::Overloaded,
            TurnError::Classifier(e) => ApiError::Unavailable(e.to_string()),
            TurnError::Store(StoreError::Unavailable(e)) => ApiError::Unavailable(e),
            TurnError::Store(e) => ApiError::Internal(e.to_string()),
            // Said as if the conversation did not exist: its id tells a stranger nothing.
            TurnError::OtherChannel | TurnError::OtherMunicipality => {
                ApiError::Missing("no such conversation".into())
            }
            TurnError::UnknownMunicipality(slug) => {
                ApiError::Missing(format!("no municipality `{slug}` is served here"))
            }
        }
    }
}

impl From<crate::reports::UnansweredError> for ApiError {
    fn from(e: crate::reports::UnansweredError) -> Self {
        use crate::reports::UnansweredError as E;
        match e {
            E::Classifier(e) => TurnError::Classifier(e).into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => ApiError::Unavailable(e),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Internal(detail) | ApiError::Unavailable(detail) => {
                tracing::error!(code, detail = %detail, "request failed")
            }
            _ => tracing::debug!(code, "request rejected"),
        }
        let mut resp = (
            status,
            Json(json!({"error": {"code": code, "message": self.to_string()}})),
        )
            .into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Gives every error response the one JSON shape, also those that axum and tower make
/// themselves before a handler runs: 405 (wrong method), 400 (a bad query string), 413
/// (a body over a route's own limit), 503 (the request timeout). Responses that are JSON
/// already pass unchanged.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => (
            "bad_request",
            "the request is malformed (query string or headers)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint; see /openapi.json"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take this method; see the Allow header and /openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as JSON with `content-type: application/json`",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "the request is not valid"),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; wait a moment"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => (
            "unavailable",
            "the service is temporarily unavailable or the request took too long",
        ),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("error", "the request cannot be handled"),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    let body = json!({"error": {"code": code, "message": message}}).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// A panicking handler is answered with the JSON 500 and logged, not dropped.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).expect("a JSON body")
    }

    #[tokio::test]
    async fn responses_made_outside_handlers_get_the_json_shape() {
        for (status, code) in [
            (503, "unavailable"),
            (408, "unavailable"),
            (405, "method_not_allowed"),
            (400, "bad_request"),
            (413, "body_too_large"),
            (500, "internal"),
            (418, "error"),
        ] {
            let plain = Response::builder()
                .status(status)
                .header("allow", "GET")
                .body(axum::body::Body::from("plain text"))
                .unwrap();
            let out = json_errors(plain).await;
            assert_eq!(out.status().as_u16(), status);
            assert_eq!(out.headers()["content-type"], "application/json");
            assert_eq!(out.headers()["allow"], "GET", "other headers are kept");
            assert_eq!(body_json(out).await["error"]["code"], code, "{status}");
        }
        // A handler's own JSON error and any success pass unchanged.
        let own = ApiError::Conflict("claimed".into()).into_response();
        assert_eq!(
            body_json(json_errors(own).await).await["error"]["code"],
            "conflict"
        );
        let ok = Response::new(axum::body::Body::from("fine"));
        let out = json_errors(ok).await;
        assert!(out.headers().get("content-type").is_none());
    }

    #[test]
    fn a_panic_becomes_the_json_500() {
        let resp = panic_response(Box::new("boom"));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
