//! The control API: everything the console and the CLI do to a running server, as JSON over
//! HTTP under `/api/v1/`.
//!
//! Every call but `GET /identity` carries `Authorization: Bearer <token>`; the token's scope decides
//! what it may do and its name is the actor of every event the call writes. A change goes
//! through the same [`Core`] methods the CLI calls in-process, then the gateway's routing
//! table is republished and the new versions are loaded *before* the call answers, so
//! `services rm` answers 404 on the gateway and a rotated key stops working the moment the
//! API says so. Then the change stream ([`watch`]) wakes its listeners.
//!
//! Module map: [`reply`] (bodies, errors, the streamed body), [`routes`] (one function per
//! call, with the types of [`contract`](super::contract)), [`watch`] (server-sent events).
//! `GET /api/v1/identity` alone needs no token: a client checks it before sending one.

pub mod canary;
pub mod jobs;
pub mod reply;
mod routes;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response, StatusCode, header};

use super::operations::Operations;
use super::{ControlError, Core};
use crate::domain::{Scope, TokenInfo, clip};
use crate::gateway::Routing;
use crate::gateway::routing::{self, Load, State};
use crate::net::{BodyLimits, Stopping};
use crate::runtime::SharedPredictor;
use reply::{ApiBody, ApiError};

/// What every call can reach.
pub struct Api {
    pub core: Arc<Core>,
    pub routing: Arc<Routing>,
    /// The live figures, when this process runs the gateway.
    pub monitor: Option<Arc<crate::monitor::Monitor>>,
    pub operations: Operations,
    /// The newest event revision; listeners of the change stream wait on it.
    pub revision: tokio::sync::watch::Sender<i64>,
    /// Raised when the server stops: it ends the change streams and cuts bodies being read.
    pub stopping: Stopping,
    /// What a request body may cost (JSON calls cap it lower, uploads at the import limit).
    pub body: BodyLimits,
    /// Change streams open at once: half the control connections.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// The newest revision whose event has been logged.
    logged: std::sync::atomic::AtomicI64,
    /// The gateway's URL, for deploy answers and the `curl` line.
    pub gateway_url: String,
    pub started_at: String,
    /// When each token's `last_used_at` was last written (at most once a minute).
    touched: Mutex<HashMap<String, Instant>>,
    stop: tokio::sync::Notify,
    /// Batch workers this server runs, and the scheduler's wake-up.
    pub jobs: jobs::Jobs,
}

/// The caller, once its token checked out.
pub struct Caller {
    pub token: TokenInfo,
}

impl Caller {
    pub fn actor(&self) -> &str {
        &self.token.name
    }

    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.token.scope.allows(needed) {
            Ok(())
        } else {
            Err(ControlError::Forbidden(format!(
                "token {:?} has scope {}; this call needs {needed}: ask an admin for a token with that scope (`modeldeck tokens create NAME --scope {needed}`)",
                self.token.name, self.token.scope
            ))
            .into())
        }
    }
}

impl Api {
    pub fn new(
        core: Arc<Core>,
        routing: Arc<Routing>,
        monitor: Option<Arc<crate::monitor::Monitor>>,
        stopping: Stopping,
        gateway_url: String,
    ) -> Result<Api, ControlError> {
        let revision = core.store().revision()?;
        let limits = &core.settings().limits;
        let body = BodyLimits::from_settings(limits, core.settings().import.max_bytes);
        let streams = (limits.control_connections / 2).max(1);
        Ok(Api {
            core,
            routing,
            monitor,
            operations: Operations::default(),
            revision: tokio::sync::watch::Sender::new(revision),
            stopping,
            body,
            streams: Arc::new(tokio::sync::Semaphore::new(streams)),
            logged: std::sync::atomic::AtomicI64::new(revision),
            gateway_url,
            started_at: crate::store::now(),
            touched: Mutex::new(HashMap::new()),
            stop: tokio::sync::Notify::new(),
            jobs: jobs::Jobs::default(),
        })
    }

    /// Answers one request: hyper's, or one a test built with any body type.
    pub async fn handle<B: routes::ApiBodyIn>(
        self: Arc<Self>,
        req: Request<B>,
    ) -> Response<ApiBody> {
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let path = parts.uri.path().to_string();
        #[cfg(feature = "test-runtimes")]
        widen_publish_race(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).await;
        let (actor, result) = if routes::is_public(&parts) {
            let query = parts.uri.query().unwrap_or("");
            (None, routes::identity(&self, query))
        } else {
            match self.authenticate(&parts.headers).await {
                Ok(caller) => {
                    let actor = caller.actor().to_string();
                    (
                        Some(actor),
                        routes::route(&self, &caller, parts, body).await,
                    )
                }
                Err(e) => (None, Err(e)),
            }
        };
        // Every change is logged with its outcome: the successes as their audit events
        // (`log_changes`), the refusals here — quoted and cut, as a reason may echo the caller.
        if method != http::Method::GET
            && let Err(e) = &result
        {
            let (path, status) = (clip(&path, 256), e.status.as_u16());
            match &actor {
                Some(actor) => tracing::info!(
                    %actor, %method, ?path, status, code = %e.code,
                    reason = ?clip(&e.message, 500), "change refused"
                ),
                None => tracing::info!(
                    %method, ?path, status, code = %e.code, "change refused: no valid token"
                ),
            }
        }
        let response = result.unwrap_or_else(ApiError::into_response);
        tracing::debug!(%method, %path, status = response.status().as_u16(), "control call");
        response
    }

    /// Asks the server to drain and stop (`POST /stop`); `serve` waits on [`Api::stop_requested`].
    pub fn request_stop(&self) {
        self.stop.notify_one();
    }

    /// Resolves once a caller has asked the server to stop.
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                unauthorized(
                    "this call needs a control token: send `Authorization: Bearer <token>` (on the server's machine the admin token is in DATA_DIR/control.token)",
                )
            })?;
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is as good as `Bearer`.
        let value = value.trim();
        let secret = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
            _ => value,
        };
        let token = self.core.authenticate(secret)?.ok_or_else(|| {
            unauthorized("the control token is not valid: it was mistyped or has been revoked")
        })?;
        self.touch(&token.name).await;
        Ok(Caller { token })
    }

    async fn touch(&self, name: &str) {
        let due = match self.touched.lock() {
            Ok(mut t) => {
                let now = Instant::now();
                let due = t
                    .get(name)
                    .is_none_or(|last| now.duration_since(*last) > Duration::from_secs(60));
                if due {
                    t.insert(name.to_string(), now);
                }
                due
            }
            Err(_) => false,
        };
        if due && let Err(e) = self.core.store().touch_token(name).await {
            tracing::warn!(error = %e, "cannot record token use");
        }
    }

    /// After a change: republish the routing table, load what is new and wait for it, then
    /// wake the change stream. When this returns, the gateway serves the change (or a newer
    /// state that includes it).
    pub async fn changed(&self) -> Result<(), ApiError> {
        self.changed_with(None).await
    }

    /// [`Api::changed`], where `compiled` is a version whose model is already compiled
    /// (service, model, version, the model): its cell takes it instead of loading again, and
    /// the call also waits for that service's versions to be ready or failed — whoever loads
    /// them (a concurrent change may have published first).
    pub async fn changed_with(
        &self,
        compiled: Option<(&str, &str, u32, Option<SharedPredictor>)>,
    ) -> Result<(), ApiError> {
        let (revision, services) = self.core.snapshot()?;
        #[cfg(feature = "test-runtimes")]
        widen_publish_race(revision).await;
        let mut loads = self.routing.publish(revision, &services);
        let service = compiled.as_ref().map(|(s, ..)| s.to_string());
        if let Some((service, model, version, predictor)) = compiled {
            loads.retain(|job| {
                let Some(predictor) = &predictor else {
                    return true;
                };
                let hit = job.is_for(service, model, version);
                if hit {
                    job.fill(crate::runtime::Serving::Native(Arc::clone(predictor)));
                }
                !hit
            });
        }
        for handle in load_all(loads) {
            let _ = handle.await;
        }
        if let Some(service) = service {
            self.routing.settled(&service).await;
        }
        // The snapshot was read after this change was written, so its revision covers it; a
        // concurrent change that finished first may already have announced a newer one.
        self.announce(revision);
        Ok(())
    }

    /// Logs the events up to `revision` and wakes the change stream with it (also for events
    /// no call wrote, such as the monitor's threshold crossings).
    /// Announces the store's newest revision (after a change made outside a call).
    pub fn announce_now(&self) {
        if let Ok(r) = self.core.store().revision() {
            self.announce(r);
        }
    }

    pub fn announce(&self, revision: i64) {
        self.log_changes(revision);
        self.revision.send_if_modified(|newest| {
            let newer = revision > *newest;
            if newer {
                *newest = revision;
            }
            newer
        });
    }

    /// One log line per audit event up to `revision`, each exactly once however many changes
    /// finish at the same time (events never carry keys or tokens).
    fn log_changes(&self, revision: i64) {
        let from = self
            .logged
            .fetch_max(revision, std::sync::atomic::Ordering::AcqRel);
        if from >= revision {
            return;
        }
        match self.core.store().events_since(from) {
            Ok(events) => {
                for e in events.iter().filter(|e| e.revision <= revision) {
                    tracing::info!(
                        revision = e.revision, actor = %e.actor, kind = %e.kind,
                        subject = %e.subject, detail = %e.detail, "change"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the changes to log them"),
        }
    }
}

/// Test builds only: a pause of up to `MODELDECK_TEST_PUBLISH_DELAY_MS` before each call and
/// between reading the store and publishing, so that concurrent changes really do write, read
/// and publish in different orders — the race the revision order guards against — in every
/// test run rather than once in a blue moon.
#[cfg(feature = "test-runtimes")]
static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

#[cfg(feature = "test-runtimes")]
async fn widen_publish_race(revision: i64) {
    let most = std::env::var("MODELDECK_TEST_PUBLISH_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(most) = most {
        let jitter = (revision as u64).wrapping_mul(2_654_435_761) % (most + 1);
        tokio::time::sleep(Duration::from_millis(jitter)).await;
    }
}

/// Loads each new version on the blocking pool (compiling is CPU work), logging the outcome.
pub fn load_all(loads: Vec<Load>) -> Vec<tokio::task::JoinHandle<()>> {
    loads
        .into_iter()
        .map(|job| {
            tokio::task::spawn_blocking(move || {
                routing::load(&job);
                let cell = &job.cell;
                match cell.state() {
                    State::Failed(why) => tracing::warn!(
                        model = %cell.model, version = cell.version, reason = %why,
                        "version failed to load"
                    ),
                    _ => {
                        tracing::info!(model = %cell.model, version = cell.version, "version ready")
                    }
                }
            })
        })
        .collect()
}

/// The routes in-process, with bodies built here, as the gateway's `handle` is tested: the
/// same `Api::handle` that `serve` runs.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http::{Request, StatusCode};
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};

    use super::Api;
    use crate::config::DataDir;
    use crate::control::{Core, Role};
    use crate::gateway::Routing;
    use crate::net::Stopping;

    async fn api() -> (Arc<Api>, String, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(Some(&tmp.path().join("data"))).unwrap();
        let core = Core::open(dir, Role::Server).unwrap();
        let token_file = core.data_dir().token_file();
        core.ensure_local_admin(&token_file).await.unwrap();
        let token = std::fs::read_to_string(token_file)
            .unwrap()
            .trim()
            .to_string();
        let routing = Arc::new(Routing::new(core.data_dir().root()));
        let (_tx, stopping) = Stopping::channel();
        let api = Api::new(Arc::new(core), routing, None, stopping, "http://gw".into()).unwrap();
        (Arc::new(api), token, tmp)
    }

    async fn call(
        api: &Arc<Api>,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        let response = Arc::clone(api).handle(req).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn routes_answer_in_process() {
        let (api, token, _tmp) = api().await;
        let t = Some(token.as_str());
        let (status, id) = call(&api, "GET", "/api/v1/identity", None, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(id["id"], json!(api.core.id()));
        let (status, v) = call(&api, "GET", "/api/v1/status", None, "").await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
        let (status, v) = call(&api, "GET", "/api/v1/status", t, "").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(
            (v["id"].as_str(), v["caller"]["scope"].as_str()),
            (Some(api.core.id()), Some("admin"))
        );
        let (status, v) = call(
            &api,
            "POST",
            "/api/v1/services",
            t,
            r#"{"name":"a","model":"nosuch","threads":0}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(
            (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
            (Some("invalid_setting"), Some("threads"))
        );
        let (status, v) = call(
            &api,
            "POST",
            "/api/v1/services",
            t,
            r#"{"name":"a","model":"nosuch"}"#,
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{v}"
        );
        let (status, v) = call(
            &api,
            "POST",
            "/api/v1/services",
            t,
            r#"{"name":"a","bogus":1}"#,
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{v}"
        );
        let (status, v) = call(&api, "GET", "/api/v1/nosuch", t, "").await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{v}"
        );
        let (status, _) = call(&api, "POST", "/api/v1/identity", None, "").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "only GET /identity goes without a token"
        );
    }
}
