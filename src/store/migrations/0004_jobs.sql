-- modeldeck schema, version 4: batch jobs that run. A job's definition stays in spec_json
-- (domain::JobSpec); the scheduler keeps the job's next fire time here, computed in our code,
-- so that a restart, a pause or an edit never depends on a timer that lived in memory.
-- `enabled = 0` is a paused schedule.

ALTER TABLE jobs ADD COLUMN next_fire_at TEXT;
CREATE INDEX jobs_due ON jobs(next_fire_at) WHERE deleted_at IS NULL AND enabled = 1;

-- No version of modeldeck wrote runs before this one, so the table is made again with the
-- states, counts and progress a run has.
DROP INDEX runs_by_job;
DROP TABLE runs;
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs(id),
    state         TEXT    NOT NULL CHECK (state IN
                      ('scheduled', 'running', 'completed', 'failed', 'cancelled', 'skipped')),
    trigger       TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'catchup')),
    -- When its schedule meant it to fire.
    fire_at       TEXT,
    created_at    TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    rows_scored   INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0,
    rows_filtered INTEGER NOT NULL DEFAULT 0,
    output        TEXT,
    rejects       TEXT,
    error         TEXT,
    -- Per-step progress as the worker last reported it (JSON list of domain::StepProgress).
    progress      TEXT    NOT NULL DEFAULT '[]',
    -- The worker's process and temporary output, so an interrupted run can be cleaned up.
    pid           INTEGER,
    temp          TEXT
);
CREATE INDEX runs_by_job ON runs(job_id, id);
CREATE INDEX runs_live ON runs(state) WHERE state IN ('scheduled', 'running');
