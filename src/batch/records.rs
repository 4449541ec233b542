//! Reading input records and writing scored ones, as CSV or JSON lines, streaming.
//!
//! Inputs are matched to the model's fields by name; extra columns are ignored. A CSV header
//! that lacks a field the model needs is an error for the whole file, found before anything is
//! written; in JSON lines, where each record names its own fields, it is an error for that
//! record. An empty CSV cell or a JSON `null` is a missing value.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use serde_json::{Map, Value as Json};

use super::ScoreError;
use crate::runtime::{RecordError, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// By extension: `.jsonl`, `.ndjson` and `.json` are JSON lines; anything else (and `-`) CSV.
    pub fn of(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Format::JsonLines
        } else {
            Format::Csv
        }
    }
}

/// One input record: values aligned with the model's inputs, or why it could not be read.
pub type Record = Result<Vec<Value>, RecordError>;

pub enum Reader {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        /// For each model input, its column in the file.
        columns: Vec<usize>,
        row: csv::StringRecord,
    },
    JsonLines {
        lines: io::Lines<BufReader<Box<dyn Read + Send>>>,
        inputs: Vec<String>,
        line: u64,
    },
}

pub fn open_input(path: &str) -> Result<Box<dyn Read + Send>, ScoreError> {
    if path == "-" {
        return Ok(Box::new(LineCap::new(io::stdin())));
    }
    if std::path::Path::new(path).is_dir() {
        return Err(ScoreError::Io(format!(
            "{path} is a folder: pass the input file itself"
        )));
    }
    File::open(path)
        .map(|f| Box::new(LineCap::new(f)) as Box<dyn Read + Send>)
        .map_err(|e| ScoreError::Io(format!("cannot read {path}: {e}")))
}

/// The longest line a reader passes on. Both formats buffer a record (a line) before they
/// can use it, so without a cap a file with no newlines would be read into memory whole.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// `inner`, failing once a line runs past [`MAX_LINE_BYTES`].
pub(crate) fn capped<R: Read>(inner: R) -> LineCap<R> {
    LineCap::new(inner)
}

/// A reader that fails once a line runs past [`MAX_LINE_BYTES`].
pub(crate) struct LineCap<R> {
    inner: R,
    /// Bytes since the last newline.
    run: usize,
}

impl<R: Read> LineCap<R> {
    fn new(inner: R) -> LineCap<R> {
        LineCap { inner, run: 0 }
    }
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.run = if b == b'\n' { 0 } else { self.run + 1 };
            if self.run > MAX_LINE_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a line is longer than {} MiB: is this really CSV or JSON lines?",
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
        }
        Ok(n)
    }
}

impl Reader {
    pub fn new(
        source: Box<dyn Read + Send>,
        format: Format,
        inputs: &[String],
    ) -> Result<Reader, ScoreError> {
        match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(false)
                    .from_reader(source);
                let header = reader
                    .headers()
                    .map_err(|e| ScoreError::Input(format!("cannot read the CSV header: {e}")))?
                    .clone();
                let mut columns = Vec::with_capacity(inputs.len());
                let mut absent = Vec::new();
                for name in inputs {
                    match header.iter().position(|h| h.trim() == name) {
                        Some(i) => columns.push(i),
                        None => absent.push(name.clone()),
                    }
                }
                if !absent.is_empty() {
                    return Err(ScoreError::MissingColumns(absent));
                }
                Ok(Reader::Csv {
                    reader,
                    columns,
                    row: csv::StringRecord::new(),
                })
            }
            Format::JsonLines => Ok(Reader::JsonLines {
                lines: BufReader::new(source).lines(),
                inputs: inputs.to_vec(),
                line: 0,
            }),
        }
    }

    /// Up to `n` records; an empty vector at the end of the input.
    pub fn chunk(&mut self, n: usize) -> Result<Vec<Record>, ScoreError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self {
                Reader::Csv {
                    reader,
                    columns,
                    row,
                } => match reader.read_record(row) {
                    Ok(false) => break,
                    Ok(true) => out.push(Ok(columns
                        .iter()
                        .map(|&c| match row.get(c).map(str::trim) {
                            None | Some("") => Value::Missing,
                            Some(text) => Value::String(text.into()),
                        })
                        .collect())),
                    Err(e) => match e.kind() {
                        csv::ErrorKind::UnequalLengths { .. } => {
                            out.push(Err(RecordError(format!("{e}"))))
                        }
                        _ => return Err(ScoreError::Input(format!("the CSV is malformed: {e}"))),
                    },
                },
                Reader::JsonLines {
                    lines,
                    inputs,
                    line,
                } => {
                    let Some(text) = lines.next() else { break };
                    *line += 1;
                    let text =
                        text.map_err(|e| ScoreError::Io(format!("cannot read the input: {e}")))?;
                    if text.trim().is_empty() {
                        continue;
                    }
                    out.push(json_record(&text, inputs, *line));
                }
            }
        }
        Ok(out)
    }
}

fn json_record(text: &str, inputs: &[String], line: u64) -> Record {
    let object: Map<String, Json> = match serde_json::from_str(text) {
        Ok(Json::Object(o)) => o,
        Ok(_) => return Err(RecordError(format!("line {line}: not a JSON object"))),
        Err(e) => return Err(RecordError(format!("line {line}: not JSON ({e})"))),
    };
    let absent: Vec<String> = inputs
        .iter()
        .filter(|name| !object.contains_key(*name))
        .map(|name| format!("{name:?}"))
        .collect();
    if !absent.is_empty() {
        return Err(RecordError(format!(
            "line {line}: no field {}",
            absent.join(", ")
        )));
    }
    inputs
        .iter()
        .map(|name| match &object[name] {
            Json::Null => Ok(Value::Missing),
            Json::Bool(b) => Ok(Value::Boolean(*b)),
            Json::Number(n) => Ok(n.as_f64().map_or(Value::Missing, Value::Number)),
            Json::String(s) => Ok(Value::String(s.as_str().into())),
            other => Err(RecordError(format!(
                "line {line}: field {name:?} is {other}, not a number, string or boolean"
            ))),
        })
        .collect()
}

/// Where scored records go; for a file, a temporary sibling renamed into place at the end, so
/// a failed run never leaves half an output behind.
pub struct Writer {
    out: Out,
    columns: Vec<String>,
    tmp: Option<(std::path::PathBuf, std::path::PathBuf)>,
    error_column: bool,
}

enum Out {
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Json(BufWriter<Box<dyn Write>>),
}

impl Writer {
    pub fn create(path: &str, columns: Vec<String>) -> Result<Writer, ScoreError> {
        Writer::create_with(path, columns, None, true)
    }

    /// A file writer whose temporary is `tmp` (default: a hidden sibling of `path`), with or
    /// without the `_error` column (a batch run sends bad records to a rejects file instead).
    pub fn create_with(
        path: &str,
        columns: Vec<String>,
        tmp: Option<std::path::PathBuf>,
        error_column: bool,
    ) -> Result<Writer, ScoreError> {
        let (sink, tmp): (Box<dyn Write>, _) = if path == "-" {
            (Box::new(io::stdout().lock()), None)
        } else {
            let final_path = std::path::PathBuf::from(path);
            if final_path.is_dir() || final_path.file_name().is_none() {
                return Err(ScoreError::Io(format!(
                    "{path} is a folder: name the output file (e.g. {}/scored.csv)",
                    path.trim_end_matches('/')
                )));
            }
            let name = final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp_path = tmp.unwrap_or_else(|| {
                final_path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
            });
            let file = File::create(&tmp_path)
                .map_err(|e| ScoreError::Io(format!("cannot write {}: {e}", tmp_path.display())))?;
            (Box::new(file), Some((tmp_path, final_path)))
        };
        let out = match Format::of(path) {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(sink);
                let mut header = columns.clone();
                if error_column {
                    header.push("_error".into());
                }
                w.write_record(&header).map_err(csv_err)?;
                Out::Csv(Box::new(w))
            }
            Format::JsonLines => Out::Json(BufWriter::new(sink)),
        };
        Ok(Writer {
            out,
            columns,
            tmp,
            error_column,
        })
    }

    pub fn write(&mut self, record: &Result<Vec<Value>, RecordError>) -> Result<(), ScoreError> {
        match (&mut self.out, record) {
            (Out::Csv(w), Ok(values)) => {
                for v in values {
                    w.write_field(v.to_string()).map_err(csv_err)?;
                }
                if self.error_column {
                    w.write_field("").map_err(csv_err)?;
                }
                w.write_record(None::<&[u8]>).map_err(csv_err)
            }
            (Out::Csv(w), Err(e)) => {
                for _ in &self.columns {
                    w.write_field("").map_err(csv_err)?;
                }
                w.write_field(&e.0).map_err(csv_err)?;
                w.write_record(None::<&[u8]>).map_err(csv_err)
            }
            (Out::Json(w), record) => {
                let mut object = Map::new();
                match record {
                    Ok(values) => {
                        for (name, v) in self.columns.iter().zip(values) {
                            object.insert(name.clone(), to_json(v));
                        }
                    }
                    Err(e) => {
                        object.insert("_error".into(), Json::String(e.0.clone()));
                    }
                }
                Ok(writeln!(w, "{}", Json::Object(object))?)
            }
        }
    }

    /// Flushes and, for a file, moves the finished output into place.
    pub fn finish(self) -> Result<(), ScoreError> {
        match self.out {
            Out::Csv(mut w) => w.flush()?,
            Out::Json(mut w) => w.flush()?,
        }
        if let Some((tmp, final_path)) = &self.tmp
            && let Err(e) = std::fs::rename(tmp, final_path)
        {
            let _ = std::fs::remove_file(tmp);
            return Err(ScoreError::Io(format!(
                "cannot write {}: {e}",
                final_path.display()
            )));
        }
        Ok(())
    }

    /// Removes the temporary file of an abandoned run.
    pub fn abandon(self) {
        if let Some((tmp, _)) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Missing => Json::Null,
        Value::Number(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::Integer(i) => Json::from(*i),
        Value::String(s) => Json::String(s.to_string()),
        Value::Boolean(b) => Json::Bool(*b),
    }
}

fn csv_err(e: csv::Error) -> ScoreError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => ScoreError::Io(format!("cannot write the output: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_end_is_refused_not_buffered() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut capped = LineCap::new(&long[..]);
        let err = io::copy(&mut capped, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("longer than 16 MiB"), "{err}");
        let lines = b"a\n".repeat(MAX_LINE_BYTES);
        assert!(io::copy(&mut LineCap::new(&lines[..]), &mut io::sink()).is_ok());
    }
}
