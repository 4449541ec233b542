//! One function per control API call. Paths are matched on their segments after `/api/v1/`;
//! a known path with the wrong method answers 405 naming the methods it takes.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{ApiBody, ApiError, json_response, ok};
use super::{Api, Caller, watch};
use crate::control::ControlError;
use crate::control::{DeployRequest, ImportRequest};
use crate::domain::{
    CONCURRENCY, MAX_BATCH_ROWS, ModelKind, ModelName, ModelRef, Resources, Scope, Service,
    Setting, THREADS, TIMEOUT_MS,
};
use crate::net::{self, BodyError, BodyLimits, Paced};
use crate::registry::artifacts::CappedFile;
use crate::registry::{Addressing, S3Options, Source};

/// JSON request bodies are small; model bytes come as uploads, not JSON.
const MAX_JSON_BYTES: u64 = 1 << 20;

type Answer = Result<Response<ApiBody>, ApiError>;

pub async fn route(api: &Arc<Api>, caller: &Caller, parts: Parts, body: Incoming) -> Answer {
    let path = parts.uri.path().to_string();
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return Err(unknown(&parts));
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let m = &parts.method;
    let query = parts.uri.query().unwrap_or("");
    match segments.as_slice() {
        ["status"] => only(m, &[Method::GET])?.then(|| status(api, caller)),
        ["models"] => only(m, &[Method::GET])?.then(|| models(api, caller)),
        ["models", name] => match *m {
            Method::GET => model(api, caller, name),
            Method::DELETE => remove_model(api, caller, name, None).await,
            _ => Err(wrong_method(m, "GET, DELETE")),
        },
        ["models", name, "versions"] => {
            only(m, &[Method::POST])?;
            import(api, caller, model_name(name)?, &parts, query, body).await
        }
        ["models", name, "versions", v] => {
            only(m, &[Method::DELETE])?;
            let v = v
                .parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("{v:?} is not a version number")))?;
            remove_model(api, caller, name, Some(v)).await
        }
        ["operations"] => {
            only(m, &[Method::GET])?;
            caller.require(Scope::Viewer)?;
            let list: Vec<Value> = api.operations.list().iter().map(|o| o.to_json()).collect();
            ok(&json!({"operations": list}))
        }
        ["operations", id] => {
            only(m, &[Method::GET])?;
            caller.require(Scope::Viewer)?;
            let op = id
                .parse()
                .ok()
                .and_then(|id| api.operations.get(id))
                .ok_or_else(|| not_found(format!("no operation {id} (operations are kept in memory until the server restarts)")))?;
            ok(&op.to_json())
        }
        ["services"] => match *m {
            Method::GET => {
                caller.require(Scope::Viewer)?;
                let list: Vec<Value> = api
                    .core
                    .services()?
                    .iter()
                    .map(|s| service_json(api, s, false))
                    .collect();
                ok(&json!({"services": list}))
            }
            Method::POST => deploy(api, caller, body).await,
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["services", name] => match *m {
            Method::GET => {
                let show_key = query_param(query, "show_key").is_some_and(|v| v == "true");
                caller.require(if show_key {
                    Scope::Operator
                } else {
                    Scope::Viewer
                })?;
                ok(&service_json(api, &api.core.service(name)?, show_key))
            }
            Method::DELETE => {
                caller.require(Scope::Operator)?;
                api.core.delete_service(caller.actor(), name).await?;
                api.changed().await?;
                ok(&json!({"deleted": name}))
            }
            _ => Err(wrong_method(m, "GET, DELETE")),
        },
        ["services", name, "rotate-key"] => {
            only(m, &[Method::POST])?;
            caller.require(Scope::Operator)?;
            let s = api.core.rotate_key(caller.actor(), name).await?;
            api.changed().await?;
            ok(&service_json(api, &s, true))
        }
        ["events"] => {
            only(m, &[Method::GET])?;
            caller.require(Scope::Viewer)?;
            let since = query_param(query, "since")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let limit = query_param(query, "limit")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000usize);
            let mut events = api
                .core
                .store()
                .events_since(since)
                .map_err(crate::control::ControlError::from)?;
            events.truncate(limit);
            ok(&json!({"revision": *api.revision.borrow(), "events": events}))
        }
        ["watch"] => {
            only(m, &[Method::GET])?;
            caller.require(Scope::Viewer)?;
            watch::stream(api, &parts.headers, query)
        }
        ["tokens"] => match *m {
            Method::GET => {
                caller.require(Scope::Admin)?;
                ok(&json!({"tokens": api.core.tokens()?}))
            }
            Method::POST => {
                caller.require(Scope::Admin)?;
                let req: TokenBody = read_json(api, body).await?;
                let scope = req.scope.parse::<Scope>().map_err(ApiError::bad_request)?;
                let (info, secret) = api
                    .core
                    .create_token(caller.actor(), &req.name, scope)
                    .await?;
                api.changed().await?;
                let mut v = json!(info);
                v["token"] = json!(secret);
                Ok(json_response(StatusCode::CREATED, &v))
            }
            _ => Err(wrong_method(m, "GET, POST")),
        },
        ["tokens", name] => {
            only(m, &[Method::DELETE])?;
            caller.require(Scope::Admin)?;
            api.core.revoke_token(caller.actor(), name).await?;
            api.changed().await?;
            ok(&json!({"revoked": name}))
        }
        _ => Err(unknown(&parts)),
    }
}

/// Lets `only(m, …)?.then(|| …)` read as a guard.
trait Then {
    fn then(self, f: impl FnOnce() -> Answer) -> Answer;
}

impl Then for () {
    fn then(self, f: impl FnOnce() -> Answer) -> Answer {
        f()
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
    not_found(format!(
        "no such call: {} {}; the control API lives under /api/v1/ (see the README's \"Control API\")",
        parts.method,
        parts.uri.path()
    ))
}

/// A path segment that must be a model name, checked by the router for an import, whose body
/// must not be read for a name no model can have. (Every other name a path carries is checked
/// by the core before its lookup.) Segments are taken raw: a name is never percent-decoded
/// into something else, so `..` and `%2f` are refused, not resolved.
fn model_name(segment: &str) -> Result<&str, ApiError> {
    ModelName::parse(segment).map_err(ControlError::from)?;
    Ok(segment)
}

fn not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
}

fn status(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    let core = &api.core;
    ok(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_at": api.started_at,
        "revision": *api.revision.borrow(),
        "gateway": api.gateway_url,
        "environment": core.settings().environment,
        "domain": core.settings().domain,
        "models": core.list_models()?.len(),
        "services": core.services()?.len(),
        "caller": {"name": caller.token.name, "scope": caller.token.scope},
    }))
}

fn models(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&json!({"models": api.core.list_models()?}))
}

fn model(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    let versions = api.core.show_model(name)?;
    let description = api.core.model_description(name)?;
    ok(&json!({"name": name, "description": description, "versions": versions}))
}

async fn remove_model(api: &Api, caller: &Caller, name: &str, version: Option<u32>) -> Answer {
    caller.require(Scope::Operator)?;
    let target = ModelRef {
        name: ModelName::parse(name).map_err(ControlError::from)?,
        version,
    };
    let removed = api.core.remove_model(caller.actor(), &target).await?;
    api.changed().await?;
    let list: Vec<Value> = removed
        .iter()
        .map(|v| json!({"name": v.name, "version": v.version}))
        .collect();
    ok(&json!({"removed": list}))
}

/// A service as the API shows it: the key masked unless asked for, plus the gateway URL.
pub fn service_json(api: &Api, s: &Service, show_key: bool) -> Value {
    let mut v = json!(s);
    v["key"] = json!(if show_key {
        s.key.clone()
    } else {
        s.masked_key()
    });
    v["gateway"] = json!(api.gateway_url);
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    name: String,
    model: String,
    // Any JSON number, so that an out-of-range one is refused by its setting's own rule
    // (naming the field and the range) rather than by serde's "invalid type".
    threads: Option<Value>,
    concurrency: Option<Value>,
    timeout_ms: Option<Value>,
    max_batch_rows: Option<Value>,
}

/// A JSON value as a setting's value: a whole number in range, or the setting's error (which
/// names the field and its range whatever was sent: a string, a fraction, 1e30).
fn setting(s: &Setting, v: Option<Value>) -> Result<Option<u64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let value = v.as_u64().ok_or_else(|| s.refuse(v.to_string()));
    let value = value.and_then(|n| s.check(n)).map_err(ControlError::from)?;
    Ok(Some(value))
}

async fn deploy(api: &Api, caller: &Caller, body: Incoming) -> Answer {
    caller.require(Scope::Operator)?;
    let req: DeployBody = read_json(api, body).await?;
    let model: ModelRef = req.model.parse().map_err(ControlError::from)?;
    let resources = Resources::from_values(
        setting(&THREADS, req.threads)?,
        setting(&CONCURRENCY, req.concurrency)?,
        setting(&TIMEOUT_MS, req.timeout_ms)?,
        setting(&MAX_BATCH_ROWS, req.max_batch_rows)?,
    )
    .map_err(ControlError::from)?;
    let request = DeployRequest {
        name: req.name,
        model,
        resources,
    };
    let (s, model) = api.core.deploy_compiled(caller.actor(), request).await?;
    let d = &s.deployments[0];
    api.changed_with(Some((s.name.as_str(), &d.model, d.version, model)))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &service_json(api, &s, true),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
    scope: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    source: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    description: String,
    region: Option<String>,
    endpoint: Option<String>,
    addressing: Option<String>,
    credentials_file: Option<PathBuf>,
    profile: Option<String>,
    /// For s3:// and cos:// sources when the server's own environment has none.
    credentials: Option<S3Credentials>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct S3Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// `POST /models/{name}/versions`: a JSON body names a source the server fetches; any other
/// content type is the model file itself, streamed to disk as it arrives. Either way the
/// answer is 202 with an operation to follow.
async fn import(
    api: &Arc<Api>,
    caller: &Caller,
    name: &str,
    parts: &Parts,
    query: &str,
    body: Incoming,
) -> Answer {
    caller.require(Scope::Operator)?;
    let is_json = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let op = api.operations.start("import", name, caller.actor());
    let (request, upload) = if is_json {
        let b: ImportBody = match read_json(api, body).await {
            Ok(b) => b,
            Err(e) => {
                op.fail(&e.code, &e.message);
                return Err(e);
            }
        };
        match import_request(name, b) {
            Ok(r) => (r, None),
            Err(e) => {
                op.fail(&e.code, &e.message);
                return Err(e);
            }
        }
    } else {
        let kind = match query_param(query, "type")
            .map(|t| t.parse::<ModelKind>())
            .transpose()
        {
            Ok(k) => k,
            Err(e) => {
                let e = ApiError::bad_request(e.to_string());
                op.fail(&e.code, &e.message);
                return Err(e);
            }
        };
        let filename = query_param(query, "filename").unwrap_or_else(|| "model".into());
        // The name becomes a file in the staging folder and part of the version's source.
        if let Err(e) = crate::domain::check_text("file name", &filename, 255) {
            let e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_text", e.to_string());
            op.fail(&e.code, &e.message);
            return Err(e);
        }
        let dir = api
            .core
            .data_dir()
            .staging()
            .join(format!("upload-{}", op.id));
        if let Some(n) = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
        {
            op.progress
                .total
                .store(n, std::sync::atomic::Ordering::Relaxed);
        }
        op.progress.set_phase("uploading");
        op.progress.set_staging(dir.clone());
        // Keep the file's own name (its extension helps type detection), minus any folders.
        let base = std::path::Path::new(&filename)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .filter(|f| !f.starts_with('.'))
            .unwrap_or_else(|| "model".into());
        let file = dir.join(&base);
        if let Err(e) = receive(api, body, &file).await {
            let _ = std::fs::remove_dir_all(&dir);
            op.fail(&e.code, &e.message);
            return Err(e);
        }
        let request = ImportRequest {
            source: Source::Local(file),
            name: name.to_string(),
            kind,
            description: query_param(query, "description").unwrap_or_default(),
            label: Some(format!("upload:{base}")),
            progress: None,
        };
        (request, Some(dir))
    };
    let request = ImportRequest {
        progress: Some(Arc::clone(&op.progress)),
        ..request
    };
    let wait = query_param(query, "wait").is_some_and(|v| v == "true");
    let task = {
        let (api, op, actor) = (Arc::clone(api), Arc::clone(&op), caller.actor().to_string());
        tokio::spawn(async move {
            let outcome = api.core.import_model(&actor, request).await;
            if let Some(dir) = upload {
                let _ = std::fs::remove_dir_all(dir);
            }
            match outcome {
                Ok(v) => {
                    let _ = api.changed().await;
                    op.succeed(json!(v));
                }
                Err(e) => op.fail(e.code(), &e.to_string()),
            }
        })
    };
    if wait {
        let _ = task.await;
    }
    Ok(json_response(StatusCode::ACCEPTED, &op.to_json()))
}

fn import_request(name: &str, b: ImportBody) -> Result<ImportRequest, ApiError> {
    let addressing = b
        .addressing
        .map(|a| a.parse::<Addressing>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    let kind = b
        .kind
        .map(|k| k.parse::<ModelKind>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let opts = S3Options {
        region: b.region,
        endpoint: b.endpoint,
        addressing,
        credentials_file: b.credentials_file,
        profile: b.profile,
    };
    let creds = b.credentials;
    // Credentials sent with the call stand in for the server's own AWS_* variables.
    let env = |k: &str| match (&creds, k) {
        (Some(c), "AWS_ACCESS_KEY_ID") => Some(c.access_key_id.clone()),
        (Some(c), "AWS_SECRET_ACCESS_KEY") => Some(c.secret_access_key.clone()),
        (Some(c), "AWS_SESSION_TOKEN") => c.session_token.clone(),
        _ => std::env::var(k).ok(),
    };
    let source = Source::parse(&b.source, &opts, &env)?;
    if let Source::Local(p) = &source
        && p.is_relative()
    {
        return Err(ApiError::bad_request(format!(
            "{} is a relative path, which the server cannot resolve: send an absolute path, or upload the file",
            p.display()
        )));
    }
    Ok(ImportRequest {
        source,
        name: name.to_string(),
        kind,
        description: b.description,
        label: None,
        progress: None,
    })
}

/// Streams an upload to `file` under the import size limit, at the body deadline and rate.
async fn receive(api: &Api, body: Incoming, file: &std::path::Path) -> Result<(), ApiError> {
    let limit = api.core.settings().import.max_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the upload is larger than the import limit of {limit} bytes; raise import.max_bytes in {}",
                api.core.data_dir().settings_file().display()
            ),
        )
    };
    let failed = |e| match e {
        BodyError::TooLarge { .. } => too_large(),
        other => body_error(other),
    };
    let mut body = Paced::new(body, api.body, api.stopping.clone()).map_err(failed)?;
    let mut out = CappedFile::create(file, limit)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(failed)?;
        if !out.write(&chunk)? {
            return Err(too_large());
        }
    }
    if out.written() == 0 {
        return Err(ApiError::bad_request(
            "the upload is empty: send the model file as the request body",
        ));
    }
    out.finish()?;
    Ok(())
}

/// A JSON body (at most [`MAX_JSON_BYTES`], at the body deadline and rate) as `T`.
async fn read_json<T: serde::de::DeserializeOwned>(
    api: &Api,
    body: Incoming,
) -> Result<T, ApiError> {
    let limits = BodyLimits {
        max_bytes: MAX_JSON_BYTES,
        ..api.body
    };
    let bytes: Bytes = net::read(body, limits, api.stopping.clone())
        .await
        .map_err(body_error)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not what this call takes: {e}"))
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
