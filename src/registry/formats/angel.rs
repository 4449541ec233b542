//! Structural check of an Angel model folder (see `shared/reference/angel/FORMAT.md`).
//!
//! The folder is either a version folder (`graph.json` plus one folder per parameter matrix) or
//! an Angel Serving base path whose numbered children are versions, of which the highest is
//! taken, as Angel Serving does. Each matrix folder's `meta` is a 4-byte big-endian length and
//! that many bytes of JSON naming its partition files, which must exist.

use std::fs;
use std::path::{Path, PathBuf};

pub fn has_version_dirs(dir: &Path) -> bool {
    !numbered_children(dir).is_empty()
}

/// The numbered child folders (`1/`, `12/`), lowest first: a serving base path's versions.
pub(super) fn numbered_children(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Returns the version folder to keep and a note naming it, or what is wrong.
pub fn check(dir: &Path) -> Result<(PathBuf, Option<String>), String> {
    let (version_dir, note) = if dir.join("graph.json").is_file() {
        (dir.to_path_buf(), None)
    } else {
        // A base path (`lr/`) may hold the numbered versions one level down (`lr/lr-model/6`).
        let mut candidates = numbered_children(dir);
        if candidates.is_empty() {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    candidates.extend(numbered_children(&entry.path()));
                }
            }
        }
        let (n, path) = candidates
            .into_iter()
            .filter(|(_, p)| p.join("graph.json").is_file())
            .max_by_key(|(n, _)| *n)
            .ok_or("there is no graph.json, neither at the top nor in a numbered version folder")?;
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        (path, Some(format!("Angel version {n} from {rel}")))
    };
    check_version_dir(&version_dir)?;
    // Compiled whole, as serving will: a layer type the runtime does not run, or matrices
    // that do not fit the graph, are refused now rather than at deploy.
    crate::runtime::angel::AngelModel::load(&version_dir)
        .and_then(crate::runtime::angel::AngelPredictor::new)?;
    Ok((version_dir, note))
}

fn check_version_dir(dir: &Path) -> Result<(), String> {
    let graph_text = fs::read_to_string(dir.join("graph.json"))
        .map_err(|e| format!("cannot read graph.json: {e}"))?;
    let graph: serde_json::Value = serde_json::from_str(&graph_text).map_err(|e| {
        format!(
            "graph.json is not valid JSON: {}",
            crate::domain::redact(&e.to_string(), 300)
        )
    })?;
    let layers = graph
        .get("layers")
        .and_then(|l| l.as_array())
        .filter(|l| !l.is_empty())
        .ok_or("graph.json has no \"layers\" list")?;
    for (i, layer) in layers.iter().enumerate() {
        if layer.get("name").and_then(|v| v.as_str()).is_none()
            || layer.get("type").and_then(|v| v.as_str()).is_none()
        {
            return Err(format!("layer {i} in graph.json has no name or type"));
        }
    }
    let mut matrices = 0;
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())?.flatten() {
        let meta = entry.path().join("meta");
        if meta.is_file() {
            check_matrix(&entry.path())
                .map_err(|e| format!("matrix {}: {e}", entry.file_name().to_string_lossy()))?;
            matrices += 1;
        }
    }
    if matrices == 0 {
        return Err(
            "there are no parameter matrices (folders with a meta file) beside graph.json".into(),
        );
    }
    Ok(())
}

fn check_matrix(dir: &Path) -> Result<(), String> {
    let bytes = fs::read(dir.join("meta")).map_err(|e| e.to_string())?;
    let len = bytes
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("meta is shorter than its 4-byte header")?;
    let json = bytes.get(4..4 + len).ok_or_else(|| {
        format!(
            "meta announces {len} bytes of JSON but holds {}",
            bytes.len().saturating_sub(4)
        )
    })?;
    let meta: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
        format!(
            "meta is not valid JSON: {}",
            crate::domain::redact(&e.to_string(), 300)
        )
    })?;
    let parts = meta
        .get("partMetas")
        .and_then(|p| p.as_object())
        .ok_or("meta has no partMetas")?;
    for part in parts.values() {
        let file = part
            .get("fileName")
            .and_then(|f| f.as_str())
            .ok_or("a partition in meta has no fileName")?;
        let safe = !file.is_empty()
            && !file.contains('/')
            && !file.contains('\\')
            && file != ".."
            && file != ".";
        if !safe {
            return Err(format!("partition file {file:?} is not a plain file name"));
        }
        if !dir.join(file).is_file() {
            return Err(format!("partition file {file:?} is missing"));
        }
    }
    Ok(())
}
