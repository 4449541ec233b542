//! `graph.json` into layers in evaluation order, each holding its parameters (FORMAT.md §4),
//! and each layer's evaluation with Angel's numerics (§5).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::format;
use super::{Instance, Output};

/// A transfer function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Identity,
    Relu,
    Sigmoid,
    Tanh,
}

impl Act {
    fn parse(v: Option<&Value>, default: Act) -> Result<Act, String> {
        let name = match v {
            None => return Ok(default),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Some(other) => return Err(format!("a transfer function is a name, not {other}")),
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "identity" => Act::Identity,
            "relu" => Act::Relu,
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            other => {
                return Err(format!(
                    "transfer function {other:?} is not supported (identity, relu, sigmoid, tanh are)"
                ));
            }
        })
    }

    fn apply(self, v: &mut [f32]) {
        for x in v {
            *x = match self {
                Act::Identity => *x,
                Act::Relu => x.max(0.0),
                Act::Sigmoid => 1.0 / (1.0 + (-*x).exp()),
                Act::Tanh => x.tanh(),
            };
        }
    }
}

/// What a layer computes, with its parameters; inputs are indices of earlier layers.
#[derive(Debug)]
pub enum Op {
    /// `act(W·x + b)`, W: outputs × features.
    Input {
        w: Vec<Vec<f32>>,
        b: Vec<f32>,
        act: Act,
    },
    /// One vector per present feature: `V[i]`, scaled by the feature's value unless it is 1.
    Embedding { v: BTreeMap<usize, Vec<f32>> },
    /// The factorisation machine's pairwise term `½(‖Σe‖² − Σ‖e‖²)`.
    InnerSumCross { input: usize },
    /// `act(W·input + b)`, W row-major outputs × inputs.
    Fc {
        input: usize,
        /// The weights by input: `wt[i * outputs + o]`, so a batch reads each input's row of
        /// weights once for all its instances.
        wt: Vec<f32>,
        b: Vec<f32>,
        inputs: usize,
        act: Act,
    },
    /// The element-wise sum of its inputs.
    SumPooling { inputs: Vec<usize> },
    /// The graph's output: its input, which LogLoss turns into a probability.
    Loss { input: usize },
}

#[derive(Debug)]
pub struct Layer {
    pub name: String,
    pub op: Op,
}

/// One layer as graph.json gives it, FCLayer chains expanded.
struct Spec {
    name: String,
    kind: String,
    inputs: Vec<String>,
    outputdim: i64,
    act: Option<Value>,
    numfactors: usize,
    loss: Option<String>,
}

const SUPPORTED: &str =
    "SimpleInputLayer, Embedding, BiInnerSumCross, FCLayer, SumPooling, SimpleLossLayer";

fn specs(graph: &Value) -> Result<Vec<Spec>, String> {
    let layers: Vec<(String, &Value)> = match graph.get("layers") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|l| {
                (
                    l.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    l,
                )
            })
            .collect(),
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => return Err("graph.json has no layers".into()),
    };
    let mut out = Vec::new();
    for (name, l) in layers {
        if name.is_empty() {
            return Err("a layer in graph.json has no name".into());
        }
        let kind = l
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let input = l
            .get("inputlayer")
            .and_then(Value::as_str)
            .map(str::to_string);
        let inputs: Vec<String> = match l.get("inputlayers") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => input.clone().into_iter().collect(),
        };
        let int = |k: &str| l.get(k).and_then(Value::as_i64);
        if kind == "fclayer"
            && let Some(Value::Array(dims)) = l.get("outputdims")
        {
            let acts = l.get("transfuncs").and_then(Value::as_array);
            let mut previous = input
                .clone()
                .ok_or(format!("FCLayer {name} has no inputlayer"))?;
            for (i, d) in dims.iter().enumerate() {
                let link = if i + 1 == dims.len() {
                    name.clone()
                } else {
                    format!("{name}_{i}")
                };
                out.push(Spec {
                    name: link.clone(),
                    kind: kind.clone(),
                    inputs: vec![previous.clone()],
                    outputdim: d
                        .as_i64()
                        .ok_or(format!("FCLayer {name}: outputdims are numbers"))?,
                    act: acts.and_then(|a| a.get(i)).cloned(),
                    numfactors: 0,
                    loss: None,
                });
                previous = link;
            }
            continue;
        }
        let loss = match l.get("lossfunc") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        out.push(Spec {
            name,
            kind,
            inputs,
            outputdim: int("outputdim").unwrap_or(-1),
            act: l.get("transfunc").cloned(),
            numfactors: int("numfactors").unwrap_or(0).max(0) as usize,
            loss,
        });
    }
    Ok(out)
}

/// Reads the version folder `dir`: the feature dimension, the layers in evaluation order, and
/// the index of the loss layer's input.
pub fn compile(dir: &Path) -> Result<(usize, Vec<Layer>, usize), String> {
    let path = dir.join("graph.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let graph: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dim = graph
        .pointer("/data/indexrange")
        .and_then(Value::as_u64)
        .filter(|d| (1..=1 << 31).contains(d))
        .ok_or("graph.json has no data.indexrange (the feature dimension)")? as usize;
    let default_act = Act::parse(graph.get("default_trandfunc"), Act::Relu).unwrap_or(Act::Relu);
    let mut pending = specs(&graph)?;
    for s in &pending {
        if !matches!(
            s.kind.as_str(),
            "simpleinputlayer"
                | "embedding"
                | "biinnersumcross"
                | "fclayer"
                | "sumpooling"
                | "losslayer"
                | "simplelosslayer"
        ) {
            return Err(format!(
                "layer {} is a {} layer, which modeldeck does not run (it runs {SUPPORTED})",
                s.name, s.kind
            ));
        }
    }
    // Placed once every input is placed, as Angel builds the graph.
    let mut order: Vec<Spec> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|s| s.inputs.iter().all(|i| order.iter().any(|o| &o.name == i)));
        let Some(i) = ready else {
            let names: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "layers {} name inputs that are not layers (or form a cycle)",
                names.join(", ")
            ));
        };
        order.push(pending.remove(i));
    }
    let index = |name: &str, order: &[Spec]| order.iter().position(|o| o.name == name).unwrap_or(0);
    let losses: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind.ends_with("losslayer"))
        .map(|(i, _)| i)
        .collect();
    let [loss] = losses[..] else {
        return Err(format!(
            "graph.json has {} loss layers; it needs exactly one",
            losses.len()
        ));
    };
    let mut layers = Vec::with_capacity(order.len());
    for s in &order {
        let matrix = |param: &str| format::load(&dir.join(format!("{}_{param}", s.name)));
        let input = |k: usize| index(&s.inputs[k], &order);
        let op = match s.kind.as_str() {
            "simpleinputlayer" => {
                let outputs = s.outputdim.max(1) as usize;
                let w = matrix("weight")?;
                let b = matrix("bias")?;
                Op::Input {
                    w: (0..outputs)
                        .map(|r| w.dense_row(r, dim))
                        .collect::<Result<_, _>>()?,
                    b: b.dense_row(0, outputs)?,
                    act: Act::parse(s.act.as_ref(), default_act)?,
                }
            }
            "embedding" => {
                let v = matrix("embedding")?.columns;
                if let Some((i, row)) = v.iter().find(|(_, r)| r.len() != s.numfactors) {
                    return Err(format!(
                        "embedding {}: feature {i} has {} factors, the graph says {}",
                        s.name,
                        row.len(),
                        s.numfactors
                    ));
                }
                Op::Embedding { v }
            }
            "biinnersumcross" => Op::InnerSumCross { input: input(0) },
            "fclayer" => {
                let from = &order[input(0)];
                let inputs = from.outputdim.max(1) as usize;
                let outputs = s.outputdim.max(1) as usize;
                let w = matrix("weight")?.dense_row(0, outputs * inputs)?;
                let mut wt = vec![0.0f32; w.len()];
                for o in 0..outputs {
                    for i in 0..inputs {
                        wt[i * outputs + o] = w[o * inputs + i];
                    }
                }
                Op::Fc {
                    input: input(0),
                    wt,
                    b: matrix("bias")?.dense_row(0, outputs)?,
                    inputs,
                    act: Act::parse(s.act.as_ref(), default_act)?,
                }
            }
            "sumpooling" => Op::SumPooling {
                inputs: (0..s.inputs.len()).map(input).collect(),
            },
            _ => {
                if let Some(l) = &s.loss
                    && !matches!(l.to_ascii_lowercase().as_str(), "logloss" | "hingeloss")
                {
                    return Err(format!("loss function {l} is not supported (LogLoss is)"));
                }
                Op::Loss { input: input(0) }
            }
        };
        layers.push(Layer {
            name: s.name.clone(),
            op,
        });
    }
    let output = match layers[loss].op {
        Op::Loss { input } => input,
        _ => loss,
    };
    Ok((dim, layers, output))
}

/// How many features an instance must have present, and the first features that have an
/// embedding, when the graph feeds an embedding into an FC layer (a DeepFM): its width is
/// fields × factors, so it takes exactly that many features per instance.
pub fn fields(layers: &[Layer]) -> Option<(usize, Vec<usize>)> {
    layers.iter().find_map(|l| {
        let Op::Fc { input, inputs, .. } = &l.op else {
            return None;
        };
        let Op::Embedding { v } = &layers.get(*input)?.op else {
            return None;
        };
        let factors = v.values().next()?.len().max(1);
        let fields = inputs / factors;
        Some((fields, v.keys().take(fields).copied().collect()))
    })
}

impl Layer {
    /// The FC layer's input layer, for a caller that evaluates a batch through it.
    pub fn fc_input(&self) -> Option<usize> {
        match self.op {
            Op::Fc { input, .. } => Some(input),
            _ => None,
        }
    }

    /// An FC layer over a batch, as one matrix product: each input's row of weights is read
    /// once for every instance. Each output is accumulated in float32, input by input, as the
    /// reference sgemm does, so a batch answers bit for bit what one instance does.
    pub fn fc(&self, xs: &[&[f32]]) -> Result<Vec<Vec<f32>>, String> {
        let Op::Fc {
            wt, b, inputs, act, ..
        } = &self.op
        else {
            return Err(format!("{} is not a fully connected layer", self.name));
        };
        if let Some(x) = xs.iter().find(|x| x.len() != *inputs) {
            return Err(format!(
                "layer {} takes {inputs} values and was given {} (an embedding gives one vector per feature present: give the number of fields the model was trained with)",
                self.name,
                x.len()
            ));
        }
        let outputs = b.len();
        let mut out = vec![vec![0.0f32; outputs]; xs.len()];
        for i in 0..*inputs {
            let row = &wt[i * outputs..(i + 1) * outputs];
            for (x, acc) in xs.iter().zip(out.iter_mut()) {
                let xi = x[i];
                for (a, w) in acc.iter_mut().zip(row) {
                    *a += w * xi;
                }
            }
        }
        for acc in &mut out {
            for (a, b) in acc.iter_mut().zip(b) {
                *a += b;
            }
            act.apply(acc);
        }
        Ok(out)
    }
}

/// A dot product as Angel's math library forms it: float32 products summed in float64, the
/// sum cast to float32.
fn vdot(a: impl Iterator<Item = (f32, f32)>) -> f32 {
    a.map(|(x, y)| f64::from(x * y)).sum::<f64>() as f32
}

impl Layer {
    pub fn eval(&self, x: &Instance, outs: &[Output]) -> Result<Output, String> {
        Ok(match &self.op {
            Op::Input { w, b, act } => {
                let mut z: Vec<f32> = w
                    .iter()
                    .zip(b)
                    .map(|(row, b)| {
                        let dot = match x {
                            Instance::Dense(v) => vdot(row.iter().copied().zip(v.iter().copied())),
                            Instance::Sparse(p) => vdot(p.iter().map(|&(i, v)| (row[i], v))),
                        };
                        dot + b
                    })
                    .collect();
                act.apply(&mut z);
                Output::Vector(z)
            }
            Op::Embedding { v } => {
                let pairs: Vec<(usize, f32)> = match x {
                    Instance::Sparse(p) => p.clone(),
                    Instance::Dense(d) => d.iter().copied().enumerate().collect(),
                };
                let rows = pairs
                    .into_iter()
                    .map(|(i, value)| {
                        let e = v.get(&i).ok_or_else(|| {
                            format!("feature {i} has no embedding in layer {}", self.name)
                        })?;
                        Ok(if value == 1.0 {
                            e.clone()
                        } else {
                            e.iter().map(|f| f * value).collect()
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Output::Rows(rows)
            }
            Op::InnerSumCross { input } => {
                let Output::Rows(rows) = &outs[*input] else {
                    return Err(format!("{} reads an embedding", self.name));
                };
                let width = rows.first().map_or(0, Vec::len);
                let mut sum = vec![0.0f32; width];
                let mut acc = 0.0f32;
                for r in rows {
                    acc -= vdot(r.iter().copied().zip(r.iter().copied()));
                    for (s, v) in sum.iter_mut().zip(r) {
                        *s += v;
                    }
                }
                acc += vdot(sum.iter().copied().zip(sum.iter().copied()));
                Output::Vector(vec![acc / 2.0])
            }
            Op::Fc { input, .. } => {
                let v = outs[*input].flat();
                let mut out = self.fc(&[&v])?;
                Output::Vector(out.pop().unwrap_or_default())
            }
            Op::SumPooling { inputs } => {
                let mut sum: Option<Vec<f32>> = None;
                for i in inputs {
                    let v = outs[*i].flat();
                    sum = Some(match sum {
                        None => v,
                        Some(mut s) => {
                            for (a, b) in s.iter_mut().zip(&v) {
                                *a += b;
                            }
                            s
                        }
                    });
                }
                Output::Vector(sum.unwrap_or_default())
            }
            Op::Loss { input } => outs[*input].clone(),
        })
    }
}
