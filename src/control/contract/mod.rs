//! The control API's calls, each defined once: its request body and its answer. The server's
//! routes build and read these types, the typed [`Client`](super::client::Client) sends and
//! decodes the very same ones, and the CLI and the console see only domain types — so a field
//! can't be spelled one way on one side and another on the other. Adding a call is one type
//! here, one route and one client method.

mod jobs;
mod monitor;
mod traffic;

pub use jobs::*;
pub use monitor::*;
pub use traffic::*;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Event, ModelSignature, ModelSummary, ModelVersion, Scope, Service, TokenInfo};

/// `GET /status`: who the server is and who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub started_at: String,
    pub revision: i64,
    pub gateway: String,
    pub environment: String,
    pub domain: String,
    pub models: usize,
    pub services: usize,
    /// The data directory's id (see [`Identity`]).
    pub id: String,
    pub caller: CallerInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallerInfo {
    pub name: String,
    pub scope: Scope,
}

/// `GET /identity`, the one call without a token: which data directory this server owns, so a
/// client checks it reached the right server *before* it sends its token there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    pub version: String,
    /// With `?challenge=C&key=K`: the proof that this server holds the hash of the token whose
    /// key id is K (see `control::tokens::identity_proof`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// `GET /models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
}

/// `GET /models/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelDetail {
    pub name: String,
    pub description: String,
    pub versions: Vec<ModelVersion>,
}

/// `POST /models/{name}/versions` with a JSON body: a source the server fetches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCall {
    pub source: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// For s3:// and cos:// sources when the server's own environment has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<S3Credentials>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

/// `DELETE /models/{name}[/versions/{v}]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    pub removed: Vec<VersionRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub name: String,
    pub version: u32,
}

/// `POST /services`. The settings are any JSON value, so that an out-of-range one is refused
/// by its setting's own rule (naming the field and the range) rather than by serde.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployCall {
    pub name: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_rows: Option<Value>,
    /// For a SavedModel: the upstream that serves it (a URL, or an upstream file's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// `PUT /models/{name}/versions/{v}/upstream`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeByCall {
    /// A TF Serving URL, or an upstream file's text.
    pub upstream: String,
}

impl From<&super::DeployRequest> for DeployCall {
    fn from(r: &super::DeployRequest) -> DeployCall {
        let n = |v: u64| Some(Value::from(v));
        DeployCall {
            name: r.name.clone(),
            model: r.model.to_string(),
            threads: n(r.resources.threads.into()),
            concurrency: n(r.resources.concurrency.into()),
            timeout_ms: n(r.resources.timeout_ms),
            max_batch_rows: n(r.resources.max_batch_rows.into()),
            upstream: r.upstream.clone(),
        }
    }
}

/// A service as the API shows it: the key masked unless asked for, where clients call it, and
/// what its model takes and gives once loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    #[serde(flatten)]
    pub service: Service,
    /// In the clear only when asked for (`show_key`) by an operator; else masked.
    pub key: String,
    pub gateway: String,
    #[serde(flatten)]
    pub serving: Serving,
}

/// How a service is being served: its state on the gateway and what its model takes and gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Serving {
    /// `ready`, `loading` or `failed` (the worst of its versions), with the reason; with no
    /// server, what the CLI says instead.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ModelSignature>,
    /// The versions that forward to a remote server, with its health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<UpstreamState>,
}

/// An upstream version as the gateway last saw its server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpstreamState {
    pub version: u32,
    /// The server and the model there (`upstream http://… (model m)`).
    pub target: String,
    /// `up`, `down` or `checking`.
    pub health: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Serving {
    /// Whether all `versions` of the service are upstreams.
    pub fn upstream_only(&self, versions: usize) -> bool {
        let upstreams = self.upstreams.len();
        upstreams > 0 && upstreams == versions
    }

    /// The example `:predict` body (an empty instance when the model did not load).
    pub fn example_body(&self) -> String {
        self.signature.clone().unwrap_or_default().example_body()
    }
}

impl ServiceView {
    /// Whether every version is an upstream: nothing here knows what the service takes, so
    /// no example request is offered.
    pub fn upstream_only(&self) -> bool {
        self.serving.upstream_only(self.service.deployments.len())
    }

    /// The service with the key as the answer carried it.
    pub fn into_service(self) -> Service {
        self.into_parts().0
    }

    /// The service (with the key as the answer carried it) and how it is served.
    pub fn into_parts(self) -> (Service, Serving) {
        let mut s = self.service;
        s.key = self.key;
        (s, self.serving)
    }
}

/// `GET /services`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
}

/// `DELETE /services/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deleted {
    pub deleted: String,
}

/// `POST /tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCall {
    pub name: String,
    pub scope: String,
}

/// The answer to `POST /tokens`: the token's secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

/// `PUT /secrets/{name}`: the value (the CLI reads it from a variable or a file).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretCall {
    /// Text; anything else is refused without being quoted back.
    pub value: serde_json::Value,
}

/// A secret as the API shows it: never its value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretInfo {
    pub name: String,
    pub updated_at: String,
}

/// `GET /secrets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretList {
    pub secrets: Vec<SecretInfo>,
}

/// `PUT` or `DELETE /secrets/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretSet {
    pub name: String,
    pub replaced: bool,
}

/// `GET /tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// `DELETE /tokens/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: String,
}

/// `GET /events?since=R&limit=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    pub revision: i64,
    pub events: Vec<Event>,
}

/// `POST /stop`: the server drains and exits after answering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stopping {
    pub pid: u32,
    /// How long it lets requests in progress finish, at most.
    pub drain_secs: u64,
}

/// An operation (`GET /operations/{id}`, and the 202 answer of an import).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationView {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub actor: String,
    pub started_at: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub bytes: u64,
    pub total: Option<u64>,
}

/// `GET /operations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationList {
    pub operations: Vec<OperationView>,
}

/// Every error answer: `{"error": ErrorBody}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// The request field at fault, when the error is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}
