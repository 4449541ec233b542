//! Model repository operations: import, list, show, remove.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::operations::ImportProgress;
use super::{ControlError, Core};
use crate::domain::{ModelKind, ModelName, ModelRef, ModelSummary, ModelVersion};
use crate::registry::{Fetched, ImportError, Source, Staging, formats, http, local, s3};
use crate::store::NewVersion;

/// One `models import`.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub source: Source,
    pub name: String,
    pub kind: Option<ModelKind>,
    pub description: String,
    /// What the version's `source` records instead of the source itself (an upload's staged
    /// temp file means nothing to a reader; `upload:iris.pmml` does).
    pub label: Option<String>,
    /// Where a control API operation watches the import's phase and bytes.
    pub progress: Option<Arc<ImportProgress>>,
}

/// A model's description is a line of text, not a document.
pub const MAX_DESCRIPTION: usize = 1000;

impl Core {
    /// Imports a model version. Nothing is registered unless every step succeeds: fetch, type
    /// check, publish, and the store's row.
    pub async fn import_model(
        &self,
        actor: &str,
        req: ImportRequest,
    ) -> Result<ModelVersion, ImportError> {
        let name = ModelName::parse(&req.name)?;
        crate::domain::check_text("description", &req.description, MAX_DESCRIPTION)?;
        let limit = self.settings.import.max_bytes;
        let config = self.data_dir.settings_file().display().to_string();
        let label = req.label.clone().unwrap_or_else(|| req.source.describe());
        let staging = Staging::new(&self.data_dir.staging())?;
        let phase = |p: &'static str| {
            if let Some(progress) = &req.progress {
                progress.set_phase(p);
            }
        };
        if let Some(progress) = &req.progress {
            progress.set_staging(staging.path().to_path_buf());
        }
        phase("fetching");
        let (staging, fetched) = match &req.source {
            Source::Local(path) => {
                let path = path.clone();
                blocking(move || {
                    let fetched = local::fetch(&path, &staging, limit, &config)?;
                    Ok((staging, fetched))
                })
                .await?
            }
            Source::Http(url) => {
                let incoming = staging.incoming();
                let bytes =
                    http::download(&self.http, url, &label, &incoming, limit, &config).await?;
                let fetched = Fetched {
                    bytes,
                    is_dir: false,
                };
                (staging, fetched)
            }
            Source::S3(object) => {
                let fetched = s3::fetch(&self.http, object, &staging, limit, &config).await?;
                (staging, fetched)
            }
        };
        if fetched.bytes == 0 && !fetched.is_dir {
            return Err(ImportError::Empty(label));
        }
        phase("checking");
        // Parsing and hashing are CPU and disk work: keep them off the async workers.
        let requested = req.kind;
        let shown = label.clone();
        let (staging, inspected, sha256, size) = blocking(move || {
            let inspected =
                formats::inspect(&staging.incoming(), fetched.is_dir, requested, &shown)?;
            let (sha256, size) = staging.finalize(&inspected.keep, inspected.entry)?;
            Ok((staging, inspected, sha256, size))
        })
        .await?;

        phase("publishing");
        let _guard = self.artifact_lock.lock().await;
        let published = self.artifacts.publish(staging, &sha256, inspected.entry)?;
        let new = NewVersion {
            name: name.to_string(),
            kind: inspected.kind,
            sha256: sha256.clone(),
            size,
            artifact: published.relative_path,
            source: match inspected.note {
                Some(note) => format!("{label} ({note})"),
                None => label,
            },
            description: req.description,
        };
        match self.store.register_version(actor, new).await {
            Ok(version) => Ok(version),
            Err(e) => {
                if published.created {
                    let _ = self.artifacts.remove(&sha256);
                }
                Err(e.into())
            }
        }
    }

    pub fn list_models(&self) -> Result<Vec<ModelSummary>, ControlError> {
        Ok(self.store.list_models()?)
    }

    /// A model's description (empty when it has none).
    pub fn model_description(&self, name: &str) -> Result<String, ControlError> {
        ModelName::parse(name)?;
        self.store
            .model_description(name)?
            .ok_or_else(|| no_such_model(name))
    }

    /// Every version of a model, oldest first.
    pub fn show_model(&self, name: &str) -> Result<Vec<ModelVersion>, ControlError> {
        ModelName::parse(name)?;
        self.store
            .model_versions(name)?
            .ok_or_else(|| no_such_model(name))
    }

    /// Removes a version, or the whole model; refused while a service uses any of it.
    /// Artifacts are deleted once no remaining version references them.
    pub async fn remove_model(
        &self,
        actor: &str,
        target: &ModelRef,
    ) -> Result<Vec<ModelVersion>, ControlError> {
        let name = target.name.as_str();
        let versions = self.show_model(name)?;
        if let Some(v) = target.version
            && !versions.iter().any(|x| x.version == v)
        {
            let have: Vec<String> = versions.iter().map(|x| x.version.to_string()).collect();
            return Err(ControlError::NotFound(format!(
                "model {name} has no version {v} (it has {})",
                have.join(", ")
            )));
        }
        let _guard = self.artifact_lock.lock().await;
        let removed = self
            .store
            .remove_versions(actor, name, target.version)
            .await?;
        // A SavedModel's upstream file goes with it when no other version names it.
        let digests: BTreeSet<&str> = removed
            .iter()
            .flat_map(|v| {
                [
                    Some(v.sha256.as_str()),
                    v.served_by.as_ref().and_then(|s| s.sha256()),
                ]
            })
            .flatten()
            .collect();
        for sha in digests {
            if !self.store.artifact_referenced(sha)? {
                self.artifacts.remove(sha).map_err(|source| {
                    ControlError::Import(ImportError::Io {
                        path: self.artifacts.root().join(sha),
                        source,
                    })
                })?;
            }
        }
        Ok(removed)
    }
}

fn no_such_model(name: &str) -> ControlError {
    ControlError::NotFound(format!(
        "no model named {name:?}; `modeldeck models list` shows the models there are"
    ))
}

/// Runs file-system work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ImportError::Io {
            path: Default::default(),
            source: std::io::Error::other(format!("import task failed: {e}")),
        })?
}
