//! The WhatsApp Business Cloud API channel: webhook signatures, the inbound wire format,
//! outbound message bodies, the Graph API client with retries and rate limiting, and a
//! local fake of the Graph API for tests and developers.
//!
//! - [`signature`]: `X-Hub-Signature-256` over the raw body.
//! - [`wire`]: the webhook payload, flattened into [`wire::Event`]s.
//! - [`outbound`]: JSON bodies for `POST /{phone_number_id}/messages`, within WhatsApp's limits.
//! - [`client`]: [`client::GraphClient`], retryable vs. permanent errors, backoff.
//! - [`ratelimit`]: a token bucket per phone number.
//! - [`render`]: a decision as a WhatsApp body, inside or outside the 24-hour window.
//! - [`fake`]: [`fake::FakeGraph`], a local Graph API, and webhook payload helpers.
//! - [`dev`]: `loket dev fake-whatsapp`, an interactive console against a running Loket.

pub mod client;
#[cfg(feature = "tools")]
pub mod dev;
#[cfg(feature = "tools")]
pub mod fake;
pub mod outbound;
pub mod ratelimit;
pub mod render;
pub mod signature;
pub mod webhook;
pub mod wire;
