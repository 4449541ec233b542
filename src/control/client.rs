//! The control API from the other side: what a CLI command uses when a server owns the data
//! directory (and what the console will use always). Errors come back as the server sent
//! them, code and message, so a script sees the same `{"error":{"code"}}` either way.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::ControlError;
use crate::config::DataDir;
use crate::domain::{ModelName, ServiceName, token_name};

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
            .map_err(|e| ControlError::BadRequest(format!("cannot start an HTTP client: {e}")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            http,
        })
    }

    /// The client for the server that owns `dir` (pid `pid`): its address from
    /// `server.json`, the local admin token from `control.token`.
    pub async fn for_data_dir(dir: &DataDir, pid: u32) -> Result<Client, ControlError> {
        let info = dir.server_file();
        let deadline = tokio::time::Instant::now() + DISCOVERY_WAIT;
        let control = loop {
            let found = std::fs::read_to_string(&info)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .filter(|v| v["pid"].as_u64() == Some(u64::from(pid)))
                .and_then(|v| v["control"].as_str().map(str::to_string));
            match found {
                Some(url) => break url,
                None if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => {
                    return Err(ControlError::Api {
                        code: "server_unreachable".into(),
                        message: format!(
                            "{} is owned by modeldeck server pid {pid}, which has not published its control API in {}: is it still starting? If it hangs, stop it (kill {pid})",
                            dir.root().display(),
                            info.display()
                        ),
                    });
                }
            }
        };
        let token_file = dir.token_file();
        let token = std::fs::read_to_string(&token_file).map_err(|e| {
            ControlError::BadRequest(format!(
                "cannot read the control token {}: {e}; restart the server to recreate it",
                token_file.display()
            ))
        })?;
        Client::new(&control, &token)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (under `/api/v1/`) with the token, for calls that are not plain
    /// JSON: uploads and the change stream.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends a built request and reads its JSON answer as [`Client::call`] does.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ControlError> {
        let unreachable = |e: reqwest::Error, change: bool| ControlError::Api {
            code: "server_unreachable".into(),
            message: format!(
                "the control API at {} does not answer: {e}{}",
                self.base,
                if change {
                    " — the change may or may not have been made: check with `modeldeck models list` or `modeldeck services list` before retrying"
                } else {
                    ""
                }
            ),
        };
        let req = req.build().map_err(|e| unreachable(e, false))?;
        let change = req.method() != Method::GET;
        let response = self.http.execute(req).await.map_err(|e| {
            // A refused connection never carried the change; a broken one may have.
            let unsure = change && !e.is_connect();
            unreachable(e, unsure)
        })?;
        answer(response).await
    }

    /// One call: `path` is under `/api/v1/`. Non-2xx answers become the server's error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ControlError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// Imports a version of `name` from a JSON source the server fetches; the version, once the
    /// import operation has ended.
    pub async fn import(&self, name: &str, source: &Value) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let op = self.call(Method::POST, &path, Some(source)).await?;
        self.wait_operation(op).await
    }

    /// Imports a version of `name` from the model file's bytes (named `filename`, whose
    /// extension helps type detection); the version, once imported.
    pub async fn upload(
        &self,
        name: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let path = with_query(path, &[("filename", filename), ("wait", "true")]);
        let req = self
            .request(Method::POST, &path)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        let op = self.send(req).await?;
        self.wait_operation(op).await
    }

    /// A model's description and versions.
    pub async fn model(&self, name: &str) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name)])?;
        self.call(Method::GET, &path, None).await
    }

    /// Removes one version of `name`, or every version.
    pub async fn remove_model(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Value, ControlError> {
        let path = match version {
            Some(v) => api_path(&[
                Seg::Word("models"),
                Seg::Model(name),
                Seg::Word("versions"),
                Seg::Number(v.into()),
            ])?,
            None => api_path(&[Seg::Word("models"), Seg::Model(name)])?,
        };
        self.call(Method::DELETE, &path, None).await
    }

    /// A service; its key in the clear only with `show_key` (the server checks the scope).
    pub async fn service(&self, name: &str, show_key: bool) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        let path = with_query(
            path,
            &[("show_key", if show_key { "true" } else { "false" })],
        );
        self.call(Method::GET, &path, None).await
    }

    pub async fn delete_service(&self, name: &str) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        self.call(Method::DELETE, &path, None).await
    }

    /// A new key for the service; the answer carries it.
    pub async fn rotate_key(&self, name: &str) -> Result<Value, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("rotate-key"),
        ])?;
        self.call(Method::POST, &path, None).await
    }

    pub async fn revoke_token(&self, name: &str) -> Result<Value, ControlError> {
        let path = api_path(&[Seg::Word("tokens"), Seg::Token(name)])?;
        self.call(Method::DELETE, &path, None).await
    }

    /// Deploys `model` (`NAME[:VERSION]`) as service `name`; the service with its key.
    pub async fn deploy(
        &self,
        name: &str,
        model: &str,
        r: &crate::domain::Resources,
    ) -> Result<Value, ControlError> {
        ServiceName::parse(name)?;
        let body = serde_json::json!({
            "name": name, "model": model, "threads": r.threads,
            "concurrency": r.concurrency, "timeout_ms": r.timeout_ms,
            "max_batch_rows": r.max_batch_rows,
        });
        self.call(Method::POST, "services", Some(&body)).await
    }

    /// Follows an operation until it ends; its result, or its error.
    pub async fn wait_operation(&self, op: Value) -> Result<Value, ControlError> {
        let mut op = op;
        loop {
            match op["state"].as_str() {
                Some("succeeded") => return Ok(op["result"].take()),
                Some("failed") => {
                    return Err(ControlError::Api {
                        code: op["error"]["code"].as_str().unwrap_or("failed").to_string(),
                        message: op["error"]["message"]
                            .as_str()
                            .unwrap_or("the operation failed")
                            .to_string(),
                    });
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let id = op["id"].as_str().and_then(|id| id.parse::<u64>().ok());
            let Some(id) = id else {
                return Err(ControlError::Api {
                    code: "bad_answer".into(),
                    message: format!("the server answered an operation without an id: {op}"),
                });
            };
            let path = api_path(&[Seg::Word("operations"), Seg::Number(id)])?;
            op = self.call(Method::GET, &path, None).await?;
        }
    }
}

/// One segment of a control API path.
pub enum Seg<'a> {
    /// A fixed word of the API (`models`, `versions`, `rotate-key`).
    Word(&'static str),
    Model(&'a str),
    Service(&'a str),
    Token(&'a str),
    Number(u64),
}

/// A path under `/api/v1/` from its segments, each name checked against the domain's rules
/// for its kind and percent-encoded: a name is never a path, so `../models/x` is refused here
/// instead of being resolved into another resource by the URL parser.
pub fn api_path(segments: &[Seg]) -> Result<String, ControlError> {
    let mut out = String::new();
    for seg in segments {
        if !out.is_empty() {
            out.push('/');
        }
        let text = match seg {
            Seg::Word(w) => *w,
            Seg::Model(n) => ModelName::parse(n).map(|_| *n)?,
            Seg::Service(n) => ServiceName::parse(n).map(|_| *n)?,
            Seg::Token(n) => token_name(n)?,
            Seg::Number(n) => {
                out.push_str(&n.to_string());
                continue;
            }
        };
        encode_segment(&mut out, text);
    }
    Ok(out)
}

/// `path?k=v&…` with the values percent-encoded.
fn with_query(mut path: String, pairs: &[(&str, &str)]) -> String {
    for (i, (k, v)) in pairs.iter().enumerate() {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(k);
        path.push('=');
        encode_segment(&mut path, v);
    }
    path
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// A response's JSON, or the error it carries (non-2xx), code and all.
async fn answer(response: reqwest::Response) -> Result<Value, ControlError> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let error = &value["error"];
    Err(ControlError::Api {
        code: error["code"].as_str().unwrap_or("server_error").to_string(),
        message: error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the control API answered {status}: {text}")),
    })
}

/// Decodes an answer into a domain type; a mismatch means client and server disagree.
pub fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ControlError> {
    serde_json::from_value(value).map_err(|e| ControlError::Api {
        code: "bad_answer".into(),
        message: format!(
            "the server's answer is not what this modeldeck expects ({e}); are client and server the same version?"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_never_become_paths() {
        let p = api_path(&[
            Seg::Word("models"),
            Seg::Model("iris"),
            Seg::Word("versions"),
            Seg::Number(2),
        ]);
        assert_eq!(p.unwrap(), "models/iris/versions/2");
        for bad in ["../models/relp", "a/b", "a%2fb", "..", ".", ""] {
            for seg in [Seg::Model(bad), Seg::Service(bad), Seg::Token(bad)] {
                let err = api_path(&[Seg::Word("services"), seg]).unwrap_err();
                assert_eq!(err.code(), "invalid_name", "{bad:?}");
                assert!(err.to_string().contains("illegal"), "{err}");
            }
        }
    }

    #[test]
    fn segments_are_percent_encoded() {
        let mut out = String::new();
        encode_segment(&mut out, "a b/c%.._~");
        assert_eq!(out, "a%20b%2Fc%25.._~");
    }
}
