//! Outbound webhook deliveries to the webcare platform. Events are written in the same
//! transaction as what caused them; a delivery loop ([`crate::channels::platform`]) sends them with
//! retries. The row id is the delivery id the platform sees, the same on every retry.

use chrono::{DateTime, Duration, Utc};

use super::{PlatformEvent, SqlStore, StoreError, timestamp};

/// A claimed delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub event: String,
    /// The exact body to POST (signed as is).
    pub payload: String,
    pub attempts: i64,
    /// The municipality of the event's conversation (whose platform receives it).
    #[sqlx(skip)]
    pub municipality: String,
    pub conversation_id: Option<String>,
}

pub(crate) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: Option<&str>,
    e: &PlatformEvent,
) -> Result<(), StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    let body = serde_json::json!({
        "id": id,
        "event": e.event,
        "created_at": timestamp(now),
        "conversation_id": conversation_id,
        "data": e.data,
    });
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, event, conversation_id, payload, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(e.event)
    .bind(conversation_id)
    .bind(body.to_string())
    .bind(timestamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Records events outside a turn (e.g. from the handoff API).
    pub async fn add_events(
        &self,
        conversation_id: Option<&str>,
        events: &[PlatformEvent],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.begin_write().await?;
        for e in events {
            insert_event(&mut tx, conversation_id, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims due deliveries, oldest first.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let _writer = self.writer().await;
        let now = Utc::now();
        let lock = self.skip_locked();
        let due = "((status = 'pending' AND next_attempt_at <= $2) OR (status = 'sending' AND locked_until < $2))";
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'sending', locked_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE {due} ORDER BY created_at, id LIMIT $3 {lock}) \
             AND {due} RETURNING id, event, payload, attempts, conversation_id"
        );
        let mut due: Vec<Delivery> = sqlx::query_as(&sql)
            .bind(timestamp(now + lease))
            .bind(timestamp(now))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        for d in &mut due {
            if let Some(c) = &d.conversation_id {
                d.municipality =
                    sqlx::query_scalar("SELECT municipality FROM conversations WHERE id = $1")
                        .bind(c)
                        .fetch_optional(self.pool())
                        .await?
                        .unwrap_or_default();
            }
        }
        Ok(due)
    }

    pub async fn delivery_done(
        &self,
        id: &str,
        outcome: Result<(), (String, Option<DateTime<Utc>>)>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        // (status, delivered_at, next_attempt_at, last_error): what is not set keeps its value.
        let (status, delivered, next, error) = match outcome {
            Ok(()) => ("delivered", Some(timestamp(Utc::now())), None, None),
            Err((error, Some(next))) => ("pending", None, Some(timestamp(next)), Some(error)),
            Err((error, None)) => ("failed", None, None, Some(error)),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, delivered_at = COALESCE($2, delivered_at), \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = COALESCE($4, last_error), \
             locked_until = NULL WHERE id = $5",
        )
        .bind(status)
        .bind(delivered)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
