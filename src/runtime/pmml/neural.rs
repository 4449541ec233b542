//! NeuralNetwork: feed-forward layers compiled into flat weight lists over one activation
//! array (inputs first, then each layer's neurons), so a forward pass is a few tight loops.
//!
//! The arithmetic follows JPMML-Evaluator's order of operations exactly, so that results are
//! identical where JPMML's are (KNIME's networks showed last-bit differences otherwise): a
//! neuron's sum starts at 0, adds `weight × input` in document order and the bias last;
//! radial-basis neurons sum `(x − w)²`, divide by `width² × −2`, add `ln(altitude) × n`;
//! softmax subtracts the layer's maximum before `exp`; a layer's threshold, activation,
//! normalisation and leakage each fall back to the network's on their own.

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
    /// `x-leakage`: the slope below zero (JPMML's extension), none for a plain rectifier.
    Rectifier(Option<f64>),
    /// Width per neuron is on the neuron; this is the layer's altitude.
    RadialBasis {
        altitude: f64,
    },
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Normalization {
    None,
    Simplemax,
    Softmax,
}

#[derive(Debug)]
struct Neuron {
    /// Added after the weighted inputs, when the neuron has one.
    bias: Option<f64>,
    /// Radial-basis neurons: the neuron's (or its layer's, or the network's) width.
    width: Option<f64>,
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

/// A layer's (or the network's) activation attributes, each inherited on its own.
#[derive(Debug, Clone, Copy)]
struct ActivationAttrs<'a> {
    function: Option<&'a str>,
    threshold: Option<f64>,
    leakage: Option<f64>,
    altitude: Option<f64>,
    width: Option<f64>,
}

impl<'a> ActivationAttrs<'a> {
    fn read(node: Node<'a, '_>) -> Result<ActivationAttrs<'a>> {
        Ok(ActivationAttrs {
            function: node.attribute("activationFunction"),
            threshold: xml::opt_f64(node, "threshold")?,
            leakage: xml::opt_f64(node, "x-leakage")?,
            altitude: xml::opt_f64(node, "altitude")?,
            width: xml::opt_f64(node, "width")?,
        })
    }

    /// These attributes where set, the network's where not.
    fn over(self, network: ActivationAttrs<'a>) -> ActivationAttrs<'a> {
        ActivationAttrs {
            function: self.function.or(network.function),
            threshold: self.threshold.or(network.threshold),
            leakage: self.leakage.or(network.leakage),
            altitude: self.altitude.or(network.altitude),
            width: self.width.or(network.width),
        }
    }
}

fn activation(node: Node, attrs: ActivationAttrs) -> Result<Activation> {
    let Some(name) = attrs.function else {
        return err(node, "NeuralNetwork has no activationFunction");
    };
    Ok(match name {
        "threshold" => Activation::Threshold(attrs.threshold.unwrap_or(0.0)),
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
        "rectifier" => Activation::Rectifier(attrs.leakage),
        "radialBasis" => Activation::RadialBasis {
            altitude: attrs.altitude.unwrap_or(1.0),
        },
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
    let network_attrs = ActivationAttrs::read(node)?;
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
        let attrs = ActivationAttrs::read(nl)?.over(network_attrs);
        let layer_activation = activation(nl, attrs)?;
        let radial = matches!(layer_activation, Activation::RadialBasis { .. });
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
            let width = xml::opt_f64(n, "width")?.or(attrs.width);
            if radial && width.is_none() {
                return err(
                    n,
                    "a radialBasis neuron needs a width (on the Neuron, its NeuralLayer or the NeuralNetwork)",
                );
            }
            neurons.push(Neuron {
                bias: xml::opt_f64(n, "bias")?,
                width,
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
            activation: layer_activation,
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
                if knots.len() < 2 || knots.windows(2).any(|w| w[1].1 < w[0].1) {
                    return err(
                        e,
                        "a NeuralOutput's NormContinuous needs at least two LinearNorm points in ascending norm order",
                    );
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

/// A neuron's output from its sum, as JPMML's `DoubleValue` computes each function.
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
        Activation::Arctan => (2.0 * z.atan()) / std::f64::consts::PI,
        // Java's Math.max keeps NaN, where f64::max would drop it.
        Activation::Rectifier(None) if z.is_nan() => z,
        Activation::Rectifier(None) => z.max(0.0),
        Activation::Rectifier(Some(leak)) => {
            if z > 0.0 {
                z
            } else {
                z * leak
            }
        }
        // The radial-basis sum is finished in `eval`; what is left is the exp.
        Activation::RadialBasis { .. } => z.exp(),
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
                let z = match layer.activation {
                    Activation::RadialBasis { altitude } => {
                        let mut z = 0.0;
                        for &(i, w) in &n.inputs {
                            let d = act[i] - w;
                            z += d * d;
                        }
                        let width = n.width.unwrap_or(f64::NAN);
                        z /= (width * width) * -2.0;
                        if altitude != 1.0 {
                            z += altitude.ln() * n.inputs.len() as f64;
                        }
                        z
                    }
                    _ => {
                        let mut z = 0.0;
                        for &(i, w) in &n.inputs {
                            z += w * act[i];
                        }
                        if let Some(bias) = n.bias {
                            z += bias;
                        }
                        z
                    }
                };
                act[layer.start + k] = activate(layer.activation, z);
            }
            let values = &mut act[layer.start..layer.start + layer.neurons.len()];
            normalize(layer.normalization, values)?;
        }
        Ok(match &self.output {
            Output::Value(neuron, None) => Pred::Value(act[*neuron]),
            Output::Value(neuron, Some(knots)) => Pred::Value(denormalize(act[*neuron], knots)?),
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

/// A layer's normalisation, as JPMML's `ValueUtil` does it: the sum is the first value plus
/// the rest in order; a sum of exactly one leaves the values as they are, a sum of zero
/// refuses the record.
fn normalize(method: Normalization, values: &mut [f64]) -> std::result::Result<(), RecordError> {
    match method {
        Normalization::None => return Ok(()),
        Normalization::Simplemax => {}
        Normalization::Softmax => {
            let mut max = values.first().copied().unwrap_or(0.0);
            for &v in values.iter().skip(1) {
                if max < v {
                    max = v;
                }
            }
            values.iter_mut().for_each(|v| *v = (*v - max).exp());
        }
    }
    let Some((&first, rest)) = values.split_first() else {
        return Ok(());
    };
    let sum = rest.iter().fold(first, |s, v| s + v);
    if sum == 1.0 {
        return Ok(());
    }
    if sum == 0.0 {
        return Err(RecordError(
            "the layer's outputs sum to zero, so they cannot be normalised".into(),
        ));
    }
    values.iter_mut().for_each(|v| *v /= sum);
    Ok(())
}

/// Inverts a NormContinuous mapping, from the normalised value back to the original scale, as
/// JPMML does: the segment by the same binary search, no extrapolation.
fn denormalize(y: f64, knots: &[(f64, f64)]) -> std::result::Result<f64, RecordError> {
    let norms: Vec<f64> = knots.iter().map(|k| k.1).collect();
    match expr::knot_segment(y, &norms) {
        Some(i) => {
            let ((o0, n0), (o1, n1)) = (knots[i], knots[i + 1]);
            Ok(((y - n0) / (n1 - n0)) * (o1 - o0) + o0)
        }
        None => Err(RecordError(format!(
            "the network's output {y} is outside the range its NormContinuous maps back ({} to {})",
            norms[0],
            norms[norms.len() - 1]
        ))),
    }
}
