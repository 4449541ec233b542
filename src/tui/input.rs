//! A one-line text input with a cursor, as shells and editors have taught everyone: arrows,
//! Home/End (and Ctrl-A/Ctrl-E), Backspace/Delete, Ctrl-U (delete to the start), Ctrl-W
//! (delete the word before the cursor), Ctrl-K (delete to the end). Pure state, so forms,
//! the `:` line and the filter share one behaviour that tests can drive key by key.

use crossterm::event::KeyCode;

use super::keymap::Key;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    text: String,
    /// The cursor, in characters from the start.
    cursor: usize,
}

impl Input {
    pub fn new(text: &str) -> Input {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn set(&mut self, text: &str) {
        *self = Input::new(text);
    }

    /// The byte offset of character `n`.
    fn at(&self, n: usize) -> usize {
        self.text
            .char_indices()
            .nth(n)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies an editing key; false when the key is not an editing key (the caller's then).
    pub fn key(&mut self, key: Key) -> bool {
        let len = self.text.chars().count();
        match (key.code, key.ctrl) {
            (KeyCode::Char('a'), true) | (KeyCode::Home, _) => self.cursor = 0,
            (KeyCode::Char('e'), true) | (KeyCode::End, _) => self.cursor = len,
            (KeyCode::Left, _) => self.cursor = self.cursor.saturating_sub(1),
            (KeyCode::Right, _) => self.cursor = (self.cursor + 1).min(len),
            (KeyCode::Char('u'), true) => {
                let end = self.at(self.cursor);
                self.text.replace_range(..end, "");
                self.cursor = 0;
            }
            (KeyCode::Char('k'), true) => {
                let start = self.at(self.cursor);
                self.text.truncate(start);
            }
            (KeyCode::Char('w'), true) => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let (from, to) = (self.at(start), self.at(self.cursor));
                self.text.replace_range(from..to, "");
                self.cursor = start;
            }
            (KeyCode::Backspace, _) if self.cursor > 0 => {
                let (from, to) = (self.at(self.cursor - 1), self.at(self.cursor));
                self.text.replace_range(from..to, "");
                self.cursor -= 1;
            }
            (KeyCode::Backspace, _) => {}
            (KeyCode::Delete, _) if self.cursor < len => {
                let (from, to) = (self.at(self.cursor), self.at(self.cursor + 1));
                self.text.replace_range(from..to, "");
            }
            (KeyCode::Delete, _) => {}
            (KeyCode::Char(c), false) if !key.alt => {
                let at = self.at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            _ => return false,
        }
        true
    }

    /// The text split at the cursor: before, the character under it (a space at the end),
    /// after — for drawing the cursor as a reversed cell.
    pub fn split(&self) -> (&str, String, &str) {
        let at = self.at(self.cursor);
        let next = self.at(self.cursor + 1);
        let under = if at < self.text.len() {
            self.text[at..next].to_string()
        } else {
            " ".to_string()
        };
        (
            &self.text[..at],
            under,
            &self.text[next.min(self.text.len())..],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(input: &mut Input, keys: &[&str]) {
        for k in keys {
            assert!(input.key(Key::parse(k).unwrap()), "{k} was not taken");
        }
    }

    #[test]
    fn editing_keys_move_and_cut_as_in_a_shell() {
        let mut i = Input::new("iris model v2");
        keys(&mut i, &["ctrl+w"]);
        assert_eq!((i.text(), i.cursor()), ("iris model ", 11));
        keys(&mut i, &["home", "right", "x"]);
        assert_eq!((i.text(), i.cursor()), ("ixris model ", 2));
        keys(&mut i, &["backspace", "end", "backspace"]);
        assert_eq!(i.text(), "iris model");
        keys(&mut i, &["left", "left", "left", "left", "left", "ctrl+u"]);
        assert_eq!((i.text(), i.cursor()), ("model", 0));
        keys(&mut i, &["delete", "ctrl+e", "left", "ctrl+k"]);
        assert_eq!(i.text(), "ode");
        assert_eq!(i.split(), ("ode", " ".to_string(), ""));
        let mut u = Input::new("é/ü");
        keys(&mut u, &["left", "backspace"]);
        assert_eq!(u.text(), "éü");
        assert!(
            !u.key(Key::parse("enter").unwrap()),
            "enter is the caller's"
        );
    }
}
