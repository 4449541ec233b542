//! The model repository's files: where artifacts come from, how they are checked, and where
//! they are kept.
//!
//! An import never registers anything half-way. The artifact is fetched into a private staging
//! folder under `DATA_DIR/tmp/`, its type detected and checked there, then published into
//! `DATA_DIR/artifacts/<sha256>/` with one rename; only then does the store record the version.
//! Whatever fails before that point leaves the staging folder to be deleted and nothing else;
//! if the store refuses the row, a newly published artifact is removed again.
//!
//! - [`source`]: what the user typed (`./m.pmml`, `https://…`, `s3://…`, `cos://…`) as a [`Source`].
//! - [`local`], [`http`], [`s3`] (+ [`sigv4`]): fetching each kind of source into staging.
//! - [`formats`]: type detection and structural checks per model kind.
//! - [`artifacts`]: staging folders and the content-addressed artifact store.

pub mod artifacts;
pub mod formats;
pub mod http;
pub mod local;
pub mod s3;
pub mod sigv4;
pub mod source;

use std::path::PathBuf;

pub use artifacts::{Artifacts, Staging};
pub use source::{Addressing, S3Options, Source};

use crate::domain::{ModelKind, NameError};
use crate::store::StoreError;

/// What a fetch left in the staging folder's `incoming` entry.
#[derive(Debug, Clone, Copy)]
pub struct Fetched {
    pub bytes: u64,
    pub is_dir: bool,
}

/// Why an import failed. Every message names the problem and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Text(#[from] crate::domain::TextError),
    #[error("{0}")]
    BadSource(String),
    #[error("no such file or folder: {0}")]
    NotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is empty: there is no model to import")]
    Empty(String),
    #[error(
        "{source_name} is larger than the import limit of {limit} bytes; raise import.max_bytes in {config} if it is meant to be this big"
    )]
    TooLarge {
        source_name: String,
        limit: u64,
        config: String,
    },
    #[error("GET {url} answered HTTP {status}; check the URL")]
    HttpStatus { url: String, status: String },
    #[error("cannot download {url}: {detail}")]
    Network { url: String, detail: String },
    #[error("download of {url} was cut short after {got} of {expected} bytes; try again")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("{location}: {message}")]
    S3 { location: String, message: String },
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("{0}")]
    UnsafePath(String),
    #[error("{source_name} is not a valid {kind} model: {detail}")]
    Invalid {
        source_name: String,
        kind: ModelKind,
        detail: String,
    },
    #[error(
        "{0} is not a model modeldeck knows: expected a PMML file (XML), an ONNX file (protobuf), an Angel model folder (graph.json), a TensorFlow SavedModel folder (saved_model.pb) or an upstream file (TOML/JSON naming a remote endpoint)"
    )]
    Unknown(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// A stable, machine-readable code for scripts and the control API.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Name(_) => "invalid_name",
            ImportError::Text(_) => "invalid_text",
            ImportError::BadSource(_) => "invalid_source",
            ImportError::NotFound(_) => "not_found",
            ImportError::Read { .. } | ImportError::Io { .. } => "io",
            ImportError::Empty(_) => "empty",
            ImportError::TooLarge { .. } => "too_large",
            ImportError::HttpStatus { .. } => "http_status",
            ImportError::Network { .. } => "network",
            ImportError::Truncated { .. } => "truncated",
            ImportError::S3 { .. } => "s3",
            ImportError::Credentials(_) => "credentials",
            ImportError::UnsafePath(_) => "unsafe_path",
            ImportError::Invalid { .. } => "invalid_model",
            ImportError::Unknown(_) => "unknown_format",
            ImportError::Store(_) => "store",
        }
    }
}
