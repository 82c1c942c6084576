//! The channels: [`conversation`] answers a message within its conversation (the one path
//! from a channel through the turn pipeline to the store), [`whatsapp`] is the WhatsApp
//! Cloud API (wire format, renderer, sender, a fake); the web chat is served by
//! `crate::http::webchat`. The background work behind them, started with the server:
//! - [`inbox`]: processes queued inbound WhatsApp messages (claimed with a lease, exactly once);
//! - [`outbox`]: sends queued replies to the Graph API with retries and a rate limit;
//! - [`platform`]: delivers signed webhooks to the webcare platform.
//!
//! Each loop wakes on a [`Notify`] when there is new work in this instance and polls the
//! database every half second for work from other instances and for retries.

pub mod conversation;
pub mod inbox;
pub mod outbox;
pub mod platform;
pub mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::shutdown::{Shutdown, Stop};
use crate::store::StoreError;
use conversation::Conversations;

/// How often the loops look for work they were not woken for.
pub const POLL: Duration = Duration::from_millis(500);

/// Wake-up signals shared with the HTTP handlers.
#[derive(Clone, Default)]
pub struct Wakers {
    pub inbox: Arc<Notify>,
    pub outbox: Arc<Notify>,
}

/// Starts the loops this configuration needs; each returns once `shutdown` begins and its
/// work in hand is done.
pub fn start(
    conversations: &Conversations,
    wakers: &Wakers,
    shutdown: &Shutdown,
) -> Vec<JoinHandle<()>> {
    let worker = instance_id();
    let settings = &conversations.settings;
    let mut tasks = Vec::new();
    if settings.whatsapp.enabled {
        let client = Arc::new(whatsapp::client::GraphClient::new(&settings.whatsapp));
        tasks.push(tokio::spawn(inbox::run(
            conversations.clone(),
            client.clone(),
            wakers.clone(),
            format!("{worker}/inbox"),
            shutdown.stop(),
        )));
        tasks.push(tokio::spawn(outbox::run(
            conversations.store.clone(),
            settings.whatsapp.clone(),
            conversations.municipalities.clone(),
            client,
            wakers.outbox.clone(),
            format!("{worker}/outbox"),
            shutdown.stop(),
        )));
    }
    if settings.handoff.any_target() {
        tasks.push(tokio::spawn(platform::run(
            conversations.store.clone(),
            settings.handoff.clone(),
            conversations.municipalities.default().slug.clone(),
            shutdown.stop(),
        )));
    }
    tasks
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

/// The rows a loop claimed; on an error (the database may be down) the error is logged as
/// `what` and, after a second, `None` says to try again.
pub async fn claimed<T>(result: Result<Vec<T>, StoreError>, what: &str) -> Option<Vec<T>> {
    match result {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(error = %e, "{what}; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

/// Waits for a wake-up, the poll interval or the shutdown, whichever comes first.
pub async fn idle(wake: &Notify, stop: &mut Stop) {
    tokio::select! {
        _ = wake.notified() => {},
        _ = tokio::time::sleep(POLL) => {},
        _ = stop.wait() => {},
    }
}
