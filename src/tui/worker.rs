//! The console's hands: effects from [`super::update`] become control API calls, and their
//! answers come back as messages. Each effect runs in its own task, so a long import never
//! holds up a reload. A second task follows the change stream and turns every change into
//! [`Msg::Changed`]; when the stream breaks it says so ([`Msg::Connection`]) and reconnects
//! with a growing pause, so a lost server is shown and retried, never a crash.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

use super::update::{Effect, Msg};
use crate::control::ControlError;
use crate::control::client::{Client, decode};
use crate::domain::{CONCURRENCY, MAX_BATCH_ROWS, Resources, THREADS, TIMEOUT_MS};

/// The sample models the demo loads (compiled in, so an installed binary has them too).
const DEMO_MODELS: &[(&str, &str, &str)] = &[
    (
        "iris",
        "iris.pmml",
        include_str!("../../assets/iris/iris.pmml"),
    ),
    (
        "diabetes",
        "diabetes.pmml",
        include_str!("../../assets/diabetes/diabetes.pmml"),
    ),
    (
        "iris-lr",
        "iris-lr.pmml",
        include_str!("../../assets/iris-lr/iris-lr.pmml"),
    ),
];

pub struct Worker {
    client: Arc<Client>,
    to_ui: UnboundedSender<Msg>,
}

impl Worker {
    pub fn new(client: Arc<Client>, to_ui: UnboundedSender<Msg>) -> Worker {
        Worker { client, to_ui }
    }

    /// Runs `effect` in the background; its outcome arrives as a message.
    pub fn run(&self, effect: Effect) {
        let (client, tx) = (Arc::clone(&self.client), self.to_ui.clone());
        tokio::spawn(async move {
            let msg = perform(&client, effect).await;
            if let Some(m) = msg {
                let _ = tx.send(m);
            }
        });
    }

    /// Follows the change stream until the UI goes away.
    pub fn watch(&self) {
        let (client, tx) = (Arc::clone(&self.client), self.to_ui.clone());
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(500);
            loop {
                let why = follow(&client, &tx).await;
                if tx.send(Msg::Connection(Err(why))).is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                if tx.is_closed() {
                    return;
                }
            }
        });
    }
}

/// Reads the stream until it breaks; returns why.
async fn follow(client: &Client, tx: &UnboundedSender<Msg>) -> String {
    let response = match client.request(Method::GET, "watch").send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return format!("the change stream answered {}", r.status()),
        Err(e) => return format!("cannot reach {}: {}", client.base(), short(&e.to_string())),
    };
    let _ = tx.send(Msg::Connection(Ok(())));
    let mut body = response.bytes_stream();
    let mut pending = String::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return "the change stream broke off".into();
        };
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let frame: String = pending.drain(..end + 2).collect();
            if frame.lines().any(|l| l == "event: change") && tx.send(Msg::Changed).is_err() {
                return "closed".into();
            }
        }
    }
    "the server closed the change stream".into()
}

fn short(text: &str) -> &str {
    text.split(": ").next().unwrap_or(text)
}

fn done(result: Result<String, ControlError>) -> Option<Msg> {
    Some(Msg::Done(result.map_err(|e| e.to_string())))
}

async fn perform(client: &Client, effect: Effect) -> Option<Msg> {
    match effect {
        Effect::Reload => Some(match snapshot(client).await {
            Ok(m) => m,
            Err(e) => Msg::Connection(Err(e.to_string())),
        }),
        Effect::LoadVersions(name) => {
            let result = client
                .model(&name)
                .await
                .and_then(|mut v| decode(v["versions"].take()))
                .map_err(|e| e.to_string());
            Some(Msg::Versions(name, result))
        }
        Effect::Import { source, name, kind } => {
            let body = json!({"source": source, "type": (!kind.is_empty()).then_some(kind)});
            done(
                client
                    .import(&name, &body)
                    .await
                    .map(|v| format!("imported {name}:{}", v["version"])),
            )
        }
        Effect::Deploy {
            name,
            model,
            threads,
            concurrency,
            timeout_ms,
            max_batch_rows,
        } => {
            let result = async {
                let resources = Resources::from_values(
                    Some(THREADS.parse(&threads)?),
                    Some(CONCURRENCY.parse(&concurrency)?),
                    Some(TIMEOUT_MS.parse(&timeout_ms)?),
                    Some(MAX_BATCH_ROWS.parse(&max_batch_rows)?),
                )?;
                let s = client.deploy(&name, &model, &resources).await?;
                Ok(format!(
                    "deployed {name} at {}",
                    s["host"].as_str().unwrap_or("?")
                ))
            };
            done(result.await)
        }
        Effect::DeleteVersion(model, version) => done(
            client
                .remove_model(&model, Some(version))
                .await
                .map(|_| format!("deleted {model}:{version}")),
        ),
        Effect::DeleteService(name) => done(
            client
                .delete_service(&name)
                .await
                .map(|_| format!("deleted service {name}")),
        ),
        Effect::RotateKey(name) => done(
            client
                .rotate_key(&name)
                .await
                .map(|_| format!("{name} has a new key (v shows it)")),
        ),
        Effect::RevealKey(name) => match client.service(&name, true).await {
            Ok(v) => Some(Msg::RevealedKey(
                name,
                v["key"].as_str().unwrap_or_default().to_string(),
            )),
            Err(e) => done(Err(e)),
        },
        Effect::Demo => done(demo(client).await),
        // The loop itself handles these.
        Effect::Copy(_) | Effect::Theme(_) | Effect::Suspend | Effect::Quit { .. } => None,
    }
}

async fn snapshot(client: &Client) -> Result<Msg, ControlError> {
    let status = client.call(Method::GET, "status", None).await?;
    let mut models = client.call(Method::GET, "models", None).await?;
    let mut services = client.call(Method::GET, "services", None).await?;
    Ok(Msg::Snapshot {
        models: decode(models["models"].take())?,
        services: decode(services["services"].take())?,
        environment: status["environment"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        gateway: status["gateway"].as_str().unwrap_or_default().to_string(),
        read_only: status["caller"]["scope"] == "viewer",
    })
}

/// Uploads the sample models and deploys the iris tree as service `iris`.
async fn demo(client: &Client) -> Result<String, ControlError> {
    for (name, file, text) in DEMO_MODELS {
        client.upload(name, file, text.as_bytes().to_vec()).await?;
    }
    client.deploy("iris", "iris", &Resources::default()).await?;
    Ok("loaded 3 sample models and deployed service iris (2 shows it)".into())
}
