//! `modeldeck services …` and `modeldeck serve`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::output::{print_json, print_table, row};
use crate::config::DataDir;
use crate::control::{ControlError, DeployRequest, Session};
use crate::domain::{
    CONCURRENCY, MAX_BATCH_ROWS, ModelRef, Resources, Service, Setting, THREADS, TIMEOUT_MS,
};

/// A flag's text as its setting's value (absent: the default).
fn setting(s: &Setting, text: Option<String>) -> Result<Option<u64>, ControlError> {
    Ok(text.map(|t| s.parse(&t)).transpose()?)
}

#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Deploy a model version as a service (the version takes 100% of the traffic)
    Deploy {
        /// Service name: a DNS label (a-z, 0-9, '-'), also the first label of its host
        name: String,
        /// MODEL or MODEL:VERSION (default: the latest version)
        #[arg(long)]
        model: String,
        // Read as text and checked by each setting's own rule in the handler, so a bad value
        // is reported like any other error (as JSON with --json).
        /// Worker threads for large batches (1 to 256; default 1)
        #[arg(long, value_name = "N")]
        threads: Option<String>,
        /// Requests in flight before the gateway answers 429 (1 to 100000; default 64)
        #[arg(long, value_name = "N")]
        concurrency: Option<String>,
        /// Time a request may take before the gateway answers 504 (1 to 3600000; default 10000)
        #[arg(long, value_name = "MS")]
        timeout_ms: Option<String>,
        /// Records per request (1 to 1000000; default 10000)
        #[arg(long, value_name = "N")]
        max_batch_rows: Option<String>,
        /// For a TensorFlow SavedModel: the TF Serving that serves it (http://tf-serving:8501),
        /// or an upstream file
        #[arg(long, value_name = "URL|FILE")]
        upstream: Option<String>,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// List services
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a service (the key is masked unless --show-key)
    Show {
        name: String,
        #[arg(long)]
        show_key: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a service (its host answers 404 at once; its history stays)
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a service a new access key (the old one stops working)
    RotateKey {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Show or set a service's warn and critical levels (error %, p99, utilisation)
    Thresholds(super::monitor::ThresholdsArgs),
    #[command(flatten)]
    Traffic(super::traffic::TrafficCommand),
}

impl ServicesCommand {
    pub fn json(&self) -> bool {
        match self {
            ServicesCommand::Deploy { json, .. }
            | ServicesCommand::List { json }
            | ServicesCommand::Show { json, .. }
            | ServicesCommand::Rm { json, .. }
            | ServicesCommand::RotateKey { json, .. } => *json,
            ServicesCommand::Thresholds(args) => args.json,
            ServicesCommand::Traffic(command) => command.json(),
        }
    }
}

fn curl(gateway: &str, s: &Service, key: &str, body: &str) -> String {
    crate::domain::curl_line(gateway, s.name.as_str(), &s.host, key, body)
}

fn model_of(s: &Service) -> String {
    s.deployments
        .iter()
        .map(|d| format!("{}:{} ({}%)", d.model, d.version, d.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn dispatch(
    data_dir: Option<PathBuf>,
    actor: &str,
    command: ServicesCommand,
) -> Result<(), ControlError> {
    let dir = DataDir::open(data_dir.as_deref())?;
    let session = Session::open(dir.clone()).await?;
    let gateway = session.gateway_url(&dir);
    match command {
        ServicesCommand::Deploy {
            name,
            model,
            threads,
            concurrency,
            timeout_ms,
            max_batch_rows,
            upstream,
            json,
        } => {
            let model: ModelRef = model.parse().map_err(ControlError::from)?;
            let request = DeployRequest {
                upstream: upstream.map(super::models::upstream_arg).transpose()?,
                name,
                model,
                resources: Resources::from_values(
                    setting(&THREADS, threads)?,
                    setting(&CONCURRENCY, concurrency)?,
                    setting(&TIMEOUT_MS, timeout_ms)?,
                    setting(&MAX_BATCH_ROWS, max_batch_rows)?,
                )?,
            };
            let (s, serving) = session.deploy(actor, request).await?;
            let d = &s.deployments[0];
            if json {
                print_json(&json!({"name": s.name, "host": s.host, "key": s.key,
                    "gateway": gateway, "model": d.model, "version": d.version}));
            } else {
                crate::say!("deployed {} ({}:{} at 100%)", s.name, d.model, d.version);
                crate::say!("host     {}", s.host);
                crate::say!("key      {}", s.key);
                crate::say!("gateway  {gateway}");
                if serving.signature.is_none() && d.kind == crate::domain::ModelKind::Upstream {
                    crate::say!("inputs   the upstream server's own: send what it takes");
                } else {
                    let body = serving.example_body();
                    crate::say!("\n{}", curl(&gateway, &s, &s.key, &body));
                }
            }
        }
        ServicesCommand::List { json } => {
            let services = session.services().await?;
            if json {
                print_json(&json!(services));
            } else if services.is_empty() {
                crate::say!(
                    "no services yet: deploy one with `modeldeck services deploy NAME --model MODEL`"
                );
            } else {
                let mut rows = vec![row(["NAME", "HOST", "MODEL", "RUNTIME", "CREATED"])];
                for s in &services {
                    rows.push(vec![
                        s.name.to_string(),
                        s.host.clone(),
                        model_of(s),
                        s.runtime.clone(),
                        s.created_at.clone(),
                    ]);
                }
                print_table(&rows);
            }
        }
        ServicesCommand::Show {
            name,
            show_key,
            json,
        } => {
            let (s, serving) = session.service(&name, show_key).await?;
            let key = if show_key {
                s.key.clone()
            } else {
                s.masked_key()
            };
            if json {
                let mut v = json!(s);
                v["key"] = json!(key);
                v["gateway"] = json!(gateway);
                v["state"] = json!(serving.state);
                v["reason"] = json!(serving.reason);
                v["signature"] = json!(serving.signature);
                print_json(&v);
            } else {
                let r = s.resources;
                crate::say!("service  {}", s.name);
                crate::say!("host     {}", s.host);
                crate::say!("key      {key}");
                crate::say!("gateway  {gateway}");
                crate::say!("model    {}", model_of(&s));
                crate::say!("runtime  {}", s.runtime);
                crate::say!(
                    "limits   {} thread{}, {} in flight, {} ms, {} records per request",
                    r.threads,
                    if r.threads == 1 { "" } else { "s" },
                    r.concurrency,
                    r.timeout_ms,
                    r.max_batch_rows
                );
                match &serving.reason {
                    Some(why) => crate::say!("state    {}: {why}", serving.state),
                    None => crate::say!("state    {}", serving.state),
                }
                if let Some(sig) = &serving.signature {
                    let inputs: Vec<String> = sig
                        .inputs
                        .iter()
                        .map(|i| format!("{} ({})", i.name, i.dtype))
                        .collect();
                    let outputs: Vec<&str> = sig.outputs.iter().map(|o| o.name.as_str()).collect();
                    crate::say!("inputs   {}", inputs.join(", "));
                    crate::say!("outputs  {}", outputs.join(", "));
                }
                for u in &serving.upstreams {
                    match &u.reason {
                        Some(why) => {
                            crate::say!("v{:<7} {} {}: {why}", u.version, u.target, u.health)
                        }
                        None => crate::say!("v{:<7} {} {}", u.version, u.target, u.health),
                    }
                }
                if serving.upstream_only(s.deployments.len()) {
                    crate::say!("inputs   the upstream server's own: send what it takes");
                    return Ok(());
                }
                crate::say!("\n{}", curl(&gateway, &s, &key, &serving.example_body()));
                if !show_key {
                    crate::say!(
                        "(the key is masked: --show-key prints a line that runs as pasted)"
                    );
                }
            }
        }
        ServicesCommand::Rm { name, json } => {
            session.delete_service(actor, &name).await?;
            if json {
                print_json(&json!({"deleted": name}));
            } else {
                crate::say!("deleted service {name}");
            }
        }
        ServicesCommand::RotateKey { name, json } => {
            let s = session.rotate_key(actor, &name).await?;
            if json {
                print_json(&json!({"name": s.name, "key": s.key}));
            } else {
                crate::say!("new key for {}: {}", s.name, s.key);
            }
        }
        ServicesCommand::Thresholds(args) => {
            super::monitor::thresholds(&session, actor, args).await?;
        }
        ServicesCommand::Traffic(command) => {
            super::traffic::run(&session, actor, command).await?;
        }
    }
    Ok(())
}
