//! `modeldeck monitor SVC` (a service's figures over a period, with text sparklines) and
//! `modeldeck services thresholds SVC` (its warn and critical levels).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::output::{print_json, print_table};
use crate::config::DataDir;
use crate::control::contract::{MonitorQuery, ServiceHistory, VersionHistory};
use crate::control::{ControlError, Session};
use crate::domain::metrics::{number, percent};
use crate::domain::period::label;
use crate::domain::spark::spark;
use crate::domain::{Figures, Limit, Metric, Thresholds};

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The service (a deleted service's history stays readable)
    pub service: String,
    /// Only this version
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// The period up to now: 15m, 1h, 6h, 24h, 7d… (default 15m)
    #[arg(long, value_name = "PERIOD", conflicts_with = "from")]
    pub since: Option<String>,
    /// Start of the period (RFC 3339 or unix seconds)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the period (default: now)
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

/// Sparkline width: fits 80 columns beside its label and scale.
const SPARK_WIDTH: usize = 56;

pub async fn monitor(data_dir: Option<PathBuf>, args: MonitorArgs) -> Result<(), ControlError> {
    let dir = DataDir::open(data_dir.as_deref())?;
    let session = Session::open(dir).await?;
    let query = MonitorQuery {
        since: Some(i64::MAX),
        service: Some(args.service.clone()),
        version: args.version,
        window: args.since.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        points: Some(SPARK_WIDTH as u32),
    };
    let view = session.monitor(&query).await?;
    let Some(h) = view.history else {
        return Err(ControlError::Io(
            "the server answered without a history".into(),
        ));
    };
    if args.json {
        print_json(&json!(h));
        return Ok(());
    }
    print_history(&h, !utf8());
    Ok(())
}

fn utf8() -> bool {
    crate::tui::theme::utf8_locale(&|k| std::env::var(k).ok())
}

fn print_history(h: &ServiceHistory, ascii: bool) {
    let p = h.period;
    crate::say!(
        "{} · {} → {} · {} per point",
        h.service,
        label(p.from),
        label(p.to),
        step_words(h.step)
    );
    let mut rows = vec![
        [
            "", "req/s", "error %", "p50 ms", "p95 ms", "p99 ms", "rows/s", "cpu %", "util %",
        ]
        .map(String::from)
        .to_vec(),
    ];
    // The service as a whole: every version, and callers refused before one was chosen.
    rows.push(figures_row("service", &h.total));
    for v in &h.versions {
        rows.push(figures_row(
            &format!("v{} ({})", v.version, v.model),
            &v.figures,
        ));
    }
    crate::say!();
    print_table(&rows);
    let t = &h.total;
    if !t.outcomes.is_empty() || t.tagged > 0 {
        let outcomes: Vec<String> = t.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
        crate::say!(
            "\nrequests {} ({}){}",
            t.requests,
            outcomes.join(", "),
            if t.tagged > 0 {
                format!("; {} more from console tests and batch runs", t.tagged)
            } else {
                String::new()
            }
        );
    }
    for v in &h.versions {
        crate::say!("\nv{} ({})", v.version, v.model);
        for metric in [Metric::Requests, Metric::P99, Metric::ErrorPct] {
            let values: Vec<f64> = v
                .points
                .iter()
                .map(|s| metric.of(s, h.step as f64))
                .collect();
            let top = values.iter().copied().fold(0.0_f64, f64::max);
            crate::say!(
                "  {:<8} {:>w$} max {}",
                metric.title(),
                spark(&values, SPARK_WIDTH, ascii),
                number(top),
                w = SPARK_WIDTH
            );
        }
        if let Some(line) = outputs_line(v) {
            crate::say!("  answers  {line}");
        }
    }
    if h.versions.is_empty() {
        crate::say!("\nno requests in this period");
    }
    crate::say!("\nthresholds  {}", thresholds_line(&h.thresholds));
}

fn figures_row(name: &str, f: &Figures) -> Vec<String> {
    let ms = |v: Option<f64>| v.map_or("-".into(), number);
    vec![
        name.to_string(),
        number(f.req_per_s),
        format!("{:.2}", f.error_pct),
        ms(f.p50_ms),
        ms(f.p95_ms),
        ms(f.p99_ms),
        number(f.rows_per_s),
        format!("{:.1}", f.cpu_pct),
        f.saturation_pct.map_or("-".into(), |u| format!("{u:.1}")),
    ]
}

/// What the version answered over the period: class shares, or mean ± spread.
pub fn outputs_line(v: &VersionHistory) -> Option<String> {
    let shares = v.outputs.shares(crate::monitor::history::TOP_CLASSES);
    if !shares.is_empty() {
        return Some(
            shares
                .iter()
                .map(|(c, s)| format!("{c} {}", percent(*s)))
                .collect::<Vec<_>>()
                .join(" · "),
        );
    }
    v.outputs
        .moments()
        .map(|(mean, sd)| format!("mean {} ± {}", number(mean), number(sd)))
}

pub fn thresholds_line(t: &Thresholds) -> String {
    let pair = |l: &Limit| format!("{}/{}", l.warn, l.critical);
    format!(
        "error {}%, p99 {} ms, utilisation {}% (warn/critical)",
        pair(&t.error_pct),
        pair(&t.p99_ms),
        pair(&t.utilisation_pct)
    )
}

fn step_words(step: i64) -> String {
    match step {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[derive(Debug, Args)]
pub struct ThresholdsArgs {
    pub service: String,
    /// Error % levels as WARN,CRITICAL (e.g. 1,5)
    #[arg(long, value_name = "W,C")]
    pub error_pct: Option<String>,
    /// p99 latency levels in milliseconds as WARN,CRITICAL (e.g. 250,1000)
    #[arg(long, value_name = "W,C")]
    pub p99_ms: Option<String>,
    /// Utilisation (in flight ÷ concurrency limit) levels in % as WARN,CRITICAL
    #[arg(long, value_name = "W,C")]
    pub utilisation_pct: Option<String>,
    /// Follow the server's levels again
    #[arg(long, conflicts_with_all = ["error_pct", "p99_ms", "utilisation_pct"])]
    pub reset: bool,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

pub async fn thresholds(
    session: &Session,
    actor: &str,
    args: ThresholdsArgs,
) -> Result<(), ControlError> {
    let (service, _) = session.service(&args.service, false).await?;
    let current = session
        .monitor(&MonitorQuery {
            since: Some(i64::MAX),
            service: Some(args.service.clone()),
            window: Some("1m".into()),
            ..MonitorQuery::default()
        })
        .await?
        .history
        .map(|h| h.thresholds)
        .unwrap_or_default();
    let changed =
        args.error_pct.is_some() || args.p99_ms.is_some() || args.utilisation_pct.is_some();
    let view = if args.reset || changed {
        let mut t = current;
        for (text, limit, flag) in [
            (&args.error_pct, &mut t.error_pct, "error_pct"),
            (&args.p99_ms, &mut t.p99_ms, "p99_ms"),
            (
                &args.utilisation_pct,
                &mut t.utilisation_pct,
                "utilisation_pct",
            ),
        ] {
            if let Some(text) = text {
                *limit = parse_limit(text).map_err(|e| ControlError::field(flag, e))?;
            }
        }
        let own = (!args.reset).then_some(t);
        session.set_thresholds(actor, &args.service, own).await?
    } else {
        crate::control::contract::ThresholdsView {
            service: args.service.clone(),
            thresholds: current,
            own: service.thresholds.is_some(),
        }
    };
    if args.json {
        print_json(&json!(view));
    } else {
        let whose = if view.own { "its own" } else { "the server's" };
        crate::say!(
            "{}  {}, {whose}",
            view.service,
            thresholds_line(&view.thresholds)
        );
    }
    Ok(())
}

fn parse_limit(text: &str) -> Result<Limit, String> {
    let bad = || format!("{text:?}: write the warn and critical levels as two numbers, like 1,5");
    let (w, c) = text.split_once(',').ok_or_else(bad)?;
    let limit = Limit {
        warn: w.trim().parse().map_err(|_| bad())?,
        critical: c.trim().parse().map_err(|_| bad())?,
    };
    // Order and sign here; the server knows each figure's most (100 for a percent).
    limit
        .check("levels", f64::MAX)
        .map_err(|e| e.replace("levels: ", ""))?;
    Ok(limit)
}
