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

use crate::store::{SqlStore, StoreError, timestamp};

pub use crate::store::archive::{
    ArchivedConversation, ArchivedHandoff, ArchivedMessage, ArchivedNote,
};
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

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_path_buf();
    move |source| ArchiveError::Io { path, source }
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

/// The conversations whose last activity falls in `[start, end)`, oldest first, with their
/// handoffs, notes and messages; message metadata without the keys that could carry personal
/// data ([`META_DROPPED`]).
pub async fn load_conversations(
    store: &SqlStore,
    start: &str,
    end: &str,
    municipality: Option<&str>,
) -> Result<Vec<ArchivedConversation>, StoreError> {
    let mut conversations = store
        .archived_conversations(start, end, municipality)
        .await?;
    for m in conversations.iter_mut().flat_map(|c| c.messages.iter_mut()) {
        m.meta = clean_meta(m.meta.take());
    }
    Ok(conversations)
}

/// The phone numbers (and their national form) of the contacts of these conversations: what
/// must appear in no exported file.
pub async fn contact_addresses(
    store: &SqlStore,
    conversations: &[ArchivedConversation],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for c in conversations {
        for address in store
            .contact_addresses_of(&c.id, c.contact_id.as_deref())
            .await?
        {
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

fn clean_meta(value: Option<serde_json::Value>) -> Option<serde_json::Value> {
    let mut value = value?;
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !META_DROPPED.contains(&k.to_ascii_lowercase().as_str()));
    }
    Some(value)
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
        let m = clean_meta(Some(serde_json::json!(
            {"mime_type":"image/jpeg","filename":"paspoort_jansen.jpg","size":12}
        )))
        .unwrap();
        assert_eq!(m["mime_type"], "image/jpeg");
        assert!(m.get("filename").is_none());
    }
}
