//! The console's hands: [`Call`]s from [`super::update`] become control API calls, and their
//! answers come back as messages. Each call runs in its own task, so a long import never
//! holds up a reload. A second task follows the change stream and turns every change into
//! [`Msg::Changed`]; when the stream breaks it says why ([`Msg::Connection`]) and reconnects
//! with a growing pause. A console attached to a data directory re-reads `server.json` each
//! time (the server may have restarted on other ports) and checks the server it finds is
//! that directory's before the token goes there.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::effect::{Call, Done, Failure, Msg};
use super::state::{EVENTS_KEPT, List};
use super::text;
use crate::config::DataDir;
use crate::control::ControlError;
use crate::control::client::Client;
use crate::control::contract::{DeployCall, EventList, ImportCall, JobCall, MonitorQuery};
use crate::domain::{CONCURRENCY, MAX_BATCH_ROWS, Resources, THREADS, TIMEOUT_MS, curl_line};

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

/// The client in use; replaced when the data directory's server moves.
type Shared = Arc<RwLock<Arc<Client>>>;

/// What the live poll asks for (set by [`Call::Watch`]).
#[derive(Debug, Clone, Default)]
struct Watching {
    service: Option<String>,
    window: i64,
    /// The history must be fetched on the next poll (what is asked for changed).
    changed: bool,
}

/// Longer windows change slowly: their history is fetched this often, not every second.
const SLOW_HISTORY: Duration = Duration::from_secs(15);

pub struct Worker {
    watching: Arc<std::sync::Mutex<Watching>>,
    poke: Arc<tokio::sync::Notify>,
    client: Shared,
    to_ui: UnboundedSender<Msg>,
    /// The data directory whose server this console follows (none for `--connect`).
    dir: Option<DataDir>,
    /// Whether the server runs on this machine (then a folder can be imported by its path).
    local: bool,
}

fn current(client: &Shared) -> Arc<Client> {
    match client.read() {
        Ok(c) => Arc::clone(&c),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

impl Worker {
    pub fn new(
        client: Arc<Client>,
        to_ui: UnboundedSender<Msg>,
        dir: Option<DataDir>,
        local: bool,
    ) -> Worker {
        Worker {
            watching: Arc::default(),
            poke: Arc::default(),
            client: Arc::new(RwLock::new(client)),
            to_ui,
            dir,
            local,
        }
    }

    /// Runs `call` in the background; its outcome arrives as a message.
    pub fn run(&self, call: Call) {
        if let Call::Watch { service, window } = call {
            if let Ok(mut w) = self.watching.lock() {
                *w = Watching {
                    service,
                    window,
                    changed: true,
                };
            }
            self.poke.notify_one();
            return;
        }
        let (client, tx, local) = (current(&self.client), self.to_ui.clone(), self.local);
        tokio::spawn(async move {
            if let Some(m) = perform(&client, call, local).await {
                let _ = tx.send(m);
            }
        });
    }

    /// Follows the change stream until the UI goes away.
    pub fn watch(&self) {
        let (shared, tx, dir) = (
            Arc::clone(&self.client),
            self.to_ui.clone(),
            self.dir.clone(),
        );
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(500);
            loop {
                let client = current(&shared);
                let mut why = follow(&client, &tx).await;
                if tx.is_closed() {
                    return;
                }
                if let Some(dir) = &dir {
                    match Client::rediscover(dir).await {
                        Ok(found) if found.base() != client.base() => {
                            let label = text::attached(host_port(found.base()));
                            if let Ok(mut c) = shared.write() {
                                *c = Arc::new(found);
                            }
                            let _ = tx.send(Msg::Relinked(label));
                            pause = Duration::from_millis(500);
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => why = e.to_string(),
                    }
                }
                if tx.send(Msg::Connection(Err(why))).is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        });
    }
}

impl Worker {
    /// Polls the live figures once a second (and at once when [`Call::Watch`] changes what
    /// to ask for) until the UI goes away. A failed poll is skipped: the change stream is what
    /// reports a lost connection, and the figures go stale on screen by themselves.
    pub fn poll_metrics(&self) {
        let (shared, tx) = (Arc::clone(&self.client), self.to_ui.clone());
        let (watching, poke) = (Arc::clone(&self.watching), Arc::clone(&self.poke));
        tokio::spawn(async move {
            let mut since: Option<i64> = None;
            let mut base = String::new();
            let mut history_at: Option<tokio::time::Instant> = None;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = poke.notified() => {}
                }
                if tx.is_closed() {
                    return;
                }
                let client = current(&shared);
                if client.base() != base {
                    // Another server: its samples start over.
                    base = client.base().to_string();
                    since = None;
                }
                let ask = watching
                    .lock()
                    .map(|mut w| {
                        let ask = w.clone();
                        w.changed = false;
                        ask
                    })
                    .unwrap_or_default();
                let due = ask.changed
                    || ask.window <= crate::domain::period::WINDOWS[0]
                    || history_at.is_none_or(|t| t.elapsed() >= SLOW_HISTORY);
                let history = ask.service.clone().filter(|_| due);
                let query = MonitorQuery {
                    since,
                    window: history.as_ref().map(|_| format!("{}s", ask.window.max(60))),
                    service: history.clone(),
                    ..MonitorQuery::default()
                };
                if let Ok(view) = client.monitor(&query).await {
                    if history.is_some() {
                        history_at = Some(tokio::time::Instant::now());
                    }
                    since = Some(view.at);
                    if tx.send(Msg::Metrics(Box::new(view))).is_err() {
                        return;
                    }
                }
            }
        });
    }
}

pub fn host_port(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).trim_end_matches('/')
}

/// Reads the stream until it breaks; returns why.
async fn follow(client: &Client, tx: &UnboundedSender<Msg>) -> String {
    let response = match client.watch().await {
        Ok(r) => r,
        Err(e) => return e.to_string(),
    };
    let _ = tx.send(Msg::Connection(Ok(())));
    let mut body = response.bytes_stream();
    let mut pending = String::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return text::stream_broke(client.base());
        };
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let frame: String = pending.drain(..end + 2).collect();
            if frame.lines().any(|l| l == "event: change") && tx.send(Msg::Changed).is_err() {
                return "closed".into();
            }
        }
    }
    text::stream_closed(client.base())
}

/// Events after `after`; for 0, the newest [`EVENTS_KEPT`] (the log can be long).
async fn events(client: &Client, after: i64) -> Result<EventList, ControlError> {
    let after = if after > 0 {
        after
    } else {
        let newest = client.events(i64::MAX, 0).await?.revision;
        (newest - EVENTS_KEPT as i64).max(0)
    };
    client.events(after, EVENTS_KEPT).await
}

fn done(result: Result<Done, ControlError>) -> Option<Msg> {
    Some(Msg::Done(result.map_err(Failure::from)))
}

async fn perform(client: &Client, call: Call, local: bool) -> Option<Msg> {
    match call {
        Call::Reload => Some(match snapshot(client).await {
            Ok(m) => m,
            Err(e) => Msg::Connection(Err(e.to_string())),
        }),
        Call::Watch { .. } => None,
        Call::LoadEvents(after) => Some(Msg::Events(
            events(client, after).await.map_err(Failure::from),
        )),
        Call::LoadVersions(name) => {
            let result = client.model(&name).await.map(|m| m.versions);
            Some(Msg::Versions(name, result.map_err(Failure::from)))
        }
        Call::LoadTraffic(service) => Some(Msg::Traffic {
            result: client
                .traffic(&service)
                .await
                .map(Box::new)
                .map_err(Failure::from),
            service,
            changed: false,
        }),
        Call::ChangeTraffic { service, call } => Some(Msg::Traffic {
            result: client
                .change_traffic(&service, &call)
                .await
                .map(Box::new)
                .map_err(Failure::from),
            service,
            changed: true,
        }),
        Call::LoadSignature(name) => {
            let result = client
                .service(&name, false)
                .await
                .map(|v| v.serving.signature);
            Some(Msg::Signature(name, result.map_err(Failure::from)))
        }
        Call::Import { source, name, kind } => {
            done(import(client, &source, &name, &kind, local).await)
        }
        Call::Deploy {
            name,
            model,
            threads,
            concurrency,
            timeout_ms,
            max_batch_rows,
            upstream,
        } => {
            let result = async {
                let resources = Resources::from_values(
                    Some(THREADS.parse(&threads)?),
                    Some(CONCURRENCY.parse(&concurrency)?),
                    Some(TIMEOUT_MS.parse(&timeout_ms)?),
                    Some(MAX_BATCH_ROWS.parse(&max_batch_rows)?),
                )?;
                crate::domain::ServiceName::parse(&name)
                    .map_err(|e| ControlError::field("name", e.to_string()))?;
                let model = model.parse().map_err(|e: crate::domain::ModelRefError| {
                    ControlError::field("model", e.to_string())
                })?;
                let request = crate::control::DeployRequest {
                    name: name.clone(),
                    model,
                    resources,
                    upstream: (!upstream.is_empty()).then_some(upstream),
                };
                let s = client.deploy(&DeployCall::from(&request)).await?;
                Ok(Done {
                    text: text::deployed(&name, &s.service.host),
                    created: Some((List::Services, name.clone())),
                })
            };
            done(result.await)
        }
        Call::ServeBy {
            model,
            version,
            upstream,
        } => done(
            client
                .serve_saved_model(&model, version, &upstream)
                .await
                .map(|v| {
                    let url = v.served_by.map(|s| s.url).unwrap_or_default();
                    Done::said(text::served_by(&model, version, &url))
                }),
        ),
        Call::DeleteVersion(model, version) => done(
            client
                .remove_model(&model, Some(version))
                .await
                .map(|_| Done::said(text::deleted_version(&model, version))),
        ),
        Call::DeleteModel(model) => done(
            client
                .remove_model(&model, None)
                .await
                .map(|gone| Done::said(text::deleted_model(&model, gone.len()))),
        ),
        Call::DeleteService(name) => done(
            client
                .delete_service(&name)
                .await
                .map(|()| Done::said(text::deleted_service(&name))),
        ),
        Call::RotateKey(name) => done(
            client
                .rotate_key(&name)
                .await
                .map(|_| Done::said(text::new_key(&name))),
        ),
        Call::RevealKey(name) => match client.service(&name, true).await {
            Ok(v) => Some(Msg::RevealedKey(name, v.key)),
            Err(e) => done(Err(e)),
        },
        Call::CopyRequest(name) => {
            let for_line = name.clone();
            let line = async move {
                let v = client.service(&for_line, true).await?;
                if v.upstream_only() {
                    // Nothing here knows what the remote model takes: no line that would fail.
                    return Err(ControlError::invalid(
                        "no_example",
                        text::no_upstream_example(v.service.name.as_str()),
                    ));
                }
                let body = v.serving.example_body();
                Ok::<_, ControlError>(curl_line(
                    &v.gateway,
                    v.service.name.as_str(),
                    &v.service.host,
                    &v.key,
                    &body,
                ))
            };
            Some(Msg::CopyReady(name, line.await.map_err(Failure::from)))
        }
        Call::Demo => done(demo(client).await),
        Call::LoadJobs => Some(Msg::Jobs(client.jobs().await.map_err(Failure::from))),
        Call::LoadJob(name) => Some(Msg::Job(
            name.clone(),
            client.job(&name).await.map(Box::new).map_err(Failure::from),
        )),
        Call::ChangeJob { name, call, said } => done(
            client
                .change_job(&name, &call)
                .await
                .map(|v| Done::said(v.started.map_or(said, |r| text::run_started(&r)))),
        ),
        Call::EditChain { name, spec, said } => Some(Msg::Done(
            client
                .change_job(&name, &JobCall::Edit { spec: *spec })
                .await
                .map(|_| Done::said(said))
                .map_err(|e| {
                    let mut f = Failure::from(e);
                    f.message = text::chain_refused(&f.message);
                    f
                }),
        )),
        Call::CancelRun(id) => done(
            client
                .cancel_run(id)
                .await
                .map(|r| Done::said(text::run_cancelled(&r))),
        ),
        Call::DeleteJob(name) => done(
            client
                .delete_job(&name)
                .await
                .map(|()| Done::said(text::deleted_job(&name))),
        ),
        Call::CreateJob(fields) => done(create_job(client, fields).await),
        Call::StopServer => Some(match client.stop().await {
            Ok(s) => Msg::StopAsked(s.pid),
            Err(e) => Msg::StopFailed(Failure::from(e)),
        }),
    }
}

async fn snapshot(client: &Client) -> Result<Msg, ControlError> {
    let status = client.status().await?;
    Ok(Msg::Snapshot {
        models: client.models().await?,
        services: client.services().await?,
        environment: status.environment,
        gateway: status.gateway,
        scope: status.caller.scope,
    })
}

/// Imports what the form names: a URL or bucket goes to the server to fetch; anything else is
/// a path on *this* machine (`~` and relative paths resolved here), whose file is uploaded —
/// the server may be elsewhere. A folder cannot be uploaded, so it is sent as a path only when
/// the server runs on this machine.
async fn import(
    client: &Client,
    source: &str,
    name: &str,
    kind: &str,
    local: bool,
) -> Result<Done, ControlError> {
    crate::domain::ModelName::parse(name)
        .map_err(|e| ControlError::field("name", e.to_string()))?;
    let kind = (!kind.is_empty()).then(|| kind.to_string());
    let created = |v: crate::domain::ModelVersion| Done {
        text: text::imported(&v.name, v.version),
        created: Some((List::Models, v.name)),
    };
    if source.contains("://") {
        let call = ImportCall {
            source: source.to_string(),
            kind,
            ..ImportCall::default()
        };
        return client.import(name, &call).await.map(created);
    }
    let path = resolve(source)?;
    let meta = std::fs::metadata(&path)
        .map_err(|e| ControlError::field("source", format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        if !local {
            return Err(ControlError::field(
                "source",
                format!(
                    "{} is a folder on this machine, and the server is on another: import it there (`modeldeck models import`), or from a URL",
                    path.display()
                ),
            ));
        }
        let call = ImportCall {
            source: path.display().to_string(),
            kind,
            ..ImportCall::default()
        };
        return client.import(name, &call).await.map(created);
    }
    client
        .upload_file(name, &path, kind.as_deref())
        .await
        .map(created)
}

/// A path as typed, made absolute here: `~/x` under $HOME, relative under the console's
/// working directory.
fn resolve(typed: &str) -> Result<std::path::PathBuf, ControlError> {
    if typed.is_empty() {
        return Err(ControlError::field("source", "type a file path or a URL"));
    }
    let expanded = match typed.strip_prefix("~/").or((typed == "~").then_some("")) {
        Some(rest) => {
            let home = std::env::var_os("HOME")
                .ok_or_else(|| ControlError::field("source", "~ needs $HOME, which is not set"))?;
            Path::new(&home).join(rest)
        }
        None => Path::new(typed).to_path_buf(),
    };
    std::path::absolute(&expanded)
        .map_err(|e| ControlError::field("source", format!("{typed}: {e}")))
}

/// Uploads the sample models and deploys the iris tree as service `iris`.
/// The job form, read as `jobs create` reads its flags.
async fn create_job(
    client: &Client,
    fields: Vec<(&'static str, String)>,
) -> Result<Done, ControlError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let name = get("name")
        .ok_or_else(|| crate::control::jobs::invalid("name", text::JOB_NEEDS_NAME.into()))?;
    crate::domain::ModelName::parse(&name)
        .map_err(|e| crate::control::jobs::invalid("name", e.to_string()))?;
    let flags = crate::cli::jobs::JobFlags {
        model: get("model"),
        input: get("input"),
        output: get("output"),
        steps: get("steps")
            .map(|s| s.split(';').map(|t| t.trim().to_string()).collect())
            .unwrap_or_default(),
        cron: get("schedule"),
        start: get("start"),
        tz: get("tz"),
        ..Default::default()
    };
    let spec = crate::cli::jobs::apply(flags, None)?;
    let view = client
        .create_job(&crate::control::contract::CreateJob {
            name: name.clone(),
            spec,
        })
        .await?;
    Ok(Done {
        text: text::job_created(&name, &view.schedule),
        created: Some((List::Jobs, name)),
    })
}

async fn demo(client: &Client) -> Result<Done, ControlError> {
    for (name, file, text) in DEMO_MODELS {
        client
            .upload(name, file, None, text.as_bytes().to_vec())
            .await?;
    }
    let request = crate::control::DeployRequest {
        name: "iris".into(),
        model: "iris".parse().map_err(ControlError::from)?,
        resources: Resources::default(),
        upstream: None,
    };
    client.deploy(&DeployCall::from(&request)).await?;
    Ok(Done {
        text: text::DEMO_DONE.into(),
        created: Some((List::Services, "iris".into())),
    })
}
