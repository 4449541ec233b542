//! Batch jobs and their runs as the store keeps them and every interface shows them.
//!
//! A job's definition is one [`JobSpec`] (stored as JSON, so a new field needs no migration);
//! its schedule state (`paused`, `next_fire_at`) lives in columns of its own, because the
//! scheduler reads and writes those without touching the definition.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::step::Step;

/// What a job scores through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Target {
    /// A model version, scored in the worker with the same runtime as `modeldeck score`;
    /// `version: None` takes the newest version at each run.
    Model { name: String, version: Option<u32> },
    /// A service, scored through the gateway like any client (tagged as batch traffic).
    Service { name: String },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Model {
                name,
                version: Some(v),
            } => write!(f, "model {name}:{v}"),
            Target::Model {
                name,
                version: None,
            } => write!(f, "model {name} (newest)"),
            Target::Service { name } => write!(f, "service {name}"),
        }
    }
}

/// What a run does with a record it cannot read or score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Bad records go to a rejects file next to the output and the run goes on, failing once
    /// they pass [`REJECT_LIMIT`] records or, at the end, [`REJECT_PERCENT`]% of those read.
    #[default]
    Reject,
    /// The first bad record fails the run.
    Abort,
}

pub const REJECT_LIMIT: u64 = 1000;
pub const REJECT_PERCENT: f64 = 1.0;

impl FromStr for FailurePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reject" => Ok(FailurePolicy::Reject),
            "abort" => Ok(FailurePolicy::Abort),
            other => Err(format!(
                "unknown failure policy {other:?}: use reject (bad records to a rejects file) or abort (stop at the first)"
            )),
        }
    }
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailurePolicy::Reject => "reject",
            FailurePolicy::Abort => "abort",
        })
    }
}

/// A job's definition: everything `jobs create` and `jobs edit` set. A field it does not
/// know is refused, not dropped (`on_bad_record` where `policy` was meant would otherwise
/// leave the default in force unnoticed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub target: Target,
    /// A path or glob, `http(s)://…` or `s3://bucket/key`; CSV or JSON lines by extension.
    pub input: String,
    /// A path or `s3://…`, with `{date}` and `{run}` filled in at each run.
    pub output: String,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Cron (5 or 6 fields); `None` is a once-job.
    #[serde(default)]
    pub cron: Option<String>,
    /// A tz-database zone the cron and the start time are read in.
    #[serde(default = "utc")]
    pub tz: String,
    /// RFC 3339 UTC: a once-job fires then (now when absent); a periodic one not before.
    #[serde(default)]
    pub start_at: Option<String>,
    #[serde(default)]
    pub threads: Option<u32>,
    #[serde(default)]
    pub policy: FailurePolicy,
}

fn utc() -> String {
    "UTC".into()
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        if self.cron.is_some() {
            JobKind::Periodic
        } else {
            JobKind::Once
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Once,
    Periodic,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Once => "once",
            JobKind::Periodic => "periodic",
        }
    }
}

/// A job as listed: its definition, its schedule state and its newest run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub name: String,
    pub spec: JobSpec,
    pub paused: bool,
    /// The next time the scheduler fires it (UTC), if any.
    pub next_fire_at: Option<String>,
    pub created_at: String,
    pub last_run: Option<Run>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Recorded, its worker not yet started.
    Scheduled,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// A fire that did not run: it overlapped a running run, or the server was down.
    Skipped,
}

impl RunState {
    pub const ALL: [RunState; 6] = [
        RunState::Scheduled,
        RunState::Running,
        RunState::Completed,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Scheduled => "scheduled",
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Skipped => "skipped",
        }
    }

    /// Whether the run has ended (its counts are final).
    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Scheduled | RunState::Running)
    }
}

impl FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RunState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown run state {s:?}"))
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// Its schedule fired.
    Schedule,
    /// Someone asked (`jobs run`, `t` in the console).
    Manual,
    /// A fire missed while the server was down, run late within the grace window.
    Catchup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Catchup => "catchup",
        }
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Trigger::Schedule, Trigger::Manual, Trigger::Catchup]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown trigger {s:?}"))
    }
}

/// A run's counts so far, as its worker reports them and the store keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCounts {
    pub rows_read: u64,
    pub rows_scored: u64,
    pub rows_rejected: u64,
    pub rows_filtered: u64,
    pub steps: Vec<StepProgress>,
}

/// The progress of one step of a run, as the worker reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    pub name: String,
    /// Rows through this step so far.
    pub rows: u64,
    /// 0.0–1.0 when the total is known (a local input's bytes), otherwise `None`.
    pub fraction: Option<f64>,
    pub done: bool,
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub job: String,
    pub state: RunState,
    pub trigger: Trigger,
    /// When its schedule meant it to fire (for scheduled, caught-up and skipped runs).
    pub fire_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub rows_read: u64,
    pub rows_scored: u64,
    pub rows_rejected: u64,
    /// Rows a filter step left out (neither scored nor rejected).
    pub rows_filtered: u64,
    /// The output path with its templates filled in.
    pub output: Option<String>,
    pub rejects: Option<String>,
    pub error: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepProgress>,
}

impl Run {
    /// Rows per second over the run so far (or its whole length once ended).
    pub fn throughput(&self, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
        let start = parse_time(self.started_at.as_deref()?)?;
        let end = self
            .finished_at
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(now);
        let secs = (end - start).num_milliseconds() as f64 / 1000.0;
        (secs > 0.0).then(|| self.rows_read as f64 / secs)
    }
}

/// A time as the store and the API write it: RFC 3339 UTC to the second.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Fills `{date}` (the run's day, `YYYY-MM-DD` in the job's zone) and `{run}` (its id) in an
/// output path, so that periodic runs do not overwrite each other.
pub fn fill_output(template: &str, date: &str, run: i64) -> String {
    template
        .replace("{date}", date)
        .replace("{run}", &run.to_string())
}

/// The rejects file for an output: beside it, `NAME.rejects.csv`.
pub fn rejects_path(output: &str) -> String {
    let (stem, _) = match output.rsplit_once('/') {
        Some((dir, file)) => (format!("{dir}/{}", strip_ext(file)), ()),
        None => (strip_ext(output).to_string(), ()),
    };
    format!("{stem}.rejects.csv")
}

fn strip_ext(file: &str) -> &str {
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_fill_their_templates_and_rejects_sit_beside_them() {
        assert_eq!(
            fill_output("/out/{date}/scores-{run}.csv", "2026-12-02", 7),
            "/out/2026-12-02/scores-7.csv"
        );
        assert_eq!(rejects_path("/out/scores.csv"), "/out/scores.rejects.csv");
        assert_eq!(rejects_path("s3://b/k/x.jsonl"), "s3://b/k/x.rejects.csv");
        assert_eq!(rejects_path("plain"), "plain.rejects.csv");
        assert_eq!(rejects_path("/a.b/.hidden"), "/a.b/.hidden.rejects.csv");
    }

    #[test]
    fn specs_read_back_with_defaults() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"target":{"kind":"model","name":"iris","version":2},"input":"a.csv","output":"b.csv"}"#,
        )
        .unwrap();
        assert_eq!(spec.kind(), JobKind::Once);
        assert_eq!(spec.tz, "UTC");
        assert_eq!(spec.policy, FailurePolicy::Reject);
    }
}
