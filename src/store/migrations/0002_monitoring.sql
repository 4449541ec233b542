-- modeldeck schema, version 2: monitoring. The first schema's metric_rollups was never written;
-- it is replaced by one keyed by the service's name (history stays readable after a delete)
-- with every counter the gateway keeps, the raw latency bucket counts, and what the model
-- answered. A service may override the server's threshold levels.

DROP TABLE metric_rollups;

CREATE TABLE metric_rollups (
    service        TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    -- 0 for what a service counts before a version is chosen (unauthorised callers).
    version        INTEGER NOT NULL CHECK (version >= 0),
    source         TEXT    NOT NULL CHECK (source IN ('client', 'test', 'batch')),
    resolution     INTEGER NOT NULL CHECK (resolution IN (60, 600)),
    start          INTEGER NOT NULL,
    ok             INTEGER NOT NULL DEFAULT 0,
    client_errors  INTEGER NOT NULL DEFAULT 0,
    server_errors  INTEGER NOT NULL DEFAULT 0,
    timeouts       INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    unauthorised   INTEGER NOT NULL DEFAULT 0,
    rows_scored    INTEGER NOT NULL DEFAULT 0,
    bytes_in       INTEGER NOT NULL DEFAULT 0,
    bytes_out      INTEGER NOT NULL DEFAULT 0,
    busy_us        INTEGER NOT NULL DEFAULT 0,
    latency_sum_us INTEGER NOT NULL DEFAULT 0,
    -- Non-zero log-linear buckets: (u16 index, u64 count) little-endian pairs.
    latency        BLOB    NOT NULL,
    -- JSON: {"classes": {label: n}} or {"values": n, "sum": s, "sum_sq": q}.
    outputs        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (service, resolution, start, version, source)
) WITHOUT ROWID;
CREATE INDEX metric_rollups_by_age ON metric_rollups(resolution, start);

-- JSON thresholds; NULL means the server's defaults.
ALTER TABLE services ADD COLUMN thresholds TEXT;
