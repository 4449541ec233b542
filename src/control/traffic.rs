//! Changing how a service's traffic is shared: the checks each change makes before anything is
//! written (a split naming every version held, whole percents summing to 100, a revision that
//! is still the one in force, labels and headers that a request can carry), then one store
//! transaction per change. Publishing the new routing table is the caller's (the API's) part.

use std::collections::BTreeMap;

use super::{ControlError, Core};
use crate::control::contract::{TrafficCall, TrafficView};
use crate::domain::ChangeKind;
use crate::domain::{Service, ServiceName, Split};
use crate::store::Apply;

/// Longest label and sticky header name.
const MAX_NAME: usize = 63;

/// Labels a service may have.
const MAX_LABELS: usize = 64;

/// Changes a traffic view carries, the newest: every change answers with the view, and a
/// service changed ten thousand times must not send its whole past each time.
pub const HISTORY_SHOWN: usize = 200;

impl Core {
    /// A service's split, rules and traffic history.
    pub fn traffic(&self, name: &str) -> Result<TrafficView, ControlError> {
        let service = self.service(name)?;
        self.traffic_view(&service)
    }

    fn traffic_view(&self, s: &Service) -> Result<TrafficView, ControlError> {
        let split = s.split().ok_or_else(|| {
            ControlError::Io(format!(
                "service {}'s stored weights do not sum to 100",
                s.name
            ))
        })?;
        Ok(TrafficView {
            service: s.name.to_string(),
            model: s
                .deployments
                .first()
                .map(|d| d.model.clone())
                .unwrap_or_default(),
            revision: s.traffic.revision,
            split,
            sticky_header: s.traffic.sticky_header.clone(),
            labels: s.traffic.labels.clone(),
            history: self
                .store
                .traffic_history(s.name.as_str(), Some(HISTORY_SHOWN))?,
            canary: self.store.canary(s.name.as_str())?,
        })
    }

    /// Makes one change; the service's traffic as it is after it.
    pub async fn change_traffic(
        &self,
        actor: &str,
        name: &str,
        call: TrafficCall,
    ) -> Result<TrafficView, ControlError> {
        ServiceName::parse(name)?;
        let store = &self.store;
        let service = match call {
            TrafficCall::Split {
                weights,
                revision,
                reason,
            } => {
                let weights = weights
                    .into_iter()
                    .map(|(v, w)| {
                        let shown = crate::domain::clip(&v, 40).into_owned();
                        let version = v.parse::<u32>().map_err(|_| {
                            ControlError::field(
                                "weights",
                                format!("{shown:?} is not a version number"),
                            )
                        })?;
                        let weight = w
                            .as_u64()
                            .and_then(|w| u8::try_from(w).ok())
                            .filter(|w| *w <= 100)
                            .ok_or_else(|| {
                                let w = crate::domain::clip(&w.to_string(), 40).into_owned();
                                ControlError::field(
                                    "weights",
                                    format!(
                                        "version {shown} gets {w}: a weight is a whole percent from 0 to 100"
                                    ),
                                )
                            })?;
                        Ok::<_, ControlError>((version, weight))
                    })
                    .collect::<Result<Vec<(u32, u8)>, _>>()?;
                let mut unique = BTreeMap::new();
                for (v, w) in weights {
                    if unique.insert(v, w).is_some() {
                        return Err(ControlError::field(
                            "weights",
                            format!("version {v} is named twice"),
                        ));
                    }
                }
                let split = Split::new(unique)
                    .map_err(|e| ControlError::field("weights", e.to_string()))?;
                let held = self.service(name)?.versions();
                split
                    .check_versions(&held)
                    .map_err(|e| ControlError::field("weights", e.to_string()))?;
                let apply = Apply {
                    split,
                    from_revision: revision,
                    kind: ChangeKind::Split,
                    reason: reason_text(reason)?,
                };
                store.apply_split(actor, name, apply).await?
            }
            TrafficCall::AddVersion { version } => {
                let version = match version {
                    Some(v) => v,
                    None => self.latest_version(&self.service(name)?)?,
                };
                store.add_version(actor, name, version).await?
            }
            TrafficCall::RemoveVersion { version } => {
                store.remove_version(actor, name, version).await?
            }
            TrafficCall::Upgrade {
                to,
                percent,
                reason,
            } => {
                let percent = percent.unwrap_or(100);
                if !(1..=100).contains(&percent) {
                    return Err(ControlError::field(
                        "percent",
                        format!("{percent}%: give the percent the version ends at, 1 to 100"),
                    ));
                }
                let reason = reason_text(reason)?;
                store.upgrade(actor, name, to, percent, reason).await?
            }
            TrafficCall::Rollback {
                reason,
                revision: seen,
            } => {
                let reason = reason_text(reason)?;
                let held = self.service(name)?.versions();
                let Some((target, revision)) = store.rollback_target(name)? else {
                    return Err(ControlError::Conflict {
                        code: "nothing_to_roll_back",
                        message: format!(
                            "{name} has no earlier split to go back to (`modeldeck services history {name}` lists its changes)"
                        ),
                    });
                };
                let split = target.onto(&held).map_err(|v| ControlError::Conflict {
                    code: "version_gone",
                    message: format!(
                        "the split to go back to gives traffic to version {v}, which {name} no longer holds: add it back first (`modeldeck services add-version {name} --version {v}`)"
                    ),
                })?;
                let apply = Apply {
                    split,
                    from_revision: Some(seen.unwrap_or(revision)),
                    kind: ChangeKind::Rollback,
                    reason,
                };
                store.apply_split(actor, name, apply).await?
            }
            TrafficCall::Labels { labels } => {
                if labels.len() > MAX_LABELS {
                    return Err(ControlError::field(
                        "labels",
                        format!("at most {MAX_LABELS} labels, not {}", labels.len()),
                    ));
                }
                for label in labels.keys() {
                    check_label(label)?;
                }
                store.set_labels(actor, name, labels).await?
            }
            TrafficCall::Sticky { header } => {
                let header = header.map(|h| check_header(&h)).transpose()?;
                store.set_sticky(actor, name, header).await?
            }
            TrafficCall::CanaryStart {
                to,
                steps,
                interval_secs,
                min_requests,
                max_error_pct,
                max_p99_ms,
            } => {
                let gates = crate::domain::canary::Gates {
                    interval_secs,
                    min_requests,
                    max_error_pct,
                    max_p99_ms,
                };
                self.start_canary(actor, name, to, &steps, gates).await?
            }
            TrafficCall::Canary { action } => self.steer_canary(actor, name, action).await?,
            TrafficCall::Shadow { to, percent } => {
                let shadow = match (to, percent.unwrap_or(100)) {
                    (None, _) => None,
                    (Some(_), p) if !(1..=100).contains(&p) => {
                        return Err(ControlError::field(
                            "percent",
                            format!(
                                "{p}%: mirror 1 to 100 percent of the requests (to stop, send \"to\": null or --off)"
                            ),
                        ));
                    }
                    (Some(version), percent) => Some(crate::domain::Shadow { version, percent }),
                };
                store.set_shadow(actor, name, shadow).await?
            }
        };
        self.traffic_view(&service)
    }

    fn latest_version(&self, s: &Service) -> Result<u32, ControlError> {
        let model = s
            .deployments
            .first()
            .map(|d| d.model.clone())
            .unwrap_or_default();
        self.store
            .model_versions(&model)?
            .and_then(|v| v.last().map(|v| v.version))
            .ok_or_else(|| ControlError::NotFound(format!("model {model} has no versions")))
    }
}

/// A reason as typed: one line, bounded.
fn reason_text(reason: String) -> Result<String, ControlError> {
    crate::domain::check_text("reason", &reason, 500)
        .map_err(|e| ControlError::field("reason", e.to_string()))?;
    Ok(reason)
}

/// A label is a path segment: letters, digits, `-` and `_`, not all digits (a number is a
/// version).
fn check_label(label: &str) -> Result<(), ControlError> {
    let ok = !label.is_empty()
        && label.len() <= MAX_NAME
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !label.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ControlError::field(
            "labels",
            format!(
                "{:?} is not a label: 1 to {MAX_NAME} letters, digits, '-' or '_', not a number (e.g. stable, canary)",
                crate::domain::clip(label, 80)
            ),
        ))
    }
}

/// A header name a request can carry, lowercased as the gateway compares it.
pub fn check_header(name: &str) -> Result<String, ControlError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "authorization" | "host" | "content-length"
        );
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(ControlError::field(
            "header",
            format!(
                "{:?} cannot route traffic: give a request header name such as X-User-Id",
                crate::domain::clip(name, 80)
            ),
        ))
    }
}

/// Labels as `stable=1 canary=2`.
pub fn parse_labels(words: &[String]) -> Result<BTreeMap<String, u32>, ControlError> {
    let mut out = BTreeMap::new();
    for word in words {
        let (label, v) = word.split_once('=').ok_or_else(|| {
            ControlError::field(
                "labels",
                format!("{word:?} is not LABEL=VERSION (e.g. canary=2)"),
            )
        })?;
        let version = v
            .trim()
            .trim_start_matches('v')
            .parse::<u32>()
            .map_err(|_| {
                ControlError::field("labels", format!("{word:?}: {v:?} is not a version number"))
            })?;
        out.insert(label.trim().to_string(), version);
    }
    Ok(out)
}
