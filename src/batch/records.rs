//! Reading input records and writing scored ones, as CSV or JSON lines, streaming.
//!
//! Inputs are matched to the model's fields by name; extra columns are ignored. A CSV header
//! that lacks a field the model needs is an error for the whole file, found before anything is
//! written; in JSON lines, where each record names its own fields, it is an error for that
//! record. An empty CSV cell or a JSON `null` is a missing value.

use std::fmt::Write as _;
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

/// Reads an input as raw records, cut at record ends but not parsed: cutting is cheap and
/// must be done in order, parsing is not, so the pipeline parses on its scoring threads.
pub struct Reader {
    source: BufReader<Box<dyn Read + Send>>,
    layout: Layout,
    /// Lines consumed so far (the header included).
    line: u64,
}

/// How a raw record becomes a [`Record`]: which columns hold the model's inputs.
#[derive(Debug, Clone)]
pub struct Layout {
    format: Format,
    inputs: Vec<String>,
    /// For each model input, its column in the file (CSV).
    columns: Vec<usize>,
    /// The header's width (CSV): a record of another width is ragged.
    width: usize,
    /// For each model input, whether it is numeric: a CSV cell that is a plain number is then
    /// read as one here, with no text to allocate and parse again later.
    numeric: Vec<bool>,
}

/// Whole records as read, with the line each one starts on.
#[derive(Debug, Default)]
pub struct Raw {
    bytes: Vec<u8>,
    lines: Vec<u64>,
    /// Where each record ends in `bytes`.
    ends: Vec<usize>,
    /// Whether each record has a quote in it (CSV).
    quoted: Vec<bool>,
}

impl Raw {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
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

/// The widest header read: a table, not a line of a million cells.
pub const MAX_COLUMNS: usize = 10_000;

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
        let got = &buf[..n];
        // Only the run up to the first newline and the run after the last can be long: the
        // lines between lie wholly inside this read, which is shorter than the cap.
        let (head, tail) = match (memchr::memchr(b'\n', got), memchr::memrchr(b'\n', got)) {
            (Some(first), Some(last)) => (first, n - last - 1),
            _ => (n, self.run + n),
        };
        if self.run + head > MAX_LINE_BYTES || tail > MAX_LINE_BYTES || head > MAX_LINE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a line is longer than {} MiB: is this really CSV or JSON lines?",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        self.run = tail;
        Ok(n)
    }
}

impl Reader {
    pub fn new(
        source: Box<dyn Read + Send>,
        format: Format,
        inputs: &[String],
    ) -> Result<Reader, ScoreError> {
        let mut reader = Reader {
            source: BufReader::with_capacity(256 << 10, source),
            layout: Layout {
                format,
                inputs: inputs.to_vec(),
                columns: Vec::new(),
                width: 0,
                numeric: vec![false; inputs.len()],
            },
            line: 0,
        };
        if format == Format::Csv {
            let header = reader.header()?;
            let mut absent = Vec::new();
            for name in inputs {
                match header.iter().position(|h| h.trim() == name) {
                    Some(i) => reader.layout.columns.push(i),
                    None => absent.push(name.clone()),
                }
            }
            if !absent.is_empty() {
                return Err(ScoreError::MissingColumns(absent));
            }
            if header.len() > MAX_COLUMNS {
                return Err(ScoreError::Input(format!(
                    "the header has {} columns, more than the {MAX_COLUMNS} read",
                    header.len()
                )));
            }
            if let Some(twice) = inputs
                .iter()
                .find(|name| header.iter().filter(|h| h.trim() == name.as_str()).count() > 1)
            {
                return Err(ScoreError::Input(format!(
                    "the header names {twice:?} twice: rename one so the column meant is clear"
                )));
            }
            reader.layout.width = header.len();
        }
        Ok(reader)
    }

    fn header(&mut self) -> Result<csv::StringRecord, ScoreError> {
        let raw = self.raw(1)?;
        let bytes = raw
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&raw.bytes);
        let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if memchr::memchr(b'\r', line).is_some() && !raw.quoted.first().copied().unwrap_or(false) {
            return Err(ScoreError::Input(
                "the lines end with a carriage return alone (an old Mac file): convert them to LF or CRLF line ends".into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut header = csv::StringRecord::new();
        match reader.read_record(&mut header) {
            Ok(_) => Ok(header),
            Err(e) => Err(ScoreError::Input(format!(
                "cannot read the CSV header: {e}"
            ))),
        }
    }

    /// Which inputs are numeric (in the order of the inputs), for the fast path of CSV cells
    /// that are plain numbers. Without it every cell is read as text.
    pub fn numbers(mut self, numeric: Vec<bool>) -> Reader {
        if numeric.len() == self.layout.inputs.len() {
            self.layout.numeric = numeric;
        }
        self
    }

    /// How this input's records are parsed.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Up to `n` records, parsed; an empty vector at the end of the input.
    pub fn chunk(&mut self, n: usize) -> Result<Vec<Record>, ScoreError> {
        let raw = self.raw(n)?;
        Ok(self.layout.parse(&raw))
    }

    /// Up to `n` raw records; empty at the end of the input. Blank lines are skipped. A CSV
    /// record runs on past a line end inside quotes, as a CSV parser reads it.
    pub fn raw(&mut self, n: usize) -> Result<Raw, ScoreError> {
        let mut raw = Raw::default();
        let csv = self.layout.format == Format::Csv;
        while raw.lines.len() < n {
            let start = raw.bytes.len();
            let first = self.line + 1;
            let mut quote = Quote::Start;
            let mut quoted = false;
            loop {
                let from = raw.bytes.len();
                let got = self
                    .source
                    .read_until(b'\n', &mut raw.bytes)
                    .map_err(|e| ScoreError::Io(format!("cannot read the input: {e}")))?;
                if got == 0 {
                    break;
                }
                self.line += 1;
                let line = &raw.bytes[from..];
                if csv && (quote != Quote::Start || memchr::memchr(b'"', line).is_some()) {
                    quoted = true;
                    quote = quote.after(line);
                }
                if quote != Quote::Open {
                    break;
                }
                if raw.bytes.len() - start > MAX_LINE_BYTES {
                    return Err(ScoreError::Input(format!(
                        "the record from line {first} is longer than {} MiB: is a quote left open?",
                        MAX_LINE_BYTES >> 20
                    )));
                }
            }
            let record = &raw.bytes[start..];
            if record.is_empty() {
                break;
            }
            if record.iter().all(u8::is_ascii_whitespace) {
                raw.bytes.truncate(start);
                continue;
            }
            raw.lines.push(first);
            raw.ends.push(raw.bytes.len());
            raw.quoted.push(quoted);
        }
        Ok(raw)
    }
}

/// Where a CSV record stands at the end of a line, quote-wise (as the csv crate reads it:
/// a quote opens only at the start of a field, `""` inside is a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// At the start of a field.
    Start,
    /// In an unquoted field, or after a quoted one closed.
    Field,
    Open,
    /// A quote inside a quoted field: closes it, or escapes the next quote.
    MaybeClosed,
}

impl Quote {
    fn after(mut self, line: &[u8]) -> Quote {
        for &b in line {
            self = match (self, b) {
                (Quote::Open, b'"') => Quote::MaybeClosed,
                (Quote::Open, _) => Quote::Open,
                (Quote::MaybeClosed, b'"') => Quote::Open,
                (Quote::Start, b'"') => Quote::Open,
                (_, b',') => Quote::Start,
                (_, b'\n') => Quote::Start,
                _ => Quote::Field,
            };
        }
        self
    }
}

impl Layout {
    /// The records of `raw`, in order.
    pub fn parse(&self, raw: &Raw) -> Vec<Record> {
        match self.format {
            Format::Csv => self.parse_csv(raw),
            Format::JsonLines => {
                let mut from = 0;
                raw.ends
                    .iter()
                    .zip(&raw.lines)
                    .map(|(&end, &line)| {
                        let bytes = &raw.bytes[from..end];
                        from = end;
                        match std::str::from_utf8(bytes) {
                            Ok(text) => json_record(text, &self.inputs, line),
                            Err(_) => Err(RecordError(format!("line {line}: not UTF-8 text"))),
                        }
                    })
                    .collect()
            }
        }
    }

    /// A record without quotes is cut at its commas; one with quotes goes through the csv
    /// crate's parser (they agree on unquoted records, and most records have no quotes).
    fn parse_csv(&self, raw: &Raw) -> Vec<Record> {
        let mut out = Vec::with_capacity(raw.lines.len());
        let mut texts: Vec<&str> = Vec::with_capacity(self.width);
        let mut from = 0;
        for ((&end, &line), &quoted) in raw.ends.iter().zip(&raw.lines).zip(&raw.quoted) {
            let bytes = &raw.bytes[from..end];
            from = end;
            let record = if quoted {
                None
            } else {
                // One check of the whole line, not one per cell.
                std::str::from_utf8(bytes).ok()
            };
            if let Some(record) = record {
                let record = record.strip_suffix('\n').unwrap_or(record);
                let record = record.strip_suffix('\r').unwrap_or(record);
                texts.clear();
                let mut start = 0;
                for comma in memchr::memchr_iter(b',', record.as_bytes()) {
                    texts.push(&record[start..comma]);
                    start = comma + 1;
                }
                texts.push(&record[start..]);
                out.push(self.csv_record(&texts, line));
                continue;
            }
            // Quoted, or not all UTF-8: the csv crate's parser, cell by cell.
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            out.push(match reader.read_byte_record(&mut record) {
                Ok(_) => {
                    let cells: Vec<&[u8]> = record.iter().collect();
                    self.csv_record(&cells, line)
                }
                Err(e) => Err(RecordError(format!("line {line}: {e}"))),
            });
        }
        out
    }

    fn csv_record<C: Cell>(&self, record: &[C], line: u64) -> Record {
        if record.len() != self.width {
            return Err(RecordError(format!(
                "line {line}: {} fields where the header has {}",
                record.len(),
                self.width
            )));
        }
        let mut values = Vec::with_capacity(self.columns.len());
        for ((&c, name), &numeric) in self.columns.iter().zip(&self.inputs).zip(&self.numeric) {
            let Some(text) = record[c].text() else {
                return Err(RecordError(format!(
                    "line {line}: {name} is not UTF-8 text"
                )));
            };
            let text = trim(text);
            values.push(if text.is_empty() {
                Value::Missing
            } else if let Some(n) = plain_number(text).filter(|_| numeric) {
                Value::Number(n)
            } else {
                Value::String(text.into())
            });
        }
        Ok(values)
    }
}

/// A CSV cell: text already checked, or bytes to check.
trait Cell {
    fn text(&self) -> Option<&str>;
}

impl Cell for &str {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl Cell for &[u8] {
    fn text(&self) -> Option<&str> {
        std::str::from_utf8(self).ok()
    }
}

/// `str::trim`, without its Unicode tables for the common all-ASCII cell.
fn trim(text: &str) -> &str {
    let t = text.trim_ascii();
    let ascii_ends = t.as_bytes().first().is_none_or(u8::is_ascii)
        && t.as_bytes().last().is_none_or(u8::is_ascii);
    if ascii_ends { t } else { t.trim() }
}

/// A cell that is a plain decimal number (digits, sign, point, exponent), as a number;
/// anything else (`NaN`, `1,5`, a word) is left to the model's own reading of text.
fn plain_number(cell: &str) -> Option<f64> {
    let bytes = cell.as_bytes();
    let unsigned = bytes
        .strip_prefix(b"-")
        .or(bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    // Not `inf`, `NaN` or a word, which the general parser would also take.
    if !unsigned
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
    {
        return None;
    }
    if bytes.len() <= 16
        && let Some(n) = short_decimal(bytes)
    {
        return Some(n);
    }
    cell.parse::<f64>().ok()
}

/// Exact powers of ten as doubles.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `-12.345` and the like, the common shape of a numeric CSV cell, without the general
/// parser: when the digits fit in 2^53 and there are at most 22 after the point, the digits
/// and the power of ten are both exact doubles, so one division rounds correctly (Clinger's
/// fast path, which the standard parser also takes for such numbers). Anything else: `None`.
fn short_decimal(cell: &[u8]) -> Option<f64> {
    let (negative, digits) = match cell.first()? {
        b'-' => (true, &cell[1..]),
        b'+' => (false, &cell[1..]),
        _ => (false, cell),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut after: Option<usize> = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                count += 1;
            }
            b'.' if after.is_none() => after = Some(i + 1),
            _ => return None,
        }
    }
    let scale = after.map_or(0, |a| digits.len() - a);
    if count == 0 || mantissa > 1 << 53 || scale >= POW10.len() {
        return None;
    }
    let n = mantissa as f64 / POW10[scale];
    Some(if negative { -n } else { n })
}

fn json_record(text: &str, inputs: &[String], line: u64) -> Record {
    let object: Map<String, Json> = match serde_json::from_str(text) {
        Ok(Json::Object(o)) => o,
        Ok(_) => return Err(RecordError(format!("line {line}: not a JSON object"))),
        Err(e) => return Err(RecordError(format!("line {line}: not JSON ({e})"))),
    };
    let absent = inputs
        .iter()
        .filter(|name| !object.contains_key(*name))
        .count();
    if absent > 0 {
        // The first few by name: a wide model (100,000 features) would otherwise write a
        // megabyte of names for every line.
        let named: Vec<String> = inputs
            .iter()
            .filter(|name| !object.contains_key(*name))
            .take(8)
            .map(|name| format!("{name:?}"))
            .collect();
        let more = if absent > named.len() {
            format!(" and {} more", absent - named.len())
        } else {
            String::new()
        };
        return Err(RecordError(format!(
            "line {line}: no field {}{more}",
            named.join(", ")
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
    out: BufWriter<Box<dyn Write>>,
    formatter: Formatter,
    /// The temporary, the final path, and the folder both are in, held open.
    tmp: Option<(std::path::PathBuf, std::path::PathBuf, super::guard::Folder)>,
}

/// Turns scored records into output bytes. Separate from the [`Writer`] so that scoring
/// threads format their own chunks and the writer only copies bytes, in order.
#[derive(Debug, Clone)]
pub struct Formatter {
    format: Format,
    columns: Vec<String>,
    /// Whether a bad record is written as an `_error` (`score`); a batch run sends bad
    /// records to its rejects file instead.
    error_column: bool,
}

impl Formatter {
    fn header(&self) -> Result<Vec<u8>, ScoreError> {
        if self.format == Format::JsonLines {
            return Ok(Vec::new());
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = self.columns.clone();
        if self.error_column {
            header.push("_error".into());
        }
        w.write_record(&header).map_err(csv_err)?;
        w.into_inner()
            .map_err(|e| ScoreError::Io(format!("cannot write the output: {e}")))
    }

    /// The output text of `records`, in order.
    pub fn records<'a>(
        &self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<Vec<u8>, ScoreError> {
        let records = records.into_iter();
        let mut bytes = Vec::with_capacity(records.size_hint().0 * 16 * (self.columns.len() + 1));
        match self.format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(bytes);
                let mut text = String::new();
                for record in records {
                    match record {
                        Ok(values) => {
                            for v in values {
                                text.clear();
                                let _ = write!(text, "{v}");
                                w.write_field(&text).map_err(csv_err)?;
                            }
                            if self.error_column {
                                w.write_field("").map_err(csv_err)?;
                            }
                        }
                        Err(e) => {
                            for _ in &self.columns {
                                w.write_field("").map_err(csv_err)?;
                            }
                            w.write_field(&e.0).map_err(csv_err)?;
                        }
                    }
                    w.write_record(None::<&[u8]>).map_err(csv_err)?;
                }
                bytes = w
                    .into_inner()
                    .map_err(|e| ScoreError::Io(format!("cannot write the output: {e}")))?;
            }
            Format::JsonLines => {
                for record in records {
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
                    serde_json::to_writer(&mut bytes, &Json::Object(object))
                        .map_err(|e| ScoreError::Io(format!("cannot write the output: {e}")))?;
                    bytes.push(b'\n');
                }
            }
        }
        Ok(bytes)
    }
}

impl Writer {
    pub fn create(path: &str, columns: Vec<String>) -> Result<Writer, ScoreError> {
        Writer::create_with(path, columns, None, true, None)
    }

    /// A file writer whose temporary is `tmp` (default: a hidden sibling of `path`, and always
    /// in its folder), with or without the `_error` column (a batch run sends bad records to a
    /// rejects file instead). With `data_dir`, the folder is refused if it really is in there.
    pub fn create_with(
        path: &str,
        columns: Vec<String>,
        tmp: Option<std::path::PathBuf>,
        error_column: bool,
        data_dir: Option<&std::path::Path>,
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
            // A new file, never one already there, created and later renamed in the folder as
            // it was opened and checked: a link planted at the name, or swapped in for a
            // folder on the way, is not followed.
            let cannot = |e: io::Error| ScoreError::Io(format!("cannot write {path}: {e}"));
            let folder = super::guard::Folder::of(&final_path, data_dir).map_err(cannot)?;
            let file = folder
                .create_new(&tmp_path)
                .map_err(|e| ScoreError::Io(format!("cannot write {}: {e}", tmp_path.display())))?;
            (Box::new(file), Some((tmp_path, final_path, folder)))
        };
        let formatter = Formatter {
            format: Format::of(path),
            columns,
            error_column,
        };
        let mut writer = Writer {
            out: BufWriter::with_capacity(256 << 10, sink),
            formatter,
            tmp,
        };
        let header = writer.formatter.header()?;
        writer.write_bytes(&header)?;
        Ok(writer)
    }

    /// How records are turned into this output's bytes (for threads that format their own).
    pub fn formatter(&self) -> &Formatter {
        &self.formatter
    }

    pub fn write(&mut self, record: &Record) -> Result<(), ScoreError> {
        let bytes = self.formatter.records(std::iter::once(record))?;
        self.write_bytes(&bytes)
    }

    /// Bytes a [`Formatter`] made for this output.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ScoreError> {
        Ok(self.out.write_all(bytes)?)
    }

    /// Flushes and, for a file, moves the finished output into place.
    pub fn finish(mut self) -> Result<(), ScoreError> {
        self.out.flush()?;
        if let Some((tmp, final_path, folder)) = &self.tmp
            && let Err(e) = folder.rename(tmp, final_path)
        {
            folder.remove(tmp);
            return Err(ScoreError::Io(format!(
                "cannot write {}: {e}",
                final_path.display()
            )));
        }
        Ok(())
    }

    /// Removes the temporary file of an abandoned run.
    pub fn abandon(self) {
        if let Some((tmp, _, folder)) = &self.tmp {
            folder.remove(tmp);
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
    fn short_decimals_read_as_the_standard_parser_reads_them() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let digits = (next() % 18 + 1) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = (next() % (digits as u64 + 2)) as usize;
            if point <= digits {
                text.insert(point, '.');
            }
            if next() % 3 == 0 {
                text.insert(0, '-');
            }
            let want: Option<f64> = text.parse().ok();
            let got = short_decimal(text.as_bytes());
            if let Some(g) = got {
                assert_eq!(Some(g.to_bits()), want.map(f64::to_bits), "{text}");
            }
        }
        for (cell, want) in [
            (&b" 5.1 "[..], Some(5.1)),
            (b"1e3", Some(1000.0)),
            (b"-.5", Some(-0.5)),
            (b"NaN", None),
            (b"inf", None),
            (b"1,5", None),
            (b"", None),
            (b".", None),
        ] {
            let text = trim(std::str::from_utf8(cell).unwrap());
            assert_eq!(plain_number(text), want, "{text:?}");
        }
    }

    fn parsed(text: &str, inputs: &[&str]) -> Vec<Record> {
        let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        let source: Box<dyn Read + Send> = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
        let mut r = Reader::new(source, Format::Csv, &inputs).unwrap();
        let numeric = vec![true; inputs.len()];
        r = r.numbers(numeric);
        let mut all = Vec::new();
        loop {
            let chunk = r.chunk(2).unwrap();
            if chunk.is_empty() {
                return all;
            }
            all.extend(chunk);
        }
    }

    #[test]
    fn records_are_cut_where_a_csv_parser_cuts_them() {
        let text = "a,b,c\r\n1,\"x\ny\",3\r\n\n4,\"say \"\"hi\"\"\",6\n7,8\n 9 ,5\"in,10";
        let got = parsed(text, &["c", "b", "a"]);
        assert_eq!(got.len(), 4, "the blank line is no record: {got:?}");
        assert_eq!(
            got[0],
            Ok(vec![
                Value::Number(3.0),
                Value::String("x\ny".into()),
                Value::Number(1.0)
            ])
        );
        assert_eq!(
            got[1].as_ref().unwrap()[1],
            Value::String("say \"hi\"".into())
        );
        let ragged = got[2].as_ref().unwrap_err();
        assert!(
            ragged.0.contains("line 6: 2 fields where the header has 3"),
            "{ragged:?}"
        );
        // A quote inside an unquoted field is text, and does not open a quoted field.
        assert_eq!(
            got[3],
            Ok(vec![
                Value::Number(10.0),
                Value::String("5\"in".into()),
                Value::Number(9.0)
            ])
        );
    }

    #[test]
    fn headers_that_would_be_misread_are_refused() {
        let open = |text: &str| {
            let source: Box<dyn Read + Send> = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
            Reader::new(source, Format::Csv, &["a".to_string()]).map(|_| ())
        };
        let old_mac = open("a,b\r1,2\r3,4\r").unwrap_err().to_string();
        assert!(old_mac.contains("carriage return alone"), "{old_mac}");
        let twice = open("a,b,a\n1,2,3\n").unwrap_err().to_string();
        assert!(twice.contains("\"a\" twice"), "{twice}");
        let wide = format!("a{}\n", ",x".repeat(MAX_COLUMNS));
        assert!(open(&wide).unwrap_err().to_string().contains("columns"));
        assert!(open("a,b\r\n1,2\r\n").is_ok(), "CRLF is fine");
        assert!(open("\"a\",\"b\nc\"\n1,2\n").is_ok());
    }

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
