//! Secrets: named values an upstream version sends as its auth header, kept in the store and
//! set from an environment variable or a file, never from a command-line argument (`ps` shows
//! those to every user of the machine).

/// The largest secret value: a header value, which servers cap at a few KiB anyway.
pub const MAX_SECRET: usize = 8 << 10;

/// Checks a secret's name: a path segment of the control API, with a token name's rules.
pub fn secret_name(name: &str) -> Result<&str, String> {
    super::token_name(name).map_err(|_| {
        format!(
            "illegal secret name {:?}: use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit (e.g. \"resnet-token\")",
            super::redact(name, 64)
        )
    })
}

/// Checks a secret's value as an HTTP header value: visible ASCII and spaces, within
/// [`MAX_SECRET`]. One trailing newline (what `echo` and editors leave in a file) is dropped.
/// The error never quotes the value.
pub fn secret_value(value: &str) -> Result<&str, String> {
    let value = value
        .strip_suffix("\r\n")
        .or_else(|| value.strip_suffix('\n'))
        .unwrap_or(value);
    if value.trim().is_empty() {
        return Err("the secret is empty (or only spaces): give the token's value".into());
    }
    if value.len() > MAX_SECRET {
        return Err(format!(
            "the secret is {} bytes; a header value may be at most {MAX_SECRET}",
            value.len()
        ));
    }
    if let Some(at) = value
        .bytes()
        .position(|b| !(b == b' ' || b == b'\t' || (0x21..0x7f).contains(&b)))
    {
        return Err(format!(
            "the secret has a byte that cannot go in an HTTP header at position {at} (a line break or a non-ASCII character); store the header's value alone, on one line"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_header_values_and_errors_never_quote_them() {
        assert_eq!(secret_value("Bearer abc\n").unwrap(), "Bearer abc");
        let e = secret_value("Bearer s3cr3t\nX-Evil: 1").unwrap_err();
        assert!(e.contains("position 13") && !e.contains("s3cr3t"), "{e}");
        assert!(secret_value("").is_err());
        assert!(secret_value(&"a".repeat(MAX_SECRET + 1)).is_err());
        assert!(secret_name("resnet-token").is_ok());
        assert!(secret_name("../x").is_err());
    }
}
