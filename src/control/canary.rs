//! Canaries through the core: starting one (checks, the candidate added if need be, the first
//! step's split), a person steering it (pause, resume, promote, abort), and the step the
//! driver decides once a step is judged. Every change of split is one store transaction with
//! the canary's new state, so a restart finds both in step.

use super::{ControlError, Core};
use crate::control::contract::CanaryAction;
use crate::domain::canary::{Canary, CanaryState, Gates, Step, Verdict, parse_steps};
use crate::domain::{ChangeKind, Service, Split};
use crate::store::Apply;

/// Who the canary's own steps are recorded as.
pub const ACTOR: &str = "canary";

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
        if !(gates.max_error_pct.is_finite() && (0.0..=100.0).contains(&gates.max_error_pct)) {
            return Err(ControlError::field(
                "max_error_pct",
                "the error rate gate is a percent from 0 to 100",
            ));
        }
        if !(gates.max_p99_ms.is_finite() && gates.max_p99_ms > 0.0) {
            return Err(ControlError::field(
                "max_p99_ms",
                "the p99 gate is a number of milliseconds above 0",
            ));
        }
        if let Some(c) = self.store.canary(name)?
            && !c.state.done()
        {
            return Err(ControlError::Conflict {
                code: "canary_running",
                message: format!(
                    "{name} already has a canary of version {} ({:?}): promote or abort it first",
                    c.candidate, c.state
                ),
            });
        }
        let mut service = self.service(name)?;
        if !service.versions().contains(&to) {
            service = self.store.add_version(actor, name, to).await?;
        }
        let baseline = split_of(&service)?;
        if baseline.weight(to) > 0 {
            return Err(ControlError::field(
                "to",
                format!(
                    "version {to} already has {}% of {name}'s traffic: a canary starts from a version at 0%",
                    baseline.weight(to)
                ),
            ));
        }
        let canary = Canary {
            candidate: to,
            steps,
            step: 0,
            gates,
            state: CanaryState::Running,
            baseline: baseline.clone().into(),
            verdict: "step 1 started".into(),
            started_by: actor.to_string(),
            started_at: crate::store::now(),
        };
        let apply = step_apply(&canary, &baseline, Some(service.traffic.revision));
        Ok(self.store.save_canary(actor, name, canary, apply).await?)
    }

    pub(super) async fn steer_canary(
        &self,
        actor: &str,
        name: &str,
        action: CanaryAction,
    ) -> Result<Service, ControlError> {
        let Some(mut canary) = self.store.canary(name)?.filter(|c| !c.state.done()) else {
            return Err(ControlError::Conflict {
                code: "no_canary",
                message: format!(
                    "{name} has no canary in progress (`modeldeck services canary {name} --to N` starts one)"
                ),
            });
        };
        let service = self.service(name)?;
        let now = split_of(&service)?;
        let apply = match action {
            CanaryAction::Pause => {
                canary.state = CanaryState::Paused;
                canary.verdict = format!("paused by {actor}");
                None
            }
            CanaryAction::Resume => {
                canary.state = CanaryState::Running;
                if matches!(canary.steps.get(canary.step), Some(Step::Pause(_))) {
                    canary.step += 1;
                    canary.verdict = format!("resumed by {actor}: step {}", canary.step + 1);
                    step_apply(&canary, &now, Some(service.traffic.revision))
                } else {
                    canary.verdict = format!("resumed by {actor}: this step is measured afresh");
                    None
                }
            }
            CanaryAction::Promote => {
                canary.state = CanaryState::Promoted;
                canary.step = canary.steps.len() - 1;
                canary.verdict = format!("promoted by {actor}");
                step_apply(&canary, &now, Some(service.traffic.revision))
            }
            CanaryAction::Abort => {
                canary.state = CanaryState::Aborted;
                canary.verdict = format!("aborted by {actor}; the split stays as it is");
                None
            }
        };
        Ok(self.store.save_canary(actor, name, canary, apply).await?)
    }

    /// The driver's judgement of a running canary's step, carried out: the next step, a
    /// pause, the promotion, or the way back to the baseline. `revision`: the split the
    /// judgement was made on (a change since refuses it, and the next tick judges again).
    pub async fn canary_judged(
        &self,
        name: &str,
        mut canary: Canary,
        verdict: Verdict,
        revision: i64,
    ) -> Result<(), ControlError> {
        let service = self.service(name)?;
        let now = split_of(&service)?;
        let apply = match verdict {
            Verdict::Wait(words) => {
                canary.verdict = words;
                None
            }
            Verdict::Breach(why) => {
                canary.state = CanaryState::RolledBack;
                canary.verdict = format!("rolled back at step {}: {why}", canary.step + 1);
                let back = Split::new(canary.baseline.clone())
                    .ok()
                    .and_then(|b| b.onto(&service.versions()).ok())
                    .unwrap_or_else(|| now.with(canary.candidate, 0));
                Some(Apply {
                    split: back,
                    from_revision: Some(revision),
                    kind: ChangeKind::Canary,
                    reason: format!("canary breach: {why}"),
                })
            }
            Verdict::Pass(figures) => {
                if canary.step + 1 >= canary.steps.len() {
                    canary.state = CanaryState::Promoted;
                    canary.verdict = format!("promoted: the last step held ({figures})");
                    None
                } else {
                    canary.step += 1;
                    if matches!(canary.steps[canary.step], Step::Pause(_)) {
                        canary.state = CanaryState::Paused;
                        canary.verdict = format!(
                            "step {} held ({figures}); waiting for a person: `services canary resume {name}`",
                            canary.step
                        );
                        None
                    } else {
                        canary.verdict = format!(
                            "step {} held ({figures}); step {} started",
                            canary.step,
                            canary.step + 1
                        );
                        step_apply(&canary, &now, Some(revision))
                    }
                }
            }
        };
        self.store.save_canary(ACTOR, name, canary, apply).await?;
        Ok(())
    }
}

fn split_of(s: &Service) -> Result<Split, ControlError> {
    s.split().ok_or_else(|| {
        ControlError::Io(format!(
            "service {}'s stored weights do not sum to 100",
            s.name
        ))
    })
}

/// The split of the canary's current step, moved from `now`; `None` when it is already so.
fn step_apply(canary: &Canary, now: &Split, revision: Option<i64>) -> Option<Apply> {
    let percent = canary.percent_at(canary.step);
    let split = now.with(canary.candidate, percent);
    (split != *now).then(|| Apply {
        split,
        from_revision: revision,
        kind: ChangeKind::Canary,
        reason: format!(
            "canary step {} of {}: v{} at {percent}%",
            canary.step + 1,
            canary.steps.len(),
            canary.candidate
        ),
    })
}
