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

/// One service setting's rules: its name (as the API, the CLI flag and the console spell it),
/// its range and its default. The CLI, the control API, the console and the store all take
/// their ranges from here, so a value is refused in the same words wherever it is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The API's field name; the CLI flag is the same with `-` for `_`.
    pub key: &'static str,
    pub min: u64,
    pub max: u64,
    pub default: u64,
    /// What the number counts, for messages and help.
    pub unit: &'static str,
    /// What the setting does, for help next to where it is typed.
    pub what: &'static str,
}

/// A setting's value outside its range, or not a whole number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{key} must be a whole number of {unit} from {min} to {max}, not {given}",
    key = setting.key, unit = setting.unit, min = setting.min, max = setting.max
)]
pub struct SettingError {
    pub setting: Setting,
    /// The value as it was given (text, or a JSON number as written).
    pub given: String,
}

impl Setting {
    /// Checks a number against the range.
    pub fn check(&self, value: u64) -> Result<u64, SettingError> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(self.refuse(value.to_string()))
        }
    }

    /// Reads typed text (a flag's or a form field's value).
    pub fn parse(&self, text: &str) -> Result<u64, SettingError> {
        let text = text.trim();
        match text.parse::<u64>() {
            Ok(v) => self.check(v),
            Err(_) => Err(self.refuse(format!("{text:?}"))),
        }
    }

    /// What it does and its range, as a form shows next to the field.
    pub fn hint(&self) -> String {
        format!("{} ({} to {})", self.what, self.min, self.max)
    }

    pub fn refuse(&self, given: String) -> SettingError {
        SettingError {
            setting: *self,
            given,
        }
    }
}

/// Worker threads a service uses for large batches.
pub const THREADS: Setting = Setting {
    key: "threads",
    min: 1,
    max: 256,
    default: 1,
    unit: "threads",
    what: "worker threads for large batches",
};
/// Requests in flight before the gateway answers 429.
pub const CONCURRENCY: Setting = Setting {
    key: "concurrency",
    min: 1,
    max: 100_000,
    default: 64,
    unit: "requests",
    what: "requests in flight before 429",
};
/// Time a request may take before the gateway answers 504.
pub const TIMEOUT_MS: Setting = Setting {
    key: "timeout_ms",
    min: 1,
    max: 3_600_000,
    default: 10_000,
    unit: "milliseconds",
    what: "time a request may take before 504",
};
/// Records one request may carry.
pub const MAX_BATCH_ROWS: Setting = Setting {
    key: "max_batch_rows",
    min: 1,
    max: 1_000_000,
    default: 10_000,
    unit: "records",
    what: "records per request",
};

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
            threads: THREADS.default as u32,
            concurrency: CONCURRENCY.default as u32,
            timeout_ms: TIMEOUT_MS.default,
            max_batch_rows: MAX_BATCH_ROWS.default as u32,
            memory_bytes: 0,
        }
    }
}

impl Resources {
    /// Builds resources from optional values (the defaults fill the gaps), each checked
    /// against its setting's range.
    pub fn from_values(
        threads: Option<u64>,
        concurrency: Option<u64>,
        timeout_ms: Option<u64>,
        max_batch_rows: Option<u64>,
    ) -> Result<Resources, SettingError> {
        let take = |s: &Setting, v: Option<u64>| s.check(v.unwrap_or(s.default));
        // Every range ends below u32::MAX, so the narrowing casts keep the value.
        Ok(Resources {
            threads: take(&THREADS, threads)? as u32,
            concurrency: take(&CONCURRENCY, concurrency)? as u32,
            timeout_ms: take(&TIMEOUT_MS, timeout_ms)?,
            max_batch_rows: take(&MAX_BATCH_ROWS, max_batch_rows)? as u32,
            memory_bytes: 0,
        })
    }

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), SettingError> {
        THREADS.check(self.threads.into())?;
        CONCURRENCY.check(self.concurrency.into())?;
        TIMEOUT_MS.check(self.timeout_ms)?;
        MAX_BATCH_ROWS.check(self.max_batch_rows.into())?;
        Ok(())
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The service's own threshold levels; `None` follows the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<super::Thresholds>,
    #[serde(default)]
    pub traffic: super::TrafficRules,
}

impl Service {
    /// The split in force: each deployed version with its weight.
    pub fn split(&self) -> Option<super::Split> {
        super::Split::new(
            self.deployments
                .iter()
                .map(|d| (d.version, d.weight))
                .collect(),
        )
        .ok()
    }

    pub fn versions(&self) -> Vec<u32> {
        self.deployments.iter().map(|d| d.version).collect()
    }
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
    fn settings_refuse_out_of_range_values_naming_field_and_range() {
        let e = CONCURRENCY
            .parse("99999999999999999999")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "concurrency must be a whole number of requests from 1 to 100000, not \"99999999999999999999\""
        );
        let e = TIMEOUT_MS.check(u64::MAX).unwrap_err().to_string();
        assert!(
            e.contains("timeout_ms") && e.contains("1 to 3600000"),
            "{e}"
        );
        let e = Resources::from_values(Some(1_000_000_000), None, None, None).unwrap_err();
        assert_eq!(e.setting, THREADS);
        assert_eq!(THREADS.parse(" 8 "), Ok(8));
        assert!(MAX_BATCH_ROWS.parse("-1").is_err() && MAX_BATCH_ROWS.parse("1.5").is_err());
        assert_eq!(
            Resources::from_values(None, None, None, None),
            Ok(Resources::default())
        );
        assert!(Resources::default().validate().is_ok());
    }

    #[test]
    fn host_joins_name_and_domain() {
        let name = ServiceName::parse("iris").unwrap();
        assert_eq!(name.host("models.local"), "iris.models.local");
        assert_eq!(name.host(".models.local."), "iris.models.local");
    }
}
