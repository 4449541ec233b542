//! The Events view: the audit log (imports, deploys, deletions, key rotations, token changes,
//! threshold crossings) with who, when and what, newest at the bottom, following the change
//! stream; `/` filters, and from a service it shows only that service's events.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::panes::{Text, block, table};
use super::{Look, fit};
use crate::domain::Event;
use crate::tui::state::{Cursor, Loadable, State};
use crate::tui::text;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let Some(view) = &state.events else {
        return;
    };
    let mut title = match &view.service {
        Some(s) => format!("Events{}{s}", look.sym.sep),
        None => "Events".to_string(),
    };
    if !view.filter.is_empty() || view.filtering {
        title.push_str(&format!(" /{}", view.filter));
    }
    title.push_str(&format!(
        "{}{}",
        look.sym.sep,
        text::EVENTS_HINT.join(look.sym.sep)
    ));
    let b = block(title, state, look);
    let events = match &view.events {
        Loadable::Loading => {
            frame.render_widget(
                Paragraph::new(Line::styled("loading", look.theme.muted)).block(b),
                area,
            );
            return;
        }
        Loadable::Failed(e) => {
            frame.render_widget(
                Paragraph::new(Line::styled(format!("ERR {e}"), look.theme.error)).block(b),
                area,
            );
            return;
        }
        Loadable::Ready(_) => view.shown(),
    };
    if events.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(text::EVENTS_EMPTY, look.theme.muted)).block(b),
            area,
        );
        return;
    }
    // The cursor is `scroll` rows above the newest: within the last screenful the newest rows
    // stay in view; above it, the cursor's row is the top one.
    let fits = (area.height.saturating_sub(3) as usize).max(1);
    let at = events.len().saturating_sub(1 + view.scroll);
    let start = at.min(events.len().saturating_sub(fits));
    let end = (start + fits).min(events.len());
    let rows: Vec<Vec<Text>> = events[start..end].iter().map(|e| row(e, look)).collect();
    let cursor = Cursor {
        row: at - start,
        offset: 0,
    };
    table(
        frame,
        area,
        b,
        Ok((vec!["WHEN", "WHO", "WHAT", "SUBJECT", "DETAIL"], rows)),
        cursor,
        look,
    );
}

fn row(e: &Event, look: &Look) -> Vec<Text> {
    // `2026-12-01T10:04:00Z` as `12-01 10:04:00`: the year is rarely news.
    let when =
        e.at.get(5..19)
            .map_or_else(|| e.at.clone(), |t| t.replace('T', " "));
    let style = if e.kind == "threshold.crossed" {
        let critical = e.detail["to"].as_str() == Some("critical");
        Some(if critical {
            look.theme.error
        } else {
            look.theme.warn
        })
    } else if e.kind == "threshold.cleared" {
        Some(look.theme.ok)
    } else {
        None
    };
    vec![
        Text(when, Some(look.theme.muted)),
        e.actor.clone().into(),
        Text(e.kind.clone(), style),
        e.subject.clone().into(),
        fit::cut(&detail(e), 200, look.sym.ellipsis).into(),
    ]
}

/// The detail in a few words: threshold reasons as written, other details as `key=value`.
fn detail(e: &Event) -> String {
    if let Some(reasons) = e.detail["reasons"].as_array() {
        let words: Vec<&str> = reasons.iter().filter_map(|r| r.as_str()).collect();
        let (from, to) = (
            e.detail["from"].as_str().unwrap_or("?"),
            e.detail["to"].as_str().unwrap_or("?"),
        );
        return match words.is_empty() {
            true => format!("{from} -> {to}"),
            false => format!("{from} -> {to}: {}", words.join(", ")),
        };
    }
    match &e.detail {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
