//! Running things: `modeldeck serve`, `modeldeck stop`, and the console (no subcommand).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{ConsoleArgs, block_on, fail};
use std::net::SocketAddr;

use crate::config::DataDir;

pub fn console(data_dir: Option<PathBuf>, args: ConsoleArgs) -> ExitCode {
    // Logs never go over the screen: the embedded server's go to DATA_DIR/logs/console.log.
    if args.embedded
        && let Ok(dir) = DataDir::open(data_dir.as_deref())
    {
        let logs = dir.root().join("logs");
        let _ = std::fs::create_dir_all(&logs);
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("console.log"))
        {
            let file = std::sync::Arc::new(file);
            let _ = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_target(false)
                .with_writer(move || LogFile(std::sync::Arc::clone(&file)))
                .try_init();
        }
    }
    let options = crate::tui::launch::Options {
        data_dir,
        embedded: args.embedded,
        connect: args.connect,
        token_file: args.token_file,
    };
    let appearance = crate::tui::app::Appearance {
        theme: args.theme,
        ascii: args.ascii,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(false, "io", &format!("cannot start: {e}")),
    };
    match runtime.block_on(crate::tui::app::run(options, appearance)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(false, "console", &e),
    }
}

pub fn serve(data_dir: Option<PathBuf>, args: ServeArgs) -> ExitCode {
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = match &args.log_file {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => {
                let file = std::sync::Arc::new(file);
                Box::new(move || Box::new(LogFile(std::sync::Arc::clone(&file))))
            }
            Err(e) => return fail(false, "io", &format!("cannot open {}: {e}", path.display())),
        },
        None => Box::new(|| Box::new(std::io::stderr())),
    };
    // Colour only for a person at a terminal: not in files, pipes or journald, nor with NO_COLOR.
    let colour = args.log_file.is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_target(false)
        .with_writer(writer);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    // A model that panics fails its request; the panic belongs in the log, not on a terminal.
    std::panic::set_hook(Box::new(|info| tracing::error!(%info, "panic")));
    let options = crate::control::ServeOptions {
        gateway: args.gateway,
        control: args.control,
    };
    block_on(false, async {
        let dir = DataDir::open(data_dir.as_deref())?;
        crate::control::serve(dir, options).await
    })
}

/// A shared log file handle for the subscriber's writer.
struct LogFile(std::sync::Arc<std::fs::File>);

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.0).flush()
    }
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait for the server to finish draining and exit
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

/// `modeldeck stop`: asks the data directory's server to stop through its control API (so it
/// drains as on SIGTERM), then waits until it has let go of the directory.
pub fn stop(data_dir: Option<PathBuf>, args: StopArgs) -> ExitCode {
    use crate::control::client::Client;
    use crate::control::{ControlError, OwnerError, OwnerLock, Role};
    let json = args.json;
    block_on(json, async move {
        let dir = DataDir::open(data_dir.as_deref())?;
        let free = || {
            OwnerLock::acquire(
                dir.root(),
                &dir.lock_file(),
                Role::Command,
                std::time::Duration::ZERO,
            )
        };
        let pid = match free() {
            Ok(_) => {
                // A server killed with -9 leaves its address behind; it is wrong now.
                let _ = std::fs::remove_file(dir.server_file());
                if json {
                    crate::say!("{}", serde_json::json!({"stopped": null, "running": false}));
                } else {
                    crate::say!("no server is running for {}", dir.root().display());
                }
                return Ok(());
            }
            Err(OwnerError::Held {
                server: Some(pid), ..
            }) => pid,
            Err(e) => return Err(e.into()),
        };
        let started = std::time::Instant::now();
        // Another `stop` may have got there first: a server that goes away while we ask is
        // stopping, and the wait below tells.
        let asked = match Client::for_data_dir(&dir, pid).await {
            Ok(client) => client.stop().await.map(|a| a.drain_secs),
            Err(e) => Err(e),
        };
        let drain_secs = match asked {
            Ok(secs) => secs,
            Err(e) if matches!(e.code(), "server_unreachable") => 0,
            Err(e) => return Err(e),
        };
        let deadline = started + std::time::Duration::from_secs(args.wait);
        // The lock is let go when the process ends (even one no parent has reaped yet).
        loop {
            match free() {
                Ok(_) => break,
                Err(OwnerError::Held { .. }) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(OwnerError::Held { .. }) => {
                    return Err(ControlError::unavailable(
                        "still_running",
                        format!(
                            "server pid {pid} was asked to stop but still runs after {}s (it drains for up to {}s): wait, or `kill {pid}`",
                            args.wait, drain_secs
                        ),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let took = started.elapsed().as_secs_f64();
        if json {
            crate::say!("{}", serde_json::json!({"stopped": pid, "seconds": took}));
        } else {
            crate::say!(
                "stopped modeldeck server pid {pid} for {} in {took:.1}s (requests in progress were finished first)",
                dir.root().display()
            );
        }
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Gateway (data plane) address; port 0 picks a free port
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<SocketAddr>,
    /// Control API address; port 0 picks a free port
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// Write logs here instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Log lines as text (for people) or json (one object per line, for log shippers)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
