//! How long the console takes to draw a frame with 1,000 models and 1,000 services loaded
//! (each with two minutes of live samples), rendered into ratatui's in-memory `TestBackend`
//! (so terminal IO is not counted; what goes over the wire is measured by
//! `benches/console/idle.sh`), and what one second's poll costs it: parsing the answer for
//! 1,000 services and folding it in.
//!
//!     cargo bench --bench console

use std::time::{Duration, Instant};

use modeldeck::control::contract::{MonitorView, ServiceLive, ServiceView, Serving};
use modeldeck::domain::{
    Deployment, ModelKind, ModelSummary, Resources, Sample, Scope, Service, ServiceName,
};
use modeldeck::tui::effect::Msg;
use modeldeck::tui::keymap::{Key, Keymap};
use modeldeck::tui::state::State;
use modeldeck::tui::theme::{self, Theme};
use modeldeck::tui::update::update;
use modeldeck::tui::view::{self, Look};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let n = 1000;
    let models: Vec<ModelSummary> = (0..n)
        .map(|i| ModelSummary {
            name: format!("model-{i:04}"),
            description: String::new(),
            kind: ModelKind::Pmml,
            latest_version: 3,
            versions: 3,
            size: 1 << 20,
            used_by: vec![format!("svc-{i:04}")],
        })
        .collect();
    let services: Vec<ServiceView> = (0..n)
        .map(|i| Service {
            name: ServiceName::parse(&format!("svc-{i:04}")).unwrap(),
            host: format!("svc-{i:04}.modeldeck.local"),
            key: "0123456789abcdef0123456789abcdef".into(),
            runtime: "pmml/0.1.0".into(),
            resources: Resources::default(),
            deployments: vec![Deployment {
                model: format!("model-{i:04}"),
                version: 3,
                weight: 100,
                artifact: String::new(),
                kind: ModelKind::Pmml,
            }],
            created_at: "2026-11-24T19:38:48Z".into(),
            thresholds: None,
            traffic: Default::default(),
        })
        .map(|service| ServiceView {
            key: "••••••••cdef".into(),
            gateway: "http://127.0.0.1:8501".into(),
            serving: Serving {
                state: "ready".into(),
                reason: None,
                signature: None,
                upstreams: Vec::new(),
            },
            service,
        })
        .collect();
    let keymap = Keymap::defaults();
    let now = Instant::now();
    let mut state = State::new("attached 127.0.0.1:8502", "default");
    update(
        &mut state,
        &keymap,
        Msg::Snapshot {
            models,
            services,
            environment: "prod".into(),
            gateway: "http://127.0.0.1:8501".into(),
            scope: Scope::Operator,
        },
        now,
    );
    // Two minutes of figures for every service, then one second's poll, as the server sends it.
    let at = 1_796_126_400;
    let view = |from: i64, seconds: i64| MonitorView {
        at: from + seconds - 1,
        services: (0..n)
            .map(|i| ServiceLive {
                service: format!("svc-{i:04}"),
                concurrency: 64,
                samples: (from..from + seconds)
                    .map(|t| Sample {
                        t,
                        requests: (t % 50) as u32 + i,
                        errors: u32::from(t % 13 == 0),
                        p99_us: 4000 + (t % 7) as u32 * 100,
                        in_flight: 2,
                        ..Sample::default()
                    })
                    .collect(),
                ..ServiceLive::default()
            })
            .collect(),
        ..MonitorView::default()
    };
    update(
        &mut state,
        &keymap,
        Msg::Metrics(Box::new(view(at - 119, 120))),
        now,
    );
    let poll = serde_json::to_string(&view(at + 1, 1)).unwrap();
    let mut fold: Vec<Duration> = (0..50)
        .map(|k| {
            let text = poll.replace(&format!("[{},", at + 1), &format!("[{},", at + 1 + k));
            let t = Instant::now();
            let mut v: MonitorView = serde_json::from_str(&text).unwrap();
            v.at += k;
            update(&mut state, &keymap, Msg::Metrics(Box::new(v)), now);
            t.elapsed()
        })
        .collect();
    fold.sort();
    println!(
        "{:<26} median {:>7.1} µs   ({} bytes a second)",
        "one poll, 1000 services",
        fold[fold.len() / 2].as_secs_f64() * 1e6,
        poll.len()
    );
    let theme = Theme::load("default", None).unwrap();
    for (label, size, keys) in [
        ("models 80x24", (80, 24), vec!["1", "G"]),
        ("services 120x40", (120, 40), vec!["2", "G"]),
        (
            "services filtered 120x40",
            (120, 40),
            vec!["2", "/", "9", "enter"],
        ),
        ("monitor 80x24", (80, 24), vec!["esc", "4", "G"]),
        ("monitor 120x40", (120, 40), vec!["g"]),
    ] {
        for k in keys {
            update(&mut state, &keymap, Msg::Key(Key::parse(k).unwrap()), now);
        }
        let mut term = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        let look = Look {
            theme: &theme,
            sym: &theme::UTF8,
            keymap: &keymap,
            now,
        };
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                term.draw(|f| {
                    view::draw(f, &state, &look);
                })
                .unwrap();
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{label:<26} median {:>7.1} µs   p90 {:>7.1} µs",
            times[times.len() / 2].as_secs_f64() * 1e6,
            times[times.len() * 9 / 10].as_secs_f64() * 1e6
        );
    }
}
