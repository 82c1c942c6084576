//! `GET /openapi.json`: the OpenAPI 3 document of the whole API (assets/openapi.json; a
//! test checks that every route of the router is in it).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("../../assets/openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
