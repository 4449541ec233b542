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
use super::model::{Compiler, Function, Pred, Probs, class_index, class_value};
use super::predicate::{self, Op, Predicate};
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
    /// The same tree in a compact form (a comparison per node) when every predicate is
    /// `True`, `False` or a numeric comparison — what converters emit.
    compact: Option<Vec<Compact>>,
    /// The compact tree rewritten as binary `x <= t` tests (each node's list of children
    /// becomes a chain of tests), walked with one comparison and no data-dependent branch per
    /// level; missing values follow the tree's strategies through each test's `missing` exit.
    binary: Option<Binary>,
}

/// A binary test: `x <= threshold` goes to `yes`, otherwise `no`, or `missing` when x is
/// missing. Exits are [`Exit`]-encoded.
#[derive(Debug, Clone, Copy)]
struct Bin {
    threshold: f64,
    slot: u32,
    /// Exits indexed by `(x <= threshold) + 2 * x.is_nan()`: no, yes, missing, missing — so a
    /// step is a comparison and a load, with no branch on the data.
    exits: [u32; 4],
}

impl Bin {
    #[inline(always)]
    fn step(&self, x: f64) -> u32 {
        self.exits[usize::from(x <= self.threshold) | (usize::from(x.is_nan()) << 1)]
    }
}

#[derive(Debug)]
struct Binary {
    start: u32,
    tests: Vec<Bin>,
    /// The same tests for walking records in lockstep: every result is a *sink*, a test at
    /// `first_sink` or beyond whose exits all lead back to itself, so a batch of walks can run
    /// without asking after each step which of them has finished. Single-record walks keep
    /// `tests`, whose exits carry the result itself: reading it from a sink would cost one
    /// more cache line per tree (tried: single-record forest predictions got ~10% slower).
    walk: Vec<Bin>,
    walk_start: u32,
    first_sink: u32,
    /// The exit (result node or `NO_RESULT`) each sink stands for.
    sinks: Vec<u32>,
}

impl Binary {
    fn new(start: u32, tests: Vec<Bin>) -> Binary {
        let first_sink = tests.len() as u32;
        let mut sinks: Vec<u32> = Vec::new();
        let mut sink_of = std::collections::HashMap::new();
        let mut to_walk = |exit: u32| -> u32 {
            if exit & RESULT == 0 {
                return exit;
            }
            *sink_of.entry(exit).or_insert_with(|| {
                sinks.push(exit);
                first_sink + sinks.len() as u32 - 1
            })
        };
        let mut walk: Vec<Bin> = tests
            .iter()
            .map(|t| Bin {
                exits: t.exits.map(&mut to_walk),
                ..*t
            })
            .collect();
        let walk_start = to_walk(start);
        for i in 0..sinks.len() {
            let me = first_sink + i as u32;
            walk.push(Bin {
                threshold: f64::NAN,
                slot: 0,
                exits: [me; 4],
            });
        }
        Binary {
            start,
            tests,
            walk,
            walk_start,
            first_sink,
            sinks,
        }
    }
}

/// Exits of a binary test: another test's index, or (with the top bit) the original node whose
/// score is the result, or `NO_RESULT`.
const RESULT: u32 = 1 << 31;
const NO_RESULT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    True,
    False,
    Cmp(Op),
}

#[derive(Debug, Clone, Copy)]
struct Compact {
    threshold: f64,
    first_child: u32,
    slot: u32,
    child_count: u32,
    test: Test,
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
    let compact = compact(&nodes);
    let binary = compact
        .as_deref()
        .and_then(|c| binarize(c, &nodes, missing, return_last));
    Ok(Tree {
        nodes,
        missing,
        return_last,
        classes,
        probs,
        compact,
        binary,
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

/// Rewrites a compact tree as binary tests; `None` if some comparison has no `<=` form
/// (equality), the root is not `True`, or the tree is too large to index.
fn binarize(
    c: &[Compact],
    nodes: &[TreeNode],
    missing: Missing,
    return_last: bool,
) -> Option<Binary> {
    if c.len() >= (RESULT - 2) as usize || c[0].test != Test::True {
        return None;
    }
    let mut tests: Vec<Bin> = Vec::new();
    // The exit that reaches each original node: its chain of tests, or itself as a result.
    let mut entry = vec![NO_RESULT; c.len()];
    // Children come after their parents (breadth-first), so building from the end means every
    // child's entry is known when its parent's chain is built.
    for n in (0..c.len()).rev() {
        let node = c[n];
        if node.child_count == 0 {
            entry[n] = RESULT | n as u32;
            continue;
        }
        let no_match = if return_last {
            RESULT | n as u32
        } else {
            NO_RESULT
        };
        let unknown = match missing {
            Missing::NullPrediction => Some(NO_RESULT),
            Missing::LastPrediction => Some(RESULT | n as u32),
            Missing::DefaultChild => Some(entry[nodes[n].default_child? as usize]),
            // UNKNOWN counts as false: on to the next child.
            Missing::None => None,
        };
        // Build the chain backwards: each test's "fails" exit is the rest of the chain.
        let first = node.first_child as usize;
        let mut rest = no_match;
        for k in (first..first + node.child_count as usize).rev() {
            match c[k].test {
                Test::False => {}
                Test::True => rest = entry[k],
                Test::Cmp(op) => {
                    let (threshold, holds_when_le) = match op {
                        Op::LessOrEqual => (c[k].threshold, true),
                        Op::LessThan => (c[k].threshold.next_down(), true),
                        Op::GreaterThan => (c[k].threshold, false),
                        Op::GreaterOrEqual => (c[k].threshold.next_down(), false),
                        Op::Equal | Op::NotEqual => return None,
                    };
                    let (hold, fail) = (entry[k], rest);
                    tests.push(Bin {
                        threshold,
                        slot: c[k].slot,
                        exits: {
                            let (yes, no) = if holds_when_le {
                                (hold, fail)
                            } else {
                                (fail, hold)
                            };
                            let missing = unknown.unwrap_or(fail);
                            [no, yes, missing, missing]
                        },
                    });
                    rest = (tests.len() - 1) as u32;
                    if rest >= RESULT {
                        return None;
                    }
                }
            }
        }
        entry[n] = rest;
    }
    Some(Binary::new(entry[0], tests))
}

/// The compact form, if every predicate has one.
fn compact(nodes: &[TreeNode]) -> Option<Vec<Compact>> {
    nodes
        .iter()
        .map(|n| {
            let (test, slot, threshold) = match n.predicate {
                Predicate::True => (Test::True, 0, 0.0),
                Predicate::False => (Test::False, 0, 0.0),
                Predicate::Compare {
                    slot,
                    op,
                    value: V::Num(t),
                } => (Test::Cmp(op), u32::try_from(slot).ok()?, t),
                _ => return None,
            };
            Some(Compact {
                threshold,
                first_child: n.first_child,
                slot,
                child_count: n.child_count,
                test,
            })
        })
        .collect()
}

impl Tree {
    pub fn eval(&self, slots: &[V]) -> Pred {
        match self.find(slots) {
            Some(i) => self.result(i),
            None => Pred::Missing,
        }
    }

    /// The node whose score is the prediction, or `None` for no prediction.
    pub fn find(&self, slots: &[V]) -> Option<usize> {
        if let Some(b) = &self.binary {
            return find_binary(b, slots);
        }
        match &self.compact {
            Some(compact) => self.find_compact(compact, slots),
            None => self.find_general(slots),
        }
    }

    fn find_general(&self, slots: &[V]) -> Option<usize> {
        self.walk(|k| self.nodes[k].predicate.eval(slots))
    }

    /// `find_general` over the compact nodes: the same walk, cheaper tests.
    fn find_compact(&self, nodes: &[Compact], slots: &[V]) -> Option<usize> {
        self.walk(|k| {
            let n = &nodes[k];
            match n.test {
                Test::True => Some(true),
                Test::False => Some(false),
                Test::Cmp(op) => match slots[n.slot as usize] {
                    V::Num(x) => Some(match op {
                        Op::LessThan => x < n.threshold,
                        Op::LessOrEqual => x <= n.threshold,
                        Op::GreaterThan => x > n.threshold,
                        Op::GreaterOrEqual => x >= n.threshold,
                        Op::Equal => x == n.threshold,
                        Op::NotEqual => x != n.threshold,
                    }),
                    V::Missing => None,
                    V::Str(_) => Some(false),
                },
            }
        })
    }

    /// The PMML walk: from the root, take the first child whose predicate is true; an UNKNOWN
    /// predicate is handled by the missing-value strategy, a node with no true child by the
    /// no-true-child strategy. `test` evaluates node k's predicate.
    fn walk(&self, test: impl Fn(usize) -> Option<bool>) -> Option<usize> {
        if test(0) != Some(true) {
            return None;
        }
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            if node.child_count == 0 {
                return Some(i);
            }
            let first = node.first_child as usize;
            let mut next = None;
            for k in first..first + node.child_count as usize {
                match test(k) {
                    Some(true) => {
                        next = Some(k);
                        break;
                    }
                    Some(false) => {}
                    None => match self.missing {
                        Missing::NullPrediction => return None,
                        Missing::LastPrediction => return Some(i),
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
                None if self.return_last => return Some(i),
                None => return None,
            }
        }
    }

    /// The highest slot the tree reads, when it reads only through comparisons.
    pub fn max_slot(&self) -> Option<usize> {
        let compact = self.compact.as_ref()?;
        Some(compact.iter().map(|c| c.slot as usize).max().unwrap_or(0))
    }

    /// `find` for many records at once, over `vals`: `width` numbers per record with NaN for a
    /// missing value (the batch view of the input slots). Writes each record's result node (or
    /// `usize::MAX`) into `out`. Eight records walk the tree together, so their independent
    /// loads overlap instead of waiting on one another.
    pub fn find_batch(&self, vals: &[f64], all: &[V], width: usize, out: &mut [usize]) {
        let Some(b) = &self.binary else {
            for (r, o) in out.iter_mut().enumerate() {
                *o = self
                    .find(&all[r * width..(r + 1) * width])
                    .unwrap_or(usize::MAX);
            }
            return;
        };
        // Eight walks in lockstep: each step is a comparison and a load per lane, with one
        // well-predicted branch (are all eight at their sinks?) instead of a mispredicted one
        // whenever a walk ends.
        const LANES: usize = 8;
        let rows = out.len();
        for start in (0..rows).step_by(LANES) {
            let n = LANES.min(rows - start);
            let mut base = [0usize; LANES];
            for (lane, b) in base.iter_mut().enumerate() {
                *b = (start + lane.min(n - 1)) * width;
            }
            let mut at = [b.walk_start; LANES];
            loop {
                let mut done = true;
                for lane in 0..LANES {
                    let t = &b.walk[at[lane] as usize];
                    at[lane] = t.step(vals[base[lane] + t.slot as usize]);
                    done &= at[lane] >= b.first_sink;
                }
                if done {
                    break;
                }
            }
            for lane in 0..n {
                out[start + lane] = result_node(b.sinks[(at[lane] - b.first_sink) as usize]);
            }
        }
    }

    /// A regression node's score.
    pub fn score(&self, i: usize) -> Option<f64> {
        self.nodes[i].score
    }

    /// A classification node's class probabilities, when it has a distribution.
    pub fn probabilities(&self, i: usize) -> Option<&[f64]> {
        let off = self.nodes[i].probs? as usize;
        Some(&self.probs[off..off + self.classes])
    }

    /// How many nodes the tree has (node indices run below this).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The prediction when node `i` is the result node.
    pub fn result(&self, i: usize) -> Pred {
        let node = &self.nodes[i];
        if self.classes == 0 {
            return node.score.map_or(Pred::Missing, Pred::Value);
        }
        let probs: Probs = match node.probs {
            Some(off) => Probs::from(&self.probs[off as usize..off as usize + self.classes]),
            None => {
                let mut one_hot = Probs::zeros(self.classes);
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

/// A slot as a tree test reads it: its number, or NaN for missing.
#[inline(always)]
fn number(v: V) -> f64 {
    match v {
        V::Num(x) => x,
        _ => f64::NAN,
    }
}

fn find_binary(b: &Binary, slots: &[V]) -> Option<usize> {
    let mut exit = b.start;
    while exit & RESULT == 0 {
        let t = &b.tests[exit as usize];
        exit = t.step(number(slots[t.slot as usize]));
    }
    Some(result_node(exit)).filter(|&n| n != usize::MAX)
}

/// The node a result exit names, or `usize::MAX` for no prediction.
fn result_node(exit: u32) -> usize {
    if exit == NO_RESULT {
        usize::MAX
    } else {
        (exit & !RESULT) as usize
    }
}

/// `find` for up to eight trees on one record at once (their walks overlap like the records in
/// `find_batch`); trees without the binary form are walked one by one.
pub fn find_trees(trees: &[&Tree], slots: &[V], out: &mut [usize]) {
    const LANES: usize = 8;
    for (group, outs) in trees.chunks(LANES).zip(out.chunks_mut(LANES)) {
        let mut exits = [NO_RESULT; LANES];
        for (lane, tree) in group.iter().enumerate() {
            match &tree.binary {
                Some(b) => exits[lane] = b.start,
                None => {
                    outs[lane] = tree.find(slots).unwrap_or(usize::MAX);
                    exits[lane] = RESULT | 0x7fff_fffe; // done already; marked below
                }
            }
        }
        loop {
            let mut active = false;
            for (lane, tree) in group.iter().enumerate() {
                let exit = &mut exits[lane];
                if *exit & RESULT != 0 {
                    continue;
                }
                let Some(b) = &tree.binary else { continue };
                active = true;
                let t = &b.tests[*exit as usize];
                *exit = t.step(number(slots[t.slot as usize]));
            }
            if !active {
                break;
            }
        }
        for (lane, tree) in group.iter().enumerate() {
            if tree.binary.is_some() {
                outs[lane] = result_node(exits[lane]);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::DType;
    use crate::runtime::pmml::fields::{Field, Fields, Optype};

    /// A random compare-only tree: each inner node has 2-4 children, the last `True` or not.
    fn random_tree(seed: &mut u64, depth: usize) -> String {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        fn node(
            next: &mut dyn FnMut() -> u64,
            depth: usize,
            pred: String,
            out: &mut String,
            id: &mut u32,
        ) {
            *id += 1;
            out.push_str(&format!(r#"<Node id="{id}" score="{id}">{pred}"#));
            if depth > 0 && !next().is_multiple_of(4) {
                let kids = 2 + next() % 3;
                for k in 0..kids {
                    let last = k + 1 == kids;
                    let pred = if last && next().is_multiple_of(2) {
                        "<True/>".to_string()
                    } else {
                        let op = ["lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual"]
                            [(next() % 4) as usize];
                        format!(
                            r#"<SimplePredicate field="x{}" operator="{op}" value="{}"/>"#,
                            next() % 3,
                            next() % 5
                        )
                    };
                    node(next, depth - 1, pred, out, id);
                }
            }
            out.push_str("</Node>");
        }
        let mut out = String::new();
        let mut id = 0;
        node(&mut next, depth, "<True/>".into(), &mut out, &mut id);
        out
    }

    #[test]
    fn binary_compact_and_general_walks_agree_under_every_strategy() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for strategy in ["nullPrediction", "lastPrediction", "none"] {
            for return_last in ["returnNullPrediction", "returnLastPrediction"] {
                for _ in 0..40 {
                    let body = random_tree(&mut seed, 4);
                    let xml = format!(
                        r#"<TreeModel functionName="regression" missingValueStrategy="{strategy}" noTrueChildStrategy="{return_last}">{body}</TreeModel>"#
                    );
                    let doc = roxmltree::Document::parse(&xml).unwrap();
                    let mut fields = Fields::default();
                    for name in ["x0", "x1", "x2"] {
                        let f = Field::new(name, DType::Double, Optype::Continuous);
                        fields.add(doc.root_element(), f).unwrap();
                    }
                    let mut c = Compiler {
                        fields: &mut fields,
                        depth: 0,
                        float: false,
                        model_boundary: 3,
                        batch_nodes: 0,
                    };
                    let mut function = Function::Regression;
                    let tree = compile(&mut c, doc.root_element(), None, &mut function).unwrap();
                    let compact = tree.compact.as_deref().expect("compact form");
                    let binary = tree.binary.as_ref().expect("binary form");
                    for a in 0..6u32 {
                        for b in 0..6u32 {
                            for d in 0..6u32 {
                                let v = |k: u32| {
                                    if k == 5 {
                                        V::Missing
                                    } else {
                                        V::Num(f64::from(k) - 0.5 * f64::from(k % 2))
                                    }
                                };
                                let slots = [v(a), v(b), v(d)];
                                let general = tree.find_general(&slots);
                                assert_eq!(tree.find_compact(compact, &slots), general, "{xml}");
                                assert_eq!(find_binary(binary, &slots), general, "{xml} {slots:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}
