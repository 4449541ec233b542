//! The `:` line: a command name (or alias) from the action table and an optional argument;
//! tab completes names, then service and theme names.

use std::time::Instant;

use crossterm::event::KeyCode;

use super::keys::run;
use crate::tui::action::{ACTIONS, command};
use crate::tui::effect::Effect;
use crate::tui::keymap::Key;
use crate::tui::state::{Overlay, State};
use crate::tui::text;

pub fn command_key(state: &mut State, key: Key, now: Instant) -> Vec<Effect> {
    let Overlay::Command(input) = &mut state.overlay else {
        return vec![];
    };
    match key.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Tab => {
            let line = input.text().to_string();
            let completed = complete(state, &line);
            if let Overlay::Command(input) = &mut state.overlay {
                input.set(&completed);
            }
        }
        KeyCode::Enter => {
            let line = input.text().trim().to_string();
            state.overlay = Overlay::None;
            return run_line(state, &line, now);
        }
        _ => {
            input.key(key);
        }
    }
    vec![]
}

fn run_line(state: &mut State, line: &str, now: Instant) -> Vec<Effect> {
    let (name, arg) = line.split_once(' ').unwrap_or((line, ""));
    if name.is_empty() {
        return vec![];
    }
    match command(name) {
        Some(def) => run(state, def.action, arg.trim(), now),
        None => {
            state.toast(text::unknown_command(name), true, now);
            vec![]
        }
    }
}

/// Candidates for what has been typed: command names, then service or theme names.
pub fn completions(state: &State, input: &str) -> Vec<String> {
    match input.split_once(' ') {
        None => {
            let mut names: Vec<String> = ACTIONS
                .iter()
                .flat_map(|d| d.commands.iter())
                .filter(|n| n.starts_with(input))
                .map(|n| n.to_string())
                .collect();
            names.dedup();
            names
        }
        Some((name, rest)) => {
            let Some(def) = command(name) else {
                return vec![];
            };
            let candidates: Vec<String> = match def.commands.first() {
                Some(&"svc") => state
                    .services
                    .ready()
                    .into_iter()
                    .flatten()
                    .map(|s| s.service.name.to_string())
                    .collect(),
                Some(&"theme") => crate::tui::theme::BUILT_IN
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect(),
                _ => vec![],
            };
            candidates
                .into_iter()
                .filter(|n| n.starts_with(rest))
                .map(|n| format!("{name} {n}"))
                .collect()
        }
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
