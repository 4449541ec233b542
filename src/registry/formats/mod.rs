//! Detecting a model's kind from its content, and checking that it is well-formed.
//!
//! A PMML document must compile with the PMML runtime; the other kinds get structural checks
//! until their runtimes arrive: an ONNX file must be a complete protobuf `ModelProto` with a
//! graph, an Angel folder must have a readable `graph.json` and matrix metadata, an upstream
//! file must name a known kind of endpoint. A truncated, corrupt or mislabelled file never
//! enters the repository.

pub mod angel;
pub mod onnx;
pub mod pmml;
pub mod savedmodel;
pub mod upstream;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ImportError;
use crate::domain::ModelKind;

/// What an import keeps, once its kind is known.
#[derive(Debug)]
pub struct Inspected {
    pub kind: ModelKind,
    /// The path inside staging to keep (for Angel, the chosen version folder).
    pub keep: PathBuf,
    /// The artifact's entry name under `artifacts/<sha256>/`.
    pub entry: &'static str,
    /// A note for the recorded source, e.g. which Angel version folder was taken.
    pub note: Option<String>,
}

/// Detects (or, with `requested`, checks) the kind of what was fetched to `path`.
pub fn inspect(
    path: &Path,
    is_dir: bool,
    requested: Option<ModelKind>,
    label: &str,
) -> Result<Inspected, ImportError> {
    let invalid = |kind, detail: String| ImportError::Invalid {
        source_name: label.to_string(),
        kind,
        detail,
    };
    if is_dir {
        let saved = savedmodel::is_saved_model(path);
        if saved && requested.is_none_or(|k| k == ModelKind::SavedModel) {
            let (keep, note) =
                savedmodel::check(path).map_err(|d| invalid(ModelKind::SavedModel, d))?;
            return Ok(Inspected {
                kind: ModelKind::SavedModel,
                keep,
                entry: "model",
                note,
            });
        }
        let hint = if saved {
            " (it looks like savedmodel: use --type savedmodel, or leave --type out)"
        } else {
            ""
        };
        return match requested {
            Some(kind) if !matches!(kind, ModelKind::Angel | ModelKind::SavedModel) => {
                Err(invalid(
                    kind,
                    format!(
                        "it is a folder; only Angel models and TensorFlow SavedModels are folders, a {kind} model is a single file{hint}"
                    ),
                ))
            }
            Some(ModelKind::SavedModel) => Err(invalid(
                ModelKind::SavedModel,
                "there is no saved_model.pb, neither at the top nor in a numbered version folder"
                    .into(),
            )),
            _ => {
                let (keep, note) = angel::check(path).map_err(|d| match requested {
                    Some(_) => invalid(ModelKind::Angel, d),
                    None if !path.join("graph.json").exists() && !angel::has_version_dirs(path) => {
                        ImportError::Unknown(label.to_string())
                    }
                    None => invalid(ModelKind::Angel, d),
                })?;
                Ok(Inspected {
                    kind: ModelKind::Angel,
                    keep,
                    entry: "model",
                    note,
                })
            }
        };
    }

    let head = read_head(path)?;
    // Content first; the name's extension only when the content says nothing (a truncated
    // ONNX file should be reported as a broken ONNX file, not as an unknown one).
    let guessed = guess(&head).or_else(|| by_extension(label));
    let kind = match (requested, guessed) {
        (Some(k), _) => k,
        (None, Some(k)) => k,
        (None, None) => {
            // Not text we recognise: it may still be ONNX, whose first bytes are arbitrary.
            if onnx::check(path).is_ok() {
                ModelKind::Onnx
            } else {
                return Err(ImportError::Unknown(label.to_string()));
            }
        }
    };
    let result = match kind {
        ModelKind::Pmml => pmml::check(path),
        ModelKind::Onnx => onnx::check(path),
        ModelKind::Upstream => upstream::check(path).map(|_| ()),
        ModelKind::Angel => Err(
            "an Angel model is a folder (graph.json plus one folder per matrix), not a single file"
                .to_string(),
        ),
        ModelKind::SavedModel => Err(
            "a TensorFlow SavedModel is a folder (saved_model.pb and variables/), not a single file"
                .to_string(),
        ),
    };
    if let Err(detail) = result {
        let hint = match guessed {
            Some(g) if requested.is_some() && g != kind => {
                format!(" (it looks like {g}: use --type {g}, or leave --type out to detect it)")
            }
            _ => String::new(),
        };
        return Err(invalid(kind, format!("{detail}{hint}")));
    }
    let entry = match kind {
        ModelKind::Pmml => "model.pmml",
        ModelKind::Onnx => "model.onnx",
        ModelKind::Upstream if head.trim_ascii_start().starts_with(b"{") => "upstream.json",
        ModelKind::Upstream => "upstream.toml",
        ModelKind::Angel | ModelKind::SavedModel => "model",
    };
    Ok(Inspected {
        kind,
        keep: path.to_path_buf(),
        entry,
        note: None,
    })
}

/// The kind the first bytes suggest: XML means PMML, JSON or TOML text naming an endpoint
/// means upstream. ONNX has no signature and is tried by parsing.
fn guess(head: &[u8]) -> Option<ModelKind> {
    let text = head
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(head)
        .trim_ascii_start();
    if text.starts_with(b"<") {
        return Some(ModelKind::Pmml);
    }
    if text.starts_with(b"{") {
        return Some(ModelKind::Upstream);
    }
    let s = std::str::from_utf8(text).ok()?;
    let mentions = |key: &str| s.lines().any(|l| l.trim_start().starts_with(key));
    (mentions("url") && mentions("protocol")).then_some(ModelKind::Upstream)
}

fn by_extension(label: &str) -> Option<ModelKind> {
    let name = label.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "onnx" => Some(ModelKind::Onnx),
        "pmml" | "xml" => Some(ModelKind::Pmml),
        _ => None,
    }
}

fn read_head(path: &Path) -> Result<Vec<u8>, ImportError> {
    let mut head = Vec::with_capacity(4096);
    File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(head)
}
