//! Batch jobs as the control layer takes them: a definition is checked whole before it is
//! stored — its target exists, its schedule and zone read, its chain fits the model (against
//! the input's own columns when the input is a local file already there) — and its first fire
//! time is computed in the same call. Running is the server's (`api::jobs`).

use std::path::PathBuf;

use chrono::Utc;

use super::contract::JobView;
use super::{ControlError, Core};
use crate::batch::chain::{self, Stats};
use crate::batch::{guard, input, records::Format, scheduler};
use crate::domain::job::time_text as utc;
use crate::domain::{Job, JobSpec, ModelKind, ModelName, Run, Target};
use crate::runtime::{self, FieldSpec};

/// The model a job's chain is checked against and a worker loads.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub kind: ModelKind,
    pub path: PathBuf,
    /// `iris:2`, for messages.
    pub label: String,
}

/// Whether writing `output` would write over a file `input` names (the same place however
/// spelled, or a file the input's wildcard matches).
fn writes_input(input: &str, output: &str) -> bool {
    if input.contains("://") || output.contains("://") {
        return input == output;
    }
    let (i, o) = (
        guard::resolved(std::path::Path::new(input)),
        guard::resolved(std::path::Path::new(output)),
    );
    if i == o || guard::same_file(&i, &o) {
        return true;
    }
    let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match (name(&i), name(&o)) {
        (Some(pattern), Some(out)) if pattern.contains(['*', '?']) => {
            i.parent() == o.parent() && input::wildcard(&pattern, &out.replace(['{', '}'], "x"))
        }
        _ => false,
    }
}

/// A job definition refused, naming the part at fault.
pub(crate) fn invalid(field: &'static str, message: String) -> ControlError {
    ControlError::Invalid {
        code: "invalid_job",
        field: Some(field),
        message,
    }
}

impl Core {
    /// The model file behind a target now: the version named (or the newest), or for a
    /// service the version that takes most of its traffic.
    pub fn job_model(&self, target: &Target) -> Result<ModelFile, ControlError> {
        let root = self.data_dir().root();
        match target {
            Target::Model { name, version } => {
                let versions = self.show_model(name)?;
                let v = match version {
                    Some(v) => versions.iter().find(|m| m.version == *v).ok_or_else(|| {
                        ControlError::NotFound(format!(
                            "model {name} has no version {v}: see `modeldeck models show {name}`"
                        ))
                    })?,
                    None => versions.iter().max_by_key(|m| m.version).ok_or_else(|| {
                        ControlError::NotFound(format!("model {name} has no versions"))
                    })?,
                };
                // A SavedModel is scored by the upstream that serves it, as a service would.
                let (kind, artifact) = v.serving();
                Ok(ModelFile {
                    kind,
                    path: root.join(artifact),
                    label: format!("{name}:{}", v.version),
                })
            }
            Target::Service { name } => {
                let s = self.service(name)?;
                let d = s
                    .deployments
                    .iter()
                    .max_by_key(|d| d.weight)
                    .ok_or_else(|| {
                        ControlError::NotFound(format!("service {name} serves no version"))
                    })?;
                Ok(ModelFile {
                    kind: d.kind,
                    path: root.join(&d.artifact),
                    label: format!("{}:{} (service {name})", d.model, d.version),
                })
            }
        }
    }

    /// Checks a job's definition whole; returns its first fire time.
    pub async fn check_job(&self, spec: &JobSpec) -> Result<Option<String>, ControlError> {
        if let Target::Model { name, .. } = &spec.target {
            ModelName::parse(name).map_err(|e| ControlError::InvalidName(e.to_string()))?;
        }
        for (field, text) in [("input", &spec.input), ("output", &spec.output)] {
            if text.trim().is_empty() {
                return Err(invalid(
                    field,
                    format!("the job has no {field}: give --{field}"),
                ));
            }
            crate::domain::check_text(field, text, 4096)
                .map_err(|e| invalid(field, e.to_string()))?;
        }
        let root = self.data_dir().root().to_path_buf();
        let rejects = crate::domain::job::rejects_path(&spec.output);
        for (field, path, what) in [
            ("input", &spec.input, "input"),
            ("output", &spec.output, "output"),
            ("output", &rejects, "rejects file"),
        ] {
            if let Some(why) = guard::refused(path, what, &root) {
                return Err(invalid(field, why));
            }
        }
        if writes_input(&spec.input, &spec.output) || writes_input(&spec.input, &rejects) {
            return Err(invalid(
                "output",
                "the output (or its rejects file) would be one of the input's files: write the scores elsewhere".into(),
            ));
        }
        if spec.cron.as_ref().is_some_and(|c| c.len() > 200) {
            return Err(invalid(
                "schedule",
                "a cron expression is at most 200 characters".into(),
            ));
        }
        if let Some((scheme, _)) = spec.output.split_once("://") {
            if !matches!(scheme, "s3" | "cos") {
                return Err(invalid(
                    "output",
                    format!(
                        "{} is not somewhere a job can write: name a local path or s3://BUCKET/KEY",
                        spec.output
                    ),
                ));
            }
            let env = |k: &str| std::env::var(k).ok();
            crate::registry::Source::parse(&spec.output, &Default::default(), &env)
                .map_err(|e| invalid("output", e.to_string()))?;
        }
        if spec.output.contains('*') {
            return Err(invalid(
                "output",
                "an output has no wildcards: use {date} and {run} to keep runs apart".into(),
            ));
        }
        if let Some(t) = spec.threads
            && !(1..=256).contains(&t)
        {
            return Err(invalid(
                "threads",
                format!("threads must be 1 to 256, not {t}"),
            ));
        }
        chrono_tz_check(&spec.tz)?;
        if spec.cron.is_none()
            && let Some(start) = spec
                .start_at
                .as_deref()
                .and_then(crate::domain::job::parse_time)
            && start < Utc::now() - chrono::Duration::minutes(1)
        {
            return Err(invalid(
                "start",
                format!(
                    "{} is in the past: a once-job would never fire; leave the start out to run it now",
                    crate::domain::job::time_text(start)
                ),
            ));
        }
        let first = scheduler::first_fire(spec, Utc::now()).map_err(|e| invalid("schedule", e))?;
        if let (Some(cron), None) = (&spec.cron, &first) {
            return Err(invalid(
                "schedule",
                format!("{cron:?} never fires (no such date comes): check the day and month"),
            ));
        }
        let model = self.job_model(&spec.target)?;
        if model.kind == crate::domain::ModelKind::Upstream {
            // Its remote server decides what it takes: the file's columns go as they are.
            return match spec.target {
                Target::Service { .. } => Ok(first.map(utc)),
                Target::Model { .. } => Err(invalid(
                    "target",
                    format!(
                        "{} runs on its own server, so a job scores it through a service: deploy it and use --service",
                        model.label
                    ),
                )),
            };
        }
        let steps = spec.steps.clone();
        let input = spec.input.clone();
        tokio::task::spawn_blocking(move || check_chain(&model, &steps, &input))
            .await
            .map_err(|e| ControlError::Io(format!("the check stopped: {e}")))??;
        Ok(first.map(utc))
    }

    pub async fn create_job(
        &self,
        actor: &str,
        name: &str,
        spec: JobSpec,
    ) -> Result<Job, ControlError> {
        ModelName::parse(name).map_err(|e| {
            ControlError::InvalidName(e.to_string().replace("model name", "job name"))
        })?;
        let first = self.check_job(&spec).await?;
        Ok(self.store().create_job(actor, name, spec, first).await?)
    }

    pub async fn edit_job(
        &self,
        actor: &str,
        name: &str,
        spec: JobSpec,
    ) -> Result<Job, ControlError> {
        let job = self.job(name)?;
        let first = self.check_job(&spec).await?;
        let next = if job.paused { None } else { first };
        Ok(self.store().edit_job(actor, name, spec, next).await?)
    }

    pub async fn pause_job(
        &self,
        actor: &str,
        name: &str,
        paused: bool,
    ) -> Result<Job, ControlError> {
        let job = self.job(name)?;
        let next = if paused {
            None
        } else {
            scheduler::first_fire(&job.spec, Utc::now())
                .map_err(|e| invalid("schedule", e))?
                .map(utc)
        };
        // A once-job that has fired has nothing left to resume.
        let next = match (&job.spec.cron, &job.last_run) {
            (None, Some(_)) if !paused => None,
            _ => next,
        };
        Ok(self.store().pause_job(actor, name, paused, next).await?)
    }

    pub async fn delete_job(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        Ok(self.store().delete_job(actor, name).await?)
    }

    pub fn job(&self, name: &str) -> Result<Job, ControlError> {
        self.store().job(name)?.ok_or_else(|| {
            ControlError::NotFound(format!("no job named {name:?}: see `modeldeck jobs list`"))
        })
    }

    pub fn jobs(&self) -> Result<Vec<Job>, ControlError> {
        Ok(self.store().jobs()?)
    }

    pub fn runs(&self, job: &str, limit: usize) -> Result<Vec<Run>, ControlError> {
        Ok(self.store().runs(job, limit)?)
    }

    pub fn run(&self, id: i64) -> Result<Run, ControlError> {
        self.store().run(id)?.ok_or_else(|| {
            ControlError::NotFound(format!("no run {id}: see `modeldeck jobs runs JOB`"))
        })
    }
}

impl Core {
    /// A job as `jobs show` and the console's job view present it.
    pub fn job_view(&self, name: &str, runs: usize) -> Result<JobView, ControlError> {
        let job = self.job(name)?;
        let next_fires = match (&job.next_fire_at, scheduler::schedule(&job.spec)) {
            (Some(next), Ok(Some(s))) => {
                let first = crate::domain::job::parse_time(next);
                let mut fires: Vec<String> = first.iter().map(|t| utc(*t)).collect();
                if let Some(t) = first {
                    fires.extend(s.next_fires(t, 4).into_iter().map(utc));
                }
                fires
            }
            (Some(next), _) => vec![next.clone()],
            (None, _) => vec![],
        };
        Ok(JobView {
            schedule: scheduler::describe(&job.spec),
            runs: self.runs(name, runs)?,
            job,
            next_fires,
            started: None,
        })
    }
}

fn chrono_tz_check(zone: &str) -> Result<(), ControlError> {
    zone.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        invalid(
            "tz",
            format!("{zone:?} is not a time zone: name one as the tz database does, e.g. UTC or Europe/Berlin"),
        )
    })
}

/// The chain against the model, and against the input's columns when it is a local file
/// that exists now (a glob: its first match).
fn check_chain(
    model: &ModelFile,
    steps: &[crate::domain::Step],
    input_text: &str,
) -> Result<(), ControlError> {
    let loaded = runtime::load(model.kind, &model.path)
        .map_err(|e| invalid("target", format!("{}: {e}", model.label)))?;
    let inputs: Vec<FieldSpec> = loaded.signature().inputs.clone();
    let header = if input_text.contains("://") {
        None
    } else {
        // A file not there yet may come; one that is there but cannot be a file is refused.
        match input::local_files(input_text) {
            // Only a file (or match) not there yet is left for the run to find.
            Err(e)
                if !(e.to_string().contains("No such file")
                    || e.to_string().contains("no file matches")) =>
            {
                return Err(invalid("input", e.to_string()));
            }
            files => files
                .ok()
                .and_then(|f| f.into_iter().next())
                .and_then(|f| input::sample(&f, Format::of(&f.label)).ok()),
        }
    };
    chain::build(steps, header.as_deref(), &inputs, &Stats::new(), None)
        .map_err(|e| invalid("steps", e.to_string()))?;
    Ok(())
}
