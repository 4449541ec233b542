//! The native PMML runtime.
//!
//! A document is parsed once with roxmltree (no DTDs, so no entity expansion) and *compiled*:
//! every field becomes a slot, strings become interned ids, trees become flat arrays,
//! ensembles map their segments' classes onto their own up front. Evaluating a record then
//! walks no XML and looks up no field names. Anything the compiler does not support is a
//! load-time error naming the element and its line, never a silently different answer.
//!
//! Module map: [`fields`] (slots, values, DataDictionary), [`expr`] (transformations),
//! [`predicate`], [`model`] (what all model elements share, Targets, Output), [`tree`],
//! [`regression`], [`neural`], [`mining`] (Segmentation).

pub mod expr;
pub mod fields;
pub mod mining;
pub mod model;
pub mod neural;
pub mod predicate;
pub mod regression;
pub mod tree;
pub mod xml;

use std::path::Path;

use roxmltree::Node;

use self::expr::{Bools, Expr};
use self::fields::{Fields, Optype, V};
use self::model::{Compiler, Env, ModelNode, OutputKind};
pub use self::xml::LoadError;
use crate::runtime::{
    DType, FieldSpec, OutputRole, OutputSpec, Predictor, RecordError, Signature, Value,
};

/// Every model element PMML 4.4 defines (the ones this runtime does not compile yet are
/// refused by name).
pub const MODEL_ELEMENTS: &[&str] = &[
    "AnomalyDetectionModel",
    "AssociationModel",
    "BayesianNetworkModel",
    "BaselineModel",
    "ClusteringModel",
    "GaussianProcessModel",
    "GeneralRegressionModel",
    "MiningModel",
    "NaiveBayesModel",
    "NearestNeighborModel",
    "NeuralNetwork",
    "RegressionModel",
    "RuleSetModel",
    "SequenceModel",
    "Scorecard",
    "SupportVectorMachineModel",
    "TextModel",
    "TimeSeriesModel",
    "TreeModel",
];

/// Stack for the compiler thread.
const COMPILE_STACK: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvalidTreatment {
    ReturnInvalid,
    AsIs,
    AsMissing,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum OutlierTreatment {
    Keep,
    MissingOutside(f64, f64),
    ClampTo(f64, f64),
}

/// An active input of the top-level model, with its MiningField treatments.
#[derive(Debug)]
struct Input {
    slot: usize,
    invalid: InvalidTreatment,
    outliers: OutlierTreatment,
    replacement: Option<V>,
    /// A double or float field with no declared domain and no treatments: a number goes in as
    /// it is (rounded through f32 for float), the common case worth a short path.
    plain: Option<DType>,
    /// A string field's declared values with their ids: an input equal to one of them is valid
    /// as it stands, found by comparing a few short strings instead of hashing.
    categories: Box<[(Box<str>, u32)]>,
}

/// A compiled PMML document.
#[derive(Debug)]
pub struct PmmlModel {
    fields: Fields,
    bools: Bools,
    inputs: Vec<Input>,
    derived: Vec<(usize, Expr)>,
    model: ModelNode,
    /// Slots of the reported OutputFields, after the target's predicted value.
    output_slots: Vec<usize>,
    signature: Signature,
}

/// The largest PMML document loaded: a model is parsed whole into memory (several times its
/// size), and no converter writes documents anywhere near this.
const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

impl PmmlModel {
    pub fn load(path: &Path) -> Result<PmmlModel, LoadError> {
        if path.is_dir() {
            return Err(LoadError {
                line: 0,
                message: "this is a folder: pass the PMML file itself (e.g. model.pmml inside it)"
                    .into(),
            });
        }
        let refuse = |message: String| LoadError { line: 0, message };
        let meta =
            std::fs::metadata(path).map_err(|e| refuse(format!("cannot read the file: {e}")))?;
        if !meta.is_file() {
            return Err(refuse(
                "this is not a regular file: pass the PMML file itself".into(),
            ));
        }
        if meta.len() > MAX_DOCUMENT_BYTES {
            return Err(refuse(format!(
                "the file is {} MiB; PMML documents over {} MiB are not supported",
                meta.len() >> 20,
                MAX_DOCUMENT_BYTES >> 20
            )));
        }
        let mut text = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| {
                use std::io::Read;
                f.take(MAX_DOCUMENT_BYTES + 1).read_to_end(&mut text)
            })
            .map_err(|e| refuse(format!("cannot read the file: {e}")))?;
        let text = std::str::from_utf8(&text).map_err(|e| LoadError {
            line: 0,
            message: format!(
                "the file is not UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        })?;
        PmmlModel::parse(text)
    }

    pub fn parse(text: &str) -> Result<PmmlModel, LoadError> {
        // The compiler recurses over nested predicates, expressions and segments (each capped);
        // a thread of its own with a generous stack keeps that safe whatever thread loads.
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("pmml-compile".into())
                .stack_size(COMPILE_STACK)
                .spawn_scoped(scope, || {
                    let doc = roxmltree::Document::parse(text).map_err(|e| LoadError {
                        // An unclosed root is found at the end; roxmltree gives it no line.
                        line: match e {
                            roxmltree::Error::UnclosedRootNode => 0,
                            _ => e.pos().row,
                        },
                        message: format!("the XML is malformed: {e}"),
                    })?;
                    compile(doc.root_element())
                })
                .map_err(|e| LoadError {
                    line: 0,
                    message: format!("cannot start the compiler: {e}"),
                })?
                .join()
                .unwrap_or_else(|_| {
                    Err(LoadError {
                        line: 0,
                        message: "the compiler failed unexpectedly".into(),
                    })
                })
        })
    }

    /// Scores one record given as values aligned with `signature().inputs`.
    pub fn score(&self, row: &[Value], slots: &mut Vec<V>) -> Result<Vec<Value>, RecordError> {
        slots.clear();
        slots.resize(self.fields.len(), V::Missing);
        self.load_record(row, slots)?;
        self.finish(slots, None)
    }

    /// Fills a record's input and dictionary-derived slots.
    fn load_record(&self, row: &[Value], slots: &mut [V]) -> Result<(), RecordError> {
        if row.len() != self.inputs.len() {
            return Err(RecordError(format!(
                "expected {} inputs, got {}",
                self.inputs.len(),
                row.len()
            )));
        }
        for (input, value) in self.inputs.iter().zip(row) {
            slots[input.slot] = self.prepare(input, value)?;
        }
        for (slot, e) in &self.derived {
            slots[*slot] = self.fields.cast(*slot, e.eval(slots, self.bools)?);
        }
        Ok(())
    }

    /// Runs the model on loaded slots and forms the answer row.
    fn finish(
        &self,
        slots: &mut [V],
        cache: Option<(&[Vec<model::Pred>], usize)>,
    ) -> Result<Vec<Value>, RecordError> {
        let env = Env {
            fields: &self.fields,
            bools: self.bools,
            cache,
        };
        let pred = self.model.eval(slots, env)?;
        let mut out = Vec::with_capacity(self.output_slots.len() + 1);
        if let Some(t) = self.model.target {
            out.push(
                self.fields
                    .output(Some(t), self.model.predicted_value(&pred)),
            );
        }
        for &slot in &self.output_slots {
            out.push(self.fields.output(Some(slot), slots[slot]));
        }
        Ok(out)
    }

    /// Applies a MiningField's treatments to one input value.
    fn prepare(&self, input: &Input, value: &Value) -> Result<V, RecordError> {
        match (input.plain, value) {
            (Some(dtype), Value::Number(n)) => {
                return Ok(if n.is_nan() {
                    V::Missing
                } else {
                    V::Num(fields::round(dtype, *n))
                });
            }
            (_, Value::String(s)) => {
                if let Some((_, id)) = input.categories.iter().find(|(c, _)| **c == **s) {
                    return Ok(V::Str(*id));
                }
            }
            _ => {}
        }
        let mut v = self.fields.input(input.slot, value)?;
        if !v.is_missing() && !self.fields.is_valid(input.slot, v) {
            match input.invalid {
                InvalidTreatment::ReturnInvalid => {
                    return Err(RecordError(format!(
                        "field {:?}: {value:?} is outside the declared values",
                        self.fields.fields[input.slot].name
                    )));
                }
                InvalidTreatment::AsMissing => v = V::Missing,
                InvalidTreatment::AsIs => {}
            }
        }
        if let V::Num(x) = v {
            match input.outliers {
                OutlierTreatment::Keep => {}
                OutlierTreatment::MissingOutside(lo, hi) if x < lo || x > hi => v = V::Missing,
                OutlierTreatment::MissingOutside(..) => {}
                OutlierTreatment::ClampTo(lo, hi) => v = V::Num(x.clamp(lo, hi)),
            }
        }
        if v.is_missing()
            && let Some(r) = input.replacement
        {
            v = r;
        }
        Ok(v)
    }
}

impl Predictor for PmmlModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Compiled PMML takes a few microseconds per record even for a 100-tree forest.
    fn inline_rows(&self) -> usize {
        8
    }

    /// Records are loaded first; tree ensembles that read only inputs are then evaluated tree
    /// by tree over the whole batch (each tree stays in cache, eight records walk it at once);
    /// the rest of each model runs record by record with those results at hand.
    fn predict(&self, inputs: &[Vec<Value>]) -> Vec<Result<Vec<Value>, RecordError>> {
        let width = self.fields.len();
        let mut batch_nodes = Vec::new();
        self.model.batch_nodes(&mut batch_nodes);
        if inputs.len() < 2 || batch_nodes.is_empty() {
            let mut slots = Vec::with_capacity(width);
            return inputs
                .iter()
                .map(|row| self.score(row, &mut slots))
                .collect();
        }
        let mut all = vec![V::Missing; width * inputs.len()];
        let loaded: Vec<Result<(), RecordError>> = inputs
            .iter()
            .zip(all.chunks_mut(width))
            .map(|(row, slots)| self.load_record(row, slots))
            .collect();
        // Numbers only, NaN for missing: what tree tests read.
        let vals: Vec<f64> = all
            .iter()
            .map(|v| match v {
                V::Num(x) => *x,
                _ => f64::NAN,
            })
            .collect();
        let mut cache: Vec<Vec<model::Pred>> = vec![Vec::new(); batch_nodes.len()];
        for (id, mining, classes) in batch_nodes {
            cache[id] = mining.eval_batch(&vals, &all, width, inputs.len(), classes);
        }
        loaded
            .into_iter()
            .zip(all.chunks_mut(width))
            .enumerate()
            .map(|(r, (ok, slots))| {
                ok?;
                self.finish(slots, Some((&cache, r)))
            })
            .collect()
    }
}

fn compile(root: Node) -> Result<PmmlModel, LoadError> {
    if xml::name(root) != "PMML" {
        return xml::err(
            root,
            format!("the root element is <{}>, not <PMML>", xml::name(root)),
        );
    }
    let version = xml::attr(root, "version")?;
    if !matches!(version, "4.1" | "4.2" | "4.3" | "4.4") {
        return xml::err(
            root,
            format!("PMML version {version} is not supported (4.1 to 4.4 are)"),
        );
    }
    let mut fields = Fields::default();
    let bools = Bools {
        t: fields.intern("true"),
        f: fields.intern("false"),
    };
    let dict = xml::child(root, "DataDictionary")
        .ok_or_else(|| xml::error(root, "there is no DataDictionary"))?;
    fields::data_dictionary(&mut fields, dict)?;
    let mut derived = Vec::new();
    if let Some(td) = xml::child(root, "TransformationDictionary") {
        if let Some(df) = xml::child(td, "DefineFunction") {
            return xml::err(df, "DefineFunction is not supported yet");
        }
        let nodes: Vec<Node> = xml::children(td, "DerivedField").collect();
        derived = expr::derived_fields(&mut fields, &nodes)?;
    }
    let model_node = xml::elements(root)
        .find(|n| MODEL_ELEMENTS.contains(&xml::name(*n)))
        .ok_or_else(|| xml::error(root, "there is no model element"))?;
    let inputs = inputs(&mut fields, model_node)?;
    let model = {
        let model_boundary = fields.len();
        let mut c = Compiler {
            fields: &mut fields,
            depth: 0,
            float: false,
            model_boundary,
            batch_nodes: 0,
        };
        model::compile(&mut c, model_node)?
    };
    let signature = signature(&fields, &inputs, &model);
    let output_slots: Vec<usize> = model.result_outputs().iter().map(|o| o.slot).collect();
    Ok(PmmlModel {
        fields,
        bools,
        inputs,
        derived,
        model,
        output_slots,
        signature,
    })
}

/// The top-level model's active MiningFields and their treatments.
fn inputs(fields: &mut Fields, model: Node) -> Result<Vec<Input>, LoadError> {
    let schema = xml::child(model, "MiningSchema")
        .ok_or_else(|| xml::error(model, format!("<{}> has no MiningSchema", xml::name(model))))?;
    let mut out = Vec::new();
    for mf in xml::children(schema, "MiningField") {
        match mf.attribute("usageType").unwrap_or("active") {
            "active" => {}
            "target" | "predicted" | "supplementary" | "group" | "order" | "frequencyWeight"
            | "analysisWeight" => continue,
            other => return xml::err(mf, format!("usageType {other:?} is not supported")),
        }
        let slot = fields.resolve(mf, xml::attr(mf, "name")?)?;
        let invalid = match mf
            .attribute("invalidValueTreatment")
            .unwrap_or("returnInvalid")
        {
            "returnInvalid" => InvalidTreatment::ReturnInvalid,
            "asIs" => InvalidTreatment::AsIs,
            "asMissing" => InvalidTreatment::AsMissing,
            other => {
                return xml::err(
                    mf,
                    format!("invalidValueTreatment {other:?} is not supported"),
                );
            }
        };
        let outliers = match mf.attribute("outliers").unwrap_or("asIs") {
            "asIs" => OutlierTreatment::Keep,
            "asMissingValues" => OutlierTreatment::MissingOutside(
                xml::attr_f64(mf, "lowValue")?,
                xml::attr_f64(mf, "highValue")?,
            ),
            "asExtremeValues" => OutlierTreatment::ClampTo(
                xml::attr_f64(mf, "lowValue")?,
                xml::attr_f64(mf, "highValue")?,
            ),
            other => return xml::err(mf, format!("outliers {other:?} is not supported")),
        };
        let replacement = mf
            .attribute("missingValueReplacement")
            .map(|t| fields.constant(mf, slot, t))
            .transpose()?;
        let field = &fields.fields[slot];
        let plain = (matches!(field.dtype, DType::Double | DType::Float)
            && field.valid.is_empty()
            && field.intervals.is_empty()
            && outliers == OutlierTreatment::Keep
            && replacement.is_none())
        .then_some(field.dtype);
        // Only values an input can match exactly with the same answer as the general path:
        // that path trims the input and maps the field's missing texts to missing first.
        let categories = if field.dtype == DType::String && field.missing_texts.is_empty() {
            field
                .valid
                .iter()
                .filter_map(|v| match v {
                    V::Str(id) => {
                        let text = fields.string(*id);
                        (!text.is_empty() && text.trim() == text).then(|| (text.into(), *id))
                    }
                    _ => None,
                })
                .collect()
        } else {
            Box::default()
        };
        out.push(Input {
            slot,
            invalid,
            outliers,
            replacement,
            plain,
            categories,
        });
    }
    Ok(out)
}

fn signature(fields: &Fields, inputs: &[Input], model: &ModelNode) -> Signature {
    let spec = |slot: usize| {
        let f = &fields.fields[slot];
        let categories = (f.optype != Optype::Continuous && !f.valid.is_empty()).then(|| {
            f.valid
                .iter()
                .map(|v| fields.output(Some(slot), *v).to_string())
                .collect()
        });
        FieldSpec {
            name: f.name.clone(),
            dtype: f.dtype,
            shape: Vec::new(),
            categories,
        }
    };
    let class_name = |i: usize| {
        let v = model.function.classes()[i];
        fields.output(model.target, v).to_string()
    };
    let mut outputs = Vec::new();
    if let Some(t) = model.target {
        let role = match model.function {
            model::Function::Regression => OutputRole::PredictedValue,
            model::Function::Classification(_) => OutputRole::PredictedLabel,
        };
        outputs.push(OutputSpec {
            field: spec(t),
            role,
        });
    }
    for o in model.result_outputs() {
        let role = match &o.kind {
            OutputKind::Probability(Some(i)) => OutputRole::Probability {
                class: class_name(*i),
            },
            _ => OutputRole::Other,
        };
        outputs.push(OutputSpec {
            field: spec(o.slot),
            role,
        });
    }
    let inputs: Vec<FieldSpec> = inputs.iter().map(|i| spec(i.slot)).collect();
    Signature {
        feature_order: Some(inputs.iter().map(|f| f.name.clone()).collect()),
        inputs,
        outputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y = x + 1`, where x declares -999 as its missing value and replaces it with 0.
    const WITH_MISSING: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary><DataField name="x" optype="continuous" dataType="double"><Value value="-999" property="missing"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="x" missingValueReplacement="0"/>
<MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="1"><NumericPredictor name="x" coefficient="1"/></RegressionTable></RegressionModel></PMML>"#;

    #[test]
    fn a_declared_missing_value_is_missing_as_text_and_as_a_number() {
        let model = PmmlModel::parse(WITH_MISSING).unwrap();
        let y = |v: Value| model.predict(&[vec![v]]).remove(0).unwrap()[0].clone();
        assert_eq!(y(Value::String("-999".into())), Value::Number(1.0));
        assert_eq!(y(Value::Number(-999.0)), Value::Number(1.0));
        assert_eq!(y(Value::Number(2.0)), Value::Number(3.0));
    }
}
