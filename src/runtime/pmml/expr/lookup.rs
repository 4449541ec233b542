//! `MapValues`: an `InlineTable` compiled into a hash table keyed by the input values, so a
//! record's lookup is one hash of its inputs, whatever the table's size.

use std::collections::HashMap;

use roxmltree::Node;

use super::Expr;
use super::compiler::typed;
use crate::runtime::pmml::fields::{Fields, V};
use crate::runtime::pmml::xml::{self, Result, attr, child, children, elements, err};

/// A hashable form of a value, for `MapValues` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Num(u64),
    Str(u32),
}

pub(super) fn key(v: V) -> Option<Key> {
    match v {
        V::Missing => None,
        V::Num(n) => Some(Key::Num(if n == 0.0 { 0 } else { n.to_bits() })),
        V::Str(id) => Some(Key::Str(id)),
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

pub(super) fn map_values(fields: &mut Fields, node: Node, target: Option<usize>) -> Result<Expr> {
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
