//! Who gets a key: Ctrl-C (quit now) first, then whatever overlay is open (the `:` line, a
//! form, a dialog), then the filter being typed, and only then the action table — pane keys
//! before global ones.

use std::time::Instant;

use crossterm::event::KeyCode;

use super::{commands, forms};
use crate::tui::action::{ACTIONS, Action, Ctx, Scope, def_of};
use crate::tui::effect::{Call, Effect, Ui};
use crate::tui::keymap::{Key, Keymap};
use crate::tui::state::{Overlay, Pane, State};
use crate::tui::text;

pub fn scope_of(state: &State) -> Scope {
    match state.pane {
        Pane::Models => Scope::Models,
        Pane::Services => Scope::Services,
        Pane::Monitor => Scope::Monitor,
        Pane::Traffic => Scope::Traffic,
        Pane::Jobs => Scope::Jobs,
    }
}

pub fn on_key(state: &mut State, keymap: &Keymap, key: Key, now: Instant) -> Vec<Effect> {
    if keymap.keys_of(Action::ForceQuit).contains(&key) {
        return run(state, Action::ForceQuit, "", now);
    }
    match &mut state.overlay {
        Overlay::Command(_) => return commands::command_key(state, key, now),
        Overlay::Form(_) => return forms::form_key(state, key),
        Overlay::Confirm(_) => return confirm_key(state, key),
        Overlay::Leave { stop } => {
            return match key.code {
                KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                    *stop = !*stop;
                    vec![]
                }
                KeyCode::Enter => {
                    let stop = *stop;
                    state.quit = true;
                    vec![Ui::Quit { stop }.into()]
                }
                KeyCode::Esc => {
                    state.overlay = Overlay::None;
                    vec![]
                }
                _ => vec![],
            };
        }
        Overlay::Help | Overlay::Messages => {
            state.overlay = Overlay::None;
            return vec![];
        }
        Overlay::None => {}
    }
    if let Some(out) = super::monitor::events_key(state, key) {
        return out;
    }
    if state.events.is_some() {
        return events_global(state, keymap, key, now);
    }
    if state.filtering {
        return filter_key(state, key);
    }
    match keymap.resolve(scope_of(state), key) {
        Some(action) => run(state, action, "", now),
        None => vec![],
    }
}

/// A key the Events view left: it owns the screen, so the pane behind gets nothing — only
/// global actions that are not about rows (`:`, help, quit, refresh) run, and going to a pane
/// closes the view first.
fn events_global(state: &mut State, keymap: &Keymap, key: Key, now: Instant) -> Vec<Effect> {
    let Some(action) = keymap.resolve(Scope::Global, key) else {
        return vec![];
    };
    match action {
        Action::Pane(_) | Action::NextPane | Action::PrevPane => {
            state.events = None;
            run(state, action, "", now)
        }
        Action::Open | Action::Back | Action::Filter => vec![],
        Action::Down | Action::Up | Action::First | Action::Last => vec![],
        Action::PageDown | Action::PageUp => vec![],
        _ => run(state, action, "", now),
    }
}

/// Runs an action's handler (from a key or a `:` command), unless the token may not write.
pub fn run(state: &mut State, action: Action, arg: &str, now: Instant) -> Vec<Effect> {
    let Some(def) = def_of(action) else {
        return vec![];
    };
    if def.writes && state.read_only() {
        state.toast(text::READ_ONLY, true, now);
        return vec![];
    }
    // The user has moved on: an error already on the status line makes way.
    state.settle_errors();
    (def.run)(state, &Ctx { now, arg, action })
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
                let call = c.call.clone();
                return confirmed(state, Some(call));
            }
            _ => {}
        }
        return vec![];
    }
    match key.code {
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => c.on_ok = !c.on_ok,
        KeyCode::Char('y') => {
            let call = c.call.clone();
            return confirmed(state, Some(call));
        }
        KeyCode::Enter => {
            let call = c.on_ok.then(|| c.call.clone());
            return confirmed(state, call);
        }
        KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => state.overlay = Overlay::None,
        _ => {}
    }
    vec![]
}

/// Closes the confirmation and sends what it confirmed. A stop is marked asked here, not when
/// the server's reply comes back: the server may be gone (and the console told so) before its
/// reply to the stop is read.
fn confirmed(state: &mut State, call: Option<Call>) -> Vec<Effect> {
    state.overlay = Overlay::None;
    if call == Some(Call::StopServer) {
        state.connection.stop = crate::tui::state::StopAsk::Sent;
    }
    call.into_iter().map(Effect::from).collect()
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
    if let Some(list) = state.list() {
        state.cursor_mut(list).row = 0;
    }
    vec![]
}

/// The hint bar's entries for the current pane: (key label, help), pane keys first.
pub fn hints(state: &State, keymap: &Keymap) -> Vec<(String, &'static str)> {
    // The Events view names its own keys in its title; the pane's are not live under it.
    let scope = match state.events {
        Some(_) => Scope::Global,
        None => scope_of(state),
    };
    let shown = |d: &&crate::tui::action::ActionDef| {
        let charting = matches!(
            d.action,
            Action::WindowLonger
                | Action::WindowShorter
                | Action::NextMetric
                | Action::PrevMetric
                | Action::Zoom
        );
        let sliding = matches!(
            d.action,
            Action::WeightDown
                | Action::WeightUp
                | Action::WeightDownOne
                | Action::WeightUpOne
                | Action::WeightExact
                | Action::ApplyTraffic
                | Action::DiscardTraffic
                | Action::Rollback
                | Action::StartCanary
                | Action::Promote
        );
        let chain = matches!(
            d.action,
            Action::AddStep
                | Action::EditStep
                | Action::StepUp
                | Action::StepDown
                | Action::JobFocus
        );
        let on_chain = state.list() == Some(crate::tui::state::List::Chain);
        let hidden = (d.writes && state.read_only())
            || (chain && !on_chain && d.action != Action::JobFocus)
            || (d.action == Action::JobFocus
                && !matches!(
                    state.list(),
                    Some(crate::tui::state::List::Chain | crate::tui::state::List::Runs)
                ))
            || (d.action == Action::JobFilter && state.jobs.open.is_some())
            || (sliding && state.traffic.open.is_none())
            || (state.events.is_some() && d.action == Action::Open)
            || (charting && state.monitor.open.is_none());
        !(d.hint.is_empty() || hidden || keymap.keys_of(d.action).is_empty())
    };
    let mut out: Vec<(String, &'static str)> = ACTIONS
        .iter()
        .filter(|d| d.scope == scope && scope != Scope::Global)
        .filter(shown)
        .map(|d| (keymap.label(d.action), d.hint))
        .collect();
    out.extend(
        ACTIONS
            .iter()
            .filter(|d| d.scope == Scope::Global)
            .filter(shown)
            .map(|d| (keymap.label(d.action), d.hint)),
    );
    out
}
