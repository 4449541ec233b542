//! Minute and ten-minute rollups of what the gateway counted, and per-service thresholds.
//!
//! A row holds one source's counts for one version over one minute (or ten), including the raw
//! latency bucket counts, so a period's percentiles come from summed buckets. A row written
//! twice for the same minute — the last partial minute flushed at a stop, then the rest of that
//! minute after a restart — adds to the first instead of replacing it.
//!
//! Retention is tiered: [`Store::compact_rollups`] folds minute rows older than the minute tier's
//! age into ten-minute rows and deletes them in one transaction, so every instant is covered by
//! exactly one tier and a query may read both without counting anything twice.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoreError};
use crate::domain::latency;
use crate::domain::{Counts, Outputs, Period, Source, Thresholds};

/// One row of the rollups.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    pub service: String,
    pub model: String,
    pub version: u32,
    pub source: Source,
    /// 60 or 600 seconds.
    pub resolution: i64,
    /// Unix seconds, a multiple of `resolution`.
    pub start: i64,
    pub counts: Counts,
    pub outputs: Outputs,
}

type Key = (String, i64, i64, u32, Source);

impl Rollup {
    fn key(&self) -> Key {
        (
            self.service.clone(),
            self.resolution,
            self.start,
            self.version,
            self.source,
        )
    }
}

const COLUMNS: &str = "service, model, version, source, resolution, start, ok, client_errors, \
    server_errors, timeouts, rejected, unauthorised, rows_scored, bytes_in, bytes_out, busy_us, \
    latency_sum_us, latency, outputs";

impl Store {
    /// Adds `rows` to the rollups (one transaction).
    pub async fn add_rollups(&self, rows: Vec<Rollup>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            for row in &rows {
                merge(tx, row.clone())?;
            }
            Ok(())
        })
        .await
    }

    /// The rows of `service` that start within `period`, both tiers, oldest first.
    pub fn rollups(&self, service: &str, period: Period) -> Result<Vec<Rollup>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM metric_rollups
                 WHERE service = ?1 AND resolution IN (60, 600) AND start >= ?2 AND start < ?3
                 ORDER BY start"
            ))?;
            let rows = stmt
                .query_map(params![service, period.from, period.to], row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Folds minute rows that started before `minute_cutoff` into ten-minute rows and deletes
    /// ten-minute rows that started before `ten_minute_cutoff`; how many rows were folded.
    pub async fn compact_rollups(
        &self,
        minute_cutoff: i64,
        ten_minute_cutoff: i64,
    ) -> Result<usize, StoreError> {
        // Only whole ten-minute spans are folded, so no span ends up in both tiers.
        let minute_cutoff = minute_cutoff - minute_cutoff.rem_euclid(600);
        self.write(move |tx| {
            let old: Vec<Rollup> = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT {COLUMNS} FROM metric_rollups WHERE resolution = 60 AND start < ?1"
                ))?;
                stmt.query_map([minute_cutoff], row)?
                    .collect::<Result<_, _>>()?
            };
            let folded = old.len();
            let mut coarse: BTreeMap<Key, Rollup> = BTreeMap::new();
            for mut r in old {
                r.resolution = 600;
                r.start -= r.start.rem_euclid(600);
                match coarse.entry(r.key()) {
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        let into = e.get_mut();
                        into.counts.add(&r.counts);
                        into.outputs.add(&r.outputs);
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(r);
                    }
                }
            }
            for r in coarse.into_values() {
                merge(tx, r)?;
            }
            tx.execute(
                "DELETE FROM metric_rollups WHERE resolution = 60 AND start < ?1",
                [minute_cutoff],
            )?;
            tx.execute(
                "DELETE FROM metric_rollups WHERE resolution = 600 AND start < ?1",
                [ten_minute_cutoff],
            )?;
            Ok(folded)
        })
        .await
    }

    /// Sets (or, with `None`, clears) a live service's own thresholds, with its event.
    pub async fn set_thresholds(
        &self,
        actor: &str,
        service: &str,
        thresholds: Option<Thresholds>,
    ) -> Result<(), StoreError> {
        let (actor, service) = (actor.to_string(), service.to_string());
        self.write(move |tx| {
            let text = thresholds
                .map(|t| serde_json::to_string(&t).unwrap_or_default())
                .filter(|t| !t.is_empty());
            let n = tx.execute(
                "UPDATE services SET thresholds = ?2 WHERE name = ?1 AND deleted_at IS NULL",
                params![service, text],
            )?;
            if n == 0 {
                return Err(StoreError::Missing(format!(
                    "no service is called {service}"
                )));
            }
            let detail = serde_json::json!({ "thresholds": thresholds });
            super::record_event(tx, &actor, "service.thresholds", &service, &detail)?;
            Ok(())
        })
        .await
    }

    /// Appends an event no other change carries (a threshold crossing); its revision.
    pub async fn note(
        &self,
        actor: &str,
        kind: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let (actor, kind, subject) = (actor.to_string(), kind.to_string(), subject.to_string());
        self.write(move |tx| super::record_event(tx, &actor, &kind, &subject, &detail))
            .await
    }
}

/// A service's own thresholds as stored.
pub(super) fn thresholds(c: &Connection, id: i64) -> Result<Option<Thresholds>, StoreError> {
    let text: Option<String> = c
        .query_row("SELECT thresholds FROM services WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Rollup> {
    let source: String = r.get(3)?;
    let mut counts = Counts::default();
    for (i, o) in counts.outcomes.iter_mut().enumerate() {
        *o = r.get::<_, i64>(6 + i)? as u64;
    }
    counts.rows = r.get::<_, i64>(12)? as u64;
    counts.bytes_in = r.get::<_, i64>(13)? as u64;
    counts.bytes_out = r.get::<_, i64>(14)? as u64;
    counts.busy_us = r.get::<_, i64>(15)? as u64;
    counts.latency_sum_us = r.get::<_, i64>(16)? as u64;
    let blob: Vec<u8> = r.get(17)?;
    latency::decode_into(&blob, &mut counts.latency);
    let outputs: String = r.get(18)?;
    Ok(Rollup {
        service: r.get(0)?,
        model: r.get(1)?,
        version: r.get(2)?,
        source: Source::parse(&source).unwrap_or(Source::Client),
        resolution: r.get(4)?,
        start: r.get(5)?,
        counts,
        outputs: serde_json::from_str(&outputs).unwrap_or_default(),
    })
}

/// Writes `r`, adding to a row already there for the same key.
fn merge(tx: &Transaction, mut r: Rollup) -> Result<(), StoreError> {
    let existing = tx
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM metric_rollups
                 WHERE service = ?1 AND resolution = ?2 AND start = ?3 AND version = ?4 AND source = ?5"
            ),
            params![r.service, r.resolution, r.start, r.version, r.source.name()],
            row,
        )
        .optional()?;
    if let Some(old) = existing {
        r.counts.add(&old.counts);
        r.outputs.add(&old.outputs);
    }
    let c = &r.counts;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO metric_rollups ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ),
        params![
            r.service,
            r.model,
            r.version,
            r.source.name(),
            r.resolution,
            r.start,
            n(c.outcomes[0]),
            n(c.outcomes[1]),
            n(c.outcomes[2]),
            n(c.outcomes[3]),
            n(c.outcomes[4]),
            n(c.outcomes[5]),
            n(c.rows),
            n(c.bytes_in),
            n(c.bytes_out),
            n(c.busy_us),
            n(c.latency_sum_us),
            latency::encode(&c.latency),
            serde_json::to_string(&r.outputs).unwrap_or_else(|_| "{}".into()),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Outcome;

    fn minute(start: i64, ok: u64, micros: u64) -> Rollup {
        let mut counts = Counts::default();
        counts.outcomes[Outcome::Ok.index()] = ok;
        counts.latency[latency::bucket(micros)] = ok;
        let mut outputs = Outputs::default();
        outputs.classes.insert("yes".into(), ok);
        Rollup {
            service: "svc".into(),
            model: "m".into(),
            version: 1,
            source: Source::Client,
            resolution: 60,
            start,
            counts,
            outputs,
        }
    }

    #[tokio::test]
    async fn rows_add_up_and_fold_into_ten_minutes_without_double_counting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        // The same minute written twice (a stop and a restart) adds up.
        store.add_rollups(vec![minute(600, 3, 100)]).await.unwrap();
        store.add_rollups(vec![minute(600, 2, 100)]).await.unwrap();
        store
            .add_rollups(vec![minute(660, 5, 50_000), minute(1200, 1, 10)])
            .await
            .unwrap();
        let all = Period { from: 0, to: 2000 };
        let rows = store.rollups("svc", all).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].counts.requests(), 5);
        assert_eq!(rows[0].outputs.classes["yes"], 5);

        // Fold everything before 1200 (the 600–1199 span): one ten-minute row with all of it.
        assert_eq!(store.compact_rollups(1250, 0).await.unwrap(), 2);
        let rows = store.rollups("svc", all).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].resolution, rows[0].start), (600, 600));
        assert_eq!(rows[0].counts.requests(), 10);
        assert_eq!(rows[0].counts.latency.iter().sum::<u64>(), 10);
        assert_eq!((rows[1].resolution, rows[1].start), (60, 1200));
        // Ten-minute rows past their age go.
        store.compact_rollups(1250, 1200).await.unwrap();
        assert_eq!(store.rollups("svc", all).unwrap().len(), 1);
    }
}
