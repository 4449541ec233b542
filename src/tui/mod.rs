//! The console: a keyboard-first terminal UI over the control API.
//!
//! Shape (tui.md §2, gitui/bottom): one state owner, the event loop in [`app`]. Keys and
//! server news become [`effect::Msg`]s; [`update::update`] — pure, no IO, the clock an
//! argument — changes the [`state::State`] and returns [`effect::Effect`]s: `Ui` ones the loop
//! performs itself (clipboard, theme, quit), `Call`s it hands to the [`worker`] (HTTP calls to
//! the control API, the change stream) without awaiting them; the worker answers with more
//! messages. Text inputs are [`input::Input`]; every sentence shown is in [`text`]. The screen is drawn by [`view`] only when the state
//! changed (plus a slow tick for the freshness clock), each frame inside synchronized output;
//! [`terminal`] restores the terminal on every exit path, panics included.
//!
//! Keys come from one table ([`action::ACTIONS`]) of actions with their handlers and `:`
//! command names, which also drives the hint bar, `?` help and `:` completion; [`keymap`] applies the user's remapping from `console.toml` and refuses
//! conflicts. [`theme`] holds the palettes (`themes/*.toml`) and the UTF-8/ASCII symbols.

pub mod action;
pub mod app;
pub mod effect;
pub mod input;
pub mod jobs;
pub mod keymap;
pub mod launch;
pub mod metrics;
pub mod state;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod traffic;
pub mod update;
pub mod view;
pub mod worker;

#[cfg(test)]
mod tests;
