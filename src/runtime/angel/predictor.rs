//! An Angel model behind [`Predictor`]: one input per feature (`"0"` … `"N-1"`, float), and
//! Angel's answer fields `pred`, `proba` and `predLabel`. A record's missing values are the
//! features it leaves out, so a sparse request (`sparseIndices`/`sparseValues`, which the
//! gateway reads into a row with only those features) stays sparse, and a record with every
//! feature is a dense instance, as Angel Serving distinguishes them.

use super::{AngelModel, Instance};
use crate::runtime::{
    DType, FieldSpec, OutputRole, OutputSpec, Predictor, RecordError, Signature, Value,
};

/// The most features served through one value per feature (larger models need a sparse path
/// end to end, which this runtime does not have yet).
pub const MAX_FEATURES: usize = 100_000;

pub struct AngelPredictor {
    model: AngelModel,
    signature: Signature,
}

fn field(name: &str, dtype: DType) -> FieldSpec {
    FieldSpec {
        name: name.to_string(),
        dtype,
        shape: Vec::new(),
        categories: None,
    }
}

impl AngelPredictor {
    pub fn new(model: AngelModel) -> Result<AngelPredictor, String> {
        if model.dim > MAX_FEATURES {
            return Err(format!(
                "the model has {} features; this runtime serves Angel models of up to {MAX_FEATURES}",
                model.dim
            ));
        }
        let inputs: Vec<FieldSpec> = (0..model.dim)
            .map(|i| field(&i.to_string(), DType::Float))
            .collect();
        let output = |name: &str, role| OutputSpec {
            field: field(name, DType::Double),
            role,
        };
        let signature = Signature {
            feature_order: Some(inputs.iter().map(|f| f.name.clone()).collect()),
            inputs,
            outputs: vec![
                output("pred", OutputRole::PredictedValue),
                output("proba", OutputRole::Probability { class: "1".into() }),
                output("predLabel", OutputRole::PredictedLabel),
            ],
        };
        Ok(AngelPredictor { model, signature })
    }

    /// A record as an instance: its missing features left out (sparse), or all of them
    /// (dense).
    fn instance(&self, row: &[Value]) -> Result<Instance, RecordError> {
        let mut pairs = Vec::with_capacity(row.len());
        for (i, v) in row.iter().enumerate() {
            let x = match v {
                Value::Missing => continue,
                Value::Number(n) => *n as f32,
                Value::Integer(n) => *n as f32,
                Value::Boolean(b) => f32::from(u8::from(*b)),
                Value::String(s) => s
                    .trim()
                    .parse::<f32>()
                    .map_err(|_| RecordError(format!("feature {i}: {s:?} is not a number")))?,
            };
            pairs.push((i, x));
        }
        Ok(if pairs.len() == self.model.dim {
            Instance::Dense(pairs.into_iter().map(|(_, x)| x).collect())
        } else {
            Instance::Sparse(pairs)
        })
    }
}

/// The answer for a prediction: `pred`, its sigmoid and the label Angel gives it.
fn answer(pred: f64) -> Vec<Value> {
    vec![
        Value::Number(pred),
        Value::Number(1.0 / (1.0 + (-pred).exp())),
        Value::Number(if pred > 0.0 { 1.0 } else { -1.0 }),
    ]
}

impl Predictor for AngelPredictor {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn platform(&self) -> &'static str {
        "angel"
    }

    /// For a DeepFM, a sparse instance with exactly its fields' worth of features (one value per
    /// feature would be every feature, which it refuses, as Angel Serving does).
    fn example(&self) -> Option<serde_json::Value> {
        let (_, indices) = super::graph::fields(self.model.layers())?;
        let values = vec![1.0; indices.len()];
        Some(serde_json::json!({"sparseIndices": indices, "sparseValues": values}))
    }

    /// The batch as matrices ([`AngelModel::predict_batch`]); a record that cannot become an
    /// instance fails alone.
    fn predict(&self, inputs: &[Vec<Value>]) -> Vec<Result<Vec<Value>, RecordError>> {
        let instances: Vec<Result<Instance, RecordError>> =
            inputs.iter().map(|row| self.instance(row)).collect();
        let good: Vec<Instance> = instances
            .iter()
            .filter_map(|i| i.as_ref().ok().cloned())
            .collect();
        let mut preds = self.model.predict_batch(&good).into_iter();
        instances
            .into_iter()
            .map(|i| {
                i?;
                match preds.next() {
                    Some(Ok(pred)) => Ok(answer(pred)),
                    Some(Err(e)) => Err(RecordError(e)),
                    None => Err(RecordError(
                        "internal error: a prediction went missing".into(),
                    )),
                }
            })
            .collect()
    }
}
