//! An admitted prediction, from its body to its answer: parse the body within a budget the
//! service's limits set, turn it into records, predict within the service's batch size and
//! time limit, and write the protocol's answer.
//!
//! Parsing is bounded before it costs: the parser stops as soon as the document holds more
//! values than `max_batch_rows` records of the model's inputs could need, so a 900k-row body
//! is refused after a few thousand rows, not after all of them. Bodies above [`INLINE_BODY`]
//! are parsed on the blocking pool, so one large request cannot stall the async workers that
//! every other service and the control API share.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::OwnedSemaphorePermit;

use super::handler::{Admitted, Answer, Protocol};
use super::json::{self, ParseError};
use super::meter::{Record, Stopwatch};
use super::path::Verb;
use super::routing::{Route, VersionCell};
use super::{examples, predict, v2};
use crate::domain::Source;
use crate::runtime::{RecordError, Serving, SharedPredictor, Signature, Value};

/// Bodies up to this size parse in well under a millisecond, on the worker that read them.
const INLINE_BODY: usize = 64 << 10;

/// A body turned into records, and what the answer needs to know of the request.
enum Parsed {
    Predict(predict::Records),
    Examples(Vec<Vec<Value>>, examples::Shape),
    /// With the model name the path used, which the answer repeats.
    Infer(v2::InferRequest, String),
}

impl Parsed {
    fn rows(&mut self) -> Vec<Vec<Value>> {
        match self {
            Parsed::Predict(r) => std::mem::take(&mut r.rows),
            Parsed::Examples(rows, _) => std::mem::take(rows),
            Parsed::Infer(r, _) => std::mem::take(&mut r.rows),
        }
    }
}

impl Admitted {
    /// Answers the admitted call with its body; the version that answered is on the answer.
    pub async fn answer(self, headers: &HeaderMap, body: Bytes) -> Answer {
        let predictor = match &self.serving {
            Serving::Native(p) => Arc::clone(p),
            Serving::Upstream(u) => {
                let u = Arc::clone(u);
                return super::forward::answer(self, u, headers, body).await;
            }
        };
        let Admitted {
            route,
            cell,
            protocol,
            permit,
            source,
            metered,
            ..
        } = self;
        // The server's time: from the whole request in hand to the answer written.
        let started = Stopwatch::start();
        let bytes_in = body.len();
        let header_len = headers
            .get("inference-header-content-length")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().parse::<usize>());
        let max_rows = route.resources.max_batch_rows as usize;
        let (model, version) = (Arc::clone(&predictor), Arc::clone(&*cell));
        let inline = body.len() <= INLINE_BODY;
        let parse = move || {
            let sig = model.signature();
            parse(&body, protocol, header_len, sig, max_rows, &version.model)
        };
        let parsed = if inline {
            parse()
        } else {
            tokio::task::spawn_blocking(parse)
                .await
                .unwrap_or_else(|_| Err(failed()))
        };
        let mut scored = 0;
        let mut ran_inline = false;
        let at = Meters {
            cell: &cell,
            source,
            metered,
        };
        let mut answer = match parsed {
            Ok(mut parsed) => match score(&route, at, &predictor, parsed.rows(), permit).await {
                Ok((rows, inline)) => {
                    ran_inline = inline;
                    scored = rows.len();
                    if metered && source == Source::Client {
                        cell.meter.answered(&rows);
                    }
                    write(&parsed, cell.version, predictor.signature(), &rows)
                }
                Err(a) => a,
            },
            Err(a) => a,
        };
        let spent = started.micros();
        if ran_inline && metered {
            // Parsed, predicted and written on this thread: all of it was worker time.
            cell.meter.busy(source, spent);
        }
        if !metered {
            answer.version = Some(cell.version);
            return answer;
        }
        cell.meter.record(&Record {
            source,
            status: answer.status.as_u16(),
            latency_us: Some(spent),
            rows: scored,
            bytes_in,
            bytes_out: answer.body.len(),
        });
        answer.version = Some(cell.version);
        answer
    }
}

/// How many JSON values a request may hold: enough for `max_rows` records of `inputs` fields
/// in any accepted layout, with room for keys the model does not read (clients send whole
/// records), and no more.
pub fn value_budget(max_rows: usize, inputs: usize) -> usize {
    max_rows
        .saturating_mul(inputs.saturating_mul(5).saturating_add(16))
        .saturating_add(4096)
}

fn parse(
    body: &[u8],
    protocol: Protocol,
    header_len: Option<Result<usize, std::num::ParseIntError>>,
    sig: &Signature,
    max_rows: usize,
    model: &str,
) -> Result<Parsed, Answer> {
    let budget = value_budget(max_rows, sig.inputs.len());
    let bad = |e: String| Answer::error(StatusCode::BAD_REQUEST, &e);
    let too_many = |e: ParseError| match e {
        ParseError::Syntax(m) => m,
        ParseError::TooManyValues { offset } => format!(
            "the request holds more values than {max_rows} records of this model's {} inputs need (stopped at offset {offset}); this service takes at most {max_rows} records per request: split the batch",
            sig.inputs.len()
        ),
    };
    let verb = match protocol {
        Protocol::Tf(verb) => verb,
        Protocol::Infer { model } => {
            let request =
                v2::request(body, header_len, sig, budget, max_rows).map_err(|e| match e {
                    v2::RequestError::Json(e) => bad(too_many(e)),
                    v2::RequestError::Invalid(m) => bad(m),
                })?;
            return Ok(Parsed::Infer(request, model));
        }
    };
    let doc = json::parse_bounded(body, budget).map_err(|e| bad(too_many(e)))?;
    match verb {
        Verb::Predict => Ok(Parsed::Predict(predict::records(&doc, sig).map_err(bad)?)),
        Verb::Classify | Verb::Regress => {
            let (rows, shape) = examples::records(&doc, verb, sig, model, max_rows).map_err(bad)?;
            Ok(Parsed::Examples(rows, shape))
        }
    }
}

fn write(parsed: &Parsed, version: u32, sig: &Signature, rows: &[Vec<Value>]) -> Answer {
    match parsed {
        Parsed::Predict(r) => Answer::ok(predict::answer(r.format, sig, rows)),
        Parsed::Examples(_, shape) => Answer::ok(examples::answer(shape, rows)),
        Parsed::Infer(request, model) => Answer::ok(v2::answer(model, version, request, sig, rows)),
    }
}

fn failed() -> Answer {
    Answer::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the model failed while predicting",
    )
}

/// Where a prediction's time inside the model is counted.
#[derive(Clone, Copy)]
struct Meters<'a> {
    cell: &'a Arc<VersionCell>,
    source: Source,
    metered: bool,
}

/// Runs `rows` through the model within the service's limits: batch size and time (504). A
/// record the model refuses fails the request with its position, as TF Serving reports it.
/// Also says whether the prediction ran inline (the caller counts that time as the model's;
/// the CPU pool's is counted here).
async fn score(
    route: &Route,
    at: Meters<'_>,
    predictor: &SharedPredictor,
    rows: Vec<Vec<Value>>,
    permit: OwnedSemaphorePermit,
) -> Result<(Vec<Vec<Value>>, bool), Answer> {
    let max_rows = route.resources.max_batch_rows as usize;
    if rows.len() > max_rows {
        return Err(Answer::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "the request has {} records; this service takes at most {max_rows} per request (split the batch)",
                rows.len()
            ),
        ));
    }
    if rows.len() <= predictor.inline_rows() {
        // Microseconds of work: cheaper here than a hand-off, and too short to time out.
        let results =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predictor.predict(&rows)))
                .map_err(|_| failed())?;
        drop(permit);
        return collect(results).map(|r| (r, true));
    }
    let model = Arc::clone(predictor);
    let (cell, source, metered) = (Arc::clone(at.cell), at.source, at.metered);
    // A CPU-bound prediction cannot be cancelled: its permit stays taken until it ends, and its
    // time is counted when it does.
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let began = Stopwatch::start();
        let results = model.predict(&rows);
        if metered {
            cell.meter.busy(source, began.micros());
        }
        results
    });
    let timeout = Duration::from_millis(route.resources.timeout_ms);
    let results = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return Err(failed()),
        Err(_) => {
            return Err(Answer::error(
                StatusCode::GATEWAY_TIMEOUT,
                &format!(
                    "Deadline exceeded: the prediction took longer than the service's {} ms",
                    route.resources.timeout_ms
                ),
            ));
        }
    };
    collect(results).map(|r| (r, false))
}

/// The scored rows, or the first record the model refused, by position as TF Serving says it.
fn collect(results: Vec<Result<Vec<Value>, RecordError>>) -> Result<Vec<Vec<Value>>, Answer> {
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(results.len());
    for (n, r) in results.into_iter().enumerate() {
        match r {
            Ok(row) => rows.push(row),
            Err(RecordError(e)) => {
                return Err(Answer::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Failed to process element: {n}. Error: {e}"),
                ));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::json::Json;

    #[test]
    fn the_budget_covers_the_layouts_and_refuses_a_flood() {
        let budget = value_budget(10, 4);
        // 10 records as objects with 4 fields and a few extra keys fit.
        let row = r#"{"a":1,"b":2,"c":3,"d":4,"x":"y","z":[1,2]}"#;
        let rows = [row; 10].join(",");
        let doc = format!(r#"{{"instances":[{rows}]}}"#);
        assert!(json::parse_bounded(doc.as_bytes(), budget).is_ok());
        // The flat V2 layout: 10×4 values.
        let flat = vec!["1.5"; 40].join(",");
        let doc = format!(
            r#"{{"inputs":[{{"name":"x","shape":[10,4],"datatype":"FP64","data":[{flat}]}}]}}"#
        );
        assert!(json::parse_bounded(doc.as_bytes(), budget).is_ok());
        // A million values are refused long before the end.
        let flood = vec!["1"; 1_000_000].join(",");
        let doc = format!(r#"{{"instances":[{flood}]}}"#);
        match json::parse_bounded(doc.as_bytes(), budget) {
            Err(ParseError::TooManyValues { offset }) => assert!(offset < 20_000, "{offset}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_value_left_over_is_what_json_gives() {
        assert!(matches!(
            json::parse_bounded(b"[1]", 1),
            Err(ParseError::TooManyValues { .. })
        ));
        assert_eq!(
            json::parse_bounded(b"[1]", 2).unwrap(),
            Json::Arr(vec![Json::Num(1.0, true)])
        );
    }
}
