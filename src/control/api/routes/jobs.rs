//! Batch jobs: list, create, show, change (edit, pause, resume, run now), delete; runs: list,
//! show, cancel. Running belongs to this server ([`crate::control::api::jobs`]): `run` records
//! a scheduled run and wakes the scheduler, `cancel` kills the run's worker.

use std::time::Duration;

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, read_json};
use crate::control::ControlError;
use crate::control::api::reply::ok;
use crate::control::contract::{CreateJob, Deleted, JobCall, JobList, RunList};
use crate::domain::{RunState, Scope, Trigger};
use crate::store::Fired;

/// Runs a job view lists.
const VIEW_RUNS: usize = 20;

pub fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&JobList {
        jobs: api.core.jobs()?,
    })
}

pub fn show(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&api.core.job_view(name, VIEW_RUNS)?)
}

pub async fn create<B: ApiBodyIn>(api: &Api, caller: &Caller, body: B) -> Answer {
    caller.require(Scope::Operator)?;
    let call: CreateJob = read_json(api, body).await?;
    api.core
        .create_job(caller.actor(), &call.name, call.spec)
        .await?;
    api.announce_now();
    api.jobs.wake.notify_one();
    ok(&api.core.job_view(&call.name, VIEW_RUNS)?)
}

pub async fn change<B: ApiBodyIn>(api: &Api, caller: &Caller, name: &str, body: B) -> Answer {
    caller.require(Scope::Operator)?;
    let call: JobCall = read_json(api, body).await?;
    let actor = caller.actor();
    let mut started = None;
    match call {
        JobCall::Edit { spec } => drop(api.core.edit_job(actor, name, spec).await?),
        JobCall::Pause => drop(api.core.pause_job(actor, name, true).await?),
        JobCall::Resume => drop(api.core.pause_job(actor, name, false).await?),
        JobCall::Run => {
            let fired = api
                .core
                .store()
                .fire_job(actor, name, Some((Trigger::Manual, None)), None, vec![])
                .await
                .map_err(ControlError::from)?;
            started = match fired {
                Some(Fired::Started(r) | Fired::Skipped(r)) => Some(r),
                None => None,
            };
        }
    }
    api.announce_now();
    api.jobs.wake.notify_one();
    let mut view = api.core.job_view(name, VIEW_RUNS)?;
    view.started = started;
    ok(&view)
}

pub async fn delete(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Operator)?;
    api.core.delete_job(caller.actor(), name).await?;
    api.announce_now();
    ok(&Deleted {
        deleted: name.to_string(),
    })
}

pub fn runs(api: &Api, caller: &Caller, name: &str, limit: Option<usize>) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&RunList {
        runs: api.core.runs(name, limit.unwrap_or(50).clamp(1, 1000))?,
    })
}

pub fn run(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&api.core.run(run_id(id)?)?)
}

/// Cancels a run: its worker is killed and its temporary output removed; the answer comes
/// once the run has ended.
pub async fn cancel(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Operator)?;
    let id = run_id(id)?;
    let run = api.core.run(id)?;
    if run.state.is_final() {
        return Err(ControlError::Conflict {
            code: "run_ended",
            message: format!("run {id} has already ended ({})", run.state),
        }
        .into());
    }
    if !api.jobs.cancel(id) {
        // Not started yet: nothing to kill.
        api.core
            .store()
            .finish_run(id, RunState::Cancelled, None, Some("cancelled".into()))
            .await
            .map_err(ControlError::from)?;
    }
    for _ in 0..100 {
        let now = api.core.run(id)?;
        if now.state.is_final() {
            api.announce_now();
            return ok(&now);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ok(&api.core.run(id)?)
}

fn run_id(text: &str) -> Result<i64, ControlError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ControlError::Invalid {
            code: "invalid_run",
            field: None,
            message: format!(
                "{:?} is not a run number: see `modeldeck jobs runs JOB`",
                crate::domain::clip(text, 40)
            ),
        })
}
