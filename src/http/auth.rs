//! API keys on the handoff, report and admin APIs: `Authorization: Bearer <key>` (or
//! `X-Api-Key: <key>`). A missing or unknown key is 401, a key without the scope is 403.
//! Handlers take [`Caller`] and call [`Caller::require`].

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::content::Municipality;
use crate::store::keys::{ApiKey, Scope};

/// The key a request came with.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
}

impl Caller {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }

    /// The municipality a request is about: the one named, else the key's only one, else
    /// the default. One the key does not serve is, to it, one that does not exist.
    pub fn municipality(
        &self,
        state: &AppState,
        named: Option<&str>,
    ) -> Result<Municipality, ApiError> {
        let places = &state.parts.municipalities;
        let slug = match (named, self.key.municipalities.as_slice()) {
            (Some(s), _) => s,
            (None, [only]) => only.as_str(),
            (None, _) => places.default().slug.as_str(),
        };
        places
            .get(slug)
            .filter(|m| self.key.serves(&m.slug))
            .cloned()
            .ok_or_else(|| ApiError::Missing(format!("no municipality `{slug}` is served here")))
    }

    /// Who to name in the audit log.
    pub fn actor(&self) -> String {
        format!("key:{}", self.key.id)
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION)
        && let Ok(s) = v.to_str()
    {
        let s = s.trim();
        if let Some(k) = s
            .strip_prefix("Bearer ")
            .or_else(|| s.strip_prefix("bearer "))
        {
            return Some(k.trim());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        caller(&parts.headers, state).await
    }
}

/// The key in `headers`, looked up; for handlers where only some requests need one.
pub async fn caller(headers: &HeaderMap, state: &AppState) -> Result<Caller, ApiError> {
    let key = presented_key(headers).ok_or(ApiError::Unauthorized)?;
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::Unauthorized);
    }
    match state.parts.store.find_key(key).await {
        Ok(Some(key)) => Ok(Caller { key }),
        Ok(None) => Err(ApiError::Unauthorized),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}
