//! A service's canary, one row per service: the whole record as JSON, written with the traffic
//! change it causes in the same transaction where there is one, so a restart finds the canary
//! exactly at the step whose split is in force.

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::traffic::{Apply, apply_in};
use super::{Store, StoreError};
use crate::domain::Service;
use crate::domain::canary::{Canary, CanaryState};

impl Store {
    /// A service's canary, running or finished; `None` if it never had one.
    pub fn canary(&self, service: &str) -> Result<Option<Canary>, StoreError> {
        let service = service.to_string();
        self.read(move |c| load(c, &service))
    }

    /// Every service whose canary is running, with it.
    pub fn running_canaries(&self) -> Result<Vec<(String, Canary)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT s.name, k.body FROM canaries k JOIN services s ON s.id = k.service_id
                 WHERE s.deleted_at IS NULL",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (name, body) = row?;
                if let Ok(canary) = serde_json::from_str::<Canary>(&body)
                    && canary.state == CanaryState::Running
                {
                    out.push((name, canary));
                }
            }
            Ok(out)
        })
    }

    /// Reads a service's canary and the service, lets `decide` say what changes, and writes
    /// it — all in one transaction, so two people (or a person and the driver) steering the
    /// same canary at once cannot both act on what they read: the second reads the first's
    /// outcome. `None` from `decide`: nothing to do.
    pub async fn change_canary<F>(
        &self,
        actor: &str,
        service: &str,
        decide: F,
    ) -> Result<Option<Service>, StoreError>
    where
        F: FnOnce(Option<Canary>, &Service) -> Result<Option<CanaryChange>, StoreError>
            + Send
            + 'static,
    {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let current = load(tx, &service)?;
            let now = super::services::load_service(tx, &service)?
                .ok_or_else(|| StoreError::Missing(format!("no service is called {service}")))?;
            let Some(change) = decide(current, &now)? else {
                return Ok(None);
            };
            if let Some(version) = change.add {
                super::traffic::add_in(tx, &actor, &service, version)?;
            }
            if let Some(apply) = change.apply {
                apply_in(tx, &actor, &service, apply)?;
            }
            let (id, _) = super::traffic::live(tx, &service)?;
            let body = serde_json::to_string(&change.canary)
                .map_err(|e| StoreError::Constraint(e.to_string()))?;
            tx.execute(
                "INSERT INTO canaries (service_id, body) VALUES (?1, ?2)
                 ON CONFLICT (service_id) DO UPDATE SET body = excluded.body",
                (id, &body),
            )?;
            if let Some(kind) = change.event {
                super::record_event(
                    tx,
                    &actor,
                    kind,
                    &service,
                    &serde_json::json!({"candidate": change.canary.candidate,
                        "step": change.canary.step + 1, "state": change.canary.state,
                        "verdict": change.canary.verdict}),
                )?;
            }
            super::services::load_service(tx, &service)
        })
        .await
    }
}

/// What a canary decision writes: the canary, a version to add first, a split to apply, and
/// the audit event that says what happened (none for a judgement that only waits).
pub struct CanaryChange {
    pub canary: Canary,
    pub add: Option<u32>,
    pub apply: Option<Apply>,
    pub event: Option<&'static str>,
}

pub(super) fn load(c: &Connection, service: &str) -> Result<Option<Canary>, StoreError> {
    let body: Option<String> = c
        .query_row(
            "SELECT k.body FROM canaries k JOIN services s ON s.id = k.service_id
             WHERE s.name = ?1 AND s.deleted_at IS NULL",
            [service],
            |r| r.get(0),
        )
        .optional()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// A person changed the traffic by hand: a running canary stops and says why.
pub(super) fn pause_for_manual_change(
    tx: &Transaction,
    service_id: i64,
    actor: &str,
) -> Result<(), StoreError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM canaries WHERE service_id = ?1",
            [service_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(mut canary) = body.and_then(|b| serde_json::from_str::<Canary>(&b).ok()) else {
        return Ok(());
    };
    if canary.state != CanaryState::Running {
        return Ok(());
    }
    canary.state = CanaryState::Paused;
    canary.verdict = format!(
        "paused: {actor} changed the traffic by hand (`services canary resume` goes on from this step)"
    );
    let body = serde_json::to_string(&canary).map_err(|e| StoreError::Constraint(e.to_string()))?;
    tx.execute(
        "UPDATE canaries SET body = ?1 WHERE service_id = ?2",
        (&body, service_id),
    )?;
    Ok(())
}
