//! The event loop: keys, worker messages and a one-second tick in; state changes through
//! [`update`]; effects out to the worker; a frame drawn only when something changed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;

use super::effect::{Call, Effect, Msg, Ui};
use super::keymap::{Key, Keymap};
use super::launch::{self, Link, Options};
use super::state::State;
use super::terminal;
use super::text;
use super::theme::{self, Symbols, Theme};
use super::update::update;
use super::view::{self, Look};
use super::worker::Worker;

/// What `console.toml` may set.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    pub theme: Option<String>,
    #[serde(default)]
    pub keys: HashMap<String, Vec<String>>,
}

/// The console's preferences directory (`~/.config/modeldeck`).
pub fn config_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.config_dir().join("modeldeck"))
}

/// Reads `console.toml` (absent = defaults) into the key map and the theme name it asks for.
pub fn load_config(dir: Option<&std::path::Path>) -> Result<(Keymap, Option<String>), String> {
    let Some(path) = dir.map(|d| d.join("console.toml")) else {
        return Ok((Keymap::defaults(), None));
    };
    let config: ConsoleConfig = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConsoleConfig::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let keymap = Keymap::new(&config.keys, &path.display().to_string())?;
    Ok((keymap, config.theme))
}

/// Console options beyond where the server is.
#[derive(Debug, Clone, Default)]
pub struct Appearance {
    pub theme: Option<String>,
    pub ascii: bool,
}

/// Runs the console until the user quits.
pub async fn run(opts: Options, look: Appearance) -> Result<(), String> {
    let dir = config_dir();
    let (keymap, configured) = load_config(dir.as_deref())?;
    let env = |k: &str| std::env::var(k).ok();
    let name = if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        "mono".to_string()
    } else {
        look.theme
            .or(configured)
            .unwrap_or_else(|| "default".into())
    };
    let mut theme = Theme::load(&name, dir.as_deref())?;
    let sym: Symbols = if look.ascii || !theme::utf8_locale(&env) {
        theme::ASCII
    } else {
        theme::UTF8
    };
    let link = launch::connect(&opts).await.map_err(|e| e.to_string())?;
    let mut state = State::new(&link.label, &theme.name);
    state.started_server = link.started.is_some();
    let mut term = terminal::enter().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let result = event_loop(
        &mut term,
        &mut state,
        &keymap,
        &mut theme,
        &sym,
        &link,
        dir.as_deref(),
    )
    .await;
    terminal::restore();
    let stop = result.as_ref().copied().unwrap_or(false);
    link.close(stop).await;
    result.map(|_| ())
}

/// Returns whether the user asked to stop the server this console started.
async fn event_loop(
    term: &mut terminal::Term,
    state: &mut State,
    keymap: &Keymap,
    theme: &mut Theme,
    sym: &Symbols,
    link: &Link,
    config_dir: Option<&std::path::Path>,
) -> Result<bool, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = Worker::new(link.client.clone(), tx, link.dir.clone(), link.local);
    worker.watch();
    worker.poll_metrics();
    worker.run(Call::Reload);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    loop {
        if dirty {
            let look = Look {
                theme,
                sym,
                keymap,
                now: Instant::now(),
            };
            let mut rows = state.page;
            terminal::begin_frame().map_err(|e| e.to_string())?;
            term.draw(|f| rows = view::draw(f, state, &look))
                .map_err(|e| e.to_string())?;
            terminal::end_frame().map_err(|e| e.to_string())?;
            state.page = rows;
            dirty = false;
        }
        let mut msgs = Vec::new();
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => msgs.push(Msg::Key(Key::from_event(&k))),
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("reading the terminal failed: {e}")),
                None => return Ok(false),
            },
            Some(m) = rx.recv() => {
                msgs.push(m);
                // Take whatever else is waiting, so a burst of changes is one redraw.
                while let Ok(m) = rx.try_recv() {
                    msgs.push(m);
                }
            }
            // The freshness clock ("updated 3s ago") and the status line's message age with
            // the frame's time: nothing in the state changes, the screen is simply redrawn.
            _ = tick.tick() => dirty = true,
        }
        let mut effects = Vec::new();
        for m in msgs {
            if m.always_changes() {
                effects.extend(update(state, keymap, m, Instant::now()));
                dirty = true;
                continue;
            }
            let before = state.clone();
            effects.extend(update(state, keymap, m, Instant::now()));
            dirty |= *state != before;
        }
        let mut reloaded = false;
        for effect in effects {
            match effect {
                Effect::Ui(Ui::Quit { stop }) => return Ok(stop),
                Effect::Ui(Ui::Suspend) => {
                    terminal::suspend(term).map_err(|e| e.to_string())?;
                    dirty = true;
                }
                Effect::Ui(Ui::Copy { line, service }) => {
                    let now = Instant::now();
                    match terminal::copy(&line) {
                        Ok(terminal::Copied::Clipboard) => {
                            state.toast(text::copied(&service), false, now)
                        }
                        Ok(terminal::Copied::TmuxBuffer(setting)) => {
                            state.toast(text::copied_to_tmux(&service, &setting), false, now)
                        }
                        Err(e) => state.toast(text::copy_failed(&e.to_string()), true, now),
                    }
                    dirty = true;
                }
                Effect::Ui(Ui::Theme(name)) => {
                    match Theme::load(&name, config_dir) {
                        Ok(t) => {
                            *theme = t;
                            state.theme = name;
                        }
                        Err(e) => state.toast(e, true, Instant::now()),
                    }
                    dirty = true;
                }
                Effect::Call(Call::Reload) if reloaded => {}
                Effect::Call(Call::Reload) => {
                    reloaded = true;
                    worker.run(Call::Reload);
                }
                Effect::Call(call) => worker.run(call),
            }
        }
        if state.quit {
            return Ok(false);
        }
    }
}
