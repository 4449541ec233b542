//! SavedModels, served through the upstream a deploy names.
//!
//! A SavedModel version is kept in the repository like any model, but TF Serving runs it. The
//! upstream that serves it is written into the artifact store as an upstream file (so the
//! gateway, batch jobs and secrets treat it as any upstream version) and recorded on the
//! version in the same transaction as the deploy, or with `models upstream` for a version
//! that joins an existing service.

use super::{ControlError, Core};
use crate::domain::{ModelRef, ModelVersion, ServedBy};
use crate::registry::Staging;
use crate::registry::formats::upstream::{self, Protocol, UpstreamSpec};

/// The most an `--upstream` text may be: a URL, or an upstream file of a few lines.
pub const MAX_UPSTREAM_TEXT: usize = 16 * 1024;

const ENTRY: &str = "upstream.toml";

impl Core {
    /// The upstream `text` names for a SavedModel of `model`, checked as a deploy checks an
    /// upstream file: a secret it sends must be in the store.
    pub(super) fn named_upstream(
        &self,
        text: &str,
        model: &str,
    ) -> Result<UpstreamSpec, ControlError> {
        if text.len() > MAX_UPSTREAM_TEXT {
            return Err(ControlError::field(
                "upstream",
                format!(
                    "{} bytes: an upstream is a URL or a small file (at most {MAX_UPSTREAM_TEXT} bytes)",
                    text.len()
                ),
            ));
        }
        let spec = upstream::named(text, model).map_err(|e| ControlError::field("upstream", e))?;
        self.check_secret(&spec)?;
        Ok(spec)
    }

    /// Writes `spec` into the artifact store as an upstream file. The caller holds the
    /// artifact lock until the row that references it is written, then [`Core::settle`]s.
    pub(super) fn publish_upstream(&self, spec: &UpstreamSpec) -> Result<ServedBy, ControlError> {
        let text = toml::to_string(spec)
            .map_err(|e| ControlError::Io(format!("cannot write the upstream file: {e}")))?;
        let staging = Staging::new(&self.data_dir.staging())?;
        let file = staging.path().join(ENTRY);
        std::fs::write(&file, text)
            .map_err(|e| ControlError::Io(format!("{}: {e}", file.display())))?;
        let (sha256, _) = staging.finalize(&file, ENTRY)?;
        let published = self.artifacts.publish(staging, &sha256, ENTRY)?;
        Ok(ServedBy {
            artifact: published.relative_path,
            url: endpoint(spec),
        })
    }

    /// After the write that named `new` in place of `old`: the upstream file no row names any
    /// more goes — the replaced one, or on a refusal the one written for it. (A file some
    /// other version names, or the same one named again, is still referenced and stays.) The
    /// caller still holds the artifact lock.
    pub(super) fn settle<T, E>(
        &self,
        written: &Result<T, E>,
        old: Option<&ServedBy>,
        new: &ServedBy,
    ) {
        let gone = if written.is_ok() { old } else { Some(new) };
        if let Some(sha256) = gone.and_then(ServedBy::sha256)
            && let Ok(false) = self.store.artifact_referenced(sha256)
        {
            let _ = self.artifacts.remove(sha256);
        }
    }

    /// Names the upstream that serves SavedModel version `target` (its newest when none).
    pub async fn serve_saved_model(
        &self,
        actor: &str,
        target: &ModelRef,
        text: &str,
    ) -> Result<ModelVersion, ControlError> {
        let name = target.name.as_str();
        let versions = self.show_model(name)?;
        let version = match target.version {
            Some(v) => v,
            None => versions.last().map(|v| v.version).unwrap_or(1),
        };
        let before = versions
            .iter()
            .find(|v| v.version == version)
            .and_then(|v| v.served_by.clone());
        let spec = self.named_upstream(text, name)?;
        let _guard = self.artifact_lock.lock().await;
        let by = self.publish_upstream(&spec)?;
        let written = self
            .store
            .serve_saved_model(actor, name, version, by.clone())
            .await;
        self.settle(&written, before.as_ref(), &by);
        Ok(written?)
    }
}

/// Where requests go, as people read it: `http://tfs:8501/v1/models/resnet`.
fn endpoint(spec: &UpstreamSpec) -> String {
    let api = match spec.protocol {
        Protocol::Tfserving | Protocol::KserveV1 => "v1",
        Protocol::KserveV2 => "v2",
    };
    let mut out = format!(
        "{}/{api}/models/{}",
        spec.url.trim_end_matches('/'),
        spec.model
    );
    if let Some(v) = spec.version {
        out.push_str(&format!("/versions/{v}"));
    }
    out
}
