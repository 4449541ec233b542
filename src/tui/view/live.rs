//! Live figures in table cells, shared by the Services table and the Monitor grid: req/s, p99,
//! error % and in-flight coloured by the service's thresholds, and text sparklines sized to the
//! room a row has left. Stale figures (no fresh sample for 3 s, or the server lost) show as a
//! muted `-`, never as numbers that look current.

use ratatui::layout::Rect;
use ratatui::style::Style;

use super::Look;
use super::panes::Text;
pub use crate::domain::metrics::number;
use crate::domain::spark::spark;
use crate::domain::{Level, Limit, Metric};
use crate::tui::state::State;

pub const HEADER: [&str; 4] = ["REQ/S", "P99 MS", "ERR %", "INFL"];
pub const ACTIVITY: &str = "ACTIVITY";
/// Narrower than this, a sparkline says nothing: the column is left out.
pub const MIN_SPARK: usize = 8;
/// Optional columns give way before the sparkline shrinks below this.
pub const WIDE_SPARK: usize = 20;
pub const MAX_SPARK: usize = 40;

/// Whether the figures on screen are not current.
pub fn stale(state: &State, look: &Look) -> bool {
    state.connection.problem.is_some() || state.metrics.stale(look.now)
}

pub fn level_style(level: Level, look: &Look) -> Option<Style> {
    match level {
        Level::Ok => None,
        Level::Warn => Some(look.theme.warn),
        Level::Critical => Some(look.theme.error),
    }
}

fn judged(limit: &Limit, value: f64, look: &Look) -> Option<Style> {
    level_style(limit.level(value), look)
}

/// The four live cells of a service's row.
pub fn figures(state: &State, service: &str, look: &Look) -> Vec<Text> {
    let muted = Some(look.theme.muted);
    let none = || HEADER.iter().map(|_| Text("-".into(), muted)).collect();
    if stale(state, look) {
        return none();
    }
    let (Some(now), Some(live)) = (
        state.metrics.now(service),
        state.metrics.services.get(service),
    ) else {
        return none();
    };
    let t = &live.thresholds;
    let util = if live.concurrency > 0 {
        100.0 * f64::from(now.in_flight) / f64::from(live.concurrency)
    } else {
        0.0
    };
    vec![
        Text(number(now.req_per_s), None),
        match now.p99_ms {
            Some(p) => Text(number(p), judged(&t.p99_ms, p, look)),
            None => Text("-".into(), muted),
        },
        Text(
            format!("{:.1}", now.error_pct),
            judged(&t.error_pct, now.error_pct, look).filter(|_| now.req_per_s > 0.0),
        ),
        Text(
            now.in_flight.to_string(),
            judged(&t.utilisation_pct, util, look),
        ),
    ]
}

/// The room a row has left after its other columns, for a sparkline (0: none fits).
pub fn spare(header: &[&str], rows: &[Vec<Text>], area: Rect, look: &Look) -> usize {
    let inner = (area.width as usize).saturating_sub(2 + look.sym.selected.chars().count());
    let used: usize = (0..header.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|t| unicode_width::UnicodeWidthStr::width(t.0.as_str()))
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .sum();
    let gaps = header.len();
    inner.saturating_sub(used + gaps)
}

/// A service's recent `metric` as a sparkline cell of `width`, in its level's colour.
pub fn spark_of(state: &State, service: &str, metric: Metric, width: usize, look: &Look) -> Text {
    if state.metrics.received.is_none() {
        return Text(String::new(), None);
    }
    if stale(state, look) {
        return Text(crate::tui::text::STALE.into(), Some(look.theme.muted));
    }
    let values = state.metrics.series(service, metric);
    let style = state
        .metrics
        .services
        .get(service)
        .and_then(|l| level_style(l.level, look))
        .or(Some(look.theme.accent));
    Text(spark(&values, width, look.sym.ascii), style)
}

pub fn spark_cell(state: &State, service: &str, width: usize, look: &Look) -> Text {
    spark_of(state, service, Metric::Requests, width, look)
}
