//! The model repository's rows: models, their versions, and who uses them.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use super::{Store, StoreError, now, record_event};
use crate::domain::{ModelKind, ModelSummary, ModelVersion, ServedBy, ServiceUse};

/// A version about to be registered; the store assigns its number.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: String,
    pub kind: ModelKind,
    pub sha256: String,
    pub size: u64,
    pub artifact: String,
    pub source: String,
    pub description: String,
}

const VERSION_COLUMNS: &str = "m.name, v.version, v.kind, v.sha256, v.size, v.artifact, v.source, \
     v.description, v.created_at, v.id, v.served_by, v.served_by_url";

impl Store {
    /// Registers a new version of `new.name` (creating the model on its first version) and
    /// returns it with its number: one more than any version the model ever had.
    pub async fn register_version(
        &self,
        actor: &str,
        new: NewVersion,
    ) -> Result<ModelVersion, StoreError> {
        let actor = actor.to_string();
        self.write(move |tx| {
            let created = now();
            tx.execute(
                "INSERT INTO models (name, description, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO NOTHING",
                (&new.name, &new.description, &created),
            )?;
            let (model_id, version): (i64, u32) = tx.query_row(
                "SELECT id, next_version FROM models WHERE name = ?1",
                [&new.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.execute(
                "UPDATE models SET next_version = next_version + 1 WHERE id = ?1",
                [model_id],
            )?;
            tx.execute(
                "INSERT INTO model_versions
                   (model_id, version, kind, sha256, size, artifact, source, description, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                (
                    model_id,
                    version,
                    new.kind.as_str(),
                    &new.sha256,
                    new.size as i64,
                    &new.artifact,
                    &new.source,
                    &new.description,
                    &created,
                ),
            )?;
            record_event(
                tx,
                &actor,
                "model.imported",
                &format!("{}:{version}", new.name),
                &json!({"type": new.kind, "sha256": new.sha256, "size": new.size, "source": new.source}),
            )?;
            Ok(ModelVersion {
                name: new.name,
                version,
                kind: new.kind,
                sha256: new.sha256,
                size: new.size,
                artifact: new.artifact,
                source: new.source,
                description: new.description,
                created_at: created,
                used_by: Vec::new(),
                served_by: None,
            })
        })
        .await
    }

    /// All versions of a model, oldest first; `None` when there is no such model.
    pub fn model_versions(&self, name: &str) -> Result<Option<Vec<ModelVersion>>, StoreError> {
        self.read(|c| {
            let versions = query_versions(c, Some(name))?;
            Ok((!versions.is_empty()).then_some(versions))
        })
    }

    /// A model's description; `None` when there is no such model.
    pub fn model_description(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT description FROM models WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Every model, by name.
    pub fn list_models(&self) -> Result<Vec<ModelSummary>, StoreError> {
        self.read(|c| {
            let descriptions: BTreeMap<String, String> = c
                .prepare("SELECT name, description FROM models")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut by_model: BTreeMap<String, Vec<ModelVersion>> = BTreeMap::new();
            for v in query_versions(c, None)? {
                by_model.entry(v.name.clone()).or_default().push(v);
            }
            Ok(by_model
                .into_iter()
                .filter_map(|(name, versions)| {
                    let latest = versions.last()?;
                    let mut used_by: Vec<String> = versions
                        .iter()
                        .flat_map(|v| v.used_by.iter().map(|u| u.service.clone()))
                        .collect();
                    used_by.sort();
                    used_by.dedup();
                    Some(ModelSummary {
                        description: descriptions.get(&name).cloned().unwrap_or_default(),
                        kind: latest.kind,
                        latest_version: latest.version,
                        versions: versions.len() as u32,
                        size: latest.size,
                        used_by,
                        name,
                    })
                })
                .collect())
        })
    }

    /// Removes one version, or with `version = None` every version and the model itself.
    /// Refused as a whole while any of them is in service. Returns what was removed, so the
    /// caller can release artifacts nobody references any more.
    pub async fn remove_versions(
        &self,
        actor: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let doomed: Vec<ModelVersion> = query_versions(tx, Some(&name))?
                .into_iter()
                .filter(|v| version.is_none_or(|n| v.version == n))
                .collect();
            let in_service: Vec<String> = doomed
                .iter()
                .flat_map(|v| v.used_by.iter().map(move |u| format!("{} by {}", v.version, u.service)))
                .collect();
            if !in_service.is_empty() {
                return Err(StoreError::InService {
                    model: match version {
                        Some(n) => format!("{name}:{n}"),
                        None => name.clone(),
                    },
                    services: format!("version {}", in_service.join(", version ")),
                });
            }
            // A job that scores through what would go would fail at its next run: refused now.
            let total = query_versions(tx, Some(&name))?.len();
            let whole = version.is_none() || doomed.len() == total;
            let mut users = Vec::new();
            let mut jobs = tx.prepare(
                "SELECT name, json_extract(spec_json, '$.target.version') FROM jobs
                 WHERE deleted_at IS NULL AND json_extract(spec_json, '$.target.kind') = 'model'
                   AND json_extract(spec_json, '$.target.name') = ?1 ORDER BY name",
            )?;
            let rows = jobs.query_map([&name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<u32>>(1)?))
            })?;
            for row in rows {
                let (job, pinned) = row?;
                let hit = match pinned {
                    Some(v) => doomed.iter().any(|d| d.version == v),
                    None => whole,
                };
                if hit {
                    users.push(job);
                }
            }
            drop(jobs);
            if !doomed.is_empty() && !users.is_empty() {
                return Err(StoreError::Refused {
                    code: "in_use",
                    message: format!(
                        "{name} is scored by job {}: point the job elsewhere (`modeldeck jobs edit`) or delete it first",
                        users.join(", ")
                    ),
                });
            }
            for v in &doomed {
                tx.execute(
                    "DELETE FROM model_versions WHERE id = (
                       SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id
                       WHERE m.name = ?1 AND v.version = ?2)",
                    (&name, v.version),
                )?;
            }
            let left: i64 = tx.query_row(
                "SELECT count(*) FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = ?1",
                [&name],
                |r| r.get(0),
            )?;
            if left == 0 {
                tx.execute("DELETE FROM models WHERE name = ?1", [&name])?;
            }
            if !doomed.is_empty() {
                let numbers: Vec<u32> = doomed.iter().map(|v| v.version).collect();
                record_event(tx, &actor, "model.removed", &name, &json!({"versions": numbers}))?;
            }
            Ok(doomed)
        })
        .await
    }

    /// Names the upstream that serves SavedModel version `name:version`. A version a live
    /// service holds keeps its upstream (the gateway would move its traffic unannounced);
    /// naming the same one again is no change.
    pub async fn serve_saved_model(
        &self,
        actor: &str,
        name: &str,
        version: u32,
        by: ServedBy,
    ) -> Result<ModelVersion, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| serve_in(tx, &actor, &name, version, by))
            .await
    }

    /// Whether any version still references the artifact with this digest.
    pub fn artifact_referenced(&self, sha256: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM model_versions
                 WHERE sha256 = ?1 OR served_by = 'artifacts/' || ?1 || '/upstream.toml' LIMIT 1",
                [sha256],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }

    /// Digests of every artifact some version references.
    pub fn referenced_artifacts(&self) -> Result<HashSet<String>, StoreError> {
        self.read(|c| {
            Ok(c.prepare(
                "SELECT sha256 FROM model_versions
                 UNION SELECT substr(served_by, 11, 64) FROM model_versions WHERE served_by IS NOT NULL",
            )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
    }
}

/// SQL over `v` (a `model_versions` row): a SavedModel no upstream serves yet, which no
/// service may hold.
pub(super) const UNSERVED: &str = "v.kind = 'savedmodel' AND v.served_by IS NULL";

/// The refusal for a version that is [`UNSERVED`].
pub(super) fn refuse_unserved(model: &str, version: u32) -> StoreError {
    StoreError::Refused {
        code: "not_servable",
        message: crate::runtime::saved_model_needs_upstream(&format!("{model}:{version}")),
    }
}

/// [`Store::serve_saved_model`] inside a transaction (a deploy names the upstream in the same
/// transaction that creates the service).
pub(super) fn serve_in(
    tx: &rusqlite::Transaction,
    actor: &str,
    name: &str,
    version: u32,
    by: ServedBy,
) -> Result<ModelVersion, StoreError> {
    let find = |tx: &rusqlite::Transaction| -> Result<ModelVersion, StoreError> {
        query_versions(tx, Some(name))?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| {
                StoreError::Missing(format!(
                    "model {name} has no version {version}: see `modeldeck models show {name}`"
                ))
            })
    };
    let v = find(tx)?;
    if v.kind != ModelKind::SavedModel {
        return Err(StoreError::Refused {
            code: "not_saved_model",
            message: crate::control::not_saved_model(&format!("{name}:{version}"), v.kind),
        });
    }
    if v.served_by.as_ref() == Some(&by) {
        return Ok(v);
    }
    if let (Some(old), Some(user)) = (&v.served_by, v.used_by.first()) {
        return Err(StoreError::Refused {
            code: "in_service",
            message: format!(
                "{name}:{version} is served by {} for service {}, and keeps that upstream while a service holds it; for another, import the SavedModel again and name the new version's upstream (`modeldeck models upstream {name}:NEW URL`, then `modeldeck services add-version {}`)",
                old.url, user.service, user.service
            ),
        });
    }
    tx.execute(
        "UPDATE model_versions SET served_by = ?1, served_by_url = ?2
         WHERE id = (SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id
                     WHERE m.name = ?3 AND v.version = ?4)",
        (&by.artifact, &by.url, name, version),
    )?;
    record_event(
        tx,
        actor,
        "model.served_by",
        &format!("{name}:{version}"),
        &json!({"url": by.url}),
    )?;
    find(tx)
}

/// Versions (of one model, or all), ordered by model then version, with their live services.
fn query_versions(c: &Connection, name: Option<&str>) -> Result<Vec<ModelVersion>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id
         WHERE ?1 IS NULL OR m.name = ?1 ORDER BY m.name, v.version"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([name], |r| {
        let kind: String = r.get(2)?;
        let id: i64 = r.get(9)?;
        Ok((
            id,
            kind,
            ModelVersion {
                name: r.get(0)?,
                version: r.get(1)?,
                kind: ModelKind::Pmml,
                sha256: r.get(3)?,
                size: r.get::<_, i64>(4)? as u64,
                artifact: r.get(5)?,
                source: r.get(6)?,
                description: r.get(7)?,
                created_at: r.get(8)?,
                used_by: Vec::new(),
                served_by: match (r.get(10)?, r.get::<_, Option<String>>(11)?) {
                    (Some(artifact), url) => Some(ServedBy {
                        artifact,
                        url: url.unwrap_or_default(),
                    }),
                    (None, _) => None,
                },
            },
        ))
    })?;
    let mut uses = c.prepare_cached(
        "SELECT s.name, d.weight FROM deployments d JOIN services s ON s.id = d.service_id
         WHERE d.version_id = ?1 AND d.removed_at IS NULL AND s.deleted_at IS NULL ORDER BY s.name",
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, mut v) = row?;
        v.kind = kind.parse().map_err(|e: String| {
            StoreError::Constraint(format!("{}:{}: {e}", v.name, v.version))
        })?;
        v.used_by = uses
            .query_map([id], |r| {
                Ok(ServiceUse {
                    service: r.get(0)?,
                    weight: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push(v);
    }
    Ok(out)
}
