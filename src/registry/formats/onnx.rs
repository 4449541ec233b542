//! Structural check of an ONNX file: the whole file must decode as a protobuf `ModelProto`
//! with an `ir_version` and a graph whose nodes and outputs decode too. A truncated or
//! corrupted file fails here because protobuf lengths stop adding up.
//!
//! A small wire-format walker is enough for this and keeps a protobuf code generator out of
//! the build; the ONNX runtime (a later layer) decodes the model fully.

use std::path::Path;

pub fn check(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    check_bytes(&bytes)
}

/// ModelProto: 1 ir_version, 7 graph, 8 opset_import. GraphProto: 1 node, 12 output.
pub fn check_bytes(bytes: &[u8]) -> Result<(), String> {
    let model = fields(bytes, "ModelProto")?;
    let ir_version = model
        .iter()
        .find_map(|f| match f {
            Field::Varint(1, v) => Some(*v),
            _ => None,
        })
        .ok_or("it has no ir_version, so it is not an ONNX ModelProto")?;
    if !(1..=64).contains(&ir_version) {
        return Err(format!(
            "ir_version {ir_version} is not a real ONNX IR version"
        ));
    }
    let graph = model
        .iter()
        .find_map(|f| match f {
            Field::Bytes(7, b) => Some(*b),
            _ => None,
        })
        .ok_or("it has no graph")?;
    if !model.iter().any(|f| matches!(f, Field::Bytes(8, _))) {
        return Err("it has no opset_import".into());
    }
    let graph_fields = fields(graph, "GraphProto")?;
    let mut outputs = 0;
    for f in &graph_fields {
        match f {
            Field::Bytes(1, node) => {
                fields(node, "NodeProto")?;
            }
            Field::Bytes(12, out) => {
                fields(out, "ValueInfoProto")?;
                outputs += 1;
            }
            _ => {}
        }
    }
    if outputs == 0 {
        return Err("its graph declares no outputs".into());
    }
    Ok(())
}

pub(super) enum Field<'a> {
    Varint(u64, u64),
    Bytes(u64, &'a [u8]),
    Fixed,
}

/// Decodes one message level; every byte must belong to a well-formed field.
pub(super) fn fields<'a>(mut buf: &'a [u8], message: &str) -> Result<Vec<Field<'a>>, String> {
    let total = buf.len();
    let mut out = Vec::new();
    while !buf.is_empty() {
        let at = total - buf.len();
        let bad = |what: &str| format!("the protobuf is {what} in a {message} at byte {at}");
        let key = varint(&mut buf).ok_or_else(|| bad("truncated"))?;
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 {
            return Err(bad("corrupt (field number 0)"));
        }
        match wire {
            0 => out.push(Field::Varint(
                number,
                varint(&mut buf).ok_or_else(|| bad("truncated"))?,
            )),
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if buf.len() < n {
                    return Err(bad("truncated"));
                }
                buf = &buf[n..];
                out.push(Field::Fixed);
            }
            2 => {
                let len = varint(&mut buf).ok_or_else(|| bad("truncated"))?;
                let len = usize::try_from(len).map_err(|_| bad("corrupt"))?;
                if buf.len() < len {
                    return Err(bad("truncated"));
                }
                out.push(Field::Bytes(number, &buf[..len]));
                buf = &buf[len..];
            }
            _ => return Err(bad(&format!("corrupt (wire type {wire})"))),
        }
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

/// Builds small valid ONNX files for tests (an Identity graph), so tests need no Python.
pub mod testing {
    /// Protobuf's varint encoding, appended to `out`.
    pub(in crate::registry::formats) fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A length-delimited field, appended to `out`.
    pub(in crate::registry::formats) fn bytes_field(
        number: u64,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// A ModelProto: ir_version 8, opset 17, graph `Identity(x) -> y`.
    pub fn identity_model() -> Vec<u8> {
        let mut node = Vec::new();
        bytes_field(1, b"x", &mut node); // input
        bytes_field(2, b"y", &mut node); // output
        bytes_field(4, b"Identity", &mut node); // op_type
        let mut value_x = Vec::new();
        bytes_field(1, b"x", &mut value_x);
        let mut value_y = Vec::new();
        bytes_field(1, b"y", &mut value_y);
        let mut graph = Vec::new();
        bytes_field(1, &node, &mut graph);
        bytes_field(2, b"identity", &mut graph);
        bytes_field(11, &value_x, &mut graph);
        bytes_field(12, &value_y, &mut graph);
        let mut opset = Vec::new();
        varint(2 << 3, &mut opset);
        varint(17, &mut opset);
        let mut model = Vec::new();
        varint(1 << 3, &mut model);
        varint(8, &mut model);
        bytes_field(2, b"modeldeck-tests", &mut model);
        bytes_field(7, &graph, &mut model);
        bytes_field(8, &opset, &mut model);
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_model_passes_and_every_truncation_fails() {
        let model = testing::identity_model();
        check_bytes(&model).unwrap();
        for cut in 1..model.len() {
            assert!(check_bytes(&model[..cut]).is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn text_and_garbage_are_not_onnx() {
        assert!(check_bytes(b"hello, world\n").is_err());
        assert!(check_bytes(&[0xff; 64]).is_err());
        assert!(check_bytes(b"").is_err());
    }
}
