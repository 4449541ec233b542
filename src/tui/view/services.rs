//! The Services pane: the table (with each service's state as the gateway holds it, or
//! unknown while the console is STALE) and one service's detail — where to call it, its key,
//! what its model takes and gives, and the request `y` copies.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::panes::{Text, block, loading_or_failed, table, visible};
use super::{Look, live};
use crate::control::contract::ServiceView;
use crate::domain::curl_line;
use crate::tui::action::Action;
use crate::tui::state::{List, Loadable, State};

/// The key with all but its last four characters hidden, in the console's own symbols.
pub fn masked(key: &str, look: &Look) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}{tail}", look.sym.mask.repeat(8))
}

/// The state cell: the gateway's word for the service, unless what is on screen is stale.
fn state_cell(s: &ServiceView, state: &State, look: &Look) -> Text {
    let sym = look.sym;
    if state.connection.stale() {
        return Text(
            format!("{} unknown", sym.dot_unknown),
            Some(look.theme.muted),
        );
    }
    match s.serving.state.as_str() {
        "ready" => Text(format!("{} ready", sym.dot_ok), Some(look.theme.ok)),
        "loading" => Text(format!("{} loading", sym.dot_bad), Some(look.theme.warn)),
        other => Text(format!("{} {other}", sym.dot_bad), Some(look.theme.error)),
    }
}

pub fn list(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let cursor = state.cursor(List::Services);
    let loaded = match loading_or_failed(&state.services, look) {
        Some(l) => Err(l),
        None if state.services.ready().is_some_and(Vec::is_empty) => Err(Line::from(vec![
            Span::raw(crate::tui::text::NO_SERVICES),
            Span::styled(look.keymap.label(Action::Deploy), look.theme.accent),
            Span::raw(" deploys a model version."),
        ])),
        None => {
            let mut rows: Vec<Vec<Text>> = visible(&state.shown_services(), area, cursor)
                .iter()
                .map(|s| {
                    let model: Vec<String> = s
                        .service
                        .deployments
                        .iter()
                        .map(|d| format!("{}:{} {}%", d.model, d.version, d.weight))
                        .collect();
                    let mut row = vec![
                        s.service.name.to_string().into(),
                        model.join(", ").into(),
                        state_cell(s, state, look),
                    ];
                    row.extend(live::figures(
                        state,
                        &state.metrics,
                        s.service.name.as_str(),
                        look,
                    ));
                    row
                })
                .collect();
            let mut header = vec!["NAME", "MODEL:VERSION", "STATE"];
            header.extend(live::HEADER);
            // The host, when it leaves the activity column a useful width (it is in the detail).
            let all = state.shown_services();
            let shown = visible(&all, area, cursor);
            let host_w = shown
                .iter()
                .map(|s| s.service.host.len())
                .max()
                .unwrap_or(0);
            if live::spare(&header, &rows, area, look) >= host_w.max(4) + 1 + live::WIDE_SPARK {
                header.insert(1, "HOST");
                for (row, s) in rows.iter_mut().zip(shown) {
                    row.insert(1, s.service.host.clone().into());
                }
            }
            // The rest of the row is the last two minutes of requests.
            let width = live::spare(&header, &rows, area, look).min(live::MAX_SPARK);
            if width >= live::MIN_SPARK {
                header.push(live::ACTIVITY);
                for (row, s) in rows.iter_mut().zip(shown) {
                    row.push(live::spark_cell(
                        state,
                        s.service.name.as_str(),
                        width,
                        look,
                    ));
                }
            }
            Ok((header, rows))
        }
    };
    let title = match state.services.ready() {
        Some(s) => format!("Services ({})", s.len()),
        None => "Services".into(),
    };
    table(frame, area, block(title, state, look), loaded, cursor, look);
}

pub fn detail(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let Some(d) = &state.detail else {
        return;
    };
    let Some(v) = state.service(&d.name) else {
        let b = block(format!("Services{}{}", look.sym.sep, d.name), state, look);
        let gone = crate::tui::text::service_gone(&d.name);
        frame.render_widget(
            Paragraph::new(Line::styled(gone, look.theme.warn)).block(b),
            area,
        );
        return;
    };
    let s = &v.service;
    let key = d.key.clone().unwrap_or_else(|| masked(&v.key, look));
    let t = look.theme;
    let field = |k: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{k:<10}"), t.muted),
            Span::raw(value),
        ])
    };
    let r = s.resources;
    let model: Vec<String> = s
        .deployments
        .iter()
        .map(|d| format!("{}:{} ({}%)", d.model, d.version, d.weight))
        .collect();
    let reveal = look.keymap.label(Action::RevealKey);
    let copy = look.keymap.label(Action::Copy);
    let mut lines = vec![
        field("gateway", state.gateway.clone()),
        field("host", s.host.clone()),
        Line::from(vec![
            Span::styled(format!("{:<10}", "key"), t.muted),
            Span::raw(key.clone()),
            Span::styled(
                format!(
                    "   ({reveal} {})",
                    if d.key.is_some() { "hides" } else { "reveals" }
                ),
                t.muted,
            ),
        ]),
        field("model", model.join(", ")),
        field("runtime", s.runtime.clone()),
        field(
            "limits",
            format!(
                "{} thread{}, {} in flight, {} ms, {} records per request",
                r.threads,
                if r.threads == 1 { "" } else { "s" },
                r.concurrency,
                r.timeout_ms,
                r.max_batch_rows
            ),
        ),
    ];
    for u in &v.serving.upstreams {
        let style = match u.health.as_str() {
            "up" => t.ok,
            "down" => t.error,
            _ => t.warn,
        };
        let mut health = u.health.clone();
        if let Some(why) = &u.reason {
            health.push_str(&format!(": {why}"));
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{:<10}", format!("v{}", u.version)), t.muted),
            Span::raw(format!("{} ", u.target)),
            Span::styled(health, style),
        ]));
    }
    let example = match &d.signature {
        Loadable::Ready(None) if v.upstream_only() => {
            lines.push(field("inputs", "(the upstream server's own)".into()));
            None
        }
        Loadable::Ready(Some(sig)) => {
            let inputs: Vec<String> = sig
                .inputs
                .iter()
                .map(|i| format!("{} ({})", i.name, i.dtype))
                .collect();
            let outputs: Vec<String> = sig.outputs.iter().map(|o| o.name.clone()).collect();
            lines.push(field("inputs", inputs.join(", ")));
            lines.push(field("outputs", outputs.join(", ")));
            Some(sig.example_body())
        }
        Loadable::Ready(None) => {
            lines.push(field("inputs", "(the model is not loaded yet)".into()));
            Some(String::from("{\"instances\":[{}]}"))
        }
        Loadable::Loading => {
            lines.push(field("inputs", "loading".into()));
            Some(String::from("{\"instances\":[{}]}"))
        }
        Loadable::Failed(e) => {
            lines.push(Line::styled(format!("ERR {e}"), t.error));
            Some(String::from("{\"instances\":[{}]}"))
        }
    };
    lines.push(Line::from(""));
    match example {
        Some(example) => {
            lines.push(Line::styled(
                format!("{copy} copies this request, with the key, ready to paste:"),
                t.muted,
            ));
            lines.push(Line::from(curl_line(
                &state.gateway,
                s.name.as_str(),
                &s.host,
                &key,
                &example,
            )));
        }
        None => lines.push(Line::styled(crate::tui::text::UPSTREAM_REQUESTS, t.muted)),
    }
    let b = block(
        format!("Services{}{} (esc back)", look.sym.sep, d.name),
        state,
        look,
    );
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(b),
        area,
    );
}
