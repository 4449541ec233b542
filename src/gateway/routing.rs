//! The routing table: host and service name → service → versions, read by every request
//! through one atomic pointer load and replaced whole when a service changes.
//!
//! What must outlive a change — the loaded model, its counters, a service's concurrency
//! limit — lives in long-lived cells kept here by key, and the table only holds `Arc`s to
//! them: republishing after a key rotation or a traffic change reuses the cells, so nothing
//! reloads and no counter resets. A version is `loading`, `ready` or `failed(reason)`; only a
//! ready one answers.
//!
//! Tables are ordered by the store revision they were read at: concurrent changes may finish
//! their reads in one order and publish in another, so a table older than the one being
//! served is dropped instead of undoing a newer change (an acknowledged key rotation, say).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::meter::Meter;

use arc_swap::ArcSwap;
use tokio::sync::{Notify, Semaphore};

use crate::domain::{ModelKind, Resources, Service, Thresholds};
use crate::runtime::upstream::Secrets;
use crate::runtime::{self, Serving};

#[derive(Clone)]
pub enum State {
    Loading,
    Ready(Serving),
    Failed(String),
}

/// One deployed version of one service.
pub struct VersionCell {
    pub service: String,
    pub model: String,
    pub version: u32,
    state: RwLock<State>,
    /// Wakes whoever waits for this version to leave `loading`.
    settled: Notify,
    pub meter: Meter,
}

impl VersionCell {
    pub fn state(&self) -> State {
        self.state
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|_| State::Failed("internal error: state lock poisoned".into()))
    }

    fn set(&self, state: State) {
        if let State::Ready(Serving::Native(model)) = &state {
            self.meter.prepare(model.signature());
        }
        if let Ok(mut s) = self.state.write() {
            *s = state;
        }
        self.settled.notify_waiters();
    }

    /// Resolves once the version is ready or has failed.
    pub async fn settled(&self) {
        loop {
            let woken = self.settled.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if !matches!(self.state(), State::Loading) {
                return;
            }
            woken.await;
        }
    }
}

/// What a service counts beyond its versions: callers refused before a version was chosen,
/// and its own ticket counter, so that its split is spread over its own requests (a counter
/// shared by every service lets interleaved traffic elsewhere skew it: a 1% canary got 2%).
/// Kept by name, like the limit, so republishing never resets it.
#[derive(Default)]
pub struct ServiceMeter {
    pub unauthorised: AtomicU64,
    tickets: AtomicU64,
    pub shadow: super::shadow::ShadowMeter,
}

impl ServiceMeter {
    pub fn refused(&self) {
        self.unauthorised.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unauthorised(&self) -> u64 {
        self.unauthorised.load(Ordering::Relaxed)
    }

    /// The next point on 0..100: consecutive requests take points 37 apart, so every 100 of
    /// them visit each point once and a split's shares are exact over each hundred.
    fn ticket(&self) -> u64 {
        self.tickets
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(37)
            % 100
    }
}

/// A live service as the gateway sees it.
pub struct Route {
    pub name: String,
    pub host: String,
    pub key: String,
    pub resources: Resources,
    /// Versions with their traffic weights (percent), in version order.
    pub versions: Vec<(Arc<VersionCell>, u8)>,
    /// Requests in flight, shared by every table this service appears in.
    pub limit: Arc<Semaphore>,
    pub meter: Arc<ServiceMeter>,
    /// The service's own threshold levels (the monitor's defaults otherwise).
    pub thresholds: Option<Thresholds>,
    /// A request header whose value decides the version, so a caller stays on one.
    pub sticky: Option<http::HeaderName>,
    /// Versions by label (`/labels/canary`).
    pub labels: Vec<(String, u32)>,
    /// The version a share of client requests is mirrored to, and the percent.
    pub shadow: Option<(Arc<VersionCell>, u8)>,
}

impl Route {
    pub fn version(&self, v: u32) -> Option<&Arc<VersionCell>> {
        self.versions
            .iter()
            .find(|(c, _)| c.version == v)
            .map(|(c, _)| c)
    }

    /// The version a label names.
    pub fn labelled(&self, label: &str) -> Option<&Arc<VersionCell>> {
        let (_, v) = self.labels.iter().find(|(l, _)| l == label)?;
        self.version(*v)
    }

    /// The point on 0..100 a request lands on: from the sticky header's value when the service
    /// has one and the request carries it (the same caller, the same point), else the
    /// service's next ticket.
    pub fn point(&self, headers: &http::HeaderMap) -> u64 {
        match self.sticky.as_ref().and_then(|h| headers.get(h)) {
            Some(value) => fnv1a(value.as_bytes()) % 100,
            None => self.meter.ticket(),
        }
    }

    /// The version a request goes to, given a number spread evenly over 0..100. Weights sum
    /// to 100, so the walk always lands; `None` only for a service with no versions.
    pub fn pick(&self, ticket: u64) -> Option<&Arc<VersionCell>> {
        let mut point = (ticket % 100) as u32;
        self.versions
            .iter()
            .find(|(_, weight)| {
                let hit = point < u32::from(*weight);
                point = point.saturating_sub(u32::from(*weight));
                hit
            })
            .or(self.versions.last())
            .map(|(c, _)| c)
    }
}

#[derive(Default)]
pub struct Table {
    /// The store revision this table was read at.
    pub revision: i64,
    by_host: HashMap<String, Arc<Route>>,
    by_name: HashMap<String, Arc<Route>>,
}

impl Table {
    /// The service a Host header names (any port ignored, case-insensitive).
    pub fn by_host(&self, host: &str) -> Option<&Arc<Route>> {
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_host.get(&host.to_ascii_lowercase())
        } else {
            self.by_host.get(host)
        }
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<Route>> {
        self.by_name.get(name)
    }

    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.by_name.values()
    }
}

type CellKey = (String, String, u32);

/// FNV-1a: a hash that is the same in every process, so a sticky caller keeps its version
/// across restarts (std's hasher is seeded per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub struct Routing {
    table: ArcSwap<Table>,
    cells: Mutex<HashMap<CellKey, Arc<VersionCell>>>,
    limits: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
    meters: Mutex<HashMap<String, Arc<ServiceMeter>>>,
    retired: Mutex<Retired>,
    data_root: PathBuf,
    /// The store's secrets, as upstream versions send them.
    pub secrets: Arc<Secrets>,
}

/// Cells and service meters a publish dropped, for the monitor to read to the end: a version
/// deployed and deleted between two of its ticks, or a service re-created under the same name,
/// still counts every request it answered.
#[derive(Default)]
pub struct Retired {
    pub cells: Vec<Arc<VersionCell>>,
    pub meters: Vec<(String, Arc<ServiceMeter>)>,
}

/// Retired cells kept for a monitor that never comes (a routing without a server): past this,
/// the oldest go.
const RETIRED_CAP: usize = 4096;

/// A cell that needs its model loaded, and where the artifact is.
pub struct Load {
    pub cell: Arc<VersionCell>,
    pub kind: ModelKind,
    pub path: PathBuf,
    secrets: Arc<Secrets>,
}

impl Routing {
    /// `data_root` is the data directory, which artifact paths are relative to.
    pub fn new(data_root: &Path) -> Routing {
        Routing {
            table: ArcSwap::from_pointee(Table::default()),
            cells: Mutex::new(HashMap::new()),
            limits: Mutex::new(HashMap::new()),
            meters: Mutex::new(HashMap::new()),
            retired: Mutex::new(Retired::default()),
            data_root: data_root.to_path_buf(),
            secrets: Arc::default(),
        }
    }

    pub fn table(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// Swaps in a table for `services` as read at store `revision`, reusing every cell that
    /// already exists; returns the new cells, whose models the caller loads (they answer 503
    /// until then). A revision older than the served table's is dropped: the newer table
    /// already holds whatever change this one carried.
    pub fn publish(&self, revision: i64, services: &[Service]) -> Vec<Load> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let mut meters = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        if revision < self.table.load().revision {
            return Vec::new();
        }
        let mut loads = Vec::new();
        let mut table = Table {
            revision,
            ..Table::default()
        };
        let mut live_cells = HashMap::new();
        let mut live_limits = HashMap::new();
        let mut live_meters = HashMap::new();
        for s in services {
            let mut versions = Vec::new();
            for d in &s.deployments {
                let key = (s.name.to_string(), d.model.clone(), d.version);
                let cell = match cells.get(&key) {
                    Some(c) => Arc::clone(c),
                    None => {
                        let cell = Arc::new(VersionCell {
                            service: s.name.to_string(),
                            model: d.model.clone(),
                            version: d.version,
                            state: RwLock::new(State::Loading),
                            settled: Notify::new(),
                            meter: Meter::default(),
                        });
                        loads.push(Load {
                            cell: Arc::clone(&cell),
                            kind: d.kind,
                            path: self.data_root.join(&d.artifact),
                            secrets: Arc::clone(&self.secrets),
                        });
                        cell
                    }
                };
                live_cells.insert(key, Arc::clone(&cell));
                versions.push((cell, d.weight));
            }
            // The limit survives republishing; a changed concurrency gets a fresh semaphore.
            let limit = match limits.get(s.name.as_str()) {
                Some((n, l)) if *n == s.resources.concurrency => Arc::clone(l),
                _ => Arc::new(Semaphore::new(s.resources.concurrency as usize)),
            };
            live_limits.insert(
                s.name.to_string(),
                (s.resources.concurrency, Arc::clone(&limit)),
            );
            let meter = meters.get(s.name.as_str()).cloned().unwrap_or_default();
            live_meters.insert(s.name.to_string(), Arc::clone(&meter));
            let shadow = s.traffic.shadow.and_then(|sh| {
                let (cell, _) = versions.iter().find(|(c, _)| c.version == sh.version)?;
                Some((Arc::clone(cell), sh.percent))
            });
            if let Some((cell, _)) = &shadow {
                meter.shadow.retarget(cell.version);
            }
            let route = Arc::new(Route {
                name: s.name.to_string(),
                host: s.host.to_ascii_lowercase(),
                key: s.key.clone(),
                resources: s.resources,
                versions,
                limit,
                meter,
                thresholds: s.thresholds,
                sticky: s
                    .traffic
                    .sticky_header
                    .as_deref()
                    .and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok()),
                labels: s
                    .traffic
                    .labels
                    .iter()
                    .map(|(l, v)| (l.clone(), *v))
                    .collect(),
                shadow,
            });
            table.by_host.insert(route.host.clone(), Arc::clone(&route));
            table.by_name.insert(route.name.clone(), route);
        }
        // Cells of removed services and versions go with the last table that holds them, and
        // to the monitor, which counts what they answered until the last request lets go.
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        for (key, cell) in cells.iter() {
            if !live_cells.contains_key(key) {
                retired.cells.push(Arc::clone(cell));
            }
        }
        for (name, meter) in meters.iter() {
            if !live_meters.get(name).is_some_and(|m| Arc::ptr_eq(m, meter)) {
                retired.meters.push((name.clone(), Arc::clone(meter)));
            }
        }
        let excess = retired.cells.len().saturating_sub(RETIRED_CAP);
        retired.cells.drain(..excess);
        let excess = retired.meters.len().saturating_sub(RETIRED_CAP);
        retired.meters.drain(..excess);
        drop(retired);
        *cells = live_cells;
        *limits = live_limits;
        *meters = live_meters;
        self.table.store(Arc::new(table));
        loads
    }

    /// What publishes dropped since the last call.
    pub fn take_retired(&self) -> Retired {
        std::mem::take(&mut *self.retired.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Routing {
    /// Waits until every version of `service` in the served table is ready or failed (it may be
    /// loading on behalf of another change that published after ours).
    pub async fn settled(&self, service: &str) {
        let table = self.table();
        if let Some(route) = table.by_name(service) {
            for (cell, _) in &route.versions {
                cell.settled().await;
            }
        }
    }
}

impl Load {
    /// Whether this load is for `model:version` of service `service`.
    pub fn is_for(&self, service: &str, model: &str, version: u32) -> bool {
        self.cell.service == service && self.cell.model == model && self.cell.version == version
    }

    /// Marks the cell ready with a model compiled elsewhere (deploy's own check).
    pub fn fill(&self, model: Serving) {
        self.cell.set(State::Ready(model));
    }
}

/// Loads a version's model (blocking: compile time is CPU work) and marks the cell.
pub fn load(job: &Load) {
    job.cell
        .set(match runtime::serve(job.kind, &job.path, &job.secrets) {
            Ok(model) => State::Ready(model),
            Err(why) => State::Failed(why),
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Deployment, ServiceName};

    fn service(name: &str, key: &str) -> Service {
        Service {
            name: ServiceName::parse(name).unwrap(),
            host: format!("{name}.test"),
            key: key.into(),
            runtime: "pmml/0".into(),
            resources: Resources::default(),
            deployments: vec![Deployment {
                model: "m".into(),
                version: 1,
                weight: 100,
                artifact: "missing".into(),
                kind: ModelKind::Pmml,
            }],
            created_at: String::new(),
            thresholds: None,
            traffic: Default::default(),
        }
    }

    #[test]
    fn an_older_revision_never_replaces_a_newer_table() {
        let routing = Routing::new(Path::new("/nonexistent"));
        routing.publish(5, &[service("a", "new-key")]);
        // A change that read the store earlier publishes late: it must not undo revision 5.
        let loads = routing.publish(4, &[service("a", "old-key"), service("b", "k")]);
        assert!(loads.is_empty());
        let table = routing.table();
        assert_eq!(table.revision, 5);
        assert_eq!(table.by_name("a").unwrap().key, "new-key");
        assert!(table.by_name("b").is_none());
        // A newer one does, and the same revision again is harmless.
        routing.publish(6, &[service("a", "k6")]);
        routing.publish(6, &[service("a", "k6")]);
        assert_eq!(routing.table().by_name("a").unwrap().key, "k6");
    }

    #[tokio::test]
    async fn settled_waits_for_a_load_started_elsewhere() {
        let routing = Arc::new(Routing::new(Path::new("/nonexistent")));
        let loads = routing.publish(1, &[service("a", "k")]);
        assert_eq!(loads.len(), 1);
        let waiting = tokio::spawn({
            let routing = Arc::clone(&routing);
            async move { routing.settled("a").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "still loading");
        load(&loads[0]); // fails: no artifact
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .unwrap();
    }
}
