//! `modeldeck serve`: own the data directory, load every service, run the gateway and the
//! control API until SIGINT/SIGTERM, then drain and exit cleanly.
//!
//! Start order matters to clients and to the console: the lock first (a second server fails
//! naming the first), then both listeners, then `server.json` (written by rename, so a reader
//! never sees half of it) — only then is the server discoverable. Services answer 503 while
//! their models load and each version fails on its own, never blocking the others.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::api::{self, Api};
use super::{ControlError, Core, Role};
use crate::config::{self, DataDir};
use crate::gateway::{self, Gateway, Routing};

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub gateway: Option<SocketAddr>,
    pub control: Option<SocketAddr>,
}

pub async fn serve(data_dir: DataDir, options: ServeOptions) -> Result<(), ControlError> {
    serve_until(data_dir, options, wait_for_signal()).await
}

/// [`serve`] until `stop` resolves instead of a signal (the embedded console runs it so).
pub async fn serve_until(
    data_dir: DataDir,
    options: ServeOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ControlError> {
    let core = Core::open(data_dir, Role::Server)?;
    let settings = core.settings().clone();
    let gateway_addr = options.gateway.unwrap_or(settings.gateway);
    let control_addr = options.control.unwrap_or(settings.control);
    let gateway_listener = listener(config::bind(gateway_addr, "gateway")?)?;
    let control_listener = listener(config::bind(control_addr, "control")?)?;
    let gateway_url = url(&gateway_listener)?;
    let control_url = url(&control_listener)?;

    core.ensure_local_admin(&core.data_dir().token_file())
        .await?;
    let core = Arc::new(core);

    let routing = Arc::new(Routing::new(core.data_dir().root()));
    let services = core.services()?;
    // At start nothing waits for the loads: each service answers as soon as its own versions
    // are ready, and a broken artifact fails only its version.
    drop(api::load_all(routing.publish(&services)));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let api = Arc::new(Api::new(
        Arc::clone(&core),
        Arc::clone(&routing),
        stop_rx.clone(),
        gateway_url.clone(),
    )?);
    let info = core.data_dir().server_file();
    write_server_json(&info, &gateway_url, &control_url)?;
    tracing::info!(gateway = %gateway_url, control = %control_url, services = services.len(), "serving");

    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let gateway_task = tokio::spawn(gateway::server::serve(
        gateway_listener,
        Arc::new(Gateway::new(Arc::clone(&routing))),
        stopped(stop_rx.clone()),
    ));
    let control_task = tokio::spawn(gateway::server::run(
        control_listener,
        "control",
        move |req| Arc::clone(&api).handle(req),
        stopped(stop_rx),
    ));

    stop.await;
    tracing::info!("stopping: draining in-flight requests");
    let _ = stop_tx.send(true);
    let _ = gateway_task.await;
    let _ = control_task.await;
    let _ = std::fs::remove_file(&info);
    tracing::info!("stopped");
    Ok(())
}

fn listener(l: std::net::TcpListener) -> Result<tokio::net::TcpListener, ControlError> {
    l.set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(l))
        .map_err(|e| ControlError::BadRequest(format!("cannot listen: {e}")))
}

fn url(l: &tokio::net::TcpListener) -> Result<String, ControlError> {
    let addr = l
        .local_addr()
        .map_err(|e| ControlError::BadRequest(format!("cannot listen: {e}")))?;
    Ok(format!("http://{addr}"))
}

fn write_server_json(path: &PathBuf, gateway: &str, control: &str) -> Result<(), ControlError> {
    let body = json!({
        "gateway": gateway,
        "control": control,
        "pid": std::process::id(),
        "started_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, format!("{body}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ControlError::BadRequest(format!("cannot write {}: {e}", path.display())))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
