//! The archive: exporting conversations for the records officer (Archiefwet) and deleting
//! them once the retention period is over (AVG). Both work on [`SqlStore`] directly and take
//! the current time as an argument, so tests can fix it.
//!
//! - [`mod@export`]: a folder per period with `conversations.jsonl`, readable HTML transcripts in
//!   Dutch, an index, optionally `klantcontacten.jsonl` (the shape of a VNG Klantinteracties
//!   `klantcontact`), `manifest.json` and `SHA256SUMS`; [`export::verify`] checks a folder.
//! - [`mod@purge`]: deletes conversations (with their messages, handoffs, notes, outbox and inbox
//!   rows) whose last activity is older than the retention period, and contacts (with their
//!   phone numbers) nothing refers to any more. Open handoffs are never deleted.
//! - [`html`]: the transcripts and the index.
//!
//! What never leaves the database: `contacts.address` (the citizen's WhatsApp number), the
//! channel's message ids (a WhatsApp `wamid` encodes the phone number), the raw inbound
//! payloads and the dialogue context.

pub mod export;
pub mod html;
pub mod purge;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{SqlStore, StoreError, timestamp};

pub use export::{ExportOptions, ExportReport, VerifyReport, export, verify};
pub use purge::{PurgeOptions, PurgeReport, purge};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} already exists and is not empty; choose another --out or pass --force to replace it"
    )]
    Exists(std::path::PathBuf),
    #[error("invalid period: {0}")]
    Period(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        ArchiveError::Store(e.into())
    }
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_path_buf();
    move |source| ArchiveError::Io { path, source }
}

/// One conversation with everything an archive keeps of it.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedConversation {
    pub id: String,
    pub channel: String,
    pub status: String,
    pub department: Option<String>,
    /// A keyed hash of the contact's address, never the address itself.
    pub contact_id: Option<String>,
    pub agent_id: Option<String>,
    pub waiting_since: Option<String>,
    pub resolved_at: Option<String>,
    pub created_at: String,
    /// The last activity; the period of an export and the retention are measured on it.
    pub updated_at: String,
    pub handoffs: Vec<ArchivedHandoff>,
    pub notes: Vec<ArchivedNote>,
    pub messages: Vec<ArchivedMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivedMessage {
    pub id: i64,
    /// `in` (from the citizen) or `out`.
    pub direction: String,
    /// `citizen`, `bot` or `agent`.
    pub sender: String,
    pub agent_id: Option<String>,
    pub channel: String,
    /// `text`, `button_reply`, `image`, …, `template`, `interactive`.
    pub kind: String,
    /// As the privacy guard left it: personal data replaced by placeholders such as `[BSN]`.
    pub text: String,
    /// The kinds of personal data removed from the text (`bsn`, `iban`, …).
    pub pii: Vec<String>,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub confidence: Option<f64>,
    pub faq_id: Option<String>,
    /// Delivery status reported by the channel (`sent`, `delivered`, `read`, `failed`).
    pub status: Option<String>,
    pub status_at: Option<String>,
    pub response_ms: Option<i64>,
    /// What was recorded about media (type, size; never its content).
    pub meta: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivedHandoff {
    pub id: i64,
    pub department: String,
    pub reason: String,
    pub status: String,
    pub agent_id: Option<String>,
    pub within_office_hours: bool,
    pub created_at: String,
    pub claimed_at: Option<String>,
    pub first_reply_at: Option<String>,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivedNote {
    pub id: i64,
    pub agent_id: String,
    pub text: String,
    pub created_at: String,
}

/// Local dates (Europe/Amsterdam, both inclusive) as a half-open range of UTC timestamps in
/// the store's format, which compare lexically: `[start of from, start of the day after to)`.
pub fn period_bounds(from: NaiveDate, to: NaiveDate) -> (String, String) {
    (
        timestamp(local_midnight(from)),
        timestamp(local_midnight(to.succ_opt().unwrap_or(to))),
    )
}

fn local_midnight(day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Clocks in the Netherlands change at 02:00/03:00, so midnight always exists once; the
    // fallback only guards against a future rule change.
    Amsterdam
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

const CONVERSATION_COLUMNS: &str = "id, channel, status, department, contact_id, agent_id, \
     waiting_since, resolved_at, created_at, updated_at";

/// The conversations whose last activity falls in `[start, end)`, oldest first, with their
/// handoffs, notes and messages.
pub async fn load_conversations(
    store: &SqlStore,
    start: &str,
    end: &str,
) -> Result<Vec<ArchivedConversation>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations \
         WHERE updated_at >= $1 AND updated_at < $2 ORDER BY updated_at, id"
    ))
    .bind(start)
    .bind(end)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut c = conversation_from_row(r)?;
        c.messages = load_messages(store, &c.id).await?;
        c.handoffs = load_handoffs(store, &c.id).await?;
        c.notes = load_notes(store, &c.id).await?;
        out.push(c);
    }
    Ok(out)
}

/// The phone numbers (and their national form) of the contacts of these conversations: what
/// must appear in no exported file.
pub async fn contact_addresses(
    store: &SqlStore,
    conversations: &[ArchivedConversation],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for c in conversations {
        let rows =
            sqlx::query("SELECT address FROM contacts WHERE conversation_id = $1 OR id = $2")
                .bind(&c.id)
                .bind(c.contact_id.as_deref().unwrap_or(""))
                .fetch_all(store.pool())
                .await?;
        for r in rows {
            let address: String = r.try_get("address")?;
            for variant in address_variants(&address) {
                if !out.contains(&variant) {
                    out.push(variant);
                }
            }
        }
    }
    // Longest first, so "31612345678" is replaced before its tail "612345678" could be.
    out.sort_by_key(|a| std::cmp::Reverse(a.len()));
    Ok(out)
}

/// "31612345678" → itself, "+31612345678" is covered by it, and "0612345678" (national form).
fn address_variants(address: &str) -> Vec<String> {
    let digits: String = address.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = Vec::new();
    // Very short values would replace ordinary numbers in texts; WhatsApp numbers are longer.
    if digits.len() >= 8 {
        if let Some(national) = digits.strip_prefix("31") {
            out.push(format!("0{national}"));
        }
        out.push(digits);
    }
    let trimmed = address.trim();
    if trimmed.len() >= 8 && !out.iter().any(|o| o == trimmed) {
        out.push(trimmed.to_string());
    }
    out
}

fn conversation_from_row(r: &AnyRow) -> Result<ArchivedConversation, sqlx::Error> {
    Ok(ArchivedConversation {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        status: r.try_get("status")?,
        department: r.try_get("department")?,
        contact_id: r.try_get("contact_id")?,
        agent_id: r.try_get("agent_id")?,
        waiting_since: r.try_get("waiting_since")?,
        resolved_at: r.try_get("resolved_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        handoffs: Vec::new(),
        notes: Vec::new(),
        messages: Vec::new(),
    })
}

/// Keys of message metadata that could carry personal data (a file name, a caption, the
/// sender's number); the rest (type, size, hash) is kept.
const META_DROPPED: &[&str] = &[
    "filename",
    "file_name",
    "caption",
    "from",
    "wa_id",
    "phone",
    "address",
    "name",
    "url",
    "link",
];

fn clean_meta(raw: Option<String>) -> Option<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_str(raw.as_deref()?).ok()?;
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !META_DROPPED.contains(&k.to_ascii_lowercase().as_str()));
    }
    Some(value)
}

async fn load_messages(store: &SqlStore, id: &str) -> Result<Vec<ArchivedMessage>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, direction, sender, agent_id, channel, kind, text, pii, intent, action, \
         confidence, faq_id, status, status_at, response_ms, meta, created_at \
         FROM messages WHERE conversation_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let pii: String = r.try_get("pii")?;
        out.push(ArchivedMessage {
            id: r.try_get("id")?,
            direction: r.try_get("direction")?,
            sender: r.try_get("sender")?,
            agent_id: r.try_get("agent_id")?,
            channel: r.try_get("channel")?,
            kind: r.try_get("kind")?,
            text: r.try_get("text")?,
            pii: pii
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            intent: r.try_get("intent")?,
            action: r.try_get("action")?,
            confidence: r.try_get("confidence")?,
            faq_id: r.try_get("faq_id")?,
            status: r.try_get("status")?,
            status_at: r.try_get("status_at")?,
            response_ms: r.try_get("response_ms")?,
            meta: clean_meta(r.try_get("meta")?),
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(out)
}

async fn load_handoffs(store: &SqlStore, id: &str) -> Result<Vec<ArchivedHandoff>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, department, reason, status, agent_id, within_office_hours, created_at, \
         claimed_at, first_reply_at, resolved_at FROM handoffs WHERE conversation_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(ArchivedHandoff {
            id: r.try_get("id")?,
            department: r.try_get("department")?,
            reason: r.try_get("reason")?,
            status: r.try_get("status")?,
            agent_id: r.try_get("agent_id")?,
            within_office_hours: r.try_get::<i64, _>("within_office_hours")? != 0,
            created_at: r.try_get("created_at")?,
            claimed_at: r.try_get("claimed_at")?,
            first_reply_at: r.try_get("first_reply_at")?,
            resolved_at: r.try_get("resolved_at")?,
        });
    }
    Ok(out)
}

async fn load_notes(store: &SqlStore, id: &str) -> Result<Vec<ArchivedNote>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, agent_id, text, created_at FROM notes WHERE conversation_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(ArchivedNote {
            id: r.try_get("id")?,
            agent_id: r.try_get("agent_id")?,
            text: r.try_get("text")?,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_period_is_local_days() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Winter time: UTC+1.
        assert_eq!(
            period_bounds(d("2026-11-01"), d("2026-11-01")),
            (
                "2026-10-31T23:00:00.000Z".to_string(),
                "2026-11-01T23:00:00.000Z".to_string()
            )
        );
        // Summer time: UTC+2; the day clocks go back (25 hours) ends at 23:00 UTC.
        assert_eq!(
            period_bounds(d("2026-10-25"), d("2026-10-25")),
            (
                "2026-10-24T22:00:00.000Z".to_string(),
                "2026-10-25T23:00:00.000Z".to_string()
            )
        );
    }

    #[test]
    fn archive_address_variants_cover_national_form() {
        let v = address_variants("31612345678");
        assert!(v.contains(&"31612345678".to_string()));
        assert!(v.contains(&"0612345678".to_string()));
        assert!(address_variants("123").is_empty());
    }

    #[test]
    fn archive_meta_drops_file_names() {
        let m = clean_meta(Some(
            r#"{"mime_type":"image/jpeg","filename":"paspoort_jansen.jpg","size":12}"#.into(),
        ))
        .unwrap();
        assert_eq!(m["mime_type"], "image/jpeg");
        assert!(m.get("filename").is_none());
    }
}
