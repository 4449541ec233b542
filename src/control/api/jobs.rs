//! The server's side of batch jobs: the scheduler loop and the workers it starts.
//!
//! tokio-cron-scheduler's ticker wakes the loop every second (as does `jobs run`); each wake
//! fires the jobs whose `next_fire_at` has come (what a fire does is decided in
//! [`crate::batch::scheduler`]; the store records it in one transaction) and starts a worker
//! for each scheduled run. A worker is `modeldeck batch-worker RUN`, niced, given its
//! [`Assignment`] on stdin — which stays open, so a worker whose server dies sees end of file
//! and stops — and reporting JSON lines on stdout. Cancelling kills it; its temporary output
//! is removed, so a cancelled or failed run leaves nothing at its output path.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Notify;

use super::Api;
use crate::batch::run::{Assignment, Report, ServiceCall};
use crate::batch::scheduler;
use crate::domain::job::{fill_output, rejects_path, time_text as utc};
use crate::domain::{Run, RunState, Target};
use crate::net::Stopping;

/// What the server knows of its workers.
#[derive(Default)]
pub struct Jobs {
    /// Wakes the loop: a tick, `jobs run`, a cancel.
    pub wake: Notify,
    /// Running workers by run id, each with the signal that cancels it.
    running: Mutex<HashMap<i64, Arc<Notify>>>,
}

impl Jobs {
    /// Kills run `id`'s worker if this server runs it; returns whether it did.
    pub fn cancel(&self, id: i64) -> bool {
        let cancel = self.running.lock().ok().and_then(|m| m.get(&id).cloned());
        match cancel {
            Some(c) => {
                c.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Runs the scheduler until the server stops. Runs a previous server left going are closed
/// first (failed, interrupted), and their temporary outputs removed.
pub async fn drive(api: Arc<Api>, mut stopping: Stopping) {
    match api.core.store().interrupt_runs().await {
        Ok(temps) => {
            for t in temps {
                let _ = std::fs::remove_file(t);
            }
        }
        Err(e) => tracing::warn!(error = %e, "runs left by the last server were not closed"),
    }
    let ticker = start_ticker(Arc::clone(&api)).await;
    if ticker.is_none() {
        tracing::warn!("the cron ticker did not start; the scheduler wakes on its own timer");
    }
    let mut fallback = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            () = api.jobs.wake.notified() => {}
            _ = fallback.tick(), if ticker.is_none() => {}
            () = stopping.wait() => break,
        }
        fire_due(&api).await;
        start_scheduled(&api).await;
    }
    // Stopping: workers are killed; their runs end cancelled, or, if the server is gone
    // first, are closed as interrupted by the next one.
    let ids: Vec<i64> = api
        .jobs
        .running
        .lock()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    for id in ids {
        api.jobs.cancel(id);
    }
    if let Some(mut s) = ticker {
        let _ = s.shutdown().await;
    }
}

/// A tokio-cron-scheduler job every second that wakes the loop.
async fn start_ticker(api: Arc<Api>) -> Option<tokio_cron_scheduler::JobScheduler> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let sched = JobScheduler::new().await.ok()?;
    let job = Job::new_async("* * * * * *", move |_, _| {
        let api = Arc::clone(&api);
        Box::pin(async move { api.jobs.wake.notify_one() })
    })
    .ok()?;
    sched.add(job).await.ok()?;
    sched.start().await.ok()?;
    Some(sched)
}

async fn fire_due(api: &Api) {
    let now = Utc::now();
    let due = match api.core.store().due_jobs(&utc(now)) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "due jobs were not read");
            return;
        }
    };
    for job in due {
        let Some(at) = job
            .next_fire_at
            .as_deref()
            .and_then(crate::domain::job::parse_time)
        else {
            continue;
        };
        let decision = match scheduler::decide(&job.spec, at, now, scheduler::GRACE) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(job = %job.name, error = %e, "the job's schedule does not read");
                continue;
            }
        };
        let fired = api
            .core
            .store()
            .fire_job(
                "scheduler",
                &job.name,
                decision.fire.map(|(at, trigger)| (trigger, Some(utc(at)))),
                Some(decision.next.map(utc)),
                decision.missed.into_iter().map(utc).collect(),
            )
            .await;
        if let Err(e) = fired {
            tracing::warn!(job = %job.name, error = %e, "the job did not fire");
        }
        api.announce_now();
    }
}

async fn start_scheduled(api: &Arc<Api>) {
    let runs = match api.core.store().scheduled_runs() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "scheduled runs were not read");
            return;
        }
    };
    for run in runs {
        let known = api
            .jobs
            .running
            .lock()
            .map(|m| m.contains_key(&run.id))
            .unwrap_or(true);
        if known {
            continue;
        }
        let cancel = Arc::new(Notify::new());
        if let Ok(mut m) = api.jobs.running.lock() {
            m.insert(run.id, Arc::clone(&cancel));
        }
        let api = Arc::clone(api);
        tokio::spawn(async move {
            let id = run.id;
            if let Err(e) = supervise(&api, run, &cancel).await {
                let _ = api
                    .core
                    .store()
                    .finish_run(id, RunState::Failed, None, Some(e))
                    .await;
            }
            if let Ok(mut m) = api.jobs.running.lock() {
                m.remove(&id);
            }
            api.announce_now();
        });
    }
}

/// What the worker for `run` is told.
fn assignment(api: &Api, run: &Run) -> Result<Assignment, String> {
    let job = api.core.job(&run.job).map_err(|e| e.to_string())?;
    let model = api
        .core
        .job_model(&job.spec.target)
        .map_err(|e| e.to_string())?;
    let zone: chrono_tz::Tz = job.spec.tz.parse().unwrap_or(chrono_tz::UTC);
    let date = Utc::now()
        .with_timezone(&zone)
        .format("%Y-%m-%d")
        .to_string();
    let output = fill_output(&job.spec.output, &date, run.id);
    // Checked again: folders and links may have changed since the job was saved.
    let root = api.core.data_dir().root().to_path_buf();
    for (path, what) in [
        (&job.spec.input, "input"),
        (&output, "output"),
        (&rejects_path(&output), "rejects file"),
    ] {
        if let Some(why) = crate::batch::guard::refused(path, what, &root) {
            return Err(why);
        }
    }
    let spool = api
        .core
        .data_dir()
        .staging()
        .join(format!("run-{}", run.id));
    // A bucket's object is written in the worker's spool folder and uploaded at the end; a
    // local file beside its final path, renamed into place.
    let temp = if output.contains("://") {
        spool.join(format!("output.run-{}.tmp", run.id))
    } else {
        let out_path = std::path::Path::new(&output);
        let dir = match out_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot make the output's folder {}: {e}", dir.display()))?;
        let name = out_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        dir.join(format!(".{name}.run-{}.tmp", run.id))
    };
    let service = match &job.spec.target {
        Target::Service { name } => {
            let s = api.core.service(name).map_err(|e| e.to_string())?;
            let model_name = s
                .deployments
                .first()
                .map(|d| d.model.clone())
                .unwrap_or_default();
            Some(ServiceCall {
                url: format!("{}/v1/models/{model_name}:predict", api.gateway_url),
                host: s.host.clone(),
                key: s.key.clone(),
                max_rows: s.resources.max_batch_rows as usize,
            })
        }
        Target::Model { .. } => None,
    };
    Ok(Assignment {
        run: run.id,
        spec: job.spec.clone(),
        model_kind: model.kind,
        model_path: model.path,
        service,
        rejects: rejects_path(&output),
        temp,
        output,
        spool,
        data_dir: Some(root),
    })
}

/// Starts the worker for `run` and follows it to its end.
async fn supervise(api: &Arc<Api>, run: Run, cancel: &Notify) -> Result<(), String> {
    let a = assignment(api, &run)?;
    // The running binary itself, even when an upgrade has replaced the file it came from
    // (a worker of another version would not understand its assignment).
    let exe = if cfg!(target_os = "linux") && std::path::Path::new("/proc/self/exe").exists() {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(|e| format!("cannot find modeldeck itself: {e}"))?
    };
    let mut child = tokio::process::Command::new(exe)
        .arg("batch-worker")
        .arg(run.id.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the worker: {e}"))?;
    let pid = child.id().unwrap_or(0);
    let body = serde_json::to_string(&a).map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("the worker has no stdin")?;
    stdin
        .write_all(format!("{body}\n").as_bytes())
        .await
        .map_err(|e| format!("cannot brief the worker: {e}"))?;
    let store = api.core.store();
    let _ = store
        .run_started(
            run.id,
            pid,
            a.output.clone(),
            a.rejects.clone(),
            a.temp.display().to_string(),
        )
        .await;
    api.announce_now();
    let stdout = child.stdout.take().ok_or("the worker has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut last = None;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(text)) => match serde_json::from_str::<Report>(&text) {
                    Ok(Report::Progress(c)) => {
                        let _ = store.run_progress(run.id, c).await;
                    }
                    Ok(end) => last = Some(end),
                    Err(_) => tracing::warn!(run = run.id, "the worker said something unreadable"),
                },
                _ => break,
            },
            () = cancel.notified() => {
                let _ = child.kill().await;
                let _ = std::fs::remove_file(&a.temp);
                let _ = std::fs::remove_dir_all(&a.spool);
                let _ = store.finish_run(run.id, RunState::Cancelled, None, Some("cancelled".into())).await;
                return Ok(());
            }
        }
    }
    drop(stdin);
    let status = child.wait().await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&a.spool);
    match last {
        Some(Report::Completed(c)) => {
            store
                .finish_run(run.id, RunState::Completed, Some(c), None)
                .await
                .map_err(|e| e.to_string())?;
        }
        Some(Report::Failed { error, counts: c }) => {
            // A run that failed early may not have reached its writer's own clean-up.
            let _ = std::fs::remove_file(&a.temp);
            store
                .finish_run(run.id, RunState::Failed, Some(c), Some(error))
                .await
                .map_err(|e| e.to_string())?;
        }
        _ => {
            let _ = std::fs::remove_file(&a.temp);
            let how = match std::os::unix::process::ExitStatusExt::signal(&status) {
                Some(sig) => format!("was killed (signal {sig})"),
                None => format!("stopped ({status})"),
            };
            store
                .finish_run(
                    run.id,
                    RunState::Failed,
                    None,
                    Some(format!("interrupted: the worker {how} before it finished")),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
