//! Batch jobs and runs over the control API.

use serde::{Deserialize, Serialize};

use crate::domain::{Job, JobSpec, Run};

/// `POST /jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    pub name: String,
    pub spec: JobSpec,
}

/// `POST /jobs/{name}`: one change to a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobCall {
    /// A new definition, whole (the CLI merges what was typed into the one in force).
    Edit {
        spec: JobSpec,
    },
    Pause,
    Resume,
    /// Run now, outside the schedule.
    Run,
}

/// `GET /jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// `GET /jobs/{name}` and the answer to a change: the job, its next fire times, its runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub job: Job,
    /// The next five fire times (UTC), for a periodic job that is not paused.
    pub next_fires: Vec<String>,
    /// The schedule in words ("every day at 02:30 Europe/Berlin").
    pub schedule: String,
    /// Newest first.
    pub runs: Vec<Run>,
    /// The run a `run` call started (or recorded as skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Run>,
}

/// `GET /jobs/{name}/runs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunList {
    pub runs: Vec<Run>,
}
