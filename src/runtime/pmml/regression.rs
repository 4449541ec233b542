//! RegressionModel: one `RegressionTable` per target category (or one for regression), each a
//! sum of an intercept, numeric predictors (coefficient × x^exponent), categorical predictors
//! (coefficient when the field equals the value) and predictor terms (coefficient × product),
//! followed by the normalization method.

use roxmltree::Node;

use super::fields::V;
use super::model::{Compiler, Function, Pred, Probs, class_index, class_value};
use super::tree::argmax;
use super::xml::{self, Result, attr, children, err};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    None,
    Softmax,
    Simplemax,
    Logit,
    Probit,
    Cloglog,
    Loglog,
    Cauchit,
    Exp,
}

#[derive(Debug)]
struct Table {
    intercept: f64,
    numeric: Vec<(usize, f64, f64)>,
    categorical: Vec<(usize, V, f64)>,
    terms: Vec<(Vec<usize>, f64)>,
    class: Option<usize>,
}

#[derive(Debug)]
pub struct Regression {
    tables: Vec<Table>,
    norm: Norm,
    classes: usize,
    /// Arithmetic in f32 (`x-mathContext="float"`).
    float: bool,
}

pub fn compile(
    c: &mut Compiler,
    node: Node,
    target: Option<usize>,
    function: &mut Function,
) -> Result<Regression> {
    let norm = match node.attribute("normalizationMethod").unwrap_or("none") {
        "none" => Norm::None,
        "softmax" => Norm::Softmax,
        "simplemax" => Norm::Simplemax,
        "logit" => Norm::Logit,
        "probit" => Norm::Probit,
        "cloglog" => Norm::Cloglog,
        "loglog" => Norm::Loglog,
        "cauchit" => Norm::Cauchit,
        "exp" => Norm::Exp,
        other => {
            return err(
                node,
                format!("normalizationMethod {other:?} is not supported"),
            );
        }
    };
    let classification = matches!(function, Function::Classification(_));
    let mut tables = Vec::new();
    for t in children(node, "RegressionTable") {
        let class = if classification {
            let v = class_value(c.fields, t, target, attr(t, "targetCategory")?)?;
            class_index(function, v)
        } else {
            None
        };
        let mut table = Table {
            intercept: xml::attr_f64(t, "intercept")?,
            numeric: Vec::new(),
            categorical: Vec::new(),
            terms: Vec::new(),
            class,
        };
        for p in children(t, "NumericPredictor") {
            let slot = c.fields.resolve(p, attr(p, "name")?)?;
            let exponent = xml::opt_f64(p, "exponent")?.unwrap_or(1.0);
            table
                .numeric
                .push((slot, exponent, xml::attr_f64(p, "coefficient")?));
        }
        for p in children(t, "CategoricalPredictor") {
            let slot = c.fields.resolve(p, attr(p, "name")?)?;
            let value = c.fields.constant(p, slot, attr(p, "value")?)?;
            table
                .categorical
                .push((slot, value, xml::attr_f64(p, "coefficient")?));
        }
        for p in children(t, "PredictorTerm") {
            let mut slots = Vec::new();
            for f in children(p, "FieldRef") {
                slots.push(c.fields.resolve(f, attr(f, "field")?)?);
            }
            table.terms.push((slots, xml::attr_f64(p, "coefficient")?));
        }
        tables.push(table);
    }
    if tables.is_empty() {
        return err(node, "RegressionModel has no RegressionTable");
    }
    if !classification && tables.len() != 1 {
        return err(
            node,
            "a regression RegressionModel must have exactly one RegressionTable",
        );
    }
    if classification && matches!(norm, Norm::Exp) {
        return err(node, "normalizationMethod exp is for regression only");
    }
    if !classification && matches!(norm, Norm::Softmax | Norm::Simplemax) {
        return err(node, "softmax and simplemax are for classification only");
    }
    Ok(Regression {
        tables,
        norm,
        classes: function.classes().len(),
        float: c.float,
    })
}

/// The arithmetic a table is summed in: f64, or f32 under `x-mathContext="float"`.
trait Arith: Copy + std::ops::AddAssign + std::ops::Mul<Output = Self> {
    fn of(x: f64) -> Self;
    fn pow(self, e: Self) -> Self;
    fn widen(self) -> f64;
}

impl Arith for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn pow(self, e: Self) -> Self {
        self.powf(e)
    }
    fn widen(self) -> f64 {
        self
    }
}

impl Arith for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn pow(self, e: Self) -> Self {
        self.powf(e)
    }
    fn widen(self) -> f64 {
        f64::from(self)
    }
}

impl Table {
    /// The table's value, or `None` when a numeric input is missing.
    fn value<T: Arith>(&self, slots: &[V]) -> Option<f64> {
        let mut y = T::of(self.intercept);
        for &(slot, exponent, coef) in &self.numeric {
            let V::Num(x) = slots[slot] else { return None };
            let x = T::of(x);
            y += T::of(coef)
                * if exponent == 1.0 {
                    x
                } else {
                    x.pow(T::of(exponent))
                };
        }
        // A missing categorical input matches none of its predictors (JPMML).
        for &(slot, value, coef) in &self.categorical {
            if slots[slot] == value {
                y += T::of(coef);
            }
        }
        for (term, coef) in &self.terms {
            let mut product = T::of(*coef);
            for &slot in term {
                let V::Num(x) = slots[slot] else { return None };
                product = product * T::of(x);
            }
            y += product;
        }
        Some(y.widen())
    }
}

fn link(norm: Norm, y: f64) -> f64 {
    match norm {
        Norm::Logit => 1.0 / (1.0 + (-y).exp()),
        Norm::Probit => 0.5 * erfc(-y / std::f64::consts::SQRT_2),
        Norm::Cloglog => 1.0 - (-(y.exp())).exp(),
        Norm::Loglog => (-((-y).exp())).exp(),
        Norm::Cauchit => 0.5 + y.atan() / std::f64::consts::PI,
        Norm::Exp => y.exp(),
        Norm::None | Norm::Softmax | Norm::Simplemax => y,
    }
}

impl Regression {
    fn table(&self, t: &Table, slots: &[V]) -> Option<f64> {
        if self.float {
            t.value::<f32>(slots)
        } else {
            t.value::<f64>(slots)
        }
    }

    fn link(&self, y: f64) -> f64 {
        if !self.float {
            return link(self.norm, y);
        }
        let y = y as f32;
        f64::from(match self.norm {
            Norm::Logit => 1.0 / (1.0 + (-y).exp()),
            Norm::Exp => y.exp(),
            other => link(other, f64::from(y)) as f32,
        })
    }

    pub fn eval(&self, slots: &[V]) -> Pred {
        if self.classes == 0 {
            return match self.table(&self.tables[0], slots) {
                Some(y) => Pred::Value(self.link(y)),
                None => Pred::Missing,
            };
        }
        let mut values = Probs::zeros(self.classes);
        for t in &self.tables {
            let Some(y) = self.table(t, slots) else {
                return Pred::Missing;
            };
            if let Some(class) = t.class {
                values[class] = y;
            }
        }
        // The probabilities replace the table values in place (inline for up to four classes).
        let mut probs = values;
        match self.norm {
            Norm::Softmax => {
                let max = probs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                probs.iter_mut().for_each(|y| *y = (*y - max).exp());
                let sum: f64 = probs.iter().sum();
                probs.iter_mut().for_each(|p| *p /= sum);
            }
            Norm::Simplemax => {
                let sum: f64 = probs.iter().sum();
                probs.iter_mut().for_each(|p| *p /= sum);
            }
            // Link functions (and none) give each table but the last its probability; the
            // last class gets the rest.
            norm => {
                let last = self.tables.last().and_then(|t| t.class);
                let mut rest = 1.0;
                for t in &self.tables {
                    let Some(class) = t.class else { continue };
                    if Some(class) != last {
                        probs[class] = if norm == self.norm {
                            self.link(probs[class])
                        } else {
                            link(norm, probs[class])
                        };
                        rest -= probs[class];
                    }
                }
                if let Some(class) = last {
                    probs[class] = if self.float {
                        f64::from(rest as f32)
                    } else {
                        rest
                    };
                }
            }
        }
        match argmax(&probs) {
            Some(label) => Pred::Class { label, probs },
            None => Pred::Missing,
        }
    }
}

/// Complementary error function to about 1e-15 (the probit link needs far better than the
/// usual 1e-7 approximations to agree with JPMML to 1e-9): the Taylor series of erf below 2,
/// the continued fraction of erfc above.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf by its Taylor series converges fast for |x| < 2.
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // Continued fraction (Lentz) for large x.
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for i in 1..200 {
            let a = i as f64 / 2.0;
            d = x + a * d;
            d = 1.0 / d;
            c = x + a / c;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (2.5, 0.000_406_952_017_444_959),
            (-1.0, 1.8427007929497148),
        ] {
            assert!(
                (erfc(x) - want).abs() < 1e-14,
                "erfc({x}) = {} want {want}",
                erfc(x)
            );
        }
    }
}
