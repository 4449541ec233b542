//! The control API from the other side: what a CLI command uses when a server owns the data
//! directory, and what the console uses always: one typed method per call of
//! [`contract`](super::contract), returning domain types. Paths are built here and nowhere
//! else. Errors come back as the variant the server sent, code and field, so a script sees
//! the same `{"error":{"code"}}` either way.
//!
//! Module map: [`discover`] (finding the data directory's server and proving it is that
//! directory's before the token goes there), [`path`] (paths from checked, encoded names).

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod discover;
mod path;

use path::with_query;
pub use path::{Seg, api_path};

use super::ControlError;
use super::contract::{
    CreateJob, Deleted, DeployCall, ErrorAnswer, ErrorBody, EventList, ImportCall, JobCall,
    JobList, JobView, ModelDetail, ModelList, MonitorQuery, MonitorView, OperationView, Removed,
    Revoked, RunList, SecretCall, SecretInfo, SecretList, SecretSet, ServiceList, ServiceView,
    Status, Stopping, ThresholdsCall, ThresholdsView, TokenCall, TokenCreated, TokenList,
    TrafficCall, TrafficView, VersionRef,
};
use crate::domain::{
    ModelSummary, ModelVersion, Scope, Service, ServiceName, Thresholds, TokenInfo,
};

/// How long a command waits for a server that holds the lock to publish `server.json`.
const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: &str) -> Result<Client, ControlError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ControlError::Io(format!("cannot start an HTTP client: {e}")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn status(&self) -> Result<Status, ControlError> {
        self.get("status").await
    }

    pub async fn models(&self) -> Result<Vec<ModelSummary>, ControlError> {
        Ok(self.get::<ModelList>("models").await?.models)
    }

    /// A model's description and versions.
    pub async fn model(&self, name: &str) -> Result<ModelDetail, ControlError> {
        self.get(&api_path(&[Seg::Word("models"), Seg::Model(name)])?)
            .await
    }

    /// Imports a version of `name` from a source the server fetches; the version, once the
    /// import operation has ended.
    pub async fn import(
        &self,
        name: &str,
        call: &ImportCall,
    ) -> Result<ModelVersion, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let op: OperationView = self.send(Method::POST, &path, Some(call)).await?;
        self.wait_operation(op).await
    }

    /// Imports a version of `name` from a file on this machine, streamed (never held in
    /// memory whole: the server's import limit is the only bound); the version, once imported.
    pub async fn upload_file(
        &self,
        name: &str,
        file: &std::path::Path,
        kind: Option<&str>,
    ) -> Result<ModelVersion, ControlError> {
        use tokio::io::AsyncReadExt;
        let opened = tokio::fs::File::open(file).await.map_err(|e| {
            ControlError::field("source", format!("cannot read {}: {e}", file.display()))
        })?;
        let chunks = futures_util::stream::unfold(opened, |mut f| async move {
            let mut buf = vec![0u8; 64 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        });
        let filename = file
            .file_name()
            .map_or_else(|| "model".to_string(), |f| f.to_string_lossy().into_owned());
        self.upload_body(name, &filename, kind, reqwest::Body::wrap_stream(chunks))
            .await
    }

    /// Imports a version of `name` from the model file's bytes (named `filename`, whose
    /// extension helps type detection); the version, once imported.
    pub async fn upload(
        &self,
        name: &str,
        filename: &str,
        kind: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<ModelVersion, ControlError> {
        self.upload_body(name, filename, kind, bytes.into()).await
    }

    async fn upload_body(
        &self,
        name: &str,
        filename: &str,
        kind: Option<&str>,
        body: reqwest::Body,
    ) -> Result<ModelVersion, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let mut query = vec![("filename", filename), ("wait", "true")];
        if let Some(k) = kind {
            query.push(("type", k));
        }
        let path = with_query(path, &query);
        let req = self
            .request(Method::POST, &path)
            .header("content-type", "application/octet-stream")
            .body(body);
        let op: OperationView = self.decode_answer(req, true).await?;
        self.wait_operation(op).await
    }

    /// Removes one version of `name`, or every version; what went.
    /// Names the upstream that serves SavedModel version `name:version`.
    pub async fn serve_saved_model(
        &self,
        name: &str,
        version: u32,
        upstream: &str,
    ) -> Result<crate::domain::ModelVersion, ControlError> {
        let path = api_path(&[
            Seg::Word("models"),
            Seg::Model(name),
            Seg::Word("versions"),
            Seg::Number(version.into()),
            Seg::Word("upstream"),
        ])?;
        let call = super::contract::ServeByCall {
            upstream: upstream.to_string(),
        };
        self.send(Method::PUT, &path, Some(&call)).await
    }

    pub async fn remove_model(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Vec<VersionRef>, ControlError> {
        let path = match version {
            Some(v) => api_path(&[
                Seg::Word("models"),
                Seg::Model(name),
                Seg::Word("versions"),
                Seg::Number(v.into()),
            ])?,
            None => api_path(&[Seg::Word("models"), Seg::Model(name)])?,
        };
        let removed: Removed = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(removed.removed)
    }

    pub async fn services(&self) -> Result<Vec<ServiceView>, ControlError> {
        Ok(self.get::<ServiceList>("services").await?.services)
    }

    /// A service; its key in the clear only with `show_key` (the server checks the scope).
    pub async fn service(&self, name: &str, show_key: bool) -> Result<ServiceView, ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        let path = with_query(
            path,
            &[("show_key", if show_key { "true" } else { "false" })],
        );
        self.get(&path).await
    }

    /// Deploys; the service with its key in the clear.
    pub async fn deploy(&self, call: &DeployCall) -> Result<ServiceView, ControlError> {
        ServiceName::parse(&call.name)?;
        self.send(Method::POST, "services", Some(call)).await
    }

    pub async fn delete_service(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        let _: Deleted = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    pub async fn jobs(&self) -> Result<Vec<crate::domain::Job>, ControlError> {
        Ok(self.get::<JobList>("jobs").await?.jobs)
    }

    pub async fn job(&self, name: &str) -> Result<JobView, ControlError> {
        // Job names follow the rules of model names.
        self.get(&api_path(&[Seg::Word("jobs"), Seg::Model(name)])?)
            .await
    }

    pub async fn create_job(&self, call: &CreateJob) -> Result<JobView, ControlError> {
        self.send(Method::POST, "jobs", Some(call)).await
    }

    pub async fn change_job(&self, name: &str, call: &JobCall) -> Result<JobView, ControlError> {
        let path = api_path(&[Seg::Word("jobs"), Seg::Model(name)])?;
        self.send(Method::POST, &path, Some(call)).await
    }

    pub async fn delete_job(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("jobs"), Seg::Model(name)])?;
        let _: Deleted = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    pub async fn runs(
        &self,
        job: &str,
        limit: usize,
    ) -> Result<Vec<crate::domain::Run>, ControlError> {
        let path = api_path(&[Seg::Word("jobs"), Seg::Model(job), Seg::Word("runs")])?;
        let path = with_query(path, &[("limit", &limit.to_string())]);
        Ok(self.get::<RunList>(&path).await?.runs)
    }

    pub async fn run(&self, id: i64) -> Result<crate::domain::Run, ControlError> {
        let path = api_path(&[Seg::Word("runs"), Seg::Number(id.max(0) as u64)])?;
        self.get(&path).await
    }

    pub async fn cancel_run(&self, id: i64) -> Result<crate::domain::Run, ControlError> {
        let path = api_path(&[
            Seg::Word("runs"),
            Seg::Number(id.max(0) as u64),
            Seg::Word("cancel"),
        ])?;
        self.send(Method::POST, &path, None::<&()>).await
    }

    /// A service's split, rules and traffic history.
    pub async fn traffic(&self, name: &str) -> Result<TrafficView, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("traffic"),
        ])?;
        self.get(&path).await
    }

    /// What a service's shadow traffic found.
    pub async fn shadow(
        &self,
        name: &str,
    ) -> Result<crate::control::contract::ShadowView, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("shadow"),
        ])?;
        self.get(&path).await
    }

    /// One change to a service's traffic; the traffic as it is after it.
    pub async fn change_traffic(
        &self,
        name: &str,
        call: &TrafficCall,
    ) -> Result<TrafficView, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("traffic"),
        ])?;
        self.send(Method::POST, &path, Some(call)).await
    }

    /// A new key for the service; the answer carries it.
    pub async fn rotate_key(&self, name: &str) -> Result<Service, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("rotate-key"),
        ])?;
        let view: ServiceView = self.send(Method::POST, &path, None::<&()>).await?;
        Ok(view.into_service())
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        Ok(self.get::<TokenList>("tokens").await?.tokens)
    }

    /// Creates a token; the answer carries its secret, shown this once.
    pub async fn create_token(
        &self,
        name: &str,
        scope: Scope,
    ) -> Result<TokenCreated, ControlError> {
        let call = TokenCall {
            name: name.to_string(),
            scope: scope.to_string(),
        };
        self.send(Method::POST, "tokens", Some(&call)).await
    }

    pub async fn secrets(&self) -> Result<Vec<SecretInfo>, ControlError> {
        Ok(self.get::<SecretList>("secrets").await?.secrets)
    }

    pub async fn set_secret(&self, name: &str, value: &str) -> Result<bool, ControlError> {
        let path = api_path(&[Seg::Word("secrets"), Seg::Secret(name)])?;
        let call = SecretCall {
            value: serde_json::Value::String(value.to_string()),
        };
        let set: SecretSet = self.send(Method::PUT, &path, Some(&call)).await?;
        Ok(set.replaced)
    }

    pub async fn remove_secret(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("secrets"), Seg::Secret(name)])?;
        let _: SecretSet = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    pub async fn revoke_token(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("tokens"), Seg::Token(name)])?;
        let _: Revoked = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    /// Audit events after revision `since`.
    pub async fn events(&self, since: i64, limit: usize) -> Result<EventList, ControlError> {
        let path = with_query(
            "events".into(),
            &[("since", &since.to_string()), ("limit", &limit.to_string())],
        );
        self.get(&path).await
    }

    /// Live samples newer than `q.since`, and with a service, its history.
    pub async fn monitor(&self, q: &MonitorQuery) -> Result<MonitorView, ControlError> {
        if let Some(s) = &q.service {
            crate::domain::ServiceName::parse(s)?;
        }
        self.get(&format!("monitor?{}", q.to_query())).await
    }

    /// Sets (or with `None` clears) a service's own threshold levels.
    pub async fn set_thresholds(
        &self,
        name: &str,
        thresholds: Option<Thresholds>,
    ) -> Result<ThresholdsView, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("thresholds"),
        ])?;
        self.send(Method::PUT, &path, Some(&ThresholdsCall { thresholds }))
            .await
    }

    /// Asks the server to drain and stop; it answers first.
    pub async fn stop(&self) -> Result<Stopping, ControlError> {
        self.send(Method::POST, "stop", None::<&()>).await
    }

    /// Opens the change stream (server-sent events); the caller reads the body.
    pub async fn watch(&self) -> Result<reqwest::Response, ControlError> {
        let response = self
            .request(Method::GET, "watch")
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e, false))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_of(response).await)
        }
    }

    /// Follows an operation until it ends; its result as `T`, or its error.
    async fn wait_operation<T: DeserializeOwned>(
        &self,
        op: OperationView,
    ) -> Result<T, ControlError> {
        let mut op = op;
        loop {
            match op.state.as_str() {
                "succeeded" => return decode(op.result.unwrap_or(Value::Null)),
                "failed" => {
                    let e = op.error.unwrap_or(ErrorBody {
                        code: "failed".into(),
                        message: "the operation failed".into(),
                        field: None,
                    });
                    return Err(ControlError::from_answer(422, e.code, e.message, e.field));
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let id = op.id.parse::<u64>().map_err(|_| {
                bad_answer(format!(
                    "the server answered an operation without an id: {:?}",
                    op.id
                ))
            })?;
            op = self
                .get(&api_path(&[Seg::Word("operations"), Seg::Number(id)])?)
                .await?;
        }
    }

    /// A request to `path` (under `/api/v1/`) with the token.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlError> {
        self.decode_answer(self.request(Method::GET, path), false)
            .await
    }

    async fn send<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ControlError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.decode_answer(req, true).await
    }

    /// Sends a built request and decodes its answer; non-2xx answers become the server's error.
    async fn decode_answer<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        change: bool,
    ) -> Result<T, ControlError> {
        let response = req.send().await.map_err(|e| {
            // A refused connection never carried the change; a broken one may have.
            unreachable(&self.base, &e, change && !e.is_connect())
        })?;
        if !response.status().is_success() {
            return Err(error_of(response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.base, &e, change))?;
        serde_json::from_slice(&bytes).map_err(|e| bad_answer(e.to_string()))
    }
}

/// more in fewer words than reqwest's own message with the URL in it.
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        inner.to_string()
    }
}

fn unreachable(base: &str, e: &reqwest::Error, unsure: bool) -> ControlError {
    ControlError::unavailable(
        "server_unreachable",
        format!(
            "the control API at {base} does not answer ({}){}",
            cause(e),
            if unsure {
                " — the change may or may not have been made: check with `modeldeck models list` or `modeldeck services list` before retrying"
            } else {
                ""
            }
        ),
    )
}

fn bad_answer(detail: String) -> ControlError {
    ControlError::Api {
        status: 502,
        code: "bad_answer".into(),
        message: format!(
            "the server's answer is not what this modeldeck expects ({detail}); are client and server the same version?"
        ),
        field: None,
    }
}

/// The error a non-2xx answer carries, code, field and all.
async fn error_of(response: reqwest::Response) -> ControlError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorAnswer>(&text) {
        Ok(a) => ControlError::from_answer(
            status.as_u16(),
            a.error.code,
            a.error.message,
            a.error.field,
        ),
        Err(_) => ControlError::Api {
            status: status.as_u16(),
            code: "server_error".into(),
            message: format!("the control API answered {status}: {text}"),
            field: None,
        },
    }
}

/// Decodes a value into `T`; a mismatch means client and server disagree.
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ControlError> {
    serde_json::from_value(value).map_err(|e| bad_answer(e.to_string()))
}
