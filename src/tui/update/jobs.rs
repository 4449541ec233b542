//! The Jobs pane's handlers: the list and its run-state filter, the open job (its chain,
//! edited in place, and its runs), the live view of one run, and the keys that trigger,
//! cancel and pause. A chain edit is the whole new definition sent to the server, which
//! checks it against the model; a refusal names the step and leaves the chain as it was.

use std::time::Instant;

use super::forms::{job_form, step_form};
use crate::control::contract::{JobCall, JobView};
use crate::domain::{Job, JobSpec, RunState, Step};
use crate::tui::action::Ctx;
use crate::tui::effect::{Call, Effect, Failure};
use crate::tui::jobs::{Focus, OpenJob};
use crate::tui::state::{Confirm, List, Loadable, Overlay, State};
use crate::tui::text;

type Out = Vec<Effect>;

/// What to load again after a change: the list, and the open job.
pub fn reload(state: &State) -> Out {
    let mut out: Out = vec![Call::LoadJobs.into()];
    if let Some(o) = &state.jobs.open {
        out.push(Call::LoadJob(o.name.clone()).into());
    }
    out
}

pub fn loaded_list(state: &mut State, result: Result<Vec<Job>, Failure>) {
    state.jobs.jobs = match result {
        Ok(j) => Loadable::Ready(j),
        Err(f) => Loadable::Failed(text::for_console(&f.message)),
    };
}

pub fn loaded_job(state: &mut State, name: String, result: Result<JobView, Failure>, now: Instant) {
    let Some(open) = &mut state.jobs.open else {
        return;
    };
    if open.name != name {
        return;
    }
    match result {
        Err(f) if f.code == "not_found" => {
            state.jobs.open = None;
            state.toast(text::deleted_job(&name), false, now);
        }
        Ok(v) => open.view = Loadable::Ready(v),
        // A failed reload keeps what is on screen (the title bar says STALE).
        Err(f) if open.view.ready().is_none() => {
            open.view = Loadable::Failed(text::for_console(&f.message))
        }
        Err(_) => {}
    }
}

/// Enter: a job opens; in an open job, a run opens its live view and a step its form.
pub fn open(state: &mut State) -> Out {
    match state.list() {
        Some(List::Jobs) => {
            let Some(name) = state.job_target() else {
                return vec![];
            };
            state.jobs.open = Some(OpenJob {
                name: name.clone(),
                view: Loadable::Loading,
                focus: Focus::Chain,
                run: None,
            });
            state.cursor_mut(List::Chain).row = 0;
            state.cursor_mut(List::Runs).row = 0;
            state.filter.clear();
            vec![Call::LoadJob(name).into()]
        }
        Some(List::Runs) => {
            let id = selected_run(state);
            if let (Some(o), Some(id)) = (&mut state.jobs.open, id) {
                o.run = Some(id);
            }
            vec![]
        }
        Some(List::Chain) => edit_step(state, None),
        _ => vec![],
    }
}

/// Esc: the live view closes, then the job.
pub fn back(state: &mut State) -> Out {
    match &mut state.jobs.open {
        Some(o) if o.run.is_some() => o.run = None,
        Some(_) => state.jobs.open = None,
        None => {}
    }
    vec![]
}

pub fn drilled(state: &State) -> bool {
    state.jobs.open.is_some()
}

/// `F`: all → running → failed → completed.
pub fn cycle_filter(state: &mut State, _: &Ctx) -> Out {
    state.jobs.filter = state.jobs.filter.next();
    state.cursor_mut(List::Jobs).row = 0;
    vec![]
}

/// `h`/`l` in an open job: the chain or the runs.
pub fn switch_focus(state: &mut State, _: &Ctx) -> Out {
    if let Some(o) = &mut state.jobs.open
        && o.run.is_none()
    {
        o.focus = match o.focus {
            Focus::Chain => Focus::Runs,
            Focus::Runs => Focus::Chain,
        };
    }
    vec![]
}

fn no_job(state: &mut State, ctx: &Ctx) -> Out {
    state.toast(text::NOTHING_SELECTED, true, ctx.now);
    vec![]
}

/// `t`: run the job now.
pub fn trigger(state: &mut State, ctx: &Ctx) -> Out {
    let Some(name) = state.job_target() else {
        return no_job(state, ctx);
    };
    vec![
        Call::ChangeJob {
            said: String::new(),
            name,
            call: Box::new(JobCall::Run),
        }
        .into(),
    ]
}

/// `P`: pause the schedule, or resume it.
pub fn pause(state: &mut State, ctx: &Ctx) -> Out {
    let Some(name) = state.job_target() else {
        return no_job(state, ctx);
    };
    let paused = job(state, &name).is_some_and(|j| j.paused);
    vec![
        Call::ChangeJob {
            said: text::job_paused(&name, !paused),
            call: Box::new(if paused {
                JobCall::Resume
            } else {
                JobCall::Pause
            }),
            name,
        }
        .into(),
    ]
}

fn job<'a>(state: &'a State, name: &str) -> Option<&'a Job> {
    if let Some(v) = state.jobs.view()
        && v.job.name == name
    {
        return Some(&v.job);
    }
    state.jobs.jobs.ready()?.iter().find(|j| j.name == name)
}

fn selected_run(state: &State) -> Option<i64> {
    let v = state.jobs.view()?;
    v.runs.get(state.cursor(List::Runs).row).map(|r| r.id)
}

/// `X`: cancel a run (after a yes): the one in the live view, the selected one among the
/// runs, or else the job's run that is going.
pub fn cancel(state: &mut State, ctx: &Ctx) -> Out {
    let Some(name) = state.job_target() else {
        return no_job(state, ctx);
    };
    let going = |s: RunState| matches!(s, RunState::Running | RunState::Scheduled);
    let shown = state.jobs.view().map(|v| &v.runs[..]).unwrap_or_default();
    let still_going = |id: i64| shown.iter().any(|r| r.id == id && going(r.state));
    // The run on screen if it is going (an ended one cannot be cancelled), else the job's.
    let chosen = match &state.jobs.open {
        Some(o) if o.run.is_some() => o.run,
        Some(o) if o.focus == Focus::Runs => selected_run(state),
        _ => None,
    }
    .filter(|id| still_going(*id));
    let id = chosen.or_else(|| {
        let runs = match state.jobs.view() {
            Some(v) => v.runs.iter().collect::<Vec<_>>(),
            None => job(state, &name)
                .and_then(|j| j.last_run.as_ref())
                .into_iter()
                .collect(),
        };
        runs.into_iter().find(|r| going(r.state)).map(|r| r.id)
    });
    let Some(id) = id else {
        state.toast(text::NO_RUN_GOING, true, ctx.now);
        return vec![];
    };
    state.overlay = Overlay::Confirm(Confirm {
        title: text::cancel_run_title(id, &name),
        body: text::CANCEL_RUN_BODY.into(),
        call: Call::CancelRun(id),
        on_ok: false,
        typed: None,
    });
    vec![]
}

/// `b` on the Models pane: the job form, with the selected model filled in.
pub fn new_job(state: &mut State, _: &Ctx) -> Out {
    let model = state.selected_model().map(|m| m.name.clone());
    state.overlay = Overlay::Form(job_form(model.as_deref()));
    vec![]
}

/// The open job's definition, when the chain is what the keys act on.
fn chain(state: &State) -> Option<(String, JobSpec, usize)> {
    let o = state.jobs.open.as_ref()?;
    if o.run.is_some() {
        return None;
    }
    let v = o.view.ready()?;
    Some((
        v.job.name.clone(),
        v.job.spec.clone(),
        state.cursor(List::Chain).row,
    ))
}

/// `a`: a new step after the selected one (first, in an empty chain).
pub fn add_step(state: &mut State, _: &Ctx) -> Out {
    let Some((_, spec, row)) = chain(state) else {
        return vec![];
    };
    let at = if spec.steps.is_empty() { 0 } else { row + 1 };
    state.focus_chain();
    state.overlay = Overlay::Form(step_form(at, false, ""));
    vec![]
}

/// `e` (or Enter on a step): the selected step, in the step form.
pub fn edit(state: &mut State, ctx: &Ctx) -> Out {
    edit_step(state, Some(ctx.now))
}

fn edit_step(state: &mut State, now: Option<Instant>) -> Out {
    let Some((_, spec, row)) = chain(state) else {
        return vec![];
    };
    let Some(step) = spec.steps.get(row) else {
        if let Some(now) = now {
            state.toast(text::NO_STEP, true, now);
        }
        return vec![];
    };
    state.overlay = Overlay::Form(step_form(row, true, &step.to_string()));
    vec![]
}

/// The step form's answer: the chain with `step` put at `at` (replacing what was there).
pub fn save_step(state: &State, at: usize, replace: bool, step: Step) -> Option<Call> {
    let (name, mut spec, _) = chain(state)?;
    let what = if replace && at < spec.steps.len() {
        spec.steps[at] = step;
        format!("step {} changed", at + 1)
    } else {
        let at = at.min(spec.steps.len());
        spec.steps.insert(at, step);
        format!("step {} added", at + 1)
    };
    Some(Call::EditChain {
        said: text::chain_saved(&name, &what),
        name,
        spec: Box::new(spec),
    })
}

/// `K`/`J`: the selected step one place earlier or later.
pub fn move_step(state: &mut State, ctx: &Ctx) -> Out {
    let up = ctx.action == crate::tui::action::Action::StepUp;
    let Some((name, mut spec, row)) = chain(state) else {
        return vec![];
    };
    let to = if up {
        row.checked_sub(1)
    } else {
        Some(row + 1)
    };
    let Some(to) = to.filter(|t| *t < spec.steps.len() && row < spec.steps.len()) else {
        return vec![];
    };
    spec.steps.swap(row, to);
    // The cursor stays on the step: the reload finds it at its new place by its text.
    vec![
        Call::EditChain {
            said: text::chain_saved(&name, &format!("step {} moved to {}", row + 1, to + 1)),
            name,
            spec: Box::new(spec),
        }
        .into(),
    ]
}

/// `D`: in an open job, the selected step goes and its neighbours join (the server checks
/// the chain that is left); in the list, the job (after a yes).
pub fn delete(state: &mut State, ctx: &Ctx) -> Out {
    if state.jobs.open.is_none() {
        let Some(name) = state.job_target() else {
            return no_job(state, ctx);
        };
        state.overlay = Overlay::Confirm(Confirm {
            title: text::delete_job_title(&name),
            body: text::DELETE_JOB_BODY.into(),
            call: Call::DeleteJob(name),
            on_ok: false,
            typed: None,
        });
        return vec![];
    }
    if state.list() != Some(List::Chain) {
        state.toast(text::DELETE_ON_CHAIN, true, ctx.now);
        return vec![];
    }
    let Some((name, mut spec, row)) = chain(state) else {
        return vec![];
    };
    if row >= spec.steps.len() {
        state.toast(text::NO_STEP, true, ctx.now);
        return vec![];
    }
    let gone = spec.steps.remove(row);
    state.overlay = Overlay::Confirm(Confirm {
        title: text::delete_step_title(row + 1, &gone.to_string()),
        body: text::DELETE_STEP_BODY.into(),
        call: Call::EditChain {
            said: text::chain_saved(&name, &format!("step {} ({gone}) deleted", row + 1)),
            name,
            spec: Box::new(spec),
        },
        on_ok: false,
        typed: None,
    });
    vec![]
}

impl State {
    /// The chain takes the selection keys (after `a`, the new step is there).
    fn focus_chain(&mut self) {
        if let Some(o) = &mut self.jobs.open {
            o.focus = Focus::Chain;
        }
    }
}
