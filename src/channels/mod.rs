//! The background work behind the channels, started with the server:
//! - [`inbox`]: processes queued inbound WhatsApp messages (claimed with a lease, exactly once);
//! - [`outbox`]: sends queued replies to the Graph API with retries and a rate limit;
//! - [`platform`]: delivers signed webhooks to the webcare platform.
//!
//! Each loop wakes on a [`Notify`] when there is new work in this instance and polls the
//! database every half second for work from other instances and for retries.

pub mod inbox;
pub mod outbox;
pub mod platform;
pub mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::engine::Engine;

/// How often the loops look for work they were not woken for.
pub const POLL: Duration = Duration::from_millis(500);

/// Wake-up signals shared with the HTTP handlers.
#[derive(Clone, Default)]
pub struct Wakers {
    pub inbox: Arc<Notify>,
    pub outbox: Arc<Notify>,
}

/// Starts the loops this configuration needs; they run until the runtime stops.
pub fn start(engine: Arc<Engine>, wakers: &Wakers) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let worker = instance_id();
    let mut tasks = Vec::new();
    if engine.config.whatsapp.enabled {
        let client = Arc::new(crate::channels::whatsapp::client::GraphClient::new(
            &engine.config.whatsapp,
        ));
        tasks.push(tokio::spawn(inbox::run(
            engine.clone(),
            client.clone(),
            wakers.clone(),
            format!("{worker}/inbox"),
        )));
        tasks.push(tokio::spawn(outbox::run(
            engine.clone(),
            client,
            wakers.outbox.clone(),
            format!("{worker}/outbox"),
        )));
    }
    if engine.webhooks_enabled() {
        tasks.push(tokio::spawn(platform::run(engine.clone())));
    }
    Ok(tasks)
}

/// Names this process in queue leases (host and process id).
pub fn instance_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "loket".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

/// Waits for a wake-up or the poll interval, whichever comes first.
pub async fn idle(wake: &Notify) {
    tokio::select! {
        _ = wake.notified() => {},
        _ = tokio::time::sleep(POLL) => {},
    }
}
