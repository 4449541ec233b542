//! Finding the server the console talks to (DESIGN.md "The console"): attach to the data
//! directory's running server; or, if none runs, start `modeldeck serve` detached in its own
//! session (so closing the terminal or losing SSH never stops it) and attach; or run the
//! server inside this process (`--embedded`); or attach to a remote one (`--connect URL
//! --token-file F`, e.g. through an SSH tunnel).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::DataDir;
use crate::control::client::Client;
use crate::control::owner::COMMAND_WAIT;
use crate::control::{ControlError, OwnerError, OwnerLock, Role, ServeOptions, serve_until};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub embedded: bool,
    pub connect: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// How the console reached its server, and what it must do with it on quit.
pub struct Link {
    pub client: Arc<Client>,
    /// For the title bar: `attached 127.0.0.1:8502`, `started …` or `embedded`.
    pub label: String,
    /// The server this console started (and may stop on quit).
    pub started: Option<u32>,
    /// The data directory whose server this is (none for `--connect`): on reconnect, its
    /// `server.json` says where the server is now.
    pub dir: Option<DataDir>,
    /// The server runs on this machine.
    pub local: bool,
    /// The in-process server: its stop switch and task.
    pub embedded: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

use super::text;
use super::worker::host_port;

pub async fn connect(opts: &Options) -> Result<Link, ControlError> {
    if let Some(url) = &opts.connect {
        let file = opts.token_file.as_ref().ok_or_else(|| {
            ControlError::field(
                "token_file",
                "--connect needs --token-file FILE with a control token (`modeldeck tokens create NAME` on the server)",
            )
        })?;
        let token = std::fs::read_to_string(file).map_err(|e| {
            ControlError::Io(format!(
                "cannot read the token file {}: {e}",
                file.display()
            ))
        })?;
        let client = Client::new(url, &token)?;
        client.check_remote().await?;
        return Ok(Link {
            label: text::attached(host_port(url)),
            client: Arc::new(client),
            started: None,
            dir: None,
            local: false,
            embedded: None,
        });
    }
    let dir = DataDir::open(opts.data_dir.as_deref())?;
    if opts.embedded {
        return embedded(dir).await;
    }
    match OwnerLock::acquire(dir.root(), &dir.lock_file(), Role::Command, COMMAND_WAIT) {
        Err(OwnerError::Held {
            server: Some(pid), ..
        }) => {
            let client = Client::for_data_dir(&dir, pid).await?;
            Ok(Link {
                label: text::attached(host_port(client.base())),
                client: Arc::new(client),
                started: None,
                dir: Some(dir),
                local: true,
                embedded: None,
            })
        }
        Err(e) => Err(e.into()),
        Ok(lock) => {
            drop(lock);
            let (pid, mut child) = start_server(&dir)?;
            // Wait for it to publish its address, or say why it could not start.
            let client = tokio::select! {
                c = Client::for_data_dir(&dir, pid) => c?,
                why = exited(&mut child, &dir) => return Err(why),
            };
            Ok(Link {
                label: text::started(host_port(client.base())),
                client: Arc::new(client),
                started: Some(pid),
                dir: Some(dir),
                local: true,
                embedded: None,
            })
        }
    }
}

/// Resolves if the started server exits, with the end of its log as the reason.
async fn exited(child: &mut std::process::Child, dir: &DataDir) -> ControlError {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = dir.root().join("logs").join("serve.log");
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return ControlError::unavailable(
                "server_failed",
                format!(
                    "the server did not start ({status}): {} (log: {})",
                    tail.join(" / "),
                    log.display()
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `modeldeck serve` for `dir` in a new session, logging to `DATA_DIR/logs/`.
fn start_server(dir: &DataDir) -> Result<(u32, std::process::Child), ControlError> {
    let logs = dir.root().join("logs");
    let io = |e: std::io::Error| ControlError::Io(format!("cannot start the server: {e}"));
    std::fs::create_dir_all(&logs).map_err(io)?;
    let log = logs.join("serve.log");
    let exe = std::env::current_exe().map_err(io)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--data-dir")
        .arg(dir.root())
        .arg("serve")
        .arg("--log-file")
        .arg(&log)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .map_err(io)?,
        );
    // SAFETY: setsid is async-signal-safe; it detaches the server from this terminal so a
    // hang-up never reaches it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(io)?;
    Ok((child.id(), child))
}

async fn embedded(dir: DataDir) -> Result<Link, ControlError> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let options = ServeOptions {
        gateway: Some(([127, 0, 0, 1], 0).into()),
        control: Some(([127, 0, 0, 1], 0).into()),
    };
    let for_server = dir.clone();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        if let Err(e) = serve_until(for_server, options, stop).await {
            tracing::error!(error = %e, "embedded server stopped");
        }
    });
    let client = Client::for_data_dir(&dir, std::process::id()).await?;
    Ok(Link {
        label: "embedded".into(),
        client: Arc::new(client),
        started: None,
        dir: None,
        local: true,
        embedded: Some((stop_tx, task)),
    })
}

impl Link {
    /// On quit: stop what must stop (the in-process server always; a started one if asked).
    pub async fn close(self, stop_started: bool) {
        if let Some((stop, task)) = self.embedded {
            let _ = stop.send(true);
            let _ = task.await;
        }
        if let (true, Some(pid)) = (stop_started, self.started) {
            // SAFETY: signalling the server this console started.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
    }
}
