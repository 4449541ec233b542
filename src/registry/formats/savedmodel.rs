//! Structural check of a TensorFlow SavedModel folder.
//!
//! modeldeck keeps SavedModels in the repository (versioned, content-addressed, listed with
//! the rest) but does not run them: TF Serving does, and a version is served through the
//! upstream named when it is deployed. So the check is what makes the folder worth keeping:
//! `saved_model.pb` decodes as a `SavedModel` protobuf with at least one `MetaGraphDef` that
//! holds a graph. As TF Serving does with a base path, a folder of numbered versions keeps
//! the highest one that is a SavedModel.

use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use super::angel::numbered_children as numbered;
use super::onnx::{Field, fields};

const FILE: &str = "saved_model.pb";

/// A SavedModel folder, at the top or in a numbered version folder.
pub fn is_saved_model(dir: &Path) -> bool {
    dir.join(FILE).exists() || numbered(dir).iter().any(|(_, p)| p.join(FILE).exists())
}

/// Returns the version folder to keep and a note naming it and its signatures, or what is
/// wrong.
pub fn check(dir: &Path) -> Result<(PathBuf, Option<String>), String> {
    let (version_dir, taken) = if dir.join(FILE).exists() {
        (dir.to_path_buf(), None)
    } else {
        let (n, path) = numbered(dir)
            .into_iter()
            .rfind(|(_, p)| p.join(FILE).exists())
            .ok_or(
                "there is no saved_model.pb, neither at the top nor in a numbered version folder",
            )?;
        (path, Some(n))
    };
    let pb = version_dir.join(FILE);
    let meta = fs::symlink_metadata(&pb).map_err(|e| format!("cannot read {FILE}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{FILE} is not a regular file"));
    }
    let file = fs::File::open(&pb).map_err(|e| format!("cannot read {FILE}: {e}"))?;
    let signatures = check_stream(std::io::BufReader::new(file), meta.len())
        .map_err(|e| format!("{FILE}: {e}"))?;
    let mut note = match taken {
        Some(n) => format!("SavedModel version {n}"),
        None => "SavedModel".to_string(),
    };
    if !signatures.is_empty() {
        note.push_str(&format!("; signatures {}", signatures.join(", ")));
    }
    Ok((version_dir, Some(note)))
}

/// A signature map entry larger than this is skipped rather than read for its name.
const ENTRY_READ: u64 = 64 * 1024;

/// SavedModel: 1 saved_model_schema_version, 2 meta_graphs. MetaGraphDef: 2 graph_def,
/// 5 signature_def (map entries: 1 key). Returns the signature names (at most a few).
///
/// Streamed: a frozen graph can be gigabytes, so only the field headers and the small
/// signature entries are read; the graph itself is skipped over.
pub fn check_stream<R: Read + Seek>(r: R, len: u64) -> Result<Vec<String>, String> {
    let mut r = Walk { r, pos: 0 };
    let mut graphs = 0;
    let mut signatures = Vec::new();
    r.fields(len, "SavedModel", &mut |r, number, size| {
        if number != 2 {
            return r.skip(size);
        }
        graphs += 1;
        let mut has_graph = false;
        let end = r.pos + size;
        r.fields(end, "MetaGraphDef", &mut |r, number, size| match number {
            2 => {
                has_graph = true;
                r.skip(size)
            }
            5 if size <= ENTRY_READ => {
                let entry = r.read(size)?;
                let key = fields(&entry, "SignatureDef entry")?
                    .into_iter()
                    .find_map(|f| match f {
                        Field::Bytes(1, k) => Some(shown(k)),
                        _ => None,
                    });
                if let Some(key) = key
                    && signatures.len() < 4
                    && !signatures.contains(&key)
                {
                    signatures.push(key);
                }
                Ok(())
            }
            _ => r.skip(size),
        })?;
        if has_graph {
            Ok(())
        } else {
            Err("a meta graph has no graph".into())
        }
    })?;
    if graphs == 0 {
        return Err("it holds no meta graph, so it is not a TensorFlow SavedModel".into());
    }
    Ok(signatures)
}

/// The same check over bytes in memory.
pub fn check_bytes(bytes: &[u8]) -> Result<Vec<String>, String> {
    check_stream(std::io::Cursor::new(bytes), bytes.len() as u64)
}

/// A signature name as a listing shows it: short, and no terminal control characters.
fn shown(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    crate::domain::clip(&text, 40).into_owned()
}

/// A protobuf reader over a stream that knows where it is.
struct Walk<R> {
    r: R,
    pos: u64,
}

type OnField<'a, R> = dyn FnMut(&mut Walk<R>, u64, u64) -> Result<(), String> + 'a;

impl<R: Read + Seek> Walk<R> {
    /// Reads the fields up to `end`, handing each length-delimited one (its number and size)
    /// to `each`, which must consume exactly its bytes; every byte must belong to a field.
    fn fields(&mut self, end: u64, message: &str, each: &mut OnField<'_, R>) -> Result<(), String> {
        while self.pos < end {
            let at = self.pos;
            let bad = |what: &str| format!("the protobuf is {what} in a {message} at byte {at}");
            let key = self.varint().ok_or_else(|| bad("truncated"))?;
            let (number, wire) = (key >> 3, key & 7);
            if number == 0 {
                return Err(bad("corrupt (field number 0)"));
            }
            match wire {
                0 => {
                    self.varint().ok_or_else(|| bad("truncated"))?;
                }
                1 => self.skip(8)?,
                5 => self.skip(4)?,
                2 => {
                    let size = self.varint().ok_or_else(|| bad("truncated"))?;
                    if size > end.saturating_sub(self.pos) {
                        return Err(bad("truncated"));
                    }
                    each(self, number, size)?;
                }
                _ => return Err(bad(&format!("corrupt (wire type {wire})"))),
            }
            if self.pos > end {
                return Err(bad("truncated"));
            }
        }
        Ok(())
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let mut b = [0u8];
            self.r.read_exact(&mut b).ok()?;
            self.pos += 1;
            value |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        let n_signed = i64::try_from(n).map_err(|_| "the protobuf is corrupt".to_string())?;
        self.r
            .seek_relative(n_signed)
            .map_err(|e| format!("cannot read: {e}"))?;
        self.pos += n;
        Ok(())
    }

    fn read(&mut self, n: u64) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; n as usize];
        self.r
            .read_exact(&mut buf)
            .map_err(|_| format!("the protobuf is truncated at byte {}", self.pos))?;
        self.pos += n;
        Ok(buf)
    }
}

/// Builds small SavedModel folders for tests, so tests need no TensorFlow.
pub mod testing {
    use std::path::Path;

    use super::super::onnx::testing::{bytes_field, varint};

    /// A SavedModel with one meta graph (a graph with one node) and signature
    /// `serving_default`.
    pub fn saved_model() -> Vec<u8> {
        let mut node = Vec::new();
        bytes_field(1, b"x", &mut node);
        bytes_field(2, b"Placeholder", &mut node);
        let mut graph = Vec::new();
        bytes_field(1, &node, &mut graph);
        let mut entry = Vec::new();
        bytes_field(1, b"serving_default", &mut entry);
        bytes_field(2, b"", &mut entry);
        let mut meta = Vec::new();
        bytes_field(2, &graph, &mut meta);
        bytes_field(5, &entry, &mut meta);
        let mut model = Vec::new();
        varint(1 << 3, &mut model);
        varint(1, &mut model);
        bytes_field(2, &meta, &mut model);
        model
    }

    /// Writes `base/<version>/saved_model.pb` and an empty `variables/`, as TF exports.
    pub fn write(base: &Path, version: u32) -> std::io::Result<()> {
        let dir = base.join(version.to_string());
        std::fs::create_dir_all(dir.join("variables"))?;
        std::fs::write(dir.join("variables/variables.index"), b"\0")?;
        std::fs::write(dir.join("saved_model.pb"), saved_model())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_model_passes_with_its_signatures_and_truncations_fail() {
        let model = testing::saved_model();
        assert_eq!(check_bytes(&model).unwrap(), vec!["serving_default"]);
        let mut failed = 0;
        for cut in 1..model.len() {
            failed += usize::from(check_bytes(&model[..cut]).is_err());
        }
        // A cut that ends exactly on the first field's edge is a well-formed prefix with no
        // meta graph, which fails too.
        assert_eq!(failed, model.len() - 1);
        assert!(check_bytes(b"").is_err());
        assert!(check_bytes(b"hello, world\n").is_err());
        // A signature name cannot write to the terminal that lists it.
        let mut escaped = testing::saved_model();
        let at = escaped
            .windows(15)
            .position(|w| w == b"serving_default")
            .unwrap();
        escaped[at..at + 5].copy_from_slice(b"\x1b[31m");
        assert_eq!(check_bytes(&escaped).unwrap(), vec!["?[31mng_default"]);
    }

    #[test]
    fn the_highest_numbered_saved_model_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        testing::write(dir.path(), 1).unwrap();
        testing::write(dir.path(), 12).unwrap();
        std::fs::create_dir_all(dir.path().join("30")).unwrap(); // not a SavedModel
        let (kept, note) = check(dir.path()).unwrap();
        assert_eq!(kept, dir.path().join("12"));
        assert_eq!(
            note.as_deref(),
            Some("SavedModel version 12; signatures serving_default")
        );
        std::fs::write(dir.path().join("12/saved_model.pb"), b"junk").unwrap();
        let err = check(dir.path()).unwrap_err();
        assert!(err.starts_with("saved_model.pb: "), "{err}");
    }
}
