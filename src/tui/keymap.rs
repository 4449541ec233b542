//! Keys: parsing `"ctrl+d"`-style names, the effective map (defaults from [`ACTIONS`] plus the
//! user's `[keys]` in `console.toml`), conflict detection, and lookup by scope.

use std::collections::HashMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{ACTIONS, Action, ActionDef, Scope};

/// A key with the modifiers that matter (Shift is folded into the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn char(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: false,
            alt: false,
        }
    }

    pub fn parse(text: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl+") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt+") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            one if one.chars().count() == 1 => KeyCode::Char(one.chars().next().unwrap_or(' ')),
            other => {
                return Err(format!(
                    "unknown key {other:?}: use a character, enter, esc, tab, backtab, up, down, left, right, home, end, pgup, pgdn, space, backspace or delete, with optional ctrl+ / alt+"
                ));
            }
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl+")?;
        }
        if self.alt {
            f.write_str("alt+")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Char(c) => write!(f, "{c}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Actions renamed since: `console.toml` may still use the old name.
const RENAMED: &[(&str, &str)] = &[("delete_version", "delete_model")];

/// The effective key map.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<(Scope, Key), Action>,
    keys: HashMap<Action, Vec<Key>>,
}

impl Keymap {
    /// Defaults, with `overrides` (action name → keys) from `source` (a file, for messages).
    pub fn new(overrides: &HashMap<String, Vec<String>>, source: &str) -> Result<Keymap, String> {
        // Names actions had before, so an older console.toml keeps working.
        let overrides: HashMap<String, Vec<String>> = overrides
            .iter()
            .map(|(name, keys)| {
                let name = RENAMED
                    .iter()
                    .find(|(old, _)| old == name)
                    .map_or(name.as_str(), |(_, new)| new);
                (name.to_string(), keys.clone())
            })
            .collect();
        let overrides = &overrides;
        for name in overrides.keys() {
            if !ACTIONS.iter().any(|d| d.name == name) {
                return Err(format!(
                    "{source}: unknown action {name:?} in [keys]; known actions: {}",
                    ACTIONS
                        .iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let mut map = Keymap {
            by_key: HashMap::new(),
            keys: HashMap::new(),
        };
        let mut owner: HashMap<(Scope, Key), &ActionDef> = HashMap::new();
        for d in ACTIONS {
            let keys: Vec<Key> = match overrides.get(d.name) {
                Some(list) => list
                    .iter()
                    .map(|k| Key::parse(k).map_err(|e| format!("{source}: [keys] {}: {e}", d.name)))
                    .collect::<Result<_, _>>()?,
                None => d.keys.iter().filter_map(|k| Key::parse(k).ok()).collect(),
            };
            for k in &keys {
                // A pane key may not reuse a global key, nor a key of its own pane.
                let clash = owner.get(&(d.scope, *k)).or_else(|| {
                    if d.scope == Scope::Global {
                        owner.iter().find(|((_, kk), _)| kk == k).map(|(_, v)| v)
                    } else {
                        owner.get(&(Scope::Global, *k))
                    }
                });
                if let Some(other) = clash {
                    return Err(format!(
                        "{source}: key {k:?} is bound to both {} ({}) and {} ({}); give one of them another key in [keys]",
                        other.name,
                        other.scope.name(),
                        d.name,
                        d.scope.name(),
                        k = k.to_string()
                    ));
                }
                owner.insert((d.scope, *k), d);
                map.by_key.insert((d.scope, *k), d.action);
            }
            map.keys.insert(d.action, keys);
        }
        if map.keys_of(Action::Quit).is_empty() && map.keys_of(Action::ForceQuit).is_empty() {
            return Err(format!(
                "{source}: both quit and force_quit have no keys; keep at least one way out"
            ));
        }
        Ok(map)
    }

    pub fn defaults() -> Keymap {
        Keymap::new(&HashMap::new(), "defaults").unwrap_or_else(|e| panic!("default keys: {e}"))
    }

    /// The action `key` does in `pane` (pane keys first, then global).
    pub fn resolve(&self, pane: Scope, key: Key) -> Option<Action> {
        self.by_key
            .get(&(pane, key))
            .or_else(|| self.by_key.get(&(Scope::Global, key)))
            .copied()
    }

    pub fn keys_of(&self, action: Action) -> &[Key] {
        self.keys.get(&action).map_or(&[], Vec::as_slice)
    }

    /// The first key of `action`, as help and hints show it.
    pub fn label(&self, action: Action) -> String {
        self.keys_of(action)
            .first()
            .map_or_else(|| "-".to_string(), Key::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn keys_parse_and_print_back() {
        for k in ["ctrl+d", "G", "enter", "backtab", "?", "space", "alt+x"] {
            assert_eq!(Key::parse(k).unwrap().to_string(), k);
        }
        assert!(Key::parse("hyper+q").is_err());
    }

    #[test]
    fn pane_keys_come_before_global_ones() {
        let map = Keymap::defaults();
        let d = Key::char('D');
        assert_eq!(map.resolve(Scope::Models, d), Some(Action::Delete));
        assert_eq!(map.resolve(Scope::Services, d), Some(Action::DeleteService));
        assert_eq!(
            map.resolve(Scope::Services, Key::char('j')),
            Some(Action::Down)
        );
        assert_eq!(map.resolve(Scope::Global, Key::char('i')), None);
    }

    #[test]
    fn remapping_moves_a_key_and_conflicts_are_named() {
        let map = Keymap::new(&overrides(&[("down", &["n"]), ("deploy", &["N"])]), "f").unwrap();
        assert_eq!(
            map.resolve(Scope::Models, Key::char('n')),
            Some(Action::Down)
        );
        assert_eq!(map.label(Action::Deploy), "N");
        let err = Keymap::new(&overrides(&[("import", &["j"])]), "console.toml").unwrap_err();
        assert!(
            err.contains("console.toml")
                && err.contains("\"j\"")
                && err.contains("down")
                && err.contains("import"),
            "{err}"
        );
        let err = Keymap::new(&overrides(&[("quit", &[]), ("force_quit", &[])]), "f").unwrap_err();
        assert!(err.contains("way out"), "{err}");
        let old = Keymap::new(&overrides(&[("delete_version", &["X"])]), "f").unwrap();
        assert_eq!(
            old.label(Action::Delete),
            "X",
            "an older console.toml still works"
        );
        let err = Keymap::new(&overrides(&[("fly", &["x"])]), "f").unwrap_err();
        assert!(err.contains("unknown action \"fly\""), "{err}");
    }
}
