//! Control API paths, built from segments: every name checked against its kind's rules and
//! percent-encoded, so a name can never become a path.

use crate::control::ControlError;
use crate::domain::{ModelName, ServiceName, token_name};

/// One segment of a control API path.
pub enum Seg<'a> {
    /// A fixed word of the API (`models`, `versions`, `rotate-key`).
    Word(&'static str),
    Model(&'a str),
    Service(&'a str),
    Token(&'a str),
    Secret(&'a str),
    Number(u64),
}

/// A path under `/api/v1/` from its segments, each name checked against the domain's rules
/// for its kind and percent-encoded: a name is never a path, so `../models/x` is refused here
/// instead of being resolved into another resource by the URL parser.
pub fn api_path(segments: &[Seg]) -> Result<String, ControlError> {
    let mut out = String::new();
    for seg in segments {
        if !out.is_empty() {
            out.push('/');
        }
        let text = match seg {
            Seg::Word(w) => *w,
            Seg::Model(n) => ModelName::parse(n).map(|_| *n)?,
            Seg::Service(n) => ServiceName::parse(n).map(|_| *n)?,
            Seg::Token(n) => token_name(n)?,
            Seg::Secret(n) => crate::domain::secret_name(n)
                .map_err(|e| ControlError::invalid("invalid_name", e))?,
            Seg::Number(n) => {
                out.push_str(&n.to_string());
                continue;
            }
        };
        encode_segment(&mut out, text);
    }
    Ok(out)
}

/// `path?k=v&…` with the values percent-encoded.
pub(super) fn with_query(mut path: String, pairs: &[(&str, &str)]) -> String {
    for (i, (k, v)) in pairs.iter().enumerate() {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(k);
        path.push('=');
        encode_segment(&mut path, v);
    }
    path
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_never_become_paths() {
        let p = api_path(&[
            Seg::Word("models"),
            Seg::Model("iris"),
            Seg::Word("versions"),
            Seg::Number(2),
        ]);
        assert_eq!(p.unwrap(), "models/iris/versions/2");
        for bad in ["../models/relp", "a/b", "a%2fb", "..", ".", ""] {
            for seg in [Seg::Model(bad), Seg::Service(bad), Seg::Token(bad)] {
                let err = api_path(&[Seg::Word("services"), seg]).unwrap_err();
                assert_eq!(err.code(), "invalid_name", "{bad:?}");
                assert!(err.to_string().contains("illegal"), "{err}");
            }
        }
    }

    #[test]
    fn segments_are_percent_encoded() {
        let mut out = String::new();
        encode_segment(&mut out, "a b/c%.._~");
        assert_eq!(out, "a%20b%2Fc%25.._~");
    }
}
