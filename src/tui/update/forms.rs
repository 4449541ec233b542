//! The import and deploy forms: real text inputs, tab between fields, enter submits; a
//! refusal stays in the form with the cursor on the field at fault, and goes once a field is
//! edited.

use crossterm::event::KeyCode;

use crate::control::contract::TrafficCall;
use crate::domain::{CONCURRENCY, MAX_BATCH_ROWS, Setting, Step, THREADS, TIMEOUT_MS};
use crate::tui::effect::{Call, Effect};
use crate::tui::input::Input;
use crate::tui::keymap::Key;
use crate::tui::state::{Field, Form, FormKind, List, Overlay, State};
use crate::tui::text;

fn field(key: &'static str, label: &'static str, value: &str, hint: String) -> Field {
    Field {
        key,
        label,
        input: Input::new(value),
        hint,
    }
}

fn form(kind: FormKind, fields: Vec<Field>) -> Form {
    Form {
        kind,
        fields,
        focus: 0,
        busy: false,
        error: None,
        suggested: None,
    }
}

pub fn import_form() -> Form {
    form(
        FormKind::Import,
        vec![
            field("source", "source", "", text::HINT_SOURCE.into()),
            field("name", "name", "", text::HINT_MODEL_NAME.into()),
            field("type", "type", "", text::HINT_TYPE.into()),
        ],
    )
}

pub fn deploy_form(model: Option<&str>) -> Form {
    let setting = |label, s: Setting| field(s.key, label, &s.default.to_string(), s.hint());
    form(
        FormKind::Deploy,
        vec![
            field("name", "name", "", text::HINT_SERVICE_NAME.into()),
            field(
                "model",
                "model",
                model.unwrap_or(""),
                text::HINT_MODEL_REF.into(),
            ),
            setting("threads", THREADS),
            setting("concurrency", CONCURRENCY),
            setting("timeout ms", TIMEOUT_MS),
            setting("max batch rows", MAX_BATCH_ROWS),
            field("upstream", "upstream", "", text::HINT_UPSTREAM.into()),
        ],
    )
}

/// `b` on a model: a batch job scoring files through it.
pub fn job_form(model: Option<&str>) -> Form {
    form(
        FormKind::Job,
        vec![
            field("name", "name", "", text::HINT_JOB_NAME.into()),
            field(
                "model",
                "model",
                model.unwrap_or(""),
                text::HINT_MODEL_REF.into(),
            ),
            field("input", "input", "", text::HINT_JOB_INPUT.into()),
            field("output", "output", "", text::HINT_JOB_OUTPUT.into()),
            field("schedule", "cron", "", text::HINT_JOB_CRON.into()),
            field("start", "start", "", text::HINT_JOB_START.into()),
            field("tz", "time zone", "", text::HINT_JOB_TZ.into()),
            field("steps", "steps", "", text::HINT_JOB_STEPS.into()),
        ],
    )
}

/// `a`/`e` on a job's chain: one step, as `KIND:PARAMS`.
pub fn step_form(at: usize, replace: bool, step: &str) -> Form {
    form(
        FormKind::Step { at, replace },
        vec![field("step", "step", step, text::HINT_STEP.into())],
    )
}

/// `=` in the Traffic pane: one version's percent, typed.
pub fn weight_form(version: u32, now: u8) -> Form {
    form(
        FormKind::Weight(version),
        vec![field(
            "percent",
            "percent",
            &now.to_string(),
            text::HINT_PERCENT.into(),
        )],
    )
}

/// `c` in the Traffic pane: a canary for the open service, with the defaults filled in.
pub fn canary_form(candidate: Option<u32>) -> Form {
    let version = candidate.map(|v| v.to_string()).unwrap_or_default();
    form(
        FormKind::Canary,
        vec![
            field("to", "version", &version, text::HINT_CANARY_TO.into()),
            field(
                "steps",
                "steps",
                "5,25,50,100",
                text::HINT_CANARY_STEPS.into(),
            ),
            field(
                "interval",
                "interval",
                "60s",
                text::HINT_CANARY_INTERVAL.into(),
            ),
            field(
                "min_requests",
                "min requests",
                "200",
                text::HINT_CANARY_MIN.into(),
            ),
            field(
                "max_error_pct",
                "max error %",
                "1",
                text::HINT_CANARY_ERRORS.into(),
            ),
            field(
                "max_p99_ms",
                "max p99 ms",
                "500",
                text::HINT_CANARY_P99.into(),
            ),
        ],
    )
}

/// The canary form's values as the call, or what is wrong with them (and in which field).
fn canary_call(form: &Form) -> Result<TrafficCall, (usize, String)> {
    let v = |k: &str| form.value(k).trim().to_string();
    let at = |k: &str| form.fields.iter().position(|f| f.key == k).unwrap_or(0);
    let number = |k: &str| -> Result<f64, (usize, String)> {
        v(k).trim_end_matches('%')
            .parse::<f64>()
            .map_err(|_| (at(k), format!("{} must be a number", k.replace('_', " "))))
    };
    let to = v("to")
        .trim_start_matches('v')
        .parse::<u32>()
        .map_err(|_| (at("to"), text::BAD_CANARY_TO.to_string()))?;
    let interval =
        crate::domain::period::duration(&v("interval")).map_err(|e| (at("interval"), e))?;
    Ok(TrafficCall::CanaryStart {
        to,
        steps: v("steps"),
        interval_secs: interval as u64,
        min_requests: number("min_requests")? as u64,
        max_error_pct: number("max_error_pct")?,
        max_p99_ms: number("max_p99_ms")?,
    })
}

/// An empty name field takes a name from the source's file name (`churn-v2.pmml` → `churn-v2`),
/// lowercased and with characters a model name may not have dropped.
fn suggest_name(form: &mut Form) {
    let source = form
        .value("source")
        .trim()
        .trim_end_matches('/')
        .to_string();
    let suggested = form.suggested.clone();
    let Some(field) = form.fields.iter_mut().find(|f| f.key == "name") else {
        return;
    };
    let ours = field.input.text().is_empty() || suggested.as_deref() == Some(field.input.text());
    if !ours || source.is_empty() {
        return;
    }
    let last = source.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = last.split('.').next().unwrap_or("");
    let name: String = stem
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if crate::domain::ModelName::parse(&name).is_ok() {
        field.input.set(&name);
        form.suggested = Some(name);
    }
}

pub fn form_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Overlay::Form(form) = &mut state.overlay else {
        return vec![];
    };
    if form.busy {
        return vec![];
    }
    let n = form.fields.len();
    match key.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Tab | KeyCode::Down | KeyCode::BackTab | KeyCode::Up => {
            let forward = matches!(key.code, KeyCode::Tab | KeyCode::Down);
            if form.kind == FormKind::Import && form.fields[form.focus].key == "source" {
                suggest_name(form);
            }
            form.focus = if forward {
                (form.focus + 1) % n
            } else {
                (form.focus + n - 1) % n
            };
            // Entering a field puts the cursor at its end, so Ctrl-U clears it.
            let field = &mut form.fields[form.focus].input;
            let text = field.text().to_string();
            field.set(&text);
        }
        KeyCode::Enter if form.kind == FormKind::Canary => match canary_call(form) {
            Ok(call) => {
                let Some(service) = state.traffic.open.clone() else {
                    state.overlay = Overlay::None;
                    return vec![];
                };
                // Open until the server answers: a refusal is shown here, to fix.
                form.busy = true;
                form.error = None;
                return vec![Call::ChangeTraffic { service, call }.into()];
            }
            Err((field, message)) => {
                form.focus = field;
                form.error = Some(message);
            }
        },
        KeyCode::Enter if matches!(form.kind, FormKind::Weight(_)) => {
            let FormKind::Weight(version) = form.kind else {
                return vec![];
            };
            match form
                .value("percent")
                .trim()
                .trim_end_matches('%')
                .parse::<u8>()
            {
                Ok(p) if p <= 100 => {
                    state.overlay = Overlay::None;
                    state.traffic.set(version, p);
                }
                _ => form.error = Some(text::BAD_PERCENT.into()),
            }
        }
        KeyCode::Enter if matches!(form.kind, FormKind::Step { .. }) => {
            let FormKind::Step { at, replace } = form.kind else {
                return vec![];
            };
            match form.value("step").trim().parse::<Step>() {
                Ok(step) => {
                    // The new step is selected once the reload shows it.
                    state.select_next = Some((List::Chain, step.to_string()));
                    let Some(call) = super::jobs::save_step(state, at, replace, step) else {
                        state.overlay = Overlay::None;
                        return vec![];
                    };
                    if let Overlay::Form(form) = &mut state.overlay {
                        form.busy = true;
                        form.error = None;
                    }
                    return vec![call.into()];
                }
                Err(e) => form.error = Some(e.to_string()),
            }
        }
        KeyCode::Enter => {
            form.busy = true;
            form.error = None;
            let v = |k: &str| form.value(k).trim().to_string();
            let call = match form.kind {
                FormKind::Import => Call::Import {
                    source: v("source"),
                    name: v("name"),
                    kind: v("type"),
                },
                FormKind::Weight(_) | FormKind::Canary | FormKind::Step { .. } => return vec![],
                FormKind::Job => Call::CreateJob(
                    form.fields
                        .iter()
                        .map(|f| (f.key, f.input.text().to_string()))
                        .collect(),
                ),
                FormKind::Deploy => Call::Deploy {
                    name: v("name"),
                    model: v("model"),
                    threads: v(THREADS.key),
                    concurrency: v(CONCURRENCY.key),
                    timeout_ms: v(TIMEOUT_MS.key),
                    max_batch_rows: v(MAX_BATCH_ROWS.key),
                    upstream: v("upstream"),
                },
            };
            return vec![call.into()];
        }
        _ => {
            if form.fields[form.focus].input.key(key) {
                form.error = None;
            }
        }
    }
    vec![]
}
