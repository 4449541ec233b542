//! Messages that may be shown to other people or written to a log, cut loose from what the
//! caller sent or what a file held: parsers quote the values they choke on (`invalid type:
//! string "AKIA…"`, a TOML error's source line), which turns an error into a way to read
//! secrets and files. One rule for every such message.

/// `message` with every double-quoted value replaced by `"…"`, every backquoted name cut to
/// 64 characters, control characters dropped, and the whole cut to `max` characters.
pub fn redact(message: &str, max: usize) -> String {
    scrub(message, max, false)
}

/// [`redact`], and backquoted names and `<element>` names emptied too: for messages about a
/// file the caller could not read otherwise (a path on the server), where even a field or
/// element name is the file's content.
pub fn redact_strict(message: &str, max: usize) -> String {
    scrub(message, max, true)
}

fn scrub(message: &str, max: usize, strict: bool) -> String {
    let mut out = String::with_capacity(message.len().min(max));
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // Skip to the closing quote (honouring backslash escapes).
                let mut escaped = false;
                for d in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        break;
                    }
                }
                out.push_str("\"…\"");
            }
            '`' | '<' if strict => {
                let close = if c == '`' { '`' } else { '>' };
                for d in chars.by_ref() {
                    if d == close {
                        break;
                    }
                }
                out.push(c);
                out.push('…');
                out.push(close);
            }
            '`' => {
                out.push('`');
                let mut kept = 0;
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                    if kept < 64 && !d.is_control() {
                        out.push(d);
                    }
                    kept += 1;
                }
                if kept > 64 {
                    out.push('…');
                }
                out.push('`');
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        if out.chars().count() >= max {
            let cut: String = out.chars().take(max.saturating_sub(1)).collect();
            return cut + "…";
        }
    }
    out
}

/// At most `max` characters of `text`, ending in `…` when cut: for what a caller chose (a
/// path, a Host header, an error that quotes the request) on its way into a log line or a
/// message kept in memory.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{clip, redact};

    #[test]
    fn quoted_values_never_come_back() {
        assert_eq!(
            redact(
                r#"invalid type: string "AKIAEXAMPLE:wJalrSECRET", expected struct S3Credentials at line 1 column 70"#,
                500
            ),
            r#"invalid type: string "…", expected struct S3Credentials at line 1 column 70"#
        );
        assert_eq!(redact("a \"b\\\"c\" d", 100), "a \"…\" d");
        let long = format!("unknown field `{}`, expected `source`", "k".repeat(100));
        let r = redact(&long, 500);
        assert!(
            r.starts_with(&format!("unknown field `{}…`", "k".repeat(64))),
            "{r}"
        );
        assert_eq!(redact("x\ny\u{1b}[31m", 100), "x y [31m");
        assert_eq!(redact(&"z".repeat(50), 10).chars().count(), 10);
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(
            super::redact_strict(
                "unknown field `hunter2`, root element is <s3cr3t>, url \"x\"",
                200
            ),
            "unknown field `…`, root element is <…>, url \"…\""
        );
    }
}
