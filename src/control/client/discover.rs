//! Finding the data directory's server and making sure it is that directory's before the
//! token goes to it: `server.json` says where it listens, `GET /identity` says which
//! directory it serves, and an HMAC over a fresh challenge, keyed by the token's hash, proves
//! it holds the token without the token travelling.

use std::time::Duration;

use serde_json::Value;

use super::{Client, DISCOVERY_WAIT, with_query};
use crate::config::DataDir;
use crate::control::ControlError;
use crate::control::contract::Identity;

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

fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The innermost cause of a failed request ("Connection refused (os error 111)"), which says
impl Client {
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

    /// Asks the server at this address which data directory it owns and to prove it holds
    /// this client's token (both without the token), and refuses one that is not `dir`'s:
    /// another directory's server may have taken the port since, and must never receive the
    /// token.
    pub async fn check_identity(&self, dir: &DataDir) -> Result<(), ControlError> {
        let expected = dir.id().ok_or_else(|| {
            ControlError::Io(format!(
                "{} has no id file ({}); start its server once to write it",
                dir.root().display(),
                dir.id_file().display()
            ))
        })?;
        self.prove(Some(&expected)).await
    }

    /// For `--connect`, where no data directory says which id to expect: the server must still
    /// prove it holds the token before the token is sent.
    pub async fn check_remote(&self) -> Result<(), ControlError> {
        self.prove(None).await
    }

    async fn prove(&self, expected: Option<&str>) -> Result<(), ControlError> {
        // A challenge only this client chose, answered with a proof keyed by the token's hash:
        // a server that merely repeats the directory's id (which is no secret) cannot answer.
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| ControlError::Io(format!("the OS random source failed: {e}")))?;
        let challenge = hex::encode(nonce);
        let token_hash = crate::control::tokens::hash(&self.token);
        let path = with_query(
            "identity".into(),
            &[
                ("challenge", &challenge),
                ("key", &crate::control::tokens::key_id(&token_hash)),
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
                    "the server at {} {why}, so the token was not sent (is another modeldeck using this port?)",
                    self.base
                ),
            ))
        };
        if let Some(expected) = expected
            && reached.id != expected
        {
            return wrong(format!(
                "belongs to another data directory (id {}, expected {})",
                short_id(&reached.id),
                short_id(expected)
            ));
        }
        let proof = crate::control::tokens::identity_proof(&token_hash, &reached.id, &challenge);
        match reached.proof {
            Some(p) if p == proof => Ok(()),
            _ => wrong(
                "does not prove it holds this token: it is not this directory's server, or the token was revoked (then restart the server to renew control.token, or ask an admin for a new token)".into(),
            ),
        }
    }
}
