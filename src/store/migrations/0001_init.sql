-- modeldeck schema, version 1. Applied inside one transaction by store::schema.
-- Times are RFC 3339 UTC text. Rows that users may want to read after a delete (services,
-- jobs, tokens) are retired with a timestamp instead of being removed.

CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
    description  TEXT    NOT NULL DEFAULT '',
    -- Version numbers are never reused while the model exists, even after a version is removed.
    next_version INTEGER NOT NULL DEFAULT 1 CHECK (next_version >= 1),
    created_at   TEXT    NOT NULL
);

CREATE TABLE model_versions (
    id          INTEGER PRIMARY KEY,
    model_id    INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version >= 1),
    kind        TEXT    NOT NULL CHECK (kind IN ('pmml', 'onnx', 'angel', 'upstream')),
    sha256      TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    size        INTEGER NOT NULL CHECK (size >= 0),
    artifact    TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    UNIQUE (model_id, version)
);
CREATE INDEX model_versions_by_sha ON model_versions(sha256);

CREATE TABLE services (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    host           TEXT    NOT NULL,
    model_id       INTEGER REFERENCES models(id) ON DELETE SET NULL,
    model_name     TEXT    NOT NULL,
    access_key     TEXT    NOT NULL,
    runtime        TEXT    NOT NULL,
    threads        INTEGER NOT NULL CHECK (threads >= 1),
    concurrency    INTEGER NOT NULL CHECK (concurrency >= 1),
    timeout_ms     INTEGER NOT NULL CHECK (timeout_ms >= 1),
    max_batch_rows INTEGER NOT NULL CHECK (max_batch_rows >= 1),
    memory_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (memory_bytes >= 0),
    created_at     TEXT    NOT NULL,
    deleted_at     TEXT
);
CREATE UNIQUE INDEX services_live_name ON services(name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX services_live_host ON services(host) WHERE deleted_at IS NULL;

-- Which versions a service holds and their traffic weights. A removed deployment keeps its
-- row (removed_at) so history stays readable; the model/version text survives the version.
CREATE TABLE deployments (
    id         INTEGER PRIMARY KEY,
    service_id INTEGER NOT NULL REFERENCES services(id),
    version_id INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    model_name TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    weight     INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 100),
    created_at TEXT    NOT NULL,
    removed_at TEXT
);
CREATE INDEX deployments_by_version ON deployments(version_id);
CREATE INDEX deployments_by_service ON deployments(service_id);

-- A version that live traffic may reach cannot be removed, whatever code path tries.
CREATE TRIGGER model_versions_in_service BEFORE DELETE ON model_versions
WHEN EXISTS (
    SELECT 1 FROM deployments d JOIN services s ON s.id = d.service_id
    WHERE d.version_id = OLD.id AND d.removed_at IS NULL AND s.deleted_at IS NULL
)
BEGIN
    SELECT RAISE(ABORT, 'model version is in service');
END;

CREATE TABLE traffic_changes (
    id          INTEGER PRIMARY KEY,
    service_id  INTEGER NOT NULL REFERENCES services(id),
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    before_json TEXT    NOT NULL,
    after_json  TEXT    NOT NULL,
    is_rollback INTEGER NOT NULL DEFAULT 0 CHECK (is_rollback IN (0, 1))
);
CREATE INDEX traffic_changes_by_service ON traffic_changes(service_id, id);

CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('once', 'periodic')),
    schedule   TEXT,
    start_at   TEXT,
    spec_json  TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at TEXT    NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX jobs_live_name ON jobs(name) WHERE deleted_at IS NULL;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    state       TEXT    NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    rows_written INTEGER NOT NULL DEFAULT 0,
    rows_failed INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT
);
CREATE INDEX runs_by_job ON runs(job_id, id);

-- Minute (60) and ten-minute (600) rollups; latency buckets are the raw log-linear counts so
-- that any period's percentiles can be computed exactly.
CREATE TABLE metric_rollups (
    service_id      INTEGER NOT NULL REFERENCES services(id),
    version         INTEGER NOT NULL,
    resolution_secs INTEGER NOT NULL CHECK (resolution_secs IN (60, 600)),
    bucket_start    INTEGER NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    errors          INTEGER NOT NULL DEFAULT 0,
    cpu_ns          INTEGER NOT NULL DEFAULT 0,
    latency_buckets BLOB    NOT NULL,
    PRIMARY KEY (service_id, version, resolution_secs, bucket_start)
) WITHOUT ROWID;

-- The audit log and the change stream's revision counter.
CREATE TABLE events (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('admin', 'operator', 'viewer')),
    hash         TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens(name) WHERE revoked_at IS NULL;
