//! Loket: a front-line bot service for Dutch municipalities. Citizens ask questions on
//! WhatsApp or the website's chat; Loket answers from the municipality's knowledge base,
//! asks when unsure, keeps personal data out, and hands over to people when needed.
//!
//! # Layout
//! Data flows one way: channel → guard → understand → decide → reply → archive.
//! - [`config`]: settings from `loket.toml` and `LOKET__SECTION__KEY` variables.
//! - [`knowledge`]: the knowledge base and intents as plain files, validated.
//! - [`search`]: the tantivy FAQ index with its Dutch analyzer.
//! - [`classifier`]: the e5 encoder (own int8 forward pass, candle as reference and fallback),
//!   the intent head, the batching worker.
//! - [`privacy`]: finding and redacting personal data (BSN, IBAN, …).
//! - [`understand`]: intent scores fused with FAQ matches into ranked answers.
//! - [`dialogue`]: the pure decision core (answer, clarify, handoff, …), office hours.
//! - [`store`]: conversations and messages on SQLite or PostgreSQL.
//! - [`engine`]: one message through all of the above.
//! - [`archive`]: exports for the records officer and deletion after the retention period.
//! - [`reports`]: figures for team leads and the content editor's to-do list.
//! - [`http`]: the axum API; [`app`]: start-up and serving; [`cli`]: the commands.
//! - [`whatsapp`]: the WhatsApp Cloud API channel (signatures, webhooks, sending, a fake).
//! - [`reload`]: content reloads while serving, and previews of draft entries;
//!   [`kbtools`]: `kb test` and `kb coverage`; [`metrics`]: Prometheus metrics.
//! - [`text`]: text normalisation shared by the content checks and the classifier;
//!   [`parallel`]: start-up jobs on all cores.

pub mod app;
pub mod archive;
pub mod bench;
pub mod channels;
pub mod classifier;
pub mod cli;
pub mod config;
pub mod dialogue;
pub mod engine;
pub mod eval;
pub mod http;
pub mod kbtools;
pub mod knowledge;
pub mod metrics;
pub mod parallel;
pub mod privacy;
pub mod reload;
pub mod reports;
pub mod search;
pub mod store;
pub mod text;
pub mod understand;
