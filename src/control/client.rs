//! The control API from the other side: what a CLI command uses when a server owns the data
//! directory, and what the console uses always: one typed method per call of
//! [`contract`](super::contract), returning domain types. Paths are built here and nowhere
//! else. Errors come back as the variant the server sent, code and field, so a script sees
//! the same `{"error":{"code"}}` either way.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ControlError;
use super::contract::{
    Deleted, DeployCall, ErrorAnswer, ErrorBody, EventList, Identity, ImportCall, ModelDetail,
    ModelList, OperationView, Removed, Revoked, ServiceList, ServiceView, Status, Stopping,
    TokenCall, TokenCreated, TokenList, VersionRef,
};
use crate::config::DataDir;
use crate::domain::{
    ModelName, ModelSummary, ModelVersion, Scope, Service, ServiceName, TokenInfo, token_name,
};

/// How long a command waits for a server that holds the lock to publish `server.json`.
const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// Where `server.json` says the data directory's server listens, and which server it is.
struct Published {
    control: String,
    pid: u32,
}

fn published(dir: &DataDir) -> Option<Published> {
    let text = std::fs::read_to_string(dir.server_file()).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    Some(Published {
        control: v["control"].as_str()?.to_string(),
        pid: u32::try_from(v["pid"].as_u64()?).ok()?,
    })
}

impl Client {
    pub fn new(base: &str, token: &str) -> Result<Client, ControlError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ControlError::Io(format!("cannot start an HTTP client: {e}")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            http,
        })
    }

    /// The client for the server that owns `dir` (pid `pid`): its address from
    /// `server.json`, the local admin token from `control.token` — sent only once the server
    /// at that address has shown it is this directory's ([`Client::check_identity`]).
    pub async fn for_data_dir(dir: &DataDir, pid: u32) -> Result<Client, ControlError> {
        let info = dir.server_file();
        let deadline = tokio::time::Instant::now() + DISCOVERY_WAIT;
        let control = loop {
            match published(dir).filter(|p| p.pid == pid) {
                Some(p) => break p.control,
                None if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => {
                    return Err(ControlError::unavailable(
                        "server_unreachable",
                        format!(
                            "{} is owned by modeldeck server pid {pid}, which has not published its control API in {}: is it still starting? If it hangs, stop it (kill {pid})",
                            dir.root().display(),
                            info.display()
                        ),
                    ));
                }
            }
        };
        Client::checked(dir, &control, pid).await
    }

    /// The client for whatever server `server.json` names now (it may have restarted on other
    /// ports), checked as [`Client::for_data_dir`] checks it.
    pub async fn rediscover(dir: &DataDir) -> Result<Client, ControlError> {
        let none = |why: String| {
            ControlError::unavailable(
                "server_unreachable",
                format!(
                    "no server runs for this data directory ({why}): start one with `modeldeck --data-dir {} serve`",
                    dir.root().display()
                ),
            )
        };
        let p = published(dir).ok_or_else(|| none("no server.json".into()))?;
        // SAFETY: signal 0 only asks whether the process exists.
        if unsafe { libc::kill(p.pid as i32, 0) } != 0 {
            return Err(none(format!("its last server, pid {}, has exited", p.pid)));
        }
        Client::checked(dir, &p.control, p.pid).await
    }

    /// A client for `control` once the server there proved to be `dir`'s (whose server is
    /// pid `pid`, named in the refusal so the way out is one `kill` away).
    async fn checked(dir: &DataDir, control: &str, pid: u32) -> Result<Client, ControlError> {
        let token_file = dir.token_file();
        let token = std::fs::read_to_string(&token_file).map_err(|e| {
            ControlError::Io(format!(
                "cannot read the control token {}: {e}; restart the server to recreate it",
                token_file.display()
            ))
        })?;
        let client = Client::new(control, &token)?;
        client.check_identity(dir).await.map_err(|e| match e {
            ControlError::Unavailable {
                code: "wrong_server",
                message,
            } => ControlError::unavailable(
                "wrong_server",
                format!(
                    "{message}; this directory's server is pid {pid}: stop it with `kill {pid}`"
                ),
            ),
            other => other,
        })?;
        Ok(client)
    }

    /// Asks the server at this address which data directory it owns (a call without the
    /// token) and refuses one that is not `dir`'s: another directory's server may have taken
    /// the port since, and must never receive this directory's token.
    pub async fn check_identity(&self, dir: &DataDir) -> Result<(), ControlError> {
        let expected = dir.id().ok_or_else(|| {
            ControlError::Io(format!(
                "{} has no id file ({}); start its server once to write it",
                dir.root().display(),
                dir.id_file().display()
            ))
        })?;
        // A challenge only this client chose, answered with a proof keyed by the token's hash:
        // a server that merely repeats the directory's id (which is no secret) cannot answer.
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| ControlError::Io(format!("the OS random source failed: {e}")))?;
        let challenge = hex::encode(nonce);
        let token_hash = super::tokens::hash(&self.token);
        let path = with_query(
            "identity".into(),
            &[
                ("challenge", &challenge),
                ("key", &super::tokens::key_id(&token_hash)),
            ],
        );
        let req = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .timeout(Duration::from_secs(10));
        let reached: Identity = self.decode_answer(req, false).await?;
        let wrong = |why: String| {
            Err(ControlError::unavailable(
                "wrong_server",
                format!(
                    "the server at {} {why}: the token was not sent; is another modeldeck using this port?",
                    self.base
                ),
            ))
        };
        if reached.id != expected {
            return wrong(format!(
                "belongs to another data directory (id {}, expected {})",
                short_id(&reached.id),
                short_id(&expected)
            ));
        }
        let proof = super::tokens::identity_proof(&token_hash, &expected, &challenge);
        match reached.proof {
            Some(p) if p == proof => Ok(()),
            _ => wrong(
                "claims this data directory but cannot prove it holds its token (if the token was revoked, restart the server to renew control.token)".into(),
            ),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn status(&self) -> Result<Status, ControlError> {
        self.get("status").await
    }

    pub async fn models(&self) -> Result<Vec<ModelSummary>, ControlError> {
        Ok(self.get::<ModelList>("models").await?.models)
    }

    /// A model's description and versions.
    pub async fn model(&self, name: &str) -> Result<ModelDetail, ControlError> {
        self.get(&api_path(&[Seg::Word("models"), Seg::Model(name)])?)
            .await
    }

    /// Imports a version of `name` from a source the server fetches; the version, once the
    /// import operation has ended.
    pub async fn import(
        &self,
        name: &str,
        call: &ImportCall,
    ) -> Result<ModelVersion, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let op: OperationView = self.send(Method::POST, &path, Some(call)).await?;
        self.wait_operation(op).await
    }

    /// Imports a version of `name` from the model file's bytes (named `filename`, whose
    /// extension helps type detection); the version, once imported.
    pub async fn upload(
        &self,
        name: &str,
        filename: &str,
        kind: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<ModelVersion, ControlError> {
        let path = api_path(&[Seg::Word("models"), Seg::Model(name), Seg::Word("versions")])?;
        let mut query = vec![("filename", filename), ("wait", "true")];
        if let Some(k) = kind {
            query.push(("type", k));
        }
        let path = with_query(path, &query);
        let req = self
            .request(Method::POST, &path)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        let op: OperationView = self.decode_answer(req, true).await?;
        self.wait_operation(op).await
    }

    /// Removes one version of `name`, or every version; what went.
    pub async fn remove_model(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Vec<VersionRef>, ControlError> {
        let path = match version {
            Some(v) => api_path(&[
                Seg::Word("models"),
                Seg::Model(name),
                Seg::Word("versions"),
                Seg::Number(v.into()),
            ])?,
            None => api_path(&[Seg::Word("models"), Seg::Model(name)])?,
        };
        let removed: Removed = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(removed.removed)
    }

    pub async fn services(&self) -> Result<Vec<ServiceView>, ControlError> {
        Ok(self.get::<ServiceList>("services").await?.services)
    }

    /// A service; its key in the clear only with `show_key` (the server checks the scope).
    pub async fn service(&self, name: &str, show_key: bool) -> Result<ServiceView, ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        let path = with_query(
            path,
            &[("show_key", if show_key { "true" } else { "false" })],
        );
        self.get(&path).await
    }

    /// Deploys; the service with its key in the clear.
    pub async fn deploy(&self, call: &DeployCall) -> Result<ServiceView, ControlError> {
        ServiceName::parse(&call.name)?;
        self.send(Method::POST, "services", Some(call)).await
    }

    pub async fn delete_service(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("services"), Seg::Service(name)])?;
        let _: Deleted = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    /// A new key for the service; the answer carries it.
    pub async fn rotate_key(&self, name: &str) -> Result<Service, ControlError> {
        let path = api_path(&[
            Seg::Word("services"),
            Seg::Service(name),
            Seg::Word("rotate-key"),
        ])?;
        let view: ServiceView = self.send(Method::POST, &path, None::<&()>).await?;
        Ok(view.into_service())
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        Ok(self.get::<TokenList>("tokens").await?.tokens)
    }

    /// Creates a token; the answer carries its secret, shown this once.
    pub async fn create_token(
        &self,
        name: &str,
        scope: Scope,
    ) -> Result<TokenCreated, ControlError> {
        let call = TokenCall {
            name: name.to_string(),
            scope: scope.to_string(),
        };
        self.send(Method::POST, "tokens", Some(&call)).await
    }

    pub async fn revoke_token(&self, name: &str) -> Result<(), ControlError> {
        let path = api_path(&[Seg::Word("tokens"), Seg::Token(name)])?;
        let _: Revoked = self.send(Method::DELETE, &path, None::<&()>).await?;
        Ok(())
    }

    /// Audit events after revision `since`.
    pub async fn events(&self, since: i64, limit: usize) -> Result<EventList, ControlError> {
        let path = with_query(
            "events".into(),
            &[("since", &since.to_string()), ("limit", &limit.to_string())],
        );
        self.get(&path).await
    }

    /// Asks the server to drain and stop; it answers first.
    pub async fn stop(&self) -> Result<Stopping, ControlError> {
        self.send(Method::POST, "stop", None::<&()>).await
    }

    /// Opens the change stream (server-sent events); the caller reads the body.
    pub async fn watch(&self) -> Result<reqwest::Response, ControlError> {
        let response = self
            .request(Method::GET, "watch")
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e, false))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_of(response).await)
        }
    }

    /// Follows an operation until it ends; its result as `T`, or its error.
    async fn wait_operation<T: DeserializeOwned>(
        &self,
        op: OperationView,
    ) -> Result<T, ControlError> {
        let mut op = op;
        loop {
            match op.state.as_str() {
                "succeeded" => return decode(op.result.unwrap_or(Value::Null)),
                "failed" => {
                    let e = op.error.unwrap_or(ErrorBody {
                        code: "failed".into(),
                        message: "the operation failed".into(),
                        field: None,
                    });
                    return Err(ControlError::from_answer(422, e.code, e.message, e.field));
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let id = op.id.parse::<u64>().map_err(|_| {
                bad_answer(format!(
                    "the server answered an operation without an id: {:?}",
                    op.id
                ))
            })?;
            op = self
                .get(&api_path(&[Seg::Word("operations"), Seg::Number(id)])?)
                .await?;
        }
    }

    /// A request to `path` (under `/api/v1/`) with the token.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlError> {
        self.decode_answer(self.request(Method::GET, path), false)
            .await
    }

    async fn send<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ControlError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.decode_answer(req, true).await
    }

    /// Sends a built request and decodes its answer; non-2xx answers become the server's error.
    async fn decode_answer<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        change: bool,
    ) -> Result<T, ControlError> {
        let response = req.send().await.map_err(|e| {
            // A refused connection never carried the change; a broken one may have.
            unreachable(&self.base, &e, change && !e.is_connect())
        })?;
        if !response.status().is_success() {
            return Err(error_of(response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.base, &e, change))?;
        serde_json::from_slice(&bytes).map_err(|e| bad_answer(e.to_string()))
    }
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The innermost cause of a failed request ("Connection refused (os error 111)"), which says
/// more in fewer words than reqwest's own message with the URL in it.
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        inner.to_string()
    }
}

fn unreachable(base: &str, e: &reqwest::Error, unsure: bool) -> ControlError {
    ControlError::unavailable(
        "server_unreachable",
        format!(
            "the control API at {base} does not answer ({}){}",
            cause(e),
            if unsure {
                " — the change may or may not have been made: check with `modeldeck models list` or `modeldeck services list` before retrying"
            } else {
                ""
            }
        ),
    )
}

fn bad_answer(detail: String) -> ControlError {
    ControlError::Api {
        status: 502,
        code: "bad_answer".into(),
        message: format!(
            "the server's answer is not what this modeldeck expects ({detail}); are client and server the same version?"
        ),
        field: None,
    }
}

/// The error a non-2xx answer carries, code, field and all.
async fn error_of(response: reqwest::Response) -> ControlError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorAnswer>(&text) {
        Ok(a) => ControlError::from_answer(
            status.as_u16(),
            a.error.code,
            a.error.message,
            a.error.field,
        ),
        Err(_) => ControlError::Api {
            status: status.as_u16(),
            code: "server_error".into(),
            message: format!("the control API answered {status}: {text}"),
            field: None,
        },
    }
}

/// Decodes a value into `T`; a mismatch means client and server disagree.
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ControlError> {
    serde_json::from_value(value).map_err(|e| bad_answer(e.to_string()))
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
