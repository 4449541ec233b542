//! One run of a job, as its worker process executes it.
//!
//! The server hands the worker an [`Assignment`] (on stdin: it carries a service's key, which
//! must not show in `ps`) and reads [`Report`]s back, one JSON line each. The run:
//! 1. finds its input files (spooling remote ones) and looks at every file's columns;
//! 2. checks the chain against them and the model, failing before anything is written;
//! 3. makes one first pass per step that needs statistics, through the chain before it;
//! 4. reads, preprocesses, scores and writes through the pipeline `score` uses, good records to
//!    a temporary output renamed into place at the end, bad ones to the rejects file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::ScoreError;
use super::chain::{self, Chain, Need, Prepared, Stat, Stats, Ty};
use super::input::{self, InputFile};
use super::records::{Format, Reader, Record, Writer};
use super::remote::ServiceScorer;
use super::score::pipeline;
use crate::domain::job::{REJECT_LIMIT, REJECT_PERCENT};
use crate::domain::{FailurePolicy, JobSpec, ModelKind, RunCounts, StepProgress};
use crate::runtime::{FieldSpec, Predictor, RecordError, SharedPredictor, Value};

/// Everything a worker needs, decided by the server when the run starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    pub run: i64,
    pub spec: JobSpec,
    /// The model version scored (for a service: the one serving most of its traffic, whose
    /// signature the chain is checked against).
    pub model_kind: ModelKind,
    pub model_path: PathBuf,
    pub service: Option<ServiceCall>,
    /// The output path with its templates filled in, and the rejects file beside it.
    pub output: String,
    pub rejects: String,
    /// The temporary output, renamed to `output` at the end.
    pub temp: PathBuf,
    /// A folder of the worker's own for spooled inputs, removed at the end.
    pub spool: PathBuf,
    /// The server's data directory, where no output may land whatever links say.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

/// How to reach a service through the gateway.
#[derive(Clone, Serialize, Deserialize)]
pub struct ServiceCall {
    /// `http://127.0.0.1:8501/v1/models/NAME:predict`
    pub url: String,
    pub host: String,
    pub key: String,
    pub max_rows: usize,
}

impl std::fmt::Debug for ServiceCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceCall({} as {}, <key>)", self.url, self.host)
    }
}

/// What a worker says, one JSON line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Report {
    Progress(RunCounts),
    Completed(RunCounts),
    Failed { error: String, counts: RunCounts },
}

/// How often progress is reported.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Runs the assignment, reporting through `report`; the last report is the outcome.
pub fn execute(a: &Assignment, report: &mut dyn FnMut(&Report)) {
    let mut run = Running::new(a);
    // A folder of this run's own, removed at the end; one already there is not ours to use
    // or remove. (The temporary output is the writer's to remove, and the server's.)
    if let Some(parent) = a.spool.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let outcome = match std::fs::create_dir(&a.spool) {
        Ok(()) => {
            let outcome = run.go(report);
            let _ = std::fs::remove_dir_all(&a.spool);
            outcome
        }
        Err(e) => Err(ScoreError::Io(format!(
            "cannot make {}: {e}",
            a.spool.display()
        ))),
    };
    let counts = run.counts();
    match outcome {
        Ok(()) => report(&Report::Completed(counts)),
        Err(e) => report(&Report::Failed {
            error: e.to_string(),
            counts,
        }),
    }
}

struct Running<'a> {
    a: &'a Assignment,
    stages: Vec<StepProgress>,
    read: u64,
    scored: u64,
    rejected: u64,
    filtered: u64,
    last: Instant,
}

/// One record after the chain and the model.
enum Outcome {
    Scored,
    Filtered,
    /// With its values as read, for the rejects file.
    Rejected(Vec<Value>, RecordError),
}

impl<'a> Running<'a> {
    fn new(a: &'a Assignment) -> Running<'a> {
        Running {
            a,
            stages: Vec::new(),
            read: 0,
            scored: 0,
            rejected: 0,
            filtered: 0,
            last: Instant::now(),
        }
    }

    fn counts(&self) -> RunCounts {
        RunCounts {
            rows_read: self.read,
            rows_scored: self.scored,
            rows_rejected: self.rejected,
            rows_filtered: self.filtered,
            steps: self.stages.clone(),
        }
    }

    fn tick(&mut self, report: &mut dyn FnMut(&Report)) {
        if self.last.elapsed() >= REPORT_EVERY {
            self.last = Instant::now();
            report(&Report::Progress(self.counts()));
        }
    }

    fn stage(&mut self, name: String) -> usize {
        self.stages.push(StepProgress {
            name,
            ..StepProgress::default()
        });
        self.stages.len() - 1
    }

    fn go(&mut self, report: &mut dyn FnMut(&Report)) -> Result<(), ScoreError> {
        let a = self.a;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| ScoreError::Io(format!("cannot start: {e}")))?;
        let fetch = self.stage(format!("fetch {}", a.spec.input));
        report(&Report::Progress(self.counts()));
        let files = input::resolve(&a.spec.input, &a.spool, rt.handle())?;
        self.stages[fetch].done = true;
        self.stages[fetch].fraction = Some(1.0);
        let format = Format::of(&files[0].label);

        let upstream = a.model_kind == crate::domain::ModelKind::Upstream;
        let model: SharedPredictor = match (upstream, &a.service) {
            // A remote model takes the file's columns, in order, and answers one prediction.
            (true, Some(_)) => Arc::new(super::remote::UpstreamShape::new(&input::sample(
                &files[0], format,
            )?)),
            _ => crate::runtime::load(a.model_kind, &a.model_path)
                .map_err(|e| ScoreError::Model(format!("{}: {e}", a.spec.target)))?,
        };
        let inputs = model.signature().inputs.clone();
        let outputs: Vec<String> = model
            .signature()
            .outputs
            .iter()
            .map(|o| o.field.name.clone())
            .collect();

        // Every file's columns, before anything is written.
        let header = input::sample(&files[0], format)?;
        let mut stats = Stats::new();
        let plan = self.check(&files, format, &header, &inputs, &stats)?;
        // First passes, one per step needing statistics.
        for (k, need) in plan.needs.clone() {
            let stage = self.stage(format!(
                "pass for step {} ({})",
                k + 1,
                a.spec.steps[k].kind()
            ));
            let prefix = chain::build(&a.spec.steps, Some(&header), &inputs, &stats, Some(k))
                .map_err(|e| ScoreError::Input(e.to_string()))?;
            let stat = self.pass(&files, format, &prefix, need, stage, report)?;
            let stat = stat.map_err(|e| {
                ScoreError::Input(format!("step {} ({}): {e}", k + 1, a.spec.steps[k]))
            })?;
            let stat = stat.ok_or_else(|| {
                ScoreError::Input(format!(
                    "step {} ({}): no value to compute it from (the column is empty)",
                    k + 1,
                    a.spec.steps[k]
                ))
            })?;
            stats.insert(k, stat);
            self.stages[stage].done = true;
        }
        let plan = chain::build(&a.spec.steps, Some(&header), &inputs, &stats, None)
            .map_err(|e| ScoreError::Input(e.to_string()))?;
        let prepared = if a.spec.steps.is_empty() {
            None
        } else {
            Some(
                plan.prepare()
                    .map_err(|e| ScoreError::Input(e.to_string()))?,
            )
        };
        let raw: Vec<String> = if prepared.is_some() {
            plan.raw.clone()
        } else {
            inputs.iter().map(|f| f.name.clone()).collect()
        };
        let service = a
            .service
            .as_ref()
            .map(|call| {
                ServiceScorer::new(call.clone(), rt.handle().clone(), &inputs, &outputs)
                    .map(|s| s.positional(upstream))
            })
            .transpose()?;

        let main = self.stage("read, preprocess and score".into());
        let write = self.stage(format!("write {}", a.output));
        // A bucket's output and rejects are written in the spool folder, uploaded at the end.
        let remote = a.output.contains("://");
        let upload = remote.then(|| self.stage(format!("upload {}", a.output)));
        let (local_out, local_rejects) = if remote {
            let ext = match Format::of(&a.output) {
                Format::Csv => "csv",
                Format::JsonLines => "jsonl",
            };
            (
                a.spool.join(format!("output.{ext}")).display().to_string(),
                a.spool.join("rejects.csv").display().to_string(),
            )
        } else {
            (a.output.clone(), a.rejects.clone())
        };
        // However the paths are spelled, no input file is written over.
        for f in &files {
            for target in [&local_out, &local_rejects] {
                if super::guard::same_file(&f.path, Path::new(target)) {
                    return Err(ScoreError::Input(format!(
                        "{target} is also an input file: write the scores elsewhere; nothing was written"
                    )));
                }
            }
        }
        // The spool is the server's own folder; a local output is held out of it.
        let guard_dir = if remote { None } else { a.data_dir.clone() };
        // A rejects file from an earlier run with the same name would read as this run's.
        if std::fs::symlink_metadata(&local_rejects).is_ok_and(|m| m.is_file())
            && let Ok(folder) =
                super::guard::Folder::of(Path::new(&local_rejects), guard_dir.as_deref())
        {
            folder.remove(Path::new(&local_rejects));
        }
        let mut out = Writer::create_with(
            &local_out,
            outputs.clone(),
            Some(a.temp.clone()),
            false,
            guard_dir.as_deref(),
        )?;
        // Every stage is known now: say so before the first chunk, which may take a while.
        report(&Report::Progress(self.counts()));
        let mut rejects = RejectsFile::new(&local_rejects, &raw, guard_dir);
        let policy = a.spec.policy;
        let threads = a
            .spec
            .threads
            .map(|t| t as usize)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1);
        let total: u64 = files.iter().map(|f| f.size).sum();
        let bytes = Arc::new(AtomicU64::new(0));
        let formatter = out.formatter().clone();
        let work = |chunk: Vec<Record>| -> Result<(Vec<Outcome>, Vec<u8>), ScoreError> {
            let (outcomes, scored) =
                score_records(chunk, prepared.as_ref(), &*model, service.as_ref())?;
            Ok((outcomes, formatter.records(&scored)?))
        };
        let mut result = Ok(());
        for file in &files {
            let before = bytes.load(Ordering::Relaxed);
            let source = input::open(file, bytes.clone())?;
            let mut reader = Reader::new(source, format, &raw).map_err(|e| in_file(file, e))?;
            // Straight into the model, numeric inputs are read as numbers at once; through a
            // chain they are the chain's to read.
            if prepared.is_none() {
                reader = reader.numbers(inputs.iter().map(|f| f.dtype.is_numeric()).collect());
            }
            let mut line = 0u64;
            let outcome = pipeline(&mut reader, threads, &work, &mut |done| {
                let (outcomes, scored) = done?;
                for outcome in outcomes {
                    line += 1;
                    self.read += 1;
                    match outcome {
                        Outcome::Scored => self.scored += 1,
                        Outcome::Filtered => self.filtered += 1,
                        Outcome::Rejected(_, e) if policy == FailurePolicy::Abort => {
                            return Err(ScoreError::Input(format!(
                                "{} record {line}: {e} (the job stops at the first bad record)",
                                file.label
                            )));
                        }
                        Outcome::Rejected(values, e) => {
                            self.rejected += 1;
                            rejects.write(&file.label, line, &values, &e)?;
                            if self.rejected > REJECT_LIMIT {
                                return Err(ScoreError::Input(format!(
                                    "more than {REJECT_LIMIT} bad records (see {}); the last: {} record {line}: {e}",
                                    a.rejects, file.label
                                )));
                            }
                        }
                    }
                }
                // A failed run's output is abandoned, so a chunk whose later record aborts
                // it may be written whole.
                out.write_bytes(&scored)?;
                let done = bytes.load(Ordering::Relaxed);
                for s in [main, write] {
                    self.stages[s].rows = if s == main { self.read } else { self.scored };
                    self.stages[s].fraction =
                        (total > 0).then(|| (done as f64 / total as f64).min(1.0));
                }
                self.tick(report);
                Ok(())
            });
            if let Err(e) = outcome {
                result = Err(in_file(file, e));
                break;
            }
            // A file cut short while it was read would look like a complete, smaller one.
            let read = bytes.load(Ordering::Relaxed) - before;
            if read < file.size {
                result = Err(ScoreError::Input(format!(
                    "{} got shorter while it was read ({read} of {} bytes): run the job again once the file is complete",
                    file.label, file.size
                )));
                break;
            }
        }
        let too_many =
            self.read > 0 && self.rejected as f64 > self.read as f64 * REJECT_PERCENT / 100.0;
        if result.is_ok() && too_many {
            result = Err(ScoreError::Input(format!(
                "{} of {} records were bad, more than {REJECT_PERCENT}% (see {})",
                self.rejected, self.read, a.rejects
            )));
        }
        let rejected = rejects.finish();
        if remote && let Some(file) = &rejected {
            // Kept also when the run fails: it says why.
            put(rt.handle(), file, &a.rejects)?;
        }
        match result {
            Ok(()) => {
                out.finish()?;
                for s in [main, write] {
                    self.stages[s].done = true;
                    self.stages[s].fraction = Some(1.0);
                }
                if let Some(stage) = upload {
                    report(&Report::Progress(self.counts()));
                    put(rt.handle(), Path::new(&local_out), &a.output)?;
                    self.stages[stage].done = true;
                    self.stages[stage].fraction = Some(1.0);
                }
                Ok(())
            }
            Err(e) => {
                out.abandon();
                Err(e)
            }
        }
    }

    /// The chain against every file's columns (a column the chain or the model needs that a
    /// file lacks fails the run here, before anything is written).
    fn check(
        &self,
        files: &[InputFile],
        format: Format,
        header: &[(String, Ty)],
        inputs: &[FieldSpec],
        stats: &Stats,
    ) -> Result<Chain, ScoreError> {
        let plan = chain::build(&self.a.spec.steps, Some(header), inputs, stats, None)
            .map_err(|e| ScoreError::Input(format!("{}: {e}", files[0].label)))?;
        if format == Format::Csv {
            for f in &files[1..] {
                let h = input::sample(f, format)?;
                let absent: Vec<String> = plan
                    .raw
                    .iter()
                    .filter(|c| !h.iter().any(|(n, _)| n == *c))
                    .cloned()
                    .collect();
                if !absent.is_empty() {
                    return Err(in_file(f, ScoreError::MissingColumns(absent)));
                }
            }
        }
        Ok(plan)
    }

    /// A first pass: the statistic of the one column `prefix` outputs.
    fn pass(
        &mut self,
        files: &[InputFile],
        format: Format,
        prefix: &Chain,
        need: Need,
        stage: usize,
        report: &mut dyn FnMut(&Report),
    ) -> Result<Result<Option<Stat>, String>, ScoreError> {
        let prepared = prefix
            .prepare()
            .map_err(|e| ScoreError::Input(e.to_string()))?;
        let mut acc = Accumulator::default();
        let mut rows = 0u64;
        for file in files {
            let mut reader = Reader::new(input::open(file, Arc::default())?, format, &prefix.raw)
                .map_err(|e| in_file(file, e))?;
            loop {
                let chunk = reader.chunk(4096).map_err(|e| in_file(file, e))?;
                if chunk.is_empty() {
                    break;
                }
                let ok: Vec<Vec<Value>> = chunk.into_iter().filter_map(Result::ok).collect();
                for v in prepared.apply(&ok).into_iter().flatten().flatten() {
                    if let Some(x) = v.into_iter().next() {
                        acc.add(x, need)?;
                    }
                }
                rows += ok.len() as u64;
                self.stages[stage].rows = rows;
                self.tick(report);
            }
        }
        Ok(acc.stat(need))
    }
}

/// Uploads a finished local file to the bucket `target` names (the server's AWS_* settings
/// say where the store is and who we are).
fn put(rt: &tokio::runtime::Handle, file: &Path, target: &str) -> Result<(), ScoreError> {
    use crate::registry::{S3Options, Source};
    let env = |k: &str| std::env::var(k).ok();
    let Source::S3(obj) = Source::parse(target, &S3Options::default(), &env)
        .map_err(|e| ScoreError::Io(e.to_string()))?
    else {
        return Err(ScoreError::Io(format!("{target} is not a bucket")));
    };
    let client = reqwest::Client::new();
    rt.block_on(crate::registry::s3::put(&client, &obj, file))
        .map_err(|e| ScoreError::Io(e.to_string()))
}

fn in_file(file: &InputFile, e: ScoreError) -> ScoreError {
    match e {
        ScoreError::MissingColumns(c) => {
            ScoreError::Input(format!("{}: {}", file.label, ScoreError::MissingColumns(c)))
        }
        ScoreError::Input(m) if !m.contains(&file.label) => {
            ScoreError::Input(format!("{}: {m}", file.label))
        }
        other => other,
    }
}

/// The chain and the model over one chunk: each record's outcome, and the scored rows in
/// order. Only a rejected record keeps its values as read, for the rejects file.
fn score_records(
    chunk: Vec<Record>,
    chain: Option<&Prepared>,
    model: &dyn Predictor,
    service: Option<&ServiceScorer>,
) -> Result<(Vec<Outcome>, Vec<Record>), ScoreError> {
    let mut unreadable = Vec::new();
    let mut readable = Vec::with_capacity(chunk.len());
    for r in chunk {
        match r {
            Ok(v) => {
                readable.push(v);
                unreadable.push(None);
            }
            Err(e) => unreadable.push(Some(e)),
        }
    }
    // Through the chain: model inputs, filtered out, or an error.
    let mut batch = Vec::new();
    let slots: Vec<Result<bool, RecordError>> = match chain {
        None => vec![Ok(true); readable.len()],
        Some(c) => c
            .apply(&readable)
            .into_iter()
            .map(|p| match p {
                Ok(Some(v)) => {
                    batch.push(v);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            })
            .collect(),
    };
    let batch = if chain.is_some() { &batch } else { &readable };
    let mut answers = match service {
        Some(s) => s.score(batch)?,
        None => model.predict(batch),
    }
    .into_iter();
    let mut slots = slots.into_iter();
    let mut values = readable.iter();
    let mut scored = Vec::with_capacity(batch.len());
    let outcomes = unreadable
        .into_iter()
        .map(|bad| {
            let e = match bad {
                Some(e) => return Outcome::Rejected(Vec::new(), e),
                None => {
                    let read = values.next();
                    let e = match slots.next() {
                        Some(Ok(true)) => match answers.next() {
                            Some(Ok(row)) => {
                                scored.push(Ok(row));
                                return Outcome::Scored;
                            }
                            Some(Err(e)) => e,
                            None => RecordError("the model gave no answer".into()),
                        },
                        Some(Ok(false)) => return Outcome::Filtered,
                        Some(Err(e)) => e,
                        None => RecordError("lost".into()),
                    };
                    (read.cloned().unwrap_or_default(), e)
                }
            };
            Outcome::Rejected(e.0, e.1)
        })
        .collect();
    Ok((outcomes, scored))
}

/// Bad records: where they were, what was read, and why, as CSV beside the output. Written
/// to a temporary and renamed at the end (also when the run fails: it says why).
struct RejectsFile {
    path: String,
    columns: Vec<String>,
    writer: Option<(PathBuf, csv::Writer<std::fs::File>, super::guard::Folder)>,
    failed: bool,
    data_dir: Option<PathBuf>,
}

impl RejectsFile {
    fn new(path: &str, columns: &[String], data_dir: Option<PathBuf>) -> RejectsFile {
        RejectsFile {
            path: path.to_string(),
            columns: columns.to_vec(),
            writer: None,
            failed: false,
            data_dir,
        }
    }

    fn write(
        &mut self,
        file: &str,
        record: u64,
        values: &[Value],
        e: &RecordError,
    ) -> Result<(), ScoreError> {
        if self.failed {
            return Ok(());
        }
        if self.writer.is_none() {
            let tmp = PathBuf::from(format!("{}.tmp-{}", self.path, std::process::id()));
            let cannot =
                |e: std::io::Error| ScoreError::Io(format!("cannot write {}: {e}", self.path));
            // Written and renamed in the folder as it was opened and checked (see the output).
            let folder = super::guard::Folder::of(Path::new(&self.path), self.data_dir.as_deref())
                .map_err(cannot)?;
            let f = folder.create_new(&tmp).map_err(cannot)?;
            let mut w = csv::Writer::from_writer(f);
            let mut header = vec!["_file".to_string(), "_record".to_string()];
            header.extend(self.columns.iter().cloned());
            header.push("_error".into());
            w.write_record(&header)
                .map_err(|e| ScoreError::Io(format!("cannot write {}: {e}", self.path)))?;
            self.writer = Some((tmp, w, folder));
        }
        if let Some((_, w, _)) = &mut self.writer {
            let mut row = vec![file.to_string(), record.to_string()];
            row.extend(values.iter().map(Value::to_string));
            row.resize(self.columns.len() + 2, String::new());
            row.push(e.0.clone());
            if w.write_record(&row).is_err() {
                self.failed = true;
            }
        }
        Ok(())
    }

    /// Moves the file into place; its path, if any record was written.
    fn finish(self) -> Option<PathBuf> {
        let (tmp, mut w, folder) = self.writer?;
        let _ = w.flush();
        drop(w);
        if folder.rename(&tmp, Path::new(&self.path)).is_err() {
            folder.remove(&tmp);
            return None;
        }
        Some(PathBuf::from(self.path))
    }
}

/// The statistic a first pass accumulates.
#[derive(Default)]
struct Accumulator {
    n: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    numbers: Vec<f64>,
    counts: std::collections::HashMap<String, u64>,
}

/// The most distinct values a mode or a one-hot pass keeps count of.
const MAX_DISTINCT: usize = 100_000;
/// The most values a median holds (8 bytes each).
const MAX_MEDIAN: usize = 50_000_000;

impl Accumulator {
    fn add(&mut self, v: Value, need: Need) -> Result<(), ScoreError> {
        let number = match &v {
            Value::Number(n) if n.is_finite() => Some(*n),
            Value::Integer(i) => Some(*i as f64),
            // A column of the file copied as read.
            Value::String(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        };
        match need {
            Need::Mean | Need::MeanStd | Need::Range | Need::Median => {
                let Some(x) = number else { return Ok(()) };
                if self.n == 0 {
                    (self.min, self.max) = (x, x);
                }
                self.n += 1;
                self.sum += x;
                self.sum_sq += x * x;
                self.min = self.min.min(x);
                self.max = self.max.max(x);
                if need == Need::Median {
                    if self.numbers.len() >= MAX_MEDIAN {
                        return Err(ScoreError::Input(format!(
                            "a median over more than {MAX_MEDIAN} values: give the value instead (fill:COL=VALUE)"
                        )));
                    }
                    self.numbers.push(x);
                }
            }
            Need::Mode | Need::Values => {
                if v == Value::Missing {
                    return Ok(());
                }
                let text = v.to_string();
                if !self.counts.contains_key(&text) && self.counts.len() >= MAX_DISTINCT {
                    return Err(ScoreError::Input(format!(
                        "more than {MAX_DISTINCT} distinct values: give them instead (onehot:COL values=A|B)"
                    )));
                }
                *self.counts.entry(text).or_default() += 1;
                self.n += 1;
            }
        }
        Ok(())
    }

    fn stat(mut self, need: Need) -> Result<Option<Stat>, String> {
        if self.n == 0 {
            return Ok(None);
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        Ok(Some(match need {
            Need::Mean => Stat::Value(mean.to_string()),
            Need::MeanStd => {
                // Population standard deviation, as scikit-learn's StandardScaler.
                let var = (self.sum_sq / n - mean * mean).max(0.0);
                Stat::MeanStd(mean, var.sqrt())
            }
            Need::Range => Stat::Range(self.min, self.max),
            Need::Median => {
                self.numbers.sort_by(f64::total_cmp);
                let m = self.numbers.len();
                let median = if m % 2 == 1 {
                    self.numbers[m / 2]
                } else {
                    (self.numbers[m / 2 - 1] + self.numbers[m / 2]) / 2.0
                };
                Stat::Value(median.to_string())
            }
            Need::Mode => {
                let Some(best) = self
                    .counts
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                else {
                    return Ok(None);
                };
                Stat::Value(best.0.clone())
            }
            Need::Values => {
                let max = crate::domain::step::MAX_VALUES;
                if self.counts.len() > max {
                    return Err(format!(
                        "{} distinct values, more than the {max} one-hot columns a step makes: give values=A|B|…",
                        self.counts.len()
                    ));
                }
                let mut v: Vec<String> = self.counts.into_keys().collect();
                v.sort();
                Stat::Values(v)
            }
        }))
    }
}
