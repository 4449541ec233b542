//! The console's state: everything a frame is drawn from, owned by the event loop alone.
//! Workers never touch it; they send messages that [`super::update`] folds in. Nothing here
//! does IO, so every screen and every key sequence can be tested as plain data.

use std::time::Instant;

use super::effect::Call;
use super::input::Input;
use super::metrics::{Metrics, MonitorUi};
use crate::control::contract::ServiceView;
use crate::domain::{Event, ModelSignature, ModelSummary, ModelVersion, Scope};

/// The console's panes, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Models,
    Services,
    Traffic,
    Monitor,
    Jobs,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Models,
        Pane::Services,
        Pane::Traffic,
        Pane::Monitor,
        Pane::Jobs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Models => "Models",
            Pane::Services => "Services",
            Pane::Traffic => "Traffic",
            Pane::Monitor => "Monitor",
            Pane::Jobs => "Jobs",
        }
    }

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The pane `step` places after this one, wrapping around.
    pub fn cycle(self, step: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        Pane::ALL[(self.index() as isize + step).rem_euclid(n) as usize]
    }
}

/// The tables whose rows a cursor moves over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Models,
    Versions,
    Services,
    /// The Monitor pane's grid of services.
    Monitor,
    /// The Traffic pane's services.
    Traffic,
    /// The versions of the service whose sliders are open.
    Weights,
    Jobs,
    /// The steps of the open job's chain.
    Chain,
    /// The open job's runs.
    Runs,
}

/// A table's cursor: the selected row and the first row shown (it moves only when the
/// selection would leave the screen, so the cursor travels within a steady page as in k9s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub row: usize,
    pub offset: usize,
}

/// Data that arrives from the server, or has not yet, or failed to.
#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Loadable<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Loadable::Ready(t) => Some(t),
            _ => None,
        }
    }
}

/// How the console reaches its server, for the title bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `attached 127.0.0.1:8502`, `started 127.0.0.1:8502` or `embedded`.
    pub label: String,
    /// Loaded at least once and not broken since.
    pub healthy: bool,
    /// Why the last call or the change stream failed (cleared when it recovers). While set,
    /// everything on screen is STALE.
    pub problem: Option<String>,
    /// When the data on screen was last loaded.
    pub updated: Option<Instant>,
    /// Where a `:stop` from this console stands: the server going away after it is news, not
    /// an error.
    pub stop: StopAsk,
}

/// A `:stop` in flight. Its reply and the loss of the server come from different workers in
/// either order, so the loss is said once both are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopAsk {
    #[default]
    None,
    /// Confirmed and sent; the server has not answered yet.
    Sent,
    /// The server said it is stopping.
    Accepted,
}

impl Connection {
    pub fn stale(&self) -> bool {
        self.problem.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub at: Instant,
    /// Taken off the status line early (the user moved on); `:messages` still lists it.
    pub dismissed: bool,
}

/// A text field of a form, named as the control API names it (so a refusal that names a
/// field puts the cursor there).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Import,
    Deploy,
    /// An exact percent for one version in the Traffic pane (staged, not sent).
    Weight(u32),
    /// A canary for the open service in the Traffic pane.
    Canary,
    /// A batch job (from a model, `b`).
    Job,
    /// One step of the open job's chain: put at `at`, replacing the step there or not.
    Step {
        at: usize,
        replace: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Sent and not answered yet: the form shows progress and takes no input.
    pub busy: bool,
    /// The server's refusal, shown in place; the form stays open to fix it.
    pub error: Option<String>,
    /// The name the form filled in from the source's file name: replaced when the source
    /// changes, unless the user has typed a name of their own.
    pub suggested: Option<String>,
}

impl Form {
    pub fn value(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map_or("", |f| f.input.text())
    }
}

/// A destructive action waiting for a yes; the focus starts on Cancel.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub body: String,
    pub call: Call,
    pub on_ok: bool,
    /// In a `prod` environment the service's name must be typed: (expected, typed so far).
    pub typed: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// Every message of this session, newest last (`:messages`).
    Messages,
    Command(Input),
    Confirm(Confirm),
    Form(Form),
    /// Quitting a console that started its server while services are live: leave it running
    /// (the default) or stop it.
    Leave {
        stop: bool,
    },
}

/// The audit log (`:events`), following the change stream.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsView {
    /// Only events about this service (opened from its detail).
    pub service: Option<String>,
    /// Shown events must contain this text (in kind, subject, actor or detail).
    pub filter: String,
    pub filtering: bool,
    /// Oldest first.
    pub events: Loadable<Vec<Event>>,
    /// How many shown rows above the newest the cursor is (0 follows the newest).
    pub scroll: usize,
}

impl EventsView {
    pub fn new(service: Option<String>) -> EventsView {
        EventsView {
            service,
            filter: String::new(),
            filtering: false,
            events: Loadable::Loading,
            scroll: 0,
        }
    }

    /// The newest revision held (0: none).
    pub fn revision(&self) -> i64 {
        self.events
            .ready()
            .and_then(|e| e.last())
            .map_or(0, |e| e.revision)
    }

    /// The events the service and the filter let through, oldest first.
    pub fn shown(&self) -> Vec<&Event> {
        let needle = self.filter.to_ascii_lowercase();
        self.events
            .ready()
            .map(|all| {
                all.iter()
                    .filter(|e| {
                        self.service.as_ref().is_none_or(|s| {
                            e.subject == *s || e.subject.starts_with(&format!("{s}:"))
                        })
                    })
                    .filter(|e| {
                        needle.is_empty()
                            || [&e.kind, &e.subject, &e.actor, &e.detail.to_string()]
                                .iter()
                                .any(|t| t.to_ascii_lowercase().contains(&needle))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Events the console keeps: the newest this many.
pub const EVENTS_KEPT: usize = 1000;

/// The service whose detail is shown (Enter on a service).
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub name: String,
    /// Its key once revealed with `v`.
    pub key: Option<String>,
    /// What its model takes and gives (asked for when the detail opens).
    pub signature: Loadable<Option<ModelSignature>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub pane: Pane,
    pub connection: Connection,
    pub environment: String,
    pub gateway: String,
    /// What the console's token may do: a viewer's write keys are hidden and refused, and
    /// `:stop` needs an admin.
    pub scope: Scope,
    /// The console started the server, so quitting may offer to stop it.
    pub started_server: bool,
    pub models: Loadable<Vec<ModelSummary>>,
    pub services: Loadable<Vec<ServiceView>>,
    /// The model whose versions are shown (Enter on a model).
    pub versions: Option<(String, Loadable<Vec<ModelVersion>>)>,
    pub detail: Option<Detail>,
    /// The server's live figures and the open service's history.
    pub metrics: Metrics,
    pub monitor: MonitorUi,
    /// The audit log, when open (over whatever pane is current).
    pub events: Option<EventsView>,
    pub traffic: super::traffic::TrafficUi,
    pub jobs: super::jobs::JobsUi,
    pub cursors: [Cursor; 9],
    /// An item just created: selected as soon as a snapshot brings it.
    pub select_next: Option<(List, String)>,
    pub filter: String,
    pub filtering: bool,
    pub overlay: Overlay,
    /// Every message shown this session (the status line shows the newest for a while).
    pub messages: Vec<Toast>,
    pub theme: String,
    /// Table rows that fit on screen, for paging (set after each draw).
    pub page: usize,
    pub quit: bool,
}

/// How long a message holds the status line.
pub const TOAST: std::time::Duration = std::time::Duration::from_secs(6);

/// Messages kept for `:messages`.
const MESSAGES_KEPT: usize = 200;

impl State {
    pub fn new(label: &str, theme: &str) -> State {
        State {
            pane: Pane::Models,
            connection: Connection {
                label: label.to_string(),
                healthy: false,
                problem: None,
                updated: None,
                stop: StopAsk::None,
            },
            environment: String::new(),
            gateway: String::new(),
            scope: Scope::Operator,
            started_server: false,
            models: Loadable::Loading,
            services: Loadable::Loading,
            versions: None,
            detail: None,
            metrics: Metrics::default(),
            monitor: MonitorUi::default(),
            events: None,
            traffic: Default::default(),
            jobs: Default::default(),
            cursors: [Cursor::default(); 9],
            select_next: None,
            filter: String::new(),
            filtering: false,
            overlay: Overlay::None,
            messages: Vec::new(),
            theme: theme.to_string(),
            page: 10,
            quit: false,
        }
    }

    /// The token may only read.
    pub fn read_only(&self) -> bool {
        self.scope == Scope::Viewer
    }

    /// Which table the selection keys move in, if the pane has one.
    pub fn list(&self) -> Option<List> {
        match (self.pane, &self.versions, &self.detail) {
            (Pane::Models, Some(_), _) => Some(List::Versions),
            (Pane::Models, None, _) => Some(List::Models),
            (Pane::Services, _, None) => Some(List::Services),
            (Pane::Monitor, _, _) if self.monitor.open.is_none() => Some(List::Monitor),
            (Pane::Traffic, _, _) => Some(match self.traffic.open {
                Some(_) => List::Weights,
                None => List::Traffic,
            }),
            (Pane::Jobs, _, _) => match &self.jobs.open {
                None => Some(List::Jobs),
                Some(o) if o.run.is_some() => None,
                Some(o) => Some(match o.focus {
                    super::jobs::Focus::Chain => List::Chain,
                    super::jobs::Focus::Runs => List::Runs,
                }),
            },
            _ => None,
        }
    }

    pub fn cursor(&self, list: List) -> Cursor {
        self.cursors[list as usize]
    }

    pub fn cursor_mut(&mut self, list: List) -> &mut Cursor {
        &mut self.cursors[list as usize]
    }

    /// Case-insensitive substring match (ASCII case, which is what names and hosts use),
    /// without allocating: it runs for every row on every frame while a filter is typed.
    fn matches(&self, text: &str) -> bool {
        let (hay, needle) = (text.as_bytes(), self.filter.as_bytes());
        needle.is_empty()
            || hay
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
    }

    /// The models the filter lets through.
    pub fn shown_models(&self) -> Vec<&ModelSummary> {
        self.models
            .ready()
            .map(|m| m.iter().filter(|m| self.matches(&m.name)).collect())
            .unwrap_or_default()
    }

    pub fn shown_versions(&self) -> Vec<&ModelVersion> {
        match &self.versions {
            Some((_, Loadable::Ready(v))) => v
                .iter()
                .filter(|v| self.matches(&v.version.to_string()) || self.matches(&v.source))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn shown_services(&self) -> Vec<&ServiceView> {
        self.services
            .ready()
            .map(|s| {
                s.iter()
                    .filter(|s| {
                        self.matches(s.service.name.as_str()) || self.matches(&s.service.host)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The jobs the run-state filter and the text filter let through.
    pub fn shown_jobs(&self) -> Vec<&crate::domain::Job> {
        self.jobs
            .jobs
            .ready()
            .map(|j| {
                j.iter()
                    .filter(|j| self.jobs.filter.admits(j) && self.matches(&j.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The job the Jobs keys act on: the open one, else the selected row.
    pub fn job_target(&self) -> Option<String> {
        match &self.jobs.open {
            Some(o) => Some(o.name.clone()),
            None => self
                .shown_jobs()
                .get(self.cursor(List::Jobs).row)
                .map(|j| j.name.clone()),
        }
    }

    /// The names of a table's shown rows, in order: what a selection is remembered by.
    pub fn keys(&self, list: List) -> Vec<String> {
        match list {
            List::Models => self.shown_models().iter().map(|m| m.name.clone()).collect(),
            List::Versions => self
                .shown_versions()
                .iter()
                .map(|v| v.version.to_string())
                .collect(),
            List::Weights => self
                .traffic
                .versions()
                .iter()
                .map(|v| v.to_string())
                .collect(),
            List::Jobs => self.shown_jobs().iter().map(|j| j.name.clone()).collect(),
            List::Chain => self
                .jobs
                .view()
                .map(|v| v.job.spec.steps.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            List::Runs => self
                .jobs
                .view()
                .map(|v| v.runs.iter().map(|r| r.id.to_string()).collect())
                .unwrap_or_default(),
            List::Services | List::Monitor | List::Traffic => self
                .shown_services()
                .iter()
                .map(|s| s.service.name.to_string())
                .collect(),
        }
    }

    /// Rows in the current table (after the filter).
    pub fn rows(&self) -> usize {
        self.list().map_or(0, |l| self.keys(l).len())
    }

    pub fn selected_model(&self) -> Option<&ModelSummary> {
        self.shown_models()
            .get(self.cursor(List::Models).row)
            .copied()
    }

    pub fn selected_version(&self) -> Option<&ModelVersion> {
        self.shown_versions()
            .get(self.cursor(List::Versions).row)
            .copied()
    }

    /// The name on the selected row of a table of services.
    pub fn selected(&self, list: List) -> Option<String> {
        self.keys(list).get(self.cursor(list).row).cloned()
    }

    pub fn selected_service(&self) -> Option<&ServiceView> {
        self.shown_services()
            .get(self.cursor(List::Services).row)
            .copied()
    }

    /// A service by name, filter or not.
    pub fn service(&self, name: &str) -> Option<&ServiceView> {
        self.services
            .ready()?
            .iter()
            .find(|s| s.service.name.as_str() == name)
    }

    /// Shows a message on the status line (and keeps it for `:messages`).
    pub fn toast(&mut self, text: impl Into<String>, error: bool, at: Instant) {
        self.messages.push(Toast {
            text: text.into(),
            error,
            at,
            dismissed: false,
        });
        if self.messages.len() > MESSAGES_KEPT {
            self.messages.remove(0);
        }
    }

    /// The user moved on: an error already shown no longer holds the status line.
    pub fn settle_errors(&mut self) {
        if let Some(last) = self.messages.last_mut()
            && last.error
        {
            last.dismissed = true;
        }
    }

    /// A hint that has been followed leaves the status line (it stays in `:messages`).
    pub fn settle_hint(&mut self, hint: &str) {
        if let Some(last) = self.messages.last_mut()
            && last.text == hint
        {
            last.dismissed = true;
        }
    }

    /// The message the status line shows at `now`, if one is fresh.
    pub fn status_message(&self, now: Instant) -> Option<&Toast> {
        self.messages
            .last()
            .filter(|t| !t.dismissed && now.saturating_duration_since(t.at) < TOAST)
    }
}
