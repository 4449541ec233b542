//! A job's preprocessing chain, checked against the model and compiled into PMML.
//!
//! The steps are walked once, in order, keeping a table from each column's name to the PMML
//! field that holds it at that point: a step that changes a column writes a new
//! `DerivedField` (`age@3`) and points the name at it, a rename or a drop only edits the
//! table. What comes out is a PMML document whose `TransformationDictionary` is the chain and
//! whose outputs are the model's inputs (plus one boolean per filter), so the PMML engine runs
//! every step: standardise and min-max as `NormContinuous`, one-hot as `NormDiscrete`, map as
//! `MapValues`, fill as `mapMissingTo`, filter and derive as `Apply` trees from
//! [`super::expr`]. There is no second evaluator.
//!
//! The same walk validates a chain before it is saved: a step naming a column an earlier step
//! dropped, a statistic over text, a model input no column provides or of the wrong type — each
//! is an error naming the step. Steps that need statistics (fill with a mean, standardise
//! without given figures, one-hot without given values) get them from a pass over the input
//! through the chain before them ([`build`] with `stop`), one pass per such step.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::expr::{Expr, ValueKind, escape};
use crate::domain::{CastType, Fill, Step};
use crate::runtime::{DType, FieldSpec, RecordError, Value};

/// What a column holds, as far as the chain knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Not known before the file is read (no header to look at).
    Any,
    Double,
    Integer,
    String,
    Boolean,
}

impl Ty {
    fn pmml(self) -> &'static str {
        match self {
            Ty::Any | Ty::Double => "double",
            Ty::Integer => "integer",
            Ty::String => "string",
            Ty::Boolean => "boolean",
        }
    }

    fn of(d: DType) -> Ty {
        match d {
            DType::Double | DType::Float => Ty::Double,
            DType::Integer => Ty::Integer,
            DType::String => Ty::String,
            DType::Boolean => Ty::Boolean,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Any | Ty::Double | Ty::Integer)
    }

    fn word(self) -> &'static str {
        match self {
            Ty::Any => "unknown",
            Ty::Double | Ty::Integer => "numbers",
            Ty::String => "text",
            Ty::Boolean => "true/false",
        }
    }

    fn kind(self) -> Option<ValueKind> {
        match self {
            Ty::Any => None,
            Ty::Double | Ty::Integer => Some(ValueKind::Number),
            Ty::String => Some(ValueKind::Text),
            Ty::Boolean => Some(ValueKind::Boolean),
        }
    }
}

/// The most texts a chain declares for the engine to know.
const MAX_KNOWN: usize = 10_000;

/// A statistic a first pass found for one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    /// A fill's value (mean, median or mode).
    Value(String),
    MeanStd(f64, f64),
    Range(f64, f64),
    Values(Vec<String>),
}

/// Statistics by step index.
pub type Stats = BTreeMap<usize, Stat>;

/// Why a chain cannot run, naming the step when one is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", at.as_ref().map(|(i, s)| format!("step {} ({s}): ", i + 1)).unwrap_or_default())]
pub struct ChainError {
    /// The step's index and text.
    pub at: Option<(usize, String)>,
    pub message: String,
}

/// What the statistic of a step needing a pass is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Mean,
    Median,
    Mode,
    MeanStd,
    Range,
    Values,
}

/// A compiled chain.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The file's columns the chain reads, in the order the reader hands them over.
    pub raw: Vec<String>,
    /// The PMML document; its outputs are the model's inputs in order, then one boolean per
    /// filter (the row is kept when all are true).
    pub pmml: String,
    pub filters: usize,
    /// How many model inputs the chain computes (or 1 for a first pass).
    pub outputs: usize,
    /// For each output that is a column of the file untouched by any step, its index in
    /// [`Chain::raw`]: copied as read, because the engine keeps only the texts it knows.
    direct: Vec<Option<usize>>,
    /// Steps that need statistics not yet given, in order.
    pub needs: Vec<(usize, Need)>,
}

#[derive(Debug, Clone)]
struct Col {
    field: String,
    ty: Ty,
    /// The step that last wrote the column; `None` for a column of the file.
    origin: Option<usize>,
}

struct Walk<'a> {
    steps: &'a [Step],
    header: Option<&'a [(String, Ty)]>,
    table: HashMap<String, Col>,
    /// Columns a step removed (dropped, renamed, one-hot encoded, left out by a select).
    removed: HashMap<String, usize>,
    /// After a select, the file's other columns are out of reach.
    closed: Option<usize>,
    /// One-hot steps whose values are not known yet: `COL_…` may be any of their columns.
    open_onehots: Vec<(String, usize)>,
    raw: Vec<(String, Ty)>,
    /// Raw columns a cast step retyped: a value that is not of the type is a bad record.
    cast: Vec<String>,
    derived: String,
    filters: Vec<String>,
    needs: Vec<(usize, Need)>,
    at: usize,
}

/// Walks `steps` over a file with `header` (names and the types a sample of it showed;
/// `None` when the file cannot be looked at, e.g. before it exists) for a model taking
/// `inputs`. With `stop = Some(k)`, the walk ends before step `k` and the only output is the
/// column step `k` reads: the chain of a first pass.
pub fn build(
    steps: &[Step],
    header: Option<&[(String, Ty)]>,
    inputs: &[FieldSpec],
    stats: &Stats,
    stop: Option<usize>,
) -> Result<Chain, ChainError> {
    if steps.len() > crate::domain::step::MAX_STEPS {
        return Err(ChainError {
            at: None,
            message: format!(
                "a chain has at most {} steps",
                crate::domain::step::MAX_STEPS
            ),
        });
    }
    let mut w = Walk {
        steps,
        header,
        table: HashMap::new(),
        removed: HashMap::new(),
        closed: None,
        open_onehots: Vec::new(),
        raw: Vec::new(),
        cast: Vec::new(),
        derived: String::new(),
        filters: Vec::new(),
        needs: Vec::new(),
        at: 0,
    };
    let end = stop.unwrap_or(steps.len()).min(steps.len());
    for (i, step) in steps[..end].iter().enumerate() {
        w.at = i;
        w.step(step, stats.get(&i))?;
    }
    let outputs: Vec<Col> = match stop {
        Some(k) => {
            w.at = k;
            vec![w.lookup(stat_column(&steps[k]))?]
        }
        None => {
            let mut out = Vec::with_capacity(inputs.len());
            for input in inputs {
                out.push(w.model_input(input)?);
            }
            out
        }
    };
    // The texts the model knows, so that the engine carries them through the chain's steps.
    let mut known: Vec<&str> = inputs
        .iter()
        .filter_map(|i| i.categories.as_deref())
        .flatten()
        .map(String::as_str)
        .collect();
    known.sort_unstable();
    known.dedup();
    known.truncate(MAX_KNOWN);
    Ok(w.finish(outputs, &known))
}

/// The column whose statistic a step needs.
fn stat_column(step: &Step) -> &str {
    match step {
        Step::Fill { column, .. }
        | Step::Standardise { column, .. }
        | Step::MinMax { column, .. }
        | Step::OneHot { column, .. } => column,
        _ => "",
    }
}

impl Walk<'_> {
    fn fail<T>(&self, message: String) -> Result<T, ChainError> {
        Err(ChainError {
            at: Some((self.at, self.steps[self.at].to_string())),
            message,
        })
    }

    fn describe(&self, i: usize) -> String {
        format!("step {} ({})", i + 1, self.steps[i].kind())
    }

    /// The column `name` as the current step sees it.
    fn lookup(&mut self, name: &str) -> Result<Col, ChainError> {
        if let Some(c) = self.table.get(name) {
            return Ok(c.clone());
        }
        if let Some(&by) = self.removed.get(name) {
            return self.fail(format!(
                "there is no column {name:?} here: {} removed it",
                self.describe(by)
            ));
        }
        if let Some((_, by)) = self
            .open_onehots
            .iter()
            .find(|(prefix, _)| name.starts_with(&format!("{prefix}_")))
        {
            return Ok(Col {
                field: name.to_string(),
                ty: Ty::Double,
                origin: Some(*by),
            });
        }
        if let Some(by) = self.closed {
            return self.fail(format!(
                "there is no column {name:?} here: {} kept only other columns",
                self.describe(by)
            ));
        }
        let ty = match self.header {
            Some(h) => match h.iter().find(|(c, _)| c == name) {
                Some((_, ty)) => *ty,
                // The file's own column names are not repeated: the server reads files its
                // callers may not, and the first line of one may be anything.
                None => {
                    return self.fail(format!(
                        "the input has no column {name:?} (its header has {} columns: `head -1` of the file shows them)",
                        h.len()
                    ));
                }
            },
            None => Ty::Any,
        };
        let col = Col {
            field: name.to_string(),
            ty,
            origin: None,
        };
        self.raw.push((name.to_string(), ty));
        self.table.insert(name.to_string(), col.clone());
        Ok(col)
    }

    /// Adds a derived field for `name` computed by `xml`, and points the name at it.
    fn derive(&mut self, name: &str, ty: Ty, xml: &str) {
        let field = self.derived_field(name, ty, xml);
        self.removed.remove(name);
        self.table.insert(
            name.to_string(),
            Col {
                field,
                ty,
                origin: Some(self.at),
            },
        );
    }

    /// Writes a derived field for `name` at this step; returns the field's name.
    fn derived_field(&mut self, name: &str, ty: Ty, xml: &str) -> String {
        let field = format!("{name}@{}", self.at + 1);
        let _ = write!(
            self.derived,
            "<DerivedField name=\"{}\" optype=\"{}\" dataType=\"{}\">{xml}</DerivedField>",
            escape(&field),
            optype(ty),
            ty.pmml()
        );
        field
    }

    fn remove(&mut self, name: &str) {
        self.table.remove(name);
        self.removed.insert(name.to_string(), self.at);
    }

    fn numeric(&mut self, column: &str, what: &str) -> Result<Col, ChainError> {
        let col = self.lookup(column)?;
        if !col.ty.numeric() {
            return self.fail(format!(
                "{what} needs numbers, but {column:?} holds {}{}",
                col.ty.word(),
                col.origin
                    .map(|o| format!(" (from {})", self.describe(o)))
                    .unwrap_or_else(|| ": add a cast step before it".into())
            ));
        }
        Ok(col)
    }

    fn expr(&mut self, text: &str) -> Result<(String, Option<ValueKind>), ChainError> {
        let mut e = match Expr::parse(text) {
            Ok(e) => e,
            Err(err) => return self.fail(err.to_string()),
        };
        let mut cols = HashMap::new();
        for f in e.fields() {
            let f = f.to_string();
            let col = self.lookup(&f)?;
            cols.insert(f, col);
        }
        let kind = e.kind(&|f: &str| cols.get(f).and_then(|c| c.ty.kind()));
        e.map_fields(&mut |f| {
            cols.get(f)
                .map_or_else(|| f.to_string(), |c| c.field.clone())
        });
        Ok((e.to_pmml(), kind))
    }

    fn step(&mut self, step: &Step, stat: Option<&Stat>) -> Result<(), ChainError> {
        let i = self.at;
        match step {
            Step::Select { columns } => {
                let mut kept = HashMap::new();
                for c in columns {
                    let col = self.lookup(c)?;
                    kept.insert(c.clone(), col);
                }
                for name in self.table.keys().cloned().collect::<Vec<_>>() {
                    if !kept.contains_key(&name) {
                        self.removed.insert(name, i);
                    }
                }
                self.table = kept;
                self.closed = Some(i);
                self.open_onehots.clear();
            }
            Step::Drop { columns } => {
                for c in columns {
                    self.lookup(c)?;
                    self.remove(c);
                }
            }
            Step::Rename { pairs } => {
                for (from, to) in pairs {
                    let mut col = self.lookup(from)?;
                    self.remove(from);
                    col.origin = Some(i);
                    self.removed.remove(to);
                    self.table.insert(to.clone(), col);
                }
            }
            Step::Cast { column, to } => {
                let col = self.lookup(column)?;
                let ty = match to {
                    CastType::Double => Ty::Double,
                    CastType::Integer => Ty::Integer,
                    CastType::String => Ty::String,
                    CastType::Boolean => Ty::Boolean,
                };
                match self.raw.iter_mut().find(|(c, _)| *c == col.field) {
                    // A column of the file is read as the type it is cast to: the engine
                    // converts text to numbers only where a field is declared numeric.
                    Some(raw) if col.origin.is_none() => {
                        raw.1 = ty;
                        self.cast.push(col.field.clone());
                        let entry = Col {
                            ty,
                            origin: Some(i),
                            ..col
                        };
                        self.table.insert(column.clone(), entry);
                    }
                    _ => self.derive(column, ty, &field_ref(&col.field, None)),
                }
            }
            Step::Fill { column, with } => {
                let col = match with {
                    Fill::Mean | Fill::Median => self.numeric(column, "a mean or median")?,
                    Fill::Mode | Fill::Value(_) => self.lookup(column)?,
                };
                let value = match (with, stat) {
                    (Fill::Value(v), _) => v.clone(),
                    (_, Some(Stat::Value(v))) => v.clone(),
                    _ => {
                        self.needs.push((
                            i,
                            match with {
                                Fill::Mean => Need::Mean,
                                Fill::Median => Need::Median,
                                _ => Need::Mode,
                            },
                        ));
                        String::new()
                    }
                };
                if col.ty.numeric() && !value.is_empty() && value.parse::<f64>().is_err() {
                    return self.fail(format!(
                        "{value:?} is not a number, and {column:?} holds numbers"
                    ));
                }
                let ty = match col.ty {
                    Ty::Any if value.parse::<f64>().is_err() && !value.is_empty() => Ty::String,
                    t => t,
                };
                let xml = if value.is_empty() {
                    field_ref(&col.field, None)
                } else {
                    field_ref(&col.field, Some(&value))
                };
                self.derive(column, ty, &xml);
            }
            Step::Standardise { column, mean, std } => {
                let col = self.numeric(column, "standardise")?;
                let (m, s) = match (mean, std, stat) {
                    (Some(m), Some(s), _) => (*m, *s),
                    (_, _, Some(Stat::MeanStd(m, s))) => (mean.unwrap_or(*m), std.unwrap_or(*s)),
                    _ => {
                        self.needs.push((i, Need::MeanStd));
                        (0.0, 1.0)
                    }
                };
                self.derive(column, Ty::Double, &linear(&col.field, m, m + s));
            }
            Step::MinMax { column, min, max } => {
                let col = self.numeric(column, "min-max scaling")?;
                let (a, b) = match (min, max, stat) {
                    (Some(a), Some(b), _) => (*a, *b),
                    (_, _, Some(Stat::Range(a, b))) => (min.unwrap_or(*a), max.unwrap_or(*b)),
                    _ => {
                        self.needs.push((i, Need::Range));
                        (0.0, 1.0)
                    }
                };
                self.derive(column, Ty::Double, &linear(&col.field, a, b));
            }
            Step::OneHot { column, values } => {
                let col = self.lookup(column)?;
                let values = match (values, stat) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(Stat::Values(v))) => Some(v.clone()),
                    _ => None,
                };
                self.remove(column);
                match values {
                    Some(values) => {
                        for v in values {
                            let xml = format!(
                                "<NormDiscrete field=\"{}\" value=\"{}\"/>",
                                escape(&col.field),
                                escape(&v)
                            );
                            self.derive(&format!("{column}_{v}"), Ty::Double, &xml);
                        }
                    }
                    None => {
                        self.needs.push((i, Need::Values));
                        self.open_onehots.push((column.clone(), i));
                    }
                }
            }
            Step::Filter { expr } => {
                let (xml, kind) = self.expr(expr)?;
                if matches!(kind, Some(ValueKind::Number | ValueKind::Text)) {
                    return self.fail(
                        "a filter keeps the rows where it is true: write a comparison, e.g. age >= 18"
                            .into(),
                    );
                }
                let name = format!("__keep{}", self.filters.len());
                let field = self.derived_field(&name, Ty::Boolean, &xml);
                self.filters.push(field);
            }
            Step::Derive { column, expr } => {
                let (xml, kind) = self.expr(expr)?;
                let ty = match kind {
                    Some(ValueKind::Number) | None => Ty::Double,
                    Some(ValueKind::Text) => Ty::String,
                    Some(ValueKind::Boolean) => Ty::Boolean,
                };
                self.derive(column, ty, &xml);
            }
            Step::Map {
                column,
                pairs,
                default,
            } => {
                let col = self.lookup(column)?;
                let numeric = pairs
                    .iter()
                    .map(|(_, to)| to)
                    .chain(default)
                    .all(|t| t.parse::<f64>().is_ok());
                let ty = if numeric { Ty::Double } else { Ty::String };
                let mut xml = format!(
                    "<MapValues outputColumn=\"to\" dataType=\"{}\"{}>\
                     <FieldColumnPair field=\"{}\" column=\"from\"/><InlineTable>",
                    ty.pmml(),
                    default
                        .as_ref()
                        .map(|d| format!(" defaultValue=\"{}\"", escape(d)))
                        .unwrap_or_default(),
                    escape(&col.field)
                );
                for (from, to) in pairs {
                    let _ = write!(
                        xml,
                        "<row><from>{}</from><to>{}</to></row>",
                        escape(from),
                        escape(to)
                    );
                }
                xml.push_str("</InlineTable></MapValues>");
                self.derive(column, ty, &xml);
            }
        }
        Ok(())
    }

    /// The column that feeds the model's input `input`, checked for its type.
    fn model_input(&mut self, input: &FieldSpec) -> Result<Col, ChainError> {
        let name = input.name.as_str();
        let col = match self.table.get(name) {
            Some(c) => c.clone(),
            None => match (self.removed.get(name), self.closed) {
                (Some(&by), _) | (None, Some(by)) => {
                    self.at = by;
                    return self.fail(format!(
                        "the model needs {name:?}, which this step leaves out"
                    ));
                }
                _ => {
                    if let Some(h) = self.header
                        && !h.iter().any(|(c, _)| c == name)
                        && !self
                            .open_onehots
                            .iter()
                            .any(|(p, _)| name.starts_with(&format!("{p}_")))
                    {
                        return Err(ChainError {
                            at: None,
                            message: format!(
                                "the model needs {name:?}, which neither the input nor a step provides"
                            ),
                        });
                    }
                    self.at = self.steps.len().saturating_sub(1);
                    let col = self.lookup(name)?;
                    // Read as the model takes it, so a bad cell is one bad record.
                    if let Some(r) = self.raw.iter_mut().find(|(c, _)| c == name) {
                        r.1 = Ty::of(input.dtype);
                    }
                    return Ok(col);
                }
            },
        };
        let wants = Ty::of(input.dtype);
        if wants.numeric() && matches!(col.ty, Ty::String | Ty::Boolean) {
            let by = col
                .origin
                .map(|o| format!("{} makes it {}", self.describe(o), col.ty.word()))
                .unwrap_or_else(|| format!("the input's column holds {}", col.ty.word()));
            let err = format!(
                "the model's input {name:?} is a {}, but {by}",
                input.dtype.name()
            );
            return match col.origin {
                Some(o) => {
                    self.at = o;
                    self.fail(err)
                }
                None => Err(ChainError {
                    at: None,
                    message: err + ": add a cast step",
                }),
            };
        }
        if col.origin.is_none()
            && let Some(r) = self.raw.iter_mut().find(|(c, _)| *c == col.field)
        {
            r.1 = wants;
        }
        Ok(col)
    }

    fn finish(self, outputs: Vec<Col>, known: &[&str]) -> Chain {
        let mut doc = String::from(
            "<PMML xmlns=\"http://www.dmg.org/PMML-4_4\" version=\"4.4\"><Header/><DataDictionary>",
        );
        for (name, ty) in &self.raw {
            let _ = write!(
                doc,
                "<DataField name=\"{}\" optype=\"{}\" dataType=\"{}\">",
                escape(name),
                optype(*ty),
                ty.pmml()
            );
            if *ty == Ty::String {
                for k in known {
                    let _ = write!(doc, "<Value value=\"{}\"/>", escape(k));
                }
            }
            doc.push_str("</DataField>");
        }
        doc.push_str("<DataField name=\"__target\" optype=\"continuous\" dataType=\"double\"/>");
        let _ = write!(
            doc,
            "</DataDictionary><TransformationDictionary>{}</TransformationDictionary>",
            self.derived
        );
        doc.push_str("<RegressionModel functionName=\"regression\"><MiningSchema>");
        for (name, _) in &self.raw {
            let treatment = if self.cast.contains(name) {
                "returnInvalid"
            } else {
                "asIs"
            };
            let _ = write!(
                doc,
                "<MiningField name=\"{}\" invalidValueTreatment=\"{treatment}\"/>",
                escape(name)
            );
        }
        doc.push_str(
            "<MiningField name=\"__target\" usageType=\"target\"/></MiningSchema><Output>",
        );
        for (i, col) in outputs.iter().enumerate() {
            let _ = write!(
                doc,
                "<OutputField name=\"__out{i}\" feature=\"transformedValue\" dataType=\"{}\">{}</OutputField>",
                col.ty.pmml(),
                field_ref(&col.field, None)
            );
        }
        for (i, f) in self.filters.iter().enumerate() {
            let _ = write!(
                doc,
                "<OutputField name=\"__filter{i}\" feature=\"transformedValue\" dataType=\"boolean\">{}</OutputField>",
                field_ref(f, None)
            );
        }
        doc.push_str("</Output><RegressionTable intercept=\"0\"/></RegressionModel></PMML>");
        let direct = outputs
            .iter()
            .map(|c| match c.origin {
                None => self.raw.iter().position(|(n, _)| *n == c.field),
                Some(_) => None,
            })
            .collect();
        Chain {
            direct,
            raw: self.raw.into_iter().map(|(n, _)| n).collect(),
            pmml: doc,
            filters: self.filters.len(),
            outputs: outputs.len(),
            needs: self.needs,
        }
    }
}

/// A chain loaded into the PMML engine, ready to run over records.
pub struct Prepared {
    model: crate::runtime::pmml::PmmlModel,
    /// Leading outputs that are not the chain's (the carrier model's own prediction).
    skip: usize,
    filters: usize,
    direct: Vec<Option<usize>>,
}

/// One record through the chain: the model's inputs, or `None` when a filter left it out.
pub type Prepped = Result<Option<Vec<Value>>, RecordError>;

impl Chain {
    pub fn prepare(&self) -> Result<Prepared, ChainError> {
        use crate::runtime::Predictor;
        let model = crate::runtime::pmml::PmmlModel::parse(&self.pmml).map_err(|e| ChainError {
            at: None,
            message: format!("the chain does not compile: {e}"),
        })?;
        let outputs = model.signature().outputs.len();
        Ok(Prepared {
            direct: self.direct.clone(),
            skip: outputs.saturating_sub(self.outputs + self.filters),
            model,
            filters: self.filters,
        })
    }
}

impl Prepared {
    /// Runs `rows` (aligned with [`Chain::raw`]) through the chain.
    pub fn apply(&self, rows: &[Vec<Value>]) -> Vec<Prepped> {
        use crate::runtime::Predictor;
        self.model
            .predict(rows)
            .into_iter()
            .zip(rows)
            .map(|(r, row)| {
                r.map(|mut values| {
                    let keep_from = values.len() - self.filters;
                    let keep = values[keep_from..].iter().all(is_true);
                    values.truncate(keep_from);
                    values.drain(..self.skip.min(values.len()));
                    for (v, d) in values.iter_mut().zip(&self.direct) {
                        if let Some(i) = d
                            && let Some(read) = row.get(*i)
                        {
                            v.clone_from(read);
                        }
                    }
                    keep.then_some(values)
                })
            })
            .collect()
    }
}

/// A filter's verdict (the engine gives a boolean output as its text).
pub fn is_true(v: &Value) -> bool {
    match v {
        Value::Boolean(b) => *b,
        Value::String(s) => &**s == "true",
        _ => false,
    }
}

fn optype(ty: Ty) -> &'static str {
    match ty {
        Ty::String | Ty::Boolean => "categorical",
        _ => "continuous",
    }
}

fn field_ref(field: &str, missing_to: Option<&str>) -> String {
    match missing_to {
        Some(m) => format!(
            "<FieldRef field=\"{}\" mapMissingTo=\"{}\"/>",
            escape(field),
            escape(m)
        ),
        None => format!("<FieldRef field=\"{}\"/>", escape(field)),
    }
}

/// `x` mapped linearly so that `zero` goes to 0 and `one` to 1 (extrapolated beyond them); a
/// column without spread (`zero == one`) maps to 0, as scikit-learn's scalers do.
fn linear(field: &str, zero: f64, one: f64) -> String {
    if !(one - zero).is_normal() {
        return format!(
            "<Apply function=\"*\">{}<Constant dataType=\"double\">0</Constant></Apply>",
            field_ref(field, None)
        );
    }
    let (lo, hi) = if zero < one {
        ((zero, 0.0), (one, 1.0))
    } else {
        ((one, 1.0), (zero, 0.0))
    };
    format!(
        "<NormContinuous field=\"{}\"><LinearNorm orig=\"{}\" norm=\"{}\"/><LinearNorm orig=\"{}\" norm=\"{}\"/></NormContinuous>",
        escape(field),
        lo.0,
        lo.1,
        hi.0,
        hi.1
    )
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
