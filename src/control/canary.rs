//! Canaries through the core: starting one (checks, the candidate added if need be, the first
//! step's split), a person steering it (pause, resume, promote, abort), and the step the
//! driver decides once a step is judged. Each decision is made inside the store transaction
//! that writes it ([`Store::change_canary`](crate::store::Store::change_canary)), on the
//! canary and split as they are at that moment, so concurrent steering cannot lose an update
//! and a restart finds the canary and its split in step. Every decision is an audit event.

use super::{ControlError, Core};
use crate::control::contract::CanaryAction;
use crate::domain::canary::{Canary, CanaryState, Gates, Step, Verdict, parse_steps};
use crate::domain::{ChangeKind, Service, Split};
use crate::store::{Apply, CanaryChange, StoreError};

/// Who the canary's own steps are recorded as.
pub const ACTOR: &str = "canary";

/// The most a step may last (a day), and the most requests it may wait for.
const MAX_INTERVAL_SECS: u64 = 86_400;
const MAX_MIN_REQUESTS: u64 = 1_000_000_000;

impl Core {
    pub(super) async fn start_canary(
        &self,
        actor: &str,
        name: &str,
        to: u32,
        steps: &str,
        gates: Gates,
    ) -> Result<Service, ControlError> {
        let steps = parse_steps(steps).map_err(|e| ControlError::field("steps", e))?;
        check_gates(&gates)?;
        let (actor_owned, name_owned) = (actor.to_string(), name.to_string());
        let changed = self
            .store
            .change_canary(actor, name, move |current, service| {
                if let Some(c) = current.filter(|c| !c.state.done()) {
                    return Err(refused(
                        "canary_running",
                        format!(
                            "{name_owned} already has a canary of version {} ({:?}): promote or abort it first",
                            c.candidate, c.state
                        ),
                    ));
                }
                let held = service.versions().contains(&to);
                let now = split_of(service)?;
                if now.weight(to) > 0 {
                    return Err(refused(
                        "invalid_candidate",
                        format!(
                            "version {to} already has {}% of {name_owned}'s traffic: a canary starts from a version at 0%",
                            now.weight(to)
                        ),
                    ));
                }
                let canary = Canary {
                    candidate: to,
                    steps,
                    step: 0,
                    gates,
                    state: CanaryState::Running,
                    baseline: now.clone().into(),
                    verdict: "step 1 started".into(),
                    started_by: actor_owned,
                    started_at: crate::store::now(),
                };
                let apply = step_apply(&canary, &now);
                Ok(Some(CanaryChange {
                    canary,
                    add: (!held).then_some(to),
                    apply,
                    event: Some("canary.started"),
                }))
            })
            .await?;
        changed.ok_or_else(|| ControlError::Io("the canary was not started".into()))
    }

    pub(super) async fn steer_canary(
        &self,
        actor: &str,
        name: &str,
        action: CanaryAction,
    ) -> Result<Service, ControlError> {
        let (who, service_name) = (actor.to_string(), name.to_string());
        let changed = self
            .store
            .change_canary(actor, name, move |current, service| {
                let Some(mut canary) = current.filter(|c| !c.state.done()) else {
                    return Err(refused(
                        "no_canary",
                        format!(
                            "{service_name} has no canary in progress (`modeldeck services canary {service_name} --to N` starts one)"
                        ),
                    ));
                };
                let now = split_of(service)?;
                let (apply, event) = match action {
                    CanaryAction::Pause => {
                        canary.state = CanaryState::Paused;
                        canary.verdict = format!("paused by {who}");
                        (None, "canary.paused")
                    }
                    CanaryAction::Resume => {
                        canary.state = CanaryState::Running;
                        if matches!(canary.steps.get(canary.step), Some(Step::Pause(_))) {
                            canary.step += 1;
                            canary.verdict = format!("resumed by {who}: step {}", canary.step + 1);
                            (step_apply(&canary, &now), "canary.resumed")
                        } else {
                            canary.verdict =
                                format!("resumed by {who}: this step is measured afresh");
                            (None, "canary.resumed")
                        }
                    }
                    CanaryAction::Promote => {
                        canary.state = CanaryState::Promoted;
                        canary.step = canary.steps.len() - 1;
                        canary.verdict = format!("promoted by {who}");
                        (step_apply(&canary, &now), "canary.promoted")
                    }
                    CanaryAction::Abort => {
                        canary.state = CanaryState::Aborted;
                        canary.verdict = format!("aborted by {who}; the split stays as it is");
                        (None, "canary.aborted")
                    }
                };
                Ok(Some(CanaryChange {
                    canary,
                    add: None,
                    apply,
                    event: Some(event),
                }))
            })
            .await?;
        changed.ok_or_else(|| ControlError::Io("the canary was not changed".into()))
    }

    /// The driver's judgement of step `step` of a running canary, carried out: the next step,
    /// a pause, the promotion, or the way back to the baseline. A canary that has moved on
    /// since (a person paused it, another step began) is left alone: the next tick judges it
    /// as it is.
    pub async fn canary_judged(
        &self,
        name: &str,
        step: usize,
        verdict: Verdict,
    ) -> Result<(), ControlError> {
        let service_name = name.to_string();
        self.store
            .change_canary(ACTOR, name, move |current, service| {
                let Some(mut canary) =
                    current.filter(|c| c.state == CanaryState::Running && c.step == step)
                else {
                    return Ok(None);
                };
                let now = split_of(service)?;
                let (apply, event) = match verdict {
                    Verdict::Wait(words) => {
                        canary.verdict = words;
                        (None, None)
                    }
                    Verdict::Breach(why) => {
                        canary.state = CanaryState::RolledBack;
                        canary.verdict = format!("rolled back at step {}: {why}", canary.step + 1);
                        let back = Split::new(canary.baseline.clone())
                            .ok()
                            .and_then(|b| b.onto(&service.versions()).ok())
                            .unwrap_or_else(|| now.with(canary.candidate, 0));
                        let apply = Apply {
                            split: back,
                            from_revision: None,
                            kind: ChangeKind::Canary,
                            reason: format!("canary breach: {why}"),
                        };
                        (Some(apply), Some("canary.rolled_back"))
                    }
                    Verdict::Pass(figures) if canary.step + 1 >= canary.steps.len() => {
                        canary.state = CanaryState::Promoted;
                        canary.verdict = format!("promoted: the last step held ({figures})");
                        (None, Some("canary.promoted"))
                    }
                    Verdict::Pass(figures) => {
                        canary.step += 1;
                        if matches!(canary.steps[canary.step], Step::Pause(_)) {
                            canary.state = CanaryState::Paused;
                            canary.verdict = format!(
                                "step {} held ({figures}); waiting for a person: `modeldeck services canary resume {service_name}`",
                                canary.step
                            );
                            (None, Some("canary.paused"))
                        } else {
                            canary.verdict = format!(
                                "step {} held ({figures}); step {} started",
                                canary.step,
                                canary.step + 1
                            );
                            (step_apply(&canary, &now), Some("canary.step"))
                        }
                    }
                };
                Ok(Some(CanaryChange {
                    canary,
                    add: None,
                    apply,
                    event,
                }))
            })
            .await?;
        Ok(())
    }
}

fn refused(code: &'static str, message: String) -> StoreError {
    StoreError::Refused { code, message }
}

fn check_gates(g: &Gates) -> Result<(), ControlError> {
    if !(1..=MAX_INTERVAL_SECS).contains(&g.interval_secs) {
        return Err(ControlError::field(
            "interval",
            format!(
                "a step lasts 1 s to a day ({MAX_INTERVAL_SECS} s), not {} s",
                g.interval_secs
            ),
        ));
    }
    if !(1..=MAX_MIN_REQUESTS).contains(&g.min_requests) {
        return Err(ControlError::field(
            "min_requests",
            format!(
                "a step waits for 1 to {MAX_MIN_REQUESTS} requests, not {}",
                g.min_requests
            ),
        ));
    }
    if !(g.max_error_pct.is_finite() && (0.0..=100.0).contains(&g.max_error_pct)) {
        return Err(ControlError::field(
            "max_error_pct",
            "the error rate gate is a percent from 0 to 100",
        ));
    }
    if !(g.max_p99_ms.is_finite() && g.max_p99_ms > 0.0) {
        return Err(ControlError::field(
            "max_p99_ms",
            "the p99 gate is a number of milliseconds above 0",
        ));
    }
    Ok(())
}

fn split_of(s: &Service) -> Result<Split, StoreError> {
    s.split().ok_or_else(|| {
        StoreError::Constraint(format!(
            "service {}'s stored weights do not sum to 100",
            s.name
        ))
    })
}

/// The split of the canary's current step, moved from `now`; `None` when it is already so.
fn step_apply(canary: &Canary, now: &Split) -> Option<Apply> {
    let percent = canary.percent_at(canary.step);
    let split = now.with(canary.candidate, percent);
    (split != *now).then(|| Apply {
        split,
        from_revision: None,
        kind: ChangeKind::Canary,
        reason: format!(
            "canary step {} of {}: v{} at {percent}%",
            canary.step + 1,
            canary.steps.len(),
            canary.candidate
        ),
    })
}
