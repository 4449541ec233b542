//! The Jobs pane: the job list (schedule in words, next fire, the last run's state), one
//! job (its chain as a flow from input through the steps and the model to the output, beside
//! its runs), and one run's live view with a progress bar per step.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};

use super::Look;
use super::panes::{Text, block, loading_or_failed, table, table_with, visible};
use crate::batch::scheduler::describe;
use crate::control::contract::JobView;
use crate::domain::{Run, RunState, Target};
use crate::tui::action::Action;
use crate::tui::jobs::{Focus, RunFilter};
use crate::tui::state::{List, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    match &state.jobs.open {
        None => list(frame, area, state, look),
        Some(o) => match o.view.ready() {
            None => {
                let line = loading_or_failed(&o.view, look).unwrap_or_default();
                let title = format!("Jobs{}{} (esc back)", look.sym.sep, o.name);
                frame.render_widget(Paragraph::new(line).block(block(title, state, look)), area);
            }
            Some(v) => match o.run.and_then(|id| v.runs.iter().find(|r| r.id == id)) {
                Some(run) => live(frame, area, state, v, run, look),
                None => job(frame, area, state, v, o.focus, look),
            },
        },
    }
}

/// A run state in its colour: done green, failed red, going yellow, the rest muted.
fn state_style(s: RunState, look: &Look) -> Style {
    match s {
        RunState::Completed => look.theme.ok,
        RunState::Failed | RunState::Cancelled => look.theme.error,
        RunState::Running | RunState::Scheduled => look.theme.warn,
        RunState::Skipped => look.theme.muted,
    }
}

/// `2026-12-02T03:00:00Z` as `2026-12-02 03:00` (UTC, said in the headers).
fn when(t: Option<&str>) -> String {
    match t {
        Some(t) if t.len() >= 16 && t.is_char_boundary(16) => t[..16].replace('T', " "),
        Some(t) => t.to_string(),
        None => "-".into(),
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::Model {
            name,
            version: Some(v),
        } => format!("{name}:{v}"),
        Target::Model {
            name,
            version: None,
        } => name.clone(),
        Target::Service { name } => format!("service {name}"),
    }
}

fn list(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let cursor = state.cursor(List::Jobs);
    let filter = state.jobs.filter;
    let shown = state.shown_jobs();
    let loaded = match loading_or_failed(&state.jobs.jobs, look) {
        Some(l) => Err(l),
        None if state.jobs.jobs.ready().is_some_and(Vec::is_empty) => Err(Line::from(vec![
            Span::raw(crate::tui::text::NO_JOBS),
            Span::styled(look.keymap.label(Action::NewJob), look.theme.accent),
            Span::raw(" on a model in the Models pane creates one (or `modeldeck jobs create`)."),
        ])),
        None if shown.is_empty() => Err(Line::raw(crate::tui::text::NO_JOBS_MATCH)),
        None => Ok((
            vec!["NAME", "TARGET", "SCHEDULE", "NEXT (UTC)", "LAST RUN"],
            visible(&shown, area, cursor)
                .iter()
                .map(|j| {
                    let last = match &j.last_run {
                        Some(r) => Text(
                            format!(
                                "{} {}",
                                r.state,
                                when(r.finished_at.as_deref().or(r.started_at.as_deref()))
                            ),
                            Some(state_style(r.state, look)),
                        ),
                        None => Text("never".into(), Some(look.theme.muted)),
                    };
                    let schedule = if j.paused {
                        format!("paused ({})", describe(&j.spec))
                    } else {
                        describe(&j.spec)
                    };
                    vec![
                        j.name.clone().into(),
                        target(&j.spec.target).into(),
                        schedule.into(),
                        when(j.next_fire_at.as_deref()).into(),
                        last,
                    ]
                })
                .collect(),
        )),
    };
    let mut title = match state.jobs.jobs.ready() {
        Some(j) if shown.len() < j.len() => format!("Jobs ({} of {})", shown.len(), j.len()),
        Some(j) => format!("Jobs ({})", j.len()),
        None => "Jobs".into(),
    };
    if filter != RunFilter::All {
        title.push_str(&format!("{}last run {}", look.sym.sep, filter.label()));
    }
    table(frame, area, block(title, state, look), loaded, cursor, look);
}

fn job(frame: &mut Frame, area: Rect, state: &State, v: &JobView, focus: Focus, look: &Look) {
    let j = &v.job;
    let sep = look.sym.sep;
    let [head, body] = Layout::vertical([Constraint::Length(5), Constraint::Min(5)]).areas(area);
    let mut schedule = describe(&j.spec);
    if j.paused {
        schedule = format!("PAUSED{sep}{schedule}");
    }
    let next: Vec<String> = v.next_fires.iter().take(3).map(|t| when(Some(t))).collect();
    let lines = vec![
        Line::from(vec![
            Span::styled("schedule ", look.theme.muted),
            Span::raw(schedule),
        ]),
        Line::from(vec![
            Span::styled("next     ", look.theme.muted),
            Span::raw(if next.is_empty() {
                "-".to_string()
            } else {
                format!("{} UTC", next.join(", "))
            }),
        ]),
        Line::from(vec![
            Span::styled("policy   ", look.theme.muted),
            Span::raw(format!(
                "bad records: {}{sep}threads {}",
                j.spec.policy,
                j.spec
                    .threads
                    .map_or("all cores".to_string(), |t| t.to_string())
            )),
        ]),
    ];
    let title = format!("Jobs{sep}{} (esc back)", j.name);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title, state, look)),
        head,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body);
    chain(frame, left, state, v, focus == Focus::Chain, look);
    runs(frame, right, state, v, focus == Focus::Runs, look);
}

fn titled<'a>(title: &str, focused: bool, look: &Look) -> Block<'a> {
    let style = if focused {
        look.theme.focus
    } else {
        look.theme.muted
    };
    Block::bordered()
        .border_set(look.sym.border)
        .title(Span::styled(format!(" {title} "), style))
}

/// The chain as a vertical flow: input, each step, the model, the output.
fn chain(frame: &mut Frame, area: Rect, state: &State, v: &JobView, focused: bool, look: &Look) {
    let spec = &v.job.spec;
    let (pipe, arrow) = if look.sym.ascii {
        ("|", "v")
    } else {
        ("│", "↓")
    };
    let row = state.cursor(List::Chain).row;
    let mut lines = vec![
        Line::from(vec![
            Span::styled("input  ", look.theme.muted),
            Span::raw(spec.input.clone()),
        ]),
        Line::styled(format!("  {pipe}"), look.theme.muted),
    ];
    if spec.steps.is_empty() {
        lines.push(Line::styled(
            format!(
                "  {pipe} no steps: {} adds one",
                look.keymap.label(Action::AddStep)
            ),
            look.theme.muted,
        ));
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let selected = focused && i == row;
        let marker = if selected { look.sym.selected } else { "  " };
        let style = if selected {
            look.theme.selection
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{arrow} "), look.theme.muted),
            Span::styled(format!("{} {}", i + 1, step), style),
        ]));
    }
    lines.push(Line::styled(format!("  {pipe}"), look.theme.muted));
    lines.push(Line::from(vec![
        Span::styled("model  ", look.theme.muted),
        Span::raw(target(&spec.target)),
    ]));
    lines.push(Line::styled(format!("  {pipe}"), look.theme.muted));
    lines.push(Line::from(vec![
        Span::styled("output ", look.theme.muted),
        Span::raw(spec.output.clone()),
    ]));
    // Keep the selected step on screen in a short window.
    let inner = area.height.saturating_sub(2) as usize;
    let skip = (row + 3)
        .saturating_sub(inner.saturating_sub(5))
        .min(lines.len());
    let skip = if focused && spec.steps.len() + 6 > inner {
        skip
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(lines.split_off(skip))
            .wrap(Wrap { trim: false })
            .block(titled("chain", focused, look)),
        area,
    );
}

fn runs(frame: &mut Frame, area: Rect, state: &State, v: &JobView, focused: bool, look: &Look) {
    let cursor = state.cursor(List::Runs);
    let loaded = if v.runs.is_empty() {
        Err(Line::styled(crate::tui::text::NO_RUNS, look.theme.muted))
    } else {
        Ok((
            vec!["RUN", "STATE", "STARTED", "ROWS", "NOTE"],
            visible(&v.runs, area, cursor)
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string().into(),
                        Text(r.state.to_string(), Some(state_style(r.state, look))),
                        when(r.started_at.as_deref().or(r.fire_at.as_deref())).into(),
                        r.rows_read.to_string().into(),
                        r.error
                            .clone()
                            .unwrap_or_else(|| r.trigger.to_string())
                            .into(),
                    ]
                })
                .collect(),
        ))
    };
    let block = titled("runs", focused, look);
    table_with(frame, area, block, loaded, cursor, look, focused);
}

/// One run: its counts, then a bar per step (fetch, first passes, scoring, writing).
fn live(frame: &mut Frame, area: Rect, state: &State, v: &JobView, run: &Run, look: &Look) {
    let sep = look.sym.sep;
    let title = format!("Jobs{sep}{}{sep}run {} (esc back)", v.job.name, run.id);
    let outer = block(title, state, look);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    // Drawing reads no clock: the rate is shown once the run has ended.
    let rate = match &run.finished_at {
        Some(end) => crate::domain::job::parse_time(end)
            .and_then(|end| run.throughput(end))
            .map_or(String::new(), |r| format!("{sep}{r:.0} rows/s")),
        None => String::new(),
    };
    let mut head = vec![
        Line::from(vec![
            Span::styled(run.state.to_string(), state_style(run.state, look)),
            Span::raw(format!(
                "{sep}{} by {}{sep}started {}{sep}ended {}",
                run.id,
                run.trigger,
                when(run.started_at.as_deref()),
                when(run.finished_at.as_deref()),
            )),
        ]),
        Line::raw(format!(
            "read {}{sep}scored {}{sep}rejected {}{sep}filtered {}{rate}",
            run.rows_read, run.rows_scored, run.rows_rejected, run.rows_filtered
        )),
    ];
    if let Some(out) = &run.output {
        head.push(Line::raw(format!("output {out}")));
    }
    if let Some(e) = &run.error {
        head.push(Line::styled(format!("ERR {e}"), look.theme.error));
    }
    let n = head.len() as u16 + 1;
    let [top, bars] = Layout::vertical([Constraint::Length(n), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), top);
    if run.steps.is_empty() {
        let note = if run.state.is_final() {
            "no stage ran"
        } else {
            "waiting for the worker"
        };
        frame.render_widget(Paragraph::new(Line::styled(note, look.theme.muted)), bars);
        return;
    }
    let rows = Layout::vertical(run.steps.iter().map(|_| Constraint::Length(2))).split(bars);
    for (step, rect) in run.steps.iter().zip(rows.iter()) {
        let [label, bar] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(*rect);
        let ratio = if step.done {
            1.0
        } else {
            step.fraction.unwrap_or(0.0).clamp(0.0, 1.0)
        };
        let style = if step.done {
            look.theme.ok
        } else if run.state == RunState::Running {
            look.theme.warn
        } else {
            look.theme.muted
        };
        frame.render_widget(
            Paragraph::new(Line::raw(format!("{}{sep}{} rows", step.name, step.rows))),
            label,
        );
        let percent = format!("{:.0}%", ratio * 100.0);
        if look.sym.ascii {
            // Block characters are not ASCII: the bar is drawn with # and -.
            let width = bar.width.saturating_sub(7) as usize;
            let filled = ((width as f64) * ratio).round() as usize;
            let text = format!(
                "[{}{}] {percent}",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            frame.render_widget(Paragraph::new(Line::styled(text, style)), bar);
        } else {
            frame.render_widget(
                Gauge::default()
                    .ratio(ratio)
                    .label(percent)
                    .gauge_style(style)
                    .use_unicode(true),
                bar,
            );
        }
    }
}
