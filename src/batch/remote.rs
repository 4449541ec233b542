//! Scoring through a service: records go to the gateway as any client's would
//! (`POST /v1/models/M:predict`, the service's key and host), tagged as batch traffic so the
//! monitor counts them apart. A service backed by a remote upstream so scores on that cluster.
//!
//! A 400 for a batch means one of its records is bad: the batch is sent again one record at a
//! time to find which. A gateway that is busy (429, 503) is waited for; one that cannot be
//! reached fails the run rather than rejecting every record.

use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::ScoreError;
use super::records::to_json;
use super::run::ServiceCall;
use crate::runtime::{
    DType, FieldSpec, OutputRole, OutputSpec, Predictor, RecordError, Signature, Value,
};

/// A value as JSON of the input's type: a CSV cell is read as text, and a client sends
/// numbers as numbers (text that is not a number goes as text, for the service to refuse).
fn typed(v: &Value, dtype: DType) -> Json {
    match (v, dtype) {
        (Value::String(s), DType::Double | DType::Float | DType::Integer) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| to_json(v), Json::Number),
        (Value::String(s), DType::Boolean) => match s.trim() {
            "true" | "1" => Json::Bool(true),
            "false" | "0" => Json::Bool(false),
            _ => to_json(v),
        },
        _ => to_json(v),
    }
}

/// Tries for one batch while the gateway says it is busy.
const BUSY_TRIES: u32 = 8;

pub struct ServiceScorer {
    call: ServiceCall,
    rt: tokio::runtime::Handle,
    client: reqwest::Client,
    inputs: Vec<(String, DType)>,
    outputs: Vec<String>,
    positional: bool,
}

/// What a job sends an upstream service: the file's columns, in order, as each record's
/// values (what a scikit-learn or TensorFlow model behind TF Serving or KServe takes), and the
/// answer's prediction as one `prediction` column. It stands in for the model's signature;
/// the service does the scoring.
pub struct UpstreamShape {
    signature: Signature,
}

impl UpstreamShape {
    pub fn new(header: &[(String, super::chain::Ty)]) -> UpstreamShape {
        let field = |name: &str| FieldSpec {
            name: name.to_string(),
            dtype: DType::Double,
            shape: Vec::new(),
            categories: None,
        };
        UpstreamShape {
            signature: Signature {
                inputs: header.iter().map(|(name, _)| field(name)).collect(),
                outputs: vec![OutputSpec {
                    field: field("prediction"),
                    role: OutputRole::PredictedValue,
                }],
                feature_order: None,
            },
        }
    }
}

impl Predictor for UpstreamShape {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, inputs: &[Vec<Value>]) -> Vec<Result<Vec<Value>, RecordError>> {
        inputs
            .iter()
            .map(|_| {
                Err(RecordError(
                    "an upstream model is scored by its service".into(),
                ))
            })
            .collect()
    }
}

impl ServiceScorer {
    /// Sends each record as a list of its values in column order (for an upstream service),
    /// instead of an object of the model's named inputs.
    pub fn positional(mut self, on: bool) -> ServiceScorer {
        self.positional = on;
        self
    }

    pub fn new(
        call: ServiceCall,
        rt: tokio::runtime::Handle,
        inputs: &[FieldSpec],
        outputs: &[String],
    ) -> Result<ServiceScorer, ScoreError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| ScoreError::Io(format!("cannot make an HTTP client: {e}")))?;
        Ok(ServiceScorer {
            call,
            rt,
            client,
            inputs: inputs.iter().map(|f| (f.name.clone(), f.dtype)).collect(),
            outputs: outputs.to_vec(),
            positional: false,
        })
    }

    /// Scores `rows` (aligned with the model's inputs), in batches the service accepts.
    pub fn score(
        &self,
        rows: &[Vec<Value>],
    ) -> Result<Vec<Result<Vec<Value>, RecordError>>, ScoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for batch in rows.chunks(self.call.max_rows.max(1)) {
            out.extend(self.rt.block_on(self.batch(batch))?);
        }
        Ok(out)
    }

    async fn batch(
        &self,
        rows: &[Vec<Value>],
    ) -> Result<Vec<Result<Vec<Value>, RecordError>>, ScoreError> {
        match self.send(rows).await? {
            Ok(answers) => Ok(answers),
            Err(_) if rows.len() > 1 => {
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push(match self.send(std::slice::from_ref(row)).await? {
                        Ok(mut a) => a.pop().unwrap_or_else(|| {
                            Err(RecordError("the service gave no answer".into()))
                        }),
                        Err(e) => Err(e),
                    });
                }
                Ok(out)
            }
            Err(e) => Ok(vec![Err(e)]),
        }
    }

    /// One call: the answers, or the service's refusal of the batch (a 400).
    async fn send(
        &self,
        rows: &[Vec<Value>],
    ) -> Result<Result<Vec<Result<Vec<Value>, RecordError>>, RecordError>, ScoreError> {
        let instances: Vec<Json> = rows
            .iter()
            .map(|r| {
                if self.positional {
                    return Json::Array(
                        self.inputs
                            .iter()
                            .zip(r)
                            .map(|((_, dtype), v)| typed(v, *dtype))
                            .collect(),
                    );
                }
                let o: Map<String, Json> = self
                    .inputs
                    .iter()
                    .zip(r)
                    .map(|((n, dtype), v)| (n.clone(), typed(v, *dtype)))
                    .collect();
                Json::Object(o)
            })
            .collect();
        let body = serde_json::json!({ "instances": instances }).to_string();
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=BUSY_TRIES {
            let response = self
                .client
                .post(&self.call.url)
                .header("Authorization", &self.call.key)
                .header("Host", &self.call.host)
                .header("Content-Type", "application/json")
                .header("X-Modeldeck-Source", "batch")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| {
                    ScoreError::Io(format!(
                        "cannot reach the gateway at {}: {e}",
                        self.call.url
                    ))
                })?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(Ok(self.answers(&text, rows.len())));
            }
            let said = serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j.get("error").and_then(Json::as_str).map(str::to_string))
                .unwrap_or_else(|| crate::domain::clip(&text, 200).to_string());
            match status.as_u16() {
                400 | 422 => return Ok(Err(RecordError(said))),
                429 | 503 if attempt < BUSY_TRIES => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                _ => {
                    return Err(ScoreError::Model(format!(
                        "the service {} answered {status}: {said}",
                        self.call.host
                    )));
                }
            }
        }
        Err(ScoreError::Model(format!(
            "the service {} stayed busy",
            self.call.host
        )))
    }

    /// `{"predictions": [...]}`: an object per record, or a bare value for one output.
    fn answers(&self, text: &str, n: usize) -> Vec<Result<Vec<Value>, RecordError>> {
        let predictions = serde_json::from_str::<Json>(text)
            .ok()
            .and_then(|j| j.get("predictions").and_then(Json::as_array).cloned())
            .unwrap_or_default();
        if predictions.len() != n {
            return vec![
                Err(RecordError(format!(
                    "the service answered {} predictions for {n} records",
                    predictions.len()
                )));
                n
            ];
        }
        predictions
            .into_iter()
            .map(|p| match p {
                Json::Object(o) => Ok(self
                    .outputs
                    .iter()
                    .map(|name| o.get(name).map_or(Value::Missing, from_json))
                    .collect()),
                other => Ok(vec![from_json(&other)]),
            })
            .collect()
    }
}

fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Missing,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => n.as_f64().map_or(Value::Missing, Value::Number),
        Json::String(s) => Value::String(s.as_str().into()),
        other => Value::String(other.to_string().into()),
    }
}
