//! Model runtimes behind one interface.
//!
//! Every local model kind (PMML now; ONNX and Angel later) is compiled at load time into a
//! flat evaluation form and served through [`Predictor`]: a [`Signature`] that says what goes
//! in and what comes out (with the role of each output, so `:classify`, probability bars and
//! batch output columns need no guessing), and a batch `predict` that answers each record
//! separately — one bad record is an error for that record, not for the batch.
//!
//! Runtimes are synchronous CPU code and know nothing of HTTP or SQL: the gateway and the
//! batch runner decide where that CPU time is spent.

pub mod angel;
pub mod pmml;
#[cfg(feature = "test-runtimes")]
mod testing;
pub mod upstream;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::domain::ModelKind;

/// A loaded model as the gateway shares it between requests.
pub type SharedPredictor = Arc<dyn Predictor + Send + Sync>;

/// The engine that serves `kind`, with its version (`pmml/0.1.0`); the error says why a kind
/// cannot be served. The one place that decides which kinds this build serves.
pub fn engine(kind: ModelKind) -> Result<String, String> {
    match kind {
        ModelKind::Pmml => Ok(format!("pmml/{}", env!("CARGO_PKG_VERSION"))),
        ModelKind::Angel => Ok(format!("angel/{}", env!("CARGO_PKG_VERSION"))),
        ModelKind::Upstream => Ok(format!("upstream/{}", env!("CARGO_PKG_VERSION"))),
        ModelKind::SavedModel => Err(saved_model_needs_upstream("a SavedModel version")),
        other => Err(format!(
            "{other} models cannot be served yet (this modeldeck serves PMML, Angel and upstreams); deploy a PMML or Angel version, or import an upstream file for a model another server runs"
        )),
    }
}

/// Why a SavedModel version (`resnet:2`) with no upstream cannot serve, and what to type.
pub fn saved_model_needs_upstream(version: &str) -> String {
    let example = if version.contains(' ') {
        "NAME:VERSION"
    } else {
        version
    };
    format!(
        "{version} is a TensorFlow SavedModel, which modeldeck does not run itself: name the TF Serving (or KServe, Triton) that serves it, with --upstream URL when deploying, or for a service that exists: `modeldeck models upstream {example} http://tf-serving:8501`"
    )
}

/// What answers for a version: a model compiled here, or a remote server the gateway forwards
/// to (see [`upstream`]).
#[derive(Clone)]
pub enum Serving {
    Native(SharedPredictor),
    Upstream(Arc<upstream::Upstream>),
}

/// Makes a version of `kind` ready to answer: compiles a local model (CPU work: call it off
/// the async threads), or makes an upstream's client, which sends its auth header from
/// `secrets`, and starts probing it.
pub fn serve(
    kind: ModelKind,
    path: &Path,
    secrets: &Arc<upstream::Secrets>,
) -> Result<Serving, String> {
    if kind == ModelKind::Upstream {
        let u = upstream::Upstream::load(path, Arc::clone(secrets))?;
        upstream::watch(&u);
        return Ok(Serving::Upstream(u));
    }
    load(kind, path).map(Serving::Native)
}

/// Loads an artifact of `kind` for serving (CPU work: call it off the async threads).
pub fn load(kind: ModelKind, path: &Path) -> Result<SharedPredictor, String> {
    engine(kind)?;
    if kind == ModelKind::Upstream {
        return Err("an upstream model runs on its own server, so it cannot score here: deploy it as a service and score through the service (a batch job's `--service`)".into());
    }
    if kind == ModelKind::Angel {
        let model = angel::AngelModel::load(path)
            .and_then(angel::AngelPredictor::new)
            .map_err(|e| format!("the model does not load: {e}"))?;
        return Ok(Arc::new(model));
    }
    let model = pmml::PmmlModel::load(path).map_err(|e| format!("the model does not load: {e}"))?;
    #[cfg(feature = "test-runtimes")]
    {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        testing::wrap(Arc::new(model), &text)
    }
    #[cfg(not(feature = "test-runtimes"))]
    Ok(Arc::new(model))
}

/// One value going into or coming out of a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Missing,
    Number(f64),
    Integer(i64),
    /// Shared, because labels repeat: a model hands out the same label for many records
    /// without allocating it each time.
    String(Arc<str>),
    Boolean(bool),
}

impl fmt::Display for Value {
    /// The text a CSV cell gets: numbers in shortest round-trip form (a whole double keeps its
    /// `.0`, as Java and Python print it), missing as empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => Ok(()),
            Value::Number(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e16 => {
                write!(f, "{n:.1}")
            }
            Value::Number(n) => write!(f, "{n}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::String(s) => f.write_str(s),
            Value::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// Element types of inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    Double,
    /// Values are rounded to f32 on the way in (PMML `dataType="float"`).
    Float,
    Integer,
    String,
    Boolean,
}

impl DType {
    pub fn is_numeric(self) -> bool {
        matches!(self, DType::Double | DType::Float | DType::Integer)
    }
}

/// A named input or output; PMML fields are scalars (empty shape), tensors have dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// For categorical inputs, the values the model declares valid.
    pub categories: Option<Vec<String>>,
}

/// What an output means, so that consumers can find the label or the probabilities.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputRole {
    /// The predicted value of a regression.
    PredictedValue,
    /// The predicted class label.
    PredictedLabel,
    /// The probability of one class.
    Probability { class: String },
    /// Anything else the model reports.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub field: FieldSpec,
    pub role: OutputRole,
}

/// What a model takes and gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub inputs: Vec<FieldSpec>,
    pub outputs: Vec<OutputSpec>,
    /// Input names in the order positional (array) records list them.
    pub feature_order: Option<Vec<String>>,
}

/// Why one record could not be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

/// A loaded model. `inputs` rows are aligned with `signature().inputs`; each answer row with
/// `signature().outputs`.
pub trait Predictor: Send + Sync {
    fn signature(&self) -> &Signature;

    fn predict(&self, inputs: &[Vec<Value>]) -> Vec<Result<Vec<Value>, RecordError>>;

    /// Up to how many records a call is cheap enough (microseconds, never blocking) to run
    /// on the gateway's own threads instead of handing it to the blocking pool, whose hand-off
    /// costs more than a small PMML prediction. Zero (the default) means never: a model that
    /// may sleep or take long must not stall the threads that serve every other request.
    fn inline_rows(&self) -> usize {
        0
    }

    /// The engine's name in Open Inference Protocol metadata.
    fn platform(&self) -> &'static str {
        "pmml"
    }

    /// One instance of a `:predict` body this model answers, when the generic one (every
    /// input set to one value) would not (the console's and CLI's example request).
    fn example(&self) -> Option<serde_json::Value> {
        None
    }
}

/// What a model takes and gives, as the API shows it, with its example instance.
pub fn describe(p: &dyn Predictor) -> crate::domain::ModelSignature {
    let mut sig = p.signature().describe();
    sig.example = p.example();
    sig
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Double => "double",
            DType::Float => "float",
            DType::Integer => "integer",
            DType::String => "string",
            DType::Boolean => "boolean",
        }
    }
}

impl Signature {
    /// The signature as the control API shows it.
    pub fn describe(&self) -> crate::domain::ModelSignature {
        use crate::domain::{InputField, ModelSignature, OutputField};
        ModelSignature {
            inputs: self
                .inputs
                .iter()
                .map(|f| InputField {
                    name: f.name.clone(),
                    dtype: f.dtype.name().into(),
                    categories: f.categories.clone(),
                })
                .collect(),
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputField {
                    name: o.field.name.clone(),
                    dtype: o.field.dtype.name().into(),
                    role: match &o.role {
                        OutputRole::PredictedValue => "predicted_value".into(),
                        OutputRole::PredictedLabel => "predicted_label".into(),
                        OutputRole::Probability { class } => format!("probability({class})"),
                        OutputRole::Other => "other".into(),
                    },
                })
                .collect(),
            example: None,
        }
    }
}
