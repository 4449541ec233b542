//! One handler per action of the [action table](crate::tui::action::ACTIONS), whether a key or
//! a `:` command ran it.

use super::forms::{deploy_form, import_form};
use crate::tui::action::{Action, Ctx};
use crate::tui::effect::{Call, Effect, Ui};
use crate::tui::input::Input;
use crate::tui::state::{Confirm, Detail, List, Loadable, Overlay, Pane, State};
use crate::tui::text;

type Out = Vec<Effect>;

pub fn help(state: &mut State, _: &Ctx) -> Out {
    state.overlay = Overlay::Help;
    vec![]
}

pub fn command(state: &mut State, _: &Ctx) -> Out {
    state.overlay = Overlay::Command(Input::default());
    vec![]
}

pub fn filter(state: &mut State, _: &Ctx) -> Out {
    state.filtering = true;
    state.filter.clear();
    vec![]
}

pub fn messages(state: &mut State, _: &Ctx) -> Out {
    state.overlay = Overlay::Messages;
    vec![]
}

fn switch(state: &mut State, pane: Pane) {
    state.pane = pane;
    state.filter.clear();
    state.filtering = false;
}

/// A pane's key or command; `:svc NAME` also selects that service.
pub fn pane(state: &mut State, ctx: &Ctx) -> Out {
    let Action::Pane(pane) = ctx.action else {
        return vec![];
    };
    if pane == Pane::Services && !ctx.arg.is_empty() {
        let Some(row) = state
            .services
            .ready()
            .and_then(|s| s.iter().position(|s| s.service.name.as_str() == ctx.arg))
        else {
            state.toast(text::no_service(ctx.arg), true, ctx.now);
            return vec![];
        };
        switch(state, pane);
        state.detail = None;
        state.cursor_mut(List::Services).row = row;
        return vec![];
    }
    switch(state, pane);
    vec![]
}

pub fn next_pane(state: &mut State, _: &Ctx) -> Out {
    switch(state, state.pane.cycle(1));
    vec![]
}

pub fn prev_pane(state: &mut State, _: &Ctx) -> Out {
    switch(state, state.pane.cycle(-1));
    vec![]
}

/// Moves the current table's cursor to what `to(row, last, page)` says.
fn move_cursor(state: &mut State, to: fn(usize, usize, usize) -> usize) -> Out {
    let Some(list) = state.list() else {
        return vec![];
    };
    let last = state.rows().saturating_sub(1);
    let page = state.page.max(1);
    let c = state.cursor_mut(list);
    c.row = to(c.row, last, page).min(last);
    vec![]
}

pub fn down(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |r, _, _| r + 1)
}

pub fn up(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |r, _, _| r.saturating_sub(1))
}

pub fn first(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |_, _, _| 0)
}

pub fn last(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |_, last, _| last)
}

pub fn page_down(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |r, _, page| r + page)
}

pub fn page_up(state: &mut State, _: &Ctx) -> Out {
    move_cursor(state, |r, _, page| r.saturating_sub(page))
}

pub fn open(state: &mut State, _: &Ctx) -> Out {
    match state.list() {
        Some(List::Models) => {
            if let Some(m) = state.selected_model() {
                let name = m.name.clone();
                state.versions = Some((name.clone(), Loadable::Loading));
                state.cursor_mut(List::Versions).row = 0;
                state.filter.clear();
                return vec![Call::LoadVersions(name).into()];
            }
        }
        Some(List::Monitor) => return super::monitor::open(state),
        Some(List::Jobs | List::Runs | List::Chain) => return super::jobs::open(state),
        Some(List::Traffic) => return super::traffic::open(state),
        Some(List::Services) => {
            if let Some(s) = state.selected_service() {
                let name = s.service.name.to_string();
                state.detail = Some(Detail {
                    name: name.clone(),
                    key: None,
                    signature: Loadable::Loading,
                });
                state.filter.clear();
                return vec![Call::LoadSignature(name).into()];
            }
        }
        _ => {}
    }
    vec![]
}

pub fn back(state: &mut State, ctx: &Ctx) -> Out {
    if !state.filter.is_empty() {
        state.filter.clear();
    } else if state.pane == Pane::Traffic {
        return super::traffic::back(state, ctx);
    } else if state.pane == Pane::Models {
        state.versions = None;
    } else if state.pane == Pane::Services {
        state.detail = None;
    } else if state.pane == Pane::Monitor {
        return super::monitor::back(state);
    } else if state.pane == Pane::Jobs {
        return super::jobs::back(state);
    }
    vec![]
}

/// `q`: back out of a drilled-in view first; at the top, quit (asking about a server this
/// console started while services are live).
pub fn quit(state: &mut State, ctx: &Ctx) -> Out {
    let drilled = match state.pane {
        Pane::Models => state.versions.is_some(),
        Pane::Services => state.detail.is_some(),
        Pane::Monitor => state.monitor.open.is_some(),
        Pane::Traffic => state.traffic.open.is_some(),
        Pane::Jobs => super::jobs::drilled(state),
    };
    if drilled || !state.filter.is_empty() {
        return back(state, ctx);
    }
    let live = state.services.ready().is_some_and(|s| !s.is_empty());
    if state.started_server && live {
        state.overlay = Overlay::Leave { stop: false };
        return vec![];
    }
    state.quit = true;
    vec![Ui::Quit { stop: false }.into()]
}

/// Ctrl-C: quit now, from anywhere; a server keeps running.
pub fn force_quit(state: &mut State, _: &Ctx) -> Out {
    state.quit = true;
    vec![Ui::Quit { stop: false }.into()]
}

pub fn suspend(_: &mut State, _: &Ctx) -> Out {
    vec![Ui::Suspend.into()]
}

pub fn refresh(_: &mut State, _: &Ctx) -> Out {
    vec![Call::Reload.into()]
}

pub fn theme(state: &mut State, ctx: &Ctx) -> Out {
    if ctx.arg.is_empty() {
        state.toast(text::no_theme_given(), true, ctx.now);
        return vec![];
    }
    vec![Ui::Theme(ctx.arg.to_string()).into()]
}

pub fn stop_server(state: &mut State, ctx: &Ctx) -> Out {
    if state.scope != crate::domain::Scope::Admin {
        state.toast(text::NOT_ADMIN, true, ctx.now);
        return vec![];
    }
    state.overlay = Overlay::Confirm(Confirm {
        title: text::STOP_TITLE.into(),
        body: text::STOP_BODY.into(),
        call: Call::StopServer,
        on_ok: false,
        typed: None,
    });
    vec![]
}

/// `:upstream [MODEL:VERSION] URL`: names the server of a SavedModel version, the one
/// selected in a model's versions when none is named.
pub fn serve_by(state: &mut State, ctx: &Ctx) -> Out {
    let words: Vec<&str> = ctx.arg.split_whitespace().collect();
    let target = match words.as_slice() {
        [model, url] => model
            .parse::<crate::domain::ModelRef>()
            .ok()
            .and_then(|r| Some((r.name.to_string(), r.version?, *url))),
        // The selected version only where it is on screen, and only for what reads as an
        // address (`:upstream iris:2` is a version without its URL).
        [url] if state.pane == crate::tui::state::Pane::Models && url.contains("://") => {
            match (&state.versions, state.selected_version()) {
                (Some((model, _)), Some(v)) => Some((model.clone(), v.version, *url)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((model, version, url)) = target else {
        state.toast(text::SERVE_BY_USAGE, true, ctx.now);
        return vec![];
    };
    vec![
        Call::ServeBy {
            model,
            version,
            upstream: url.to_string(),
        }
        .into(),
    ]
}

pub fn import(state: &mut State, _: &Ctx) -> Out {
    state.overlay = Overlay::Form(import_form());
    vec![]
}

pub fn demo(state: &mut State, ctx: &Ctx) -> Out {
    if state.models.ready().is_some_and(Vec::is_empty) {
        state.toast(text::LOADING_DEMO, false, ctx.now);
        return vec![Call::Demo.into()];
    }
    state.toast(text::DEMO_NEEDS_EMPTY, true, ctx.now);
    vec![]
}

/// `D` on the Models pane: the version under the cursor when a model's versions are shown,
/// else the whole model.
pub fn delete(state: &mut State, ctx: &Ctx) -> Out {
    let confirm = match &state.versions {
        Some((model, Loadable::Ready(all))) => {
            let Some(v) = state.selected_version() else {
                return nothing(state, ctx);
            };
            let users: Vec<String> = v.used_by.iter().map(|u| u.service.clone()).collect();
            let shared: Vec<u32> = all
                .iter()
                .filter(|o| o.version != v.version && o.sha256 == v.sha256)
                .map(|o| o.version)
                .collect();
            Confirm {
                title: text::delete_version_title(model, v.version),
                body: if users.is_empty() {
                    text::delete_version_body(&shared, all.len() == 1)
                } else {
                    text::in_service(&users)
                },
                call: Call::DeleteVersion(model.clone(), v.version),
                on_ok: false,
                typed: None,
            }
        }
        Some(_) => return vec![],
        None => {
            let Some(m) = state.selected_model() else {
                return nothing(state, ctx);
            };
            Confirm {
                title: text::delete_model_title(&m.name, m.versions),
                body: if m.used_by.is_empty() {
                    text::DELETE_MODEL_BODY.into()
                } else {
                    text::in_service(&m.used_by)
                },
                call: Call::DeleteModel(m.name.clone()),
                on_ok: false,
                typed: None,
            }
        }
    };
    state.overlay = Overlay::Confirm(confirm);
    vec![]
}

fn nothing(state: &mut State, ctx: &Ctx) -> Out {
    state.toast(text::NOTHING_SELECTED, true, ctx.now);
    vec![]
}

pub fn deploy(state: &mut State, _: &Ctx) -> Out {
    let model = state.selected_model().map(|m| m.name.clone());
    state.overlay = Overlay::Form(deploy_form(model.as_deref()));
    vec![]
}

/// The service the Services keys act on: the one whose detail is open, else the selected row.
fn target(state: &State) -> Option<String> {
    match &state.detail {
        Some(d) => Some(d.name.clone()),
        None => state.selected_service().map(|s| s.service.name.to_string()),
    }
}

pub fn delete_service(state: &mut State, ctx: &Ctx) -> Out {
    let Some(s) = target(state).and_then(|n| state.service(&n).cloned()) else {
        return nothing(state, ctx);
    };
    let name = s.service.name.to_string();
    let typed = (state.environment == "prod").then(|| (name.clone(), String::new()));
    state.overlay = Overlay::Confirm(Confirm {
        title: text::delete_service_title(&name),
        body: text::delete_service_body(&s.service.host),
        call: Call::DeleteService(name),
        on_ok: false,
        typed,
    });
    vec![]
}

pub fn rotate_key(state: &mut State, ctx: &Ctx) -> Out {
    let Some(name) = target(state) else {
        return nothing(state, ctx);
    };
    state.overlay = Overlay::Confirm(Confirm {
        title: text::rotate_key_title(&name),
        body: text::ROTATE_KEY_BODY.into(),
        call: Call::RotateKey(name),
        on_ok: false,
        typed: None,
    });
    vec![]
}

pub fn reveal_key(state: &mut State, _: &Ctx) -> Out {
    if let Some(d) = &mut state.detail {
        if d.key.is_some() {
            d.key = None;
        } else {
            return vec![Call::RevealKey(d.name.clone()).into()];
        }
    }
    vec![]
}

pub fn copy(state: &mut State, ctx: &Ctx) -> Out {
    match target(state) {
        Some(name) => vec![Call::CopyRequest(name).into()],
        None => nothing(state, ctx),
    }
}
