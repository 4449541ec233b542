//! Between TF Serving's JSON (`instances`/`inputs` in, `predictions`/`outputs` out) and the
//! Open Inference Protocol's tensors, for a caller and an upstream that speak different ones.
//!
//! Tensors and rows are the same data cut two ways: a V2 tensor of shape `[n, d…]` is `n`
//! rows of shape `[d…]`, and a row of named values is one tensor per name. Every shape a
//! request states is checked against the data it carries before anything is built from it.

use serde_json::{Map, Value, json};

/// How the caller's TF Serving request was laid out, which its answer repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `instances` in, `predictions` out.
    Rows,
    /// `inputs` in, `outputs` out.
    Columns,
}

fn bad(m: impl Into<String>) -> String {
    m.into()
}

/// The most row × tensor cells a V2 request may become as records.
const MAX_CELLS: usize = 1 << 20;

/// A request's rows against the service's limit, in the words the native path uses.
fn within(rows: usize, max_rows: usize) -> Result<(), String> {
    if rows > max_rows {
        return Err(format!(
            "the request has {rows} records; this service takes at most {max_rows} per request (split the batch)"
        ));
    }
    Ok(())
}

/// The rows of a column: its first dimension.
fn rows_in(v: &Value) -> usize {
    v.as_array().map_or(1, Vec::len)
}

/// The shape of nested arrays, following the first element at each depth.
fn shape_of(v: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut at = v;
    while let Value::Array(a) = at {
        shape.push(a.len());
        match a.first() {
            Some(first) => at = first,
            None => break,
        }
    }
    shape
}

/// Appends the leaves of `v`, checking that it is rectangular with `shape`.
fn flatten(v: &Value, shape: &[usize], out: &mut Vec<Value>) -> Result<(), String> {
    match (v, shape.split_first()) {
        (Value::Array(a), Some((n, rest))) if a.len() == *n => {
            for e in a {
                flatten(e, rest, out)?;
            }
            Ok(())
        }
        (Value::Array(_), _) => Err(bad(
            "the rows are ragged: every row (and every list inside one) must have the same length",
        )),
        (Value::Object(_), _) => Err(bad(
            "a value is an object; only numbers, strings and booleans become tensor elements",
        )),
        (leaf, None) => {
            out.push(leaf.clone());
            Ok(())
        }
        (_, Some(_)) => Err(bad(
            "the rows are ragged: a list holds a value where others hold lists",
        )),
    }
}

/// The datatype of tensor elements, or `forced`.
fn datatype(data: &[Value], forced: Option<&str>) -> Result<String, String> {
    if let Some(d) = forced {
        return Ok(d.to_string());
    }
    if data.iter().all(Value::is_boolean) {
        return Ok("BOOL".into());
    }
    if data.iter().all(Value::is_number) {
        return Ok("FP64".into());
    }
    if data.iter().all(Value::is_string) {
        return Ok("BYTES".into());
    }
    Err(bad(
        "a tensor mixes numbers, strings or booleans; send one kind per input",
    ))
}

fn tensor(name: &str, rows: &Value, forced: Option<&str>) -> Result<Value, String> {
    let shape = shape_of(rows);
    let mut data = Vec::new();
    flatten(rows, &shape, &mut data)?;
    if data.iter().any(Value::is_null) {
        return Err(bad(format!(
            "input {name} has a null; tensors have no missing values"
        )));
    }
    let datatype = datatype(&data, forced)?;
    Ok(json!({"name": name, "shape": shape, "datatype": datatype, "data": data}))
}

/// A TF Serving `:predict` body as an Open Inference Protocol request.
pub fn tf_to_v2(
    body: &[u8],
    input_name: &str,
    forced: Option<&str>,
    max_rows: usize,
) -> Result<(Vec<u8>, Layout), String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(mut doc) = doc else {
        return Err(bad(
            "the body must be a JSON object with \"instances\" or \"inputs\"",
        ));
    };
    let (inputs, layout) = match (doc.remove("instances"), doc.remove("inputs")) {
        (Some(Value::Array(rows)), None) => {
            if rows.is_empty() {
                return Err(bad("\"instances\" is empty: send at least one record"));
            }
            within(rows.len(), max_rows)?;
            if rows.iter().all(Value::is_object) {
                (named_rows(&rows, forced)?, Layout::Rows)
            } else {
                (
                    vec![tensor(input_name, &Value::Array(rows), forced)?],
                    Layout::Rows,
                )
            }
        }
        (None, Some(Value::Object(columns)))
            if columns.values().all(|v| rows_in(v) <= max_rows) =>
        {
            (
                columns
                    .iter()
                    .map(|(name, v)| tensor(name, v, forced))
                    .collect::<Result<_, _>>()?,
                Layout::Columns,
            )
        }
        (None, Some(v @ Value::Array(_))) if rows_in(&v) <= max_rows => {
            (vec![tensor(input_name, &v, forced)?], Layout::Columns)
        }
        (Some(_), Some(_)) => {
            return Err(bad(
                "the body has both \"instances\" and \"inputs\"; send one",
            ));
        }
        (None, Some(Value::Object(columns))) => {
            let most = columns.values().map(rows_in).max().unwrap_or(0);
            return Err(within(most, max_rows).unwrap_err());
        }
        (None, Some(v @ Value::Array(_))) => return Err(within(rows_in(&v), max_rows).unwrap_err()),
        _ => {
            return Err(bad(
                "the body needs \"instances\" (a list of records) or \"inputs\" (columns)",
            ));
        }
    };
    // KServe's V2 answer repeats the request's id and fails without one.
    static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = json!({"id": format!("modeldeck-{id}"), "inputs": inputs});
    Ok((serde_json::to_vec(&out).map_err(|e| e.to_string())?, layout))
}

/// Records as objects: one tensor per name, every record holding the same names.
fn named_rows(rows: &[Value], forced: Option<&str>) -> Result<Vec<Value>, String> {
    let Some(Value::Object(first)) = rows.first() else {
        return Ok(Vec::new());
    };
    let mut tensors = Vec::with_capacity(first.len());
    for name in first.keys() {
        let column: Vec<Value> = rows
            .iter()
            .map(|r| {
                r.get(name).cloned().ok_or_else(|| {
                    bad(format!("a record lacks {name:?}, which the first record has; every record needs the same names"))
                })
            })
            .collect::<Result<_, _>>()?;
        if rows
            .iter()
            .any(|r| r.as_object().is_some_and(|o| o.len() != first.len()))
        {
            return Err(bad(
                "the records have different names; every record needs the same names",
            ));
        }
        tensors.push(tensor(name, &Value::Array(column), forced)?);
    }
    Ok(tensors)
}

/// The elements of a V2 tensor in row-major order (`data` may be flat or nested), checked
/// against its shape.
fn elements(t: &Map<String, Value>) -> Result<(String, Vec<usize>, Vec<Value>), String> {
    let name = t
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("output-0")
        .to_string();
    let shape: Vec<usize> = t
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("tensor {name} has no shape")))?
        .iter()
        .map(|d| {
            d.as_u64().map(|d| d as usize).ok_or_else(|| {
                bad(format!(
                    "tensor {name} has a shape that is not a list of sizes"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let data = t.get("data").ok_or_else(|| {
        bad(format!(
            "tensor {name} has no data (binary tensors cannot be translated)"
        ))
    })?;
    let mut flat = Vec::new();
    let data_shape = shape_of(data);
    flatten(data, &data_shape, &mut flat)?;
    let want = shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
    if want != Some(flat.len()) {
        return Err(bad(format!(
            "tensor {name} has shape {shape:?} but {} values",
            flat.len()
        )));
    }
    Ok((name, shape, flat))
}

/// `data` (row-major, `dims` checked against it) as nested lists.
fn nest(data: &[Value], dims: &[usize]) -> Value {
    match dims.split_first() {
        None => data.first().cloned().unwrap_or(Value::Null),
        Some((_, rest)) => {
            let size: usize = rest.iter().product::<usize>().max(1);
            Value::Array(data.chunks(size).map(|c| nest(c, rest)).collect())
        }
    }
}

/// A tensor as its rows: the first dimension is the batch.
fn rows_of(shape: &[usize], data: &[Value]) -> Vec<Value> {
    match shape.split_first() {
        None => data.to_vec(),
        Some((n, rest)) => {
            let size: usize = rest.iter().product::<usize>();
            if size == 0 {
                // `n` rows with nothing in them; `n` is bounded by the caller (a request's
                // row limit, checked before this).
                return vec![nest(&[], rest); *n];
            }
            data.chunks(size).map(|c| nest(c, rest)).collect()
        }
    }
}

/// An Open Inference Protocol answer as TF Serving's, laid out as the caller's request was.
pub fn v2_to_tf(body: &[u8], layout: Layout, max_rows: usize) -> Result<Vec<u8>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("its answer is not JSON: {e}"))?;
    let outputs = doc
        .get("outputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("its answer has no \"outputs\""))?;
    let mut tensors = Vec::with_capacity(outputs.len());
    for o in outputs {
        let o = o
            .as_object()
            .ok_or_else(|| bad("an output is not an object"))?;
        let tensor = elements(o)?;
        if tensor.1.first().is_some_and(|n| *n > max_rows) {
            return Err(format!(
                "its answer has {} rows, more than this service's {max_rows} per request",
                tensor.1[0]
            ));
        }
        tensors.push(tensor);
    }
    let out = match (layout, tensors.as_slice()) {
        (Layout::Rows, [(_, shape, data)]) => json!({"predictions": rows_of(shape, data)}),
        (Layout::Columns, [(_, shape, data)]) => json!({"outputs": nest(data, shape)}),
        (Layout::Rows, many) => {
            let columns: Vec<(String, Vec<Value>)> = many
                .iter()
                .map(|(n, s, d)| (n.clone(), rows_of(s, d)))
                .collect();
            let n = columns.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
            let rows: Vec<Value> = (0..n)
                .map(|i| {
                    Value::Object(
                        columns
                            .iter()
                            .map(|(name, r)| {
                                (name.clone(), r.get(i).cloned().unwrap_or(Value::Null))
                            })
                            .collect(),
                    )
                })
                .collect();
            json!({"predictions": rows})
        }
        (Layout::Columns, many) => {
            let map: Map<String, Value> = many
                .iter()
                .map(|(n, s, d)| (n.clone(), nest(d, s)))
                .collect();
            json!({"outputs": map})
        }
    };
    serde_json::to_vec(&out).map_err(|e| e.to_string())
}

/// What a V2 caller's request needs back: its id, to repeat.
#[derive(Debug)]
pub struct V2Call {
    pub id: Option<Value>,
}

/// An Open Inference Protocol request as a TF Serving `:predict` body (`instances`: one
/// tensor's rows, or records of several named tensors).
pub fn v2_to_tf_request(body: &[u8], max_rows: usize) -> Result<(Vec<u8>, V2Call), String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let inputs = doc
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the body needs \"inputs\": a list of tensors"))?;
    if inputs.is_empty() {
        return Err(bad("\"inputs\" is empty: send at least one tensor"));
    }
    let mut tensors = Vec::with_capacity(inputs.len());
    for t in inputs {
        let t = t
            .as_object()
            .ok_or_else(|| bad("an input is not an object"))?;
        if t.get("parameters")
            .and_then(|p| p.get("binary_data_size"))
            .is_some()
        {
            return Err(bad(
                "binary tensors cannot be translated for this upstream; send the data as JSON",
            ));
        }
        let (name, shape, data) = elements(t)?;
        if shape.is_empty() {
            return Err(bad(format!(
                "input {name} has no batch dimension: its shape needs [rows, ...]"
            )));
        }
        within(shape[0], max_rows)?;
        tensors.push((name, rows_of(&shape, &data), shape[0]));
    }
    let n = tensors[0].2;
    // Records of named tensors are rows × tensors objects, whatever the tensors hold: zero-wide
    // tensors cost nothing in the body and everything here.
    if n.saturating_mul(tensors.len()) > MAX_CELLS {
        return Err(format!(
            "{} tensors of {n} rows make more values than one request may; send fewer rows or tensors",
            tensors.len()
        ));
    }
    if tensors.iter().any(|(_, _, rows)| *rows != n) {
        return Err(bad(
            "the inputs have different numbers of rows (their first dimensions differ)",
        ));
    }
    let instances: Vec<Value> = match tensors.as_mut_slice() {
        [(_, rows, _)] => std::mem::take(rows),
        many => (0..n)
            .map(|i| {
                Value::Object(
                    many.iter()
                        .map(|(name, rows, _)| (name.clone(), rows[i].clone()))
                        .collect(),
                )
            })
            .collect(),
    };
    let out = json!({"instances": instances});
    Ok((
        serde_json::to_vec(&out).map_err(|e| e.to_string())?,
        V2Call {
            id: doc.get("id").cloned(),
        },
    ))
}

/// A TF Serving answer as the Open Inference Protocol's, for model `model` at `version`.
pub fn tf_to_v2_answer(
    body: &[u8],
    call: &V2Call,
    model: &str,
    version: u32,
) -> Result<Vec<u8>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("its answer is not JSON: {e}"))?;
    let predictions = doc
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("its answer has no \"predictions\""))?;
    let outputs: Vec<Value> = if !predictions.is_empty() && predictions.iter().all(Value::is_object)
    {
        let Some(Value::Object(first)) = predictions.first() else {
            return Err(bad("its answer has no predictions"));
        };
        first
            .keys()
            .map(|name| {
                let column: Vec<Value> = predictions
                    .iter()
                    .map(|p| p.get(name).cloned().unwrap_or(Value::Null))
                    .collect();
                answer_tensor(name, &Value::Array(column))
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![answer_tensor(
            "output-0",
            &Value::Array(predictions.clone()),
        )?]
    };
    let mut out =
        json!({"model_name": model, "model_version": version.to_string(), "outputs": outputs});
    if let Some(id) = &call.id {
        out["id"] = id.clone();
    }
    serde_json::to_vec(&out).map_err(|e| e.to_string())
}

fn answer_tensor(name: &str, rows: &Value) -> Result<Value, String> {
    let shape = shape_of(rows);
    let mut data = Vec::new();
    flatten(rows, &shape, &mut data)?;
    let datatype = if data.iter().all(|v| v.is_i64() || v.is_u64()) {
        "INT64".to_string()
    } else {
        datatype(&data, None)?
    };
    Ok(json!({"name": name, "shape": shape, "datatype": datatype, "data": data}))
}

/// An upstream's error answer in the caller's protocol (both use `{"error": "..."}`), so a
/// client library raises with the upstream's own words.
pub fn error_message(body: &[u8], status: u16) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            format!(
                "the upstream answered {status}: {}",
                crate::domain::clip(&String::from_utf8_lossy(body), 300)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn rows_become_one_tensor_and_its_rows_come_back() {
        let (body, layout) =
            tf_to_v2(br#"{"instances":[[1.5,2],[3,4]]}"#, "input-0", None, 100).unwrap();
        assert_eq!(layout, Layout::Rows);
        assert_eq!(
            j(&body)["inputs"],
            json!([{"name":"input-0","shape":[2,2],"datatype":"FP64","data":[1.5,2,3,4]}])
        );
        let answer = br#"{"model_name":"m","outputs":[{"name":"output-0","shape":[2],"datatype":"INT64","data":[1,2]}]}"#;
        assert_eq!(
            j(&v2_to_tf(answer, layout, 100).unwrap()),
            json!({"predictions":[1,2]})
        );
        let answer = br#"{"outputs":[{"name":"p","shape":[2,2],"datatype":"FP64","data":[[0.1,0.9],[0.8,0.2]]}]}"#;
        assert_eq!(
            j(&v2_to_tf(answer, layout, 100).unwrap()),
            json!({"predictions":[[0.1,0.9],[0.8,0.2]]})
        );
    }

    #[test]
    fn named_records_and_columns() {
        let (body, _) = tf_to_v2(
            br#"{"instances":[{"a":1,"b":"x"},{"a":2,"b":"y"}]}"#,
            "i",
            None,
            100,
        )
        .unwrap();
        let v = j(&body);
        assert_eq!(
            v["inputs"][0],
            json!({"name":"a","shape":[2],"datatype":"FP64","data":[1,2]})
        );
        assert_eq!(v["inputs"][1]["datatype"], "BYTES");
        let (body, layout) =
            tf_to_v2(br#"{"inputs":{"a":[1,2]}}"#, "i", Some("FP32"), 100).unwrap();
        assert_eq!(layout, Layout::Columns);
        assert_eq!(j(&body)["inputs"][0]["datatype"], "FP32");
        let two = br#"{"outputs":[{"name":"l","shape":[2],"data":[1,0]},{"name":"p","shape":[2],"data":[0.9,0.1]}]}"#;
        assert_eq!(
            j(&v2_to_tf(two, Layout::Rows, 100).unwrap()),
            json!({"predictions":[{"l":1,"p":0.9},{"l":0,"p":0.1}]})
        );
        assert_eq!(
            j(&v2_to_tf(two, Layout::Columns, 100).unwrap()),
            json!({"outputs":{"l":[1,0],"p":[0.9,0.1]}})
        );
    }

    #[test]
    fn v2_requests_become_instances_and_answers_tensors() {
        let (body, call) = v2_to_tf_request(
            br#"{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[1,2,3,4]}]}"#,
            100,
        )
        .unwrap();
        assert_eq!(j(&body), json!({"instances":[[1,2],[3,4]]}));
        let out = tf_to_v2_answer(br#"{"predictions":[1,2]}"#, &call, "iris", 2).unwrap();
        assert_eq!(
            j(&out),
            json!({"id":"r1","model_name":"iris","model_version":"2","outputs":[{"name":"output-0","shape":[2],"datatype":"INT64","data":[1,2]}]})
        );
        let out = tf_to_v2_answer(br#"{"predictions":[[0.5,0.5]]}"#, &call, "m", 1).unwrap();
        assert_eq!(j(&out)["outputs"][0]["shape"], json!([1, 2]));
        assert_eq!(j(&out)["outputs"][0]["datatype"], "FP64");
    }

    #[test]
    fn rows_past_the_service_limit_are_refused_before_anything_is_built() {
        let e = tf_to_v2(br#"{"instances":[[1],[2],[3]]}"#, "i", None, 2).unwrap_err();
        assert!(e.contains("at most 2"), "{e}");
        let e = tf_to_v2(br#"{"inputs":{"a":[1,2,3]}}"#, "i", None, 2).unwrap_err();
        assert!(e.contains("at most 2"), "{e}");
        // Zero-width rows claim any count with no data: the count is what is bounded.
        let e = v2_to_tf_request(
            br#"{"inputs":[{"name":"a","shape":[1000000000000,0],"data":[]},{"name":"b","shape":[1000000000000,0],"data":[]}]}"#,
            100,
        )
        .unwrap_err();
        assert!(e.contains("at most 100"), "{e}");
        let (body, _) = v2_to_tf_request(
            br#"{"inputs":[{"name":"a","shape":[3,0],"data":[]},{"name":"b","shape":[3,0],"data":[]}]}"#,
            100,
        )
        .unwrap();
        assert_eq!(
            j(&body),
            json!({"instances":[{"a":[],"b":[]},{"a":[],"b":[]},{"a":[],"b":[]}]})
        );
        let e = v2_to_tf(
            br#"{"outputs":[{"name":"o","shape":[5000000000,0],"data":[]}]}"#,
            Layout::Rows,
            100,
        )
        .unwrap_err();
        assert!(e.contains("rows"), "{e}");
    }

    #[test]
    fn many_zero_wide_tensors_do_not_become_millions_of_records() {
        let inputs: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"name":"a{i}","shape":[10000,0],"data":[]}}"#))
            .collect();
        let body = format!(r#"{{"inputs":[{}]}}"#, inputs.join(","));
        let e = v2_to_tf_request(body.as_bytes(), 10_000).unwrap_err();
        assert!(e.contains("fewer rows or tensors"), "{e}");
    }

    #[test]
    fn shapes_are_checked_before_use() {
        // A shape that claims more than the data holds, or overflows.
        let e = v2_to_tf_request(br#"{"inputs":[{"name":"x","shape":[1000000000,1000000000],"datatype":"FP64","data":[1]}]}"#, 100).unwrap_err();
        assert!(e.contains("shape"), "{e}");
        let e = v2_to_tf_request(br#"{"inputs":[{"name":"x","shape":[18446744073709551615,2],"datatype":"FP64","data":[1]}]}"#, 100).unwrap_err();
        assert!(e.contains("shape"), "{e}");
        let e = tf_to_v2(br#"{"instances":[[1,2],[3]]}"#, "i", None, 100).unwrap_err();
        assert!(e.contains("ragged"), "{e}");
        let e = tf_to_v2(br#"{"instances":[]}"#, "i", None, 100).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = v2_to_tf_request(br#"{"inputs":[{"name":"a","shape":[2],"data":[1,2]},{"name":"b","shape":[1],"data":[1]}]}"#, 100).unwrap_err();
        assert!(e.contains("rows"), "{e}");
    }
}
