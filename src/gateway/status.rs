//! The answers that take no body, written out: TF Serving's model status and metadata, and
//! what an unknown model or version label is called, in the words of the protocol the request
//! spoke. Apart from [`handler`](super::handler) so that the admission flow there reads as its
//! decisions only.

use std::sync::Arc;

use http::StatusCode;

use super::handler::{Answer, ready};
use super::json;
use super::path::{Call, Target};
use super::predict;
use super::routing::{Route, State, VersionCell};
use crate::runtime::Serving;
use crate::runtime::upstream::Seen;

/// What an unknown model is called in the protocol the request spoke.
pub(super) fn unknown_model(call: &Call) -> String {
    match call {
        // TF Serving's manager answers a prediction for an unknown model so.
        Call::Verb { model, target, .. } => match target {
            Target::Version(v) => format!("Servable not found for request: Specific({model}, {v})"),
            _ => format!("Servable not found for request: Latest({model})"),
        },
        Call::V2Metadata { model, .. } | Call::V2Ready { model, .. } | Call::V2Infer { model, .. } => {
            format!("Model {model} not found")
        }
        _ => match call.model() {
            Some(m) => format!("Could not find any versions of model {m}"),
            None => "no service answers at this host: send the service's Host header or name it in the path".into(),
        },
    }
}

/// A label the service does not define (`modeldeck services label` defines them).
pub(super) fn unknown_label(label: &str) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        &format!("Unrecognized servable version label: {label}"),
    )
}

/// TF Serving's status, with KServe's `name` and `ready` added so both client families parse it.
pub(super) fn status(route: &Route, model: &str, target: &Target) -> Answer {
    let cells: Vec<&Arc<VersionCell>> = match target {
        Target::Split => route.versions.iter().map(|(c, _)| c).collect(),
        Target::Version(v) => match route.version(*v) {
            Some(c) => vec![c],
            None => {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    &format!("Could not find version {v} of model {model}"),
                );
            }
        },
        Target::Label(l) => match route.labelled(l) {
            Some(c) => vec![c],
            None => return unknown_label(l),
        },
    };
    let mut out = String::from("{\"model_version_status\":[");
    let mut any_ready = false;
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (state, code, message) = match c.state() {
            State::Ready(Serving::Upstream(u)) => match u.health.seen() {
                Seen::Down(why) => ("END", "UNAVAILABLE", format!("{}: {why}", u.name())),
                _ => {
                    any_ready = true;
                    ("AVAILABLE", "OK", String::new())
                }
            },
            State::Ready(_) => {
                any_ready = true;
                ("AVAILABLE", "OK", String::new())
            }
            State::Loading => ("LOADING", "OK", String::new()),
            State::Failed(why) => ("END", "UNKNOWN", why),
        };
        out.push_str(&format!(
            "{{\"version\":\"{}\",\"state\":\"{state}\",\"status\":{{\"error_code\":\"{code}\",\"error_message\":",
            c.version
        ));
        json::write_str(&mut out, &message);
        out.push_str("}}");
    }
    out.push_str("],\"name\":");
    json::write_str(&mut out, model);
    out.push_str(&format!(",\"ready\":{any_ready}}}"));
    Answer::ok(out)
}

pub(super) fn metadata(model: &str, cell: &VersionCell) -> Answer {
    let predictor = match ready(cell) {
        Ok(Serving::Native(p)) => p,
        Ok(Serving::Upstream(u)) => return super::forward::no_metadata(&u, cell),
        Err(a) => return a,
    };
    let sig = predictor.signature();
    let tensor = |out: &mut String, name: &str, dtype: crate::runtime::DType| {
        json::write_str(out, name);
        out.push_str(":{\"dtype\":\"DT_");
        out.push_str(&predict::tf_dtype(dtype).to_ascii_uppercase());
        out.push_str("\",\"tensor_shape\":{\"dim\":[{\"size\":\"-1\",\"name\":\"\"}],\"unknown_rank\":false},\"name\":");
        json::write_str(out, name);
        out.push('}');
    };
    let mut out = String::from("{\"model_spec\":{\"name\":");
    json::write_str(&mut out, model);
    out.push_str(&format!(
        ",\"signature_name\":\"\",\"version\":\"{}\"}},\"metadata\":{{\"signature_def\":{{\"signature_def\":{{\"serving_default\":{{\"inputs\":{{",
        cell.version
    ));
    for (i, f) in sig.inputs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tensor(&mut out, &f.name, f.dtype);
    }
    out.push_str("},\"outputs\":{");
    for (i, o) in sig.outputs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tensor(&mut out, &o.field.name, o.field.dtype);
    }
    out.push_str("},\"method_name\":\"tensorflow/serving/predict\",\"defaults\":{}}}}}}");
    Answer::ok(out)
}
