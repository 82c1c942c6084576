//! Loket's integration tests: one binary, one module per topic (as in ripgrep's tests).
//!
//! - `api`: the HTTP API driven in-process (no server), with the lexical stand-in encoder;
//! - `kb_check`: `loket kb check` on broken knowledge bases;
//! - `real_model`: the real multilingual-e5-small model (fetched by scripts/fetch-model.sh),
//!   the real binary on port 0, privacy end to end, `loket classify`;
//! - `durability`: the real binary (stand-in encoder) killed with SIGKILL and restarted,
//!   and two instances on one PostgreSQL, against the fake Graph API;
//! - `binary` (`LoketProcess`), `pg` (`temp_postgres`), `server`, `helpers`: shared helpers.

mod api;
mod binary;
mod durability;
mod handoff;
mod helpers;
mod kb_check;
mod pg;
mod real_model;
mod server;
mod store;
