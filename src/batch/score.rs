//! Offline scoring of a file through a model.
//!
//! Records are read in chunks, parsed, scored and formatted on all cores, and written back in
//! input order; a bounded number of chunks is in flight, so memory stays flat whatever the
//! input size, and output order always equals input order.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, mpsc};

use super::ScoreError;
use super::records::{Format, Raw, Reader, Record, Writer, open_input};
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
    let numeric = signature
        .inputs
        .iter()
        .map(|f| f.dtype.is_numeric())
        .collect();
    let mut reader = Reader::new(open_input(input)?, Format::of(input), &inputs)?.numbers(numeric);
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
    let formatter = writer.formatter().clone();
    let work = |chunk: Vec<Record>| {
        let scored = score_chunk(model, chunk);
        let failed = scored.iter().filter(|r| r.is_err()).count() as u64;
        formatter
            .records(&scored)
            .map(|bytes| (scored.len() as u64, failed, bytes))
    };
    pipeline(reader, threads, &work, &mut |done| {
        let (records, failed, bytes) = done?;
        summary.records += records;
        summary.failed += failed;
        writer.write_bytes(&bytes)
    })?;
    Ok(summary)
}

/// The reading-scoring-writing loop `score` and batch runs share.
///
/// With one thread it reads, parses, runs `work` and calls `sink` in turn. With more, one
/// thread cuts the input into raw chunks (cheap, and it must go in order), `threads` threads
/// parse them and run `work` (parsing, scoring and formatting are the costly parts), and the
/// caller's thread hands the results to `sink` in input order. At most four chunks per
/// thread are in flight, so memory is bounded whatever the input size.
pub fn pipeline<T: Send>(
    reader: &mut Reader,
    threads: usize,
    work: &(dyn Fn(Vec<Record>) -> T + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), ScoreError>,
) -> Result<(), ScoreError> {
    if threads <= 1 {
        loop {
            let chunk = reader.chunk(CHUNK)?;
            if chunk.is_empty() {
                return Ok(());
            }
            sink(work(chunk))?;
        }
    }
    let layout = reader.layout().clone();
    let in_flight = threads * 4;
    let (raw_tx, raw_rx) = mpsc::sync_channel::<(u64, Raw)>(threads * 2);
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    let (done_tx, done_rx) = mpsc::channel::<(u64, Option<T>)>();
    // A slot per chunk in flight: the reader takes one per chunk, the sink gives it back.
    let (slot_tx, slot_rx) = mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = slot_tx.send(());
    }
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || -> Result<(), ScoreError> {
            let mut seq = 0;
            while slot_rx.recv().is_ok() {
                let raw = reader.raw(CHUNK)?;
                if raw.is_empty() || raw_tx.send((seq, raw)).is_err() {
                    break;
                }
                seq += 1;
            }
            Ok(())
        });
        for _ in 0..threads {
            let (raw_rx, done_tx, layout) = (raw_rx.clone(), done_tx.clone(), &layout);
            scope.spawn(move || {
                loop {
                    let next = match raw_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, raw)) = next else { return };
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work(layout.parse(&raw))
                    }))
                    .ok();
                    let panicked = done.is_none();
                    if done_tx.send((seq, done)).is_err() || panicked {
                        return;
                    }
                }
            });
        }
        // The workers hold the only receivers and senders now: when they stop, the reader's
        // sends fail and the loop below ends.
        drop((raw_rx, done_tx));
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        'sink: for (seq, done) in done_rx.iter() {
            pending.insert(seq, done);
            while let Some(done) = pending.remove(&next) {
                next += 1;
                result = match done {
                    Some(t) => sink(t),
                    None => Err(ScoreError::Model("a scoring thread panicked".into())),
                };
                if result.is_err() {
                    break 'sink;
                }
                let _ = slot_tx.send(());
            }
        }
        // On an error, closing these stops the reader and the workers.
        drop((done_rx, slot_tx));
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(ScoreError::Io("the reading thread panicked".into())));
        result.and(read)
    })
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
