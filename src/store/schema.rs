//! Recognising our database, and migrating it forward.
//!
//! A modeldeck database carries `PRAGMA application_id = APPLICATION_ID` and its schema
//! version in `PRAGMA user_version`. Before anything is written we check both: a file that is
//! not SQLite, an SQLite file of another program, or a database from a newer modeldeck is
//! refused and left byte-for-byte as it was. Migrations are numbered SQL files applied in
//! order, each in its own transaction together with the version bump.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// "MDK1" as a big-endian integer.
pub const APPLICATION_ID: i32 = 0x4D44_4B31;

/// Migration `i` (0-based) brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_monitoring.sql"),
    include_str!("migrations/0003_traffic.sql"),
    include_str!("migrations/0004_jobs.sql"),
    include_str!("migrations/0005_secrets.sql"),
    include_str!("migrations/0006_savedmodel.sql"),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks an existing file before SQLite opens it, or creates an empty owner-only file.
pub(super) fn prepare_file(path: &Path) -> Result<(), StoreError> {
    match File::open(path) {
        Ok(mut f) => {
            let mut header = [0u8; 16];
            let n = read_up_to(&mut f, &mut header).map_err(|e| io_error(path, e))?;
            if n == 0 {
                return Ok(()); // An empty file is a database SQLite has not written yet.
            }
            if n < header.len() || &header != b"SQLite format 3\0" {
                return Err(StoreError::NotOurs {
                    path: path.to_path_buf(),
                    why: "it is not an SQLite database".into(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| io_error(path, e))?;
            Ok(())
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn io_error(path: &Path, e: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Refuses foreign or newer databases, then applies the missing migrations.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if app_id != 0 || tables > 0 || version != 0 {
            return Err(StoreError::NotOurs {
                path: path.to_path_buf(),
                why: "it is an SQLite database of another program".into(),
            });
        }
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    apply(conn, version as usize, MIGRATIONS.len())
}

/// Applies migrations `from..to`, each in its own transaction. Foreign keys are off meanwhile
/// (a table rebuild drops the old table, which would otherwise null or cascade the rows that
/// point at it) and the deployments that point at versions checked before each commit; [`super::Store::open`] turns them on after.
fn apply(conn: &mut Connection, from: usize, to: usize) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(from) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check(deployments)", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(StoreError::Constraint(format!(
                "migration {} left a row of {table} pointing at nothing; the database is unchanged",
                i + 1
            )));
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Owner-only permissions on the database and the WAL files SQLite made beside it.
pub(super) fn tighten_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-5 database with a model in service comes through the table rebuild whole:
    /// its deployment still points at its version, that version still cannot be removed
    /// while in service, and SavedModels become storable.
    #[test]
    fn the_savedmodel_rebuild_keeps_versions_and_what_points_at_them() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c, 0, 5).unwrap();
        c.execute_batch(
            "INSERT INTO models (id, name, created_at) VALUES (1, 'iris', 't');
             INSERT INTO model_versions (id, model_id, version, kind, sha256, size, artifact, source, created_at)
               VALUES (7, 1, 1, 'pmml', printf('%064d', 0), 10, 'artifacts/x/model.pmml', 's', 't');
             INSERT INTO services (id, name, host, model_id, model_name, access_key, runtime, threads,
                                   concurrency, timeout_ms, max_batch_rows, created_at)
               VALUES (1, 'iris', 'iris.local', 1, 'iris', 'k', 'pmml/0', 1, 1, 1, 1, 't');
             INSERT INTO deployments (service_id, version_id, model_name, version, weight, created_at)
               VALUES (1, 7, 'iris', 1, 100, 't');",
        )
        .unwrap();
        apply(&mut c, 5, MIGRATIONS.len()).unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        let pointed: Option<i64> = c
            .query_row("SELECT version_id FROM deployments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pointed, Some(7));
        let kept: (String, u32) = c
            .query_row(
                "SELECT kind, version FROM model_versions WHERE id = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, ("pmml".to_string(), 1));
        let err = c
            .execute("DELETE FROM model_versions WHERE id = 7", [])
            .unwrap_err();
        assert!(err.to_string().contains("in service"), "{err}");
        let insert = |kind: &str, served_by: Option<&str>| {
            c.execute(
                "INSERT INTO model_versions (model_id, version, kind, sha256, size, artifact, source, created_at, served_by)
                 VALUES (1, (SELECT max(version) + 1 FROM model_versions), ?1, printf('%064d', 1), 1, 'a', 's', 't', ?2)",
                (kind, served_by),
            )
        };
        insert("savedmodel", None).unwrap();
        insert("savedmodel", Some("artifacts/ab/upstream.toml")).unwrap();
        assert!(insert("pmml", Some("artifacts/ab/upstream.toml")).is_err());
        assert!(insert("savedmodel", Some("/etc/passwd")).is_err());
        // Removing the model still takes its versions with it.
        c.execute("DELETE FROM deployments", []).unwrap();
        c.execute("DELETE FROM models", []).unwrap();
        let left: i64 = c
            .query_row("SELECT count(*) FROM model_versions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
