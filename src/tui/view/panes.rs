//! The panes' bodies: Models (and a model's versions), Services (and a service's detail), and
//! the panes whose issues have not landed yet, which say so.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};

use super::Look;
use crate::domain::human_size;
use crate::tui::state::{Loadable, State};
use crate::tui::update::curl_line;

/// Draws the current pane; returns how many table rows fit.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) -> usize {
    let rows = area.height.saturating_sub(3) as usize;
    match state.tab {
        0 if state.versions.is_some() => versions(frame, area, state, look),
        0 => models(frame, area, state, look),
        1 if state.detail.is_some() => detail(frame, area, state, look),
        1 => services(frame, area, state, look),
        2 => placeholder(
            frame,
            area,
            look,
            "Traffic",
            "Traffic splits between versions (sliders, staged changes, canary steps, roll back) arrive with their own issue.",
        ),
        3 => placeholder(
            frame,
            area,
            look,
            "Monitor",
            "Live requests, latency, errors and CPU/memory sparklines arrive with the monitoring issue.",
        ),
        _ => placeholder(
            frame,
            area,
            look,
            "Jobs",
            "Scheduled batch prediction jobs and their runs arrive with the batch issue.",
        ),
    }
    rows
}

fn block<'a>(title: String, state: &State, look: &Look) -> Block<'a> {
    let mut title = title;
    if !state.filter.is_empty() {
        title.push_str(&format!(" /{} ({} match)", state.filter, state.rows()));
    }
    Block::bordered()
        .border_set(look.sym.border)
        .title(Span::styled(format!(" {title} "), look.theme.focus))
}

/// A table, or what stands in for it while loading, after a failure, or when empty.
fn table_or<'a>(
    frame: &mut Frame,
    area: Rect,
    block: Block<'a>,
    loaded: Result<(Row<'a>, Vec<Row<'a>>, Vec<Constraint>), Line<'a>>,
    (selected, offset): (usize, usize),
    look: &Look,
) {
    match loaded {
        Ok((header, rows, widths)) => {
            let selected = selected - window(area, selected, offset).0;
            let table = Table::new(rows, widths)
                .header(header.style(look.theme.muted))
                .block(block)
                .row_highlight_style(look.theme.selection)
                .highlight_symbol(look.sym.selected)
                .highlight_spacing(HighlightSpacing::Always);
            let mut ts = TableState::default().with_selected(Some(selected));
            frame.render_stateful_widget(table, area, &mut ts);
        }
        Err(line) => frame.render_widget(Paragraph::new(line).block(block), area),
    }
}

/// The rows `[start, end)` of a table that fit in `area` with `selected` visible: only those
/// are built and drawn, so a thousand services cost what a screenful does.
/// Starts at the state's offset, corrected if the screen is smaller than it was.
fn window(area: Rect, selected: usize, offset: usize) -> (usize, usize) {
    let visible = (area.height.saturating_sub(3) as usize).max(1);
    let start = if selected < offset {
        selected
    } else if selected >= offset + visible {
        selected + 1 - visible
    } else {
        offset
    };
    (start, start + visible)
}

fn visible<T>(all: &[T], area: Rect, selected: usize, offset: usize) -> &[T] {
    let (start, end) = window(area, selected, offset);
    &all[start.min(all.len())..end.min(all.len())]
}

fn loading_or_failed<'a, T>(l: &Loadable<T>, look: &Look) -> Option<Line<'a>> {
    match l {
        Loadable::Loading => Some(Line::styled("loading", look.theme.muted)),
        Loadable::Failed(e) => Some(Line::styled(format!("ERR {e}"), look.theme.error)),
        Loadable::Ready(_) => None,
    }
}

fn models(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let shown = state.shown_models();
    let shown = visible(&shown, area, state.selected[0], state.offset[0]);
    let loaded = match loading_or_failed(&state.models, look) {
        Some(l) => Err(l),
        None if state.models.ready().is_some_and(Vec::is_empty) => Err(Line::from(vec![
            Span::raw("No models yet. "),
            Span::styled(
                look.keymap.label(crate::tui::action::Action::Demo),
                look.theme.accent,
            ),
            Span::raw(" loads the sample models and deploys one; "),
            Span::styled(
                look.keymap.label(crate::tui::action::Action::Import),
                look.theme.accent,
            ),
            Span::raw(" imports your own."),
        ])),
        None => Ok((
            Row::new(["NAME", "TYPE", "LATEST", "VERSIONS", "USED BY", "SIZE"]),
            shown
                .iter()
                .map(|m| {
                    Row::new([
                        m.name.clone(),
                        m.kind.to_string(),
                        m.latest_version.to_string(),
                        m.versions.to_string(),
                        if m.used_by.is_empty() {
                            "-".into()
                        } else {
                            m.used_by.join(",")
                        },
                        human_size(m.size),
                    ])
                })
                .collect(),
            vec![
                Constraint::Fill(2),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Fill(2),
                Constraint::Length(10),
            ],
        )),
    };
    let title = match state.models.ready() {
        Some(m) => format!("Models ({})", m.len()),
        None => "Models".into(),
    };
    table_or(
        frame,
        area,
        block(title, state, look),
        loaded,
        (state.selected[0], state.offset[0]),
        look,
    );
}

fn versions(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let Some((name, list)) = &state.versions else {
        return;
    };
    let loaded = match loading_or_failed(list, look) {
        Some(l) => Err(l),
        None => Ok((
            Row::new(["VERSION", "TYPE", "SIZE", "CREATED", "SERVING", "SOURCE"]),
            visible(
                &state.shown_versions(),
                area,
                state.selected[1],
                state.offset[1],
            )
            .iter()
            .map(|v| {
                let serving: Vec<String> = v
                    .used_by
                    .iter()
                    .map(|u| format!("{} {}%", u.service, u.weight))
                    .collect();
                Row::new(vec![
                    Cell::from(v.version.to_string()),
                    Cell::from(v.kind.to_string()),
                    Cell::from(human_size(v.size)),
                    Cell::from(
                        v.created_at
                            .replace('T', " ")
                            .trim_end_matches('Z')
                            .to_string(),
                    ),
                    Cell::from(if serving.is_empty() {
                        "-".into()
                    } else {
                        serving.join(",")
                    })
                    .style(if serving.is_empty() {
                        look.theme.muted
                    } else {
                        look.theme.ok
                    }),
                    Cell::from(v.source.clone()),
                ])
            })
            .collect(),
            vec![
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(20),
                Constraint::Fill(1),
                Constraint::Fill(2),
            ],
        )),
    };
    table_or(
        frame,
        area,
        block(
            format!("Models{0}{name}{0}versions (esc back)", look.sym.sep),
            state,
            look,
        ),
        loaded,
        (state.selected[1], state.offset[1]),
        look,
    );
}

fn services(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let loaded = match loading_or_failed(&state.services, look) {
        Some(l) => Err(l),
        None if state.services.ready().is_some_and(Vec::is_empty) => Err(Line::from(vec![
            Span::raw("No services yet. "),
            Span::styled(
                look.keymap.label(crate::tui::action::Action::Deploy),
                look.theme.accent,
            ),
            Span::raw(" deploys a model version."),
        ])),
        None => Ok((
            Row::new(["NAME", "HOST", "MODEL:VERSION", "STATE", "REQ/S"]),
            visible(
                &state.shown_services(),
                area,
                state.selected[2],
                state.offset[2],
            )
            .iter()
            .map(|s| {
                let model: Vec<String> = s
                    .deployments
                    .iter()
                    .map(|d| format!("{}:{} {}%", d.model, d.version, d.weight))
                    .collect();
                Row::new(vec![
                    Cell::from(s.name.to_string()),
                    Cell::from(s.host.clone()),
                    Cell::from(model.join(", ")),
                    Cell::from(format!("{} live", look.sym.dot_ok)).style(look.theme.ok),
                    Cell::from("-").style(look.theme.muted),
                ])
            })
            .collect(),
            vec![
                Constraint::Fill(1),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(7),
                Constraint::Length(6),
            ],
        )),
    };
    let title = match state.services.ready() {
        Some(s) => format!("Services ({})", s.len()),
        None => "Services".into(),
    };
    table_or(
        frame,
        area,
        block(title, state, look),
        loaded,
        (state.selected[2], state.offset[2]),
        look,
    );
}

fn detail(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let Some((name, revealed)) = &state.detail else {
        return;
    };
    let Some(s) = state
        .services
        .ready()
        .and_then(|l| l.iter().find(|s| s.name.as_str() == name))
    else {
        let b = block(format!("Services{}{name}", look.sym.sep), state, look);
        frame.render_widget(
            Paragraph::new(Line::styled(
                "this service is gone (deleted)",
                look.theme.warn,
            ))
            .block(b),
            area,
        );
        return;
    };
    let key = revealed.clone().unwrap_or_else(|| s.masked_key());
    let t = look.theme;
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<10}"), t.muted),
            Span::raw(v),
        ])
    };
    let r = s.resources;
    let model: Vec<String> = s
        .deployments
        .iter()
        .map(|d| format!("{}:{} ({}%)", d.model, d.version, d.weight))
        .collect();
    let v = look.keymap.label(crate::tui::action::Action::RevealKey);
    let y = look.keymap.label(crate::tui::action::Action::Copy);
    let lines = vec![
        field("gateway", state.gateway.clone()),
        field("host", s.host.clone()),
        Line::from(vec![
            Span::styled(format!("{:<10}", "key"), t.muted),
            Span::raw(key.clone()),
            Span::styled(
                format!(
                    "   ({v} {})",
                    if revealed.is_some() {
                        "hides"
                    } else {
                        "reveals"
                    }
                ),
                t.muted,
            ),
        ]),
        field("model", model.join(", ")),
        field("runtime", s.runtime.clone()),
        field(
            "limits",
            format!(
                "{} threads, {} in flight, {} ms, {} rows/request",
                r.threads, r.concurrency, r.timeout_ms, r.max_batch_rows
            ),
        ),
        field("created", s.created_at.clone()),
        Line::from(""),
        Line::styled(format!("{y} copies this request:"), t.muted),
        Line::from(curl_line(&state.gateway, s, &key)),
    ];
    let b = block(
        format!("Services{}{name} (esc back)", look.sym.sep),
        state,
        look,
    );
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(b),
        area,
    );
}

fn placeholder(frame: &mut Frame, area: Rect, look: &Look, name: &str, text: &str) {
    let b = Block::bordered()
        .border_set(look.sym.border)
        .title(Span::styled(format!(" {name} "), look.theme.focus));
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled("Not here yet.", look.theme.warn),
            Line::from(text.to_string()),
        ])
        .wrap(Wrap { trim: true })
        .block(b),
        area,
    );
}
