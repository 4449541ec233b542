//! Deploying and managing services: the checks a deploy makes before anything is written (a
//! legal name, a version that exists, an engine that can run it, a model that compiles), the
//! access key, and the rows with their audit events.

use super::{ControlError, Core};
use crate::domain::{ModelKind, ModelRef, Resources, Service, ServiceName};
use crate::runtime::{self, SharedPredictor};
use crate::store::NewService;

/// What `services deploy` asks for.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub name: String,
    pub model: ModelRef,
    pub resources: Resources,
    /// For a SavedModel: the upstream that serves it (a URL, or an upstream file's text).
    pub upstream: Option<String>,
}

/// A fresh access key: 128 bits from the OS RNG, as hex.
pub fn new_key() -> Result<String, ControlError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ControlError::Io(format!("the OS random source failed: {e}")))?;
    Ok(hex::encode(bytes))
}

impl Core {
    /// Deploys, and hands back the model the check compiled, so a server can put that very
    /// model behind the new service (and the CLI read its signature) instead of compiling it
    /// a second time; none for an upstream, which the gateway connects to itself.
    pub async fn deploy_compiled(
        &self,
        actor: &str,
        req: DeployRequest,
    ) -> Result<(Service, Option<SharedPredictor>), ControlError> {
        let name = ServiceName::parse(&req.name)?;
        let r = req.resources;
        r.validate()?;
        let versions = self
            .store
            .model_versions(req.model.name.as_str())?
            .ok_or_else(|| {
                ControlError::NotFound(format!(
                    "no model named {:?}: see `modeldeck models list`",
                    req.model.name.as_str()
                ))
            })?;
        let version = match req.model.version {
            Some(v) => versions.iter().find(|m| m.version == v).ok_or_else(|| {
                ControlError::NotFound(format!(
                    "model {} has no version {v}: see `modeldeck models show {}`",
                    req.model.name, req.model.name
                ))
            })?,
            None => versions.last().ok_or_else(|| {
                ControlError::NotFound(format!("model {} has no versions", req.model.name))
            })?,
        };
        let model_ref = format!("{}:{}", version.name, version.version);
        // A SavedModel runs on the upstream the deploy names (or named before).
        let named = match (&req.upstream, version.kind) {
            (Some(_), kind) if kind != ModelKind::SavedModel => {
                return Err(ControlError::field(
                    "upstream",
                    not_saved_model(&model_ref, kind),
                ));
            }
            (Some(text), _) => Some(self.named_upstream(text, &version.name)?),
            (None, ModelKind::SavedModel) if version.served_by.is_none() => {
                // The field, so the console's deploy form points at its upstream line.
                return Err(ControlError::Invalid {
                    code: "not_servable",
                    field: Some("upstream"),
                    message: runtime::saved_model_needs_upstream(&model_ref),
                });
            }
            (None, _) => None,
        };
        let (kind, artifact) = match &named {
            Some(_) => (ModelKind::Upstream, None),
            None => {
                let (kind, artifact) = version.serving();
                (kind, Some(self.data_dir.root().join(artifact)))
            }
        };
        let engine = runtime::engine(kind).map_err(|e| ControlError::invalid("not_servable", e))?;
        let model = if kind == ModelKind::Upstream {
            // A newly named upstream was checked as it was read.
            if let Some(path) = &artifact {
                self.check_upstream(path)?;
            }
            None
        } else {
            // Load it now, as the gateway will, so a model that cannot serve is refused here
            // rather than at 3 a.m.
            let path = artifact.unwrap_or_default();
            let model = tokio::task::spawn_blocking(move || runtime::load(kind, &path))
                .await
                .map_err(|_| ControlError::Io("the model check failed unexpectedly".into()))?
                .map_err(|e| ControlError::invalid("invalid_model", e))?;
            Some(model)
        };
        // An upstream's memory is the remote server's.
        let estimate = if model.is_some() {
            version.size.saturating_mul(4)
        } else {
            0
        };
        if let Some(free) = free_memory()
            && estimate > free
        {
            return Err(ControlError::unavailable(
                "insufficient_memory",
                format!(
                    "the model needs about {} MiB but only {} MiB of memory is free; free memory or deploy elsewhere",
                    estimate >> 20,
                    free >> 20
                ),
            ));
        }
        let key = new_key()?;
        // The upstream's file is written last, under the artifact lock until the row that
        // references it is, and removed again if that row is refused.
        let _guard = self.artifact_lock.lock().await;
        let served_by = named.map(|spec| self.publish_upstream(&spec)).transpose()?;
        let new = NewService {
            host: name.host(&self.settings.domain),
            name,
            key,
            runtime: engine,
            resources: Resources {
                memory_bytes: estimate,
                ..r
            },
            model: version.name.clone(),
            version: version.version,
            served_by: served_by.clone(),
        };
        let written = self.store.create_service(actor, new).await;
        if let Some(by) = &served_by {
            self.settle(&written, version.served_by.as_ref(), by);
        }
        Ok((written?, model))
    }

    /// An upstream file that still reads, and whose secret is in the store: a deploy that
    /// would answer 503 to every call is refused with what to do.
    fn check_upstream(&self, path: &std::path::Path) -> Result<(), ControlError> {
        let spec = crate::registry::formats::upstream::check(path).map_err(|e| {
            ControlError::invalid(
                "invalid_model",
                format!("the upstream file does not load: {e}"),
            )
        })?;
        self.check_secret(&spec)
    }

    /// A secret the upstream sends is in the store.
    pub(super) fn check_secret(
        &self,
        spec: &crate::registry::formats::upstream::UpstreamSpec,
    ) -> Result<(), ControlError> {
        if let Some(name) = &spec.auth_secret {
            let names = self.store.secret_names()?;
            if !names.iter().any(|(n, _)| n == name) {
                return Err(ControlError::invalid(
                    "missing_secret",
                    format!(
                        "the upstream sends secret {name:?}, which is not in the store: set it first with `modeldeck secrets set {name} --from-env VAR` (or --from-file PATH)"
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn services(&self) -> Result<Vec<Service>, ControlError> {
        Ok(self.store.services()?)
    }

    /// The live services as of one store revision, for publishing to the gateway.
    pub fn snapshot(&self) -> Result<(i64, Vec<Service>), ControlError> {
        Ok(self.store.services_at_revision()?)
    }

    pub fn service(&self, name: &str) -> Result<Service, ControlError> {
        ServiceName::parse(name)?;
        self.store.service(name)?.ok_or_else(|| no_service(name))
    }

    pub async fn delete_service(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        ServiceName::parse(name)?;
        if self.store.delete_service(actor, name).await? {
            Ok(())
        } else {
            Err(no_service(name))
        }
    }

    /// Gives the service a new key; the old one stops working as soon as the gateway's table
    /// is republished.
    pub async fn rotate_key(&self, actor: &str, name: &str) -> Result<Service, ControlError> {
        ServiceName::parse(name)?;
        if !self.store.rotate_key(actor, name, new_key()?).await? {
            return Err(no_service(name));
        }
        self.service(name)
    }
}

impl Core {
    /// What a service's model takes and gives, compiled from its artifact (for the example
    /// request the CLI prints); none when it does not load.
    pub async fn signature(&self, s: &Service) -> Option<crate::domain::ModelSignature> {
        let d = s.deployments.first()?;
        let path = self.data_dir.root().join(&d.artifact);
        let kind = d.kind;
        tokio::task::spawn_blocking(move || {
            runtime::load(kind, &path)
                .ok()
                .map(|p| runtime::describe(p.as_ref()))
        })
        .await
        .ok()
        .flatten()
    }
}

fn no_service(name: &str) -> ControlError {
    ControlError::NotFound(format!(
        "no service named {name:?}: see `modeldeck services list`"
    ))
}

/// Available memory from `/proc/meminfo`, where there is one.
fn free_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Why `--upstream` does not apply to a version of `kind`.
pub fn not_saved_model(model_ref: &str, kind: ModelKind) -> String {
    match kind {
        ModelKind::Upstream => format!(
            "{model_ref} is an upstream model, which names its server in its own file: leave --upstream out"
        ),
        kind => format!(
            "{model_ref} is a {kind} model, which modeldeck serves itself: leave --upstream out (it names the server of a TensorFlow SavedModel)"
        ),
    }
}
