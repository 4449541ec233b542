//! How one CLI command reaches the core of a data directory (DESIGN.md "Who owns a data
//! directory"): when the directory is free the command takes the lock and calls [`Core`]
//! in-process; when a server owns it, the command calls the server's control API, which runs
//! the same `Core` methods. One write path either way, and the same answers.

use serde_json::Value;

use super::client::Client;
use super::contract::{
    CreateJob, DeployCall, ImportCall, JobCall, JobView, MonitorQuery, MonitorView, S3Credentials,
    SecretInfo, Serving, ThresholdsView, TrafficCall, TrafficView,
};
use super::{ControlError, Core, DeployRequest, ImportRequest, OwnerError, Role};
use crate::config::DataDir;
use crate::domain::{
    ModelKind, ModelRef, ModelSummary, ModelVersion, Scope, Service, Thresholds, TokenInfo,
};
use crate::registry::{S3Options, Source};

pub enum Session {
    Local(Box<Core>),
    Remote(Client),
}

/// What `models import` asks for, before the source is resolved (a server resolves it on its
/// side, so the text travels as typed, made absolute).
#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub source: String,
    pub options: S3Options,
    pub name: String,
    pub kind: Option<ModelKind>,
    pub description: String,
}

impl Session {
    pub async fn open(dir: DataDir) -> Result<Session, ControlError> {
        match Core::open(dir.clone(), Role::Command) {
            Ok(core) => Ok(Session::Local(Box::new(core))),
            Err(ControlError::Owner(OwnerError::Held {
                server: Some(pid), ..
            })) => Ok(Session::Remote(Client::for_data_dir(&dir, pid).await?)),
            Err(e) => Err(e),
        }
    }

    /// The gateway clients should call: the running server's, else the configured one.
    pub fn gateway_url(&self, dir: &DataDir) -> String {
        std::fs::read_to_string(dir.server_file())
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["gateway"].as_str().map(str::to_string))
            .unwrap_or_else(|| match self {
                Session::Local(core) => format!("http://{}", core.settings().gateway),
                Session::Remote(_) => String::new(),
            })
    }

    pub async fn import_model(
        &self,
        actor: &str,
        spec: ImportSpec,
    ) -> Result<ModelVersion, ControlError> {
        let env = |k: &str| std::env::var(k).ok();
        // Check what the user typed before anything else happens.
        let source = Source::parse(&spec.source, &spec.options, &env)?;
        match self {
            Session::Local(core) => {
                if let Source::Local(p) = &source {
                    let dir = core.data_dir();
                    crate::registry::local::off_limits(p, dir.root(), &dir.staging())
                        .map_err(|e| ControlError::field("source", e))?;
                }
                let request = ImportRequest {
                    source,
                    name: spec.name,
                    kind: spec.kind,
                    description: spec.description,
                    label: None,
                    progress: None,
                };
                Ok(core.import_model(actor, request).await?)
            }
            Session::Remote(client) => {
                let absolute = |p: &std::path::Path| {
                    std::path::absolute(p)
                        .map_or_else(|_| p.display().to_string(), |a| a.display().to_string())
                };
                let text = match &source {
                    Source::Local(p) => absolute(p),
                    _ => spec.source.clone(),
                };
                let o = &spec.options;
                let mut call = ImportCall {
                    source: text,
                    kind: spec.kind.map(|k| k.as_str().to_string()),
                    description: spec.description,
                    region: o.region.clone(),
                    endpoint: o.endpoint.clone(),
                    addressing: o.addressing.map(|a| {
                        match a {
                            crate::registry::Addressing::Path => "path",
                            crate::registry::Addressing::Virtual => "virtual",
                        }
                        .to_string()
                    }),
                    credentials_file: o.credentials_file.as_deref().map(|p| absolute(p).into()),
                    profile: o.profile.clone(),
                    credentials: None,
                };
                if let Source::S3(obj) = &source
                    && let Some(c) = &obj.credentials
                    && o.credentials_file.is_none()
                {
                    call.credentials = Some(S3Credentials {
                        access_key_id: c.access_key.clone(),
                        secret_access_key: c.secret_key.clone(),
                        session_token: c.session_token.clone(),
                    });
                }
                client.import(&spec.name, &call).await
            }
        }
    }

    pub async fn list_models(&self) -> Result<Vec<ModelSummary>, ControlError> {
        match self {
            Session::Local(core) => core.list_models(),
            Session::Remote(c) => c.models().await,
        }
    }

    /// A model's description and versions.
    pub async fn show_model(
        &self,
        name: &str,
    ) -> Result<(String, Vec<ModelVersion>), ControlError> {
        match self {
            Session::Local(core) => Ok((core.model_description(name)?, core.show_model(name)?)),
            Session::Remote(c) => {
                let m = c.model(name).await?;
                Ok((m.description, m.versions))
            }
        }
    }

    /// Names the upstream that serves a SavedModel version (its newest when none is given).
    pub async fn serve_saved_model(
        &self,
        actor: &str,
        target: &ModelRef,
        upstream: &str,
    ) -> Result<crate::domain::ModelVersion, ControlError> {
        match self {
            Session::Local(core) => core.serve_saved_model(actor, target, upstream).await,
            Session::Remote(c) => {
                let name = target.name.as_str();
                let version = match target.version {
                    Some(v) => v,
                    None => c
                        .model(name)
                        .await?
                        .versions
                        .last()
                        .map_or(1, |v| v.version),
                };
                c.serve_saved_model(name, version, upstream).await
            }
        }
    }

    /// Removes a version or a whole model; returns `name:version` of what went.
    pub async fn remove_model(
        &self,
        actor: &str,
        target: &ModelRef,
    ) -> Result<Vec<(String, u32)>, ControlError> {
        match self {
            Session::Local(core) => Ok(core
                .remove_model(actor, target)
                .await?
                .into_iter()
                .map(|v| (v.name, v.version))
                .collect()),
            Session::Remote(c) => Ok(c
                .remove_model(target.name.as_str(), target.version)
                .await?
                .into_iter()
                .map(|v| (v.name, v.version))
                .collect()),
        }
    }

    /// Deploys; the service with its new key, and how it is served (the model the deploy
    /// compiled gives the signature, so nothing is loaded twice).
    pub async fn deploy(
        &self,
        actor: &str,
        req: DeployRequest,
    ) -> Result<(Service, Serving), ControlError> {
        match self {
            Session::Local(core) => {
                let (s, model) = core.deploy_compiled(actor, req).await?;
                Ok((
                    s,
                    unserved(model.map(|m| crate::runtime::describe(m.as_ref()))),
                ))
            }
            Session::Remote(c) => Ok(c.deploy(&DeployCall::from(&req)).await?.into_parts()),
        }
    }

    pub async fn services(&self) -> Result<Vec<Service>, ControlError> {
        match self {
            Session::Local(core) => core.services(),
            Session::Remote(c) => Ok(c
                .services()
                .await?
                .into_iter()
                .map(|v| v.into_service())
                .collect()),
        }
    }

    /// A service (its key filled in only with `show_key`: the server checks the scope), and
    /// how it is served: one call to a server, or its model compiled here when none runs.
    pub async fn service(
        &self,
        name: &str,
        show_key: bool,
    ) -> Result<(Service, Serving), ControlError> {
        match self {
            Session::Local(core) => {
                let s = core.service(name)?;
                let signature = core.signature(&s).await;
                Ok((s, unserved(signature)))
            }
            Session::Remote(c) => Ok(c.service(name, show_key).await?.into_parts()),
        }
    }

    pub async fn delete_service(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        match self {
            Session::Local(core) => core.delete_service(actor, name).await,
            Session::Remote(c) => c.delete_service(name).await,
        }
    }

    pub async fn rotate_key(&self, actor: &str, name: &str) -> Result<Service, ControlError> {
        match self {
            Session::Local(core) => core.rotate_key(actor, name).await,
            Session::Remote(c) => c.rotate_key(name).await,
        }
    }

    /// Creates a token; returns it with its secret (shown once).
    pub async fn create_token(
        &self,
        actor: &str,
        name: &str,
        scope: Scope,
    ) -> Result<(TokenInfo, String), ControlError> {
        match self {
            Session::Local(core) => core.create_token(actor, name, scope).await,
            Session::Remote(c) => {
                let created = c.create_token(name, scope).await?;
                Ok((created.info, created.token))
            }
        }
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        match self {
            Session::Local(core) => core.tokens(),
            Session::Remote(c) => c.tokens().await,
        }
    }

    /// Sets a secret; whether it replaced one.
    pub async fn set_secret(
        &self,
        actor: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, ControlError> {
        match self {
            Session::Local(core) => core.set_secret(actor, name, value).await,
            Session::Remote(c) => c.set_secret(name, value).await,
        }
    }

    pub async fn secrets(&self) -> Result<Vec<SecretInfo>, ControlError> {
        match self {
            Session::Local(core) => core.secrets(),
            Session::Remote(c) => c.secrets().await,
        }
    }

    pub async fn remove_secret(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        match self {
            Session::Local(core) => core.remove_secret(actor, name).await,
            Session::Remote(c) => c.remove_secret(name).await,
        }
    }

    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        match self {
            Session::Local(core) => core.revoke_token(actor, name).await,
            Session::Remote(c) => c.revoke_token(name).await,
        }
    }
}

impl Session {
    /// Figures and history; with no server running, history from the store alone.
    pub async fn monitor(&self, q: &MonitorQuery) -> Result<MonitorView, ControlError> {
        match self {
            Session::Local(core) => core.monitor(None, q, crate::monitor::ticker::unix_now()),
            Session::Remote(c) => c.monitor(q).await,
        }
    }

    pub async fn traffic(&self, name: &str) -> Result<TrafficView, ControlError> {
        match self {
            Session::Local(core) => core.traffic(name),
            Session::Remote(c) => c.traffic(name).await,
        }
    }

    /// What a service's shadow traffic found: only a running server has seen any.
    pub async fn shadow(
        &self,
        name: &str,
    ) -> Result<crate::control::contract::ShadowView, ControlError> {
        match self {
            Session::Local(core) => Ok(crate::control::contract::ShadowView {
                service: name.to_string(),
                shadow: core.service(name)?.traffic.shadow,
                ..Default::default()
            }),
            Session::Remote(c) => c.shadow(name).await,
        }
    }

    pub async fn change_traffic(
        &self,
        actor: &str,
        name: &str,
        call: TrafficCall,
    ) -> Result<TrafficView, ControlError> {
        match self {
            Session::Local(core) => core.change_traffic(actor, name, call).await,
            Session::Remote(c) => c.change_traffic(name, &call).await,
        }
    }

    pub async fn set_thresholds(
        &self,
        actor: &str,
        name: &str,
        thresholds: Option<Thresholds>,
    ) -> Result<ThresholdsView, ControlError> {
        match self {
            Session::Local(core) => core.set_thresholds(actor, name, thresholds).await,
            Session::Remote(c) => c.set_thresholds(name, thresholds).await,
        }
    }
}

/// Batch jobs. Runs belong to a server: without one, `run` and `cancel` say to start it.
impl Session {
    pub async fn jobs(&self) -> Result<Vec<crate::domain::Job>, ControlError> {
        match self {
            Session::Local(core) => core.jobs(),
            Session::Remote(c) => c.jobs().await,
        }
    }

    pub async fn job(&self, name: &str) -> Result<JobView, ControlError> {
        match self {
            Session::Local(core) => core.job_view(name, 20),
            Session::Remote(c) => c.job(name).await,
        }
    }

    pub async fn create_job(&self, actor: &str, call: CreateJob) -> Result<JobView, ControlError> {
        match self {
            Session::Local(core) => {
                core.create_job(actor, &call.name, call.spec).await?;
                core.job_view(&call.name, 20)
            }
            Session::Remote(c) => c.create_job(&call).await,
        }
    }

    pub async fn change_job(
        &self,
        actor: &str,
        name: &str,
        call: JobCall,
    ) -> Result<JobView, ControlError> {
        match self {
            Session::Local(core) => {
                match call {
                    JobCall::Edit { spec } => drop(core.edit_job(actor, name, spec).await?),
                    JobCall::Pause => drop(core.pause_job(actor, name, true).await?),
                    JobCall::Resume => drop(core.pause_job(actor, name, false).await?),
                    JobCall::Run => return Err(no_server("run a job")),
                }
                core.job_view(name, 20)
            }
            Session::Remote(c) => c.change_job(name, &call).await,
        }
    }

    pub async fn delete_job(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        match self {
            Session::Local(core) => core.delete_job(actor, name).await,
            Session::Remote(c) => c.delete_job(name).await,
        }
    }

    pub async fn runs(
        &self,
        job: &str,
        limit: usize,
    ) -> Result<Vec<crate::domain::Run>, ControlError> {
        match self {
            Session::Local(core) => core.runs(job, limit),
            Session::Remote(c) => c.runs(job, limit).await,
        }
    }

    pub async fn run(&self, id: i64) -> Result<crate::domain::Run, ControlError> {
        match self {
            Session::Local(core) => core.run(id),
            Session::Remote(c) => c.run(id).await,
        }
    }

    pub async fn cancel_run(&self, id: i64) -> Result<crate::domain::Run, ControlError> {
        match self {
            Session::Local(core) => {
                core.run(id)?;
                Err(no_server("cancel a run"))
            }
            Session::Remote(c) => c.cancel_run(id).await,
        }
    }
}

fn no_server(what: &str) -> ControlError {
    ControlError::Unavailable {
        code: "no_server",
        message: format!(
            "no server runs for this data directory, and only a server can {what}: start one with `modeldeck serve` (or open the console)"
        ),
    }
}

/// How a service is served when no server runs for its data directory.
fn unserved(signature: Option<crate::domain::ModelSignature>) -> Serving {
    Serving {
        state: "not served: no server runs for this data directory (`modeldeck serve`)".into(),
        reason: None,
        signature,
        upstreams: Vec::new(),
    }
}
