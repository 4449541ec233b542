//! `modeldeck secrets …`: values an upstream version sends as its auth header. A value is
//! read from an environment variable or a file, never from an argument, which any user of the
//! machine can read in `ps`.

use std::path::PathBuf;

use clap::{ArgGroup, Subcommand};
use serde_json::json;

use super::output::{print_json, print_table, row};
use crate::config::DataDir;
use crate::control::{ControlError, Session};
use crate::domain::MAX_SECRET;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Set a secret from an environment variable or a file (replacing one of that name)
    #[command(group(ArgGroup::new("source").required(true).args(["from_env", "from_file"])))]
    Set {
        /// The name an upstream file gives as auth_secret (e.g. "resnet-token")
        name: String,
        /// Read the value from this environment variable
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
        /// Read the value from this file (one trailing newline is dropped)
        #[arg(long, value_name = "PATH")]
        from_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List secrets by name (never their values)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret: upstreams that send it answer 503 until it is set again
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

impl SecretsCommand {
    pub fn json(&self) -> bool {
        match self {
            SecretsCommand::Set { json, .. }
            | SecretsCommand::List { json }
            | SecretsCommand::Rm { json, .. } => *json,
        }
    }
}

/// The value from the variable or the file, read within [`MAX_SECRET`] (and a newline).
fn read_value(
    from_env: Option<String>,
    from_file: Option<PathBuf>,
) -> Result<String, ControlError> {
    if let Some(var) = from_env {
        return std::env::var(&var).map_err(|_| {
            ControlError::field(
                "from_env",
                format!("environment variable {var:?} is not set (or not UTF-8); export it first"),
            )
        });
    }
    let path = from_file.unwrap_or_default();
    let meta = std::fs::metadata(&path).map_err(|e| {
        ControlError::field("from_file", format!("cannot read {}: {e}", path.display()))
    })?;
    if !meta.is_file() || meta.len() > (MAX_SECRET + 2) as u64 {
        return Err(ControlError::field(
            "from_file",
            format!(
                "{} is not a regular file of at most {MAX_SECRET} bytes; put the header's value alone in a file",
                path.display()
            ),
        ));
    }
    std::fs::read_to_string(&path).map_err(|e| {
        ControlError::field(
            "from_file",
            format!("cannot read {} as UTF-8 text: {e}", path.display()),
        )
    })
}

pub async fn dispatch(
    data_dir: Option<PathBuf>,
    actor: &str,
    command: SecretsCommand,
) -> Result<(), ControlError> {
    let session = Session::open(DataDir::open(data_dir.as_deref())?).await?;
    match command {
        SecretsCommand::Set {
            name,
            from_env,
            from_file,
            json,
        } => {
            let value = read_value(from_env, from_file)?;
            let replaced = session.set_secret(actor, &name, &value).await?;
            if json {
                print_json(&json!({"name": name, "replaced": replaced}));
            } else if replaced {
                crate::say!(
                    "replaced secret {name:?}; upstreams send the new value from their next request"
                );
            } else {
                crate::say!("set secret {name:?}");
            }
        }
        SecretsCommand::List { json } => {
            let secrets = session.secrets().await?;
            if json {
                print_json(&json!(secrets));
            } else {
                let mut rows = vec![row(["NAME", "SET AT"])];
                for s in &secrets {
                    rows.push(vec![s.name.clone(), s.updated_at.clone()]);
                }
                print_table(&rows);
            }
        }
        SecretsCommand::Rm { name, json } => {
            session.remove_secret(actor, &name).await?;
            if json {
                print_json(&json!({"removed": name}));
            } else {
                crate::say!("removed secret {name:?}");
            }
        }
    }
    Ok(())
}
