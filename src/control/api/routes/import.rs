//! New model versions: from a source the server fetches (a JSON body), or from the model
//! file's bytes streamed as the body. Either way the answer is 202 with an operation to follow.

use std::sync::Arc;

use http::StatusCode;
use http::request::Parts;

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, body_error, query_param, read_json};
use crate::control::api::reply::{ApiError, json_response};
use crate::control::contract::ImportCall;
use crate::control::{ControlError, ImportRequest};
use crate::domain::{ModelKind, Scope};
use crate::net::{BodyError, Paced};
use crate::registry::artifacts::CappedFile;
use crate::registry::{Addressing, S3Options, Source};

/// `POST /models/{name}/versions`: a JSON body names a source the server fetches; any other
/// content type is the model file itself, streamed to disk as it arrives. Either way the
/// answer is 202 with an operation to follow.
pub async fn import<B: ApiBodyIn>(
    api: &Arc<Api>,
    caller: &Caller,
    name: &str,
    parts: &Parts,
    query: &str,
    body: B,
) -> Answer {
    caller.require(Scope::Operator)?;
    let is_json = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let op = api.operations.start("import", name, caller.actor());
    let (request, upload) = if is_json {
        let b: ImportCall = match read_json(api, body).await {
            Ok(b) => b,
            Err(e) => {
                op.fail(&e.code, &e.message);
                return Err(e);
            }
        };
        match import_request(name, b, api.core.data_dir()) {
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
                let e = ApiError::from(ControlError::field("type", e.to_string()));
                op.fail(&e.code, &e.message);
                return Err(e);
            }
        };
        let filename = query_param(query, "filename").unwrap_or_else(|| "model".into());
        // The name becomes a file in the staging folder and part of the version's source; both
        // it and the description are checked before a byte of the body is received.
        let description = query_param(query, "description").unwrap_or_default();
        let checked = crate::domain::check_text("file name", &filename, 255).and_then(|()| {
            crate::domain::check_text("description", &description, crate::control::MAX_DESCRIPTION)
        });
        if let Err(e) = checked {
            let e = ApiError::from(ControlError::invalid("invalid_text", e.to_string()));
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
            description,
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
    // A file named by its path on the server: the caller may not be able to read it any other
    // way, so what goes wrong with it is said without a word of its content.
    let server_file = upload.is_none() && matches!(request.source, Source::Local(_));
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
                    op.succeed(serde_json::json!(v));
                }
                Err(e) => {
                    let reason = if server_file {
                        crate::domain::redact_strict(&e.to_string(), 1000)
                    } else {
                        e.to_string()
                    };
                    tracing::info!(
                        %actor, model = %op.subject(), code = e.code(),
                        reason = ?crate::domain::clip(&reason, 500), "import failed"
                    );
                    op.fail(e.code(), &reason);
                }
            }
        })
    };
    if wait {
        let _ = task.await;
    }
    Ok(json_response(StatusCode::ACCEPTED, &op.view()))
}

fn import_request(
    name: &str,
    b: ImportCall,
    data_dir: &crate::config::DataDir,
) -> Result<ImportRequest, ApiError> {
    let addressing = b
        .addressing
        .map(|a| a.parse::<Addressing>())
        .transpose()
        .map_err(|e| ControlError::field("addressing", e))?;
    let kind = b
        .kind
        .map(|k| k.parse::<ModelKind>())
        .transpose()
        .map_err(|e| ControlError::field("type", e.to_string()))?;
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
        return Err(ControlError::field(
            "source",
            format!(
                "{} is a relative path, which the server cannot resolve: send an absolute path, or upload the file",
                p.display()
            ),
        )
        .into());
    }
    if let Source::Local(p) = &source {
        off_limits(p, data_dir)?;
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

fn off_limits(path: &std::path::Path, data_dir: &crate::config::DataDir) -> Result<(), ApiError> {
    crate::registry::local::off_limits(path, data_dir.root(), &data_dir.staging())
        .map_err(|e| ControlError::field("source", e).into())
}

/// Streams an upload to `file` under the import size limit, at the body deadline and rate.
async fn receive<B: ApiBodyIn>(api: &Api, body: B, file: &std::path::Path) -> Result<(), ApiError> {
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
