//! The `modeldeck` command line. Each handler parses what the user typed into the core's
//! terms, calls one [`Session`] method (in-process, or the running server's control API), and prints the answer as a table or, with `--json`, as
//! JSON for scripts. Errors are printed as one line (`error: …`), or as
//! `{"error":{"code","message"}}` on stderr with `--json`, with exit code 1.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

pub(crate) mod jobs;
mod models;
mod monitor;
mod output;
mod score;
mod secrets;
mod serve;
mod services;
mod tokens;
mod traffic;
mod worker;

use crate::control::ControlError;
use models::ModelsCommand;
use score::ScoreArgs;

#[derive(Debug, Parser)]
#[command(
    name = "modeldeck",
    version,
    about = "Operations console and serving platform for machine-learning models"
)]
pub struct Cli {
    /// Data directory (default: ~/.local/share/modeldeck)
    #[arg(long, global = true, env = "MODELDECK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// With no subcommand, `modeldeck` opens the console.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Run the server inside the console's process (tests, throw-away demos)
    #[arg(long)]
    pub embedded: bool,
    /// Attach to a remote server's control API (e.g. http://127.0.0.1:8502 through an SSH tunnel)
    #[arg(long, value_name = "URL", requires = "token_file")]
    pub connect: Option<String>,
    /// A file holding the control token for --connect
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Colour theme: default, light, high-contrast, mono, or one in ~/.config/modeldeck/themes/
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// ASCII symbols instead of block and box-drawing characters
    #[arg(long)]
    pub ascii: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The model repository: import, list, show, remove
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Services: deploy a model version behind a host and an access key
    #[command(subcommand)]
    Services(services::ServicesCommand),
    /// Control API tokens: create, list, revoke (admin)
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Secrets upstream versions send as their auth header: set (from a variable or a file), list, rm
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Run the gateway and the control API for the data directory until stopped
    Serve(serve::ServeArgs),
    /// A service's requests, errors, latency, utilisation and answers over a period
    Monitor(monitor::MonitorArgs),
    /// Stop the data directory's server gracefully (it drains requests in progress first)
    Stop(serve::StopArgs),
    /// Score a CSV or JSON-lines file through a model file, offline (no server)
    Score(ScoreArgs),
    /// Batch prediction jobs: create, list, show, edit, run, cancel, pause, resume, rm, runs
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// One batch run, as the server starts it (reads its assignment on stdin)
    #[command(hide = true)]
    BatchWorker { run: i64 },
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> ExitCode {
    if cli.command.is_some() && (cli.console.connect.is_some() || cli.console.token_file.is_some())
    {
        // Commands find their server through the data directory; --connect is the console's.
        return fail(
            json_asked(),
            "usage",
            "--connect and --token-file open a console on a remote server; commands act on the data directory's server (run them on that machine, or use the control API with a token)",
        );
    }
    let command = match cli.command {
        None => return serve::console(cli.data_dir, cli.console),
        Some(Command::Score(args)) => return score::score(args),
        Some(Command::Serve(args)) => return serve::serve(cli.data_dir, args),
        Some(Command::Stop(args)) => return serve::stop(cli.data_dir, args),
        Some(Command::Services(command)) => {
            let json = command.json();
            return block_on(json, services::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::Monitor(args)) => {
            return block_on(args.json, monitor::monitor(cli.data_dir, args));
        }
        Some(Command::Tokens(command)) => {
            let json = command.json();
            return block_on(json, tokens::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::Secrets(command)) => {
            let json = command.json();
            return block_on(json, secrets::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::BatchWorker { run }) => return worker::batch_worker(run),
        Some(Command::Jobs(command)) => {
            let json = command.json();
            return block_on(json, jobs::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::Models(command)) => command,
    };
    block_on(command.json(), models::dispatch(cli.data_dir, command))
}

/// Runs a command's work on a fresh runtime and turns its outcome into the exit code.
fn block_on(json: bool, work: impl Future<Output = Result<(), ControlError>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(json, "io", &format!("cannot start: {e}")),
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(json, e.code(), &e.to_string()),
    }
}

/// Parses the command line; a mistake in it is reported like any other error, as JSON when
/// the words include `--json` (scripts parse stderr), with clap's exit code 2.
pub fn parse() -> Result<Cli, ExitCode> {
    use clap::Parser;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if e.use_stderr() && json_asked() => {
            let message = e.kind().to_string();
            let detail = e.to_string();
            let first = detail
                .lines()
                .find(|l| l.starts_with("error:"))
                .map_or(message.as_str(), |l| l.trim_start_matches("error:").trim());
            eprintln!("{}", json!({"error": {"code": "usage", "message": first}}));
            Err(ExitCode::from(2))
        }
        Err(e) => {
            let _ = e.print();
            Err(ExitCode::from(if e.use_stderr() { 2 } else { 0 }))
        }
    }
}

/// Whether the command line asks for JSON, read from the words themselves: for errors found
/// before (or instead of) a parsed command's own `--json`.
fn json_asked() -> bool {
    // args_os: an argument that is not UTF-8 is for clap to refuse, not a panic here.
    std::env::args_os().any(|a| a == "--json")
}

fn fail(json: bool, code: &str, message: &str) -> ExitCode {
    let mut err = std::io::stderr().lock();
    if json {
        let _ = writeln!(
            err,
            "{}",
            json!({"error": {"code": code, "message": message}})
        );
    } else {
        let _ = writeln!(err, "error: {message}");
    }
    ExitCode::FAILURE
}

/// Who the audit log names for a change made from this command line.
fn actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}
