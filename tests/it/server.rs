//! A real `modeldeck serve` on port 0 for the tests that talk HTTP to it, and small helpers
//! for calling its gateway and control API.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{DataDir, repo_path};

/// A running `modeldeck serve`, stopped with SIGTERM on drop.
pub struct Server {
    pub child: tokio::process::Child,
    pub gateway: String,
    pub control: String,
    pub token: String,
}

impl Server {
    pub async fn start(dir: &DataDir) -> Server {
        Server::start_env(dir, &[]).await
    }

    /// [`Server::start`] with extra environment variables.
    pub async fn start_env(dir: &DataDir, env: &[(&str, &str)]) -> Server {
        let mut cmd = Server::command(dir);
        cmd.envs(env.iter().copied());
        Server::spawned(dir, cmd.spawn().expect("start serve")).await
    }

    /// `modeldeck serve` on free ports for `dir`, logging to the scratch folder, not started.
    pub fn command(dir: &DataDir) -> tokio::process::Command {
        let mut cmd = Server::unlogged(dir);
        cmd.arg("--log-file").arg(dir.scratch.join("serve.log"));
        cmd
    }

    /// [`Server::command`] logging to stderr.
    pub fn unlogged(dir: &DataDir) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(crate::common::BIN);
        cmd.arg("--data-dir")
            .arg(&dir.path)
            .args([
                "serve",
                "--gateway",
                "127.0.0.1:0",
                "--control",
                "127.0.0.1:0",
            ])
            .kill_on_drop(true);
        cmd
    }

    /// Waits for a `serve` started by the caller to publish its addresses.
    pub async fn spawned(dir: &DataDir, child: tokio::process::Child) -> Server {
        let info = dir.path.join("server.json");
        for _ in 0..200 {
            if let Ok(text) = std::fs::read_to_string(&info)
                && let Ok(v) = serde_json::from_str::<Value>(&text)
                && v["pid"].as_u64() == child.id().map(u64::from)
            {
                let gateway = v["gateway"].as_str().expect("gateway url").to_string();
                let control = v["control"].as_str().expect("control url").to_string();
                let token = std::fs::read_to_string(dir.path.join("control.token"))
                    .expect("control.token is written before server.json")
                    .trim()
                    .to_string();
                return Server {
                    child,
                    gateway,
                    control,
                    token,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("serve did not write server.json");
    }

    pub async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid") as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.child.wait().await.expect("serve exits")
    }
}

pub async fn post(
    url: &str,
    host: Option<&str>,
    key: Option<&str>,
    body: &str,
) -> (u16, Value, Option<String>) {
    let client = reqwest::Client::new();
    let mut req = client.post(url).body(body.to_string());
    if let Some(h) = host {
        req = req.header("Host", h);
    }
    if let Some(k) = key {
        req = req.header("Authorization", k);
    }
    let resp = req.send().await.expect("gateway answers");
    let status = resp.status().as_u16();
    let version = resp
        .headers()
        .get("x-modeldeck-version")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value, version)
}

/// Polls the status endpoint until the service's version is ready.
pub async fn wait_ready(gateway: &str, name: &str, key: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("{gateway}/v1/models/{name}"))
            .header("Authorization", key)
            .send()
            .await
            && let Ok(v) = r.json::<Value>().await
            && v["ready"] == json!(true)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never became ready");
}

impl Server {
    /// Sends SIGKILL: no drain, no cleanup, as a crash or the OOM killer would.
    pub async fn kill_9(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// One control API call with `token` (`None`: no Authorization header); status and JSON.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req =
            reqwest::Client::new().request(method, format!("{}/api/v1/{path}", self.control));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control API answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        )
    }

    /// A control API GET with the admin token.
    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self
            .api(reqwest::Method::GET, path, Some(&self.token), None)
            .await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }
}

/// Imports the asset `model` (a path under the repository) as `name`, deploys it as service
/// `name`, starts the server and waits until the service answers; the server and the key.
pub async fn serving(dir: &DataDir, model: &str, name: &str) -> (Server, String) {
    dir.import(repo_path(model).to_str().unwrap(), name).await;
    let key = dir
        .json(&["services", "deploy", name, "--model", name, "--json"])
        .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = Server::start(dir).await;
    wait_ready(&server.gateway, name, &key).await;
    (server, key)
}
