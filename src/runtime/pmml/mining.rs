//! MiningModel with Segmentation: ensembles and chains of models, nested to any (capped) depth.
//!
//! A segment whose predicate is UNKNOWN or false does not take part. With the default
//! `missingPredictionTreatment="continue"`, one participating segment without a prediction
//! makes an `average`/`sum`/`median`/`max` result missing (JPMML's reading of the spec); for
//! `majorityVote` a missing prediction is a vote for a pseudo-class "missing".

use roxmltree::Node;

use super::fields::V;
use super::model::{self, Compiler, Env, Function, ModelNode, Pred, class_index};
use super::predicate::{self, Predicate};
use super::tree::argmax;
use super::xml::{self, Result, attr, child, children, elements, err, name};
use crate::runtime::RecordError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Sum,
    Average,
    WeightedAverage,
    Median,
    Max,
    MajorityVote,
    WeightedMajorityVote,
    ModelChain,
    SelectFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingTreatment {
    Continue,
    ReturnMissing,
    SkipSegment,
}

#[derive(Debug)]
struct Segment {
    predicate: Predicate,
    weight: f64,
    model: ModelNode,
    /// The segment's class indices mapped into the parent's class list.
    class_map: Vec<usize>,
}

#[derive(Debug)]
pub struct Mining {
    method: Method,
    missing: MissingTreatment,
    segments: Vec<Segment>,
}

pub fn compile(
    c: &mut Compiler,
    node: Node,
    target: Option<usize>,
    function: &mut Function,
) -> Result<Mining> {
    let Some(seg) = child(node, "Segmentation") else {
        return err(node, "MiningModel has no Segmentation");
    };
    let method = match attr(seg, "multipleModelMethod")? {
        "sum" => Method::Sum,
        "average" => Method::Average,
        "weightedAverage" => Method::WeightedAverage,
        "median" => Method::Median,
        "max" => Method::Max,
        "majorityVote" => Method::MajorityVote,
        "weightedMajorityVote" => Method::WeightedMajorityVote,
        "modelChain" => Method::ModelChain,
        "selectFirst" => Method::SelectFirst,
        other => {
            return err(
                seg,
                format!("multipleModelMethod {other:?} is not supported"),
            );
        }
    };
    let missing = match seg
        .attribute("missingPredictionTreatment")
        .unwrap_or("continue")
    {
        "continue" => MissingTreatment::Continue,
        "returnMissing" => MissingTreatment::ReturnMissing,
        "skipSegment" => MissingTreatment::SkipSegment,
        other => {
            return err(
                seg,
                format!("missingPredictionTreatment {other:?} is not supported"),
            );
        }
    };
    let classification = matches!(function, Function::Classification(_));
    if classification && matches!(method, Method::Sum) {
        return err(seg, "multipleModelMethod sum is for regression only");
    }
    if !classification && matches!(method, Method::MajorityVote | Method::WeightedMajorityVote) {
        return err(seg, "majority votes are for classification only");
    }
    let mut segments = Vec::new();
    for s in children(seg, "Segment") {
        let predicate = predicate::compile_child(c.fields, s)?;
        let Some(model_node) = elements(s).find(|n| super::MODEL_ELEMENTS.contains(&name(*n)))
        else {
            return err(s, "Segment has no model");
        };
        let model = model::compile(c, model_node)?;
        let mut class_map = Vec::new();
        if classification {
            for v in model.function.classes() {
                class_map.push(class_index(function, *v).unwrap_or(0));
            }
        }
        segments.push(Segment {
            predicate,
            weight: xml::opt_f64(s, "weight")?.unwrap_or(1.0),
            model,
            class_map,
        });
    }
    if segments.is_empty() {
        return err(seg, "Segmentation has no Segment");
    }
    let _ = target;
    Ok(Mining {
        method,
        missing,
        segments,
    })
}

impl Mining {
    pub fn eval(
        &self,
        slots: &mut [V],
        env: Env,
        function: &Function,
    ) -> std::result::Result<Pred, RecordError> {
        let classes = function.classes().len();
        match self.method {
            Method::ModelChain | Method::SelectFirst => {
                let mut last = Pred::Missing;
                let mut last_segment = None;
                for s in &self.segments {
                    if s.predicate.eval(slots) != Some(true) {
                        continue;
                    }
                    last = s.model.eval(slots, env)?;
                    last_segment = Some(s);
                    if self.method == Method::SelectFirst {
                        break;
                    }
                }
                Ok(match last_segment {
                    Some(s) => remap(last, s, classes),
                    None => Pred::Missing,
                })
            }
            Method::MajorityVote | Method::WeightedMajorityVote => {
                let weighted = self.method == Method::WeightedMajorityVote;
                let mut votes = vec![0.0; classes];
                let (mut missing_votes, mut total) = (0.0, 0.0);
                for s in &self.segments {
                    if s.predicate.eval(slots) != Some(true) {
                        continue;
                    }
                    let w = if weighted { s.weight } else { 1.0 };
                    match remap(s.model.eval(slots, env)?, s, classes) {
                        Pred::Class { label, .. } => votes[label] += w,
                        Pred::Missing => match self.missing {
                            MissingTreatment::ReturnMissing => return Ok(Pred::Missing),
                            MissingTreatment::SkipSegment => continue,
                            MissingTreatment::Continue => missing_votes += w,
                        },
                        Pred::Value(_) => {
                            return Err(RecordError(
                                "a voting segment made a regression prediction".into(),
                            ));
                        }
                    }
                    total += w;
                }
                let Some(label) = argmax(&votes) else {
                    return Ok(Pred::Missing);
                };
                if total == 0.0 || missing_votes > votes[label] {
                    return Ok(Pred::Missing);
                }
                Ok(Pred::Class {
                    label,
                    probs: votes.iter().map(|v| v / total).collect(),
                })
            }
            _ => self.aggregate(slots, env, classes),
        }
    }

    /// sum, average, weightedAverage, median and max, over values or probability vectors.
    fn aggregate(
        &self,
        slots: &mut [V],
        env: Env,
        classes: usize,
    ) -> std::result::Result<Pred, RecordError> {
        let mut values: Vec<(f64, Pred)> = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            if s.predicate.eval(slots) != Some(true) {
                continue;
            }
            match remap(s.model.eval(slots, env)?, s, classes) {
                Pred::Missing => match self.missing {
                    MissingTreatment::SkipSegment => continue,
                    _ => return Ok(Pred::Missing),
                },
                p => values.push((s.weight, p)),
            }
        }
        if values.is_empty() {
            return Ok(Pred::Missing);
        }
        if classes == 0 {
            let mut ys: Vec<(f64, f64)> = values
                .iter()
                .map(|(w, p)| match p {
                    Pred::Value(y) => Ok((*w, *y)),
                    _ => Err(RecordError(
                        "a regression ensemble got a class prediction".into(),
                    )),
                })
                .collect::<std::result::Result<_, _>>()?;
            let y = match self.method {
                Method::Sum => ys.iter().map(|(_, y)| y).sum(),
                Method::Average => ys.iter().map(|(_, y)| y).sum::<f64>() / ys.len() as f64,
                Method::WeightedAverage => {
                    let wsum: f64 = ys.iter().map(|(w, _)| w).sum();
                    ys.iter().map(|(w, y)| w * y).sum::<f64>() / wsum
                }
                Method::Max => ys.iter().map(|(_, y)| *y).fold(f64::NEG_INFINITY, f64::max),
                Method::Median => {
                    ys.sort_by(|a, b| a.1.total_cmp(&b.1));
                    let n = ys.len();
                    if n % 2 == 1 {
                        ys[n / 2].1
                    } else {
                        (ys[n / 2 - 1].1 + ys[n / 2].1) / 2.0
                    }
                }
                _ => unreachable!("voting and chains are handled by eval"),
            };
            return Ok(Pred::Value(y));
        }
        let probs_of = |p: &Pred| match p {
            Pred::Class { probs, .. } => Ok(probs.clone()),
            _ => Err(RecordError(
                "a classification ensemble got a regression prediction".into(),
            )),
        };
        let probs: Vec<f64> = match self.method {
            Method::Average | Method::WeightedAverage => {
                let weighted = self.method == Method::WeightedAverage;
                let mut acc = vec![0.0; classes];
                let mut wsum = 0.0;
                for (w, p) in &values {
                    let w = if weighted { *w } else { 1.0 };
                    for (a, x) in acc.iter_mut().zip(probs_of(p)?) {
                        *a += w * x;
                    }
                    wsum += w;
                }
                acc.into_iter().map(|a| a / wsum).collect()
            }
            Method::Max => {
                // The segment most confident in its own label wins.
                let mut best: Option<(f64, Vec<f64>)> = None;
                for (_, p) in &values {
                    let probs = probs_of(p)?;
                    let top = probs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if best.as_ref().is_none_or(|(b, _)| top > *b) {
                        best = Some((top, probs));
                    }
                }
                best.map(|(_, p)| p).unwrap_or_default()
            }
            Method::Median => {
                let all: Vec<Vec<f64>> = values
                    .iter()
                    .map(|(_, p)| probs_of(p))
                    .collect::<std::result::Result<_, _>>()?;
                (0..classes)
                    .map(|k| {
                        let mut col: Vec<f64> = all.iter().map(|p| p[k]).collect();
                        col.sort_by(f64::total_cmp);
                        let n = col.len();
                        if n % 2 == 1 {
                            col[n / 2]
                        } else {
                            (col[n / 2 - 1] + col[n / 2]) / 2.0
                        }
                    })
                    .collect()
            }
            _ => {
                return Err(RecordError(
                    "sum of class probabilities is not defined".into(),
                ));
            }
        };
        match argmax(&probs) {
            Some(label) => Ok(Pred::Class { label, probs }),
            None => Ok(Pred::Missing),
        }
    }
}

/// Moves a segment's class prediction into the parent's class list.
fn remap(pred: Pred, s: &Segment, classes: usize) -> Pred {
    match pred {
        Pred::Class { label, probs } if classes > 0 => {
            let mut out = vec![0.0; classes];
            for (i, p) in probs.iter().enumerate() {
                out[s.class_map[i]] += p;
            }
            Pred::Class {
                label: s.class_map[label],
                probs: out,
            }
        }
        other => other,
    }
}
