//! Preprocessing steps of a batch job, and the one-line text form people type for them
//! (`--step fill:age=median`, the console's step editor). The text form and [`Step`]'s
//! `Display` round-trip, so what `jobs show` prints can be pasted back into `jobs edit`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most steps a chain holds.
pub const MAX_STEPS: usize = 64;
/// The longest column name a step names.
const MAX_NAME: usize = 128;
/// The most values a one-hot or map step lists.
pub const MAX_VALUES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CastType {
    Double,
    Integer,
    String,
    Boolean,
}

impl CastType {
    pub fn as_str(self) -> &'static str {
        match self {
            CastType::Double => "double",
            CastType::Integer => "integer",
            CastType::String => "string",
            CastType::Boolean => "boolean",
        }
    }
}

/// What a fill step puts in place of a missing value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// The column's mean over the input (a first pass).
    Mean,
    Median,
    /// Its most frequent value.
    Mode,
    /// A given value.
    Value(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Keep only these columns.
    Select {
        columns: Vec<String>,
    },
    Rename {
        pairs: Vec<(String, String)>,
    },
    Drop {
        columns: Vec<String>,
    },
    Cast {
        column: String,
        to: CastType,
    },
    Fill {
        column: String,
        with: Fill,
    },
    /// `(x - mean) / std`, with the statistics given or from a first pass.
    Standardise {
        column: String,
        mean: Option<f64>,
        std: Option<f64>,
    },
    /// `(x - min) / (max - min)`.
    MinMax {
        column: String,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One 0/1 column `COL_VALUE` per value, replacing the column; values given or the
    /// distinct ones of a first pass.
    OneHot {
        column: String,
        values: Option<Vec<String>>,
    },
    /// Keep the rows for which the expression is true.
    Filter {
        expr: String,
    },
    /// A new (or replaced) column computed by an expression.
    Derive {
        column: String,
        expr: String,
    },
    /// Replace values by a table; others become `default` (missing when absent).
    Map {
        column: String,
        pairs: Vec<(String, String)>,
        default: Option<String>,
    },
}

impl Step {
    /// The word the text form starts with.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Select { .. } => "select",
            Step::Rename { .. } => "rename",
            Step::Drop { .. } => "drop",
            Step::Cast { .. } => "cast",
            Step::Fill { .. } => "fill",
            Step::Standardise { .. } => "standardise",
            Step::MinMax { .. } => "minmax",
            Step::OneHot { .. } => "onehot",
            Step::Filter { .. } => "filter",
            Step::Derive { .. } => "derive",
            Step::Map { .. } => "map",
        }
    }

    /// Whether the step needs statistics the job did not give (a first pass over the input).
    pub fn needs_pass(&self) -> bool {
        match self {
            Step::Fill { with, .. } => !matches!(with, Fill::Value(_)),
            Step::Standardise { mean, std, .. } => mean.is_none() || std.is_none(),
            Step::MinMax { min, max, .. } => min.is_none() || max.is_none(),
            Step::OneHot { values, .. } => values.is_none(),
            _ => false,
        }
    }
}

/// The kinds, with the text form of each, for help texts and the console's step editor.
pub const STEP_FORMS: &[(&str, &str)] = &[
    ("select", "select:COL,COL…"),
    ("rename", "rename:OLD=NEW,…"),
    ("drop", "drop:COL,COL…"),
    ("cast", "cast:COL=double|integer|string|boolean"),
    ("fill", "fill:COL=mean|median|mode|VALUE"),
    ("standardise", "standardise:COL [mean=M std=S]"),
    ("minmax", "minmax:COL [min=A max=B]"),
    ("onehot", "onehot:COL [values=A|B|C]"),
    ("filter", "filter:EXPRESSION"),
    ("derive", "derive:COL=EXPRESSION"),
    ("map", "map:COL FROM=TO,…[,*=DEFAULT]"),
];

impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Step, String> {
        let text = text.trim();
        let (kind, rest) = text.split_once(':').ok_or_else(|| {
            format!(
                "{:?} is not a step: write KIND:PARAMETERS, e.g. fill:age=median ({})",
                super::clip(text, 60),
                kinds()
            )
        })?;
        let form = || {
            STEP_FORMS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or("", |(_, f)| *f)
        };
        let bad = |what: String| format!("{kind} step: {what} (write {})", form());
        let rest = rest.trim();
        let step = match kind {
            "select" => Step::Select {
                columns: names(rest).map_err(bad)?,
            },
            "drop" => Step::Drop {
                columns: names(rest).map_err(bad)?,
            },
            "rename" => Step::Rename {
                pairs: pairs(rest)
                    .map_err(bad)?
                    .into_iter()
                    .map(|(a, b)| Ok((name(&a)?, name(&b)?)))
                    .collect::<Result<_, String>>()
                    .map_err(bad)?,
            },
            "cast" => {
                let (column, to) = one_pair(rest).map_err(bad)?;
                let to = match to.as_str() {
                    "double" | "float" | "number" => CastType::Double,
                    "integer" | "int" => CastType::Integer,
                    "string" | "text" => CastType::String,
                    "boolean" | "bool" => CastType::Boolean,
                    other => return Err(bad(format!("{other:?} is not a type"))),
                };
                Step::Cast { column, to }
            }
            "fill" => {
                let (column, with) = one_pair(rest).map_err(bad)?;
                let with = match with.as_str() {
                    "mean" => Fill::Mean,
                    "median" => Fill::Median,
                    "mode" => Fill::Mode,
                    v => Fill::Value(unquote(v).to_string()),
                };
                Step::Fill { column, with }
            }
            "standardise" | "standardize" => {
                let (column, mut opts) = options(rest, &["mean", "std"]).map_err(bad)?;
                let std = opts.remove("std");
                if std == Some(0.0) {
                    return Err(bad("std=0 would divide by zero".into()));
                }
                Step::Standardise {
                    column,
                    mean: opts.remove("mean"),
                    std,
                }
            }
            "minmax" => {
                let (column, mut opts) = options(rest, &["min", "max"]).map_err(bad)?;
                let (min, max) = (opts.remove("min"), opts.remove("max"));
                if let (Some(a), Some(b)) = (min, max)
                    && a >= b
                {
                    return Err(bad(format!("min={a} is not below max={b}")));
                }
                Step::MinMax { column, min, max }
            }
            "onehot" => {
                let (column, values) = match rest.split_once(char::is_whitespace) {
                    None => (name(rest).map_err(bad)?, None),
                    Some((c, v)) => {
                        let list = v.trim().strip_prefix("values=").ok_or_else(|| {
                            bad(format!("{:?} is not values=A|B", super::clip(v, 40)))
                        })?;
                        let values: Vec<String> = list.split('|').map(str::to_string).collect();
                        if values.len() > MAX_VALUES || values.iter().any(String::is_empty) {
                            return Err(bad(format!(
                                "values must be 1 to {MAX_VALUES} non-empty values"
                            )));
                        }
                        (name(c).map_err(bad)?, Some(values))
                    }
                };
                Step::OneHot { column, values }
            }
            "filter" => Step::Filter {
                expr: expression(rest).map_err(bad)?,
            },
            "derive" => {
                let (column, expr) = rest
                    .split_once('=')
                    .ok_or_else(|| bad("no = between the column and the expression".into()))?;
                Step::Derive {
                    column: name(expr_column(column)).map_err(bad)?,
                    expr: expression(expr).map_err(bad)?,
                }
            }
            "map" => {
                let (column, table) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| bad("no table after the column".into()))?;
                let mut default = None;
                let mut table_pairs = Vec::new();
                for (from, to) in pairs(table.trim()).map_err(bad)? {
                    if from == "*" {
                        default = Some(to);
                    } else {
                        table_pairs.push((from, to));
                    }
                }
                if table_pairs.len() > MAX_VALUES {
                    return Err(bad(format!("more than {MAX_VALUES} values")));
                }
                Step::Map {
                    column: name(column).map_err(bad)?,
                    pairs: table_pairs,
                    default,
                }
            }
            other => {
                return Err(format!(
                    "{:?} is not a kind of step ({})",
                    super::clip(other, 30),
                    kinds()
                ));
            }
        };
        Ok(step)
    }
}

fn kinds() -> String {
    let names: Vec<&str> = STEP_FORMS.iter().map(|(k, _)| *k).collect();
    format!("kinds: {}", names.join(", "))
}

fn name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a column name is empty".into());
    }
    if text.chars().count() > MAX_NAME {
        return Err(format!("column names are at most {MAX_NAME} characters"));
    }
    if text.chars().any(|c| c.is_control() || c == ',' || c == '=') {
        return Err(format!(
            "{:?} is not a column name (no commas, = or control characters)",
            super::clip(text, 40)
        ));
    }
    Ok(text.to_string())
}

/// A derived column's name may be written in backquotes, as expressions refer to it.
fn expr_column(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix('`')
        .and_then(|t| t.strip_suffix('`'))
        .unwrap_or(t)
}

fn names(text: &str) -> Result<Vec<String>, String> {
    let out: Vec<String> = text.split(',').map(name).collect::<Result<_, _>>()?;
    if out.len() > MAX_VALUES {
        return Err(format!("more than {MAX_VALUES} columns"));
    }
    Ok(out)
}

fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(|p| {
            let (a, b) = p
                .split_once('=')
                .ok_or_else(|| format!("{:?} has no =", super::clip(p, 40)))?;
            Ok((unquote(a.trim()).to_string(), unquote(b.trim()).to_string()))
        })
        .collect()
}

fn one_pair(text: &str) -> Result<(String, String), String> {
    let (a, b) = text
        .split_once('=')
        .ok_or_else(|| "no = between the column and its value".to_string())?;
    Ok((name(a)?, b.trim().to_string()))
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// `COL [key=NUMBER]…` with only the given keys.
fn options(
    text: &str,
    keys: &[&'static str],
) -> Result<(String, std::collections::HashMap<&'static str, f64>), String> {
    let mut words = text.split_whitespace();
    let column = name(words.next().unwrap_or(""))?;
    let mut out = std::collections::HashMap::new();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{:?} is not KEY=NUMBER", super::clip(w, 40)))?;
        let key = keys
            .iter()
            .find(|x| **x == k)
            .ok_or_else(|| format!("{k:?} is not one of {}", keys.join(", ")))?;
        let n: f64 = v
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| format!("{k}={v:?} is not a number"))?;
        out.insert(*key, n);
    }
    Ok((column, out))
}

fn expression(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the expression is empty".into());
    }
    Ok(text.to_string())
}

fn quoted(v: &str) -> String {
    if matches!(v, "mean" | "median" | "mode") || v.contains([',', '=']) || v != v.trim() {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.kind())?;
        let num = |k: &str, v: &Option<f64>| v.map(|v| format!(" {k}={v}")).unwrap_or_default();
        match self {
            Step::Select { columns } | Step::Drop { columns } => f.write_str(&columns.join(",")),
            Step::Rename { pairs } => {
                let p: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}={b}")).collect();
                f.write_str(&p.join(","))
            }
            Step::Cast { column, to } => write!(f, "{column}={}", to.as_str()),
            Step::Fill { column, with } => match with {
                Fill::Mean => write!(f, "{column}=mean"),
                Fill::Median => write!(f, "{column}=median"),
                Fill::Mode => write!(f, "{column}=mode"),
                Fill::Value(v) => write!(f, "{column}={}", quoted(v)),
            },
            Step::Standardise { column, mean, std } => {
                write!(f, "{column}{}{}", num("mean", mean), num("std", std))
            }
            Step::MinMax { column, min, max } => {
                write!(f, "{column}{}{}", num("min", min), num("max", max))
            }
            Step::OneHot { column, values } => match values {
                Some(v) => write!(f, "{column} values={}", v.join("|")),
                None => f.write_str(column),
            },
            Step::Filter { expr } => f.write_str(expr),
            Step::Derive { column, expr } => write!(f, "{column}={expr}"),
            Step::Map {
                column,
                pairs,
                default,
            } => {
                let mut p: Vec<String> = pairs
                    .iter()
                    .map(|(a, b)| format!("{}={}", quoted(a), quoted(b)))
                    .collect();
                if let Some(d) = default {
                    p.push(format!("*={}", quoted(d)));
                }
                write!(f, "{column} {}", p.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_and_prints_back() {
        for text in [
            "select:a,b,c",
            "rename:a=x,b=y",
            "drop:id",
            "cast:age=integer",
            "fill:age=median",
            "fill:city=\"mode\"",
            "fill:city=unknown",
            "standardise:age",
            "standardise:age mean=40 std=12.5",
            "minmax:x min=0 max=10",
            "onehot:species",
            "onehot:species values=a|b|c",
            "filter:age > 18 and not is_missing(city)",
            "derive:ratio=petal_length / petal_width",
            "map:species setosa=0,versicolor=1,*=2",
        ] {
            let step: Step = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(step.to_string(), text, "{step:?}");
            assert_eq!(step.to_string().parse::<Step>().unwrap(), step);
        }
        assert_eq!(
            "standardize:x".parse::<Step>().unwrap().kind(),
            "standardise"
        );
    }

    #[test]
    fn mistakes_say_what_to_write() {
        for (text, says) in [
            ("age", "write KIND:PARAMETERS"),
            ("scale:age", "not a kind of step"),
            (
                "cast:age=decimal",
                "\"decimal\" is not a type (write cast:COL=",
            ),
            ("fill:age", "no = between"),
            ("standardise:age std=0", "divide by zero"),
            ("standardise:age avg=3", "\"avg\" is not one of mean, std"),
            ("minmax:x min=5 max=1", "min=5 is not below max=1"),
            ("select:a,,b", "a column name is empty"),
            ("derive:x", "no = between the column and the expression"),
            ("filter:", "the expression is empty"),
            ("map:species", "no table after the column"),
        ] {
            let err = text.parse::<Step>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
