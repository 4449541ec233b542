//! The core's operations, one function per thing a user can ask for.
//!
//! [`Core`] owns a data directory: it holds the owner lock, the store, the artifact store and
//! the settings. The CLI opens a `Core` in-process when the data directory is free; the
//! control API of `modeldeck serve` will call the very same methods, so there is one write
//! path whichever way a change arrives.

pub mod api;
pub mod client;
mod models;
pub mod operations;
pub mod owner;
mod serve;
mod services;
mod session;
pub mod tokens;

use std::fs;

use crate::config::{ConfigError, DataDir, Settings};
use crate::registry::{Artifacts, ImportError};
use crate::store::{Store, StoreError};

pub use models::ImportRequest;
pub use owner::{OwnerError, OwnerLock, Role};
pub use serve::{ServeOptions, serve, serve_until};
pub use services::{DeployRequest, new_key};
pub use session::{ImportSpec, Session};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Owner(#[from] OwnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A service setting outside its range (the message names the field and the range).
    #[error(transparent)]
    Setting(#[from] crate::domain::SettingError),
    /// A name that breaks its kind's rules (the message says which and what is allowed).
    #[error("{0}")]
    InvalidName(String),
    /// An error the running server's control API answered with, code and all.
    #[error("{message}")]
    Api { code: String, message: String },
}

impl ControlError {
    /// A stable, machine-readable code for scripts and the control API.
    pub fn code(&self) -> &str {
        match self {
            ControlError::Config(_) => "config",
            ControlError::Owner(_) => "data_dir_in_use",
            ControlError::Store(StoreError::InService { .. }) => "in_service",
            ControlError::Store(StoreError::Exists(_)) => "exists",
            ControlError::Store(StoreError::Missing(_)) => "not_found",
            ControlError::Store(_) => "store",
            ControlError::Import(e) => e.code(),
            ControlError::NotFound(_) => "not_found",
            ControlError::BadRequest(_) => "bad_request",
            ControlError::InvalidName(_) => "invalid_name",
            ControlError::Setting(_) => "invalid_setting",
            ControlError::Api { code, .. } => code,
        }
    }
}

/// A name that breaks its kind's rules, whichever kind: the domain's message says which.
macro_rules! invalid_name_from {
    ($($error:ty),*) => {$(
        impl From<$error> for ControlError {
            fn from(e: $error) -> Self {
                ControlError::InvalidName(e.to_string())
            }
        }
    )*};
}

invalid_name_from!(
    crate::domain::NameError,
    crate::domain::ServiceNameError,
    crate::domain::TokenNameError
);

impl From<crate::domain::ModelRefError> for ControlError {
    fn from(e: crate::domain::ModelRefError) -> Self {
        match e {
            crate::domain::ModelRefError::Name(n) => ControlError::InvalidName(n.to_string()),
            other => ControlError::BadRequest(other.to_string()),
        }
    }
}

/// The running core of one data directory.
pub struct Core {
    data_dir: DataDir,
    settings: Settings,
    store: Store,
    artifacts: Artifacts,
    http: reqwest::Client,
    /// Serialises "publish artifact + register row" against "remove row + delete artifact",
    /// so a shared artifact is never deleted under an import that is about to reference it.
    artifact_lock: tokio::sync::Mutex<()>,
    _owner: OwnerLock,
}

impl Core {
    /// Takes ownership of `data_dir` as `role` (waiting while another command holds it, failing
    /// at once while a server does), opens the store and clears what an
    /// interrupted import may have left behind.
    pub fn open(data_dir: DataDir, role: Role) -> Result<Core, ControlError> {
        // Both wait for a command to finish; neither waits for a server (the lock says which).
        let owner = OwnerLock::acquire(
            data_dir.root(),
            &data_dir.lock_file(),
            role,
            owner::COMMAND_WAIT,
        )?;
        let settings = data_dir.settings()?;
        let store = Store::open(&data_dir.database())?;
        let artifacts = Artifacts::new(data_dir.artifacts());
        let http = crate::registry::http::client(&settings.import)?;
        let core = Core {
            data_dir,
            settings,
            store,
            artifacts,
            http,
            artifact_lock: tokio::sync::Mutex::new(()),
            _owner: owner,
        };
        core.sweep()?;
        Ok(core)
    }

    /// Removes staging folders and artifacts no version references: both are what a crash
    /// between "file written" and "row committed" leaves, and we hold the lock, so nothing
    /// else can be in the middle of an import.
    fn sweep(&self) -> Result<(), ControlError> {
        let _ = fs::remove_dir_all(self.data_dir.staging());
        let referenced = self.store.referenced_artifacts()?;
        for sha in self.artifacts.stored().unwrap_or_default() {
            if !referenced.contains(&sha) {
                let _ = self.artifacts.remove(&sha);
            }
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Replaces the HTTP client imports use (tests point it at hosts that need a resolver
    /// override, such as virtual-hosted S3 buckets on loopback).
    pub fn set_http_client(&mut self, client: reqwest::Client) {
        self.http = client;
    }
}
