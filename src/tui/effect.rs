//! What flows in and out of [`update`](super::update): messages in, effects out. Effects are
//! two types because two different parties perform them: [`Ui`] effects the event loop does
//! itself (the terminal, the clipboard, quitting), [`Call`]s the worker turns into control API
//! calls whose answers come back as [`Msg`]s.

use super::keymap::Key;
use crate::control::ControlError;
use crate::control::contract::{
    EventList, JobCall, JobView, MonitorView, ServiceView, TrafficCall, TrafficView,
};
use crate::domain::{Job, JobSpec, ModelSignature, ModelSummary, ModelVersion};

/// A failed call as the console shows it: the message, and what the server's error said
/// about itself (its code, the field at fault).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    pub fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_string(),
            message: message.into(),
            field: None,
        }
    }
}

impl From<ControlError> for Failure {
    fn from(e: ControlError) -> Failure {
        Failure {
            code: e.code().to_string(),
            field: e.field_at_fault().map(str::to_string),
            message: e.to_string(),
        }
    }
}

/// What a finished call reports: a message, and the item it created (selected once it shows).
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub text: String,
    pub created: Option<(super::state::List, String)>,
}

impl Done {
    pub fn said(text: impl Into<String>) -> Done {
        Done {
            text: text.into(),
            created: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(Key),
    /// A fresh snapshot: models, services, the server's environment and gateway URL, and
    /// what the token may do.
    Snapshot {
        models: Vec<ModelSummary>,
        services: Vec<ServiceView>,
        environment: String,
        gateway: String,
        scope: crate::domain::Scope,
    },
    Versions(String, Result<Vec<ModelVersion>, Failure>),
    /// The model signature of the service whose detail is open.
    Signature(String, Result<Option<ModelSignature>, Failure>),
    /// The change stream reported a change: reload.
    Changed,
    /// The connection broke (with why) or came back.
    Connection(Result<(), String>),
    /// The console reached its data directory's server at a new address (it restarted).
    Relinked(String),
    /// A service's key, asked for with `v`.
    RevealedKey(String, String),
    /// The request line to copy, built from a service's key and signature.
    CopyReady(String, Result<String, Failure>),
    /// The server accepted `:stop` (its pid): it drains and exits.
    StopAsked(u32),
    /// The server refused `:stop` or could not be asked.
    StopFailed(Failure),
    /// A call finished: a message, or the error (which a busy form shows in place).
    Done(Result<Done, Failure>),
    /// The once-a-second poll of the live figures (and the open service's history).
    Metrics(Box<MonitorView>),
    /// Audit events after a revision (the first load: the newest ones).
    Events(Result<EventList, Failure>),
    /// A service's traffic: loaded, or as a change left it (`changed`: the staged edit went
    /// in, or the change failed and stays staged).
    Traffic {
        service: String,
        result: Result<Box<TrafficView>, Failure>,
        changed: bool,
    },
    /// The job list.
    Jobs(Result<Vec<Job>, Failure>),
    /// The open job: its chain, next fires and runs.
    Job(String, Result<Box<JobView>, Failure>),
}

impl Msg {
    /// Messages that always change what is drawn, so the event loop need not compare the
    /// state before and after (a thousand services' samples are not cheap to copy).
    pub fn always_changes(&self) -> bool {
        matches!(self, Msg::Metrics(_))
    }
}

/// What the event loop does itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Ui {
    /// Copy a service's request line to the clipboard of the terminal the user sits at.
    Copy {
        line: String,
        service: String,
    },
    Theme(String),
    Suspend,
    /// Quit; `stop` also stops the server this console started.
    Quit {
        stop: bool,
    },
}

/// What the worker does: one control API call (or a few, for the demo and the snapshot).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Reload,
    LoadVersions(String),
    LoadSignature(String),
    /// Imports from what the user typed: a URL or bucket the server fetches, or a path on
    /// the console's own machine that the worker uploads.
    Import {
        source: String,
        name: String,
        kind: String,
    },
    Deploy {
        name: String,
        model: String,
        threads: String,
        concurrency: String,
        timeout_ms: String,
        max_batch_rows: String,
        /// For a SavedModel: the TF Serving URL that serves it (empty: none).
        upstream: String,
    },
    /// `:upstream`: the server of SavedModel version `model:version`.
    ServeBy {
        model: String,
        version: u32,
        upstream: String,
    },
    DeleteVersion(String, u32),
    DeleteModel(String),
    DeleteService(String),
    RotateKey(String),
    RevealKey(String),
    /// Builds the runnable request line for a service (its real key, an example body).
    CopyRequest(String),
    Demo,
    /// Stops the server (admin).
    StopServer,
    /// What the live poll asks for from now on: the service whose history the Monitor pane
    /// shows (if any) and over how many seconds.
    Watch {
        service: Option<String>,
        window: i64,
    },
    /// Audit events after this revision (0: the newest ones).
    LoadEvents(i64),
    /// A service's split, rules and traffic history.
    LoadTraffic(String),
    /// One change to a service's traffic (apply a split, roll back).
    ChangeTraffic {
        service: String,
        call: TrafficCall,
    },
    LoadJobs,
    LoadJob(String),
    /// One change to a job (run now, pause, resume, a new definition); `said` is the message
    /// shown when it is done.
    ChangeJob {
        name: String,
        call: Box<JobCall>,
        said: String,
    },
    /// A new chain for the job (the step form, `K`/`J`/`D` on a step).
    EditChain {
        name: String,
        spec: Box<JobSpec>,
        said: String,
    },
    CancelRun(i64),
    DeleteJob(String),
    /// The job form's fields, as typed (the worker reads them as `jobs create` does).
    CreateJob(Vec<(&'static str, String)>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Ui(Ui),
    Call(Call),
}

impl From<Ui> for Effect {
    fn from(u: Ui) -> Effect {
        Effect::Ui(u)
    }
}

impl From<Call> for Effect {
    fn from(c: Call) -> Effect {
        Effect::Call(c)
    }
}
