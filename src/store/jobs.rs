//! Batch jobs and their runs. A fire is one transaction: it moves the job's `next_fire_at` on
//! and records either a new run or, when a run of the job is still going, a skipped one — so
//! two scheduler ticks, or a tick and a `jobs run`, can never start the same job twice, and a
//! crash between the two halves cannot lose or repeat a fire.

use rusqlite::{Connection, OptionalExtension, Row, Transaction};
use serde_json::json;

use super::{Store, StoreError, now, record_event};
use crate::domain::{Job, JobSpec, Run, RunCounts, RunState, Trigger};

/// What a fire did.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// A run to start.
    Started(Run),
    /// A run of the job was still going: this one is recorded as skipped.
    Skipped(Run),
}

const RUN_COLUMNS: &str = "r.id, j.name, r.state, r.trigger, r.fire_at, r.started_at, \
     r.finished_at, r.rows_read, r.rows_scored, r.rows_rejected, r.rows_filtered, r.output, \
     r.rejects, r.error, r.progress";

fn run_row(r: &Row) -> rusqlite::Result<Run> {
    let state: String = r.get(2)?;
    let trigger: String = r.get(3)?;
    let progress: String = r.get(14)?;
    Ok(Run {
        id: r.get(0)?,
        job: r.get(1)?,
        state: state.parse().unwrap_or(RunState::Failed),
        trigger: trigger.parse().unwrap_or(Trigger::Schedule),
        fire_at: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        rows_read: r.get::<_, i64>(7)?.max(0) as u64,
        rows_scored: r.get::<_, i64>(8)?.max(0) as u64,
        rows_rejected: r.get::<_, i64>(9)?.max(0) as u64,
        rows_filtered: r.get::<_, i64>(10)?.max(0) as u64,
        output: r.get(11)?,
        rejects: r.get(12)?,
        error: r.get(13)?,
        steps: serde_json::from_str(&progress).unwrap_or_default(),
    })
}

/// The jobs whose names `names_sql` selects, each loaded whole.
fn load_jobs(
    c: &Connection,
    names_sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Job>, StoreError> {
    let mut stmt = c.prepare(names_sql)?;
    let names: Vec<String> = stmt
        .query_map(params, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        if let Some(j) = load_job(c, &n)? {
            out.push(j);
        }
    }
    Ok(out)
}

/// Runs with their job's name, `tail` being the WHERE/ORDER part over `runs r`.
fn select_runs(
    c: &Connection,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Run>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {RUN_COLUMNS} FROM runs r JOIN jobs j ON j.id = r.job_id {tail}"
    ))?;
    Ok(stmt.query_map(params, run_row)?.collect::<Result<_, _>>()?)
}

/// The live job `name`: its id.
fn live_id(c: &Connection, name: &str) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT id FROM jobs WHERE name = ?1 AND deleted_at IS NULL",
        [name],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::Missing(format!("no job named {name:?}: see `modeldeck jobs list`")))
}

fn load_job(c: &Connection, name: &str) -> Result<Option<Job>, StoreError> {
    let row = c
        .query_row(
            "SELECT id, spec_json, enabled, next_fire_at, created_at FROM jobs
             WHERE name = ?1 AND deleted_at IS NULL",
            [name],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((id, spec, enabled, next_fire_at, created_at)) = row else {
        return Ok(None);
    };
    let spec: JobSpec = serde_json::from_str(&spec)
        .map_err(|e| StoreError::Constraint(format!("job {name:?} is unreadable: {e}")))?;
    let last_run = select_runs(
        c,
        "WHERE r.job_id = ?1 AND r.state != 'skipped' ORDER BY r.id DESC LIMIT 1",
        [id],
    )?
    .pop();
    Ok(Some(Job {
        name: name.to_string(),
        spec,
        paused: !enabled,
        next_fire_at,
        created_at,
        last_run,
    }))
}

fn load_run(c: &Connection, id: i64) -> Result<Option<Run>, StoreError> {
    Ok(select_runs(c, "WHERE r.id = ?1", [id])?.pop())
}

fn insert_run(
    tx: &Transaction,
    job_id: i64,
    state: RunState,
    trigger: Trigger,
    fire_at: Option<&str>,
    error: Option<&str>,
) -> Result<i64, StoreError> {
    let finished = state.is_final().then(now);
    tx.execute(
        "INSERT INTO runs (job_id, state, trigger, fire_at, created_at, finished_at, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (
            job_id,
            state.as_str(),
            trigger.as_str(),
            fire_at,
            now(),
            finished,
            error,
        ),
    )?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    pub async fn create_job(
        &self,
        actor: &str,
        name: &str,
        spec: JobSpec,
        next_fire_at: Option<String>,
    ) -> Result<Job, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            if live_id(tx, &name).is_ok() {
                return Err(StoreError::Exists(format!(
                    "a job named {name:?} exists: pick another name, or change it with `modeldeck jobs edit {name}`"
                )));
            }
            let body = serde_json::to_string(&spec).map_err(|e| StoreError::Constraint(e.to_string()))?;
            tx.execute(
                "INSERT INTO jobs (name, kind, schedule, start_at, spec_json, created_at, next_fire_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (&name, spec.kind().as_str(), &spec.cron, &spec.start_at, body, now(), &next_fire_at),
            )?;
            record_event(tx, &actor, "job.created", &name, &json!({ "spec": spec, "next_fire_at": next_fire_at }))?;
            load_job(tx, &name)?.ok_or_else(|| StoreError::Missing(name.clone()))
        })
        .await
    }

    /// Replaces a job's definition and its next fire time (the schedule may have changed).
    pub async fn edit_job(
        &self,
        actor: &str,
        name: &str,
        spec: JobSpec,
        next_fire_at: Option<String>,
    ) -> Result<Job, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let id = live_id(tx, &name)?;
            let body = serde_json::to_string(&spec).map_err(|e| StoreError::Constraint(e.to_string()))?;
            tx.execute(
                "UPDATE jobs SET kind = ?2, schedule = ?3, start_at = ?4, spec_json = ?5, next_fire_at = ?6
                 WHERE id = ?1",
                (id, spec.kind().as_str(), &spec.cron, &spec.start_at, body, &next_fire_at),
            )?;
            record_event(tx, &actor, "job.edited", &name, &json!({ "spec": spec, "next_fire_at": next_fire_at }))?;
            load_job(tx, &name)?.ok_or_else(|| StoreError::Missing(name.clone()))
        })
        .await
    }

    /// Pauses or resumes a job's schedule; resuming sets the next fire time afresh.
    pub async fn pause_job(
        &self,
        actor: &str,
        name: &str,
        paused: bool,
        next_fire_at: Option<String>,
    ) -> Result<Job, StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let id = live_id(tx, &name)?;
            tx.execute(
                "UPDATE jobs SET enabled = ?2, next_fire_at = ?3 WHERE id = ?1",
                (
                    id,
                    !paused,
                    if paused { None } else { next_fire_at.clone() },
                ),
            )?;
            let kind = if paused { "job.paused" } else { "job.resumed" };
            record_event(
                tx,
                &actor,
                kind,
                &name,
                &json!({ "next_fire_at": next_fire_at }),
            )?;
            load_job(tx, &name)?.ok_or_else(|| StoreError::Missing(name.clone()))
        })
        .await
    }

    /// Removes a job; refused while a run of it is going (cancel it first). Its runs stay in
    /// the history.
    pub async fn delete_job(&self, actor: &str, name: &str) -> Result<(), StoreError> {
        let (actor, name) = (actor.to_string(), name.to_string());
        self.write(move |tx| {
            let id = live_id(tx, &name)?;
            if let Some(run) = live_run(tx, id)? {
                return Err(StoreError::Refused {
                    code: "job_running",
                    message: format!(
                        "run {run} of {name:?} is going: cancel it first (`modeldeck jobs cancel {run}`)"
                    ),
                });
            }
            tx.execute("UPDATE jobs SET deleted_at = ?2, next_fire_at = NULL WHERE id = ?1", (id, now()))?;
            record_event(tx, &actor, "job.deleted", &name, &json!({}))?;
            Ok(())
        })
        .await
    }

    pub fn job(&self, name: &str) -> Result<Option<Job>, StoreError> {
        self.read(|c| load_job(c, name))
    }

    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.read(|c| {
            load_jobs(
                c,
                "SELECT name FROM jobs WHERE deleted_at IS NULL ORDER BY name",
                [],
            )
        })
    }

    /// A job's runs, newest first.
    pub fn runs(&self, job: &str, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.read(|c| {
            let id = live_id(c, job)?;
            select_runs(
                c,
                "WHERE r.job_id = ?1 ORDER BY r.id DESC LIMIT ?2",
                (id, limit as i64),
            )
        })
    }

    pub fn run(&self, id: i64) -> Result<Option<Run>, StoreError> {
        self.read(|c| load_run(c, id))
    }

    /// Live jobs whose next fire is at or before `at`.
    pub fn due_jobs(&self, at: &str) -> Result<Vec<Job>, StoreError> {
        self.read(|c| {
            load_jobs(
                c,
                "SELECT name FROM jobs WHERE deleted_at IS NULL AND enabled = 1
                 AND next_fire_at IS NOT NULL AND next_fire_at <= ?1 ORDER BY next_fire_at",
                [at],
            )
        })
    }

    /// Fires `job`: moves its next fire time to `next` (for a scheduled fire) and, for `fire`,
    /// records a run, or a skipped one while another run of the job is going. `missed` are
    /// earlier fire times that passed while no server ran, recorded as skipped in the same
    /// transaction.
    pub async fn fire_job(
        &self,
        actor: &str,
        job: &str,
        fire: Option<(Trigger, Option<String>)>,
        next: Option<Option<String>>,
        missed: Vec<String>,
    ) -> Result<Option<Fired>, StoreError> {
        let (actor, job) = (actor.to_string(), job.to_string());
        self.write(move |tx| {
            let id = live_id(tx, &job)?;
            if let Some(next) = &next {
                tx.execute(
                    "UPDATE jobs SET next_fire_at = ?2 WHERE id = ?1",
                    (id, next),
                )?;
            }
            for at in &missed {
                insert_run(
                    tx,
                    id,
                    RunState::Skipped,
                    Trigger::Schedule,
                    Some(at),
                    Some("missed: no server was running"),
                )?;
            }
            if !missed.is_empty() {
                record_event(tx, &actor, "run.missed", &job, &json!({ "fires": missed }))?;
            }
            let Some((trigger, fire_at)) = fire else {
                return Ok(None);
            };
            let fired = match live_run(tx, id)? {
                Some(running) => {
                    let reason = format!("run {running} was still going");
                    let rid = insert_run(
                        tx,
                        id,
                        RunState::Skipped,
                        trigger,
                        fire_at.as_deref(),
                        Some(&reason),
                    )?;
                    record_event(
                        tx,
                        &actor,
                        "run.skipped",
                        &job,
                        &json!({ "run": rid, "reason": reason }),
                    )?;
                    Fired::Skipped(
                        load_run(tx, rid)?.ok_or_else(|| StoreError::Missing(job.clone()))?,
                    )
                }
                None => {
                    let rid = insert_run(
                        tx,
                        id,
                        RunState::Scheduled,
                        trigger,
                        fire_at.as_deref(),
                        None,
                    )?;
                    record_event(
                        tx,
                        &actor,
                        "run.scheduled",
                        &job,
                        &json!({ "run": rid, "trigger": trigger.as_str() }),
                    )?;
                    Fired::Started(
                        load_run(tx, rid)?.ok_or_else(|| StoreError::Missing(job.clone()))?,
                    )
                }
            };
            Ok(Some(fired))
        })
        .await
    }

    /// Runs waiting for their worker, oldest first.
    pub fn scheduled_runs(&self) -> Result<Vec<Run>, StoreError> {
        self.read(|c| select_runs(c, "WHERE r.state = 'scheduled' ORDER BY r.id", []))
    }

    /// The run's worker has started: its process and temporary output.
    pub async fn run_started(
        &self,
        id: i64,
        pid: u32,
        output: String,
        rejects: String,
        temp: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE runs SET state = 'running', started_at = ?2, pid = ?3, output = ?4,
                 rejects = ?5, temp = ?6 WHERE id = ?1 AND state = 'scheduled'",
                (id, now(), pid, output, rejects, temp),
            )?;
            Ok(())
        })
        .await
    }

    /// Progress from the worker (no event: the console polls a running run).
    pub async fn run_progress(&self, id: i64, counts: RunCounts) -> Result<(), StoreError> {
        self.write(move |tx| {
            set_counts(tx, id, &counts)?;
            Ok(())
        })
        .await
    }

    /// Ends a run (once: a run already ended keeps its state). Returns whether it was ended.
    pub async fn finish_run(
        &self,
        id: i64,
        state: RunState,
        counts: Option<RunCounts>,
        error: Option<String>,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            if let Some(c) = &counts {
                set_counts(tx, id, c)?;
            }
            let changed = tx.execute(
                "UPDATE runs SET state = ?2, finished_at = ?3, error = ?4, pid = NULL, temp = NULL
                 WHERE id = ?1 AND state IN ('scheduled', 'running')",
                (id, state.as_str(), now(), &error),
            )?;
            if changed > 0 {
                let job: String = tx.query_row(
                    "SELECT j.name FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                record_event(
                    tx,
                    "scheduler",
                    &format!("run.{}", state.as_str()),
                    &job,
                    &json!({ "run": id, "error": error }),
                )?;
            }
            Ok(changed > 0)
        })
        .await
    }

    /// At start: runs a previous server left scheduled or running can no longer finish. They
    /// become failed (interrupted); returns their temporary outputs to remove.
    pub async fn interrupt_runs(&self) -> Result<Vec<String>, StoreError> {
        self.write(|tx| {
            let mut stmt =
                tx.prepare("SELECT id, temp FROM runs WHERE state IN ('scheduled', 'running')")?;
            let rows: Vec<(i64, Option<String>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            for (id, _) in &rows {
                tx.execute(
                    "UPDATE runs SET state = 'failed', finished_at = ?2, pid = NULL, temp = NULL,
                     error = 'interrupted: the server stopped while the run was going' WHERE id = ?1",
                    (id, now()),
                )?;
            }
            if !rows.is_empty() {
                let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
                record_event(tx, "scheduler", "run.interrupted", "", &json!({ "runs": ids }))?;
            }
            Ok(rows.into_iter().filter_map(|r| r.1).collect())
        })
        .await
    }
}

fn set_counts(tx: &Transaction, id: i64, c: &RunCounts) -> Result<(), StoreError> {
    let progress = serde_json::to_string(&c.steps).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "UPDATE runs SET rows_read = ?2, rows_scored = ?3, rows_rejected = ?4,
         rows_filtered = ?5, progress = ?6 WHERE id = ?1",
        (
            id,
            c.rows_read as i64,
            c.rows_scored as i64,
            c.rows_rejected as i64,
            c.rows_filtered as i64,
            progress,
        ),
    )?;
    Ok(())
}

/// The job's run that is scheduled or running, if any.
fn live_run(c: &Connection, job_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "SELECT id FROM runs WHERE job_id = ?1 AND state IN ('scheduled', 'running') LIMIT 1",
        [job_id],
        |r| r.get(0),
    )
    .optional()?)
}
