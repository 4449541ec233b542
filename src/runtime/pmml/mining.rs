//! MiningModel with Segmentation: ensembles and chains of models, nested to any (capped) depth.
//!
//! A segment whose predicate is UNKNOWN or false does not take part. With the default
//! `missingPredictionTreatment="continue"`, one participating segment without a prediction
//! makes an `average`/`sum`/`median`/`max` result missing (JPMML's reading of the spec); for
//! `majorityVote` a missing prediction is a vote for a pseudo-class "missing".

use roxmltree::Node;

use super::fields::V;
use super::model::{self, Compiler, Env, Function, ModelNode, Pred, Probs, class_index};
use super::predicate::{self, Predicate};
use super::tree;
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
    /// The share of (weighted) missing segment predictions above which the result is missing.
    missing_threshold: f64,
    /// Sums and averages in f32 (`x-mathContext="float"`).
    float: bool,
    /// Every segment is a plain tree that always takes part, and the method is a sum or an
    /// average: then the trees' leaves are added up directly, with no per-segment results.
    direct: bool,
    /// For a direct ensemble that reads only input and dictionary-derived fields: its index in
    /// the batch cache, where a whole batch's results are computed tree by tree up front.
    pub batch_id: Option<usize>,
    /// For a batch ensemble: what each tree's result node adds to the sums, so the batch loop
    /// adds numbers it reads at one index instead of following distributions and class maps.
    leaves: Option<Vec<Leaves>>,
    segments: Vec<Segment>,
}

/// A plain tree's nodes as contributions to its ensemble's sums: per node `width` numbers
/// (one per parent class, or the score), already multiplied by the segment's weight, exactly
/// the products the record-by-record path adds; `present` is false where a node gives no
/// prediction.
#[derive(Debug)]
struct Leaves {
    present: Vec<bool>,
    add: Vec<f64>,
    add32: Vec<f32>,
}

impl Leaves {
    /// Adds each record's result node into its sums (`classes` per record, or one score).
    fn add_batch(
        &self,
        leaves: &[usize],
        classes: usize,
        float: bool,
        sums: &mut [f64],
        sums32: &mut [f32],
        missing: &mut [bool],
    ) {
        for (r, &leaf) in leaves.iter().enumerate() {
            if leaf == usize::MAX || !self.present[leaf] {
                missing[r] = true;
                continue;
            }
            match classes {
                0 if float => sums32[r] += self.add32[leaf],
                0 => sums[r] += self.add[leaf],
                2 => {
                    sums[2 * r] += self.add[2 * leaf];
                    sums[2 * r + 1] += self.add[2 * leaf + 1];
                }
                _ => {
                    let add = &self.add[leaf * classes..(leaf + 1) * classes];
                    for (sum, a) in sums[r * classes..(r + 1) * classes].iter_mut().zip(add) {
                        *sum += a;
                    }
                }
            }
        }
    }

    /// `None` when the products cannot stand in for the record path's additions (two of the
    /// tree's classes map onto one parent class, so the record path adds twice).
    fn of(s: &Segment, tree: &tree::Tree, w: f64, classes: usize) -> Option<Leaves> {
        let width = classes.max(1);
        let mut leaves = Leaves {
            present: vec![false; tree.len()],
            add: vec![0.0; tree.len() * width],
            add32: vec![0.0; if classes == 0 { tree.len() } else { 0 }],
        };
        let mut mapped = s.class_map.clone();
        mapped.sort_unstable();
        mapped.dedup();
        if mapped.len() != s.class_map.len() {
            return None;
        }
        for i in 0..tree.len() {
            let row = &mut leaves.add[i * width..(i + 1) * width];
            if classes == 0 {
                if let Some(y) = tree.score(i) {
                    row[0] = w * y;
                    leaves.add32[i] = w as f32 * y as f32;
                    leaves.present[i] = true;
                }
                continue;
            }
            match tree.probabilities(i) {
                Some(probs) => {
                    for (k, p) in probs.iter().enumerate() {
                        row[s.class_map[k]] = w * p;
                    }
                }
                None => match tree.result(i) {
                    Pred::Class { label, .. } => row[s.class_map[label]] = w,
                    _ => continue,
                },
            }
            leaves.present[i] = true;
        }
        Some(leaves)
    }
}

pub fn compile(c: &mut Compiler, node: Node, function: &mut Function) -> Result<Mining> {
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
    if !classification && method == Method::Max {
        return err(seg, "multipleModelMethod max is for classification only");
    }
    let direct = matches!(
        method,
        Method::Sum | Method::Average | Method::WeightedAverage
    ) && missing != MissingTreatment::SkipSegment
        && segments
            .iter()
            .all(|s| matches!(s.predicate, Predicate::True) && s.model.plain_tree().is_some());
    let reads_inputs_only = segments.iter().all(|s| {
        s.model
            .plain_tree()
            .and_then(|t| t.max_slot())
            .is_some_and(|m| m < c.model_boundary)
    });
    let batch_id = (direct && reads_inputs_only).then(|| {
        c.batch_nodes += 1;
        c.batch_nodes - 1
    });
    let classes = function.classes().len();
    let leaves = batch_id.and_then(|_| {
        segments
            .iter()
            .map(|s| {
                let w = if method == Method::WeightedAverage {
                    s.weight
                } else {
                    1.0
                };
                Leaves::of(s, s.model.plain_tree()?, w, classes)
            })
            .collect()
    });
    Ok(Mining {
        method,
        missing,
        missing_threshold: xml::opt_f64(seg, "missingThreshold")?.unwrap_or(1.0),
        float: c.float,
        direct,
        batch_id,
        leaves,
        segments,
    })
}

impl Mining {
    /// In a model chain, every segment's model: the chain reports the outputs of whichever
    /// segment gave its result, as JPMML does.
    pub fn chain_models(&self) -> impl Iterator<Item = &ModelNode> {
        self.segments
            .iter()
            .filter(|_| self.method == Method::ModelChain)
            .map(|s| &s.model)
    }

    pub fn eval(
        &self,
        slots: &mut [V],
        env: Env,
        function: &Function,
        target: Option<usize>,
    ) -> std::result::Result<Pred, RecordError> {
        let classes = function.classes().len();
        if matches!(self.method, Method::ModelChain | Method::SelectFirst) {
            let mut last: Option<(usize, Pred)> = None;
            for (i, s) in self.segments.iter().enumerate() {
                if s.predicate.eval(slots) != Some(true) {
                    continue;
                }
                last = Some((i, remap(s.model.eval(slots, env)?, s, classes)));
                if self.method == Method::SelectFirst {
                    break;
                }
            }
            let Some((producer, pred)) = last else {
                return Ok(Pred::Missing);
            };
            if self.method == Method::ModelChain {
                // Only the producing segment's outputs are the chain's answer.
                for (i, s) in self.segments.iter().enumerate() {
                    if i != producer {
                        for o in s.model.result_outputs() {
                            slots[o.slot] = V::Missing;
                        }
                    }
                }
                // A segment predicting some other field does not predict the chain's target.
                if self.segments[producer].model.target != target {
                    return Ok(Pred::Missing);
                }
            }
            return Ok(pred);
        }
        if let Some(pred) = self.batch_id.and_then(|id| env.cached(id)) {
            return Ok(pred.clone());
        }
        if self.direct {
            return Ok(self.eval_direct(slots, classes));
        }
        // Every participating segment's (weight, prediction), in document order.
        let mut results: Vec<(f64, Pred)> = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            if s.predicate.eval(slots) == Some(true) {
                results.push((s.weight, remap(s.model.eval(slots, env)?, s, classes)));
            }
        }
        let total_weight: f64 = results.iter().map(|(w, _)| w).sum();
        let selected = !results.is_empty();
        let (mut missing_weight, mut missing_count) = (0.0, 0.0);
        let voting = matches!(
            self.method,
            Method::MajorityVote | Method::WeightedMajorityVote
        );
        let mut kept: Vec<(f64, Pred)> = Vec::with_capacity(results.len());
        for (w, p) in results {
            if p != Pred::Missing {
                kept.push((w, p));
                continue;
            }
            match self.missing {
                MissingTreatment::ReturnMissing => return Ok(Pred::Missing),
                // Averages cannot go on without a member; votes can.
                MissingTreatment::Continue if !voting => return Ok(Pred::Missing),
                _ => {
                    missing_weight += w;
                    missing_count += 1.0;
                    if missing_weight / total_weight > self.missing_threshold {
                        return Ok(Pred::Missing);
                    }
                }
            }
        }
        if kept.is_empty() {
            // JPMML refuses a vote in which segments took part but none voted ("Empty
            // classification"); with no segment selected there was no vote to hold.
            if voting && selected {
                return Err(RecordError(
                    "every segment that took part in the vote predicted nothing".into(),
                ));
            }
            return Ok(Pred::Missing);
        }
        if voting {
            let weighted = self.method == Method::WeightedMajorityVote;
            let missing_votes = if weighted {
                missing_weight
            } else {
                missing_count
            };
            return self.vote(&kept, classes, weighted, missing_votes);
        }
        if classes == 0 {
            return self.combine_values(&kept).map(Pred::Value);
        }
        self.combine_probabilities(&kept, classes)
    }

    /// `eval_direct` for a whole batch (`all` holds `width` slots per record), tree by tree.
    pub fn eval_batch(
        &self,
        vals: &[f64],
        all: &[V],
        width: usize,
        rows: usize,
        classes: usize,
    ) -> Vec<Pred> {
        let weighted = self.method == Method::WeightedAverage;
        let mut leaves = vec![0usize; rows];
        let mut missing = vec![false; rows];
        let mut wsum = 0.0;
        let mut sums = vec![0.0f64; if classes == 0 { rows } else { rows * classes }];
        let mut sums32 = vec![0.0f32; rows];
        for (i, s) in self.segments.iter().enumerate() {
            let Some(tree) = s.model.plain_tree() else {
                return vec![Pred::Missing; rows];
            };
            tree.find_batch(vals, all, width, &mut leaves);
            let w = if weighted { s.weight } else { 1.0 };
            wsum += w;
            if let Some(table) = self.leaves.as_ref().map(|l| &l[i]) {
                table.add_batch(
                    &leaves,
                    classes,
                    self.float,
                    &mut sums,
                    &mut sums32,
                    &mut missing,
                );
                continue;
            }
            for (r, &leaf) in leaves.iter().enumerate() {
                let row = &all[r * width..(r + 1) * width];
                let added = if classes == 0 {
                    self.add_score(tree, leaf, w, &mut sums[r], &mut sums32[r])
                } else {
                    add_probabilities(
                        s,
                        tree,
                        leaf,
                        row,
                        w,
                        &mut sums[r * classes..(r + 1) * classes],
                    )
                };
                missing[r] |= !added;
            }
        }
        (0..rows)
            .map(|r| match (missing[r], classes) {
                (true, _) => Pred::Missing,
                (false, 0) => Pred::Value(self.total(sums[r], sums32[r], wsum)),
                (false, _) => {
                    class_prediction(Probs::from(&sums[r * classes..(r + 1) * classes]), wsum)
                }
            })
            .collect()
    }

    /// Every batch-evaluable ensemble in this one and its segments, with its class count.
    pub fn batch_nodes<'a>(&'a self, classes: usize, out: &mut Vec<(usize, &'a Mining, usize)>) {
        if let Some(id) = self.batch_id {
            out.push((id, self, classes));
        }
        for s in &self.segments {
            s.model.batch_nodes(out);
        }
    }

    /// Sums and averages of plain trees, read straight off their leaves. Same answers as the
    /// general path (a member without a prediction makes the result missing).
    fn eval_direct(&self, slots: &[V], classes: usize) -> Pred {
        let trees: Vec<&tree::Tree> = self
            .segments
            .iter()
            .filter_map(|s| s.model.plain_tree())
            .collect();
        if trees.len() != self.segments.len() {
            return Pred::Missing;
        }
        let mut leaves = vec![usize::MAX; trees.len()];
        tree::find_trees(&trees, slots, &mut leaves);
        let weighted = self.method == Method::WeightedAverage;
        let (mut wsum, mut sum, mut sum32) = (0.0, 0.0, 0.0f32);
        let mut acc = Probs::zeros(classes);
        for ((s, tree), &leaf) in self.segments.iter().zip(&trees).zip(&leaves) {
            let w = if weighted { s.weight } else { 1.0 };
            let added = if classes == 0 {
                self.add_score(tree, leaf, w, &mut sum, &mut sum32)
            } else {
                add_probabilities(s, tree, leaf, slots, w, &mut acc)
            };
            if !added {
                return Pred::Missing;
            }
            wsum += w;
        }
        if classes == 0 {
            Pred::Value(self.total(sum, sum32, wsum))
        } else {
            class_prediction(acc, wsum)
        }
    }

    /// Adds a regression tree's leaf score (in f32 under `x-mathContext="float"`); `false` when
    /// the tree gave no prediction.
    fn add_score(
        &self,
        tree: &tree::Tree,
        leaf: usize,
        w: f64,
        sum: &mut f64,
        sum32: &mut f32,
    ) -> bool {
        let Some(y) = (leaf != usize::MAX).then(|| tree.score(leaf)).flatten() else {
            return false;
        };
        if self.float {
            *sum32 += w as f32 * y as f32;
        } else {
            *sum += w * y;
        }
        true
    }

    /// A sum, or an average over the weights, of the added scores.
    fn total(&self, sum: f64, sum32: f32, wsum: f64) -> f64 {
        let sum_only = self.method == Method::Sum;
        match (self.float, sum_only) {
            (true, true) => f64::from(sum32),
            (true, false) => f64::from(sum32 / wsum as f32),
            (false, true) => sum,
            (false, false) => sum / wsum,
        }
    }

    /// Majority votes; ties go to the label that was voted for first. The probabilities are
    /// vote shares among the segments that predicted something; "missing" wins only with more
    /// votes than any label.
    fn vote(
        &self,
        kept: &[(f64, Pred)],
        classes: usize,
        weighted: bool,
        missing_votes: f64,
    ) -> std::result::Result<Pred, RecordError> {
        let mut votes = vec![0.0; classes];
        let mut order: Vec<usize> = Vec::new();
        for (w, p) in kept {
            let Pred::Class { label, .. } = p else {
                return Err(RecordError(
                    "a voting segment made a regression prediction".into(),
                ));
            };
            votes[*label] += if weighted { *w } else { 1.0 };
            if !order.contains(label) {
                order.push(*label);
            }
        }
        let mut label = order[0];
        for &l in &order[1..] {
            if votes[l] > votes[label] {
                label = l;
            }
        }
        if self.missing == MissingTreatment::Continue && missing_votes > votes[label] {
            return Ok(Pred::Missing);
        }
        let sum: f64 = votes.iter().sum();
        Ok(Pred::Class {
            label,
            probs: votes.iter().map(|v| v / sum).collect::<Vec<f64>>().into(),
        })
    }

    fn combine_values(&self, kept: &[(f64, Pred)]) -> std::result::Result<f64, RecordError> {
        let mut ys: Vec<(f64, f64)> = Vec::with_capacity(kept.len());
        for (w, p) in kept {
            match p {
                Pred::Value(y) => ys.push((*w, *y)),
                _ => {
                    return Err(RecordError(
                        "a regression ensemble got a class prediction".into(),
                    ));
                }
            }
        }
        if self.float && matches!(self.method, Method::Sum | Method::Average) {
            let sum: f32 = ys.iter().map(|(_, y)| *y as f32).sum();
            let n = if self.method == Method::Sum {
                1.0
            } else {
                ys.len() as f32
            };
            return Ok(f64::from(sum / n));
        }
        Ok(match self.method {
            Method::Sum => ys.iter().map(|(_, y)| y).sum(),
            Method::Average => ys.iter().map(|(_, y)| y).sum::<f64>() / ys.len() as f64,
            Method::WeightedAverage => {
                let wsum: f64 = ys.iter().map(|(w, _)| w).sum();
                ys.iter().map(|(w, y)| w * y).sum::<f64>() / wsum
            }
            Method::Median => {
                ys.sort_by(|a, b| a.1.total_cmp(&b.1));
                let n = ys.len();
                if n % 2 == 1 {
                    ys[n / 2].1
                } else {
                    (ys[n / 2 - 1].1 + ys[n / 2].1) / 2.0
                }
            }
            _ => {
                return Err(RecordError(
                    "this multipleModelMethod does not apply to regression".into(),
                ));
            }
        })
    }

    fn combine_probabilities(
        &self,
        kept: &[(f64, Pred)],
        classes: usize,
    ) -> std::result::Result<Pred, RecordError> {
        let mut all: Vec<(f64, &[f64])> = Vec::with_capacity(kept.len());
        for (w, p) in kept {
            match p {
                Pred::Class { probs, .. } => all.push((*w, probs)),
                _ => {
                    return Err(RecordError(
                        "a classification ensemble got a regression prediction".into(),
                    ));
                }
            }
        }
        let average = |members: &[(f64, &[f64])], weighted: bool| {
            let wsum: f64 = members
                .iter()
                .map(|(w, _)| if weighted { *w } else { 1.0 })
                .sum();
            (0..classes)
                .map(|k| {
                    members
                        .iter()
                        .map(|(w, p)| if weighted { w * p[k] } else { p[k] })
                        .sum::<f64>()
                        / wsum
                })
                .collect::<Vec<f64>>()
        };
        let probs = match self.method {
            Method::Average => average(&all, false),
            Method::WeightedAverage => average(&all, true),
            Method::Max | Method::Median => {
                // Per class, the max (or median) over segments; the class where it is highest
                // wins (the first in class order on ties); the answer is the average of the
                // segments that agree most closely with that class's figure.
                let per_class: Vec<f64> = (0..classes)
                    .map(|k| {
                        let mut col: Vec<f64> = all.iter().map(|(_, p)| p[k]).collect();
                        col.sort_by(f64::total_cmp);
                        if self.method == Method::Max {
                            col[col.len() - 1]
                        } else {
                            col[col.len() / 2]
                        }
                    })
                    .collect();
                let mut winner = 0;
                for k in 1..classes {
                    if per_class[k] > per_class[winner] {
                        winner = k;
                    }
                }
                let target = per_class[winner];
                let closest = all
                    .iter()
                    .map(|(_, p)| (p[winner] - target).abs())
                    .fold(f64::INFINITY, f64::min);
                let members: Vec<(f64, &[f64])> = all
                    .iter()
                    .filter(|(_, p)| (p[winner] - target).abs() <= closest)
                    .copied()
                    .collect();
                average(&members, false)
            }
            _ => {
                return Err(RecordError(
                    "this multipleModelMethod does not apply to classification".into(),
                ));
            }
        };
        match argmax(&probs) {
            Some(label) => Ok(Pred::Class {
                label,
                probs: probs.into(),
            }),
            None => Ok(Pred::Missing),
        }
    }
}

/// Adds a classification tree's leaf distribution (or its label as one vote when the leaf has
/// no distribution), weighted, into the parent's class order; `false` when there is none.
fn add_probabilities(
    s: &Segment,
    tree: &tree::Tree,
    leaf: usize,
    slots: &[V],
    w: f64,
    acc: &mut [f64],
) -> bool {
    if leaf == usize::MAX {
        return false;
    }
    match tree.probabilities(leaf) {
        Some(probs) => {
            for (k, p) in probs.iter().enumerate() {
                acc[s.class_map[k]] += w * p;
            }
        }
        None => match tree.eval(slots) {
            Pred::Class { label, .. } => acc[s.class_map[label]] += w,
            _ => return false,
        },
    }
    true
}

/// Averaged class scores as a prediction.
fn class_prediction(mut acc: Probs, wsum: f64) -> Pred {
    acc.iter_mut().for_each(|a| *a /= wsum);
    match argmax(&acc) {
        Some(label) => Pred::Class { label, probs: acc },
        None => Pred::Missing,
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
                probs: out.into(),
            }
        }
        other => other,
    }
}
