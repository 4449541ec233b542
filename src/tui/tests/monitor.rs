//! The live columns, the Monitor pane and the Events view with synthetic series: snapshots at
//! 80x24 and 120x40, threshold colours, staleness, and the keys that drive them.

use std::time::Duration;

use super::screens::{render, screen_text, snap};
use super::*;
use crate::control::contract::{
    MonitorView, OutputPoint, ProcessView, ServiceHistory, ServiceLive, VersionHistory, VersionLive,
};
use crate::domain::{Event, Figures, Level, Outputs, Period, Sample, Thresholds};
use crate::tui::state::{List, Pane};
use crate::tui::theme::{self, Theme};

/// The newest sample's second.
const AT: i64 = 1_796_126_400;

/// Two minutes of a service's seconds: a steady load with a bump, `errors` of every 100
/// requests failing and `p99_ms` as the slow tail.
fn seconds(base: u32, errors: u32, p99_ms: u32) -> Vec<Sample> {
    (0..120)
        .map(|i| {
            let requests = base
                + if (60..80).contains(&i) {
                    base
                } else {
                    i as u32 % 7
                };
            Sample {
                t: AT - 119 + i,
                requests,
                errors: requests * errors / 100,
                tagged: 0,
                rows: requests,
                p50_us: 900,
                p95_us: 2_000,
                p99_us: p99_ms * 1000 + (i as u32 % 5) * 100,
                busy_us: requests * 40,
                in_flight: 2,
            }
        })
        .collect()
}

fn live(service: &str, samples: Vec<Sample>, level: Level, reasons: &[&str]) -> ServiceLive {
    ServiceLive {
        service: service.into(),
        concurrency: 64,
        level,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        thresholds: Thresholds::default(),
        versions: vec![VersionLive {
            model: service.into(),
            version: 1,
            weight: 100,
            last: *samples.last().unwrap(),
        }],
        samples,
    }
}

fn view() -> MonitorView {
    MonitorView {
        at: AT,
        process: ProcessView {
            cpu_pct: 12.5,
            rss_bytes: 48 << 20,
            cpu: (0..120).map(|i| (AT - 119 + i, 10.0)).collect(),
        },
        services: vec![
            live(
                "fraud",
                seconds(40, 8, 1400),
                Level::Critical,
                &["p99 1400 ms >= 1000 ms"],
            ),
            live("iris", seconds(200, 0, 4), Level::Ok, &[]),
        ],
        history: None,
    }
}

/// A console with the services loaded and two minutes of figures.
fn watching() -> State {
    let mut s = loaded("dev");
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Metrics(Box::new(view())),
        t0(),
    );
    s
}

fn version_history(version: u32, scale: f64, classes: &[(&str, u64)]) -> VersionHistory {
    let points: Vec<Sample> = (0..90)
        .map(|i| Sample {
            t: AT - 900 + i * 10,
            requests: ((50.0 + (i as f64 / 6.0).sin() * 20.0) * scale) as u32,
            errors: u32::from(i % 17 == 0),
            p99_us: 3_000 + (i as u32 % 9) * 400,
            ..Sample::default()
        })
        .collect();
    let mut outputs = Outputs::default();
    for (c, n) in classes {
        outputs.classes.insert(c.to_string(), *n);
    }
    VersionHistory {
        model: "fraud".into(),
        version,
        figures: Figures {
            requests: 4500,
            errors: 5,
            req_per_s: 5.0 * scale,
            error_pct: 0.11,
            p50_ms: Some(0.9),
            p95_ms: Some(2.1),
            p99_ms: Some(4.4),
            cpu_pct: 3.2,
            saturation_pct: Some(0.4),
            ..Figures::default()
        },
        points,
        output_points: (0..15)
            .map(|i| OutputPoint {
                t: AT - 900 + i * 60,
                n: 100,
                shares: vec![("legit".into(), if i > 10 { 0.2 } else { 0.9 })],
                ..OutputPoint::default()
            })
            .collect(),
        outputs,
    }
}

fn history() -> ServiceHistory {
    ServiceHistory {
        service: "fraud".into(),
        period: Period {
            from: AT - 900,
            to: AT,
        },
        step: 10,
        thresholds: Thresholds::default(),
        total: Figures {
            requests: 9000,
            ..Figures::default()
        },
        versions: vec![
            version_history(2, 1.0, &[("legit", 900), ("fraud", 100)]),
            version_history(3, 0.2, &[("fraud", 80), ("legit", 20)]),
        ],
    }
}

fn events() -> Vec<Event> {
    let event = |revision, actor: &str, kind: &str, subject: &str, detail| Event {
        revision,
        at: format!("2026-12-01T10:0{revision}:00Z"),
        actor: actor.into(),
        kind: kind.into(),
        subject: subject.into(),
        detail,
    };
    vec![
        event(
            1,
            "local-admin",
            "model.imported",
            "fraud:3",
            serde_json::json!({"sha256": "6e59"}),
        ),
        event(
            2,
            "local-admin",
            "service.deployed",
            "fraud",
            serde_json::json!({"model": "fraud:3"}),
        ),
        event(
            3,
            "ci",
            "service.key_rotated",
            "iris",
            serde_json::json!({}),
        ),
        event(
            4,
            "monitor",
            "threshold.crossed",
            "fraud",
            serde_json::json!({"from": "ok", "to": "critical", "reasons": ["p99 1400 ms >= 1000 ms"]}),
        ),
    ]
}

#[test]
fn services_table_shows_live_columns_with_threshold_colours() {
    let mut s = watching();
    press(&mut s, &["2"]);
    snap("services_live", &s);
    // In colour, fraud's p99 cell is in the error style; iris's figures are plain.
    let theme = Theme::load("default", None).unwrap();
    let term = render(&s, (120, 40), &theme, &theme::UTF8);
    let buf = term.backend().buffer();
    let cells =
        |y: u16| -> Vec<String> { (0..120).map(|x| buf[(x, y)].symbol().to_string()).collect() };
    let y = (0..40)
        .find(|y| cells(*y).concat().contains("fraud:3"))
        .expect("fraud's row");
    let row = cells(y);
    let at = |text: &str| {
        (0..row.len() - text.len())
            .find(|i| row[*i..*i + text.len()].concat() == text)
            .unwrap_or_else(|| panic!("{text} in {}", row.concat())) as u16
    };
    // The worst second's p99 of the last five: 1400 ms and a little.
    assert_eq!(
        buf[(at("1400"), y)].style().fg,
        theme.error.fg,
        "{}",
        row.concat()
    );
    assert_ne!(buf[(at("fraud:3"), y)].style().fg, theme.error.fg);
}

#[test]
fn figures_that_stopped_arriving_are_marked_stale() {
    let mut s = watching();
    press(&mut s, &["2"]);
    s.metrics.received = t0().checked_sub(Duration::from_secs(10));
    let text = screen_text(&s, (120, 40), &theme::ASCII);
    assert!(text.contains("STALE"), "{text}");
    assert!(
        !text.contains("1500"),
        "no old figure passes for current: {text}"
    );
}

#[test]
fn monitor_pane_grid_detail_and_zoom() {
    let mut s = watching();
    press(&mut s, &["4"]);
    snap("monitor_grid", &s);
    let out = press(&mut s, &["enter"]);
    assert_eq!(
        out,
        vec![Effect::Call(Call::Watch {
            service: Some("fraud".into()),
            window: 900
        })]
    );
    snap("monitor_loading", &s);
    let mut v = view();
    v.history = Some(history());
    update(&mut s, &Keymap::defaults(), Msg::Metrics(Box::new(v)), t0());
    snap("monitor_detail", &s);
    let text = |sym| screen_text(&s, (80, 24), sym);
    assert!(text(&theme::ASCII).is_ascii());
    // In UTF-8 the chart is drawn in braille dots, its legend at the left, away from the
    // newest points; without colour, v3 is drawn in other marks that the legend names.
    let utf8 = text(&theme::UTF8);
    assert!(utf8.contains("│v3 •│"), "{utf8}");
    assert!(utf8.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)));
    let rows: Vec<String> = utf8
        .chars()
        .collect::<Vec<_>>()
        .chunks(80)
        .map(|r| r.iter().collect())
        .collect();
    let legend = rows.iter().find(|r| r.contains("│v2 ⠒")).expect("a legend");
    assert!(legend.find("│v2 ⠒").unwrap() < 40, "{legend}");
    press(&mut s, &["z"]);
    snap("monitor_zoom", &s);
    press(&mut s, &["esc"]);
    assert!(!s.monitor.zoom);
    assert_eq!(s.monitor.open.as_deref(), Some("fraud"));
    let out = press(&mut s, &["esc"]);
    assert_eq!(
        out,
        vec![Effect::Call(Call::Watch {
            service: None,
            window: 900
        })]
    );
}

#[test]
fn window_metric_and_freeze_keys() {
    let mut s = watching();
    // The grid is live: windows and metrics belong to a service's chart, and it says so.
    press(&mut s, &["4"]);
    assert!(press(&mut s, &["+", "]", "z"]).is_empty());
    assert_eq!(
        (s.monitor.window, s.monitor.metric, s.monitor.zoom),
        (0, 0, false)
    );
    assert!(
        s.messages
            .iter()
            .any(|m| m.text == crate::tui::text::MONITOR_OPEN_FIRST)
    );
    press(&mut s, &["enter"]);
    let out = press(&mut s, &["+"]);
    assert_eq!(
        out,
        vec![Effect::Call(Call::Watch {
            service: Some("fraud".into()),
            window: 3600
        })]
    );
    // The shortest window is the floor.
    press(&mut s, &["-"]);
    assert!(press(&mut s, &["-"]).is_empty());
    assert_eq!(s.monitor.metric().title(), "req/s");
    press(&mut s, &["]", "]"]);
    assert_eq!(s.monitor.metric().title(), "error %");
    press(&mut s, &["["]);
    assert_eq!(s.monitor.metric().title(), "p99 ms");
    // Frozen: new figures arrive underneath, the screen keeps the old picture.
    press(&mut s, &["esc", "f"]);
    let mut later = view();
    later.at += 5;
    later.services[1].samples = vec![Sample {
        t: AT + 5,
        requests: 99_999,
        ..Sample::default()
    }];
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Metrics(Box::new(later)),
        t0(),
    );
    let text = screen_text(&s, (120, 40), &theme::ASCII);
    assert!(text.contains("FROZEN"));
    assert!(!text.contains("20000"), "the frozen picture does not move");
    press(&mut s, &["f"]);
    assert!(s.monitor.frozen.is_none());
}

#[test]
fn events_view_filters_and_follows_the_change_stream() {
    let mut s = watching();
    let out = press(&mut s, &[":"]);
    assert!(out.is_empty());
    type_text(&mut s, "events");
    let out = press(&mut s, &["enter"]);
    assert_eq!(out, vec![Effect::Call(Call::LoadEvents(0))]);
    let list = crate::control::contract::EventList {
        revision: 4,
        events: events(),
    };
    update(&mut s, &Keymap::defaults(), Msg::Events(Ok(list)), t0());
    snap("events_all", &s);
    // A change arrives: the log asks for what is newer than what it holds.
    let out = update(&mut s, &Keymap::defaults(), Msg::Changed, t0());
    assert!(out.contains(&Effect::Call(Call::LoadEvents(4))), "{out:?}");
    press(&mut s, &["/"]);
    type_text(&mut s, "threshold");
    press(&mut s, &["enter"]);
    assert_eq!(s.events.as_ref().unwrap().shown().len(), 1);
    snap("events_filtered", &s);
    press(&mut s, &["esc", "esc"]);
    assert!(s.events.is_none());
    // From a service's detail, `e` shows that service's events only.
    press(&mut s, &["2", "enter", "e"]);
    let view = s.events.as_ref().unwrap();
    assert_eq!(view.service.as_deref(), Some("fraud"));
}

/// The catalogue changes rarely and the figures every second: the title's "updated" is the
/// newer of the two, not the catalogue's age while figures stream in.
#[test]
fn the_title_is_as_fresh_as_the_figures() {
    let mut s = watching();
    s.connection.updated = t0().checked_sub(Duration::from_secs(40));
    let term = render(&s, (80, 24), &Theme::mono(), &theme::ASCII);
    let title: String = (0..80)
        .map(|x| term.backend().buffer()[(x, 0)].symbol().to_string())
        .collect();
    assert!(title.contains("updated 2s ago"), "{title}");
}

/// The Events view owns the screen: Enter, Esc and j never reach the pane behind it, the hint
/// bar shows none of that pane's keys, and going to another pane closes the view.
#[test]
fn the_events_view_keeps_its_keys_from_the_pane_behind() {
    let mut s = watching();
    press(&mut s, &["4", "e"]);
    let list = crate::control::contract::EventList {
        revision: 4,
        events: events(),
    };
    update(&mut s, &Keymap::defaults(), Msg::Events(Ok(list)), t0());
    let before = s.cursor(List::Monitor);
    press(&mut s, &["j", "enter", "]", "+"]);
    assert!(s.events.is_some());
    assert_eq!(s.cursor(List::Monitor), before);
    assert!(s.monitor.open.is_none(), "Enter opened the service behind");
    assert_eq!((s.monitor.metric, s.monitor.window), (0, 0));
    let hints = crate::tui::update::hints(&s, &Keymap::defaults());
    assert!(
        !hints
            .iter()
            .any(|(_, word)| *word == "open" || *word == "zoom"),
        "{hints:?}"
    );
    press(&mut s, &["2"]);
    assert!(s.events.is_none() && s.pane == Pane::Services);
}

/// `k` moves the cursor up through the log; the newest events stay in view while the cursor
/// is within the last screenful, and `j` comes back down to them.
#[test]
fn the_events_cursor_moves_and_the_newest_stay_in_view() {
    let mut s = watching();
    press(&mut s, &["e"]);
    let list = crate::control::contract::EventList {
        revision: 4,
        events: events(),
    };
    update(&mut s, &Keymap::defaults(), Msg::Events(Ok(list)), t0());
    let selected = |s: &State| -> String {
        let text = screen_text(s, (80, 24), &theme::ASCII);
        let rows: Vec<String> = text
            .chars()
            .collect::<Vec<_>>()
            .chunks(80)
            .map(|r| r.iter().collect())
            .collect();
        assert!(
            rows.iter().any(|r| r.contains("threshold.crossed")),
            "{text}"
        );
        rows.into_iter()
            .find(|r| r.starts_with("|> "))
            .unwrap_or_default()
    };
    assert!(selected(&s).contains("threshold.crossed"));
    press(&mut s, &["k"]);
    assert!(selected(&s).contains("service.key_rotated"));
    press(&mut s, &["k", "k", "k", "k"]);
    assert!(
        selected(&s).contains("model.imported"),
        "the oldest is the floor"
    );
    press(&mut s, &["G"]);
    assert!(selected(&s).contains("threshold.crossed"));
}
