//! `update(state, message) -> effects`: the console's whole behaviour as a pure function.
//! Keys and server news come in as [`Msg`]; what must happen outside (HTTP calls, the
//! clipboard, quitting) goes out as [`Effect`]s that the event loop hands to its workers.

use std::time::{Duration, Instant};

use super::action::{ACTIONS, Action, COMMANDS, Scope, def_of};
use super::keymap::{Key, Keymap};
use super::state::{Confirm, Field, Form, FormKind, Loadable, Overlay, State};
use crate::domain::{
    CONCURRENCY, MAX_BATCH_ROWS, ModelSummary, ModelVersion, Service, THREADS, TIMEOUT_MS,
};
use crossterm::event::KeyCode;

/// How long a toast stays.
const TOAST: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(Key),
    /// A fresh snapshot: models, services, the server's environment and gateway URL, and
    /// whether the token only reads.
    Snapshot {
        models: Vec<ModelSummary>,
        services: Vec<Service>,
        environment: String,
        gateway: String,
        read_only: bool,
    },
    Versions(String, Result<Vec<ModelVersion>, String>),
    /// The change stream reported a change: reload.
    Changed,
    /// The connection broke (with why) or came back.
    Connection(Result<(), String>),
    /// A service's key, asked for with `v`.
    RevealedKey(String, String),
    /// An action finished: a toast, or the error (which a busy form shows in place).
    Done(Result<String, String>),
    Tick(Instant),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Reload,
    LoadVersions(String),
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
    },
    DeleteVersion(String, u32),
    DeleteService(String),
    RotateKey(String),
    RevealKey(String),
    Copy(String),
    Demo,
    Theme(String),
    Suspend,
    /// Quit; `stop` also stops the server this console started.
    Quit {
        stop: bool,
    },
}

pub fn scope_of(state: &State) -> Scope {
    match state.tab {
        0 => Scope::Models,
        1 => Scope::Services,
        _ => Scope::Global,
    }
}

pub fn update(state: &mut State, keymap: &Keymap, msg: Msg, now: Instant) -> Vec<Effect> {
    let effects = apply(state, keymap, msg, now);
    scroll(state);
    effects
}

/// Moves the current table's first shown row just enough to keep the selection on screen.
fn scroll(state: &mut State) {
    let view = state.view();
    let page = state.page.max(1);
    let selected = state.selected[view];
    let offset = &mut state.offset[view];
    if selected < *offset {
        *offset = selected;
    } else if selected >= *offset + page {
        *offset = selected + 1 - page;
    }
}

fn apply(state: &mut State, keymap: &Keymap, msg: Msg, now: Instant) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, keymap, key, now),
        Msg::Snapshot {
            models,
            services,
            environment,
            gateway,
            read_only,
        } => {
            state.models = Loadable::Ready(models);
            state.services = Loadable::Ready(services);
            state.environment = environment;
            state.gateway = gateway;
            state.read_only = read_only;
            state.connection.healthy = true;
            state.connection.problem = None;
            state.connection.updated = Some(now);
            clamp(state);
            match &state.versions {
                Some((name, _)) => vec![Effect::LoadVersions(name.clone())],
                None => vec![],
            }
        }
        Msg::Versions(name, result) => {
            if let Some((shown, list)) = &mut state.versions
                && *shown == name
            {
                *list = match result {
                    Ok(v) => Loadable::Ready(v),
                    Err(e) => Loadable::Failed(e),
                };
            }
            clamp(state);
            vec![]
        }
        Msg::Changed => vec![Effect::Reload],
        Msg::Connection(Ok(())) => {
            state.connection.healthy = true;
            state.connection.problem = None;
            vec![Effect::Reload]
        }
        Msg::Connection(Err(why)) => {
            state.connection.healthy = false;
            state.connection.problem = Some(why);
            vec![]
        }
        Msg::RevealedKey(name, key) => {
            if let Some((shown, revealed)) = &mut state.detail
                && *shown == name
            {
                *revealed = Some(key);
            }
            vec![]
        }
        Msg::Done(result) => {
            if let Overlay::Form(form) = &mut state.overlay
                && form.busy
            {
                match result {
                    Ok(text) => {
                        state.overlay = Overlay::None;
                        state.toast(text, false, now);
                    }
                    Err(e) => {
                        form.busy = false;
                        form.error = Some(e);
                    }
                }
            } else {
                match result {
                    Ok(text) => state.toast(text, false, now),
                    Err(e) => state.toast(e, true, now),
                }
            }
            vec![]
        }
        Msg::Tick(at) => {
            state.toasts.retain(|t| at.duration_since(t.at) < TOAST);
            vec![]
        }
    }
}

fn on_key(state: &mut State, keymap: &Keymap, key: Key, now: Instant) -> Vec<Effect> {
    if key.ctrl && key.code == KeyCode::Char('c') {
        return quit(state);
    }
    // Text inputs and dialogs take keys before the key map does.
    if let Overlay::Command(input) = &mut state.overlay {
        let input = std::mem::take(input);
        return command_key(input, key, state);
    }
    match &mut state.overlay {
        Overlay::Command(_) => {}
        Overlay::Form(_) => return form_key(state, key),
        Overlay::Confirm(_) => return confirm_key(state, key),
        Overlay::Leave { stop } => {
            return match key.code {
                KeyCode::Tab | KeyCode::Left | KeyCode::Right => {
                    *stop = !*stop;
                    vec![]
                }
                KeyCode::Enter => {
                    let stop = *stop;
                    state.quit = true;
                    vec![Effect::Quit { stop }]
                }
                KeyCode::Esc => {
                    state.overlay = Overlay::None;
                    vec![]
                }
                _ => vec![],
            };
        }
        Overlay::Help => {
            state.overlay = Overlay::None;
            return vec![];
        }
        Overlay::None => {}
    }
    if state.filtering {
        return filter_key(state, key);
    }
    let Some(action) = keymap.resolve(scope_of(state), key) else {
        return vec![];
    };
    if def_of(action).is_some_and(|d| d.writes) && state.read_only {
        state.toast("read-only: this token may not change anything", true, now);
        return vec![];
    }
    act(state, action, now)
}

fn act(state: &mut State, action: Action, now: Instant) -> Vec<Effect> {
    let rows = state.rows();
    let view = state.view();
    let sel = &mut state.selected[view];
    match action {
        Action::Help => state.overlay = Overlay::Help,
        Action::Command => state.overlay = Overlay::Command(String::new()),
        Action::Filter => {
            state.filtering = true;
            state.filter.clear();
        }
        Action::Tab(i) => switch_tab(state, i),
        Action::NextTab => switch_tab(state, (state.tab + 1) % 5),
        Action::PrevTab => switch_tab(state, (state.tab + 4) % 5),
        Action::Down => *sel = (*sel + 1).min(rows.saturating_sub(1)),
        Action::Up => *sel = sel.saturating_sub(1),
        Action::First => *sel = 0,
        Action::Last => *sel = rows.saturating_sub(1),
        Action::PageDown => *sel = (*sel + state.page.max(1)).min(rows.saturating_sub(1)),
        Action::PageUp => *sel = sel.saturating_sub(state.page.max(1)),
        Action::Open => return open(state),
        Action::Back => back(state),
        Action::Quit => {
            if state.versions.is_some() || state.detail.is_some() || !state.filter.is_empty() {
                back(state);
            } else {
                return quit(state);
            }
        }
        Action::ForceQuit => return quit(state),
        Action::Suspend => return vec![Effect::Suspend],
        Action::Refresh => return vec![Effect::Reload],
        Action::Import => state.overlay = Overlay::Form(import_form()),
        Action::Demo => {
            if state.models.ready().is_some_and(Vec::is_empty) {
                state.toast("loading the sample models", false, now);
                return vec![Effect::Demo];
            }
        }
        Action::DeleteVersion => delete_version(state),
        Action::Deploy => {
            let model = state.selected_model().map(|m| m.name.clone());
            state.overlay = Overlay::Form(deploy_form(model.as_deref()));
        }
        Action::DeleteService => {
            if let Some(s) = state.selected_service() {
                let name = s.name.to_string();
                let typed = (state.environment == "prod").then(|| (name.clone(), String::new()));
                state.overlay = Overlay::Confirm(Confirm {
                    title: format!("Delete service {name}?"),
                    body: format!(
                        "{} stops answering at once (404); its history stays.",
                        s.host
                    ),
                    effect: Effect::DeleteService(name),
                    on_ok: false,
                    typed,
                });
            }
        }
        Action::RotateKey => {
            if let Some(s) = state.selected_service() {
                let name = s.name.to_string();
                state.overlay = Overlay::Confirm(Confirm {
                    title: format!("New access key for {name}?"),
                    body: "The current key stops working at once; clients need the new one.".into(),
                    effect: Effect::RotateKey(name),
                    on_ok: false,
                    typed: None,
                });
            }
        }
        Action::RevealKey => {
            if let Some((name, revealed)) = &mut state.detail {
                if revealed.is_some() {
                    *revealed = None;
                } else {
                    return vec![Effect::RevealKey(name.clone())];
                }
            }
        }
        Action::Copy => {
            if let Some(s) = state.selected_service() {
                let key = match &state.detail {
                    Some((n, Some(k))) if *n == s.name.as_str() => k.clone(),
                    _ => "$KEY".to_string(),
                };
                let line = curl_line(&state.gateway, s, &key);
                state.toast("copied the curl line to the clipboard", false, now);
                return vec![Effect::Copy(line)];
            }
        }
    }
    vec![]
}

/// The ready-to-paste request for a service (the key as given: masked until revealed).
pub fn curl_line(gateway: &str, s: &Service, key: &str) -> String {
    format!(
        "curl -s {gateway}/v1/models/{}:predict -H 'Host: {}' -H 'Authorization: {key}' -d '{{\"instances\":[...]}}'",
        s.name, s.host
    )
}

fn switch_tab(state: &mut State, tab: usize) {
    state.tab = tab;
    state.filter.clear();
    state.filtering = false;
}

fn open(state: &mut State) -> Vec<Effect> {
    match state.view() {
        0 => {
            if let Some(m) = state.selected_model() {
                let name = m.name.clone();
                state.versions = Some((name.clone(), Loadable::Loading));
                state.selected[1] = 0;
                state.filter.clear();
                return vec![Effect::LoadVersions(name)];
            }
        }
        2 if state.tab == 1 => {
            if let Some(s) = state.selected_service() {
                state.detail = Some((s.name.to_string(), None));
            }
        }
        _ => {}
    }
    vec![]
}

fn back(state: &mut State) {
    if !state.filter.is_empty() {
        state.filter.clear();
    } else if state.tab == 0 {
        state.versions = None;
    } else if state.tab == 1 {
        state.detail = None;
    }
}

fn quit(state: &mut State) -> Vec<Effect> {
    let live = state.services.ready().is_some_and(|s| !s.is_empty());
    if state.started_server && live && !matches!(state.overlay, Overlay::Leave { .. }) {
        state.overlay = Overlay::Leave { stop: false };
        return vec![];
    }
    state.quit = true;
    vec![Effect::Quit { stop: false }]
}

fn delete_version(state: &mut State) {
    let Some((model, _)) = &state.versions else {
        return;
    };
    let Some(v) = state.selected_version() else {
        return;
    };
    let (model, version) = (model.clone(), v.version);
    let body = if v.used_by.is_empty() {
        "The version and its artifact are removed; this cannot be undone.".to_string()
    } else {
        let users: Vec<String> = v.used_by.iter().map(|u| u.service.clone()).collect();
        format!(
            "It serves {}: the server will refuse until those services are deleted.",
            users.join(", ")
        )
    };
    state.overlay = Overlay::Confirm(Confirm {
        title: format!("Delete {model}:{version}?"),
        body,
        effect: Effect::DeleteVersion(model, version),
        on_ok: false,
        typed: None,
    });
}

fn confirm_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Overlay::Confirm(c) = &mut state.overlay else {
        return vec![];
    };
    if let Some((expected, typed)) = &mut c.typed {
        match key.code {
            KeyCode::Char(ch) if !key.ctrl => typed.push(ch),
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Esc => state.overlay = Overlay::None,
            KeyCode::Enter if typed == expected => {
                let effect = c.effect.clone();
                state.overlay = Overlay::None;
                return vec![effect];
            }
            _ => {}
        }
        return vec![];
    }
    match key.code {
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => c.on_ok = !c.on_ok,
        KeyCode::Char('y') => {
            let effect = c.effect.clone();
            state.overlay = Overlay::None;
            return vec![effect];
        }
        KeyCode::Enter => {
            let effect = c.on_ok.then(|| c.effect.clone());
            state.overlay = Overlay::None;
            return effect.into_iter().collect();
        }
        KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => state.overlay = Overlay::None,
        _ => {}
    }
    vec![]
}

fn filter_key(state: &mut State, key: Key) -> Vec<Effect> {
    match key.code {
        KeyCode::Enter => state.filtering = false,
        KeyCode::Esc => {
            state.filtering = false;
            state.filter.clear();
        }
        KeyCode::Backspace => {
            state.filter.pop();
        }
        KeyCode::Char(c) if !key.ctrl => state.filter.push(c),
        _ => {}
    }
    let view = state.view();
    state.selected[view] = 0;
    vec![]
}

fn command_key(mut input: String, key: Key, state: &mut State) -> Vec<Effect> {
    match key.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            return vec![];
        }
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Tab => input = complete(state, &input),
        KeyCode::Enter => {
            state.overlay = Overlay::None;
            return run_command(state, input.trim());
        }
        KeyCode::Char(c) if !key.ctrl => input.push(c),
        _ => {}
    }
    state.overlay = Overlay::Command(input);
    vec![]
}

/// Candidates for what has been typed: command names, then service or theme names.
pub fn completions(state: &State, input: &str) -> Vec<String> {
    match input.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|(name, _, _)| name.starts_with(input))
            .map(|(name, _, _)| name.to_string())
            .collect(),
        Some(("svc", rest)) => state
            .services
            .ready()
            .into_iter()
            .flatten()
            .map(|s| s.name.to_string())
            .filter(|n| n.starts_with(rest))
            .map(|n| format!("svc {n}"))
            .collect(),
        Some(("theme", rest)) => super::theme::BUILT_IN
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| n.starts_with(rest))
            .map(|n| format!("theme {n}"))
            .collect(),
        _ => vec![],
    }
}

fn complete(state: &State, input: &str) -> String {
    let found = completions(state, input);
    match found.as_slice() {
        [one] => one.clone(),
        [first, rest @ ..] => {
            // The longest common prefix of the candidates.
            let mut prefix = first.clone();
            for c in rest {
                while !c.starts_with(&prefix) {
                    prefix.pop();
                }
            }
            prefix
        }
        [] => input.to_string(),
    }
}

fn run_command(state: &mut State, line: &str) -> Vec<Effect> {
    let (name, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match name {
        "models" => switch_tab(state, 0),
        "svc" => {
            switch_tab(state, 1);
            if !arg.is_empty()
                && let Some(i) = state
                    .shown_services()
                    .iter()
                    .position(|s| s.name.as_str() == arg)
            {
                state.selected[2] = i;
            }
        }
        "theme" if !arg.is_empty() => return vec![Effect::Theme(arg.to_string())],
        "q" | "quit" => return quit(state),
        "" => {}
        other => state.toast(
            format!("unknown command :{other}; Tab completes, ? lists them"),
            true,
            Instant::now(),
        ),
    }
    vec![]
}

fn import_form() -> Form {
    Form {
        kind: FormKind::Import,
        fields: vec![
            Field {
                label: "source",
                value: String::new(),
                hint: "a path on the server, or an http(s):// or s3:// URL".into(),
            },
            Field {
                label: "name",
                value: String::new(),
                hint: "a-z 0-9 . _ -  (an existing name adds a version)".into(),
            },
            Field {
                label: "type",
                value: String::new(),
                hint: "pmml, onnx, angel, upstream; empty: detect".into(),
            },
        ],
        focus: 0,
        busy: false,
        error: None,
    }
}

fn deploy_form(model: Option<&str>) -> Form {
    let f = |label, value: &str, hint: String| Field {
        label,
        value: value.to_string(),
        hint,
    };
    let mut fields = vec![
        f("name", "", "service name: a DNS label (a-z 0-9 -)".into()),
        f(
            "model",
            model.unwrap_or(""),
            "MODEL or MODEL:VERSION".into(),
        ),
    ];
    for (label, s) in [
        ("threads", THREADS),
        ("concurrency", CONCURRENCY),
        ("timeout ms", TIMEOUT_MS),
        ("max batch rows", MAX_BATCH_ROWS),
    ] {
        fields.push(f(label, &s.default.to_string(), s.hint()));
    }
    Form {
        kind: FormKind::Deploy,
        fields,
        focus: 0,
        busy: false,
        error: None,
    }
}

fn form_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Overlay::Form(form) = &mut state.overlay else {
        return vec![];
    };
    if form.busy {
        return vec![];
    }
    let n = form.fields.len();
    match key.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n,
        KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n - 1) % n,
        KeyCode::Backspace => {
            form.fields[form.focus].value.pop();
        }
        KeyCode::Char(c) if !key.ctrl => form.fields[form.focus].value.push(c),
        KeyCode::Enter => {
            form.busy = true;
            form.error = None;
            let v = |l: &str| form.value(l).trim().to_string();
            return vec![match form.kind {
                FormKind::Import => Effect::Import {
                    source: v("source"),
                    name: v("name"),
                    kind: v("type"),
                },
                FormKind::Deploy => Effect::Deploy {
                    name: v("name"),
                    model: v("model"),
                    threads: v("threads"),
                    concurrency: v("concurrency"),
                    timeout_ms: v("timeout ms"),
                    max_batch_rows: v("max batch rows"),
                },
            }];
        }
        _ => {}
    }
    vec![]
}

/// Keeps every selection inside its (possibly shrunk) table.
fn clamp(state: &mut State) {
    let lens = [
        state.shown_models().len(),
        state.shown_versions().len(),
        state.shown_services().len(),
    ];
    for (sel, len) in state.selected.iter_mut().zip(lens) {
        *sel = (*sel).min(len.saturating_sub(1));
    }
}

/// The hint bar's entries for the current pane: (key label, help), pane keys first.
pub fn hints(state: &State, keymap: &Keymap) -> Vec<(String, &'static str)> {
    let scope = scope_of(state);
    let mut out: Vec<(String, &'static str)> = ACTIONS
        .iter()
        .filter(|d| !d.hint.is_empty() && d.scope == scope && !(d.writes && state.read_only))
        .map(|d| (keymap.label(d.action), d.hint))
        .collect();
    out.extend(
        ACTIONS
            .iter()
            .filter(|d| !d.hint.is_empty() && d.scope == Scope::Global)
            .map(|d| (keymap.label(d.action), d.hint)),
    );
    out
}
