//! Fields as the compiled model sees them: numbered slots, and one string interner.
//!
//! Every field (data, derived, output) gets a slot index at compile time, so evaluation never
//! looks a field up by name. Values are a small `Copy` enum: numbers stay `f64` (rounded
//! through `f32` for `dataType="float"`, which makes f64 comparisons agree with f32 ones), and
//! strings become ids in one interner shared by the whole document, so a category test is an
//! integer comparison and a `FieldRef` between string fields copies the id.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use roxmltree::Node;

use super::xml::{self, Result, attr, children, err, parse_number};
use crate::runtime::{DType, RecordError, Value};

/// An interned string id that no string has: an unseen category, equal to nothing.
pub const UNSEEN: u32 = u32::MAX;

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum V {
    Missing,
    Num(f64),
    Str(u32),
}

impl V {
    pub fn is_missing(self) -> bool {
        matches!(self, V::Missing)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optype {
    Continuous,
    Categorical,
    Ordinal,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub dtype: DType,
    pub optype: Optype,
    /// Declared valid values (`Value` elements without a property), as field values.
    pub valid: Vec<V>,
    /// Texts that mean "missing" for this field (`Value property="missing"`).
    pub missing_texts: Vec<String>,
    /// Those texts as numbers, for a numeric field given numbers rather than text.
    pub missing_numbers: Vec<f64>,
    /// Declared `Interval`s: (left, right, left closed, right closed).
    pub intervals: Vec<(f64, f64, bool, bool)>,
}

impl Field {
    pub fn new(name: &str, dtype: DType, optype: Optype) -> Field {
        Field {
            name: name.to_string(),
            dtype,
            optype,
            valid: Vec::new(),
            missing_texts: Vec::new(),
            missing_numbers: Vec::new(),
            intervals: Vec::new(),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.dtype, DType::Double | DType::Float | DType::Integer)
    }
}

/// FNV-1a: category strings are short, and this lookup is on every record's path, where
/// SipHash's resistance to chosen keys buys nothing (the keys are the model's own values).
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The document's fields and strings.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    pub fields: Vec<Field>,
    by_name: HashMap<String, usize>,
    strings: Vec<Arc<str>>,
    string_ids: FastMap<String, u32>,
}

impl Fields {
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Declares a field; a second declaration of the same name is an error.
    pub fn add(&mut self, node: Node, field: Field) -> Result<usize> {
        if self.by_name.contains_key(&field.name) {
            return err(node, format!("field {:?} is declared twice", field.name));
        }
        let slot = self.fields.len();
        self.by_name.insert(field.name.clone(), slot);
        self.fields.push(field);
        Ok(slot)
    }

    /// The slot of a field that must already exist.
    pub fn resolve(&self, node: Node, name: &str) -> Result<usize> {
        self.slot(name)
            .ok_or_else(|| xml::error(node, format!("field {name:?} is not defined")))
    }

    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(Arc::from(text));
        self.string_ids.insert(text.to_string(), id);
        id
    }

    pub fn string(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// The id of `text`, or `UNSEEN`, without growing the interner (evaluation time).
    pub fn lookup(&self, text: &str) -> u32 {
        self.string_ids.get(text).copied().unwrap_or(UNSEEN)
    }

    /// A constant from the document, typed for `slot`'s field.
    pub fn constant(&mut self, node: Node, slot: usize, text: &str) -> Result<V> {
        if self.fields[slot].is_numeric() {
            match parse_number(text) {
                Some(n) => Ok(V::Num(round(self.fields[slot].dtype, n))),
                None => err(
                    node,
                    format!(
                        "{text:?} is not a number, but field {:?} is numeric",
                        self.fields[slot].name
                    ),
                ),
            }
        } else {
            Ok(V::Str(self.intern(text)))
        }
    }

    /// Converts an input value for `slot`; `Err` for a type mismatch.
    pub fn input(&self, slot: usize, value: &Value) -> std::result::Result<V, RecordError> {
        let field = &self.fields[slot];
        let mismatch = |got: &str| {
            RecordError(format!(
                "field {:?} expects {}, got {got}",
                field.name,
                if field.is_numeric() {
                    "a number"
                } else {
                    "a string"
                }
            ))
        };
        Ok(match value {
            Value::Missing => V::Missing,
            Value::Number(n) if n.is_nan() || field.missing_numbers.contains(n) => V::Missing,
            Value::Number(n) if field.is_numeric() => V::Num(round(field.dtype, *n)),
            Value::Number(n) => V::Str(self.lookup(&number_text(*n))),
            Value::Integer(i) if field.is_numeric() => V::Num(round(field.dtype, *i as f64)),
            Value::Integer(i) => V::Str(self.lookup(&i.to_string())),
            Value::Boolean(b) if field.is_numeric() => V::Num(if *b { 1.0 } else { 0.0 }),
            Value::Boolean(b) => V::Str(self.lookup(if *b { "true" } else { "false" })),
            Value::String(s) => {
                let s = s.trim();
                if s.is_empty() || field.missing_texts.iter().any(|m| m == s) {
                    V::Missing
                } else if field.is_numeric() {
                    match parse_number(s) {
                        Some(n) if n.is_nan() => V::Missing,
                        Some(n) => V::Num(round(field.dtype, n)),
                        None => return Err(mismatch(&format!("{s:?}"))),
                    }
                } else {
                    V::Str(self.lookup(s))
                }
            }
        })
    }

    /// Whether a present value is valid for the field's declared domain.
    pub fn is_valid(&self, slot: usize, v: V) -> bool {
        let field = &self.fields[slot];
        match v {
            V::Missing => true,
            V::Num(n) => {
                if field.dtype == DType::Integer && n.fract() != 0.0 {
                    return false;
                }
                let in_values = field.valid.is_empty()
                    || field.optype == Optype::Continuous
                    || field.valid.contains(&v);
                let in_intervals = field.intervals.is_empty()
                    || field.intervals.iter().any(|&(l, r, lc, rc)| {
                        (if lc { n >= l } else { n > l }) && (if rc { n <= r } else { n < r })
                    });
                in_values && in_intervals
            }
            // A field that declares no values takes any, even a string the model never names.
            V::Str(id) => field.valid.is_empty() || (id != UNSEEN && field.valid.contains(&v)),
        }
    }

    /// A value as it leaves the model.
    pub fn output(&self, slot: Option<usize>, v: V) -> Value {
        match v {
            V::Missing => Value::Missing,
            V::Str(id) => match self.strings.get(id as usize) {
                Some(s) => Value::String(Arc::clone(s)),
                None => Value::Missing,
            },
            V::Num(n) => match slot.map(|s| self.fields[s].dtype) {
                Some(DType::Integer) => Value::Integer(n.round() as i64),
                Some(DType::Boolean) => Value::Boolean(n != 0.0),
                _ => Value::Number(n),
            },
        }
    }

    /// Converts `v` to `slot`'s type (a `FieldRef` into a derived field of another type).
    #[inline]
    pub fn cast(&self, slot: usize, v: V) -> V {
        let field = &self.fields[slot];
        if let (V::Num(_), DType::Double) = (v, field.dtype) {
            return v;
        }
        self.cast_other(field, v)
    }

    #[inline(never)]
    fn cast_other(&self, field: &Field, v: V) -> V {
        match v {
            V::Missing => V::Missing,
            V::Num(n) if field.is_numeric() => V::Num(round(field.dtype, n)),
            V::Num(n) => V::Str(self.lookup(&number_text(n))),
            V::Str(id) if field.is_numeric() => match parse_number(self.string(id)) {
                Some(n) => V::Num(round(field.dtype, n)),
                None => V::Missing,
            },
            V::Str(_) => v,
        }
    }
}

/// Rounds through f32 for float fields, so comparisons agree with f32 arithmetic.
pub fn round(dtype: DType, n: f64) -> f64 {
    if dtype == DType::Float {
        f64::from(n as f32)
    } else {
        n
    }
}

/// Numbers as category text: whole numbers without a fraction, as PMML writes them.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub fn dtype(node: Node) -> Result<DType> {
    Ok(match node.attribute("dataType").unwrap_or("double") {
        "double" => DType::Double,
        "float" => DType::Float,
        "integer" => DType::Integer,
        "string" => DType::String,
        "boolean" => DType::Boolean,
        other => return err(node, format!("dataType {other:?} is not supported")),
    })
}

pub fn optype(node: Node, dtype: DType) -> Result<Optype> {
    Ok(match node.attribute("optype") {
        Some("continuous") => Optype::Continuous,
        Some("categorical") => Optype::Categorical,
        Some("ordinal") => Optype::Ordinal,
        None if matches!(dtype, DType::String | DType::Boolean) => Optype::Categorical,
        None => Optype::Continuous,
        Some(other) => return err(node, format!("optype {other:?} is not a PMML optype")),
    })
}

/// Reads `DataDictionary` into `fields`.
pub fn data_dictionary(fields: &mut Fields, dict: Node) -> Result<()> {
    for df in children(dict, "DataField") {
        let dtype = dtype(df)?;
        let field = Field::new(attr(df, "name")?, dtype, optype(df, dtype)?);
        let slot = fields.add(df, field)?;
        for value in children(df, "Value") {
            let text = attr(value, "value")?;
            match value.attribute("property").unwrap_or("valid") {
                "valid" => {
                    let v = fields.constant(value, slot, text)?;
                    fields.fields[slot].valid.push(v);
                }
                "missing" => {
                    let f = &mut fields.fields[slot];
                    f.missing_texts.push(text.to_string());
                    if let Some(n) = super::xml::parse_number(text).filter(|_| f.is_numeric()) {
                        f.missing_numbers.push(n);
                    }
                }
                "invalid" => {}
                other => return err(value, format!("Value property {other:?} is not supported")),
            }
        }
        for interval in children(df, "Interval") {
            let closure = attr(interval, "closure")?;
            let (lc, rc) = match closure {
                "openClosed" => (false, true),
                "openOpen" => (false, false),
                "closedOpen" => (true, false),
                "closedClosed" => (true, true),
                _ => {
                    return err(
                        interval,
                        format!("closure {closure:?} is not a PMML closure"),
                    );
                }
            };
            let l = xml::opt_f64(interval, "leftMargin")?.unwrap_or(f64::NEG_INFINITY);
            let r = xml::opt_f64(interval, "rightMargin")?.unwrap_or(f64::INFINITY);
            fields.fields[slot].intervals.push((l, r, lc, rc));
        }
    }
    Ok(())
}
