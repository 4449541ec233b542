//! Expressions: `Constant`, `FieldRef`, `NormContinuous`, `NormDiscrete`, `Discretize`,
//! `MapValues` and `Apply` with PMML's built-in functions, compiled to a tree over slots.
//!
//! Missing values follow JPMML-Evaluator (see `OnMissing` in [`functions`]): `mapMissingTo`
//! answers for any missing argument; otherwise arithmetic gives missing, aggregates skip it,
//! and the other functions refuse the record. A result that is not a number (NaN) is missing,
//! then `defaultValue` applies.
//!
//! This file holds the tree ([`Expr`]) and its evaluation, the one place every kind of node
//! meets. Module map: [`compiler`] (elements to a tree, `DerivedField`s in the order they can
//! be computed), [`functions`] (`Apply`'s built-in functions and how each meets a missing
//! argument), [`fused`] (arithmetic chains with constants, fused into one loop), [`norm`]
//! (`NormContinuous`'s knots, `Discretize`'s intervals), [`lookup`] (`MapValues` tables).

mod compiler;
mod functions;
mod fused;
mod lookup;
mod norm;

use std::collections::HashMap;

use self::functions::{Applied, apply};
use self::fused::arith;
use self::lookup::key;
use self::norm::norm_continuous;
use super::fields::V;
use crate::runtime::RecordError;

pub use self::compiler::{compile, derived_fields, is_expression, result_dtype};
pub use self::functions::{Func, round_half_up};
pub use self::fused::Step;
pub use self::lookup::Key;
pub use self::norm::{Interval, Outliers, knot_segment};

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
