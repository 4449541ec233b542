//! The Traffic pane's behaviour: opening a service's sliders, staging weights (`h`/`l` ±5,
//! `H`/`L` ±1, `=` exact), and the two changes that leave the console — apply (`a`) and roll
//! back (`R`) — each behind a dialog that shows exactly what changes, Cancel focused.

use crate::control::contract::{CanaryAction, TrafficCall, TrafficView};
use crate::domain::canary::CanaryState;
use crate::tui::action::{Action, Ctx};
use crate::tui::effect::{Call, Effect, Failure};
use crate::tui::state::{Confirm, FormKind, List, Loadable, Overlay, State};
use crate::tui::text;

type Out = Vec<Effect>;

/// Enter on a service: its sliders, loaded fresh.
pub fn open(state: &mut State) -> Out {
    let Some(name) = state.selected(List::Traffic) else {
        return vec![];
    };
    state.traffic.open = Some(name.clone());
    state.traffic.view = Loadable::Loading;
    state.traffic.staged = None;
    state.cursor_mut(List::Weights).row = 0;
    state.filter.clear();
    vec![Call::LoadTraffic(name).into()]
}

/// Esc: back to the list; a staged edit is dropped, and the status line says so.
pub fn back(state: &mut State, ctx: &Ctx) -> Out {
    if state.traffic.open.take().is_some() && state.traffic.staged.take().is_some() {
        state.toast(text::STAGED_DROPPED, false, ctx.now);
    }
    vec![]
}

/// A service's traffic arrived: loaded, or as a change left it.
pub fn loaded(
    state: &mut State,
    service: String,
    result: Result<Box<TrafficView>, Failure>,
    changed: bool,
    ctx_now: std::time::Instant,
) -> Out {
    if state.traffic.open.as_deref() != Some(service.as_str()) {
        return vec![];
    }
    // The canary form waits for its answer: a refusal stays in it, to fix.
    if changed
        && let Overlay::Form(form) = &mut state.overlay
        && form.kind == FormKind::Canary
    {
        match &result {
            Err(f) => {
                form.busy = false;
                form.error = Some(text::for_console(&f.message));
                return vec![];
            }
            Ok(_) => state.overlay = Overlay::None,
        }
    }
    match result {
        Ok(view) => {
            if changed {
                let said = match view.history.last() {
                    Some(c) => {
                        text::traffic_changed(&service, c.kind.name(), &view.split.to_string())
                    }
                    None => text::traffic_changed(&service, "change", &view.split.to_string()),
                };
                state.traffic.staged = None;
                state.toast(said, false, ctx_now);
            }
            state.traffic.view = Loadable::Ready(*view);
        }
        // A change that failed leaves the edit staged, to fix or drop.
        Err(f) if changed => state.toast(text::for_console(&f.message), true, ctx_now),
        Err(f) => state.traffic.view = Loadable::Failed(text::for_console(&f.message)),
    }
    vec![]
}

/// The version under the cursor.
fn selected(state: &State) -> Option<u32> {
    state.selected(List::Weights)?.parse().ok()
}

/// `h` `l` `H` `L`: the selected version by ±5 or ±1 points, staged.
pub fn nudge(state: &mut State, ctx: &Ctx) -> Out {
    let delta = match ctx.action {
        Action::WeightDown => -5,
        Action::WeightUp => 5,
        Action::WeightDownOne => -1,
        Action::WeightUpOne => 1,
        _ => return vec![],
    };
    if let Some(v) = selected(state) {
        state.traffic.nudge(v, delta);
    }
    vec![]
}

/// `=`: type the selected version's percent.
pub fn exact(state: &mut State, _: &Ctx) -> Out {
    let Some(v) = selected(state) else {
        return vec![];
    };
    let now = state.traffic.shown().map_or(0, |s| s.weight(v));
    state.overlay = Overlay::Form(super::forms::weight_form(v, now));
    vec![]
}

/// `u`: back to the split in force.
pub fn discard(state: &mut State, ctx: &Ctx) -> Out {
    if state.traffic.staged.take().is_some() {
        state.toast(text::STAGED_DROPPED, false, ctx.now);
    }
    vec![]
}

/// `a`: apply the staged split, after a dialog showing `v1 90→70 · v2 10→30`.
pub fn apply(state: &mut State, ctx: &Ctx) -> Out {
    let (Some(service), Some(staged)) = (&state.traffic.open, &state.traffic.staged) else {
        state.toast(text::NOTHING_STAGED, false, ctx.now);
        return vec![];
    };
    let diff = state.traffic.diff(" · ").unwrap_or_default();
    let call = Call::ChangeTraffic {
        service: service.clone(),
        call: TrafficCall::Split {
            weights: staged
                .iter()
                .map(|(v, w)| (v.to_string(), w.into()))
                .collect(),
            revision: Some(state.traffic.staged_from),
            reason: String::new(),
        },
    };
    state.overlay = Overlay::Confirm(Confirm {
        title: text::apply_title(service),
        body: diff,
        call,
        on_ok: false,
        typed: None,
    });
    vec![]
}

/// `c`: the canary form, the first version at 0% as the candidate.
pub fn canary(state: &mut State, _: &Ctx) -> Out {
    if state.traffic.open.is_none() {
        return vec![];
    }
    let candidate = state
        .traffic
        .current()
        .and_then(|s| s.iter().find(|(_, w)| *w == 0).map(|(v, _)| v));
    state.overlay = Overlay::Form(super::forms::canary_form(candidate));
    vec![]
}

/// `p`: a paused canary goes on (past a pause step, to the next); a running one is promoted
/// to all the traffic now. The dialog says which.
pub fn promote(state: &mut State, ctx: &Ctx) -> Out {
    let Some(service) = state.traffic.open.clone() else {
        return vec![];
    };
    let canary = state
        .traffic
        .view
        .ready()
        .and_then(|v| v.canary.clone())
        .filter(|c| !c.state.done());
    let Some(canary) = canary else {
        state.toast(text::NO_CANARY, false, ctx.now);
        return vec![];
    };
    let (action, title, body) = match canary.state {
        CanaryState::Paused => (
            CanaryAction::Resume,
            text::resume_title(&service),
            canary.steps_words(),
        ),
        _ => (
            CanaryAction::Promote,
            text::promote_title(&service, canary.candidate),
            canary.steps_words(),
        ),
    };
    state.overlay = Overlay::Confirm(Confirm {
        title,
        body,
        call: Call::ChangeTraffic {
            service,
            call: TrafficCall::Canary { action },
        },
        on_ok: false,
        typed: None,
    });
    vec![]
}

/// `R`: roll back, after a dialog showing exactly the split it goes back to.
pub fn rollback(state: &mut State, ctx: &Ctx) -> Out {
    let Some(service) = state.traffic.open.clone() else {
        return vec![];
    };
    let Some((_, diff)) = state.traffic.rollback(" · ") else {
        state.toast(text::nothing_to_roll_back(&service), false, ctx.now);
        return vec![];
    };
    let typed = (state.environment == "prod").then(|| (service.clone(), String::new()));
    state.overlay = Overlay::Confirm(Confirm {
        title: text::rollback_title(&service),
        body: diff,
        call: Call::ChangeTraffic {
            service,
            call: TrafficCall::Rollback {
                reason: String::new(),
                revision: state.traffic.view.ready().map(|v| v.revision),
            },
        },
        on_ok: false,
        typed,
    });
    vec![]
}
