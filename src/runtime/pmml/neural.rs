//! NeuralNetwork: feed-forward layers compiled into flat weight lists over one activation
//! array (inputs first, then each layer's neurons), so a forward pass is a few tight loops.

use std::collections::HashMap;

use roxmltree::Node;

use super::expr::{self, Bools, Expr};
use super::fields::V;
use super::model::{Compiler, Function, Pred, class_index, class_value};
use super::tree::argmax;
use super::xml::{self, Result, attr, child, children, elements, err};
use crate::runtime::RecordError;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Threshold(f64),
    Logistic,
    Tanh,
    Identity,
    Exponential,
    Reciprocal,
    Square,
    Gauss,
    Sine,
    Cosine,
    Elliott,
    Arctan,
    Rectifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Normalization {
    None,
    Simplemax,
    Softmax,
}

#[derive(Debug)]
struct Neuron {
    bias: f64,
    /// (activation index, weight)
    inputs: Vec<(usize, f64)>,
}

#[derive(Debug)]
struct Layer {
    activation: Activation,
    normalization: Normalization,
    /// Index of the layer's first neuron in the activation array.
    start: usize,
    neurons: Vec<Neuron>,
}

#[derive(Debug)]
enum Output {
    /// Classification: the neuron giving each class's probability.
    Classes(Vec<(usize, usize)>),
    /// Regression: the neuron, and the LinearNorm knots to map its value back (if any).
    Value(usize, Option<Vec<(f64, f64)>>),
}

#[derive(Debug)]
pub struct NeuralNetwork {
    inputs: Vec<Expr>,
    layers: Vec<Layer>,
    output: Output,
    width: usize,
    classes: usize,
}

fn activation(node: Node, default: Option<Activation>) -> Result<Activation> {
    let Some(name) = node.attribute("activationFunction") else {
        return default.ok_or_else(|| xml::error(node, "NeuralNetwork has no activationFunction"));
    };
    Ok(match name {
        "threshold" => Activation::Threshold(xml::opt_f64(node, "threshold")?.unwrap_or(0.0)),
        "logistic" => Activation::Logistic,
        "tanh" => Activation::Tanh,
        "identity" => Activation::Identity,
        "exponential" => Activation::Exponential,
        "reciprocal" => Activation::Reciprocal,
        "square" => Activation::Square,
        "Gauss" => Activation::Gauss,
        "sine" => Activation::Sine,
        "cosine" => Activation::Cosine,
        "Elliott" => Activation::Elliott,
        "arctan" => Activation::Arctan,
        "rectifier" => Activation::Rectifier,
        other => {
            return err(
                node,
                format!("activationFunction {other:?} is not supported"),
            );
        }
    })
}

fn normalization(node: Node, default: Normalization) -> Result<Normalization> {
    Ok(match node.attribute("normalizationMethod") {
        None => default,
        Some("none") => Normalization::None,
        Some("simplemax") => Normalization::Simplemax,
        Some("softmax") => Normalization::Softmax,
        Some(other) => {
            return err(
                node,
                format!("normalizationMethod {other:?} is not supported"),
            );
        }
    })
}

pub fn compile(
    c: &mut Compiler,
    node: Node,
    target: Option<usize>,
    function: &mut Function,
) -> Result<NeuralNetwork> {
    let default_activation = activation(node, None)?;
    let default_norm = normalization(node, Normalization::None)?;
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut inputs = Vec::new();
    let neural_inputs = child(node, "NeuralInputs")
        .ok_or_else(|| xml::error(node, "NeuralNetwork has no NeuralInputs"))?;
    for ni in children(neural_inputs, "NeuralInput") {
        let df = child(ni, "DerivedField")
            .ok_or_else(|| xml::error(ni, "NeuralInput has no DerivedField"))?;
        let e = elements(df)
            .find(|n| expr::is_expression(*n))
            .ok_or_else(|| xml::error(df, "the NeuralInput's DerivedField has no expression"))?;
        ids.insert(attr(ni, "id")?.to_string(), inputs.len());
        inputs.push(expr::compile(c.fields, e, None, 0)?);
    }
    let mut width = inputs.len();
    let mut layers = Vec::new();
    for nl in children(node, "NeuralLayer") {
        let start = width;
        let mut neurons = Vec::new();
        for n in children(nl, "Neuron") {
            let mut cons = Vec::new();
            for con in children(n, "Con") {
                let from = attr(con, "from")?;
                let Some(&index) = ids.get(from) else {
                    return err(
                        con,
                        format!("Con from {from:?}, which is not an earlier neuron"),
                    );
                };
                cons.push((index, xml::attr_f64(con, "weight")?));
            }
            neurons.push(Neuron {
                bias: xml::opt_f64(n, "bias")?.unwrap_or(0.0),
                inputs: cons,
            });
            // Ids are registered after the layer's connections are read: a neuron cannot feed
            // its own layer.
        }
        for (k, n) in children(nl, "Neuron").enumerate() {
            ids.insert(attr(n, "id")?.to_string(), start + k);
        }
        width += neurons.len();
        layers.push(Layer {
            activation: activation(nl, Some(default_activation))?,
            normalization: normalization(nl, default_norm)?,
            start,
            neurons,
        });
    }
    if layers.is_empty() {
        return err(node, "NeuralNetwork has no NeuralLayer");
    }
    let outs = child(node, "NeuralOutputs")
        .ok_or_else(|| xml::error(node, "NeuralNetwork has no NeuralOutputs"))?;
    let classification = matches!(function, Function::Classification(_));
    let mut class_neurons = Vec::new();
    let mut value = None;
    for no in children(outs, "NeuralOutput") {
        let neuron_id = attr(no, "outputNeuron")?;
        let Some(&neuron) = ids.get(neuron_id) else {
            return err(no, format!("outputNeuron {neuron_id:?} is not a neuron"));
        };
        let df = child(no, "DerivedField")
            .ok_or_else(|| xml::error(no, "NeuralOutput has no DerivedField"))?;
        let Some(e) = elements(df).find(|n| expr::is_expression(*n)) else {
            return err(df, "the NeuralOutput's DerivedField has no expression");
        };
        match (xml::name(e), classification) {
            ("NormDiscrete", true) => {
                let v = class_value(c.fields, e, target, attr(e, "value")?)?;
                if let Some(class) = class_index(function, v) {
                    class_neurons.push((class, neuron));
                }
            }
            ("FieldRef", false) => value = Some((neuron, None)),
            ("NormContinuous", false) => {
                let mut knots = Vec::new();
                for ln in children(e, "LinearNorm") {
                    knots.push((xml::attr_f64(ln, "orig")?, xml::attr_f64(ln, "norm")?));
                }
                value = Some((neuron, Some(knots)));
            }
            (other, _) => {
                return err(
                    e,
                    format!("a NeuralOutput with <{other}> is not supported here"),
                );
            }
        }
    }
    let output = if classification {
        Output::Classes(class_neurons)
    } else {
        let (neuron, knots) =
            value.ok_or_else(|| xml::error(outs, "no NeuralOutput gives the predicted value"))?;
        Output::Value(neuron, knots)
    };
    Ok(NeuralNetwork {
        inputs,
        layers,
        output,
        width,
        classes: function.classes().len(),
    })
}

fn activate(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Threshold(t) => {
            if z > t {
                1.0
            } else {
                0.0
            }
        }
        Activation::Logistic => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::Identity => z,
        Activation::Exponential => z.exp(),
        Activation::Reciprocal => 1.0 / z,
        Activation::Square => z * z,
        Activation::Gauss => (-(z * z)).exp(),
        Activation::Sine => z.sin(),
        Activation::Cosine => z.cos(),
        Activation::Elliott => z / (1.0 + z.abs()),
        Activation::Arctan => 2.0 * z.atan() / std::f64::consts::PI,
        Activation::Rectifier => z.max(0.0),
    }
}

impl NeuralNetwork {
    pub fn eval(&self, slots: &[V], b: Bools) -> std::result::Result<Pred, RecordError> {
        let mut act = vec![0.0; self.width];
        for (i, e) in self.inputs.iter().enumerate() {
            match e.eval(slots, b)? {
                V::Num(x) => act[i] = x,
                _ => return Ok(Pred::Missing),
            }
        }
        for layer in &self.layers {
            for (k, n) in layer.neurons.iter().enumerate() {
                let mut z = n.bias;
                for &(i, w) in &n.inputs {
                    z += w * act[i];
                }
                act[layer.start + k] = activate(layer.activation, z);
            }
            let values = &mut act[layer.start..layer.start + layer.neurons.len()];
            match layer.normalization {
                Normalization::None => {}
                Normalization::Simplemax => {
                    let sum: f64 = values.iter().sum();
                    values.iter_mut().for_each(|v| *v /= sum);
                }
                Normalization::Softmax => {
                    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    values.iter_mut().for_each(|v| *v = (*v - max).exp());
                    let sum: f64 = values.iter().sum();
                    values.iter_mut().for_each(|v| *v /= sum);
                }
            }
        }
        Ok(match &self.output {
            Output::Value(neuron, None) => Pred::Value(act[*neuron]),
            Output::Value(neuron, Some(knots)) => Pred::Value(denormalize(act[*neuron], knots)),
            Output::Classes(map) => {
                let mut probs = vec![0.0; self.classes];
                for &(class, neuron) in map {
                    probs[class] = act[neuron];
                }
                match argmax(&probs) {
                    Some(label) => Pred::Class {
                        label,
                        probs: probs.into(),
                    },
                    None => Pred::Missing,
                }
            }
        })
    }
}

/// Inverts a NormContinuous mapping: from the normalised value back to the original scale.
fn denormalize(y: f64, knots: &[(f64, f64)]) -> f64 {
    if knots.len() < 2 {
        return y;
    }
    let i = knots
        .windows(2)
        .position(|w| y <= w[1].1.max(w[0].1))
        .unwrap_or(knots.len() - 2);
    let (a, b) = (knots[i], knots[i + 1]);
    a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1)
}
