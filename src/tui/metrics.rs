//! What the console knows of the server's live figures: each service's recent one-second
//! samples (enough for a sparkline), its threshold level, the process's CPU and memory, and
//! the history of the service the Monitor pane has open. The worker polls once a second for
//! what is new; [`Metrics::fold`] adds it. Figures with no fresh sample for [`STALE_AFTER`]
//! are marked stale, never shown as if current.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::control::contract::{MonitorView, SPARK, ServiceHistory, VersionLive};
use crate::domain::{Level, Metric, Sample, period};

/// No new sample for this long and the figures are stale.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// Seconds the table's rates average over: one second is too jumpy to read.
const RATE_SECONDS: usize = 5;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub samples: VecDeque<Sample>,
    pub level: Level,
    pub reasons: Vec<String>,
    pub concurrency: u32,
    pub thresholds: crate::domain::Thresholds,
    pub versions: Vec<VersionLive>,
}

/// A service's figures as the tables show them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Now {
    pub req_per_s: f64,
    pub error_pct: f64,
    /// The worst second's p99 over the last few, in milliseconds (`None`: no requests).
    pub p99_ms: Option<f64>,
    pub in_flight: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// The newest sample's second (0: none yet).
    pub at: i64,
    /// When the newest sample arrived.
    pub received: Option<Instant>,
    pub services: BTreeMap<String, Live>,
    pub cpu: VecDeque<f32>,
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    /// The open service's history, for the window asked for.
    pub history: Option<ServiceHistory>,
}

impl Metrics {
    /// Adds what the server sent. A view with no newer sample leaves the freshness alone.
    pub fn fold(&mut self, view: MonitorView, now: Instant) {
        if view.at > self.at {
            self.received = Some(now);
            self.at = view.at;
        }
        let names: std::collections::HashSet<&str> =
            view.services.iter().map(|s| s.service.as_str()).collect();
        self.services.retain(|n, _| names.contains(n.as_str()));
        for s in view.services {
            let live = self.services.entry(s.service).or_default();
            for sample in s.samples {
                if live.samples.back().is_some_and(|b| b.t >= sample.t) {
                    continue;
                }
                if live.samples.len() == SPARK {
                    live.samples.pop_front();
                }
                live.samples.push_back(sample);
            }
            live.level = s.level;
            live.reasons = s.reasons;
            live.concurrency = s.concurrency;
            live.thresholds = s.thresholds;
            live.versions = s.versions;
        }
        for (_, cpu) in view.process.cpu {
            if self.cpu.len() == SPARK {
                self.cpu.pop_front();
            }
            self.cpu.push_back(cpu);
        }
        self.cpu_pct = view.process.cpu_pct;
        self.rss_bytes = view.process.rss_bytes;
        if let Some(h) = view.history {
            self.history = Some(h);
        }
    }

    /// Whether the figures are too old to be shown as current.
    pub fn stale(&self, now: Instant) -> bool {
        self.received
            .is_none_or(|r| now.saturating_duration_since(r) > STALE_AFTER)
    }

    pub fn now(&self, service: &str) -> Option<Now> {
        let live = self.services.get(service)?;
        let recent: Vec<&Sample> = live.samples.iter().rev().take(RATE_SECONDS).collect();
        let seconds = recent.len().max(1) as f64;
        let requests: u32 = recent.iter().map(|s| s.requests).sum();
        let errors: u32 = recent.iter().map(|s| s.errors).sum();
        let p99 = recent
            .iter()
            .filter(|s| s.requests > 0)
            .map(|s| s.p99_us)
            .max();
        Some(Now {
            req_per_s: f64::from(requests) / seconds,
            error_pct: if requests == 0 {
                0.0
            } else {
                100.0 * f64::from(errors) / f64::from(requests)
            },
            p99_ms: p99.map(|us| f64::from(us) / 1000.0),
            in_flight: live.samples.back().map_or(0, |s| s.in_flight),
        })
    }

    /// A service's last [`SPARK`] seconds of `metric` as `width` columns, oldest first, each
    /// the largest second it covers. Columns are whole blocks of wall-clock seconds ending at
    /// the newest sample, so a second with no sample (the server was down) shows as nothing,
    /// and a picture only moves on when a block ends — not a jitter every second.
    pub fn columns(&self, service: &str, metric: Metric, width: usize) -> Vec<f64> {
        let Some(live) = self.services.get(service).filter(|_| width > 0) else {
            return Vec::new();
        };
        let per = SPARK.div_ceil(width).max(1) as i64;
        let newest = self.at.div_euclid(per);
        let oldest = newest - width as i64 + 1;
        let mut out = vec![0.0_f64; width];
        for s in &live.samples {
            let block = s.t.div_euclid(per);
            if (oldest..=newest).contains(&block) {
                let column = &mut out[(block - oldest) as usize];
                *column = column.max(metric.of(s, 1.0));
            }
        }
        out
    }
}

/// What the Monitor pane shows: which service is open, over which window, which metric is
/// charted, and whether the picture is frozen or zoomed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorUi {
    pub open: Option<String>,
    /// Index into [`period::WINDOWS`].
    pub window: usize,
    /// Index into [`Metric::ALL`].
    pub metric: usize,
    /// What was on screen when `f` froze it.
    pub frozen: Option<Box<Metrics>>,
    pub zoom: bool,
}

impl MonitorUi {
    pub fn window_secs(&self) -> i64 {
        period::WINDOWS[self.window.min(period::WINDOWS.len() - 1)]
    }

    pub fn metric(&self) -> Metric {
        Metric::ALL[self.metric % Metric::ALL.len()]
    }
}

/// A window's words: `15m`, `1h`, `7d`.
pub fn window_label(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 && s > 86_400 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::contract::ServiceLive;

    fn view(at: i64, samples: Vec<Sample>) -> MonitorView {
        MonitorView {
            at,
            services: vec![ServiceLive {
                service: "iris".into(),
                samples,
                ..ServiceLive::default()
            }],
            ..MonitorView::default()
        }
    }

    fn second(t: i64, requests: u32, errors: u32, p99_us: u32) -> Sample {
        Sample {
            t,
            requests,
            errors,
            p99_us,
            ..Sample::default()
        }
    }

    #[test]
    fn samples_fold_in_once_and_rates_average_the_last_seconds() {
        let start = Instant::now();
        let mut m = Metrics::default();
        m.fold(
            view(2, vec![second(1, 10, 0, 900), second(2, 20, 2, 5000)]),
            start,
        );
        // The same seconds again (a retried poll) change nothing.
        m.fold(view(2, vec![second(2, 20, 2, 5000)]), start);
        assert_eq!(m.services["iris"].samples.len(), 2);
        let now = m.now("iris").unwrap();
        assert_eq!(now.req_per_s, 15.0);
        assert_eq!(now.error_pct, 2.0 / 30.0 * 100.0);
        assert_eq!(now.p99_ms, Some(5.0));
        assert!(!m.stale(start));
        assert!(m.stale(start + STALE_AFTER + Duration::from_millis(1)));
        // A service the server no longer lists goes.
        m.fold(
            MonitorView {
                at: 3,
                ..MonitorView::default()
            },
            start,
        );
        assert!(m.now("iris").is_none());
    }
}
