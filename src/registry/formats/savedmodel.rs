//! Structural check of a TensorFlow SavedModel folder.
//!
//! modeldeck keeps SavedModels in the repository (versioned, content-addressed, listed with
//! the rest) but does not run them: TF Serving does, and a version is served through the
//! upstream named when it is deployed. So the check is what makes the folder worth keeping:
//! `saved_model.pb` decodes as a `SavedModel` protobuf with at least one `MetaGraphDef` that
//! holds a graph. As TF Serving does with a base path, a folder of numbered versions keeps
//! the highest one that is a SavedModel.

use std::fs;
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
    let bytes = fs::read(&pb).map_err(|e| format!("cannot read {FILE}: {e}"))?;
    let signatures = check_bytes(&bytes).map_err(|e| format!("{FILE}: {e}"))?;
    let mut note = match taken {
        Some(n) => format!("SavedModel version {n}"),
        None => "SavedModel".to_string(),
    };
    if !signatures.is_empty() {
        note.push_str(&format!("; signatures {}", signatures.join(", ")));
    }
    Ok((version_dir, Some(note)))
}

/// SavedModel: 1 saved_model_schema_version, 2 meta_graphs. MetaGraphDef: 2 graph_def,
/// 5 signature_def (map entries: 1 key). Returns the signature names (at most a few).
pub fn check_bytes(bytes: &[u8]) -> Result<Vec<String>, String> {
    let model = fields(bytes, "SavedModel")?;
    let mut graphs = 0;
    let mut signatures = Vec::new();
    for f in &model {
        if let Field::Bytes(2, meta_graph) = f {
            let meta = fields(meta_graph, "MetaGraphDef")?;
            if !meta.iter().any(|f| matches!(f, Field::Bytes(2, _))) {
                return Err("a meta graph has no graph".into());
            }
            graphs += 1;
            for f in &meta {
                if let Field::Bytes(5, entry) = f {
                    let key =
                        fields(entry, "SignatureDef entry")?
                            .into_iter()
                            .find_map(|f| match f {
                                Field::Bytes(1, k) => Some(String::from_utf8_lossy(k).into_owned()),
                                _ => None,
                            });
                    if let Some(key) = key
                        && signatures.len() < 4
                        && !signatures.contains(&key)
                    {
                        signatures.push(crate::domain::clip(&key, 40).into_owned());
                    }
                }
            }
        }
    }
    if graphs == 0 {
        return Err("it holds no meta graph, so it is not a TensorFlow SavedModel".into());
    }
    Ok(signatures)
}

/// Builds small SavedModel folders for tests, so tests need no TensorFlow.
pub mod testing {
    use std::path::Path;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

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
