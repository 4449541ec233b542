//! Models and their versions as the repository records them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::name::{ModelName, NameError};

/// What kind of artifact a model version is, which decides the engine that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A PMML document, evaluated natively.
    Pmml,
    /// An ONNX model (protobuf).
    Onnx,
    /// An Angel model folder (`graph.json` plus one folder per parameter matrix).
    Angel,
    /// A reference to a remote TF Serving / KServe / Triton endpoint; requests are forwarded.
    Upstream,
    /// A TensorFlow SavedModel folder. TF Serving runs it, so a version is served through the
    /// upstream named when it is deployed (see [`ModelVersion::served_by`]).
    SavedModel,
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        ModelKind::Pmml,
        ModelKind::Onnx,
        ModelKind::Angel,
        ModelKind::Upstream,
        ModelKind::SavedModel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Pmml => "pmml",
            ModelKind::Onnx => "onnx",
            ModelKind::Angel => "angel",
            ModelKind::Upstream => "upstream",
            ModelKind::SavedModel => "savedmodel",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown model type {s:?}: use pmml, onnx, angel, upstream or savedmodel")
            })
    }
}

/// `NAME` or `NAME:VERSION`, as users type it on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub name: ModelName,
    pub version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("bad version in {0:?}: a version is a whole number from 1 up, as in \"iris:2\"")]
    Version(String),
}

impl FromStr for ModelRef {
    type Err = ModelRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, version) = match text.rsplit_once(':') {
            Some((name, v)) => {
                let version = v
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| ModelRefError::Version(text.to_string()))?;
                (name, Some(version))
            }
            None => (text, None),
        };
        Ok(ModelRef {
            name: ModelName::parse(name)?,
            version,
        })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// A service that currently routes traffic to a model version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUse {
    pub service: String,
    pub weight: u8,
}

/// One registered version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: u32,
    #[serde(rename = "type")]
    pub kind: ModelKind,
    pub sha256: String,
    pub size: u64,
    /// Path of the artifact relative to the data directory (`artifacts/<sha256>/…`).
    pub artifact: String,
    /// Where it was imported from, without credentials.
    pub source: String,
    pub description: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub used_by: Vec<ServiceUse>,
    /// For a SavedModel: the upstream that serves it, once a deploy has named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ServedBy>,
}

/// The upstream a SavedModel version is served through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedBy {
    /// The upstream file's artifact path (`artifacts/<sha256>/upstream.toml`).
    pub artifact: String,
    /// Its URL, for people to read.
    pub url: String,
}

impl ServedBy {
    /// The digest of the upstream file's artifact.
    pub fn sha256(&self) -> Option<&str> {
        self.artifact
            .strip_prefix("artifacts/")?
            .split('/')
            .next()
            .filter(|s| s.len() == 64)
    }
}

impl ModelVersion {
    /// What the gateway runs for this version: its own artifact, or for a SavedModel the
    /// upstream that serves it (none yet: the SavedModel itself, which no engine here runs).
    pub fn serving(&self) -> (ModelKind, &str) {
        Self::serving_of(
            self.kind,
            &self.artifact,
            self.served_by.as_ref().map(|s| s.artifact.as_str()),
        )
    }

    /// [`ModelVersion::serving`] from a version's columns, for readers that have only those.
    pub fn serving_of<'a>(
        kind: ModelKind,
        artifact: &'a str,
        served_by: Option<&'a str>,
    ) -> (ModelKind, &'a str) {
        match served_by {
            Some(upstream) => (ModelKind::Upstream, upstream),
            None => (kind, artifact),
        }
    }
}

/// A model with its versions folded into the figures a listing shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: ModelKind,
    pub latest_version: u32,
    pub versions: u32,
    /// Size of the latest version's artifact, in bytes.
    pub size: u64,
    /// Services that use any version of the model.
    pub used_by: Vec<String>,
}

/// Sizes in binary units, as `ls -h` would.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ref_parses_name_and_optional_version() {
        let r: ModelRef = "iris:3".parse().unwrap();
        assert_eq!((r.name.as_str(), r.version), ("iris", Some(3)));
        let r: ModelRef = "iris".parse().unwrap();
        assert_eq!(r.version, None);
        assert_eq!(r.to_string(), "iris");
    }

    #[test]
    fn model_ref_refuses_bad_versions_and_names() {
        for bad in ["iris:0", "iris:-1", "iris:x", "iris:", "Iris:1", ":2"] {
            assert!(bad.parse::<ModelRef>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn kinds_round_trip_through_text() {
        for k in ModelKind::ALL {
            assert_eq!(k.as_str().parse::<ModelKind>(), Ok(k));
        }
        assert!("tensorflow".parse::<ModelKind>().is_err());
    }
}
