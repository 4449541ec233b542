//! Expressions: `Constant`, `FieldRef`, `NormContinuous`, `NormDiscrete`, `Discretize`,
//! `MapValues` and `Apply` with PMML's built-in functions, compiled to a tree over slots.
//!
//! Missing values follow JPMML-Evaluator (see `OnMissing`): `mapMissingTo` answers for any
//! missing argument; otherwise arithmetic gives missing, aggregates skip it, and the other
//! functions refuse the record. A result that is not a number (NaN) is missing, then
//! `defaultValue` applies.

use std::collections::HashMap;

use roxmltree::Node;

use super::fields::{Fields, UNSEEN, V, dtype};
use super::predicate::Op;
use super::xml::{self, Result, attr, child, children, elements, err, name};
use crate::runtime::{DType, RecordError};

/// Nesting deeper than this is refused at load time (the compiler recurses over expressions).
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone)]
pub enum Expr {
    Const(V),
    Field {
        slot: usize,
        map_missing_to: Option<V>,
    },
    NormContinuous {
        slot: usize,
        /// (orig, norm) knots, ascending in orig.
        points: Vec<(f64, f64)>,
        outliers: Outliers,
        map_missing_to: Option<f64>,
    },
    NormDiscrete {
        slot: usize,
        value: V,
        map_missing_to: Option<f64>,
    },
    Discretize {
        slot: usize,
        bins: Vec<(Interval, V)>,
        map_missing_to: V,
        default: V,
    },
    MapValues {
        slots: Vec<usize>,
        rows: HashMap<Vec<Key>, V>,
        map_missing_to: V,
        default: V,
    },
    /// A field through a chain of arithmetic with constants, as scalers write it
    /// (`(x - mean) / scale`): the nested `Apply`s fused into one loop with their exact
    /// semantics (a missing or non-numeric input, or a NaN between steps, is missing; then the
    /// outermost `Apply`'s `mapMissingTo`, or its `defaultValue` for a NaN at the last step).
    Arith {
        slot: usize,
        steps: Box<[Step]>,
        map_missing_to: Option<V>,
        default: Option<V>,
    },
    Apply {
        func: Func,
        /// The PMML function name, for messages.
        name: Box<str>,
        args: Vec<Expr>,
        map_missing_to: Option<V>,
        default: Option<V>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outliers {
    AsIs,
    AsMissing,
    AsExtreme,
}

#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub left: f64,
    pub right: f64,
    pub left_closed: bool,
    pub right_closed: bool,
}

impl Interval {
    fn contains(&self, x: f64) -> bool {
        (if self.left_closed {
            x >= self.left
        } else {
            x > self.left
        }) && (if self.right_closed {
            x <= self.right
        } else {
            x < self.right
        })
    }
}

/// A hashable form of a value, for `MapValues` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Num(u64),
    Str(u32),
}

fn key(v: V) -> Option<Key> {
    match v {
        V::Missing => None,
        V::Num(n) => Some(Key::Num(if n == 0.0 { 0 } else { n.to_bits() })),
        V::Str(id) => Some(Key::Str(id)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sum,
    Avg,
    Product,
    Log10,
    Ln,
    Sqrt,
    Abs,
    Exp,
    Pow,
    Threshold,
    Floor,
    Ceil,
    Round,
    Expm1,
    Ln1p,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Hypot,
    Modulo,
    IsMissing,
    IsNotMissing,
    /// The comparisons, shared with `SimplePredicate`.
    Cmp(Op),
    And,
    Or,
    Not,
    IsIn,
    IsNotIn,
    If,
}

impl Func {
    fn parse(text: &str) -> Option<(Func, usize, Option<usize>)> {
        use Func::*;
        let text = text.strip_prefix("x-").unwrap_or(text);
        // (function, fewest arguments, most arguments)
        Some(match text {
            "+" => (Add, 2, Some(2)),
            "-" => (Sub, 2, Some(2)),
            "*" => (Mul, 2, Some(2)),
            "/" => (Div, 2, Some(2)),
            "min" => (Min, 1, None),
            "max" => (Max, 1, None),
            "sum" => (Sum, 1, None),
            "avg" => (Avg, 1, None),
            "product" => (Product, 1, None),
            "log10" => (Log10, 1, Some(1)),
            "ln" => (Ln, 1, Some(1)),
            "sqrt" => (Sqrt, 1, Some(1)),
            "abs" => (Abs, 1, Some(1)),
            "exp" => (Exp, 1, Some(1)),
            "pow" => (Pow, 2, Some(2)),
            "threshold" => (Threshold, 2, Some(2)),
            "floor" => (Floor, 1, Some(1)),
            "ceil" => (Ceil, 1, Some(1)),
            "round" => (Round, 1, Some(1)),
            "expm1" => (Expm1, 1, Some(1)),
            "ln1p" => (Ln1p, 1, Some(1)),
            "sin" => (Sin, 1, Some(1)),
            "cos" => (Cos, 1, Some(1)),
            "tan" => (Tan, 1, Some(1)),
            "asin" => (Asin, 1, Some(1)),
            "acos" => (Acos, 1, Some(1)),
            "atan" => (Atan, 1, Some(1)),
            "sinh" => (Sinh, 1, Some(1)),
            "cosh" => (Cosh, 1, Some(1)),
            "tanh" => (Tanh, 1, Some(1)),
            "hypot" => (Hypot, 2, Some(2)),
            "modulo" => (Modulo, 2, Some(2)),
            "isMissing" => (IsMissing, 1, Some(1)),
            "isNotMissing" => (IsNotMissing, 1, Some(1)),
            "equal" => (Cmp(Op::Equal), 2, Some(2)),
            "notEqual" => (Cmp(Op::NotEqual), 2, Some(2)),
            "lessThan" => (Cmp(Op::LessThan), 2, Some(2)),
            "lessOrEqual" => (Cmp(Op::LessOrEqual), 2, Some(2)),
            "greaterThan" => (Cmp(Op::GreaterThan), 2, Some(2)),
            "greaterOrEqual" => (Cmp(Op::GreaterOrEqual), 2, Some(2)),
            "and" => (And, 2, None),
            "or" => (Or, 2, None),
            "not" => (Not, 1, Some(1)),
            "isIn" => (IsIn, 2, None),
            "isNotIn" => (IsNotIn, 2, None),
            "if" => (If, 2, Some(3)),
            _ => return None,
        })
    }
}

/// The type of the value an expression computes, for a field that does not declare one (an
/// OutputField without `dataType`, which JPMML types by the value it computes).
pub fn result_dtype(fields: &Fields, node: Node) -> DType {
    let declared = || node.attribute("dataType").and_then(|_| dtype(node).ok());
    match name(node) {
        "FieldRef" => node
            .attribute("field")
            .and_then(|f| fields.slot(f))
            .map_or(DType::Double, |s| fields.fields[s].dtype),
        "Constant" => declared().unwrap_or_else(|| {
            let text = node.text().unwrap_or("").trim();
            if text.parse::<i64>().is_ok() {
                DType::Integer
            } else if xml::parse_number(text).is_some() {
                DType::Double
            } else {
                DType::String
            }
        }),
        "Discretize" | "MapValues" => declared().unwrap_or(DType::String),
        "Apply" => {
            let function = node.attribute("function").unwrap_or("");
            match Func::parse(function).map(|(f, ..)| f) {
                Some(Func::If) => elements(node)
                    .nth(1)
                    .map_or(DType::Double, |then| result_dtype(fields, then)),
                Some(
                    Func::IsMissing
                    | Func::IsNotMissing
                    | Func::Cmp(_)
                    | Func::And
                    | Func::Or
                    | Func::Not
                    | Func::IsIn
                    | Func::IsNotIn,
                ) => DType::Boolean,
                _ => DType::Double,
            }
        }
        _ => DType::Double,
    }
}

/// True if `node` is one of the expression elements.
pub fn is_expression(node: Node) -> bool {
    matches!(
        name(node),
        "Constant"
            | "FieldRef"
            | "NormContinuous"
            | "NormDiscrete"
            | "Discretize"
            | "MapValues"
            | "Apply"
    )
}

/// Compiles the expression element `node`; `target` is the slot whose type constants take.
pub fn compile(
    fields: &mut Fields,
    node: Node,
    target: Option<usize>,
    depth: usize,
) -> Result<Expr> {
    if depth > MAX_DEPTH {
        return err(
            node,
            format!("expressions nest deeper than {MAX_DEPTH} levels"),
        );
    }
    let missing_to = |fields: &mut Fields, slot: Option<usize>| -> Result<Option<V>> {
        node.attribute("mapMissingTo")
            .map(|t| typed(fields, node, slot, t))
            .transpose()
    };
    Ok(match name(node) {
        "Constant" => {
            let text = node.text().unwrap_or("").trim();
            if node.attribute("missing") == Some("true") {
                Expr::Const(V::Missing)
            } else {
                match node.attribute("dataType") {
                    Some("string") => Expr::Const(V::Str(fields.intern(text))),
                    Some(_) => Expr::Const(V::Num(xml::number(node, "Constant", text)?)),
                    None => match xml::parse_number(text) {
                        Some(n) => Expr::Const(V::Num(n)),
                        None => Expr::Const(V::Str(fields.intern(text))),
                    },
                }
            }
        }
        "FieldRef" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            Expr::Field {
                slot,
                map_missing_to: missing_to(fields, Some(slot))?,
            }
        }
        "NormContinuous" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            let mut points = Vec::new();
            for ln in children(node, "LinearNorm") {
                points.push((xml::attr_f64(ln, "orig")?, xml::attr_f64(ln, "norm")?));
            }
            if points.len() < 2 || points.windows(2).any(|w| w[0].0 >= w[1].0) {
                return err(
                    node,
                    "NormContinuous needs at least two LinearNorm points in ascending orig order",
                );
            }
            let outliers = match node.attribute("outliers").unwrap_or("asIs") {
                "asIs" => Outliers::AsIs,
                "asMissingValues" => Outliers::AsMissing,
                "asExtremeValues" => Outliers::AsExtreme,
                other => return err(node, format!("outliers {other:?} is not supported")),
            };
            Expr::NormContinuous {
                slot,
                points,
                outliers,
                map_missing_to: xml::opt_f64(node, "mapMissingTo")?,
            }
        }
        "NormDiscrete" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            let value = fields.constant(node, slot, attr(node, "value")?)?;
            Expr::NormDiscrete {
                slot,
                value,
                map_missing_to: xml::opt_f64(node, "mapMissingTo")?,
            }
        }
        "Discretize" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            let mut bins = Vec::new();
            for bin in children(node, "DiscretizeBin") {
                let iv = child(bin, "Interval")
                    .ok_or_else(|| xml::error(bin, "DiscretizeBin has no Interval"))?;
                let (left_closed, right_closed) = closure(iv)?;
                let interval = Interval {
                    left: xml::opt_f64(iv, "leftMargin")?.unwrap_or(f64::NEG_INFINITY),
                    right: xml::opt_f64(iv, "rightMargin")?.unwrap_or(f64::INFINITY),
                    left_closed,
                    right_closed,
                };
                bins.push((
                    interval,
                    typed(fields, bin, target, attr(bin, "binValue")?)?,
                ));
            }
            Expr::Discretize {
                slot,
                bins,
                map_missing_to: missing_to(fields, target)?.unwrap_or(V::Missing),
                default: node
                    .attribute("defaultValue")
                    .map(|t| typed(fields, node, target, t))
                    .transpose()?
                    .unwrap_or(V::Missing),
            }
        }
        "MapValues" => map_values(fields, node, target)?,
        "Apply" => {
            let function = attr(node, "function")?;
            let (func, min, max) = Func::parse(function).ok_or_else(|| {
                xml::error(
                    node,
                    format!("Apply function {function:?} is not supported"),
                )
            })?;
            let mut args = Vec::new();
            for arg in elements(node).filter(|n| is_expression(*n)) {
                args.push(compile(fields, arg, None, depth + 1)?);
            }
            if args.len() < min || max.is_some_and(|m| args.len() > m) {
                return err(
                    node,
                    format!("Apply {function:?} got {} arguments", args.len()),
                );
            }
            if node
                .attribute("invalidValueTreatment")
                .is_some_and(|t| t != "returnInvalid" && t != "asMissing")
            {
                return err(
                    node,
                    "Apply invalidValueTreatment other than returnInvalid/asMissing is not supported",
                );
            }
            fuse(Expr::Apply {
                func,
                name: function.into(),
                args,
                map_missing_to: missing_to(fields, target)?,
                default: node
                    .attribute("defaultValue")
                    .map(|t| typed(fields, node, target, t))
                    .transpose()?,
            })
        }
        other => return err(node, format!("<{other}> is not a supported expression")),
    })
}

/// One arithmetic step of [`Expr::Arith`]: `value op constant`, or `constant op value`.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    func: Func,
    constant: f64,
    constant_first: bool,
}

/// Rewrites binary arithmetic between a field (or an already fused chain without its own
/// missing or default values) and a numeric constant as an [`Expr::Arith`].
fn fuse(e: Expr) -> Expr {
    let Expr::Apply {
        func,
        name,
        mut args,
        map_missing_to,
        default,
    } = e
    else {
        return e;
    };
    let arithmetic = matches!(func, Func::Add | Func::Sub | Func::Mul | Func::Div);
    let constant_at = |a: &Expr| matches!(a, Expr::Const(V::Num(_)));
    let fusable = |a: &Expr| {
        matches!(
            a,
            Expr::Field {
                map_missing_to: None,
                ..
            } | Expr::Arith {
                map_missing_to: None,
                default: None,
                ..
            }
        )
    };
    let constant_first = match args.as_slice() {
        [a, b] if arithmetic && fusable(a) && constant_at(b) => false,
        [a, b] if arithmetic && constant_at(a) && fusable(b) => true,
        _ => {
            return Expr::Apply {
                func,
                name,
                args,
                map_missing_to,
                default,
            };
        }
    };
    let (inner, constant) = if constant_first {
        (args.swap_remove(1), args.swap_remove(0))
    } else {
        (args.swap_remove(0), args.swap_remove(0))
    };
    let Expr::Const(V::Num(constant)) = constant else {
        unreachable!("checked above")
    };
    let step = Step {
        func,
        constant,
        constant_first,
    };
    let (slot, steps) = match inner {
        Expr::Field { slot, .. } => (slot, vec![step]),
        Expr::Arith { slot, steps, .. } => {
            let mut steps = steps.into_vec();
            steps.push(step);
            (slot, steps)
        }
        _ => unreachable!("checked above"),
    };
    Expr::Arith {
        slot,
        steps: steps.into_boxed_slice(),
        map_missing_to,
        default,
    }
}

fn closure(iv: Node) -> Result<(bool, bool)> {
    Ok(match attr(iv, "closure")? {
        "openClosed" => (false, true),
        "openOpen" => (false, false),
        "closedOpen" => (true, false),
        "closedClosed" => (true, true),
        other => return err(iv, format!("closure {other:?} is not a PMML closure")),
    })
}

/// A constant typed for `slot` when known, else a number if it parses as one.
fn typed(fields: &mut Fields, node: Node, slot: Option<usize>, text: &str) -> Result<V> {
    match slot {
        Some(s) => fields.constant(node, s, text),
        None => Ok(match xml::parse_number(text) {
            Some(n) => V::Num(n),
            None => V::Str(fields.intern(text)),
        }),
    }
}

/// An element's name as written: `prefix:local` when it has a prefix, else `local`.
fn qualified_name<'a>(node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
    let tag = node.tag_name();
    match tag.namespace().and_then(|ns| node.lookup_prefix(ns)) {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}:{}", tag.name()).into(),
        _ => tag.name().into(),
    }
}

fn map_values(fields: &mut Fields, node: Node, target: Option<usize>) -> Result<Expr> {
    let output = attr(node, "outputColumn")?;
    let mut columns = Vec::new();
    let mut slots = Vec::new();
    for pair in children(node, "FieldColumnPair") {
        let slot = fields.resolve(pair, attr(pair, "field")?)?;
        slots.push(slot);
        columns.push(attr(pair, "column")?.to_string());
    }
    let table = child(node, "InlineTable")
        .ok_or_else(|| xml::error(node, "MapValues without an InlineTable is not supported"))?;
    let mut rows = HashMap::new();
    for row in children(table, "row") {
        // Cells are elements named after their column as written, prefix and all: sklearn2pmml
        // writes `<data:input>` for column "data:input" (JPMML matches the prefixed name).
        let cell = |col: &str| {
            elements(row)
                .find(|c| qualified_name(*c) == col)
                .map(|c| c.text().unwrap_or("").to_string())
        };
        let Some(out) = cell(output) else {
            return err(row, format!("an InlineTable row has no {output:?} cell"));
        };
        let mut k = Vec::new();
        for (col, &slot) in columns.iter().zip(&slots) {
            let Some(text) = cell(col) else {
                return err(row, format!("an InlineTable row has no {col:?} cell"));
            };
            let v = fields.constant(row, slot, &text)?;
            k.extend(key(v));
        }
        let value = typed(fields, row, target, &out)?;
        rows.entry(k).or_insert(value);
    }
    Ok(Expr::MapValues {
        slots,
        rows,
        map_missing_to: node
            .attribute("mapMissingTo")
            .map(|t| typed(fields, node, target, t))
            .transpose()?
            .unwrap_or(V::Missing),
        default: node
            .attribute("defaultValue")
            .map(|t| typed(fields, node, target, t))
            .transpose()?
            .unwrap_or(V::Missing),
    })
}

/// Ids of "true" and "false" in the interner, which boolean results use.
#[derive(Debug, Clone, Copy)]
pub struct Bools {
    pub t: u32,
    pub f: u32,
}

type Eval = std::result::Result<V, RecordError>;

impl Expr {
    /// Evaluates the expression. Fused arithmetic, the bulk of what pipelines compute, is
    /// answered here, small enough to inline into the loops over derived fields; everything
    /// else goes through [`Expr::eval_general`].
    #[inline]
    pub fn eval(&self, slots: &[V], b: Bools) -> Eval {
        match self {
            Expr::Arith {
                slot,
                steps,
                map_missing_to,
                default,
            } => Ok(arith(slots[*slot], steps, *map_missing_to, *default)),
            _ => self.eval_general(slots, b),
        }
    }

    #[inline(never)]
    fn eval_general(&self, slots: &[V], b: Bools) -> Eval {
        Ok(match self {
            Expr::Arith { .. } => self.eval(slots, b)?,
            Expr::Const(v) => *v,
            Expr::Field {
                slot,
                map_missing_to,
            } => match (slots[*slot], map_missing_to) {
                (V::Missing, Some(m)) => *m,
                (v, _) => v,
            },
            Expr::NormContinuous {
                slot,
                points,
                outliers,
                map_missing_to,
            } => match slots[*slot] {
                V::Num(x) => norm_continuous(x, points, *outliers),
                _ => map_missing_to.map_or(V::Missing, V::Num),
            },
            Expr::NormDiscrete {
                slot,
                value,
                map_missing_to,
            } => match slots[*slot] {
                V::Missing => map_missing_to.map_or(V::Missing, V::Num),
                v => V::Num(if v == *value { 1.0 } else { 0.0 }),
            },
            Expr::Discretize {
                slot,
                bins,
                map_missing_to,
                default,
            } => match slots[*slot] {
                V::Num(x) => bins
                    .iter()
                    .find(|(iv, _)| iv.contains(x))
                    .map_or(*default, |(_, v)| *v),
                V::Missing => *map_missing_to,
                V::Str(_) => *default,
            },
            Expr::MapValues {
                slots: inputs,
                rows,
                map_missing_to,
                default,
            } => {
                let mut k = Vec::with_capacity(inputs.len());
                for &s in inputs {
                    match key(slots[s]) {
                        Some(x) => k.push(x),
                        None => return Ok(*map_missing_to),
                    }
                }
                rows.get(&k).copied().unwrap_or(*default)
            }
            Expr::Apply {
                func,
                name,
                args,
                map_missing_to,
                default,
            } => match apply(*func, name, args, slots, b, map_missing_to.is_some())? {
                Applied::Value(V::Num(n)) if n.is_nan() => default.unwrap_or(V::Missing),
                Applied::Value(V::Missing) => default.unwrap_or(V::Missing),
                Applied::Value(v) => v,
                Applied::MissingInput => map_missing_to.unwrap_or(V::Missing),
            },
        })
    }
}

/// [`Expr::Arith`]'s evaluation.
#[inline]
fn arith(x: V, steps: &[Step], map_missing_to: Option<V>, default: Option<V>) -> V {
    let V::Num(mut v) = x else {
        return map_missing_to.unwrap_or(V::Missing);
    };
    for (i, step) in steps.iter().enumerate() {
        let (a, c) = if step.constant_first {
            (step.constant, v)
        } else {
            (v, step.constant)
        };
        v = match step.func {
            Func::Add => a + c,
            Func::Sub => a - c,
            Func::Mul => a * c,
            _ => a / c,
        };
        if v.is_nan() {
            return if i + 1 == steps.len() {
                default.unwrap_or(V::Missing)
            } else {
                map_missing_to.unwrap_or(V::Missing)
            };
        }
    }
    V::Num(v)
}

enum Applied {
    Value(V),
    MissingInput,
}

fn norm_continuous(x: f64, points: &[(f64, f64)], outliers: Outliers) -> V {
    let n = points.len();
    let segment = knot_segment_by(x, n, |i| points[i].0);
    let i = match segment {
        Some(i) => i,
        None => {
            let below = x < points[0].0;
            match outliers {
                Outliers::AsMissing => return V::Missing,
                Outliers::AsExtreme => {
                    return V::Num(if below { points[0].1 } else { points[n - 1].1 });
                }
                // Extrapolate along the outermost segment.
                Outliers::AsIs if below => 0,
                Outliers::AsIs => n - 2,
            }
        }
    };
    let (a, b) = (points[i], points[i + 1]);
    V::Num(a.1 + ((x - a.0) / (b.0 - a.0)) * (b.1 - a.1))
}

/// The segment `[i, i+1]` of ascending `knots` that `v` falls in, by JPMML's binary search
/// (which also decides the segment of a value exactly on an inner knot: the same value can
/// come out of either neighbour's formula with a different last bit); `None` outside.
pub fn knot_segment(v: f64, knots: &[f64]) -> Option<usize> {
    knot_segment_by(v, knots.len(), |i| knots[i])
}

fn knot_segment_by(v: f64, n: usize, knot: impl Fn(usize) -> f64) -> Option<usize> {
    let (mut low, mut high) = (0isize, n as isize - 1);
    while low <= high {
        let mid = low + (high - low) / 2;
        let m = mid as usize;
        if v >= knot(m) {
            if m + 1 < n {
                if v <= knot(m + 1) {
                    return Some(m);
                }
            } else {
                return None; // past the last knot
            }
            low = mid + 1;
        } else {
            high = mid - 1;
        }
    }
    None
}

/// How a function meets a missing argument, as JPMML-Evaluator treats it: arithmetic
/// operators answer missing, aggregates skip it, the functions about missingness and set
/// membership take it as a value, and every other function refuses the record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnMissing {
    Propagate,
    Skip,
    Accept,
    Refuse,
}

impl Func {
    fn on_missing(self) -> OnMissing {
        use Func::*;
        match self {
            Add | Sub | Mul | Div | Modulo => OnMissing::Propagate,
            Min | Max | Sum | Avg | Product => OnMissing::Skip,
            IsMissing | IsNotMissing | IsIn | IsNotIn | And | Or => OnMissing::Accept,
            _ => OnMissing::Refuse,
        }
    }
}

fn apply(
    func: Func,
    function: &str,
    args: &[Expr],
    slots: &[V],
    b: Bools,
    has_map_missing: bool,
) -> std::result::Result<Applied, RecordError> {
    use Func::*;
    let boolean = |x: bool| V::Str(if x { b.t } else { b.f });
    let truth = |v: V| match v {
        V::Str(id) => Some(id == b.t),
        V::Num(n) => Some(n != 0.0),
        V::Missing => None,
    };
    // The common case first: binary arithmetic, as scalers and decision functions are written.
    if matches!(func, Add | Sub | Mul | Div) && args.len() == 2 {
        let (V::Num(a), V::Num(c)) = (args[0].eval(slots, b)?, args[1].eval(slots, b)?) else {
            return Ok(Applied::MissingInput);
        };
        let v = match func {
            Add => a + c,
            Sub => a - c,
            Mul => a * c,
            _ => a / c,
        };
        return Ok(Applied::Value(V::Num(v)));
    }
    // Every argument is evaluated, even an `if`'s branch that is not taken (JPMML does the
    // same, so an error in either branch is an error for the record).
    let mut small = [V::Missing; 4];
    let mut many = Vec::new();
    let vals: &mut [V] = if args.len() <= small.len() {
        for (slot, a) in small.iter_mut().zip(args) {
            *slot = a.eval(slots, b)?;
        }
        &mut small[..args.len()]
    } else {
        for a in args {
            many.push(a.eval(slots, b)?);
        }
        &mut many
    };
    let missing_at = vals.iter().position(|v| v.is_missing());
    if let Some(position) = missing_at {
        if has_map_missing {
            return Ok(Applied::MissingInput);
        }
        match func.on_missing() {
            OnMissing::Propagate => return Ok(Applied::MissingInput),
            OnMissing::Refuse => {
                return Err(RecordError(format!(
                    "function {function} got a missing value as argument {}; give the Apply a mapMissingTo or fill the value in",
                    position + 1
                )));
            }
            OnMissing::Skip | OnMissing::Accept => {}
        }
    }
    let num = |v: V| match v {
        V::Num(n) => n,
        _ => f64::NAN,
    };
    let present = || vals.iter().filter(|v| !v.is_missing()).map(|v| num(*v));
    let n = |i: usize| num(vals[i]);
    let cmp = |f: fn(f64, f64) -> bool| boolean(f(n(0), n(1)));
    let v = match func {
        Min | Max | Sum | Avg | Product if present().count() == 0 => V::Missing,
        Min => V::Num(present().fold(f64::INFINITY, f64::min)),
        Max => V::Num(present().fold(f64::NEG_INFINITY, f64::max)),
        Sum => V::Num(present().sum()),
        Avg => V::Num(present().sum::<f64>() / present().count() as f64),
        Product => V::Num(present().product()),
        IsMissing => boolean(vals[0].is_missing()),
        IsNotMissing => boolean(!vals[0].is_missing()),
        IsIn => boolean(!vals[0].is_missing() && vals[1..].contains(&vals[0])),
        IsNotIn => boolean(vals[0].is_missing() || !vals[1..].contains(&vals[0])),
        And | Or => {
            // Three-valued: false AND missing is false, true OR missing is true.
            let decisive = func == Or;
            if vals.iter().any(|v| truth(*v) == Some(decisive)) {
                boolean(decisive)
            } else if missing_at.is_some() {
                return Ok(Applied::MissingInput);
            } else {
                boolean(!decisive)
            }
        }
        If => match truth(vals[0]) {
            Some(true) => vals[1],
            _ => vals.get(2).copied().unwrap_or(V::Missing),
        },
        Add => V::Num(n(0) + n(1)),
        Sub => V::Num(n(0) - n(1)),
        Mul => V::Num(n(0) * n(1)),
        Div => V::Num(n(0) / n(1)),
        Log10 => V::Num(n(0).log10()),
        Ln => V::Num(n(0).ln()),
        Sqrt => V::Num(n(0).sqrt()),
        Abs => V::Num(n(0).abs()),
        Exp => V::Num(n(0).exp()),
        Pow => V::Num(n(0).powf(n(1))),
        Threshold => V::Num(if n(0) > n(1) { 1.0 } else { 0.0 }),
        Floor => V::Num(n(0).floor()),
        Ceil => V::Num(n(0).ceil()),
        Round => V::Num(round_half_up(n(0))),
        Expm1 => V::Num(n(0).exp_m1()),
        Ln1p => V::Num(n(0).ln_1p()),
        Sin => V::Num(n(0).sin()),
        Cos => V::Num(n(0).cos()),
        Tan => V::Num(n(0).tan()),
        Asin => V::Num(n(0).asin()),
        Acos => V::Num(n(0).acos()),
        Atan => V::Num(n(0).atan()),
        Sinh => V::Num(n(0).sinh()),
        Cosh => V::Num(n(0).cosh()),
        Tanh => V::Num(n(0).tanh()),
        Hypot => V::Num(n(0).hypot(n(1))),
        Modulo => V::Num(n(0) - (n(0) / n(1)).floor() * n(1)),
        Cmp(Op::Equal) => boolean(vals[0] == vals[1]),
        Cmp(Op::NotEqual) => boolean(vals[0] != vals[1]),
        Cmp(Op::LessThan) => cmp(|a, b| a < b),
        Cmp(Op::LessOrEqual) => cmp(|a, b| a <= b),
        Cmp(Op::GreaterThan) => cmp(|a, b| a > b),
        Cmp(Op::GreaterOrEqual) => cmp(|a, b| a >= b),
        Not => boolean(truth(vals[0]) == Some(false)),
    };
    if matches!(v, V::Str(UNSEEN)) {
        return Ok(Applied::Value(V::Missing));
    }
    Ok(Applied::Value(v))
}

/// Rounds to the nearest integer, halves towards positive infinity (Java's `Math.round`, which
/// JPMML uses: -1.5 becomes -1, 2.5 becomes 3).
pub fn round_half_up(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 { f + 1.0 } else { f }
}

/// Compiles the `DerivedField`s of a TransformationDictionary or LocalTransformations. They may
/// refer to one another in any order (JPMML resolves them by name), so all are declared first,
/// then compiled, then ordered so that each is computed after the fields it reads.
pub fn derived_fields(fields: &mut Fields, nodes: &[Node]) -> Result<Vec<(usize, Expr)>> {
    let mut declared = Vec::with_capacity(nodes.len());
    for node in nodes {
        let dtype = super::fields::dtype(*node)?;
        let optype = super::fields::optype(*node, dtype)?;
        let slot = fields.add(
            *node,
            super::fields::Field::new(attr(*node, "name")?, dtype, optype),
        )?;
        declared.push(slot);
    }
    let mut compiled = Vec::with_capacity(nodes.len());
    for (node, &slot) in nodes.iter().zip(&declared) {
        let Some(expr_node) = elements(*node).find(|n| is_expression(*n)) else {
            return err(
                *node,
                format!(
                    "DerivedField {:?} has no expression",
                    fields.fields[slot].name
                ),
            );
        };
        compiled.push(Some((slot, compile(fields, expr_node, Some(slot), 0)?)));
    }
    // Emit a field once everything it reads from this set has been emitted.
    let mut ordered = Vec::with_capacity(compiled.len());
    let mut done = vec![false; compiled.len()];
    while ordered.len() < compiled.len() {
        let before = ordered.len();
        for i in 0..compiled.len() {
            if done[i] {
                continue;
            }
            let Some((_, e)) = &compiled[i] else { continue };
            let mut refs = Vec::new();
            e.refs(&mut refs);
            let ready = refs
                .iter()
                .all(|r| declared.iter().position(|d| d == r).is_none_or(|j| done[j]));
            if ready {
                done[i] = true;
                if let Some(entry) = compiled[i].take() {
                    ordered.push(entry);
                }
            }
        }
        if ordered.len() == before {
            let stuck = (0..compiled.len()).find(|i| !done[*i]).unwrap_or(0);
            return err(
                nodes[stuck],
                format!(
                    "DerivedField {:?} depends on itself",
                    fields.fields[declared[stuck]].name
                ),
            );
        }
    }
    Ok(ordered)
}

impl Expr {
    /// The slots this expression reads.
    pub fn refs(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Const(_) => {}
            Expr::Field { slot, .. }
            | Expr::NormContinuous { slot, .. }
            | Expr::NormDiscrete { slot, .. }
            | Expr::Discretize { slot, .. }
            | Expr::Arith { slot, .. } => out.push(*slot),
            Expr::MapValues { slots, .. } => out.extend(slots),
            Expr::Apply { args, .. } => args.iter().for_each(|a| a.refs(out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::DType;
    use crate::runtime::pmml::fields::{Field, Optype};

    #[test]
    fn norm_continuous_interpolates_and_extrapolates() {
        let pts = [(0.0, 0.0), (10.0, 1.0), (20.0, 3.0)];
        assert_eq!(norm_continuous(5.0, &pts, Outliers::AsIs), V::Num(0.5));
        assert_eq!(norm_continuous(15.0, &pts, Outliers::AsIs), V::Num(2.0));
        assert_eq!(norm_continuous(30.0, &pts, Outliers::AsIs), V::Num(5.0));
        assert_eq!(norm_continuous(-10.0, &pts, Outliers::AsIs), V::Num(-1.0));
        assert_eq!(
            norm_continuous(30.0, &pts, Outliers::AsExtreme),
            V::Num(3.0)
        );
        assert_eq!(norm_continuous(30.0, &pts, Outliers::AsMissing), V::Missing);
    }

    /// The nested `Apply`s a fused chain stands for, evaluated by the general path.
    fn unfused(e: &Expr) -> Expr {
        let Expr::Arith {
            slot,
            steps,
            map_missing_to,
            default,
        } = e
        else {
            return e.clone();
        };
        let mut inner = Expr::Field {
            slot: *slot,
            map_missing_to: None,
        };
        for (i, step) in steps.iter().enumerate() {
            let c = Expr::Const(V::Num(step.constant));
            let last = i + 1 == steps.len();
            inner = Expr::Apply {
                func: step.func,
                name: "op".into(),
                args: if step.constant_first {
                    vec![c, inner]
                } else {
                    vec![inner, c]
                },
                map_missing_to: if last { *map_missing_to } else { None },
                default: if last { *default } else { None },
            };
        }
        inner
    }

    #[test]
    fn fused_arithmetic_answers_as_the_nested_applies_do() {
        let xml = r#"<T>
            <Apply function="/"><Apply function="-"><FieldRef field="x"/><Constant>2</Constant></Apply><Constant>4</Constant></Apply>
            <Apply function="-" mapMissingTo="-1" defaultValue="-2"><Constant>1</Constant><Apply function="*"><FieldRef field="x"/><Constant>0</Constant></Apply></Apply>
            <Apply function="/" mapMissingTo="7" defaultValue="8"><Apply function="/"><FieldRef field="x"/><Constant>0</Constant></Apply><Constant>0</Constant></Apply>
            <Apply function="+" defaultValue="9"><FieldRef field="x"/><Constant>1</Constant></Apply>
        </T>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut fields = Fields::default();
        let node = doc.root_element();
        let x = fields
            .add(node, Field::new("x", DType::Double, Optype::Continuous))
            .unwrap();
        let word = fields.intern("word");
        let exprs: Vec<Expr> = node
            .children()
            .filter(|n| n.is_element())
            .map(|n| compile(&mut fields, n, None, 0).unwrap())
            .collect();
        let bools = Bools { t: 0, f: 1 };
        for e in &exprs {
            assert!(matches!(e, Expr::Arith { .. }), "not fused: {e:?}");
            let plain = unfused(e);
            for v in [
                V::Num(10.0),
                V::Num(0.0),
                V::Num(-3.5),
                V::Num(f64::INFINITY),
                V::Missing,
                V::Str(word),
            ] {
                let mut slots = vec![V::Missing; fields.len()];
                slots[x] = v;
                let (a, b) = (
                    e.eval(&slots, bools).unwrap(),
                    plain.eval(&slots, bools).unwrap(),
                );
                assert!(
                    a == b || matches!((a, b), (V::Num(p), V::Num(q)) if p.is_nan() && q.is_nan()),
                    "{e:?} at {v:?}: fused {a:?}, nested {b:?}"
                );
            }
        }
    }
}
