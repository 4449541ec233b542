//! `modeldeck score`: a file scored through a model file, offline (no server).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::fail;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model: a PMML file, or an Angel model folder (its features are the columns 0…N-1;
    /// an empty cell is a feature left out, as in a sparse request)
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Input records: .csv, or .jsonl/.ndjson/.json for JSON lines; - for stdin (CSV)
    #[arg(long, value_name = "FILE")]
    pub input: String,
    /// Where to write the scored records, same formats; - for stdout (CSV)
    #[arg(long, value_name = "FILE")]
    pub output: String,
    /// Worker threads (default: all cores; at most 256)
    #[arg(long, value_parser = score_threads)]
    pub threads: Option<std::num::NonZeroUsize>,
}

/// `--threads` for `score`, by the same rule as a service's threads.
fn score_threads(text: &str) -> Result<std::num::NonZeroUsize, String> {
    let n = crate::domain::THREADS
        .parse(text)
        .map_err(|e| e.to_string())?;
    std::num::NonZeroUsize::new(n as usize).ok_or_else(|| "threads must be at least 1".into())
}

/// Exit code when the file was scored but some records failed (their `_error` says why).
const SOME_RECORDS_FAILED: u8 = 3;

/// The largest upstream file looked at (they are a few lines).
const UPSTREAM_FILE: u64 = 64 << 10;

/// The model at `path`: an Angel model folder (graph.json and its matrices, or a base path
/// holding numbered versions, found as `models import` finds them), else a PMML file; an
/// upstream file has no model here to score with, and says so.
fn load(path: &std::path::Path) -> Result<crate::runtime::SharedPredictor, String> {
    use crate::domain::ModelKind;
    if path.is_dir()
        && let Ok((version, _)) = crate::registry::formats::angel::check(path)
    {
        return crate::runtime::load(ModelKind::Angel, &version);
    }
    if path.is_dir() && crate::registry::formats::savedmodel::is_saved_model(path) {
        return Err(
            "it is a TensorFlow SavedModel, which TF Serving runs, not modeldeck: import it, deploy it with --upstream naming its TF Serving, and score through the service (a batch job's --service)"
                .into(),
        );
    }
    let small_file = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= UPSTREAM_FILE);
    if small_file && crate::registry::formats::upstream::check(path).is_ok() {
        return crate::runtime::load(ModelKind::Upstream, path);
    }
    // The PMML loader's own words, which also say what a folder or a device is not.
    let model = crate::runtime::pmml::PmmlModel::load(path).map_err(|e| {
        let mut e = e.to_string();
        if path.is_dir() {
            e.push_str(", or an Angel model folder (graph.json and its matrices)");
        }
        e
    })?;
    Ok(std::sync::Arc::new(model))
}

pub fn score(args: ScoreArgs) -> ExitCode {
    // A folder is an Angel model (graph.json and its matrices, or a base path holding its
    // numbered versions, found as `models import` finds them); a file is PMML, unless it is an
    // upstream file, which has no model here to score with.
    let model = match load(&args.model) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                false,
                "invalid_model",
                &format!("{}: {e}", args.model.display()),
            );
        }
    };
    let options = crate::batch::ScoreOptions {
        threads: args.threads,
    };
    match crate::batch::score_file(model.as_ref(), &args.input, &args.output, &options) {
        Ok(summary) if summary.failed > 0 => {
            eprintln!(
                "scored {} records; {} failed (see the _error column)",
                summary.records, summary.failed
            );
            ExitCode::from(SOME_RECORDS_FAILED)
        }
        Ok(summary) => {
            if args.output != "-" {
                eprintln!("scored {} records into {}", summary.records, args.output);
            }
            ExitCode::SUCCESS
        }
        Err(crate::batch::ScoreError::Closed) => ExitCode::SUCCESS,
        Err(e) => fail(false, "score_failed", &e.to_string()),
    }
}
