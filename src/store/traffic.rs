//! The versions a service holds and how its traffic is split between them. Every change —
//! a version added or removed, a split applied, a rollback — is one transaction that bumps the
//! service's traffic revision, records the change (before, after, who, why) and an event, so
//! the routing table published after it and the history agree, and an apply edited from an
//! older revision is refused instead of overwriting someone else's change.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::json;

use super::models::{UNSERVED, refuse_unserved};
use super::services::load_service;
use super::{Store, StoreError, now, record_event};
use crate::domain::{ChangeKind, Service, Split, TrafficChange, rollback_target};

/// A change to apply: the new weights, the revision they were edited from (`None`: whatever is
/// in force), what kind of change it is and why.
#[derive(Debug, Clone)]
pub struct Apply {
    pub split: Split,
    pub from_revision: Option<i64>,
    pub kind: ChangeKind,
    pub reason: String,
}

impl Store {
    /// Sets a service's weights. The split must name exactly the versions the service holds;
    /// `from_revision` older than the service's is refused, naming who changed it since.
    pub async fn apply_split(
        &self,
        actor: &str,
        service: &str,
        apply: Apply,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            apply_in(tx, &actor, &service, apply)?;
            loaded(tx, &service)
        })
        .await
    }

    /// Adds `model:version` (the service's own model) to a service at 0%.
    pub async fn add_version(
        &self,
        actor: &str,
        service: &str,
        version: u32,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            add_in(tx, &actor, &service, version)?;
            loaded(tx, &service)
        })
        .await
    }

    /// Moves `to` (added first if the service does not hold it) to `percent`, the others
    /// keeping their proportions — in one transaction, so a change in between either refuses
    /// the whole upgrade or comes after it.
    pub async fn upgrade(
        &self,
        actor: &str,
        service: &str,
        to: u32,
        percent: u8,
        reason: String,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let (id, _) = live(tx, &service)?;
            if !weights(tx, id)?.contains_key(&to) {
                add_in(tx, &actor, &service, to)?;
            }
            let (_, revision) = live(tx, &service)?;
            let now =
                Split::new(weights(tx, id)?).map_err(|e| StoreError::Constraint(e.to_string()))?;
            let apply = Apply {
                split: now.with(to, percent),
                from_revision: Some(revision),
                kind: ChangeKind::Upgrade,
                reason,
            };
            apply_in(tx, &actor, &service, apply)?;
            loaded(tx, &service)
        })
        .await
    }

    /// Takes a version out of a service; refused while it has traffic, and for the last one.
    pub async fn remove_version(
        &self,
        actor: &str,
        service: &str,
        version: u32,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let (id, _) = live(tx, &service)?;
            let before = weights(tx, id)?;
            let Some(weight) = before.get(&version).copied() else {
                return Err(StoreError::Missing(format!(
                    "service {service} holds no version {version}"
                )));
            };
            let labels: BTreeMap<String, u32> = serde_json::from_str(&column(tx, id, "labels")?.unwrap_or_default())
                .unwrap_or_default();
            if let Some((label, _)) = labels.iter().find(|(_, v)| **v == version) {
                return Err(StoreError::Refused {
                    code: "labelled",
                    message: format!(
                        "label {label:?} names version {version}: set the labels again without it, or with it on another version (`modeldeck services label {service} …` replaces them all)"
                    ),
                });
            }
            if let Some(c) = super::canary::load(tx, &service)?
                && !c.state.done()
                && c.candidate == version
            {
                return Err(StoreError::Refused {
                    code: "in_canary",
                    message: format!(
                        "version {version} is {service}'s canary candidate: abort the canary first (`modeldeck services canary abort {service}`)"
                    ),
                });
            }
            if shadow_of(tx, id)?.is_some_and(|s| s.version == version) {
                return Err(StoreError::Refused {
                    code: "shadowed",
                    message: format!(
                        "version {version} receives {service}'s shadow traffic: stop it first (`modeldeck services shadow {service} --off`)"
                    ),
                });
            }
            if weight > 0 {
                return Err(StoreError::Refused {
                    code: "has_traffic",
                    message: format!(
                        "version {version} has {weight}% of {service}'s traffic: move it to other versions first (`modeldeck services traffic {service} …`)"
                    ),
                });
            }
            tx.execute(
                "UPDATE deployments SET removed_at = ?1
                 WHERE service_id = ?2 AND version = ?3 AND removed_at IS NULL",
                (now(), id, version),
            )?;
            let after = weights(tx, id)?;
            record(tx, &actor, id, &service, ChangeKind::Remove, &before, &after, "")?;
            loaded(tx, &service)
        })
        .await
    }

    /// Replaces a service's version labels; each must name a version the service holds.
    pub async fn set_labels(
        &self,
        actor: &str,
        service: &str,
        labels: BTreeMap<String, u32>,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let (id, _) = live(tx, &service)?;
            let held = weights(tx, id)?;
            if let Some((label, v)) = labels.iter().find(|(_, v)| !held.contains_key(v)) {
                return Err(StoreError::Refused {
                    code: "invalid_label",
                    message: format!(
                        "label {label:?} names version {v}, which {service} does not hold: add it first (`modeldeck services add-version {service} --version {v}`)"
                    ),
                });
            }
            let text = json!(labels).to_string();
            tx.execute("UPDATE services SET labels = ?1 WHERE id = ?2", (&text, id))?;
            record_event(tx, &actor, "service.labels", &service, &json!({"labels": labels}))?;
            loaded(tx, &service)
        })
        .await
    }

    /// Mirrors a share of a service's client requests to a version it holds (`None`: off).
    pub async fn set_shadow(
        &self,
        actor: &str,
        service: &str,
        shadow: Option<crate::domain::Shadow>,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let (id, _) = live(tx, &service)?;
            if let Some(s) = &shadow {
                match weights(tx, id)?.get(&s.version) {
                    None => {
                        return Err(StoreError::Missing(format!(
                            "{service} holds no version {}: a shadow mirrors to a version the service holds at 0% (`modeldeck services add-version {service} --version N`)",
                            s.version
                        )));
                    }
                    Some(w) if *w > 0 => {
                        return Err(StoreError::Refused {
                            code: "answers_clients",
                            message: format!(
                                "version {} has {w}% of {service}'s traffic: a shadow version answers no client, so give it 0% first",
                                s.version
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
            if shadow_of(tx, id)? == shadow {
                return loaded(tx, &service);
            }
            let text = shadow.map(|s| json!(s).to_string());
            tx.execute("UPDATE services SET shadow = ?1 WHERE id = ?2", (&text, id))?;
            record_event(tx, &actor, "service.shadow", &service, &json!({"shadow": shadow}))?;
            loaded(tx, &service)
        })
        .await
    }

    /// Sets (or with `None` clears) the request header a service's split is sticky on.
    pub async fn set_sticky(
        &self,
        actor: &str,
        service: &str,
        header: Option<String>,
    ) -> Result<Service, StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let (id, _) = live(tx, &service)?;
            tx.execute(
                "UPDATE services SET sticky_header = ?1 WHERE id = ?2",
                (&header, id),
            )?;
            record_event(
                tx,
                &actor,
                "service.sticky",
                &service,
                &json!({"header": header}),
            )?;
            loaded(tx, &service)
        })
        .await
    }

    /// A service's traffic changes, oldest first: all of them, or the newest `limit`.
    pub fn traffic_history(
        &self,
        service: &str,
        limit: Option<usize>,
    ) -> Result<Vec<TrafficChange>, StoreError> {
        let service = service.to_string();
        self.read(move |c| {
            let (id, _) = live(c, &service)?;
            history(c, id, limit)
        })
    }

    /// The split a rollback goes to and the revision it is judged against
    /// ([`rollback_target`]); `None` when there is nothing further back.
    pub fn rollback_target(&self, service: &str) -> Result<Option<(Split, i64)>, StoreError> {
        let changes = self.traffic_history(service, None)?;
        Ok(rollback_target(&changes))
    }
}

/// Adds a version of the service's own model at 0%, inside a transaction.
pub(super) fn add_in(
    tx: &Transaction,
    actor: &str,
    service: &str,
    version: u32,
) -> Result<(), StoreError> {
    let (id, _) = live(tx, service)?;
    let model: String =
        tx.query_row("SELECT model_name FROM services WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
    let before = weights(tx, id)?;
    if before.contains_key(&version) {
        return Err(StoreError::Exists(format!(
            "service {service} already holds version {version} of {model}"
        )));
    }
    let (version_id, unserved): (i64, bool) = tx
        .query_row(
            &format!(
                "SELECT v.id, {UNSERVED}
                 FROM model_versions v JOIN models m ON m.id = v.model_id
                 WHERE m.name = ?1 AND v.version = ?2"
            ),
            (&model, version),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| {
            StoreError::Missing(format!(
                "model {model} has no version {version}: a service holds versions of its own model (`modeldeck models show {model}` lists them)"
            ))
        })?;
    if unserved {
        return Err(refuse_unserved(&model, version));
    }
    tx.execute(
        "INSERT INTO deployments (service_id, version_id, model_name, version, weight, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        (id, version_id, &model, version, now()),
    )?;
    let after = weights(tx, id)?;
    record(tx, actor, id, service, ChangeKind::Add, &before, &after, "")
}

/// Applies a split inside a transaction (see [`Store::apply_split`]). A change a person makes
/// pauses the service's running canary; the canary's own steps do not.
pub(super) fn apply_in(
    tx: &Transaction,
    actor: &str,
    service: &str,
    apply: Apply,
) -> Result<(), StoreError> {
    let (id, revision) = live(tx, service)?;
    if let Some(from) = apply.from_revision
        && from != revision
    {
        return Err(stale(tx, id, service, from, revision)?);
    }
    let before = weights(tx, id)?;
    let held: Vec<u32> = before.keys().copied().collect();
    apply
        .split
        .check_versions(&held)
        .map_err(|e| StoreError::Refused {
            code: "invalid_split",
            message: e.to_string(),
        })?;
    for (version, weight) in apply.split.iter() {
        tx.execute(
            "UPDATE deployments SET weight = ?1
             WHERE service_id = ?2 AND version = ?3 AND removed_at IS NULL",
            (weight, id, version),
        )?;
    }
    let after = weights(tx, id)?;
    if let Some(s) = shadow_of(tx, id)?
        && after.get(&s.version).is_some_and(|w| *w > 0)
    {
        return Err(StoreError::Refused {
            code: "shadowed",
            message: format!(
                "version {} receives {service}'s shadow traffic and answers no client: stop the shadow first (`modeldeck services shadow {service} --off`)",
                s.version
            ),
        });
    }
    if after == before {
        // Nothing moved: no revision, no history line, nothing for a rollback to step over.
        return Ok(());
    }
    if apply.kind != ChangeKind::Canary {
        super::canary::pause_for_manual_change(tx, id, actor)?;
    }
    record(
        tx,
        actor,
        id,
        service,
        apply.kind,
        &before,
        &after,
        &apply.reason,
    )
}

/// A nullable text column of a service's row.
fn column(c: &Connection, id: i64, name: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {name} FROM services WHERE id = ?1"),
        [id],
        |r| r.get(0),
    )?)
}

/// The version a service mirrors to, if any.
fn shadow_of(c: &Connection, id: i64) -> Result<Option<crate::domain::Shadow>, StoreError> {
    Ok(column(c, id, "shadow")?.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The live service's id and traffic revision.
pub(super) fn live(c: &Connection, service: &str) -> Result<(i64, i64), StoreError> {
    c.query_row(
        "SELECT id, traffic_revision FROM services WHERE name = ?1 AND deleted_at IS NULL",
        [service],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| StoreError::Missing(format!("no service is called {service}")))
}

fn weights(c: &Connection, id: i64) -> Result<BTreeMap<u32, u8>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT version, weight FROM deployments WHERE service_id = ?1 AND removed_at IS NULL",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn loaded(tx: &Transaction, service: &str) -> Result<Service, StoreError> {
    load_service(tx, service)?.ok_or_else(|| StoreError::Missing(service.to_string()))
}

/// Bumps the revision and writes the change and its event.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &Transaction,
    actor: &str,
    id: i64,
    service: &str,
    kind: ChangeKind,
    before: &BTreeMap<u32, u8>,
    after: &BTreeMap<u32, u8>,
    reason: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE services SET traffic_revision = traffic_revision + 1 WHERE id = ?1",
        [id],
    )?;
    let revision: i64 = tx.query_row(
        "SELECT traffic_revision FROM services WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let (b, a) = (json!(before).to_string(), json!(after).to_string());
    tx.execute(
        "INSERT INTO traffic_changes (service_id, at, actor, before_json, after_json, is_rollback,
           kind, reason, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        (
            id,
            now(),
            actor,
            &b,
            &a,
            kind == ChangeKind::Rollback,
            kind.name(),
            reason,
            revision,
        ),
    )?;
    let event = match kind {
        ChangeKind::Add => "service.version_added",
        ChangeKind::Remove => "service.version_removed",
        _ => "traffic.changed",
    };
    record_event(
        tx,
        actor,
        event,
        service,
        &json!({"kind": kind.name(), "before": before, "after": after, "reason": reason,
                "revision": revision}),
    )?;
    Ok(())
}

/// The refusal of an apply edited from `from`, naming who changed the split since.
fn stale(
    tx: &Transaction,
    id: i64,
    service: &str,
    from: i64,
    revision: i64,
) -> Result<StoreError, StoreError> {
    let last: Option<(String, String)> = tx
        .query_row(
            "SELECT actor, at FROM traffic_changes WHERE service_id = ?1 ORDER BY id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let who = match last {
        Some((actor, at)) => format!(", last by {actor} at {at}"),
        None => String::new(),
    };
    Ok(StoreError::Stale(format!(
        "{service}'s traffic changed since revision {from} (now {revision}{who}): read the split again and apply your change to it"
    )))
}

fn history(
    c: &Connection,
    id: i64,
    limit: Option<usize>,
) -> Result<Vec<TrafficChange>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT revision, at, actor, kind, before_json, after_json, reason
         FROM traffic_changes WHERE service_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let limit = limit.map_or(-1, |l| l as i64);
    let rows = stmt.query_map((id, limit), |r| {
        let parse = |text: String| serde_json::from_str(&text).unwrap_or_default();
        Ok(TrafficChange {
            revision: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            kind: ChangeKind::parse(&r.get::<_, String>(3)?),
            before: parse(r.get(4)?),
            after: parse(r.get(5)?),
            reason: r.get(6)?,
        })
    })?;
    let mut changes: Vec<TrafficChange> = rows.collect::<Result<_, _>>()?;
    changes.reverse();
    Ok(changes)
}
