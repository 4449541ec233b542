//! Services and their deployments. A deleted service keeps its rows (`deleted_at`,
//! `removed_at`) so its history stays readable; only live rows are "the" service.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::json;

use super::models::{UNSERVED, refuse_unserved};
use super::{Store, StoreError, now, record_event};
use crate::domain::{Deployment, ModelKind, Resources, Service, ServiceName, TrafficRules};

/// A service about to be created with one version at 100%.
#[derive(Debug, Clone)]
pub struct NewService {
    pub name: ServiceName,
    pub host: String,
    pub key: String,
    pub runtime: String,
    pub resources: Resources,
    pub model: String,
    pub version: u32,
    /// For a SavedModel version: the upstream that serves it, named in the same transaction.
    pub served_by: Option<crate::domain::ServedBy>,
}

impl Store {
    /// Creates a live service holding `new.model:new.version` at 100%.
    pub async fn create_service(
        &self,
        actor: &str,
        new: NewService,
    ) -> Result<Service, StoreError> {
        let actor = actor.to_string();
        self.write(move |tx| {
            let taken: Option<String> = tx
                .query_row(
                    "SELECT name FROM services WHERE deleted_at IS NULL AND (name = ?1 OR host = ?2)",
                    (new.name.as_str(), &new.host),
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = taken {
                return Err(StoreError::Exists(format!(
                    "service {existing:?} already exists; pick another name or delete it first (`modeldeck services rm {existing}`)"
                )));
            }
            if let Some(by) = new.served_by.clone() {
                super::models::serve_in(tx, &actor, &new.model, new.version, by)?;
            }
            let (model_id, version_id, unserved): (i64, i64, bool) = tx
                .query_row(
                    &format!(
                        "SELECT m.id, v.id, {UNSERVED}
                         FROM model_versions v JOIN models m ON m.id = v.model_id
                         WHERE m.name = ?1 AND v.version = ?2"
                    ),
                    (&new.model, new.version),
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| {
                    StoreError::Missing(format!("model version {}:{} does not exist", new.model, new.version))
                })?;
            if unserved {
                return Err(refuse_unserved(&new.model, new.version));
            }
            let created = now();
            let r = new.resources;
            tx.execute(
                "INSERT INTO services (name, host, model_id, model_name, access_key, runtime, threads,
                   concurrency, timeout_ms, max_batch_rows, memory_bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                (
                    new.name.as_str(),
                    &new.host,
                    model_id,
                    &new.model,
                    &new.key,
                    &new.runtime,
                    r.threads,
                    r.concurrency,
                    r.timeout_ms as i64,
                    r.max_batch_rows,
                    r.memory_bytes as i64,
                    &created,
                ),
            )?;
            let service_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO deployments (service_id, version_id, model_name, version, weight, created_at)
                 VALUES (?1, ?2, ?3, ?4, 100, ?5)",
                (service_id, version_id, &new.model, new.version, &created),
            )?;
            record_event(
                tx,
                &actor,
                "service.deployed",
                new.name.as_str(),
                &json!({"host": new.host, "model": new.model, "version": new.version,
                        "runtime": new.runtime, "resources": r}),
            )?;
            load_service(tx, new.name.as_str())?.ok_or_else(|| StoreError::Missing(new.name.to_string()))
        })
        .await
    }

    /// Every live service, by name.
    pub fn services(&self) -> Result<Vec<Service>, StoreError> {
        self.read(live_services)
    }

    /// Every live service and the revision they are as of, from one read transaction: a
    /// routing table built from it is the store exactly at that revision, so tables can be
    /// ordered by it.
    pub fn services_at_revision(&self) -> Result<(i64, Vec<Service>), StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let revision: i64 =
                tx.query_row("SELECT coalesce(max(revision), 0) FROM events", [], |r| {
                    r.get(0)
                })?;
            let services = live_services(&tx)?;
            tx.finish()?;
            Ok((revision, services))
        })
    }

    /// One live service; `None` when there is none by that name.
    pub fn service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        self.read(|c| load_service(c, name))
    }

    /// Retires a live service and its deployments; `false` when there was none.
    pub async fn delete_service(&self, actor: &str, name: &str) -> Result<bool, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let Some(id) = live_id(tx, &name)? else {
                return Ok(false);
            };
            let at = now();
            tx.execute("UPDATE services SET deleted_at = ?1 WHERE id = ?2", (&at, id))?;
            tx.execute(
                "UPDATE deployments SET removed_at = ?1 WHERE service_id = ?2 AND removed_at IS NULL",
                (&at, id),
            )?;
            record_event(tx, &actor, "service.deleted", &name, &json!({}))?;
            Ok(true)
        })
        .await
    }

    /// Replaces a live service's access key; `false` when there is no such service. The audit
    /// record says that the key changed, never what it is.
    pub async fn rotate_key(
        &self,
        actor: &str,
        name: &str,
        key: String,
    ) -> Result<bool, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let Some(id) = live_id(tx, &name)? else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE services SET access_key = ?1 WHERE id = ?2",
                (&key, id),
            )?;
            record_event(tx, &actor, "service.key_rotated", &name, &json!({}))?;
            Ok(true)
        })
        .await
    }
}

fn live_services(c: &Connection) -> Result<Vec<Service>, StoreError> {
    let names: Vec<String> = c
        .prepare("SELECT name FROM services WHERE deleted_at IS NULL ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.extend(load_service(c, &name)?);
    }
    Ok(out)
}

fn live_id(tx: &Transaction, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT id FROM services WHERE name = ?1 AND deleted_at IS NULL",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn load_service(c: &Connection, name: &str) -> Result<Option<Service>, StoreError> {
    let row = c
        .query_row(
            "SELECT id, name, host, access_key, runtime, threads, concurrency, timeout_ms,
                    max_batch_rows, memory_bytes, created_at, traffic_revision, sticky_header,
                    labels, shadow
             FROM services WHERE name = ?1 AND deleted_at IS NULL",
            [name],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    Resources {
                        threads: r.get(5)?,
                        concurrency: r.get(6)?,
                        timeout_ms: r.get::<_, i64>(7)? as u64,
                        max_batch_rows: r.get(8)?,
                        memory_bytes: r.get::<_, i64>(9)? as u64,
                    },
                    r.get::<_, String>(10)?,
                    TrafficRules {
                        revision: r.get(11)?,
                        sticky_header: r.get(12)?,
                        labels: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
                        shadow: r
                            .get::<_, Option<String>>(14)?
                            .and_then(|t| serde_json::from_str(&t).ok()),
                    },
                ))
            },
        )
        .optional()?;
    let Some((id, name, host, key, runtime, resources, created_at, traffic)) = row else {
        return Ok(None);
    };
    let mut stmt = c.prepare(
        "SELECT d.model_name, d.version, d.weight, coalesce(v.artifact, ''), coalesce(v.kind, 'pmml'),
                v.served_by
         FROM deployments d LEFT JOIN model_versions v ON v.id = d.version_id
         WHERE d.service_id = ?1 AND d.removed_at IS NULL ORDER BY d.version",
    )?;
    let deployments = stmt
        .query_map([id], |r| {
            let (artifact, kind): (String, String) = (r.get(3)?, r.get(4)?);
            let served_by: Option<String> = r.get(5)?;
            // A SavedModel is served through its upstream: the gateway loads that.
            let (kind, artifact) = crate::domain::ModelVersion::serving_of(
                kind.parse().unwrap_or(ModelKind::Pmml),
                &artifact,
                served_by.as_deref(),
            );
            Ok(Deployment {
                model: r.get(0)?,
                version: r.get(1)?,
                weight: r.get(2)?,
                artifact: artifact.to_string(),
                kind,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let name = ServiceName::parse(&name)
        .map_err(|e| StoreError::Constraint(format!("stored service name: {e}")))?;
    let thresholds = super::metrics::thresholds(c, id)?;
    Ok(Some(Service {
        thresholds,
        name,
        host,
        key,
        runtime,
        resources,
        deployments,
        created_at,
        traffic,
    }))
}
