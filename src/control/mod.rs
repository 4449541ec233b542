//! The core's operations, one function per thing a user can ask for.
//!
//! [`Core`] owns a data directory: it holds the owner lock, the store, the artifact store and
//! the settings. The CLI opens a `Core` in-process when the data directory is free; the
//! control API of `modeldeck serve` will call the very same methods, so there is one write
//! path whichever way a change arrives.

pub mod api;
mod canary;
pub mod client;
pub mod contract;
mod error;
pub mod jobs;
mod models;
mod monitoring;
pub mod operations;
pub mod owner;
mod savedmodel;
mod secrets;
mod serve;
mod services;
mod session;
pub mod tokens;
pub mod traffic;

use std::fs;

use crate::config::{DataDir, Settings};
use crate::registry::Artifacts;
use crate::store::Store;

pub use error::ControlError;
pub use models::{ImportRequest, MAX_DESCRIPTION};
pub use owner::{OwnerError, OwnerLock, Role};
pub use savedmodel::MAX_UPSTREAM_TEXT;
pub use serve::{ServeOptions, serve, serve_until};
pub use services::{DeployRequest, new_key, not_saved_model};
pub use session::{ImportSpec, Session};

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
    /// The data directory's id (read or written once, at open).
    id: String,
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
        let id = data_dir.ensure_id()?;
        let core = Core {
            data_dir,
            settings,
            store,
            artifacts,
            http,
            artifact_lock: tokio::sync::Mutex::new(()),
            id,
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

    /// The data directory's id, which its server reports (`GET /identity`).
    pub fn id(&self) -> &str {
        &self.id
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
