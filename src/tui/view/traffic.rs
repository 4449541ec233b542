//! The Traffic pane: services with their splits; Enter opens one — a slider per version with
//! its percent and live req/s, error % and p99, the staged edit and what it would change, the
//! routing rules, and the traffic history.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::Look;
use super::live::number;
use super::panes::{Text, block, loading_or_failed, table, visible};
use crate::control::contract::TrafficView;
use crate::tui::state::{List, Loadable, State};
use crate::tui::text;

/// `100→100%` fits: a staged weight beside the one in force.
const WEIGHT_W: u16 = 10;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    match &state.traffic.open {
        Some(name) => sliders(frame, area, state, name, look),
        None => list(frame, area, state, look),
    }
}

fn list(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let cursor = state.cursor(List::Traffic);
    let title = "Traffic".to_string();
    let loaded = match loading_or_failed(&state.services, look) {
        Some(l) => Err(l),
        None if state.services.ready().is_some_and(Vec::is_empty) => {
            Err(Line::styled(text::TRAFFIC_EMPTY, look.theme.muted))
        }
        None => {
            let rows = visible(&state.shown_services(), area, cursor)
                .iter()
                .map(|s| {
                    let split: Vec<String> = s
                        .service
                        .deployments
                        .iter()
                        .map(|d| format!("v{} {}%", d.version, d.weight))
                        .collect();
                    let sticky = s.service.traffic.sticky_header.clone().unwrap_or_default();
                    vec![
                        Text(s.service.name.to_string(), None),
                        Text(split.join(" "), None),
                        Text(
                            s.service.traffic.revision.to_string(),
                            Some(look.theme.muted),
                        ),
                        Text(sticky, Some(look.theme.muted)),
                    ]
                })
                .collect();
            Ok((vec!["NAME", "SPLIT", "REV", "STICKY ON"], rows))
        }
    };
    table(frame, area, block(title, state, look), loaded, cursor, look);
}

fn sliders(frame: &mut Frame, area: Rect, state: &State, name: &str, look: &Look) {
    let t = &state.traffic;
    let sep = look.sym.sep;
    let mut title = format!("Traffic{sep}{name}");
    if let Some(view) = t.view.ready() {
        title.push_str(&format!("{sep}revision {}", view.revision));
    }
    let b = block(title, state, look);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let view = match &t.view {
        Loadable::Ready(v) => v,
        Loadable::Loading => {
            frame.render_widget(
                Paragraph::new(Line::styled("loading", look.theme.muted)),
                inner,
            );
            return;
        }
        Loadable::Failed(e) => {
            frame.render_widget(
                Paragraph::new(Line::styled(format!("ERR {e}"), look.theme.error)),
                inner,
            );
            return;
        }
    };
    let versions = t.versions();
    let canary_rows = if view.canary.is_some() { 3 } else { 0 };
    let [status, header, gauges, rules, canary, history] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(versions.len() as u16),
        Constraint::Length(1),
        Constraint::Length(canary_rows),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(status_line(state, view, look)), status);
    let figures_w = 22u16;
    let label_w = 4 + look.sym.selected.chars().count() as u16;
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "{:w$}{:g$}{:>7}{:>7}{:>8}",
                "",
                "WEIGHT",
                "REQ/S",
                "ERR %",
                "P99 MS",
                w = label_w as usize,
                g = inner.width.saturating_sub(label_w + figures_w) as usize
            ),
            look.theme.muted,
        )),
        header,
    );
    let cursor = state.cursor(List::Weights).row;
    let live = state.metrics.services.get(name);
    let rows = Layout::vertical(versions.iter().map(|_| Constraint::Length(1))).split(gauges);
    for (i, (v, row)) in versions.iter().zip(rows.iter()).enumerate() {
        let shown = t.shown().map_or(0, |s| s.weight(*v));
        let now = view.split.weight(*v);
        let [label, weight, gauge, figures] = Layout::horizontal([
            Constraint::Length(label_w),
            Constraint::Length(WEIGHT_W),
            Constraint::Fill(1),
            Constraint::Length(figures_w),
        ])
        .areas(*row);
        let selected = i == cursor;
        let mark = if selected { look.sym.selected } else { "" };
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("{mark:w$}v{v}", w = look.sym.selected.chars().count()),
                if selected {
                    look.theme.focus
                } else {
                    look.theme.muted
                },
            )),
            label,
        );
        let percent = if shown == now {
            format!("{shown:>4}%")
        } else {
            look.plain(&format!("{now}→{shown}%"))
        };
        let staged_style = if shown == now {
            look.theme.accent
        } else {
            look.theme.warn
        };
        frame.render_widget(Paragraph::new(Line::styled(percent, staged_style)), weight);
        let (filled, unfilled) = if look.sym.ascii {
            ("#", "-")
        } else {
            ("━", "─")
        };
        frame.render_widget(
            LineGauge::default()
                .ratio(f64::from(shown) / 100.0)
                .label("")
                .filled_symbol(filled)
                .unfilled_symbol(unfilled)
                .filled_style(staged_style)
                .unfilled_style(look.theme.muted),
            gauge,
        );
        let sample = live.and_then(|l| l.versions.iter().find(|x| x.version == *v));
        let cells = match sample.map(|x| x.last) {
            Some(s) if !super::live::stale(state, look) => {
                let err = if s.requests > 0 {
                    100.0 * f64::from(s.errors) / f64::from(s.requests)
                } else {
                    0.0
                };
                let p99 = match s.requests {
                    0 => "-".to_string(),
                    _ => number(f64::from(s.p99_us) / 1000.0),
                };
                format!("{:>7}{:>7.1}{:>8}", s.requests, err, p99)
            }
            _ => format!("{:>7}{:>7}{:>8}", "-", "-", "-"),
        };
        frame.render_widget(Paragraph::new(Line::raw(cells)), figures);
    }
    let mut words = Vec::new();
    if let Some(h) = &view.sticky_header {
        words.push(format!("sticky on {h}"));
    }
    if !view.labels.is_empty() {
        let labels: Vec<String> = view
            .labels
            .iter()
            .map(|(l, v)| format!("{l}=v{v}"))
            .collect();
        words.push(format!("labels {}", labels.join(" ")));
    }
    frame.render_widget(
        Paragraph::new(Line::styled(words.join(sep), look.theme.muted)),
        rules,
    );
    if let Some(c) = &view.canary {
        canary_lines(frame, canary, c, look);
    }
    history_lines(frame, history, view, look);
}

/// The canary: its steps with the one in force, its gates, and the last judgement.
fn canary_lines(frame: &mut Frame, area: Rect, c: &crate::domain::canary::Canary, look: &Look) {
    use crate::domain::canary::CanaryState;
    let style = match c.state {
        CanaryState::Running => look.theme.accent,
        CanaryState::Paused => look.theme.warn,
        CanaryState::RolledBack => look.theme.error,
        CanaryState::Promoted => look.theme.ok,
        CanaryState::Aborted => look.theme.muted,
    };
    let g = &c.gates;
    let head = look.plain(&format!(
        "CANARY v{} {:?}: {}",
        c.candidate,
        c.state,
        c.steps_words()
    ));
    let gates = look.plain(&format!(
        "  gates: error ≤ {}%, p99 ≤ {} ms, judged after {} requests and {} s a step",
        g.max_error_pct, g.max_p99_ms, g.min_requests, g.interval_secs
    ));
    let lines = vec![
        Line::styled(head, style),
        Line::styled(format!("  {}", look.plain(&c.verdict)), look.theme.muted),
        Line::styled(gates, look.theme.muted),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

/// STAGED and the diff, or how to start; a split that changed under a staged edit says so.
fn status_line<'a>(state: &State, view: &TrafficView, look: &Look) -> Line<'a> {
    let t = &state.traffic;
    match t.diff(look.sym.sep) {
        Some(diff) if t.staged_from != view.revision => Line::styled(
            look.plain(&format!(
                "STAGED {diff}, but the split changed since (revision {} → {}): u drops it",
                t.staged_from, view.revision
            )),
            look.theme.error,
        ),
        Some(diff) => Line::from(vec![
            Span::styled(look.plain(&format!("STAGED {diff}")), look.theme.warn),
            Span::styled("  a applies, u drops", look.theme.muted),
        ]),
        None => Line::styled(
            look.plain(&text::TRAFFIC_HINT.join(look.sym.sep)),
            look.theme.muted,
        ),
    }
}

/// The newest changes that fit, newest first.
fn history_lines(frame: &mut Frame, area: Rect, view: &TrafficView, look: &Look) {
    if area.height < 2 {
        return;
    }
    let mut lines = vec![Line::styled("HISTORY", look.theme.muted)];
    for c in view.history.iter().rev().take(area.height as usize - 1) {
        let when =
            c.at.get(5..16)
                .map_or(c.at.clone(), |t| t.replace('T', " "));
        let change = c.summary(look.sym.sep);
        let reason = if c.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.reason)
        };
        lines.push(Line::raw(look.plain(&format!(
            "{:>4} {when} {:<12} {:<8} {change}{reason}",
            c.revision,
            crate::domain::clip(&c.actor, 12),
            c.kind.name()
        ))));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
