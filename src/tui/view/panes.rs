//! The panes' bodies: Models (and a model's versions) here, the others in their own modules. Tables build only the rows
//! that fit, size their columns by content and cut what does not fit with an ellipsis.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};

use super::{Look, fit, services};
use crate::domain::human_size;
use crate::tui::action::Action;
use crate::tui::state::{Cursor, List, Loadable, Pane, State};

/// Draws the current pane; returns how many table rows fit.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) -> usize {
    let rows = area.height.saturating_sub(3) as usize;
    if state.events.is_some() {
        super::events::draw(frame, area, state, look);
        return rows;
    }
    match state.pane {
        Pane::Models if state.versions.is_some() => versions(frame, area, state, look),
        Pane::Models => models(frame, area, state, look),
        Pane::Services if state.detail.is_some() => services::detail(frame, area, state, look),
        Pane::Services => services::list(frame, area, state, look),
        Pane::Traffic => super::traffic::draw(frame, area, state, look),
        Pane::Monitor => super::monitor::draw(frame, area, state, look),
        Pane::Jobs => super::jobs::draw(frame, area, state, look),
    }
    rows
}

pub fn block<'a>(title: String, state: &State, look: &Look) -> Block<'a> {
    let mut title = title;
    if !state.filter.is_empty() {
        title.push_str(&format!(" /{} ({} match)", state.filter, state.rows()));
    }
    Block::bordered()
        .border_set(look.sym.border)
        .title(Span::styled(format!(" {title} "), look.theme.focus))
}

/// One table cell: its text, and a style when it carries meaning.
pub struct Text(pub String, pub Option<Style>);

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s, None)
    }
}

/// A table, or what stands in for it while loading, after a failure, or when empty. `rows`
/// are only the visible ones ([`visible`]); column widths come from their content.
pub fn table(
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    loaded: Result<(Vec<&str>, Vec<Vec<Text>>), Line<'_>>,
    cursor: Cursor,
    look: &Look,
) {
    table_with(frame, area, block, loaded, cursor, look, true);
}

/// [`table`], with the selected row marked only when `focused` (a table beside the one the
/// keys move in).
pub fn table_with(
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    loaded: Result<(Vec<&str>, Vec<Vec<Text>>), Line<'_>>,
    cursor: Cursor,
    look: &Look,
    focused: bool,
) {
    let (header, rows) = match loaded {
        Ok(t) => t,
        Err(line) => {
            frame.render_widget(
                Paragraph::new(line).wrap(Wrap { trim: false }).block(block),
                area,
            );
            return;
        }
    };
    let mut texts: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    texts.extend(rows.iter().map(|r| r.iter().map(|c| c.0.clone()).collect()));
    let inner = (area.width as usize).saturating_sub(2 + look.sym.selected.chars().count());
    let widths = fit::columns(&texts, inner, 1, 6);
    let cut = |text: &str, i: usize| fit::cut(text, widths[i], look.sym.ellipsis);
    let header = Row::new(
        header
            .iter()
            .enumerate()
            .map(|(i, h)| Cell::from(cut(h, i))),
    );
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            Row::new(r.iter().enumerate().map(|(i, c)| {
                let cell = Cell::from(cut(&c.0, i));
                match c.1 {
                    Some(style) => cell.style(style),
                    None => cell,
                }
            }))
        })
        .collect();
    let selected = cursor.row - window(area, cursor).0;
    let table = Table::new(body, widths.iter().map(|w| Constraint::Length(*w as u16)))
        .header(header.style(look.theme.muted))
        .block(block)
        .row_highlight_style(look.theme.selection)
        .highlight_symbol(look.sym.selected)
        .highlight_spacing(HighlightSpacing::Always);
    let mut ts = TableState::default().with_selected(focused.then_some(selected));
    frame.render_stateful_widget(table, area, &mut ts);
}

/// The rows `[start, end)` of a table that fit in `area` with the cursor's row visible: only
/// those are built and drawn, so a thousand services cost what a screenful does. Starts at
/// the cursor's offset, corrected if the screen is smaller than it was.
fn window(area: Rect, c: Cursor) -> (usize, usize) {
    let visible = (area.height.saturating_sub(3) as usize).max(1);
    let start = if c.row < c.offset {
        c.row
    } else if c.row >= c.offset + visible {
        c.row + 1 - visible
    } else {
        c.offset
    };
    (start, start + visible)
}

pub fn visible<T>(all: &[T], area: Rect, cursor: Cursor) -> &[T] {
    let (start, end) = window(area, cursor);
    &all[start.min(all.len())..end.min(all.len())]
}

pub fn loading_or_failed<'a, T>(l: &Loadable<T>, look: &Look) -> Option<Line<'a>> {
    match l {
        Loadable::Loading => Some(Line::styled("loading", look.theme.muted)),
        Loadable::Failed(e) => Some(Line::styled(format!("ERR {e}"), look.theme.error)),
        Loadable::Ready(_) => None,
    }
}

fn models(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let cursor = state.cursor(List::Models);
    let loaded = match loading_or_failed(&state.models, look) {
        Some(l) => Err(l),
        None if state.models.ready().is_some_and(Vec::is_empty) => Err(Line::from(vec![
            Span::raw(crate::tui::text::NO_MODELS),
            Span::styled(look.keymap.label(Action::Demo), look.theme.accent),
            Span::raw(" loads the sample models and deploys one; "),
            Span::styled(look.keymap.label(Action::Import), look.theme.accent),
            Span::raw(" imports your own."),
        ])),
        None => Ok((
            vec!["NAME", "TYPE", "LATEST", "VERSIONS", "USED BY", "SIZE"],
            visible(&state.shown_models(), area, cursor)
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone().into(),
                        m.kind.to_string().into(),
                        m.latest_version.to_string().into(),
                        m.versions.to_string().into(),
                        if m.used_by.is_empty() {
                            "-".to_string()
                        } else {
                            m.used_by.join(",")
                        }
                        .into(),
                        human_size(m.size).into(),
                    ]
                })
                .collect(),
        )),
    };
    let title = match state.models.ready() {
        Some(m) => format!("Models ({})", m.len()),
        None => "Models".into(),
    };
    table(frame, area, block(title, state, look), loaded, cursor, look);
}

fn versions(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let Some((name, list)) = &state.versions else {
        return;
    };
    let cursor = state.cursor(List::Versions);
    let loaded = match loading_or_failed(list, look) {
        Some(l) => Err(l),
        None => Ok((
            vec!["VERSION", "TYPE", "SIZE", "CREATED", "SERVING", "SOURCE"],
            visible(&state.shown_versions(), area, cursor)
                .iter()
                .map(|v| {
                    let serving: Vec<String> = v
                        .used_by
                        .iter()
                        .map(|u| format!("{} {}%", u.service, u.weight))
                        .collect();
                    let style = if serving.is_empty() {
                        look.theme.muted
                    } else {
                        look.theme.ok
                    };
                    vec![
                        v.version.to_string().into(),
                        v.kind.to_string().into(),
                        human_size(v.size).into(),
                        v.created_at
                            .replace('T', " ")
                            .trim_end_matches('Z')
                            .to_string()
                            .into(),
                        Text(
                            if serving.is_empty() {
                                "-".into()
                            } else {
                                serving.join(",")
                            },
                            Some(style),
                        ),
                        match &v.served_by {
                            Some(by) => format!("served by {}{}{}", by.url, look.sym.sep, v.source),
                            None => v.source.clone(),
                        }
                        .into(),
                    ]
                })
                .collect(),
        )),
    };
    let title = format!("Models{0}{name}{0}versions (esc back)", look.sym.sep);
    table(frame, area, block(title, state, look), loaded, cursor, look);
}
