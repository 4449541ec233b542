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

use rusqlite::Connection;

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
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
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
