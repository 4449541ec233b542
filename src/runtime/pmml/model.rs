//! What every model element shares: its function (regression or classification, with the class
//! list), target field, local transformations, `Targets` post-processing and `Output` fields,
//! and the dispatch to the model family that computes the prediction.

use roxmltree::Node;

use super::expr::{self, Bools, Expr};
use super::fields::{Field, Fields, V, dtype, optype};
use super::xml::{self, Result, attr, child, children, err, name};
use super::{mining, neural, regression, tree};
use crate::runtime::{DType, RecordError};

/// Models nested deeper than this (Segmentation inside Segmentation …) are refused.
const MAX_MODEL_DEPTH: usize = 32;

/// What a model predicts.
#[derive(Debug, Clone)]
pub enum Function {
    Regression,
    /// The class labels, typed for the target field; predictions index into this list.
    Classification(Vec<V>),
}

impl Function {
    pub fn classes(&self) -> &[V] {
        match self {
            Function::Regression => &[],
            Function::Classification(c) => c,
        }
    }
}

/// A prediction before it is turned into output values.
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    Missing,
    Value(f64),
    /// Index of the label in the model's class list, and the probability of each class.
    Class {
        label: usize,
        probs: Probs,
    },
}

/// Class probabilities, inline up to four classes (what most classifiers have), so that a
/// classification allocates nothing per record.
#[derive(Debug, Clone)]
pub enum Probs {
    Inline { len: u8, values: [f64; 4] },
    Heap(Vec<f64>),
}

impl Probs {
    pub fn zeros(n: usize) -> Probs {
        if n <= 4 {
            Probs::Inline {
                len: n as u8,
                values: [0.0; 4],
            }
        } else {
            Probs::Heap(vec![0.0; n])
        }
    }
}

impl From<&[f64]> for Probs {
    fn from(values: &[f64]) -> Probs {
        let mut p = Probs::zeros(values.len());
        p.copy_from_slice(values);
        p
    }
}

impl From<Vec<f64>> for Probs {
    fn from(values: Vec<f64>) -> Probs {
        if values.len() <= 4 {
            Probs::from(values.as_slice())
        } else {
            Probs::Heap(values)
        }
    }
}

impl std::ops::Deref for Probs {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        match self {
            Probs::Inline { len, values } => &values[..usize::from(*len)],
            Probs::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for Probs {
    fn deref_mut(&mut self) -> &mut [f64] {
        match self {
            Probs::Inline { len, values } => &mut values[..usize::from(*len)],
            Probs::Heap(v) => v,
        }
    }
}

impl PartialEq for Probs {
    fn eq(&self, other: &Probs) -> bool {
        **self == **other
    }
}

/// What evaluation needs besides the slots.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub fields: &'a Fields,
    pub bools: Bools,
    /// Results of batch-evaluated ensembles for this record, by their `batch_id`.
    pub cache: Option<(&'a [Vec<Pred>], usize)>,
}

impl<'a> Env<'a> {
    pub fn cached(&self, id: usize) -> Option<&'a Pred> {
        let (cache, row) = self.cache?;
        cache.get(id)?.get(row)
    }
}

#[derive(Debug)]
pub struct ModelNode {
    pub function: Function,
    pub target: Option<usize>,
    local: Vec<(usize, Expr)>,
    body: Body,
    targets: Option<TargetRule>,
    pub outputs: Vec<OutputField>,
}

#[derive(Debug)]
enum Body {
    Tree(tree::Tree),
    Regression(regression::Regression),
    Mining(mining::Mining),
    Neural(neural::NeuralNetwork),
}

#[derive(Debug)]
struct TargetRule {
    factor: f64,
    constant: f64,
    min: Option<f64>,
    max: Option<f64>,
    cast: Option<fn(f64) -> f64>,
    default: Option<f64>,
    float: bool,
}

impl TargetRule {
    /// min, max, then castInteger.
    fn bound(&self, mut y: f64) -> f64 {
        if let Some(min) = self.min {
            y = y.max(min);
        }
        if let Some(max) = self.max {
            y = y.min(max);
        }
        if let Some(cast) = self.cast {
            y = cast(y);
        }
        y
    }
}

#[derive(Debug)]
pub struct OutputField {
    pub slot: usize,
    pub kind: OutputKind,
    /// `isFinalResult="false"` fields feed later computations but are not reported.
    pub is_final: bool,
}

#[derive(Debug)]
pub enum OutputKind {
    PredictedValue,
    /// A class's probability; `None` is the probability of the predicted class.
    Probability(Option<usize>),
    Transformed(Expr),
}

/// Compilation state shared down the model tree.
pub struct Compiler<'f> {
    pub fields: &'f mut Fields,
    pub depth: usize,
    /// `x-mathContext="float"` (XGBoost): the model computes in f32, inherited by segments.
    pub float: bool,
    /// Slots below this are inputs and dictionary-derived fields, known before any model runs.
    pub model_boundary: usize,
    /// How many ensembles can be evaluated a batch at a time.
    pub batch_nodes: usize,
}

/// Compiles a model element (`TreeModel`, `RegressionModel`, `MiningModel`).
pub fn compile(c: &mut Compiler, node: Node) -> Result<ModelNode> {
    if c.depth > MAX_MODEL_DEPTH {
        return err(
            node,
            format!("models nest deeper than {MAX_MODEL_DEPTH} levels"),
        );
    }
    let schema = child(node, "MiningSchema")
        .ok_or_else(|| xml::error(node, format!("<{}> has no MiningSchema", name(node))))?;
    let mut target = None;
    for mf in children(schema, "MiningField") {
        let field = attr(mf, "name")?;
        let slot = c.fields.resolve(mf, field)?;
        if matches!(mf.attribute("usageType"), Some("target" | "predicted")) && target.is_none() {
            target = Some(slot);
        }
    }
    let mut local = Vec::new();
    if let Some(lt) = child(node, "LocalTransformations") {
        let nodes: Vec<Node> = children(lt, "DerivedField").collect();
        local = expr::derived_fields(c.fields, &nodes)?;
    }
    let mut function = match attr(node, "functionName")? {
        "regression" => Function::Regression,
        "classification" => Function::Classification(
            target
                .map(|t| c.fields.fields[t].valid.clone())
                .unwrap_or_default(),
        ),
        other => {
            return err(
                node,
                format!(
                    "functionName {other:?} is not supported for <{}>",
                    name(node)
                ),
            );
        }
    };
    let outer_float = c.float;
    c.float = match node.attribute("x-mathContext") {
        Some("float") => true,
        Some("double") => false,
        Some(other) => return err(node, format!("x-mathContext {other:?} is not supported")),
        None => outer_float,
    };
    c.depth += 1;
    let body = match name(node) {
        "TreeModel" => Body::Tree(tree::compile(c, node, target, &mut function)?),
        "RegressionModel" => Body::Regression(regression::compile(c, node, target, &mut function)?),
        "MiningModel" => Body::Mining(mining::compile(c, node, &mut function)?),
        "NeuralNetwork" => Body::Neural(neural::compile(c, node, target, &mut function)?),
        other => return err(node, format!("<{other}> models are not supported yet")),
    };
    c.depth -= 1;
    let mut targets = target_rule(node, target, c.fields)?;
    if let Some(t) = targets.as_mut() {
        t.float = c.float;
    }
    c.float = outer_float;
    let outputs = outputs(c, node, &function, target)?;
    Ok(ModelNode {
        function,
        target,
        local,
        body,
        targets,
        outputs,
    })
}

/// A class label as a value of the target field (or untyped when there is no target).
pub fn class_value(
    fields: &mut Fields,
    node: Node,
    target: Option<usize>,
    text: &str,
) -> Result<V> {
    match target {
        Some(t) => fields.constant(node, t, text),
        None => Ok(match xml::parse_number(text) {
            Some(n) => V::Num(n),
            None => V::Str(fields.intern(text)),
        }),
    }
}

/// The index of `v` in the class list, adding it when the target declares no values.
pub fn class_index(function: &mut Function, v: V) -> Option<usize> {
    let Function::Classification(classes) = function else {
        return None;
    };
    if let Some(i) = classes.iter().position(|c| *c == v) {
        return Some(i);
    }
    classes.push(v);
    Some(classes.len() - 1)
}

fn target_rule(node: Node, target: Option<usize>, fields: &Fields) -> Result<Option<TargetRule>> {
    let Some(targets) = child(node, "Targets") else {
        return Ok(None);
    };
    let Some(t) = children(targets, "Target").next() else {
        return Ok(None);
    };
    if let (Some(field), Some(slot)) = (t.attribute("field"), target)
        && fields.slot(field) != Some(slot)
    {
        return err(
            t,
            format!("Target names field {field:?}, which is not the model's target"),
        );
    }
    let cast: Option<fn(f64) -> f64> = match t.attribute("castInteger") {
        None => None,
        Some("round") => Some(expr::round_half_up),
        Some("ceiling") => Some(f64::ceil),
        Some("floor") => Some(f64::floor),
        Some(other) => return err(t, format!("castInteger {other:?} is not supported")),
    };
    let default = children(t, "TargetValue")
        .find_map(|tv| tv.attribute("defaultValue"))
        .map(|d| xml::number(t, "defaultValue", d))
        .transpose()?;
    Ok(Some(TargetRule {
        factor: xml::opt_f64(t, "rescaleFactor")?.unwrap_or(1.0),
        constant: xml::opt_f64(t, "rescaleConstant")?.unwrap_or(0.0),
        min: xml::opt_f64(t, "min")?,
        max: xml::opt_f64(t, "max")?,
        cast,
        default,
        float: false,
    }))
}

/// The type of an OutputField without `dataType`, as JPMML takes it from the value computed:
/// a predicted label has the target's type, a transformed value its expression's, and every
/// other feature (a regression's value, a probability) is a double. R's rattle writes its
/// `Predicted_Species` so.
fn untyped_output(fields: &Fields, of: Node, function: &Function, target: Option<usize>) -> DType {
    match of.attribute("feature").unwrap_or("predictedValue") {
        "predictedValue" => match (function, target) {
            (Function::Classification(_), Some(t)) => fields.fields[t].dtype,
            (Function::Classification(_), None) => DType::String,
            (Function::Regression, _) => DType::Double,
        },
        "transformedValue" => super::xml::elements(of)
            .find(|n| expr::is_expression(*n))
            .map_or(DType::Double, |e| expr::result_dtype(fields, e)),
        _ => DType::Double,
    }
}

fn outputs(
    c: &mut Compiler,
    node: Node,
    function: &Function,
    target: Option<usize>,
) -> Result<Vec<OutputField>> {
    let Some(output) = child(node, "Output") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for of in children(output, "OutputField") {
        let field_name = attr(of, "name")?;
        if of.attribute("segmentId").is_some() {
            return err(of, "OutputField segmentId is not supported");
        }
        let dt = match of.attribute("dataType") {
            Some(_) => dtype(of)?,
            None => untyped_output(c.fields, of, function, target),
        };
        let slot = c
            .fields
            .add(of, Field::new(field_name, dt, optype(of, dt)?))?;
        let kind = match of.attribute("feature").unwrap_or("predictedValue") {
            "predictedValue" => OutputKind::PredictedValue,
            "probability" => match of.attribute("value") {
                None => OutputKind::Probability(None),
                Some(text) => {
                    let v = match function {
                        Function::Classification(classes) => {
                            classes.iter().position(|c2| match *c2 {
                                V::Num(n) => xml::parse_number(text) == Some(n),
                                V::Str(id) => c.fields.string(id) == text,
                                V::Missing => false,
                            })
                        }
                        Function::Regression => None,
                    };
                    match v {
                        Some(i) => OutputKind::Probability(Some(i)),
                        None => {
                            return err(
                                of,
                                format!(
                                    "probability of {text:?}, which is not one of the model's classes"
                                ),
                            );
                        }
                    }
                }
            },
            "transformedValue" => {
                let Some(e) = super::xml::elements(of).find(|n| expr::is_expression(*n)) else {
                    return err(of, "a transformedValue OutputField has no expression");
                };
                OutputKind::Transformed(expr::compile(c.fields, e, Some(slot), 0)?)
            }
            other => {
                return err(
                    of,
                    format!("OutputField feature {other:?} is not supported yet"),
                );
            }
        };
        out.push(OutputField {
            slot,
            kind,
            is_final: of.attribute("isFinalResult") != Some("false"),
        });
    }
    Ok(out)
}

impl ModelNode {
    /// Evaluates the model on `slots`, writing its derived and output fields into them.
    pub fn eval(&self, slots: &mut [V], env: Env) -> std::result::Result<Pred, RecordError> {
        for (slot, e) in &self.local {
            slots[*slot] = env.fields.cast(*slot, e.eval(slots, env.bools)?);
        }
        let mut pred = match &self.body {
            Body::Tree(t) => t.eval(slots),
            Body::Regression(r) => r.eval(slots),
            Body::Mining(m) => m.eval(slots, env, &self.function, self.target)?,
            Body::Neural(n) => n.eval(slots, env.bools)?,
        };
        if let Some(rule) = &self.targets {
            pred = match pred {
                Pred::Value(y) => {
                    let y = if rule.float {
                        f64::from(y as f32 * rule.factor as f32 + rule.constant as f32)
                    } else {
                        y * rule.factor + rule.constant
                    };
                    Pred::Value(rule.bound(y))
                }
                // The default stands in for the rescaled value: bounded and cast, not rescaled.
                Pred::Missing => rule
                    .default
                    .map_or(Pred::Missing, |d| Pred::Value(rule.bound(d))),
                other => other,
            };
        }
        for o in &self.outputs {
            let v = match (&o.kind, &pred) {
                (_, Pred::Missing) if !matches!(o.kind, OutputKind::Transformed(_)) => V::Missing,
                (OutputKind::PredictedValue, _) => self.predicted_value(&pred),
                (OutputKind::Probability(class), Pred::Class { label, probs }) => {
                    V::Num(probs[class.unwrap_or(*label)])
                }
                (OutputKind::Probability(_), _) => V::Missing,
                (OutputKind::Transformed(e), _) => e.eval(slots, env.bools)?,
            };
            slots[o.slot] = env.fields.cast(o.slot, v);
        }
        Ok(pred)
    }

    /// Every batch-evaluable ensemble in this model, with its id and class count.
    pub fn batch_nodes<'a>(&'a self, out: &mut Vec<(usize, &'a mining::Mining, usize)>) {
        if let Body::Mining(m) = &self.body {
            m.batch_nodes(self.function.classes().len(), out);
        }
    }

    /// The tree, when this model is nothing but a tree (no transformations, targets or outputs
    /// of its own), which lets an ensemble score it directly.
    pub fn plain_tree(&self) -> Option<&tree::Tree> {
        match &self.body {
            Body::Tree(t)
                if self.local.is_empty() && self.outputs.is_empty() && self.targets.is_none() =>
            {
                Some(t)
            }
            _ => None,
        }
    }

    /// The output fields a caller sees: this model's final ones, then (for a model chain) those
    /// of its segments, filled in for the segment that gave the result, as JPMML reports them.
    pub fn result_outputs(&self) -> Vec<&OutputField> {
        let mut out: Vec<&OutputField> = self.outputs.iter().filter(|o| o.is_final).collect();
        if let Body::Mining(m) = &self.body {
            for segment in m.chain_models() {
                for o in segment.result_outputs() {
                    if !out.iter().any(|x| x.slot == o.slot) {
                        out.push(o);
                    }
                }
            }
        }
        out
    }

    /// The predicted value as a value of the target field.
    pub fn predicted_value(&self, pred: &Pred) -> V {
        match pred {
            Pred::Missing => V::Missing,
            Pred::Value(y) => V::Num(*y),
            Pred::Class { label, .. } => self.function.classes()[*label],
        }
    }
}
