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

pub fn score(args: ScoreArgs) -> ExitCode {
    // A folder is an Angel model (graph.json and its matrices, or a base path holding its
    // numbered versions, found as `models import` finds them); a file is PMML, unless it is an
    // upstream file, which has no model here to score with.
    let (kind, path) = if args.model.is_dir() {
        match crate::registry::formats::angel::check(&args.model) {
            Ok((version, _)) => (crate::domain::ModelKind::Angel, version),
            Err(e) => {
                let what = format!("{}: not an Angel model folder: {e}", args.model.display());
                return fail(false, "invalid_model", &what);
            }
        }
    } else if crate::registry::formats::upstream::check(&args.model).is_ok() {
        (crate::domain::ModelKind::Upstream, args.model.clone())
    } else {
        (crate::domain::ModelKind::Pmml, args.model.clone())
    };
    let model = match crate::runtime::load(kind, &path) {
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
