//! Console tests without a terminal: key sequences through `update`, and frames rendered to
//! ratatui's `TestBackend`, snapshotted with insta (text) and checked cell by cell (style).

mod jobs;
mod keys;
mod monitor;
mod screens;
mod traffic;

use std::time::{Duration, Instant};

use super::effect::{Call, Effect, Failure, Msg, Ui};
use super::keymap::{Key, Keymap};
use super::state::State;
use super::update::update;
use crate::control::contract::{ServiceView, Serving};
use crate::domain::{
    Deployment, InputField, ModelKind, ModelSignature, ModelSummary, ModelVersion, OutputField,
    Resources, Scope, Service, ServiceName, ServiceUse,
};

/// A fixed "now" so freshness reads the same in every run.
fn t0() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn model(name: &str, versions: u32, used_by: &[&str]) -> ModelSummary {
    ModelSummary {
        name: name.into(),
        description: String::new(),
        kind: ModelKind::Pmml,
        latest_version: versions,
        versions,
        size: 4098,
        used_by: used_by.iter().map(|s| s.to_string()).collect(),
    }
}

fn version(name: &str, v: u32, used_by: Option<&str>) -> ModelVersion {
    ModelVersion {
        name: name.into(),
        version: v,
        kind: ModelKind::Pmml,
        sha256: "6e59894dfb64c31c02c7722aa0447a165119f4e8849e33971899e1795d898597".into(),
        size: 4098,
        artifact: String::new(),
        source: format!("/srv/models/{name}-v{v}.pmml"),
        description: String::new(),
        created_at: "2026-11-24T19:38:46Z".into(),
        used_by: used_by
            .map(|s| ServiceUse {
                service: s.into(),
                weight: 100,
            })
            .into_iter()
            .collect(),
        served_by: None,
    }
}

fn service(name: &str, model: &str, v: u32) -> ServiceView {
    let service = Service {
        name: ServiceName::parse(name).unwrap(),
        host: format!("{name}.modeldeck.local"),
        key: "ef533d21d184586a50a1b89ac1365671".into(),
        runtime: "pmml/0.1.0".into(),
        resources: Resources::default(),
        deployments: vec![Deployment {
            model: model.into(),
            version: v,
            weight: 100,
            artifact: String::new(),
            kind: ModelKind::Pmml,
        }],
        created_at: "2026-11-24T19:38:48Z".into(),
        thresholds: None,
        traffic: Default::default(),
    };
    ServiceView {
        service,
        key: "••••••••5671".into(),
        gateway: "http://127.0.0.1:8501".into(),
        serving: Serving {
            state: "ready".into(),
            reason: None,
            signature: None,
            upstreams: Vec::new(),
        },
    }
}

/// The iris model's signature, as the server describes it.
fn iris_signature() -> ModelSignature {
    let input = |name: &str| InputField {
        name: name.into(),
        dtype: "double".into(),
        categories: None,
    };
    ModelSignature {
        inputs: vec![input("petal_length"), input("petal_width")],
        outputs: vec![OutputField {
            name: "species".into(),
            dtype: "string".into(),
            role: "predicted_label".into(),
        }],
        example: None,
    }
}

/// A failure as a call reports it.
fn failure(code: &str, message: &str, field: Option<&str>) -> Failure {
    Failure {
        code: code.into(),
        message: message.into(),
        field: field.map(str::to_string),
    }
}

/// The newest message's text.
fn last_message(s: &State) -> &str {
    &s.messages.last().expect("a message").text
}

/// A console whose first snapshot brought `models` and `services`.
fn snapshot(
    label: &str,
    models: Vec<ModelSummary>,
    services: Vec<ServiceView>,
    environment: &str,
) -> State {
    let mut s = State::new(label, "mono");
    let msg = Msg::Snapshot {
        models,
        services,
        environment: environment.into(),
        gateway: "http://127.0.0.1:8501".into(),
        scope: Scope::Operator,
    };
    update(&mut s, &Keymap::defaults(), msg, t0());
    s
}

/// A console that loaded three models and two services at `t0()`.
fn loaded(environment: &str) -> State {
    let models = vec![
        model("diabetes", 1, &[]),
        model("iris", 2, &["iris"]),
        model("fraud", 3, &["fraud"]),
    ];
    let services = vec![service("fraud", "fraud", 3), service("iris", "iris", 2)];
    snapshot("attached 127.0.0.1:8502", models, services, environment)
}

/// An embedded console over an empty repository.
fn empty() -> State {
    snapshot("embedded", vec![], vec![], "dev")
}

/// Answers the versions request for iris: version 1 idle, version 2 serving.
fn iris_versions(state: &mut State) {
    let versions = vec![version("iris", 1, None), version("iris", 2, Some("iris"))];
    update(
        state,
        &Keymap::defaults(),
        Msg::Versions("iris".into(), Ok(versions)),
        t0(),
    );
}

/// Feeds keys written as in `console.toml` (`"j"`, `"enter"`, `"ctrl+c"`); returns every
/// effect they caused.
fn press(state: &mut State, keys: &[&str]) -> Vec<Effect> {
    let keymap = Keymap::defaults();
    let mut out = Vec::new();
    for k in keys {
        let key = Key::parse(k).unwrap_or_else(|e| panic!("{e}"));
        out.extend(update(
            state,
            &keymap,
            Msg::Key(key),
            t0() + Duration::from_secs(2),
        ));
    }
    out
}

/// Types text into whatever has the keys (a form field, the filter, a command).
fn type_text(state: &mut State, text: &str) -> Vec<Effect> {
    let keys: Vec<String> = text
        .chars()
        .map(|c| {
            if c == ' ' {
                "space".into()
            } else {
                c.to_string()
            }
        })
        .collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    press(state, &refs)
}
