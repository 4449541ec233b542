//! The live state the ticker writes once a second and the API reads: per service and version a
//! ring of one-second samples (15 minutes), each service's threshold level, the process's CPU
//! and memory, and the minute being accumulated for the rollups (so a query sees up to the last
//! second, not only up to the last written minute).

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::domain::{Counts, Level, Outputs, Sample, Source, Thresholds};

/// Seconds of one-second samples kept: 15 minutes.
pub const RING: usize = 900;

/// A bounded queue of the newest samples.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T: Clone> Ring<T> {
    pub fn new(cap: usize) -> Ring<T> {
        Ring {
            items: VecDeque::new(),
            cap,
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// The newest items that `keep` accepts, at most `n`, oldest first.
    pub fn newest(&self, n: usize, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let mut out: Vec<T> = self
            .items
            .iter()
            .rev()
            .take_while(|i| keep(i))
            .take(n)
            .cloned()
            .collect();
        out.reverse();
        out
    }
}

#[derive(Debug, Clone)]
pub struct VersionSeries {
    pub model: String,
    pub weight: u8,
    pub samples: Ring<Sample>,
}

#[derive(Debug, Clone)]
pub struct ServiceSeries {
    pub concurrency: u32,
    pub thresholds: Thresholds,
    pub level: Level,
    pub reasons: Vec<String>,
    /// The service's traffic, all versions together.
    pub samples: Ring<Sample>,
    pub versions: BTreeMap<u32, VersionSeries>,
}

/// One (service, version, source)'s counts in the minute being accumulated.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    pub model: String,
    pub counts: Counts,
    pub outputs: Outputs,
}

/// The minute the ticker is accumulating.
#[derive(Debug, Clone, Default)]
pub struct Minute {
    /// Unix seconds, a multiple of 60.
    pub start: i64,
    pub rows: HashMap<(String, u32, Source), Pending>,
}

impl Minute {
    pub fn add(
        &mut self,
        service: &str,
        model: &str,
        version: u32,
        source: Source,
        counts: &Counts,
        outputs: Option<&Outputs>,
    ) {
        let row = self
            .rows
            .entry((service.to_string(), version, source))
            .or_insert_with(|| Pending {
                model: model.to_string(),
                ..Pending::default()
            });
        row.counts.add(counts);
        if let Some(o) = outputs {
            row.outputs.add(o);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    /// The newest sample's second (0 before the first tick).
    pub at: i64,
    pub services: BTreeMap<String, ServiceSeries>,
    /// `(t, cpu %)` of the whole process.
    pub cpu: Ring<(i64, f32)>,
    pub rss_bytes: u64,
    pub minute: Minute,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            at: 0,
            services: BTreeMap::new(),
            cpu: Ring::new(RING),
            rss_bytes: 0,
            minute: Minute::default(),
        }
    }
}
