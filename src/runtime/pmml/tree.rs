//! TreeModel, compiled into a flat array of nodes whose children are contiguous, so that
//! scoring is a loop over indices. Compilation is breadth-first with an explicit queue: an
//! unpruned tree thousands of levels deep compiles without recursion.
//!
//! Missing values follow the model's `missingValueStrategy` exactly as JPMML does:
//! `nullPrediction` stops at the first UNKNOWN predicate with no prediction, even if a later
//! sibling is `<True/>`; `lastPrediction` returns the current node; `defaultChild` follows
//! `Node@defaultChild`; `none` treats UNKNOWN as false and keeps scanning, and with
//! `noTrueChildStrategy="returnLastPrediction"` a node none of whose children match returns its
//! own score (LightGBM's compact trees).

use std::collections::VecDeque;

use roxmltree::Node;

use super::fields::V;
use super::model::{Compiler, Function, Pred, class_index, class_value};
use super::predicate::{self, Predicate};
use super::xml::{self, Result, attr, children, err};

/// Deeper trees are refused: unpruned trees reach thousands of levels, a nesting bomb far more.
pub const MAX_TREE_DEPTH: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    NullPrediction,
    LastPrediction,
    DefaultChild,
    None,
}

#[derive(Debug)]
struct TreeNode {
    predicate: Predicate,
    first_child: u32,
    child_count: u32,
    default_child: Option<u32>,
    /// Regression: the score. Classification: the label's index (as f64).
    score: Option<f64>,
    /// Classification: offset into `Tree::probs` (one row of `classes` entries).
    probs: Option<u32>,
}

#[derive(Debug)]
pub struct Tree {
    nodes: Vec<TreeNode>,
    missing: Missing,
    return_last: bool,
    classes: usize,
    probs: Vec<f64>,
}

pub fn compile(
    c: &mut Compiler,
    node: Node,
    target: Option<usize>,
    function: &mut Function,
) -> Result<Tree> {
    let missing = match node.attribute("missingValueStrategy").unwrap_or("none") {
        "nullPrediction" => Missing::NullPrediction,
        "lastPrediction" => Missing::LastPrediction,
        "defaultChild" => Missing::DefaultChild,
        "none" => Missing::None,
        other => {
            return err(
                node,
                format!("missingValueStrategy {other:?} is not supported"),
            );
        }
    };
    let return_last = match node
        .attribute("noTrueChildStrategy")
        .unwrap_or("returnNullPrediction")
    {
        "returnNullPrediction" => false,
        "returnLastPrediction" => true,
        other => {
            return err(
                node,
                format!("noTrueChildStrategy {other:?} is not supported"),
            );
        }
    };
    let Some(root) = children(node, "Node").next() else {
        return err(node, "TreeModel has no Node");
    };
    let classification = matches!(function, Function::Classification(_));
    let mut nodes: Vec<TreeNode> = Vec::new();
    // Class distributions as (class index, weight) until the class list is complete.
    let mut dists: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut queue: VecDeque<(Node, usize, usize)> = VecDeque::new();
    nodes.push(tree_node(c, root, target, function, &mut dists)?);
    queue.push_back((root, 0, 0));
    while let Some((xml_node, index, depth)) = queue.pop_front() {
        if depth > MAX_TREE_DEPTH {
            return err(
                xml_node,
                format!("the tree is more than {MAX_TREE_DEPTH} levels deep"),
            );
        }
        let kids: Vec<Node> = children(xml_node, "Node").collect();
        let first = nodes.len();
        if first + kids.len() > u32::MAX as usize {
            return err(xml_node, "the tree has too many nodes");
        }
        for kid in &kids {
            nodes.push(tree_node(c, *kid, target, function, &mut dists)?);
            queue.push_back((*kid, nodes.len() - 1, depth + 1));
        }
        nodes[index].first_child = first as u32;
        nodes[index].child_count = kids.len() as u32;
        if let Some(id) = xml_node.attribute("defaultChild") {
            let pos = kids.iter().position(|k| k.attribute("id") == Some(id));
            match pos {
                Some(p) => nodes[index].default_child = Some((first + p) as u32),
                None => {
                    return err(
                        xml_node,
                        format!("defaultChild {id:?} is not a child of this Node"),
                    );
                }
            }
        } else if missing == Missing::DefaultChild && !kids.is_empty() {
            return err(
                xml_node,
                "missingValueStrategy is defaultChild but this Node has no defaultChild",
            );
        }
    }
    let classes = function.classes().len();
    let mut probs = Vec::new();
    if classification {
        for (node, dist) in nodes.iter_mut().zip(&dists) {
            if dist.is_empty() {
                continue;
            }
            let total: f64 = dist.iter().map(|(_, w)| w).sum();
            let offset = probs.len();
            probs.resize(offset + classes, 0.0);
            for &(class, w) in dist {
                probs[offset + class] += if total > 0.0 { w / total } else { 0.0 };
            }
            node.probs = Some(offset as u32);
        }
    }
    Ok(Tree {
        nodes,
        missing,
        return_last,
        classes,
        probs,
    })
}

fn tree_node(
    c: &mut Compiler,
    node: Node,
    target: Option<usize>,
    function: &mut Function,
    dists: &mut Vec<Vec<(usize, f64)>>,
) -> Result<TreeNode> {
    let predicate = predicate::compile_child(c.fields, node)?;
    let classification = matches!(function, Function::Classification(_));
    let score = match node.attribute("score") {
        None => None,
        Some(text) if classification => {
            let v = class_value(c.fields, node, target, text)?;
            class_index(function, v).map(|i| i as f64)
        }
        Some(text) => {
            let score = xml::number(node, "score", text)?;
            Some(if c.float {
                f64::from(score as f32)
            } else {
                score
            })
        }
    };
    let mut dist = Vec::new();
    if classification {
        let sds: Vec<Node> = children(node, "ScoreDistribution").collect();
        let explicit =
            sds.iter().all(|sd| sd.attribute("probability").is_some()) && !sds.is_empty();
        for sd in sds {
            let v = class_value(c.fields, sd, target, attr(sd, "value")?)?;
            let Some(class) = class_index(function, v) else {
                continue;
            };
            let w = if explicit {
                xml::attr_f64(sd, "probability")?
            } else {
                xml::attr_f64(sd, "recordCount")?
            };
            dist.push((class, w));
        }
    }
    dists.push(dist);
    Ok(TreeNode {
        predicate,
        first_child: 0,
        child_count: 0,
        default_child: None,
        score,
        probs: None,
    })
}

impl Tree {
    pub fn eval(&self, slots: &[V]) -> Pred {
        let mut i = 0usize;
        if self.nodes[0].predicate.eval(slots) != Some(true) {
            return Pred::Missing;
        }
        loop {
            let node = &self.nodes[i];
            if node.child_count == 0 {
                return self.result(i);
            }
            let mut next = None;
            let first = node.first_child as usize;
            for k in first..first + node.child_count as usize {
                match self.nodes[k].predicate.eval(slots) {
                    Some(true) => {
                        next = Some(k);
                        break;
                    }
                    Some(false) => {}
                    None => match self.missing {
                        Missing::NullPrediction => return Pred::Missing,
                        Missing::LastPrediction => return self.result(i),
                        Missing::DefaultChild => {
                            next = node.default_child.map(|d| d as usize);
                            break;
                        }
                        Missing::None => {}
                    },
                }
            }
            match next {
                Some(k) => i = k,
                None if self.return_last => return self.result(i),
                None => return Pred::Missing,
            }
        }
    }

    fn result(&self, i: usize) -> Pred {
        let node = &self.nodes[i];
        if self.classes == 0 {
            return node.score.map_or(Pred::Missing, Pred::Value);
        }
        let probs: Vec<f64> = match node.probs {
            Some(off) => self.probs[off as usize..off as usize + self.classes].to_vec(),
            None => {
                let mut one_hot = vec![0.0; self.classes];
                if let Some(s) = node.score {
                    one_hot[s as usize] = 1.0;
                }
                one_hot
            }
        };
        let label = match node.score {
            Some(s) => s as usize,
            None => match argmax(&probs) {
                Some(l) => l,
                None => return Pred::Missing,
            },
        };
        Pred::Class { label, probs }
    }
}

/// Index of the largest value (the first on ties); `None` for an empty slice.
pub fn argmax(values: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, v) in values.iter().enumerate() {
        if best.is_none_or(|b| *v > values[b]) {
            best = Some(i);
        }
    }
    best
}
