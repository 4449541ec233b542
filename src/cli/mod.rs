//! The `modeldeck` command line. Each handler parses what the user typed into the core's
//! terms, calls one [`Session`] method (in-process, or the running server's control API), and prints the answer as a table or, with `--json`, as
//! JSON for scripts. Errors are printed as one line (`error: …`), or as
//! `{"error":{"code","message"}}` on stderr with `--json`, with exit code 1.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

mod services;
mod tokens;

use crate::config::DataDir;
use crate::control::{ControlError, ImportSpec, Session};
use crate::domain::{ModelKind, ModelRef, human_size};
use crate::registry::{Addressing, S3Options, Source};

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
    /// Run the gateway and the control API for the data directory until stopped
    Serve(services::ServeArgs),
    /// Score a CSV or JSON-lines file through a model file, offline (no server)
    Score(ScoreArgs),
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model file (PMML)
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Input records: .csv, or .jsonl/.ndjson/.json for JSON lines; - for stdin (CSV)
    #[arg(long, value_name = "FILE")]
    pub input: String,
    /// Where to write the scored records, same formats; - for stdout (CSV)
    #[arg(long, value_name = "FILE")]
    pub output: String,
    /// Worker threads (default: all cores; at most 256)
    #[arg(long, value_parser = score_threads)]
    pub threads: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Import a model file, folder, URL or bucket object as a new version
    Import(ImportArgs),
    /// List models
    List {
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Show a model's versions
    Show {
        /// Model name
        name: String,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Remove a version (NAME:VERSION) or a whole model (NAME)
    Rm {
        /// NAME or NAME:VERSION
        target: String,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file or folder, an http(s):// URL, s3://BUCKET/KEY or cos://BUCKET-APPID/KEY
    pub source: String,
    /// Model name: a-z, 0-9, '.', '_', '-' (a second import under the same name adds a version)
    #[arg(long)]
    pub name: String,
    /// pmml, onnx, angel or upstream (detected from the content when left out)
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<ModelKind>,
    /// What the model is, for people reading the listing
    #[arg(long, default_value = "")]
    pub description: String,
    /// S3/COS region (default: AWS_REGION, then us-east-1; required for cos://)
    #[arg(long)]
    pub region: Option<String>,
    /// S3-compatible endpoint URL (default: AWS_ENDPOINT_URL, then AWS S3)
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Bucket addressing: path or virtual (default: virtual for AWS/COS, path for --endpoint)
    #[arg(long)]
    pub addressing: Option<Addressing>,
    /// AWS shared credentials file (default: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Profile in the credentials file (default: AWS_PROFILE, then "default")
    #[arg(long)]
    pub profile: Option<String>,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

impl ModelsCommand {
    fn json(&self) -> bool {
        match self {
            ModelsCommand::Import(a) => a.json,
            ModelsCommand::List { json }
            | ModelsCommand::Show { json, .. }
            | ModelsCommand::Rm { json, .. } => *json,
        }
    }
}

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> ExitCode {
    let command = match cli.command {
        None => return console(cli.data_dir, cli.console),
        Some(Command::Score(args)) => return score(args),
        Some(Command::Serve(args)) => return serve(cli.data_dir, args),
        Some(Command::Services(command)) => {
            let json = command.json();
            return block_on(json, services::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::Tokens(command)) => {
            let json = command.json();
            return block_on(json, tokens::dispatch(cli.data_dir, &actor(), command));
        }
        Some(Command::Models(command)) => command,
    };
    block_on(command.json(), dispatch(cli.data_dir, command))
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
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
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

async fn dispatch(data_dir: Option<PathBuf>, command: ModelsCommand) -> Result<(), ControlError> {
    let actor = actor();
    let dir = DataDir::open(data_dir.as_deref())?;
    match command {
        ModelsCommand::Import(args) => {
            let spec = ImportSpec {
                source: args.source,
                options: S3Options {
                    region: args.region,
                    endpoint: args.endpoint,
                    addressing: args.addressing,
                    credentials_file: args.credentials_file,
                    profile: args.profile,
                },
                name: args.name,
                kind: args.kind,
                description: args.description,
            };
            // Check what the user typed before touching the data directory.
            Source::parse(&spec.source, &spec.options, &|k| std::env::var(k).ok())?;
            let v = Session::open(dir).await?.import_model(&actor, spec).await?;
            if args.json {
                print_json(&json!({
                    "name": v.name, "version": v.version, "type": v.kind,
                    "sha256": v.sha256, "size": v.size,
                }));
            } else {
                println!(
                    "imported {}:{} ({}, {}, sha256 {})",
                    v.name,
                    v.version,
                    v.kind,
                    human_size(v.size),
                    &v.sha256[..12.min(v.sha256.len())]
                );
            }
        }
        ModelsCommand::List { json } => {
            let models = Session::open(dir).await?.list_models().await?;
            if json {
                print_json(&json!(models));
            } else if models.is_empty() {
                println!(
                    "no models yet: import one with `modeldeck models import FILE --name NAME`"
                );
            } else {
                let mut rows = vec![row([
                    "NAME", "TYPE", "LATEST", "VERSIONS", "SIZE", "USED BY",
                ])];
                for m in &models {
                    rows.push(vec![
                        m.name.clone(),
                        m.kind.to_string(),
                        m.latest_version.to_string(),
                        m.versions.to_string(),
                        human_size(m.size),
                        used_by(m.used_by.iter().cloned()),
                    ]);
                }
                print_table(&rows);
            }
        }
        ModelsCommand::Show { name, json } => {
            let (description, versions) = Session::open(dir).await?.show_model(&name).await?;
            if json {
                print_json(
                    &json!({"name": name, "description": description, "versions": versions}),
                );
            } else {
                if !description.is_empty() {
                    println!("{name}: {description}\n");
                }
                let mut rows = vec![row([
                    "VERSION", "TYPE", "SIZE", "SHA256", "CREATED", "USED BY", "SOURCE",
                ])];
                for v in &versions {
                    rows.push(vec![
                        v.version.to_string(),
                        v.kind.to_string(),
                        human_size(v.size),
                        v.sha256[..12].to_string(),
                        v.created_at.clone(),
                        used_by(
                            v.used_by
                                .iter()
                                .map(|u| format!("{} ({}%)", u.service, u.weight)),
                        ),
                        v.source.clone(),
                    ]);
                }
                print_table(&rows);
            }
        }
        ModelsCommand::Rm { target, json } => {
            let target: ModelRef = target.parse().map_err(ControlError::from)?;
            let removed = Session::open(dir)
                .await?
                .remove_model(&actor, &target)
                .await?;
            if json {
                let list: Vec<_> = removed
                    .iter()
                    .map(|(name, version)| json!({"name": name, "version": version}))
                    .collect();
                print_json(&json!({"removed": list}));
            } else {
                let list: Vec<String> = removed
                    .iter()
                    .map(|(name, version)| format!("{name}:{version}"))
                    .collect();
                println!("removed {}", list.join(", "));
            }
        }
    }
    Ok(())
}

fn console(data_dir: Option<PathBuf>, args: ConsoleArgs) -> ExitCode {
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

fn serve(data_dir: Option<PathBuf>, args: services::ServeArgs) -> ExitCode {
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
    let _ = tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_target(false)
        .with_writer(writer)
        .try_init();
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

/// `--threads` for `score`, by the same rule as a service's threads.
fn score_threads(text: &str) -> Result<std::num::NonZeroUsize, String> {
    let n = crate::domain::THREADS
        .parse(text)
        .map_err(|e| e.to_string())?;
    std::num::NonZeroUsize::new(n as usize).ok_or_else(|| "threads must be at least 1".into())
}

/// Exit code when the file was scored but some records failed (their `_error` says why).
const SOME_RECORDS_FAILED: u8 = 3;

fn score(args: ScoreArgs) -> ExitCode {
    use crate::runtime::pmml::PmmlModel;
    let model = match PmmlModel::load(&args.model) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                false,
                "invalid_model",
                &format!("{}: {e}", args.model.display()),
            );
        }
    };
    let options = crate::batch::ScoreOptions {
        threads: args.threads,
    };
    match crate::batch::score_file(&model, &args.input, &args.output, &options) {
        Ok(summary) if summary.failed > 0 => {
            eprintln!(
                "scored {} records; {} failed (see the _error column)",
                summary.records, summary.failed
            );
            ExitCode::from(SOME_RECORDS_FAILED)
        }
        Ok(summary) => {
            if args.output != "-" {
                eprintln!("scored {} records into {}", summary.records, args.output);
            }
            ExitCode::SUCCESS
        }
        Err(crate::batch::ScoreError::Closed) => ExitCode::SUCCESS,
        Err(e) => fail(false, "score_failed", &e.to_string()),
    }
}

/// Who the audit log names for a change made from this command line.
fn actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn used_by(services: impl Iterator<Item = String>) -> String {
    let list: Vec<String> = services.collect();
    if list.is_empty() {
        "-".to_string()
    } else {
        list.join(", ")
    }
}

fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
