//! `modeldeck tokens …`: named bearer tokens for the control API.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::output::{print_json, print_table, row};
use crate::config::DataDir;
use crate::control::{ControlError, Session};
use crate::domain::Scope;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed once and stored only as a hash
    Create {
        /// The token's name: who the audit log names for its changes (e.g. "ci", "alice")
        name: String,
        /// admin (everything), operator (import, deploy, traffic, jobs, keys) or viewer (read)
        #[arg(long, default_value = "viewer")]
        scope: Scope,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: calls with it fail from now on
    Revoke {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

impl TokensCommand {
    pub fn json(&self) -> bool {
        match self {
            TokensCommand::Create { json, .. }
            | TokensCommand::List { json }
            | TokensCommand::Revoke { json, .. } => *json,
        }
    }
}

pub async fn dispatch(
    data_dir: Option<PathBuf>,
    actor: &str,
    command: TokensCommand,
) -> Result<(), ControlError> {
    let session = Session::open(DataDir::open(data_dir.as_deref())?).await?;
    match command {
        TokensCommand::Create { name, scope, json } => {
            let (info, secret) = session.create_token(actor, &name, scope).await?;
            if json {
                print_json(&json!({"name": info.name, "scope": info.scope, "token": secret}));
            } else {
                crate::say!(
                    "created {} token {:?}; it is shown only now:",
                    info.scope,
                    info.name
                );
                crate::say!("{secret}");
            }
        }
        TokensCommand::List { json } => {
            let tokens = session.tokens().await?;
            if json {
                print_json(&json!(tokens));
            } else {
                let mut rows = vec![row(["NAME", "SCOPE", "CREATED", "LAST USED", "STATE"])];
                for t in &tokens {
                    rows.push(vec![
                        t.name.clone(),
                        t.scope.to_string(),
                        t.created_at.clone(),
                        t.last_used_at.clone().unwrap_or_else(|| "-".into()),
                        match &t.revoked_at {
                            Some(at) => format!("revoked {at}"),
                            None => "live".into(),
                        },
                    ]);
                }
                print_table(&rows);
            }
        }
        TokensCommand::Revoke { name, json } => {
            session.revoke_token(actor, &name).await?;
            if json {
                print_json(&json!({"revoked": name}));
            } else {
                crate::say!("revoked token {name}");
            }
        }
    }
    Ok(())
}
