//! The rows the reports ([`crate::reports`]) are computed from: the conversations created in
//! a period and their messages and handoffs. Plain SQL that runs unchanged on SQLite and
//! PostgreSQL; timestamps stay the stored text (RFC 3339, UTC, milliseconds), which compares
//! lexically, so the period is a half-open range of such texts. Filtering by channel and
//! department and every figure are the reports' business, not the store's.

use super::{Channel, Direction, HandoffStatus, Sender, SqlStore, StoreError};

/// A conversation created in the period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportConversation {
    pub id: String,
    pub channel: Channel,
    pub department: Option<String>,
    pub created_at: String,
}

/// A message of one of the period's conversations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportMessage {
    pub conversation_id: String,
    pub direction: Direction,
    pub sender: Sender,
    /// Kinds of personal data removed, comma-separated.
    pub pii: String,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub faq_id: Option<String>,
    pub response_ms: Option<i64>,
    pub created_at: String,
}

/// A handoff of one of the period's conversations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportHandoff {
    pub conversation_id: String,
    pub status: HandoffStatus,
    pub created_at: String,
    pub first_reply_at: Option<String>,
    /// 0 or 1, as stored on both databases.
    pub within_office_hours: i64,
}

/// A citizen message the bot decided on (`action` set), for the list of unanswered questions.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CitizenDecision {
    pub conversation_id: String,
    pub text: String,
    pub intent: Option<String>,
    pub action: String,
    pub confidence: Option<f64>,
    /// `text`, `button_reply`, `image`, …
    pub kind: String,
    pub created_at: String,
}

/// A report's period `[start, end)` (stored timestamps) of one municipality (its slug).
#[derive(Debug, Clone, Copy)]
pub struct Period<'a> {
    pub start: &'a str,
    pub end: &'a str,
    pub municipality: &'a str,
    /// The default municipality also owns conversations stored without one.
    pub is_default: bool,
}

impl SqlStore {
    /// The rows of `sql`, whose `$1` and `$2` are the period's start and end and `$3` and
    /// `$4` the municipality's slug (and `''` for the default one): a report never reads
    /// another municipality's conversations.
    async fn in_period<T>(&self, sql: &str, p: &Period<'_>) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql)
            .bind(p.start)
            .bind(p.end)
            .bind(p.municipality)
            .bind(if p.is_default { "" } else { p.municipality })
            .fetch_all(self.pool())
            .await?)
    }

    /// Conversations created in `[start, end)`.
    pub async fn report_conversations(
        &self,
        p: &Period<'_>,
    ) -> Result<Vec<ReportConversation>, StoreError> {
        self.in_period(
            "SELECT id, channel, department, created_at FROM conversations \
             WHERE created_at >= $1 AND created_at < $2 AND municipality IN ($3, $4)",
            p,
        )
        .await
    }

    /// The messages of the conversations created in `[start, end)`, by conversation, oldest
    /// first.
    pub async fn report_messages(&self, p: &Period<'_>) -> Result<Vec<ReportMessage>, StoreError> {
        self.in_period(
            "SELECT m.conversation_id, m.direction, m.sender, m.pii, m.intent, m.action, m.faq_id, \
             m.response_ms, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.created_at >= $1 AND c.created_at < $2 AND c.municipality IN ($3, $4) \
             ORDER BY m.conversation_id, m.id",
            p,
        )
        .await
    }

    /// The handoffs of the conversations created in `[start, end)`, oldest first.
    pub async fn report_handoffs(&self, p: &Period<'_>) -> Result<Vec<ReportHandoff>, StoreError> {
        self.in_period(
            "SELECT h.conversation_id, h.status, h.created_at, h.first_reply_at, h.within_office_hours \
             FROM handoffs h JOIN conversations c ON c.id = h.conversation_id \
             WHERE c.created_at >= $1 AND c.created_at < $2 AND c.municipality IN ($3, $4) ORDER BY h.id",
            p,
        )
        .await
    }

    /// The citizen messages the bot decided on, of the conversations created in
    /// `[start, end)`, in order of arrival.
    pub async fn citizen_decisions(
        &self,
        p: &Period<'_>,
    ) -> Result<Vec<CitizenDecision>, StoreError> {
        self.in_period(
            "SELECT m.conversation_id, m.text, m.intent, m.action, m.confidence, m.kind, m.created_at \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.created_at >= $1 AND c.created_at < $2 AND c.municipality IN ($3, $4) \
             AND m.direction = 'in' AND m.sender = 'citizen' AND m.action IS NOT NULL \
             ORDER BY m.created_at, m.id",
            p,
        )
        .await
    }
}
