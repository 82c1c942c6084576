//! The inbound queue and the outbox.
//!
//! - **Inbox**: a channel (the WhatsApp webhook) persists each inbound message here, in one
//!   transaction per delivery and deduplicated by a unique constraint on the channel's
//!   message id, *before* it acknowledges. Processors of any instance claim rows with a lease
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers anyway), one message
//!   per contact at a time and in order, so two instances never process the same message and
//!   a crashed instance's lease simply runs out.
//! - **Outbox**: replies are written in the same transaction as the decision
//!   ([`super::TurnRecord::outbox`]) and sent by a sender loop that claims due rows the same
//!   way; a crash between deciding and sending loses nothing, and `dedup_key` keeps a
//!   reprocessed message from queueing a second reply. A claimed row is `sending`: its send
//!   may have reached the channel, so only its owner records the outcome (every outcome write
//!   is fenced on `locked_by`), and a lease running out does not make it claimable again.
//!   Another sender takes it over only when the owner is presumed dead, by
//!   [`SqlStore::outbox_take_over`], after watching the owner's heartbeat
//!   ([`SqlStore::outbox_heartbeat`], table `outbox_senders`) stand still; the rules are in
//!   `src/channels/outbox.rs`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Channel, OutboxStatus, SqlStore, StoreError, timestamp};

/// An inbound message as the channel persists it (text already redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundPayload {
    /// `text`, `button_reply`, `list_reply`, `button`, `image`, `audio`, …
    pub kind: String,
    /// The redacted text, or the tapped option's title; empty for media.
    #[serde(default)]
    pub text: String,
    /// Kinds of personal data the guard removed before queueing.
    #[serde(default)]
    pub pii: Vec<String>,
    /// The tapped option's id (button / list reply, template payload).
    #[serde(default)]
    pub option_id: Option<String>,
    /// Archived metadata of media (never the content).
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
    pub sent_at: DateTime<Utc>,
    /// The municipality whose number received it (absent: the default municipality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
}

/// One inbound message to enqueue.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub channel: Channel,
    pub external_id: String,
    pub contact_id: String,
    /// The address to reply to (the WhatsApp number); stored in `contacts` only.
    pub address: String,
    pub payload: InboundPayload,
}

/// A claimed inbound message.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: i64,
    pub channel: Channel,
    pub external_id: String,
    pub contact_id: String,
    pub payload: InboundPayload,
    pub attempts: i64,
}

/// A reply to queue with the decision.
#[derive(Debug, Clone)]
pub struct OutboxDraft {
    pub dedup_key: String,
    pub contact_id: String,
    pub channel: Channel,
    /// `text`, `interactive`, `template`.
    pub kind: String,
    /// The request body without the recipient (`to` is filled in at send time).
    pub body: serde_json::Value,
}

/// A claimed outbox row, with the recipient's address.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    /// The sender that claimed it (`locked_by`): the only one whose outcome is recorded.
    pub worker: String,
    pub conversation_id: String,
    pub contact_id: String,
    pub message_id: Option<i64>,
    pub channel: Channel,
    pub kind: String,
    pub body: serde_json::Value,
    pub attempts: i64,
    pub address: Option<String>,
    /// The conversation's municipality (whose number sends it).
    pub municipality: String,
}

/// [`InboxItem`] as stored: the payload is JSON text.
#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    channel: Channel,
    external_id: String,
    contact_id: String,
    payload: String,
    attempts: i64,
}

impl TryFrom<InboxRow> for InboxItem {
    type Error = StoreError;
    fn try_from(r: InboxRow) -> Result<Self, StoreError> {
        Ok(InboxItem {
            id: r.id,
            channel: r.channel,
            external_id: r.external_id,
            contact_id: r.contact_id,
            payload: serde_json::from_str(&r.payload)
                .map_err(|e| StoreError::Database(format!("inbox payload: {e}")))?,
            attempts: r.attempts,
        })
    }
}

/// A claimed outbox row as stored: the body is JSON text.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    conversation_id: String,
    contact_id: String,
    message_id: Option<i64>,
    channel: Channel,
    kind: String,
    body: String,
    attempts: i64,
}

/// What became of one send of a claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The channel accepted the message; its id (WhatsApp's wamid) when it gave one.
    Sent { external_id: Option<String> },
    /// Not delivered; claimable again from `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Not delivered and given up (refused for good, out of attempts, no address).
    Failed { error: String },
}

/// A contact: the channel address and the WhatsApp 24-hour window.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub channel: Channel,
    pub conversation_id: Option<String>,
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// [`Contact`] as stored: the time is text.
#[derive(sqlx::FromRow)]
struct ContactRow {
    id: String,
    channel: Channel,
    conversation_id: Option<String>,
    last_inbound_at: Option<String>,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Contact {
            id: r.id,
            channel: r.channel,
            conversation_id: r.conversation_id,
            last_inbound_at: parse_time(r.last_inbound_at),
        }
    }
}

fn parse_time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl SqlStore {
    /// Persists inbound messages in one transaction; returns how many were new (the rest
    /// were duplicates of messages already queued). Opens the contact's 24-hour window.
    pub async fn enqueue_inbound(&self, items: &[NewInbound]) -> Result<usize, StoreError> {
        let _writer = self.urgent_writer().await;
        if items.is_empty() {
            return Ok(0);
        }
        let now = timestamp(Utc::now());
        let mut tx = self.begin_write().await?;
        let mut new = 0;
        for item in items {
            let payload = serde_json::to_string(&item.payload)
                .map_err(|e| StoreError::Database(e.to_string()))?;
            let done = sqlx::query(
                "INSERT INTO inbox (channel, external_id, contact_id, payload, received_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (external_id) DO NOTHING",
            )
            .bind(item.channel)
            .bind(&item.external_id)
            .bind(&item.contact_id)
            .bind(&payload)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            new += 1;
            let sent = timestamp(item.payload.sent_at);
            sqlx::query(
                "INSERT INTO contacts (id, channel, address, last_inbound_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (id) DO UPDATE SET address = excluded.address, updated_at = excluded.updated_at, \
                 last_inbound_at = CASE WHEN contacts.last_inbound_at IS NULL \
                   OR contacts.last_inbound_at < excluded.last_inbound_at \
                   THEN excluded.last_inbound_at ELSE contacts.last_inbound_at END",
            )
            .bind(&item.contact_id)
            .bind(item.channel)
            .bind(&item.address)
            .bind(&sent)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Claims up to `limit` inbound messages for `worker` for `lease`: pending ones, and
    /// ones whose lease ran out (their processor died). Only the oldest unfinished message of
    /// each contact is claimable, so a contact's messages are processed one by one, in order.
    pub async fn claim_inbound(
        &self,
        worker: &str,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<InboxItem>, StoreError> {
        let _writer = self.writer().await;
        let now = Utc::now();
        let lock = self.skip_locked();
        let sql = format!(
            "UPDATE inbox SET status = 'processing', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT i.id FROM inbox i \
               WHERE (i.status = 'pending' OR (i.status = 'processing' AND i.locked_until < $3)) \
               AND i.id = (SELECT MIN(j.id) FROM inbox j WHERE j.contact_id = i.contact_id \
                           AND j.status IN ('pending', 'processing')) \
               ORDER BY i.id LIMIT $4 {lock}) \
             AND (status = 'pending' OR (status = 'processing' AND locked_until < $3)) \
             RETURNING id, channel, external_id, contact_id, payload, attempts"
        );
        let rows: Vec<InboxRow> = self.claim_rows(&sql, worker, limit, now, lease).await?;
        let mut items = rows
            .into_iter()
            .map(InboxItem::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Gives a claimed message back after a failure: retried after `retry_in`, or marked
    /// `failed` (kept for inspection) after `max_attempts`.
    pub async fn release_inbound(
        &self,
        id: i64,
        error: &str,
        retry_in: Duration,
        max_attempts: i64,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE inbox SET status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'processing' END, \
             locked_by = NULL, locked_until = $2, last_error = $3 WHERE id = $4",
        )
        .bind(max_attempts)
        .bind(timestamp(Utc::now() + retry_in))
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Runs a claim of `claim_inbound` or `claim_outbox`, whose `sql` takes `$1` the worker,
    /// `$2` the end of its lease, `$3` now and `$4` the most rows; returns the claimed rows.
    async fn claim_rows<R>(
        &self,
        sql: &str,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql)
            .bind(worker)
            .bind(timestamp(now + lease))
            .bind(timestamp(now))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Inbound messages not yet processed (for /metrics and tests).
    pub async fn inbox_pending(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM inbox WHERE status IN ('pending', 'processing')",
        )
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        let row: Option<ContactRow> = sqlx::query_as(
            "SELECT id, channel, conversation_id, last_inbound_at FROM contacts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Contact::from))
    }

    /// Claims up to `limit` due outbox rows for `worker`: pending ones whose time has come.
    /// Only the oldest unsent row of each contact is claimable, so replies arrive in order.
    ///
    /// A claimed row is `sending` and counts as attempted: its send may reach the channel
    /// at any moment from now on. It is never claimed again by time alone (`locked_until`,
    /// `lease` from now and renewed by [`Self::outbox_heartbeat`], is informational); its
    /// owner records the outcome, or another sender takes it over with
    /// [`Self::outbox_take_over`] once the owner is known to be dead.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let writer = self.writer().await;
        let now = Utc::now();
        let lock = self.skip_locked();
        // The rows are picked once, in a materialized CTE: as `id IN (SELECT … LIMIT n FOR
        // UPDATE SKIP LOCKED)`, PostgreSQL may run the subquery more than once and update
        // more than `limit` rows (seen: 93 rows claimed with a limit of 16).
        let sql = format!(
            "WITH picked AS MATERIALIZED (SELECT o.id FROM outbox o \
               WHERE o.status = 'pending' AND o.next_attempt_at <= $3 \
               AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.contact_id = o.contact_id \
                           AND p.status IN ('pending', 'sending')) \
               ORDER BY o.id LIMIT $4 {lock}) \
             UPDATE outbox SET status = 'sending', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM picked) \
             AND status = 'pending' AND next_attempt_at <= $3 \
             RETURNING id, conversation_id, contact_id, message_id, channel, kind, body, attempts"
        );
        let rows: Vec<OutboxRow> = self.claim_rows(&sql, worker, limit, now, lease).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            items.push(OutboxItem {
                id: r.id,
                worker: worker.to_string(),
                conversation_id: r.conversation_id,
                message_id: r.message_id,
                channel: r.channel,
                kind: r.kind,
                body: serde_json::from_str(&r.body)
                    .map_err(|e| StoreError::Database(format!("outbox body: {e}")))?,
                attempts: r.attempts,
                address: None,
                municipality: String::new(),
                contact_id: r.contact_id,
            });
        }
        items.sort_by_key(|i| i.id);
        // The claim is committed; reading the addresses needs no place in the writer queue.
        drop(writer);
        for item in &mut items {
            item.address = sqlx::query_scalar("SELECT address FROM contacts WHERE id = $1")
                .bind(&item.contact_id)
                .fetch_optional(self.pool())
                .await?;
            item.municipality =
                sqlx::query_scalar("SELECT municipality FROM conversations WHERE id = $1")
                    .bind(&item.conversation_id)
                    .fetch_optional(self.pool())
                    .await?
                    .unwrap_or_default();
        }
        Ok(items)
    }

    /// Records the outcomes of sends in one transaction. Each write is fenced on the row
    /// still being `sending` and owned by the item's `worker`; returns, per outcome, whether
    /// it was applied (`false`: the row was taken over, its owner having been presumed dead).
    pub async fn outbox_record(
        &self,
        outcomes: &[(&OutboxItem, &SendOutcome)],
    ) -> Result<Vec<bool>, StoreError> {
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let mut tx = self.begin_write().await?;
        let mut applied = Vec::with_capacity(outcomes.len());
        // Fenced: only the owner's outcome counts, and only while the row is still `sending`.
        const OWNED: &str = "id = $1 AND status = 'sending' AND locked_by = $2";
        for (item, outcome) in outcomes {
            let (done, message_status) = match outcome {
                SendOutcome::Sent { external_id } => {
                    let done = sqlx::query(&format!(
                        "UPDATE outbox SET status = 'sent', sent_at = $3, external_id = $4, \
                         locked_until = NULL, body = '{{}}' WHERE {OWNED}"
                    ))
                    .bind(item.id)
                    .bind(&item.worker)
                    .bind(&now)
                    .bind(external_id.as_deref())
                    .execute(&mut *tx)
                    .await?;
                    (done, Some(("sent", external_id.as_deref())))
                }
                SendOutcome::Retry { at, error } => {
                    let done = sqlx::query(&format!(
                        "UPDATE outbox SET status = 'pending', next_attempt_at = $3, last_error = $4, \
                         locked_until = NULL WHERE {OWNED}"
                    ))
                    .bind(item.id)
                    .bind(&item.worker)
                    .bind(timestamp(*at))
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                    (done, None)
                }
                SendOutcome::Failed { error } => {
                    let done = sqlx::query(&format!(
                        "UPDATE outbox SET status = 'failed', last_error = $3, locked_until = NULL \
                         WHERE {OWNED}"
                    ))
                    .bind(item.id)
                    .bind(&item.worker)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                    (done, Some(("failed", None)))
                }
            };
            let ok = done.rows_affected() == 1;
            applied.push(ok);
            if let (true, Some(mid), Some((status, external_id))) =
                (ok, item.message_id, message_status)
            {
                sqlx::query(
                    "UPDATE messages SET status = $1, status_at = $2, \
                     external_id = COALESCE($3, external_id) WHERE id = $4",
                )
                .bind(status)
                .bind(&now)
                .bind(external_id)
                .bind(mid)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// The channel accepted the message: mark it sent, with the channel's message id
    /// ([`Self::outbox_record`] for one row).
    pub async fn outbox_sent(
        &self,
        item: &OutboxItem,
        external_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let outcome = SendOutcome::Sent {
            external_id: external_id.map(str::to_string),
        };
        self.outbox_record(&[(item, &outcome)]).await.map(|_| ())
    }

    /// A send failed: retry at `next_at`, or give up (`failed`, kept with the error).
    pub async fn outbox_failed(
        &self,
        item: &OutboxItem,
        error: &str,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        let outcome = match next_at {
            Some(at) => SendOutcome::Retry { at, error },
            None => SendOutcome::Failed { error },
        };
        self.outbox_record(&[(item, &outcome)]).await.map(|_| ())
    }

    /// `worker` is alive: its heartbeat counter goes up by one (the row is created on the
    /// first beat) and the leases of its `sending` rows are renewed for `lease`.
    pub async fn outbox_heartbeat(&self, worker: &str, lease: Duration) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO outbox_senders (worker, beat, beat_at, started_at) VALUES ($1, 0, $2, $2) \
             ON CONFLICT (worker) DO UPDATE SET beat = outbox_senders.beat + 1, beat_at = excluded.beat_at",
        )
        .bind(worker)
        .bind(timestamp(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE outbox SET locked_until = $1 WHERE status = 'sending' AND locked_by = $2",
        )
        .bind(timestamp(now + lease))
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The senders other than `except` that own `sending` rows, each with its heartbeat
    /// counter (`None`: it never beat, e.g. a row claimed by a version without heartbeats).
    pub async fn outbox_sending_owners(
        &self,
        except: &str,
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT o.locked_by AS worker, s.beat AS beat FROM \
             (SELECT DISTINCT locked_by FROM outbox WHERE status = 'sending' \
              AND locked_by IS NOT NULL AND locked_by <> $1) o \
             LEFT JOIN outbox_senders s ON s.worker = o.locked_by ORDER BY o.locked_by",
        )
        .bind(except)
        .fetch_all(self.pool())
        .await?)
    }

    /// Takes over the `sending` rows of a sender presumed dead: they become pending again
    /// (due now, `last_error` saying why), provided its heartbeat is still `beat` (checked
    /// in the same statement, so a sender that beat again in the meantime keeps its rows).
    /// Its heartbeat row goes too. Returns how many rows were taken over.
    pub async fn outbox_take_over(
        &self,
        owner: &str,
        beat: Option<i64>,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let beat = beat.unwrap_or(-1);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $1, locked_by = NULL, \
             locked_until = NULL, last_error = $2 \
             WHERE status = 'sending' AND locked_by = $3 \
             AND COALESCE((SELECT s.beat FROM outbox_senders s WHERE s.worker = $3), -1) = $4",
        )
        .bind(&now)
        .bind("its sender stopped (crash?) during the send; it may have been delivered")
        .bind(owner)
        .bind(beat)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM outbox_senders WHERE worker = $1 AND beat = $2")
            .bind(owner)
            .bind(beat)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Gives back `worker`'s `sending` rows that are not in `in_flight` (the rows it knows it
    /// is sending): rows whose claim committed although the claim's answer never reached it
    /// (the connection ended on the way), so they were never posted. Fenced like an outcome.
    pub async fn outbox_release_unknown(
        &self,
        worker: &str,
        in_flight: impl Fn() -> std::collections::HashSet<i64>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'sending' AND locked_by = $1")
                .bind(worker)
                .fetch_all(self.pool())
                .await?;
        // Read after the rows: a row in flight then is in the set now, or already recorded
        // (no longer `sending`, so the fenced update below leaves it alone).
        let known = in_flight();
        let unknown: Vec<i64> = ids.into_iter().filter(|id| !known.contains(id)).collect();
        if unknown.is_empty() {
            return Ok(0);
        }
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let mut tx = self.begin_write().await?;
        let mut released = 0;
        for id in unknown {
            released += sqlx::query(
                "UPDATE outbox SET status = 'pending', next_attempt_at = $1, locked_by = NULL, \
                 locked_until = NULL WHERE id = $2 AND status = 'sending' AND locked_by = $3",
            )
            .bind(&now)
            .bind(id)
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(released)
    }

    /// Forgets senders that have not beaten since `before` and own no `sending` row.
    pub async fn outbox_forget_senders(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let done = sqlx::query(
            "DELETE FROM outbox_senders WHERE beat_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM outbox o WHERE o.status = 'sending' AND o.locked_by = outbox_senders.worker)",
        )
        .bind(timestamp(before))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A delivery status from the channel (sent, delivered, read, failed) for an outbound
    /// message. Statuses only move forward; "delivered" may be skipped by the channel.
    pub async fn update_delivery_status(
        &self,
        external_id: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let rank = |s: &str| match s {
            "pending" => 0,
            "sent" => 1,
            "delivered" => 2,
            "read" => 3,
            "failed" => 4,
            _ => 0,
        };
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, status FROM messages WHERE external_id = $1 AND direction = 'out'",
        )
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        let Some((id, current)) = row else {
            return Ok(false);
        };
        if rank(status) <= rank(current.as_deref().unwrap_or("pending")) {
            return Ok(true);
        }
        sqlx::query("UPDATE messages SET status = $1, status_at = $2 WHERE id = $3")
            .bind(status)
            .bind(timestamp(at))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(true)
    }

    /// Outbox rows by status (for tests and /metrics), in the order of the status words.
    pub async fn outbox_counts(&self) -> Result<Vec<(OutboxStatus, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status",
        )
        .fetch_all(self.pool())
        .await?)
    }
}

/// Queues a reply inside the turn's transaction; a second draft with the same `dedup_key`
/// (the same inbound message processed again) is ignored.
pub(crate) async fn insert_outbox(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    message_id: Option<i64>,
    draft: &OutboxDraft,
) -> Result<(), StoreError> {
    let now = timestamp(Utc::now());
    sqlx::query(
        "INSERT INTO outbox (dedup_key, conversation_id, contact_id, message_id, channel, kind, body, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&draft.dedup_key)
    .bind(conversation_id)
    .bind(&draft.contact_id)
    .bind(message_id)
    .bind(draft.channel)
    .bind(&draft.kind)
    .bind(draft.body.to_string())
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Points a contact at its current conversation.
    pub async fn set_contact_conversation(
        &self,
        contact_id: &str,
        conversation_id: &str,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE contacts SET conversation_id = $1, updated_at = $2 WHERE id = $3")
            .bind(conversation_id)
            .bind(timestamp(Utc::now()))
            .bind(contact_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl SqlStore {
    /// Takes one of `per_sec` sends of `number` in the second `second` (unix seconds), for
    /// every instance on this database together; false when that second is full. Old
    /// seconds are cleared now and then.
    pub async fn take_send_slot(
        &self,
        number: &str,
        second: i64,
        per_sec: u32,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let taken: Option<i64> = sqlx::query_scalar(
            "INSERT INTO send_windows (number, second, sent) VALUES ($1, $2, 1) \
             ON CONFLICT (number, second) DO UPDATE SET sent = send_windows.sent + 1 \
             WHERE send_windows.sent < $3 RETURNING sent",
        )
        .bind(number)
        .bind(second)
        .bind(i64::from(per_sec))
        .fetch_optional(self.pool())
        .await?;
        if second % 60 == 0 && taken == Some(1) {
            sqlx::query("DELETE FROM send_windows WHERE second < $1")
                .bind(second - 60)
                .execute(self.pool())
                .await?;
        }
        Ok(taken.is_some())
    }
}
