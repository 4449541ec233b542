//! TF Serving's Classify and Regress APIs over REST (`:classify`, `:regress`): a request
//! carries `examples` (objects of feature values, each value plain or a one-element list, as
//! `tf.Example` feature lists are written) and an optional `context` whose features every
//! example shares; the answer is `{"results": …}` — per example `[[label, score], …]` for
//! classify, one number for regress (the key is `results`, as TF Serving's code and tests
//! write it, whatever its prose says).
//!
//! Which outputs answer comes from their roles in the signature: class probabilities for
//! classify, the predicted value for regress. A model without them is refused with a message
//! that names the verb that fits.

use super::json::{Json, write_str, write_value};
use super::path::Verb;
use super::predict;
use crate::runtime::{OutputRole, Signature, Value};

/// What the answer takes from each scored row.
pub enum Shape {
    /// Output positions and their class labels.
    Classes(Vec<(usize, String)>),
    /// The position of the predicted value.
    Value(usize),
}

pub fn records(
    doc: &Json,
    verb: Verb,
    sig: &Signature,
    model: &str,
    max_rows: usize,
) -> Result<(Vec<Vec<Value>>, Shape), String> {
    let method = if verb == Verb::Classify {
        "classify"
    } else {
        "regress"
    };
    let shape = shape(verb, sig, model)?;
    let Json::Obj(_) = doc else {
        return Err("JSON Value is not an object".into());
    };
    let examples = match doc.get("examples") {
        Some(Json::Arr(items)) if !items.is_empty() => items,
        Some(Json::Arr(_)) => return Err("'examples' must be a non-empty list".into()),
        Some(_) => return Err("'examples' must be a list of objects".into()),
        None => {
            return Err(format!(
                "When method is {method}, key 'examples' is expected and was not found"
            ));
        }
    };
    if examples.len() > max_rows {
        return Err(format!(
            "the request has {} examples; this service takes at most {max_rows} per request (split the batch)",
            examples.len()
        ));
    }
    // The context's value for each input, found once (a context may be large; every example
    // shares it).
    let context: Vec<Option<&Json>> = match doc.get("context") {
        Some(Json::Obj(members)) => sig
            .inputs
            .iter()
            .map(|f| members.iter().find(|(k, _)| *k == f.name).map(|(_, v)| v))
            .collect(),
        Some(_) => return Err("'context' must be an object of features".into()),
        None => vec![None; sig.inputs.len()],
    };
    let mut rows = Vec::with_capacity(examples.len());
    for (n, example) in examples.iter().enumerate() {
        let Json::Obj(members) = example else {
            return Err(format!("example {n} is not an object of features"));
        };
        let mut row = Vec::with_capacity(sig.inputs.len());
        for (field, shared) in sig.inputs.iter().zip(&context) {
            let found = members
                .iter()
                .find(|(k, _)| *k == field.name)
                .map(|(_, v)| v)
                .or(*shared);
            let v = match found {
                // A feature list of one value is that value.
                Some(Json::Arr(one)) if one.len() == 1 => &one[0],
                Some(Json::Arr(_)) => {
                    return Err(format!(
                        "example {n}: feature {} must have one value",
                        field.name
                    ));
                }
                Some(v) => v,
                None => {
                    return Err(format!(
                        "example {n} has no feature {} (in the example or the context)",
                        field.name
                    ));
                }
            };
            row.push(
                predict::value(v, field)
                    .map_err(|e| format!("example {n}: feature {}: {e}", field.name))?,
            );
        }
        rows.push(row);
    }
    Ok((rows, shape))
}

fn shape(verb: Verb, sig: &Signature, model: &str) -> Result<Shape, String> {
    let classes: Vec<(usize, String)> = sig
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match &o.role {
            OutputRole::Probability { class } => Some((i, class.clone())),
            _ => None,
        })
        .collect();
    let value = sig
        .outputs
        .iter()
        .position(|o| o.role == OutputRole::PredictedValue);
    match (verb, value) {
        (Verb::Classify, _) if !classes.is_empty() => Ok(Shape::Classes(classes)),
        (Verb::Classify, _) => Err(format!(
            "model {model} reports no class probabilities, so it cannot classify: use :predict{}",
            if value.is_some() { " or :regress" } else { "" }
        )),
        (_, Some(i)) => Ok(Shape::Value(i)),
        _ => Err(format!(
            "model {model} predicts no numeric value, so it cannot regress: use :predict{}",
            if classes.is_empty() {
                ""
            } else {
                " or :classify"
            }
        )),
    }
}

pub fn answer(shape: &Shape, rows: &[Vec<Value>]) -> String {
    let mut out = String::from("{\"results\":[");
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match shape {
            Shape::Classes(classes) => {
                out.push('[');
                for (k, (i, label)) in classes.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_str(&mut out, label);
                    out.push(',');
                    write_value(&mut out, &row[*i]);
                    out.push(']');
                }
                out.push(']');
            }
            Shape::Value(i) => write_value(&mut out, &row[*i]),
        }
    }
    out.push_str("]}");
    out
}
