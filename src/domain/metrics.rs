//! What the monitor counts and what it shows: raw counts (which add across seconds, minutes and
//! versions), the figures derived from them for a period, the compact one-second samples the
//! live series keep, and what the model answered.
//!
//! Counts are the unit of truth: the gateway increments them, the ticker takes differences,
//! the rollups store them, and every figure (rates, error %, percentiles, utilisation) is
//! derived from a sum of counts over exactly the period asked for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::latency;

/// Who sent a request. Console tests and batch runs say so in `X-Modeldeck-Source`; they are
/// counted apart so that they never pass for client traffic (a canary's judgement, an error
/// rate on call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Client,
    Test,
    Batch,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Client, Source::Test, Source::Batch];
    /// The request header that tags traffic.
    pub const HEADER: &'static str = "x-modeldeck-source";

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Test => "test",
            Source::Batch => "batch",
        }
    }

    /// The source a header value names; anything else is client traffic.
    /// The source a request names, in any case (`TEST` is a test too).
    pub fn from_header(value: &[u8]) -> Source {
        if value.eq_ignore_ascii_case(b"test") {
            Source::Test
        } else if value.eq_ignore_ascii_case(b"batch") {
            Source::Batch
        } else {
            Source::Client
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How a request ended, by HTTP status class and the reasons an on-call engineer tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// 4xx the caller caused (bad body, unknown version), other than those below.
    ClientError,
    /// 5xx other than a timeout: the model failed or was not ready.
    ServerError,
    /// 504: the prediction outlived the service's timeout.
    Timeout,
    /// 429: over the service's concurrency limit.
    Rejected,
    /// 401/403: no or the wrong access key (counted per service: no version was chosen).
    Unauthorised,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Timeout,
        Outcome::Rejected,
        Outcome::Unauthorised,
    ];

    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            401 | 403 => Outcome::Unauthorised,
            429 => Outcome::Rejected,
            504 => Outcome::Timeout,
            500..=599 => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The `code` label Prometheus gets and the key JSON uses.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "2xx",
            Outcome::ClientError => "4xx",
            Outcome::ServerError => "5xx",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Unauthorised => "unauthorised",
        }
    }

    /// Errors are every answer that was not a success; an unauthorised caller never reached a
    /// version, so it is counted but not held against one.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Unauthorised)
    }
}

/// Counts of one source's traffic to one version over some period.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub outcomes: [u64; 6],
    pub rows: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Time a worker spent inside the model (CPU-bound runtimes: CPU time).
    pub busy_us: u64,
    /// Sum of the latencies in `latency`: by Little's law, the mean requests in flight.
    pub latency_sum_us: u64,
    /// [`latency::BUCKETS`] bucket counts.
    pub latency: Vec<u64>,
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            outcomes: [0; 6],
            rows: 0,
            bytes_in: 0,
            bytes_out: 0,
            busy_us: 0,
            latency_sum_us: 0,
            latency: vec![0; latency::BUCKETS],
        }
    }
}

impl Counts {
    pub fn requests(&self) -> u64 {
        self.outcomes.iter().sum::<u64>() - self.outcomes[Outcome::Unauthorised.index()]
    }

    pub fn errors(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_error())
            .map(|o| self.outcomes[o.index()])
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes.iter().all(|c| *c == 0) && self.busy_us == 0
    }

    pub fn add(&mut self, other: &Counts) {
        for (a, b) in self.outcomes.iter_mut().zip(&other.outcomes) {
            *a += b;
        }
        self.rows += other.rows;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.busy_us += other.busy_us;
        self.latency_sum_us += other.latency_sum_us;
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
    }

    /// `self - earlier`, for counters that only grow (a reset reads as zero, never negative).
    pub fn since(&self, earlier: &Counts) -> Counts {
        let mut d = Counts {
            outcomes: [0; 6],
            rows: self.rows.saturating_sub(earlier.rows),
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            busy_us: self.busy_us.saturating_sub(earlier.busy_us),
            latency_sum_us: self.latency_sum_us.saturating_sub(earlier.latency_sum_us),
            latency: vec![0; latency::BUCKETS],
        };
        for (i, o) in d.outcomes.iter_mut().enumerate() {
            *o = self.outcomes[i].saturating_sub(earlier.outcomes[i]);
        }
        for (i, l) in d.latency.iter_mut().enumerate() {
            *l = self.latency[i].saturating_sub(earlier.latency.get(i).copied().unwrap_or(0));
        }
        d
    }

    pub fn percentile_us(&self, q: f64) -> Option<u64> {
        latency::percentile(&self.latency, q)
    }
}

/// What a version answered: the share of each class for classifiers, the moments of the
/// predicted value for regressors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    /// Predicted label → how many records got it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, u64>,
    /// Predicted values seen, their sum and sum of squares.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub values: u64,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub sum: f64,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub sum_sq: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty() && self.values == 0
    }

    pub fn add(&mut self, other: &Outputs) {
        for (class, n) in &other.classes {
            *self.classes.entry(class.clone()).or_default() += n;
        }
        self.values += other.values;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    /// `self - earlier`, for totals that only grow.
    pub fn since(&self, earlier: &Outputs) -> Outputs {
        Outputs {
            classes: self
                .classes
                .iter()
                .map(|(c, n)| {
                    (
                        c,
                        n.saturating_sub(earlier.classes.get(c).copied().unwrap_or(0)),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| (c.clone(), n))
                .collect(),
            values: self.values.saturating_sub(earlier.values),
            sum: self.sum - earlier.sum,
            sum_sq: self.sum_sq - earlier.sum_sq,
        }
    }

    /// The `top` most frequent classes with their share (0..=1), most frequent first, then
    /// `(OTHER, share)` for the rest: classes past `top`, and labels past the meter's slots
    /// (already counted as [`OTHER`]), in one entry.
    pub fn shares(&self, top: usize) -> Vec<(String, f64)> {
        let total: u64 = self.classes.values().sum();
        if total == 0 {
            return Vec::new();
        }
        let mut by_count: Vec<(&String, &u64)> =
            self.classes.iter().filter(|(c, _)| *c != OTHER).collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut out: Vec<(String, f64)> = by_count
            .iter()
            .take(top)
            .map(|(c, n)| (printable(c), **n as f64 / total as f64))
            .collect();
        let rest: u64 = by_count.iter().skip(top).map(|(_, n)| **n).sum::<u64>()
            + self.classes.get(OTHER).copied().unwrap_or(0);
        if rest > 0 {
            out.push((OTHER.into(), rest as f64 / total as f64));
        }
        out
    }

    /// Mean and standard deviation of the predicted value.
    pub fn moments(&self) -> Option<(f64, f64)> {
        if self.values == 0 {
            return None;
        }
        let n = self.values as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        Some((mean, var.sqrt()))
    }
}

/// A figure with as many decimals as its size needs: whole above 100, one above 10, two below.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A share (0..=1) as people read it: `34%`, `2.5%`, `<0.1%`, `0%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.1 {
        "<0.1%".into()
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A label with its control characters escaped, so that a model answering `"a\nb"` cannot
/// break a line of the CLI or the console.
fn printable(label: &str) -> String {
    if label.chars().any(char::is_control) {
        label
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        label.to_string()
    }
}

/// The name the classes beyond the top ones share; in parentheses, so that a model whose
/// class is called "other" keeps its own line.
pub const OTHER: &str = "(other)";

/// Figures for one period, derived from counts: what the CLI prints, the console charts and
/// thresholds judge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub seconds: f64,
    /// Client requests (tagged traffic is in `tagged`).
    pub requests: u64,
    pub errors: u64,
    /// By outcome label (`2xx`, `4xx`, `5xx`, `timeout`, `rejected`, `unauthorised`).
    pub outcomes: BTreeMap<String, u64>,
    /// Requests from console tests and batch runs.
    pub tagged: u64,
    pub req_per_s: f64,
    pub errors_per_s: f64,
    pub error_pct: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub rows_per_s: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Time inside the model ÷ wall time, in percent of one core (all sources).
    pub cpu_pct: f64,
    /// Mean requests in flight ÷ the service's concurrency limit, in percent.
    pub saturation_pct: Option<f64>,
}

impl Figures {
    /// Figures over `seconds` from the client's counts and every source's (for CPU).
    pub fn of(client: &Counts, all: &Counts, seconds: f64, limit: Option<u32>) -> Figures {
        let seconds = seconds.max(1e-9);
        let requests = client.requests();
        let errors = client.errors();
        let ms = |q| client.percentile_us(q).map(|us| us as f64 / 1000.0);
        Figures {
            seconds,
            requests,
            errors,
            outcomes: Outcome::ALL
                .iter()
                .filter(|o| client.outcomes[o.index()] > 0)
                .map(|o| (o.label().to_string(), client.outcomes[o.index()]))
                .collect(),
            tagged: all.requests().saturating_sub(requests),
            req_per_s: requests as f64 / seconds,
            errors_per_s: errors as f64 / seconds,
            error_pct: if requests == 0 {
                0.0
            } else {
                100.0 * errors as f64 / requests as f64
            },
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            rows_per_s: client.rows as f64 / seconds,
            bytes_in: client.bytes_in,
            bytes_out: client.bytes_out,
            cpu_pct: 100.0 * all.busy_us as f64 / (seconds * 1e6),
            saturation_pct: limit
                .filter(|l| *l > 0)
                .map(|l| 100.0 * all.latency_sum_us as f64 / (seconds * 1e6) / f64::from(l)),
        }
    }
}

/// One second (or one chart step) of one version's or one service's client traffic, kept
/// compact: the live series hold 900 of them per version. Percentiles are 0 when nothing was
/// answered; sent as an array `[t, requests, errors, tagged, rows, p50, p95, p99, busy,
/// in_flight]` so a console's once-a-second refresh stays small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SampleWire", into = "SampleWire")]
pub struct Sample {
    /// Unix seconds at the start of the second (or step).
    pub t: i64,
    pub requests: u32,
    pub errors: u32,
    pub tagged: u32,
    pub rows: u32,
    pub p50_us: u32,
    pub p95_us: u32,
    pub p99_us: u32,
    /// Microseconds inside the model, all sources.
    pub busy_us: u32,
    /// Requests in flight when the sample was taken.
    pub in_flight: u32,
}

type SampleWire = (i64, u32, u32, u32, u32, u32, u32, u32, u32, u32);

impl From<SampleWire> for Sample {
    fn from(w: SampleWire) -> Sample {
        Sample {
            t: w.0,
            requests: w.1,
            errors: w.2,
            tagged: w.3,
            rows: w.4,
            p50_us: w.5,
            p95_us: w.6,
            p99_us: w.7,
            busy_us: w.8,
            in_flight: w.9,
        }
    }
}

impl From<Sample> for SampleWire {
    fn from(s: Sample) -> SampleWire {
        (
            s.t,
            s.requests,
            s.errors,
            s.tagged,
            s.rows,
            s.p50_us,
            s.p95_us,
            s.p99_us,
            s.busy_us,
            s.in_flight,
        )
    }
}

impl Sample {
    /// A sample of `client` traffic (percentiles from its buckets) plus the others' count.
    pub fn of(t: i64, client: &Counts, all: &Counts, in_flight: u32) -> Sample {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let p = |q| clamp(client.percentile_us(q).unwrap_or(0));
        let requests = client.requests();
        Sample {
            t,
            requests: clamp(requests),
            errors: clamp(client.errors()),
            tagged: clamp(all.requests().saturating_sub(requests)),
            rows: clamp(client.rows),
            p50_us: p(0.50),
            p95_us: p(0.95),
            p99_us: p(0.99),
            busy_us: clamp(all.busy_us),
            in_flight,
        }
    }

    pub fn error_pct(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * f64::from(self.errors) / f64::from(self.requests)
        }
    }
}

/// A metric the console charts and `[`/`]` step through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Requests,
    P99,
    ErrorPct,
    Rows,
    Cpu,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Requests,
        Metric::P99,
        Metric::ErrorPct,
        Metric::Rows,
        Metric::Cpu,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Metric::Requests => "req/s",
            Metric::P99 => "p99 ms",
            Metric::ErrorPct => "error %",
            Metric::Rows => "rows/s",
            Metric::Cpu => "cpu %",
        }
    }

    /// The value of a sample that spans `seconds`.
    pub fn of(self, s: &Sample, seconds: f64) -> f64 {
        let seconds = seconds.max(1e-9);
        match self {
            Metric::Requests => f64::from(s.requests) / seconds,
            Metric::P99 => f64::from(s.p99_us) / 1000.0,
            Metric::ErrorPct => s.error_pct(),
            Metric::Rows => f64::from(s.rows) / seconds,
            Metric::Cpu => 100.0 * f64::from(s.busy_us) / (seconds * 1e6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ok: u64, failed: u64, micros: u64) -> Counts {
        let mut c = Counts::default();
        c.outcomes[Outcome::Ok.index()] = ok;
        c.outcomes[Outcome::ServerError.index()] = failed;
        c.latency[latency::bucket(micros)] = ok + failed;
        c.latency_sum_us = (ok + failed) * micros;
        c
    }

    #[test]
    fn figures_of_a_period_come_from_summed_counts() {
        let mut period = counts(90, 0, 1_000);
        period.add(&counts(5, 5, 200_000));
        let f = Figures::of(&period, &period, 10.0, Some(4));
        assert_eq!((f.requests, f.errors), (100, 5));
        assert!((f.req_per_s - 10.0).abs() < 1e-9);
        assert!((f.error_pct - 5.0).abs() < 1e-9);
        // p95 is 200 ms even though one of the two halves alone says 1 ms: never averaged.
        assert!((f.p95_ms.unwrap() / 200.0 - 1.0).abs() < 0.035);
        // Σ latency = 90 ms + 2 s over 10 s = 0.209 in flight, of 4.
        assert!((f.saturation_pct.unwrap() - 100.0 * 0.209 / 4.0).abs() < 1e-6);
    }

    #[test]
    fn unauthorised_callers_are_counted_but_not_as_requests_or_errors() {
        let mut c = Counts::default();
        c.outcomes[Outcome::Unauthorised.index()] = 3;
        c.outcomes[Outcome::Rejected.index()] = 2;
        assert_eq!((c.requests(), c.errors()), (2, 2));
        assert_eq!(Outcome::of_status(401), Outcome::Unauthorised);
        assert_eq!(Outcome::of_status(504), Outcome::Timeout);
        assert_eq!(Outcome::of_status(503), Outcome::ServerError);
        assert_eq!(Outcome::of_status(404), Outcome::ClientError);
    }

    #[test]
    fn shares_keep_the_top_classes_and_lump_the_rest() {
        let mut o = Outputs::default();
        for (c, n) in [("a", 50), ("b", 30), ("c", 15), ("d", 5)] {
            o.classes.insert(c.into(), n);
        }
        let s = o.shares(2);
        assert_eq!(s[0], ("a".into(), 0.5));
        assert_eq!(s[1], ("b".into(), 0.3));
        assert_eq!(s[2].0, OTHER);
        assert!((s[2].1 - 0.2).abs() < 1e-12);
        // A class called "other" is a class; the meter's overflow joins the lumped rest.
        o.classes.insert("other".into(), 40);
        o.classes.insert(OTHER.into(), 60);
        let s = o.shares(2);
        assert_eq!(s[1], ("other".into(), 0.2), "{s:?}");
        assert_eq!(s[2], (OTHER.into(), 0.55), "{s:?}");
        // Labels are shown on one line whatever they hold.
        let o = Outputs {
            classes: [("a\nb\u{1b}[2J".to_string(), 1)].into(),
            ..Outputs::default()
        };
        assert_eq!(o.shares(2)[0].0, "a\\nb\\u{1b}[2J");
        let r = Outputs {
            values: 4,
            sum: 8.0,
            sum_sq: 20.0,
            ..Outputs::default()
        };
        assert_eq!(r.moments(), Some((2.0, 1.0)));
    }

    #[test]
    fn a_sample_travels_as_an_array() {
        let s = Sample {
            t: 5,
            requests: 1,
            p99_us: 9,
            ..Sample::default()
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, "[5,1,0,0,0,0,0,9,0,0]");
        assert_eq!(serde_json::from_str::<Sample>(&text).unwrap(), s);
    }
}
