//! API keys for the handoff, report and admin APIs. A key is shown once when created
//! (`loket_<id>_<secret>`); only its SHA-256 is stored, so a leaked database does not leak
//! working keys. Keys are random (160 bits), so a fast hash is enough (no password hashing).

use std::fmt;
use std::str::FromStr;

use chrono::Utc;
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{SqlStore, StoreError, timestamp};

/// What a key may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Contact-centre agents and webcare platforms: the handoff API.
    Agent,
    /// Content editors: reports, preview, reload.
    Editor,
    /// IT staff: everything, including archive and keys.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Agent => "agent",
            Scope::Editor => "editor",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "agent" => Ok(Scope::Agent),
            "editor" => Ok(Scope::Editor),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope \"{other}\": use agent, editor or admin"
            )),
        }
    }
}

/// A key as stored (never the key itself).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The municipalities (slugs) it may act for; empty: every one (supplier-wide).
    pub municipalities: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether it may act for the municipality `slug`.
    pub fn serves(&self, slug: &str) -> bool {
        self.municipalities.is_empty() || self.municipalities.iter().any(|m| m == slug)
    }

    /// A key of every municipality (supplier-wide).
    pub fn is_supplier_wide(&self) -> bool {
        self.municipalities.is_empty()
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn parse_scopes(s: &str) -> Vec<Scope> {
    s.split(',').filter_map(|p| p.parse().ok()).collect()
}

/// [`ApiKey`] as stored: the scopes are one comma-separated text (unknown ones are skipped,
/// so a key of a newer version keeps the scopes this one knows).
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    municipalities: String,
    created_at: String,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: r.id,
            name: r.name,
            scopes: parse_scopes(&r.scopes),
            municipalities: r
                .municipalities
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

impl SqlStore {
    /// Creates a key for every municipality and returns it in full: the only time it is
    /// visible.
    pub async fn create_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(ApiKey, String), StoreError> {
        self.create_key_for(name, scopes, &[]).await
    }

    /// Creates a key that acts for `municipalities` only (slugs; empty: every one).
    pub async fn create_key_for(
        &self,
        name: &str,
        scopes: &[Scope],
        municipalities: &[String],
    ) -> Result<(ApiKey, String), StoreError> {
        let mut rng = rand::thread_rng();
        let id = format!("{:08x}", rng.r#gen::<u32>());
        let secret: String = (0..32)
            .map(|_| {
                const ALPHABET: &[u8] =
                    b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
                ALPHABET[rng.gen_range(0..ALPHABET.len())] as char
            })
            .collect();
        let key = format!("loket_{id}_{secret}");
        let scopes_text = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let now = timestamp(Utc::now());
        let writer = self.writer().await;
        let places = municipalities.join(",");
        sqlx::query(
            "INSERT INTO api_keys (id, name, hash, scopes, created_at, municipalities) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(name)
        .bind(hash_key(&key))
        .bind(&scopes_text)
        .bind(&now)
        .bind(&places)
        .execute(self.pool())
        .await?;
        drop(writer);
        self.audit(
            "cli",
            "key.created",
            None,
            &format!(
                "{id} {name} [{scopes_text}] {}",
                if places.is_empty() { "*" } else { &places }
            ),
        )
        .await?;
        Ok((
            ApiKey {
                id,
                name: name.to_string(),
                scopes: scopes.to_vec(),
                municipalities: municipalities.to_vec(),
                created_at: now,
                revoked_at: None,
                last_used_at: None,
            },
            key,
        ))
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, name, scopes, municipalities, created_at, revoked_at, last_used_at FROM api_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    /// Revokes a key by its id; false when there is no such active key.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let writer = self.writer().await;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(timestamp(Utc::now()))
                .bind(id)
                .execute(self.pool())
                .await?;
        drop(writer);
        let revoked = done.rows_affected() > 0;
        if revoked {
            self.audit("cli", "key.revoked", None, id).await?;
        }
        Ok(revoked)
    }

    /// The active key with this value, if any.
    pub async fn find_key(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT id, name, scopes, municipalities, created_at, revoked_at, last_used_at \
             FROM api_keys WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_key(key))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(ApiKey::from))
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        conversation_id: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        insert_audit(self.pool(), actor, action, conversation_id, detail).await
    }
}

/// Appends a line to the audit log, in a transaction or on the pool.
pub(crate) async fn insert_audit<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    actor: &str,
    action: &str,
    conversation_id: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, conversation_id, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(timestamp(Utc::now()))
    .bind(actor)
    .bind(action)
    .bind(conversation_id)
    .bind(detail)
    .execute(executor)
    .await?;
    Ok(())
}
