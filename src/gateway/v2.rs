//! The Open Inference Protocol (KServe V2, Triton, MLServer): `/v2/models/{m}` metadata and
//! `/infer` with JSON tensors, or with the binary tensor extension that tritonclient uses by
//! default (a JSON header of `Inference-Header-Content-Length` bytes, then raw little-endian
//! tensor data).
//!
//! A tabular model takes either one `[N, k]` tensor whose k columns are its fields in feature
//! order — what KServe's and Triton's clients send for scikit-learn-style models — or one
//! `[N]` (or `[N, 1]`) tensor per field, named after the field. Each output field comes back
//! as its own `[N]` tensor.

use super::json::{self, Json, ParseError, write_float, write_str, write_value};
use super::predict;
use crate::runtime::{DType, FieldSpec, Signature, Value};

pub struct InferRequest {
    pub id: Option<String>,
    pub rows: Vec<Vec<Value>>,
    /// Positions (in the signature's outputs) of the outputs the caller asked for, in its
    /// order, each once (all outputs when absent).
    pub outputs: Option<Vec<usize>>,
}

/// The Open Inference Protocol's tensor datatypes.
const DATATYPES: [&str; 13] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
    "FP32", "FP64", "BYTES",
];

fn datatype(d: DType) -> &'static str {
    match d {
        DType::Double => "FP64",
        DType::Float => "FP32",
        DType::Integer => "INT64",
        DType::String => "BYTES",
        DType::Boolean => "BOOL",
    }
}

pub fn metadata(model: &str, versions: &[u32], sig: &Signature, platform: &str) -> String {
    let tensors = |out: &mut String, fields: &mut dyn Iterator<Item = &FieldSpec>| {
        out.push('[');
        for (i, f) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            write_str(out, &f.name);
            out.push_str(&format!(
                ",\"datatype\":\"{}\",\"shape\":[-1]}}",
                datatype(f.dtype)
            ));
        }
        out.push(']');
    };
    let mut out = String::from("{\"name\":");
    write_str(&mut out, model);
    out.push_str(",\"versions\":[");
    let list: Vec<String> = versions.iter().map(|v| format!("\"{v}\"")).collect();
    out.push_str(&list.join(","));
    out.push_str("],\"platform\":");
    write_str(&mut out, platform);
    out.push_str(",\"inputs\":");
    tensors(&mut out, &mut sig.inputs.iter());
    out.push_str(",\"outputs\":");
    tensors(&mut out, &mut sig.outputs.iter().map(|o| &o.field));
    out.push('}');
    out
}

/// Why an infer request was refused.
#[derive(Debug)]
pub enum RequestError {
    /// The JSON header did not parse (or held more values than the budget).
    Json(ParseError),
    /// It parsed but does not say what the model takes; the message names the input.
    Invalid(String),
}

impl From<String> for RequestError {
    fn from(m: String) -> Self {
        RequestError::Invalid(m)
    }
}

impl From<&str> for RequestError {
    fn from(m: &str) -> Self {
        RequestError::Invalid(m.to_string())
    }
}

/// Reads an infer request; `header_len` is the binary extension's header, when sent. The JSON
/// may hold at most `budget` values, and every tensor's shape is checked against the data
/// that came with it and against `max_rows` before anything is sized from it.
pub fn request(
    body: &[u8],
    header_len: Option<Result<usize, std::num::ParseIntError>>,
    sig: &Signature,
    budget: usize,
    max_rows: usize,
) -> Result<InferRequest, RequestError> {
    let (head, mut binary) = match header_len {
        None => (body, &[][..]),
        Some(Ok(n)) if n <= body.len() => body.split_at(n),
        Some(Ok(n)) => {
            return Err(format!(
                "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                body.len()
            )
            .into());
        }
        Some(Err(_)) => return Err("Inference-Header-Content-Length is not a number".into()),
    };
    let doc = json::parse_bounded(head, budget).map_err(RequestError::Json)?;
    let id = match doc.get("id") {
        Some(Json::Str(s)) => Some(s.clone()),
        Some(Json::Num(n, _)) => Some(format!("{n}")),
        _ => None,
    };
    let Some(Json::Arr(inputs)) = doc.get("inputs") else {
        return Err("the request needs an 'inputs' list of tensors".into());
    };
    let mut tensors = Vec::with_capacity(inputs.len());
    for t in inputs {
        let name = match t.get("name") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err("every input tensor needs a 'name'".into()),
        };
        let shape: Vec<usize> = match t.get("shape") {
            Some(Json::Arr(dims)) => dims
                .iter()
                .map(|d| match d {
                    Json::Num(n, true) if *n >= 0.0 && *n < 9.0e15 => Ok(*n as usize),
                    Json::Num(n, true) if *n >= 9.0e15 => Err(format!(
                        "input {name}: shape {} is too large",
                        d.debug_string(64)
                    )),
                    _ => Err(format!("input {name}: shape must list whole numbers")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("input {name} needs a 'shape'").into()),
        };
        let dtype = match t.get("datatype") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err(format!("input {name} needs a 'datatype'").into()),
        };
        let count = checked_count(&name, &shape, max_rows)?;
        if count > budget {
            return Err(format!(
                "input {name}: shape {shape:?} holds {count} values, more than {max_rows} records of this model's {} inputs need; split the batch",
                sig.inputs.len()
            )
            .into());
        }
        let binary_size = match t.get("parameters").and_then(|p| p.get("binary_data_size")) {
            None => None,
            Some(Json::Num(n, true)) if *n >= 0.0 && *n < 9.0e15 => Some(*n as usize),
            Some(other) => {
                return Err(format!(
                    "input {name}: binary_data_size must be a whole number of bytes, not {}",
                    other.debug_string(64)
                )
                .into());
            }
        };
        if !DATATYPES.contains(&dtype.as_str()) {
            return Err(format!(
                "input {name}: datatype {dtype} is not one of the protocol's ({})",
                DATATYPES.join(", ")
            )
            .into());
        }
        let values = match (binary_size, t.get("data")) {
            (Some(size), _) => {
                if size > binary.len() {
                    return Err(format!(
                        "input {name} announces {size} bytes of binary data but only {} remain",
                        binary.len()
                    )
                    .into());
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                decode(&name, &dtype, mine, count)?
            }
            (None, Some(data)) => {
                // Sized by the data that came, never by the shape the request claims.
                let mut flat = Vec::new();
                flatten(data, &mut flat);
                flat
            }
            (None, None) => return Err(format!("input {name} has no 'data'").into()),
        };
        if values.len() != count {
            return Err(format!(
                "input {name} has shape {shape:?} ({count} values) but {} values",
                values.len()
            )
            .into());
        }
        tensors.push((name, shape, values));
    }
    if !binary.is_empty() {
        return Err(format!(
            "{} bytes of binary data follow the last tensor that announces any: check each input's binary_data_size",
            binary.len()
        )
        .into());
    }
    let rows = rows(tensors, sig)?;
    let outputs = match doc.get("outputs") {
        Some(Json::Arr(list)) => Some(requested_outputs(list, sig)?),
        Some(_) => return Err("'outputs' must be a list of {\"name\": …} objects".into()),
        None => None,
    };
    Ok(InferRequest { id, rows, outputs })
}

/// The outputs a request names, each once and each one the model has: the answer is written
/// per requested output, so a list that repeats one would multiply the answer's size.
fn requested_outputs(list: &[Json], sig: &Signature) -> Result<Vec<usize>, String> {
    let mut chosen: Vec<usize> = Vec::with_capacity(list.len().min(sig.outputs.len()));
    for o in list {
        let Some(Json::Str(name)) = o.get("name") else {
            return Err("every requested output needs a 'name'".into());
        };
        let Some(i) = sig.outputs.iter().position(|o| o.field.name == *name) else {
            let all: Vec<&str> = sig.outputs.iter().map(|o| o.field.name.as_str()).collect();
            return Err(format!(
                "unknown output {name}: this model has {}",
                all.join(",")
            ));
        };
        if chosen.contains(&i) {
            return Err(format!("output {name} is requested twice"));
        }
        chosen.push(i);
    }
    Ok(chosen)
}

/// The number of values a shape holds, refused when its batch (the first dimension) is over
/// the service's limit or the product does not fit in memory at all.
fn checked_count(name: &str, shape: &[usize], max_rows: usize) -> Result<usize, String> {
    if let Some(&rows) = shape.first()
        && rows > max_rows
    {
        return Err(format!(
            "input {name}: shape {shape:?} has {rows} records; this service takes at most {max_rows} per request (split the batch)"
        ));
    }
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("input {name}: shape {shape:?} is too large"))
}

fn flatten(v: &Json, out: &mut Vec<Json>) {
    match v {
        Json::Arr(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.clone()),
    }
}

/// Raw little-endian tensor bytes as JSON values, so one conversion path checks them all.
/// Decodes `bytes` as `count` values of `dtype` (the shape's count, already checked against
/// the service's limits): a length that does not match is refused before anything is
/// allocated for it.
fn decode(name: &str, dtype: &str, bytes: &[u8], count: usize) -> Result<Vec<Json>, String> {
    // `count` values of `width` bytes each, the length checked before anything is allocated.
    let each = |width: usize| {
        let expected = count.saturating_mul(width);
        if bytes.len() == expected {
            Ok(bytes.chunks_exact(width))
        } else {
            Err(format!(
                "input {name}: its shape holds {count} {dtype} values ({expected} bytes) but binary_data_size is {}",
                bytes.len()
            ))
        }
    };
    fn le<const N: usize>(c: &[u8]) -> [u8; N] {
        c.try_into().unwrap_or([0; N])
    }
    let int = |v: i128| Json::Num(v as f64, true);
    match dtype {
        "BOOL" => Ok(each(1)?.map(|c| Json::Bool(c[0] != 0)).collect()),
        "UINT8" => Ok(each(1)?.map(|c| int(c[0].into())).collect()),
        "INT8" => Ok(each(1)?
            .map(|c| int(i8::from_le_bytes(le(c)).into()))
            .collect()),
        "UINT16" => Ok(each(2)?
            .map(|c| int(u16::from_le_bytes(le(c)).into()))
            .collect()),
        "INT16" => Ok(each(2)?
            .map(|c| int(i16::from_le_bytes(le(c)).into()))
            .collect()),
        "UINT32" => Ok(each(4)?
            .map(|c| int(u32::from_le_bytes(le(c)).into()))
            .collect()),
        "INT32" => Ok(each(4)?
            .map(|c| int(i32::from_le_bytes(le(c)).into()))
            .collect()),
        "UINT64" => Ok(each(8)?
            .map(|c| int(u64::from_le_bytes(le(c)).into()))
            .collect()),
        "INT64" => Ok(each(8)?
            .map(|c| int(i64::from_le_bytes(le(c)).into()))
            .collect()),
        "FP32" => Ok(each(4)?
            .map(|c| Json::Num(f32::from_le_bytes(le(c)).into(), false))
            .collect()),
        "FP64" => Ok(each(8)?
            .map(|c| Json::Num(f64::from_le_bytes(le(c)), false))
            .collect()),
        "BYTES" => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                if out.len() == count {
                    return Err(format!(
                        "input {name}: binary data holds more than the {count} BYTES elements its shape says"
                    ));
                }
                let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                    return Err(format!("input {name}: truncated BYTES element"));
                };
                let len = u32::from_le_bytes(*len) as usize;
                if len > tail.len() {
                    return Err(format!("input {name}: truncated BYTES element"));
                }
                let (s, tail) = tail.split_at(len);
                out.push(Json::Str(String::from_utf8_lossy(s).into_owned()));
                rest = tail;
            }
            Ok(out)
        }
        other => Err(format!(
            "input {name}: datatype {other} is not supported in binary form; send FP64, FP32, INT64, INT32, BOOL or BYTES"
        )),
    }
}

type Tensor = (String, Vec<usize>, Vec<Json>);

fn rows(tensors: Vec<Tensor>, sig: &Signature) -> Result<Vec<Vec<Value>>, String> {
    let inputs = &sig.inputs;
    let k = inputs.len();
    if k == 0 {
        return Err("this model takes no inputs".into());
    }
    let named = |n: &str| inputs.iter().position(|f| f.name == n);
    // One tensor holding every field, columns in feature order.
    if let [(name, shape, values)] = tensors.as_slice()
        && (named(name).is_none() || k == 1)
    {
        let width = match shape.as_slice() {
            [_, w] => *w,
            [w] if k > 1 => *w,
            [_] => 1,
            _ => 0,
        };
        if width != k {
            return Err(format!(
                "input {name} has shape {shape:?}; this model takes [N, {k}] with columns in feature order ({}), or one [N] tensor per field",
                feature_names(sig).join(",")
            ));
        }
        let order = feature_positions(sig);
        return values
            .chunks(k)
            .enumerate()
            .map(|(n, chunk)| {
                let mut row = vec![Value::Missing; k];
                for (v, &i) in chunk.iter().zip(&order) {
                    row[i] = predict::value(v, &inputs[i])
                        .map_err(|e| format!("record {n}, {}: {e}", inputs[i].name))?;
                }
                Ok(row)
            })
            .collect();
    }
    // One tensor per field.
    let mut columns: Vec<Option<&Vec<Json>>> = vec![None; k];
    let mut batch = None;
    for (name, shape, values) in &tensors {
        let i = named(name).ok_or_else(|| {
            format!(
                "unknown input {name}: this model takes {}",
                feature_names(sig).join(",")
            )
        })?;
        if !matches!(shape.as_slice(), [_] | [_, 1]) {
            return Err(format!(
                "input {name} has shape {shape:?}; a field takes [N] or [N, 1]"
            ));
        }
        if *batch.get_or_insert(values.len()) != values.len() {
            return Err(format!(
                "input {name} has {} values; every input needs one per record",
                values.len()
            ));
        }
        columns[i] = Some(values);
    }
    if let Some(missing) = columns.iter().position(Option::is_none) {
        return Err(format!("missing input {}", inputs[missing].name));
    }
    (0..batch.unwrap_or(0))
        .map(|r| {
            inputs
                .iter()
                .zip(&columns)
                .map(|(f, c)| {
                    let v = c.map_or(&Json::Null, |c| &c[r]);
                    predict::value(v, f).map_err(|e| format!("record {r}, {}: {e}", f.name))
                })
                .collect()
        })
        .collect()
}

fn feature_names(sig: &Signature) -> Vec<&str> {
    match &sig.feature_order {
        Some(order) => order.iter().map(String::as_str).collect(),
        None => sig.inputs.iter().map(|f| f.name.as_str()).collect(),
    }
}

/// Signature input positions in feature order.
fn feature_positions(sig: &Signature) -> Vec<usize> {
    let names = feature_names(sig);
    names
        .iter()
        .filter_map(|n| sig.inputs.iter().position(|f| f.name == *n))
        .collect()
}

pub fn answer(
    model: &str,
    version: u32,
    req: &InferRequest,
    sig: &Signature,
    rows: &[Vec<Value>],
) -> String {
    let chosen: Vec<usize> = match &req.outputs {
        Some(chosen) => chosen.clone(),
        None => (0..sig.outputs.len()).collect(),
    };
    let mut out = String::from("{\"model_name\":");
    write_str(&mut out, model);
    out.push_str(&format!(",\"model_version\":\"{version}\""));
    if let Some(id) = &req.id {
        out.push_str(",\"id\":");
        write_str(&mut out, id);
    }
    out.push_str(",\"outputs\":[");
    for (k, &i) in chosen.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let f = &sig.outputs[i].field;
        out.push_str("{\"name\":");
        write_str(&mut out, &f.name);
        out.push_str(&format!(
            ",\"datatype\":\"{}\",\"shape\":[{}],\"data\":[",
            datatype(f.dtype),
            rows.len()
        ));
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            match (&row[i], f.dtype) {
                (Value::Missing, _) => out.push_str("null"),
                (Value::Integer(v), DType::Double | DType::Float) => {
                    write_float(&mut out, *v as f64)
                }
                (v, _) => write_value(&mut out, v),
            }
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}
