//! The SQLite store: the only code in modeldeck that writes SQL.
//!
//! One thread owns the write connection and runs every change as an `IMMEDIATE` transaction,
//! so writers never interleave and never meet `SQLITE_BUSY` from each other; callers hand it a
//! closure and await the answer. Reads use a small pool of read-only connections, which WAL
//! lets run beside the writer. Each change writes its event row (the audit log, and later the
//! change stream's revision) inside the same transaction, so the log never disagrees with the
//! data.

mod canary;
mod jobs;
mod metrics;
mod models;
pub mod schema;
mod secrets;
mod services;
mod tokens;
mod traffic;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::domain::Event;

pub use canary::CanaryChange;
pub use jobs::Fired;
pub use metrics::Rollup;
pub use models::NewVersion;
pub use services::NewService;
pub use traffic::Apply;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not a modeldeck database ({why}); it was left untouched: pass another --data-dir"
    )]
    NotOurs { path: PathBuf, why: String },
    #[error(
        "{path} has schema version {found}, newer than this modeldeck understands (up to {supported}); it was left untouched: upgrade modeldeck"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the change was refused by the database: {0}")]
    Constraint(String),
    #[error("{model} is in service ({services}); delete those services first")]
    InService { model: String, services: String },
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    Missing(String),
    /// A change edited from an older state than the one in force.
    #[error("{0}")]
    Stale(String),
    /// A change the rules do not allow in the state things are in.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("the database writer has stopped; restart modeldeck")]
    WriterGone,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Constraint(msg.unwrap_or_else(|| f.to_string()))
            }
            other => StoreError::Sqlite(other),
        }
    }
}

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Option<mpsc::Sender<WriteJob>>,
    thread: Option<JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_IDLE_READERS: usize = 4;

impl Store {
    /// Opens (creating if needed) the database at `path`, refusing files that are not ours,
    /// and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        schema::prepare_file(path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Check ownership before the first write: even switching to WAL writes the header.
        schema::migrate(&mut conn, path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!(
                    "the file system refused WAL mode (got {mode}); put the data directory on a local disk"
                )),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::tighten_permissions(path);

        let (tx, rx) = mpsc::channel::<WriteJob>();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Some(tx),
                thread: Some(thread),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `change` in one IMMEDIATE transaction on the writer thread; commits if it returns
    /// `Ok`, rolls back otherwise.
    pub(crate) async fn write<T, F>(&self, change: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = change(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            let _ = reply.send(result);
        });
        let sender = self.inner.writer.as_ref().ok_or(StoreError::WriterGone)?;
        sender.send(job).map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `query` on a read-only connection. Reads see the last committed state.
    pub(crate) fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.inner.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(BUSY_TIMEOUT)?;
                c
            }
        };
        let result = query(&conn);
        if let Ok(mut pool) = self.inner.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        result
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
    }

    /// The newest event revision (0 when the log is empty).
    pub fn revision(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT coalesce(max(revision), 0) FROM events", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// Each service whose newest threshold event left it above `ok`, with that level: what a
    /// new server, which starts every service at `ok`, has to close in the audit log.
    pub fn raised_levels(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT subject, json_extract(detail, '$.to') FROM events
                 WHERE revision IN (SELECT max(revision) FROM events
                                    WHERE kind LIKE 'threshold.%' GROUP BY subject)",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                if let (subject, Some(level)) = row?
                    && level != "ok"
                {
                    out.push((subject, level));
                }
            }
            Ok(out)
        })
    }

    /// Events after `revision`, oldest first.
    pub fn events_since(&self, revision: i64) -> Result<Vec<Event>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT revision, at, actor, kind, subject, detail FROM events
                 WHERE revision > ?1 ORDER BY revision",
            )?;
            let rows = stmt.query_map([revision], |r| {
                let detail: String = r.get(5)?;
                Ok(Event {
                    revision: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    kind: r.get(3)?,
                    subject: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Readers close first, so that the writer's connection is the last one and SQLite
        // checkpoints and removes the WAL when it closes. Closing the channel ends the writer
        // loop; joining makes sure that has happened before whoever dropped the store goes on.
        if let Ok(mut readers) = self.readers.lock() {
            readers.clear();
        }
        self.writer.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Appends an audit event inside the caller's transaction.
pub(crate) fn record_event(
    tx: &Transaction,
    actor: &str,
    kind: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO events (at, actor, kind, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        (now(), actor, kind, subject, detail.to_string()),
    )?;
    Ok(tx.last_insert_rowid())
}

/// The current time as RFC 3339 UTC with second precision.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
