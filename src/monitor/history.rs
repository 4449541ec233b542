//! One service over a period: the rollups in SQLite plus the minute still being accumulated,
//! summed per version and per chart step. Every figure of the period — and of each step — is
//! derived from summed counts, so a p99 over a week is the p99 of that week's requests.
//!
//! Periods are read in whole minutes (whole ten minutes where only the older tier is left).
//! A period of at most 15 minutes that the one-second live samples cover whole (the ticker has
//! run since before it started) is charted from them instead, at the step asked for; its
//! per-step percentiles are then the worst second's in the step, while the period's figures
//! stay exact. Any other period — one reaching back before a restart, say — is charted from
//! the minute rows, so a short view never shows an empty chart beside a non-zero total.

use std::collections::BTreeMap;

use super::live::{Live, RING};
use crate::control::contract::{OutputPoint, ServiceHistory, VersionHistory};
use crate::domain::{Counts, Figures, Outputs, Period, Sample, Source, Thresholds};
use crate::store::{Rollup, Store, StoreError};

/// Classes a chart point names before lumping the rest as "other".
pub const TOP_CLASSES: usize = 5;

/// What the question is.
pub struct Ask<'a> {
    pub service: &'a str,
    pub version: Option<u32>,
    pub period: Period,
    /// About how many points a chart should have.
    pub points: i64,
    pub thresholds: Thresholds,
    pub concurrency: Option<u32>,
}

/// What a query needs of the live state, copied out so that the store is read without
/// holding the ticker up.
pub struct LiveSlice {
    /// The newest sample's second.
    pub at: i64,
    /// The oldest second the samples cover (the ticker's start, or 15 minutes ago).
    pub since: i64,
    /// The service's rows of the minute being accumulated.
    pub pending: Vec<Rollup>,
    /// Each version's one-second samples.
    pub versions: BTreeMap<u32, Vec<Sample>>,
}

impl LiveSlice {
    pub fn of(live: &Live, service: &str) -> LiveSlice {
        let m = &live.minute;
        LiveSlice {
            at: live.at,
            since: live.cpu.iter().next().map_or(i64::MAX, |c| c.0),
            pending: m
                .rows
                .iter()
                .filter(|((s, _, _), _)| s == service)
                .map(|((service, version, source), p)| Rollup {
                    service: service.clone(),
                    model: p.model.clone(),
                    version: *version,
                    source: *source,
                    resolution: 60,
                    start: m.start,
                    counts: p.counts.clone(),
                    outputs: p.outputs.clone(),
                })
                .collect(),
            versions: live
                .services
                .get(service)
                .map(|s| {
                    s.versions
                        .iter()
                        .map(|(v, series)| (*v, series.samples.iter().copied().collect()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[derive(Default)]
struct Sums {
    model: String,
    client: Counts,
    all: Counts,
    outputs: Outputs,
    steps: BTreeMap<i64, (Counts, Counts)>,
    output_steps: BTreeMap<i64, Outputs>,
}

pub fn history(
    store: &Store,
    live: Option<LiveSlice>,
    ask: &Ask,
) -> Result<ServiceHistory, StoreError> {
    let period = ask.period;
    let from = period.from - period.from.rem_euclid(60);
    let mut rows = store.rollups(
        ask.service,
        Period {
            from,
            to: period.to,
        },
    )?;
    if let Some(live) = &live {
        rows.extend(
            live.pending
                .iter()
                .filter(|r| r.start >= from && r.start < period.to)
                .cloned(),
        );
    }
    let fine = period.step(ask.points);
    let live_chart = live.filter(|l| {
        period.seconds() <= RING as i64 && l.since <= period.from - period.from.rem_euclid(fine)
    });
    let step = match live_chart {
        Some(_) => fine,
        None => fine.max(60),
    };
    let first = period.from - period.from.rem_euclid(step);

    let mut versions: BTreeMap<u32, Sums> = BTreeMap::new();
    let (mut client_total, mut all_total) = (Counts::default(), Counts::default());
    for r in rows {
        let sums = versions.entry(r.version).or_default();
        if sums.model.is_empty() {
            sums.model = r.model.clone();
        }
        let at = (r.start - r.start.rem_euclid(step)).max(first);
        let slot = sums.steps.entry(at).or_default();
        slot.1.add(&r.counts);
        all_total.add(&r.counts);
        sums.all.add(&r.counts);
        if r.source == Source::Client {
            slot.0.add(&r.counts);
            sums.client.add(&r.counts);
            client_total.add(&r.counts);
            sums.outputs.add(&r.outputs);
            let at = r.start - r.start.rem_euclid(step.max(60));
            sums.output_steps.entry(at).or_default().add(&r.outputs);
        }
    }
    let seconds = (period.to - from) as f64;
    let mut out = ServiceHistory {
        service: ask.service.to_string(),
        // The period counted: from the start of its first minute.
        period: Period {
            from,
            to: period.to,
        },
        step,
        thresholds: ask.thresholds,
        total: Figures::of(&client_total, &all_total, seconds, ask.concurrency),
        versions: Vec::new(),
    };
    // Version 0 holds what the service refused before choosing a version: in the total only.
    versions.remove(&0);
    for (version, sums) in versions {
        if ask.version.is_some_and(|v| v != version) {
            continue;
        }
        let points = match live_chart.as_ref().and_then(|l| l.versions.get(&version)) {
            Some(series) => live_points(series.iter(), first, period.to, step),
            None => (0..)
                .map(|i| first + i * step)
                .take_while(|t| *t < period.to)
                .map(|t| match sums.steps.get(&t) {
                    Some((client, all)) => Sample::of(t, client, all, 0),
                    None => Sample {
                        t,
                        ..Sample::default()
                    },
                })
                .collect(),
        };
        let output_points = sums
            .output_steps
            .iter()
            .filter(|(_, o)| !o.is_empty())
            .map(|(t, o)| output_point(*t, o))
            .collect();
        out.versions.push(VersionHistory {
            model: sums.model,
            version,
            figures: Figures::of(&sums.client, &sums.all, seconds, ask.concurrency),
            points,
            outputs: sums.outputs,
            output_points,
        });
    }
    Ok(out)
}

/// Live one-second samples summed into steps (percentiles: the worst second of the step).
fn live_points<'a>(
    samples: impl Iterator<Item = &'a Sample>,
    first: i64,
    to: i64,
    step: i64,
) -> Vec<Sample> {
    let mut points: Vec<Sample> = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t < to)
        .map(|t| Sample {
            t,
            ..Sample::default()
        })
        .collect();
    for s in samples.filter(|s| s.t >= first && s.t < to) {
        let i = ((s.t - first) / step) as usize;
        if let Some(p) = points.get_mut(i) {
            p.requests += s.requests;
            p.errors += s.errors;
            p.tagged += s.tagged;
            p.rows += s.rows;
            p.busy_us = p.busy_us.saturating_add(s.busy_us);
            p.p50_us = p.p50_us.max(s.p50_us);
            p.p95_us = p.p95_us.max(s.p95_us);
            p.p99_us = p.p99_us.max(s.p99_us);
            p.in_flight = p.in_flight.max(s.in_flight);
        }
    }
    points
}

pub fn output_point(t: i64, o: &Outputs) -> OutputPoint {
    let n = if o.classes.is_empty() {
        o.values
    } else {
        o.classes.values().sum()
    };
    let moments = o.moments();
    OutputPoint {
        t,
        n,
        shares: o.shares(TOP_CLASSES),
        mean: moments.map(|m| m.0),
        spread: moments.map(|m| m.1),
    }
}
