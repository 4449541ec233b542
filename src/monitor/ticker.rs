//! The ticker: a thread of its own that wakes at every whole second, reads the gateway's
//! counters, and turns their differences into the live samples, the minute being accumulated
//! and the services' threshold levels. Finished minutes go to the store's writer (never on the
//! request path); a stop flushes the partial minute before the store closes.
//!
//! Its own thread, not a task: the cost the monitor adds is then the thread's CPU time, which
//! it reports, and a busy async runtime cannot delay a sample.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Monitor;
use super::live::{Minute, RING, Ring, ServiceSeries, VersionSeries};
use super::process::{self, CpuMeter};
use crate::domain::{Counts, Figures, Level, Outcome, Outputs, Sample, Source, Thresholds};
use crate::gateway::routing::{ServiceMeter, VersionCell};
use crate::store::Rollup;

/// Called with the revision of each event the monitor writes, to wake the change stream.
pub type Announce = Box<dyn Fn(i64) + Send>;

/// Seconds a new level must hold before it is declared: one bad second is not an incident.
const HOLD: u32 = 5;
/// Thresholds judge the last two to three blocks of this many seconds.
const BLOCK: i64 = 10;
/// Why a level closes without a judgement.
const RESTARTED: &str = "the server restarted; levels are judged afresh";
const DELETED: &str = "the service was deleted";
/// Rollups are compacted this often.
const COMPACT_EVERY: i64 = 600;

/// A version the ticker follows, with the counts it last read.
struct Watched {
    cell: Arc<VersionCell>,
    total: u64,
    last: [Counts; 3],
    outputs: Outputs,
}

/// What one version's counters added since the last tick, by source.
struct Delta {
    service: String,
    model: String,
    version: u32,
    source: Source,
    counts: Counts,
    outputs: Option<Outputs>,
}

impl Watched {
    fn new(cell: &Arc<VersionCell>) -> Watched {
        Watched {
            cell: Arc::clone(cell),
            total: 0,
            last: Default::default(),
            outputs: Outputs::default(),
        }
    }

    /// The client's and every source's counts since the last read (`None`: nothing new).
    fn take(&mut self, service: &str, deltas: &mut Vec<Delta>) -> Option<(Counts, Counts)> {
        let meter = &self.cell.meter;
        let total = meter.total();
        if total == self.total {
            return None;
        }
        self.total = total;
        let (mut client, mut all) = (Counts::default(), Counts::default());
        for source in Source::ALL {
            let now = meter.counts(source);
            let d = now.since(&self.last[source.index()]);
            self.last[source.index()] = now;
            if d.is_empty() {
                continue;
            }
            all.add(&d);
            let outputs = (source == Source::Client).then(|| {
                let now = meter.outputs();
                let d = now.since(&self.outputs);
                self.outputs = now;
                d
            });
            if source == Source::Client {
                client.add(&d);
            }
            deltas.push(Delta {
                service: service.to_string(),
                model: self.cell.model.clone(),
                version: self.cell.version,
                source,
                counts: d,
                outputs,
            });
        }
        Some((client, all))
    }
}

/// A service's recent traffic in blocks, and the level it is at.
#[derive(Default)]
struct Judge {
    blocks: VecDeque<(Counts, Counts)>,
    current: (Counts, Counts),
    block_start: i64,
    level: Level,
    reasons: Vec<String>,
    candidate: Level,
    streak: u32,
}

impl Judge {
    /// Adds a second of traffic and judges the window; `Some(old level)` when the level changed.
    fn second(
        &mut self,
        t: i64,
        traffic: Option<&(Counts, Counts)>,
        thresholds: &Thresholds,
        concurrency: u32,
    ) -> Option<Level> {
        if t - self.block_start >= BLOCK {
            let done = std::mem::take(&mut self.current);
            self.blocks.push_back(done);
            if self.blocks.len() > 2 {
                self.blocks.pop_front();
            }
            self.block_start = t - t.rem_euclid(BLOCK);
        }
        if let Some((client, all)) = traffic {
            self.current.0.add(client);
            self.current.1.add(all);
        }
        let (mut client, mut all) = self.current.clone();
        for (c, a) in &self.blocks {
            client.add(c);
            all.add(a);
        }
        let seconds = (self.blocks.len() as i64 * BLOCK + (t - self.block_start + 1)) as f64;
        let figures = Figures::of(&client, &all, seconds, Some(concurrency));
        let (level, reasons) = thresholds.judge(&figures);
        if level == self.level {
            self.streak = 0;
            self.reasons = reasons;
            return None;
        }
        if level != self.candidate {
            self.candidate = level;
            self.streak = 0;
        }
        self.streak += 1;
        if self.streak < HOLD {
            return None;
        }
        let old = self.level;
        self.level = level;
        self.reasons = reasons;
        self.streak = 0;
        Some(old)
    }

    /// Nothing left to judge: no traffic in the window and at rest.
    fn idle(&self) -> bool {
        self.level == Level::Ok
            && self.current.1.is_empty()
            && self.blocks.iter().all(|(_, a)| a.is_empty())
    }
}

pub struct Ticker {
    monitor: Arc<Monitor>,
    runtime: tokio::runtime::Handle,
    announce: Announce,
    watched: HashMap<(String, String, u32), Watched>,
    refused: HashMap<String, (Arc<ServiceMeter>, u64)>,
    /// Versions that left the table, read each second until no request can still count in
    /// them (the ticker holds the last reference).
    retiring: Vec<Watched>,
    /// Likewise for services' refusal counters.
    retiring_meters: Vec<(String, Arc<ServiceMeter>, u64)>,
    judges: HashMap<String, Judge>,
    /// Each upstream version's health as last seen: a change is an audit event, which also
    /// wakes the console.
    upstreams: HashMap<(String, String, u32), bool>,
    cpu: CpuMeter,
    last: i64,
    compacted: i64,
}

impl Ticker {
    pub fn new(monitor: Arc<Monitor>, runtime: tokio::runtime::Handle, announce: Announce) -> Self {
        Ticker {
            monitor,
            runtime,
            announce,
            watched: HashMap::new(),
            refused: HashMap::new(),
            retiring: Vec::new(),
            retiring_meters: Vec::new(),
            judges: HashMap::new(),
            upstreams: HashMap::new(),
            cpu: CpuMeter::default(),
            last: 0,
            compacted: 0,
        }
    }

    /// Ticks at every whole second until `stop` says so (or is dropped), then flushes.
    pub fn run(mut self, stop: Receiver<()>) {
        self.close_levels_of_the_last_run();
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let wait = Duration::from_secs(1)
                .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos())));
            match stop.recv_timeout(wait + Duration::from_millis(2)) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(rows) = self.tick(unix_now() - 1) {
                let store = self.monitor.store.clone();
                self.runtime.spawn(async move {
                    if let Err(e) = store.add_rollups(rows).await {
                        tracing::warn!(error = %e, "a minute of metrics was not saved");
                    }
                });
            }
        }
        // The partial second and minute: a restart adds the rest of that minute to the row.
        let mut rows = self.tick(unix_now()).unwrap_or_default();
        rows.extend(rollups(std::mem::take(&mut self.monitor.live_mut().minute)));
        let store = self.monitor.store.clone();
        if let Err(e) = self.runtime.block_on(store.add_rollups(rows)) {
            tracing::warn!(error = %e, "the last minute of metrics was not saved");
        }
    }

    /// One second: `t` is the second that just ended. Returns the rows of a minute that
    /// finished, for the caller to save.
    pub fn tick(&mut self, t: i64) -> Option<Vec<Rollup>> {
        if t <= self.last {
            return None; // The clock went back; the samples keep their order.
        }
        self.last = t;
        let table = self.monitor.routing.table();
        let defaults = self.monitor.settings.thresholds;
        let mut deltas = Vec::new();
        let mut seen = HashSet::new();
        let mut series: Vec<(String, ServiceUpdate)> = Vec::new();
        let mut changes = Vec::new();
        let mut health = Vec::new();
        for route in table.routes() {
            let mut traffic: Option<(Counts, Counts)> = None;
            let mut in_flight = 0;
            let mut versions = Vec::new();
            for (cell, weight) in &route.versions {
                let key = (route.name.clone(), cell.model.clone(), cell.version);
                seen.insert(key.clone());
                let watched = self
                    .watched
                    .entry(key)
                    .or_insert_with(|| Watched::new(cell));
                if !Arc::ptr_eq(&watched.cell, cell) {
                    // Re-created under the same name between two ticks: the old cell's
                    // last requests still count.
                    let old = std::mem::replace(watched, Watched::new(cell));
                    self.retiring.push(old);
                }
                if let crate::gateway::routing::State::Ready(crate::runtime::Serving::Upstream(u)) =
                    cell.state()
                {
                    let up = match u.health.seen() {
                        crate::runtime::upstream::Seen::Up => Some((true, String::new())),
                        crate::runtime::upstream::Seen::Down(why) => Some((false, why)),
                        crate::runtime::upstream::Seen::Checking => None,
                    };
                    if let Some((up, why)) = up {
                        let before = self
                            .upstreams
                            .insert((route.name.clone(), cell.model.clone(), cell.version), up);
                        // A first sighting is news only when it is down.
                        if before.map_or(!up, |b| b != up) {
                            health.push((route.name.clone(), cell.version, u.name(), up, why));
                        }
                    }
                }
                let flying = cell.meter.in_flight();
                in_flight += flying;
                let sample = match watched.take(&route.name, &mut deltas) {
                    Some((client, all)) => {
                        let s = Sample::of(t, &client, &all, flying);
                        let sum = traffic.get_or_insert_with(Default::default);
                        sum.0.add(&client);
                        sum.1.add(&all);
                        s
                    }
                    None => Sample {
                        t,
                        in_flight: flying,
                        ..Sample::default()
                    },
                };
                versions.push((cell.version, cell.model.clone(), *weight, sample));
            }
            self.refusals(&route.name, &route.meter, &mut deltas);
            let total = match &traffic {
                Some((client, all)) => Sample::of(t, client, all, in_flight),
                None => Sample {
                    t,
                    in_flight,
                    ..Sample::default()
                },
            };
            let thresholds = route.thresholds.unwrap_or(defaults);
            let concurrency = route.resources.concurrency;
            let (level, reasons) = if traffic.is_some() || self.judges.contains_key(&route.name) {
                let judge = self.judges.entry(route.name.clone()).or_default();
                if let Some(old) = judge.second(t, traffic.as_ref(), &thresholds, concurrency) {
                    changes.push((route.name.clone(), old, judge.level, judge.reasons.clone()));
                }
                let out = (judge.level, judge.reasons.clone());
                if judge.idle() {
                    self.judges.remove(&route.name);
                }
                out
            } else {
                (Level::Ok, Vec::new())
            };
            series.push((
                route.name.clone(),
                ServiceUpdate {
                    concurrency,
                    thresholds,
                    level,
                    reasons,
                    total,
                    versions,
                },
            ));
        }
        self.retire(&table, &seen, &mut deltas, &mut changes);
        let cpu = self.cpu.percent();
        let rss = process::rss_bytes();
        let finished = self.apply(t, deltas, series, cpu, rss).map(rollups);
        for change in changes {
            self.announce_change(change);
        }
        self.upstreams.retain(|k, _| seen.contains(k));
        for (service, version, upstream, up, why) in health {
            let kind = if up { "upstream.up" } else { "upstream.down" };
            let mut detail = serde_json::json!({ "version": version, "upstream": upstream });
            if !up {
                detail["reason"] = serde_json::Value::String(why);
            }
            self.note(kind, service, detail);
        }
        if t - self.compacted >= COMPACT_EVERY {
            self.compacted = t;
            self.compact(t);
        }
        self.monitor
            .ticker_cpu_us
            .store(process::thread_cpu_micros(), Ordering::Relaxed);
        finished
    }

    /// Counts the callers a service refused since the last tick.
    fn refusals(&mut self, service: &str, meter: &Arc<ServiceMeter>, deltas: &mut Vec<Delta>) {
        let entry = self
            .refused
            .entry(service.to_string())
            .or_insert_with(|| (Arc::clone(meter), 0));
        if !Arc::ptr_eq(&entry.0, meter) {
            let (old, read) = std::mem::replace(entry, (Arc::clone(meter), 0));
            self.retiring_meters.push((service.to_string(), old, read));
        }
        refusals(service, &entry.0, &mut entry.1, deltas);
    }

    /// Follows what left the table — versions and services deleted, or re-created under the
    /// same name — to its last request: a cell the table dropped is read each second until the
    /// ticker holds the only reference, so no request in flight at the change, and no version
    /// that lived less than a second, goes uncounted.
    fn retire(
        &mut self,
        table: &crate::gateway::routing::Table,
        seen: &HashSet<(String, String, u32)>,
        deltas: &mut Vec<Delta>,
        changes: &mut Vec<LevelChange>,
    ) {
        let gone: Vec<_> = self
            .watched
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(w) = self.watched.remove(&key) {
                self.retiring.push(w);
            }
        }
        let routes: HashSet<&str> = table.routes().map(|r| r.name.as_str()).collect();
        let left: Vec<String> = self
            .refused
            .keys()
            .filter(|s| !routes.contains(s.as_str()))
            .cloned()
            .collect();
        for service in left {
            if let Some((meter, read)) = self.refused.remove(&service) {
                self.retiring_meters.push((service.clone(), meter, read));
            }
            if let Some(judge) = self.judges.remove(&service)
                && judge.level != Level::Ok
            {
                changes.push((service, judge.level, Level::Ok, vec![DELETED.to_string()]));
            }
        }
        // Dropped by a publish: new here unless this ticker already follows it.
        let retired = self.monitor.routing.take_retired();
        for cell in retired.cells {
            let key = (cell.service.clone(), cell.model.clone(), cell.version);
            let followed = self
                .watched
                .get(&key)
                .is_some_and(|w| Arc::ptr_eq(&w.cell, &cell))
                || self.retiring.iter().any(|w| Arc::ptr_eq(&w.cell, &cell));
            if !followed {
                self.retiring.push(Watched::new(&cell));
            }
        }
        for (service, meter) in retired.meters {
            let followed = self
                .refused
                .get(&service)
                .is_some_and(|(m, _)| Arc::ptr_eq(m, &meter))
                || self
                    .retiring_meters
                    .iter()
                    .any(|(_, m, _)| Arc::ptr_eq(m, &meter));
            if !followed {
                self.retiring_meters.push((service, meter, 0));
            }
        }
        // Read before letting go: once the ticker holds the only reference, no request can
        // add to it any more, so this read is the last.
        self.retiring.retain_mut(|w| {
            let last = Arc::strong_count(&w.cell) == 1;
            let service = w.cell.service.clone();
            w.take(&service, deltas);
            !last
        });
        self.retiring_meters.retain_mut(|(service, meter, read)| {
            let last = Arc::strong_count(meter) == 1;
            refusals(service, meter, read, deltas);
            !last
        });
    }

    /// Writes the second into the live state; the minute that just finished, if one did.
    fn apply(
        &self,
        t: i64,
        deltas: Vec<Delta>,
        series: Vec<(String, ServiceUpdate)>,
        cpu: f64,
        rss: u64,
    ) -> Option<Minute> {
        let mut live = self.monitor.live_mut();
        let start = t - t.rem_euclid(60);
        let finished = if live.minute.start != start {
            let old = std::mem::replace(
                &mut live.minute,
                Minute {
                    start,
                    ..Minute::default()
                },
            );
            (!old.rows.is_empty()).then_some(old)
        } else {
            None
        };
        for d in &deltas {
            live.minute.add(
                &d.service,
                &d.model,
                d.version,
                d.source,
                &d.counts,
                d.outputs.as_ref(),
            );
        }
        let names: HashSet<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
        live.services
            .retain(|name, _| names.contains(name.as_str()));
        for (name, u) in series {
            let s = live.services.entry(name).or_insert_with(|| ServiceSeries {
                concurrency: u.concurrency,
                thresholds: u.thresholds,
                level: Level::Ok,
                reasons: Vec::new(),
                samples: Ring::new(RING),
                versions: Default::default(),
            });
            s.concurrency = u.concurrency;
            s.thresholds = u.thresholds;
            s.level = u.level;
            s.reasons = u.reasons;
            s.samples.push(u.total);
            let versions: HashSet<u32> = u.versions.iter().map(|v| v.0).collect();
            s.versions.retain(|v, _| versions.contains(v));
            for (version, model, weight, sample) in u.versions {
                let v = s.versions.entry(version).or_insert_with(|| VersionSeries {
                    model,
                    weight,
                    samples: Ring::new(RING),
                });
                v.weight = weight;
                v.samples.push(sample);
            }
        }
        live.cpu.push((t, cpu as f32));
        live.rss_bytes = rss;
        live.at = t;
        finished
    }

    /// A level the last server raised and never cleared (it stopped, or was killed, first):
    /// this one starts every service at `ok`, and the audit log says so rather than leaving
    /// the crossing open.
    fn close_levels_of_the_last_run(&self) {
        let raised = match self.monitor.store.raised_levels() {
            Ok(raised) => raised,
            Err(e) => {
                tracing::warn!(error = %e, "threshold levels of the last run were not read");
                return;
            }
        };
        for (service, level) in raised {
            let from = match level.as_str() {
                "critical" => Level::Critical,
                _ => Level::Warn,
            };
            let why = vec![RESTARTED.to_string()];
            self.announce_change((service, from, Level::Ok, why));
        }
    }

    fn announce_change(&self, (service, from, to, reasons): LevelChange) {
        let kind = if to == Level::Ok {
            "threshold.cleared"
        } else {
            "threshold.crossed"
        };
        let detail = serde_json::json!({ "from": from, "to": to, "reasons": reasons });
        self.note(kind, service, detail);
    }

    /// Records a monitor event and announces it.
    fn note(&self, kind: &'static str, service: String, detail: serde_json::Value) {
        let store = self.monitor.store.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(store.note("monitor", kind, &service, detail).await);
        });
        // The write is quick; waiting for it keeps the announcements in order.
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(revision)) => (self.announce)(revision),
            Ok(Err(e)) => tracing::warn!(error = %e, "a threshold event was not saved"),
            Err(_) => tracing::warn!("a threshold event took too long to save"),
        }
    }

    fn compact(&self, t: i64) {
        let settings = &self.monitor.settings;
        let minute_cutoff = t - settings.minute_retention_hours as i64 * 3600;
        let ten_cutoff = t - settings.ten_minute_retention_days as i64 * 86_400;
        let store = self.monitor.store.clone();
        self.runtime.spawn(async move {
            if let Err(e) = store.compact_rollups(minute_cutoff, ten_cutoff).await {
                tracing::warn!(error = %e, "metrics rollups were not compacted");
            }
        });
    }
}

/// The callers `meter` refused since it read `seen`.
fn refusals(service: &str, meter: &ServiceMeter, seen: &mut u64, deltas: &mut Vec<Delta>) {
    let now = meter.unauthorised();
    let d = now.saturating_sub(*seen);
    *seen = now;
    if d > 0 {
        let mut counts = Counts::default();
        counts.outcomes[Outcome::Unauthorised.index()] = d;
        deltas.push(Delta {
            service: service.to_string(),
            model: String::new(),
            version: 0,
            source: Source::Client,
            counts,
            outputs: None,
        });
    }
}

/// A service's level moving: service, from, to, and why.
type LevelChange = (String, Level, Level, Vec<String>);

/// One service's second, gathered before the live state is locked.
struct ServiceUpdate {
    concurrency: u32,
    thresholds: Thresholds,
    level: Level,
    reasons: Vec<String>,
    total: Sample,
    versions: Vec<(u32, String, u8, Sample)>,
}

/// The rows a finished (or partial) minute writes.
fn rollups(minute: Minute) -> Vec<Rollup> {
    minute
        .rows
        .into_iter()
        .map(|((service, version, source), p)| Rollup {
            service,
            model: p.model,
            version,
            source,
            resolution: 60,
            start: minute.start,
            counts: p.counts,
            outputs: p.outputs,
        })
        .collect()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
