//! TF Serving's `:predict` body, both ways: a request's `instances` (row format) or `inputs`
//! (columnar format) become records aligned with the model's signature, and the answer
//! mirrors the request's format. Messages are TF Serving's own (`util/json_tensor.cc`), so a
//! client written against TF Serving sees the errors it knows.
//!
//! Beyond TF Serving, a row may also be a positional array in the signature's feature order
//! (what KServe's PMML server takes), and `null` is a missing value, which the model's own
//! missing-value rules handle.

use super::json::{Json, write_json, write_str, write_value};
use crate::runtime::{DType, FieldSpec, Signature, Value};

/// How the request was written, which decides how the answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Row,
    Columnar,
}

/// The records of a predict request, in signature input order.
#[derive(Debug)]
pub struct Records {
    pub format: Format,
    pub rows: Vec<Vec<Value>>,
}

/// TF Serving truncates values quoted in messages at this many bytes.
const DEBUG_LIMIT: usize = 256;

/// Reads a parsed predict body against `signature`; the error is TF Serving's message (400).
pub fn records(doc: &Json, signature: &Signature) -> Result<Records, String> {
    let Json::Obj(_) = doc else {
        return Err(format!(
            "JSON Value: {} Is not object",
            doc.debug_string(DEBUG_LIMIT)
        ));
    };
    match doc.get("signature_name") {
        None => {}
        Some(Json::Str(s)) if s.is_empty() || s == "serving_default" => {}
        Some(Json::Str(s)) => {
            return Err(format!(
                "Serving signature name: \"{s}\" not found in signature def"
            ));
        }
        Some(_) => {
            return Err(format!(
                "JSON Value: {} not formatted correctly. 'signature_name' key must be a string value.",
                doc.debug_string(DEBUG_LIMIT)
            ));
        }
    }
    let inputs = &signature.inputs;
    match (doc.get("instances"), doc.get("inputs")) {
        (Some(_), Some(_)) => Err(format!(
            "JSON Value: {} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
            doc.debug_string(DEBUG_LIMIT)
        )),
        (Some(Json::Arr(items)), None) if items.is_empty() => Err(format!(
            "JSON Value: {} No values in 'instances' array",
            doc.debug_string(DEBUG_LIMIT)
        )),
        (Some(Json::Arr(items)), None) => Ok(Records {
            format: Format::Row,
            rows: rows(items, inputs)?,
        }),
        (Some(_), None) => Err(format!(
            "JSON Value: {} Excepting 'instances' to be an list/array",
            doc.debug_string(DEBUG_LIMIT)
        )),
        (None, Some(columns)) => Ok(Records {
            format: Format::Columnar,
            rows: columnar(columns, inputs)?,
        }),
        (None, None) => Err("Missing 'inputs' or 'instances' key".into()),
    }
}

fn rows(items: &[Json], inputs: &[FieldSpec]) -> Result<Vec<Vec<Value>>, String> {
    let objects = matches!(items[0], Json::Obj(_));
    if !objects && inputs.len() > 1 && !matches!(items[0], Json::Arr(_)) {
        return Err("instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map".into());
    }
    // A sparse instance is a row of every feature: a few bytes of request can ask for a lot of
    // memory on a wide model, so each one is counted before it expands.
    let most_sparse = (MAX_SPARSE_CELLS / inputs.len().max(1)).max(1);
    let mut sparse_rows = 0;
    let values_input = inputs.iter().any(|f| f.name == "values");
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let row = match item {
            // Angel Serving's sparse form: the features given by index, the rest left out.
            Json::Obj(_) if item.get("sparseIndices").is_some() => {
                sparse_rows += 1;
                if sparse_rows > most_sparse {
                    return Err(format!(
                        "sparse instances of this model's {} features are more than one request may expand to; send at most {most_sparse} per request",
                        inputs.len()
                    ));
                }
                sparse(item, inputs).map_err(|e| {
                    format!("Failed to process element: {n} of 'instances' list. Error: INVALID_ARGUMENT: {e}")
                })?
            }
            // Angel Serving's named dense form, `{"values": [...], "key": id}`: the values are
            // the features in order (for a model with no input called `values`).
            Json::Obj(members) if !values_input && named_dense(members).is_some() => {
                positional(n, named_dense(members).unwrap_or_default(), inputs)?
            }
            Json::Obj(members) if objects => {
                let mut row = vec![Value::Missing; inputs.len()];
                let mut seen = vec![false; inputs.len()];
                // Keys the model does not read are ignored, as `score` ignores extra columns:
                // clients send whole records, and a PMML model may use only some fields.
                for (key, v) in members {
                    let Some(i) = inputs.iter().position(|f| f.name == *key) else {
                        continue;
                    };
                    row[i] = value(v, &inputs[i]).map_err(|e| {
                        format!("Failed to process element: {n} key: {key} of 'instances' list. Error: INVALID_ARGUMENT: {e}")
                    })?;
                    seen[i] = true;
                }
                if seen.contains(&false) {
                    return Err(format!(
                        "Failed to process element: {n} of 'instances' list. JSON object: {} keys must be equal to: {}",
                        item.debug_string(DEBUG_LIMIT),
                        key_list(inputs)
                    ));
                }
                row
            }
            Json::Obj(_) => {
                return Err(format!(
                    "Expecting value/list but got object at item {n} of input list"
                ));
            }
            _ if objects => {
                return Err(format!(
                    "Expecting object but got list at item {n} of input list"
                ));
            }
            // A positional row, in feature order.
            Json::Arr(values)
                if inputs.len() > 1 || matches!(values.first(), Some(Json::Arr(_))) =>
            {
                let values = match values.as_slice() {
                    [Json::Arr(inner)] if inputs.len() > 1 => inner,
                    _ => values,
                };
                positional(n, values, inputs)?
            }
            // One input: the element is its value (or a one-element list of it).
            v => {
                let v = match v {
                    Json::Arr(one) if one.len() == 1 => &one[0],
                    v => v,
                };
                vec![value(v, &inputs[0]).map_err(|e| {
                    format!("Failed to process element: {n} of 'instances' list. Error: INVALID_ARGUMENT: {e}")
                })?]
            }
        };
        out.push(row);
    }
    Ok(out)
}

/// The most values the sparse instances of one request may expand to (24 bytes each).
const MAX_SPARSE_CELLS: usize = 4 << 20;

/// The input names a record must have, sorted; a wide model's (Angel's "0"…"N-1") by count.
fn key_list(inputs: &[FieldSpec]) -> String {
    if inputs.len() > 64 {
        return format!("its {} inputs (see the model's metadata)", inputs.len());
    }
    let mut names: Vec<&str> = inputs.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    names.join(",")
}

/// The features of record `n` given in feature order.
fn positional(n: usize, values: &[Json], inputs: &[FieldSpec]) -> Result<Vec<Value>, String> {
    if values.len() != inputs.len() {
        let names: Vec<&str> = inputs.iter().map(|f| f.name.as_str()).collect();
        // A wide model (Angel's features are "0"…"N-1") is named by its range, not listed.
        let order = match names.as_slice() {
            [first, .., last] if names.len() > 12 => format!("{first}…{last}"),
            _ => names.join(","),
        };
        return Err(format!(
            "Failed to process element: {n} of 'instances' list. Error: INVALID_ARGUMENT: expecting {} values in feature order ({order}), got {}",
            inputs.len(),
            values.len()
        ));
    }
    values
        .iter()
        .zip(inputs)
        .map(|(v, f)| value(v, f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "Failed to process element: {n} of 'instances' list. Error: INVALID_ARGUMENT: {e}"
            )
        })
}

/// The list of Angel Serving's named dense form: an object of at most two members, one of
/// them `values` holding a list (read so only for a model with no input of that name).
fn named_dense(members: &[(String, Json)]) -> Option<&[Json]> {
    if members.len() > 2 {
        return None;
    }
    members.iter().find_map(|(k, v)| match v {
        Json::Arr(values) if k == "values" => Some(values.as_slice()),
        _ => None,
    })
}

/// `{"sparseIndices": [i…], "sparseValues": [v…]}`: a row with input `i` set to `v` and the
/// others missing (a repeated index keeps its last value, as Angel Serving does). The row is
/// sized by the signature, never by the request.
fn sparse(item: &Json, inputs: &[FieldSpec]) -> Result<Vec<Value>, String> {
    let (Some(Json::Arr(idx)), Some(Json::Arr(vals))) =
        (item.get("sparseIndices"), item.get("sparseValues"))
    else {
        return Err("sparseIndices and sparseValues must both be lists".into());
    };
    if idx.len() != vals.len() {
        return Err(format!(
            "sparseIndices has {} entries and sparseValues {}: give one value per index",
            idx.len(),
            vals.len()
        ));
    }
    let mut row = vec![Value::Missing; inputs.len()];
    for (i, v) in idx.iter().zip(vals) {
        let i = match i {
            Json::Num(n, true) if *n >= 0.0 && (*n as usize) < inputs.len() => *n as usize,
            other => {
                return Err(format!(
                    "sparse index {} is not a feature of this model (0 to {})",
                    other.debug_string(DEBUG_LIMIT),
                    inputs.len().saturating_sub(1)
                ));
            }
        };
        row[i] = value(v, &inputs[i])?;
        if row[i] == Value::Missing {
            return Err(format!("sparse value for feature {i} is null"));
        }
    }
    Ok(row)
}

/// A list is the batch; a plain value is a batch of one.
fn batch_of(v: &Json) -> &[Json] {
    match v {
        Json::Arr(items) => items,
        other => std::slice::from_ref(other),
    }
}

fn columnar(columns: &Json, inputs: &[FieldSpec]) -> Result<Vec<Vec<Value>>, String> {
    let columns: Vec<&[Json]> = match columns {
        Json::Obj(_) => inputs
            .iter()
            .map(|f| {
                columns
                    .get(&f.name)
                    .map(batch_of)
                    .ok_or_else(|| format!("Missing named input: {} in 'inputs' object.", f.name))
            })
            .collect::<Result<_, _>>()?,
        // A tabular model's one [N, k] tensor: rows of its fields in feature order, as
        // KServe's and TF Serving clients send scikit-learn-style models.
        Json::Arr(items)
            if inputs.len() > 1
                && !items.is_empty()
                && items.iter().all(|i| matches!(i, Json::Arr(_))) =>
        {
            return rows(items, inputs);
        }
        _ if inputs.len() > 1 => {
            return Err("inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map".into());
        }
        other => vec![batch_of(other)],
    };
    let batch = columns.first().map_or(0, |c| c.len());
    if let Some((f, c)) = inputs.iter().zip(&columns).find(|(_, c)| c.len() != batch) {
        return Err(format!(
            "Input: {} has a batch size of {} but {} has {batch}; every input needs one value per record",
            f.name,
            c.len(),
            inputs[0].name
        ));
    }
    (0..batch)
        .map(|r| {
            inputs
                .iter()
                .zip(&columns)
                .map(|(f, c)| value(&c[r], f))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

/// TF's name for a dtype, as its messages print it.
pub fn tf_dtype(d: DType) -> &'static str {
    match d {
        DType::Double => "double",
        DType::Float => "float",
        DType::Integer => "int64",
        DType::String => "string",
        DType::Boolean => "bool",
    }
}

/// One JSON value as an input of `field`'s type.
pub fn value(v: &Json, field: &FieldSpec) -> Result<Value, String> {
    let type_error = || {
        format!(
            "JSON Value: {} Type: {} is not of expected type: {}",
            v.debug_string(DEBUG_LIMIT),
            v.type_name(),
            tf_dtype(field.dtype)
        )
    };
    Ok(match (v, field.dtype) {
        (Json::Null, _) => Value::Missing,
        (Json::Num(n, _), DType::Double | DType::Float) => Value::Number(*n),
        (Json::Num(n, true), DType::Integer) => Value::Integer(*n as i64),
        (Json::Str(s), DType::String) => Value::String(s.as_str().into()),
        // Categories written as numbers (`"color": 3`) are what clients send for coded fields.
        (Json::Num(n, _), DType::String) => Value::Number(*n),
        (Json::Bool(b), DType::Boolean) => Value::Boolean(*b),
        _ => return Err(type_error()),
    })
}

/// Writes the answer for `rows` (one row of values per record, in `signature.outputs` order).
pub fn answer(format: Format, signature: &Signature, rows: &[Vec<Value>]) -> String {
    let names: Vec<&str> = signature
        .outputs
        .iter()
        .map(|o| o.field.name.as_str())
        .collect();
    let mut out = String::with_capacity(64 + rows.len() * 32 * names.len().max(1));
    match format {
        Format::Row => {
            out.push_str("{\"predictions\":[");
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if names.len() == 1 {
                    write_value(&mut out, &row[0]);
                    continue;
                }
                out.push('{');
                for (k, (name, v)) in names.iter().zip(row).enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    write_str(&mut out, name);
                    out.push(':');
                    write_value(&mut out, v);
                }
                out.push('}');
            }
            out.push_str("]}");
        }
        Format::Columnar => {
            out.push_str("{\"outputs\":");
            let column = |out: &mut String, k: usize| {
                out.push('[');
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(out, &row[k]);
                }
                out.push(']');
            };
            if names.len() == 1 {
                column(&mut out, 0);
            } else {
                out.push('{');
                for (k, name) in names.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    write_str(&mut out, name);
                    out.push(':');
                    column(&mut out, k);
                }
                out.push('}');
            }
            out.push('}');
        }
    }
    out
}

/// `{"error": message}`, as every gateway error is written.
pub fn error_body(message: &str) -> String {
    let mut out = String::from("{\"error\":");
    write_json(&mut out, &Json::Str(message.to_string()));
    out.push('}');
    out
}
