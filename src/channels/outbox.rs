//! Sending queued replies to the Graph API: one contact's replies in order, at most
//! `whatsapp.rate_limit_per_sec` per phone number, retried with backoff and jitter on 429,
//! 5xx and network errors, never on other 4xx; and each reply sent once.
//!
//! # One reply per message
//!
//! WhatsApp's Cloud API has no idempotency key: a message the API accepted cannot be
//! recognised when it is posted again, so a row must not be posted again once its send may
//! have reached the API. The rules:
//!
//! 1. **Attempted before sent.** The claim marks a row `sending`, owned by this sender
//!    (`locked_by`), and commits that *before* the HTTP request. Only `pending` rows are
//!    claimable; a `sending` row never becomes claimable by time alone (its lease runs out
//!    during a long database outage, and that was how replies went out twice).
//! 2. **The owner keeps the outcome.** Whatever the API answered (accepted, refused for
//!    good, or "try later") is handed with the row to the recorder, which writes it and,
//!    when the database cannot be written, keeps it in memory and tries again with backoff
//!    (100 ms doubling to 5 s) for as long as the process lives. Until it is written the row
//!    stays `sending` and owned, so neither this process nor any other claims it. Outcome
//!    writes are fenced on `locked_by`: an owner presumed dead (rule 3) cannot overwrite
//!    the row's new life. A claim that failed may still have committed (PostgreSQL ended
//!    the connection before the answer came back): after one, the sender gives back the
//!    `sending` rows it owns but does not know of — never posted, since it only posts rows
//!    whose claim it heard of — before it claims again.
//! 3. **Takeover only from the dead.** Every [`HEARTBEAT`] each sender bumps its counter in
//!    `outbox_senders` (and renews its rows' leases), then looks at the other owners of
//!    `sending` rows. It takes one's rows over (back to `pending`, compare-and-set on the
//!    counter) only after *it has itself watched* that counter stand still for
//!    [`PRESUMED_DEAD_AFTER`] (the lease, 30 s) in rounds in which its own heartbeat write
//!    succeeded, no more than [`MAX_WATCH_GAP`] apart ([`Watch`]). A counter rather than a
//!    time: no clocks of two machines are compared, and time during which the watcher
//!    could not write (a database outage: nobody can beat) never counts, however long the
//!    outage was. After an outage every live owner beats within a heartbeat, long before
//!    anyone has watched it stand still for 30 s.
//!
//! So while a sender lives, each row it claimed is posted by it once per claim and by
//! nobody else; it is claimed again only after its outcome ("try later") was recorded.
//! What this cannot tell apart from death is an owner that cannot write to the database
//! for a whole lease while other senders can (a network partition of one instance): its
//! rows are taken over, and those it had sent go out twice (its late outcome is refused by
//! the fence and logged).
//!
//! # After a crash
//!
//! A killed sender's unrecorded outcomes are gone. The rows that can be sent twice are
//! exactly its `sending` rows whose request the API had accepted before the kill: rows it
//! had not claimed were never posted, and rows it had recorded are `sent`/`failed`/`pending`.
//! A permit of a semaphore of [`MAX_IN_FLIGHT`] is taken before a row is claimed and given
//! back only once its outcome is written, so a sender never owns more than
//! [`MAX_IN_FLIGHT`] `sending` rows: **after a crash at most [`MAX_IN_FLIGHT`] (16) replies
//! are sent twice**, each at most twice, and only replies whose send had started. The
//! survivor (or the restarted process) sends them again after watching the dead sender's
//! heartbeat for [`PRESUMED_DEAD_AFTER`]. A graceful shutdown does not wait for the
//! recorder either, so it counts as a crash here.
//!
//! Independently of all this, a send that timed out (no answer within the client's
//! timeout) is retried, and it may have been delivered: the same limit of the API.
//! Each request carries `biz_opaque_callback_data` = `outbox:<row id>` (the Cloud API
//! returns it in delivery statuses; no personal data), so a repeated send is traceable.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::channels::whatsapp::client::{GraphClient, SendError, backoff};
use crate::channels::whatsapp::ratelimit::RateLimiter;
use crate::config::WhatsAppConfig;
use crate::content::Municipalities;
use crate::shutdown::Stop;
use crate::store::SqlStore;
use crate::store::queue::{OutboxItem, SendOutcome};

/// The lease written on claimed rows and renewed by every heartbeat, and how long another
/// sender must watch an owner's heartbeat stand still before taking its rows over.
pub const LEASE_SECS: i64 = 30;
/// Attempts before a reply is given up as `failed` (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;
/// Rows one sender owns as `sending` at most (claimed and not yet recorded): the most
/// replies a crash can make go out twice.
pub const MAX_IN_FLIGHT: usize = 16;
/// How often a sender beats and looks for dead ones.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long an owner's heartbeat must be seen standing still before it is presumed dead.
pub const PRESUMED_DEAD_AFTER: Duration = Duration::from_secs(LEASE_SECS as u64);
/// A watcher whose last successful round is longer ago than this (its database was
/// unreachable, or it was stalled) forgets what it saw and starts watching afresh.
/// Three heartbeats: one or two failed beats reset nothing.
pub const MAX_WATCH_GAP: Duration = Duration::from_secs(6);
/// The longest wait between two attempts to record outcomes.
const RECORD_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A finished send on its way to the database; the permit is given back when it is recorded.
struct Done {
    item: OutboxItem,
    outcome: SendOutcome,
    _permit: OwnedSemaphorePermit,
}

/// A sender announces itself before it owns anything, so its rows always have a heartbeat
/// to watch; senders silent for a day are forgotten.
async fn register(store: &SqlStore, worker: &str, lease: chrono::Duration) {
    let mut failures = 0;
    while let Err(e) = store.outbox_heartbeat(worker, lease).await {
        failures += 1;
        tracing::warn!(error = %e, attempt = failures, "outbox: cannot register the sender; retrying");
        tokio::time::sleep(record_backoff(failures)).await;
    }
    if let Err(e) = store
        .outbox_forget_senders(Utc::now() - chrono::Duration::days(1))
        .await
    {
        tracing::debug!(error = %e, "outbox: old senders not cleaned up");
    }
}

/// Claims and sends until `stop`; then waits until every send in flight is posted and its
/// outcome recorded, so a restart finds no row to take over.
pub async fn run(
    store: Arc<SqlStore>,
    settings: WhatsAppConfig,
    municipalities: Arc<Municipalities>,
    client: Arc<GraphClient>,
    wake: Arc<Notify>,
    worker: String,
    mut stop: Stop,
) {
    let lease = chrono::Duration::seconds(LEASE_SECS);
    register(&store, &worker, lease).await;
    let heartbeat = tokio::spawn(watch(store.clone(), worker.clone(), wake.clone()));
    // The rows this sender is posting or recording (claimed, not yet recorded), by id with
    // the claim's attempt number (a row recorded for a retry and claimed again at once is
    // not forgotten by the recorder of its previous attempt).
    let in_flight: Arc<Mutex<HashMap<i64, i64>>> = Arc::default();
    let (done_tx, done_rx) = unbounded_channel();
    let recorder = tokio::spawn(record(
        store.clone(),
        done_rx,
        in_flight.clone(),
        wake.clone(),
    ));

    let limiter = RateLimiter::new(settings.rate_limit_per_sec.max(1));
    let permits_left = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let known = || lock(&in_flight).keys().copied().collect::<HashSet<i64>>();
    let mut claim_failed = false;
    while !stop.is_set() {
        if claim_failed {
            // Only this loop claims, so no claim can commit while this runs.
            match store.outbox_release_unknown(&worker, known).await {
                Ok(released) => {
                    claim_failed = false;
                    if released > 0 {
                        tracing::warn!(
                            rows = released,
                            "outbox: a failed claim had committed; its rows, never sent, are pending again"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: cannot check for rows of a failed claim; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let first = tokio::select! {
            permit = permits_left.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait() => break,
        };
        let mut permits = vec![first];
        while permits.len() < MAX_IN_FLIGHT {
            match permits_left.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let items = match store
            .claim_outbox(&worker, permits.len() as i64, lease)
            .await
        {
            Ok(items) => items,
            Err(e) => {
                drop(permits);
                claim_failed = true;
                tracing::warn!(error = %e, "outbox: cannot claim replies; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if items.is_empty() {
            drop(permits);
            super::idle(&wake, &mut stop).await;
            continue;
        }
        if items.len() > permits.len() {
            // More rows than asked for (the store's claim should never do this): post only
            // as many as there are permits; the rest, never posted, are given back.
            tracing::warn!(
                claimed = items.len(),
                limit = permits.len(),
                "outbox: the claim returned more rows than asked; giving the rest back"
            );
            claim_failed = true;
        }
        let items: Vec<OutboxItem> = items.into_iter().take(permits.len()).collect();
        lock(&in_flight).extend(items.iter().map(|i| (i.id, i.attempts)));
        // Permits beyond the rows claimed are dropped with the iterator.
        for (item, permit) in items.into_iter().zip(permits) {
            // Each municipality's replies leave from its own number, at that number's rate.
            let number = municipalities.sending_number(&item.municipality);
            limiter.acquire(&number).await;
            shared_slot(&store, &number, limiter.per_sec()).await;
            let (client, done_tx) = (client.clone(), done_tx.clone());
            tokio::spawn(async move {
                let outcome = send(&client, &item, &number).await;
                let done = Done {
                    item,
                    outcome,
                    _permit: permit,
                };
                // The recorder lives as long as this loop holds a sender.
                let _ = done_tx.send(done);
            });
        }
    }
    // The recorder ends once every send in flight has handed over its outcome and all of
    // them are written.
    drop(done_tx);
    let _ = recorder.await;
    heartbeat.abort();
    tracing::info!("outbox: stopped; every reply in flight was sent and recorded");
}

/// Waits for a send of `number` within its rate across every instance on this PostgreSQL
/// database (the local limiter already keeps this instance to the rate; one SQLite file has
/// one instance). A database error lets the send go: the local limit still holds.
async fn shared_slot(store: &SqlStore, number: &str, per_sec: u32) {
    if !store.is_postgres() || per_sec == 0 {
        return;
    }
    loop {
        let now = Utc::now();
        match store.take_send_slot(number, now.timestamp(), per_sec).await {
            Ok(true) => return,
            Ok(false) => {
                let into = u64::from(now.timestamp_subsec_millis());
                tokio::time::sleep(Duration::from_millis(1000 - into.min(999))).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot share the send rate; sending at this instance's rate");
                return;
            }
        }
    }
}

/// Posts one claimed row from the business number `number`; what became of it.
async fn send(client: &GraphClient, item: &OutboxItem, number: &str) -> SendOutcome {
    let Some(address) = item.address.clone() else {
        return SendOutcome::Failed {
            error: "the contact's address is gone (purged?)".into(),
        };
    };
    let mut body = item.body.clone();
    body["to"] = serde_json::Value::String(address);
    body["biz_opaque_callback_data"] = serde_json::Value::String(format!("outbox:{}", item.id));
    match client.send_from(number, &body).await {
        Ok(ok) => SendOutcome::Sent {
            external_id: ok.message_id,
        },
        Err(e) => {
            let retry_at = match &e {
                SendError::Retryable { retry_after, .. } if item.attempts < MAX_ATTEMPTS => {
                    let wait = retry_after.unwrap_or_else(|| backoff(item.attempts as u32));
                    Some(
                        Utc::now()
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::seconds(60)),
                    )
                }
                _ => None,
            };
            tracing::warn!(
                outbox_id = item.id,
                attempt = item.attempts,
                retry = retry_at.is_some(),
                error = %e,
                "outbox: send failed"
            );
            match retry_at {
                Some(at) => SendOutcome::Retry {
                    at,
                    error: e.to_string(),
                },
                None => SendOutcome::Failed {
                    error: e.to_string(),
                },
            }
        }
    }
}

/// Writes outcomes, several per transaction, until each is written: a database that is
/// down only delays them (rule 2 of the module docs).
async fn record(
    store: Arc<SqlStore>,
    mut done_rx: UnboundedReceiver<Done>,
    in_flight: Arc<Mutex<HashMap<i64, i64>>>,
    wake: Arc<Notify>,
) {
    let mut batch: Vec<Done> = Vec::new();
    let mut failures = 0u32;
    loop {
        if batch.is_empty() {
            match done_rx.recv().await {
                Some(done) => batch.push(done),
                None => return,
            }
        }
        while let Ok(done) = done_rx.try_recv() {
            batch.push(done);
        }
        let outcomes: Vec<_> = batch.iter().map(|d| (&d.item, &d.outcome)).collect();
        match store.outbox_record(&outcomes).await {
            Ok(applied) => {
                for (done, applied) in batch.iter().zip(applied) {
                    if !applied {
                        // Or an earlier attempt of this batch committed unheard.
                        tracing::warn!(
                            outbox_id = done.item.id,
                            "outbox: outcome not recorded, the row is no longer ours (taken \
                             over by another sender while the outcome waited for the \
                             database? then its reply may go out twice)"
                        );
                    }
                }
                {
                    let mut in_flight = lock(&in_flight);
                    for done in &batch {
                        if in_flight.get(&done.item.id) == Some(&done.item.attempts) {
                            in_flight.remove(&done.item.id);
                        }
                    }
                }
                if failures > 0 {
                    tracing::info!(
                        failed_attempts = failures,
                        rows = batch.len(),
                        "outbox: outcomes recorded after the database came back"
                    );
                }
                // Dropping the permits lets the claim loop take new rows.
                batch.clear();
                failures = 0;
                wake.notify_one();
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    error = %e,
                    attempt = failures,
                    rows = batch.len(),
                    "outbox: cannot record send outcomes; keeping them and retrying (the rows stay ours)"
                );
                tokio::time::sleep(record_backoff(failures)).await;
            }
        }
    }
}

/// A std mutex: held for a few set operations, never across an await.
fn lock(rows: &Mutex<HashMap<i64, i64>>) -> std::sync::MutexGuard<'_, HashMap<i64, i64>> {
    rows.lock().unwrap_or_else(|e| e.into_inner())
}

/// 100 ms, 200 ms, … up to [`RECORD_BACKOFF_MAX`]: short, because the rows and the permits
/// wait for it.
fn record_backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(10);
    Duration::from_millis(100)
        .saturating_mul(1 << exponent)
        .min(RECORD_BACKOFF_MAX)
}

/// Beats every [`HEARTBEAT`], and takes over the rows of senders presumed dead (rule 3 of
/// the module docs).
async fn watch(store: Arc<SqlStore>, worker: String, wake: Arc<Notify>) {
    let lease = chrono::Duration::seconds(LEASE_SECS);
    let mut watch = Watch::new(PRESUMED_DEAD_AFTER, MAX_WATCH_GAP);
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A round counts only when this sender could write: what it saw while it could not
        // says nothing about the others.
        if let Err(e) = store.outbox_heartbeat(&worker, lease).await {
            tracing::warn!(error = %e, "outbox: heartbeat not written");
            continue;
        }
        let owners = match store.outbox_sending_owners(&worker).await {
            Ok(owners) => owners,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot read the other senders");
                continue;
            }
        };
        for (owner, beat) in watch.round(Instant::now(), &owners) {
            match store.outbox_take_over(&owner, beat).await {
                Ok(0) => {}
                Ok(rows) => {
                    tracing::warn!(
                        sender = %owner,
                        rows,
                        "outbox: took over the replies of a sender presumed dead; those it \
                         had sent before it stopped go out twice"
                    );
                    wake.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "outbox: takeover failed; will retry"),
            }
        }
    }
}

/// What a sender has seen of the other senders' heartbeats: each owner's counter and since
/// when it has seen that same value, counted only over rounds no more than `max_gap` apart.
#[derive(Debug)]
pub struct Watch {
    dead_after: Duration,
    max_gap: Duration,
    last_round: Option<Instant>,
    seen: HashMap<String, (Option<i64>, Instant)>,
}

impl Watch {
    pub fn new(dead_after: Duration, max_gap: Duration) -> Watch {
        Watch {
            dead_after,
            max_gap,
            last_round: None,
            seen: HashMap::new(),
        }
    }

    /// One successful round at `now`: the owners of `sending` rows with their counters
    /// (`None`: never beat). Returns those presumed dead, with the counter to take them over
    /// at: seen unchanged for `dead_after` without a gap between rounds over `max_gap`.
    pub fn round(
        &mut self,
        now: Instant,
        owners: &[(String, Option<i64>)],
    ) -> Vec<(String, Option<i64>)> {
        let continuous = self
            .last_round
            .is_some_and(|last| now.saturating_duration_since(last) <= self.max_gap);
        if !continuous {
            self.seen.clear();
        }
        self.last_round = Some(now);
        let mut seen = HashMap::with_capacity(owners.len());
        let mut dead = Vec::new();
        for (owner, beat) in owners {
            let since = match self.seen.get(owner) {
                Some((b, since)) if b == beat => *since,
                _ => now,
            };
            if now.saturating_duration_since(since) >= self.dead_after {
                dead.push((owner.clone(), *beat));
            }
            seen.insert(owner.clone(), (*beat, since));
        }
        self.seen = seen;
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEAD_AFTER: Duration = PRESUMED_DEAD_AFTER;
    const GAP: Duration = MAX_WATCH_GAP;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The owner's counter at `t`: how many of its beats happened at or before `t`.
    fn counter(beats: &[u64], t: u64) -> Option<i64> {
        Some(beats.iter().filter(|b| **b <= t).count() as i64)
    }

    /// Beats from `from` to `to`, gaps from `gaps` (cycled), each at most the generator's bound.
    fn schedule(from: u64, to: u64, gaps: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut t = from;
        let mut i = 0;
        while t < to {
            out.push(t);
            t += gaps[i % gaps.len()];
            i += 1;
        }
        out
    }

    /// Rounds at the cumulative sums of `steps` up to `to`, skipping those inside `outage`.
    fn rounds(to: u64, steps: &[u64], outage: (u64, u64)) -> Vec<u64> {
        let mut out = Vec::new();
        let mut t = 0;
        let mut i = 0;
        while t < to {
            if t < outage.0 || t >= outage.1 {
                out.push(t);
            }
            t += steps[i % steps.len()];
            i += 1;
        }
        out
    }

    proptest! {
        /// A live owner is never presumed dead, even across a database outage of any length
        /// during which neither it can beat nor the watcher complete a round, as long as it
        /// beats at least every `HEARTBEAT + 1 s` whenever the database is up and the
        /// watcher's rounds are at most `MAX_WATCH_GAP` apart outside the outage.
        #[test]
        fn a_live_owner_is_never_presumed_dead(
            beat_gaps in prop::collection::vec(1u64..=3_000, 1..20),
            round_steps in prop::collection::vec(1u64..=6_000, 1..20),
            outage_start in 0u64..120_000,
            outage_len in 0u64..200_000,
        ) {
            let end = 400_000;
            let outage = (outage_start, outage_start + outage_len);
            let before = schedule(0, outage.0, &beat_gaps);
            // After the outage the owner's first beat comes within one heartbeat interval.
            let after = schedule(outage.1 + beat_gaps[0], end, &beat_gaps);
            let beats: Vec<u64> = before.into_iter().chain(after).collect();
            let start = Instant::now();
            let mut watch = Watch::new(DEAD_AFTER, GAP);
            for t in rounds(end, &round_steps, outage) {
                let owners = [("a".to_string(), counter(&beats, t))];
                let dead = watch.round(start + ms(t), &owners);
                prop_assert!(dead.is_empty(), "presumed dead at {t} ms: {beats:?}");
            }
        }

        /// An owner that stopped beating is presumed dead once the watcher has seen it
        /// standing still for `PRESUMED_DEAD_AFTER`, at the latest one lease and two round
        /// steps after its last beat; the counter to take over at is its last one.
        #[test]
        fn a_dead_owner_is_presumed_dead_within_a_lease_and_two_rounds(
            beat_gaps in prop::collection::vec(1u64..=3_000, 1..20),
            round_steps in prop::collection::vec(1u64..=6_000, 1..20),
            died_at in 0u64..100_000,
        ) {
            let beats = schedule(0, died_at, &beat_gaps);
            let last = beats.last().copied().unwrap_or(0);
            let start = Instant::now();
            let mut watch = Watch::new(DEAD_AFTER, GAP);
            let step_max = *round_steps.iter().max().unwrap();
            let limit = last + DEAD_AFTER.as_millis() as u64 + 2 * step_max;
            let mut presumed = None;
            for t in rounds(limit + 1, &round_steps, (0, 0)) {
                let owners = [("a".to_string(), counter(&beats, t))];
                if let Some(d) = watch.round(start + ms(t), &owners).pop() {
                    presumed = Some((t, d));
                    break;
                }
            }
            let (t, (owner, beat)) = presumed.expect("never presumed dead");
            prop_assert!(t <= limit);
            prop_assert!(t >= last + DEAD_AFTER.as_millis() as u64);
            prop_assert_eq!(owner, "a");
            prop_assert_eq!(beat, counter(&beats, last));
        }
    }

    #[test]
    fn a_gap_in_the_watchers_own_rounds_starts_the_watch_afresh() {
        let start = Instant::now();
        let mut watch = Watch::new(DEAD_AFTER, GAP);
        let owners = [("a".to_string(), Some(7))];
        assert!(watch.round(start, &owners).is_empty());
        // The watcher could not complete a round for a minute (its database was down):
        // the owner's counter has not moved, but that minute does not count.
        assert!(watch.round(start + ms(60_000), &owners).is_empty());
        let mut t = 60_000;
        while t < 60_000 + DEAD_AFTER.as_millis() as u64 {
            t += 2_000;
            let dead = watch.round(start + ms(t), &owners);
            assert_eq!(dead.is_empty(), t < 90_000, "at {t} ms");
        }
        // An owner whose rows were all taken over is forgotten.
        assert!(watch.round(start + ms(t + 1_000), &[]).is_empty());
        assert!(watch.seen.is_empty());
    }

    #[test]
    fn record_backoff_grows_to_its_cap() {
        assert_eq!(record_backoff(1), ms(100));
        assert_eq!(record_backoff(2), ms(200));
        assert_eq!(record_backoff(6), ms(3_200));
        assert_eq!(record_backoff(7), RECORD_BACKOFF_MAX);
        assert_eq!(record_backoff(u32::MAX), RECORD_BACKOFF_MAX);
    }
}
