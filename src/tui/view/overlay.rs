//! What draws over the pane: help, confirmation dialogs, forms, and the quit question.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::Look;
use super::fit;
use crate::tui::action::{ACTIONS, Action, Scope};
use crate::tui::state::{Confirm, Form, FormKind, Overlay, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    match &state.overlay {
        Overlay::Help => help(frame, area, state, look),
        Overlay::Messages => messages(frame, area, state, look),
        Overlay::Confirm(c) => confirm(frame, area, c, look),
        Overlay::Form(f) => form(frame, area, f, look),
        Overlay::Leave { stop } => leave(frame, area, *stop, look),
        Overlay::None | Overlay::Command(_) => {}
    }
}

/// A box of `w`x`h` in the middle of `area` (clipped to it), cleared.
fn popup<'a>(
    frame: &mut Frame,
    area: Rect,
    w: u16,
    h: u16,
    title: &str,
    look: &Look,
) -> (Rect, Block<'a>) {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_set(look.sym.border)
        .title(Span::styled(format!(" {title} "), look.theme.focus));
    (rect, block)
}

fn help(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let pane = crate::tui::update::scope_of(state);
    let t = look.theme;
    // Entries as (key, text); headings have no key. Two columns fit 80x24.
    let mut entries: Vec<(Option<String>, String)> = Vec::new();
    let scopes: &[Scope] = if pane == Scope::Global {
        &[Scope::Global]
    } else {
        &[pane, Scope::Global]
    };
    for &scope in scopes {
        entries.push((None, format!("{} keys", scope.name())));
        for d in ACTIONS.iter().filter(|d| d.scope == scope) {
            if d.writes && state.read_only() {
                continue;
            }
            let keys: Vec<String> = look
                .keymap
                .keys_of(d.action)
                .iter()
                .map(ToString::to_string)
                .collect();
            if keys.is_empty() {
                continue;
            }
            if let Action::Pane(p) = d.action {
                if p == crate::tui::state::Pane::Models {
                    entries.push((Some("1-5".into()), "jump to a pane".into()));
                }
                continue;
            }
            entries.push((Some(keys.join(" ")), d.help.to_string()));
        }
    }
    let half = entries.len().div_ceil(2);
    // A column of the pane shows either side, so the popup's border never meets the pane's.
    let width = area.width.saturating_sub(4).min(76);
    // Each column: a key part and a text part, cut with an ellipsis when the screen is narrow.
    let column = (width as usize).saturating_sub(3) / 2;
    let key_w = 12.min(column / 3);
    let text_w = column.saturating_sub(key_w + 1);
    let cell = |e: Option<&(Option<String>, String)>| -> Vec<Span<'static>> {
        match e {
            Some((Some(k), text)) => vec![
                Span::styled(
                    format!(" {:<key_w$}", fit::cut(k, key_w, look.sym.ellipsis)),
                    t.focus,
                ),
                Span::raw(format!(
                    "{:<text_w$}",
                    fit::cut(text, text_w, look.sym.ellipsis)
                )),
            ],
            Some((None, heading)) => vec![Span::styled(
                format!("{:<column$}", fit::cut(heading, column, look.sym.ellipsis)),
                t.accent,
            )],
            None => vec![],
        }
    };
    let mut lines: Vec<Line> = (0..half)
        .map(|i| {
            let mut spans = cell(entries.get(i));
            spans.push(Span::raw(" "));
            spans.extend(cell(entries.get(i + half)));
            Line::from(spans)
        })
        .collect();
    // Commands in one wrapped paragraph: each also has a key above, or says what it takes.
    let commands: Vec<String> = ACTIONS
        .iter()
        .filter(|d| !(d.commands.is_empty() || d.writes && state.read_only()))
        .map(|d| {
            format!(":{} {}", d.commands[0], d.arg)
                .trim_end()
                .to_string()
        })
        .collect();
    lines.push(Line::from(vec![
        Span::styled("commands ", t.accent),
        Span::raw(commands.join("  ")),
    ]));
    lines.push(Line::styled(crate::tui::text::ANY_KEY_CLOSES, t.muted));
    let (rect, block) = popup(frame, area, width, lines.len() as u16 + 4, "help", look);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

/// `:messages`: this session's messages, newest at the bottom, errors marked.
fn messages(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let t = look.theme;
    let width = (area.width.saturating_sub(2) as usize).max(20);
    let room = area.height.saturating_sub(3) as usize;
    // Each message hard-wrapped under its age; the newest fill the screen from the bottom up,
    // so the latest are never the ones left out.
    let mut lines: Vec<Line> = Vec::new();
    for m in state.messages.iter().rev() {
        let age = super::ago(m.at, look.now);
        let text = if m.error {
            format!("ERR {}", m.text)
        } else {
            m.text.clone()
        };
        let body = width.saturating_sub(10).max(10);
        let mut block: Vec<Line> = fit::wrap(&text, body)
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let lead = if i == 0 {
                    format!("{age:>8}  ")
                } else {
                    " ".repeat(10)
                };
                let line = format!("{lead}{part}");
                if m.error {
                    Line::styled(line, t.error)
                } else {
                    Line::from(line)
                }
            })
            .collect();
        if lines.len() + block.len() > room {
            break;
        }
        block.append(&mut lines);
        lines = block;
    }
    if lines.is_empty() {
        lines.push(Line::styled(crate::tui::text::NO_MESSAGES, t.muted));
    }
    lines.push(Line::styled(crate::tui::text::ANY_KEY_CLOSES, t.muted));
    let (rect, block) = popup(frame, area, area.width, area.height, "messages", look);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn buttons<'a>(labels: [&'a str; 2], second: bool, look: &Look) -> Line<'a> {
    let button = |label: &'a str, on: bool| {
        if on {
            Span::styled(
                format!("{}[ {label} ]", look.sym.selected),
                look.theme.selection,
            )
        } else {
            Span::styled(format!("  [ {label} ]"), Style::new())
        }
    };
    Line::from(vec![
        button(labels[0], !second),
        Span::raw("   "),
        button(labels[1], second),
    ])
}

fn confirm(frame: &mut Frame, area: Rect, c: &Confirm, look: &Look) {
    let t = look.theme;
    let mut lines = vec![Line::from(look.plain(&c.body)), Line::from("")];
    match &c.typed {
        Some((expected, typed)) => {
            lines.push(Line::styled(
                format!("environment is prod: type {expected} and press enter"),
                t.warn,
            ));
            lines.push(Line::styled(format!("> {typed}_"), t.focus));
            lines.push(Line::styled(crate::tui::text::ESC_CANCELS, t.muted));
        }
        None => {
            lines.push(buttons(["Cancel", "Confirm"], c.on_ok, look));
            let sep = look.sym.sep;
            lines.push(Line::styled(
                format!("tab moves{sep}enter chooses{sep}y confirms{sep}n/esc cancels"),
                t.muted,
            ));
        }
    }
    let (rect, block) = popup(frame, area, 66, lines.len() as u16 + 4, &c.title, look);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

fn form(frame: &mut Frame, area: Rect, f: &Form, look: &Look) {
    let t = look.theme;
    let title = match f.kind {
        FormKind::Import => crate::tui::text::IMPORT_TITLE,
        FormKind::Deploy => crate::tui::text::DEPLOY_TITLE,
        FormKind::Weight(_) => crate::tui::text::WEIGHT_TITLE,
        FormKind::Canary => crate::tui::text::CANARY_TITLE,
        FormKind::Job => crate::tui::text::JOB_TITLE,
        FormKind::Step { .. } => crate::tui::text::STEP_TITLE,
    };
    let mut lines = Vec::new();
    for (i, field) in f.fields.iter().enumerate() {
        let focused = i == f.focus && !f.busy;
        let marker = if focused { look.sym.selected } else { "  " };
        let mut spans = vec![Span::styled(
            format!("{marker}{:<15}", field.label),
            if focused { t.focus } else { t.muted },
        )];
        if focused {
            // The cursor is a reversed cell where the next character goes.
            let (before, under, after) = field.input.split();
            spans.push(Span::styled(before.to_string(), t.focus));
            spans.push(Span::styled(under, t.selection));
            spans.push(Span::styled(after.to_string(), t.focus));
        } else {
            spans.push(Span::styled(field.input.text().to_string(), Style::new()));
        }
        lines.push(Line::from(spans));
        if focused {
            lines.push(Line::styled(format!("{:17}{}", "", field.hint), t.muted));
        }
    }
    lines.push(Line::from(""));
    if f.busy {
        let doing = match f.kind {
            FormKind::Import => crate::tui::text::IMPORTING,
            FormKind::Deploy | FormKind::Weight(_) | FormKind::Canary => {
                crate::tui::text::DEPLOYING
            }
            FormKind::Job | FormKind::Step { .. } => crate::tui::text::SAVING_JOB,
        };
        lines.push(Line::styled(doing, t.warn));
    } else if let Some(e) = &f.error {
        lines.push(Line::styled(format!("ERR {e}"), t.error));
    }
    let sep = look.sym.sep;
    lines.push(Line::styled(
        format!("tab next field{sep}enter submits{sep}esc cancels{sep}ctrl+u clears a field"),
        t.muted,
    ));
    let (rect, block) = popup(frame, area, 72, lines.len() as u16 + 4, title, look);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

fn leave(frame: &mut Frame, area: Rect, stop: bool, look: &Look) {
    let lines = vec![
        Line::from(crate::tui::text::LEAVE_1),
        Line::from(crate::tui::text::LEAVE_2),
        Line::from(""),
        buttons(["Leave running", "Stop server"], stop, look),
        Line::styled(
            format!("tab moves{0}enter chooses{0}esc stays", look.sym.sep),
            look.theme.muted,
        ),
    ];
    let (rect, block) = popup(frame, area, 64, 9, "Quit", look);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
