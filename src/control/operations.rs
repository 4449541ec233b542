//! Long-running work the control API answers for at once (202) and reports on later:
//! `GET /api/v1/operations/{id}` shows its phase, the bytes received so far and, at the end,
//! its result or its error. Operations live in memory: they describe this server's work in
//! progress, while what they changed is in the store and its event log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::contract::{ErrorBody, OperationView, Progress};

/// The longest error message an operation keeps.
const MAX_MESSAGE: usize = 1000;

/// Finished operations kept for clients that look late.
const KEEP_FINISHED: usize = 100;

/// What an import reports while it runs; shared between the import and the operation.
#[derive(Debug, Default)]
pub struct ImportProgress {
    phase: Mutex<&'static str>,
    /// The staging folder the bytes arrive in (their size on disk is the progress).
    staging: Mutex<Option<PathBuf>>,
    /// The announced size, when the source announces one.
    pub total: AtomicU64,
}

impl ImportProgress {
    pub fn set_phase(&self, phase: &'static str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
    }

    pub fn set_staging(&self, path: PathBuf) {
        if let Ok(mut s) = self.staging.lock() {
            *s = Some(path);
        }
    }

    fn phase(&self) -> &'static str {
        self.phase.lock().map(|p| *p).unwrap_or("running")
    }

    fn bytes(&self) -> u64 {
        let dir = self.staging.lock().ok().and_then(|s| s.clone());
        dir.map_or(0, |d| disk_size(&d))
    }
}

fn disk_size(path: &std::path::Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| disk_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

#[derive(Debug, Clone)]
enum Outcome {
    Running,
    Succeeded(Value),
    Failed { code: String, message: String },
}

#[derive(Debug)]
pub struct Operation {
    pub id: u64,
    kind: &'static str,
    subject: String,
    actor: String,
    started_at: String,
    outcome: Mutex<Outcome>,
    pub progress: Arc<ImportProgress>,
}

impl Operation {
    pub fn succeed(&self, result: Value) {
        self.finish(Outcome::Succeeded(result));
    }

    pub fn fail(&self, code: &str, message: &str) {
        // Kept in memory and shown to every viewer: bounded, whatever the caller sent.
        self.finish(Outcome::Failed {
            code: code.to_string(),
            message: crate::domain::clip(message, MAX_MESSAGE).into_owned(),
        });
    }

    fn finish(&self, outcome: Outcome) {
        if let Ok(mut o) = self.outcome.lock() {
            *o = outcome;
        }
    }

    fn outcome(&self) -> Outcome {
        self.outcome
            .lock()
            .map(|o| o.clone())
            .unwrap_or(Outcome::Running)
    }

    /// What the operation works on (a model's name, for an import).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn is_running(&self) -> bool {
        matches!(self.outcome(), Outcome::Running)
    }

    /// The operation as the API shows it.
    pub fn view(&self) -> OperationView {
        let mut v = OperationView {
            id: self.id.to_string(),
            kind: self.kind.to_string(),
            subject: self.subject.clone(),
            actor: self.actor.clone(),
            started_at: self.started_at.clone(),
            state: String::new(),
            phase: None,
            progress: None,
            result: None,
            error: None,
        };
        let total = self.progress.total.load(Ordering::Relaxed);
        match self.outcome() {
            Outcome::Running => {
                v.state = "running".into();
                v.phase = Some(self.progress.phase().into());
                v.progress = Some(Progress {
                    bytes: self.progress.bytes(),
                    total: (total > 0).then_some(total),
                });
            }
            Outcome::Succeeded(result) => {
                v.state = "succeeded".into();
                v.result = Some(result);
            }
            Outcome::Failed { code, message } => {
                v.state = "failed".into();
                v.error = Some(ErrorBody {
                    code,
                    message,
                    field: None,
                });
            }
        }
        v
    }
}

/// The server's operations, newest last.
#[derive(Debug, Default)]
pub struct Operations {
    next: AtomicU64,
    all: Mutex<BTreeMap<u64, Arc<Operation>>>,
}

impl Operations {
    pub fn start(&self, kind: &'static str, subject: &str, actor: &str) -> Arc<Operation> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let op = Arc::new(Operation {
            id,
            kind,
            subject: subject.to_string(),
            actor: actor.to_string(),
            started_at: crate::store::now(),
            outcome: Mutex::new(Outcome::Running),
            progress: Arc::new(ImportProgress::default()),
        });
        if let Ok(mut all) = self.all.lock() {
            all.insert(id, Arc::clone(&op));
            let finished: Vec<u64> = all
                .iter()
                .filter(|(_, o)| !o.is_running())
                .map(|(id, _)| *id)
                .collect();
            for id in finished
                .iter()
                .take(finished.len().saturating_sub(KEEP_FINISHED))
            {
                all.remove(id);
            }
        }
        op
    }

    pub fn get(&self, id: u64) -> Option<Arc<Operation>> {
        self.all.lock().ok()?.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Operation>> {
        self.all
            .lock()
            .map(|all| all.values().cloned().collect())
            .unwrap_or_default()
    }
}
