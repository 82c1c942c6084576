//! Loket: a front-line bot service for Dutch municipalities. Citizens ask questions on
//! WhatsApp or the website's chat; Loket answers from the municipality's knowledge base,
//! asks when unsure, keeps personal data out, and hands over to people when needed.
//!
//! # Layout
//! Data flows one way: channel → guard → understand → decide → reply → archive. The rules
//! (what each module may know) are in ARCHITECTURE.md; `cargo test --test it architecture`
//! checks the ones a machine can.
//! - [`config`]: settings from `loket.toml` and `LOKET__SECTION__KEY` variables.
//! - [`knowledge`]: the knowledge base, intents, settings and office hours as plain files,
//!   validated; [`content`]: the snapshot being served, hot reload and the editors' preview.
//! - [`search`]: the tantivy FAQ index with its Dutch analyzer.
//! - [`classifier`]: the e5 encoder (own int8 forward pass, candle as reference and fallback),
//!   the intent head, the batching worker.
//! - [`privacy`]: finding and redacting personal data (BSN, IBAN, …).
//! - [`understand`]: intent scores fused with FAQ matches into ranked answers.
//! - [`dialogue`]: the pure decision core (answer, clarify, handoff, …).
//! - [`turn`]: one message through guard → understand → decide, as a plan (no I/O), shared
//!   by serving, the preview, `kb test`, `eval` and `classify`.
//! - [`channels`]: a message within its conversation (the serving path), WhatsApp, and the
//!   background loops (inbox, outbox, platform webhooks); [`handoff`]: the contact centre's
//!   side of a conversation.
//! - [`store`]: every SQL statement, on SQLite or PostgreSQL.
//! - [`archive`]: exports for the records officer and deletion after the retention period.
//! - [`reports`]: figures for team leads and the content editor's to-do list.
//! - [`http`]: the axum API, one file per resource; [`app`]: the one wiring (`Builder`) and
//!   serving; [`cli`]: the commands; [`shutdown`]: stopping the loops in order.
//! - [`kbtools`]: `kb test` and `kb coverage`; [`metrics`]: Prometheus counters.
//! - [`text`]: text normalisation shared by the content checks and the classifier;
//!   [`parallel`]: start-up jobs on all cores.
//! - Tools for developers (behind the `tools` feature): [`bench`], [`eval`], the fake Graph
//!   API and `loket dev`.

pub mod app;
pub mod archive;
#[cfg(feature = "tools")]
pub mod bench;
pub mod channels;
pub mod classifier;
pub mod cli;
pub mod config;
pub mod content;
pub mod dialogue;
#[cfg(feature = "tools")]
pub mod eval;
pub mod handoff;
pub mod http;
pub mod kbtools;
pub mod knowledge;
pub mod metrics;
pub mod parallel;
pub mod privacy;
pub mod reports;
pub mod search;
pub mod shutdown;
pub mod store;
pub mod text;
pub mod turn;
pub mod understand;
