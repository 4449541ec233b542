-- modeldeck schema, version 5: secrets an upstream version sends (its auth header's value).
-- They live here, not in artifacts, so a model file can be shared and a token rotated without
-- re-importing; the value is never returned by the control API nor written to the event log.

CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
