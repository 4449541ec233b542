//! `Apply`'s built-in functions: their PMML names and arities, how each meets a missing
//! argument (JPMML-Evaluator's rules, see [`OnMissing`]), and their evaluation. Arithmetic
//! between a field and constants usually never gets here: the compiler fuses it (see
//! [`super::fused`]).

use super::{Bools, Expr};
use crate::runtime::RecordError;
use crate::runtime::pmml::fields::{UNSEEN, V};
use crate::runtime::pmml::predicate::Op;

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
    pub(super) fn parse(text: &str) -> Option<(Func, usize, Option<usize>)> {
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

pub(super) enum Applied {
    Value(V),
    MissingInput,
}

pub(super) fn apply(
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
