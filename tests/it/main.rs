//! Loket's integration tests: one binary, one module per topic (as in ripgrep's tests).
//!
//! - `architecture`: the module rules (no import cycles, no function over 120 lines, no SQL
//!   outside the store) over the source of `src/`;
//! - `archive`: `loket archive export|purge|verify` on seeded SQLite and PostgreSQL stores;
//! - `accessibility`: axe-core (WCAG 2.1 AA) on the web chat and the dashboard in headless
//!   Chromium;
//! - `api`: the HTTP API driven in-process (no server), with the lexical stand-in encoder;
//! - `reports`: the report figures over a hand-made week, the report API, the dashboard in
//!   headless Chromium;
//! - `editor`: hot reload, the editors' admin API and preview, `kb test`, `kb coverage`,
//!   the Prometheus metrics;
//! - `config`: settings from the environment, secret files, `config check`, `migrate`;
//! - `kb_check`: `loket kb check` on broken knowledge bases;
//! - `municipalities`: one Loket for several municipalities (web chat, WhatsApp numbers,
//!   pages and looks, conversations that stay within their municipality);
//! - `real_model`: the real multilingual-e5-small model (fetched by scripts/fetch-model.sh),
//!   the real binary on port 0, privacy end to end, `loket classify`;
//! - `webchat`: the web chat widget in headless Chromium (driven by `cdp`, a minimal
//!   DevTools-protocol client) against a real HTTP server;
//! - `whatsapp`: WhatsApp end to end against the fake Graph API;
//! - `handoff`, `reports`, `editor`, `archive`: the handoff API, reports and dashboard, the
//!   editor's workflow, archive export and purge;
//! - `hostile`: hostile clients against a real loopback server (rotating ids, slow and
//!   idle connections, refused requests' error shape, another channel's conversation);
//! - `durability`: the real binary (stand-in encoder) killed with SIGKILL and restarted,
//!   and two instances on one PostgreSQL, against the fake Graph API;
//! - `binary` (`LoketProcess`), `pg` (`temp_postgres`), `server`, `helpers`: shared helpers.

mod accessibility;
mod api;
mod architecture;
mod archive;
mod binary;
mod cdp;
mod config;
mod durability;
mod editor;
mod handoff;
mod helpers;
mod hostile;
mod kb_check;
mod municipalities;
mod pg;
mod real_model;
mod reports;
mod server;
mod store;
mod webchat;
mod whatsapp;
