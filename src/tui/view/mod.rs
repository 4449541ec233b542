//! Drawing a frame from the state: title bar, tabs, the pane, a status line and the key hints,
//! then any overlay. Pure: the same state, theme and clock draw the same screen, which is what
//! the snapshot tests rely on.

mod events;
mod fit;
mod jobs;
mod live;
mod monitor;
mod overlay;
mod panes;
mod services;
mod traffic;

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::keymap::Keymap;
use super::state::{Overlay, Pane, State};
use super::text;
use super::theme::{Symbols, Theme};
use super::update::hints;

/// The smallest screen everything is usable on.
pub const MIN: (u16, u16) = (80, 24);

/// What drawing needs besides the state.
pub struct Look<'a> {
    pub theme: &'a Theme,
    pub sym: &'a Symbols,
    pub keymap: &'a Keymap,
    pub now: Instant,
}

impl Look<'_> {
    /// Text built before the symbols were known (a dialog's body, a diff) in this look's
    /// symbols: without UTF-8, `→` `·` `±` become `->` `|` `+-`.
    pub fn plain(&self, text: &str) -> String {
        if !self.sym.ascii || text.is_ascii() {
            return text.to_string();
        }
        text.replace('→', "->")
            .replace(" · ", self.sym.sep)
            .replace('·', "|")
            .replace('±', "+-")
            .replace('≤', "<=")
    }
}

/// Draws a frame; returns how many table rows fit (for paging).
pub fn draw(frame: &mut Frame, state: &State, look: &Look) -> usize {
    let area = frame.area();
    if area.width < MIN.0 || area.height < MIN.1 {
        too_small(frame, area, look);
        return 1;
    }
    // While the server is unreachable, the reason gets a line of its own under the title.
    let reason_text = state.connection.problem.as_deref().map(text::stale_reason);
    // Up to three lines, so the whole reason (with the command to run) shows at 80 columns.
    let stale = reason_text.as_ref().map_or(0, |t| {
        fit::wrap(t, area.width as usize).len().clamp(1, 3) as u16
    });
    let [title, reason, tabs, body, status, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(stale),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(frame, title, state, look);
    if let Some(text) = reason_text {
        // Hard-wrapped at the screen's edge (a URL has no spaces to wrap at), the end cut
        // with an ellipsis if even two lines are not enough.
        let width = reason.width.max(1) as usize;
        let mut parts = fit::wrap(&text, width);
        if parts.len() > reason.height as usize {
            parts.truncate(reason.height as usize);
            if let Some(last) = parts.last_mut() {
                // Said to be cut: an ellipsis at the end, in place of a character if need be.
                let marked = format!("{last}{}", look.sym.ellipsis);
                *last = if marked.chars().count() <= width {
                    marked
                } else {
                    fit::cut(&format!("{last}  "), width, look.sym.ellipsis)
                };
            }
        }
        let lines: Vec<Line> = parts.into_iter().map(Line::from).collect();
        frame.render_widget(Paragraph::new(lines).style(look.theme.error), reason);
    }
    tab_bar(frame, tabs, state, look);
    let rows = panes::draw(frame, body, state, look);
    status_line(frame, status, state, look);
    hint_bar(frame, hint, state, look);
    overlay::draw(frame, body, state, look);
    rows
}

fn too_small(frame: &mut Frame, area: Rect, look: &Look) {
    let text = vec![
        Line::from(format!(
            "terminal too small, need {}x{} (now {}x{})",
            MIN.0, MIN.1, area.width, area.height
        )),
        Line::from(format!(
            "{} quits",
            look.keymap.label(super::action::Action::Quit)
        )),
    ];
    let y = area.height / 2;
    let rect = Rect::new(
        area.x,
        area.y + y.saturating_sub(1),
        area.width,
        2.min(area.height),
    );
    frame.render_widget(Paragraph::new(text).centered().style(look.theme.warn), rect);
}

/// "2s ago", "3m ago": how old what is on screen is.
pub fn ago(then: Instant, now: Instant) -> String {
    let s = now.saturating_duration_since(then).as_secs();
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

fn title_bar(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let (t, sym) = (look.theme, look.sym);
    let c = &state.connection;
    let mut left = vec![
        Span::styled("modeldeck", t.accent),
        Span::raw(sym.sep),
        Span::raw(c.label.clone()),
        Span::raw(sym.sep),
    ];
    match (&c.problem, c.healthy) {
        (Some(_), _) => {
            left.push(Span::styled(
                format!("{} {}", sym.dot_bad, text::STALE),
                t.error,
            ));
        }
        (None, true) => left.push(Span::styled(format!("{} connected", sym.dot_ok), t.ok)),
        (None, false) => left.push(Span::styled(format!("{} connecting", sym.dot_bad), t.warn)),
    }
    if !state.environment.is_empty() {
        left.push(Span::raw(sym.sep));
        let style = if state.environment == "prod" {
            t.error
        } else {
            t.muted
        };
        left.push(Span::styled(format!("env {}", state.environment), style));
    }
    if state.read_only() {
        left.push(Span::raw(sym.sep));
        left.push(Span::styled("READ-ONLY", t.warn));
    }
    // The figures arrive every second and the catalogue on change: what is on screen is as
    // fresh as the newer of the two.
    let updated = match (c.updated, state.metrics.received) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let right = match (updated, c.stale()) {
        (Some(at), true) => format!("last loaded {}", ago(at, look.now)),
        (Some(at), false) => format!("updated {}", ago(at, look.now)),
        (None, _) => "loading".to_string(),
    };
    let [l, r] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.len() as u16 + 1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    let style = if c.stale() { t.error } else { t.muted };
    frame.render_widget(Paragraph::new(right).right_aligned().style(style), r);
}

fn tab_bar(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let mut spans = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, pane.title());
        if *pane == state.pane {
            spans.push(Span::styled(label, look.theme.selection));
        } else {
            spans.push(Span::styled(label, Style::new()));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status_line(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let t = look.theme;
    let width = area.width as usize;
    let line = if let Overlay::Command(input) = &state.overlay {
        let found = super::update::completions(state, input.text());
        let (before, under, after) = input.split();
        let mut spans = vec![
            Span::styled(format!(":{before}"), t.focus),
            Span::styled(under, t.selection),
            Span::styled(after.to_string(), t.focus),
        ];
        if !found.is_empty() && !input.text().is_empty() {
            let room = width.saturating_sub(input.text().len() + 5);
            spans.push(Span::styled(
                format!(
                    "   {}",
                    fit::cut(&found.join("  "), room, look.sym.ellipsis)
                ),
                t.muted,
            ));
        }
        Line::from(spans)
    } else if state.filtering {
        Line::from(vec![
            Span::styled(format!("/{}_", state.filter), t.focus),
            Span::styled(
                format!("   {} match(es); enter keeps, esc clears", state.rows()),
                t.muted,
            ),
        ])
    } else if let Some(toast) = state.status_message(look.now) {
        let (prefix, style) = if toast.error {
            ("ERR ", t.error)
        } else {
            ("", t.ok)
        };
        let more = " (:messages)";
        let full = format!("{prefix}{}", toast.text);
        let text = if full.chars().count() > width {
            let cut = fit::cut(&full, width.saturating_sub(more.len()), look.sym.ellipsis);
            format!("{cut}{more}")
        } else {
            full
        };
        Line::from(Span::styled(text, style))
    } else {
        Line::from("")
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The pane's keys, then the global ones; when they do not all fit, as many as do and the
/// help key last, so `?` is always on screen.
fn hint_bar(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let entries = hints(state, look.keymap);
    let size = |(key, help): &(String, &str)| key.len() + help.len() + 3;
    let room = area.width as usize;
    let all_fit = entries.iter().map(size).sum::<usize>() <= room;
    let help_key = look.keymap.label(super::action::Action::Help);
    let more = (help_key.clone(), "all keys");
    let budget = if all_fit {
        room
    } else {
        room.saturating_sub(size(&more))
    };
    let mut spans = Vec::new();
    let mut width = 0usize;
    for entry in &entries {
        if !all_fit && entry.0 == help_key {
            continue;
        }
        if width + size(entry) > budget {
            break;
        }
        width += size(entry);
        spans.push(Span::styled(entry.0.clone(), look.theme.accent));
        spans.push(Span::styled(format!(" {}  ", entry.1), look.theme.muted));
    }
    if !all_fit {
        spans.push(Span::styled(more.0, look.theme.accent));
        spans.push(Span::styled(format!(" {}", more.1), look.theme.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
