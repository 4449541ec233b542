//! `modeldeck services traffic | add-version | remove-version | upgrade | rollback | history |
//! label`: the versions a service holds and how its traffic is split between them.

use clap::Subcommand;

use super::output::{print_json, print_table, row};
use crate::control::contract::{TrafficCall, TrafficView};
use crate::control::{ControlError, Session, traffic::parse_labels};
use crate::domain::Split;
use crate::domain::TrafficChange;

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Show or set a service's traffic split: `traffic iris 1=70 2=30` (whole percents, every
    /// version named, summing to 100)
    Traffic {
        name: String,
        /// VERSION=PERCENT for every version the service holds
        weights: Vec<String>,
        /// Why, for the history
        #[arg(long)]
        reason: Option<String>,
        /// Apply only if the split is still at this revision (what you read it at)
        #[arg(long)]
        revision: Option<i64>,
        /// Keep each caller on one version, by this request header's value (e.g. X-User-Id)
        #[arg(long, value_name = "HEADER", conflicts_with = "no_sticky")]
        sticky_header: Option<String>,
        /// Split request by request again
        #[arg(long)]
        no_sticky: bool,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Add a version of the service's model at 0% (default: the model's latest)
    AddVersion {
        name: String,
        #[arg(long)]
        version: Option<u32>,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Take a version out of a service (refused while it has traffic)
    RemoveVersion {
        name: String,
        version: u32,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Move traffic to a version: all of it, or --percent points taken from the others in
    /// proportion (the version is added first if the service does not hold it)
    Upgrade {
        name: String,
        #[arg(long)]
        to: u32,
        /// Percent the version ends at (1 to 100; default 100)
        #[arg(long)]
        percent: Option<u8>,
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Go back to the split before the newest change; again, one change further back
    Rollback {
        name: String,
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// A service's traffic changes: who, when, before → after, why
    History {
        name: String,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Name versions for TF Serving's /labels/ paths: `label iris stable=1 canary=2`
    Label {
        name: String,
        /// LABEL=VERSION, replacing every label (none: show them)
        labels: Vec<String>,
        /// Remove every label
        #[arg(long, conflicts_with = "labels")]
        clear: bool,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
}

impl TrafficCommand {
    pub fn json(&self) -> bool {
        match self {
            TrafficCommand::Traffic { json, .. }
            | TrafficCommand::AddVersion { json, .. }
            | TrafficCommand::RemoveVersion { json, .. }
            | TrafficCommand::Upgrade { json, .. }
            | TrafficCommand::Rollback { json, .. }
            | TrafficCommand::History { json, .. }
            | TrafficCommand::Label { json, .. } => *json,
        }
    }
}

pub async fn run(
    session: &Session,
    actor: &str,
    command: TrafficCommand,
) -> Result<(), ControlError> {
    let json = command.json();
    let change = |name: String, call: TrafficCall| (name, Some(call));
    let (name, call) = match command {
        TrafficCommand::Traffic {
            name,
            weights,
            reason,
            revision,
            sticky_header,
            no_sticky,
            ..
        } => {
            if sticky_header.is_some() || no_sticky {
                let view = session
                    .change_traffic(
                        actor,
                        &name,
                        TrafficCall::Sticky {
                            header: sticky_header,
                        },
                    )
                    .await?;
                if weights.is_empty() {
                    return print(&view, json);
                }
            }
            if weights.is_empty() {
                (name, None)
            } else {
                let split = Split::parse(&weights)
                    .map_err(|e| ControlError::field("weights", e.to_string()))?;
                let call = TrafficCall::Split {
                    weights: split.iter().map(|(v, w)| (v.to_string(), w)).collect(),
                    revision,
                    reason: reason.unwrap_or_default(),
                };
                change(name, call)
            }
        }
        TrafficCommand::AddVersion { name, version, .. } => {
            change(name, TrafficCall::AddVersion { version })
        }
        TrafficCommand::RemoveVersion { name, version, .. } => {
            change(name, TrafficCall::RemoveVersion { version })
        }
        TrafficCommand::Upgrade {
            name,
            to,
            percent,
            reason,
            ..
        } => change(
            name,
            TrafficCall::Upgrade {
                to,
                percent,
                reason: reason.unwrap_or_default(),
            },
        ),
        TrafficCommand::Rollback { name, reason, .. } => change(
            name,
            TrafficCall::Rollback {
                reason: reason.unwrap_or_default(),
            },
        ),
        TrafficCommand::History { name, .. } => {
            let view = session.traffic(&name).await?;
            if json {
                print_json(&serde_json::json!(view.history));
            } else {
                print_history(&view.history);
            }
            return Ok(());
        }
        TrafficCommand::Label {
            name,
            labels,
            clear,
            ..
        } => {
            if labels.is_empty() && !clear {
                (name, None)
            } else {
                change(
                    name,
                    TrafficCall::Labels {
                        labels: parse_labels(&labels)?,
                    },
                )
            }
        }
    };
    let view = match call {
        Some(call) => session.change_traffic(actor, &name, call).await?,
        None => session.traffic(&name).await?,
    };
    print(&view, json)
}

fn print(view: &TrafficView, json: bool) -> Result<(), ControlError> {
    if json {
        print_json(&serde_json::json!(view));
        return Ok(());
    }
    let weights: Vec<String> = view
        .split
        .iter()
        .map(|(v, w)| format!("v{v} {w}%"))
        .collect();
    crate::say!(
        "{}  {}  (revision {})",
        view.service,
        weights.join(" · "),
        view.revision
    );
    if let Some(h) = &view.sticky_header {
        crate::say!("sticky   by the {h} header: a caller stays on one version");
    }
    if !view.labels.is_empty() {
        let labels: Vec<String> = view
            .labels
            .iter()
            .map(|(l, v)| format!("{l}={v}"))
            .collect();
        crate::say!("labels   {}", labels.join(" "));
    }
    if let Some(last) = view.history.last() {
        crate::say!("last     {}", change_words(last));
    }
    Ok(())
}

/// `split by alice at 2026-12-02T10:00:00Z: v1 90→70 · v2 10→30 (canary looks fine)`.
fn change_words(c: &TrafficChange) -> String {
    let reason = match c.reason.is_empty() {
        true => String::new(),
        false => format!(" ({})", c.reason),
    };
    format!(
        "{} by {} at {}: {}{reason}",
        c.kind.name(),
        c.actor,
        c.at,
        c.summary(" · ")
    )
}

fn print_history(changes: &[TrafficChange]) {
    if changes.is_empty() {
        crate::say!("no traffic changes yet: the service has its split from deploy");
        return;
    }
    let mut rows = vec![row(["REV", "WHEN", "WHO", "KIND", "CHANGE", "REASON"])];
    for c in changes {
        rows.push(vec![
            c.revision.to_string(),
            c.at.clone(),
            c.actor.clone(),
            c.kind.name().to_string(),
            c.summary(" · "),
            c.reason.clone(),
        ]);
    }
    print_table(&rows);
}
