-- modeldeck schema, version 6: TensorFlow SavedModels in the repository. A SavedModel is kept
-- like any artifact but runs on TF Serving, so a version of it is served through the upstream
-- named when it is deployed: `served_by` is that upstream file's artifact path
-- (`artifacts/<sha256>/upstream.toml`) and `served_by_url` its URL, for people to read.
--
-- SQLite cannot widen a CHECK in place, so the table is rebuilt (foreign keys are off while
-- migrations run: dropping the old table must not null the deployments that point at it).

CREATE TABLE model_versions_new (
    id            INTEGER PRIMARY KEY,
    model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL CHECK (version >= 1),
    kind          TEXT    NOT NULL
                  CHECK (kind IN ('pmml', 'onnx', 'angel', 'upstream', 'savedmodel')),
    sha256        TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    size          INTEGER NOT NULL CHECK (size >= 0),
    artifact      TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    created_at    TEXT    NOT NULL,
    served_by     TEXT    CHECK (served_by IS NULL OR
                                 (kind = 'savedmodel' AND served_by GLOB 'artifacts/*/upstream.*')),
    served_by_url TEXT,
    UNIQUE (model_id, version)
);
INSERT INTO model_versions_new
    (id, model_id, version, kind, sha256, size, artifact, source, description, created_at)
SELECT id, model_id, version, kind, sha256, size, artifact, source, description, created_at
FROM model_versions;
DROP TABLE model_versions;
ALTER TABLE model_versions_new RENAME TO model_versions;
CREATE INDEX model_versions_by_sha ON model_versions(sha256);

-- As in version 1: a version that live traffic may reach cannot be removed.
CREATE TRIGGER model_versions_in_service BEFORE DELETE ON model_versions
WHEN EXISTS (
    SELECT 1 FROM deployments d JOIN services s ON s.id = d.service_id
    WHERE d.version_id = OLD.id AND d.removed_at IS NULL AND s.deleted_at IS NULL
)
BEGIN
    SELECT RAISE(ABORT, 'model version is in service');
END;
