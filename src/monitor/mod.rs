//! The monitor: live series, history, threshold levels, process figures and Prometheus text,
//! all from the counters the gateway keeps in its cells ([`gateway::meter`](crate::gateway::meter)).
//!
//! The request path only increments atomics. A ticker thread ([`ticker`]) reads them once a
//! second into the live state ([`live`]): 15 minutes of one-second samples per service and
//! version, plus the minute being accumulated, which it hands to the store when the minute
//! ends. Queries over any period ([`history`]) sum the stored minute rows and that pending
//! minute; [`prometheus`] renders the cumulative counters for scrapers.
//!
//! Module map: [`live`], [`ticker`], [`history`], [`prometheus`], [`process`].

pub mod history;
pub mod live;
pub mod process;
pub mod prometheus;
pub mod ticker;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::MonitorSettings;
use crate::control::contract::{MonitorView, ProcessView, SPARK, ServiceLive, VersionLive};
use crate::gateway::Routing;
use crate::store::Store;
use live::Live;

/// What the ticker writes and the API reads.
pub struct Monitor {
    pub routing: Arc<Routing>,
    pub store: Store,
    pub settings: MonitorSettings,
    live: RwLock<Live>,
    /// CPU time the ticker thread has used, in microseconds.
    pub ticker_cpu_us: AtomicU64,
    /// Unix seconds the process started.
    pub started_at: i64,
}

/// The running ticker: stop it (which flushes the partial minute) before the store closes.
pub struct Running {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops the ticker and waits for its last write.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

impl Monitor {
    pub fn new(routing: Arc<Routing>, store: Store, settings: MonitorSettings) -> Monitor {
        Monitor {
            routing,
            store,
            settings,
            live: RwLock::new(Live::default()),
            ticker_cpu_us: AtomicU64::new(0),
            started_at: ticker::unix_now(),
        }
    }

    /// Starts the ticker on a thread of its own; `announce` gets the revision of each event it
    /// writes (a threshold crossing). Call from within the runtime.
    pub fn start(self: &Arc<Self>, announce: ticker::Announce) -> std::io::Result<Running> {
        let (stop, stopped) = std::sync::mpsc::channel();
        let ticker = ticker::Ticker::new(
            Arc::clone(self),
            tokio::runtime::Handle::current(),
            announce,
        );
        let thread = std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || ticker.run(stopped))?;
        Ok(Running { stop, thread })
    }

    pub fn live(&self) -> RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn live_mut(&self) -> RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every service's samples newer than `since` (at most [`SPARK`]), and the process's.
    pub fn view(&self, since: i64) -> MonitorView {
        let live = self.live();
        let newer = |t: i64| t > since;
        MonitorView {
            at: live.at,
            process: ProcessView {
                cpu_pct: live.cpu.last().map_or(0.0, |c| f64::from(c.1)),
                rss_bytes: live.rss_bytes,
                cpu: live.cpu.newest(SPARK, |c| newer(c.0)),
            },
            services: live
                .services
                .iter()
                .map(|(name, s)| ServiceLive {
                    service: name.clone(),
                    concurrency: s.concurrency,
                    level: s.level,
                    reasons: s.reasons.clone(),
                    thresholds: s.thresholds,
                    samples: s.samples.newest(SPARK, |x| newer(x.t)),
                    versions: s
                        .versions
                        .iter()
                        .map(|(v, series)| VersionLive {
                            model: series.model.clone(),
                            version: *v,
                            weight: series.weight,
                            last: series.samples.last().copied().unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
            history: None,
        }
    }
}
