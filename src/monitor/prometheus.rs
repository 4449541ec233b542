//! The Prometheus text exposition (format 0.0.4) served at `/metrics` on the control listener:
//! cumulative counters straight from the gateway's cells (so a scrape never waits for the
//! ticker), a latency histogram with fixed buckets folded from the log-linear ones, the
//! services' threshold levels, the process, and build info.
//!
//! Names follow Prometheus's conventions and what Triton and MLServer export:
//! `modeldeck_requests_total{service,model,version,source,code}`,
//! `modeldeck_request_duration_seconds_bucket{service,model,version,source,le}`.

use std::fmt::Write;

use super::Monitor;
use super::process;
use crate::domain::{Counts, Level, Outcome, Source, latency};

/// The histogram's upper bounds in seconds: a dozen, from 1 ms to 10 s.
const LE: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(monitor: &Monitor) -> String {
    let table = monitor.routing.table();
    let mut routes: Vec<_> = table.routes().collect();
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::with_capacity(4096 + routes.len() * 4096);
    let mut families = Families::default();
    for route in &routes {
        let service = escape(&route.name);
        for (cell, weight) in &route.versions {
            let base = format!(
                "service=\"{service}\",model=\"{}\",version=\"{}\"",
                escape(&cell.model),
                cell.version
            );
            for source in Source::ALL {
                let c = cell.meter.counts(source);
                if source != Source::Client && c.is_empty() {
                    continue;
                }
                families.version(&format!("{base},source=\"{}\"", source.name()), &c);
            }
            families.gauge("in_flight", &base, f64::from(cell.meter.in_flight()));
            families.gauge("traffic_weight_percent", &base, f64::from(*weight));
            let outputs = cell.meter.outputs();
            for (class, n) in &outputs.classes {
                let _ = writeln!(
                    families.classes,
                    "modeldeck_output_class_total{{{base},class=\"{}\"}} {n}",
                    escape(class)
                );
            }
        }
        let _ = writeln!(
            families.unauthorised,
            "modeldeck_unauthorised_requests_total{{service=\"{service}\"}} {}",
            route.meter.unauthorised()
        );
        let _ = writeln!(
            families.limit,
            "modeldeck_concurrency_limit{{service=\"{service}\"}} {}",
            route.resources.concurrency
        );
    }
    let levels: Vec<(String, Level)> = {
        let live = monitor.live();
        live.services
            .iter()
            .map(|(name, s)| (name.clone(), s.level))
            .collect()
    };

    families.write(&mut out);
    help(
        &mut out,
        "modeldeck_threshold_level",
        "gauge",
        "The service's threshold level: 0 ok, 1 warn, 2 critical.",
    );
    for (name, level) in levels {
        let _ = writeln!(
            out,
            "modeldeck_threshold_level{{service=\"{}\"}} {}",
            escape(&name),
            level as u8
        );
    }
    help(
        &mut out,
        "modeldeck_build_info",
        "gauge",
        "The running modeldeck's version.",
    );
    let _ = writeln!(
        out,
        "modeldeck_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    help(
        &mut out,
        "modeldeck_monitor_cpu_seconds_total",
        "counter",
        "CPU time the monitor's ticker thread has used.",
    );
    let _ = writeln!(
        out,
        "modeldeck_monitor_cpu_seconds_total {}",
        monitor
            .ticker_cpu_us
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1e6
    );
    help(
        &mut out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    let _ = writeln!(
        out,
        "process_cpu_seconds_total {}",
        process::cpu_micros() as f64 / 1e6
    );
    help(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    let _ = writeln!(
        out,
        "process_resident_memory_bytes {}",
        process::rss_bytes()
    );
    help(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    let _ = writeln!(out, "process_start_time_seconds {}", monitor.started_at);
    out
}

/// Each family's lines, gathered so that every family is written in one block.
#[derive(Default)]
struct Families {
    requests: String,
    duration: String,
    rows: String,
    bytes_in: String,
    bytes_out: String,
    busy: String,
    in_flight: String,
    traffic_weight_percent: String,
    classes: String,
    unauthorised: String,
    limit: String,
}

impl Families {
    fn version(&mut self, labels: &str, c: &Counts) {
        for o in Outcome::ALL {
            if o == Outcome::Unauthorised {
                continue;
            }
            let _ = writeln!(
                self.requests,
                "modeldeck_requests_total{{{labels},code=\"{}\"}} {}",
                o.label(),
                c.outcomes[o.index()]
            );
        }
        for le in LE {
            let _ = writeln!(
                self.duration,
                "modeldeck_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                latency::at_most(&c.latency, (le * 1e6) as u64 - 1)
            );
        }
        let count: u64 = c.latency.iter().sum();
        let _ = writeln!(
            self.duration,
            "modeldeck_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            self.duration,
            "modeldeck_request_duration_seconds_sum{{{labels}}} {}",
            c.latency_sum_us as f64 / 1e6
        );
        let _ = writeln!(
            self.duration,
            "modeldeck_request_duration_seconds_count{{{labels}}} {count}"
        );
        let _ = writeln!(self.rows, "modeldeck_rows_total{{{labels}}} {}", c.rows);
        let _ = writeln!(
            self.bytes_in,
            "modeldeck_request_bytes_total{{{labels}}} {}",
            c.bytes_in
        );
        let _ = writeln!(
            self.bytes_out,
            "modeldeck_response_bytes_total{{{labels}}} {}",
            c.bytes_out
        );
        let _ = writeln!(
            self.busy,
            "modeldeck_predict_seconds_total{{{labels}}} {}",
            c.busy_us as f64 / 1e6
        );
    }

    fn gauge(&mut self, name: &str, labels: &str, value: f64) {
        let into = match name {
            "in_flight" => &mut self.in_flight,
            _ => &mut self.traffic_weight_percent,
        };
        let name = match name {
            "in_flight" => "modeldeck_in_flight_requests",
            _ => "modeldeck_traffic_weight_percent",
        };
        let _ = writeln!(into, "{name}{{{labels}}} {value}");
    }

    fn write(&self, out: &mut String) {
        let families: [(&str, &str, &str, &String); 11] = [
            (
                "modeldeck_requests_total",
                "counter",
                "Prediction requests answered, by outcome (code: 2xx, 4xx, 5xx, timeout, rejected).",
                &self.requests,
            ),
            (
                "modeldeck_request_duration_seconds",
                "histogram",
                "Time from a prediction request in hand to its answer; requests refused before (not ready, over the limit, a body too large or too slow) are in modeldeck_requests_total only.",
                &self.duration,
            ),
            (
                "modeldeck_rows_total",
                "counter",
                "Records predicted.",
                &self.rows,
            ),
            (
                "modeldeck_request_bytes_total",
                "counter",
                "Request body bytes received.",
                &self.bytes_in,
            ),
            (
                "modeldeck_response_bytes_total",
                "counter",
                "Response body bytes sent.",
                &self.bytes_out,
            ),
            (
                "modeldeck_predict_seconds_total",
                "counter",
                "Time workers spent inside the model.",
                &self.busy,
            ),
            (
                "modeldeck_in_flight_requests",
                "gauge",
                "Requests being answered now.",
                &self.in_flight,
            ),
            (
                "modeldeck_traffic_weight_percent",
                "gauge",
                "The version's share of the service's traffic.",
                &self.traffic_weight_percent,
            ),
            (
                "modeldeck_output_class_total",
                "counter",
                "Records the model labelled with each class (client traffic).",
                &self.classes,
            ),
            (
                "modeldeck_unauthorised_requests_total",
                "counter",
                "Requests refused for a missing or wrong access key.",
                &self.unauthorised,
            ),
            (
                "modeldeck_concurrency_limit",
                "gauge",
                "Requests a service answers at once.",
                &self.limit,
            ),
        ];
        for (name, kind, text, lines) in families {
            help(out, name, kind, text);
            out.push_str(lines);
        }
    }
}

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
