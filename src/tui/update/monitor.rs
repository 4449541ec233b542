//! The Monitor pane's and the Events view's behaviour: opening a service, the window, the
//! charted metric, freezing and zooming; the audit log's loading, following, scrolling and
//! filtering.

use crossterm::event::KeyCode;

use crate::control::contract::EventList;
use crate::domain::{Metric, period};
use crate::tui::action::Ctx;
use crate::tui::effect::{Call, Effect, Failure};
use crate::tui::keymap::Key;
use crate::tui::state::{EVENTS_KEPT, EventsView, List, Loadable, Pane, State};
use crate::tui::text;

type Out = Vec<Effect>;

/// What the live poll should ask for, given what is on screen.
pub fn watch(state: &State) -> Effect {
    Call::Watch {
        service: state.monitor.open.clone(),
        window: state.monitor.window_secs(),
    }
    .into()
}

/// Enter on the grid: the service's versions side by side, with a chart.
pub fn open(state: &mut State) -> Out {
    let Some(name) = state.selected(List::Monitor) else {
        return vec![];
    };
    state.monitor.open = Some(name);
    state.monitor.zoom = false;
    state.settle_hint(text::MONITOR_OPEN_FIRST);
    state.metrics.history = None;
    state.filter.clear();
    vec![watch(state)]
}

/// Esc: out of zoom, then out of the service.
pub fn back(state: &mut State) -> Out {
    if state.monitor.zoom {
        state.monitor.zoom = false;
        return vec![];
    }
    if state.monitor.open.take().is_some() {
        state.metrics.history = None;
        return vec![watch(state)];
    }
    vec![]
}

/// Whether a service's chart is open; otherwise says how to open one.
fn charting(state: &mut State, ctx: &Ctx) -> bool {
    if state.monitor.open.is_none() {
        state.toast(text::MONITOR_OPEN_FIRST, false, ctx.now);
        return false;
    }
    true
}

pub fn longer(state: &mut State, ctx: &Ctx) -> Out {
    if !charting(state, ctx) {
        return vec![];
    }
    step_window(state, 1)
}

pub fn shorter(state: &mut State, ctx: &Ctx) -> Out {
    if !charting(state, ctx) {
        return vec![];
    }
    step_window(state, -1)
}

fn step_window(state: &mut State, by: isize) -> Out {
    let last = period::WINDOWS.len() as isize - 1;
    let next = (state.monitor.window as isize + by).clamp(0, last) as usize;
    if next == state.monitor.window {
        return vec![];
    }
    state.monitor.window = next;
    // The chart on screen is for the old window: it goes until the new one arrives.
    state.metrics.history = None;
    vec![watch(state)]
}

pub fn next_metric(state: &mut State, ctx: &Ctx) -> Out {
    if !charting(state, ctx) {
        return vec![];
    }
    state.monitor.metric = (state.monitor.metric + 1) % Metric::ALL.len();
    vec![]
}

pub fn prev_metric(state: &mut State, ctx: &Ctx) -> Out {
    if !charting(state, ctx) {
        return vec![];
    }
    let n = Metric::ALL.len();
    state.monitor.metric = (state.monitor.metric + n - 1) % n;
    vec![]
}

/// `f`: hold the picture still (the figures keep arriving underneath).
pub fn freeze(state: &mut State, _: &Ctx) -> Out {
    state.monitor.frozen = match state.monitor.frozen.take() {
        Some(_) => None,
        None => Some(Box::new(state.metrics.clone())),
    };
    vec![]
}

pub fn zoom(state: &mut State, ctx: &Ctx) -> Out {
    if charting(state, ctx) {
        state.monitor.zoom = !state.monitor.zoom;
    }
    vec![]
}

/// `:events [SERVICE]`, or `e` on a service: the audit log, newest at the bottom.
pub fn events(state: &mut State, ctx: &Ctx) -> Out {
    let service = if !ctx.arg.is_empty() {
        Some(ctx.arg.to_string())
    } else {
        match state.pane {
            Pane::Services => state.detail.as_ref().map(|d| d.name.clone()),
            Pane::Monitor => state.monitor.open.clone(),
            _ => None,
        }
    };
    state.events = Some(EventsView::new(service));
    vec![Call::LoadEvents(0).into()]
}

/// Events arrived: the first load, or what followed the change stream.
pub fn loaded(state: &mut State, result: Result<EventList, Failure>) -> Out {
    let Some(view) = &mut state.events else {
        return vec![];
    };
    match result {
        Err(f) => view.events = Loadable::Failed(text::for_console(&f.message)),
        Ok(list) => {
            let before = view.shown().len();
            let mut all = match std::mem::replace(&mut view.events, Loadable::Loading) {
                Loadable::Ready(old) => old,
                _ => Vec::new(),
            };
            let newest = all.last().map_or(0, |e| e.revision);
            all.extend(list.events.into_iter().filter(|e| e.revision > newest));
            if all.len() > EVENTS_KEPT {
                all.drain(..all.len() - EVENTS_KEPT);
            }
            view.events = Loadable::Ready(all);
            // A cursor away from the newest stays on its event as newer ones arrive.
            if view.scroll > 0 {
                view.scroll += view.shown().len().saturating_sub(before);
            }
        }
    }
    vec![]
}

/// Keys while the Events view is open; `None` lets the action table have the key.
pub fn events_key(state: &mut State, key: Key) -> Option<Out> {
    let page = state.page.max(1);
    let view = state.events.as_mut()?;
    let rows = view.shown().len();
    if view.filtering {
        match key.code {
            KeyCode::Enter => view.filtering = false,
            KeyCode::Esc => {
                view.filtering = false;
                view.filter.clear();
            }
            KeyCode::Backspace => {
                view.filter.pop();
            }
            KeyCode::Char(c) if !key.ctrl => view.filter.push(c),
            _ => {}
        }
        view.scroll = 0;
        return Some(vec![]);
    }
    // `scroll`: how many rows above the newest the cursor is.
    let most = rows.saturating_sub(1);
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => {
            if view.filter.is_empty() {
                state.events = None;
            } else {
                view.filter.clear();
            }
        }
        KeyCode::Char('/') => view.filtering = true,
        KeyCode::Char('k') | KeyCode::Up => view.scroll = (view.scroll + 1).min(most),
        KeyCode::Char('j') | KeyCode::Down => view.scroll = view.scroll.saturating_sub(1),
        KeyCode::PageUp => view.scroll = (view.scroll + page).min(most),
        KeyCode::PageDown => view.scroll = view.scroll.saturating_sub(page),
        KeyCode::Char('g') | KeyCode::Home => view.scroll = most,
        KeyCode::Char('G') | KeyCode::End => view.scroll = 0,
        _ => return None,
    }
    Some(vec![])
}
