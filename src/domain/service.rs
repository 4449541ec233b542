//! Services: a model version behind an address and an access key.
//!
//! A service's name becomes the first label of its host (`<name>.<domain>`), and clients that
//! do not send that host address it by name in the path (`/v1/models/<name>:predict`), so the
//! name is a DNS label: lowercase letters, digits and inner hyphens, at most 63 characters.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceNameError {
    #[error(
        "illegal service name {0:?}: a service name is a DNS label, 1 to 63 characters from a-z, 0-9 and '-', starting with a letter and not ending with '-' (e.g. \"iris\" or \"fraud-v2\")"
    )]
    Illegal(String),
}

/// A validated service name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceName(String);

impl TryFrom<String> for ServiceName {
    type Error = ServiceNameError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ServiceName::parse(&text)
    }
}

impl From<ServiceName> for String {
    fn from(name: ServiceName) -> String {
        name.0
    }
}

impl ServiceName {
    pub fn parse(text: &str) -> Result<Self, ServiceNameError> {
        let b = text.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_lowercase()
            && b[b.len() - 1] != b'-'
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(ServiceName(text.to_string()))
        } else {
            Err(ServiceNameError::Illegal(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service's virtual host under `domain`.
    pub fn host(&self, domain: &str) -> String {
        format!("{}.{}", self.0, domain.trim_matches('.'))
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a service may use: worker threads for large batches, requests in flight, the time a
/// request may take, and rows per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub threads: u32,
    pub concurrency: u32,
    pub timeout_ms: u64,
    pub max_batch_rows: u32,
    /// The loaded model's estimated memory, checked against free memory at deploy.
    pub memory_bytes: u64,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            threads: 1,
            concurrency: 64,
            timeout_ms: 10_000,
            max_batch_rows: 10_000,
            memory_bytes: 0,
        }
    }
}

/// One version a service holds, with its share of the traffic in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub model: String,
    pub version: u32,
    pub weight: u8,
    /// The artifact to load (relative to the artifact store), and the model's kind.
    pub artifact: String,
    pub kind: super::ModelKind,
}

/// A live service as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: ServiceName,
    pub host: String,
    /// Never logged and never printed unless asked for (`--show-key`).
    #[serde(skip_serializing, default)]
    pub key: String,
    /// The engine and its version, e.g. `pmml/0.1.0`.
    pub runtime: String,
    pub resources: Resources,
    pub deployments: Vec<Deployment>,
    pub created_at: String,
}

impl Service {
    /// The key with all but its last four characters hidden, for listings and the console.
    pub fn masked_key(&self) -> String {
        let tail = &self.key[self.key.len().saturating_sub(4)..];
        format!("{}{tail}", "•".repeat(8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        for ok in ["iris", "a", "fraud-v2", "m0", &"a".repeat(63)] {
            assert!(ServiceName::parse(ok).is_ok(), "{ok:?} was refused");
        }
        let long = "a".repeat(64);
        for bad in [
            "", "Iris", "0iris", "-iris", "iris-", "ir_is", "ir.is", "iris:1", "ir is", "é", &long,
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn host_joins_name_and_domain() {
        let name = ServiceName::parse("iris").unwrap();
        assert_eq!(name.host("models.local"), "iris.models.local");
        assert_eq!(name.host(".models.local."), "iris.models.local");
    }
}
