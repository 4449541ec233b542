//! The control API's routes: a path under `/api/v1/` matched on its segments to one function
//! per call. A known path with the wrong method answers 405 naming the methods it takes; each
//! call's request and answer types live in [`contract`](crate::control::contract).
//!
//! Module map: [`models`] (the repository), [`import`] (new versions, by source or upload),
//! [`services`], [`tokens`], [`server`] (status, identity, events, operations, stop), [`monitor`]
//! (live figures, history, thresholds, and the Prometheus text at `/metrics`), [`jobs`] (batch
//! jobs and their runs).
//! Handlers take any body type, so tests drive them in-process with a `Full<Bytes>`.

mod import;
mod jobs;
mod models;
mod monitor;
mod secrets;
mod server;
mod services;
mod tokens;

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Body;

use super::reply::{ApiBody, ApiError};
use super::{Api, Caller, watch};
use crate::control::ControlError;
use crate::domain::{ModelName, Scope};
use crate::net::{self, BodyError, BodyLimits};

/// JSON request bodies are small; model bytes come as uploads, not JSON.
const MAX_JSON_BYTES: u64 = 1 << 20;

type Answer = Result<Response<ApiBody>, ApiError>;

/// What a handler may read a request body from: hyper's `Incoming`, or a `Full<Bytes>` in tests.
pub trait ApiBodyIn: Body<Data = Bytes, Error: std::fmt::Display> + Send + Unpin + 'static {}

impl<B> ApiBodyIn for B where
    B: Body<Data = Bytes, Error: std::fmt::Display> + Send + Unpin + 'static
{
}

/// Calls that need no token: only the server's identity.
pub fn is_public(parts: &Parts) -> bool {
    parts.method == Method::GET && parts.uri.path().trim_end_matches('/') == "/api/v1/identity"
}

pub use server::identity;

pub async fn route<B: ApiBodyIn>(api: &Arc<Api>, caller: &Caller, parts: Parts, body: B) -> Answer {
    let path = parts.uri.path().to_string();
    let m = &parts.method;
    // Where Prometheus (and TF Serving's scrapers) look.
    if matches!(path.as_str(), "/metrics" | "/monitoring/prometheus/metrics") {
        only(m, &[Method::GET])?;
        return monitor::metrics(api, caller);
    }
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return Err(unknown(&parts));
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let query = parts.uri.query().unwrap_or("");
    match segments.as_slice() {
        ["status"] => only(m, &[Method::GET]).and_then(|()| server::status(api, caller)),
        ["stop"] => {
            only(m, &[Method::POST])?;
            server::stop(api, caller)
        }
        ["events"] => {
            only(m, &[Method::GET])?;
            server::events(api, caller, query)
        }
        ["monitor"] => {
            only(m, &[Method::GET])?;
            monitor::monitor(api, caller, query)
        }
        ["operations"] => {
            only(m, &[Method::GET])?;
            server::operations(api, caller)
        }
        ["operations", id] => {
            only(m, &[Method::GET])?;
            server::operation(api, caller, id)
        }
        ["watch"] => {
            only(m, &[Method::GET])?;
            caller.require(Scope::Viewer)?;
            watch::stream(api, &parts.headers, query)
        }
        ["models"] => only(m, &[Method::GET]).and_then(|()| models::list(api, caller)),
        ["models", name] => match *m {
            Method::GET => models::show(api, caller, name),
            Method::DELETE => models::remove(api, caller, name, None).await,
            _ => Err(wrong_method(m, "GET, DELETE")),
        },
        ["models", name, "versions"] => {
            only(m, &[Method::POST])?;
            import::import(api, caller, model_name(name)?, &parts, query, body).await
        }
        ["models", name, "versions", v] => {
            only(m, &[Method::DELETE])?;
            let v = v
                .parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("{v:?} is not a version number")))?;
            models::remove(api, caller, name, Some(v)).await
        }
        ["models", name, "versions", v, "upstream"] => {
            only(m, &[Method::PUT])?;
            let v = v
                .parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("{v:?} is not a version number")))?;
            models::serve_by(api, caller, name, v, body).await
        }
        ["jobs"] => match *m {
            Method::GET => jobs::list(api, caller),
            Method::POST => jobs::create(api, caller, body).await,
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["jobs", name] => match *m {
            Method::GET => jobs::show(api, caller, name),
            Method::POST => jobs::change(api, caller, name, body).await,
            Method::DELETE => jobs::delete(api, caller, name).await,
            _ => Err(wrong_method(m, "GET, POST, DELETE")),
        },
        ["jobs", name, "runs"] => {
            only(m, &[Method::GET])?;
            let limit = query_param(query, "limit").and_then(|v| v.parse().ok());
            jobs::runs(api, caller, name, limit)
        }
        ["runs", id] => {
            only(m, &[Method::GET])?;
            jobs::run(api, caller, id)
        }
        ["runs", id, "cancel"] => {
            only(m, &[Method::POST])?;
            jobs::cancel(api, caller, id).await
        }
        ["services"] => match *m {
            Method::GET => services::list(api, caller),
            Method::POST => services::deploy(api, caller, body).await,
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["services", name] => match *m {
            Method::GET => {
                let show_key = query_param(query, "show_key").is_some_and(|v| v == "true");
                services::show(api, caller, name, show_key)
            }
            Method::DELETE => services::delete(api, caller, name).await,
            _ => Err(wrong_method(m, "GET, DELETE")),
        },
        ["services", name, "thresholds"] => {
            only(m, &[Method::PUT])?;
            monitor::thresholds(api, caller, name, body).await
        }
        ["services", name, "traffic"] => match *m {
            Method::GET => services::traffic(api, caller, name),
            Method::POST => services::change_traffic(api, caller, name, body).await,
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["services", name, "shadow"] => {
            only(m, &[Method::GET])?;
            services::shadow(api, caller, name)
        }
        ["services", name, "rotate-key"] => {
            only(m, &[Method::POST])?;
            services::rotate_key(api, caller, name).await
        }
        ["secrets"] => only(m, &[Method::GET]).and_then(|()| secrets::list(api, caller)),
        ["secrets", name] => match *m {
            Method::PUT => secrets::set(api, caller, name, body).await,
            Method::DELETE => secrets::remove(api, caller, name).await,
            _ => Err(wrong_method(m, "PUT, DELETE")),
        },
        ["tokens"] => match *m {
            Method::GET => tokens::list(api, caller),
            Method::POST => tokens::create(api, caller, body).await,
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["tokens", name] => {
            only(m, &[Method::DELETE])?;
            tokens::revoke(api, caller, name).await
        }
        _ => Err(unknown(&parts)),
    }
}

fn only(m: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(m) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        Err(wrong_method(m, &names.join(", ")))
    }
}

fn wrong_method(m: &Method, allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{m} is not allowed here; this path takes {allowed}"),
    )
}

fn unknown(parts: &Parts) -> ApiError {
    ControlError::NotFound(format!(
        "no such call: {} {}; the control API lives under /api/v1/ (see the README's \"Control API\")",
        parts.method,
        parts.uri.path()
    ))
    .into()
}

/// A path segment that must be a model name, checked by the router for an import, whose body
/// must not be read for a name no model can have. (Every other name a path carries is checked
/// by the core before its lookup.) Segments are taken raw: a name is never percent-decoded
/// into something else, so `..` and `%2f` are refused, not resolved.
fn model_name(segment: &str) -> Result<&str, ApiError> {
    ModelName::parse(segment).map_err(ControlError::from)?;
    Ok(segment)
}

/// A JSON body (at most [`MAX_JSON_BYTES`], at the body deadline and rate) as `T`.
async fn read_json<T: serde::de::DeserializeOwned, B: ApiBodyIn>(
    api: &Api,
    body: B,
) -> Result<T, ApiError> {
    let limits = BodyLimits {
        max_bytes: MAX_JSON_BYTES,
        ..api.body
    };
    let bytes: Bytes = net::read(body, limits, api.stopping.clone())
        .await
        .map_err(body_error)?;
    // The parser's message without the values it quotes: a body may carry secrets (S3
    // credentials), and errors reach the log and the operations list.
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not what this call takes: {}",
            crate::domain::redact(&e.to_string(), 500)
        ))
    })
}

/// A body that could not be read, as the API reports it.
fn body_error(e: BodyError) -> ApiError {
    let code = match e {
        BodyError::TooLarge { .. } => "too_large",
        BodyError::TooSlow { .. } => "timeout",
        BodyError::Broken(_) => "bad_request",
        BodyError::Stopping => "unavailable",
    };
    ApiError::new(e.status(), code, e.to_string())
}

/// The value of `name` in a query string, percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let decoded = match b[i] {
            b'%' if i + 3 <= b.len() => hex(b[i + 1]).zip(hex(b[i + 2])).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (decoded, b[i]) {
            (Some(v), _) => {
                out.push(v);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, c) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_found_and_decoded() {
        let q = "type=pmml&filename=my%20model.pmml&wait=true&bad=%zz%4&x";
        assert_eq!(query_param(q, "type").as_deref(), Some("pmml"));
        assert_eq!(query_param(q, "filename").as_deref(), Some("my model.pmml"));
        assert_eq!(query_param(q, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "missing"), None);
    }
}
