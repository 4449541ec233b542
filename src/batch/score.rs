//! Offline scoring of a file through a model.
//!
//! Records are read in chunks; a window of chunks is scored on all cores at once and written
//! back in input order before the next window is read, so memory stays bounded by the window
//! whatever the input size, and output order always equals input order.

use std::num::NonZeroUsize;

use super::ScoreError;
use super::records::{Format, Reader, Record, Writer, open_input};
use crate::runtime::{Predictor, RecordError};

/// Records per chunk: large enough to amortise hand-offs, small enough to spread the work.
const CHUNK: usize = 1024;

#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// Worker threads; default: the machine's cores.
    pub threads: Option<NonZeroUsize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreSummary {
    pub records: u64,
    pub failed: u64,
}

/// Scores `input` into `output` (paths, or `-` for stdin/stdout).
pub fn score_file(
    model: &dyn Predictor,
    input: &str,
    output: &str,
    options: &ScoreOptions,
) -> Result<ScoreSummary, ScoreError> {
    let signature = model.signature();
    let inputs: Vec<String> = signature.inputs.iter().map(|f| f.name.clone()).collect();
    let columns: Vec<String> = signature
        .outputs
        .iter()
        .map(|o| o.field.name.clone())
        .collect();
    if same_file(input, output) {
        return Err(ScoreError::Io(format!(
            "{output} is also the input: write the scores to another file"
        )));
    }
    let mut reader = Reader::new(open_input(input)?, Format::of(input), &inputs)?;
    let mut writer = Writer::create(output, columns)?;
    let threads = options
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let result = run(model, &mut reader, &mut writer, threads);
    match result {
        Ok(summary) => {
            writer.finish()?;
            Ok(summary)
        }
        Err(e) => {
            writer.abandon();
            Err(e)
        }
    }
}

/// Whether two paths name one existing file (the output would replace the input it reads).
fn same_file(a: &str, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    if a == "-" || b == "-" {
        return false;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn run(
    model: &dyn Predictor,
    reader: &mut Reader,
    writer: &mut Writer,
    threads: usize,
) -> Result<ScoreSummary, ScoreError> {
    let mut summary = ScoreSummary {
        records: 0,
        failed: 0,
    };
    pipeline(
        reader,
        threads,
        &|chunk| score_chunk(model, chunk),
        &mut |scored: Vec<Record>| {
            for record in &scored {
                summary.records += 1;
                if record.is_err() {
                    summary.failed += 1;
                }
                writer.write(record)?;
            }
            Ok(())
        },
    )?;
    Ok(summary)
}

/// The reading-scoring-writing loop `score` and batch runs share: chunks are read, a window
/// of them is handed to `threads` threads running `work`, and the results go to `sink` in
/// input order before the next window is read.
pub fn pipeline<T: Send>(
    reader: &mut Reader,
    threads: usize,
    work: &(dyn Fn(Vec<Record>) -> T + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), ScoreError>,
) -> Result<(), ScoreError> {
    let threads = threads.max(1);
    loop {
        let mut window = Vec::with_capacity(threads * 2);
        for _ in 0..threads * 2 {
            let chunk = reader.chunk(CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            window.push(chunk);
        }
        if window.is_empty() {
            return Ok(());
        }
        if window.len() == 1 || threads == 1 {
            for chunk in window {
                sink(work(chunk))?;
            }
            continue;
        }
        let done: Vec<T> = std::thread::scope(|scope| {
            let per_thread = window.len().div_ceil(threads);
            let mut chunks = window.into_iter();
            let handles: Vec<_> = (0..threads)
                .map(|_| chunks.by_ref().take(per_thread).collect::<Vec<_>>())
                .filter(|group| !group.is_empty())
                .map(|group| scope.spawn(move || group.into_iter().map(work).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join())
                .collect::<Result<Vec<_>, _>>()
                .map(|groups| groups.into_iter().flatten().collect())
        })
        .map_err(|_| ScoreError::Model("a scoring thread panicked".into()))?;
        for t in done {
            sink(t)?;
        }
    }
}

/// Scores the readable records of a chunk in one `predict` call, keeping unreadable ones as
/// their errors, in order.
fn score_chunk(model: &dyn Predictor, chunk: Vec<Record>) -> Vec<Record> {
    // Readable records move into one batch; unreadable ones keep their place as errors.
    let mut rows = Vec::with_capacity(chunk.len());
    let placed: Vec<Option<RecordError>> = chunk
        .into_iter()
        .map(|r| match r {
            Ok(row) => {
                rows.push(row);
                None
            }
            Err(e) => Some(e),
        })
        .collect();
    let mut answers = model.predict(&rows).into_iter();
    placed
        .into_iter()
        .map(|slot| match slot {
            None => answers
                .next()
                .unwrap_or_else(|| Err(RecordError("the model gave no answer".into()))),
            Some(e) => Err(e),
        })
        .collect()
}
