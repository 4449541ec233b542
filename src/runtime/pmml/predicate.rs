//! Predicates (`SimplePredicate`, `CompoundPredicate`, `SimpleSetPredicate`, `True`, `False`)
//! with PMML's three-valued logic: a comparison against a missing value is UNKNOWN, and what
//! UNKNOWN means is decided by the tree's missing-value strategy, not here.

use roxmltree::Node;

use super::fields::{Fields, V};
use super::xml::{Result, array_items, attr, child, elements, err, name};

const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    LessThan,
    LessOrEqual,
    GreaterThan,
    GreaterOrEqual,
}

#[derive(Debug, Clone)]
pub enum Predicate {
    True,
    False,
    Compare {
        slot: usize,
        op: Op,
        value: V,
    },
    IsMissing(usize),
    IsNotMissing(usize),
    InSet {
        slot: usize,
        values: Vec<V>,
        negate: bool,
    },
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Xor(Vec<Predicate>),
    /// The first operand that is not UNKNOWN decides.
    Surrogate(Vec<Predicate>),
}

/// True, false, or unknown (`None`).
pub type Tri = Option<bool>;

pub fn is_predicate(node: Node) -> bool {
    matches!(
        name(node),
        "SimplePredicate" | "CompoundPredicate" | "SimpleSetPredicate" | "True" | "False"
    )
}

/// The predicate among `node`'s children (Node, Segment).
pub fn compile_child(fields: &mut Fields, node: Node) -> Result<Predicate> {
    match elements(node).find(|n| is_predicate(*n)) {
        Some(p) => compile(fields, p, 0),
        None => err(node, format!("<{}> has no predicate", name(node))),
    }
}

pub fn compile(fields: &mut Fields, node: Node, depth: usize) -> Result<Predicate> {
    if depth > MAX_DEPTH {
        return err(
            node,
            format!("predicates nest deeper than {MAX_DEPTH} levels"),
        );
    }
    Ok(match name(node) {
        "True" => Predicate::True,
        "False" => Predicate::False,
        "SimplePredicate" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            let op = match attr(node, "operator")? {
                "isMissing" => return Ok(Predicate::IsMissing(slot)),
                "isNotMissing" => return Ok(Predicate::IsNotMissing(slot)),
                "equal" => Op::Equal,
                "notEqual" => Op::NotEqual,
                "lessThan" => Op::LessThan,
                "lessOrEqual" => Op::LessOrEqual,
                "greaterThan" => Op::GreaterThan,
                "greaterOrEqual" => Op::GreaterOrEqual,
                other => return err(node, format!("operator {other:?} is not a PMML operator")),
            };
            let value = fields.constant(node, slot, attr(node, "value")?)?;
            if matches!(value, V::Str(_)) && !matches!(op, Op::Equal | Op::NotEqual) {
                return err(
                    node,
                    "ordering comparisons of string fields are not supported",
                );
            }
            Predicate::Compare { slot, op, value }
        }
        "SimpleSetPredicate" => {
            let slot = fields.resolve(node, attr(node, "field")?)?;
            let negate = match attr(node, "booleanOperator")? {
                "isIn" => false,
                "isNotIn" => true,
                other => {
                    return err(
                        node,
                        format!("booleanOperator {other:?} is not isIn or isNotIn"),
                    );
                }
            };
            let array = child(node, "Array")
                .ok_or_else(|| super::xml::error(node, "SimpleSetPredicate has no Array"))?;
            let mut values = Vec::new();
            for item in array_items(array)? {
                values.push(fields.constant(array, slot, &item)?);
            }
            Predicate::InSet {
                slot,
                values,
                negate,
            }
        }
        "CompoundPredicate" => {
            let mut operands = Vec::new();
            for p in elements(node).filter(|n| is_predicate(*n)) {
                operands.push(compile(fields, p, depth + 1)?);
            }
            if operands.len() < 2 {
                return err(node, "CompoundPredicate needs at least two predicates");
            }
            match attr(node, "booleanOperator")? {
                "and" => Predicate::And(operands),
                "or" => Predicate::Or(operands),
                "xor" => Predicate::Xor(operands),
                "surrogate" => Predicate::Surrogate(operands),
                other => return err(node, format!("booleanOperator {other:?} is not supported")),
            }
        }
        other => return err(node, format!("<{other}> is not a predicate")),
    })
}

impl Predicate {
    pub fn eval(&self, slots: &[V]) -> Tri {
        match self {
            Predicate::True => Some(true),
            Predicate::False => Some(false),
            Predicate::Compare { slot, op, value } => compare(slots[*slot], *op, *value),
            Predicate::IsMissing(s) => Some(slots[*s].is_missing()),
            Predicate::IsNotMissing(s) => Some(!slots[*s].is_missing()),
            Predicate::InSet {
                slot,
                values,
                negate,
            } => match slots[*slot] {
                V::Missing => None,
                v => Some(values.contains(&v) != *negate),
            },
            Predicate::And(ps) => {
                let mut unknown = false;
                for p in ps {
                    match p.eval(slots) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Predicate::Or(ps) => {
                let mut unknown = false;
                for p in ps {
                    match p.eval(slots) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Predicate::Xor(ps) => {
                let mut acc = false;
                for p in ps {
                    acc ^= p.eval(slots)?;
                }
                Some(acc)
            }
            Predicate::Surrogate(ps) => ps.iter().find_map(|p| p.eval(slots)),
        }
    }
}

fn compare(v: V, op: Op, value: V) -> Tri {
    match (v, value) {
        (V::Missing, _) => None,
        (V::Num(x), V::Num(y)) => Some(match op {
            Op::Equal => x == y,
            Op::NotEqual => x != y,
            Op::LessThan => x < y,
            Op::LessOrEqual => x <= y,
            Op::GreaterThan => x > y,
            Op::GreaterOrEqual => x >= y,
        }),
        (a, b) => Some(match op {
            Op::Equal => a == b,
            Op::NotEqual => a != b,
            _ => false,
        }),
    }
}
