//! An admitted call for an upstream version: forwarded as it came when the caller speaks the
//! upstream's protocol, translated ([`translate`]) when it does not, and counted like any
//! version's answer (status and latency; rows are the upstream's to count). A failure names
//! the upstream and touches nothing else: another service's requests never wait on it.
//!
//! Translating builds JSON trees many times the size of the text, so a translation is held to
//! the service's row limit, large ones run on the blocking pool (never on the threads every
//! service shares), and at most [`TRANSLATING`] large ones run at once, whichever services
//! they are for.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use tokio::sync::Semaphore;

use super::handler::{Admitted, Answer, Protocol, Raw};
use super::meter::{Record, Stopwatch};
use super::path::Verb;
use super::routing::VersionCell;
use crate::registry::formats::upstream::Protocol as Wire;
use crate::runtime::upstream::{Failure, HEADER_LEN, Reply, Upstream, translate};

/// Bodies up to this size are translated on the worker that read them.
const INLINE_BODY: usize = 64 << 10;
/// Large translations at once, for the whole gateway.
const TRANSLATING: usize = 2;
static LARGE: Semaphore = Semaphore::const_new(TRANSLATING);
/// The largest upstream answer translated (one passed through as it came may be larger).
const MAX_TRANSLATED: usize = 16 << 20;

/// What a forward needs of its service.
#[derive(Clone, Copy)]
struct Limits {
    timeout_ms: u64,
    max_rows: usize,
}

pub(super) async fn answer(
    call: Admitted,
    upstream: Arc<Upstream>,
    headers: &HeaderMap,
    body: Bytes,
) -> Answer {
    let Admitted {
        route,
        cell,
        protocol,
        permit,
        source,
        metered,
        ..
    } = call;
    let started = Stopwatch::start();
    let bytes_in = body.len();
    let limits = Limits {
        timeout_ms: route.resources.timeout_ms,
        max_rows: route.resources.max_batch_rows as usize,
    };
    let mut answer = exchange(&upstream, protocol, cell.version, headers, body, limits).await;
    drop(permit);
    answer.version = Some(cell.version);
    if metered {
        cell.meter.record(&Record {
            source,
            status: answer.status.as_u16(),
            latency_us: Some(started.micros()),
            rows: 0,
            bytes_in,
            bytes_out: answer
                .raw
                .as_ref()
                .map_or(answer.body.len(), |r| r.body.len()),
        });
    }
    answer
}

async fn exchange(
    u: &Upstream,
    protocol: Protocol,
    version: u32,
    headers: &HeaderMap,
    body: Bytes,
    limits: Limits,
) -> Answer {
    // The body is JSON whatever the caller labelled it (curl's -d says form data, which a
    // Python server then refuses to parse); only binary tensors keep the caller's type.
    let header_len = headers.get(HEADER_LEN);
    let content_type = header_len.and(headers.get(header::CONTENT_TYPE));
    let timeout_ms = limits.timeout_ms;
    match protocol {
        Protocol::Tf(verb @ (Verb::Classify | Verb::Regress))
            if u.spec.protocol != Wire::Tfserving =>
        {
            let wire = if u.speaks_v2() {
                "the Open Inference Protocol"
            } else {
                "KServe V1"
            };
            Answer::error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "{} speaks {wire}, which has no :{}; call :predict",
                    u.name(),
                    verb_name(verb)
                ),
            )
        }
        Protocol::Tf(verb) if !u.speaks_v2() => {
            let url = u.tf_url(verb_name(verb));
            passed(u, u.post(&url, body, None, None, timeout_ms).await)
        }
        Protocol::Infer { .. } if u.speaks_v2() => {
            let url = u.infer_url();
            passed(
                u,
                u.post(&url, body, content_type, header_len, timeout_ms)
                    .await,
            )
        }
        Protocol::Tf(Verb::Predict) => {
            let input = u
                .spec
                .input_name
                .clone()
                .unwrap_or_else(|| "input-0".into());
            let forced = u.spec.input_datatype.clone();
            let max_rows = limits.max_rows;
            let request = off_thread(body, move |b| {
                translate::tf_to_v2(&b, &input, forced.as_deref(), max_rows)
            })
            .await;
            let (request, layout) = match request {
                Ok(r) => r,
                Err(e) => return Answer::error(StatusCode::BAD_REQUEST, &e),
            };
            let reply = u
                .post(&u.infer_url(), request.into(), None, None, timeout_ms)
                .await;
            translated(u, reply, move |b| translate::v2_to_tf(&b, layout, max_rows)).await
        }
        Protocol::Tf(verb) => Answer::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{} speaks the Open Inference Protocol, which has no :{}; call :predict",
                u.name(),
                verb_name(verb)
            ),
        ),
        Protocol::Infer { model } => {
            if header_len.is_some() {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "{} speaks TF Serving's JSON, so binary tensors cannot reach it; send the tensors as JSON",
                        u.name()
                    ),
                );
            }
            let max_rows = limits.max_rows;
            let request =
                match off_thread(body, move |b| translate::v2_to_tf_request(&b, max_rows)).await {
                    Ok(r) => r,
                    Err(e) => return Answer::error(StatusCode::BAD_REQUEST, &e),
                };
            let (request, call) = request;
            let reply = u
                .post(&u.tf_url("predict"), request.into(), None, None, timeout_ms)
                .await;
            translated(u, reply, move |b| {
                translate::tf_to_v2_answer(&b, &call, &model, version)
            })
            .await
        }
    }
}

/// Runs `f` on `body`: here when it is small, else on the blocking pool holding one of the
/// gateway's [`TRANSLATING`] slots.
async fn off_thread<T: Send + 'static>(
    body: Bytes,
    f: impl FnOnce(Bytes) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    if body.len() <= INLINE_BODY {
        return f(body);
    }
    let Ok(_slot) = LARGE.acquire().await else {
        return Err("the gateway is stopping".into());
    };
    tokio::task::spawn_blocking(move || f(body))
        .await
        .unwrap_or_else(|_| Err("the request could not be translated".into()))
}

fn verb_name(verb: Verb) -> &'static str {
    match verb {
        Verb::Predict => "predict",
        Verb::Classify => "classify",
        Verb::Regress => "regress",
    }
}

/// The answer for a forward that got no reply.
fn failed(u: &Upstream, f: Failure) -> Answer {
    match f {
        Failure::Unreachable(why) => Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{} is unreachable: {why}", u.name()),
        ),
        Failure::Timeout(ms) => Answer::error(
            StatusCode::GATEWAY_TIMEOUT,
            &format!(
                "Deadline exceeded: {} did not answer within {ms} ms",
                u.name()
            ),
        ),
        Failure::Secret(name) => Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "{} sends secret {name}, which is not in the store: set it with `modeldeck secrets set {name} --from-env VAR` (or --from-file)",
                u.name()
            ),
        ),
        Failure::Bad(why) => {
            Answer::error(StatusCode::BAD_GATEWAY, &format!("{}: {why}", u.name()))
        }
    }
}

/// The upstream's reply with a status the caller may get, or the answer that replaces it:
/// the failure when there was no reply, a 502 for an interim (1xx) or impossible status.
fn settle(u: &Upstream, reply: Result<Reply, Failure>) -> Result<(Reply, StatusCode), Answer> {
    let reply = reply.map_err(|f| failed(u, f))?;
    let status = reply.status;
    if status.is_informational() || status.as_u16() > 599 {
        return Err(Answer::error(
            StatusCode::BAD_GATEWAY,
            &format!(
                "{} answered {}, which is not an answer",
                u.name(),
                status.as_u16()
            ),
        ));
    }
    Ok((reply, status))
}

/// An upstream's error in its own words, with the secret it was sent taken out (a server that
/// echoes request headers must not hand the token to the caller).
fn their_error(u: &Upstream, reply: &Reply, status: StatusCode) -> Answer {
    // Scrubbed whole before it is cut (a cut could leave half a token), and again once its
    // JSON escapes are read (`\u0053…` spells the token too).
    let body = String::from_utf8_lossy(&reply.body);
    let body = u.scrubbed(&body).unwrap_or_else(|| body.into_owned());
    let message = translate::error_message(body.as_bytes(), status.as_u16());
    Answer::error(status, &u.scrubbed(&message).unwrap_or(message))
}

/// The upstream's answer as it came: JSON text as the body, binary tensors untouched; an
/// error that is not JSON is wrapped in one, in the upstream's words.
fn passed(u: &Upstream, reply: Result<Reply, Failure>) -> Answer {
    let (reply, status) = match settle(u, reply) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if !status.is_success() {
        return match std::str::from_utf8(&reply.body) {
            // An upstream that is sent a secret has its errors read and scrubbed, never passed.
            Ok(text)
                if !u.sends_secret()
                    && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() =>
            {
                Answer::with(status, text.to_string())
            }
            _ => their_error(u, &reply, status),
        };
    }
    if reply.header_len.is_some() {
        let mut answer = Answer::with(status, String::new());
        answer.raw = Some(Box::new(Raw {
            body: reply.body,
            content_type: reply.content_type,
            header_len: reply.header_len,
        }));
        return answer;
    }
    match String::from_utf8(reply.body.to_vec()) {
        // A server that echoes its request headers into an answer does not give the caller
        // the secret.
        Ok(text) => Answer::with(status, u.scrubbed(&text).unwrap_or(text)),
        Err(_) => Answer::error(
            StatusCode::BAD_GATEWAY,
            &format!("{} answered a body that is not UTF-8 JSON", u.name()),
        ),
    }
}

/// The upstream's answer rewritten by `rewrite` into the caller's protocol (off the shared
/// threads when large); its errors keep their status and words.
async fn translated(
    u: &Upstream,
    reply: Result<Reply, Failure>,
    rewrite: impl FnOnce(Bytes) -> Result<Vec<u8>, String> + Send + 'static,
) -> Answer {
    let (reply, status) = match settle(u, reply) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if !status.is_success() {
        return their_error(u, &reply, status);
    }
    if reply.body.len() > MAX_TRANSLATED {
        return Answer::error(
            StatusCode::BAD_GATEWAY,
            &format!(
                "{} answered {} MiB, more than the {} MiB translated between protocols; ask for fewer records per request",
                u.name(),
                reply.body.len() >> 20,
                MAX_TRANSLATED >> 20
            ),
        );
    }
    match off_thread(reply.body, rewrite).await.map(String::from_utf8) {
        Ok(Ok(body)) => Answer::ok(u.scrubbed(&body).unwrap_or(body)),
        Ok(Err(_)) => Answer::error(
            StatusCode::BAD_GATEWAY,
            &format!("{}: its answer is not UTF-8", u.name()),
        ),
        Err(e) => Answer::error(StatusCode::BAD_GATEWAY, &format!("{}: {e}", u.name())),
    }
}

/// Metadata of an upstream version: the remote server's to give.
pub(super) fn no_metadata(u: &Upstream, cell: &VersionCell) -> Answer {
    Answer::error(
        StatusCode::NOT_IMPLEMENTED,
        &format!(
            "version {} of {} is served by {}; ask that server for its metadata",
            cell.version,
            cell.model,
            u.name()
        ),
    )
}
