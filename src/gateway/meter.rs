//! Metering on the request path: every counter is an atomic in the version's long-lived cell,
//! so recording a request is a handful of relaxed `fetch_add`s — no lock, no allocation — and a
//! traffic change, a key rotation or a republished table never resets a count.
//!
//! Latency goes into the fixed log-linear layout of [`latency`]; the monitor's ticker reads the
//! counters once a second and works out differences, so nothing here knows about time.
//!
//! What the model answered is counted too: the predicted label of a classifier (into slots
//! claimed the first time a label is seen, again without a lock) or the moments of a regressor's
//! predicted value.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::domain::latency::{self, BUCKETS};
use crate::domain::{Counts, Outcome, Outputs, Source};
use crate::runtime::{OutputRole, Signature, Value};

/// The monotonic clock as plain nanoseconds: a request reads it twice and subtracts, without
/// `Instant`'s normalisation (which costs as much again on the request path).
#[derive(Clone, Copy)]
pub struct Stopwatch(u64);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(monotonic_ns())
    }

    pub fn micros(self) -> u64 {
        monotonic_ns().saturating_sub(self.0) / 1000
    }
}

fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct we pass; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    (t.tv_sec as u64).wrapping_mul(1_000_000_000) + t.tv_nsec as u64
}

/// One source's counters.
struct Tally {
    outcomes: [AtomicU64; 6],
    rows: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    busy_us: AtomicU64,
    latency_sum_us: AtomicU64,
    latency: Box<[AtomicU64]>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            outcomes: Default::default(),
            rows: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            busy_us: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The counters of one deployed version.
#[derive(Default)]
pub struct Meter {
    tallies: [Tally; 3],
    in_flight: AtomicU32,
    outputs: OutputMeter,
}

/// What one answered request adds.
pub struct Record {
    pub source: Source,
    pub status: u16,
    /// Microseconds; `None` for a request refused before it was read (not ready, over the
    /// limit): counted, but not a latency.
    pub latency_us: Option<u64>,
    pub rows: usize,
    pub bytes_in: usize,
    pub bytes_out: usize,
}

impl Meter {
    pub fn record(&self, r: &Record) {
        let t = &self.tallies[r.source.index()];
        let outcome = Outcome::of_status(r.status);
        t.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(us) = r.latency_us {
            t.latency[latency::bucket(us)].fetch_add(1, Ordering::Relaxed);
            t.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        }
        if r.rows > 0 {
            t.rows.fetch_add(r.rows as u64, Ordering::Relaxed);
        }
        t.bytes_in.fetch_add(r.bytes_in as u64, Ordering::Relaxed);
        t.bytes_out.fetch_add(r.bytes_out as u64, Ordering::Relaxed);
    }

    /// Microseconds a worker spent inside the model for one call.
    pub fn busy(&self, source: Source, us: u64) {
        self.tallies[source.index()]
            .busy_us
            .fetch_add(us, Ordering::Relaxed);
    }

    /// A request admitted to this version; [`leave`](Meter::leave) when it is answered.
    pub fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The counts so far of one source's traffic.
    pub fn counts(&self, source: Source) -> Counts {
        let t = &self.tallies[source.index()];
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut c = Counts {
            outcomes: [0; 6],
            rows: load(&t.rows),
            bytes_in: load(&t.bytes_in),
            bytes_out: load(&t.bytes_out),
            busy_us: load(&t.busy_us),
            latency_sum_us: load(&t.latency_sum_us),
            latency: t.latency.iter().map(load).collect(),
        };
        for (o, a) in c.outcomes.iter_mut().zip(&t.outcomes) {
            *o = load(a);
        }
        c
    }

    /// Whether any request of any source has been counted (the ticker skips idle versions).
    pub fn total(&self) -> u64 {
        self.tallies
            .iter()
            .flat_map(|t| t.outcomes.iter())
            .map(|a| a.load(Ordering::Relaxed))
            .sum::<u64>()
            + self
                .tallies
                .iter()
                .map(|t| t.busy_us.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// Learns where the model's answer is (called once, when the version is ready).
    pub fn prepare(&self, signature: &Signature) {
        self.outputs.prepare(signature);
    }

    /// Counts what the model answered for client records.
    pub fn answered(&self, rows: &[Vec<Value>]) {
        self.outputs.observe(rows);
    }

    pub fn outputs(&self) -> Outputs {
        self.outputs.totals()
    }
}

/// Labels tracked by name; labels beyond these count as [`OTHER`](crate::domain::metrics::OTHER).
const CLASS_SLOTS: usize = 32;

enum Layout {
    /// The predicted label is output `column`.
    Classes {
        column: usize,
    },
    /// The predicted value is output `column`.
    Values {
        column: usize,
    },
    Nothing,
}

/// A class a slot counts: its label, and the number it is when the model codes classes as
/// integers (so an integer label is matched without formatting it).
struct Class {
    name: Box<str>,
    code: Option<i64>,
}

impl Class {
    fn new(name: &str) -> Class {
        Class {
            name: name.into(),
            code: name.parse().ok(),
        }
    }

    fn is(&self, label: Label) -> bool {
        match label {
            Label::Text(t) => *self.name == *t,
            Label::Code(c) => self.code == Some(c),
        }
    }
}

/// A predicted label as the model gave it.
#[derive(Clone, Copy)]
enum Label<'a> {
    Text(&'a str),
    Code(i64),
}

#[derive(Default)]
struct OutputMeter {
    layout: OnceLock<Layout>,
    names: [OnceLock<Class>; CLASS_SLOTS],
    counts: [AtomicU64; CLASS_SLOTS],
    other: AtomicU64,
    values: AtomicU64,
    sum: AtomicU64,
    sum_sq: AtomicU64,
}

impl OutputMeter {
    fn prepare(&self, sig: &Signature) {
        let column = |role: fn(&OutputRole) -> bool| sig.outputs.iter().position(|o| role(&o.role));
        let layout = if let Some(column) = column(|r| matches!(r, OutputRole::PredictedLabel)) {
            // The classes the model declares take the first slots, in its order.
            let declared = sig.outputs.iter().filter_map(|o| match &o.role {
                OutputRole::Probability { class } => Some(class.as_str()),
                _ => None,
            });
            for (slot, class) in self.names.iter().zip(declared) {
                let _ = slot.set(Class::new(class));
            }
            Layout::Classes { column }
        } else if let Some(column) = column(|r| matches!(r, OutputRole::PredictedValue)) {
            Layout::Values { column }
        } else {
            Layout::Nothing
        };
        let _ = self.layout.set(layout);
    }

    fn observe(&self, rows: &[Vec<Value>]) {
        match self.layout.get() {
            Some(Layout::Classes { column }) => {
                for row in rows {
                    match row.get(*column) {
                        Some(Value::String(label)) => self.count_label(Label::Text(label)),
                        Some(Value::Integer(i)) => self.count_label(Label::Code(*i)),
                        Some(Value::Missing) | None => {}
                        Some(other) => self.count_label(Label::Text(&other.to_string())),
                    }
                }
            }
            Some(Layout::Values { column }) => {
                let (mut n, mut sum, mut sum_sq) = (0u64, 0.0, 0.0);
                for row in rows {
                    let v = match row.get(*column) {
                        Some(Value::Number(v)) => *v,
                        Some(Value::Integer(i)) => *i as f64,
                        _ => continue,
                    };
                    if v.is_finite() {
                        n += 1;
                        sum += v;
                        sum_sq += v * v;
                    }
                }
                if n > 0 {
                    self.values.fetch_add(n, Ordering::Relaxed);
                    add_f64(&self.sum, sum);
                    add_f64(&self.sum_sq, sum_sq);
                }
            }
            Some(Layout::Nothing) | None => {}
        }
    }

    fn count_label(&self, label: Label) {
        for (slot, count) in self.names.iter().zip(&self.counts) {
            match slot.get() {
                Some(class) if class.is(label) => {
                    count.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(_) => {}
                None => {
                    // Claim the free slot; if another request claimed it first, it may have
                    // claimed it for this very label.
                    let class = slot.get_or_init(|| match label {
                        Label::Text(t) => Class::new(t),
                        Label::Code(c) => Class::new(&c.to_string()),
                    });
                    if class.is(label) {
                        count.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }
        self.other.fetch_add(1, Ordering::Relaxed);
    }

    fn totals(&self) -> Outputs {
        let mut out = Outputs::default();
        for (slot, count) in self.names.iter().zip(&self.counts) {
            let n = count.load(Ordering::Relaxed);
            if let (Some(class), true) = (slot.get(), n > 0) {
                out.classes.insert(class.name.to_string(), n);
            }
        }
        let other = self.other.load(Ordering::Relaxed);
        if other > 0 {
            *out.classes
                .entry(crate::domain::metrics::OTHER.into())
                .or_default() += other;
        }
        out.values = self.values.load(Ordering::Relaxed);
        out.sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        out.sum_sq = f64::from_bits(self.sum_sq.load(Ordering::Relaxed));
        out
    }
}

/// Adds to an f64 kept as bits (once per request, so contention is rare).
fn add_f64(cell: &AtomicU64, v: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + v).to_bits())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{DType, FieldSpec, OutputSpec};
    use std::sync::Arc;

    fn output(name: &str, role: OutputRole) -> OutputSpec {
        OutputSpec {
            field: FieldSpec {
                name: name.into(),
                dtype: DType::String,
                shape: vec![],
                categories: None,
            },
            role,
        }
    }

    #[test]
    fn counting_from_many_threads_is_exact() {
        let meter = Arc::new(Meter::default());
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let meter = Arc::clone(&meter);
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        meter.record(&Record {
                            source: if k == 3 { Source::Test } else { Source::Client },
                            status: if i % 10 == 0 { 500 } else { 200 },
                            latency_us: Some(i % 1000),
                            rows: 2,
                            bytes_in: 10,
                            bytes_out: 5,
                        });
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let c = meter.counts(Source::Client);
        assert_eq!(c.requests(), 30_000);
        assert_eq!(c.errors(), 3_000);
        assert_eq!(c.latency.iter().sum::<u64>(), 30_000);
        assert_eq!((c.rows, c.bytes_in), (60_000, 300_000));
        assert_eq!(meter.counts(Source::Test).requests(), 10_000);
    }

    #[test]
    fn labels_are_counted_by_name_and_the_overflow_as_other() {
        let meter = Meter::default();
        meter.prepare(&Signature {
            inputs: vec![],
            outputs: vec![
                output("label", OutputRole::PredictedLabel),
                output("p_no", OutputRole::Probability { class: "no".into() }),
            ],
            feature_order: None,
        });
        let row = |l: &str| vec![Value::String(l.into())];
        let mut rows: Vec<Vec<Value>> = vec![row("yes"), row("no"), row("yes")];
        rows.extend((0..40).map(|i| row(&format!("c{i}"))));
        meter.answered(&rows);
        let o = meter.outputs();
        assert_eq!(o.classes["yes"], 2);
        assert_eq!(o.classes["no"], 1);
        // 32 slots: "no", "yes" and 30 of the 40 others; the last 10 are "other".
        assert_eq!(o.classes[crate::domain::metrics::OTHER], 10);
        assert_eq!(o.classes.values().sum::<u64>(), 43);
    }
}
