//! Model names. They appear in URLs (`/v1/models/NAME:predict`), file names and shell commands,
//! so the alphabet is deliberately small: lowercase letters, digits, `.`, `_` and `-`, starting
//! with a letter or digit, at most 63 characters.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "illegal model name {0:?}: use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit (e.g. \"iris\" or \"fraud-v2\")"
    )]
    Illegal(String),
}

/// Free text the product stores and prints (a description, an uploaded file's name) that
/// breaks the rules: control characters would reach terminals and logs as escape sequences.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} {text:?} {why}")]
pub struct TextError {
    pub what: &'static str,
    pub text: String,
    pub why: &'static str,
}

/// Checks free text: no control characters (newlines and escapes included), at most `max`
/// bytes.
pub fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), TextError> {
    let why = if text.chars().any(char::is_control) {
        "holds control characters (newlines, escapes): use plain text on one line"
    } else if text.len() > max {
        "is too long"
    } else {
        return Ok(());
    };
    let mut shown = text.to_string();
    if shown.len() > 80 {
        let mut end = 80;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    Err(TextError {
        what,
        text: shown,
        why,
    })
}

/// A validated model name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName(String);

impl ModelName {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let bytes = text.as_bytes();
        let first_ok = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        if first_ok && rest_ok && bytes.len() <= 63 {
            Ok(ModelName(text.to_string()))
        } else {
            Err(NameError::Illegal(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "iris",
            "a",
            "0model",
            "fraud-v2",
            "x.y_z-1",
            &"a".repeat(63),
        ] {
            assert_eq!(
                ModelName::parse(ok).map(|n| n.to_string()),
                Ok(ok.to_string())
            );
        }
    }

    #[test]
    fn refuses_everything_else() {
        let long = "a".repeat(64);
        for bad in [
            "", "Iris", "-iris", ".iris", "_iris", "ir is", "iris/1", "../x", "iris:2", "é", &long,
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn text_with_control_characters_or_too_long_is_refused() {
        assert!(check_text("description", "Iris species classifier, v2", 1000).is_ok());
        let e = check_text("description", "a\u{1b}[2Jb", 1000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("control characters"), "{e}");
        assert!(check_text("file name", "x\ny", 255).is_err());
        assert!(check_text("file name", "a\0b", 255).is_err());
        let e = check_text("file name", &"a".repeat(256), 255)
            .unwrap_err()
            .to_string();
        assert!(e.contains("too long") && e.len() < 200, "{e}");
    }

    #[test]
    fn error_says_what_is_allowed() {
        let msg = ModelName::parse("My Model").unwrap_err().to_string();
        assert!(msg.contains("\"My Model\""), "{msg}");
        assert!(msg.contains("a-z, 0-9"), "{msg}");
    }
}
