//! The Jobs pane: the list and its run-state filter, a job's chain edited in place (each edit
//! the whole new chain, sent for the server to check), the runs and a run's live view, the
//! keys that trigger, cancel and pause, and the job form opened from a model.

use super::screens::snap;
use super::*;
use crate::control::contract::{JobCall, JobView};
use crate::domain::{
    FailurePolicy, Job, JobSpec, Run, RunState, Step, StepProgress, Target, Trigger,
};
use crate::tui::state::{FormKind, List, Overlay};

fn spec(steps: &[&str], cron: Option<&str>) -> JobSpec {
    JobSpec {
        target: Target::Model {
            name: "iris".into(),
            version: None,
        },
        input: "/data/flowers-*.csv".into(),
        output: "/out/scored-{date}.csv".into(),
        steps: steps.iter().map(|s| s.parse::<Step>().unwrap()).collect(),
        cron: cron.map(str::to_string),
        tz: "Europe/Berlin".into(),
        start_at: None,
        threads: Some(2),
        policy: FailurePolicy::Reject,
    }
}

fn run(id: i64, job: &str, state: RunState) -> Run {
    let going = state == RunState::Running;
    Run {
        id,
        job: job.into(),
        state,
        trigger: Trigger::Schedule,
        fire_at: Some("2026-12-01T02:30:00Z".into()),
        started_at: Some("2026-12-01T02:30:00Z".into()),
        finished_at: (!going).then(|| "2026-12-01T02:31:40Z".into()),
        rows_read: 250_000,
        rows_scored: 249_000,
        rows_rejected: 1000,
        rows_filtered: 0,
        output: Some("/out/scored-2026-12-01.csv".into()),
        rejects: Some("/out/scored-2026-12-01.rejects.csv".into()),
        error: (state == RunState::Failed)
            .then(|| "more than 1000 bad records (see /out/scored.rejects.csv)".into()),
        steps: vec![
            StepProgress {
                name: "fetch /data/flowers-*.csv".into(),
                rows: 0,
                fraction: Some(1.0),
                done: true,
            },
            StepProgress {
                name: "pass for step 1 (fill)".into(),
                rows: 500_000,
                fraction: None,
                done: true,
            },
            StepProgress {
                name: "read, preprocess and score".into(),
                rows: 250_000,
                fraction: Some(0.5),
                done: !going,
            },
        ],
    }
}

fn job(name: &str, steps: &[&str], last: Option<RunState>) -> Job {
    Job {
        name: name.into(),
        spec: spec(steps, Some("30 2 * * *")),
        paused: false,
        next_fire_at: Some("2026-12-02T01:30:00Z".into()),
        created_at: "2026-11-30T10:00:00Z".into(),
        last_run: last.map(|s| run(7, name, s)),
    }
}

fn jobs() -> Vec<Job> {
    vec![
        job(
            "nightly",
            &["fill:sepal_width=mean", "rename:pl=petal_length"],
            Some(RunState::Running),
        ),
        job("backfill", &[], Some(RunState::Failed)),
        job(
            "hourly",
            &["standardise:petal_width"],
            Some(RunState::Completed),
        ),
    ]
}

fn view(name: &str) -> JobView {
    let job = jobs().into_iter().find(|j| j.name == name).unwrap();
    JobView {
        next_fires: vec![
            "2026-12-02T01:30:00Z".into(),
            "2026-12-03T01:30:00Z".into(),
            "2026-12-04T01:30:00Z".into(),
        ],
        schedule: "every day at 02:30 Europe/Berlin".into(),
        runs: vec![
            run(9, name, RunState::Running),
            run(8, name, RunState::Failed),
            run(7, name, RunState::Completed),
        ],
        started: None,
        job,
    }
}

/// The console on the Jobs pane with the job list loaded.
fn on_jobs() -> State {
    let mut s = loaded("dev");
    update(&mut s, &Keymap::defaults(), Msg::Jobs(Ok(jobs())), t0());
    press(&mut s, &["5"]);
    s
}

/// …with `nightly` open.
fn nightly() -> State {
    let mut s = on_jobs();
    let effects = press(&mut s, &["enter"]);
    assert_eq!(effects, vec![Effect::Call(Call::LoadJob("nightly".into()))]);
    let msg = Msg::Job("nightly".into(), Ok(Box::new(view("nightly"))));
    update(&mut s, &Keymap::defaults(), msg, t0());
    s
}

fn shown(s: &State) -> Vec<String> {
    s.shown_jobs().iter().map(|j| j.name.clone()).collect()
}

fn edited(effects: &[Effect]) -> Vec<String> {
    match effects {
        [Effect::Call(Call::EditChain { name, spec, .. })] => {
            assert_eq!(name, "nightly");
            spec.steps.iter().map(|s| s.to_string()).collect()
        }
        other => panic!("not one chain edit: {other:?}"),
    }
}

#[test]
fn the_list_shows_schedules_and_last_runs_and_f_filters_by_state() {
    let mut s = on_jobs();
    snap("jobs_list", &s);
    assert_eq!(shown(&s), ["nightly", "backfill", "hourly"]);
    press(&mut s, &["F"]);
    assert_eq!(shown(&s), ["nightly"], "running");
    press(&mut s, &["F"]);
    assert_eq!(shown(&s), ["backfill"], "failed");
    snap("jobs_list_failed", &s);
    press(&mut s, &["F"]);
    assert_eq!(shown(&s), ["hourly"], "completed");
    press(&mut s, &["F"]);
    assert_eq!(shown(&s).len(), 3, "all again");
    // Empty: says how to make one.
    let mut e = empty();
    update(&mut e, &Keymap::defaults(), Msg::Jobs(Ok(vec![])), t0());
    press(&mut e, &["5"]);
    snap("jobs_empty", &e);
}

#[test]
fn a_job_opens_on_its_chain_which_is_edited_in_place() {
    let mut s = nightly();
    snap("job_open", &s);
    assert_eq!(s.list(), Some(List::Chain));
    // a: a step after the selected one (the first).
    press(&mut s, &["a"]);
    assert!(
        matches!(&s.overlay, Overlay::Form(f) if f.kind == FormKind::Step { at: 1, replace: false })
    );
    type_text(&mut s, "drop:species");
    let effects = press(&mut s, &["enter"]);
    assert_eq!(
        edited(&effects),
        [
            "fill:sepal_width=mean",
            "drop:species",
            "rename:pl=petal_length"
        ]
    );
    // The server refuses: the form stays with its reason, the chain on screen unchanged.
    let refusal = failure(
        "invalid_job",
        "step 3 (rename:pl=petal_length): the input has no column \"pl\"",
        Some("steps"),
    );
    update(&mut s, &Keymap::defaults(), Msg::Done(Err(refusal)), t0());
    match &s.overlay {
        Overlay::Form(f) => assert!(f.error.as_deref().unwrap().contains("step 3"), "{f:?}"),
        other => panic!("the form closed: {other:?}"),
    }
    snap("job_step_refused", &s);
    press(&mut s, &["esc"]);
    // A step that does not parse never leaves the console.
    press(&mut s, &["a"]);
    type_text(&mut s, "explode:x");
    assert!(press(&mut s, &["enter"]).is_empty());
    press(&mut s, &["esc"]);
    // J moves the selected step down; once the server's answer shows it, the cursor is on it.
    assert_eq!(
        edited(&press(&mut s, &["J"])),
        ["rename:pl=petal_length", "fill:sepal_width=mean"]
    );
    let mut moved = view("nightly");
    moved.job.spec.steps.reverse();
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Job("nightly".into(), Ok(Box::new(moved))),
        t0(),
    );
    assert_eq!(
        s.cursor(List::Chain).row,
        1,
        "the cursor goes with the step"
    );
    assert_eq!(
        edited(&press(&mut s, &["K"])),
        ["fill:sepal_width=mean", "rename:pl=petal_length"]
    );
    let back = Msg::Job("nightly".into(), Ok(Box::new(view("nightly"))));
    update(&mut s, &Keymap::defaults(), back, t0());
    assert_eq!(s.cursor(List::Chain).row, 0);
    // D deletes the step after a yes, and its neighbours join.
    assert!(press(&mut s, &["D"]).is_empty(), "nothing before the yes");
    let call = match &s.overlay {
        Overlay::Confirm(c) => c.call.clone(),
        other => panic!("no confirmation: {other:?}"),
    };
    assert_eq!(edited(&[Effect::Call(call)]), ["rename:pl=petal_length"]);
    press(&mut s, &["esc"]);
    // On the runs, D deletes nothing.
    press(&mut s, &["l"]);
    assert!(press(&mut s, &["D"]).is_empty());
    assert!(matches!(s.overlay, Overlay::None));
    press(&mut s, &["h"]);
    // E (or enter) edits the selected step in the same form.
    press(&mut s, &["E"]);
    match &s.overlay {
        Overlay::Form(f) => {
            assert_eq!(
                f.kind,
                FormKind::Step {
                    at: 0,
                    replace: true
                }
            );
            assert_eq!(f.value("step"), "fill:sepal_width=mean");
        }
        other => panic!("no form: {other:?}"),
    }
}

#[test]
fn runs_open_a_live_view_and_t_x_p_act_on_the_job() {
    let mut s = nightly();
    press(&mut s, &["l"]);
    assert_eq!(s.list(), Some(List::Runs));
    snap("job_runs", &s);
    press(&mut s, &["enter"]);
    snap("job_run_live", &s);
    // X cancels the run shown, after a yes.
    press(&mut s, &["X"]);
    match &s.overlay {
        Overlay::Confirm(c) => assert_eq!(c.call, Call::CancelRun(9)),
        other => panic!("no confirmation: {other:?}"),
    }
    press(&mut s, &["esc", "esc"]);
    assert_eq!(s.list(), Some(List::Runs), "esc closes the live view");
    let t = press(&mut s, &["t"]);
    assert!(
        matches!(&t[..], [Effect::Call(Call::ChangeJob { name, call, .. })] if name == "nightly" && **call == JobCall::Run),
        "{t:?}"
    );
    let p = press(&mut s, &["P"]);
    assert!(
        matches!(
            &p[..],
            [Effect::Call(Call::ChangeJob { call, .. })] if **call == JobCall::Pause
        ),
        "{p:?}"
    );
    // While a run goes, the once-a-second tick reloads the job.
    let tick = update(
        &mut s,
        &Keymap::defaults(),
        Msg::Metrics(Box::default()),
        t0(),
    );
    assert!(
        tick.contains(&Effect::Call(Call::LoadJob("nightly".into()))),
        "{tick:?}"
    );
    // With an ended run selected, X offers the run that is going.
    press(&mut s, &["j"]);
    press(&mut s, &["X"]);
    assert!(matches!(&s.overlay, Overlay::Confirm(c) if c.call == Call::CancelRun(9)));
    press(&mut s, &["esc"]);
    // From the list, X finds the job's run that is going.
    press(&mut s, &["esc"]);
    press(&mut s, &["X"]);
    assert!(matches!(&s.overlay, Overlay::Confirm(c) if c.call == Call::CancelRun(7)));
}

#[test]
fn b_on_a_model_opens_the_job_form_with_the_model_filled_in() {
    let mut s = loaded("dev");
    press(&mut s, &["j", "b"]);
    match &s.overlay {
        Overlay::Form(f) => {
            assert_eq!(f.kind, FormKind::Job);
            assert_eq!(f.value("model"), "iris");
        }
        other => panic!("no form: {other:?}"),
    }
    snap("job_form", &s);
    type_text(&mut s, "nightly");
    let effects = press(&mut s, &["enter"]);
    match &effects[..] {
        [Effect::Call(Call::CreateJob(fields))] => {
            assert!(
                fields.contains(&("name", "nightly".to_string())),
                "{fields:?}"
            );
            assert!(
                fields.contains(&("model", "iris".to_string())),
                "{fields:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}
