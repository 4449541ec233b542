//! The console's state: everything a frame is drawn from, owned by the event loop alone.
//! Workers never touch it; they send messages that [`super::update`] folds in. Nothing here
//! does IO, so every screen and every key sequence can be tested as plain data.

use std::time::Instant;

use crate::domain::{ModelSummary, ModelVersion, Service};

pub const TABS: [&str; 5] = ["Models", "Services", "Traffic", "Monitor", "Jobs"];

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
    pub healthy: bool,
    /// Why the last call or the change stream failed (cleared when it recovers).
    pub problem: Option<String>,
    /// When the data on screen was last loaded.
    pub updated: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub at: Instant,
}

/// A text field of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Import,
    Deploy,
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
}

impl Form {
    pub fn value(&self, label: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.label == label)
            .map_or("", |f| f.value.as_str())
    }
}

/// A destructive action waiting for a yes; the focus starts on Cancel.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub body: String,
    pub effect: super::update::Effect,
    pub on_ok: bool,
    /// In a `prod` environment the service's name must be typed: (expected, typed so far).
    pub typed: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Command(String),
    Confirm(Confirm),
    Form(Form),
    /// Quitting a console that started its server while services are live: leave it running
    /// (the default) or stop it.
    Leave {
        stop: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub tab: usize,
    pub connection: Connection,
    pub environment: String,
    pub gateway: String,
    /// The token may only read: write keys are hidden and refused.
    pub read_only: bool,
    /// The console started the server, so quitting may offer to stop it.
    pub started_server: bool,
    pub models: Loadable<Vec<ModelSummary>>,
    pub services: Loadable<Vec<Service>>,
    /// The model whose versions are shown (Enter on a model).
    pub versions: Option<(String, Loadable<Vec<ModelVersion>>)>,
    /// The service whose detail is shown (Enter on a service), and its key once revealed.
    pub detail: Option<(String, Option<String>)>,
    /// Selected row per view: models, versions, services.
    pub selected: [usize; 3],
    /// First row shown per view: it moves only when the selection would leave the screen, so
    /// the cursor travels within a steady page as in k9s or less.
    pub offset: [usize; 3],
    pub filter: String,
    pub filtering: bool,
    pub overlay: Overlay,
    pub toasts: Vec<Toast>,
    pub theme: String,
    /// Table rows that fit on screen, for paging (set after each draw).
    pub page: usize,
    pub quit: bool,
}

impl State {
    pub fn new(label: &str, theme: &str) -> State {
        State {
            tab: 0,
            connection: Connection {
                label: label.to_string(),
                healthy: false,
                problem: None,
                updated: None,
            },
            environment: String::new(),
            gateway: String::new(),
            read_only: false,
            started_server: false,
            models: Loadable::Loading,
            services: Loadable::Loading,
            versions: None,
            detail: None,
            selected: [0; 3],
            offset: [0; 3],
            filter: String::new(),
            filtering: false,
            overlay: Overlay::None,
            toasts: Vec::new(),
            theme: theme.to_string(),
            page: 10,
            quit: false,
        }
    }

    /// Which of the three tables the selection keys move in.
    pub fn view(&self) -> usize {
        match (self.tab, &self.versions) {
            (0, Some(_)) => 1,
            (0, None) => 0,
            _ => 2,
        }
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

    pub fn shown_services(&self) -> Vec<&Service> {
        self.services
            .ready()
            .map(|s| {
                s.iter()
                    .filter(|s| self.matches(s.name.as_str()) || self.matches(&s.host))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Rows in the current table (after the filter).
    pub fn rows(&self) -> usize {
        match self.view() {
            0 => self.shown_models().len(),
            1 => self.shown_versions().len(),
            _ if self.tab == 1 => self.shown_services().len(),
            _ => 0,
        }
    }

    pub fn selected_model(&self) -> Option<&ModelSummary> {
        self.shown_models().get(self.selected[0]).copied()
    }

    pub fn selected_version(&self) -> Option<&ModelVersion> {
        self.shown_versions().get(self.selected[1]).copied()
    }

    pub fn selected_service(&self) -> Option<&Service> {
        self.shown_services().get(self.selected[2]).copied()
    }

    pub fn toast(&mut self, text: impl Into<String>, error: bool, at: Instant) {
        self.toasts.push(Toast {
            text: text.into(),
            error,
            at,
        });
        if self.toasts.len() > 3 {
            self.toasts.remove(0);
        }
    }
}
