//! The Monitor pane: a grid of services with sparklines of req/s, p99 and error %; Enter opens
//! one service with its versions side by side, a chart of the chosen metric over the chosen
//! window (one line per version), and what each version answered. `f` draws from a frozen
//! copy; stale figures say so in the title.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, LegendPosition, Paragraph, Row, Table,
};

use super::live::{self, number};
use super::panes::{Text, block, table, visible};
use super::{Look, ago, fit};
use crate::control::contract::{ServiceHistory, VersionHistory};
use crate::domain::metrics::percent;
use crate::domain::spark::spark;
use crate::domain::{Level, Metric, human_size};
use crate::tui::metrics::{Metrics, window_label};
use crate::tui::state::{List, State};
use crate::tui::text;

/// The figures to draw: the frozen copy while frozen.
fn shown(state: &State) -> &Metrics {
    state.monitor.frozen.as_deref().unwrap_or(&state.metrics)
}

/// " · 15m · updated 2s ago", or STALE / FROZEN; the grid, which is live, names no window.
fn freshness(state: &State, look: &Look) -> String {
    let sep = look.sym.sep;
    let window = match state.monitor.open {
        Some(_) => format!("{sep}{}", window_label(state.monitor.window_secs())),
        None => String::new(),
    };
    let when = if state.monitor.frozen.is_some() {
        text::FROZEN.to_string()
    } else if live::stale(state, look) {
        text::STALE.to_string()
    } else {
        match state.metrics.received {
            Some(at) => format!("updated {}", ago(at, look.now)),
            None => "waiting for figures".into(),
        }
    };
    format!("{window}{sep}{when}")
}

pub fn draw(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    match &state.monitor.open {
        Some(name) => detail(frame, area, state, name, look),
        None => grid(frame, area, state, look),
    }
}

fn grid(frame: &mut Frame, area: Rect, state: &State, look: &Look) {
    let m = shown(state);
    let cursor = state.cursor(List::Monitor);
    let title = format!(
        "Monitor{}{}server cpu {:.0}% mem {}",
        freshness(state, look),
        look.sym.sep,
        m.cpu_pct,
        human_size(m.rss_bytes)
    );
    let services = state.shown_services();
    if services.is_empty() {
        let b = block(title, state, look);
        frame.render_widget(Paragraph::new(text::MONITOR_EMPTY).block(b), area);
        return;
    }
    let names: Vec<String> = visible(&services, area, cursor)
        .iter()
        .map(|s| s.service.name.to_string())
        .collect();
    // A name is marked `!!` at a level without colour: room for the mark.
    let mark = if look.theme.is_mono() { 2 } else { 0 };
    let header = vec!["NAME", "REQ/S", "", "P99 MS", "", "ERR %", ""];
    // Three sparklines share what the name and the figures leave.
    let name_w = names
        .iter()
        .map(|n| n.len() + mark)
        .max()
        .unwrap_or(4)
        .max(4);
    let inner = (area.width as usize).saturating_sub(2 + look.sym.selected.chars().count());
    let spark_w = inner.saturating_sub(name_w + 3 * 7 + 7) / 3;
    let rows = names
        .iter()
        .map(|name| {
            let figures = live::figures(state, m, name, look);
            let level = m.services.get(name).map_or(Level::Ok, |l| l.level);
            let mut row: Vec<Text> = vec![live::at_level(name.clone(), level, look)];
            let [req, p99, err, _] = <[Text; 4]>::try_from(figures)
                .unwrap_or_else(|_| ["-", "-", "-", "-"].map(|d| Text(d.into(), None)));
            for (figure, metric) in [
                (req, Metric::Requests),
                (p99, Metric::P99),
                (err, Metric::ErrorPct),
            ] {
                row.push(Text(format!("{:>6}", figure.0), figure.1));
                row.push(live::spark_of(state, m, name, metric, spark_w, look));
            }
            row
        })
        .collect();
    table(
        frame,
        area,
        block(title, state, look),
        Ok((header, rows)),
        cursor,
        look,
    );
}

fn detail(frame: &mut Frame, area: Rect, state: &State, name: &str, look: &Look) {
    let m = shown(state);
    let metric = state.monitor.metric();
    let b = block(
        format!(
            "Monitor{}{name}{}{}{} (esc back)",
            look.sym.sep,
            freshness(state, look),
            look.sym.sep,
            metric.title(),
        ),
        state,
        look,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let Some(h) = m.history.as_ref().filter(|h| h.service == name) else {
        let why = match live::stale(state, look) {
            true => text::HISTORY_STALE,
            false => text::HISTORY_LOADING,
        };
        frame.render_widget(Paragraph::new(Line::styled(why, look.theme.muted)), inner);
        return;
    };
    if state.monitor.zoom {
        chart(frame, inner, h, metric, look);
        return;
    }
    let live = m.services.get(name);
    let versions = h.versions.len() as u16;
    let [level, table_area, chart_area, outputs] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(versions + 2),
        Constraint::Fill(1),
        Constraint::Length(versions.min(4)),
    ])
    .areas(inner);
    let frozen = state.monitor.frozen.is_some();
    let (word, style) = match live {
        // A level is a live judgement: an old one is not shown as if current.
        Some(_) if !frozen && live::stale(state, look) => {
            ("level unknown (STALE)".into(), look.theme.muted)
        }
        Some(l) if l.reasons.is_empty() => (
            l.level.name().to_string(),
            live::level_style(l.level, look).unwrap_or(look.theme.ok),
        ),
        Some(l) => (
            format!("{}: {}", l.level.name(), l.reasons.join(", ")),
            live::level_style(l.level, look).unwrap_or(look.theme.ok),
        ),
        None => ("no live figures".into(), look.theme.muted),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(word, style),
            Span::styled(
                format!(
                    "{}{} requests in {}",
                    look.sym.sep,
                    h.total.requests,
                    window_label(h.period.seconds())
                ),
                look.theme.muted,
            ),
        ])),
        level,
    );
    versions_table(frame, table_area, h, look);
    chart(frame, chart_area, h, metric, look);
    answers(frame, outputs, h, look);
}

fn versions_table(frame: &mut Frame, area: Rect, h: &ServiceHistory, look: &Look) {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), number);
    let rows: Vec<Vec<Text>> = h
        .versions
        .iter()
        .map(|v| {
            let f = &v.figures;
            vec![
                format!("v{}", v.version).into(),
                number(f.req_per_s).into(),
                live::at_level(
                    format!("{:.2}", f.error_pct),
                    match f.requests > 0 {
                        true => h.thresholds.error_pct.level(f.error_pct),
                        false => Level::Ok,
                    },
                    look,
                ),
                ms(f.p50_ms).into(),
                ms(f.p95_ms).into(),
                live::at_level(
                    ms(f.p99_ms),
                    f.p99_ms.map_or(Level::Ok, |p| h.thresholds.p99_ms.level(p)),
                    look,
                ),
                format!("{:.1}", f.cpu_pct).into(),
                f.saturation_pct
                    .map_or("-".into(), |u| format!("{u:.1}"))
                    .into(),
            ]
        })
        .collect();
    let header = vec![
        "VERSION", "REQ/S", "ERR %", "P50 MS", "P95 MS", "P99 MS", "CPU %", "UTIL %",
    ];
    plain_table(frame, area, header, rows, look);
}

/// A table with nothing to select: columns sized by content, no cursor.
fn plain_table(
    frame: &mut Frame,
    area: Rect,
    header: Vec<&str>,
    rows: Vec<Vec<Text>>,
    look: &Look,
) {
    let mut texts: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    texts.extend(rows.iter().map(|r| r.iter().map(|c| c.0.clone()).collect()));
    let widths = fit::columns(&texts, area.width as usize, 1, 5);
    let body = rows.into_iter().map(|r| {
        Row::new(r.into_iter().map(|c| match c.1 {
            Some(style) => Cell::from(c.0).style(style),
            None => Cell::from(c.0),
        }))
    });
    let table = Table::new(body, widths.iter().map(|w| Constraint::Length(*w as u16)))
        .header(Row::new(header).style(look.theme.muted));
    frame.render_widget(table, area);
}

/// Line colours for versions, in order (a mono theme tells them apart by the legend).
fn version_style(i: usize, look: &Look) -> Style {
    [
        look.theme.accent,
        look.theme.ok,
        look.theme.warn,
        look.theme.error,
    ][i % 4]
}

fn chart(frame: &mut Frame, area: Rect, h: &ServiceHistory, metric: Metric, look: &Look) {
    // A point stands for the step that ends at its x; the newest step, still under way, is a
    // rate over the seconds it has had, so the line runs to "now" without a false dip.
    let span = h.period.seconds() as f64;
    let series: Vec<(String, Vec<(f64, f64)>)> = h
        .versions
        .iter()
        .map(|v| {
            let points = v
                .points
                .iter()
                .map(|p| {
                    let end = (p.t + h.step).min(h.period.to);
                    let seconds = (end - p.t.max(h.period.from)).max(1) as f64;
                    let x = ((end - h.period.from) as f64).clamp(0.0, span);
                    (x, metric.of(p, seconds))
                })
                .collect();
            (format!("v{}", v.version), points)
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let window = window_label(h.period.seconds());
    if look.sym.ascii {
        ascii_chart(frame, area, &series, (span, &window), top, look);
        return;
    }
    // Without colour, versions after the first are drawn with other marks, named in the legend.
    let mono = look.theme.is_mono();
    let datasets: Vec<Dataset> = series
        .iter()
        .enumerate()
        .map(|(i, (name, points))| {
            let (marker, mark) = match i % 4 {
                _ if !mono => (Marker::Braille, ""),
                0 => (Marker::Braille, " ⠒"),
                1 => (Marker::Dot, " •"),
                2 => (Marker::Block, " █"),
                _ => (Marker::HalfBlock, " ▀"),
            };
            Dataset::default()
                .name(format!("{name}{mark}"))
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(version_style(i, look))
                .data(points)
        })
        .collect();
    // The newest points are on the right, where ratatui puts the legend; it goes top left, and
    // with one version the heading already names it.
    let legend = (series.len() > 1).then_some(LegendPosition::TopLeft);
    let chart = Chart::new(datasets)
        .legend_position(legend)
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(3, 4)))
        .x_axis(
            Axis::default()
                .bounds([0.0, span])
                .labels([format!("-{window}"), "now".to_string()])
                .style(look.theme.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top * 1.1])
                .labels(["0".to_string(), number(top)])
                .style(look.theme.muted),
        );
    frame.render_widget(chart, area);
}

/// The chart in ASCII: each version's points as its own mark on a grid, the scale on the
/// left, a zero line, and the time axis with the legend under it.
fn ascii_chart(
    frame: &mut Frame,
    area: Rect,
    series: &[(String, Vec<(f64, f64)>)],
    (span, window): (f64, &str),
    top: f64,
    look: &Look,
) {
    const MARKS: [char; 4] = ['*', '+', 'o', 'x'];
    let label = number(top);
    let left = label.len() + 1;
    let (w, rows) = (
        (area.width as usize).saturating_sub(left),
        area.height as usize,
    );
    if w < 8 || rows < 3 {
        return;
    }
    let plot_rows = rows - 2;
    let mut grid = vec![vec![' '; w]; plot_rows];
    for (i, (_, points)) in series.iter().enumerate() {
        for (x, y) in points {
            let col = ((x / span.max(1.0)) * (w - 1) as f64).round() as usize;
            let row = ((y / top) * (plot_rows - 1) as f64).round() as usize;
            if *y > 0.0 && col < w && row < plot_rows {
                grid[plot_rows - 1 - row][col] = MARKS[i % MARKS.len()];
            }
        }
    }
    let mut lines: Vec<Line> = grid
        .into_iter()
        .enumerate()
        .map(|(r, cells)| {
            let scale = if r == 0 { label.clone() } else { String::new() };
            Line::from(vec![
                Span::styled(
                    format!("{scale:>width$}|", width = left - 1),
                    look.theme.muted,
                ),
                Span::raw(cells.into_iter().collect::<String>()),
            ])
        })
        .collect();
    lines.push(Line::styled(
        format!("{:>width$}+{}", "0", "-".repeat(w), width = left - 1),
        look.theme.muted,
    ));
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{} {name}", MARKS[i % MARKS.len()]))
        .collect();
    let (start, end) = (format!("-{window}"), "now");
    let legend = legend.join("  ");
    let room = w.saturating_sub(start.len() + end.len());
    let middle = if series.len() > 1 && legend.len() + 2 <= room {
        format!("{legend:^room$}")
    } else {
        " ".repeat(room)
    };
    lines.push(Line::styled(
        format!("{:left$}{start}{middle}{end}", ""),
        look.theme.muted,
    ));
    frame.render_widget(Paragraph::new(lines), area);
}

/// One line per version: its answers over the window, and the top class's share over time.
fn answers(frame: &mut Frame, area: Rect, h: &ServiceHistory, look: &Look) {
    let lines: Vec<Line> = h
        .versions
        .iter()
        .take(area.height as usize)
        .map(|v| Line::from(answer_line(v, look)))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn answer_line<'a>(v: &VersionHistory, look: &Look) -> Vec<Span<'a>> {
    let mut spans = vec![Span::styled(
        format!("v{} answers  ", v.version),
        look.theme.muted,
    )];
    let shares = v.outputs.shares(3);
    if let Some((top, _)) = shares.first() {
        let words: Vec<String> = shares
            .iter()
            .map(|(c, s)| format!("{c} {}", percent(*s)))
            .collect();
        spans.push(Span::raw(words.join(look.sym.sep)));
        let trend: Vec<f64> = v
            .output_points
            .iter()
            .map(|p| {
                p.shares
                    .iter()
                    .find(|(c, _)| c == top)
                    .map_or(0.0, |(_, s)| *s)
            })
            .collect();
        spans.push(Span::styled(
            format!("  {top} over time {}", spark(&trend, 16, look.sym.ascii)),
            look.theme.accent,
        ));
    } else if let Some((mean, sd)) = v.outputs.moments() {
        spans.push(Span::raw(format!("mean {} ± {}", number(mean), number(sd))));
        let trend: Vec<f64> = v.output_points.iter().filter_map(|p| p.mean).collect();
        spans.push(Span::styled(
            format!("  mean over time {}", spark(&trend, 16, look.sym.ascii)),
            look.theme.accent,
        ));
    } else {
        spans.push(Span::styled("nothing yet", look.theme.muted));
    }
    spans
}
