//! The canary driver: once a second, each running canary's step is judged on the counts the
//! gateway keeps in the versions' cells — the candidate's and the baselines' client requests
//! since the step began (read as differences, so nothing is added to the request path) — and
//! what the judgement decides is carried out and published. A server that restarts measures
//! the step in force afresh: the counts of a step cut by a restart are not trusted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Api;
use crate::domain::canary::{Verdict, judge};
use crate::domain::{Counts, Source};
use crate::gateway::routing::Route;
use crate::net::Stopping;

/// Where a step's measurement began.
struct Window {
    step: usize,
    revision: i64,
    started: Instant,
    candidate: Counts,
    baseline: Counts,
    /// When the waiting words were last written (they change every second; the store need
    /// not hear each one).
    saved: Instant,
    /// The baselines' counts over the last step that had them: at 100% the baselines serve
    /// nothing, and the candidate is still compared with what they did.
    reference: Option<Counts>,
}

impl Window {
    /// A step's measurement from now, on top of the counts as they are.
    fn new(
        step: usize,
        revision: i64,
        candidate: &Counts,
        baseline: &Counts,
        reference: Option<Counts>,
    ) -> Window {
        Window {
            step,
            revision,
            started: Instant::now(),
            candidate: candidate.clone(),
            baseline: baseline.clone(),
            saved: Instant::now(),
            reference,
        }
    }
}

/// Waiting words are written at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(5);

pub async fn drive(api: Arc<Api>, mut stopping: Stopping) {
    let mut windows: HashMap<String, Window> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stopping.wait() => return,
        }
        let running = match api.core.store().running_canaries() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "canaries were not read");
                continue;
            }
        };
        // Windows stay while a canary is paused: its last baselines are the reference when it
        // goes on to 100%.
        for (name, canary) in running {
            let table = api.routing.table();
            let Some(route) = table.by_name(&name) else {
                continue;
            };
            let Ok(service) = api.core.service(&name) else {
                continue;
            };
            let revision = service.traffic.revision;
            let (candidate, baseline) = counts(route, canary.candidate);
            let window = windows
                .entry(name.clone())
                .or_insert_with(|| Window::new(canary.step, revision, &candidate, &baseline, None));
            let enough = |c: &Counts| c.requests() >= canary.gates.min_requests;
            if window.step != canary.step || window.revision != revision {
                let last = baseline.since(&window.baseline);
                let reference = if enough(&last) {
                    Some(last)
                } else {
                    window.reference.take()
                };
                *window = Window::new(canary.step, revision, &candidate, &baseline, reference);
            }
            let mut against = baseline.since(&window.baseline);
            if !enough(&against)
                && let Some(reference) = &window.reference
            {
                against = reference.clone();
            }
            let verdict = judge(
                &canary.gates,
                window.started.elapsed().as_secs(),
                &candidate.since(&window.candidate),
                &against,
            );
            if let Verdict::Wait(words) = &verdict
                && (*words == canary.verdict || window.saved.elapsed() < SAVE_EVERY)
            {
                continue;
            }
            window.saved = Instant::now();
            let decided = !matches!(verdict, Verdict::Wait(_));
            if let Err(e) = api.core.canary_judged(&name, canary.step, verdict).await {
                tracing::warn!(service = %name, error = %e, "a canary step was not carried out");
                continue;
            }
            if decided && let Err(e) = api.changed().await {
                tracing::warn!(service = %name, error = ?e, "a canary step was not published");
            }
        }
    }
}

/// The candidate's client counts, and every other version's summed (the same versions each
/// tick, whatever their weights, so differences between ticks stay true).
fn counts(route: &Route, candidate: u32) -> (Counts, Counts) {
    let (mut c, mut b) = (Counts::default(), Counts::default());
    for (cell, _) in &route.versions {
        let counts = cell.meter.counts(Source::Client);
        if cell.version == candidate {
            c.add(&counts);
        } else {
            b.add(&counts);
        }
    }
    (c, b)
}
