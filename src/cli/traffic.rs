//! `modeldeck services traffic | add-version | remove-version | upgrade | rollback | history |
//! label`: the versions a service holds and how its traffic is split between them.

use clap::Subcommand;

use super::output::{print_json, print_table, row};
use crate::control::contract::{CanaryAction, TrafficCall, TrafficView};
use crate::control::traffic::{check_header, parse_labels};
use crate::control::{ControlError, Session};
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
    /// Move traffic to a version: all of it, or until it has --percent, the others keeping
    /// their proportions (the version is added first if the service does not hold it)
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
    /// Take a version through steps of traffic, each judged before the next:
    /// `canary iris --to 2 --steps 5,25,pause,50,100`; `canary status|pause|resume|promote|abort iris`
    Canary {
        /// SERVICE to start one, or an action (status, pause, resume, promote, abort) and SERVICE
        #[arg(num_args = 1..=2, value_name = "[ACTION] SERVICE")]
        words: Vec<String>,
        /// The candidate version (added at 0% if the service does not hold it)
        #[arg(long)]
        to: Option<u32>,
        /// Percents rising to 100; `pause` waits for a person
        #[arg(long, default_value = "5,25,50,100")]
        steps: String,
        /// How long each step lasts at least (e.g. 60s, 5m)
        #[arg(long, default_value = "60s")]
        interval: String,
        /// Client requests the candidate must serve in a step before it is judged
        #[arg(long, default_value_t = 200)]
        min_requests: u64,
        /// The most error rate the candidate may show (e.g. 1%)
        #[arg(long, default_value = "1%")]
        max_error_rate: String,
        /// The most p99 the candidate may show, in milliseconds
        #[arg(long, default_value_t = 500.0)]
        max_p99_ms: f64,
        /// With status: print it again every second until the canary ends
        #[arg(long)]
        watch: bool,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Mirror a share of client requests to a version that does not answer them, and compare
    /// the answers: `shadow iris --to 2 --percent 10`; alone, what it found; --off stops it
    Shadow {
        name: String,
        #[arg(long, conflicts_with = "off")]
        to: Option<u32>,
        /// Percent of client requests mirrored (1 to 100; default 100)
        #[arg(long, requires = "to", conflicts_with = "off")]
        percent: Option<u8>,
        #[arg(long)]
        off: bool,
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
            | TrafficCommand::Label { json, .. }
            | TrafficCommand::Canary { json, .. }
            | TrafficCommand::Shadow { json, .. } => *json,
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
            // Everything checked before anything is sent, and the split (which the server may
            // still refuse) before the header: a refusal leaves both as they were.
            let split = match weights.is_empty() {
                true => None,
                false => Some(
                    Split::parse(&weights)
                        .map_err(|e| ControlError::field("weights", e.to_string()))?,
                ),
            };
            let sticky = match (sticky_header, no_sticky) {
                (Some(h), _) => Some(Some(check_header(&h)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let mut view = None;
            if let Some(split) = split {
                let call = TrafficCall::Split {
                    weights: split
                        .iter()
                        .map(|(v, w)| (v.to_string(), w.into()))
                        .collect(),
                    revision,
                    reason: reason.unwrap_or_default(),
                };
                view = Some(session.change_traffic(actor, &name, call).await?);
            }
            if let Some(header) = sticky {
                view = Some(
                    session
                        .change_traffic(actor, &name, TrafficCall::Sticky { header })
                        .await?,
                );
            }
            match view {
                Some(view) => return print(&view, json),
                None => (name, None),
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
                revision: None,
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
        TrafficCommand::Canary {
            words,
            to,
            steps,
            interval,
            min_requests,
            max_error_rate,
            max_p99_ms,
            watch,
            ..
        } => {
            let (action, name) = match words.as_slice() {
                [name] => (None, name.clone()),
                [action, name] => (Some(action.as_str()), name.clone()),
                _ => return Err(ControlError::field("service", "name the service")),
            };
            let action = match action {
                None => None,
                Some("status") => return canary_status(session, &name, watch, json).await,
                Some("pause") => Some(CanaryAction::Pause),
                Some("resume") => Some(CanaryAction::Resume),
                Some("promote") => Some(CanaryAction::Promote),
                Some("abort") => Some(CanaryAction::Abort),
                Some(other) => {
                    return Err(ControlError::field(
                        "action",
                        format!(
                            "{other:?} is not a canary action: status, pause, resume, promote or abort"
                        ),
                    ));
                }
            };
            let call = match action {
                Some(action) => TrafficCall::Canary { action },
                None => {
                    let to = to.ok_or_else(|| {
                        ControlError::field("to", "name the candidate version: --to N")
                    })?;
                    let interval_secs = crate::domain::period::duration(&interval)
                        .map_err(|e| ControlError::field("interval", e))?
                        as u64;
                    let max_error_pct = max_error_rate
                        .trim()
                        .trim_end_matches('%')
                        .parse::<f64>()
                        .map_err(|_| {
                            ControlError::field(
                                "max_error_rate",
                                format!("{max_error_rate:?} is not a percent (e.g. 1%)"),
                            )
                        })?;
                    TrafficCall::CanaryStart {
                        to,
                        steps,
                        interval_secs,
                        min_requests,
                        max_error_pct,
                        max_p99_ms,
                    }
                }
            };
            change(name, call)
        }
        TrafficCommand::Shadow {
            name,
            to,
            percent,
            off,
            json,
        } => {
            if off || to.is_some() {
                let call = TrafficCall::Shadow {
                    to: if off { None } else { to },
                    percent,
                };
                session.change_traffic(actor, &name, call).await?;
            }
            let view = session.shadow(&name).await?;
            if json {
                print_json(&serde_json::json!(view));
                return Ok(());
            }
            match view.shadow {
                None => crate::say!("{name}  no shadow traffic"),
                Some(s) => crate::say!(
                    "{name}  {}% of client requests mirrored to v{} (it answers no client)",
                    s.percent,
                    s.version
                ),
            }
            crate::say!(
                "mirrored {}  same {}  differed {}  failed {}  skipped {}",
                view.mirrored,
                view.same,
                view.differed,
                view.failed,
                view.skipped
            );
            for s in view.samples.iter().rev().take(3) {
                crate::say!(
                    "  request {}\n    live   {}\n    shadow {}",
                    s.request,
                    s.live,
                    s.shadow
                );
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
    if let Some(c) = &view.canary {
        crate::say!(
            "canary   v{} {:?}: {}",
            c.candidate,
            c.state,
            c.steps_words()
        );
        crate::say!("         {}", c.verdict);
    }
    if let Some(last) = view.history.last() {
        crate::say!("last     {}", change_words(last));
    }
    Ok(())
}

/// `canary status SVC [--watch]`: the canary's step and last judgement, again each second.
async fn canary_status(
    session: &Session,
    name: &str,
    watch: bool,
    json: bool,
) -> Result<(), ControlError> {
    loop {
        let view = session.traffic(name).await?;
        let Some(canary) = &view.canary else {
            return Err(ControlError::NotFound(format!(
                "{name} has never had a canary (`modeldeck services canary {name} --to N` starts one)"
            )));
        };
        if json {
            print_json(&serde_json::json!(canary));
        } else {
            crate::say!(
                "{name}  v{} {:?}  {}  (split {})",
                canary.candidate,
                canary.state,
                canary.steps_words(),
                view.split
            );
            crate::say!("  {}", canary.verdict);
        }
        if !watch || canary.state.done() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
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
