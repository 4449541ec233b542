//! One request through the gateway: what it asks for (path grammar), which service (Host,
//! else the model name in the path), whether the caller may (access key), which version
//! (path or traffic split), then the protocol's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use super::path::{self, Call, Target, Verb};
use super::predict::{self, error_body};
use super::routing::{Route, Routing, State, Table, VersionCell};
use super::{examples, json, v2};
use crate::runtime::{RecordError, SharedPredictor, Value};

/// An answer before it becomes an HTTP response.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    /// The version that answered (`X-Modeldeck-Version`).
    pub version: Option<u32>,
}

impl Answer {
    fn ok(body: String) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            version: None,
        }
    }

    fn error(status: StatusCode, message: &str) -> Answer {
        Answer {
            status,
            body: error_body(message),
            version: None,
        }
    }
}

pub struct Gateway {
    pub routing: Arc<Routing>,
    /// Spreads requests over a traffic split: consecutive requests take consecutive points.
    tickets: AtomicU64,
}

impl Gateway {
    pub fn new(routing: Arc<Routing>) -> Gateway {
        Gateway {
            routing,
            tickets: AtomicU64::new(0),
        }
    }

    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Answer {
        let call = path::parse(method, path);
        match &call {
            Call::Malformed(m) | Call::BadVersion(m) => {
                return Answer::error(StatusCode::BAD_REQUEST, m);
            }
            Call::NotFound => return Answer::error(StatusCode::NOT_FOUND, "Not Found"),
            Call::Live => return Answer::ok("{\"live\":true}".into()),
            Call::Ready => return Answer::ok("{\"ready\":true}".into()),
            _ => {}
        }
        let table = self.routing.table();
        let route = match route_for(&table, headers, &call) {
            Some(r) => Arc::clone(r),
            None => {
                let message = match &call {
                    // TF Serving's manager answers a prediction for an unknown model so.
                    Call::Verb { model, target, .. } => match target {
                        Target::Version(v) => {
                            format!("Servable not found for request: Specific({model}, {v})")
                        }
                        _ => format!("Servable not found for request: Latest({model})"),
                    },
                    Call::V2Metadata { model, .. }
                    | Call::V2Ready { model, .. }
                    | Call::V2Infer { model, .. } => format!("Model {model} not found"),
                    _ => match call.model() {
                        Some(m) => format!("Could not find any versions of model {m}"),
                            None => "no service answers at this host: send the service's Host header or name it in the path".into(),
                    },
                };
                return Answer::error(StatusCode::NOT_FOUND, &message);
            }
        };
        if let Err(answer) = authorize(&table, &route, headers) {
            return answer;
        }
        match call {
            Call::List => Answer::ok(format!("{{\"models\":[\"{}\"]}}", route.name)),
            Call::Status { model, target } => status(&route, &model, &target),
            Call::Metadata { model, target } => match version_of(&route, &model, &target, None) {
                Ok(cell) => metadata(&model, &cell),
                Err(a) => a,
            },
            Call::Verb {
                model,
                target,
                verb,
            } => {
                let ticket = self
                    .tickets
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(37);
                let cell = match version_of(&route, &model, &target, Some(ticket)) {
                    Ok(c) => c,
                    Err(a) => return a,
                };
                let mut answer = match verb {
                    Verb::Predict => predict_call(&route, &cell, &body).await,
                    Verb::Classify | Verb::Regress => {
                        examples_call(&route, &cell, verb, &body).await
                    }
                };
                cell.count(answer.status.is_success());
                answer.version = Some(cell.version);
                answer
            }
            Call::V2Metadata { model, version } => {
                match v2_version(&route, &model, version.as_deref(), None) {
                    Ok(cell) => match ready(&cell) {
                        Ok(p) => {
                            let versions: Vec<u32> =
                                route.versions.iter().map(|(c, _)| c.version).collect();
                            Answer::ok(v2::metadata(&model, &versions, p.signature()))
                        }
                        Err(a) => a,
                    },
                    Err(a) => a,
                }
            }
            Call::V2Ready { model, version } => {
                match v2_version(&route, &model, version.as_deref(), None) {
                    Ok(cell) => match ready(&cell) {
                        Ok(_) => {
                            let mut out = String::from("{\"name\":");
                            json::write_str(&mut out, &model);
                            out.push_str(",\"ready\":true}");
                            Answer::ok(out)
                        }
                        Err(a) => a,
                    },
                    Err(a) => a,
                }
            }
            Call::V2Infer { model, version } => {
                let ticket = self
                    .tickets
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(37);
                let cell = match v2_version(&route, &model, version.as_deref(), Some(ticket)) {
                    Ok(c) => c,
                    Err(a) => return a,
                };
                let mut answer = infer_call(&route, &cell, &model, headers, &body).await;
                cell.count(answer.status.is_success());
                answer.version = Some(cell.version);
                answer
            }
            _ => Answer::error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }
}

fn route_for<'t>(table: &'t Table, headers: &HeaderMap, call: &Call) -> Option<&'t Arc<Route>> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| table.by_host(h));
    host.or_else(|| call.model().and_then(|m| table.by_name(m)))
}

/// 401 without a key or with one no service has; 403 with another service's key.
fn authorize(table: &Table, route: &Route, headers: &HeaderMap) -> Result<(), Answer> {
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            match v.get(..7) {
                Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
                _ => v,
            }
        })
        .filter(|v| !v.is_empty());
    let Some(given) = given else {
        return Err(Answer::error(
            StatusCode::UNAUTHORIZED,
            "missing access key: send the service's key as `Authorization: <key>`",
        ));
    };
    let matches = |key: &str| bool::from(key.as_bytes().ct_eq(given.as_bytes()));
    if matches(&route.key) {
        return Ok(());
    }
    if table.routes().any(|r| matches(&r.key)) {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            &format!("this key belongs to another service, not to {}", route.name),
        ));
    }
    Err(Answer::error(
        StatusCode::UNAUTHORIZED,
        "invalid access key: check the key (`modeldeck services show NAME --show-key`)",
    ))
}

/// The version a request reaches: the one in the path, or one drawn from the traffic split.
fn version_of(
    route: &Route,
    model: &str,
    target: &Target,
    ticket: Option<u64>,
) -> Result<Arc<VersionCell>, Answer> {
    let cell = match target {
        Target::Version(v) => route.version(*v).ok_or_else(|| {
            let message = match ticket {
                Some(_) => format!("Servable not found for request: Specific({model}, {v})"),
                None => format!("Could not find version {v} of model {model}"),
            };
            Answer::error(StatusCode::NOT_FOUND, &message)
        })?,
        Target::Label(l) => return Err(unknown_label(l)),
        Target::Split => route.pick(ticket.unwrap_or(0)).ok_or_else(|| {
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
    ticket: Option<u64>,
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
        None => route.pick(ticket.unwrap_or(0)).ok_or_else(|| {
            Answer::error(StatusCode::NOT_FOUND, &format!("Model {model} not found"))
        })?,
    };
    Ok(Arc::clone(cell))
}

/// Labels (`/labels/stable`) arrive with traffic splits; until then none is known.
fn unknown_label(label: &str) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        &format!("Unrecognized servable version label: {label}"),
    )
}

fn ready(cell: &VersionCell) -> Result<SharedPredictor, Answer> {
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

/// A TF Serving body parsed, and the version's model, or the answer that stops the call.
fn parsed(cell: &VersionCell, body: &[u8]) -> Result<(json::Json, SharedPredictor), Answer> {
    let doc = json::parse(body).map_err(|e| Answer::error(StatusCode::BAD_REQUEST, &e))?;
    Ok((doc, ready(cell)?))
}

async fn predict_call(route: &Route, cell: &VersionCell, body: &[u8]) -> Answer {
    let (doc, predictor) = match parsed(cell, body) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let records = match predict::records(&doc, predictor.signature()) {
        Ok(r) => r,
        Err(e) => return Answer::error(StatusCode::BAD_REQUEST, &e),
    };
    match score(route, &predictor, records.rows).await {
        Ok(rows) => Answer::ok(predict::answer(
            records.format,
            predictor.signature(),
            &rows,
        )),
        Err(a) => a,
    }
}

/// TF Serving's `:classify` and `:regress`: `examples` (plus `context`) in, `results` out.
async fn examples_call(route: &Route, cell: &VersionCell, verb: Verb, body: &[u8]) -> Answer {
    let (doc, predictor) = match parsed(cell, body) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let sig = predictor.signature();
    let (rows, shape) = match examples::records(&doc, verb, sig, &cell.model) {
        Ok(r) => r,
        Err(e) => return Answer::error(StatusCode::BAD_REQUEST, &e),
    };
    match score(route, &predictor, rows).await {
        Ok(rows) => Answer::ok(examples::answer(&shape, &rows)),
        Err(a) => a,
    }
}

/// The Open Inference Protocol's `/infer`.
async fn infer_call(
    route: &Route,
    cell: &VersionCell,
    model: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let predictor = match ready(cell) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let header_len = headers
        .get("inference-header-content-length")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<usize>());
    let request = match v2::request(body, header_len, predictor.signature()) {
        Ok(r) => r,
        Err(e) => return Answer::error(StatusCode::BAD_REQUEST, &e),
    };
    let rows = request.rows.clone();
    match score(route, &predictor, rows).await {
        Ok(rows) => match v2::answer(model, cell.version, &request, predictor.signature(), &rows) {
            Ok(body) => Answer::ok(body),
            Err(e) => Answer::error(StatusCode::BAD_REQUEST, &e),
        },
        Err(a) => a,
    }
}

/// Runs `rows` through the model within the service's limits: batch size, requests in
/// flight (429), and time (504). A record the model refuses fails the request with its
/// position, as TF Serving reports it.
async fn score(
    route: &Route,
    predictor: &SharedPredictor,
    rows: Vec<Vec<Value>>,
) -> Result<Vec<Vec<Value>>, Answer> {
    let max_rows = route.resources.max_batch_rows as usize;
    if rows.len() > max_rows {
        return Err(Answer::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "the request has {} records; this service takes at most {max_rows} per request (split the batch)",
                rows.len()
            ),
        ));
    }
    let Ok(permit) = Arc::clone(&route.limit).try_acquire_owned() else {
        return Err(Answer::error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "service {} has {} requests in flight, its limit; retry shortly",
                route.name, route.resources.concurrency
            ),
        ));
    };
    let failed = || {
        Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model failed while predicting",
        )
    };
    if rows.len() <= predictor.inline_rows() {
        // Microseconds of work: cheaper here than a hand-off, and too short to time out.
        let results =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predictor.predict(&rows)))
                .map_err(|_| failed())?;
        drop(permit);
        return collect(results);
    }
    let model = Arc::clone(predictor);
    // A CPU-bound prediction cannot be cancelled: its permit stays taken until it ends.
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        model.predict(&rows)
    });
    let timeout = Duration::from_millis(route.resources.timeout_ms);
    let results = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return Err(failed()),
        Err(_) => {
            return Err(Answer::error(
                StatusCode::GATEWAY_TIMEOUT,
                &format!(
                    "Deadline exceeded: the prediction took longer than the service's {} ms",
                    route.resources.timeout_ms
                ),
            ));
        }
    };
    collect(results)
}

/// The scored rows, or the first record the model refused, by position as TF Serving says it.
fn collect(results: Vec<Result<Vec<Value>, RecordError>>) -> Result<Vec<Vec<Value>>, Answer> {
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(results.len());
    for (n, r) in results.into_iter().enumerate() {
        match r {
            Ok(row) => rows.push(row),
            Err(RecordError(e)) => {
                return Err(Answer::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Failed to process element: {n}. Error: {e}"),
                ));
            }
        }
    }
    Ok(rows)
}

/// TF Serving's status, with KServe's `name` and `ready` added so both client families parse it.
fn status(route: &Route, model: &str, target: &Target) -> Answer {
    let cells: Vec<&Arc<VersionCell>> = match target {
        Target::Split => route.versions.iter().map(|(c, _)| c).collect(),
        Target::Version(v) => match route.version(*v) {
            Some(c) => vec![c],
            None => {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    &format!("Could not find version {v} of model {model}"),
                );
            }
        },
        Target::Label(l) => return unknown_label(l),
    };
    let mut out = String::from("{\"model_version_status\":[");
    let mut any_ready = false;
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (state, code, message) = match c.state() {
            State::Ready(_) => {
                any_ready = true;
                ("AVAILABLE", "OK", String::new())
            }
            State::Loading => ("LOADING", "OK", String::new()),
            State::Failed(why) => ("END", "UNKNOWN", why),
        };
        out.push_str(&format!(
            "{{\"version\":\"{}\",\"state\":\"{state}\",\"status\":{{\"error_code\":\"{code}\",\"error_message\":",
            c.version
        ));
        json::write_str(&mut out, &message);
        out.push_str("}}");
    }
    out.push_str("],\"name\":");
    json::write_str(&mut out, model);
    out.push_str(&format!(",\"ready\":{any_ready}}}"));
    Answer::ok(out)
}

fn metadata(model: &str, cell: &VersionCell) -> Answer {
    let predictor = match ready(cell) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let sig = predictor.signature();
    let tensor = |out: &mut String, name: &str, dtype: crate::runtime::DType| {
        json::write_str(out, name);
        out.push_str(":{\"dtype\":\"DT_");
        out.push_str(&predict::tf_dtype(dtype).to_ascii_uppercase());
        out.push_str("\",\"tensor_shape\":{\"dim\":[{\"size\":\"-1\",\"name\":\"\"}],\"unknown_rank\":false},\"name\":");
        json::write_str(out, name);
        out.push('}');
    };
    let mut out = String::from("{\"model_spec\":{\"name\":");
    json::write_str(&mut out, model);
    out.push_str(&format!(
        ",\"signature_name\":\"\",\"version\":\"{}\"}},\"metadata\":{{\"signature_def\":{{\"signature_def\":{{\"serving_default\":{{\"inputs\":{{",
        cell.version
    ));
    for (i, f) in sig.inputs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tensor(&mut out, &f.name, f.dtype);
    }
    out.push_str("},\"outputs\":{");
    for (i, o) in sig.outputs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tensor(&mut out, &o.field.name, o.field.dtype);
    }
    out.push_str("},\"method_name\":\"tensorflow/serving/predict\",\"defaults\":{}}}}}}");
    Answer::ok(out)
}
