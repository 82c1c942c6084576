//! Loket's integration tests: one binary, one module per topic (as in ripgrep's tests).
//!
//! - `api`: the HTTP API driven in-process (no server), with the lexical stand-in encoder;
//! - `editor`: hot reload, the editors' admin API and preview, `kb test`, `kb coverage`,
//!   the Prometheus metrics;
//! - `kb_check`: `loket kb check` on broken knowledge bases;
//! - `real_model`: the real multilingual-e5-small model (fetched by scripts/fetch-model.sh),
//!   the real binary on port 0, privacy end to end, `loket classify`.

mod api;
mod editor;
mod helpers;
mod kb_check;
mod real_model;
mod store;
