//! Secrets: named values an upstream version sends as its auth header. The events they write
//! name the secret and never carry its value.

use rusqlite::OptionalExtension;
use serde_json::json;

use super::{Store, StoreError, now, record_event};

impl Store {
    /// Sets (or replaces) a secret; says whether it replaced one.
    pub async fn set_secret(
        &self,
        actor: &str,
        name: &str,
        value: String,
    ) -> Result<bool, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let had: Option<String> = tx
                .query_row("SELECT name FROM secrets WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute(
                "INSERT INTO secrets (name, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (&name, &value, now()),
            )?;
            let kind = if had.is_some() { "secret.replaced" } else { "secret.set" };
            record_event(tx, &actor, kind, &name, &json!({}))?;
            Ok(had.is_some())
        })
        .await
    }

    /// Removes a secret; false when there was none.
    pub async fn remove_secret(&self, actor: &str, name: &str) -> Result<bool, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let gone = tx.execute("DELETE FROM secrets WHERE name = ?1", [&name])? > 0;
            if gone {
                record_event(tx, &actor, "secret.removed", &name, &json!({}))?;
            }
            Ok(gone)
        })
        .await
    }

    /// Every secret's name and when it was last set, by name (never the values).
    pub fn secret_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name, updated_at FROM secrets ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every secret with its value, for the gateway's copy.
    pub fn secret_values(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name, value FROM secrets")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
