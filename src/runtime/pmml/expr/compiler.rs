//! Compiling expression elements into an [`Expr`] tree: which elements are expressions, the
//! type a constant takes from the field it is computed for, the type an untyped output field
//! gets, and `DerivedField`s put in the order they can be computed. What is not supported is
//! refused here, at load time, naming the element.

use roxmltree::Node;

use super::Expr;
use super::functions::Func;
use super::fused::fuse;
use super::lookup::map_values;
use super::norm::{Interval, Outliers};
use crate::runtime::DType;
use crate::runtime::pmml::fields::{Fields, V, dtype};
use crate::runtime::pmml::xml::{self, Result, attr, child, children, elements, err, name};

/// Nesting deeper than this is refused at load time (the compiler recurses over expressions).
const MAX_DEPTH: usize = 100;

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
pub(super) fn typed(fields: &mut Fields, node: Node, slot: Option<usize>, text: &str) -> Result<V> {
    match slot {
        Some(s) => fields.constant(node, s, text),
        None => Ok(match xml::parse_number(text) {
            Some(n) => V::Num(n),
            None => V::Str(fields.intern(text)),
        }),
    }
}

/// Compiles the `DerivedField`s of a TransformationDictionary or LocalTransformations. They may
/// refer to one another in any order (JPMML resolves them by name), so all are declared first,
/// then compiled, then ordered so that each is computed after the fields it reads.
pub fn derived_fields(fields: &mut Fields, nodes: &[Node]) -> Result<Vec<(usize, Expr)>> {
    let mut declared = Vec::with_capacity(nodes.len());
    for node in nodes {
        let dtype = crate::runtime::pmml::fields::dtype(*node)?;
        let optype = crate::runtime::pmml::fields::optype(*node, dtype)?;
        let slot = fields.add(
            *node,
            crate::runtime::pmml::fields::Field::new(attr(*node, "name")?, dtype, optype),
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
