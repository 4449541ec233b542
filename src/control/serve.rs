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
use crate::config::{self, DataDir, Limits};
use crate::gateway::{self, Gateway, Routing};
use crate::monitor::Monitor;
use crate::net::{self, BodyLimits, ListenerConfig, Stopping};

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
    routing.secrets.replace(core.secret_values()?);
    let (revision, services) = core.snapshot()?;
    // At start nothing waits for the loads: each service answers as soon as its own versions
    // are ready, and a broken artifact fails only its version.
    drop(api::load_all(routing.publish(revision, &services)));

    let limits = settings.limits.clone();
    let (mut gateway_config, control_config) = listener_configs(&limits);
    gateway_config.tag_peer = settings.log.access;
    let (stop_tx, stopping) = Stopping::channel();
    let monitor = Arc::new(Monitor::new(
        Arc::clone(&routing),
        core.store().clone(),
        settings.monitor.clone(),
    ));
    let api = Arc::new(Api::new(
        Arc::clone(&core),
        Arc::clone(&routing),
        Some(Arc::clone(&monitor)),
        stopping.clone(),
        gateway_url.clone(),
    )?);
    let ticker = {
        let api = Arc::clone(&api);
        monitor
            .start(Box::new(move |revision| api.announce(revision)))
            .map_err(|e| ControlError::Io(format!("cannot start the monitor: {e}")))?
    };
    let info = core.data_dir().server_file();
    write_server_json(&info, &gateway_url, &control_url, api.core.id())?;
    tracing::info!(
        gateway = %gateway_url, control = %control_url, services = services.len(),
        gateway_connections = gateway_config.max_connections,
        control_connections = control_config.max_connections,
        "serving"
    );

    let gateway_task = tokio::spawn(gateway::server::serve(
        gateway_listener,
        Arc::new(Gateway::new(Arc::clone(&routing))),
        gateway_config,
        BodyLimits::from_settings(&limits, limits.max_body_bytes),
        settings.log.access,
        stopping.clone(),
    ));
    let canaries = tokio::spawn(api::canary::drive(Arc::clone(&api), stopping.clone()));
    let scheduler = tokio::spawn(api::jobs::drive(Arc::clone(&api), stopping.clone()));
    let for_calls = Arc::clone(&api);
    let control_task = tokio::spawn(net::serve(
        control_listener,
        control_config,
        move |req| Arc::clone(&for_calls).handle(req),
        stopping,
    ));

    // A signal (or the embedder's stop), or `modeldeck stop` through the API.
    tokio::select! {
        () = stop => {}
        () = api.stop_requested() => {}
    }
    tracing::info!("stopping: draining in-flight requests");
    let _ = stop_tx.send(true);
    let _ = gateway_task.await;
    let _ = control_task.await;
    let _ = canaries.await;
    let _ = scheduler.await;
    // The drained requests' counts, and the partial minute, go to the store before it closes.
    ticker.stop().await;
    let _ = std::fs::remove_file(&info);
    tracing::info!("stopped");
    Ok(())
}

/// Each listener's connection cap, within what the process may open: the soft file limit is
/// raised to the hard one first (as Go's runtime does), and caps that would still not fit
/// beside the store's own files are lowered, with a warning: the control API keeps up to a
/// quarter of what there is, the gateway the rest.
fn listener_configs(limits: &Limits) -> (ListenerConfig, ListenerConfig) {
    let (gateway, control) = fit_connections(
        limits.gateway_connections,
        limits.control_connections,
        raise_file_limit(),
    );
    if (gateway, control) != (limits.gateway_connections, limits.control_connections) {
        tracing::warn!(
            gateway_connections = gateway,
            control_connections = control,
            "limits.gateway_connections and limits.control_connections do not fit in the process's open-file limit, so they were lowered; raise `ulimit -n`"
        );
    }
    let config = |label, max_connections| ListenerConfig {
        label,
        max_connections,
        header_timeout: std::time::Duration::from_secs(limits.header_timeout_secs),
        drain: std::time::Duration::from_secs(limits.drain_secs),
        send_timeout: std::time::Duration::from_secs(limits.send_timeout_secs),
        tag_peer: false,
    };
    (config("gateway", gateway), config("control", control))
}

/// The (gateway, control) caps that fit in `files` open files.
fn fit_connections(gateway: usize, control: usize, files: Option<usize>) -> (usize, usize) {
    /// Files the process needs besides connections: the store, artifacts, logs, listeners.
    const RESERVED: usize = 64;
    let Some(files) = files else {
        return (gateway, control);
    };
    let room = files.saturating_sub(RESERVED).max(2);
    if gateway + control <= room {
        return (gateway, control);
    }
    let control = control.min((room / 4).max(1));
    (gateway.min(room - control).max(1), control)
}

/// Raises the soft open-file limit to the hard one; the limit in force afterwards.
fn raise_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).ok()
}

fn listener(l: std::net::TcpListener) -> Result<tokio::net::TcpListener, ControlError> {
    l.set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(l))
        .map_err(|e| ControlError::Io(format!("cannot listen: {e}")))
}

fn url(l: &tokio::net::TcpListener) -> Result<String, ControlError> {
    let addr = l
        .local_addr()
        .map_err(|e| ControlError::Io(format!("cannot listen: {e}")))?;
    Ok(format!("http://{addr}"))
}

fn write_server_json(
    path: &PathBuf,
    gateway: &str,
    control: &str,
    id: &str,
) -> Result<(), ControlError> {
    let body = json!({
        "id": id,
        "gateway": gateway,
        "control": control,
        "pid": std::process::id(),
        "started_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, format!("{body}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ControlError::Io(format!("cannot write {}: {e}", path.display())))
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

#[cfg(test)]
mod tests {
    use super::fit_connections;

    #[test]
    fn connection_caps_fit_in_the_file_limit() {
        assert_eq!(fit_connections(4096, 256, Some(1 << 20)), (4096, 256));
        assert_eq!(fit_connections(4096, 256, None), (4096, 256));
        assert_eq!(fit_connections(4096, 256, Some(1024)), (720, 240));
        assert_eq!(fit_connections(4096, 256, Some(128)), (48, 16));
        assert_eq!(fit_connections(10, 5, Some(10)), (1, 1));
    }
}
