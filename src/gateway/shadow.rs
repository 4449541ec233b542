//! Shadow traffic: a share of a service's client requests is also run, after the client has
//! its answer, through a version that does not answer the client, and the two answers are
//! compared. The shadow call takes a slot under the service's limit only while more than half
//! the slots are free, is never metered as that version's traffic, and its result is counted
//! here: mirrored, the same answer, a different one (the newest few kept for inspection), or a
//! failure.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::control::contract::ShadowSample;

/// Disagreements kept for inspection, and how much of each text.
const SAMPLES: usize = 20;
const SAMPLE_CHARS: usize = 2_000;

#[derive(Default)]
pub struct ShadowMeter {
    tickets: AtomicU64,
    pub mirrored: AtomicU64,
    pub same: AtomicU64,
    pub differed: AtomicU64,
    pub failed: AtomicU64,
    pub skipped: AtomicU64,
    samples: Mutex<VecDeque<ShadowSample>>,
}

impl ShadowMeter {
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

    /// Compares the shadow's answer with the live one (status and body).
    pub fn compare(&self, request: &[u8], live: (u16, &str), shadow: (u16, &str)) {
        self.mirrored.fetch_add(1, Ordering::Relaxed);
        if shadow.0 >= 400 && live.0 < 400 {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else if live == shadow {
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
