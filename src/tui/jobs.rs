//! The Jobs pane's state: the job list with its run-state filter, the open job (its chain
//! and its runs, one of which has the focus), and the run whose live view is open. Edits to
//! a chain are sent whole as the job's new definition, so the server checks each one against
//! the model before it is saved, as `jobs edit` does.

use super::state::Loadable;
use crate::control::contract::JobView;
use crate::domain::{Job, Run, RunState};

/// Which jobs the list shows, by their last run (`F` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunFilter {
    #[default]
    All,
    Running,
    Failed,
    Completed,
}

impl RunFilter {
    pub fn next(self) -> RunFilter {
        match self {
            RunFilter::All => RunFilter::Running,
            RunFilter::Running => RunFilter::Failed,
            RunFilter::Failed => RunFilter::Completed,
            RunFilter::Completed => RunFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RunFilter::All => "all",
            RunFilter::Running => "running",
            RunFilter::Failed => "failed",
            RunFilter::Completed => "completed",
        }
    }

    pub fn admits(self, job: &Job) -> bool {
        let state = job.last_run.as_ref().map(|r| r.state);
        match self {
            RunFilter::All => true,
            RunFilter::Running => {
                matches!(state, Some(RunState::Running | RunState::Scheduled))
            }
            RunFilter::Failed => {
                matches!(state, Some(RunState::Failed | RunState::Cancelled))
            }
            RunFilter::Completed => state == Some(RunState::Completed),
        }
    }
}

/// Which half of an open job the selection keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Chain,
    Runs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenJob {
    pub name: String,
    pub view: Loadable<JobView>,
    pub focus: Focus,
    /// The run whose live view is open.
    pub run: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobsUi {
    pub jobs: Loadable<Vec<Job>>,
    pub filter: RunFilter,
    pub open: Option<OpenJob>,
}

impl Default for JobsUi {
    fn default() -> JobsUi {
        JobsUi {
            jobs: Loadable::Loading,
            filter: RunFilter::All,
            open: None,
        }
    }
}

impl JobsUi {
    /// The open job's view, once loaded.
    pub fn view(&self) -> Option<&JobView> {
        self.open.as_ref()?.view.ready()
    }

    /// The run whose live view is open, as last loaded.
    pub fn run(&self) -> Option<&Run> {
        let id = self.open.as_ref()?.run?;
        self.view()?.runs.iter().find(|r| r.id == id)
    }

    /// Whether something on screen is still moving (a run scheduled or going), so the
    /// once-a-second tick should reload it.
    pub fn live(&self) -> bool {
        let going = |r: &Run| matches!(r.state, RunState::Running | RunState::Scheduled);
        match self.view() {
            Some(v) => v.runs.iter().any(going),
            None => self
                .jobs
                .ready()
                .is_some_and(|j| j.iter().any(|j| j.last_run.as_ref().is_some_and(going))),
        }
    }
}
