//! Where a run's records come from: a file, the files a glob matches, or a remote object
//! (`http(s)://`, `s3://`) spooled to a temporary file first — a chain with statistics reads
//! its input more than once, and a remote stream cannot be read twice.
//!
//! Before a run writes anything, every file's columns are looked at ([`sample`]): the names,
//! and what the first rows hold (numbers, true/false or text), which is what the chain is
//! checked against.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ScoreError;
use super::chain::Ty;
use super::records::Format;

/// One file of a run's input.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// As the job names it (the URL, or the path).
    pub label: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Rows looked at to tell a column's type.
const SAMPLE_ROWS: usize = 1000;
/// The most files a glob may match.
const MAX_FILES: usize = 10_000;

/// The files `input` names, remote ones downloaded into `spool`.
pub fn resolve(
    input: &str,
    spool: &Path,
    rt: &tokio::runtime::Handle,
) -> Result<Vec<InputFile>, ScoreError> {
    use crate::registry::{S3Options, Source};
    let env = |k: &str| std::env::var(k).ok();
    let source = Source::parse(input, &S3Options::default(), &env)
        .map_err(|e| ScoreError::Input(e.to_string()))?;
    let remote = |path: PathBuf| -> Result<Vec<InputFile>, ScoreError> {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(vec![InputFile {
            label: source.describe(),
            path,
            size,
        }])
    };
    // Spooled inputs fill the data directory's disk: held to the import limit's default, and
    // a source that stops sending for a minute is given up on.
    const LIMIT: u64 = 4 << 30;
    let client = || {
        reqwest::Client::builder()
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default()
    };
    match &source {
        Source::Local(path) => files(input, path),
        Source::Http(url) => {
            let client = client();
            let dest = spool.join("input");
            rt.block_on(crate::registry::http::download(
                &client,
                url,
                &source.describe(),
                &dest,
                LIMIT,
                "the job's input",
            ))
            .map_err(|e| ScoreError::Input(e.to_string()))?;
            remote(dest)
        }
        Source::S3(obj) => {
            let client = client();
            let staging = crate::registry::Staging::new(spool)
                .map_err(|e| ScoreError::Input(e.to_string()))?;
            let fetched = rt
                .block_on(crate::registry::s3::fetch(
                    &client,
                    obj,
                    &staging,
                    LIMIT,
                    "the job's input",
                ))
                .map_err(|e| ScoreError::Input(e.to_string()))?;
            if fetched.is_dir {
                return Err(ScoreError::Input(format!(
                    "{input} is a folder: name one object"
                )));
            }
            let kept = spool.join("input");
            std::fs::rename(staging.incoming(), &kept)
                .map_err(|e| ScoreError::Io(format!("cannot spool {input}: {e}")))?;
            remote(kept)
        }
    }
}

/// The local files `input` names (a glob: its matches, sorted).
pub fn local_files(input: &str) -> Result<Vec<InputFile>, ScoreError> {
    files(input, Path::new(input))
}

fn files(input: &str, path: &Path) -> Result<Vec<InputFile>, ScoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = |p: PathBuf| -> Result<InputFile, ScoreError> {
        let meta = std::fs::metadata(&p)
            .map_err(|e| ScoreError::Io(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            return Err(ScoreError::Io(format!(
                "{} is a folder: name the files (e.g. {}/*.csv)",
                p.display(),
                p.display()
            )));
        }
        // A pipe or a device would hang or never end the read.
        if !meta.is_file() {
            return Err(ScoreError::Io(format!(
                "{} is not a regular file: name a file to read",
                p.display()
            )));
        }
        Ok(InputFile {
            label: p.display().to_string(),
            size: meta.len(),
            path: p,
        })
    };
    if !name.contains(['*', '?']) {
        return Ok(vec![file(path.to_path_buf())?]);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.to_string_lossy().contains(['*', '?']) {
        return Err(ScoreError::Input(format!(
            "{input}: only the file name may have wildcards (e.g. /data/day-*.csv)"
        )));
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| ScoreError::Io(format!("cannot list {}: {e}", dir.display())))?;
    let mut matched: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    if matched.len() > MAX_FILES {
        return Err(ScoreError::Input(format!(
            "{input} matches more than {MAX_FILES} files"
        )));
    }
    matched.sort();
    if matched.is_empty() {
        return Err(ScoreError::Input(format!("no file matches {input}")));
    }
    matched.into_iter().map(file).collect()
}

/// `*` and `?` against a name (no path separators in either).
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// A reader that counts the bytes through it, for a run's progress.
pub struct Counted<R> {
    inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file of the input, counting into `count`.
pub fn open(file: &InputFile, count: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, ScoreError> {
    // Non-blocking, so a pipe swapped in for the file after it was checked cannot hang the
    // open; what was opened is then checked to be a regular file (where the flag is moot).
    let f = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&file.path)
        .map_err(|e| ScoreError::Io(format!("cannot read {}: {e}", file.label)))?;
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(ScoreError::Io(format!(
            "{} is not a regular file: name a file to read",
            file.label
        )));
    }
    Ok(Box::new(super::records::capped(Counted {
        inner: f,
        count,
    })))
}

/// The columns of a file and what its first rows hold.
pub fn sample(file: &InputFile, format: Format) -> Result<Vec<(String, Ty)>, ScoreError> {
    let source = open(file, Arc::default())?;
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(source);
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| {
                    ScoreError::Input(format!("{}: cannot read the CSV header: {e}", file.label))
                })?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            if header.len() > super::records::MAX_COLUMNS {
                return Err(ScoreError::Input(format!(
                    "{}: the header has {} columns, more than the {} a job reads",
                    file.label,
                    header.len(),
                    super::records::MAX_COLUMNS
                )));
            }
            let mut seen = vec![Seen::default(); header.len()];
            for row in reader.records().take(SAMPLE_ROWS) {
                let Ok(row) = row else { break };
                for (s, cell) in seen.iter_mut().zip(row.iter()) {
                    s.text(cell.trim());
                }
            }
            Ok(header
                .into_iter()
                .zip(seen)
                .map(|(h, s)| (h, s.ty()))
                .collect())
        }
        Format::JsonLines => {
            let mut columns: Vec<(String, Seen)> = Vec::new();
            let lines = std::io::BufRead::lines(std::io::BufReader::new(source));
            for line in lines.take(SAMPLE_ROWS) {
                let Ok(line) = line else { break };
                let Ok(serde_json::Value::Object(o)) = serde_json::from_str(&line) else {
                    continue;
                };
                for (k, v) in o {
                    let at = match columns.iter().position(|(c, _)| *c == k) {
                        Some(i) => i,
                        None => {
                            columns.push((k, Seen::default()));
                            columns.len() - 1
                        }
                    };
                    let s = &mut columns[at].1;
                    match v {
                        serde_json::Value::Number(_) => s.number = true,
                        serde_json::Value::Bool(_) => s.boolean = true,
                        serde_json::Value::String(t) => s.text(&t),
                        _ => {}
                    }
                }
            }
            Ok(columns.into_iter().map(|(c, s)| (c, s.ty())).collect())
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Seen {
    number: bool,
    boolean: bool,
    other: bool,
}

impl Seen {
    fn text(&mut self, cell: &str) {
        if cell.is_empty() {
            return;
        }
        if cell.parse::<f64>().is_ok() {
            self.number = true;
        } else if matches!(cell, "true" | "false" | "TRUE" | "FALSE" | "True" | "False") {
            self.boolean = true;
        } else {
            self.other = true;
        }
    }

    fn ty(&self) -> Ty {
        match (self.number, self.boolean, self.other) {
            (_, _, true) | (true, true, _) => Ty::String,
            (false, true, false) => Ty::Boolean,
            _ => Ty::Double,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_names() {
        assert!(wildcard("day-*.csv", "day-2026-12-01.csv"));
        assert!(wildcard("day-?.csv", "day-1.csv"));
        assert!(!wildcard("day-?.csv", "day-12.csv"));
        assert!(!wildcard("*.csv", "x.jsonl"));
        assert!(wildcard("*", "anything"));
    }

    #[test]
    fn a_sample_tells_numbers_from_text() {
        let dir = std::env::temp_dir().join(format!("md-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.csv");
        std::fs::write(&path, "a,b,c,d\n1,x,true,\n2.5,y,false,\n").unwrap();
        let file = InputFile {
            label: "in.csv".into(),
            path,
            size: 0,
        };
        let got = sample(&file, Format::Csv).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            got,
            [
                ("a".to_string(), Ty::Double),
                ("b".to_string(), Ty::String),
                ("c".to_string(), Ty::Boolean),
                ("d".to_string(), Ty::Double)
            ]
        );
    }
}
