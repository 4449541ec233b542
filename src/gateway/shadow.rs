//! Shadow traffic: a share of a service's client requests is also run, after the client has
//! its answer, through a version that does not answer the client, and the two answers are
//! compared. Shadow calls never take a client's slot: they have their own few
//! ([`SHADOW_SLOTS`] per service at once; a request that finds them taken is skipped). They
//! are never metered as that version's traffic, and their result is counted here: mirrored,
//! the same answer, a different one (the newest few kept for inspection), or a failure. The
//! counts start again when the shadow moves to another version.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::control::contract::ShadowSample;

/// Mirrored calls a service runs at once.
pub const SHADOW_SLOTS: usize = 4;

/// Disagreements kept for inspection, and how much of each text.
const SAMPLES: usize = 20;
const SAMPLE_CHARS: usize = 2_000;

pub struct ShadowMeter {
    pub slots: Arc<Semaphore>,
    /// The version these counts are about.
    target: AtomicU32,
    tickets: AtomicU64,
    pub mirrored: AtomicU64,
    pub same: AtomicU64,
    pub differed: AtomicU64,
    pub failed: AtomicU64,
    pub skipped: AtomicU64,
    samples: Mutex<VecDeque<ShadowSample>>,
}

impl Default for ShadowMeter {
    fn default() -> ShadowMeter {
        ShadowMeter {
            slots: Arc::new(Semaphore::new(SHADOW_SLOTS)),
            target: AtomicU32::new(0),
            tickets: AtomicU64::new(0),
            mirrored: AtomicU64::new(0),
            same: AtomicU64::new(0),
            differed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
        }
    }
}

impl ShadowMeter {
    /// The shadow now mirrors to `version`: counts about another version start again.
    pub fn retarget(&self, version: u32) {
        if self.target.swap(version, Ordering::Relaxed) == version {
            return;
        }
        for n in [
            &self.mirrored,
            &self.same,
            &self.differed,
            &self.failed,
            &self.skipped,
        ] {
            n.store(0, Ordering::Relaxed);
        }
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Whether this request is one of the `percent` mirrored (spread as a split is).
    pub fn hit(&self, percent: u8) -> bool {
        let point = self
            .tickets
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(37)
            % 100;
        point < u64::from(percent)
    }

    pub fn skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Compares the shadow's answer with the live one (status and body; the version each
    /// names, as the Open Inference Protocol's `model_version` does, is not a difference).
    pub fn compare(&self, request: &[u8], live: (u16, &str, u32), shadow: (u16, &str, u32)) {
        self.mirrored.fetch_add(1, Ordering::Relaxed);
        let unversioned = |body: &str, v: u32| {
            body.replace(
                &format!("\"model_version\":\"{v}\""),
                "\"model_version\":\"\"",
            )
        };
        if shadow.0 >= 400 && live.0 < 400 {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else if live.0 == shadow.0
            && (live.1 == shadow.1
                || unversioned(live.1, live.2) == unversioned(shadow.1, shadow.2))
        {
            self.same.fetch_add(1, Ordering::Relaxed);
            return;
        } else {
            self.differed.fetch_add(1, Ordering::Relaxed);
        }
        let cut = |t: &str| crate::domain::clip(t, SAMPLE_CHARS).into_owned();
        let sample = ShadowSample {
            request: cut(&String::from_utf8_lossy(request)),
            live: cut(live.1),
            shadow: cut(shadow.1),
        };
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    pub fn samples(&self) -> Vec<ShadowSample> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.iter().cloned().collect()
    }
}
