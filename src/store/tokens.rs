//! Control API tokens, stored as SHA-256 hashes: a token is 128 random bits, so a plain hash
//! is as good as a slow one and lets a request find its token by one indexed lookup.

use rusqlite::OptionalExtension;
use serde_json::json;

use super::{Store, StoreError, now, record_event};
use crate::domain::{Scope, TokenInfo};

impl Store {
    /// Stores a new live token. With `replace`, a live token of the same name is revoked in the
    /// same transaction (how the server renews its own admin token); without, the name must
    /// be free.
    pub async fn create_token(
        &self,
        actor: &str,
        name: &str,
        scope: Scope,
        hash: String,
        replace: bool,
    ) -> Result<TokenInfo, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let at = now();
            if replace {
                tx.execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                    (&name, &at),
                )?;
            } else {
                let taken: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM tokens WHERE name = ?1 AND revoked_at IS NULL",
                        [&name],
                        |r| r.get(0),
                    )
                    .optional()?;
                if taken.is_some() {
                    return Err(StoreError::Exists(format!(
                        "a token named {name:?} already exists; pick another name or revoke it first (`modeldeck tokens revoke {name}`)"
                    )));
                }
            }
            tx.execute(
                "INSERT INTO tokens (name, scope, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                (&name, scope.as_str(), &hash, &at),
            )?;
            record_event(tx, &actor, "token.created", &name, &json!({"scope": scope}))?;
            Ok(TokenInfo {
                name,
                scope,
                created_at: at,
                last_used_at: None,
                revoked_at: None,
            })
        })
        .await
    }

    /// The live token with this hash, if any.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT name, scope, created_at, last_used_at, revoked_at FROM tokens
                 WHERE hash = ?1 AND revoked_at IS NULL",
                [hash],
                token_row,
            )
            .optional()?)
        })
    }

    /// The hashes of every live token (for the identity proof).
    pub fn live_token_hashes(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT hash FROM tokens WHERE revoked_at IS NULL")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every token, live ones first, newest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name, scope, created_at, last_used_at, revoked_at FROM tokens
                 ORDER BY revoked_at IS NOT NULL, id DESC",
            )?;
            let rows = stmt.query_map([], token_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Revokes the live token named `name`; false when there is none.
    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<bool, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                (&name, now()),
            )?;
            if n > 0 {
                record_event(tx, &actor, "token.revoked", &name, &json!({}))?;
            }
            Ok(n > 0)
        })
        .await
    }

    /// Notes when a token was last used (at most once a minute per token, to spare the writer).
    pub async fn touch_token(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            let at = now();
            tx.execute(
                "UPDATE tokens SET last_used_at = ?2 WHERE name = ?1 AND revoked_at IS NULL
                   AND (last_used_at IS NULL OR last_used_at < ?3)",
                (&name, &at, minute_ago()),
            )?;
            Ok(())
        })
        .await
    }
}

fn minute_ago() -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn token_row(r: &rusqlite::Row) -> rusqlite::Result<TokenInfo> {
    let scope: String = r.get(1)?;
    Ok(TokenInfo {
        name: r.get(0)?,
        scope: scope.parse().unwrap_or(Scope::Viewer),
        created_at: r.get(2)?,
        last_used_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}
