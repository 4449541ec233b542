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
use crate::tui::metrics::Metrics;
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

/// A figure at its level: coloured, and without colour marked in text (`!` warn, `!!`
/// critical) — bold alone vanishes on the selected row's reverse video.
pub fn at_level(text: String, level: Level, look: &Look) -> Text {
    let text = match level {
        Level::Warn if look.theme.is_mono() => format!("!{text}"),
        Level::Critical if look.theme.is_mono() => format!("!!{text}"),
        _ => text,
    };
    Text(text, level_style(level, look))
}

/// Whether `m` — the live figures, or a frozen copy of them — is not current. A frozen
/// picture is shown as it was; its title says FROZEN.
fn stale_of(state: &State, m: &Metrics, look: &Look) -> bool {
    let frozen = !std::ptr::eq(m, &state.metrics);
    !frozen && stale(state, look)
}

/// The four live cells of a service's row, from `m`.
pub fn figures(state: &State, m: &Metrics, service: &str, look: &Look) -> Vec<Text> {
    let muted = Some(look.theme.muted);
    let none = || HEADER.iter().map(|_| Text("-".into(), muted)).collect();
    if stale_of(state, m, look) {
        return none();
    }
    let (Some(now), Some(live)) = (m.now(service), m.services.get(service)) else {
        return none();
    };
    let t = &live.thresholds;
    let util = if live.concurrency > 0 {
        100.0 * f64::from(now.in_flight) / f64::from(live.concurrency)
    } else {
        0.0
    };
    let error_level = match now.req_per_s > 0.0 {
        true => t.error_pct.level(now.error_pct),
        false => Level::Ok,
    };
    vec![
        Text(number(now.req_per_s), None),
        match now.p99_ms {
            Some(p) => at_level(number(p), t.p99_ms.level(p), look),
            None => Text("-".into(), muted),
        },
        at_level(format!("{:.1}", now.error_pct), error_level, look),
        at_level(
            now.in_flight.to_string(),
            t.utilisation_pct.level(util),
            look,
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

/// A service's recent `metric` from `m` as a sparkline cell of `width`, coloured when that
/// metric has reached a level.
pub fn spark_of(
    state: &State,
    m: &Metrics,
    service: &str,
    metric: Metric,
    width: usize,
    look: &Look,
) -> Text {
    if m.received.is_none() {
        return Text(String::new(), None);
    }
    if stale_of(state, m, look) {
        return Text(crate::tui::text::STALE.into(), Some(look.theme.muted));
    }
    let values = m.columns(service, metric, width);
    let style = m
        .services
        .get(service)
        .and_then(|l| metric_level(l, metric, m.now(service), look))
        .or(Some(look.theme.accent));
    Text(spark(&values, width, look.sym.ascii), style)
}

/// The colour of `metric`'s own level: a slow p99 reddens the p99 sparkline, not the request
/// rate beside it (which has no level).
fn metric_level(
    live: &crate::tui::metrics::Live,
    metric: Metric,
    now: Option<crate::tui::metrics::Now>,
    look: &Look,
) -> Option<Style> {
    let t = &live.thresholds;
    let now = now?;
    match metric {
        Metric::P99 => now.p99_ms.and_then(|p| judged(&t.p99_ms, p, look)),
        Metric::ErrorPct => {
            judged(&t.error_pct, now.error_pct, look).filter(|_| now.req_per_s > 0.0)
        }
        _ => None,
    }
}

pub fn spark_cell(state: &State, service: &str, width: usize, look: &Look) -> Text {
    spark_of(
        state,
        &state.metrics,
        service,
        Metric::Requests,
        width,
        look,
    )
}
