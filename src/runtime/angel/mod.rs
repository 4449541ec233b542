//! Angel models, natively: a version folder's `graph.json` and parameter matrices compiled at
//! load into a flat list of layers in evaluation order, then evaluated with Angel's float32
//! numerics (dot products summed in float64 and cast back, FC layers accumulated in float32
//! in order), so answers match Angel Serving's. The layer set is the one Angel's own serving
//! examples use: SimpleInputLayer, Embedding, BiInnerSumCross, FCLayer, SumPooling and the
//! loss layer; any other type is refused by name. Written from `../shared/reference/angel/
//! FORMAT.md` (§4–6), which cites the upstream sources.

pub mod format;
mod graph;
mod predictor;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use graph::{Act, Layer, Op};
pub use predictor::{AngelPredictor, MAX_FEATURES};

/// A request instance, as Angel Serving reads one.
#[derive(Debug, Clone, PartialEq)]
pub enum Instance {
    /// Every feature, in order (`[v0, v1, …]`).
    Dense(Vec<f32>),
    /// Feature indices with their values, ascending, a repeated index keeping its last value.
    Sparse(Vec<(usize, f32)>),
}

impl Instance {
    /// A sparse instance from request order (duplicates: the last wins; sorted ascending).
    pub fn sparse(pairs: impl IntoIterator<Item = (usize, f32)>) -> Instance {
        let map: std::collections::BTreeMap<usize, f32> = pairs.into_iter().collect();
        Instance::Sparse(map.into_iter().collect())
    }
}

/// A layer's output: a vector, or an embedding's one vector per feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Vector(Vec<f32>),
    Rows(Vec<Vec<f32>>),
}

impl Output {
    fn flat(&self) -> Vec<f32> {
        match self {
            Output::Vector(v) => v.clone(),
            Output::Rows(r) => r.concat(),
        }
    }
}

/// One instance's answer, as Angel's LogLoss predicts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The model's raw output (a margin), float32 widened.
    pub pred: f64,
    /// `1 / (1 + e^-pred)`, in double.
    pub proba: f64,
    /// `1.0` when `pred > 0`, else `-1.0`.
    pub label: f64,
    /// Every layer's output, by layer name, in evaluation order.
    pub layers: Vec<(String, Output)>,
}

#[derive(Debug)]
pub struct AngelModel {
    /// `data.indexrange`: the feature dimension.
    pub dim: usize,
    layers: Vec<Layer>,
    /// The loss layer's input.
    output: usize,
    /// For a graph that feeds an embedding into an FC layer (a DeepFM), the features an
    /// instance must have present: one per field.
    fields: Option<usize>,
}

/// The version folder under `dir`: `dir` itself when it holds `graph.json`, else its child
/// with the highest number as its name.
pub fn version_dir(dir: &Path) -> Result<PathBuf, String> {
    if dir.join("graph.json").is_file() {
        return Ok(dir.to_path_buf());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    entries
        .flatten()
        .filter_map(|e| {
            let v: u64 = e.file_name().to_str()?.parse().ok()?;
            e.path()
                .join("graph.json")
                .is_file()
                .then_some((v, e.path()))
        })
        .max_by_key(|(v, _)| *v)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            format!(
                "{} has no graph.json, nor a numbered version folder holding one",
                dir.display()
            )
        })
}

impl AngelModel {
    /// Loads the latest version under `dir` (see [`version_dir`]).
    pub fn load(dir: &Path) -> Result<AngelModel, String> {
        let vdir = version_dir(dir)?;
        let (dim, layers, output) = graph::compile(&vdir)?;
        let fields = graph::fields(&layers).map(|(f, _)| f);
        Ok(AngelModel {
            dim,
            layers,
            output,
            fields,
        })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// A batch through the graph layer by layer, the FC layers as matrix products over every
    /// instance still standing; each instance's prediction (its `pred`), or why it failed.
    pub fn predict_batch(&self, xs: &[Instance]) -> Vec<Result<f64, String>> {
        let mut outs: Vec<Result<Vec<Output>, String>> = xs
            .iter()
            .map(|x| {
                self.check(x)
                    .map(|()| Vec::with_capacity(self.layers.len()))
            })
            .collect();
        for layer in &self.layers {
            if let Some(input) = layer.fc_input() {
                let live: Vec<usize> = (0..xs.len()).filter(|b| outs[*b].is_ok()).collect();
                let flat: Vec<Vec<f32>> = live
                    .iter()
                    .map(|b| match &outs[*b] {
                        Ok(o) => o[input].flat(),
                        Err(_) => Vec::new(),
                    })
                    .collect();
                let refs: Vec<&[f32]> = flat.iter().map(Vec::as_slice).collect();
                match layer.fc(&refs) {
                    Ok(results) => {
                        for (b, v) in live.into_iter().zip(results) {
                            if let Ok(o) = &mut outs[b] {
                                o.push(Output::Vector(v));
                            }
                        }
                    }
                    // A width mismatch is an instance's own: evaluate them one by one.
                    Err(_) => {
                        for b in live {
                            let out = outs[b]
                                .as_ref()
                                .map_err(Clone::clone)
                                .and_then(|o| layer.eval(&xs[b], o));
                            match (out, &mut outs[b]) {
                                (Ok(v), Ok(o)) => o.push(v),
                                (Err(e), slot) => *slot = Err(e),
                                _ => {}
                            }
                        }
                    }
                }
                continue;
            }
            for (x, slot) in xs.iter().zip(outs.iter_mut()) {
                let Ok(o) = slot else { continue };
                match layer.eval(x, o) {
                    Ok(v) => o.push(v),
                    Err(e) => *slot = Err(e),
                }
            }
        }
        outs.into_iter()
            .map(|o| {
                let o = o?;
                o[self.output]
                    .flat()
                    .first()
                    .map(|p| f64::from(*p))
                    .ok_or_else(|| "the graph's output is empty".to_string())
            })
            .collect()
    }

    /// An instance's shape against the model's features.
    fn check(&self, x: &Instance) -> Result<(), String> {
        match x {
            Instance::Dense(v) if v.len() != self.dim => {
                return Err(format!(
                    "a dense instance has {} values; this model takes {} (or give sparseIndices and sparseValues)",
                    v.len(),
                    self.dim
                ));
            }
            Instance::Sparse(p) => {
                if let Some((i, _)) = p.iter().find(|(i, _)| *i >= self.dim) {
                    return Err(format!(
                        "sparse index {i} is out of range: this model's features are 0 to {}",
                        self.dim - 1
                    ));
                }
            }
            Instance::Dense(_) => {}
        }
        let present = match x {
            Instance::Dense(v) => v.len(),
            Instance::Sparse(p) => p.len(),
        };
        match self.fields {
            Some(fields) if present != fields => Err(format!(
                "this model takes exactly {fields} features per instance, one per field, and this one has {present}{}: send the {fields} present features as sparseIndices and sparseValues",
                if matches!(x, Instance::Dense(_)) {
                    " (a dense instance gives every feature, zeros included, as Angel Serving reads it)"
                } else {
                    ""
                }
            )),
            _ => Ok(()),
        }
    }

    /// One instance through the graph, with every layer's output.
    pub fn predict(&self, x: &Instance) -> Result<Prediction, String> {
        self.check(x)?;
        let mut outs: Vec<Output> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let out = layer.eval(x, &outs)?;
            outs.push(out);
        }
        let out = outs[self.output].flat();
        let pred = f64::from(*out.first().ok_or("the graph's output is empty")?);
        Ok(Prediction {
            pred,
            proba: 1.0 / (1.0 + (-pred).exp()),
            label: if pred > 0.0 { 1.0 } else { -1.0 },
            layers: self
                .layers
                .iter()
                .map(|l| l.name.clone())
                .zip(outs)
                .collect(),
        })
    }
}
