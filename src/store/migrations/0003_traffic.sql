-- modeldeck schema, version 3: traffic between the versions of a service. Each service's split
-- has a revision, bumped by every change to its versions or weights, so that an apply edited
-- from an older split is refused instead of silently overwriting another engineer's; a change
-- records why, and what kind of change it was (a rollback steps back over the others). A
-- service may route by a request header (stickiness) and name versions by label.

ALTER TABLE services ADD COLUMN traffic_revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN sticky_header TEXT;
ALTER TABLE services ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
-- A share of client requests mirrored to a version that does not answer: {"version", "percent"}.
ALTER TABLE services ADD COLUMN shadow TEXT;

ALTER TABLE traffic_changes ADD COLUMN kind TEXT NOT NULL DEFAULT 'split'
    CHECK (kind IN ('split', 'upgrade', 'rollback', 'add', 'remove', 'canary'));
ALTER TABLE traffic_changes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE traffic_changes ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- A service's canary (at most one): the candidate, its steps and gates, where it is, and the
-- split to go back to on a breach, as JSON (domain::canary::Canary).
CREATE TABLE canaries (
    service_id INTEGER PRIMARY KEY REFERENCES services(id),
    body       TEXT NOT NULL
);
