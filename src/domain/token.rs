//! Control API tokens: a name (the "who" of every audit record) and a scope.

use serde::{Deserialize, Serialize};

/// A token name that breaks the rules, with what they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "illegal token name {0:?}: use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit (e.g. \"ci\" or \"alice\")"
)]
pub struct TokenNameError(pub String);

/// Checks a token's name: it is the "who" of audit records and a path segment of the control
/// API, so the alphabet is as small as a model name's.
pub fn token_name(name: &str) -> Result<&str, TokenNameError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(TokenNameError(name.to_string()))
    }
}

/// What a token may do. Each scope includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read anything except keys and tokens.
    Viewer,
    /// Also import, deploy, change traffic, run jobs, rotate keys, delete.
    Operator,
    /// Also manage tokens.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Viewer => "viewer",
            Scope::Operator => "operator",
            Scope::Admin => "admin",
        }
    }

    /// Whether a holder of `self` may do what needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "viewer" => Ok(Scope::Viewer),
            "operator" => Ok(Scope::Operator),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope {other:?}: use admin, operator or viewer"
            )),
        }
    }
}

/// A token as listed: never its secret, which is stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub scope: Scope,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_include_the_ones_below() {
        assert!(Scope::Admin.allows(Scope::Operator));
        assert!(Scope::Operator.allows(Scope::Viewer));
        assert!(!Scope::Viewer.allows(Scope::Operator));
        assert!(!Scope::Operator.allows(Scope::Admin));
        assert_eq!("operator".parse::<Scope>(), Ok(Scope::Operator));
        assert!("root".parse::<Scope>().is_err());
    }
}
