//! `modeldeck jobs …`: batch prediction jobs and their runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{print_json, print_table, row};
use crate::config::DataDir;
use crate::control::contract::{CreateJob, JobCall, JobView};
use crate::control::jobs::invalid;
use crate::control::{ControlError, Session};
use crate::domain::job::time_text;
use crate::domain::{FailurePolicy, JobSpec, ModelRef, Run, Step, Target};

/// What a job is: every flag of `create`, all optional for `edit`.
#[derive(Debug, Args, Default)]
pub struct JobFlags {
    /// Score through a model version in the worker: MODEL or MODEL:VERSION (newest at each run)
    #[arg(long, value_name = "MODEL[:V]", conflicts_with = "service")]
    pub model: Option<String>,
    /// Score through a service, by the gateway (as batch traffic)
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Records to score: a file or glob (CSV or .jsonl), http(s):// or s3://
    #[arg(long, value_name = "PATH|URL")]
    pub input: Option<String>,
    /// Where the scores go (a local path; {date} and {run} are filled in at each run)
    #[arg(long, value_name = "PATH")]
    pub output: Option<String>,
    /// A preprocessing step, in order (repeat): fill:age=median, standardise:age,
    /// onehot:species, filter:age >= 18, derive:ratio=a / b, map:s a=1,b=2,*=0 … ; with `edit`,
    /// the steps given replace the chain
    #[arg(long = "step", value_name = "KIND:PARAMS")]
    pub steps: Vec<String>,
    /// Periodic: cron, 5 fields (min hour day month weekday) or 6 with seconds first
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// When to start: RFC 3339, or "YYYY-MM-DD HH:MM" in --tz (a once-job without one runs now)
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// The time zone of --cron and --start (tz database name; default UTC)
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Scoring threads (default: the machine's cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Bad records: reject (to a rejects file; the run fails past 1% or 1000) or abort
    #[arg(long, value_name = "POLICY")]
    pub on_bad_record: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Define a job (checked against the model before it is saved)
    Create {
        name: String,
        #[command(flatten)]
        flags: JobFlags,
        #[arg(long)]
        json: bool,
    },
    /// List jobs with their schedule and last run
    List {
        #[arg(long)]
        json: bool,
    },
    /// A job: its chain, next fire times and last runs
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a job (the flags given replace those parts; --once drops the schedule)
    Edit {
        name: String,
        #[command(flatten)]
        flags: JobFlags,
        /// Make it a once-job (drop --cron)
        #[arg(long, conflicts_with = "cron")]
        once: bool,
        /// Remove every preprocessing step
        #[arg(long, conflicts_with = "steps")]
        no_steps: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run a job now (needs the server)
    Run {
        name: String,
        /// Wait for the run to end and exit non-zero unless it completed
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a running run (its worker is killed; no output is left)
    Cancel {
        run: i64,
        #[arg(long)]
        json: bool,
    },
    /// Stop firing a job on its schedule
    Pause {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Fire a paused job on its schedule again
    Resume {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a job (its runs stay in the history)
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// A job's runs, newest first
    Runs {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

impl JobsCommand {
    pub fn json(&self) -> bool {
        match self {
            JobsCommand::Create { json, .. }
            | JobsCommand::List { json }
            | JobsCommand::Show { json, .. }
            | JobsCommand::Edit { json, .. }
            | JobsCommand::Run { json, .. }
            | JobsCommand::Cancel { json, .. }
            | JobsCommand::Pause { json, .. }
            | JobsCommand::Resume { json, .. }
            | JobsCommand::Rm { json, .. }
            | JobsCommand::Runs { json, .. } => *json,
        }
    }
}

fn target(flags: &JobFlags) -> Result<Option<Target>, ControlError> {
    Ok(match (&flags.model, &flags.service) {
        (Some(m), _) => {
            let r: ModelRef = m.parse().map_err(ControlError::from)?;
            Some(Target::Model {
                name: r.name.to_string(),
                version: r.version,
            })
        }
        (None, Some(s)) => Some(Target::Service { name: s.clone() }),
        (None, None) => None,
    })
}

fn steps(texts: &[String]) -> Result<Vec<Step>, ControlError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.parse::<Step>()
                .map_err(|e| invalid("steps", format!("--step {} ({t:?}): {e}", i + 1)))
        })
        .collect()
}

/// `--start` as UTC: RFC 3339, or a local time in the zone.
fn start_time(text: &str, zone: &str) -> Result<String, ControlError> {
    use chrono::TimeZone;
    if let Some(t) = crate::domain::job::parse_time(text) {
        return Ok(time_text(t));
    }
    let tz: chrono_tz::Tz = zone.parse().map_err(|_| {
        invalid(
            "tz",
            format!("{zone:?} is not a time zone (e.g. UTC, Europe/Berlin)"),
        )
    })?;
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
    .ok_or_else(|| {
        invalid(
            "start",
            format!("{text:?} is not a time: write 2026-12-24 02:30 (in --tz) or RFC 3339"),
        )
    })?;
    let local = tz.from_local_datetime(&naive).earliest().ok_or_else(|| {
        invalid(
            "start",
            format!("{text} does not exist in {zone} (the clocks jump over it)"),
        )
    })?;
    Ok(time_text(local.with_timezone(&chrono::Utc)))
}

/// A local path as typed, made absolute from where it was typed: the server's worker reads
/// and writes it, and runs in the server's folder, not this one. URLs and buckets pass as
/// they are.
fn here(path: String) -> String {
    if path.contains("://") || Path::new(&path).is_absolute() {
        return path;
    }
    std::path::absolute(&path).map_or(path, |p| p.display().to_string())
}

/// The flags given, over `base` (a new job starts from nothing).
pub(crate) fn apply(flags: JobFlags, base: Option<JobSpec>) -> Result<JobSpec, ControlError> {
    let target = match (target(&flags)?, &base) {
        (Some(t), _) => t,
        (None, Some(b)) => b.target.clone(),
        (None, None) => {
            return Err(invalid(
                "target",
                "name what to score through: --model MODEL[:VERSION] or --service SERVICE".into(),
            ));
        }
    };
    let need = |v: Option<String>, old: Option<&String>, flag: &'static str| {
        v.or_else(|| old.cloned())
            .ok_or_else(|| invalid(flag, format!("the job needs --{flag}")))
    };
    let tz = flags
        .tz
        .clone()
        .or_else(|| base.as_ref().map(|b| b.tz.clone()))
        .unwrap_or_else(|| "UTC".into());
    let start_at = match &flags.start {
        Some(t) => Some(start_time(t, &tz)?),
        None => base.as_ref().and_then(|b| b.start_at.clone()),
    };
    let policy = match &flags.on_bad_record {
        Some(p) => p
            .parse::<FailurePolicy>()
            .map_err(|e| invalid("policy", e))?,
        None => base.as_ref().map(|b| b.policy).unwrap_or_default(),
    };
    Ok(JobSpec {
        input: need(
            flags.input.map(here),
            base.as_ref().map(|b| &b.input),
            "input",
        )?,
        output: need(
            flags.output.map(here),
            base.as_ref().map(|b| &b.output),
            "output",
        )?,
        steps: if flags.steps.is_empty() {
            base.as_ref().map(|b| b.steps.clone()).unwrap_or_default()
        } else {
            steps(&flags.steps)?
        },
        cron: flags
            .cron
            .or_else(|| base.as_ref().and_then(|b| b.cron.clone())),
        threads: flags
            .threads
            .or_else(|| base.as_ref().and_then(|b| b.threads)),
        target,
        tz,
        start_at,
        policy,
    })
}

pub async fn dispatch(
    data_dir: Option<PathBuf>,
    actor: &str,
    command: JobsCommand,
) -> Result<(), ControlError> {
    let dir = DataDir::open(data_dir.as_deref())?;
    let session = Session::open(dir).await?;
    match command {
        JobsCommand::Create { name, flags, json } => {
            let spec = apply(flags, None)?;
            let view = session.create_job(actor, CreateJob { name, spec }).await?;
            show(&view, json);
        }
        JobsCommand::List { json } => {
            let jobs = session.jobs().await?;
            if json {
                print_json(&json!(jobs));
            } else if jobs.is_empty() {
                crate::say!(
                    "no jobs yet: define one with `modeldeck jobs create NAME --model M --input IN --output OUT`"
                );
            } else {
                let mut rows = vec![row(["NAME", "TARGET", "SCHEDULE", "NEXT", "LAST RUN"])];
                for j in &jobs {
                    rows.push(vec![
                        j.name.clone(),
                        j.spec.target.to_string(),
                        crate::batch::scheduler::describe(&j.spec),
                        if j.paused {
                            "paused".into()
                        } else {
                            j.next_fire_at.clone().unwrap_or_else(|| "-".into())
                        },
                        j.last_run
                            .as_ref()
                            .map(|r| format!("{} {}", r.id, r.state))
                            .unwrap_or_else(|| "-".into()),
                    ]);
                }
                print_table(&rows);
            }
        }
        JobsCommand::Show { name, json } => show(&session.job(&name).await?, json),
        JobsCommand::Edit {
            name,
            flags,
            once,
            no_steps,
            json,
        } => {
            let current = session.job(&name).await?.job.spec;
            let mut spec = apply(flags, Some(current))?;
            if once {
                spec.cron = None;
            }
            if no_steps {
                spec.steps.clear();
            }
            show(
                &session
                    .change_job(actor, &name, JobCall::Edit { spec })
                    .await?,
                json,
            );
        }
        JobsCommand::Run { name, wait, json } => {
            let view = session.change_job(actor, &name, JobCall::Run).await?;
            let Some(mut run) = view.started else {
                return Err(ControlError::Io("the server did not start a run".into()));
            };
            if wait {
                while !run.state.is_final() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    run = session.run(run.id).await?;
                }
            }
            if json {
                print_json(&json!(run));
            } else {
                say_run(&run);
            }
            if wait && run.state != crate::domain::RunState::Completed {
                return Err(ControlError::Conflict {
                    code: "run_failed",
                    message: format!(
                        "run {} {}: {}",
                        run.id,
                        run.state,
                        run.error.as_deref().unwrap_or("-")
                    ),
                });
            }
        }
        JobsCommand::Cancel { run, json } => {
            let run = session.cancel_run(run).await?;
            if json {
                print_json(&json!(run));
            } else {
                say_run(&run);
            }
        }
        JobsCommand::Pause { name, json } => show(
            &session.change_job(actor, &name, JobCall::Pause).await?,
            json,
        ),
        JobsCommand::Resume { name, json } => show(
            &session.change_job(actor, &name, JobCall::Resume).await?,
            json,
        ),
        JobsCommand::Rm { name, json } => {
            session.delete_job(actor, &name).await?;
            if json {
                print_json(&json!({ "deleted": name }));
            } else {
                crate::say!("deleted job {name} (its runs stay in the history)");
            }
        }
        JobsCommand::Runs { name, limit, json } => {
            let runs = session.runs(&name, limit.clamp(1, 1000)).await?;
            if json {
                print_json(&json!(runs));
            } else {
                runs_table(&runs);
            }
        }
    }
    Ok(())
}

fn say_run(run: &Run) {
    crate::say!(
        "run {} of {}: {}{}",
        run.id,
        run.job,
        run.state,
        match run.state {
            crate::domain::RunState::Completed => format!(
                ", {} read, {} scored, {} rejected, {} filtered → {}",
                run.rows_read,
                run.rows_scored,
                run.rows_rejected,
                run.rows_filtered,
                run.output.as_deref().unwrap_or("-")
            ),
            _ => run
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
        }
    );
}

fn runs_table(runs: &[Run]) {
    let mut rows = vec![row([
        "RUN", "STATE", "TRIGGER", "STARTED", "READ", "SCORED", "REJECTED", "ERROR",
    ])];
    for r in runs {
        rows.push(vec![
            r.id.to_string(),
            r.state.to_string(),
            format!("{:?}", r.trigger).to_lowercase(),
            r.started_at
                .clone()
                .or_else(|| r.fire_at.clone())
                .unwrap_or_else(|| "-".into()),
            r.rows_read.to_string(),
            r.rows_scored.to_string(),
            r.rows_rejected.to_string(),
            r.error
                .as_deref()
                .map(|e| crate::domain::clip(e, 60).to_string())
                .unwrap_or_default(),
        ]);
    }
    print_table(&rows);
}

fn show(view: &JobView, json: bool) {
    if json {
        print_json(&json!(view));
        return;
    }
    let j = &view.job;
    crate::say!("job       {}", j.name);
    crate::say!("target    {}", j.spec.target);
    crate::say!("input     {}", j.spec.input);
    crate::say!("output    {}", j.spec.output);
    if j.spec.steps.is_empty() {
        crate::say!("steps     none (the input's columns go to the model as they are)");
    }
    for (i, s) in j.spec.steps.iter().enumerate() {
        crate::say!(
            "{}{}. {s}",
            if i == 0 { "steps     " } else { "          " },
            i + 1
        );
    }
    crate::say!(
        "schedule  {}{}",
        view.schedule,
        if j.paused { " (paused)" } else { "" }
    );
    if !view.next_fires.is_empty() {
        crate::say!("next      {}", view.next_fires.join(", "));
    }
    crate::say!(
        "on bad    {}",
        match j.spec.policy {
            FailurePolicy::Reject => "reject to a file beside the output; fail past 1% or 1000",
            FailurePolicy::Abort => "abort at the first bad record",
        }
    );
    if let Some(r) = &view.started {
        say_run(r);
    }
    if !view.runs.is_empty() {
        crate::say!("");
        runs_table(&view.runs);
    }
}
