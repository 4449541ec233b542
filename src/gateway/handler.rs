//! One request through the gateway, decided from its request line and headers before a byte of
//! its body is read: what it asks for (path grammar), which service (Host, else the model name
//! in the path) and whether the caller may (access key), both found by [`auth`](super::auth),
//! which version (path or traffic split), whether that version is ready, and a slot under the
//! service's concurrency limit. A request refused on any of these is answered at once and its
//! body is never read; calls that take no body (status, metadata, lists) are answered here too,
//! the longer ones written by [`status`](super::status). An admitted prediction goes on to
//! [`scoring`](super::scoring) with its body.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::OwnedSemaphorePermit;

use super::auth::{authorize, route_for};
use super::meter::Record;
use super::path::{self, Call, Target, Verb};
use super::predict::error_body;
use super::routing::{Route, Routing, State, VersionCell};
use super::status::{metadata, status, unknown_label, unknown_model};
use super::{json, v2};
use crate::domain::Source;
use crate::runtime::Serving;

/// An answer before it becomes an HTTP response.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    /// The version that answered (`X-Modeldeck-Version`).
    pub version: Option<u32>,
    /// An upstream's answer that is not JSON text (binary tensors), sent as it came instead
    /// of `body`, with its content type and `Inference-Header-Content-Length`.
    pub raw: Option<Box<Raw>>,
}

pub struct Raw {
    pub body: Bytes,
    pub content_type: Option<http::HeaderValue>,
    pub header_len: Option<http::HeaderValue>,
}

impl Answer {
    pub(super) fn ok(body: String) -> Answer {
        Answer::with(StatusCode::OK, body)
    }

    /// A JSON answer with this status.
    pub(super) fn with(status: StatusCode, body: String) -> Answer {
        Answer {
            status,
            body,
            version: None,
            raw: None,
        }
    }

    pub(super) fn error(status: StatusCode, message: &str) -> Answer {
        Answer {
            status,
            body: error_body(message),
            version: None,
            raw: None,
        }
    }
}

/// What admission decided.
pub enum Admission {
    /// Answered from the request line and headers alone.
    Answered(Answer),
    /// A prediction that may now send its body.
    Admitted(Admitted),
}

/// Which prediction protocol an admitted call speaks.
#[derive(Clone)]
pub(super) enum Protocol {
    /// TF Serving's `:predict`, `:classify` or `:regress`.
    Tf(Verb),
    /// The Open Inference Protocol's `/infer`, with the model name the path used.
    Infer { model: String },
}

/// A prediction call that passed admission, holding its slot under the service's limit for
/// as long as it lives: the body is read and parsed within the slot, so a service's
/// concurrency limit also bounds the memory its requests can hold.
pub struct Admitted {
    pub(super) route: Arc<Route>,
    /// The version, counted in flight for as long as this lives.
    pub(super) cell: InFlight,
    pub(super) serving: Serving,
    pub(super) protocol: Protocol,
    pub(super) permit: OwnedSemaphorePermit,
    pub(super) source: Source,
    /// Counted as the version's traffic; a shadow call is not (its result is compared
    /// instead, [`shadow`](super::shadow)).
    pub(super) metered: bool,
}

impl Admitted {
    /// The body never arrived whole (too large, too slow, broken): counted against the version
    /// as the caller's failure, with no latency (the server never had the request).
    pub fn refused(self, status: u16, bytes_out: usize) {
        self.cell.meter.record(&Record {
            source: self.source,
            status,
            latency_us: None,
            rows: 0,
            bytes_in: 0,
            bytes_out,
        });
    }
}

/// Who sent the request: `X-Modeldeck-Source`, found by walking the few headers a request has
/// (cheaper than hashing a custom name on every prediction).
fn source_of(headers: &HeaderMap) -> Source {
    headers
        .iter()
        .find(|(name, _)| name.as_str().len() == Source::HEADER.len() && *name == Source::HEADER)
        .map_or(Source::Client, |(_, v)| Source::from_header(v.as_bytes()))
}

/// A version with its in-flight count held up while its request is being answered, however
/// the answering ends (a dropped connection included).
pub(super) struct InFlight(Arc<VersionCell>);

impl InFlight {
    fn enter(cell: Arc<VersionCell>) -> InFlight {
        cell.meter.enter();
        InFlight(cell)
    }
}

impl std::ops::Deref for InFlight {
    type Target = Arc<VersionCell>;

    fn deref(&self) -> &Arc<VersionCell> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.meter.leave();
    }
}

pub struct Gateway {
    pub routing: Arc<Routing>,
}

impl Gateway {
    pub fn new(routing: Arc<Routing>) -> Gateway {
        Gateway { routing }
    }

    /// Admission and the answer in one step, for callers that already hold the body.
    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Answer {
        match self.admit(method, path, headers) {
            Admission::Answered(a) => a,
            Admission::Admitted(call) => call.answer(headers, body).await,
        }
    }

    /// Decides a request from its line and headers (see the module doc).
    pub fn admit(&self, method: &str, path: &str, headers: &HeaderMap) -> Admission {
        match self.decide(method, path, headers) {
            Ok(admission) => admission,
            Err(answer) => Admission::Answered(answer),
        }
    }

    fn decide(&self, method: &str, path: &str, headers: &HeaderMap) -> Result<Admission, Answer> {
        let call = path::parse(method, path);
        match &call {
            Call::Malformed(m) | Call::BadVersion(m) => {
                return Err(Answer::error(StatusCode::BAD_REQUEST, m));
            }
            Call::NotFound => return Err(Answer::error(StatusCode::NOT_FOUND, "Not Found")),
            Call::Live => return Ok(Admission::Answered(Answer::ok("{\"live\":true}".into()))),
            Call::Ready => return Ok(Admission::Answered(Answer::ok("{\"ready\":true}".into()))),
            _ => {}
        }
        let table = self.routing.table();
        let route = match route_for(&table, headers, &call) {
            Some(r) => Arc::clone(r),
            None if call == Call::List => {
                return Err(Answer::error(
                    StatusCode::UNAUTHORIZED,
                    "send your service's access key (`Authorization: <key>`) or its Host header to list its model",
                ));
            }
            None => return Err(Answer::error(StatusCode::NOT_FOUND, &unknown_model(&call))),
        };
        authorize(&table, &route, headers).inspect_err(|_| route.meter.refused())?;
        let answer = match call {
            Call::List => Answer::ok(format!("{{\"models\":[\"{}\"]}}", route.name)),
            Call::Status { model, target } => status(&route, &model, &target),
            Call::Metadata { model, target } => {
                let cell = version_of(&route, &model, &target, None)?;
                metadata(&model, &cell)
            }
            Call::V2Metadata { model, version } => {
                let cell = v2_version(&route, &model, version.as_deref(), None)?;
                let versions: Vec<u32> = route.versions.iter().map(|(c, _)| c.version).collect();
                match ready(&cell)? {
                    Serving::Native(p) => {
                        Answer::ok(v2::metadata(&model, &versions, p.signature(), p.platform()))
                    }
                    Serving::Upstream(u) => super::forward::no_metadata(&u, &cell),
                }
            }
            Call::V2Ready { model, version } => {
                let cell = v2_version(&route, &model, version.as_deref(), None)?;
                // An upstream its probe finds down is not ready, as the V1 status says too.
                if let Serving::Upstream(u) = ready(&cell)?
                    && let crate::runtime::upstream::Seen::Down(why) = u.health.seen()
                {
                    return Ok(Admission::Answered(Answer::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!(
                            "version {} of {model} is not ready: {}: {why}",
                            cell.version,
                            u.name()
                        ),
                    )));
                }
                let mut out = String::from("{\"name\":");
                json::write_str(&mut out, &model);
                out.push_str(",\"ready\":true}");
                Answer::ok(out)
            }
            Call::Verb {
                model,
                target,
                verb,
            } => {
                let cell = version_of(&route, &model, &target, Some(headers))?;
                return self.admitted(route, cell, Protocol::Tf(verb), headers);
            }
            Call::V2Infer { model, version } => {
                let cell = v2_version(&route, &model, version.as_deref(), Some(headers))?;
                return self.admitted(route, cell, Protocol::Infer { model }, headers);
            }
            _ => Answer::error(StatusCode::NOT_FOUND, "Not Found"),
        };
        Ok(Admission::Answered(answer))
    }

    /// The last checks before a body is read: the version is ready and the service has a
    /// free slot (else 503 or 429, counted against the version).
    fn admitted(
        &self,
        route: Arc<Route>,
        cell: Arc<VersionCell>,
        protocol: Protocol,
        headers: &HeaderMap,
    ) -> Result<Admission, Answer> {
        let source = source_of(headers);
        let refuse = |mut answer: Answer| {
            cell.meter.record(&Record {
                source,
                status: answer.status.as_u16(),
                latency_us: None,
                rows: 0,
                bytes_in: 0,
                bytes_out: answer.body.len(),
            });
            answer.version = Some(cell.version);
            answer
        };
        let serving = ready(&cell).map_err(refuse)?;
        let Ok(permit) = Arc::clone(&route.limit).try_acquire_owned() else {
            return Err(refuse(Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "service {} has {} requests in flight, its limit; retry shortly",
                    route.name, route.resources.concurrency
                ),
            )));
        };
        Ok(Admission::Admitted(Admitted {
            route,
            cell: InFlight::enter(cell),
            serving,
            protocol,
            permit,
            source,
            metered: true,
        }))
    }

    /// The shadow call for a client prediction that the split sent to the live version, when
    /// the service mirrors this one: the shadow version ready and one of the service's shadow
    /// slots free (never a client's slot). `None` otherwise.
    pub fn shadow_of(&self, live: &Admitted) -> Option<Admitted> {
        let (cell, percent) = live.route.shadow.as_ref()?;
        let meter = &live.route.meter.shadow;
        if live.source != Source::Client
            || cell.version == live.cell.0.version
            || !meter.hit(*percent)
        {
            return None;
        }
        let ready = ready(cell).ok();
        let permit = ready
            .as_ref()
            .and_then(|_| Arc::clone(&meter.slots).try_acquire_owned().ok());
        let (Some(serving), Some(permit)) = (ready, permit) else {
            meter.skip();
            return None;
        };
        Some(Admitted {
            route: Arc::clone(&live.route),
            cell: InFlight::enter(Arc::clone(cell)),
            serving,
            protocol: live.protocol.clone(),
            permit,
            source: Source::Client,
            metered: false,
        })
    }
}

/// The version a request reaches: the one in the path or its label, or one drawn from the
/// traffic split (`request`: the headers of a prediction, which takes a point on the split; a
/// request that names its version takes none, so the split's own sequence stays whole).
fn version_of(
    route: &Route,
    model: &str,
    target: &Target,
    request: Option<&HeaderMap>,
) -> Result<Arc<VersionCell>, Answer> {
    let cell = match target {
        Target::Version(v) => route.version(*v).ok_or_else(|| {
            let message = match request {
                Some(_) => format!("Servable not found for request: Specific({model}, {v})"),
                None => format!("Could not find version {v} of model {model}"),
            };
            Answer::error(StatusCode::NOT_FOUND, &message)
        })?,
        Target::Label(l) => route.labelled(l).ok_or_else(|| unknown_label(l))?,
        Target::Split => route
            .pick(request.map_or(0, |h| route.point(h)))
            .ok_or_else(|| {
                Answer::error(
                    StatusCode::NOT_FOUND,
                    &format!("Servable not found for request: Latest({model})"),
                )
            })?,
    };
    Ok(Arc::clone(cell))
}

/// The version an Open Inference Protocol path reaches (its versions are strings).
fn v2_version(
    route: &Route,
    model: &str,
    version: Option<&str>,
    request: Option<&HeaderMap>,
) -> Result<Arc<VersionCell>, Answer> {
    let cell = match version {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .and_then(|n| route.version(n))
            .ok_or_else(|| {
                Answer::error(
                    StatusCode::NOT_FOUND,
                    &format!("Model {model} with version {v} not found"),
                )
            })?,
        None => route
            .pick(request.map_or(0, |h| route.point(h)))
            .ok_or_else(|| {
                Answer::error(StatusCode::NOT_FOUND, &format!("Model {model} not found"))
            })?,
    };
    Ok(Arc::clone(cell))
}

pub(super) fn ready(cell: &VersionCell) -> Result<Serving, Answer> {
    match cell.state() {
        State::Ready(p) => Ok(p),
        State::Loading => Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "version {} of {} is still loading",
                cell.version, cell.model
            ),
        )),
        State::Failed(why) => Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("version {} of {} failed: {why}", cell.version, cell.model),
        )),
    }
}
