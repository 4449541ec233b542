//! Small helpers over roxmltree for the compiler: element children by name, typed attributes,
//! and load errors that carry the line of the element they are about.

use roxmltree::Node;

/// A load-time error: what is wrong, and where (line 0: about the file, not a line of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct LoadError {
    pub line: u32,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, LoadError>;

/// An error about `node`.
pub fn err<T>(node: Node, message: impl Into<String>) -> Result<T> {
    Err(error(node, message))
}

pub fn error(node: Node, message: impl Into<String>) -> LoadError {
    let pos = node.document().text_pos_at(node.range().start);
    LoadError {
        line: pos.row,
        message: message.into(),
    }
}

/// Element children, skipping `Extension` elements (which PMML allows anywhere).
pub fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().name() != "Extension")
}

pub fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(node).find(|n| n.tag_name().name() == name)
}

pub fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(node).filter(move |n| n.tag_name().name() == name)
}

pub fn name<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

pub fn attr<'a>(node: Node<'a, '_>, key: &str) -> Result<&'a str> {
    node.attribute(key)
        .ok_or_else(|| error(node, format!("<{}> has no {key} attribute", name(node))))
}

pub fn attr_f64(node: Node, key: &str) -> Result<f64> {
    number(node, key, attr(node, key)?)
}

pub fn opt_f64(node: Node, key: &str) -> Result<Option<f64>> {
    node.attribute(key)
        .map(|v| number(node, key, v))
        .transpose()
}

pub fn number(node: Node, key: &str, text: &str) -> Result<f64> {
    parse_number(text).ok_or_else(|| {
        error(
            node,
            format!("{key}={text:?} on <{}> is not a number", name(node)),
        )
    })
}

/// PMML numbers, including the special values JPMML accepts.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "NaN" => Some(f64::NAN),
        "INF" | "Infinity" => Some(f64::INFINITY),
        "-INF" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => t.parse::<f64>().ok(),
    }
}

/// The text of a PMML `Array` element's items (`"a b" c "d \"e\""`).
pub fn array_items(node: Node) -> Result<Vec<String>> {
    let text = node.text().unwrap_or("");
    let mut items = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut item = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(next) = chars.next() {
                            item.push(next);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => item.push(c),
                }
            }
            if !closed {
                return err(node, "an Array item has an unclosed quote");
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                item.push(c);
                chars.next();
            }
        }
        items.push(item);
    }
    if let Some(n) = node.attribute("n")
        && n.parse::<usize>().ok() != Some(items.len())
    {
        return err(
            node,
            format!("the Array declares n={n} but holds {} items", items.len()),
        );
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_items_handle_quotes_and_escapes() {
        let doc =
            roxmltree::Document::parse(r#"<Array n="4" type="string">a "b c" "d \"e\"" f</Array>"#)
                .unwrap();
        assert_eq!(
            array_items(doc.root_element()).unwrap(),
            ["a", "b c", "d \"e\"", "f"]
        );
        let doc = roxmltree::Document::parse(r#"<Array n="3">1 2</Array>"#).unwrap();
        assert!(array_items(doc.root_element()).is_err());
    }
}
