//! Fused arithmetic: a field through a chain of `+ - * /` with numeric constants, as scalers
//! write it, compiled into one [`Expr::Arith`] and evaluated in one loop, with the exact
//! semantics of the nested `Apply`s it stands for (the test below checks one against the
//! other).

use super::Expr;
use super::functions::Func;
use crate::runtime::pmml::fields::V;

/// One arithmetic step of [`Expr::Arith`]: `value op constant`, or `constant op value`.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    func: Func,
    constant: f64,
    constant_first: bool,
}

/// Rewrites binary arithmetic between a field (or an already fused chain without its own
/// missing or default values) and a numeric constant as an [`Expr::Arith`].
pub(super) fn fuse(e: Expr) -> Expr {
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

/// [`Expr::Arith`]'s evaluation.
#[inline]
pub(super) fn arith(x: V, steps: &[Step], map_missing_to: Option<V>, default: Option<V>) -> V {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::DType;
    use crate::runtime::pmml::expr::{Bools, compile};
    use crate::runtime::pmml::fields::{Field, Fields, Optype};

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
