//! `modeldeck models …`: import, list, show, remove.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{print_json, print_table, row, used_by};
use crate::config::DataDir;
use crate::control::{ControlError, ImportSpec, Session};
use crate::domain::{ModelKind, ModelRef, human_size};
use crate::registry::{Addressing, S3Options, Source};

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
    /// Name the TF Serving (or other upstream) that serves a SavedModel version
    Upstream {
        /// NAME or NAME:VERSION (default: the latest version)
        target: String,
        /// The server's URL (http://tf-serving:8501, or .../v1/models/NAME[/versions/N]),
        /// or an upstream file (for another protocol, a secret, a pool size)
        upstream: String,
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
    /// pmml, onnx, angel, upstream or savedmodel (detected from the content when left out)
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
    pub fn json(&self) -> bool {
        match self {
            ModelsCommand::Import(a) => a.json,
            ModelsCommand::List { json }
            | ModelsCommand::Show { json, .. }
            | ModelsCommand::Upstream { json, .. }
            | ModelsCommand::Rm { json, .. } => *json,
        }
    }
}

pub async fn dispatch(
    data_dir: Option<PathBuf>,
    command: ModelsCommand,
) -> Result<(), ControlError> {
    let actor = super::actor();
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
                crate::say!(
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
                crate::say!(
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
                    crate::say!("{name}: {description}\n");
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
                for v in &versions {
                    if let Some(by) = &v.served_by {
                        crate::say!("{name}:{} is served by {}", v.version, by.url);
                    }
                }
            }
        }
        ModelsCommand::Upstream {
            target,
            upstream,
            json,
        } => {
            let target: ModelRef = target.parse().map_err(ControlError::from)?;
            let upstream = upstream_arg(upstream)?;
            let v = Session::open(dir)
                .await?
                .serve_saved_model(&actor, &target, &upstream)
                .await?;
            let url = v.served_by.map(|s| s.url).unwrap_or_default();
            if json {
                print_json(&json!({"name": v.name, "version": v.version, "served_by": url}));
            } else {
                crate::say!("{}:{} is served by {url}", v.name, v.version);
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
                crate::say!("removed {}", list.join(", "));
            }
        }
    }
    Ok(())
}

/// What `--upstream` says: a file's text when it names a file, else the URL (or text) itself.
pub(super) fn upstream_arg(arg: String) -> Result<String, ControlError> {
    let path = std::path::Path::new(&arg);
    let lower = arg.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(arg);
    }
    let named_a_file = arg.ends_with(".toml") || arg.ends_with(".json") || arg.contains('/');
    if path.exists() && !path.is_file() {
        return Err(ControlError::field(
            "upstream",
            format!(
                "{arg} is not a regular file: give an upstream file or the server's http:// address"
            ),
        ));
    }
    if named_a_file && !path.exists() {
        return Err(ControlError::field(
            "upstream",
            format!("no such file: {arg} (or give the server's http:// address)"),
        ));
    }
    if path.is_file() {
        use std::io::Read;
        let limit = crate::control::MAX_UPSTREAM_TEXT;
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limit as u64 + 1).read_to_string(&mut text))
            .map_err(|e| ControlError::field("upstream", format!("cannot read {arg}: {e}")))?;
        if text.len() > limit {
            return Err(ControlError::field(
                "upstream",
                format!("{arg} is larger than an upstream file can be ({limit} bytes)"),
            ));
        }
        return Ok(text);
    }
    Ok(arg)
}
