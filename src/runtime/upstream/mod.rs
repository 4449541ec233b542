//! Upstream versions: a model served by a remote TF Serving, KServe or Triton/MLServer
//! deployment, which modeldeck fronts with its keys, traffic split and monitoring.
//!
//! This is a routing target of its own, not a [`Predictor`](super::Predictor): nothing is
//! decoded when the caller and the upstream speak the same protocol — the gateway forwards the
//! body over a pooled connection (HTTP/1.1, or HTTP/2 by ALPN or `http2 = true`) and hands back
//! the answer as it came — and [`translate`] rewrites between TF Serving's JSON and the Open
//! Inference Protocol when they differ. The auth header's value comes from the store's
//! [`secrets`], looked up on each request so a rotated token applies at once; the caller's own
//! `Authorization` (its modeldeck access key) never leaves this process.

mod h1;
pub mod health;
pub mod secrets;
pub mod translate;

use std::error::Error as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::sync::Semaphore;

pub use health::{Health, Seen};
pub use secrets::Secrets;

use crate::registry::formats::upstream::{self as spec, Protocol, UpstreamSpec};

/// The largest answer taken from an upstream.
pub const MAX_REPLY: usize = 64 << 20;

/// The Open Inference Protocol's header for binary tensors (the JSON part's length).
pub const HEADER_LEN: &str = "inference-header-content-length";

pub struct Upstream {
    pub spec: UpstreamSpec,
    /// The URL without its trailing slash.
    base: String,
    /// Its scheme and authority, which `base` starts with.
    origin: String,
    client: reqwest::Client,
    /// The in-task HTTP/1.1 pool for a plain `http://` upstream ([`h1`]); reqwest otherwise.
    h1: Option<h1::Pool>,
    /// At most `pool_size` requests on their way to the server at once.
    slots: Arc<Semaphore>,
    secrets: Arc<Secrets>,
    auth: Option<(HeaderName, String)>,
    pub health: Health,
}

/// Why a forward got no answer from the upstream.
#[derive(Debug)]
pub enum Failure {
    /// No connection, or it broke (503).
    Unreachable(String),
    /// No answer within the time allowed (504).
    Timeout(u64),
    /// The secret it sends is not in the store (503).
    Secret(String),
    /// An answer it cannot pass on (502).
    Bad(String),
}

/// What the upstream answered.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
    pub header_len: Option<HeaderValue>,
}

impl Upstream {
    /// Reads an upstream file and makes its client (no connection yet).
    pub fn load(path: &Path, secrets: Arc<Secrets>) -> Result<Arc<Upstream>, String> {
        let spec =
            spec::check(path).map_err(|e| format!("the upstream file does not load: {e}"))?;
        Upstream::new(spec, secrets)
    }

    pub fn new(spec: UpstreamSpec, secrets: Arc<Secrets>) -> Result<Arc<Upstream>, String> {
        let pool = spec.pool() as usize;
        let connect = Duration::from_millis(spec.timeout_ms.unwrap_or(5_000).min(5_000));
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(connect)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the server's environment would see every request and its token.
            .no_proxy()
            .user_agent(concat!("modeldeck/", env!("CARGO_PKG_VERSION")));
        if spec.http2 {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot make an HTTP client for {}: {e}", spec.url))?;
        let auth = match &spec.auth_secret {
            Some(name) => Some((
                HeaderName::from_bytes(spec.header().as_bytes())
                    .map_err(|_| format!("auth_header {:?} is not a header name", spec.header()))?,
                name.clone(),
            )),
            None => None,
        };
        let url = reqwest::Url::parse(&spec.url).map_err(|e| format!("url {:?}: {e}", spec.url))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("url {:?} has no host", spec.url))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("url {:?} has no port", spec.url))?;
        let authority = format!("{host}:{port}");
        let origin = format!("{}://{authority}", url.scheme());
        let h1 = (url.scheme() == "http" && !spec.http2).then(|| h1::Pool::new(authority, pool));
        Ok(Arc::new(Upstream {
            base: format!("{origin}{}", url.path().trim_end_matches('/')),
            origin,
            client,
            h1,
            slots: Arc::new(Semaphore::new(pool)),
            secrets,
            auth,
            health: Health::default(),
            spec,
        }))
    }

    /// How messages name it: the server and the model there.
    pub fn name(&self) -> String {
        format!("upstream {} (model {})", self.base, self.spec.model)
    }

    pub fn speaks_v2(&self) -> bool {
        self.spec.protocol == Protocol::KserveV2
    }

    /// Whether this upstream is sent a secret.
    pub fn sends_secret(&self) -> bool {
        self.auth.is_some()
    }

    /// `text` with the value of the secret this upstream is sent taken out, when it holds it.
    pub fn scrubbed(&self, text: &str) -> Option<String> {
        let v = self.secret_value()?;
        (!v.is_empty() && text.contains(v.as_str())).then(|| text.replace(v.as_str(), "<secret>"))
    }

    /// What every forwarded request carries: its content type, the binary tensors' header
    /// length, and the auth header from the store (never anything of the caller's).
    fn headers(
        &self,
        content_type: Option<&HeaderValue>,
        header_len: Option<&HeaderValue>,
    ) -> Result<http::HeaderMap, Failure> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            content_type
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/json")),
        );
        if let Some(len) = header_len {
            headers.insert(HEADER_LEN, len.clone());
        }
        if let Some((header, name)) = &self.auth {
            let value = self
                .secrets
                .get(name)
                .ok_or_else(|| Failure::Secret(name.clone()))?;
            headers.insert(header.clone(), value);
        }
        Ok(headers)
    }

    fn secret_value(&self) -> Option<String> {
        let (_, name) = self.auth.as_ref()?;
        let v = self.secrets.get(name)?;
        v.to_str().ok().map(str::to_string)
    }

    fn model_path(&self, v2: bool) -> String {
        let root = if v2 { "v2" } else { "v1" };
        match self.spec.version {
            Some(v) => format!(
                "{}/{root}/models/{}/versions/{v}",
                self.base, self.spec.model
            ),
            None => format!("{}/{root}/models/{}", self.base, self.spec.model),
        }
    }

    /// TF Serving's (and KServe V1's) `:predict`, `:classify` or `:regress`.
    pub fn tf_url(&self, verb: &str) -> String {
        format!("{}:{verb}", self.model_path(false))
    }

    pub fn infer_url(&self) -> String {
        format!("{}/infer", self.model_path(true))
    }

    /// Where a probe asks whether the model is ready.
    pub fn ready_url(&self) -> String {
        match self.spec.protocol {
            Protocol::KserveV2 => format!("{}/ready", self.model_path(true)),
            _ => self.model_path(false),
        }
    }

    /// Sends `body` to `url` and reads the whole answer, within `timeout` (the service's,
    /// or the file's own when shorter) and [`MAX_REPLY`].
    pub async fn post(
        &self,
        url: &str,
        body: Bytes,
        content_type: Option<&HeaderValue>,
        header_len: Option<&HeaderValue>,
        timeout_ms: u64,
    ) -> Result<Reply, Failure> {
        let timeout_ms = self
            .spec
            .timeout_ms
            .map_or(timeout_ms, |t| t.min(timeout_ms));
        let headers = self.headers(content_type, header_len)?;
        let exchange = async {
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|_| Failure::Bad("the connection pool is closed".into()))?;
            let reply = match &self.h1 {
                Some(pool) => send_h1(pool, self.path_of(url), body, headers).await,
                None => self.send(url, body, headers).await,
            };
            // An answer proves the server up, but not a 404 (no such model there) or a 5xx:
            // for those the probe, which asks for the model's status, decides.
            match &reply {
                Ok(r) if r.status != http::StatusCode::NOT_FOUND && !r.status.is_server_error() => {
                    self.health.up()
                }
                Ok(_) => {}
                Err(Failure::Unreachable(why)) => self.health.down(why),
                Err(_) => {}
            }
            reply
        };
        tokio::time::timeout(Duration::from_millis(timeout_ms), exchange)
            .await
            .map_err(|_| Failure::Timeout(timeout_ms))?
    }

    /// The path of one of this upstream's URLs (which all start with its origin).
    fn path_of<'a>(&self, url: &'a str) -> &'a str {
        url.strip_prefix(self.origin.as_str()).unwrap_or(url)
    }

    /// One request through reqwest (HTTPS, HTTP/2), its answer read within [`MAX_REPLY`].
    async fn send(
        &self,
        url: &str,
        body: Bytes,
        headers: http::HeaderMap,
    ) -> Result<Reply, Failure> {
        let mut response = self
            .client
            .post(url)
            .body(body)
            .headers(headers)
            .send()
            .await
            .map_err(|e| Failure::Unreachable(reason(&e)))?;
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let header_len = response.headers().get(HEADER_LEN).cloned();
        let body = read_within(&mut response, MAX_REPLY)
            .await
            .map_err(|e| Failure::Unreachable(reason(&e)))?
            .ok_or_else(|| {
                Failure::Bad(format!("its answer is larger than {} MiB", MAX_REPLY >> 20))
            })?;
        Ok(Reply {
            status,
            body,
            content_type,
            header_len,
        })
    }
}

/// One request through the in-task HTTP/1.1 pool.
async fn send_h1(
    pool: &h1::Pool,
    path: &str,
    body: Bytes,
    headers: http::HeaderMap,
) -> Result<Reply, Failure> {
    let mut request = http::Request::post(path)
        .header(http::header::HOST, pool.authority.as_str())
        .body(http_body_util::Full::new(body))
        .map_err(|e| Failure::Bad(format!("cannot form the request: {e}")))?;
    request.headers_mut().extend(headers);
    let (parts, body) = pool.send(request).await?;
    Ok(Reply {
        status: parts.status,
        content_type: parts.headers.get(http::header::CONTENT_TYPE).cloned(),
        header_len: parts.headers.get(HEADER_LEN).cloned(),
        body,
    })
}

/// A reqwest answer's body, or `None` once it passes `cap` bytes (nothing more is read).
pub(crate) async fn read_within(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// Whether a TF Serving or KServe V1 probe's 200 answer says ready: TF Serving lists its
/// versions' states; KServe V1 answers `"ready": true`. (V2 says so with its status alone.)
fn ready_in(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    v.get("ready").and_then(|r| r.as_bool()).unwrap_or(false)
        || v.get("model_version_status")
            .and_then(|s| s.as_array())
            .is_some_and(|s| {
                s.iter()
                    .any(|e| e.get("state").and_then(|s| s.as_str()) == Some("AVAILABLE"))
            })
}

/// Why a request failed, in the words of the innermost error (e.g. "Connection refused"),
/// after what reqwest says of it.
pub fn reason(e: &reqwest::Error) -> String {
    let mut out = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(last) = last {
        out.push_str(": ");
        out.push_str(&crate::domain::clip(&last, 200));
    }
    out
}

/// Starts probing a freshly loaded upstream (on the runtime the caller runs under).
pub fn watch(upstream: &Arc<Upstream>) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        health::watch(upstream, &rt);
    }
}
